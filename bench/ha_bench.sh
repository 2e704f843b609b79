#!/usr/bin/env bash
# ha_bench.sh: layout ha's failover after the main node's link is cut (issue 14's `make bench`):
# the OMniLeads VIP's move and a write through the PostgreSQL RW VIP, omlop against the 2.X way
# with the same images, on lab hosts 1 (h1, main) and 2 (h2, backup).
#
# One ha tenant (the lab's real PostgreSQL + repmgr image, as e2e/scenarios/61-ha-pg-streaming)
# with failback Auto, so that every failover starts from the same roles: h1 holds the OMniLeads
# VIP and the PostgreSQL primary, h2 streams. Every wait is bounded.
#
#   omlop, OMLOP_BENCH_HA_N failovers (default 10), spec.ha.vrrpVersion 3 (the default):
#     cut h1's link (e2e/lab net-down 1: its end of the lab bridge down, as a pulled cable);
#     VIP: seconds until the OMniLeads VIP answers from this machine (a TCP connect to its port
#       1 refused or accepted within 50 ms, tried every 20 ms: h1 is cut off, so h2 answers),
#       then h2 must hold it;
#     write: seconds until an INSERT through the RW VIP succeeds from this machine (psql, every
#       0.2 s; at most WRITE_BOUND_S): omlopd promotes h2 and keepalived moves the RW VIP;
#     then h1's link back (net-up 1) and the pair settled again (at most SETTLE_BOUND_S): h1
#     takes the VIP back (preemption), omlopd fences h1's primary, rejoins it as standby and,
#     failback Auto, switches the primary back to h1. A failover that misses a bound is a FAIL
#     and ends the loop (the pair is in no known state).
#   2.X, OMLOP_BENCH_HA_2X_N failovers (default: the same count): the same tenant with
#     spec.ha.vrrpVersion 2 (2.X's keepalived: VRRPv2, advert_int 1, PASS authentication,
#     priorities 100/50, preemption) and, instead of omlopd, repmgrd on both nodes with
#     failover=automatic and repmgr's defaults (reconnect_attempts 6 x reconnect_interval 10 s,
#     monitor_interval_secs 2; the promote command `repmgr standby promote`). omlopd is stopped
#     before each cut and started again after it to repair the pair (2.X needed a person's
#     playbook run for that: not measured). The RW VIP moves to h2 by VRRP alone (h1 is gone);
#     a write succeeds there once repmgrd promoted h2. The same VIP and write measurements.
# Printed: every sample, p50/p95 of each, the 2.X medians and the ratio 2.X / omlop, and PASS
# or FAIL against issue 14's targets on omlop's p95 (VIP < 3 s, write < 15 s). Samples and the
# table go to build/bench/ha_bench/.
#
# Time: a full run (10 + 10) takes about 45 min on this 2-core lab machine: about 2 min per
# omlop failover (the write waits for omlopd's SSH keepalive to give up on h1, 30 s, then the
# rejoin and the switchover back), about 2.5 min per 2.X one (repmgrd's 60 s, then omlopd's
# repair). OMLOP_BENCH_QUICK=1: 3 of each.
#
# Needs root and the lab's packages: like e2e/run it takes the lab's lock (bench/lablock.sh:
# OMLOP_E2E_LOCK, default /run/lock/omlop-e2e.lock, waiting up to 30 min), brings a 3-host lab
# up when none is and takes it down again at the end only then. Uses bin/omlopd and bin/omlctl (make). Without root or the
# lab's packages: SKIP, exit 0. Exit 1 when a step fails or a target is missed.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
ROOT=$(pwd)
N=${OMLOP_BENCH_HA_N:-10}
N2X=${OMLOP_BENCH_HA_2X_N:-$N}
if [[ -n ${OMLOP_BENCH_QUICK:-} ]]; then N=3 N2X=3; fi
[[ $N =~ ^[1-9][0-9]*$ && $N2X =~ ^[0-9]+$ ]] || {
	echo "ha_bench: OMLOP_BENCH_HA_N must be a positive number, OMLOP_BENCH_HA_2X_N a number" >&2
	exit 2
}
VIP_TARGET=3
WRITE_TARGET=15
VIP_BOUND_S=20
WRITE_BOUND_S=120
WRITE_2X_BOUND_S=180
SETTLE_BOUND_S=300
say() { printf 'ha_bench: %s\n' "$*"; }
skip() {
	say "SKIP: $*"
	exit 0
}

