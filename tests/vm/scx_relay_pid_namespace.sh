# scx_relay in a pid namespace of its own, as in a container (`unshare -p -f
# --mount-proc`): there it is pid 1, while the kernel's pid 1 is init. The
# dispatcher must know the scheduling thread by the id the kernel gives it.
# Before it did (it was told getpid()), init was taken for the user
# scheduler and scx_relay's own loop was queued to itself like any task.
# A hackbench must be scheduled by scx_relay (user dispatches grow, no safety
# net fires), and scx_relay must exit 0 on SIGINT.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

start_relay unshare -p -f --mount-proc -- --stats 1
# RELAY_PID is unshare's; scx_relay is its child (pid 1 inside).
inner=$(awk -v p="$RELAY_PID" '$4 == p { print $1 }' /proc/[0-9]*/stat 2>/dev/null | head -n 1)
[ -n "$inner" ] || fail_with_log "no child of unshare ($RELAY_PID) found"
ns_pid=$(awk '/^NSpid:/ { print $NF }' "/proc/$inner/status")
note "scx_relay is pid $inner, $ns_pid in its namespace"
[ "$ns_pid" = 1 ] || fail_with_log "scx_relay is pid $ns_pid in its namespace, expected 1"
workload_begins
check "hackbench -g 2 -l 200" hackbench -g 2 -l 200
workload_ended hackbench
stop_relay "$inner"
pass
