# Ejection with the kernel's debug dump: --test-eject-after-ms makes the
# dispatcher call scx_bpf_error() after 3 s of scheduling one hog per CPU and
# a hackbench. scx_relay must exit 1 naming the error; its exit report must
# carry the dump (--exit-dump-len 65536) with the dispatcher's lines: the
# global ones (queued ..., pending ... stalled ...), one per CPU with its DSQ
# depth, and one per task with its generation and custody; the kernel must
# report that ejection and go back to `disabled`. A second ejection with
# --exit-dump-len 2048 must give a dump the kernel cut short at 2048 bytes
# (the length reaches the kernel). Then scx_relay starts normally, schedules
# a hackbench through user space and unloads on SIGINT with exit 0.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

REQUESTED='test: ejection requested by --test-eject-after-ms'
DUMP=/tmp/relay-exit-dump

# eject <dump length> <ms>: start scx_relay ejecting itself after <ms>,
# wait for it, check its status and reason, and leave its dump in $DUMP.
eject() {
	start_relay -- --exit-dump-len "$1" --test-eject-after-ms "$2" --stats 1
	hackbench -g 1 -l 200 >/dev/null 2>&1 &
	bench=$!
	i=0
	while relay_alive; do
		i=$((i + 1))
		[ "$i" -le 150 ] || fail_with_log "--exit-dump-len $1: scx_relay still runs 30 s after it started, $2 ms ejection requested"
		sleep 0.2
	done
	wait_relay
	wait "$bench"
	note "--exit-dump-len $1: scx_relay exited with status $RELAY_STATUS"
	[ "$RELAY_STATUS" -eq 1 ] || fail_with_log "scx_relay exited with status $RELAY_STATUS after the requested ejection, expected 1"
	grep "scx_relay: ejected by the kernel: " "$RELAY_LOG"
	# The kernel puts the source location before the message.
	grep -q "scx_relay: ejected by the kernel: scx_bpf_error (.*$REQUESTED)\$" "$RELAY_LOG" ||
		fail_with_log "the report does not name the error"
	# The dump: what follows its heading, up to the report's last line.
	sed -n '/scx_relay: kernel debug dump:$/,/scx_relay: ejected by the kernel: /p' "$RELAY_LOG" |
		sed '1d;$d' >"$DUMP"
	[ -s "$DUMP" ] || fail_with_log "--exit-dump-len $1: no kernel debug dump in the report"
	took=$(wait_state disabled 60) || fail_with_log "state is '$(cat $SCX/state)' after the ejection"
	note "--exit-dump-len $1: dump of $(wc -c <"$DUMP") bytes, $(wc -l <"$DUMP") lines; disabled ${took}s after the exit"
}

N=$(nproc)
stress-ng -c "$N" -t 60 >/dev/null 2>&1 &
hogs=$!

eject 65536 3000
grep -E '^scx_relay: (queued|pending) |^ *scx_relay: cpu ' "$DUMP"
grep -E '^ *scx_relay: generation ' "$DUMP" | head -n 6
grep -qE '^scx_relay: queued [0-9]+ user [0-9]+ ' "$DUMP" || fail_with_log "no global counters line in the dump"
grep -qE '^scx_relay: pending [0-9]+ user_pending [0-9]+ stalled [01] ' "$DUMP" ||
	fail_with_log "no pending / stall state line in the dump"
for cpu in $(seq 0 $((N - 1))); do
	grep -qE "^ *scx_relay: cpu $cpu dsq [0-9]+ " "$DUMP" || fail_with_log "no line for cpu $cpu in the dump"
done
tasks=$(grep -cE '^ *scx_relay: generation [0-9]+ custody (user|cpu [0-9]+ dsq|shared dsq|usersched dsq|kthread dsq|kernel) waiting ' "$DUMP")
[ "$tasks" -gt 0 ] || fail_with_log "no task line (generation, custody) in the dump"
note "task lines: $tasks; custody: $(sed -n 's/^ *scx_relay: generation [0-9]* custody \(.*\) waiting .*/\1/p' "$DUMP" |
	sed 's/cpu [0-9]* dsq/cpu dsq/' | sort | uniq -c | awk '{ printf "%s%s %s", sep, $2 ($3 ? " " $3 : ""), $1; sep = ", " }')"
grep -q 'TRUNCATED' "$DUMP" && note "the 65536-byte dump was cut short"
kernel=$(dmesg_since | grep 'sched_ext:')
echo "$kernel"
echo "$kernel" | grep -q 'disabled (scx_bpf_error)' || fail_with_log "the kernel did not report the ejection"
echo "$kernel" | grep -q "sched_ext: scx_relay.*: $REQUESTED" || fail_with_log "the kernel did not report the requested error"

eject 2048 1500
grep -q '~~~~ TRUNCATED ~~~~' "$DUMP" || fail_with_log "the 2048-byte dump was not cut short"
# 2047 bytes and the NUL at most, printed with a newline.
[ "$(wc -c <"$DUMP")" -le 2048 ] || fail_with_log "the 2048-byte dump has $(wc -c <"$DUMP") bytes"

kill "$hogs"
wait "$hogs"
start_relay -- --stats 1
workload_begins
check "hackbench after the ejections" hackbench -g 2 -l 100
workload_ended hackbench
stop_relay
pass
