#!/usr/bin/env bash
# The test command (README's second line). Creates its own virtualenv (.venv), provisions the
# real helm 3 and helm 4 binaries, then runs ruff, mypy, the frontend's tests and build, the
# browser tier, and pytest. Extra arguments go to pytest, e.g. `scripts/test.sh -k secrets`.
# Real dependencies (dockerd, PostgreSQL) are used when reachable; tests that need them skip
# with a reason on a laptop, and FAIL in CI (.ci/run sets TODO_CI_STRICT=1).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  echo "==> creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
echo "==> installing the suite and test dependencies"
"$PY" -m pip install -q --disable-pip-version-check -e '.[dev]' -r app/backend/requirements-dev.txt

echo "==> provisioning helm 3 and helm 4 (.cache/tools)"
"$PY" scripts/provision-tools.py
export TODO_HELM3_BIN="$PWD/.cache/tools/helm3/helm"
export TODO_HELM4_BIN="$PWD/.cache/tools/helm4/helm"
export PATH="$PWD/$VENV/bin:$PATH"

echo "==> ruff"
"$PY" -m ruff check .
echo "==> mypy"
"$PY" -m mypy

echo "==> frontend: npm ci, npm test, npm run build"
export NEXT_TELEMETRY_DISABLED=1
(
  cd app/frontend
  stamp=node_modules/.package-lock.sha256
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
  npm test
  npm run build
)

echo "==> browser tier (npm run test:browser: Chromium against the apps on 127.0.0.1, or TODO_BROWSER_BASE_URL)"
# Screenshots and app logs: artifacts/browser/ (git-ignored). No chromium: skips here, fails in CI.
TODO_BROWSER_PYTHON=$("$PY" -c 'import sys; print(sys.executable)') npm --prefix app/frontend run test:browser

echo "==> pytest"
"$PY" -m pytest "$@"

echo "==> chart figures (bench/chart.py: requests vs spec, earliest readiness)"
"$PY" bench/chart.py

echo "==> verify/up figures (bench/verify.py: crash-loop verdict time, no-op inv up overhead)"
"$PY" bench/verify.py --runs 3
