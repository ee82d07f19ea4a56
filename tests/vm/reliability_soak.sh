# Soak: a mixed load for RELAY_SOAK_SECONDS (default 60; `cargo xtask soak`
# sets 600) under each policy of RELAY_SOAK_POLICIES (default: every policy
# scx_relay ships, as it lists them). The load: CPU hogs, fork and
# fork+exec storms, pipes, sched_setaffinity churn, nice changes, memory
# pressure (stress-ng --vm), hackbench rounds and pinned workers. Per
# policy: never ejected, no stall message, 0 page faults of the scheduler
# after start-up, resident memory flat (end <= start + 1 MiB; both
# printed), every workload completes, exit 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

secs=${RELAY_SOAK_SECONDS:-60}
policies=$(echo "${RELAY_SOAK_POLICIES:-$(shipped_policies)}" | tr ',' ' ')
[ -n "$policies" ] || fail "no policy to soak (scx_relay did not list its policies)"
N=$(nproc)
RSS_SLACK_KB=1024
note "soaking $secs s per policy: $policies"

for policy in $policies; do
	start_relay -- --policy "$policy" --stats 5
	sleep 2
	rss_start=$(rss_kb "$RELAY_PID")
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
	line=$(grep 'scx_relay stats:' "$RELAY_LOG" | tail -n 1)
	faults=$(stat_of faults)
	kill -INT "$RELAY_PID"
	wait_relay
	note "$policy: $line"
	note "$policy: VmRSS start ${rss_start} kB, end ${rss_end} kB; page faults ${faults}; hackbench rounds $hb_rounds, pinned workers $N: all completed"
	[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "$policy: scx_relay exited with status $RELAY_STATUS"
	fail_if_ejected "$policy"
	[ "${faults:-x}" = 0 ] || fail_with_log "$policy: $faults page faults after start-up"
	[ -n "$rss_start" ] && [ -n "$rss_end" ] || fail_with_log "$policy: no VmRSS reading"
	[ "$rss_end" -le $((rss_start + RSS_SLACK_KB)) ] || fail_with_log "$policy: VmRSS grew from $rss_start to $rss_end kB"
	[ "$(stat_of user)" -gt 0 ] || fail_with_log "$policy: no user-space dispatches"
	took=$(wait_state disabled 60) || fail_with_log "$policy: state is '$(cat $SCX/state)' after scx_relay exited"
	note "$policy: disabled ${took}s after exit"
done
pass
