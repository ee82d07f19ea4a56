# scx_relay confined to cpu0 (`taskset -c 0`), its workload to the other
# CPUs: the same hackbench, pinned to cpu1..N-1, runs under scx_relay
# unconfined and then confined, in one boot. Confined, scx_relay must still
# do the work (user dispatches grow, no safety net fires), take at most 3
# times as long (+1 s), and exit 0 on SIGINT each time. A third run moves
# the confined scheduler to cpu1 (taskset -a -p) before the hackbench.
#
# Each run also checks where the kicks meant to get the user scheduler a
# CPU went (wake_usersched): some were made (`usersched kicked`), and none
# reached a CPU the user scheduler may not run on (`astray`, checked by the
# dispatcher against its thread's mask at the kicked CPU's next dispatch).
# When the kicks took the woken task's CPUs instead of the user scheduler's
# (before), the confined run had astray +N; the hackbench's time did not
# show it (6.3 s confined against 6.8 s): a CPU of the woken task that
# cannot run the user scheduler runs the woken task's peers instead.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

N=$(nproc)
MOVE_TO=
[ "$N" -ge 2 ] || fail "needs at least 2 CPUs, found $N"
work="taskset -c 1-$((N - 1)) hackbench -g 2 -l 200"

# timed_run <what> <wrapper...>: scx_relay under <wrapper...> runs $work;
# sets RUN_CS to the hackbench's wall time in centiseconds.
timed_run() {
	what=$1
	shift
	start_relay "$@" -- --stats 1
	if [ -n "$MOVE_TO" ]; then
		taskset -a -p -c "$MOVE_TO" "$RELAY_PID" >/dev/null || fail_with_log "$what: taskset -a -p failed"
	fi
	workload_begins
	# (check sets t0 and t1 itself.)
	run_t0=$(tr -d . </proc/uptime | cut -d' ' -f1)
	# shellcheck disable=SC2086
	check "$what: $work" $work
	RUN_CS=$(($(tr -d . </proc/uptime | cut -d' ' -f1) - run_t0))
	workload_ended "$what"
	# (workload_deltas sets `what` itself.)
	run_what=$what
	workload_deltas "$run_what: kicks for the user scheduler" usersched_kicked usersched_kicked_astray
	what=$run_what
	[ "$DELTA_usersched_kicked" -gt 0 ] || fail_with_log "$what: no kick for the user scheduler during the hackbench"
	[ "$DELTA_usersched_kicked_astray" -eq 0 ] ||
		fail_with_log "$what: $DELTA_usersched_kicked_astray of $DELTA_usersched_kicked kicks for the user scheduler reached a CPU it may not run on"
	kill -INT "$RELAY_PID"
	wait_relay
	[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "$what: scx_relay exited with status $RELAY_STATUS after SIGINT"
	wait_state disabled 60 >/dev/null || fail_with_log "$what: state is '$(cat $SCX/state)' 60 s after scx_relay exited"
}

timed_run unconfined
free_cs=$RUN_CS
timed_run "confined to cpu0" taskset -c 0
pinned_cs=$RUN_CS
MOVE_TO=1
timed_run "confined to cpu0, moved to cpu1" taskset -c 0
MOVE_TO=
note "hackbench: ${free_cs}0 ms with scx_relay unconfined, ${pinned_cs}0 ms confined to cpu0"
[ "$pinned_cs" -le $((3 * free_cs + 100)) ] ||
	fail "confined to cpu0, scx_relay took ${pinned_cs}0 ms for the hackbench, more than 3 x ${free_cs}0 ms + 1 s"
pass
