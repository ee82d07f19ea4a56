# THROWAWAY (not committed): per-CPU idle share and timer interrupts under
# cyclictest + one hog per CPU, with and without scx_relay in charge.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
ncpu=$(nproc)
bpfstat() { # per bpf prog of $RELAY_PID: id cnt ns
	[ -n "$RELAY_PID" ] || return 0
	for f in /proc/$RELAY_PID/fdinfo/*; do
		awk '/^prog_id:/ { id = $2 } /^run_time_ns:/ { t = $2 } /^run_cnt:/ { c = $2 } END { if (id) printf "p%s:%s:%s ", id, c, t }' "$f" 2>/dev/null
	done
}
snap() { # idle jiffies per cpu, LOC per cpu, ctxt
	awk '/^cpu[0-9]/ { printf "%s ", $5 + $6 } /^ctxt/ { c = $2 } END { printf "| ctxt %s ", c }' /proc/stat
	awk '$1 == "LOC:" || $1 == "RES:" || $1 == "CAL:" || $1 == "IWI:" { printf "%s ", $0 }' /proc/interrupts | tr -s ' '
}
phase() {
	stress-ng --cpu "$ncpu" -t 11s >/dev/null 2>&1 &
	sp=$!
	sleep 1
	cyclictest -q -D 8 -i 1000 -t 1 -h 50000 --policy=other >/tmp/ct.out 2>&1 &
	cp=$!
	sleep 1
	ba=$(bpfstat)
	a=$(snap); t0=$(cut -d' ' -f1 /proc/uptime)
	sleep 6
	b=$(snap); t1=$(cut -d' ' -f1 /proc/uptime)
	bb=$(bpfstat)
	wait $cp; kill $sp 2>/dev/null; wait $sp
	note "$1: before: $a"
	note "$1: after ($t0 -> $t1): $b"
	note "$1: bpf before: $ba"
	note "$1: bpf after: $bb"
	note "$1: cyclictest $(grep 'Avg Lat' /tmp/ct.out)"
}
sysctl -w kernel.bpf_stats_enabled=1 || echo 1 > /proc/sys/kernel/bpf_stats_enabled
phase no-scx
start_relay -- --stats 1
phase scx_relay-deadline
stop_relay
start_relay -- --policy fifo
phase scx_relay-fifo
stop_relay
RELAY_PID=
phase no-scx-again
pass
