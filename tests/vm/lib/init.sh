#!/bin/sh
# /init of the scx_relay test guest (busybox sh, PID 1).
#
# Console protocol, read by xtask/src/console.rs:
#   relay-guest: start        once user space is up
#   ... payload output ...
#   relay-guest: exit <N>     exactly once, last; N is the payload's status
# then the guest powers off (QEMU runs with -no-reboot and exits).
#
# The payload is named on the kernel command line: relay.payload=<path>,
# relative to /relay (the tests/vm/ tree), e.g. lib/run-cases.sh or
# run/demo.sh. Every relay.<key>=<value> parameter is also exported as
# RELAY_<KEY> (upper case) for the payload.

export PATH=/bin
export HOME=/root
export TERM=dumb

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# stdio on the console (the initramfs holds a /dev/console node, but be
# sure now that devtmpfs is mounted).
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
hostname relay-guest
ip link set lo up 2>/dev/null

payload=
for word in $(cat /proc/cmdline); do
	case "$word" in
	relay.payload=*) payload=${word#relay.payload=} ;;
	relay.*=*)
		kv=${word#relay.}
		key=$(echo "${kv%%=*}" | tr 'a-z.-' 'A-Z__')
		export "RELAY_$key=${kv#*=}"
		;;
	esac
done

echo "relay-guest: start"
if [ -z "$payload" ]; then
	echo "relay-guest: no relay.payload= on the kernel command line"
	status=2
elif [ ! -f "/relay/$payload" ]; then
	echo "relay-guest: payload /relay/$payload not found"
	status=2
else
	cd /relay && sh "/relay/$payload"
	status=$?
fi
sync
echo "relay-guest: exit $status"
poweroff -f
# poweroff -f does not return; if it does, the host's timeout ends the run.
sleep 3600
