# Guest-side runner: runs the selected test cases in one boot.
#
# Cases are the scripts /relay/<name>.sh (tests/vm/<name>.sh on the host).
# relay.cases=<name>,<name>,... on the kernel command line selects them
# (RELAY_CASES); "all" or nothing means every case, but those that
# relay.skip=<name>,... names (RELAY_SKIP; the host's suite skips its long
# cases this way). Each case runs under
# `timeout` (relay.case_timeout_s=, default 300). A case that ends without
# reporting, or whose exit status contradicts its report, is reported FAIL
# here. Exit status: the number of failed cases (capped at 100).
#
# Cases are isolated: after each one, anything it left running (a scheduler,
# a workload) is killed, offline CPUs are brought back and sched_ext is
# given time to return to `disabled`, so one failing case cannot fail the
# next ones. A case that PASSed but left something running is a FAIL.

# Processes a case may start; none may outlive it.
case_processes="scx_relay shortest_first stress-ng hackbench cyclictest affinity_churn gap_probe share_probe burst_shift frame_pacer backlog_probe systemd systemd-journald"

# Kill what the last case left, restore CPUs and wait (up to 60 s) for
# sched_ext to be disabled; prints the names of the leftovers.
isolate() {
	left=
	for p in $case_processes; do
		if pidof "$p" >/dev/null 2>&1; then
			left="$left $p"
			killall -KILL "$p" 2>/dev/null
		fi
	done
	for online in /sys/devices/system/cpu/cpu[0-9]*/online; do
		[ -f "$online" ] && [ "$(cat "$online")" != 1 ] && echo 1 >"$online" 2>/dev/null
	done
	i=0
	while [ "$(cat /sys/kernel/sched_ext/state 2>/dev/null)" = enabled ] && [ $i -lt 300 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	echo "$left"
}

timeout_s=${RELAY_CASE_TIMEOUT_S:-300}
cases=${RELAY_CASES:-all}
if [ "$cases" = all ]; then
	cases=
	for script in /relay/*.sh; do
		[ -f "$script" ] || continue
		name=$(basename "$script" .sh)
		case ",$RELAY_SKIP," in
		*",$name,"*) ;;
		*) cases="$cases $name" ;;
		esac
	done
else
	cases=$(echo "$cases" | tr ',' ' ')
fi

echo "relay-note: kernel $(uname -r), $(nproc) CPUs, sched_ext state: $(cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent)"
failed=0
for name in $cases; do
	script=/relay/$name.sh
	result=/tmp/relay-result-$name
	rm -f "$result"
	if [ ! -f "$script" ]; then
		echo "relay-test: $name FAIL no such case $script"
		failed=$((failed + 1))
		continue
	fi
	echo "relay-note: running $name (timeout ${timeout_s}s)"
	t0=$(cut -d' ' -f1 /proc/uptime)
	RELAY_TEST_NAME=$name RELAY_RESULT_FILE=$result timeout "$timeout_s" sh "$script"
	rc=$?
	took=$(awk "BEGIN { printf \"%d\", $(cut -d' ' -f1 /proc/uptime) - $t0 }")
	echo "relay-note: $name took $took s"
	verdict=$(cat "$result" 2>/dev/null)
	left=$(isolate)
	[ -n "$left" ] && echo "relay-note: $name left running:$left (killed); sched_ext state now $(cat /sys/kernel/sched_ext/state 2>/dev/null)"
	i=0
	while state=$(cat /sys/kernel/sched_ext/state 2>/dev/null) && [ "$state" = disabling ] && [ $i -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if [ -n "$state" ] && [ "$state" != disabled ]; then
		# Stuck (a disable that never ends fails every later case): say where.
		(RELAY_TEST_NAME=$name; . /relay/lib/common.sh; . /relay/lib/scx_relay.sh; show_kernel_stacks "sched_ext still $state after the case")
	fi
	if [ "$verdict" = PASS ] && [ -n "$left" ]; then
		echo "relay-test: $name FAIL left running:$left"
		failed=$((failed + 1))
	elif [ -z "$verdict" ]; then
		# A case that traps TERM to clean up exits with its own status.
		if [ "$rc" -eq 143 ] || [ "$rc" -eq 124 ] || [ "$took" -ge "$timeout_s" ]; then
			echo "relay-test: $name FAIL timed out after ${timeout_s}s (ended after $took s)"
		else
			echo "relay-test: $name FAIL ended with status $rc without reporting"
		fi
		failed=$((failed + 1))
	elif [ "$verdict" = PASS ] && [ "$rc" -ne 0 ]; then
		echo "relay-test: $name FAIL reported PASS but exited with status $rc"
		failed=$((failed + 1))
	elif [ "$verdict" != PASS ]; then
		failed=$((failed + 1))
	fi
done
[ "$failed" -gt 100 ] && failed=100
exit "$failed"
