#!/usr/bin/env bash
# One command for the first GPU machine (`make gpu-check`): everything myops can check on a GPU,
# in at most 8 minutes, with one summary at the end.
#
#   scripts/gpu_check.sh                            # build, then check
#   MYOPS_LIBRARY=/path/libmyops.so scripts/gpu_check.sh   # check a prebuilt library (no build)
#
# Steps (each with a timeout, all within GPU_CHECK_BUDGET_S; a step that would not fit is
# SKIPPED and says so):
#   build        CMake + ninja into build/gpu-check, CUDA ON, for this GPU's architecture only
#                (TORCH_CUDA_ARCH_LIST overrides); skipped when MYOPS_LIBRARY is given
#   load         python -m myops info with that library
#   smoke        scripts/gpu_smoke.py: every op, forward + backward, four float dtypes, on CUDA
#   pytest-cuda  the pytest suite's CUDA cases (-k cuda; -n 4 when pytest-xdist is there)
#   memcheck, racecheck, synccheck
#                compute-sanitizer over scripts/gpu_smoke.py (if compute-sanitizer is found:
#                PATH, $CUDA_HOME/bin, /usr/local/cuda/bin, site-packages/nvidia)
#   bench-<family>  benchmarks/run.py --device cuda (--quick unless GPU_CHECK_BENCH=full),
#                written to benchmarks/results/gpu/ and copied to the results folder
#   pytest-rest  the rest of the suite (-k "not cuda"); tests/test_build.py is left out (it
#                builds a CPU-only library: nothing GPU about it)
#
# Results: logs, pytest junit XML, benchmark files, summary.txt and summary.json in $OUT if set,
# else benchmarks/results/gpu-check-<date>/. Needs no network.
#
# Environment: MYOPS_PYTHON (default python3: the Python with torch), MYOPS_LIBRARY,
# OUT, GPU_CHECK_BUDGET_S (default 440), GPU_CHECK_BUILD_DIR (default build/gpu-check),
# GPU_CHECK_BENCH (quick|full|off), TORCH_CUDA_ARCH_LIST, COMPUTE_SANITIZER, MAX_JOBS.
#
# Exit status: 0 every step passed; 1 a step failed or timed out; 2 no CUDA device (nothing
# checked: the message is "no CUDA device: nothing to check"); 3 something needed is missing
# (Python, torch, pytest, a build tool, compute-sanitizer): the summary says what.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 3
T0=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET_S:-440}
PY=${MYOPS_PYTHON:-python3}

say() { echo "gpu_check: $*"; }

# ---------------------------------------------------------------------------- preflight
if ! PY_PATH=$(command -v "$PY"); then
  say "no Python '$PY' (set MYOPS_PYTHON to the Python that has torch)"
  exit 3
fi
PY=$PY_PATH
PATH="$(dirname "$PY"):$PATH"   # a venv's cmake, ninja, pytest
export PATH
if ! TORCH_INFO=$("$PY" -c 'import torch, sys
print(torch.__version__, torch.version.cuda, "%d.%d" % sys.version_info[:2])' 2>&1); then
  say "cannot import torch with $PY: ${TORCH_INFO##*$'\n'}"
  exit 3
fi
read -r TORCH_VERSION TORCH_CUDA PY_VERSION <<<"$TORCH_INFO"
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() and torch.cuda.device_count() > 0 else 1)' \
    >/dev/null 2>&1; then
  smi="not found"
  command -v nvidia-smi >/dev/null && smi=$(nvidia-smi -L 2>&1 | head -n 1)
  say "no CUDA device: nothing to check (torch $TORCH_VERSION, torch.version.cuda=$TORCH_CUDA, nvidia-smi: $smi)"
  exit 2
