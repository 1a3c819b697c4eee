#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for developing and testing the SLURM workers.
#
#   storage/slurm/dev-cluster.sh start     # idempotent; waits until the node is idle
#   storage/slurm/dev-cluster.sh status    # what runs, and the node's state
#   storage/slurm/dev-cluster.sh stop      # stops the daemons this script started
#
# Needs Debian's slurm-wlm and munge (`make slurm`) and root: it writes /etc/munge/munge.key (if
# missing or not 1024 bytes, while munged is not running) and /etc/slurm/slurm.conf (refusing to
# replace one it did not write), and starts munged, slurmctld and slurmd as root (there is no
# systemd here). State, spool, logs and pid files go to $SLURM_DEV_DIR (default
# /var/tmp/study-slurm). The node has CPUs=$(nproc), RealMemory below `free -m`, one default
# partition `dev`, and the GPUs `nvidia-smi -L` lists as generic resources (`--gres=gpu:N`).
# KillWait is 10 s (SLURM_DEV_KILLWAIT): a cancelled, requeued or preempted job gets SIGTERM,
# then SIGKILL 10 s later. A requeued job starts again after 11 s (SLURM_DEV_CRED_EXPIRE + 1;
# SLURM's default is 2 minutes). Development only: no accounting, no cgroups, jobs run as their
# user without isolation; `stop` leaves running jobs' processes alone (scancel them first).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

DIR=$(realpath -m "${SLURM_DEV_DIR:-/var/tmp/study-slurm}")
CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
GRES_CONF=$(dirname "$CONF")/gres.conf
KEY=/etc/munge/munge.key
MUNGE_SOCKET=/run/munge/munge.socket.2
KILLWAIT=${SLURM_DEV_KILLWAIT:-10}
CRED_EXPIRE=${SLURM_DEV_CRED_EXPIRE:-10}
TIMEOUT=${SLURM_DEV_TIMEOUT:-120}   # seconds `start` waits for the node to be idle
MARK="# Written by storage/slurm/dev-cluster.sh"
HOST=$(hostname -s)

die() { echo "dev-cluster: $*" >&2; exit 1; }

