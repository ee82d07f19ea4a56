# Real-kernel test 3: SIGSTOP scx_relay for 10 s under load (twice the
# kernel's 5 s watchdog), then SIGCONT, with the largest stall timeout
# scx_relay accepts (the worst case its range is derived from). The
# dispatcher's stall fallback must keep every task running: sched_ext stays
# enabled, the fallback counter grows, user-space dispatches resume
# afterwards, and scx_relay exits 0.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

N=$(nproc)
# The accepted range, as scx_relay states it when refusing a value outside it.
refusal=$(scx_relay --stall-timeout-ms 0 2>&1)
max_stall=$(printf '%s\n' "$refusal" | sed -n 's/.*out of range (1\.\.=\([0-9][0-9]*\).*/\1/p')
[ -n "$max_stall" ] || fail "no accepted range in scx_relay's refusal of --stall-timeout-ms 0: $refusal"
note "largest accepted --stall-timeout-ms: $max_stall"
start_relay -- --stats 1 --stall-timeout-ms "$max_stall"
stress-ng -t 30 -c "$N" -f "$N" --sched-period 1 >/dev/null 2>&1 &
LOAD=$!
hackbench -g 2 -l 100000 >/dev/null 2>&1 &
HB=$!
sleep 4
user_before=$(stat_of dispatched_user)
note "before SIGSTOP: user dispatches $user_before"
kill -STOP "$RELAY_PID"
sleep 10
state=$(cat $SCX/state)
kill -CONT "$RELAY_PID"
[ "$state" = enabled ] || fail_with_log "state was '$state' after 10 s of SIGSTOP, expected enabled"
sleep 2
user_stopped=$(stat_of dispatched_user)
fallback=$(stat_of fallback)
sleep 4
user_after=$(stat_of dispatched_user)
note "after SIGCONT: user dispatches $user_stopped -> $user_after, fallback $fallback"
kill "$HB" 2>/dev/null
wait "$LOAD"
kill -INT "$RELAY_PID"
wait_relay
show_relay
[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS"
[ "${fallback:-0}" -gt 0 ] || fail_with_log "no fallback dispatches during the stop (fallback=$fallback)"
[ "${user_after:-0}" -gt "${user_stopped:-0}" ] || fail_with_log "user dispatches did not resume ($user_stopped -> $user_after)"
pass