fi
GPU_INFO=$("$PY" -c 'import torch
p = torch.cuda.get_device_properties(0)
print(f"{p.name} (sm_{p.major}{p.minor}, {p.total_memory / 2**30:.0f} GiB, {torch.cuda.device_count()} device(s))")
print(f"{p.major}.{p.minor}")')
GPU_NAME=${GPU_INFO%%$'\n'*}
GPU_ARCH=${GPU_INFO##*$'\n'}
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)

RESULTS=${OUT:-$ROOT/benchmarks/results/gpu-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
STEPS="$RESULTS/steps.tsv"
: >"$STEPS"
say "results in $RESULTS; $GPU_NAME; torch $TORCH_VERSION; budget ${BUDGET}s"

# Python packages: required ones stop the steps that need them, optional ones change how they run.
MISSING=$("$PY" - <<'EOF'
import importlib.util
wanted = {"pytest": "required: the pytest steps are skipped",
          "xdist": "optional (pytest-xdist): pytest runs in one process, slower",
          "expecttest": "optional: a few torch.testing helpers need it",
          "matplotlib": "optional: benchmarks/run.py cannot draw its PNG (and exits non-zero after writing CSV/JSON)",
          "numpy": "optional: torch warns without it"}
for name, why in wanted.items():
    if importlib.util.find_spec(name) is None:
        print(f"{name}\t{why}")
EOF
)
MISSING_NOTE=""
if [ -n "$MISSING" ]; then
  say "missing Python packages (no network needed to run without them; install with pip where possible):"
  while IFS=$'\t' read -r name why; do
    echo "    $name: $why"
    MISSING_NOTE+="$name "
  done <<<"$MISSING"
fi
has_py() { ! grep -q "^$1"$'\t' <<<"$MISSING"; }

# ---------------------------------------------------------------------------- steps
# run_step NAME CAP_SECONDS COMMAND...: runs COMMAND with its output in NAME.log, stopped after
# CAP seconds or at the budget's end (SIGINT first: pytest then still prints what it ran).
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$STEPS"; }
run_step() {
  local name=$1 cap=$2
  shift 2
  local left=$((T0 + BUDGET - $(date +%s)))
  local limit=$cap
  ((left < limit)) && limit=$left
  if ((limit < 15)); then
    record "$name" SKIPPED 0 "no time left in the ${BUDGET}s budget"
    say "$name: SKIPPED (no time left)"
    return 1
  fi
  local log="$RESULTS/$name.log" start rc status note
  start=$(date +%s)
  say "$name (at most ${limit}s) ..."
  timeout -s INT -k 10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  local took=$(($(date +%s) - start))
  if ((rc == 0)); then
    status=PASS
  elif ((rc == 124 || rc == 137)); then
    status=TIMEOUT
  else
    status=FAIL
  fi
  # The note: pytest's result line, else the last line that says something.
  note=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)|^(=+ )?no tests ran|^load: CUDA|^AssertionError' "$log" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
  [ -z "$note" ] && note=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | cut -c1-110)
  [ "$status" = TIMEOUT ] && note="timed out after ${limit}s; ${note}"
  [ "$status" = FAIL ] && note="exit $rc; ${note}"
  record "$name" "$status" "$took" "$note"
  say "$name: $status (${took}s)"
  [ "$status" = PASS ]
}
skip() { record "$1" SKIPPED 0 "$2"; say "$1: SKIPPED ($2)"; }

# ---------------------------------------------------------------------------- build
LIB_SOURCE="MYOPS_LIBRARY"
if [ -z "${MYOPS_LIBRARY:-}" ]; then
  LIB_SOURCE="built here"
  BUILD_DIR=${GPU_CHECK_BUILD_DIR:-$ROOT/build/gpu-check}
  ARCHS=${TORCH_CUDA_ARCH_LIST:-$GPU_ARCH}
  NVCC=$(command -v nvcc || true)
  for d in "${CUDA_HOME:-}" /usr/local/cuda; do
    [ -z "$NVCC" ] && [ -n "$d" ] && [ -x "$d/bin/nvcc" ] && NVCC=$d/bin/nvcc
  done
  missing_tools=""
  command -v cmake >/dev/null || missing_tools+="cmake "
  command -v ninja >/dev/null || missing_tools+="ninja "
  command -v c++ >/dev/null || missing_tools+="c++ "
  [ -n "$NVCC" ] || missing_tools+="nvcc "
  if [ -n "$missing_tools" ]; then
    skip build "missing build tools: $missing_tools(or give MYOPS_LIBRARY)"
  else
    export CUDACXX=$NVCC
    run_step build 300 bash -c '
      set -e
      cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMYOPS_CUDA=ON \
            -DPython3_EXECUTABLE="$3" -DTORCH_CUDA_ARCH_LIST="$4"
      cmake --build "$2" -j "${MAX_JOBS:-$(nproc)}"' _ "$ROOT" "$BUILD_DIR" "$PY" "$ARCHS"
  fi
  if [ -f "$BUILD_DIR/libmyops.so" ] && grep -q "^build"$'\t'"PASS" "$STEPS"; then
    export MYOPS_LIBRARY=$BUILD_DIR/libmyops.so
  fi
