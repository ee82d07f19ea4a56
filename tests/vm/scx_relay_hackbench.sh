# Real-kernel test 2: hackbench completes under scx_relay, which then
# unloads cleanly on SIGINT (exit 0).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

start_relay -- --stats 2
check "hackbench -g 4 -l 200" hackbench -g 4 -l 200
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS after SIGINT"
[ "$(stat_of user)" -gt 0 ] || fail_with_log "no user-space dispatches"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' 60 s after scx_relay exited"
note "disabled ${took}s after exit"
pass
