# Payload of `cargo xtask bench-vm`: the same workloads under each scheduler,
# interleaved over several rounds, in one guest boot.
#
# Every measurement is one console line the host parses:
#   relay-bench: <round> <scheduler> <metric> <value>
# (metrics: hackbench_s, hackbench_switches_per_kmsg, lat_p50_us, lat_p99_us, lat_max_us, lat_overflows,
# lat_avg_us, lat_wait_us, lat_wait_runs, lat_irq_timer_s, lat_irq_ipi_s, lat_irq_all_s,
# lat_irq_res_s, lat_irq_cal_s, lat_irq_iwi_s,
# lat_deliver_us, lat_deliver_timers, and for scx_relay lat_user_runs and lat_fast_resumes,
# switch_ops_s, hdd_ops_s, cost_cpu_ms, cost_bpf_ms, cost_bpf_runs, cost_decisions, cost_syscalls, and for scx_relay
# the profile counters prof_* and its BPF programs' bpf_<program>_runs and
# bpf_<program>_ns; fair_share_index, fair_worst_pct; frame_slots,
# frame_missed, frame_p50_ms, frame_p99_ms, frame_max_ms, frame_worst_cpu_ms,
# frame_worst_wait_ms, frame_worst_other_ms, frame_worst_runs, and for
# scx_relay frame_fast_placed, frame_fast_unplaced, frame_fast_left_usersched,
# frame_fast_left_fast, frame_fast_left_busy, frame_fast_deferred,
# frame_fast_overruns, frame_fast_revoked, frame_fast_grants; wake_* of the
# wakeup profile), and a
# scheduler that cannot run prints
#   relay-bench: <round> <scheduler> error <reason>
# The host computes medians and ratios; nothing here is aggregated.
#
# Knobs (kernel command line, set by `cargo xtask bench-vm`):
#   relay.rounds=N            rounds (default 5)
#   relay.schedulers=a,b,...  eevdf (the kernel's), eevdf-nohrtick (the
#                             kernel's with the fair class's HRTICK feature
#                             off: no high-resolution timer at each slice's
#                             end), rustland, bpfland
#                             (upstream's all-BPF scx_bpfland), baseline
#                             (/bin/scx_relay_baseline, an earlier commit's
#                             scx_relay, with --policy deadline),
#                             baseline-fast (the same with --fast-path), relay-eevdf
#                             (scx_relay's eevdf policy), <policy>-fast
#                             (that policy with --fast-path:
#                             deadline-fast, interactive-fast), or any
#                             other scx_relay policy by its name (default: eevdf,
#                             rustland, deadline, fifo)
#   relay.workloads=a,b,...   hackbench, latency, switch, io, cost, fairness,
#                             frames, profile (default: hackbench,latency,switch,io,cost)
#   relay.hackbench_loops=N   hackbench -g 4 -l N (default 200)
#   relay.latency_s=N         cyclictest duration under CPU saturation (default 8)
#   relay.switch_s=N          stress-ng --switch duration (default 5)
#   relay.io_s=N              stress-ng --hdd duration (default 5)
#   relay.cost_loops=N        hackbench -g 4 -l N for the scheduler-cost window (default 100)
#   relay.fair_s=N            share_probe duration of the fairness workload (default 5)
#   relay.frames_s=N          frame_pacer duration of the frames workload (default 10)
#   relay.frame_work_ms=N     CPU work of each 60 Hz frame, ms (default 4)
#   relay.machine_rec=S       the profile workload's recording under
#                             scheduler S in round 1 comes out on the
#                             console as the blob "machine", base64, as
#                             run/record.sh sends its recordings (the
#                             machine's costs, for --sim-fidelity)

rounds=${RELAY_ROUNDS:-5}
schedulers=$(echo "${RELAY_SCHEDULERS:-eevdf,rustland,deadline,fifo}" | tr ',' ' ')
hackbench_loops=${RELAY_HACKBENCH_LOOPS:-200}
latency_s=${RELAY_LATENCY_S:-8}
switch_s=${RELAY_SWITCH_S:-5}
io_s=${RELAY_IO_S:-5}
cost_loops=${RELAY_COST_LOOPS:-100}
workloads=$(echo "${RELAY_WORKLOADS:-hackbench,latency,switch,io,cost}" | tr ',' ' ')
fair_s=${RELAY_FAIR_S:-5}
frames_s=${RELAY_FRAMES_S:-10}
frame_work_ms=${RELAY_FRAME_WORK_MS:-4}
machine_rec=${RELAY_MACHINE_REC:-}
ncpu=$(nproc)
SCX=/sys/kernel/sched_ext
TRACE=/sys/kernel/tracing/events/raw_syscalls/sys_enter
# cyclictest's histogram range (us); slower wakeups count as overflows.
HIST_US=50000

now() { cut -d' ' -f1 /proc/uptime; }
# Emit one measurement.
emit() { echo "relay-bench: $round $sched $1 $2"; }
note() { echo "relay-note: bench: $*"; }

