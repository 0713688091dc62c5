#!/usr/bin/env bash
# Re-capture tests/fixtures/kubectl from the live local cluster (tests/e2e/capture.py): the app
# is deployed from a fresh copy and put in each state the fast tests replay. Root, dockerd and
# the stand-in images, as .ci/run prepares them (bash scripts/ci/build-bases.sh prints them).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/ci/build-bases.sh)"
export TODO_PYTHON_BASE TODO_NODE_BASE TODO_POSTGRES_IMAGE INVOKE_TODO_BUILD_NETWORK=host
exec .venv/bin/python -m tests.e2e.capture "$@"
