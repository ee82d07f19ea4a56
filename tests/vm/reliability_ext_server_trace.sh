# reliability_rt_pressure's two phases 8 times in a row, with the kernel's
# ext deadline server traced (a long case: `cargo xtask vm-test --long
# reliability_ext_server_trace`, about 4 minutes here). Fails like that case,
# on an ejection; either way it prints, per CPU, the server's empty picks
# and the hazardous ones among them: picks that found nothing while tasks
# of ours were still counted on the runqueue. The server stops on such a
# pick (kernel/sched/deadline.c, the state diagram above dl_server_start(),
# step 4), and only an enqueue that takes the count from 0 to 1 starts it
# again (ext.c enqueue_task_scx()), so a pinned kthread enqueued before the
# count drops waits there until the higher-class load ends: the ejection
# this case's parent saw in 2 of 9 runs (docs/reliability.md). Each
# hazardous pick is printed with the context switches around it.
#
# Events (tracefs, needs the kernel's fprobe events with BTF arguments):
# - exe: ext_server_pick_task()'s return when it returned no task, with the
#   runqueue's count of our tasks (nr), of all its tasks (nrq) and the
#   local DSQ's depth (ldsq);
# - dls: dl_server_start() called on a stopped server (the restarts);
# - sched:sched_switch.
T=/sys/kernel/tracing
RT_PRESSURE_ROUNDS=8

trace_begin() {
	# "1408", or "7 (expanded: 1408)" before the buffer was first used.
	BUFFER_KB=$(sed 's/.*expanded: \([0-9]*\)).*/\1/; s/ .*//' $T/buffer_size_kb)
	echo 16384 >$T/buffer_size_kb
	echo 'f:exe ext_server_pick_task%return ret=$retval nr=dl_se->rq->scx.nr_running nrq=dl_se->rq->nr_running ldsq=dl_se->rq->scx.local_dsq.nr' >>$T/dynamic_events ||
		fail "cannot trace ext_server_pick_task's return (fprobe events with BTF arguments)"
	echo 'p:dls dl_server_start dl_se active=dl_se->dl_server_active' >>$T/dynamic_events ||
		fail "cannot trace dl_server_start"
	echo 'ret==0' >$T/events/fprobes/exe/filter
	echo 'active==0' >$T/events/kprobes/dls/filter
	echo 1 >$T/events/fprobes/exe/enable
	echo 1 >$T/events/kprobes/dls/enable
	echo 1 >$T/events/sched/sched_switch/enable
	echo 1 >$T/tracing_on
}

# Prints the report and leaves tracefs as it was (events off and removed,
# the buffer size it had); once: it is also the failure hook.
trace_report() {
	RELAY_ON_FAIL=
	echo 0 >$T/tracing_on
	for c in $(seq 0 $(($(nproc) - 1))); do
		f=$T/per_cpu/cpu$c/trace
		note "cpu$c: server restarts $(grep -c ' dls:' $f), empty picks $(grep -c ' exe:' $f), with tasks of ours counted $(grep ' exe:' $f | grep -vc ' nr=0 ')"
		grep -v '^#' $f | grep -B4 -A4 -E ' exe:.* nr=[1-9]' | sed "s/^/cpu$c| /"
	done
	echo 0 >$T/events/sched/sched_switch/enable
	echo 0 >$T/events/fprobes/exe/enable
	echo 0 >$T/events/kprobes/dls/enable
	echo '-:fprobes/exe' >>$T/dynamic_events
	echo '-:kprobes/dls' >>$T/dynamic_events
	echo >$T/trace
	echo "${BUFFER_KB:-1408}" >$T/buffer_size_kb
}

RT_PRESSURE_TRACE_BEGIN=trace_begin
RT_PRESSURE_TRACE_END=trace_report
RELAY_ON_FAIL=trace_report
. /relay/reliability_rt_pressure.sh