# Wait up to $2 s for sched_ext's state to read $1 (returns 1 on timeout or
# when process $3, if given, is gone).
wait_state() {
	t0=$(now)
	while [ "$(cat $SCX/state 2>/dev/null)" != "$1" ]; do
		[ -n "$3" ] && ! kill -0 "$3" 2>/dev/null && return 1
		awk "BEGIN { exit !($(now) - $t0 > $2) }" && return 1
		sleep 0.1
	done
	return 0
}

# CPU time of process $1, all threads, in ns (sum_exec_runtime from schedstat).
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# Run time (ns) and runs of the BPF programs process $1 holds, summed:
# "<ns> <runs>", from their /proc/<pid>/fdinfo (the kernel's
# bpf_prog_show_fdinfo(); both stay 0 while kernel.bpf_stats_enabled is 0).
# Each program once, by prog_id, however many descriptors name it (scx_relay
# holds two: libbpf's and the duplicate it reads its statistics through).
# Syscall programs (prog_type 31) are left out: they run through
# BPF_PROG_TEST_RUN in the calling process's own context, whose CPU time
# already has them (scx_rustland's rs_select_cpu, one per decision).
bpf_cost() {
	awk 'FNR == 1 { id = ""; type = "" }
		$1 == "prog_type:" { type = $2 }
		$1 == "prog_id:" { id = $2 }
		id != "" && type != 31 && $1 == "run_time_ns:" { ns[id] = $2 }
		id != "" && type != 31 && $1 == "run_cnt:" { n[id] = $2 }
		END { for (i in ns) { s += ns[i]; c += n[i] } printf "%.0f %.0f\n", s, c }' /proc/"$1"/fdinfo/* 2>/dev/null
}

# The running scx_relay's status: `scx_relay ctl status`, one line of JSON
# with its totals since the session started (empty if it does not answer).
relay_status() { scx_relay ctl status 2>/dev/null; }
# The value at path $1 (such as metrics.queued, a name of `scx_relay
# --help-stats` under metrics) in status $2; empty when not there (a
# baseline built before `ctl status` answered JSON, or without it).
status_value() { printf '%s\n' "$2" | json_get "$1" 2>/dev/null; }

# Emit metric $2: the value at path $1 in status $b minus the same in
# status $a, divided by $3 if given (with three decimals). Nothing when an
# older scx_relay (the baseline) does not answer it.
emit_delta_at() {
	x=$(status_value "$1" "$a")
	y=$(status_value "$1" "$b")
	[ -n "$x" ] && [ -n "$y" ] || return 0
	if [ -n "$3" ]; then
		emit "$2" "$(awk "BEGIN { printf \"%.3f\", ($y - $x) / $3 }")"
	else
		emit "$2" $((y - x))
	fi
}

# The fair class's HRTICK feature (debugfs sched/features): a
# high-resolution timer at the end of each slice, where the periodic tick
# would end it later. In this guest each timer expiry also makes QEMU's
# round robin move on to the next vCPU, which speeds the delivery of every
# vCPU's interrupts; eevdf-nohrtick measures EEVDF without it.
# (kernel/sched/fair.c hrtick_start_fair(), kernel/sched/core.c hrtick()).
FEATURES=/sys/kernel/debug/sched/features
[ -e $FEATURES ] || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
# The kernel's own setting, restored for every scheduler but eevdf-nohrtick.
hrtick_default=$(tr ' ' '\n' 2>/dev/null <$FEATURES | grep -x -e HRTICK -e NO_HRTICK)
set_hrtick() {
	[ -n "$hrtick_default" ] || return 1
	echo "$1" >$FEATURES
}

# Start scheduler $sched; sets sched_pid (empty for EEVDF). Returns 1 if
# it did not get enabled. An scx_relay runs its subcommand $relay_sub
# (empty: none) before its options.
relay_sub=
# shellcheck disable=SC2086
start_sched() {
	sched_pid=
	log=/tmp/bench-$sched.log
	if [ -n "$hrtick_default" ] && ! set_hrtick "$hrtick_default"; then
		emit error "cannot set the fair class's $hrtick_default back ($FEATURES)"
		return 1
	fi
	case $sched in
	eevdf) return 0 ;;
	eevdf-nohrtick)
		if ! set_hrtick NO_HRTICK; then
			emit error "cannot turn the fair class's HRTICK off ($FEATURES)"
			return 1
		fi
		return 0
		;;
	rustland) set -- scx_rustland ;;
	bpfland) set -- scx_bpfland ;;
	baseline) set -- scx_relay_baseline $relay_sub --policy deadline --stats 1 ;;
	baseline-fast) set -- scx_relay_baseline $relay_sub --policy deadline --fast-path --stats 1 ;;
	relay-eevdf) set -- scx_relay $relay_sub --policy eevdf --stats 1 ;;
	*-fast) set -- scx_relay $relay_sub --policy "${sched%-fast}" --fast-path --stats 1 ;;
	*) set -- scx_relay $relay_sub --policy "$sched" --stats 1 ;;
	esac
	if [ ! -x "/bin/$1" ]; then
		emit error "/bin/$1 is not in the guest image"
		return 1
	fi
	"$@" >"$log" 2>&1 &
	sched_pid=$!
	if ! wait_state enabled 60 "$sched_pid"; then
		emit error "not enabled (state $(cat $SCX/state)); log: $(tail -n 3 "$log" | tr '\n' ' ')"
		kill -INT "$sched_pid" 2>/dev/null
		wait "$sched_pid"
		sched_pid=
		return 1
	fi
	sleep 1
	return 0
}

