# --partial under fair-class saturation: the fair class always runs before
# sched_ext, so while fair-class hogs keep every CPU busy, SCHED_EXT tasks
# (the user scheduler among them) only run when the kernel's ext deadline
# server (rq->ext_server) gives the ext class its share. For three times the
# kernel's watchdog timeout (5 s), two fair-class hogs per CPU run, the
# first 10 s with no other SCHED_EXT task (nothing enqueued in the ext class
# that could restart its deadline server). The kernel must not eject
# scx_relay meanwhile (no "runnable task stall"), one SCHED_EXT task per
# CPU started after those 10 s (each waking twice) must finish,
# and scx_relay must still be in charge afterwards and exit 0. The case
# fails without keep_ext_server() in src/bpf/main.bpf.c.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

hog_secs=18

start_relay_partial

# Pure CPU loops (no fork per round: a CPU that goes idle for a moment
# asks sched_ext without the server), stopped by the case, or at the latest
# by their own timeout (should the case be killed before its traps run).
hogs=
trap 'kill $hogs 2>/dev/null' EXIT
trap 'kill $hogs 2>/dev/null; exit 1' TERM INT
n=$((2 * $(nproc)))
while [ "$n" -gt 0 ]; do
	timeout $((hog_secs + 60)) sh -c 'while :; do :; done' &
	hogs="$hogs $!"
	n=$((n - 1))
done
hogs_started=$(cut -d. -f1 /proc/uptime)
note "started $((2 * $(nproc))) fair-class hogs for ${hog_secs}s (uptime $hogs_started s)"

# Still in charge, not ejected: checked after the hogs ran alone for 10 s,
# and again after they ended.
in_charge() {
	fail_if_ejected "$1"
	relay_alive || fail_with_log "scx_relay exited $1"
	state=$(cat $SCX/state)
	[ "$state" = enabled ] || fail_with_log "sched_ext state is '$state' $1"
	note "scx_relay still in charge $1 (uptime $(cut -d' ' -f1 /proc/uptime) s)"
}

# One SCHED_EXT task per CPU, each sleeping and waking twice, started
# while the hogs run (after 10 s of them alone). Each wake-up waits for the
# CPU's server (up to about a second: it is deferred while the fair class
# has not starved the ext class for its period).
sleep 10
in_charge "after 10 s of fair-class hogs alone"
workload_begins
sleepers "SCHED_EXT tasks during the saturation" run_ext
workload_deltas "SCHED_EXT tasks during the saturation" queued keepalive

while [ "$(cut -d. -f1 /proc/uptime)" -lt $((hogs_started + hog_secs)) ]; do
	sleep 0.5
done
# shellcheck disable=SC2086
kill $hogs
for pid in $hogs; do
	wait "$pid" 2>/dev/null
done
in_charge "after the saturation"

# Under the saturation a task may wait in user space past the stall timeout
# (the user scheduler too runs in the server's share only) and be rescued:
# the safety nets are checked from here on, not since the start.
workload_begins
check "hackbench under SCHED_EXT after the saturation" run_ext hackbench -g 2 -l 50
workload_deltas "hackbench under SCHED_EXT after the saturation" queued dispatched_user fallback rescued stalls
[ "$DELTA_dispatched_user" -gt 0 ] || fail_with_log "no user dispatches during hackbench"
[ "$DELTA_fallback" -eq 0 ] && [ "$DELTA_rescued" -eq 0 ] && [ "$DELTA_stalls" -eq 0 ] ||
	fail_with_log "a safety net fired during hackbench after the saturation:$delta"

t0=$(cut -d' ' -f1 /proc/uptime)
kill -INT "$RELAY_PID"
wait_relay
note "scx_relay exited $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }")s after SIGINT"
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
pass
