#!/bin/bash
# unit-tests/runners_test.sh: the test runners must not pass a run that did not test.
#
# Drives unit-tests/run.sh with fake cmocka binaries (shell scripts printing cmocka's
# summary lines) and e2e/run with fake scenarios (OMLOP_E2E_SCENARIOS) and a fake lab
# (OMLOP_E2E_LAB), and checks each runner's exit status and last line
# ("unit: N passed, N failed, N skipped" / "e2e: N passed, N failed, N skipped").
# `make test` runs it. The e2e cases need root (e2e/run refuses anyone else, which is
# one of the cases, run as nobody); not root, only the unit cases run.
# Prints "runners: N passed, N failed" and exits 1 if a case failed.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$ROOT" || exit 1
T=$(mktemp -d /tmp/omlop-runners-XXXXXX)
chmod 0755 "$T"
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

# expect NAME WANT-RC WANT-LAST-LINE CMD...: CMD's exit status is WANT-RC (or, for
# "nonzero", anything but 0) and its last line of output is WANT-LAST-LINE
expect() {
	local name=$1 want_rc=$2 want_line=$3 rc=0 out last
	shift 3
	out=$("$@" 2>&1) || rc=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
	if { [[ $want_rc == nonzero ]] && ((rc != 0)) || [[ $rc == "$want_rc" ]]; } &&
		[[ $last == "$want_line" ]]; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name: exit $rc (want $want_rc), last line '$last' (want '$want_line')"
		printf '%s\n' "$out" | tail -n 15 | sed 's/^/    /'
	fi
}

# fake_cmocka NAME PASSED FAILED SKIPPED [EXIT]: a test binary printing cmocka's summary
fake_cmocka() {
	local f=$T/bin/$1
	mkdir -p "$T/bin"
	{
		echo '#!/bin/sh'
		echo "echo '[==========] $(($2 + $3 + $4)) test(s) run.'"
		echo "echo '[  PASSED  ] $2 test(s).'"
		if (($4 > 0)); then echo "echo '[  SKIPPED ] $4 test(s), listed below:'"; fi
		if (($3 > 0)); then echo "echo '[  FAILED  ] $3 test(s), listed below:'"; fi
		echo "exit ${5:-$3}"
	} >"$f"
	chmod +x "$f"
	echo "$f"
}

# --- unit-tests/run.sh --------------------------------------------------------------------
u_pass=$(fake_cmocka pass 3 0 0)
u_pass2=$(fake_cmocka pass2 2 0 0)
u_skip=$(fake_cmocka skip 1 0 2)
u_fail=$(fake_cmocka fail 1 1 0)
u_crash=$T/bin/crash
printf '#!/bin/sh\necho "[ RUN      ] test_x"\nexit 134\n' >"$u_crash"
chmod +x "$u_crash"
u_silent=$T/bin/silent
printf '#!/bin/sh\nexit 0\n' >"$u_silent"
chmod +x "$u_silent"

expect "unit: passes are summed" 0 "unit: 5 passed, 0 failed, 0 skipped" \
	sh unit-tests/run.sh "$u_pass" "$u_pass2"
expect "unit: skips are counted" 0 "unit: 4 passed, 0 failed, 2 skipped" \
	sh unit-tests/run.sh "$u_pass" "$u_skip"
expect "unit: a skip fails under OMLOP_UNIT_NO_SKIP=1 (make test)" 1 \
	"unit: 4 passed, 1 failed, 2 skipped" env OMLOP_UNIT_NO_SKIP=1 sh unit-tests/run.sh "$u_pass" "$u_skip"
expect "unit: a failure fails" 1 "unit: 4 passed, 1 failed, 0 skipped" \
	sh unit-tests/run.sh "$u_pass" "$u_fail"
expect "unit: a crash without a cmocka summary fails" 1 "unit: 3 passed, 1 failed, 0 skipped" \
	sh unit-tests/run.sh "$u_pass" "$u_crash"
expect "unit: binaries that ran no test fail" 1 "unit: 0 passed, 1 failed, 0 skipped" \
	sh unit-tests/run.sh "$u_silent"
