# Real-kernel test 4: SIGKILL scx_relay under load. The kernel must revert
# to the fair class by itself (state disabled within 10 s), and a workload
# started afterwards must complete.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

N=$(nproc)
start_relay -- --stats 1
stress-ng -t 20 -c "$N" -f "$N" >/dev/null 2>&1 &
LOAD=$!
sleep 3
kill -KILL "$RELAY_PID"
took=$(wait_state disabled 10) || fail_with_log "state is '$(cat $SCX/state)' 10 s after SIGKILL, expected disabled"
note "disabled ${took}s after SIGKILL"
wait "$LOAD"
check "hackbench after SIGKILL" hackbench -g 2 -l 100
dmesg | grep 'sched_ext:' | tail -n 5
pass
