# Real-kernel test 2: hackbench completes under scx_relay (user dispatches
# go up while it runs, no safety net fires), which then unloads cleanly on
# SIGINT (exit 0). Then short hackbench bursts after idle spells: the
# user scheduler blocks in poll() in each spell, and the dispatcher wakes
# it only through the flag it sets (queue_to_user, usersched_blocked): the
# hand-offs must have forced wake-ups (usersched_ring_wakeups > 0 during
# them), and at most one of the loop's idle waits may have run to its
# 100 ms timeout although a hand-off had forced one (late_wakeups: with the
# wake path broken, every burst after a spell would be late).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

start_relay -- --stats 1
workload_begins
check "hackbench -g 4 -l 200" hackbench -g 4 -l 200
workload_ended hackbench
workload_begins
t0=$(cut -d' ' -f1 /proc/uptime)
for _ in 1 2 3 4 5 6; do
	sleep 0.3
	check "hackbench -g 1 -l 20" hackbench -g 1 -l 20
done
t1=$(cut -d' ' -f1 /proc/uptime)
workload_ended "6 hackbench bursts after idle spells"
workload_deltas "6 hackbench bursts after idle spells" usersched_ring_wakeups late_wakeups
note "6 bursts after 0.3 s idle spells took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
[ "$DELTA_usersched_ring_wakeups" -gt 0 ] || fail_with_log "the hand-offs never forced a wake-up of the blocked user scheduler"
[ "$DELTA_late_wakeups" -le 1 ] || fail_with_log "$DELTA_late_wakeups idle waits ran to their timeout although a hand-off had forced a wake-up"
stop_relay
note "disabled ${TOOK}s after exit"
pass
