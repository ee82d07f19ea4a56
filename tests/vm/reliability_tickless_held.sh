# --tickless when the CPU the user scheduler waits for is held by a
# realtime task and its only other CPU runs an unbounded slice (a long
# case: `cargo xtask vm-test reliability_tickless_held`; needs 4 CPUs).
# scx_relay --tickless confined to cpu2 and cpu3, a spinner on cpu3 (an
# unbounded slice, so the CPU is marked), a spinner on cpu0, and the user
# scheduler last on cpu2 (idle until then). The work: a shell on cpu0 that
# runs `sleep 0.01` 20 times; cpu0 being busy, each new task and each
# wakeup is handed to the user scheduler. It runs once so, then with a
# SCHED_FIFO spinner on cpu2. A hand-off neither kicks a marked CPU nor
# aims usersched_cpu at one (cpu_preemptible), so the tickless check must
# move usersched_cpu to cpu3 (tickless_usersched_aims up;
# aim_waiting_usersched), whose spinner then gives way. The case fails
# unless the move is made and the held run ends within the case's time;
# both times and the stall counters are noted, not bounded: in this
# emulator (one host thread runs the 4 vCPUs in turn, three of them
# spinning) each step of a hand-off waits for a vCPU's turn. Seen in this
# (ordinary) boot: 2.05 s, then 8.9 s held, no stall. In the nohz_full
# boot of scx_relay_tickless, where a first version ran: with 50 sleeps,
# 5.0 s, then 66 s held (its realtime task ended at 60 s), no stall; with
# 20, 3 stalls (fallback 11) in the held run; without the move (308e652)
# the held run did not end within 300 s.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

N=$(nproc)
[ "$N" -ge 4 ] || fail "needs at least 4 CPUs, found $N"
RT_CPU=2
CPU=3
SPIN=
HOG=
RT=
trap 'kill $SPIN $HOG $RT 2>/dev/null' EXIT
trap 'kill $SPIN $HOG $RT 2>/dev/null; exit 1' TERM INT
start_relay taskset -c "$RT_CPU,$CPU" -- --tickless --stats 1
taskset -c "$CPU" sh -c 'while :; do :; done' &
SPIN=$!
taskset -c 0 sh -c 'while :; do :; done' &
HOG=$!
# The user scheduler's loop is scx_relay's main thread; field 39: last CPU.
usersched_last_cpu() {
	awk '{ print $39 }' "/proc/$RELAY_PID/task/$RELAY_PID/stat"
}
# sleeps <what>: runs the work; sets SLEEPS_CS to its wall time (centiseconds).
sleeps() {
	t0=$(tr -d . </proc/uptime | cut -d' ' -f1)
	taskset -c 0 sh -c 'i=0; while [ $i -lt 20 ]; do sleep 0.01; i=$((i + 1)); done' ||
		fail_with_log "$1: the sleeps on cpu0 failed"
	SLEEPS_CS=$(($(tr -d . </proc/uptime | cut -d' ' -f1) - t0))
}
sleeps "no realtime task"
free_cs=$SLEEPS_CS
tries=0
while [ "$(usersched_last_cpu)" != "$RT_CPU" ]; do
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || fail_with_log "the user scheduler stayed off the idle cpu$RT_CPU (last on cpu$(usersched_last_cpu))"
	taskset -c 0 sleep 0.01
	sleep 0.2
done
# The counters' window opens before the realtime task starts: the first
# move may come at once, for scx_relay's own threads (confined too).
workload_begins
taskset -c "$RT_CPU" chrt -f 50 timeout 250 sh -c 'while :; do :; done' &
RT=$!
sleeps "cpu$RT_CPU held"
held_cs=$SLEEPS_CS
kill "$RT" 2>/dev/null
wait "$RT" 2>/dev/null
RT=
workload_deltas "cpu$RT_CPU held by SCHED_FIFO, cpu$CPU marked" tickless_usersched_aims usersched_runs unbounded_kicks dispatched_user fallback stalls reenqueued
note "20 sleeps on busy cpu0: ${free_cs}0 ms with no realtime task, ${held_cs}0 ms with cpu$RT_CPU held"
[ "$DELTA_tickless_usersched_aims" -gt 0 ] ||
	fail_with_log "cpu$RT_CPU held, cpu$CPU marked: the tickless check never moved the user scheduler's CPU"
kill "$SPIN" "$HOG" 2>/dev/null
wait "$SPIN" "$HOG" 2>/dev/null
SPIN=
HOG=
stop_relay
pass
