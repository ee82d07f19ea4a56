# Payload of `cargo xtask run`: scx_relay takes over the guest and schedules
# a stress-ng + hackbench mix, printing its statistics every second. The demo
# fails (one line `demo: FAILED: <why>`, non-zero exit) unless scx_relay was
# the scheduler in charge while the workload ran: sched_ext `enabled`,
# root/ops naming scx_relay, and its user-space dispatches going up during
# the workload; and unless it unloads cleanly (exit 0) afterwards.
#
# Knobs (kernel command line, set by `cargo xtask run`):
#   relay.demo_seconds=N   length of the stress-ng run (default 10)
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

seconds=${RELAY_DEMO_SECONDS:-10}
elapsed() { awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $1 }"; }
# The demo's failures are one line, and the scheduler's output before it.
fail() {
	echo "demo: FAILED: $*"
	exit 1
}

echo "demo: kernel $(uname -r), $(nproc) CPUs, sched_ext state: $(cat $SCX/state 2>/dev/null || echo absent)"
[ -e $SCX/state ] || fail "the guest kernel has no sched_ext"

# --- Start the scheduler: it must become the root scheduler. ----------------
# It runs under `timeout` so it can never outlive the demo, and prints its
# statistics every second (--stats 1) to its log, shown at the end.
echo "demo: starting scx_relay --stats 1"
start_relay timeout $((seconds + 90)) -- --stats 1
echo "demo: sched_ext state: $(cat $SCX/state), ops: $(cat $SCX/root/ops)"

# --- The workload, with the counters read before and after (ctl status). ----
workload_begins
t0=$(cut -d' ' -f1 /proc/uptime)
echo "demo: stress-ng --cpu $(nproc) --switch 2 -t ${seconds}s --metrics-brief, with hackbench alongside"
stress-ng --cpu "$(nproc)" --switch 2 -t "${seconds}s" --metrics-brief &
stress_pid=$!
hackbench -g 4 -l 200 || fail "hackbench failed under scx_relay"
echo "demo: hackbench done after $(elapsed "$t0")s"
wait "$stress_pid" || fail "stress-ng failed under scx_relay"
echo "demo: stress-ng done after $(elapsed "$t0")s"
[ "$(cat $SCX/state)" = enabled ] || fail_with_log "sched_ext state is '$(cat $SCX/state)' after the workload: scx_relay lost control"
workload_ended "demo workload"

# --- Stop the scheduler. -----------------------------------------------------
# SIGINT asks scx_relay to unregister and exit 0; the kernel then goes back
# to the fair class. Unloading under emulation can take tens of seconds.
t1=$(cut -d' ' -f1 /proc/uptime)
kill -INT "$RELAY_PID"
wait_relay
grep 'scx_relay' "$RELAY_LOG" | grep -v 'scx_relay stats:' | grep -v 'scx_relay totals:'
echo "demo: the session's counters: $(grep 'scx_relay totals:' "$RELAY_LOG" | tail -n 1)"
echo "demo: scx_relay exited with status $RELAY_STATUS, $(elapsed "$t1")s after SIGINT"
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
took=$(wait_state disabled 60) || fail_with_log "sched_ext state is '$(cat $SCX/state)' 60 s after scx_relay exited"
echo "demo: sched_ext state: disabled ${took}s after the exit"
echo "demo: ok: scx_relay scheduled the workload ($(echo "$delta" | sed 's/^ //'))"
exit 0
