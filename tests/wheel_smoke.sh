#!/usr/bin/env bash
# The package as a user gets it: a wheel built from a fresh clone, installed into a fresh
# venv, used from an empty directory outside the repository. `make wheel-test`; CI runs it.
#
# 1. clone the repository (HEAD; WHEEL_SMOKE_WORKTREE=1 copies the working tree instead),
#    build the wheel, install it with its dependencies into a new venv;
# 2. the installed distribution's file list has exactly one top-level import name;
# 3. from an empty directory: run a baseline by name on mnist1d to the target (a step
#    budget, so a slow machine trains the same run), score the logs, check a baseline
#    (static checks and the smoke run), and list the workloads with python -m.
#
# Environment: PYTHON (default python3), WHEEL_SMOKE_DIR (default: a new temporary
# folder, removed at the end unless WHEEL_SMOKE_KEEP=1).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="${WHEEL_SMOKE_DIR:-$(mktemp -d -t algoperf_like_wheel.XXXXXX)}"
if [ "${WHEEL_SMOKE_KEEP:-0}" != 1 ] && [ -z "${WHEEL_SMOKE_DIR:-}" ]; then
  trap 'rm -rf "$WORK"' EXIT
fi
log() { echo "[wheel-smoke] $*"; }

log "source in $WORK/src"
if [ "${WHEEL_SMOKE_WORKTREE:-0}" = 1 ]; then
  mkdir -p "$WORK/src"
  (cd "$REPO" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$WORK/src")
else
  git clone --quiet "$REPO" "$WORK/src"
fi

log "building the wheel"
"$PYTHON" -m venv "$WORK/venv"
VENV_PY="$WORK/venv/bin/python"
"$VENV_PY" -m pip install --quiet --upgrade pip
"$VENV_PY" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL="$(ls "$WORK"/dist/algoperf_like-*.whl)"
log "installing $(basename "$WHEEL") into a fresh venv"
"$VENV_PY" -m pip install --quiet "$WHEEL"

EMPTY="$WORK/empty"
mkdir -p "$EMPTY"
cd "$EMPTY"  # Outside the repository: nothing here shadows the installed package.
export PATH="$WORK/venv/bin:$PATH"
CLI="$WORK/venv/bin/algoperf-like"

log "top-level import names of the installed distribution"
"$VENV_PY" - <<'EOF'
import importlib.metadata
import sys

files = importlib.metadata.distribution('algoperf-like').files
top = {f.parts[0] for f in files if f.parts[0] != '..' and not f.parts[0].endswith('.dist-info')}
top.discard('__pycache__')
assert top == {'algoperf_like'}, f'top-level names: {sorted(top)}'
print('  only', *top)
import algoperf_like

assert algoperf_like.__file__.startswith(sys.prefix), algoperf_like.__file__
EOF

log "run: nadamw by name on mnist1d, to the target"
"$CLI" run --workload=mnist1d --submission_path=nadamw \
  --tuning_search_space=mnist1d_demo_point.json --num_studies=1 --num_tuning_trials=1 \
  --max_global_steps=6000 --eval_every_steps=50 --max_runtime_sec=1e9 \
  --experiment_dir=experiments --data_dir=data | tee run.txt
grep -q 'target reached in' run.txt

log "score the logs"
"$CLI" score --submission_directory=experiments --output_dir=scores \
  --expected_studies=1 --expected_trials=1 --quiet
test -s scores/scores.csv && test -s scores/report.html

log "check a baseline (with its smoke run)"
"$CLI" check --submission_path=nadamw --data_dir=data | tee check.txt
grep -q 'Verdict: PASS' check.txt

log "python -m algoperf_like"
"$VENV_PY" -m algoperf_like workloads | grep -q '^mnist1d: validation/error_rate target'

leftovers="$(ls -A "$EMPTY" | sort | tr '\n' ' ')"
[ "$leftovers" = "check.txt data experiments run.txt scores " ] || {
  echo "unexpected files in the working directory: $leftovers" >&2
  exit 1
}
log "passed"
