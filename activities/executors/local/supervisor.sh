#!/bin/sh
# Supervises one attempt of one run, detached from the worker so the attempt outlives a worker
# crash (as a Kubernetes Job does). It takes the attempt's lock atomically (mkdir), so an attempt
# is never started twice, starts the job from its argv (never a shell string), and records how
# it ended. POSIX sh on purpose: it starts in a millisecond, where a Node supervisor takes ~50 ms.
#
# usage: supervisor.sh <attempt-dir> <launch-log or -> <slot-dir or -> <command> [args...]
dir=$1
log=$2
slot=$3
shift 3
mkdir "$dir/lock" 2>/dev/null || exit 0 # another supervisor owns this attempt: the launch is adopted
trap '' HUP

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
started=$(now)
"$@" </dev/null >>"$dir/stdout.log" 2>>"$dir/stderr.log" &
pid=$!
printf '{"supervisorPid":%d,"pid":%d,"startedAt":"%s"}' $$ "$pid" "$started" >"$dir/.launch.tmp" && mv "$dir/.launch.tmp" "$dir/launch.json"
# One line per process ever started: lets tests prove no attempt was launched twice.
[ "$log" = "-" ] || printf '{"runId":"%s","attempt":%s,"pid":%d}\n' "$SWEEP_RUN_ID" "$SWEEP_ATTEMPT" "$pid" >>"$log"

# Preemption of the node (SIGTERM to the supervisor) is passed on to the job.
trap 'kill -TERM $pid 2>/dev/null' TERM INT
wait "$pid"
rc=$?
while kill -0 "$pid" 2>/dev/null; do # wait was interrupted by the trap: wait for the real exit
  wait "$pid"
  rc=$?
done

if [ "$rc" -gt 128 ]; then
  printf '{"code":null,"signal":"SIG%s","finishedAt":"%s"}' "$(kill -l $((rc - 128)))" "$(now)" >"$dir/.exit.tmp"
else
  printf '{"code":%d,"signal":null,"finishedAt":"%s"}' "$rc" "$(now)" >"$dir/.exit.tmp"
fi
mv "$dir/.exit.tmp" "$dir/exit.json"
[ "$slot" = "-" ] || rm -rf "$slot" # the job's slot is free: a waiting run starts now
