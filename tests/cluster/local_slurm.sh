#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for running the workflow through the SLURM executor.
#
#   tests/cluster/local_slurm.sh start     install (Debian packages, as root) and start daemons
#   tests/cluster/local_slurm.sh stop      stop the daemons this script started (by PID)
#   tests/cluster/local_slurm.sh env       print `export SLURM_CONF=...` for the clients
#
# State and logs live in $SLURM_TEST_DIR (default /tmp/ifrnet-slurm). The configuration must be
# /etc/slurm/slurm.conf (job steps started by srun inside a batch job look only there); the script
# writes it only if it is absent or was written by this script, and never touches another. No
# accounting database: the workflow's profile uses `slurm-status-command: squeue`, and finished
# jobs stay visible to squeue for MinJobAge = 300 s. EnforcePartLimits=ALL makes sbatch reject a
# job the node can never run instead of leaving it pending forever. A fake GPU GRES (File=/dev/null) lets rules
# that request a GPU be submitted and run on a CPU-only machine.
set -euo pipefail

DIR=${SLURM_TEST_DIR:-/tmp/ifrnet-slurm}
NODE=$(hostname -s)
# The node declares more CPUs than the machine has (SlurmdParameters=config_overrides), so jobs
# submitted with the profile's real-cluster sizes (train: 4 CPUs) can run on a 2-core CI machine,
# as the fake GPU GRES below lets GPU jobs run without a GPU.
CPUS=${SLURM_TEST_CPUS:-8}
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))

install_packages() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurm-wlm slurmctld slurmd slurm-client munge >/dev/null
  fi
}

CONF_DIR=/etc/slurm
MARKER="# written by ifrnet-bench tests/cluster/local_slurm.sh"

write_config() {
  mkdir -p "$DIR"/{state,spool,log,run} "$CONF_DIR"
  if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARKER" "$CONF_DIR/slurm.conf"; then
    echo "$CONF_DIR/slurm.conf exists and is not ours; refusing to overwrite it" >&2
    return 1
  fi
  cat > "$CONF_DIR/slurm.conf" <<CONF
$MARKER
ClusterName=ifrnettest
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=300
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
EnforcePartLimits=ALL
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
  printf '%s\nNodeName=%s Name=gpu File=/dev/null\n' "$MARKER" "$NODE" > "$CONF_DIR/gres.conf"
}

start_munge() {
  if pgrep -x munged >/dev/null; then return; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  [ -f /etc/munge/munge.key ] || /usr/sbin/mungekey --create >/dev/null 2>&1 || true
  chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge 2>/dev/null || true
  runuser -u munge -- /usr/sbin/munged
  touch "$DIR/run/munged.started-here"
}

start() {
  install_packages
  write_config
  export SLURM_CONF="$CONF_DIR/slurm.conf"
  start_munge
  /usr/sbin/slurmctld -f "$SLURM_CONF"
  /usr/sbin/slurmd -f "$SLURM_CONF" -N "$NODE"
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
    case "$state" in idle|mixed|allocated) echo "slurm node $NODE is $state"; return 0;; esac
    sleep 1
  done
  echo "slurm did not come up; logs:" >&2
  tail -20 "$DIR"/log/*.log >&2 || true
  return 1
}

stop() {
  for daemon in slurmd slurmctld; do
    pidfile="$DIR/run/$daemon.pid"
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
  if [ -f "$DIR/run/munged.started-here" ]; then
    pid=$(cat /run/munge/munged.pid 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -f "$DIR/run/munged.started-here"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$CONF_DIR/slurm.conf" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
