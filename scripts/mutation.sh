#!/usr/bin/env bash
# Mutation testing of todo_deploy/ against the fast test layers (tests/unit, tests/chart), with
# mutmut 3 (config: [tool.mutmut] in pyproject.toml). A periodic check, NOT part of .ci/run:
# it takes tens of minutes per large module on 2 cores (README, "Mutation testing").
#
#   scripts/mutation.sh                  # every module of todo_deploy/
#   scripts/mutation.sh secrets proc     # only these, afresh (images = the whole images/
#                                        # package, images.stage = one of its modules)
#   MUTATION_SURVIVORS=1 scripts/mutation.sh secrets   # re-run only the survivors (after
#                                        # adding tests), not the mutants already killed
#
# Each mutant runs only the tests that reach the mutated function (mutmut records that once
# per source change). Prints the killed share per module; survivors judged equivalent (same
# observable behaviour) are listed in scripts/mutation-equivalents.md and reported beside
# the raw share. Working copy and caches: mutants/ (git-ignored; delete it to start over).
# MUTATION_JOBS (default 2) mutants at a time, under `nice -n 10`: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
JOBS=${MUTATION_JOBS:-2}
EQUIVALENTS=scripts/mutation-equivalents.md

if [ ! -x "$PY" ]; then
  echo "==> creating virtualenv $VENV"
  python3 -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check -e '.[dev]'
fi
if [ ! -x "$VENV/bin/mutmut" ]; then
  # not in the dev extras: scripts/test.sh does not need it
  echo "==> installing mutmut 3 into $VENV"
  "$PY" -m pip install -q --disable-pip-version-check 'mutmut>=3.8,<4'
fi

echo "==> provisioning helm 3 and helm 4 (.cache/tools; the chart tests run the real ones)"
"$PY" scripts/provision-tools.py
export TODO_HELM3_BIN="$PWD/.cache/tools/helm3/helm"
export TODO_HELM4_BIN="$PWD/.cache/tools/helm4/helm"

modules=()
patterns=()
for name in "$@"; do
  name=${name#todo_deploy.}
  name=${name%.py}
  name=${name//\//.}
  if [ ! -f "todo_deploy/${name//.//}.py" ] && [ ! -d "todo_deploy/${name//.//}" ]; then
    echo "no module todo_deploy.$name (the modules: todo_deploy/*.py and images)" >&2
    exit 2
  fi
  modules+=("$name")
  patterns+=("todo_deploy.$name.*")
done

if [ "${MUTATION_SURVIVORS:-0}" = 1 ]; then
  mapfile -t patterns < <("$VENV/bin/mutmut" results --all true \
    | "$PY" scripts/mutation_report.py --survivors --equivalents "$EQUIVALENTS" -- "${modules[@]}")
  if [ "${#patterns[@]}" -eq 0 ]; then
    echo "no survivors to re-run (scripts/mutation.sh without MUTATION_SURVIVORS tests afresh)"
    exit 0
  fi
  echo "==> re-running ${#patterns[@]} surviving mutant(s)"
fi

if [ "${#modules[@]}" -gt 0 ] && [ "${MUTATION_SURVIVORS:-0}" != 1 ]; then
  # afresh: mutmut keeps its map of which tests reach which function and only adds tests it
  # has not seen, so an old test that now reaches a function would be missing from it (its
  # mutants then survive, or show "no tests"). Rebuild the map: a minute or two.
  rm -f mutants/mutmut-stats.json
fi

echo "==> mutmut run (${patterns[*]:-all of todo_deploy}; $JOBS at a time, nice 10)" | cut -c1-300
start=$(date +%s)
nice -n 10 "$VENV/bin/mutmut" run --max-children "$JOBS" "${patterns[@]}"
echo "==> mutation run took $(( $(date +%s) - start )) s"

echo "==> killed share per module (killed or timed out / mutants tested)"
"$VENV/bin/mutmut" results --all true \
  | "$PY" scripts/mutation_report.py --equivalents "$EQUIVALENTS" -- "${modules[@]}"
