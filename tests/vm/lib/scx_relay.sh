# Helpers for the scx_relay guest cases (sourced after common.sh).
#
# The scheduler runs in the background with its output in $RELAY_LOG (its
# --stats lines, what the counters moved each interval, are for the eye).
# The counters are read as JSON: `scx_relay ctl status` answers
#   {"policy":"deadline","metrics":{"queued":10,"voided":0,"dispatched_user":7,...}}
# (totals since the session started, named as `scx_relay --help-stats`
# lists them), and json_get (guest-tools) reads a field of it: stat_of,
# counter and the workload_* helpers take those names.

RELAY_LOG=/tmp/scx_relay-$RELAY_TEST_NAME.log
SCX=/sys/kernel/sched_ext

# Wait up to $2 seconds for sched_ext's state to read $1; prints the seconds
# it took. Returns 1 on timeout, or as soon as process $3 (if given) is gone.
wait_state() {
	want=$1
	limit=$2
	watch=$3
	state_t0=$(cut -d' ' -f1 /proc/uptime)
	while :; do
		[ "$(cat $SCX/state 2>/dev/null)" = "$want" ] && break
		[ -n "$watch" ] && ! alive "$watch" && return 1
		state_t=$(cut -d' ' -f1 /proc/uptime)
		if awk "BEGIN { exit !($state_t - $state_t0 > $limit) }"; then
			return 1
		fi
		sleep 0.2
	done
	state_t=$(cut -d' ' -f1 /proc/uptime)
	awk "BEGIN { printf \"%.1f\", $state_t - $state_t0 }"
	return 0
}

# Print the scheduler's log and the kernel's sched_ext lines, then fail.
# When the kernel is ejecting or has ejected scx_relay, also give scx_relay
# up to 60 s (an unload under emulation can take that long) to report the
# exit, and print what its log gained: the kernel's debug dump and its last
# counters. The reason is printed first, so a case timeout meanwhile still
# leaves it in the log.
fail_with_log() {
	note "failing: $*"
	# RELAY_ON_FAIL: a command a case runs then (reliability_ext_server_trace).
	${RELAY_ON_FAIL:-:}
	note "scx_relay output:"
	cat "$RELAY_LOG"
	if [ -n "$RELAY_PID" ] && relay_alive && [ "$(cat $SCX/state 2>/dev/null)" != enabled ]; then
		kill -CONT "$RELAY_PID" 2>/dev/null
		shown=$(wc -l <"$RELAY_LOG")
		wait_state disabled 60 "$RELAY_PID" >/dev/null
		t=0
		while relay_alive && [ "$t" -lt 20 ]; do
			sleep 0.5
			t=$((t + 1))
		done
		note "scx_relay output since (its exit report):"
		tail -n +$((shown + 1)) "$RELAY_LOG"
	fi
	dmesg | grep -i 'sched_ext' | tail -n 20
	fail "$@"
}

# show_kernel_stacks <why>: what the kernel is doing while something waits
# (an enable that does not finish, an unload that does not return): the
# sched_ext state, the kernel stack of every task that is running or waiting
# uninterruptibly, any task an RCU stall report names as a blocked reader
# (with its priority and CPU time), and the kernel's last sched_ext and rcu
# lines.
show_kernel_stacks() {
	note "kernel stacks ($1): sched_ext state '$(cat $SCX/state 2>/dev/null)' at $(cut -d' ' -f1 /proc/uptime) s"
	for t in /proc/[0-9]*/task/[0-9]*; do
		st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$t/status" 2>/dev/null)
		case "$st" in R | D) ;; *) continue ;; esac
		# Fields after the ")" closing the name: 37 is the CPU, 39 the policy.
		note "kernel stacks: task ${t##*/} ($(cat "$t/comm" 2>/dev/null)) state $st cpu/policy $(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $37 "/" $39}'):"
		sed 's/^/    /' "$t/stack" 2>/dev/null
	done
	# Tasks an RCU stall report names as blocked readers ("P56/1:b..l").
	for pid in $(dmesg | sed -n 's/.*rcu_node.*: \(.*\)/\1/p' | grep -o 'P[0-9]*' | tr -d P | sort -u); do
		note "kernel stacks: rcu-blocked task $pid ($(cat /proc/$pid/comm 2>/dev/null)) $(grep -E '^(State|Cpus_allowed_list)' /proc/$pid/status 2>/dev/null | tr '\n' ' ')"
		sed 's/^/    /' /proc/$pid/stack 2>/dev/null
		grep -E '^(policy|prio|se.exec_start|se.sum_exec_runtime|nr_switches)' /proc/$pid/sched 2>/dev/null | sed 's/^/    /'
	done
	dmesg | grep -E 'sched_ext|rcu' | tail -n 10
}

