# Helpers for guest test cases (sourced, busybox sh).
#
# A case is a script tests/vm/<name>.sh. It sources this file, checks
# things, and ends with `pass`; the first failed check reports
# `relay-test: <name> FAIL <reason>` and ends the case. The runner
# (lib/run-cases.sh) sets RELAY_TEST_NAME and RELAY_RESULT_FILE.

: "${RELAY_TEST_NAME:=$(basename "$0" .sh)}"
: "${RELAY_RESULT_FILE:=/tmp/relay-result-$RELAY_TEST_NAME}"

# Print a progress note for this case.
note() {
	echo "relay-note: $RELAY_TEST_NAME: $*"
}

# Report success and end the case.
pass() {
	echo PASS >"$RELAY_RESULT_FILE"
	echo "relay-test: $RELAY_TEST_NAME PASS"
	exit 0
}

# Report failure with a reason and end the case.
fail() {
	echo FAIL >"$RELAY_RESULT_FILE"
	echo "relay-test: $RELAY_TEST_NAME FAIL $*"
	exit 1
}

# check <description> <command...>: run the command (its output goes to the
# console), fail the case unless it exits 0. Prints the time it took.
check() {
	desc=$1
	shift
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$@"
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	note "$desc: status $rc after $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")s"
	[ "$rc" -eq 0 ] || fail "$desc exited with status $rc"
}

# expect_file_content <path> <expected>: fail unless the file exists and its
# content (trailing newline stripped) equals <expected>.
expect_file_content() {
	[ -e "$1" ] || fail "$1 does not exist"
	got=$(cat "$1")
	[ "$got" = "$2" ] || fail "$1 reads '$got', expected '$2'"
}
