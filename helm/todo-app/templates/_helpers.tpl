{{/*
Expand the name of the chart.
*/}}
{{- define "todo-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "todo-app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels: the spec's `app: todo-app` plus the app.kubernetes.io/* set.
*/}}
{{- define "todo-app.labels" -}}
app: todo-app
helm.sh/chart: {{ include "todo-app.chart" . }}
{{ include "todo-app.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todo-app
{{- end }}

{{/*
Selector labels
*/}}
{{- define "todo-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one component. Call with (dict "root" $ "component" "backend").
*/}}
{{- define "todo-app.componentLabels" -}}
{{ include "todo-app.labels" .root }}
component: {{ .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector of one component: the spec's app/component pair plus name/instance (immutable once
deployed). Call with (dict "root" $ "component" "backend").
*/}}
{{- define "todo-app.componentSelector" -}}
app: todo-app
component: {{ .component }}
{{ include "todo-app.selectorLabels" .root }}
{{- end }}

{{/*
The Secret the pods read: the chart's own (secrets.create) or the existing one.
*/}}
{{- define "todo-app.secretName" -}}
{{- if .Values.secrets.create }}todo-secrets{{ else }}{{ .Values.secrets.existingSecret }}{{ end }}
{{- end }}

{{/*
In-cluster URL of the backend Service (what the frontend calls).
*/}}
{{- define "todo-app.backendUrl" -}}
{{- printf "http://todo-backend:%v" .Values.backend.service.port }}
{{- end }}

{{/*
In-cluster URL of the frontend Service.
*/}}
{{- define "todo-app.frontendUrl" -}}
{{- printf "http://todo-frontend:%v" .Values.frontend.service.port }}
{{- end }}

{{/*
A value percent-encoded for a URL's userinfo or path: every byte but A-Za-z0-9-._~ as %XX.
`urlquery` (Go's url.QueryEscape) writes a space as "+", which a URL's userinfo reads as a plus:
so "+" becomes "%20" (a "+" in the value is already "%2B").
*/}}
{{- define "todo-app.urlEscape" -}}
{{- . | toString | urlquery | replace "+" "%20" }}
{{- end }}

{{/*
An image reference from an image block: "repository@sha256:..." when a digest pins it (the
registry target), else "repository:tag".
*/}}
{{- define "todo-app.image" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (toString .tag) }}
{{- end }}
{{- end }}

{{/*
Pod annotations shared by both Deployments: checksums of what the chart renders (so a
changed ConfigMap or chart-owned Secret rolls the pods) and the digest of an existing Secret
(set by `inv deploy`, the chart cannot see its data).
*/}}
{{- define "todo-app.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.secrets.create }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.secretDigest }}
todo-app.dev/secret-digest: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
A stopping pod keeps serving .Values.drainSeconds before SIGTERM (see values.yaml): the
container's preStop hook, empty when 0. The pod's grace period covers it (+ 30 s to shut down).
*/}}
{{- define "todo-app.drain" -}}
{{- if gt (int .Values.drainSeconds) 0 -}}
lifecycle:
  preStop:
    exec:
      command: ["sleep", {{ .Values.drainSeconds | quote }}]
{{- end -}}
{{- end }}

{{/*
One HTTP probe. Call with (dict "path" "/health" "port" "http" "probe" .Values.healthCheck.x).
*/}}
{{- define "todo-app.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}

{{/*
The writable scratch volumes a read-only root filesystem needs.
*/}}
{{- define "todo-app.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{/*
Why a PostgreSQL URL is unusable, or "" when it parses: the rules of `inv secrets`
(todo_deploy/secrets.py database_url_problem, Python's urlsplit): no '#', valid brackets and
port, scheme postgresql:// or postgres://, a host, a database name. The message never
contains the URL. Call with the URL.
*/}}
{{- define "todo-app.databaseUrlProblem" -}}
{{- $url := trim . -}}
{{- $rfc3986 := "^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\\?[^#]*)?(#.*)?$" -}}
{{- $scheme := lower (regexReplaceAll $rfc3986 $url "${2}") -}}
{{- $netloc := regexReplaceAll $rfc3986 $url "${4}" -}}
{{- $path := regexReplaceAll $rfc3986 $url "${5}" -}}
{{- $hostinfo := regexReplaceAll "^.*@" $netloc "" -}}
{{- $host := $hostinfo -}}
{{- $port := "" -}}
{{- if hasPrefix "[" $hostinfo -}}
{{- $host = regexReplaceAll "^\\[([^\\]]*)\\].*$" $hostinfo "${1}" -}}
{{- $port = regexReplaceAll "^\\[[^\\]]*\\]:?" $hostinfo "" -}}
{{- else if contains ":" $hostinfo -}}
{{- $host = regexReplaceAll ":.*$" $hostinfo "" -}}
{{- $port = regexReplaceAll "^[^:]*:" $hostinfo "" -}}
{{- end -}}
{{- $badBrackets := ne (contains "[" $netloc) (contains "]" $netloc) -}}
{{- $badPort := and $port (or (not (regexMatch "^[0-9]+$" $port)) (gt (atoi $port) 65535)) -}}
{{- if contains "#" $url -}}
contains '#': percent-encode it in the password as %23
{{- else if or $badBrackets $badPort -}}
is not a valid URL (bad port or brackets?)
{{- else if not (has $scheme (list "postgresql" "postgres")) -}}
must start with postgresql:// or postgres://
{{- else if not $host -}}
has no host
{{- else if not (trimAll "/" $path) -}}
has no database name (the path after the host)
{{- end -}}
{{- end }}

{{/*
The chart-owned Secret (secrets.create) obeys the rules `inv secrets` applies to .env, with
`fail` (a schema error could echo the value; these messages never do): an auth secret of at
least 32 characters, a database URL that parses (the given one, or the one built for the
embedded PostgreSQL from a password of at least 12 characters). Renders nothing.
*/}}
{{- define "todo-app.validateSecrets" -}}
{{- $s := .Values.secrets -}}
{{- $pg := .Values.postgresql -}}
{{- $auth := required "secrets.betterAuthSecret is required when secrets.create is true" (trim (default "" $s.betterAuthSecret)) -}}
{{- $authLength := len (splitList "" $s.betterAuthSecret) -}}
{{- if lt $authLength 32 -}}
{{- fail (printf "secrets.betterAuthSecret is %d characters; at least 32 are required (as for BETTER_AUTH_SECRET in .env; generate one: python3 -c \"import secrets; print(secrets.token_urlsafe(48))\")" $authLength) -}}
{{- end -}}
{{- if $pg.enabled -}}
{{- $password := required "secrets.postgresPassword is required when secrets.create and postgresql.enabled" (trim (default "" $s.postgresPassword)) -}}
{{- if lt (len (splitList "" $password)) 12 -}}
{{- fail (printf "secrets.postgresPassword is %d characters; use at least 12" (len (splitList "" $password))) -}}
{{- end -}}
{{- with include "todo-app.databaseUrlProblem" (include "todo-app.embeddedDatabaseUrl" .) -}}
{{- fail (printf "the database URL built from secrets.postgresPassword %s" .) -}}
{{- end -}}
{{- else -}}
{{- $url := required "secrets.databaseUrl is required when secrets.create is true" (trim (default "" $s.databaseUrl)) -}}
{{- with include "todo-app.databaseUrlProblem" $url -}}
{{- fail (printf "secrets.databaseUrl %s (use postgresql://USER:PASSWORD@HOST:5432/DBNAME?sslmode=require, or postgresql.enabled=true for the in-cluster PostgreSQL)" .) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
DATABASE_URL of the embedded PostgreSQL (secrets.create and postgresql.enabled).
*/}}
{{- define "todo-app.embeddedDatabaseUrl" -}}
{{- $pg := .Values.postgresql -}}
{{- /* user, password and database percent-encoded: the same bytes as todo_deploy/secrets.py */ -}}
{{- printf "postgresql://%s:%s@todo-postgres:%v/%s" (include "todo-app.urlEscape" $pg.user) (include "todo-app.urlEscape" (.Values.secrets.postgresPassword | default "")) $pg.port (include "todo-app.urlEscape" $pg.database) -}}
{{- end }}
