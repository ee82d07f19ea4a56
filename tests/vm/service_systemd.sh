# scx_relay as a system service: the unit `cargo xtask install` installs
# (dist/scx_relay.service.in, naming /bin/scx_relay here) and the
# /etc/default/scx_relay example, run by the host's systemd (Debian's
# package; xtask/src/initramfs.rs, add_systemd) booted as pid 1 of a pid and
# mount namespace of its own, as a container's init (this guest's own init
# is busybox). systemctl and `scx_relay ctl` run inside those namespaces
# (nsenter), as on the service's own machine: systemd closes its private
# socket to a client whose pid it cannot see (SO_PEERCRED gives pid 0 across
# pid namespaces, which systemd's getpeercred() refuses, and the client sees
# "Transport endpoint is not connected"). As an administrator would, the case enables the unit before
# the manager starts, so it starts with multi-user.target; then:
#   - it schedules (sched_ext enabled with scx_relay, ctl status answers, a
#     hackbench is scheduled with no safety net firing), and its log is in
#     the journal with priorities and without scx_relay's own time stamps;
#   - a policy is switched on the running service (scx_relay ctl policy);
#   - killed (systemctl kill -s KILL), it is restarted (Restart=on-failure,
#     RestartSec=2) and schedules again;
#   - a usage error in /etc/default/scx_relay (exit 2) is not restarted;
#   - systemctl stop ends it with status 0 and sched_ext disabled.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

UNIT=scx_relay.service
SYSTEMD_CONSOLE=/tmp/systemd-console.log
DEFAULTS=/etc/default/scx_relay

[ -x /lib/systemd/systemd ] || fail "systemd is not in the guest (xtask/src/initramfs.rs, add_systemd)"
[ -f /etc/systemd/system/$UNIT ] || fail "/etc/systemd/system/$UNIT is not in the guest"

# What systemd and the journal say, then fail. (The helpers of
# lib/scx_relay.sh fail through fail_with_log: here that is this.)
fail_service() {
	note "failing: $*"
	note "systemctl status:"
	systemctl status --no-pager -l "$UNIT" 2>&1 | tail -n 20
	note "journal of $UNIT:"
	journalctl --no-pager -u "$UNIT" 2>&1 | tail -n 40
	note "the journal:"
	journalctl --no-pager -n 40 2>&1
	note "systemd's console:"
	tail -n 40 "$SYSTEMD_CONSOLE"
	dmesg | grep 'sched_ext:' | tail -n 10
	fail "$@"
}
fail_with_log() {
	fail_service "$@"
}

# inside <command...>: run the command in systemd's pid and mount namespaces.
inside() {
	nsenter -t "$SYSTEMD_PID" -p -m -- "$@"
}

# (No password agent: this guest has none, and nothing asks.)
systemctl() {
	inside /bin/systemctl --no-ask-password "$@"
}

# prop <property>: the unit's property, as `systemctl show` gives it.
prop() {
	systemctl show -P "$1" "$UNIT" 2>/dev/null
}

# wait_until <seconds> <command...>: run the command every 0.2 s until it
# succeeds; returns 1 if it has not after <seconds>.
wait_until() {
	until_tries=$(($1 * 5))
	shift
	until "$@"; do
		until_tries=$((until_tries - 1))
		[ "$until_tries" -gt 0 ] || return 1
		sleep 0.2
	done
}

manager_up() {
	manager_state=$(systemctl is-system-running 2>/dev/null)
	[ "$manager_state" = running ] || [ "$manager_state" = degraded ]
}

# journal <journalctl options...>: the unit's journal, messages only.
journal() {
	journalctl --no-pager -o cat -u "$UNIT" "$@" 2>/dev/null
}

# started_times: how many start-up lines the journal holds.
started_times() {
	journal | grep -c 'scx_relay: scheduling'
}

