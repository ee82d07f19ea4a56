# Real-kernel test: upstream scxtop reads scx_relay's metrics from the
# scx_stats socket (/var/run/scx/root/stats), as its scheduler view does.
# A long case (vm_test::LONG_CASES): `cargo xtask vm-test scx_relay_scxtop`
# builds scxtop into .cache/scxtop/ first (about 25 minutes, once).
# scxtop's MCP server answers one-shot on stdin: `scheduler://current` must
# name scx_relay, and `stats://scheduler/raw` (what scxtop's stats client
# got from the socket) must hold scx_relay's metrics, read twice around a
# hackbench: dispatched_user must go up between the two readings, and each
# reading must agree with `scx_relay ctl status` taken just before it (no
# counter below the earlier total).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

[ -x /bin/scxtop ] || fail "/bin/scxtop is not in the guest (cargo xtask vm-test scx_relay_scxtop builds it into .cache/scxtop/)"

# scxtop_read <uri>: scxtop's MCP answer for resource <uri> (its text).
scxtop_read() {
	answer=$(printf '%s\n' \
		'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"scx_relay-test","version":"1"}}}' \
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"$1\"}}" |
		scxtop mcp 2>/tmp/scxtop.err | tail -n 1)
	printf '%s\n' "$answer" | json_get result.contents.0.text 2>/dev/null ||
		fail_with_log "scxtop mcp gave no text for $1: $answer $(tail -n 3 /tmp/scxtop.err | tr '\n' ' ')"
}

start_relay -- --stats 1
current=$(scxtop_read scheduler://current)
name=$(printf '%s\n' "$current" | json_get name 2>/dev/null) ||
	fail_with_log "no name in scxtop's scheduler://current: $(printf '%s' "$current" | tr -d '\n')"
note "scxtop's scheduler://current names $name"
case "$name" in
scx_relay*) ;;
*) fail_with_log "scxtop's scheduler://current names $name, not scx_relay" ;;
esac

# reading <what>: `ctl status` then scxtop's stats; sets USER (scxtop's
# dispatched_user) and fails unless scxtop's queued and dispatched_user are
# at least the totals ctl status gave just before.
reading() {
	fresh_stats
	before_queued=$(counter "$FRESH_STATS" queued) || fail_with_log "no queued in ctl status"
	before_user=$(counter "$FRESH_STATS" dispatched_user) || fail_with_log "no dispatched_user in ctl status"
	raw=$(scxtop_read stats://scheduler/raw)
	queued=$(printf '%s\n' "$raw" | json_get stats.queued 2>/dev/null) ||
		fail_with_log "$1: no stats.queued in scxtop's stats://scheduler/raw: $(printf '%s' "$raw" | head -c 400)"
	USER=$(printf '%s\n' "$raw" | json_get stats.dispatched_user 2>/dev/null) ||
		fail_with_log "$1: no stats.dispatched_user in scxtop's stats://scheduler/raw"
	note "$1: scxtop read queued $queued dispatched_user $USER (ctl status just before: $before_queued, $before_user)"
	[ "$queued" -ge "$before_queued" ] && [ "$USER" -ge "$before_user" ] ||
		fail_with_log "$1: scxtop's totals are below the ones ctl status gave before them"
}

reading "before hackbench"
first=$USER
workload_begins
check "hackbench -g 2 -l 100" hackbench -g 2 -l 100
workload_ended hackbench
reading "after hackbench"
[ "$USER" -gt "$first" ] || fail_with_log "scxtop's dispatched_user did not go up over a hackbench ($first, then $USER)"
stop_relay
pass
