# Payload of `cargo xtask run --payload run/record.sh`: recordings of three
# workloads under `scx_relay record` (the default policy, deadline), for the
# simulator's replay (`scx_relay sim --replay FILE`) and its fidelity
# measurement (docs/simulator.md). Each recording comes out on the console
# as base64 between
#   relay-blob-begin: <name> <bytes>
#   relay-blob: <name> <base64 line>
#   relay-blob-end: <name>
# and the one-liner in docs/simulator.md writes them back to files from the
# boot's log. The workloads:
#   hackbench   hackbench -g 4 -l 200
#   stress-mix  stress-ng: 2 CPU hogs, a pipe pair, a fork storm, 10 s
#   periodic    cyclictest (SCHED_OTHER, 10 ms period, 1 thread) under 4
#               CPU hogs, 10 s
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

fail() {
	echo "demo: FAILED: $*"
	exit 1
}

# record_workload <name> <command...>: the command under `scx_relay record`,
# then the recording on the console.
record_workload() {
	name=$1
	shift
	file=/tmp/relay-$name.rec
	start_relay -- record -o "$file" --stats 1
	"$@" >/dev/null 2>&1 || fail "$name: $* exited with status $?"
	stop_relay
	scx_relay record-summary "$file" | sed "s/^/relay-summary: $name /"
	echo "relay-blob-begin: $name $(wc -c <"$file")"
	base64 "$file" | sed "s/^/relay-blob: $name /"
	echo "relay-blob-end: $name"
	rm -f "$file"
}

periodic() {
	stress-ng --cpu 4 -t 12 &
	hogs=$!
	sleep 1
	cyclictest -t1 -p0 -i 10000 -D 10 -q
	rc=$?
	wait $hogs
	return $rc
}

record_workload hackbench hackbench -g 4 -l 200
record_workload stress-mix stress-ng --cpu 2 --pipe 1 --fork 1 -t 10
record_workload periodic periodic
echo "demo: ok: three recordings"
