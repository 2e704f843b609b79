#!/bin/sh
# Run each cmocka test binary (from the repository root), sum the results and
# print one "N passed, N failed" line. Exit 1 when anything failed or crashed.
set -u
export OMLOP_SRCDIR="${OMLOP_SRCDIR:-$(pwd)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
passed=0
failed=0
crashed=""
for t in "$@"; do
	log=$(mktemp)
	timeout 300 "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		crashed="$crashed $t(rc=$rc)"
		failed=$((failed + 1))
	fi
	rm -f "$log"
done
[ -n "$crashed" ] && echo "unit: crashed or exited non-zero:$crashed"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
