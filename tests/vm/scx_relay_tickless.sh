# Real-kernel test of --tickless, in a boot with nohz_full CPUs
# (vm_test::NOHZ_FULL_CASES; `cargo xtask vm-test tickless` boots so).
# One CPU-bound stress-ng worker runs RELAY_TICKLESS_SECONDS (default 5)
# on the last nohz_full CPU: first under the kernel's fair class (which
# stops the tick of a nohz_full CPU that runs one task), then under
# scx_relay without and with --tickless (enabled by the kernel's
# scx_enable_helper kthread moved to that CPU: the dispatcher's timers are
# armed there, the worst case). Each run notes that CPU's local
# timer interrupts per second (/proc/interrupts, LOC; over the run and
# per sample, about a second apart, sampled from cpu0) and the worker's
# bogo ops/s. The case fails unless, with --tickless, the CPU took at most
# a quarter of the interrupts per second it took without (and runs were
# given unbounded slices meanwhile, none without the option); and unless
# two nice-0 hogs sharing that CPU under --tickless still get equal CPU
# time (within RELAY_TICKLESS_TOLERANCE_PCT, default 30 %): with the tick
# stopped, only the dispatcher's tickless check makes one give way to the
# other (`unbounded_kicks` goes up).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

SECS=${RELAY_TICKLESS_SECONDS:-5}
TOLERANCE=${RELAY_TICKLESS_TOLERANCE_PCT:-30}
# RELAY_TICKLESS_REPEAT: see the --tickless runs below.
REPEAT=${RELAY_TICKLESS_REPEAT:-1}
case "$REPEAT" in
*[!0-9]*) fail "tickless_repeat=$REPEAT: expected a count of 1 or more" ;;
esac
[ "$REPEAT" -ge 1 ] || fail "tickless_repeat=$REPEAT: expected a count of 1 or more"
NOHZ=$(cat /sys/devices/system/cpu/nohz_full 2>/dev/null)
case "$NOHZ" in
"" | "(null)") fail "no nohz_full CPU ($(cat /proc/cmdline)): this case runs in a boot with nohz_full=" ;;
esac
CPU=${NOHZ##*[-,]}
# A CPU outside nohz_full for the LOC sampler (cpu0 is never nohz_full:
# vm_test::nohz_full_param puts the upper half of the CPUs there).
HOUSEKEEPING=0
note "nohz_full CPUs: $NOHZ; the hogs run on cpu$CPU"

# loc_of <cpu>: local timer interrupts <cpu> took since boot.
loc_of() {
	awk -v c="$1" '$1 == "LOC:" { print $(c + 2); exit }' /proc/interrupts
}

# bpf_timer_cpus: the CPUs where a BPF timer is queued (/proc/timer_list),
# such as the dispatcher's heartbeat and, with --tickless, its check.
bpf_timer_cpus() {
	awk '/^cpu: / { cpu = "cpu" $2 } /bpf_timer_cb|bpf_async/ { printf "%s ", cpu }' /proc/timer_list 2>/dev/null
}

# loc_sampler <file>: about once a second, appends to <file> a line "<uptime>
# <LOC of $CPU> <threads>", the threads being those whose last CPU was $CPU
# then ("tid:(comm)", /proc/*/task/*/stat field 39; a comm with spaces
# shifts it, and is missed). Runs in the background, pinned to
# $HOUSEKEEPING before anything it measures starts (hog()), so that its
# own wake-ups do not land on the CPU it watches (its first sample waits
# for that).
loc_sampler() {
	sleep 0.2
	while :; do
		echo "$(cut -d' ' -f1 /proc/uptime) $(loc_of "$CPU") $(cat /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null |
			awk -v c="$CPU" '$39 == c { printf "%s:%s ", $1, $2 }')" >>"$1"
		sleep 1
	done
}

# hog <what>: one stress-ng CPU worker on $CPU for $SECS s; notes and sets
# LOC_S (local timer interrupts per second on $CPU over the whole run),
# LOC_RATES (its rates between samples, to tell a burst from a steady tick; "-"
# with fewer than two samples) and OPS_S (the worker's bogo ops/s).
hog() {
	: >/tmp/tickless.loc
	loc_sampler /tmp/tickless.loc &
	sampler=$!
	taskset -pc "$HOUSEKEEPING" "$sampler" >/dev/null || {
		kill "$sampler"
		fail "cannot pin the LOC sampler to cpu$HOUSEKEEPING"
	}
	loc0=$(loc_of "$CPU")
	t0=$(cut -d' ' -f1 /proc/uptime)
	stress-ng --cpu 1 --cpu-method int64 --taskset "$CPU" -t "${SECS}s" --metrics-brief >/tmp/tickless.out 2>&1
	hog_rc=$?
	loc1=$(loc_of "$CPU")
	t1=$(cut -d' ' -f1 /proc/uptime)
	kill "$sampler"
	wait "$sampler" 2>/dev/null
	[ "$hog_rc" -eq 0 ] || fail_with_log "$1: stress-ng failed: $(tail -n 3 /tmp/tickless.out | tr '\n' ' ')"
	# "stress-ng: metrc: [pid] cpu <bogo ops> <real s> <usr s> <sys s> <ops/s real> <ops/s usr+sys>"
	OPS_S=$(awk '$2 == "metrc:" && $4 == "cpu" && $5 ~ /^[0-9]/ { print $9; exit }' /tmp/tickless.out)
	[ -n "$OPS_S" ] || fail_with_log "$1: no stress-ng metrics: $(tail -n 3 /tmp/tickless.out | tr '\n' ' ')"
	LOC_S=$(awk "BEGIN { printf \"%d\", ($loc1 - $loc0) / ($t1 - $t0) }")
	# Rates between consecutive samples.
	LOC_RATES=$(awk 'NR > 1 && $1 > t { printf "%s%d", sep, ($2 - l) / ($1 - t); sep = " " } { t = $1; l = $2 }' /tmp/tickless.loc)
	LOC_RATES=${LOC_RATES:--}
	note "$1: one hog on cpu$CPU: $LOC_S local timer interrupts/s (per sample, about a second apart: $LOC_RATES), $OPS_S bogo ops/s; BPF timers queued on: $(bpf_timer_cpus)"
}

