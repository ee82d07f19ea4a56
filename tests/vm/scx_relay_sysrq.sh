# sysrq-S, an administrator's off switch: the kernel unloads the BPF
# scheduler. scx_relay must report the kernel's reason and exit 3 (its own
# status, which the systemd unit does not restart after), and the machine
# must go on with the fair class.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

[ -w /proc/sysrq-trigger ] || fail "/proc/sysrq-trigger is not writable"
start_relay -- --stats 1
echo S >/proc/sysrq-trigger
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 3 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS after sysrq-S, expected 3"
grep -q 'scx_relay: turned off by the administrator: .*sysrq' "$RELAY_LOG" || fail_with_log "the kernel's reason was not printed"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after the ejection"
check "hackbench after the ejection" hackbench -g 2 -l 100
pass
