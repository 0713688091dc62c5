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
An image reference "repository:tag" from an image block.
*/}}
{{- define "todo-app.image" -}}
{{- printf "%s:%s" .repository (toString .tag) }}
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
