# Real-kernel test: nice levels and cgroup cpu.weight shape CPU shares.
# CPU-bound hogs (guest-tools share_probe) run RELAY_WEIGHT_SECONDS (default
# 10) per layout, first under the kernel's fair class (EEVDF), then under
# scx_relay with each of RELAY_WEIGHT_POLICIES (comma-separated; default
# deadline, the default policy). Layouts (RELAY_WEIGHT_LAYOUTS,
# comma-separated; default all four):
#   pair:    nice 0 and nice 10 sharing CPU 0 (the fair class: 1024 : 110)
#   ladder:  nice -5, 0, 5, 10, 15 sharing CPU 0
#   spread:  as many nice-0 as nice-10 hogs, twice the CPUs, free to move
#   cgroups: nice-0 hogs on CPU 0 in a tree: one in w100 (cpu.weight 100);
#            in w1000 (1000), two in w1000/a (100) and one in w1000/b
#            (300): the fair class gives 8 : 10 : 10 : 60 (of 88)
# share_probe prints each hog's CPU time and the ratio to the first hog
# against the fair class's ratio (weights 1024 : 110 ..., cgroups as
# above); each layout's worst ratio error (percent) is noted, the kernel's
# own run as "fair-class". The case fails when a layout of a policy in
# RELAY_WEIGHT_CHECKED (default: deadline; "none" checks nothing) is off
# by more than RELAY_WEIGHT_TOLERANCE_PCT (default 30: the fair class
# itself measured up to 10 % on the ladder, whose nice-15 hog gets under
# 1 % of a CPU; weight-blind scheduling is off by 88-98 %), or when
# scx_relay falls back, rescues or stalls meanwhile. Cgroup weights reach
# the policies through the dispatcher's effective weight
# (docs/architecture.md, "Weights").
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

SECS=${RELAY_WEIGHT_SECONDS:-10}
LAYOUTS=$(echo "${RELAY_WEIGHT_LAYOUTS:-pair,ladder,spread,cgroups}" | tr ',' ' ')
POLICIES=$(echo "${RELAY_WEIGHT_POLICIES:-deadline}" | tr ',' ' ')
CHECKED=$(echo "${RELAY_WEIGHT_CHECKED:-deadline}" | tr ',' ' ')
TOLERANCE=${RELAY_WEIGHT_TOLERANCE_PCT:-30}
N=$(nproc)
CG=/sys/fs/cgroup

echo +cpu >"$CG/cgroup.subtree_control" || fail "cannot enable the cpu controller"
# mkcg <dir> <cpu.weight>
mkcg() {
	mkdir -p "$CG/$1" && echo "$2" >"$CG/$1/cpu.weight" || fail "cannot make cgroup $1"
}
mkcg w100 100
mkcg w1000 1000
echo +cpu >"$CG/w1000/cgroup.subtree_control" || fail "cannot enable the cpu controller in w1000"
mkcg w1000/a 100
mkcg w1000/b 300

# probe <scheduler> <layout> <cpus> <hog...>: share_probe on <cpus>; notes
# its lines, prints the worst ratio error (percent).
probe() {
	sched=$1
	layout=$2
	cpus=$3
	shift 3
	if ! taskset -c "$cpus" share_probe "$SECS" "$@" >/tmp/shares 2>&1; then
		cat /tmp/shares >&2
		return 1
	fi
	sed "s/^share_probe: /relay-note: $RELAY_TEST_NAME: $sched $layout: /" /tmp/shares >&2
	sed -n 's/.*worst_ratio_error_pct \([0-9]*\).*/\1/p' /tmp/shares
}

# layouts <scheduler>: every layout; sets RESULTS to "layout:error ...".
layouts() {
	spread=
	i=0
	while [ "$i" -lt "$N" ]; do
		spread="$spread 0 10"
		i=$((i + 1))
	done
	RESULTS=
	for layout in $LAYOUTS; do
		case $layout in
		pair) err=$(probe "$1" pair 0 0 10) ;;
		ladder) err=$(probe "$1" ladder 0 -5 0 5 10 15) ;;
		# shellcheck disable=SC2086 # the hogs are words
		spread) err=$(probe "$1" spread "0-$((N - 1))" $spread) ;;
		cgroups) err=$(probe "$1" cgroups 0 "0@$CG/w100" "0@$CG/w1000/a" "0@$CG/w1000/a" "0@$CG/w1000/b") ;;
		*) fail "no layout '$layout' (pair, ladder, spread, cgroups)" ;;
		esac
		[ -n "$err" ] || fail_with_log "$1 $layout: share_probe failed (its output is above)"
		RESULTS="$RESULTS $layout:$err"
	done
	note "$1: worst ratio error (percent) per layout:$RESULTS"
}

layouts fair-class
for policy in $POLICIES; do
	# shellcheck disable=SC2046 # the options are words
	start_relay -- $(policy_args "$policy") --stats 1
	workload_begins
	layouts "$policy"
	workload_ended "$policy hogs"
	note "$policy: the last stats line: $(grep 'scx_relay stats:' "$RELAY_LOG" | tail -n 1)"
	kill -INT "$RELAY_PID"
	wait_relay
	[ "$RELAY_STATUS" -eq 0 ] || fail_with_log "$policy: scx_relay exited with status $RELAY_STATUS after SIGINT"
	wait_state disabled 60 >/dev/null || fail_with_log "$policy: state is '$(cat $SCX/state)' after scx_relay exited"
	case " $CHECKED " in
	*" $policy "*)
		for r in $RESULTS; do
			[ "${r#*:}" -le "$TOLERANCE" ] ||
				fail "$policy: ${r%:*}: CPU shares off the fair class's ratio by ${r#*:} % (at most $TOLERANCE %)"
		done
		;;
	esac
done
pass
