#!/usr/bin/env bash
# One time-boxed GPU session (issue 27; ≤ 8 minutes on one H100/H200, nothing downloaded):
# install this checkout into the machine's Python with its own torch, then
#   1. device_check --capture-only   captured step = eager step for every network (exit 1 if not)
#   2. ifrnet_speed --capture        captured vs eager images/s, IFR-Net, ADMM-Net, VN, batch 1, 256²
#   3. gpu_share                     k = 1, 2, 4, 8 concurrent IFR-Net trainings on the GPU,
#                                    with CUDA graphs, then eager
#   4. device_check                  the full check (trainer, device vs CPU, float64) in the time left
# Each step has its own time limit and a failed step does not stop the next. Logs and
# summary.txt go to $OUT (the device tool's folder) or else gpu_session_results/; the summary is
# printed last. Exit status: 1 if a check failed or a step ran out of time, else 0.
#
#   bash benchmarks/gpu_session.sh              (PYTHON=python3, BUDGET_S=480 by default)
#   DEVICE=cpu SIZE=32 JOBS=1,2 bash benchmarks/gpu_session.sh   (a dry run of the plumbing)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu_session_results}
mkdir -p "$out"
python=${PYTHON:-python3}
budget=${BUDGET_S:-480}
device=${DEVICE:-cuda}
size=${SIZE:-256}
jobs=${JOBS:-1,2,4,8}
start=$(date +%s)
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

left() { echo $((budget - ($(date +%s) - start))); }

step() {  # step NAME LIMIT_S COMMAND...: run under a time limit, log to $out/NAME.log
  local name=$1 limit=$2
  shift 2
  local room
  room=$(($(left) - 5))
  [ "$limit" -gt "$room" ] && limit=$room
  if [ "$limit" -lt 20 ]; then
    echo "== $name: skipped, $(left) s left" | tee -a "$out/summary.txt"
    status=1
    return
  fi
  echo "== $name (limit ${limit} s): $*"
  local tic rc
  tic=$(date +%s)
  timeout --kill-after=5 "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  echo "== $name: exit $rc after $(($(date +%s) - tic)) s" | tee -a "$out/summary.txt"
  [ "$rc" -ne 0 ] && status=1
  return 0
}

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
  "$python" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, \
'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
  nproc
  echo "tree sha256 $(find ifrnet baselines benchmarks -name '*.py' | sort | xargs cat | sha256sum)"
} > "$out/env.txt" 2>&1
cat "$out/env.txt"
: > "$out/summary.txt"

# the project without its dependencies: the image has torch, numpy, numba, scipy and h5py, and
# the benchmarks need no more (PYTHONPATH above covers a failed install)
step install 60 "$python" -m pip install --no-deps --no-build-isolation --no-index -e .

on=(--device "$device" --size "$size")
step capture_check 90 "$python" benchmarks/device_check.py "${on[@]}" --capture-only
step speed 150 "$python" benchmarks/ifrnet_speed.py "${on[@]}" --capture --networks IFR-Net,ADMM-Net,VN --steps 20 --rounds 3
step share 170 bash -c "'$python' benchmarks/gpu_share.py ${on[*]} --jobs $jobs --seconds 8 && \
  '$python' benchmarks/gpu_share.py ${on[*]} --jobs $jobs --seconds 6 --eager"
step device_check 600 "$python" benchmarks/device_check.py "${on[@]}" --steps 10

{
  echo
  echo "== summary ($(($(date +%s) - start)) s of $budget)"
  for log in capture_check speed share device_check; do
    [ -f "$out/$log.log" ] || continue
    echo "-- $log"
    grep -v -E "^(skipped|epoch|training|resuming)" "$out/$log.log" | tail -n 25
  done
} | tee -a "$out/summary.txt"
exit $status
