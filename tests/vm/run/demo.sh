# Payload of `cargo xtask run`: show the guest kernel's sched_ext state and
# run a short stress-ng + hackbench mix; when the scx_relay binary was built
# (target/release/scx_relay, copied to /bin/scx_relay), run the mix under it.
#
# Knobs (kernel command line, set by `cargo xtask run`):
#   relay.demo_seconds=N   length of the stress-ng run (default 10)

seconds=${RELAY_DEMO_SECONDS:-10}
# scx_relay's options for the demo: print statistics every second.
scx_relay_args="--stats 1"
state() { cat /sys/kernel/sched_ext/state 2>/dev/null || echo "absent (no sched_ext)"; }
elapsed() { awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $1 }"; }

echo "demo: kernel $(uname -r), $(nproc) CPUs"
echo "demo: sched_ext state: $(state)"
[ -e /sys/kernel/sched_ext/root/ops ] && echo "demo: sched_ext ops: $(cat /sys/kernel/sched_ext/root/ops)"

# --- Start the scheduler, if it is in the image. ----------------------------
# It runs under `timeout` so it can never outlive the demo, and prints its
# statistics every second (--stats 1) to the console alongside the workload.
sched_pid=
if [ -x /bin/scx_relay ]; then
	echo "demo: starting scx_relay $scx_relay_args"
	# shellcheck disable=SC2086 # word splitting of the options is intended
	timeout $((seconds + 60)) scx_relay $scx_relay_args &
	sched_pid=$!
	# Wait (up to 30 s) for the kernel to switch to it.
	i=0
	while [ "$(state)" != enabled ] && [ $i -lt 30 ] && kill -0 "$sched_pid" 2>/dev/null; do
		sleep 1
		i=$((i + 1))
	done
	echo "demo: sched_ext state after starting scx_relay: $(state)"
	[ -e /sys/kernel/sched_ext/root/ops ] && echo "demo: sched_ext ops: $(cat /sys/kernel/sched_ext/root/ops)"
else
	echo "demo: /bin/scx_relay not in the image (build it with: cargo build --release -p scx_relay); running the workload on the default scheduler"
fi

# --- The workload. -----------------------------------------------------------
status=0
t0=$(cut -d' ' -f1 /proc/uptime)
echo "demo: stress-ng --cpu $(nproc) --switch 2 -t ${seconds}s --metrics-brief, with hackbench alongside"
stress-ng --cpu "$(nproc)" --switch 2 -t "${seconds}s" --metrics-brief &
stress_pid=$!
hackbench -g 4 -l 200 || status=1
echo "demo: hackbench done after $(elapsed "$t0")s"
wait "$stress_pid" || status=1
echo "demo: stress-ng done after $(elapsed "$t0")s (status so far: $status)"

# --- Stop the scheduler. -----------------------------------------------------
# SIGINT asks scx_relay to unregister and exit 0; the kernel then goes back
# to the fair class. Unloading under emulation can take tens of seconds.
if [ -n "$sched_pid" ]; then
	if kill -0 "$sched_pid" 2>/dev/null; then
		t1=$(cut -d' ' -f1 /proc/uptime)
		kill -INT "$sched_pid"
		wait "$sched_pid"
		rc=$?
		echo "demo: scx_relay exited with status $rc, $(elapsed "$t1")s after SIGINT"
	else
		wait "$sched_pid"
		rc=$?
		echo "demo: scx_relay had already exited with status $rc"
	fi
	[ "$rc" -eq 0 ] || status=1
	echo "demo: sched_ext state after stopping scx_relay: $(state)"
fi

exit "$status"
