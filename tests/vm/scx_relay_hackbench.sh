# Real-kernel test 2: hackbench completes under scx_relay (user dispatches
# go up while it runs, no safety net fires), which then unloads cleanly on
# SIGINT (exit 0).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

start_relay -- --stats 1
workload_begins
check "hackbench -g 4 -l 200" hackbench -g 4 -l 200
workload_ended hackbench
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS after SIGINT"
took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' 60 s after scx_relay exited"
note "disabled ${took}s after exit"
pass