# running_as_service <what>: sched_ext enabled with scx_relay, the unit
# active, its start-up line number <n> in the journal.
running_as_service() {
	took=$(wait_state enabled 60) || fail_service "$1: sched_ext state is '$(cat $SCX/state)', expected enabled"
	case "$(cat $SCX/root/ops 2>/dev/null)" in
	scx_relay*) ;;
	*) fail_service "$1: root/ops is '$(cat $SCX/root/ops 2>/dev/null)', expected scx_relay" ;;
	esac
	[ "$(prop ActiveState)" = active ] || fail_service "$1: the unit is $(prop ActiveState), expected active"
	want_starts=$2
	wait_until 10 eval '[ "$(started_times)" -ge "$want_starts" ]' ||
		fail_service "$1: $(started_times) start-up lines in the journal, expected $want_starts"
}

policy_now() {
	inside scx_relay ctl status 2>&1 | json_get policy 2>/dev/null
}

# --- enable and boot ---
check "systemctl enable (no manager running yet)" /bin/systemctl enable "$UNIT"
[ -L /etc/systemd/system/multi-user.target.wants/$UNIT ] ||
	fail "systemctl enable made no multi-user.target.wants link"
cgroups_before=$(find /sys/fs/cgroup -mindepth 1 -type d | sort)
controllers_before=$(cat /sys/fs/cgroup/cgroup.subtree_control)
: >"$SYSTEMD_CONSOLE"
# The manager logs to /dev/console: in its mount namespace that is the file.
container=relay-guest unshare -p -f -m --mount-proc sh -c \
	"mount --bind $SYSTEMD_CONSOLE /dev/console && exec /lib/systemd/systemd --unit=multi-user.target" \
	</dev/null >>"$SYSTEMD_CONSOLE" 2>&1 &
MANAGER=$!
t0=$(cut -d' ' -f1 /proc/uptime)
# systemd is unshare's child (pid 1 inside).
find_systemd() {
	SYSTEMD_PID=$(awk -v p="$MANAGER" '$4 == p { print $1 }' /proc/[0-9]*/stat 2>/dev/null | head -n 1)
	[ -n "$SYSTEMD_PID" ]
}
wait_until 10 find_systemd || fail "no child of unshare ($MANAGER) found"
wait_until 90 manager_up || fail_service "systemd did not finish starting: is-system-running says '$(systemctl is-system-running 2>&1)'"
note "$(systemctl --version | head -n 1) up after $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }")s: $manager_state"
[ "$manager_state" = running ] || note "failed units: $(systemctl --failed --no-legend --plain 2>&1 | tr '\n' ';')"

# --- it schedules, and logs to the journal ---
running_as_service "started with multi-user.target" 1
note "enabled as $(cat $SCX/root/ops), main pid $(pidof scx_relay)"
[ "$(policy_now)" = deadline ] || fail_service "policy is '$(policy_now)', expected deadline ($DEFAULTS)"
workload_begins
check "hackbench -g 2 -l 200" hackbench -g 2 -l 200
workload_ended hackbench
# journald took the priority of each line (<6> info) and no line carries
# scx_relay's time stamp.
journal -p info | grep -q 'scx_relay: scheduling' || fail_service "the start-up line is not in the journal at priority info"
journal -p notice | grep -q 'scx_relay: scheduling' && fail_service "the start-up line is in the journal above priority info"
journal | grep -E '^<[0-7]>|^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T' &&
	fail_service "journal lines carry a priority prefix or a time stamp"
note "journal: $(journal | grep 'scx_relay: scheduling' | head -n 1)"

# --- a live switch on the running service ---
check "scx_relay ctl policy eevdf" inside scx_relay ctl policy eevdf
[ "$(policy_now)" = eevdf ] || fail_service "policy is '$(policy_now)' after the switch, expected eevdf"

