# --tickless when the CPU the user scheduler waits for is held by a
# realtime task and its only other CPU runs an unbounded slice (a long
# case, in the nohz_full boot: `cargo xtask vm-test
# reliability_tickless_held`; needs 4 CPUs). scx_relay --tickless confined
# to cpu2 and cpu3 (nohz_full), a spinner on cpu3 (an unbounded slice, so
# the CPU is marked and its tick stops), a spinner on cpu0, and the user
# scheduler last on cpu2 (idle until then). The work: a shell on busy cpu0
# that runs `sleep 0.01` RELAY_HELD_SLEEPS times (default 50); each new
# task and each wakeup is handed to the user scheduler. It runs once so,
# then with a SCHED_FIFO spinner on cpu2. A hand-off neither kicks a
# marked CPU nor aims usersched_cpu at one (cpu_preemptible), so the
# tickless check moves usersched_cpu to cpu3 (tickless_usersched_aims;
# aim_waiting_usersched), whose spinner then gives way. The case fails if
# the held run takes more than 30 times the first plus 10 s. In this
# emulator (one host thread runs the 4 vCPUs in turn, three of them
# spinning) each step of a hand-off waits for a vCPU's turn: with the move,
# 4.2-4.3 s then 44-72 s held; without it (308e652) the held run did not
# end within the case's 300 s. The realtime task ends itself after 250 s
# (less if the case's time left is shorter); a held run still going then
# fails the case, whatever the bound (before session 47 that timeout
# never fired: see below). The
# moves and stall counters are noted, not asserted: the user scheduler's
# own confined threads can bring cpu3 to dispatch, and then no move is
# needed (in the ordinary boot both
# versions ran it in 3.4-8.9 s, tickless_usersched_aims +0 or +2), and
# one held run of 20 sleeps had 3 stalls. It fails in about half its
# runs in the nohz_full boot, at a73d660 as after it (2 of 3 and 2 of 5 in
# session 46: the user scheduler ran a few times a second while held and
# was seldom moved); docs/reliability.md. An open gap.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

CASE_T0=$(cut -d' ' -f1 /proc/uptime)
N=$(nproc)
SLEEPS=${RELAY_HELD_SLEEPS:-50}
# `--set held_load=hackbench`: the work is `hackbench -g 2 -l 50` on cpu0
# and cpu1 instead of the sleeps (the load of the case's first version,
# which once ended in a runnable task stall).
LOAD=${RELAY_HELD_LOAD:-sleeps}
case "$LOAD" in
sleeps) WORK="$SLEEPS sleeps on busy cpu0" ;;
hackbench) WORK="hackbench -g 2 -l 50 on cpu0-1" ;;
*) fail "held_load must be sleeps or hackbench, not $LOAD" ;;
esac
[ "$N" -ge 4 ] || fail "needs at least 4 CPUs, found $N"
RT_CPU=2
CPU=3
SPIN=
HOG=
RT=
WORKER=
trap 'kill $SPIN $HOG $RT $WORKER 2>/dev/null' EXIT
trap 'kill $SPIN $HOG $RT $WORKER 2>/dev/null; exit 1' TERM INT
start_relay taskset -c "$RT_CPU,$CPU" -- --tickless --stats 1
taskset -c "$CPU" sh -c 'while :; do :; done' &
SPIN=$!
taskset -c 0 sh -c 'while :; do :; done' &
HOG=$!
# The user scheduler's loop is scx_relay's main thread; field 39: last CPU.
usersched_last_cpu() {
	awk '{ print $39 }' "/proc/$RELAY_PID/task/$RELAY_PID/stat"
}
# run_work <what>: runs the work; sets WORK_CS to its wall time (centiseconds).
# In the background, waited for: the shell runs a trapped signal (the
# runner's TERM at its timeout) only once the foreground command ends, and
# a held run went on 146 and 203 s past the timeout so; `wait` is cut
# short by it.
run_work() {
	t0=$(tr -d . </proc/uptime | cut -d' ' -f1)
	if [ "$LOAD" = hackbench ]; then
		taskset -c 0,1 hackbench -g 2 -l 50 >/dev/null &
	else
		taskset -c 0 sh -c "i=0; while [ \$i -lt $SLEEPS ]; do sleep 0.01; i=\$((i + 1)); done" &
	fi
	WORKER=$!
	wait "$WORKER" || fail_with_log "$1: the work ($WORK) failed"
	WORKER=
	WORK_CS=$(($(tr -d . </proc/uptime | cut -d' ' -f1) - t0))
}
workload_begins
run_work "no realtime task"
free_cs=$WORK_CS
# The same counters for the run without the realtime task: the free run's
# time varies from boot to boot in this emulator (4.2 to 20.9 s for the
# 50 sleeps in one session), and these say what the scheduler did then.
workload_deltas "no realtime task" usersched_runs unbounded_kicks dispatched_user fallback stalls
tries=0
while [ "$(usersched_last_cpu)" != "$RT_CPU" ]; do
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || fail_with_log "the user scheduler stayed off the idle cpu$RT_CPU (last on cpu$(usersched_last_cpu))"
	taskset -c 0 sleep 0.01
	sleep 0.2
