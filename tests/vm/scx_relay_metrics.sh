# Real-kernel test: while scx_relay schedules, its scx_stats server answers
# on the standard socket (/var/run/scx/root/stats): `scx_relay --monitor 1`,
# from another process, prints stats lines whose `queued` count grows
# under a workload, and exits 0 on SIGINT; scx_relay itself printed no
# "stats server" warning. After scx_relay exits, `--monitor 1` finds
# nothing to read: one line, exit 1.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

SOCK=/var/run/scx/root/stats
MON_LOG=/tmp/monitor.log
start_relay -- --policy deadline
i=0
until [ -S "$SOCK" ]; do
	i=$((i + 1))
	[ "$i" -le 50 ] || fail_with_log "no stats socket at $SOCK within 10 s"
	sleep 0.2
done
scx_relay --monitor 1 >"$MON_LOG" 2>&1 &
MON=$!
hackbench -g 2 -l 100 >/dev/null 2>&1
sleep 3
kill -INT "$MON"
wait "$MON"
mon_status=$?
lines=$(grep -c 'scx_relay stats: queued' "$MON_LOG")
first=$(grep 'scx_relay stats: queued' "$MON_LOG" | head -n 1 | awk '{ print $4 }')
last=$(grep 'scx_relay stats: queued' "$MON_LOG" | tail -n 1 | awk '{ print $4 }')
note "--monitor 1: exit $mon_status, $lines lines, queued $first -> $last"
[ "$mon_status" -eq 0 ] || { cat "$MON_LOG"; fail_with_log "--monitor exited $mon_status on SIGINT"; }
[ "$lines" -ge 2 ] || { cat "$MON_LOG"; fail_with_log "--monitor printed $lines stats lines in about 4 s"; }
[ "${last:-0}" -gt "${first:-0}" ] || { cat "$MON_LOG"; fail_with_log "queued did not grow ($first -> $last) under hackbench"; }
grep -q 'stats server' "$RELAY_LOG" && fail_with_log "scx_relay warned about its stats server"
stop_relay
out=$(scx_relay --monitor 1 2>&1)
status=$?
note "--monitor 1 after the exit: exit $status: $out"
[ "$status" -eq 1 ] || fail "--monitor 1 with no scheduler exited $status, expected 1"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "--monitor 1 with no scheduler printed more than one line"
pass
