# Real-kernel test of --tickless, in a boot with nohz_full CPUs
# (vm_test::NOHZ_FULL_CASES; `cargo xtask vm-test tickless` boots so).
# One CPU-bound stress-ng worker runs RELAY_TICKLESS_SECONDS (default 5)
# on the last nohz_full CPU: first under the kernel's fair class (which
# stops the tick of a nohz_full CPU that runs one task), then under
# scx_relay without and with --tickless (enabled by the kernel's
# scx_enable_helper kthread moved to that CPU: the dispatcher's timers are
# armed there, the worst case). Each run notes that CPU's local
# timer interrupts per second (/proc/interrupts, LOC) and the worker's
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
NOHZ=$(cat /sys/devices/system/cpu/nohz_full 2>/dev/null)
case "$NOHZ" in
"" | "(null)") fail "no nohz_full CPU ($(cat /proc/cmdline)): this case runs in a boot with nohz_full=" ;;
esac
CPU=${NOHZ##*[-,]}
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

# hog <what>: one stress-ng CPU worker on $CPU for $SECS s; notes and sets
# LOC_S (local timer interrupts per second on $CPU meanwhile) and OPS_S
# (the worker's bogo ops/s).
hog() {
	loc0=$(loc_of "$CPU")
	t0=$(cut -d' ' -f1 /proc/uptime)
	stress-ng --cpu 1 --cpu-method int64 --taskset "$CPU" -t "${SECS}s" --metrics-brief >/tmp/tickless.out 2>&1 ||
		fail_with_log "$1: stress-ng failed: $(tail -n 3 /tmp/tickless.out | tr '\n' ' ')"
	loc1=$(loc_of "$CPU")
	t1=$(cut -d' ' -f1 /proc/uptime)
	# "stress-ng: metrc: [pid] cpu <bogo ops> <real s> <usr s> <sys s> <ops/s real> <ops/s usr+sys>"
	OPS_S=$(awk '$2 == "metrc:" && $4 == "cpu" && $5 ~ /^[0-9]/ { print $9; exit }' /tmp/tickless.out)
	[ -n "$OPS_S" ] || fail_with_log "$1: no stress-ng metrics: $(tail -n 3 /tmp/tickless.out | tr '\n' ' ')"
	LOC_S=$(awk "BEGIN { printf \"%d\", ($loc1 - $loc0) / ($t1 - $t0) }")
	note "$1: one hog on cpu$CPU: $LOC_S local timer interrupts/s, $OPS_S bogo ops/s; BPF timers queued on: $(bpf_timer_cpus)"
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
workload_begins
hog "scx_relay --tickless"
workload_ended "scx_relay --tickless, one hog"
workload_deltas "scx_relay --tickless, one hog" unbounded_runs unbounded_kicks
[ "$DELTA_unbounded_runs" -gt 0 ] || fail_with_log "--tickless: no run had an unbounded slice"
note "--tickless against without: $(awk "BEGIN { printf \"%.2f\", $LOC_S / ($TICKING > 0 ? $TICKING : 1) }")x the interrupts/s, $(awk "BEGIN { printf \"%.3f\", $OPS_S / $TICKING_OPS }")x the bogo ops/s"
[ $((LOC_S * 4)) -le "$TICKING" ] ||
	fail_with_log "--tickless: cpu$CPU took $LOC_S local timer interrupts/s, without it $TICKING (expected at most a quarter)"

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
