# Real-kernel test: while scx_relay schedules, its scx_stats server answers
# on the standard socket (/var/run/scx/root/stats): `scx_relay --monitor 1`,
# from another process, prints the totals (one `scx_relay totals:` line),
# then stats lines of what moved each second, whose `queued` counts add up
# to more than 0 under a workload, and exits 0 on SIGINT; scx_relay itself
# printed no "stats server" warning. After scx_relay exits, `--monitor 1`
# finds nothing to read: one line, exit 1. (This case reads --monitor's
# text on purpose: that text is what it tests.) `scx_relay ctl status`
# answers the totals as JSON.
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
totals=$(grep -c '^scx_relay totals: queued [0-9]' "$MON_LOG")
lines=$(grep -c '^scx_relay stats: last [0-9.]* s: queued [0-9]' "$MON_LOG")
queued=$(grep '^scx_relay stats: last' "$MON_LOG" | awk '{ for (i = 1; i < NF; i++) if ($i == "queued") n += $(i + 1) } END { print n + 0 }')
note "--monitor 1: exit $mon_status, $totals totals line, $lines interval lines, queued $queued in them"
[ "$mon_status" -eq 0 ] || { cat "$MON_LOG"; fail_with_log "--monitor exited $mon_status on SIGINT"; }
[ "$totals" -eq 1 ] || { cat "$MON_LOG"; fail_with_log "--monitor printed $totals totals lines, expected 1 (its first)"; }
[ "$lines" -ge 2 ] || { cat "$MON_LOG"; fail_with_log "--monitor printed $lines stats lines in about 4 s"; }
[ "$queued" -gt 0 ] || { cat "$MON_LOG"; fail_with_log "nothing queued in the intervals under hackbench"; }
grep -q 'stats server' "$RELAY_LOG" && fail_with_log "scx_relay warned about its stats server"
# The same totals as JSON from `scx_relay ctl status`.
fresh_stats
queued=$(counter "$FRESH_STATS" queued)
note "ctl status: $FRESH_STATS"
[ "${queued:-0}" -gt 0 ] || fail_with_log "ctl status: queued is '$queued', expected > 0"
stop_relay
out=$(scx_relay --monitor 1 2>&1)
status=$?
note "--monitor 1 after the exit: exit $status: $out"
[ "$status" -eq 1 ] || fail "--monitor 1 with no scheduler exited $status, expected 1"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "--monitor 1 with no scheduler printed more than one line"
pass
