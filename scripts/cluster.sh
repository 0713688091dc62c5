#!/usr/bin/env bash
# A real single-node Kubernetes 1.34 on this machine, built from upstream Go modules, for the
# end-to-end tier (tests/e2e). Linux, root, a running dockerd.
#   scripts/cluster.sh build    # build the binaries once (~15 min cold on 2 cores; cached)
#   scripts/cluster.sh up       # start it (builds first when needed); waits for a Ready node
#   eval "$(scripts/cluster.sh env)"   # point kubectl, helm and inv at it
#   scripts/cluster.sh status   # which components run
#   scripts/cluster.sh down     # stop it and remove everything it left on this machine
# Details: tests/e2e/localcluster/cluster.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" -m tests.e2e.localcluster "$@"
