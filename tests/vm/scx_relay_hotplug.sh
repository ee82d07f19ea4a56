# CPU hotplug: the dispatcher handles ops.cpu_offline/cpu_online, so the
# kernel keeps it loaded. A CPU goes offline with a task pinned to it and
# one running on it, then comes back; across both changes scx_relay stays
# the enabled root scheduler (no restart, no "disabled" line of any kind),
# counts both changes, schedules hackbench through user space with the CPU
# offline and again with it back, and still exits 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

LAST=$(($(nproc) - 1))
CPU=/sys/devices/system/cpu/cpu$LAST/online
[ -w "$CPU" ] || fail "$CPU is not writable: no CPU hotplug here"

start_relay -- --stats 1
# Busy on the CPU that goes: four CPU hogs pinned to it (one runs, the
# others wait in its queues, which only it drains: the dispatcher must move
# them where the CPU going down still runs them, or the change never
# returns; their masks are broken once they are pushed off, "no longer
# affine"), one pinned task that sleeps, one free to move.
for i in 1 2 3 4; do
	counted hog taskset -c "$LAST" sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done'
done
counted pinned taskset -c "$LAST" sh /relay/lib/busy.sh 6
counted free sh /relay/lib/busy.sh 6
sleep 1
t0=$(cut -d' ' -f1 /proc/uptime)
set_cpu_online "$LAST" 0
note "cpu$LAST offline after $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }") s"
changes_reach 1
still_in_charge "cpu$LAST offline"
workload_begins
check "hackbench with cpu$LAST offline" hackbench -g 2 -l 100
workload_ended "hackbench with cpu$LAST offline"
t0=$(cut -d' ' -f1 /proc/uptime)
set_cpu_online "$LAST" 1
note "cpu$LAST online after $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }") s"
changes_reach 2
still_in_charge "cpu$LAST back"
workload_begins
check "hackbench with cpu$LAST back" hackbench -g 2 -l 100
workload_ended "hackbench with cpu$LAST back"
wait_done 6 120 || true
[ "$(done_count hog)" = 4 ] || fail_with_log "$(done_count hog) of the 4 hogs pinned to cpu$LAST completed"
[ "$(done_count pinned)" = 1 ] || fail_with_log "the task pinned to cpu$LAST did not complete"
[ "$(done_count free)" = 1 ] || fail_with_log "the task free to move did not complete"
note "hotplug moves $(stat_of moves)"
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
pass