stop_sched() {
	[ -n "$sched_pid" ] || return 0
	t0=$(now)
	kill -INT "$sched_pid" 2>/dev/null
	wait "$sched_pid"
	rc=$?
	wait_state disabled 120 || emit error "still $(cat $SCX/state) 120 s after stopping"
	note "round $round $sched: stopped with status $rc after $(awk "BEGIN { printf \"%.1f\", $(now) - $t0 }") s"
	[ "$rc" -eq 0 ] || emit error "exited with status $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
	sched_pid=
}

# Workload 1: hackbench run time, and its tasks' context switches (busybox
# time's voluntary and involuntary ones, of hackbench and the children it
# waited for) per 1,000 messages (-g 4: 4 groups of 20 senders each writing
# N messages to each of 20 receivers, 1,600 N).
run_hackbench() {
	out=$({ busybox time -f "relay-switches %w %c" hackbench -g 4 -l "$hackbench_loops"; } 2>&1)
	t=$(echo "$out" | awk '/^Time:/ { print $2 }')
	[ -n "$t" ] && emit hackbench_s "$t"
	sw=$(echo "$out" | awk -v msgs=$((1600 * hackbench_loops)) \
		'/^relay-switches / { printf "%.2f", ($2 + $3) * 1000 / msgs }')
	[ -n "$sw" ] && emit hackbench_switches_per_kmsg "$sw"
}

# The threads of process $1 as "tid run_ns run_delay_ns pcount" lines, from
# /proc/<pid>/task/<tid>/schedstat (the kernel's sched_info, kept for every
# scheduling class: sched_ext's tasks too): CPU time, time spent runnable
# but waiting for a CPU, and runs.
thread_schedstat() {
	for f in /proc/"$1"/task/*/schedstat; do
		tid=${f%/schedstat}
		read -r run delay runs <"$f" 2>/dev/null && echo "${tid##*/} $run $delay $runs"
	done
}

# The kernel's tracing directory (tracefs), mounted if it is not.
TRACEFS=/sys/kernel/tracing

# The timer events (every hrtimer's start and expiry), enabled once, before
# the first round, with the trace buffer off; fails if the kernel has no
# tracefs or timer events. Enabling an event patches its tracepoint's
# static key in the kernel's text; patched while cyclictest and stress-ng
# ran on the other vCPU, the site read the patch's int3 under QEMU's
# parallel TCG and the guest died (`Oops: int3` in
# __hrtimer_start_range_ns, the hrtimer_start event's site: 11 of the 20
# oopses in target/vm-logs at 7f88363, 13 at the timer events' sites,
# ending most bench-vm runs on parallel vCPUs). Enabled here, with nothing
# running, the windows only switch the buffer (tracing_on), which patches
# nothing. (The cost window's syscall histogram trigger still registers
# and unregisters its event, and eevdf-nohrtick flips the HRTICK feature:
# static keys too.)
timer_trace_arm() {
	[ -d "$TRACEFS/events/timer" ] || mount -t tracefs nodev "$TRACEFS" 2>/dev/null
	[ -w "$TRACEFS/events/timer/hrtimer_start/enable" ] || return 1
	echo 0 >"$TRACEFS/tracing_on"
	echo 1 >"$TRACEFS/events/timer/hrtimer_start/enable"
	echo 1 >"$TRACEFS/events/timer/hrtimer_expire_entry/enable"
	: >"$TRACEFS/trace"
}

# Record the timer events from now on; fails if timer_trace_arm did not
# enable them.
timer_trace_on() {
	[ "$timer_trace_armed" = 1 ] || return 1
	: >"$TRACEFS/trace"
	echo 1 >"$TRACEFS/tracing_on"
}

# Stop recording; the trace's text in $1.
timer_trace_off() {
	echo 0 >"$TRACEFS/tracing_on"
	cat "$TRACEFS/trace" >"$1"
	: >"$TRACEFS/trace"
}

