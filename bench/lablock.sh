# shellcheck shell=bash
# bench/lablock.sh: what the benches that need the e2e lab share (sourced, not run). The lab is
# one per machine: bench_lab_acquire takes the lock e2e/run takes (OMLOP_E2E_LOCK, default
# /run/lock/omlop-e2e.lock), waiting up to 30 min for an e2e run or another bench, then brings
# a 3-host lab up when none is (and sets LAB_BROUGHT_UP=1); bench_lab_release takes down only
# what this run brought up (call it from the bench's EXIT trap). The sourcing bench defines
# ROOT, say (a line to stdout) and skip (SKIP and exit 0).

LAB_BROUGHT_UP=

# bench_lab_acquire LOGFILE: the lock, then a lab (e2e/lab up's output in LOGFILE)
bench_lab_acquire() {
	local log=$1 lock=${OMLOP_E2E_LOCK:-/run/lock/omlop-e2e.lock} why
	mkdir -p "$(dirname "$lock")" "$(dirname "$log")"
	exec 9>"$lock"
	if ! flock -n 9; then
		say "the lab is in use (an e2e run or another bench): waiting up to 30 min"
		flock -w 1800 9 || {
			say "error: the lab stayed busy for 30 min" >&2
			exit 1
		}
	fi
	"$ROOT/e2e/lab" status >/dev/null 2>&1 && return 0
	why=$("$ROOT/e2e/lab" check 2>&1) || skip "${why#e2e/lab: error: } (make deps installs the lab's packages)"
	say "bringing the lab up (3 hosts)"
	LAB_BROUGHT_UP=1 # also a lab half up when this run is stopped meanwhile
	"$ROOT/e2e/lab" up 3 >"$log" 2>&1 || {
		tail -n 20 "$log" >&2
		say "error: the lab did not come up (log: $log)" >&2
		exit 1
	}
}

# bench_lab_release: down, when this run brought the lab up
bench_lab_release() {
	[[ -n $LAB_BROUGHT_UP ]] && "$ROOT/e2e/lab" down >/dev/null 2>&1
	return 0
}