need() {
  local missing=() binary
  for binary in munged munge unmunge slurmctld slurmd sinfo scontrol; do
    command -v "$binary" >/dev/null 2>&1 || missing+=("$binary")
  done
  [ ${#missing[@]} = 0 ] || die "missing ${missing[*]}: install SLURM and MUNGE first" \
    "(make slurm, or: sudo apt-get install -y slurm-wlm munge)"
  [ "$(id -u)" = 0 ] || die "run me as root: I write /etc/munge and /etc/slurm and start daemons"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }   # alive PIDFILE

munge_works() {  # a credential made and checked through the socket
  munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1
}

start_munge() {
  if munge_works; then return; fi   # a munged is running already (ours or the system's)
  if [ ! -f "$KEY" ] || [ "$(stat -c %s "$KEY")" != 1024 ]; then
    [ -f "$KEY" ] && cp -p "$KEY" "$KEY.orig"
    mkdir -p /etc/munge
    (umask 077; head -c 1024 /dev/urandom > "$KEY.new")
    mv "$KEY.new" "$KEY"
  fi
  # munged runs as root here (no systemd to start it as `munge`): it wants the key owned by the
  # user it runs as, and --force turns its other checks (Debian's /etc/munge belongs to munge)
  # into warnings.
  chown root:root "$KEY"
  chmod 400 "$KEY"
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  munged --force --socket="$MUNGE_SOCKET" --pid-file="$DIR/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/munged.seed" 2>>"$DIR/log/munged.log" \
    || die "munged did not start: see $DIR/log/munged.log"
  touch "$DIR/munged.ours"
  local deadline=$(( SECONDS + 20 ))
  until munge_works; do
    [ $SECONDS -lt $deadline ] || die "munged runs but credentials fail: see $DIR/log/munged.log"
    sleep 0.2
  done
}

gpus() {  # how many GPUs `nvidia-smi -L` lists (0 without it)
  local n=0
  if command -v nvidia-smi >/dev/null 2>&1; then
    n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  fi
  echo "${n:-0}"
}

write_conf() {
  local cpus mem ngpu gres=""
  cpus=$(nproc)
  mem=$(free -m | awk '/^Mem:/ { print int($2 * 0.9) }')   # RealMemory must not exceed it
  ngpu=$(gpus); ngpu=${ngpu:-0}
  local file
  for file in "$CONF" "$GRES_CONF"; do
    if [ -f "$file" ] && ! grep -qF "$MARK" "$file"; then
      die "$file exists and was not written by me: move it away to use the dev cluster"
    fi
  done
  mkdir -p "$(dirname "$CONF")"
  if [ "$ngpu" -gt 0 ]; then   # one line per GPU device file, SLURM hands them out one by one
    gres=" Gres=gpu:$ngpu"
    {
      echo "$MARK"
      for ((i = 0; i < ngpu; i++)); do echo "NodeName=$HOST Name=gpu File=/dev/nvidia$i"; done
    } > "$GRES_CONF"
  else
    rm -f "$GRES_CONF"
  fi
  cat > "$CONF.new" <<EOF
$MARK (a single-node development cluster)
ClusterName=studydev
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire + 1 s before it may start again (SLURM's default: 120 s).
AuthInfo=cred_expire=$CRED_EXPIRE
CryptoType=crypto/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
# Schedule pending jobs every 2 s, not every 30-60 s: a requeued job starts soon after its wait.
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# A cancelled, requeued or preempted job: SIGTERM, then SIGKILL KillWait seconds later.
KillWait=$KILLWAIT
InactiveLimit=0
MinJobAge=600
GresTypes=gpu
NodeName=$HOST CPUs=$cpus RealMemory=$mem$gres State=UNKNOWN
PartitionName=dev Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
  if [ -f "$CONF" ] && cmp -s "$CONF" "$CONF.new"; then rm "$CONF.new"; return 1; fi
  mv "$CONF.new" "$CONF"
}

node_state() { sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -n 1; }

start() {
  need
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  start_munge
  if write_conf && { alive "$DIR/slurmctld.pid" || alive "$DIR/slurmd.pid"; }; then
    echo "dev-cluster: $CONF changed: restarting slurmctld and slurmd"
    stop_pid slurmd "$DIR/slurmd.pid"
    stop_pid slurmctld "$DIR/slurmctld.pid"
  fi
  local started=""
  if ! alive "$DIR/slurmctld.pid"; then
    slurmctld -f "$CONF" || die "slurmctld did not start: see $DIR/log/slurmctld.log"
    started=1
  fi
  if ! alive "$DIR/slurmd.pid"; then
    slurmd -f "$CONF" || die "slurmd did not start: see $DIR/log/slurmd.log"
    started=1
  fi
  local deadline=$(( SECONDS + TIMEOUT )) state=""
  while :; do
    state=$(node_state)
    case "$state" in
      idle|mixed|allocated|completing) break ;;  # not idle* (not responding) or drained
      down*|drain*|fail*)   # e.g. left down by a previous run: ReturnToService=2 may not apply
        scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
    esac
    [ $SECONDS -lt $deadline ] || die "node $HOST is '${state:-unknown}' after ${TIMEOUT} s," \
      "not idle: see $DIR/log/slurmctld.log and $DIR/log/slurmd.log"
    sleep 0.5
  done
  if [ -n "$started" ]; then   # a first job, end to end
    timeout "$TIMEOUT" srun --quiet --nodes=1 --ntasks=1 --time=1 hostname >/dev/null \
      || die "the node is $state but \`srun hostname\` failed: see $DIR/log/slurmd.log"
  fi
  echo "SLURM dev cluster up: node $HOST $state ($(nproc) CPUs, $(gpus) GPUs," \
    "KillWait ${KILLWAIT} s), config $CONF, logs in $DIR/log"
}

stop_pid() {  # stop_pid NAME PIDFILE: SIGTERM, wait for it to end
  local pid
  alive "$2" || { rm -f "$2"; return 0; }
  pid=$(cat "$2")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  rm -f "$2"
  echo "stopped $1"
}

stop() {
  stop_pid slurmd "$DIR/slurmd.pid"
  stop_pid slurmctld "$DIR/slurmctld.pid"
  if [ -f "$DIR/munged.ours" ]; then
    stop_pid munged "$DIR/munged.pid"
    rm -f "$DIR/munged.ours"
  fi
}

status() {
  local name running=0
  for name in munged slurmctld slurmd; do
    if alive "$DIR/$name.pid"; then echo "$name: running (pid $(cat "$DIR/$name.pid"))"
    elif [ $name = munged ] && munge_works; then echo "munged: running (not started by me)"
    else echo "$name: not running"; running=1
    fi
  done
  if [ $running = 0 ]; then
    sinfo -N -o "%N %T %c CPUs %m MB %G" 2>&1 || true
    squeue 2>&1 || true
  fi
  return $running
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