[[ $(id -u) -eq 0 ]] || skip "needs root (the e2e lab)"
for t in python3 psql flock; do command -v "$t" >/dev/null || skip "$t is not installed (make deps)"; done
[[ -x $ROOT/bin/omlopd && -x $ROOT/bin/omlctl ]] || {
	say "error: no bin/omlopd or bin/omlctl: run make first" >&2
	exit 1
}
LOGDIR=$ROOT/build/bench/ha_bench
mkdir -p "$LOGDIR"
# shellcheck source=bench/lablock.sh
source "$ROOT/bench/lablock.sh"
trap bench_lab_release EXIT # until the cleanup below takes over
bench_lab_acquire "$LOGDIR/lab-up.log"

TENANTS=(habench)
LAB_HOSTS_USED=(1 2)
export OMLOP_E2E_OMLOPD=$ROOT/bin/omlopd OMLOP_E2E_OMLCTL=$ROOT/bin/omlctl
SCENARIO=ha_bench
# shellcheck source=e2e/scenarios/lib.sh
source "$ROOT/e2e/scenarios/lib.sh"
# shellcheck source=e2e/scenarios/48-ha-lib.sh
source "$ROOT/e2e/scenarios/48-ha-lib.sh"
T=habench
REPMGRD_CONF=/var/lib/postgresql/repmgr-2x.conf
REPMGRD_PID=/var/lib/postgresql/repmgrd-2x.pid
REPMGRD_LOG=/var/lib/postgresql/repmgrd-2x.log
rm -f "$LOGDIR"/*.txt "$LOGDIR"/repmgrd-*.log "$LOGDIR"/omlopd.log
e2e_init
# repmgrd_stop: the repmgrd this bench started on each node, by the PID it wrote
repmgrd_stop() {
	local n
	for n in 1 2; do
		lab "$n" podman exec "$PG_C" sh -c \
			"[ -s $REPMGRD_PID ] && kill \"\$(cat $REPMGRD_PID)\" 2>/dev/null; rm -f $REPMGRD_PID" \
			>/dev/null 2>&1 || true
	done
}
cleanup() {
	$OMLOP_LAB_CTL net-up 1 >/dev/null 2>&1 || true
	repmgrd_stop
	[[ -n $WORK && -f $WORK/omlopd.log ]] && cp "$WORK/omlopd.log" "$LOGDIR/omlopd.log"
	e2e_cleanup
	ha_cleanup
	bench_lab_release
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ha_cleanup
start_omlopd
apply_secret "$T"

secs_since() { python3 -c "print('%.3f' % (($(usec) - $1) / 1e6))"; }

# wait_answers ADDR SECONDS T0: prints the seconds from T0 (usec) until ADDR answers from the
# machine: a TCP connect to its port 1 refused (or accepted) within 50 ms, tried every 20 ms;
# 1 after SECONDS
wait_answers() {
	python3 - "$@" <<'EOF2'
import socket, sys, time
addr, limit, t0 = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) / 1e6
while True:
    s = socket.socket()
    s.settimeout(0.05)
    try:
        s.connect((addr, 1))
        ok = True
    except ConnectionRefusedError:
        ok = True
    except OSError:
        ok = False
    finally:
        s.close()
    if ok:
        print("%.3f" % (time.time() - t0))
        sys.exit(0)
    if time.time() - t0 > limit:
        sys.exit(1)
    time.sleep(0.02)
EOF2
}
# tcp_open ADDR PORT: something listens on ADDR:PORT (connect within 0.3 s)
tcp_open() {
	timeout 0.3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
# vip_holder ADDR: the one lab host holding ADDR ("" when none or both)
vip_holder() {
	local a=0 b=0
	holds_addr 1 "$1" && a=1
	holds_addr 2 "$1" && b=1
	if ((a && !b)); then echo 1; elif ((b && !a)); then echo 2; fi
}
# pg_write ADDR: one INSERT through ADDR from the machine (the repmgr role, its password in
# PGPASSFILE: never on a command line)
pg_write() {
	timeout 5 psql -X -q -A -t -v ON_ERROR_STOP=1 \
		"host=$1 user=repmgr dbname=omnileads connect_timeout=2" \
		-c "INSERT INTO bench_ha (at) VALUES (now())" >/dev/null 2>&1
}
# wait_write ADDR SECONDS T0: prints the seconds from T0 until a write through ADDR succeeds
wait_write() {
	# the TCP check first: psql's connect_timeout is at least 2 s, too coarse a step
	until tcp_open "$1" 5432 && pg_write "$1"; do
		(($(usec) - $3 < $2 * 1000000)) || return 1
		sleep 0.2
	done
	secs_since "$3"
}
# pair_ok: status.ha says h1 primary with h2 streaming and HAHealthy True, and the servers
# agree (the status may lag behind a failover)
pair_ok() {
	local p s _
	[[ $(ha_status "$T") == "h1 h1 True "* ]] || return 1
	read -r p s _ <<<"$(pg_roles "$T")"
	[[ $p == h1 && $s == h2 ]] || return 1
	is_primary 1 && [[ $(pg_q 2 'SELECT pg_is_in_recovery()' 2>/dev/null) == t ]] &&
		[[ $(pg_q 1 "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null) == 1 ]]
}
# wait_steady SECONDS: keepalived runs on both nodes, the OMniLeads and RW VIPs on h1 alone, h1
# primary with h2 streaming (pair_ok)
wait_steady() {
	local deadline=$((SECONDS + $1))
	until [[ $(state_of 1 oml-keepalived) == running && $(state_of 2 oml-keepalived) == running &&
		$(vip_holder "$HA_VIP") == 1 && $(vip_holder "$HA_RW") == 1 ]] && pair_ok; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

# cut LABEL I WRITE-BOUND: cut h1's link, measure, give the link back; appends the VIP and write
# seconds (or FAIL) to the arrays named vip_LABEL and fo_LABEL; 1 when a bound was missed
cut() {
	local label=$1 i=$2 bound=$3 t0 v w rc=0
	local -n vips=vip_$label fos=fo_$label
	t0=$(usec)
	$OMLOP_LAB_CTL net-down 1 >/dev/null || fail "$label failover $i: net-down 1"
	if v=$(wait_answers "$HA_VIP" "$VIP_BOUND_S" "$t0") && holds_addr 2 "$HA_VIP"; then
		vips+=("$v")
	else
		v="FAIL (not on h2 within $VIP_BOUND_S s)" rc=1
		vips+=(FAIL)
	fi
	if w=$(wait_write "$HA_RW" "$bound" "$t0"); then
		fos+=("$w")
	else
		w="FAIL (no write within $bound s)" rc=1
		fos+=(FAIL)
	fi
	$OMLOP_LAB_CTL net-up 1 >/dev/null || fail "$label failover $i: net-up 1"
	say "$label failover $i: h1's link cut; VIP on h2 after $v s, a write through the RW VIP after $w s"
	echo "${vips[-1]}" >>"$LOGDIR/$label-vip.txt"
	echo "${fos[-1]}" >>"$LOGDIR/$label-write.txt"
	return $rc
}

# --- the tenant ------------------------------------------------------------------------------
write_ha_tenant "$WORK/t.yaml" "$T" "postgresHA=$E2E_PG_TAG"
echo "    failback: Auto" >>"$WORK/t.yaml"
"$OMLCTL" apply -f "$WORK/t.yaml" >/dev/null || fail "apply the ha tenant"
t0=$(now)
wait_ready "$T" 300
wait_pg_roles "$T" "h1 h2 streaming * *" 180
say "tenant Ready, h1 primary, h2 streaming: $(since "$t0") s"
wait_steady 60 || fail "not steady 60 s after Ready: $(pg_roles "$T"), VIP on '$(vip_holder "$HA_VIP")'"
pw=$(lab 1 podman exec "$PG_C" printenv POSTGRES_PASSWORD) || fail "read the PostgreSQL password"
printf '*:5432:*:repmgr:%s\n' "$pw" >"$WORK/pgpass"
chmod 0600 "$WORK/pgpass"
export PGPASSFILE=$WORK/pgpass
unset pw
psql -X -q "host=$HA_RW user=repmgr dbname=omnileads connect_timeout=2" \
	-c 'CREATE TABLE bench_ha (id serial PRIMARY KEY, at timestamptz)' >/dev/null ||
	fail "cannot write through the RW VIP $HA_RW from this machine"

# --- omlop: VRRPv3, omlopd promotes ----------------------------------------------------------
vip_omlop=() fo_omlop=() settle=()
for ((i = 1; i <= N; i++)); do
	t0=$(now)
	if ! wait_steady "$SETTLE_BOUND_S"; then
		say "omlop failover $i: not settled within $SETTLE_BOUND_S s ($(ha_status "$T"); $(pg_roles "$T")); no more"
		vip_omlop+=(FAIL) fo_omlop+=(FAIL)
		break
	fi
	((i == 1)) || settle+=("$(since "$t0")")
	sleep 1 # the last move's notify scripts (start/stop of the active-only ones) settle
	cut omlop "$i" "$WRITE_BOUND_S" || break
done

# --- 2.X: VRRPv2 (advert_int 1, PASS), repmgrd promotes ----------------------------------------
vip_2x=() fo_2x=()
if ((N2X > 0)); then
	sed -i 's/^    failback: Auto$/    failback: Auto\n    vrrpVersion: 2/' "$WORK/t.yaml"
	"$OMLCTL" apply -f "$WORK/t.yaml" >/dev/null || fail "apply the tenant with vrrpVersion 2"
	for ((i = 1; i <= N2X; i++)); do
		if ! wait_steady "$SETTLE_BOUND_S"; then
			say "2.X failover $i: not settled within $SETTLE_BOUND_S s ($(ha_status "$T"); $(pg_roles "$T")); no more"
			vip_2x+=(FAIL) fo_2x+=(FAIL)
			break
		fi
		if ((i == 1)); then
			lab 1 podman exec oml-keepalived grep -qP '^\tvrrp_version 2$' /run/omlop-keepalived/keepalived.conf ||
				fail "2.X: keepalived on h1 does not run VRRPv2"
		fi
		sleep 1
		stop_omlopd || true
		for n in 1 2; do
			# omlop's repmgr.conf plus 2.X's repmgrd settings; repmgr's defaults otherwise
			lab "$n" podman exec -i -u postgres "$PG_C" \
				bash -c "cp ~/repmgr.conf $REPMGRD_CONF && cat >>$REPMGRD_CONF" <<EOF ||
failover=automatic
promote_command='repmgr standby promote -f $REPMGRD_CONF --log-to-file'
follow_command='repmgr standby follow -f $REPMGRD_CONF --log-to-file --upstream-node-id=%n'
log_file='$REPMGRD_LOG'
EOF
				fail "2.X: repmgr.conf on h$n"
			lab "$n" podman exec -d -u postgres "$PG_C" repmgrd -f "$REPMGRD_CONF" \
				--daemonize=false --pid-file "$REPMGRD_PID" >/dev/null || fail "2.X: start repmgrd on h$n"
		done
		# repmgrd on the standby monitors the primary before the cut (bounded)
		deadline=$((SECONDS + 30))
		until lab 2 podman exec "$PG_C" grep -q "monitoring connection to upstream node" "$REPMGRD_LOG" 2>/dev/null; do
			((SECONDS < deadline)) || fail "2.X failover $i: repmgrd on h2 does not monitor h1 within 30 s"
			sleep 0.5
		done
		ok=0
		cut 2x "$i" "$WRITE_2X_BOUND_S" && ok=1
		lab 2 podman exec "$PG_C" tail -n 30 "$REPMGRD_LOG" >"$LOGDIR/repmgrd-2x-$i.log" 2>&1 || true
		repmgrd_stop
		lab 2 podman exec "$PG_C" rm -f "$REPMGRD_LOG" >/dev/null 2>&1 || true
		# the repair 2.X left to a person: omlopd fences whichever primary it did not record
		# and rejoins it (wait_steady above, bounded)
		start_omlopd
		((ok)) || break
	done
fi

# --- the table ---------------------------------------------------------------------------------
python3 - "$VIP_TARGET" "$WRITE_TARGET" "${vip_omlop[*]:-}" "${fo_omlop[*]:-}" "${vip_2x[*]:-}" \
	"${fo_2x[*]:-}" "${settle[*]:-}" >"$WORK/table.txt" <<'EOF' || status=$?
import sys
vt, wt = float(sys.argv[1]), float(sys.argv[2])
def parse(s):
    v = s.split()
    return [float(x) for x in v if x != "FAIL"], v.count("FAIL")
def pct(v, p):
    v = sorted(v)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]
rows, failed = [], False
res = [parse(a) for a in sys.argv[3:8]]
for label, (ok, bad), (ok2, bad2), target in (
        ("VIP move (link cut -> VIP answers)", res[0], res[2], vt),
        ("failover (link cut -> write via RW VIP)", res[1], res[3], wt)):
    n = len(ok) + bad
    x = "-"
    if ok2:
        x = "%.2f s (%d/%d ok)" % (pct(ok2, 50), len(ok2), len(ok2) + bad2)
        if ok:
            x += " %.1fx" % (pct(ok2, 50) / pct(ok, 50))
    if not ok:
        rows.append((label, "0/%d ok" % n, "-", "-", x, "< %g s" % target, "FAIL"))
        failed = True
        continue
    p50, p95 = pct(ok, 50), pct(ok, 95)
    verdict = "PASS" if bad == 0 and p95 < target else "FAIL"
    failed |= verdict == "FAIL"
    rows.append((label, "%d/%d ok" % (len(ok), n), "%.2f s" % p50, "%.2f s" % p95, x,
                 "< %g s" % target, verdict))
hdr = ("measurement", "omlop", "p50", "p95", "2.X p50 (runs) ratio 2.X/omlop", "target (p95)",
       "result")
w = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
fmt = "  ".join("%%-%ds" % x for x in w)
print(fmt % hdr)
for r in rows:
    print(fmt % r)
st, _ = res[4]
if st:
    print("omlop: link back -> pair settled again (rejoin, switchover back): p50 %.1f s, max %.1f s"
          % (pct(st, 50), max(st)))
sys.exit(1 if failed else 0)
EOF
status=${status:-0}
cat "$WORK/table.txt"
cp "$WORK/table.txt" "$LOGDIR/table.txt"
# the tenant's containers and volumes go with the EXIT trap (e2e_cleanup), omlopd or not
exit "$status"