done
# The realtime task runs at most 250 s, and no longer than the case's
# time left (RELAY_CASE_TIMEOUT_S) less 60 s (the work's end once cpu2 is
# free, the counters, the report), so that a held run that outlasts it is
# reported here, with its counters, rather than cut off by the runner's
# timeout. Its `timeout` is started outside taskset and chrt: busybox's
# forks a watcher that would inherit SCHED_FIFO and cpu2, and a woken
# realtime task of equal priority does not preempt a running one pinned
# there (kernel/sched/rt.c check_preempt_equal_prio()): until session 47
# the spinner's 250 s never ran out, and a failed run had cpu2 held to
# its end.
elapsed=$(awk -v t0="$CASE_T0" -v t1="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%d", t1 - t0 }')
RT_S=$((${RELAY_CASE_TIMEOUT_S:-300} - elapsed - 60))
[ "$RT_S" -le 250 ] || RT_S=250
[ "$RT_S" -ge 60 ] || fail_with_log "the case has ${RT_S} s left for the held run (the free run and the start took ${elapsed} s)"
# The counters' window opens before the realtime task starts: the first
# move may come at once, for scx_relay's own threads (confined too).
workload_begins
timeout "$RT_S" taskset -c "$RT_CPU" chrt -f 50 sh -c 'while :; do :; done' &
RT=$!
run_work "cpu$RT_CPU held"
held_cs=$WORK_CS
# Whether cpu2 was still held when the work ended (alive: not a zombie).
held_to_end=no
alive "$RT" && held_to_end=yes
kill "$RT" 2>/dev/null
wait "$RT" 2>/dev/null
RT=
# While held, the user scheduler runs where cpu3's spinner gives way (at
# the tickless check, or cpu2's ext server): usersched_runs against
# unbounded_kicks says which; dispatched_user, how many hand-offs the work
# made. Noted before the verdict, so that a failure shows them.
workload_deltas "cpu$RT_CPU held by SCHED_FIFO, cpu$CPU marked" tickless_usersched_aims usersched_runs unbounded_kicks dispatched_user fallback stalls reenqueued
[ "$held_to_end" = yes ] ||
	fail_with_log "cpu$RT_CPU held: the realtime task's $RT_S s ran out before the work ($WORK) ended, ${held_cs}0 ms"
note "$WORK: ${free_cs}0 ms with no realtime task, ${held_cs}0 ms with cpu$RT_CPU held"
[ "$held_cs" -le $((30 * free_cs + 1000)) ] ||
	fail_with_log "cpu$RT_CPU held, cpu$CPU marked: the work ($WORK) took ${held_cs}0 ms, more than 30 x ${free_cs}0 ms + 10 s"
kill "$SPIN" "$HOG" 2>/dev/null
wait "$SPIN" "$HOG" 2>/dev/null
SPIN=
HOG=
stop_relay
pass
