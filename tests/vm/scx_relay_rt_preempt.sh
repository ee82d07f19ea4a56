# A realtime task takes a CPU from our tasks: what waited in that CPU's
# local DSQ (above all the task it preempted, which the kernel puts back at
# the head of that DSQ without calling ops.enqueue) is given back and runs
# on the other CPUs (relay_sched_switch -> SCX_ENQ_REENQ -> reenqueued()).
#
# How: N+1 ordinary CPU hogs (N CPUs) under scx_relay; then a SCHED_FIFO
# hog holds cpu0 for 3 s, with cpu0's ext deadline server and RT throttling
# off, so that nothing of ours runs on cpu0 meanwhile (with the server on,
# a task left there would run 50 ms a second, after a deferral). 3 s: the
# per-CPU kernel threads of cpu0 wait too, and the watchdog allows 5.
# Twice per policy, for each policy in RELAY_RT_PREEMPT_POLICIES (default
# "deadline local": `local` sends tasks back to the CPU they ran on).
# Passes when every hog got at least a fifth of a CPU during each 3 s (N-1
# CPUs for N+1 hogs: about (N-1)/(N+1) each), scx_relay was not ejected,
# and it exits 0 on SIGINT. (`reenqueued` is printed, not required: the
# case's own SCHED_FIFO shell takes CPUs from our tasks too.) Before the
# re-enqueue (one boot, the re-enqueue turned off, one hold per policy):
# under `local` one hog got 2 ticks of the 3 s; under `deadline` every hog
# ran, in that boot and in one other: cpu0 was running something else than
# a hog when it was taken, so nothing of ours was stuck there.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
HOLD=3
ES=/sys/kernel/debug/sched/ext_server/cpu0/runtime
RT=/proc/sys/kernel/sched_rt_runtime_us
[ "$N" -ge 3 ] || fail "needs 3 CPUs, the guest has $N"
[ -w "$ES" ] || fail "no $ES: cannot turn cpu0's ext server off"
chrt -f -p 90 $$ >/dev/null || fail "cannot make the case SCHED_FIFO"
es_saved=$(cat "$ES")
rt_saved=$(cat "$RT")
hogs=
rt_hog=
restore() {
	echo "$es_saved" >"$ES"
	echo "$rt_saved" >"$RT"
	# shellcheck disable=SC2086
	[ -z "$rt_hog$hogs" ] || kill -KILL $rt_hog $hogs 2>/dev/null
}
trap restore EXIT
trap 'restore; exit 1' TERM INT

# cpu_ticks <pid>: CPU time the process used so far (utime + stime, ticks).
cpu_ticks() {
	s=$(cat "/proc/$1/stat")
	set -- ${s##*)}
	echo $((${12} + ${13}))
}

# held_round <policy>: the hogs, cpu0 taken from them for HOLD seconds,
# each hog's CPU time meanwhile.
# hold_cpu0 <what>: a SCHED_FIFO hog holds cpu0 for HOLD seconds (its ext
# server and RT throttling off meanwhile); fails unless every hog got a
# fifth of a CPU in that time.
hold_cpu0() {
	workload_begins
	echo 0 >"$ES" || fail_with_log "cannot write 0 to $ES"
	echo -1 >"$RT" || fail_with_log "cannot write -1 to $RT"
	before=
	for p in $hogs; do before="$before $(cpu_ticks "$p")"; done
	taskset -c 0 chrt -f 50 sh -c 'while :; do :; done' &
	rt_hog=$!
	rt_before=$(cpu_ticks "$rt_hog")
	sleep "$HOLD"
	after=
	for p in $hogs; do after="$after $(cpu_ticks "$p")"; done
	rt_after=$(cpu_ticks "$rt_hog")
	kill -KILL "$rt_hog"
	wait "$rt_hog" 2>/dev/null
	rt_hog=
	echo "$es_saved" >"$ES"
	echo "$rt_saved" >"$RT"
	note "$1: the SCHED_FIFO hog ran $((rt_after - rt_before)) ticks on cpu0"
	workload_deltas "$1: cpu0 held for ${HOLD}s" reenqueued dispatched_user dispatched_kernel aged fallback rescued stalls
	got=$(echo "$before" "$after" | awk -v n=$((N + 1)) '{
		for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), $(n + i) - $i }')
	note "$1: CPU ticks (1/100 s) of each hog while cpu0 was held: $got"
	least=$(echo "$got" | tr ' ' '\n' | sort -n | head -n 1)
	fail_if_ejected "$1: cpu0 held"
	# A fifth of a CPU for HOLD seconds, in 1/100 s ticks.
	[ "$least" -ge $((HOLD * 100 / 5)) ] ||
		fail_with_log "$1: a hog got $least ticks in ${HOLD}s while cpu0 was held (want >= $((HOLD * 100 / 5)))"
}

# held_round <policy>: the hogs under scx_relay running <policy>, cpu0
# taken from them twice (which task cpu0 runs at that moment varies: the
# user scheduler or a short task instead of a hog leaves nothing stuck).
held_round() {
	# shellcheck disable=SC2046
	start_relay chrt -o 0 -- $(policy_args "$1") --stats 1
	hogs=
	for _ in $(seq $((N + 1))); do
		chrt -o 0 sh -c 'while :; do :; done' &
		hogs="$hogs $!"
	done
	sleep 1.5
	for hold in 1 2; do
		hold_cpu0 "$1, hold $hold"
		sleep 0.5
	done
	# shellcheck disable=SC2086
	kill -KILL $hogs
	for p in $hogs; do wait "$p" 2>/dev/null; done
	hogs=
	stop_relay
}

for policy in ${RELAY_RT_PREEMPT_POLICIES:-deadline local}; do
	held_round "$policy"
done
pass