expect "unit: etcd required and missing fails" 1 "unit: 3 passed, 1 failed, 0 skipped" \
	env OMLOP_TEST_REQUIRE=etcd OMLOP_ETCD="$T/no-etcd" sh unit-tests/run.sh "$u_pass"
expect "unit: an unknown required dependency fails" 1 "unit: 3 passed, 1 failed, 0 skipped" \
	env OMLOP_TEST_REQUIRE=etcdx sh unit-tests/run.sh "$u_pass"
printf '#!/bin/sh\nexit 0\n' >"$T/etcd"
chmod +x "$T/etcd"
expect "unit: etcd required and present passes" 0 "unit: 3 passed, 0 failed, 0 skipped" \
	env OMLOP_TEST_REQUIRE=etcd OMLOP_ETCD="$T/etcd" sh unit-tests/run.sh "$u_pass"
expect "unit: two at a time, every result summed" 1 "unit: 6 passed, 1 failed, 0 skipped" \
	env OMLOP_UNIT_JOBS=2 sh unit-tests/run.sh "$u_fail" "$u_pass" "$u_pass2"
expect "unit: one at a time works too" 1 "unit: 6 passed, 2 failed, 0 skipped" \
	env OMLOP_UNIT_JOBS=1 sh unit-tests/run.sh "$u_pass" "$u_crash" "$u_pass2" "$u_fail"
expect "unit: a bad OMLOP_UNIT_JOBS is named" 2 "unit: OMLOP_UNIT_JOBS must be a positive number, not '0'" \
	env OMLOP_UNIT_JOBS=0 sh unit-tests/run.sh "$u_pass"
# the output reads in the order given, whichever binary ends first
u_slow=$T/bin/slow
printf '#!/bin/sh\nsleep 0.5\necho slow-output\necho "[  PASSED  ] 1 test(s)."\n' >"$u_slow"
chmod +x "$u_slow"
order=$(env OMLOP_UNIT_JOBS=2 sh unit-tests/run.sh "$u_slow" "$u_pass" 2>&1 |
	grep -n -e '^slow-output$' -e 'PASSED  \] 3 ' | cut -d: -f2 | tr '\n' ' ')
if [[ $order == "slow-output [  PASSED  ] 3 test(s). " ]]; then
	passed=$((passed + 1))
	echo "ok   unit: output in the order given"
else
	failed=$((failed + 1))
	echo "FAIL unit: output in the order given: '$order'"
fi

# --- e2e/run ------------------------------------------------------------------------------
# The fake lab: FAKE_LAB_CHECK / FAKE_LAB_UP = exit status of `check` / `up`.
# The lab size asked for goes to $T/lab-up.n; env honours --host-offset as e2e/lab does.
cat >"$T/lab" <<'EOF'
#!/bin/sh
off=0
if [ "$1" = --host-offset ]; then off=$2; shift 2; fi
case $1 in
check) [ "${FAKE_LAB_CHECK:-0}" = 0 ] || echo "e2e/lab: error: missing tools: podman"
	exit "${FAKE_LAB_CHECK:-0}" ;;
up) echo "$2" >"${0%/*}/lab-up.n"
	[ "${FAKE_LAB_UP:-0}" = 0 ] || echo "mount: /var/lib/containers: mount point does not exist"
	exit "${FAKE_LAB_UP:-0}" ;;
env) echo "export OMLOP_LAB_HOST1=10.237.0.$((11 + off))"
	echo "export FAKE_LAB_COUNT=$2" ;;
