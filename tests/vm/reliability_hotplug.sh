# CPU hotplug under load, repeatedly: for RELAY_HOTPLUG_SECONDS (default 30)
# CPUs 1..N-1 go offline and back online in turn under stress-ng, with
# workers pinned (taskset) to every CPU, one of them started on each CPU
# just before it goes offline. The dispatcher handles ops.cpu_offline and
# ops.cpu_online, so the kernel keeps it loaded: every change must return
# within 30 s (a task left where nobody runs it would hang the CPU's
# removal), be counted by the dispatcher, and leave scx_relay the enabled
# root scheduler (no restart, no "disabled" line of any kind); afterwards
# it keeps scheduling (user dispatches grow), and every pinned worker
# completes, those stranded on an offlined CPU included.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
[ "$N" -ge 2 ] || fail "needs at least 2 CPUs for hotplug, found $N"
secs=${RELAY_HOTPLUG_SECONDS:-30}
CPUS=/sys/devices/system/cpu
for cpu in $(seq 1 $((N - 1))); do
	[ -w "$CPUS/cpu$cpu/online" ] || fail "$CPUS/cpu$cpu/online is not writable: no CPU hotplug here"
done

# change <cpu> <0|1>: one CPU change, checked.
changes=0
change() {
	t0=$(cut -d' ' -f1 /proc/uptime)
	set_cpu_online "$1" "$2"
	changes=$((changes + 1))
	took=$(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }")
	awk "BEGIN { exit !($took > $slowest) }" && slowest=$took
	changes_reach "$changes"
	still_in_charge "cpu$1 online=$2 (change $changes)"
}
slowest=0

start_relay -- --stats 1
stress-ng -t $((secs + 10)) -c "$N" -f 2 --pipe 1 >/dev/null 2>&1 &
LOAD=$!
workers=0
for cpu in $(seq 0 $((N - 1))); do
	counted pinned taskset -c "$cpu" sh /relay/lib/busy.sh $((secs / 2))
	workers=$((workers + 1))
done

hp_t0=$(cut -d. -f1 /proc/uptime)
while [ $(($(cut -d. -f1 /proc/uptime) - hp_t0)) -lt "$secs" ]; do
	for cpu in $(seq 1 $((N - 1))); do
		# A worker on this CPU when it goes: the kernel must move it.
		counted pinned taskset -c "$cpu" sh /relay/lib/busy.sh 3
		workers=$((workers + 1))
		sleep 0.5
		change "$cpu" 0
		change "$cpu" 1
	done
done
note "$changes CPU changes in $(($(cut -d. -f1 /proc/uptime) - hp_t0)) s, the slowest took ${slowest}s; hotplug moves $(stat_of moves)"
# Dispatches after the changes: with every CPU busy (a hog per CPU) the
# hackbench wakeups cannot take the idle-CPU fast path, so they must go
# through user space; wait for two stats intervals after it.
user_before=$(stat_of user)
stress-ng -t 8 -c "$N" >/dev/null 2>&1 &
HOGS=$!
counted after hackbench -g 2 -l 200
sleep 5
wait "$HOGS"
sleep 2
user_after=$(stat_of user)
note "user dispatches $user_before -> $user_after after $changes CPU changes"
[ "${user_after:-0}" -gt "${user_before:-0}" ] || fail_with_log "no user dispatches after the CPU changes ($user_before -> $user_after)"
wait "$LOAD" || fail_with_log "stress-ng exited with status $? across the CPU changes"
wait_done 1 60 after || fail_with_log "hackbench after the CPU changes did not complete"
wait_done "$workers" 120 pinned || fail_with_log "only $(done_count pinned) of $workers pinned workers completed"
note "all $workers pinned workers completed"
dmesg_since | grep 'sched_ext:' | sed 's/^\[[^]]*\] //' | sort | uniq -c | sort -rn | head -n 8
still_in_charge "after $changes CPU changes"
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after scx_relay exited"
pass
