# scx_relay confined to cpu0 (`taskset -c 0`), its workload to the other
# CPUs. A task handed to user space must get the user scheduler a CPU it
# may run on: before, the dispatcher kicked an idle CPU of the woken task's
# mask, which then dispatched without the user scheduler, and cpu0 stayed
# idle until the heartbeat timer. The same hackbench, pinned to cpu1..N-1,
# runs under scx_relay unconfined and then confined, in one boot: the
# confined run must take at most 3 times as long (+1 s), be scheduled by
# scx_relay (user dispatches grow, no safety net fires), and scx_relay must
# exit 0 on SIGINT each time.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

N=$(nproc)
[ "$N" -ge 2 ] || fail "needs at least 2 CPUs, found $N"
work="taskset -c 1-$((N - 1)) hackbench -g 2 -l 200"

# timed_run <what> <wrapper...>: scx_relay under <wrapper...> runs $work;
# sets RUN_CS to the hackbench's wall time in centiseconds.
timed_run() {
	what=$1
	shift
	start_relay "$@" -- --stats 1
	workload_begins
	# (check sets t0 and t1 itself.)
	run_t0=$(tr -d . </proc/uptime | cut -d' ' -f1)
	# shellcheck disable=SC2086
	check "$what: $work" $work
	RUN_CS=$(($(tr -d . </proc/uptime | cut -d' ' -f1) - run_t0))
	workload_ended "$what"
	kill -INT "$RELAY_PID"
	wait_relay
	[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "$what: scx_relay exited with status $RELAY_STATUS after SIGINT"
	wait_state disabled 60 >/dev/null || fail_with_log "$what: state is '$(cat $SCX/state)' 60 s after scx_relay exited"
}

timed_run unconfined
free_cs=$RUN_CS
timed_run "confined to cpu0" taskset -c 0
pinned_cs=$RUN_CS
note "hackbench: ${free_cs}0 ms with scx_relay unconfined, ${pinned_cs}0 ms confined to cpu0"
[ "$pinned_cs" -le $((3 * free_cs + 100)) ] ||
	fail "confined to cpu0, scx_relay took ${pinned_cs}0 ms for the hackbench, more than 3 x ${free_cs}0 ms + 1 s"
pass
