#!/usr/bin/env bash
# Fresh clone -> running, verified Todo app on minikube. The README's first command.
#
#   1. checks for Python 3.11 or later
#   2. creates a virtualenv (.venv) and installs the suite into it
#   3. creates .env from .env.example if it is missing (never overwrites it)
#   4. runs `inv doctor`; stops with doctor's fixes when a tool is missing
#   5. runs `inv up` (start minikube, build, secrets, deploy, verify, print the URL)
#
# Idempotent: re-running skips what is done (the install is redone only when pyproject.toml
# changed). Arguments after `--` go to `inv up`, e.g. `scripts/onboard.sh --yes -- --skip-build`.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/onboard.sh [--yes] [--help] [-- INV_UP_ARGS...]

Set up this clone and bring the Todo app up on minikube:
  Python >= 3.11 check, virtualenv + install, .env from .env.example (never overwritten),
  `inv doctor` (stops with the fixes if a tool is missing), then `inv up`.

Options:
  -y, --yes   do not ask before `inv up` (also implied when CI=true)
  -h, --help  show this help
  --          pass the remaining arguments to `inv up` (e.g. -- --skip-verify)

Environment:
  TODO_PYTHON  Python interpreter to use (default: the newest python3.x >= 3.11 on PATH)
  TODO_VENV    virtualenv directory (default: .venv in the repository)
  CI=true      non-interactive, like --yes

Exit codes: 0 ok, 1 a stage failed, 2 bad input, 3 a prerequisite is missing.
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
YES=0
UP_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -y|--yes) YES=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; UP_ARGS=("$@"); break ;;
    *) echo "onboard: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "${CI:-}" in
  true|1|yes) YES=1 ;;
esac

say() { printf '==> %s\n' "$*"; }
die() {
  local code=$1; shift
  printf 'onboard: %s\n' "$1" >&2
  if [ $# -gt 1 ]; then printf '  fix: %s\n' "$2" >&2; fi
  exit "$code"
}

# -- 1. Python >= 3.11 ------------------------------------------------------------------------
python_ok() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
  if [ -n "${TODO_PYTHON:-}" ]; then
    echo "$TODO_PYTHON"
    return
  fi
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      command -v "$candidate"
      return
    fi
  done
  command -v python3 || echo python3
}

PYTHON="$(find_python)"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  die 3 "Python 3.11 or later is required, and no python3 was found" \
    "Linux: sudo apt-get install python3.11 python3.11-venv   macOS: brew install python@3.11"
fi
FOUND="$("$PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?')"
if ! python_ok "$PYTHON"; then
  die 3 "Python 3.11 or later is required (found $FOUND at $PYTHON)" \
    "Linux: sudo apt-get install python3.11 python3.11-venv   macOS: brew install python@3.11   (or set TODO_PYTHON=/path/to/python3.11)"
fi
say "Python $FOUND ($PYTHON)"

# -- 2. virtualenv + install ----------------------------------------------------------------
VENV="${TODO_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV" ||
    die 3 "could not create a virtualenv with $PYTHON" \
      "Linux: sudo apt-get install python3-venv (or python3.11-venv)"
fi
STAMP="$VENV/.todo-deploy-installed"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/onboard.sh" | "$VENV/bin/python" -c \
  'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ -x "$VENV/bin/inv" ] && [ "$(cat "$STAMP" 2>/dev/null || true)" = "$WANT" ]; then
  say "suite already installed in $VENV"
else
  say "installing the suite into $VENV (pip install -e .)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "$ROOT" ||
    die 3 "pip install failed (see above)" "check your network/proxy, then re-run scripts/onboard.sh"
  echo "$WANT" > "$STAMP"
fi
INV="$VENV/bin/inv"

# -- 3. .env ----------------------------------------------------------------------------------
cd "$ROOT"
if [ -e .env ]; then
  say ".env exists; keeping it"
elif [ -f .env.example ]; then
  cp .env.example .env
  chmod 600 .env
  say "created .env from .env.example (empty values = zero-credential defaults)"
else
  die 2 ".env.example is missing from this clone" "git checkout -- .env.example"
fi

# -- 4. doctor --------------------------------------------------------------------------------
say "inv doctor"
set +e
"$INV" doctor
code=$?
set -e
if [ "$code" -ne 0 ]; then
  die "$code" "doctor found missing prerequisites: run the fixes above" \
    "then re-run: scripts/onboard.sh"
fi

# -- 5. inv up --------------------------------------------------------------------------------
if [ "$YES" -ne 1 ]; then
  if [ ! -t 0 ]; then
    die 2 "no terminal to ask whether to run \`inv up\` (it starts minikube and builds images)" \
      "scripts/onboard.sh --yes"
  fi
  printf 'Run "inv up" now (starts minikube if needed, builds, deploys, verifies)? [Y/n] '
  read -r answer
  case "$answer" in
    ""|y|Y|yes|YES) ;;
    *) say "stopped before inv up; run it yourself: $INV up"; exit 0 ;;
  esac
fi
# ${a[@]+"${a[@]}"}: an empty array under `set -u` also works on macOS's bash 3.2
say "inv up ${UP_ARGS[*]:-}"
set +e
"$INV" up ${UP_ARGS[@]+"${UP_ARGS[@]}"}
code=$?
set -e
# `inv` is in the virtualenv, which this script cannot activate in the user's shell
ACTIVATE="$VENV/bin/activate"
case "$VENV" in "$ROOT"/*) ACTIVATE="${VENV#"$ROOT"/}/bin/activate" ;; esac
say "inv is installed in $VENV: run  source $ACTIVATE  to use plain \`inv\` in this shell"
exit "$code"
