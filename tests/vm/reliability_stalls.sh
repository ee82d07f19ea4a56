# Stalls of the user scheduler under load (stress-ng hogs, forks, pipes and
# hackbench): SIGSTOP for 30 s (six times the kernel's 5 s watchdog), then
# SIGSTOP/SIGCONT every second for 30 s. The dispatcher's stall fallback
# must keep everything running: sched_ext stays enabled (checked every
# second), no ejection or stall message, the fallback counter grows,
# workloads started during the stops complete (counted), user-space
# dispatches resume afterwards, and scx_relay exits 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
STOP_S=${RELAY_STOP_SECONDS:-30}
FLAP_S=${RELAY_FLAP_SECONDS:-30}
start_relay -- --stats 1
stress-ng -t $((STOP_S + FLAP_S + 20)) -c "$N" -f 2 --pipe 2 >/dev/null 2>&1 &
LOAD=$!
sleep 3

# enabled_for <seconds> <what>: check every second that sched_ext stays enabled.
enabled_for() {
	s=0
	while [ "$s" -lt "$1" ]; do
		state=$(cat $SCX/state)
		[ "$state" = enabled ] || {
			kill -CONT "$RELAY_PID"
			fail_with_log "state is '$state' ${s}s into $2"
		}
		sleep 1
		s=$((s + 1))
	done
}

# Part 1: one long stop.
user_before=$(stat_of dispatched_user)
# How late a briefly sleeping task wakes during the stop (a note: a slow
# fallback and a frozen guest look different).
gap_probe "$STOP_S" 10 >/tmp/relay-gaps 2>&1 &
GAP_PID=$!
kill -STOP "$RELAY_PID"
note "stopped for ${STOP_S}s (user dispatches so far: $user_before)"
counted stop1 hackbench -g 2 -l 50
counted stop1 stress-ng -t 5 -c 2 -f 1
enabled_for "$STOP_S" "the ${STOP_S}s stop"
wait_done 2 60 stop1 || { kill -CONT "$RELAY_PID"; fail_with_log "only $(done_count stop1) of 2 workloads completed during the stop"; }
kill -CONT "$RELAY_PID"
wait "$GAP_PID"
note "during the stop: $(cat /tmp/relay-gaps)"
sleep 3
fallback1=$(stat_of fallback)
user1=$(stat_of dispatched_user)
counted after1 hackbench -g 2 -l 50
sleep 3
user1b=$(stat_of dispatched_user)
note "after the stop: fallback $fallback1, user dispatches $user1 -> $user1b"
[ "${fallback1:-0}" -gt 0 ] || fail_with_log "no fallback dispatches during the stop"
[ "${user1b:-0}" -gt "${user1:-0}" ] || fail_with_log "user dispatches did not resume after the stop ($user1 -> $user1b)"

# Part 2: stop and continue every second.
flips=0
i=0
while [ "$i" -lt "$FLAP_S" ]; do
	kill -STOP "$RELAY_PID"
	[ $((i % 5)) -eq 0 ] && counted flap hackbench -g 1 -l 20
	sleep 0.5
	[ "$(cat $SCX/state)" = enabled ] || { kill -CONT "$RELAY_PID"; fail_with_log "state is '$(cat $SCX/state)' ${i}s into the stop/continue loop"; }
	kill -CONT "$RELAY_PID"
	sleep 0.5
	flips=$((flips + 1))
	i=$((i + 1))
done
expected=$(((FLAP_S + 4) / 5))
wait_done "$expected" 60 flap || fail_with_log "only $(done_count flap) of $expected workloads started in the loop completed"
sleep 2
user2=$(stat_of dispatched_user)
counted after2 hackbench -g 2 -l 50
sleep 3
user2b=$(stat_of dispatched_user)
note "after $flips stop/continue cycles: fallback $(stat_of fallback), stalls $(stat_of stalls), user dispatches $user2 -> $user2b; $(done_count) workloads completed"
[ "${user2b:-0}" -gt "${user2:-0}" ] || fail_with_log "user dispatches did not resume after the loop ($user2 -> $user2b)"
wait_done 1 60 after1 && wait_done 1 60 after2 || fail_with_log "a workload started after the stops did not complete"
wait "$LOAD" || fail_with_log "stress-ng exited with status $? across the stops"
fail_if_ejected "SIGSTOP"
stop_relay
pass
