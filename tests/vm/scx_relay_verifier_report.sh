# Real-kernel test: `scx_relay --verifier-report` loads the dispatcher
# without attaching it, with the verifier's statistics on, and prints a row
# per BPF program (type, instructions, instructions the verifier processed,
# the kernel's verified_insns, verification time) and the totals; the
# table goes into the notes. Fails when it exits non-zero (a program
# failed to load), when a struct_ops program (one per callback the
# dispatcher defines; at least 20) lacks verified_insns or a verification
# time, or when sched_ext is not left disabled (nothing was attached).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

OUT=/tmp/verifier_report
scx_relay --verifier-report >"$OUT" 2>&1
status=$?
sed "s/^/relay-note: $RELAY_TEST_NAME: /" "$OUT"
[ "$status" -eq 0 ] || fail "scx_relay --verifier-report exited $status (its output is above)"
ops=$(awk '$2 == "StructOps"' "$OUT" | wc -l)
[ "$ops" -ge 20 ] || fail "$ops struct_ops programs in the report, expected at least 20"
missing=$(awk '$2 == "StructOps" && ($5 == "-" || $5 + 0 <= 0 || $6 == "-") { print $1 }' "$OUT")
[ -z "$missing" ] || fail "struct_ops programs without verified_insns or a verification time: $missing"
grep -q '^scx_relay verifier report: total [0-9]* insns processed' "$OUT" || fail "no totals line"
state=$(cat $SCX/state)
[ "$state" = disabled ] || fail "sched_ext state is '$state' after the report, expected disabled (nothing attached)"
note "$ops struct_ops programs verified; sched_ext stayed $state"
pass