# alive <pid>: whether the process still runs (one that exited but was not
# waited for yet is a zombie, which kill -0 still finds).
alive() {
	kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# Whether scx_relay still runs.
relay_alive() {
	alive "$RELAY_PID"
}

# start_relay <wrapper...> -- <scx_relay args...>: start scx_relay in the
# background (optionally under a wrapper such as `timeout 45`), wait until
# sched_ext is enabled with it as the root scheduler and scx_relay printed
# its start-up line (its loop is about to take its first step). Sets
# RELAY_PID.
start_relay() {
	wrapper=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		wrapper="$wrapper $1"
		shift
	done
	[ "$1" = -- ] && shift
	[ -x /bin/scx_relay ] || fail "/bin/scx_relay is not in the guest (cargo build --release -p scx_relay)"
	# shellcheck disable=SC2086
	$wrapper scx_relay "$@" >"$RELAY_LOG" 2>&1 &
	RELAY_PID=$!
	took=$(wait_state enabled 60 "$RELAY_PID") ||
		fail_with_log "sched_ext state is '$(cat $SCX/state)', expected enabled (scx_relay running: $(kill -0 $RELAY_PID 2>/dev/null && echo yes || echo no))"
	ops=$(cat $SCX/root/ops 2>/dev/null)
	case "$ops" in
	scx_relay*) ;;
	*) fail_with_log "root/ops is '$ops', expected scx_relay" ;;
	esac
	start_t0=$(cut -d' ' -f1 /proc/uptime)
	wait_scheduling ""
	note "enabled after ${took}s as $ops, scheduling $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $start_t0 }")s later"
}

# wait_scheduling <what>: wait (up to 10 s) for scx_relay's start-up line
# ("scx_relay: scheduling <what> ..."), which it prints once attached (its
# memory locked and prefaulted before, mlockall) and, with --partial, in
# SCHED_EXT: measure its memory or its loop from then on, not from
# `enabled`.
wait_scheduling() {
	# Its own counter's name: callers loop with i.
	wait_tries=0
	until grep -q "scx_relay: scheduling $1" "$RELAY_LOG"; do
		wait_tries=$((wait_tries + 1))
		[ "$wait_tries" -le 50 ] || fail_with_log "no start-up line ('scx_relay: scheduling $1') within 10 s"
		relay_alive || fail_with_log "scx_relay exited"
		sleep 0.2
	done
}

# start_relay_partial: start_relay -- --partial --stats 1, then wait for
# the start-up line, which comes once the user scheduler joined SCHED_EXT.
start_relay_partial() {
	start_relay -- --partial --stats 1
	wait_scheduling "SCHED_EXT tasks on"
}

# stat_of <metric>: the running scheduler's total of <metric> now (queued
# voided dispatched_user dispatched_kernel fallback rescued aged overdue
# keepalive reenqueued bounced stale vtime_clamped congested stalls stalled
# invalid redirected cgroup_unresolved page_faults loop_allocs
# usersched_kicked usersched_kicked_astray ...: `scx_relay --help-stats`);
# empty (and a note why) when it cannot be read.
stat_of() {
	counter "$(scx_relay ctl status 2>&1)" "$1"
}