# Workload 2: wakeup latency of a SCHED_OTHER cyclictest thread while
# stress-ng keeps every CPU busy: p50 / p99 from the histogram, and the max.
# cyclictest's latency is from the timer's expiry to the thread reading the
# clock; in a window from 1 s after cyclictest starts to 1.5 s before it
# ends, two of its steps are measured for its measuring thread:
# - the timer's delivery: from the expiry its sleep asked for
#   (hrtimer_start's softexpires) to the timer interrupt's handler
#   (hrtimer_expire_entry's now), from the kernel's timer events (a vCPU
#   takes an interrupt when QEMU runs it, in turn with the others);
#   /tmp/latency-deliver.out: "<mean us> <timers>";
# - its wait runnable for a CPU, per run, from its schedstat read at both
#   ends; /tmp/latency-wait.out: "<wait us per run> <runs>".
# The load: cyclictest's output in /tmp/cyclictest.out.
latency_load() {
	stress-ng --cpu "$ncpu" -t $((latency_s + 3))s >/dev/null 2>&1 &
	stress_pid=$!
	sleep 1
	ct_t0=$(now)
	cyclictest -q -D "$latency_s" -i 1000 -t 1 -h "$HIST_US" --policy=other >/tmp/cyclictest.out 2>&1 &
	ct_pid=$!
	sleep 1
	thread_schedstat "$ct_pid" >/tmp/schedstat.0
	relay_status >/tmp/relay-status.0
	cat /proc/interrupts >/tmp/interrupts.0
	irq_t0=$(now)
	traced=0
	timer_trace_on && traced=1
	# The window ends 1.5 s before cyclictest does, however long the steps
	# above took: a fixed sleep here ended it after cyclictest had exited in
	# some bench-vm runs (at 2e67560: no wait and no delivery measured).
	sleep "$(awk -v t0="$ct_t0" -v t="$(now)" -v d="$latency_s" 'BEGIN { s = t0 + d - 1.5 - t; printf "%.1f", (s > 0.1 ? s : 0.1) }')"
	thread_schedstat "$ct_pid" >/tmp/schedstat.1
	cat /proc/interrupts >/tmp/interrupts.1
	irq_t1=$(now)
	relay_status >/tmp/relay-status.1
	note "round $round $sched: latency window $(awk -v a="$irq_t0" -v b="$irq_t1" -v c="$ct_t0" 'BEGIN { printf "%.1f s to %.1f s", a - c, b - c }') of cyclictest's $latency_s s"
	[ "$traced" = 1 ] && timer_trace_off /tmp/timer-trace.out
	wait "$ct_pid"
	kill "$stress_pid" 2>/dev/null
	wait "$stress_pid"
	# The measuring thread: not the main one (which polls every 10 ms
	# under -q), the one of the others that ran most in the window.
	awk -v main="$ct_pid" 'NR == FNR { delay[$1] = $3; runs[$1] = $4; next }
		$1 != main && ($1 in runs) && $4 - runs[$1] > best { best = $4 - runs[$1]; wait = ($3 - delay[$1]) / 1000; tid = $1 }
		END { if (best > 0) printf "%.1f %d %d\n", wait / best, best, tid }' \
		/tmp/schedstat.0 /tmp/schedstat.1 >/tmp/latency-wait.out
	interrupt_rates "$irq_t0" "$irq_t1" /tmp/interrupts.0 /tmp/interrupts.1 >/tmp/latency-irq.out
	rm -f /tmp/latency-deliver.out
	read -r _ _ tid </tmp/latency-wait.out || return 0
	[ "$traced" = 1 ] || return 0
	# Its timers: started by it ("<comm>-<tid>" first), waking it
	# (hrtimer_wakeup); each expiry paired with the last start of the same
	# timer.
	awk -v tid="$tid" '
		function field(name, i) {
			for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2)
			return ""
		}
		/ hrtimer_start: / && field("function") == "hrtimer_wakeup" {
			n = split($1, part, "-")
			if (part[n] == tid) soft[field("hrtimer")] = field("softexpires")
			next
		}
		/ hrtimer_expire_entry: / && field("function") == "hrtimer_wakeup" {
			t = field("hrtimer")
			if (t in soft) { sum += field("now") - soft[t]; count++; delete soft[t] }
		}
		END { if (count > 0) printf "%.1f %d\n", sum / count / 1000, count }' \
		/tmp/timer-trace.out >/tmp/latency-deliver.out
}
# Interrupts per CPU per second between /proc/interrupts snapshots $3 and
# $4, taken at times $1 and $2 (s): "local-timer IPIs all res cal iwi",
# the local timer (LOC), the rescheduling, function-call and IRQ-work IPIs
# (RES, CAL, IWI: sched_ext's kicks are IRQ work or rescheduling IPIs),
# every row, and the three IPI rows one by one. On
# this TCG guest a vCPU takes an interrupt when QEMU's round robin runs it;
# a timer's expiry (QEMU's main loop raises it) ends the running vCPU's
# turn, an IPI from another vCPU does not (see HRTICK above).
interrupt_rates() {
	awk -v t0="$1" -v t1="$2" '
		FNR == 1 { file++; if (file == 1) ncpu = NF; next }
		{
			sum = 0
			for (i = 2; i <= ncpu + 1 && $i ~ /^[0-9]+$/; i++) sum += $i
			kind = $1
			if (file == 1) before[kind] = sum; else after[kind] = sum
		}
		END {
			secs = t1 - t0
			if (secs <= 0 || ncpu == 0) exit 1
			for (k in after) {
				d = after[k] - before[k]
				all += d
				if (k == "LOC:") loc += d
				if (k == "RES:" || k == "CAL:" || k == "IWI:") { ipi += d; one[k] = d }
			}
			r = ncpu * secs
			printf "%.1f %.1f %.1f %.1f %.1f %.1f\n", loc / r, ipi / r, all / r, one["RES:"] / r, one["CAL:"] / r, one["IWI:"] / r
		}' "$3" "$4"
}

