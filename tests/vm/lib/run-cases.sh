# Guest-side runner: runs the selected test cases in one boot.
#
# Cases are the scripts /relay/<name>.sh (tests/vm/<name>.sh on the host).
# relay.cases=<name>,<name>,... on the kernel command line selects them
# (RELAY_CASES); "all" or nothing means every case. Each case runs under
# `timeout` (relay.case_timeout_s=, default 300). A case that ends without
# reporting, or whose exit status contradicts its report, is reported FAIL
# here. Exit status: the number of failed cases (capped at 100).

timeout_s=${RELAY_CASE_TIMEOUT_S:-300}
cases=${RELAY_CASES:-all}
if [ "$cases" = all ]; then
	cases=
	for script in /relay/*.sh; do
		[ -f "$script" ] && cases="$cases $(basename "$script" .sh)"
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
	echo "relay-note: $name took $(awk "BEGIN { printf \"%.0f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }") s"
	verdict=$(cat "$result" 2>/dev/null)
	if [ -z "$verdict" ]; then
		if [ "$rc" -eq 143 ] || [ "$rc" -eq 124 ]; then
			echo "relay-test: $name FAIL timed out after ${timeout_s}s"
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
