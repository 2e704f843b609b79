#!/bin/sh
# Run each cmocka test binary (from the repository root), sum the results and
# print, last, exactly one "unit: N passed, N failed, N skipped" line. Exit 1
# when anything failed or crashed, or when the binaries ran no test at all.
#
# Skipped tests are counted, never hidden: a skip is a test that did not run,
# so the runner also names the binaries that skipped. OMLOP_TEST_REQUIRE lists
# the optional test dependencies that must be there (comma-separated; today:
# etcd): `make test` and CI set it, and a test that needs one then fails
# instead of skipping (unit-tests/operator/store_test_etcd.h). A developer's
# `make unit` leaves it empty: those tests may skip, and the count says so.
# unit-tests/runners_test.sh tests this runner.
set -u
export OMLOP_SRCDIR="${OMLOP_SRCDIR:-$(pwd)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMLOP_TEST_REQUIRE="${OMLOP_TEST_REQUIRE:-}"
passed=0
failed=0
skipped=0
crashed=""
skippers=""

# The required dependencies are checked up front too, for one clear message.
for dep in $(echo "$OMLOP_TEST_REQUIRE" | tr ',' ' '); do
	case $dep in
	etcd)
		etcd_bin=${OMLOP_ETCD:-/usr/bin/etcd}
		if [ ! -x "$etcd_bin" ]; then
			echo "unit: etcd is required (OMLOP_TEST_REQUIRE) but $etcd_bin is missing: make deps installs etcd-server"
			failed=$((failed + 1))
		fi
		;;
	*)
		echo "unit: OMLOP_TEST_REQUIRE: unknown dependency '$dep' (known: etcd)"
		failed=$((failed + 1))
		;;
	esac
done

# sum_of TAG FILE: the sum of the counts cmocka prints on its summary lines
# "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s), ..." / "[  SKIPPED ] N test(s), ..."
sum_of() {
	sed -n "s/^\[ *$1 *\] \([0-9][0-9]*\) test(s).*/\1/p" "$2" | awk '{s+=$1} END {print s+0}'
}

# The binaries run OMLOP_UNIT_JOBS at a time (default 2: CI's time is bounded and most of a
# test's time is waiting on sshd, etcd or a timer); each writes its own log, and the logs are
# read back in the order given so the output reads the same as a serial run. Tests that need a
# port pick a free one (the pebble test's fixed ports are used by that binary alone).
jobs=${OMLOP_UNIT_JOBS:-2}
case $jobs in '' | *[!0-9]* | 0) echo "unit: OMLOP_UNIT_JOBS must be a positive number, not '$jobs'"; exit 2 ;; esac
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
i=0
for t in "$@"; do
	i=$((i + 1))
	printf '%s\n%s\n' "$i" "$t"
done | xargs -r -d '\n' -n 2 -P "$jobs" sh -c 'timeout 300 "$2" >"$0/$1.log" 2>&1; echo $? >"$0/$1.rc"' "$logdir"

i=0
for t in "$@"; do
	i=$((i + 1))
	log=$logdir/$i.log
	rc=$(cat "$logdir/$i.rc" 2>/dev/null || echo 127)
	cat "$log" 2>/dev/null
	p=$(sum_of PASSED "$log")
	f=$(sum_of FAILED "$log")
	s=$(sum_of SKIPPED "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	[ "$s" -gt 0 ] && skippers="$skippers ${t##*/}($s)"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		crashed="$crashed $t(rc=$rc)"
		failed=$((failed + 1))
	fi
done
if [ $# -gt 0 ] && [ $((passed + failed + skipped)) -eq 0 ]; then
	echo "unit: the $# binaries ran no test (has cmocka's output format changed?)"
	failed=$((failed + 1))
fi
[ -n "$crashed" ] && echo "unit: crashed or exited non-zero:$crashed"
[ -n "$skippers" ] && echo "unit: skipped tests in:$skippers"
echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