run_latency() {
	latency_load
	# In the window of cyclictest's schedstat: runs a user decision placed
	# (every task's), and the times a task a fast placement preempted went
	# back with its slice left instead (none for EEVDF, scx_rustland or
	# scx_bpfland: no status).
	a=$(cat /tmp/relay-status.0)
	b=$(cat /tmp/relay-status.1)
	emit_delta_at metrics.dispatched_user lat_user_runs
	emit_delta_at metrics.fast_resumes lat_fast_resumes
	awk -v limit="$HIST_US" '
		# Zero-padded numbers: busybox awk reads a leading 0 as octal.
		function dec(s) { sub(/^0+/, "", s); return s + 0 }
		# Histogram lines "<us> <count>", ascending.
		/^[0-9]+[ \t]+[0-9]+/ { k++; us[k] = dec($1); n[k] = dec($2); total += n[k]; next }
		/^# Max Latencies:/ { max = dec($4) }
		/^# Histogram Overflows:/ { over = dec($4) }
		END {
			total += over
			if (total == 0) exit 1
			p50 = limit; p99 = limit; c = 0; got50 = 0
			for (j = 1; j <= k; j++) {
				c += n[j]
				if (!got50 && c >= 0.50 * total) { p50 = us[j]; got50 = 1 }
				if (c >= 0.99 * total) { p99 = us[j]; break }
			}
			printf "%d %d %d %d\n", p50, p99, max, over
		}' /tmp/cyclictest.out >/tmp/latency.out || return 0
	read -r p50 p99 max over </tmp/latency.out
	emit lat_p50_us "$p50"
	emit lat_p99_us "$p99"
	emit lat_max_us "$max"
	emit lat_overflows "$over"
	avg=$(awk '/^# Avg Latencies:/ { s = $4; sub(/^0+/, "", s); print s + 0 }' /tmp/cyclictest.out)
	[ -n "$avg" ] && emit lat_avg_us "$avg"
	if read -r wait runs _ </tmp/latency-wait.out; then
		emit lat_wait_us "$wait"
		emit lat_wait_runs "$runs"
	else
		emit error "no schedstat of cyclictest's thread (threads seen: $(wc -l </tmp/schedstat.0) at the window's start, $(wc -l </tmp/schedstat.1) at its end)"
	fi
	if read -r loc ipi all res cal iwi </tmp/latency-irq.out 2>/dev/null; then
		emit lat_irq_timer_s "$loc"
		emit lat_irq_ipi_s "$ipi"
		emit lat_irq_all_s "$all"
		emit lat_irq_res_s "$res"
		emit lat_irq_cal_s "$cal"
		emit lat_irq_iwi_s "$iwi"
	else
		emit error "no /proc/interrupts rates"
	fi
	if read -r deliver timers </tmp/latency-deliver.out 2>/dev/null; then
		emit lat_deliver_us "$deliver"
		emit lat_deliver_timers "$timers"
	else
		emit error "no timer events of cyclictest's thread (tracefs)"
	fi
}

# One stress-ng stressor for $2 seconds, its bogo ops/s emitted as metric
# $3; $1 is the stressor, the rest its arguments.
run_stress() {
	stressor=$1 secs=$2 metric=$3
	shift 3
	# The metrics line: "stress-ng: metrc: [pid] <stressor> <bogo ops> <real s>
	# <usr s> <sys s> <bogo ops/s real time> <bogo ops/s usr+sys time>".
	stress-ng --"$stressor" "$ncpu" "$@" -t "${secs}s" --metrics-brief >/tmp/"$stressor".out 2>&1
	ops=$(awk -v s="$stressor" '$2 == "metrc:" && $4 == s && $5 ~ /^[0-9]/ { print $9; exit }' /tmp/"$stressor".out)
	if [ -n "$ops" ]; then
		emit "$metric" "$ops"
	else
		emit error "no stress-ng --$stressor metrics: $(tail -n 3 /tmp/"$stressor".out | tr '\n' ' ')"
	fi
}

# Workload 3: context switches (stress-ng --switch, one pair per CPU), ops/s.
run_switch() { run_stress switch "$switch_s" switch_ops_s; }

# Workload 3b: file I/O (stress-ng --hdd, one writer per CPU, 4 MiB files
# in /tmp), ops/s. The guest's /tmp is a RAM file system: no write-back or
# journal threads run, so this shows what file I/O costs under each
# scheduler, not a disk's kernel threads.
run_io() { run_stress hdd "$io_s" hdd_ops_s --hdd-bytes 4M --temp-path /tmp; }

