# Real-kernel test 1, fifo policy: scx_relay loads (state enabled, root/ops
# names it), schedules upstream's stress recipe under a 45 s timeout, and
# exits 0 on the timeout's SIGTERM with user-space dispatches > 0.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

POLICY=fifo
N=$(nproc)
# busybox timeout execs the program itself, so its exit status is
# scx_relay's own (what GNU timeout --preserve-status gives).
start_relay timeout -s TERM 45 -- --policy $POLICY --stats 5
check "stress-ng recipe" stress-ng -t 31 --aggressive -M -c "$N" -f "$N" --affinity 1 --affinity-delay 1 --affinity-pin
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
user=$(stat_of user)
[ "${user:-0}" -gt 0 ] || fail_with_log "no user-space dispatches (user=$user)"
note "user dispatches: $user"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after scx_relay exited"
pass