fi

# ---------------------------------------------------------------------------- checks
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
HAVE_LIB=0
if [ -n "${MYOPS_LIBRARY:-}" ] && [ -f "$MYOPS_LIBRARY" ]; then
  export MYOPS_LIBRARY
  MYOPS_LIBRARY=$(cd "$(dirname "$MYOPS_LIBRARY")" && pwd)/$(basename "$MYOPS_LIBRARY")
  # The library loads, has CUDA kernels, and they were compiled for this GPU (or as PTX).
  run_step load 60 "$PY" -c '
import sys, torch, myops
from myops._cli import print_info
print_info()
info = myops.build_info()
major, minor = torch.cuda.get_device_capability()
archs = info.get("cuda_archs") or []
cuda = info.get("cuda_version")
print(f"load: CUDA kernels {cuda} for {archs}; this GPU is {major}.{minor}")
assert cuda, "a CPU-only libmyops.so: no CUDA kernels to check"
assert torch._C._dispatch_has_kernel_for_dispatch_key("myops::muladd", "CUDA"), "no CUDA kernel registered"
ok = any(a.split("+")[0].rstrip("a") == f"{major}.{minor}" or (a.endswith("+PTX") and float(a.split("+")[0].rstrip("a")) <= major + minor / 10) for a in archs)
assert ok, f"libmyops.so has no code for sm_{major}{minor} (TORCH_CUDA_ARCH_LIST={archs})"
print("load: ok")' && HAVE_LIB=1
else
  skip load "no library (${MYOPS_LIBRARY:-the build did not produce one})"
fi

