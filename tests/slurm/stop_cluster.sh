#!/usr/bin/env bash
# Stop the test cluster started by tests/slurm/start_cluster.sh.
#
# Usage: tests/slurm/stop_cluster.sh [--purge] [STATE_DIR]
#   STATE_DIR defaults to ${SLURM_TEST_DIR:-/tmp/algoperf_like_slurm}.
#   --purge also deletes STATE_DIR (config, logs) and its lock file; without it the logs stay
#   for debugging (the next start wipes them anyway).
#
# Cancels the cluster's jobs, then stops slurmd, slurmctld, (slurmdbd, mariadbd) and munged. Only processes that
# belong to this STATE_DIR are signalled: the pids in STATE_DIR/run (checked against the
# process's command line) and daemons/slurmstepd whose command line or environment names this
# STATE_DIR's config. Safe to run when nothing is running. Always exits 0 unless misused.
set -uo pipefail

PURGE=0
if [ "${1:-}" = "--purge" ]; then PURGE=1; shift; fi
DIR="${1:-${SLURM_TEST_DIR:-/tmp/algoperf_like_slurm}}"
case "$DIR" in
  /*) ;;
  *) DIR="$(pwd)/$DIR" ;;
esac
[ "$DIR" != "/" ] || { echo "stop_cluster: refusing to use /" >&2; exit 2; }
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
CONF="$DIR/etc/slurm.conf"

log() { echo "stop_cluster: $*" >&2; }

if [ "${SLURM_TEST_LOCK_HELD:-0}" != 1 ] && [ -d "$(dirname "$DIR")" ]; then
  exec 9>"$DIR.lock"
  flock -w 120 9 || log "could not take $DIR.lock; stopping anyway"
fi

# pid -> does the process exist and is it ours?
ours() {  # ours PID NAME
  local pid="$1" name="$2"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$DIR/" && return 0
  { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF -- "SLURM_CONF=$CONF"
}

pids_of() {  # pids_of NAME PIDFILE: our processes called NAME
  local name="$1" pidfile="$2" pid
  {
    [ -n "$pidfile" ] && [ -f "$pidfile" ] && cat "$pidfile" 2>/dev/null
    pgrep -x "$name" 2>/dev/null
  } | sort -u | while read -r pid; do
    ours "$pid" "$name" && echo "$pid"
  done
}

# Processes of jobs of this cluster: their environment has SLURM_JOB_ID and our SLURM_CONF
# (slurmd sets both). Never this script or its ancestors (a caller may export both).
job_pids() {
  local ancestors=" $BASHPID " p=$$ f pid
  while [ -n "$p" ] && [ "$p" -gt 1 ] 2>/dev/null; do
    ancestors+="$p "
    p="$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)"
  done
  for f in $(grep -lsxzF -- "SLURM_CONF=$CONF" /proc/[0-9]*/environ); do
    pid="${f#/proc/}"
    pid="${pid%/environ}"
    case "$ancestors" in *" $pid "*) continue ;; esac
    grep -qsz '^SLURM_JOB_ID=' "$f" && echo "$pid"
  done
}

kill_wait() {  # kill_wait WHAT SECONDS PID...: SIGTERM, wait up to SECONDS, then SIGKILL
  local what="$1" secs="$2" i pids
  shift 2
  pids="$*"
  [ -n "$pids" ] || return 0
  log "stopping $what ($(echo $pids))"
  kill -TERM $pids 2>/dev/null
  for i in $(seq $((secs * 10))); do
    pids="$(for p in $pids; do [ -d "/proc/$p" ] && echo "$p"; done)"
    [ -z "$pids" ] && return 0
    sleep 0.1
  done
  log "$what did not exit after SIGTERM: SIGKILL $(echo $pids)"
  kill -KILL $pids 2>/dev/null
  sleep 0.2
}

stop() {  # stop NAME PIDFILE [SECONDS]
  local name="$1" pidfile="$2" secs="${3:-10}" pids i
  pids="$(pids_of "$name" "$pidfile")"
  if [ -n "$pids" ]; then
    log "stopping $name ($(echo $pids))"
    kill -TERM $pids 2>/dev/null
    for i in $(seq $((secs * 10))); do
      pids="$(for p in $pids; do [ -d "/proc/$p" ] && echo "$p"; done)"
      [ -z "$pids" ] && break
      sleep 0.1
    done
    if [ -n "$pids" ]; then
      log "$name did not exit after SIGTERM: SIGKILL $(echo $pids)"
      kill -KILL $pids 2>/dev/null
      sleep 0.2
    fi
  fi
  [ -z "$pidfile" ] || rm -f "$pidfile"
}

# Cancel jobs while slurmctld is still up, so slurmstepd cleans up the job processes.
if [ -f "$CONF" ] && [ -n "$(pids_of slurmctld "$DIR/run/slurmctld.pid")" ] && command -v squeue >/dev/null; then
  jobs="$(SLURM_CONF="$CONF" timeout 10 squeue -h -o '%A' 2>/dev/null)"
  if [ -n "$jobs" ]; then
    log "cancelling jobs: $(echo $jobs)"
    SLURM_CONF="$CONF" timeout 10 scancel $jobs 2>/dev/null
    # Wait briefly for slurmstepd to end them (up to KillWait=5 s for SIGTERM-resistant jobs,
    # e.g. submitit's); whatever is left is killed below.
    for _ in $(seq 10); do
      left="$(SLURM_CONF="$CONF" timeout 10 squeue -h -t PD,R,CG,S -o '%A' 2>/dev/null)"
      [ -z "$left" ] && break
      sleep 0.2
    done
  fi
fi

# SIGTERM the daemons at once (each takes ~2 s to exit; their state is thrown away anyway),
# then wait for each in turn. munged goes last: squeue/scancel above needed it.
early="$(pids_of slurmd "$DIR/run/slurmd.pid") $(pids_of slurmctld "$DIR/run/slurmctld.pid")
  $(pids_of slurmdbd "$DIR/run/slurmdbd.pid") $(pids_of mariadbd "$DIR/run/mariadbd.pid")"
early="$(echo $early)"
[ -z "$early" ] || kill -TERM $early 2>/dev/null
stop slurmd "$DIR/run/slurmd.pid"
# Left over only if slurmd/slurmctld died under running jobs (slurmstepd ignores SIGTERM).
kill_wait "job processes" 2 $(job_pids)
stop slurmstepd "" 1
stop slurmctld "$DIR/run/slurmctld.pid"
stop slurmdbd "$DIR/run/slurmdbd.pid"
stop mariadbd "$DIR/run/mariadbd.pid" 30
stop munged "$DIR/run/munged.pid"

if [ "$PURGE" = 1 ]; then
  rm -rf "$DIR" "$DIR.lock"
fi
exit 0
