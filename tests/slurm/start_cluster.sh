#!/usr/bin/env bash
# Start a throw-away single-node Slurm cluster (munged + slurmctld + slurmd) for tests.
#
# Usage: tests/slurm/start_cluster.sh [STATE_DIR]
#   STATE_DIR defaults to ${SLURM_TEST_DIR:-/tmp/algoperf_like_slurm}. Everything (config,
#   munge key/socket, spool, logs, pid files) lives under it; it is wiped on every start.
#
# Installs Debian's slurmctld/slurmd/slurm-client and munge with apt-get if they are missing
# (needs root), stops daemons left by an earlier run on the same STATE_DIR, writes
# STATE_DIR/etc/slurm.conf, starts the daemons in the background (no systemd), waits until the
# node is idle and prints the config directory (STATE_DIR/etc) as the only line on stdout.
# Progress and errors go to stderr. Callers must point the Slurm commands at the config:
#
#   export SLURM_CONF="$(tests/slurm/start_cluster.sh)/slurm.conf"
#   sbatch --wrap 'hostname'
#   tests/slurm/stop_cluster.sh
#
# Exit status: 0 ready; 3 Slurm cannot be installed here (not root, no apt-get, apt failed);
# 4 installed but the cluster did not come up (see the logs under STATE_DIR/log).
#
# Environment: SLURM_TEST_DIR (state dir), SLURM_TEST_TIMEOUT (seconds to wait for the node,
# default 60), SLURM_TEST_CTLD_PORT / SLURM_TEST_SLURMD_PORT (default 6817 / 6818).
# Only one such cluster can run per machine (fixed ports); starts are serialised with flock.
set -euo pipefail

DIR="${1:-${SLURM_TEST_DIR:-/tmp/algoperf_like_slurm}}"
TIMEOUT="${SLURM_TEST_TIMEOUT:-60}"
CTLD_PORT="${SLURM_TEST_CTLD_PORT:-6817}"
SLURMD_PORT="${SLURM_TEST_SLURMD_PORT:-6818}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

log() { echo "start_cluster: $*" >&2; }
cannot_install() { log "CANNOT INSTALL: $*"; exit 3; }
failed() {
  log "FAILED: $*"
  for f in "$DIR"/log/*.log; do
    [ -f "$f" ] || continue
    echo "----- tail $f -----" >&2
    tail -n 25 "$f" >&2 || true
  done
  exit 4
}

case "$DIR" in
  /*) ;;
  *) DIR="$(pwd)/$DIR" ;;
esac
[ "$DIR" != "/" ] || { log "refusing to use / as state dir"; exit 2; }

# --- 1. install --------------------------------------------------------------------------
have_all() {
  local b
  for b in munged slurmctld slurmd sbatch squeue sacct scancel sinfo scontrol srun; do
    command -v "$b" >/dev/null 2>&1 || return 1
  done
}

if ! have_all; then
  [ "$(id -u)" = 0 ] || cannot_install "Slurm is not installed and installing it needs root"
  command -v apt-get >/dev/null 2>&1 || cannot_install "Slurm is not installed and apt-get is missing"
  PKGS=(munge slurmctld slurmd slurm-client)
  APT=(apt-get -q -y -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef
       -o Dpkg::Options::=--force-confold)
  # Keep the packages' maintainer scripts from starting services (they would start a system
  # munged/slurmd with the Debian defaults). Docker-style images already have this file.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
    trap '[ "$policy_created" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  t0=$SECONDS
  if ! apt-cache show "${PKGS[@]}" >/dev/null 2>&1; then
    log "package lists lack slurm/munge: apt-get update"
    "${APT[@]}" update >&2 || cannot_install "apt-get update failed"
  fi
  log "installing ${PKGS[*]} with apt-get"
  if ! "${APT[@]}" install --no-install-recommends "${PKGS[@]}" >&2; then
    log "apt-get install failed; retrying after apt-get update"
    "${APT[@]}" update >&2 || cannot_install "apt-get update failed"
    "${APT[@]}" install --no-install-recommends "${PKGS[@]}" >&2 \
      || cannot_install "apt-get install ${PKGS[*]} failed"
  fi
  if [ "$policy_created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; policy_created=0; fi
  have_all || cannot_install "installed ${PKGS[*]} but some Slurm/munge commands are still missing"
  log "installed in $((SECONDS - t0)) s"
fi
[ "$(id -u)" = 0 ] || cannot_install "the test cluster runs its daemons as root (SlurmUser=root)"

# --- 2. stop an earlier cluster on this dir, wipe its state --------------------------------
mkdir -p "$DIR"
exec 9>"$DIR.lock"
flock -w 120 9 || failed "another start/stop holds $DIR.lock"
SLURM_TEST_LOCK_HELD=1 "$HERE/stop_cluster.sh" "$DIR" >&2 9>&- || true
rm -rf "$DIR"
mkdir -p "$DIR"/{etc,munge,spool/ctld,spool/d,log,run}
chmod 755 "$DIR" "$DIR"/{etc,spool,spool/ctld,spool/d,log,run}
chmod 755 "$DIR/munge"  # munged requires the socket dir to be world-searchable

# Refuse to start next to a cluster we do not own (it would hold the ports).
for port in "$CTLD_PORT" "$SLURMD_PORT"; do
  if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    failed "TCP port $port is already in use (another Slurm? ss -ltnp): stop it or set SLURM_TEST_CTLD_PORT/SLURM_TEST_SLURMD_PORT"
  fi
done

# --- 3. munge -----------------------------------------------------------------------------
KEY="$DIR/munge/munge.key"
SOCK="$DIR/munge/munge.socket.2"
head -c 1024 /dev/urandom > "$KEY"
chmod 400 "$KEY"
munged --key-file="$KEY" --socket="$SOCK" --pid-file="$DIR/run/munged.pid" \
  --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
  </dev/null >>"$DIR/log/munged.out" 2>&1 9>&- || failed "munged did not start"
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || failed "munged socket $SOCK did not appear"

# --- 4. slurm.conf ------------------------------------------------------------------------
NODE="$(hostname -s 2>/dev/null || hostname)"
NODE="${NODE%%.*}"
# e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24046"
HW="$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=')" || failed "slurmd -C printed no NodeName line"
HW="$(echo "$HW" | tr ' ' '\n' | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' | tr '\n' ' ')"
CONF="$DIR/etc/slurm.conf"
cat > "$CONF" <<EOF
# Generated by tests/slurm/start_cluster.sh; throw-away single-node test cluster.
ClusterName=algoperflike
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
# Start jobs right after submission (default batch_sched_delay=3 s).
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 ${HW}State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$CONF"

# --- 5. slurmctld + slurmd (they daemonise and write their pid files) ----------------------
slurmctld -f "$CONF" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 9>&- || failed "slurmctld did not start"
slurmd -f "$CONF" -N "$NODE" </dev/null >>"$DIR/log/slurmd.out" 2>&1 9>&- || failed "slurmd did not start"

# --- 6. wait for the node -----------------------------------------------------------------
deadline=$((SECONDS + TIMEOUT))
state=""
while :; do
  state="$(sinfo -h -n "$NODE" -o '%t' 2>/dev/null | head -n1 || true)"
  case "$state" in
    idle|mix|alloc) break ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || failed "node $NODE not idle after ${TIMEOUT} s (state: '${state}')"
  sleep 0.5
done
log "cluster up: node $NODE ($state), partition debug, SLURM_CONF=$CONF"
echo "$DIR/etc"
