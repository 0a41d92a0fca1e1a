#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on this machine, for the tests (and for trying the sweeps).
# Runs munged, slurmctld and slurmd directly (no systemd), as root, with every file in DIR:
# no cgroups (proctrack/linuxproc, task/none), no accounting, ports picked free at start.
#
#   bash scripts/slurm/local_cluster.sh start DIR   # then: source DIR/env.sh
#   bash scripts/slurm/local_cluster.sh stop DIR
#
# `start` returns once a probe batch job (with an srun step) has run, and writes DIR/env.sh, which
# exports SLURM_CONF (for sbatch/squeue/scontrol) and VAMP_TEST_SLURM=DIR (the tests look for it).
# Exit codes: 0 started, 3 Slurm or munge missing (apt-get install -y slurm-wlm munge), 1 failed
# to start (the daemons' logs are in DIR/log).
set -euo pipefail

usage() { echo "usage: bash $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION="$1"
DIR="$2"

pid_of() { if [ -f "$1" ]; then cat "$1" 2>/dev/null || true; fi; }

stop_cluster() {
  if [ ! -f "$DIR/slurmctld.pid" ] && [ ! -f "$DIR/slurmd.pid" ] && [ ! -f "$DIR/munged.pid" ]; then
    echo "No Slurm test cluster to stop in $DIR (no pid files)."
    return 0
  fi
  export SLURM_CONF="$DIR/slurm.conf"
  if [ -f "$SLURM_CONF" ] && [ -n "$(pid_of "$DIR/slurmctld.pid")" ]; then
    scancel --full --quiet --user "$(id -un)" 2>/dev/null || true
    for _ in $(seq 20); do   # let slurmd end the jobs' processes before it goes
      [ -z "$(squeue -h -t running,completing,configuring 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  for name in slurmd slurmctld munged; do
    local pid
    pid="$(pid_of "$DIR/$name.pid")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid"
  done
  echo "Slurm test cluster in $DIR stopped."
}

fail() {
  echo "ERROR: the Slurm test cluster did not start: $1" >&2
  for log in "$DIR"/log/*.log; do
    [ -f "$log" ] && { echo "--- last lines of $log" >&2; tail -n 15 "$log" >&2; }
  done
  stop_cluster >/dev/null 2>&1 || true
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_cluster() {
  local missing=()
  for tool in munged mungekey slurmctld slurmd sbatch srun squeue sinfo scontrol scancel; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Slurm is not installed (missing: ${missing[*]}). Fix: apt-get install -y slurm-wlm munge" >&2
    exit 3
  fi
  [ "$(id -u)" -eq 0 ] || { echo "ERROR: the test cluster runs slurmd, which needs root." >&2; exit 1; }

  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  chmod 0755 "$DIR"
  mkdir -p "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log"
  chmod 0700 "$DIR/munge"
  local host ctld_port slurmd_port cpus mem_mb
  host="$(hostname -s)"
  ctld_port="$(free_port)"
  slurmd_port="$(free_port)"
  while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port="$(free_port)"; done
  cpus="$(nproc)"
  mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 8 / 10 / 1024 ))  # 80% of it

  mungekey --create --force --keyfile "$DIR/munge/munge.key" >/dev/null
  chmod 0600 "$DIR/munge/munge.key"
  munged --force --key-file "$DIR/munge/munge.key" --socket "$DIR/munge/munge.socket" \
    --pid-file "$DIR/munged.pid" --log-file "$DIR/log/munged.log" \
    --seed-file "$DIR/munge/munged.seed" || fail "munged did not start"

  cat > "$DIR/slurm.conf" <<CONF
# Throw-away one-node cluster written by scripts/slurm/local_cluster.sh
ClusterName=vamptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job waits this long before it may start again (default 120 s)
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=900
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$DIR/slurm.conf"
  slurmctld -i || fail "slurmctld did not start"
  slurmd || fail "slurmd did not start"

  local state=""
  for _ in $(seq 60); do
    state="$(sinfo -h -N -o %T 2>/dev/null | head -n 1)"
    [ "$state" = idle ] && break
    sleep 0.5
  done
  [ "$state" = idle ] || fail "node state is '${state:-unknown}' after 30 s, not idle"

  # Probe: a batch job with an srun step (as submitit writes them) must run to completion.
  sbatch --quiet --time=1 --output="$DIR/log/probe.out" \
    --wrap 'srun --unbuffered echo probe-ok' >/dev/null 2>"$DIR/log/probe.err" \
    || fail "sbatch refused the probe job: $(cat "$DIR/log/probe.err")"
  for _ in $(seq 120); do
    grep -q probe-ok "$DIR/log/probe.out" 2>/dev/null && break
    sleep 0.5
  done
  grep -q probe-ok "$DIR/log/probe.out" 2>/dev/null || fail "the probe job wrote no output in 60 s"

  cat > "$DIR/env.sh" <<ENV
export SLURM_CONF="$DIR/slurm.conf"
export VAMP_TEST_SLURM="$DIR"
ENV
  echo "Slurm test cluster running: node $host, $cpus CPUs, controller port $ctld_port; source $DIR/env.sh"
}

case "$ACTION" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  *) usage ;;
esac