if ((HAVE_LIB)); then
  run_step smoke 90 "$PY" scripts/gpu_smoke.py

  PYTEST=("$PY" -m pytest -q -rfE -p no:cacheprovider --durations=15 --ignore=tests/test_build.py)
  has_py xdist && PYTEST+=(-n 4)
  if has_py pytest; then
    run_step pytest-cuda 200 "${PYTEST[@]}" --junitxml="$RESULTS/pytest-cuda.xml" -k cuda tests
  else
    skip pytest-cuda "pytest is not installed"
  fi

  SANITIZER=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || true)}
  for cand in "${CUDA_HOME:-/nonexistent}/bin/compute-sanitizer" /usr/local/cuda/bin/compute-sanitizer \
      $("$PY" -c 'import glob, site, sys
for d in site.getsitepackages() + [site.getusersitepackages()]:
    print(*glob.glob(d + "/nvidia/**/compute-sanitizer", recursive=True))' 2>/dev/null); do
    [ -z "$SANITIZER" ] && [ -f "$cand" ] && [ -x "$cand" ] && SANITIZER=$cand
  done
  if [ -n "$SANITIZER" ]; then
    # No caching allocator under memcheck: out-of-bounds accesses into a neighbouring block of
    # the cache would go unseen. Small subsets: two dtypes for the slower race and sync checks.
    run_step memcheck 75 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$SANITIZER" --tool memcheck --error-exitcode 99 \
      --print-limit 30 "$PY" scripts/gpu_smoke.py
    run_step racecheck 60 "$SANITIZER" --tool racecheck --error-exitcode 99 --print-limit 30 \
      "$PY" scripts/gpu_smoke.py --dtype float32 --dtype float16
    run_step synccheck 45 "$SANITIZER" --tool synccheck --error-exitcode 99 --print-limit 30 \
      "$PY" scripts/gpu_smoke.py --dtype float32 --dtype bfloat16
  else
    for tool in memcheck racecheck synccheck; do
      skip "$tool" "compute-sanitizer not found (CUDA toolkit, or pip nvidia-cuda-sanitizer-api; or set COMPUTE_SANITIZER)"
    done
  fi

  BENCH_MODE=${GPU_CHECK_BENCH:-quick}
  if [ "$BENCH_MODE" != off ]; then
    BENCH_OUT=$ROOT/benchmarks/results/gpu
    mkdir -p "$BENCH_OUT" "$RESULTS/bench"
    quick=(--quick)
    [ "$BENCH_MODE" = full ] && quick=()
    for f in benchmarks/bench_*.py; do
      family=$(basename "$f" .py)
      family=${family#bench_}
      run_step "bench-$family" 75 "$PY" benchmarks/run.py --device cuda --family "$family" "${quick[@]}" \
        --out "$BENCH_OUT"
      cp "$BENCH_OUT/$family-cuda"* "$RESULTS/bench/" 2>/dev/null
    done
  else
    skip bench "GPU_CHECK_BENCH=off"
  fi

  if has_py pytest; then
    run_step pytest-rest 200 "${PYTEST[@]}" --junitxml="$RESULTS/pytest-rest.xml" -k "not cuda" tests
  else
    skip pytest-rest "pytest is not installed"
  fi
else
  skip checks "smoke, pytest, compute-sanitizer, benchmarks: no loadable CUDA libmyops.so"
fi

# ---------------------------------------------------------------------------- summary
TOTAL=$(($(date +%s) - T0))
if grep -qE $'\t(FAIL|TIMEOUT)\t' "$STEPS"; then
  OVERALL=FAIL; CODE=1
elif grep -qE $'\tSKIPPED\t.*(missing|not installed|not found|no library)' "$STEPS" || ((HAVE_LIB == 0)); then
  OVERALL="INCOMPLETE (something needed is missing)"; CODE=3
else
  OVERALL=PASS; CODE=0
fi
LIB_LINE="${MYOPS_LIBRARY:-none} ($LIB_SOURCE)"
{
  echo "==================== myops gpu-check ===================="
  echo "GPU:      $GPU_NAME${DRIVER:+, driver $DRIVER}"
  echo "torch:    $TORCH_VERSION (CUDA $TORCH_CUDA), Python $PY_VERSION ($PY)"
  echo "library:  $LIB_LINE"
  [ -n "$MISSING_NOTE" ] && echo "missing:  $MISSING_NOTE(Python packages)"
  echo "results:  $RESULTS"
  printf '%-18s %-8s %6s  %s\n' step status time note
  while IFS=$'\t' read -r name status took note; do
    printf '%-18s %-8s %5ss  %s\n' "$name" "$status" "$took" "$note"
  done <"$STEPS"
  echo "total ${TOTAL}s of a ${BUDGET}s budget; overall: $OVERALL (exit $CODE)"
} | tee "$RESULTS/summary.txt"
"$PY" - "$RESULTS" "$OVERALL" "$CODE" "$TOTAL" "$GPU_NAME" "$TORCH_VERSION" "$LIB_LINE" <<'EOF' 2>/dev/null
import json, sys
results, overall, code, total, gpu, torch_version, library = sys.argv[1:]
steps = [dict(zip(("step", "status", "seconds", "note"), line.rstrip("\n").split("\t")))
         for line in open(f"{results}/steps.tsv")]
json.dump({"overall": overall, "exit": int(code), "seconds": int(total), "gpu": gpu, "torch": torch_version,
           "library": library, "steps": steps}, open(f"{results}/summary.json", "w"), indent=1)
EOF
exit "$CODE"
