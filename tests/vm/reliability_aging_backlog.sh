# Aging's capacity: S CPU hogs (default 300, RELAY_BACKLOG_TASKS) that the
# test policy `starve` keys behind every other task, all forked on one CPU,
# while N ordinary hogs keep every CPU busy for 20 s: the starved ones run
# only when aging runs them, each time a second after their last run. The
# longest any of them waited between two runs (backlog_probe) must stay
# under 3.5 s, 70 % of the kernel's 5 s watchdog, with no ejection, aging
# having run tasks, and scx_relay exiting 0. A CPU ages about one task per
# tick (the aged task yields at the next tick), less under emulation
# (about 270 a second in all on the 4-CPU guest).
#
# Before (same case, S = 300): aging in each DSQ's vtime order was ejected,
# "starved[474] failed to run for 5.064s" (tasks overdue again and again
# with lower keys kept it from being aged; the user scheduler, starved by
# aging, was declared stalled 4 times); oldest-first but aging at every
# dispatch: "watchdog failed to check in for 5.012s" (nothing but overdue
# tasks ran). Now: the longest wait 2.2 s, no stall, no fallback.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
S=${RELAY_BACKLOG_TASKS:-300}
SECS=20
[ "$N" -ge 2 ] || fail "needs 2 CPUs, the guest has $N"
hogs=
trap '[ -z "$hogs" ] || kill -KILL $hogs 2>/dev/null' EXIT
start_relay -- --allow-test-policies --policy starve --stats 1
for _ in $(seq "$N"); do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
done
workload_begins
out=$(backlog_probe "$S" "$SECS" 1) || fail_with_log "backlog_probe failed: $out"
note "$out"
workload_deltas "$S starved tasks, $N hogs" aged overdue dispatched_user dispatched_kernel fallback rescued stalls
fail_if_ejected "the backlog"
gap=$(echo "$out" | awk '{ for (i = 1; i < NF; i++) if ($i == "gap_max_ms") print $(i + 1) }')
[ -n "$gap" ] || fail_with_log "no gap_max_ms in: $out"
[ "$gap" -lt 3500 ] || fail_with_log "a starved task waited ${gap} ms between two runs (want < 3500)"
[ "$DELTA_aged" -gt 0 ] || fail_with_log "aging ran nothing, the starved tasks ran some other way"
# shellcheck disable=SC2086
kill -KILL $hogs
for p in $hogs; do wait "$p" 2>/dev/null; done
hogs=
stop_relay
pass
