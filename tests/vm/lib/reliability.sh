# Helpers for the reliability cases (sourced after common.sh and
# scx_relay.sh): kernel messages since the case started, the scheduler's
# memory, and workloads whose completions are counted.

# Kernel uptime (s) when the case sourced this file: dmesg_since reads the
# kernel's messages from here on (earlier cases of the boot eject on purpose).
CASE_T0=$(cut -d' ' -f1 /proc/uptime)
DONE_DIR=/tmp/relay-done-$RELAY_TEST_NAME
rm -rf "$DONE_DIR"
mkdir -p "$DONE_DIR"

# The kernel's messages stamped after CASE_T0.
dmesg_since() {
	dmesg | awk -v t0="$CASE_T0" '{
		s = $0
		sub(/^\[ */, "", s)
		split(s, a, "]")
		if (a[1] + 0 >= t0 + 0) print
	}'
}

# ejections_since [allowed]: the sched_ext lines since CASE_T0 that report
# an ejection or a stall: anything disabling the scheduler other than its
# own unregistration, and lines matching the extended regex [allowed]
# (the hotplug case allows the kernel's restart requests).
ejections_since() {
	dmesg_since | grep 'sched_ext:' | grep -iE 'stall|error|disabled \(' |
		grep -vE "unregistered from user space${1:+|$1}"
}

# fail_if_ejected <when> [allowed]: fail the case if the kernel ejected the
# scheduler or reported a stall since CASE_T0 (see ejections_since).
fail_if_ejected() {
	bad=$(ejections_since "$2")
	[ -z "$bad" ] || fail_with_log "$1: the kernel reported: $(echo "$bad" | head -n 3 | tr '\n' ' ')"
}

# rss_kb <pid>: resident memory of a process (VmRSS, kB).
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# thread_faults <pid>: one line per thread of the process: "tid comm faults"
# (minor + major page faults of the thread since it started).
thread_faults() {
	for d in /proc/"$1"/task/*; do
		s=$(cat "$d/stat" 2>/dev/null) || continue
		# Fields after the command name: state ppid pgrp session tty tpgid
		# flags minflt cminflt majflt.
		set -- ${s##*)}
		echo "${d##*/} $(cat "$d/comm" 2>/dev/null) $(($8 + ${10}))"
	done
}

# shipped_policies: the policy names scx_relay ships, as its own error line
# lists them ("... (valid: fifo, deadline)").
shipped_policies() {
	scx_relay --policy '?' 2>&1 | sed -n 's/.*(valid: \(.*\)).*/\1/p' | tr -d ','
}

# counted <tag> <command...>: run the command in the background; when it
# exits 0 it leaves a file in DONE_DIR. Tags count completions.
COUNTED_SEQ=0
counted() {
	tag=$1
	shift
	COUNTED_SEQ=$((COUNTED_SEQ + 1))
	seq_no=$COUNTED_SEQ
	(
		"$@" >/dev/null 2>&1 && touch "$DONE_DIR/$tag.$seq_no"
	) &
}

# done_count [tag]: completions so far (of one tag, or all).
done_count() {
	if [ -n "$1" ]; then
		ls "$DONE_DIR" 2>/dev/null | grep -c "^$1\."
	else
		ls "$DONE_DIR" 2>/dev/null | grep -c .
	fi
}

# wait_done <n> <seconds> [tag]: wait until <n> completions; 1 on timeout.
wait_done() {
	i=0
	while [ "$(done_count "$3")" -lt "$1" ]; do
		i=$((i + 1))
		[ "$i" -le $(($2 * 5)) ] || return 1
		sleep 0.2
	done
	return 0
}

# spin <n>: a CPU-bound shell loop of <n> iterations (a task that must be
# scheduled to finish).
spin() {
	i=0
	while [ "$i" -lt "$1" ]; do i=$((i + 1)); done
}
