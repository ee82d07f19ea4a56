# CPU hotplug: the dispatcher has no cpu_online/offline callbacks, so the
# kernel unloads it asking for a restart; scx_relay must come back on its
# own (state enabled again, with itself as the root scheduler) after a CPU
# goes offline and again after it comes back, and still exit 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

CPU=/sys/devices/system/cpu/cpu$(($(nproc) - 1))/online
[ -w "$CPU" ] || fail "$CPU is not writable: no CPU hotplug here"

# wait_restarts <n>: wait until scx_relay printed <n> restart lines and
# sched_ext is enabled again.
wait_restarts() {
	i=0
	while [ "$(grep -c 'scx_relay: restarting' "$RELAY_LOG")" -lt "$1" ]; do
		i=$((i + 1))
		[ "$i" -le 300 ] || fail_with_log "no restart $1 within 60 s"
		kill -0 "$RELAY_PID" 2>/dev/null || fail_with_log "scx_relay exited instead of restarting"
		sleep 0.2
	done
	took=$(wait_state enabled 60 "$RELAY_PID") || fail_with_log "not enabled again after restart $1"
	note "restart $1: enabled again after ${took}s as $(cat $SCX/root/ops)"
}

start_relay -- --stats 1
echo 0 >"$CPU" || fail "cannot offline $CPU"
wait_restarts 1
check "hackbench with a CPU offline" hackbench -g 2 -l 100
echo 1 >"$CPU" || fail "cannot online $CPU"
wait_restarts 2
check "hackbench with the CPU back" hackbench -g 2 -l 100
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
pass