# counter <status> <metric>: <metric> in a `scx_relay ctl status` answer
# (FRESH_STATS, WORKLOAD_BEFORE); empty (and a note why) if not there.
counter() {
	printf '%s\n' "$1" | json_get "metrics.$2" 2>/dev/null || {
		note "no metric $2 in the scheduler's status: $1" >&2
		return 1
	}
}

# fresh_stats: set FRESH_STATS to the scheduler's status now (`scx_relay
# ctl status`: JSON, its totals since the session started). Counters read
# this way bracket a workload. Fails the case if the scheduler does not
# answer with its metrics. (A variable, not output: a failure inside
# $(...) would lose its reason.)
fresh_stats() {
	FRESH_STATS=$(scx_relay ctl status 2>&1) ||
		fail_with_log "scx_relay ctl status failed: $FRESH_STATS"
	printf '%s\n' "$FRESH_STATS" | json_get metrics.queued >/dev/null 2>&1 ||
		fail_with_log "no metrics in scx_relay ctl status: $FRESH_STATS"
}

# workload_begins: note the counters before a workload (WORKLOAD_BEFORE).
workload_begins() {
	fresh_stats
	WORKLOAD_BEFORE=$FRESH_STATS
}

# workload_ended [what]: fail unless scx_relay did the work of the workload
# that ran since workload_begins: its user dispatches went up meanwhile, and
# the safety nets never fired (fallback, rescued and stalls are 0 since the
# scheduler was loaded: no fault was injected, so none may be needed), and
# no decision's vtime had to be clamped (vtime_clamped is 0 since load).
# Prints the deltas of the counters.
workload_ended() {
	workload_deltas "${1:-workload}" queued voided dispatched_user dispatched_kernel fallback rescued aged overdue reenqueued stalls
	[ "$DELTA_dispatched_user" -gt 0 ] || fail_with_log "${1:-workload}: no user dispatches during it"
	# vtime_clamped: no honest policy sends a vtime the dispatcher must clamp.
	for key in fallback rescued stalls vtime_clamped; do
		v=$(counter "$FRESH_STATS" "$key")
		[ "$v" = 0 ] || fail_with_log "${1:-workload}: $key is $v, expected 0 (no fault was injected)"
	done
}

# workload_deltas <what> <metric...>: read the status again and note how
# much each metric grew since workload_begins; sets DELTA_<metric>.
workload_deltas() {
	what=$1
	shift
	fresh_stats
	delta=
	for key in "$@"; do
		now=$(counter "$FRESH_STATS" "$key") || fail_with_log "$what: no metric $key"
		was=$(counter "$WORKLOAD_BEFORE" "$key") || fail_with_log "$what: no metric $key"
		d=$((now - was))
		eval "DELTA_$key=$d"
		delta="$delta $key +$d"
	done
	note "$what: counters during it:$delta"
}

# sleepers <what> <wrapper...>: one task per CPU, started under
# <wrapper...> (run_ext, chrt -o 0), each sleeping 50 ms and waking twice;
# waits for them (the case fails if one fails) and notes how long it took.
sleepers() {
	what=$1
	shift
	t0=$(cut -d' ' -f1 /proc/uptime)
	pids=
	for _ in $(seq 1 "$(nproc)"); do
		"$@" sh -c 'n=0; while [ $n -lt 2 ]; do sleep 0.05; n=$((n + 1)); done' &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid" || fail_with_log "$what: a task exited with status $?"
	done
	note "$what: $(nproc) tasks (two 50 ms sleeps each) took $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }")s"
}

# Wait for scx_relay to exit; sets RELAY_STATUS.
wait_relay() {
	wait "$RELAY_PID"
	RELAY_STATUS=$?
}