# Workload 4: what the scheduler process itself costs. A fixed hackbench
# run; the scheduler's CPU time, the decisions it made and its system calls
# (main thread, counted in the kernel by a tracefs histogram on
# raw_syscalls:sys_enter, no ptrace) over the run. And the CPU time of its
# BPF programs, which run in the kernel on every CPU in other tasks'
# context, not in the scheduler process's own time: the kernel's BPF run
# time statistics (kernel.bpf_stats_enabled, on from before the first
# round, see the rounds' loop), summed over the programs the scheduler process
# holds (cost_bpf_ms, cost_bpf_runs).
#   scx_relay: CPU time and decisions come from the same two answers of
#     `scx_relay ctl status`, before and after the run (cpu_ns,
#     dispatched_user), so they cover exactly the same interval.
#   scx_rustland: it asks the kernel for an idle CPU (one bpf() call,
#     BPF_PROG_TEST_RUN of rs_select_cpu) for every task it dispatches and
#     its counters miss the decisions for "any CPU", so its decisions are
#     its bpf() calls over the interval; CPU time from /proc schedstat.
#   scx_bpfland: decides in BPF only; its process's CPU time (statistics,
#     no decisions) and its BPF programs' time.
run_cost() {
	[ -n "$sched_pid" ] || return 0
	trigger="hist:keys=id:vals=hitcount if common_pid == $sched_pid"
	have_trace=
	[ -w "$TRACE/trigger" ] && echo "$trigger" >"$TRACE/trigger" 2>/dev/null && have_trace=1
	bpf0=$(bpf_cost "$sched_pid")
	case $sched in
	rustland | bpfland)
		c0=$(cpu_ns "$sched_pid")
		hackbench -g 4 -l "$cost_loops" >/dev/null 2>&1
		c1=$(cpu_ns "$sched_pid")
		;;
	*)
		a=$(relay_status)
		hackbench -g 4 -l "$cost_loops" >/dev/null 2>&1
		b=$(relay_status)
		emit_delta_at metrics.cpu_ns cost_cpu_ms 1000000
		emit_delta_at metrics.dispatched_user cost_decisions
		# <metric>:<the prof_ name the host reads>
		for pair in dispatch_calls:calls drains:drains drained:drained kicks:kicks usersched_runs:runs \
			steps:steps empty_steps:empty received:received queued:queued dispatched_kernel:kernel; do
			emit_delta_at "metrics.${pair%%:*}" "prof_${pair#*:}"
		done
		# Its BPF programs one by one (ctl status's bpf_programs, there
		# while the kernel counts): bpf_<program>_runs and _ns, the
		# sched_ext callbacks and the sched_switch tracepoint's program.
		for op in select_cpu enqueue dispatch runnable running stopping quiescent dequeue tick sched_switch; do
			emit_delta_at "bpf_programs.relay_$op.runs" "bpf_${op}_runs"
			emit_delta_at "bpf_programs.relay_$op.run_ns" "bpf_${op}_ns"
		done
		;;
	esac
	bpf1=$(bpf_cost "$sched_pid")
	if [ "$bpf_stats_armed" = 1 ]; then
		emit cost_bpf_ms "$(echo "$bpf0 $bpf1" | awk '{ printf "%.3f", ($3 - $1) / 1e6 }')"
		emit cost_bpf_runs "$(echo "$bpf0 $bpf1" | awk '{ printf "%.0f", $4 - $2 }')"
	fi
	if [ -n "$have_trace" ]; then
		# Lines look like "{ id:        321 } hitcount:       1234".
		awk '/hitcount:/ {
				for (i = 1; i < NF; i++) {
					if ($i == "id:") id = $(i + 1) + 0
					if ($i == "hitcount:") n = $(i + 1) + 0
				}
				total += n
				if (id == 321) bpf += n
				if (id == 24) yield += n
			}
			END { printf "%d %d %d\n", total, bpf, yield }' "$TRACE/hist" >/tmp/syscalls.out
		echo "!$trigger" >"$TRACE/trigger"
		read -r total bpf yield </tmp/syscalls.out
		emit cost_syscalls "$total"
		emit cost_bpf_calls "$bpf"
		emit cost_yields "$yield"
		[ "$sched" = rustland ] && emit cost_decisions "$bpf"
	fi
	case $sched in rustland | bpfland) emit cost_cpu_ms "$(awk "BEGIN { printf \"%.3f\", ($c1 - $c0) / 1e6 }")" ;; esac
	return 0
}

# Workload 5: weight fairness. The simulator's `nice` workload: hogs at
# nice -5, 0, 5 and 10, half as many of each as CPUs (two per CPU in all),
# free to run anywhere; share_probe's fair_share_index (Jain's index of each
# hog's CPU share over the fair class's share, scheduler_core::fair_share)
# and its worst ratio error (percent).
run_fairness() {
	per=$((ncpu / 2))
	[ "$per" -ge 1 ] || per=1
	specs=
	for nice in -5 0 5 10; do
		i=0
		while [ "$i" -lt "$per" ]; do
			specs="$specs $nice"
			i=$((i + 1))
		done
	done
	if ! share_probe "$fair_s" $specs >/tmp/shares 2>&1; then
		emit error "share_probe failed: $(tail -n 3 /tmp/shares | tr '\n' ' ')"
		return 0
	fi
	index=$(sed -n 's/.*fair_share_index \([0-9.]*\).*/\1/p' /tmp/shares)
	worst=$(sed -n 's/.*worst_ratio_error_pct \([0-9]*\).*/\1/p' /tmp/shares)
	[ -n "$index" ] && emit fair_share_index "$index"
	[ -n "$worst" ] && emit fair_worst_pct "$worst"
}

