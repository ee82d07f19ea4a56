# Real-kernel test 2: hackbench completes under scx_relay (user dispatches
# go up while it runs, no safety net fires), which then unloads cleanly on
# SIGINT (exit 0).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

start_relay -- --stats 1
workload_begins
check "hackbench -g 4 -l 200" hackbench -g 4 -l 200
workload_ended hackbench
stop_relay
note "disabled ${TOOK}s after exit"
pass