# stop_relay [pid]: end the case's scx_relay with SIGINT (to <pid>, default
# RELAY_PID: under a wrapper such as unshare, the scx_relay process itself),
# wait for it, print what it said, and fail unless it exited 0 and sched_ext
# was disabled within 60 s after. Sets TOOK to those seconds.
stop_relay() {
	kill -INT "${1:-$RELAY_PID}"
	wait_relay
	show_relay
	[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS after SIGINT"
	TOOK=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' 60 s after scx_relay exited"
}

# Print the last stats line (what moved in the last interval), the rest of
# the log (the session's totals among it), and the kernel's sched_ext
# messages.
show_relay() {
	grep 'scx_relay stats:' "$RELAY_LOG" | tail -n 1
	grep -v 'scx_relay stats:' "$RELAY_LOG"
	dmesg | grep 'sched_ext:' | tail -n 10
}

# policy_args <name>: scx_relay's options for running policy <name>;
# "routing" runs a routing configuration (stress-ng's CPU hogs under
# `local`, its other tasks under `eevdf`, everything else under `deadline`);
# "<policy>-fast" runs <policy> with the wakeup fast path (`--fast-path`),
# as bench-vm's `deadline-fast` does. Any other name (a bare "-fast", or
# "routing-fast": routing is a configuration, not a policy) goes to
# --policy as it is, which scx_relay refuses as an unknown policy.
policy_args() {
	policy_args_base=${1%-fast}
	if [ -n "$policy_args_base" ] && [ "$policy_args_base" != "$1" ] && [ "$policy_args_base" != routing ]; then
		echo "--policy $policy_args_base --fast-path"
	elif [ "$1" = routing ]; then
		printf '%s\n' '[default]' 'policy = "deadline"' '' '[[route]]' 'name = "stress-cpu"' \
			'policy = "local"' 'comm = "stress-ng-cpu*"' 'share = 100' '' '[[route]]' 'name = "stress"' \
			'policy = "eevdf"' 'comm = "stress-ng*"' 'share = 200' >/tmp/relay-routes.toml
		echo "--config /tmp/relay-routes.toml"
	else
		echo "--policy $1"
	fi
}

# stress_recipe <policy>: upstream's CI recipe under scx_relay: it loads
# (state enabled, root/ops names it), schedules the recipe under a 45 s
# timeout with user dispatches going up during the recipe and no safety net
# firing, and exits 0 on the timeout's SIGTERM. Returns (after fail_with_log
# output) 1 instead of ending the case when RECIPE_NO_EXIT is set.
# The kernel's sched_ext watchdog under the fork storms of upstream's stress
# recipe and of the soak: the kernel's own default, 30 s (SCX_TIMEOUT_MS,
# which scx_utils' scx_ops_open! reads, as for every upstream scheduler),
# not scx_relay's 5 s. Under these loads a vCPU of the single-threaded TCG
# guest was seen not to switch tasks for 6.3 s (its running task in the
# kernel, in fork, with its slice 0) and for 23 s (the kernel's own "soft
# lockup" report, in copy_process), with tasks pinned to it waiting: no
# scheduler can run a task on a CPU that does not schedule, and the kernel
# ejected scx_relay in three CI runs ("stress-ng-affin[10046] failed to
# run for 6.316s"). A wait of ours past 30 s still ejects, and the kernel's
# soft-lockup and RCU-stall reports still fail the run (docs/testing.md).
STRESS_WATCHDOG_MS=30000

stress_recipe() {
	N=$(nproc)
	# busybox timeout execs the program itself, so its exit status is
	# scx_relay's own (what GNU timeout --preserve-status gives); env execs
	# it too.
	# shellcheck disable=SC2046 # the options are words
	start_relay timeout -s TERM 45 env SCX_TIMEOUT_MS=$STRESS_WATCHDOG_MS -- $(policy_args "$1") --stats 1
	workload_begins
	check "stress-ng recipe ($1)" stress-ng -t 31 --aggressive -M -c "$N" -f "$N" --affinity 1 --affinity-delay 1 --affinity-pin
	workload_ended "stress-ng recipe ($1)"
	wait_relay
	show_relay
	[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "$1: scx_relay exited with status $RELAY_STATUS"
	wait_state disabled 60 >/dev/null || fail_with_log "$1: state is '$(cat $SCX/state)' after scx_relay exited"
}

# Real-kernel test 1 for policy $1: stress_recipe, then pass.
stress_recipe_case() {
	stress_recipe "$1"
	pass
}
