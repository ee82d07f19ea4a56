# Soak: a mixed load under each policy of RELAY_SOAK_POLICIES (default:
# every policy scx_relay ships, as it lists them), for RELAY_SOAK_SECONDS
# per policy (`cargo xtask soak --minutes 10` sets 600). Without it (`vm-test --long`), 60 s
# of load are shared by the policies, at least 20 s each (5 policies: 20 s
# each). The load: CPU hogs, fork and fork+exec storms, pipes,
# sched_setaffinity churn, nice changes, memory pressure (stress-ng --vm),
# hackbench rounds and a pinned worker per CPU. Per policy: never ejected,
# no stall message, 0 page faults and 0 allocator calls of the scheduling loop, resident
# memory flat (end <= start + 1 MiB; both printed), every workload
# completes, user dispatches during the load, rescued, fallback, stalls,
# bounced, invalid and redirected 0 (docs/reliability.md says they stay 0), exit 0
# on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

policies=$(echo "${RELAY_SOAK_POLICIES:-$(shipped_policies)}" | tr ',' ' ')
[ -n "$policies" ] || fail "no policy to soak (scx_relay did not list its policies)"
P=$(echo $policies | wc -w)
if [ -n "$RELAY_SOAK_SECONDS" ]; then
	secs=$RELAY_SOAK_SECONDS
else
	secs=$(((60 + P - 1) / P))
	[ "$secs" -ge 20 ] || secs=20
fi
# Each policy also needs about 20 s to start, drain and unload.
need=$((P * (secs + 20)))
limit=${RELAY_CASE_TIMEOUT_S:-300}
[ "$need" -lt "$limit" ] ||
	fail "$P policies x ($secs s + 20 s) need about $need s, more than the case timeout of $limit s (set relay.soak_seconds lower, or use cargo xtask soak)"
N=$(nproc)
RSS_SLACK_KB=1024
note "soaking $secs s per policy: $policies"

for policy in $policies; do
	# The kernel's default watchdog under fork storms: see STRESS_WATCHDOG_MS.
	# shellcheck disable=SC2046 # the options are words
	start_relay env SCX_TIMEOUT_MS=$STRESS_WATCHDOG_MS -- $(policy_args "$policy") --stats 1
	# VmRSS from the start-up line (start_relay waits for it), when the
	# memory is locked and prefaulted: once, measured from `enabled`
	# while scx_relay locked its memory after attaching, the prefault was
	# still under way (14184 -> 15568 kB, the main thread's faults).
	sleep 2
	workload_begins
	rss_start=$(rss_kb "$RELAY_PID")
	thread_faults "$RELAY_PID" >/tmp/soak-faults-start
	rounds=0
	hb_rounds=0
	stress-ng -t "${secs}s" --cpu "$N" --fork 2 --exec 1 --pipe 2 --affinity 1 --nice 1 \
		--vm 2 --vm-bytes 25% >/tmp/soak-stress.log 2>&1 &
	LOAD=$!
	for cpu in $(seq 0 $((N - 1))); do
		counted "pin-$policy" taskset -c "$cpu" sh /relay/lib/busy.sh "$secs"
	done
	t0=$(cut -d. -f1 /proc/uptime)
	while [ $(($(cut -d. -f1 /proc/uptime) - t0)) -lt "$secs" ]; do
		counted "hb-$policy" hackbench -g 2 -l 50
		hb_rounds=$((hb_rounds + 1))
		sleep 5
		[ "$(cat $SCX/state)" = enabled ] || fail_with_log "$policy: state is '$(cat $SCX/state)' during the soak"
		kill -0 "$RELAY_PID" 2>/dev/null || fail_with_log "$policy: scx_relay died during the soak"
	done
	wait "$LOAD" || {
		tail -n 20 /tmp/soak-stress.log
		fail_with_log "$policy: stress-ng exited with status $?"
	}
	wait_done "$N" 60 "pin-$policy" || fail_with_log "$policy: $(done_count "pin-$policy") of $N pinned workers completed"
	wait_done "$hb_rounds" 120 "hb-$policy" || fail_with_log "$policy: $(done_count "hb-$policy") of $hb_rounds hackbench rounds completed"
	sleep 2
	rss_end=$(rss_kb "$RELAY_PID")
	thread_faults "$RELAY_PID" >/tmp/soak-faults-end
	# Which thread faulted during the load, if any.
	grep -vxF -f /tmp/soak-faults-start /tmp/soak-faults-end | while read -r tid comm n; do
		note "$policy: thread $tid ($comm): page faults $(awk -v t="$tid" '$1 == t { print $3 }' /tmp/soak-faults-start) -> $n during the load"
	done
	workload_ended "$policy"
	# The session's totals (workload_ended read them: FRESH_STATS).
	faults=$(counter "$FRESH_STATS" page_faults)
	allocs=$(counter "$FRESH_STATS" loop_allocs)
	for key in bounced invalid redirected; do
		v=$(counter "$FRESH_STATS" "$key")
		[ "$v" = 0 ] || fail_with_log "$policy: $key is $v, expected 0"
	done
	kill -INT "$RELAY_PID"
	wait_relay
	note "$policy: $FRESH_STATS"
	note "$policy: VmRSS start ${rss_start} kB, end ${rss_end} kB; page faults ${faults}; loop allocs ${allocs}; hackbench rounds $hb_rounds, pinned workers $N: all completed"
	[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "$policy: scx_relay exited with status $RELAY_STATUS"
	fail_if_ejected "$policy"
	[ "${faults:-x}" = 0 ] || fail_with_log "$policy: $faults page faults after start-up"
	[ "${allocs:-x}" = 0 ] || fail_with_log "$policy: the scheduling loop made $allocs allocator calls"
	[ -n "$rss_start" ] && [ -n "$rss_end" ] || fail_with_log "$policy: no VmRSS reading"
	[ "$rss_end" -le $((rss_start + RSS_SLACK_KB)) ] || fail_with_log "$policy: VmRSS grew from $rss_start to $rss_end kB"
	took=$(wait_state disabled 60) || fail_with_log "$policy: state is '$(cat $SCX/state)' after scx_relay exited"
	note "$policy: disabled ${took}s after exit"
done
pass
