#!/usr/bin/env bash
# Stop the test cluster started by tests/slurm/start_cluster.sh.
#
# Usage: tests/slurm/stop_cluster.sh [--purge] [STATE_DIR]
#   STATE_DIR defaults to ${SLURM_TEST_DIR:-/tmp/algoperf_like_slurm}.
#   --purge also deletes STATE_DIR (config, logs) and its lock file; without it the logs stay
#   for debugging (the next start wipes them anyway).
#
# Cancels the cluster's jobs, kills job processes, slurmstepd and slurmd, then stops slurmctld,
# (slurmdbd, mariadbd) and finally munged with SIGTERM (SIGKILL for whatever is left after
# 3 s). The cluster's state is thrown away, so nothing needs a graceful shutdown.
# Only processes that belong to this STATE_DIR are signalled: daemons whose command line names
# STATE_DIR or whose environment has SLURM_CONF=STATE_DIR/etc/slurm.conf, and job processes
# whose environment has that SLURM_CONF and a SLURM_JOB_ID (slurmd sets both). Safe to run when
# nothing is running. Exits 0 unless misused.
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
GRACE_S=3

log() { echo "stop_cluster: $*" >&2; }

if [ "${SLURM_TEST_LOCK_HELD:-0}" != 1 ] && [ -d "$(dirname "$DIR")" ]; then
  exec 9>"$DIR.lock"
  flock -w 120 9 || log "could not take $DIR.lock; stopping anyway"
fi

alive() {  # alive PID: exists and is not a zombie
  local st
  st="$({ cat "/proc/$1/stat"; } 2>/dev/null)" || return 1
  st="${st##*) }"  # the state letter follows "(comm) "
  [ -n "$st" ] && [ "${st:0:1}" != Z ]
}

ours() {  # ours PID NAME: a live process called NAME that belongs to this STATE_DIR
  local pid="$1" name="$2"
  [ -n "$pid" ] && alive "$pid" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$DIR/" && return 0
  { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF -- "SLURM_CONF=$CONF"
}

pids_of() {  # pids_of NAME [PIDFILE]: our processes called NAME
  local name="$1" pidfile="${2:-}" pid
  {
    [ -n "$pidfile" ] && [ -f "$pidfile" ] && cat "$pidfile" 2>/dev/null
    pgrep -x "$name" 2>/dev/null
  } | sort -u | while read -r pid; do
    ours "$pid" "$name" && echo "$pid"
  done
}

# Processes of jobs of this cluster. Never this script or its ancestors (a caller may export
# both variables).
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
    grep -qsz '^SLURM_JOB_ID=' "$f" && alive "$pid" && echo "$pid"
  done
}

terminate() {  # terminate WHAT PID...: SIGTERM, wait up to GRACE_S, SIGKILL the rest
  local what="$1" pids i p
  shift
  pids="$*"
  [ -n "$pids" ] || return 0
  log "stopping $what ($pids)"
  kill -TERM $pids 2>/dev/null
  for i in $(seq $((GRACE_S * 10))); do
    pids="$(for p in $pids; do alive "$p" && echo "$p"; done | tr '\n' ' ')"
    [ -z "${pids// /}" ] && return 0
    sleep 0.1
  done
  log "SIGKILL after ${GRACE_S} s: $pids"
  kill -KILL $pids 2>/dev/null
  sleep 0.2
}

# Cancel jobs while slurmctld is still up: Slurm records them as cancelled and signals them.
if [ -f "$CONF" ] && [ -n "$(pids_of slurmctld "$DIR/run/slurmctld.pid")" ] \
    && command -v squeue >/dev/null; then
  jobs="$(SLURM_CONF="$CONF" timeout 10 squeue -h -t PD,R,S,CG -o '%A' 2>/dev/null | tr '\n' ' ')"
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    SLURM_CONF="$CONF" timeout 10 scancel $jobs 2>/dev/null
    sleep 0.5
  fi
fi

# Job processes, slurmstepd and slurmd get SIGKILL right away: slurmstepd ignores SIGTERM and
# slurmd does not exit while a step is ending (a cancelled submitit job ignores SIGTERM for
# KillWait=5 s); nothing of theirs needs saving. Then the other daemons at once (each takes
# ~2 s to exit on SIGTERM), munged last (squeue/scancel above needed it).
kill_now() {  # kill_now WHAT PID...
  local what="$1"
  shift
  [ "$#" -gt 0 ] || return 0
  log "killing $what ($*)"
  kill -KILL "$@" 2>/dev/null
  sleep 0.2
}
kill_now "job processes, slurmstepd, slurmd" $(job_pids) $(pids_of slurmstepd) \
  $(pids_of slurmd "$DIR/run/slurmd.pid")
kill_now "leftover job processes" $(job_pids) $(pids_of slurmstepd)
terminate "daemons" $(pids_of slurmctld "$DIR/run/slurmctld.pid") \
  $(pids_of slurmdbd "$DIR/run/slurmdbd.pid") $(pids_of mariadbd "$DIR/run/mariadbd.pid")
terminate munged $(pids_of munged "$DIR/run/munged.pid")
rm -f "$DIR"/run/*.pid 2>/dev/null

if [ "$PURGE" = 1 ]; then
  if [ -e "$DIR/.algoperf_like_slurm_test_cluster" ]; then
    rm -rf "$DIR"
  elif [ -d "$DIR" ]; then
    log "not deleting $DIR: it was not made by start_cluster.sh"
  fi
  rm -f "$DIR.lock"
fi
exit 0