down) exit 0 ;;
esac
EOF
chmod +x "$T/lab"
scen() { # DIR NAME EXIT: a fake scenario exiting EXIT
	mkdir -p "$1"
	printf '#!/bin/sh\necho "%s: why it exits %s"\nexit %s\n' "$2" "$3" "$3" >"$1/$2"
	chmod +x "$1/$2"
}
scen "$T/ok" 10-a 0
scen "$T/ok" 20-b 0
printf 'not executable\n' >"$T/ok/README.md"
printf '#!/bin/sh\nexit 1\n' >"$T/ok/30-kept-out" # a scenario not executable: named, not run
scen "$T/skip" 10-a 0
scen "$T/skip" 20-skip 77
scen "$T/fail" 10-a 0
scen "$T/fail" 20-fail 3
# a failing scenario whose verdict is followed by a long log (omlopd's tail)
mkdir -p "$T/longfail"
printf '#!/bin/sh\necho "FAIL: the verdict line"\nseq 1 100\nexit 1\n' >"$T/longfail/10-long"
chmod +x "$T/longfail/10-long"
mkdir -p "$T/none"
# two lanes: 10-a in lane 1, 20-b in lane 2 ("# e2e-lane: 2"); each records the host 1 it
# sees and waits (bounded) for the other to have started, so they pass only side by side
lane_scen() { # DIR NAME ME OTHER [LANE-HEADER]
	mkdir -p "$1"
	cat >"$1/$2" <<EOF
#!/bin/sh
${5:-}
echo "\$OMLOP_LAB_HOST1 \$FAKE_LAB_COUNT" >"$T/$3.host1"
touch "$T/$3.started"
i=0
while [ ! -e "$T/$4.started" ]; do
	i=\$((i + 1))
	[ \$i -le 50 ] || { echo "FAIL: $4 did not run beside $3"; exit 1; }
	sleep 0.1
done
exit 0
EOF
	chmod +x "$1/$2"
}
lane_scen "$T/lanes" 10-a a b
lane_scen "$T/lanes" 20-b b a "# e2e-lane: 2"
scen "$T/lanefail" 10-a 0
printf '#!/bin/sh\n# e2e-lane: 2\necho "FAIL: lane 2 verdict"\nexit 1\n' >"$T/lanefail/20-b"
chmod +x "$T/lanefail/20-b"

e2e() { # DIR [ARG...]: e2e/run on fake scenarios with the fake lab
	local d=$1
	shift
	env OMLOP_E2E_LAB="$T/lab" OMLOP_E2E_LOCK="$T/e2e.lock" OMLOP_E2E_SCENARIOS="$d" OMLOP_E2E_LOGDIR="$T/log" \
		OMLOP_E2E_TIMEOUT=20 e2e/run "$@"
}

# tally NAME WHY RC: one case, passed when RC is 0, else failed, saying WHY
tally() {
	if (($3 == 0)); then
		passed=$((passed + 1))
		echo "ok   $1"
	else
		failed=$((failed + 1))
		echo "FAIL $1: $2"
	fi
}

# e2e_prints NAME LINE DIR [ARG...]: e2e/run on fake scenarios prints the whole line LINE
e2e_prints() {
	local name=$1 line=$2 rc=0
	shift 2
	e2e "$@" 2>&1 | grep -qx -- "$line" || rc=1
	tally "$name" "no line '$line'" "$rc"
}