hog fair-class

start_relay -- --stats 1
workload_begins
hog scx_relay
workload_ended "scx_relay, one hog"
workload_deltas "scx_relay, one hog" unbounded_runs unbounded_kicks
[ "$DELTA_unbounded_runs" -eq 0 ] || fail_with_log "without --tickless, $DELTA_unbounded_runs runs had an unbounded slice"
TICKING=$LOC_S
TICKING_OPS=$OPS_S
stop_relay

# The kernel enables a scheduler from its scx_enable_helper kthread, which
# the first start created; ops.init runs there. Moved to $CPU, it arms the
# dispatcher's timers from the tickless CPU itself: the worst case for
# where they land (an unpinned check armed there stayed, 945 interrupts/s).
# RELAY_TICKLESS_REPEAT (default 1; `--set tickless_repeat=N`) starts the
# scheduler with --tickless that many times, one hog each, and fails with
# the tally of the runs above a quarter; the two hogs run under the last.
above=
run=1
while :; do
	helper=
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = scx_enable_helper ] && helper=${d#/proc/} && break
	done
	helper_cpus=
	if [ -n "$helper" ]; then
		helper_cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$helper/status")
		taskset -pc "$CPU" "$helper" >/dev/null || fail "cannot move scx_enable_helper ($helper) to cpu$CPU"
		note "scx_enable_helper ($helper, CPUs $helper_cpus) moved to cpu$CPU: $(grep Cpus_allowed_list "/proc/$helper/status" | tr -s '\t' ' ')"
	else
		note "no scx_enable_helper kthread (this kernel enables from the loading thread)"
	fi
	start_relay -- --tickless --stats 1
	[ -z "$helper_cpus" ] || taskset -pc "$helper_cpus" "$helper" >/dev/null || fail "cannot move scx_enable_helper back to $helper_cpus"
	grep -q 'scx_relay: tickless:' "$RELAY_LOG" || fail_with_log "no tickless line at start-up"
	run_name="scx_relay --tickless (run $run of $REPEAT)"
	workload_begins
	hog "$run_name"
	workload_ended "$run_name, one hog"
	workload_deltas "$run_name, one hog" unbounded_runs unbounded_kicks
	[ "$DELTA_unbounded_runs" -gt 0 ] || fail_with_log "--tickless: no run had an unbounded slice"
	note "$run_name against without: $(awk "BEGIN { printf \"%.2f\", $LOC_S / ($TICKING > 0 ? $TICKING : 1) }")x the interrupts/s, $(awk "BEGIN { printf \"%.3f\", $OPS_S / $TICKING_OPS }")x the bogo ops/s"
	if [ $((LOC_S * 4)) -gt "$TICKING" ]; then
		above="$above run $run: $LOC_S/s (per sample, about a second apart: $LOC_RATES);"
		note "$run_name: above a quarter; each sample's uptime, cpu$CPU's LOC count and the threads last on it: $(tr '\n' ';' </tmp/tickless.loc); the scheduler's last lines: $(tail -n 3 "$RELAY_LOG" | tr '\n' ' ')"
	fi
	[ "$run" -ge "$REPEAT" ] && break
	stop_relay
	run=$((run + 1))
done
[ -z "$above" ] ||
	fail_with_log "--tickless: cpu$CPU took more than a quarter of the $TICKING local timer interrupts/s it took without, in$above"

workload_begins
taskset -c "$CPU" share_probe "$SECS" 0 0 >/tmp/shares 2>&1 || fail_with_log "share_probe failed: $(cat /tmp/shares)"
sed "s/^share_probe: /relay-note: $RELAY_TEST_NAME: --tickless, two hogs on cpu$CPU: /" /tmp/shares
err=$(sed -n 's/.*worst_ratio_error_pct \([0-9]*\).*/\1/p' /tmp/shares)
workload_ended "scx_relay --tickless, two hogs"
workload_deltas "scx_relay --tickless, two hogs" unbounded_runs unbounded_kicks
[ -n "$err" ] || fail_with_log "no ratio error in share_probe's output"
[ "$err" -le "$TOLERANCE" ] || fail_with_log "--tickless: two nice-0 hogs on cpu$CPU off equal shares by $err % (at most $TOLERANCE %)"
[ "$DELTA_unbounded_kicks" -gt 0 ] || fail_with_log "--tickless: two hogs shared cpu$CPU, but the tickless check preempted none"
stop_relay
pass
