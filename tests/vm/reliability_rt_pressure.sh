# Realtime pressure: SCHED_FIFO hogs hold every CPU for 12 s, then every
# CPU but the first for 12 s, while ordinary tasks run. The realtime class
# runs before sched_ext, so meanwhile our tasks (the user scheduler and the
# kernel's own workers among them) run on a hogged CPU only when the
# kernel's ext deadline server gives the ext class its share (50 ms per
# second). Passes when scx_relay is never ejected, the ordinary tasks
# started under each phase finish (how long they took is printed), and
# scx_relay exits 0 on SIGINT. What the safety nets did is printed, not
# required to be zero: a user scheduler starved for its stall timeout is
# what the stall fallback is for. Before the load it checks that the idle
# user scheduler blocks (sleeps in most looks) rather than staying parked.
#
# The case runs itself at SCHED_FIFO 90 so that it can stop the hogs (each
# hog also runs under a `timeout` at FIFO 60 on its CPU); everything it
# starts for the workload goes back to SCHED_OTHER (chrt -o 0).
# RT_PRESSURE_ARGS: more scx_relay options (reliability_rt_pressure_fast_path).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
secs=12
chrt -f -p 90 $$ >/dev/null || fail "cannot make the case SCHED_FIFO"
RT=
trap 'kill $RT 2>/dev/null' EXIT

# rt_hogs <cpu...>: a SCHED_FIFO 50 CPU loop pinned to each CPU for $secs.
rt_hogs() {
	for c in "$@"; do
		taskset -c "$c" chrt -f 60 timeout "$secs" chrt -f 50 sh -c 'while :; do :; done' &
		RT="$RT $!"
	done
}

# rt_phase <what> <cpus> [command...]: SCHED_FIFO hogs on <cpus> (a list),
# and under them ordinary sleepers, then <command> (SCHED_OTHER); checks
# that scx_relay was not ejected and notes the counters' changes.
rt_phase() {
	what=$1
	cpus=$2
	shift 2
	workload_begins
	# shellcheck disable=SC2086
	rt_hogs $cpus
	sleep 1
	sleepers "$what" chrt -o 0
	[ $# -eq 0 ] || check "$* with $what" chrt -o 0 "$@"
	for pid in $RT; do
		wait "$pid" 2>/dev/null
	done
	RT=
	fail_if_ejected "$what"
	workload_deltas "$what" queued dispatched_user dispatched_kernel fallback rescued aged keepalive served_empty stranded_moved stalls
}

# usersched_sleeps: of 20 looks at the user scheduler's loop thread (the
# main thread) over 2 s, how many found it sleeping. Run by this SCHED_FIFO
# shell, with builtins and a realtime sleep, so the looks hand scx_relay no
# work.
usersched_sleeps() {
	slept=0
	for _ in $(seq 20); do
		read -r stat <"/proc/$RELAY_PID/task/$RELAY_PID/stat" || {
			echo gone
			return
		}
		# shellcheck disable=SC2086
		set -- $stat
		[ "$3" = S ] && slept=$((slept + 1))
		sleep 0.1
	done
	echo "$slept"
}

# shellcheck disable=SC2086
start_relay chrt -o 0 -- --stats 1 ${RT_PRESSURE_ARGS:-}
# Idle, the user scheduler blocks instead of staying parked: a parked one
# is counted on its CPU's runqueue, and a CPU that idles so may stop its
# ext server for good (keep_ext_server in main.bpf.c).
sleep 1
slept=$(usersched_sleeps)
[ "$slept" != gone ] || fail_with_log "idle: scx_relay's loop thread is gone"
note "idle: the user scheduler slept in $slept of 20 looks"
[ "$slept" -ge 15 ] || fail_with_log "idle: the user scheduler slept in only $slept of 20 looks (parked, not blocked?)"
# RT_PRESSURE_ROUNDS: how many times both phases run (default 1), and
# RT_PRESSURE_TRACE_BEGIN / RT_PRESSURE_TRACE_END: commands run around them
# (reliability_ext_server_trace).
${RT_PRESSURE_TRACE_BEGIN:-:}
for round in $(seq "${RT_PRESSURE_ROUNDS:-1}"); do
	[ "${RT_PRESSURE_ROUNDS:-1}" -eq 1 ] && r= || r="round $round: "
	rt_phase "${r}every CPU held by SCHED_FIFO" "$(seq 0 $((N - 1)))"
	rt_phase "${r}all CPUs but cpu0 held by SCHED_FIFO" "$(seq 1 $((N - 1)))" hackbench -g 2 -l 50
done
${RT_PRESSURE_TRACE_END:-:}

kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
pass
