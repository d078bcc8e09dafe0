#!/bin/bash
# The whole test suite on a GPU machine, where every model goes to CUDA (`models.default_device`) and SFT and GRPO
# train in bf16 (`training.sft_config`, `judge_rl.grpo_config`): the device paths that CI, on a CPU, never takes.
# Writes the environment, the pytest log and a JUnit XML to $OUT (default /tmp/gpu_check).
#
#   bash tools/gpu_check.sh                                  # in the project's venv, on a machine with a GPU
#   WHEELS=.whl WORKERS=8 bash tools/gpu_check.sh            # a bare image: install the project's wheels first
#
# WHEELS=DIR installs wheels from DIR without an index (a GPU image that has torch but not the rest;
# tools/gpu_wheels.txt lists them and says how to fetch them); WORKERS=N runs N pytest-xdist workers if xdist is there;
# LIMIT=S stops pytest after S seconds; any further arguments go to pytest instead of `tests`.
set -u
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$WHEELS"/*.whl > "$OUT/install.log" 2>&1 || { tail -20 "$OUT/install.log"; exit 1; }
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY=${PYTHON:-python3}
$PY - <<'EOF' 2>&1 | tee "$OUT/env.txt"
import platform, torch, transformers, trl, pandas
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-", "transformers", transformers.__version__,
      "trl", trl.__version__, "pandas", pandas.__version__, "cpus", __import__("os").cpu_count())
EOF
XDIST=()
if [ -n "${WORKERS:-}" ] && $PY -c "import xdist" 2>/dev/null; then XDIST=(-n "$WORKERS"); fi
TARGETS=("$@"); [ ${#TARGETS[@]} -eq 0 ] && TARGETS=(tests)
T0=$(date +%s)
timeout "${LIMIT:-1800}" $PY -m pytest -rfE --durations=20 -p no:cacheprovider "${XDIST[@]}" \
  --junitxml="$OUT/junit.xml" "${TARGETS[@]}" > "$OUT/pytest.log" 2>&1
RC=$?
echo "pytest rc $RC after $(( $(date +%s) - T0 )) s" | tee -a "$OUT/env.txt"
tail -60 "$OUT/pytest.log"
exit $RC