# Workload 6: frame pacing. frame_pacer's 60 Hz frame loop (frame_work_ms
# of CPU work a frame, SCHED_OTHER, nice 0) while stress-ng keeps every CPU
# busy and hackbench runs again and again beside it: the vsyncs it missed
# and its frame times (vsync to the frame's end).
run_frames() {
	stress-ng --cpu "$ncpu" -t $((frames_s + 5))s >/dev/null 2>&1 &
	stress_pid=$!
	: >/tmp/frames.load
	(while [ -e /tmp/frames.load ]; do hackbench -g 2 -l 100 >/dev/null 2>&1; done) &
	loop_pid=$!
	sleep 1
	a=$(relay_status)
	frame_pacer "$frames_s" 60 "$frame_work_ms" >/tmp/frames.out 2>&1
	b=$(relay_status)
	rm -f /tmp/frames.load
	kill "$stress_pid" 2>/dev/null
	wait "$stress_pid" "$loop_pid"
	line=$(grep '^frame_pacer: slots' /tmp/frames.out)
	if [ -z "$line" ]; then
		emit error "frame_pacer failed: $(tail -n 3 /tmp/frames.out | tr '\n' ' ')"
		return 0
	fi
	# frame_pacer: slots S frames F missed M p50_ms A p99_ms B max_ms C
	# shellcheck disable=SC2086
	set -- $line
	emit frame_slots "$3"
	emit frame_missed "$7"
	emit frame_p50_ms "$9"
	emit frame_p99_ms "${11}"
	emit frame_max_ms "${13}"
	# frame_pacer_worst: frames K wall_ms W cpu_ms C wait_ms R other_ms O runs N
	if line=$(grep '^frame_pacer_worst: frames' /tmp/frames.out); then
		# shellcheck disable=SC2086
		set -- $line
		emit frame_worst_cpu_ms "$7"
		emit frame_worst_wait_ms "$9"
		emit frame_worst_other_ms "${11}"
		emit frame_worst_runs "${13}"
	fi
	line=$(grep '^frame_pacer_worst_each: ' /tmp/frames.out) && note "round $round $sched: worst frames (vsync ms: frame/cpu/wait ms/runs): ${line#*: }"
	# The fast path over the frame loop's run (scx_relay's: nothing from
	# a scheduler that does not answer `ctl status`).
	for m in fast_placed fast_unplaced fast_left_usersched fast_left_fast fast_left_busy fast_deferred fast_overruns fast_revoked fast_grants; do
		emit_delta_at "metrics.$m" "frame_$m"
	done
}

