#!/bin/bash
# Many judge experiments at once (issue 4's GRPO sweeps): warm up one judge init, then run every line of JOBS_FILE
# ("name args-for-tools/judge_experiment.py") in parallel from it, retrying once any run that failed (concurrent
# CUDA processes on the lent GPU machine sometimes died with "unspecified launch failure"). Logs go to LOG_DIR;
# summarise them with `python tools/sweep_summary.py LOG_DIR`.
#
#   bash tools/judge_sweep.sh tools/sweeps/device_sweep1.txt /tmp/logs     # needs runs/toy/{00,01,02}
#
# On a machine without the project's packages, WHEELS=DIR installs wheels from DIR first (no index).
set -u
JOBS_FILE=$1; L=${2:-/tmp/judge_sweep_logs}; LIMIT=${LIMIT:-540}
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
PY=${PYTHON:-python3}; export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$L"; T0=$(date +%s)
$PY -c "import torch, transformers, trl; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'trl', trl.__version__)" | tee "$L/env.txt"
timeout 240 $PY tools/judge_experiment.py --no-grpo --samples 4 --dump --out /tmp/jx > "$L/warm.log" 2>&1
echo "warm-up rc $? after $(( $(date +%s) - T0 )) s" | tee -a "$L/env.txt"
INIT=$(ls -d /tmp/jx/warm_*/judge_init | head -1)
run() { local name=$1; shift; timeout "$LIM" $PY tools/judge_experiment.py --init "$INIT" --samples 4 --out "/tmp/jx_$name" "$@" \
        > "$L/$name.log" 2>&1; echo "$name rc $?" >> "$L/env.txt"; }
for attempt in 1 2; do
  PIDS=""; LIM=$(( LIMIT - ($(date +%s) - T0) ))
  while read -r name args; do
    [ -z "$name" ] || [[ $name == \#* ]] && continue
    [ "$attempt" = 2 ] && { grep -q "^$name rc 0" "$L/env.txt" && continue; mv "$L/$name.log" "$L/$name.fail1.log"; }
    run "$name" $args & PIDS="$PIDS $!"; sleep 2
  done < "$JOBS_FILE"
  wait $PIDS
done
echo "all done after $(( $(date +%s) - T0 )) s" | tee -a "$L/env.txt"
