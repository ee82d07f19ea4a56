# scx_relay record: scx_relay schedules hackbench as it does without the
# subcommand (user dispatches go up, no safety net fires, exit 0 on SIGINT)
# while its dispatcher's events go to a file, through a record ring buffer
# of 256 KiB (4096 events, a tenth of what hackbench makes: only a recorder
# that reads it while the session runs loses none). The file reads back whole
# (`record-summary`: its totals present, no event lost, the count the
# scheduler logged), its running and stopping events pair into runs on
# every CPU (at most one unpaired each per CPU: the runs under way when
# recording started and stopped), the user scheduler's runs and the
# runnable-to-running waits are in it, wakeups placed by a decision are
# among them (no more than the decisions), it holds at least one applied
# decision per run that a decision placed during hackbench, and the
# Chrome trace of its runs names hackbench. A cyclictest thread (500
# timer sleeps of 1 ms) runs beside hackbench: its wakeups come from a
# timer's hard interrupt, hackbench's from its tasks (socket writes), so the
# file marks at least 9 in 10 of cyclictest's wakeups (at least half as
# many as it slept) as in interrupt context, and fewer than 1 in 10 of
# hackbench's.
#
# Then the cost: RELAY_RECORD_ROUNDS (default 1) pairs of the same
# hackbench, interleaved, under plain scx_relay and under `scx_relay
# record`: each one's wall time and scx_relay's CPU time (utime + stime of
# all its threads, the recorder's included) are noted, with the ratios of
# their sums. Noted, not asserted: one guest under TCG is too noisy for a
# bound (docs/performance.md has the measured numbers).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

REC=/tmp/relay-record.rec
SUMMARY=/tmp/relay-record-summary.json
TRACE=/tmp/relay-record-trace.json
HACKBENCH="hackbench -g 4 -l 200"

start_relay -- record -o $REC --test-record-ring-kib 256 --stats 1
workload_begins
CT_LOOPS=500
cyclictest -q -l $CT_LOOPS -i 1000 -t 1 --policy=other >/tmp/relay-record-ct.out 2>&1 &
ct=$!
check "$HACKBENCH" $HACKBENCH
wait "$ct" || fail "cyclictest failed: $(tail -n 3 /tmp/relay-record-ct.out | tr '\n' ' ')"
workload_ended "hackbench and cyclictest"
stop_relay
logged=$(sed -n "s|.*record: wrote \([0-9]*\) events to $REC.*|\1|p" "$RELAY_LOG")
[ -n "$logged" ] || fail_with_log "no 'record: wrote N events to $REC' line"

scx_relay record-summary --trace $TRACE $REC >$SUMMARY 2>/tmp/relay-record-summary.err ||
	fail "record-summary failed: $(cat /tmp/relay-record-summary.err)"
get() {
	json_get "$1" <$SUMMARY || fail "no $1 in the summary: $(cat $SUMMARY)"
}
note "recording: $(ls -l $REC | awk '{print $5}') bytes, $(get events) events ($(get events_by_kind.runnable) runnable, $(get events_by_kind.running) running, $(get events_by_kind.stopping) stopping, $(get events_by_kind.quiescent) quiescent, $(get events_by_kind.decision) decision), $(get tasks) tasks, $(get runs) runs ($(get usersched_runs) of the user scheduler), waits p50 $(get waits.p50_us) us p99 $(get waits.p99_us) us, $(get duration_s) s"
[ "$(get complete)" = true ] || fail "the recording has no totals: it was cut short"
[ "$(get sessions)" = 1 ] || fail "$(get sessions) sessions in the recording, 1 expected"
[ "$(get lost)" = 0 ] || fail "the dispatcher lost $(get lost) events (its ring buffer was full)"
[ "$(get events)" = "$logged" ] || fail "the file holds $(get events) events, scx_relay said $logged"
[ "$(get runs)" -gt 0 ] || fail "no run in the recording"
[ "$(get usersched_runs)" -gt 0 ] || fail "no run of the user scheduler in the recording"
[ "$(get waits.samples)" -gt 0 ] || fail "no wait in the recording"
note "wakeups placed by a decision: $(get wakeups.via_user_space.total.samples) (wakeup to decision p50 $(get wakeups.via_user_space.to_decision.p50_us) us p99 $(get wakeups.via_user_space.to_decision.p99_us) us; decision to running p50 $(get wakeups.via_user_space.decision_to_run.p50_us) us p99 $(get wakeups.via_user_space.decision_to_run.p99_us) us); placed by the kernel: $(get wakeups.in_kernel.samples) (p50 $(get wakeups.in_kernel.p50_us) us)"
# hackbench's tasks wake each other all the time, with every CPU busy: most
# wakeups go through user space, each with its decision.
[ "$(get wakeups.via_user_space.total.samples)" -gt 0 ] || fail "no wakeup placed by a decision in the recording"
[ "$(get wakeups.via_user_space.total.samples)" -le "$(get events_by_kind.decision)" ] ||
	fail "$(get wakeups.via_user_space.total.samples) wakeups placed by a decision, more than the $(get events_by_kind.decision) decisions recorded"
