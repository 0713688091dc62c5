#!/usr/bin/env bash
# Re-capture tests/fixtures/helm/test-*: what `helm test` (helm 3 and helm 4 from .cache/tools)
# prints against the live local cluster for the chart's test pod, failing and passing, and
# the failed test pod's log. Root, dockerd and the stand-in python image (scripts/ci/
# build-bases.sh). Run it under the cluster lock; it leaves the cluster down:
#   flock /work/cluster.lock bash scripts/capture-helm-test.sh
#
# The release runs with the stand-in python image as the backend image (the test pod uses it)
# and no app pods; first the Services have no endpoint (the test fails), then two stand-in
# pods answering {"status": "healthy"} on 7860 and 3000 join them (the test passes).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=tests/fixtures/helm
PY_IMAGE=${TODO_PYTHON_BASE:-todo-standin/python:3.11-bookworm}
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh up >/dev/null
eval "$(scripts/cluster.sh env)"

health_pod() {  # name component port
  kubectl apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: todo
  labels: {app: todo-app, component: $2, app.kubernetes.io/name: todo-app,
           app.kubernetes.io/instance: todo-app}
spec:
  containers:
  - name: health
    image: $PY_IMAGE
    imagePullPolicy: Never
    command:
    - python
    - -c
    - |
      import http.server, json
      class Health(http.server.BaseHTTPRequestHandler):
          def do_GET(self):
              body = json.dumps({"status": "healthy"}).encode()
              self.send_response(200)
              self.send_header("Content-Type", "application/json")
              self.end_headers()
              self.wfile.write(body)
      http.server.HTTPServer(("", $3), Health).serve_forever()
    readinessProbe: {httpGet: {path: /, port: $3}, periodSeconds: 1}
YAML
}

kubectl create namespace todo
for major in 3 4; do
  helm=.cache/tools/helm$major/helm
  "$helm" install todo-app helm/todo-app -n todo --set secrets.create=false \
    --set-string backend.image.repository="${PY_IMAGE%:*}" \
    --set-string backend.image.tag="${PY_IMAGE##*:}" >/dev/null
  kubectl -n todo scale deployment todo-backend todo-frontend --replicas=0
  set +e
  "$helm" test todo-app -n todo --timeout 60s >"$OUT/test-fail-helm$major.stdout" \
    2>"$OUT/test-fail-helm$major.stderr"
  echo $? >"$OUT/test-fail-helm$major.code"
  set -e
  kubectl -n todo logs todo-app-test-health --tail=20 >"$OUT/test-fail-logs-helm$major.stdout"
  health_pod h-backend backend 7860
  health_pod h-frontend frontend 3000
  kubectl -n todo wait --for=condition=Ready pod/h-backend pod/h-frontend --timeout=60s
  set +e
  "$helm" test todo-app -n todo --timeout 60s >"$OUT/test-pass-helm$major.stdout" \
    2>"$OUT/test-pass-helm$major.stderr"
  echo $? >"$OUT/test-pass-helm$major.code"
  set -e
  kubectl -n todo delete pod h-backend h-frontend todo-app-test-health --ignore-not-found --wait
  "$helm" uninstall todo-app -n todo --wait >/dev/null
done
kubectl delete namespace todo --wait
echo "captured: $OUT/test-{pass,fail}-helm{3,4}.*, $OUT/test-fail-logs-helm{3,4}.stdout"