# Workload 7 (scx_relay only): where a wakeup's time goes. The latency
# workload's load again, under `scx_relay record` (the scheduler restarted
# with the subcommand, then restarted without it for what follows); from
# `record-summary`'s wakeups: those a user decision placed, split at the
# decision (wakeup to decision applied, decision to running), and those the
# kernel placed (an idle CPU's fast path, kernel threads), percentiles in us.
run_profile() {
	case $sched in eevdf | eevdf-nohrtick | rustland | bpfland | baseline | baseline-fast) return 0 ;; esac
	rec=/tmp/bench-profile.rec
	stop_sched
	relay_sub="record -o $rec"
	start_sched || {
		relay_sub=
		start_sched
		return 0
	}
	a=$(relay_status)
	latency_load
	b=$(relay_status)
	stop_sched
	relay_sub=
	# The fast path during the load: wakeups it placed (those into the
	# local DSQ of the wakeup's own runqueue CPU, with no kick), those that
	# preempted a hog by the hog rule, those deferred until a task had
	# its minimum slice (or on the user scheduler's CPU: those chosen
	# there), the deferral timer's kicks, the deferred tasks
	# another CPU took over, and granted ones it could not place (of
	# them, those another fast task beat to the CPU), and, per CPU, why a
	# scan that found no CPU to take at once left each out; and the grants
	# revoked and written (a task without a valid grant goes through user
	# space).
	emit_delta_at metrics.fast_placed wake_fast_placed
	emit_delta_at metrics.fast_local wake_fast_local
	emit_delta_at metrics.fast_hog_preempts wake_fast_hog_preempts
	emit_delta_at metrics.fast_deferred wake_fast_deferred
	emit_delta_at metrics.fast_usersched_target wake_fast_usersched_target
	emit_delta_at metrics.fast_timer_kicks wake_fast_timer_kicks
	emit_delta_at metrics.fast_moved wake_fast_moved
	emit_delta_at metrics.fast_unplaced wake_fast_unplaced
	emit_delta_at metrics.fast_slot_taken wake_fast_slot_taken
	emit_delta_at metrics.fast_left_usersched wake_fast_left_usersched
	emit_delta_at metrics.fast_left_fast wake_fast_left_fast
	emit_delta_at metrics.fast_left_busy wake_fast_left_busy
	emit_delta_at metrics.fast_resumes wake_fast_resumes
	emit_delta_at metrics.fast_overruns wake_fast_overruns
	emit_delta_at metrics.fast_revoked wake_fast_revoked
	emit_delta_at metrics.fast_grants wake_fast_grants
	if scx_relay record-summary "$rec" >/tmp/profile.json 2>&1; then
		get() { json_get "wakeups.$1" </tmp/profile.json; }
		emit wake_user_n "$(get via_user_space.total.samples)"
		emit wake_kernel_n "$(get in_kernel.samples)"
		for step in to_decision decision_to_run total; do
			emit "wake_user_${step}_p50_us" "$(get via_user_space.$step.p50_us)"
			emit "wake_user_${step}_p99_us" "$(get via_user_space.$step.p99_us)"
		done
		emit wake_kernel_p50_us "$(get in_kernel.p50_us)"
		emit wake_kernel_p99_us "$(get in_kernel.p99_us)"
		# cyclictest's measuring thread (latency_load's pick, not the main
		# thread): its wakeups, each to its run, the wait for a CPU without
		# the timer's delivery, what the simulator's periodic task waits
		# (--sim-fidelity). Nothing without a wait that ended.
		ct_tid=
		read -r _ _ ct_tid </tmp/latency-wait.out 2>/dev/null
		ct() { json_get "wakeup_contexts.by_task.$ct_tid.wait.$1" </tmp/profile.json 2>/dev/null; }
		ct_n=$(ct samples)
		if [ -n "$ct_tid" ] && [ "${ct_n:-0}" -gt 0 ] 2>/dev/null; then
			emit wake_cyclictest_n "$ct_n"
			emit wake_cyclictest_p50_us "$(ct p50_us)"
			emit wake_cyclictest_p99_us "$(ct p99_us)"
			# Of those, the ones a user decision placed (not the fast path's).
			ctu() { json_get "wakeup_contexts.by_task.$ct_tid.via_user_space.$1" </tmp/profile.json 2>/dev/null; }
			ctu_n=$(ctu samples)
			emit wake_cyclictest_user_n "${ctu_n:-0}"
			if [ "${ctu_n:-0}" -gt 0 ] 2>/dev/null; then
				emit wake_cyclictest_user_p50_us "$(ctu p50_us)"
				emit wake_cyclictest_user_p99_us "$(ctu p99_us)"
			fi
			# Of those, the ones under a grant of its own (why each went
			# to user space: record's fast_miss events; the rest had no
			# grant), and its grants revoked.
			ctm() { json_get "wakeup_contexts.by_task.$ct_tid.fast_misses.$1" </tmp/profile.json 2>/dev/null || echo 0; }
			for why in revoked niced no_cpu slot_taken; do
				emit "wake_cyclictest_miss_$why" "$(ctm "$why")"
			done
			emit wake_cyclictest_revokes "$(json_get "wakeup_contexts.by_task.$ct_tid.fast_revokes" </tmp/profile.json 2>/dev/null || echo 0)"
		else
			note "round $round $sched: no recorded wait of cyclictest's thread (${ct_tid:-not found})"
		fi
		# Every grant revoked during the load: whose, why, what went over which bound.
		i=0
		while [ "$i" -lt 20 ] && rv_pid=$(json_get "fast_revokes.$i.pid" </tmp/profile.json 2>/dev/null); do
			rv() { json_get "fast_revokes.$i.$1" </tmp/profile.json 2>/dev/null; }
			note "round $round $sched: revoke at $(rv at_s) s of $rv_pid ($(rv comm)): $(rv why), $(rv used_us) us over $(rv bound_us) us"
			i=$((i + 1))
		done
	else
		emit error "record-summary failed: $(tail -n 3 /tmp/profile.json | tr '\n' ' ')"
	fi
	if [ "$round" = 1 ] && [ "$sched" = "$machine_rec" ] && [ -s "$rec" ]; then
		# As run/record.sh sends its recordings: the length, the lines,
		# an end marker (the host checks all three).
		echo "relay-blob-begin: machine $(wc -c <"$rec")"
		base64 "$rec" | sed 's/^/relay-blob: machine /'
		echo "relay-blob-end: machine"
	fi
	rm -f "$rec"
	start_sched
}

note "kernel $(uname -r), $ncpu CPUs; sched feature ${hrtick_default:-HRTICK unknown (no $FEATURES)}; rounds $rounds; schedulers: $schedulers; workloads: $workloads"
status=0
# Only for the workloads that read them (the timer events: latency; the
# BPF statistics: cost).
timer_trace_armed=0
case " $workloads " in *" latency "*) timer_trace_arm && timer_trace_armed=1 ;; esac
# The BPF run-time statistics, on for the whole run: switched on and off
# around the cost window, their static key's patch killed the guest on
# parallel vCPUs as the timer events' did (`Oops: int3` in
# __bpf_prog_exit, at 2154bba). On, they cost every BPF program run two
# clock reads in every workload: more for a scheduler that runs more
# programs per decision (scx_relay about 20, scx_rustland 11).
bpf_stats_armed=0
case " $workloads " in *" cost "*) echo 1 >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null && bpf_stats_armed=1 ;; esac
round=1
while [ "$round" -le "$rounds" ]; do
	# Rotate the order every round so that no scheduler always runs first.
	order=$(echo $schedulers | awk -v r="$round" '{ for (i = 0; i < NF; i++) printf "%s ", $(((i + r - 1) % NF) + 1) }')
	for sched in $order; do
		note "round $round: $sched"
		if ! start_sched; then
			status=1
			continue
		fi
		for workload in $workloads; do
			case $workload in
			hackbench) run_hackbench ;;
			latency) run_latency ;;
			switch) run_switch ;;
			io) run_io ;;
			cost) run_cost ;;
			fairness) run_fairness ;;
			frames) run_frames ;;
			profile) run_profile ;;
			*) emit error "unknown workload $workload" ;;
			esac
		done
		stop_sched || status=1
	done
	round=$((round + 1))
done
[ -z "$hrtick_default" ] || set_hrtick "$hrtick_default"
echo "relay-bench: done"
exit $status