# --- killed, it is restarted ---
old_pid=$(pidof scx_relay)
restarts=$(prop NRestarts)
check "systemctl kill -s KILL" systemctl kill -s KILL --kill-who=main "$UNIT"
t0=$(cut -d' ' -f1 /proc/uptime)
restarted() {
	[ "$(prop NRestarts)" -gt "$restarts" ] && [ "$(prop ActiveState)" = active ]
}
wait_until 30 restarted || fail_service "not restarted 30 s after SIGKILL (NRestarts $(prop NRestarts), $(prop ActiveState))"
running_as_service "restarted" 2
new_pid=$(pidof scx_relay)
[ -n "$new_pid" ] && [ "$new_pid" != "$old_pid" ] || fail_service "scx_relay is pid '$new_pid' after the restart, was $old_pid"
note "restarted as pid $new_pid $(awk "BEGIN { printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }")s after SIGKILL (NRestarts $(prop NRestarts))"
[ "$(policy_now)" = deadline ] || fail_service "policy is '$(policy_now)' after the restart, expected deadline ($DEFAULTS)"

# --- a usage error is not restarted ---
cp "$DEFAULTS" /tmp/scx_relay.default
echo 'SCX_FLAGS="--no-such-option"' >"$DEFAULTS"
check "systemctl restart (with a bad option)" systemctl restart "$UNIT"
wait_until 10 eval '[ "$(prop ActiveState)" = failed ]' || fail_service "the unit is $(prop ActiveState) with a bad option, expected failed"
[ "$(prop ExecMainStatus)" = 2 ] || fail_service "exit status $(prop ExecMainStatus) with a bad option, expected 2"
restarts=$(prop NRestarts)
sleep 5
[ "$(prop ActiveState)" = failed ] && [ "$(prop NRestarts)" = "$restarts" ] ||
	fail_service "a usage error was restarted: $(prop ActiveState), NRestarts $restarts -> $(prop NRestarts)"
journal | grep -q "unexpected argument '--no-such-option'" || fail_service "the usage error is not in the journal"
note "usage error: status 2, not restarted: $(journal | grep -- '--no-such-option' | tail -n 1)"
cp /tmp/scx_relay.default "$DEFAULTS"
check "systemctl reset-failed" systemctl reset-failed "$UNIT"
check "systemctl start" systemctl start "$UNIT"
running_as_service "started again" 3

# --- systemctl stop ---
check "systemctl stop" systemctl stop "$UNIT"
[ "$(prop ActiveState)" = inactive ] || fail_service "the unit is $(prop ActiveState) after stop, expected inactive"
[ "$(prop ExecMainStatus)" = 0 ] || fail_service "exit status $(prop ExecMainStatus) after stop, expected 0"
took=$(wait_state disabled 60) || fail_service "state is '$(cat $SCX/state)' 60 s after systemctl stop"
note "stopped: status 0, sched_ext disabled ${took}s after; last lines: $(journal | tail -n 2 | tr '\n' ';')"

# --- leave the guest as it was ---
# Disabled through the manager while it runs: after it exits, what it left in
# /run (the tmpfs the namespace shares) would still say systemd is running.
check "systemctl disable" systemctl disable "$UNIT"
[ ! -e /etc/systemd/system/multi-user.target.wants/$UNIT ] || fail_service "systemctl disable left the link"
systemctl exit 0 >/dev/null 2>&1
wait_until 30 eval '! alive $MANAGER' || {
	note "systemd did not exit within 30 s; killed"
	kill -KILL "$MANAGER" 2>/dev/null
}
wait "$MANAGER" 2>/dev/null
rm -rf /run/systemd /run/log
for d in $(find /sys/fs/cgroup -mindepth 1 -depth -type d); do
	printf '%s\n' "$cgroups_before" | grep -qxF "$d" || rmdir "$d" 2>/dev/null
done
controllers_now=$(cat /sys/fs/cgroup/cgroup.subtree_control)
for c in $controllers_now; do
	case " $controllers_before " in *" $c "*) ;; *) echo "-$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ;; esac
done
for c in $controllers_before; do
	case " $controllers_now " in *" $c "*) ;; *) echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ;; esac
done
[ "$(cat /sys/fs/cgroup/cgroup.subtree_control)" = "$controllers_before" ] ||
	note "cgroup controllers were '$controllers_before', now '$(cat /sys/fs/cgroup/cgroup.subtree_control)'"
pass
