# Hand-offs the kernel takes back: a task that waits in user space for a
# decision and is re-pinned meanwhile (sched_setaffinity dequeues it and
# enqueues it again; waiting 1 s already, it is then run by the kernel side
# as overdue). The decision that comes later must be stale: the kernel
# would drop its insert, the task having moved on (before, the dispatcher
# claimed it anyway, counted it a user dispatch, and kept a pending entry
# for a task it no longer held).
#
# How the wait is made: K sleepers pinned to cpu0 are stopped (SIGSTOP);
# cpu0 is held by a SCHED_FIFO hog, with its ext deadline server and RT
# throttling off for the moment (else the server would run the sleepers
# through keep_ext_server); scx_relay is stopped (SIGSTOP) and the
# sleepers continued (SIGCONT): each wakeup is handed to the stopped user
# side. 1.2 s later they are re-pinned to cpu2, then scx_relay continued,
# before its 2 s stall timeout. A realtime driver on cpu1 keeps the time.
# Passes when voided and stale each went up by at least K, scx_relay was
# not ejected, and it exits 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

K=4
ES=/sys/kernel/debug/sched/ext_server/cpu0/runtime
RT=/proc/sys/kernel/sched_rt_runtime_us
[ "$(nproc)" -ge 3 ] || fail "needs 3 CPUs, the guest has $(nproc)"
[ -w "$ES" ] || fail "no $ES: cannot turn cpu0's ext server off"
# Whatever happens, the knobs come back and nothing is left stopped.
es_saved=$(cat "$ES")
rt_saved=$(cat "$RT")
sleepers=
restore() {
	echo "$es_saved" >"$ES"
	echo "$rt_saved" >"$RT"
	[ -n "$RELAY_PID" ] && kill -CONT "$RELAY_PID" 2>/dev/null
	[ -n "$sleepers" ] && kill -KILL $sleepers 2>/dev/null
}
trap restore EXIT
trap 'restore; exit 1' TERM INT
start_relay -- --stats 1 --stall-timeout-ms 2000
for n in $(seq "$K"); do
	taskset -c 0 sleep 1000 &
	sleepers="$sleepers $!"
done
sleep 1
kill -STOP $sleepers
for p in $sleepers; do
	waited=0
	until [ "$(awk '{ print $3 }' /proc/$p/stat)" = T ]; do
		waited=$((waited + 1))
		[ "$waited" -le 50 ] || fail_with_log "sleeper $p not stopped after 5 s"
		sleep 0.1
	done
done
workload_begins
echo 0 >"$ES" || fail_with_log "cannot write 0 to $ES"
echo -1 >"$RT" || fail_with_log "cannot write -1 to $RT"
# The driver: a realtime task on cpu1, so that it keeps time while
# scx_relay is stopped; it waits until scx_relay's loop thread is stopped
# (SIGSTOP acts when the thread next leaves the kernel) before waking the
# sleepers, and gives up (status 3) after 2 s.
chrt -f 90 taskset -c 1 sh -c "
	chrt -f 50 taskset -c 0 sh -c 'while :; do :; done' &
	hog=\$!
	sleep 0.2
	kill -STOP $RELAY_PID
	n=0
	until [ \"\$(awk '{ print \$3 }' /proc/$RELAY_PID/stat)\" = T ]; do
		n=\$((n + 1))
		[ \$n -le 200 ] || { kill \$hog; kill -CONT $RELAY_PID; exit 3; }
		sleep 0.01
	done
	kill -CONT $sleepers
	sleep 1.2
	for p in $sleepers; do taskset -p -c 2 \$p >/dev/null; done
	kill \$hog
	kill -CONT $RELAY_PID
"
driver=$?
echo "$es_saved" >"$ES"
echo "$rt_saved" >"$RT"
[ "$driver" -eq 0 ] || fail_with_log "the driver failed (status $driver; 3: scx_relay not stopped within 2 s)"
sleep 3
fail_if_ejected "with hand-offs taken back"
workload_deltas "$K sleepers re-pinned while handed off" queued voided dispatched_user stale overdue fallback rescued stalls
[ "$DELTA_stale" -ge "$K" ] || fail_with_log "stale +$DELTA_stale, expected at least $K (the late decisions)"
[ "$DELTA_voided" -ge "$K" ] || fail_with_log "voided +$DELTA_voided, expected at least $K"
kill -KILL $sleepers
sleepers=
stop_relay
pass