if [[ $(id -u) -eq 0 ]]; then
	expect "e2e: all pass" 0 "e2e: 2 passed, 0 failed, 0 skipped" e2e "$T/ok"
	e2e_prints "e2e: a scenario that is not executable is named" \
		"e2e: not executable, so not run (their headers say why): 30-kept-out" "$T/ok"
	expect "e2e: a pattern selects" 0 "e2e: 1 passed, 0 failed, 0 skipped" e2e "$T/ok" 20-
	expect "e2e: a skipped scenario fails the run" 1 "e2e: 1 passed, 0 failed, 1 skipped" \
		e2e "$T/skip"
	expect "e2e: OMLOP_E2E_ALLOW_SKIP=1 lets a skip pass" 0 \
		"e2e: 1 passed, 0 failed, 1 skipped" env OMLOP_E2E_ALLOW_SKIP=1 \
		OMLOP_E2E_LAB="$T/lab" OMLOP_E2E_LOCK="$T/e2e.lock" OMLOP_E2E_SCENARIOS="$T/skip" OMLOP_E2E_LOGDIR="$T/log" e2e/run
	expect "e2e: a failed scenario fails the run" 1 "e2e: 1 passed, 1 failed, 0 skipped" \
		e2e "$T/fail"
	e2e_prints "e2e: a failed scenario's verdict is shown above its log's tail" \
		"    FAIL: the verdict line" "$T/longfail"
	rm -f "$T"/*.started "$T"/*.host1
	expect "e2e: two lanes run side by side" 0 "e2e: 2 passed, 0 failed, 0 skipped" e2e "$T/lanes"
	rc=0
	[[ $(cat "$T/lab-up.n") == 5 && $(cat "$T/a.host1") == "10.237.0.11 3" &&
		$(cat "$T/b.host1") == "10.237.0.14 2" ]] || rc=1
	tally "e2e: lane 1 sees hosts 1-3, lane 2 the two after them (lab of 5)" \
		"lab of $(cat "$T/lab-up.n"), lane 1 host1 $(cat "$T/a.host1"), lane 2 host1 $(cat "$T/b.host1")" "$rc"
	rm -f "$T"/*.started
	expect "e2e: OMLOP_E2E_LANES=1 runs one after the other" 1 "e2e: 1 passed, 1 failed, 0 skipped" \
		env OMLOP_E2E_LANES=1 OMLOP_E2E_LAB="$T/lab" OMLOP_E2E_LOCK="$T/e2e.lock" OMLOP_E2E_SCENARIOS="$T/lanes" \
		OMLOP_E2E_LOGDIR="$T/log" OMLOP_E2E_TIMEOUT=20 e2e/run
	rc=0
	[[ $(cat "$T/lab-up.n") == 3 ]] || rc=1
	tally "e2e: OMLOP_E2E_LANES=1 brings up the first lane's hosts only" \
		"it brought up $(cat "$T/lab-up.n") hosts, want 3" "$rc"
	expect "e2e: a failure in lane 2 fails the run" 1 "e2e: 1 passed, 1 failed, 0 skipped" \
		e2e "$T/lanefail"
	e2e_prints "e2e: a lane 2 failure's verdict is shown" "    FAIL: lane 2 verdict" "$T/lanefail"
	expect "e2e: no scenario fails the run" 1 "e2e: 0 passed, 0 failed, 0 skipped" e2e "$T/none"
	expect "e2e: a pattern matching nothing fails" 1 "e2e: 0 passed, 0 failed, 0 skipped" \
		e2e "$T/ok" no-such
	expect "e2e: a lab that does not come up fails" 1 "e2e: 0 passed, 1 failed, 0 skipped" \
		env FAKE_LAB_UP=1 OMLOP_E2E_LAB="$T/lab" OMLOP_E2E_LOCK="$T/e2e.lock" OMLOP_E2E_SCENARIOS="$T/ok" \
		OMLOP_E2E_LOGDIR="$T/log" e2e/run
	expect "e2e: a lab missing tools fails" 1 "e2e: 0 passed, 0 failed, 2 skipped" \
		env FAKE_LAB_CHECK=1 OMLOP_E2E_LAB="$T/lab" OMLOP_E2E_LOCK="$T/e2e.lock" OMLOP_E2E_SCENARIOS="$T/ok" \
		OMLOP_E2E_LOGDIR="$T/log" e2e/run
	# not root: as nobody, on a copy of e2e/run it can read
	if command -v setpriv >/dev/null; then
		cp e2e/run "$T/run"
		chmod 0755 "$T/run"
		expect "e2e: not root fails" 1 "e2e: 0 passed, 0 failed, 2 skipped" \
			setpriv --reuid=65534 --regid=65534 --clear-groups env OMLOP_E2E_LAB="$T/lab" OMLOP_E2E_LOCK="$T/e2e.lock" \
			OMLOP_E2E_SCENARIOS="$T/ok" OMLOP_E2E_LOGDIR="$T/log" "$T/run"
	else
		failed=$((failed + 1))
		echo "FAIL e2e: not root: setpriv (util-linux) missing"
	fi
else
	expect "e2e: not root fails" 1 "e2e: 0 passed, 0 failed, 2 skipped" e2e "$T/ok"
fi

echo "runners: $passed passed, $failed failed"
((failed == 0))
