# --partial: sched_ext schedules only tasks that opt into SCHED_EXT. The
# user scheduler must be one of them (else its loop would spin in the fair
# class: scx_relay refuses to run then). Under --partial, hackbench started
# under SCHED_EXT (run_ext) is scheduled through user space (user
# dispatches during it, no fallback), the same workload in the fair class
# is not handed to scx_relay, and scx_relay exits 0.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

start_relay_partial
policy=$(awk '$1 == "policy" { print $3 }' "/proc/$RELAY_PID/sched")
[ "$policy" = 7 ] || fail_with_log "the user scheduler's policy is '$policy', expected 7 (SCHED_EXT)"
note "the user scheduler runs under SCHED_EXT"

workload_begins
check "hackbench in the fair class" hackbench -g 2 -l 100
fresh_stats
queued=$(($(counter "$FRESH_STATS" queued) - $(counter "$WORKLOAD_BEFORE" queued)))
note "fair-class hackbench: tasks handed to scx_relay during it: $queued"
# The user scheduler's own wake-ups are not handed over; a few kthreads may
# be SCHED_EXT only if something made them so. The fair-class workload's
# 80 tasks and thousands of wake-ups must not be.
[ "$queued" -lt 100 ] || fail_with_log "$queued tasks handed over while only a fair-class workload ran"

workload_begins
check "hackbench under SCHED_EXT" run_ext hackbench -g 2 -l 100
workload_ended "hackbench under SCHED_EXT"
handed=$(($(counter "$FRESH_STATS" queued) - $(counter "$WORKLOAD_BEFORE" queued)))
# The same workload that handed over fewer than 100 tasks in the fair class.
[ "$handed" -ge 100 ] || fail_with_log "only $handed tasks handed over under SCHED_EXT"

kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
pass
