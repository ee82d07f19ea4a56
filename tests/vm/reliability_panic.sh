# A policy that panics: `panic` panics after 2000 decisions under load.
# scx_relay must contain the panic, unregister through its normal path,
# print the panic's message and exit 101; the kernel must be back on the
# fair class (state disabled), never report an ejection or stall, and the
# workload running across the panic must complete.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

N=$(nproc)
start_relay -- --allow-test-policies --policy panic --stats 1
counted load stress-ng -t 20 -c "$N" -f 2 --pipe 2
t0=$(cut -d' ' -f1 /proc/uptime)
wait_relay
note "scx_relay exited with status $RELAY_STATUS after $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }")s"
show_relay
[ "$RELAY_STATUS" -eq 101 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS, expected 101"
grep -q 'scx_relay: the policy panicked: panic test policy: deliberate panic after 2000 decisions' "$RELAY_LOG" ||
	fail_with_log "the panic message was not printed"
grep -q 'panicked at' "$RELAY_LOG" && fail_with_log "the default panic report (multi-line) was printed"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' 60 s after the panic"
note "disabled ${took}s after the exit"
dmesg_since | grep 'sched_ext:'
dmesg_since | grep 'sched_ext:' | grep -q 'disabled (unregistered from user space)' ||
	fail_with_log "the kernel did not see a clean unregistration"
fail_if_ejected "after the panic"
wait_done 1 60 load || fail_with_log "the workload running across the panic did not complete"
check "hackbench after the panic" hackbench -g 2 -l 100
pass
