# Upstream's stress recipe (see stress_recipe in lib/scx_relay.sh), repeated:
# RELAY_RECIPE_RUNS times (default 1) for each of RELAY_RECIPE_POLICIES
# (default: every shipped policy but deadline and fifo, which have a case
# of their own, and routing: a routing configuration, see policy_args). `cargo xtask soak --recipe-runs 20` sets both. Every run
# goes on whatever the earlier ones gave; a note per policy gives the tally
#   tally: <policy>: <runs> runs, <failed> failed
# and the case fails if any run failed.
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh
. /relay/lib/reliability.sh

runs=${RELAY_RECIPE_RUNS:-1}
if [ -n "$RELAY_RECIPE_POLICIES" ]; then
	policies=$(echo "$RELAY_RECIPE_POLICIES" | tr ',' ' ')
else
	policies="$(shipped_policies | tr ' ' '\n' | grep -vxE 'deadline|fifo' | tr '\n' ' ') routing"
fi
[ -n "$policies" ] || fail "no policy to run (scx_relay did not list its policies)"
total_failed=0
for policy in $policies; do
	failed=0
	r=1
	while [ "$r" -le "$runs" ]; do
		t0=$(cut -d' ' -f1 /proc/uptime)
		# One run in a subshell, whose failures are notes: the case goes on.
		(
			fail() {
				echo "relay-note: $RELAY_TEST_NAME: $policy run $r FAILED: $*"
				exit 1
			}
			stress_recipe "$policy"
		)
		rc=$?
		if [ "$rc" -ne 0 ]; then
			failed=$((failed + 1))
			killall -KILL scx_relay stress-ng 2>/dev/null
			wait_state disabled 60 >/dev/null
		fi
		note "$policy run $r: $([ "$rc" -eq 0 ] && echo ok || echo FAILED) after $(awk "BEGIN { printf \"%.0f\", $(cut -d' ' -f1 /proc/uptime) - $t0 }") s"
		r=$((r + 1))
	done
	note "tally: $policy: $runs runs, $failed failed"
	total_failed=$((total_failed + failed))
done
[ "$total_failed" -eq 0 ] || fail "$total_failed recipe runs failed (see the tally notes)"
pass
