#!/bin/sh
# Supervises one attempt of one run, detached from the worker so the attempt outlives a worker
# crash (as a Kubernetes Job does). It takes the attempt's lock atomically (mkdir), so an attempt
# is never started twice, starts the job from its argv (never a shell string), and records how
# it ended. POSIX sh on purpose: it starts in a millisecond, where a Node supervisor takes ~50 ms.
#
# The job runs as the leader of its own process group (setsid(1) on Linux, perl's setpgrp
# elsewhere, e.g. macOS), so a stop reaches its children too (data loaders, tokenizer pools).
# Stopping is SIGTERM to the group, then SIGKILL to it after <grace-seconds>, as the kubelet
# does; when the job's main process exits, what is left of its group is killed, as the end of a
# pod's main container ends the pod. The start and end times are the mtimes of launch.json and
# exit.json (the worker reads them): no `date` per job, and nothing that needs GNU date.
#
# usage: supervisor.sh <attempt-dir> <launch-log or -> <slot-dir or -> <grace-seconds> <command> [args...]
dir=$1
log=$2
slot=$3
grace=$4
shift 4
mkdir "$dir/lock" 2>/dev/null || exit 0 # another supervisor owns this attempt: the launch is adopted
trap '' HUP

# A wrapper that makes the job its own process group leader and then execs it (same pid). The
# background child is never a group leader itself, so setsid(1) does not fork.
if command -v setsid >/dev/null 2>&1; then
  set -- setsid -- "$@"
  grouped=1
elif command -v perl >/dev/null 2>&1; then
  set -- perl -e 'setpgrp(0, 0) or die "setpgrp: $!\n"; exec { $ARGV[0] } @ARGV or do { print STDERR "cannot run $ARGV[0]: $!\n"; exit(($!{ENOENT}) ? 127 : 126) }' -- "$@"
  grouped=1
else
  grouped=0 # no way to make a group: stops reach the job's main process only
fi

signal_job() { # $1: signal name
  if [ "$grouped" = 1 ]; then kill -"$1" -"$pid" 2>/dev/null; else kill -"$1" "$pid" 2>/dev/null; fi
}

# A stop (the worker's timeout or cancel, or the node's preemption: SIGTERM to this supervisor)
# is SIGTERM to the job's group now and SIGKILL after the grace period unless it is gone by then
# (the spec's job.gracePeriod, whole seconds; .grace-kill marks that SIGKILL as ours).
stopping=0
stop() {
  signal_job TERM
  [ "$stopping" = 1 ] && return
  stopping=1
  (
    i=0
    while [ "$i" -lt "$grace" ] && kill -0 "$pid" 2>/dev/null; do
      sleep 1
      i=$((i + 1))
    done
    # Still there after the grace: this SIGKILL is ours, and the exit record says so (not an OOM).
    kill -0 "$pid" 2>/dev/null && : >"$dir/.grace-kill"
    signal_job KILL
  ) &
}

"$@" </dev/null >>"$dir/stdout.log" 2>>"$dir/stderr.log" &
pid=$!
# Before launch.json tells the worker where to send a stop, so no stop finds the default action.
trap stop TERM INT
if [ "$grouped" = 1 ]; then pgid=$pid; else pgid=null; fi
printf '{"supervisorPid":%d,"pid":%d,"pgid":%s}' $$ "$pid" "$pgid" >"$dir/.launch.tmp" && mv "$dir/.launch.tmp" "$dir/launch.json"
# One line per process ever started: lets tests prove no attempt was launched twice.
[ "$log" = "-" ] || printf '{"runId":"%s","attempt":%s,"stage":"%s","pid":%d}\n' "$SWEEP_RUN_ID" "$SWEEP_ATTEMPT" "${SWEEP_STAGE:-train}" "$pid" >>"$log"

wait "$pid"
rc=$?
while kill -0 "$pid" 2>/dev/null; do # wait was interrupted by the trap: wait for the real exit
  wait "$pid"
  rc=$?
done
# The main process is gone: so is the rest of its group (no orphaned children holding the GPU).
[ "$grouped" = 1 ] && kill -KILL -"$pid" 2>/dev/null

# The raw status, always. The shell reports a death by signal n as 128 + n, the same as `exit
# 128+n`, so the signal name is only a hint, given where 128 + n names a real signal (1-31).
sig=null
if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
  name=$(kill -l $((rc - 128)) 2>/dev/null) && [ -n "$name" ] && sig="\"SIG${name#SIG}\""
fi
gk=
[ -e "$dir/.grace-kill" ] && gk=',"graceKill":true'
printf '{"code":%d,"signal":%s%s}' "$rc" "$sig" "$gk" >"$dir/.exit.tmp"
mv "$dir/.exit.tmp" "$dir/exit.json"
[ "$slot" = "-" ] || rm -rf "$slot" # the job's slot is free: a waiting run starts now
