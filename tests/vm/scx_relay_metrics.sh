# Real-kernel test: while scx_relay schedules, its scx_stats server answers
# on the standard socket (/var/run/scx/root/stats): `scx_relay --monitor 1`,
# from another process, prints the totals (one `scx_relay totals:` line),
# then stats lines of what moved each second, whose `queued` counts add up
# to more than 0 under a workload, and exits 0 on SIGINT; scx_relay itself
# printed no "stats server" warning. After scx_relay exits, `--monitor 1`
# finds nothing to read: one line, exit 1. (This case reads --monitor's
# text on purpose: that text is what it tests.) `scx_relay ctl status`
# answers the totals as JSON, without BPF program counts while the kernel
# does not count them. Then with --bpf-stats: ctl status's bpf_programs
# show relay_enqueue and relay_dispatch running, with run time, during a
# hackbench (read before and after it), although the sysctl
# kernel.bpf_stats_enabled stays 0 (the statistics are held on by
# scx_relay's own BPF_ENABLE_STATS descriptor); the session's end prints the
# table; and after the exit the statistics are off again (the kernel counts
# no run of the next session's programs, without the option).
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
[ "$(cat /proc/sys/kernel/bpf_stats_enabled)" = 0 ] || fail "kernel.bpf_stats_enabled is on before any --bpf-stats"
printf '%s\n' "$FRESH_STATS" | grep -q '"bpf_programs"' &&
	fail_with_log "ctl status shows BPF program counts while the kernel does not count: $FRESH_STATS"
stop_relay

# bpf_value <status> <program> <field>: a BPF program's count in a status.
bpf_value() { printf '%s\n' "$1" | json_get "bpf_programs.$2.$3" 2>/dev/null; }
start_relay -- --policy deadline --bpf-stats
fresh_stats
before=$FRESH_STATS
hackbench -g 2 -l 50 >/dev/null 2>&1
fresh_stats
after=$FRESH_STATS
for prog in relay_enqueue relay_dispatch; do
	runs0=$(bpf_value "$before" $prog runs)
	runs1=$(bpf_value "$after" $prog runs)
	ns0=$(bpf_value "$before" $prog run_ns)
	ns1=$(bpf_value "$after" $prog run_ns)
	[ -n "$runs0" ] && [ -n "$runs1" ] && [ -n "$ns0" ] && [ -n "$ns1" ] ||
		fail_with_log "--bpf-stats: no counts of $prog in ctl status: $after"
	note "--bpf-stats: $prog during hackbench: $((runs1 - runs0)) runs, $((ns1 - ns0)) ns"
	[ $((runs1 - runs0)) -gt 0 ] || fail_with_log "--bpf-stats: $prog did not run during hackbench"
	[ $((ns1 - ns0)) -gt 0 ] || fail_with_log "--bpf-stats: $prog ran for 0 ns during hackbench"
done
[ "$(cat /proc/sys/kernel/bpf_stats_enabled)" = 0 ] ||
	fail_with_log "--bpf-stats turned the sysctl on; it holds its own descriptor"
stop_relay
grep -q '^relay_dispatch  *[0-9]' "$RELAY_LOG" ||
	fail_with_log "--bpf-stats: no relay_dispatch row in the table at the session's end"
grep -q '^all  *[0-9]' "$RELAY_LOG" || fail_with_log "--bpf-stats: no total row at the session's end"
# Off again: the kernel counts no run of the next session's programs (their
# fdinfo, which the kernel fills whatever scx_relay reports).
start_relay -- --policy deadline
hackbench -g 2 -l 20 >/dev/null 2>&1
counted=$(cat /proc/"$RELAY_PID"/fdinfo/* 2>/dev/null | awk '$1 == "run_cnt:" { n += $2 } END { print n + 0 }')
programs=$(grep -l '^prog_id:' /proc/"$RELAY_PID"/fdinfo/* 2>/dev/null | wc -l)
note "after --bpf-stats: $programs descriptors naming a BPF program, $counted runs counted"
[ "$programs" -gt 0 ] || fail_with_log "no BPF program descriptors in /proc/$RELAY_PID/fdinfo"
[ "$counted" -eq 0 ] || fail_with_log "the kernel still counts BPF runs after the --bpf-stats run ended ($counted)"
stop_relay
out=$(scx_relay --monitor 1 2>&1)
status=$?
note "--monitor 1 after the exit: exit $status: $out"
[ "$status" -eq 1 ] || fail "--monitor 1 with no scheduler exited $status, expected 1"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "--monitor 1 with no scheduler printed more than one line"
pass
