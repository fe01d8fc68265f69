#!/usr/bin/env bash
# Start a throw-away single-node Slurm cluster (munged + slurmctld + slurmd) for tests.
# With SLURM_TEST_ACCOUNTING=1 also a private MariaDB + slurmdbd, so that sacct works.
#
# Usage: tests/slurm/start_cluster.sh [STATE_DIR]
#   STATE_DIR defaults to ${SLURM_TEST_DIR:-/tmp/algoperf_like_slurm}. Everything (config,
#   munge key/socket, spool, logs, pid files) lives under it; it is wiped on every start.
#
# Installs Debian's slurmctld/slurmd/slurm-client and munge (with accounting also slurmdbd,
# mariadb-server-core, mariadb-client-core) with apt-get if they are missing (needs root), stops daemons left by an earlier run on the same STATE_DIR, writes
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
# default 60), SLURM_TEST_CTLD_PORT / SLURM_TEST_SLURMD_PORT (default 6817 / 6818),
# SLURM_TEST_ACCOUNTING=1 (job accounting: sacct answers, so submitit's job.state/done() see
# jobs that ended without a result; without it sacct fails with "Slurm accounting storage is
# disabled"), SLURM_TEST_DBD_PORT / SLURM_TEST_DB_PORT (default 6819 / 6829, accounting only).
# Only one such cluster can run per machine (fixed ports); starts are serialised with flock.
set -euo pipefail

DIR="${1:-${SLURM_TEST_DIR:-/tmp/algoperf_like_slurm}}"
TIMEOUT="${SLURM_TEST_TIMEOUT:-60}"
CTLD_PORT="${SLURM_TEST_CTLD_PORT:-6817}"
SLURMD_PORT="${SLURM_TEST_SLURMD_PORT:-6818}"
DBD_PORT="${SLURM_TEST_DBD_PORT:-6819}"
DB_PORT="${SLURM_TEST_DB_PORT:-6829}"
case "${SLURM_TEST_ACCOUNTING:-0}" in 1|true|yes) ACCOUNTING=1 ;; *) ACCOUNTING=0 ;; esac
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
  local b bins=(munged slurmctld slurmd sbatch squeue sacct scancel sinfo scontrol srun)
  [ "$ACCOUNTING" = 0 ] || bins+=(slurmdbd sacctmgr mariadbd mariadb-install-db mariadb)
  for b in "${bins[@]}"; do
    command -v "$b" >/dev/null 2>&1 || return 1
  done
}

if ! have_all; then
  [ "$(id -u)" = 0 ] || cannot_install "Slurm is not installed and installing it needs root"
  command -v apt-get >/dev/null 2>&1 || cannot_install "Slurm is not installed and apt-get is missing"
  PKGS=(munge slurmctld slurmd slurm-client)
  [ "$ACCOUNTING" = 0 ] || PKGS+=(slurmdbd mariadb-server-core mariadb-client-core)
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
# The state dir is deleted on every start: refuse a non-empty dir that we did not create.
MARKER=".algoperf_like_slurm_test_cluster"
if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -e "$DIR/$MARKER" ]; then
  log "refusing to use $DIR: not empty and not made by this script (it would be deleted)"
  exit 2
fi
mkdir -p "$DIR"
exec 9>"$DIR.lock"
flock -w 120 9 || failed "another start/stop holds $DIR.lock"
SLURM_TEST_LOCK_HELD=1 "$HERE/stop_cluster.sh" "$DIR" >&2 9>&- || true
rm -rf "$DIR"
mkdir -p "$DIR"/{etc,munge,spool/ctld,spool/d,log,run,db}
touch "$DIR/$MARKER"
chmod 755 "$DIR" "$DIR"/{etc,spool,spool/ctld,spool/d,log,run}
chmod 755 "$DIR/munge"  # munged requires the socket dir to be world-searchable

# Refuse to start next to a cluster we do not own (it would hold the ports).
PORTS=("$CTLD_PORT" "$SLURMD_PORT")
[ "$ACCOUNTING" = 0 ] || PORTS+=("$DBD_PORT" "$DB_PORT")
for port in "${PORTS[@]}"; do
  if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    failed "TCP port $port is already in use (another Slurm? ss -ltnp): stop it or set SLURM_TEST_*_PORT"
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
HW="$(slurmd -C 2>/dev/null)" || failed "slurmd -C failed"
HW="$(grep -m1 '^NodeName=' <<<"$HW")" || failed "slurmd -C printed no NodeName line"
# Topology as detected; RealMemory 5 % below the detected total so that a slightly smaller
# reading at registration cannot drain the node for "Low RealMemory".
HW="$(tr ' ' '\n' <<<"$HW" | awk -F= '
  $1 ~ /^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)$/ { printf "%s ", $0 }
  $1 == "RealMemory" { printf "RealMemory=%d ", $2 * 0.95 }')"
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
$(if [ "$ACCOUNTING" = 1 ]; then
  echo "AccountingStorageType=accounting_storage/slurmdbd"
  echo "AccountingStorageHost=127.0.0.1"
  echo "AccountingStoragePort=$DBD_PORT"
  echo "# The munge socket for connections to slurmdbd (AuthInfo is not used for them)."
  echo "AccountingStoragePass=$SOCK"
else
  echo "AccountingStorageType=accounting_storage/none"
fi)
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

# --- 4b. accounting: private MariaDB (TCP on 127.0.0.1) + slurmdbd ---------------------------
if [ "$ACCOUNTING" = 1 ]; then
  DBSOCK="$DIR/db/mysqld.sock"
  mariadb-install-db --no-defaults --datadir="$DIR/db/data" --user=root \
    --auth-root-authentication-method=socket --skip-test-db \
    </dev/null >"$DIR/log/mariadb-install.log" 2>&1 9>&- || failed "mariadb-install-db failed"
  setsid -f mariadbd --no-defaults --datadir="$DIR/db/data" --user=root --socket="$DBSOCK" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
    --pid-file="$DIR/run/mariadbd.pid" --log-error="$DIR/log/mariadb.log" \
    --innodb-buffer-pool-size=64M </dev/null >>"$DIR/log/mariadb.out" 2>&1 9>&-
  sql() { mariadb --no-defaults -S "$DBSOCK" -u root -e "$1" 2>&1; }
  for _ in $(seq 300); do sql 'SELECT 1' >/dev/null && break; sleep 0.1; done
  sql "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
       GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" >&2 || failed "MariaDB did not start"
  DBD_CONF="$DIR/etc/slurmdbd.conf"  # slurmdbd reads it from the directory of SLURM_CONF
  cat > "$DBD_CONF" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$DBD_CONF"
  slurmdbd </dev/null >>"$DIR/log/slurmdbd.out" 2>&1 9>&- || failed "slurmdbd did not start"
  deadline=$((SECONDS + TIMEOUT))
  until sacctmgr -i add cluster algoperflike >/dev/null 2>&1 \
      || sacctmgr -n -P show cluster format=cluster 2>/dev/null | grep -qx algoperflike; do
    [ "$SECONDS" -lt "$deadline" ] || failed "slurmdbd not answering after ${TIMEOUT} s"
    sleep 0.3
  done
fi

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
