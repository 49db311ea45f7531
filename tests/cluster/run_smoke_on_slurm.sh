#!/usr/bin/env bash
# Run a small target of the smoke workflow through the SLURM executor on a local one-node
# cluster (tests/cluster/local_slurm.sh), then stop the cluster. Exit status: the workflow's.
#   tests/cluster/run_smoke_on_slurm.sh [TARGET]     (default: one table's metrics)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${1:-results/metrics/brain-real/radial-r0.40/zero-filled.csv}
work=$(mktemp -d /tmp/ifrnet-slurm-run.XXXXXX)

"$here/local_slurm.sh" start
trap '"$here/local_slurm.sh" stop; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
eval "$("$here/local_slurm.sh" env)"

cp -r "$root"/{Snakefile,workflow,config,profiles,envs} "$work"/
cd "$work"
# The SLURM plugin goes into its own directory, on PYTHONPATH for this run only: once installed
# in the environment, every snakemake start imports it, and its import queries SLURM (9 s of
# time-outs per start on machines without a running cluster).
plugins="$work/plugins"
python -m pip install --quiet --target "$plugins" --no-deps \
  'snakemake-executor-plugin-slurm>=2.8' snakemake-executor-plugin-slurm-jobstep throttler
export PYTHONPATH="$plugins${PYTHONPATH:+:$PYTHONPATH}"
status=0
# A bounded run: a job the cluster cannot schedule must fail the test, not hang it.
timeout --kill-after=10 "${SLURM_RUN_TIMEOUT:-600}" python -m snakemake "$target" --profile profiles/slurm --configfile config/smoke.yaml \
  --slurm-status-command squeue --slurm-init-seconds-before-status-checks 2 \
  --seconds-between-status-checks 3 --slurm-keep-successful-logs --verbose \
  > "$work/snakemake.log" 2>&1 || status=$?
grep -E "sbatch|Finished job|SLURM run ID|Error" "$work/snakemake.log" | cut -c1-600 | head -40 || true
if [ "$status" -ne 0 ]; then
  tail -60 "$work/snakemake.log"
  find "$work/.snakemake/slurm_logs" -name "*.log" -print -exec tail -30 {} \; || true
fi
[ -f "$target" ] && echo "built $target"
exit "$status"
