# Routing by cgroup, on the kernel's cgroup ids: a routing configuration
# sends /relay-a's tasks to cpu2 and /relay-b*'s to cpu3. /relay-a exists
# when scx_relay starts, /relay-b is made after (the resolver thread finds
# it once its first task is routed). A hog in each, among N other hogs on
# the default route: after a second, every sample of the hogs' CPU (every
# 0.1 s for 2 s) must be its route's CPU, and the hog may not change CPUs
# meanwhile (its migration count, which sees a run elsewhere between two
# samples); then the first hog moves to
# /relay-b and must run on cpu3. No file is read on the loop for this
# (`loop allocs` must stay 0; the old lookup read /proc/<tgid>/cgroup).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

N=$(nproc)
[ "$N" -ge 4 ] || fail "needs 4 CPUs, the guest has $N"
CG=/sys/fs/cgroup
hogs=
cleanup() {
	# shellcheck disable=SC2086
	[ -z "$hogs" ] || kill -KILL $hogs 2>/dev/null
	for p in $hogs; do wait "$p" 2>/dev/null; done
	rmdir "$CG/relay-a" "$CG/relay-b" 2>/dev/null
}
trap cleanup EXIT

printf '%s\n' '[default]' 'policy = "deadline"' '' \
	'[[route]]' 'name = "a"' 'policy = "deadline"' 'cgroup = "/relay-a"' 'cpus = "2"' '' \
	'[[route]]' 'name = "b"' 'policy = "deadline"' 'cgroup = "/relay-b*"' 'cpus = "3"' >/tmp/relay-cg-routes.toml
mkdir "$CG/relay-a" || fail "cannot make $CG/relay-a"
start_relay -- --config /tmp/relay-cg-routes.toml --stats 1
mkdir "$CG/relay-b" || fail_with_log "cannot make $CG/relay-b"

# hog_in <cgroup dir>: a CPU hog started in that cgroup; sets HOG.
hog_in() {
	sh -c "echo \$\$ >$1/cgroup.procs && exec sh -c 'while :; do :; done'" &
	HOG=$!
	hogs="$hogs $HOG"
}

# last_cpu <pid>: the CPU the task last ran on (/proc/<pid>/stat field 39).
last_cpu() {
	s=$(cat "/proc/$1/stat")
	set -- ${s##*)}
	echo "${37}"
}

# migrations <pid>: set MIGRATIONS to how often the task changed CPUs
# (se.nr_migrations in /proc/<pid>/sched), a run on another CPU between
# two samples included. (A variable: a failure inside $(...) would lose
# its reason.)
migrations() {
	MIGRATIONS=$(awk '$1 == "se.nr_migrations" {print $3}' "/proc/$1/sched")
	[ -n "$MIGRATIONS" ] || fail_with_log "no se.nr_migrations in /proc/$1/sched"
}

# only_on <what> <pid> <cgroup> <cpu>: <pid> is alive in <cgroup> (as
# /proc/<pid>/cgroup says), each of 20 samples of its CPU over 2 s is
# <cpu>, and it did not change CPUs meanwhile. On a failure, the counters
# of the paths that can run a task off its route (routing.md) since the
# workload began.
only_on() {
	alive "$2" || fail_with_log "$1: pid $2 is not running"
	cg=$(cat "/proc/$2/cgroup")
	[ "$cg" = "0::$3" ] || fail_with_log "$1: pid $2 is in '$cg', expected 0::$3"
	seen=
	n=0
	migrations "$2"
	moves=$MIGRATIONS
	for _ in $(seq 20); do
		c=$(last_cpu "$2")
		[ -n "$c" ] || fail_with_log "$1: no CPU for pid $2"
		seen="$seen $c"
		n=$((n + 1))
		sleep 0.1
	done
	migrations "$2"
	moves=$((MIGRATIONS - moves))
	note "$1: CPUs seen:$seen; migrations $moves"
	off=
	for c in $seen; do
		[ "$c" = "$4" ] || off="ran on cpu$c"
	done
	[ "$moves" -eq 0 ] || off="${off:+$off and }changed CPUs $moves times"
	if [ -n "$off" ]; then
		workload_deltas "$1" reenqueued aged overdue fallback rescued bounced dispatched_kernel
		fail_with_log "$1 $off, its route's CPU is cpu$4"
	fi
	[ "$n" -eq 20 ] || fail_with_log "$1: $n samples"
}

workload_begins
for _ in $(seq "$N"); do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
done
hog_in "$CG/relay-a"
a=$HOG
hog_in "$CG/relay-b"
b=$HOG
sleep 1
only_on "the hog in /relay-a (there at start)" "$a" /relay-a 2
only_on "the hog in /relay-b (made after start)" "$b" /relay-b 3
echo "$a" >"$CG/relay-b/cgroup.procs" || fail_with_log "cannot move $a to /relay-b"
sleep 1
only_on "the hog moved from /relay-a to /relay-b" "$a" /relay-b 3
workload_ended "cgroup routes"
allocs=$(counter "$FRESH_STATS" loop_allocs)
unresolved=$(counter "$FRESH_STATS" cgroup_unresolved)
note "loop allocs $allocs, cgroup unresolved $unresolved"
[ "$allocs" = 0 ] || fail_with_log "the loop allocated $allocs times"
cleanup
hogs=
stop_relay
pass