cpus=$(nproc)
for key in unmatched_running unmatched_stopping; do
	[ "$(get $key)" -le "$cpus" ] || fail "$key is $(get $key), at most one per CPU ($cpus) expected"
done
[ "$(get events_by_kind.decision)" -ge "$DELTA_dispatched_user" ] ||
	fail "$(get events_by_kind.decision) decisions recorded, but $DELTA_dispatched_user runs placed by decisions during hackbench alone"
note "wakeups: $(get wakeup_contexts.wakeups), $(get wakeup_contexts.in_interrupt) in interrupt context; cyclictest's $(get wakeup_contexts.by_name.cyclictest.wakeups), $(get wakeup_contexts.by_name.cyclictest.in_interrupt) of them ($CT_LOOPS timer sleeps); hackbench's $(get wakeup_contexts.by_name.hackbench.wakeups), $(get wakeup_contexts.by_name.hackbench.in_interrupt) of them"
ct_woken=$(get wakeup_contexts.by_name.cyclictest.wakeups)
ct_irq=$(get wakeup_contexts.by_name.cyclictest.in_interrupt)
[ "$ct_irq" -ge $((CT_LOOPS / 2)) ] && [ $((ct_irq * 10)) -ge $((ct_woken * 9)) ] ||
	fail "$ct_irq of cyclictest's $ct_woken wakeups marked in interrupt context ($CT_LOOPS timer sleeps)"
hb_woken=$(get wakeup_contexts.by_name.hackbench.wakeups)
hb_irq=$(get wakeup_contexts.by_name.hackbench.in_interrupt)
[ $((hb_irq * 10)) -lt "$hb_woken" ] ||
	fail "$hb_irq of hackbench's $hb_woken wakeups marked in interrupt context: its tasks wake each other"
grep -q '"name":"hackbench"' $TRACE || fail "the trace names no hackbench run"
rm -f $REC $SUMMARY $TRACE

# relay_cpu_ticks <pid>: utime + stime of every thread of <pid> (clock ticks).
relay_cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# timed_round <options...>: scx_relay with the options runs one hackbench;
# sets ROUND_S (hackbench's wall time) and ROUND_TICKS (scx_relay's CPU).
timed_round() {
	start_relay -- "$@"
	ticks0=$(relay_cpu_ticks "$RELAY_PID")
	r0=$(cut -d' ' -f1 /proc/uptime)
	$HACKBENCH >/dev/null 2>&1 || fail "$HACKBENCH failed under scx_relay $*"
	r1=$(cut -d' ' -f1 /proc/uptime)
	ticks1=$(relay_cpu_ticks "$RELAY_PID")
	stop_relay
	ROUND_S=$(awk "BEGIN { print $r1 - $r0 }")
	ROUND_TICKS=$((ticks1 - ticks0))
}

rounds=${RELAY_RECORD_ROUNDS:-1}
plain_s=0
plain_ticks=0
rec_s=0
rec_ticks=0
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	timed_round --stats 1
	plain_s=$(awk "BEGIN { print $plain_s + $ROUND_S }")
	plain_ticks=$((plain_ticks + ROUND_TICKS))
	note "round $i: plain: hackbench ${ROUND_S}s, scx_relay ${ROUND_TICKS} ticks"
	timed_round record -o $REC --stats 1
	rec_s=$(awk "BEGIN { print $rec_s + $ROUND_S }")
	rec_ticks=$((rec_ticks + ROUND_TICKS))
	note "round $i: record: hackbench ${ROUND_S}s, scx_relay ${ROUND_TICKS} ticks"
	rm -f $REC
done
note "cost of recording over $rounds round(s): hackbench $(awk "BEGIN { printf \"%.3f\", $rec_s / $plain_s }")x the time, scx_relay CPU $rec_ticks vs $plain_ticks ticks ($(awk "BEGIN { if ($plain_ticks > 0) printf \"%.3f\", $rec_ticks / $plain_ticks; else print \"n/a\" }")x)"
pass
