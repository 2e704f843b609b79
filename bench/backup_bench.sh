#!/usr/bin/env bash
# backup_bench.sh: backup and restore of a generated database through omlopd, against
# `pg_dump -Fc | aws s3 cp -` and `aws s3 cp - | pg_restore` on the same lab host, to the same
# bucket (the lab's Swift with s3api) - issue 13.
#
# One AIO tenant (bkbench) on lab host 1 with the real PostgreSQL 15 lab image, backed by the
# bucket bkbench-backups; bin/omlopd (release build). For each size in OMLOP_BENCH_BACKUP_MB
# (dump sizes in MB of 10^6 bytes, ascending; default "50 500") the database is grown with
# incompressible rows until its pg_dump -Fc is about that size, then:
#   omlop backup:     a Backup -> Completed; its time from Running to Completed (pg_dump
#                     --version, the row counts, the dump, the Asterisk tar, the manifest);
#   baseline backup:  on lab host 1, `podman exec PG pg_dump -Fc | aws s3 cp - s3://...`;
#   omlop restore:    a Restore of that Backup -> Succeeded; Running to Succeeded (download and
#                     SHA-256 check, stop, drop, pg_restore, Asterisk files, start, verify);
#   baseline restore: on lab host 1, drop and create the database, then
#                     `aws s3 cp s3://.../dump - | podman exec -i PG pg_restore ...`.
# During each omlop transfer omlopd's VmRSS is sampled every 100 ms (/proc/PID/status).
# Targets: omlop / baseline <= 1.5x for backup and restore at the largest size; VmRSS growth
# (peak - start) < 16 MiB at every size, and at the largest size within 4 MiB of the smallest's
# (memory does not grow with the dump).
#
# Needs root and the lab's packages: like e2e/run it takes the lab's lock
# (/run/lock/omlop-e2e.lock, waiting up to 30 min), brings a 3-host lab up when none is and
# takes it down again only then. Without root or the lab's packages: SKIP, exit 0. Without
# Debian's awscli (/usr/bin/aws): exit 1 (make deps installs it). Exit 1 when a step fails or a
# target is missed. OMLOP_BENCH_QUICK=1: sizes "20 60". OMLOP_BENCH_LOGDIR (default
# build/bench/backup_bench): omlopd's log, the RSS samples and the table.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
ROOT=$(pwd)
sizes=${OMLOP_BENCH_BACKUP_MB:-50 500}
[[ -n ${OMLOP_BENCH_QUICK:-} ]] && sizes=${OMLOP_BENCH_BACKUP_MB:-20 60}
read -ra SIZES <<<"$sizes"
LOGDIR=${OMLOP_BENCH_LOGDIR:-$ROOT/build/bench/backup_bench}
AWS=/usr/bin/aws # Debian's awscli (v2); a pyenv `aws` on PATH may be v1
RATIO_MAX=1.5
RSS_GROWTH_MAX_KIB=$((16 * 1024))
RSS_SCALE_MAX_KIB=$((4 * 1024))
say() { printf 'backup_bench: %s\n' "$*"; }
skip() {
	say "SKIP: $*"
	exit 0
}

for s in "${SIZES[@]}"; do
	[[ $s =~ ^[1-9][0-9]*$ ]] || {
		say "error: OMLOP_BENCH_BACKUP_MB: '$s' is not a size in MB" >&2
		exit 2
	}
done
[[ $(id -u) -eq 0 ]] || skip "needs root (the e2e lab)"
for t in python3 curl flock; do command -v "$t" >/dev/null || skip "$t is not installed"; done
[[ -x $ROOT/bin/omlopd && -x $ROOT/bin/omlctl ]] || {
	say "error: no bin/omlopd or bin/omlctl: run make first" >&2
	exit 1
}
[[ -x $AWS ]] || {
	say "error: no $AWS: the baseline needs Debian's awscli (make deps, or apt-get install awscli)" >&2
	exit 1
}
mkdir -p "$LOGDIR"
# shellcheck source=bench/lablock.sh
source "$ROOT/bench/lablock.sh"
trap bench_lab_release EXIT
trap 'exit 130' INT TERM # the EXIT trap then takes down what this run brought up
bench_lab_acquire "$LOGDIR/lab-up.log"

TENANTS=(bkbench)
LAB_HOSTS_USED=(1)
export OMLOP_E2E_OMLOPD=$ROOT/bin/omlopd OMLOP_E2E_OMLCTL=$ROOT/bin/omlctl
SCENARIO=backup_bench
# shellcheck source=e2e/scenarios/lib.sh
source "$ROOT/e2e/scenarios/lib.sh"
T=bkbench
BUCKET=bkbench-backups
SAMPLER=
# shellcheck disable=SC2317 # the EXIT trap
bench_cleanup() {
	local rc=$?
	[[ -n $SAMPLER ]] && kill "$SAMPLER" 2>/dev/null && wait "$SAMPLER" 2>/dev/null
	[[ -f ${WORK:-}/omlopd.log ]] && cp "$WORK/omlopd.log" "$LOGDIR/omlopd.log" 2>/dev/null
	if [[ -n $PID ]]; then
		"$OMLCTL" delete tenant "$T" --wait --timeout=90s >/dev/null 2>&1 || true
	fi
	if declare -F s3curl >/dev/null; then
		s3_clear "$BUCKET" "backup/$T/" 2>/dev/null || true
		s3_clear "$BUCKET" "baseline/$T/" 2>/dev/null || true
		s3curl -o /dev/null -X DELETE "$OMLOP_LAB_S3_URL/$BUCKET" 2>/dev/null || true
	fi
	e2e_cleanup # omlopd, the tenant's containers and volumes on host 1, WORK
	bench_lab_release
	exit "$rc"
}
e2e_init
trap bench_cleanup EXIT
# shellcheck source=e2e/parts/restore-common.sh
source "$ROOT/e2e/parts/restore-common.sh"
s3_bucket "$BUCKET"
s3_clear "$BUCKET" "backup/$T/"
s3_clear "$BUCKET" "baseline/$T/"

start_omlopd --log-level debug # the backup's and restore's step times (backup_run.c, restore_run.c)
t0=$(now)
rs_tenant "$T" 1 "$BUCKET"
wait_ready "$T" 300
PGU=$(rs_pg_env "$T" 1 POSTGRES_USER)
PGD=$(rs_pg_env "$T" 1 POSTGRES_DB)
[[ -n $PGU && -n $PGD ]] || fail "render: postgres.env has no POSTGRES_USER or POSTGRES_DB"
pg_wait 1 "$PG" "$PGU" "$PGD" 60
lab 1 podman exec "$AST" sh -c 'mkdir -p /etc/asterisk/custom &&
	echo "; bkbench" >/etc/asterisk/custom/extensions_custom.conf' ||
	fail "write a file into $AST's /etc/asterisk/custom"
pg_psql 1 "$PG" "$PGU" "$PGD" -c 'CREATE TABLE bench_blob (id int PRIMARY KEY, payload bytea NOT NULL)' \
	>/dev/null || fail "create table bench_blob"
say "tenant $T Ready on lab host 1 in $(since "$t0") s (omlopd pid $PID, S3 $OMLOP_LAB_S3_URL, $($AWS --version 2>&1 | cut -d' ' -f1))"

# The baseline's aws: the lab's keys in its environment, nothing read from ~/.aws
aws_env=(env AWS_ACCESS_KEY_ID="$OMLOP_LAB_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$OMLOP_LAB_S3_SECRET_KEY"
	AWS_DEFAULT_REGION="$OMLOP_LAB_S3_REGION" AWS_CONFIG_FILE=/dev/null
	AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER=)
AWS_CMD=("${aws_env[@]}" "$AWS" --endpoint-url "$OMLOP_LAB_S3_URL" --no-cli-pager)

# --- the data ------------------------------------------------------------------------------------
# Rows of 1024 random bytes (64 MD5 digests): TOAST does not compress them and pg_dump's zlib
# only takes back what its hex text form added, so the dump is about 1.06 kB a row.
ROWS=0
BYTES_PER_ROW=1060 # first guess; replaced by what the first backup measured
grow_to() {         # ROWS: insert rows ROWS+1 .. up to the given total, 50,000 per statement
	local want=$1 hi
	while ((ROWS < want)); do
		hi=$((ROWS + 50000))
		((hi > want)) && hi=$want
		pg_psql 1 "$PG" "$PGU" "$PGD" -c "INSERT INTO bench_blob
			SELECT g, (SELECT decode(string_agg(md5(g::text || ':' || k::text || ':' || random()::text), ''), 'hex')
			           FROM generate_series(1, 64) k)
			FROM generate_series($((ROWS + 1)), $hi) g" >/dev/null || fail "inserting rows $((ROWS + 1))..$hi"
		ROWS=$hi
	done
	pg_psql 1 "$PG" "$PGU" "$PGD" -c 'VACUUM ANALYZE bench_blob' >/dev/null || fail "vacuum bench_blob"
}

# --- omlopd's memory ----------------------------------------------------------------------------
# sampler OUT: "epoch VmRSS-KiB" every 100 ms, until killed (bounded: 1 h)
sampler_start() {
	python3 - "$PID" "$1" <<'PY' &
import sys, time
pid, out = sys.argv[1], open(sys.argv[2], "w", buffering=1)
end = time.time() + 3600
while time.time() < end:
    try:
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                out.write("%.3f %s\n" % (time.time(), line.split()[1]))
    except OSError:
        break
    time.sleep(0.1)
PY
	SAMPLER=$!
	sleep 0.3 # a first sample before the transfer
}
sampler_stop() {
	sleep 0.5 # samples after the end
	kill "$SAMPLER" 2>/dev/null || true
	wait "$SAMPLER" 2>/dev/null || true
	SAMPLER=
}
# rss_summary FILE: "start peak end" (KiB): the first sample, the largest, the last
rss_summary() {
	awk 'NR == 1 { s = $2 } $2 > p { p = $2 } { e = $2 } END { if (NR < 3) exit 1; print s, p, e }' "$1" ||
		fail "fewer than 3 RSS samples in $1"
}

# watch_phase KIND NAME SECONDS DONE: poll every 100 ms until status.phase is DONE or Failed;
# prints "epoch-of-Running epoch-of-end phase" (Running's first sighting; the apply time when
# the phase went past Running between two polls)
watch_phase() {
	local kind=$1 name=$2 deadline=$((SECONDS + $3)) done=$4 p='' t_run='' t_apply
	t_apply=$(now)
	while ((SECONDS < deadline)); do
		p=$("$OMLCTL" get "$kind" "$name" -o json 2>/dev/null |
			python3 -c 'import json, sys; print(json.load(sys.stdin).get("status", {}).get("phase", ""))') || p=''
		[[ $p == Running && -z $t_run ]] && t_run=$(now)
		if [[ $p == "$done" || $p == Failed ]]; then
			echo "${t_run:-$t_apply} $(now) $p"
			return 0
		fi
		sleep 0.1
	done
	"$OMLCTL" get "$kind" "$name" -o json >&2 || true
	fail "$kind $name is '$p' after $3 s"
}
fsub() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) - float(sys.argv[2])))' "$1" "$2"; }

declare -A RES # key -> value; keys: <size>_<what>

# log_ms KEY=VALUE: the ms= of the last omlopd debug line of this tenant holding KEY=VALUE,
# in seconds (backup_run.c and restore_run.c time each part and step)
log_ms() {
	python3 - "$WORK/omlopd.log" "$T" "$1" <<'PY' || fail "omlopd's log has no line with $1 (run with --log-level debug)"
import re, sys
log, t, kv = sys.argv[1:4]
ms = None
for line in open(log):
    if ("tenant=%s " % t) in line and (" " + kv + " ") in line:
        m = re.search(r" ms=(\d+)", line)
        if m:
            ms = int(m.group(1))
if ms is None:
    sys.exit(1)
print("%.2f" % (ms / 1000))
PY
}

omlop_backup() { # MB: the Backup bkbench-MB; sets RES and TS
	local mb=$1 name=$T-$1 r
	printf 'apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata:\n  name: %s\nspec:\n  tenantRef:\n    name: %s\n' \
		"$name" "$T" >"$WORK/backup-$name.yaml"
	sampler_start "$LOGDIR/rss-backup-$mb.txt"
	local ta
	ta=$(now)
	"$OMLCTL" apply -f "$WORK/backup-$name.yaml" >/dev/null || fail "apply backup $name"
	r=$(watch_phase backup "$name" $((120 + 2 * mb)) Completed)
	sampler_stop
	read -r t_run t_end phase <<<"$r"
	"$OMLCTL" get backup "$name" -o json >"$WORK/backup-$name.json" || fail "get backup $name"
	[[ $phase == Completed ]] || {
		sed -n '/"status"/,$p' "$WORK/backup-$name.json" >&2
		fail "backup $name Failed"
	}
	TS=$(json_get "$WORK/backup-$name.json" 'o["status"]["timestamp"]')
	RES[${mb}_dump]=$(json_get "$WORK/backup-$name.json" \
		'[p["sizeBytes"] for p in o["status"]["parts"] if p["name"] == "database"][0]')
	RES[${mb}_ob_all]=$(fsub "$t_end" "$t_run")
	RES[${mb}_ob_apply]=$(fsub "$t_end" "$ta")
	RES[${mb}_ob]=$(log_ms "backup=$name backup_part=database bytes=${RES[${mb}_dump]}")
	read -r "RES[${mb}_ob_rss0]" "RES[${mb}_ob_rssp]" "RES[${mb}_ob_rss1]" < <(rss_summary "$LOGDIR/rss-backup-$mb.txt")
	say "omlop backup ($mb MB): dump ${RES[${mb}_dump]} bytes streamed in ${RES[${mb}_ob]} s; Running -> Completed ${RES[${mb}_ob_all]} s (apply -> Completed ${RES[${mb}_ob_apply]} s); VmRSS ${RES[${mb}_ob_rss0]} / ${RES[${mb}_ob_rssp]} / ${RES[${mb}_ob_rss1]} KiB"
}

baseline_backup() { # MB
	local mb=$1 t1 t2 key="baseline/$T/dump-$1" size
	t1=$(now)
	# shellcheck disable=SC2016 # expanded by the lab host's bash
	lab 1 bash -o pipefail -c 'podman exec "$1" sh -c "exec pg_dump -Fc -U \"\$0\" -d \"\$1\"" "$2" "$3" | "${@:5}" s3 cp - "s3://$4" --only-show-errors' \
		_ "$PG" "$PGU" "$PGD" "$BUCKET/$key" "${AWS_CMD[@]}" >"$WORK/aws.out" 2>&1 || {
		cat "$WORK/aws.out" >&2
		fail "baseline: pg_dump | aws s3 cp -"
	}
	t2=$(now)
	size=$(s3curl -fsI "$OMLOP_LAB_S3_URL/$BUCKET/$key" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
	[[ -n $size ]] || fail "baseline: no object $key after the upload"
	RES[${mb}_bb]=$(fsub "$t2" "$t1")
	RES[${mb}_bb_size]=$size
	say "baseline backup ($mb MB): pg_dump -Fc | aws s3 cp - : $size bytes in ${RES[${mb}_bb]} s"
	s3curl -f -X DELETE "$OMLOP_LAB_S3_URL/$BUCKET/$key" >/dev/null || fail "delete $key"
}

omlop_restore() { # MB
	local mb=$1 name=$T-rs-$1 r ta
	printf 'apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata:\n  name: %s\nspec:\n  tenantRef:\n    name: %s\n  backupRef:\n    name: %s\n' \
		"$name" "$T" "$T-$mb" >"$WORK/restore-$name.yaml"
	sampler_start "$LOGDIR/rss-restore-$mb.txt"
	ta=$(now)
	"$OMLCTL" apply -f "$WORK/restore-$name.yaml" >/dev/null || fail "apply restore $name"
	r=$(watch_phase restore "$name" $((180 + 4 * mb)) Succeeded)
	sampler_stop
	read -r t_run t_end phase <<<"$r"
	"$OMLCTL" get restore "$name" -o json >"$WORK/restore-$name.json" || fail "get restore $name"
	[[ $phase == Succeeded ]] || {
		sed -n '/"status"/,$p' "$WORK/restore-$name.json" >&2
		fail "restore $name Failed"
	}
	[[ $(json_get "$WORK/restore-$name.json" 'o["status"]["verification"]["result"]') == Passed ]] ||
		fail "restore $name: verification not Passed"
	[[ $(json_get "$WORK/restore-$name.json" 'o["status"]["verification"]["tables"]["public.bench_blob"]') == "$ROWS" ]] ||
		fail "restore $name: bench_blob does not have $ROWS rows"
	RES[${mb}_or_all]=$(fsub "$t_end" "$t_run")
	RES[${mb}_or_apply]=$(fsub "$t_end" "$ta")
	# the transfer: the dump from the bucket into the container, the drop, pg_restore
	RES[${mb}_or_dl]=$(log_ms "restore_part=database bytes=${RES[${mb}_dump]}")
	RES[${mb}_or_drop]=$(log_ms 'restore_step="drop database"')
	RES[${mb}_or_pgr]=$(log_ms 'restore_step="restore database"')
	RES[${mb}_or]=$(python3 -c 'import sys; print("%.2f" % sum(map(float, sys.argv[1:])))' \
		"${RES[${mb}_or_dl]}" "${RES[${mb}_or_drop]}" "${RES[${mb}_or_pgr]}")
	read -r "RES[${mb}_or_rss0]" "RES[${mb}_or_rssp]" "RES[${mb}_or_rss1]" < <(rss_summary "$LOGDIR/rss-restore-$mb.txt")
	say "omlop restore ($mb MB): download ${RES[${mb}_or_dl]} s + drop ${RES[${mb}_or_drop]} s + pg_restore ${RES[${mb}_or_pgr]} s = ${RES[${mb}_or]} s; Running -> Succeeded ${RES[${mb}_or_all]} s (apply -> Succeeded ${RES[${mb}_or_apply]} s), verification Passed; VmRSS ${RES[${mb}_or_rss0]} / ${RES[${mb}_or_rssp]} / ${RES[${mb}_or_rss1]} KiB"
	wait_ready "$T" 120
}

baseline_restore() { # MB: the same dump omlop backed up, through aws into pg_restore
	local mb=$1 t1 t2 key="backup/$T/$TS/pgsql-backup-$TS.sql" n
	t1=$(now)
	# shellcheck disable=SC2016 # expanded by the lab host's bash
	lab 1 bash -o pipefail -c '
		podman exec "$1" psql -X -q -v ON_ERROR_STOP=1 -U "$2" -d template1 \
			-c "DROP DATABASE \"$3\" WITH (FORCE)" -c "CREATE DATABASE \"$3\" OWNER \"$2\"" &&
		"${@:5}" s3 cp "s3://$4" - | podman exec -i "$1" pg_restore --no-owner --no-acl --exit-on-error -U "$2" -d "$3"' \
		_ "$PG" "$PGU" "$PGD" "$BUCKET/$key" "${AWS_CMD[@]}" >"$WORK/aws.out" 2>&1 || {
		cat "$WORK/aws.out" >&2
		fail "baseline: aws s3 cp - | pg_restore"
	}
	t2=$(now)
	n=$(pg_psql 1 "$PG" "$PGU" "$PGD" -c 'SELECT count(*) FROM bench_blob')
	[[ $n == "$ROWS" ]] || fail "baseline restore: bench_blob has $n rows, want $ROWS"
	RES[${mb}_br]=$(fsub "$t2" "$t1")
	say "baseline restore ($mb MB): drop, create, aws s3 cp - | pg_restore: ${RES[${mb}_br]} s"
}

for mb in "${SIZES[@]}"; do
	want=$(((mb * 1000000 + BYTES_PER_ROW - 1) / BYTES_PER_ROW))
	tg=$(now)
	grow_to "$want"
	say "database grown to $ROWS rows of 1 KiB for a ~$mb MB dump in $(since "$tg") s"
	omlop_backup "$mb"
	BYTES_PER_ROW=$((RES[${mb}_dump] / ROWS))
	baseline_backup "$mb"
	omlop_restore "$mb"
	baseline_restore "$mb"
done

# --- the table -----------------------------------------------------------------------------------
{
	for k in "${!RES[@]}"; do printf '%s=%s\n' "$k" "${RES[$k]}"; done
} >"$WORK/res.txt"
status=0
python3 - "$WORK/res.txt" "$RATIO_MAX" "$RSS_GROWTH_MAX_KIB" "$RSS_SCALE_MAX_KIB" "${SIZES[@]}" \
	>"$WORK/table.txt" <<'PY' || status=$?
import sys
res = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l)
ratio_max, growth_max, scale_max = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sizes = sys.argv[5:]
big, small = sizes[-1], sizes[0]
failed = False
rows = []
for mb in sizes:
    dump = int(res[mb + "_dump"])
    for what, o, b, judged in (("backup transfer", "ob", "bb", True),
                               ("backup whole", "ob_all", "bb", False),
                               ("restore transfer", "or", "br", True),
                               ("restore whole", "or_all", "br", False)):
        ot, bt = float(res[mb + "_" + o]), float(res[mb + "_" + b])
        ratio = ot / bt
        verdict = "-"
        if mb == big and judged:
            verdict = "PASS" if ratio <= ratio_max else "FAIL"
            failed |= verdict == "FAIL"
        rows.append(("%s %s MB" % (what, mb), "%.1f" % (dump / 1e6), "%.2f s" % ot,
                     "%.1f" % (dump / 1e6 / ot), "%.2f s" % bt, "%.1f" % (dump / 1e6 / bt),
                     "%.2fx" % ratio, "<= %.1fx" % ratio_max if mb == big and judged else "",
                     verdict))
hdr = ("omlop vs baseline", "dump MB", "omlop", "MB/s", "baseline", "MB/s", "ratio", "target", "result")
w = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
fmt = "  ".join("%%-%ds" % x for x in w)
print(fmt % hdr)
for r in rows:
    print(fmt % r)
print("transfer: backup = pg_dump streamed to the bucket; restore = the dump into the container +"
      " drop + pg_restore (omlopd's debug log); whole = Running to the end (+ pg_dump --version,"
      " row counts, Asterisk tars, manifest; restore + manifest, checksums, stop/start of the"
      " components, verification). Baseline: the pipe alone, with its podman exec and aws start.")
print()
rows = []
for what, o in (("backup", "ob"), ("restore", "or")):
    for mb in sizes:
        s, p, e = (int(res["%s_%s_rss%s" % (mb, o, k)]) for k in ("0", "p", "1"))
        g = p - s
        verdict = "PASS" if g < growth_max else "FAIL"
        note = ""
        if mb == big and big != small:
            gs = int(res["%s_%s_rssp" % (small, o)]) - int(res["%s_%s_rss0" % (small, o)])
            note = "%+d KiB vs %s MB" % (g - gs, small)
            if g - gs >= scale_max:
                verdict = "FAIL"
        failed |= verdict == "FAIL"
        rows.append(("%s %s MB" % (what, mb), str(s), str(p), str(e), str(g), note,
                     "< %d" % growth_max, verdict))
hdr = ("omlopd VmRSS (KiB)", "start", "peak", "end", "growth", "vs smallest", "target", "result")
w = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
fmt = "  ".join("%%-%ds" % x for x in w)
print(fmt % hdr)
for r in rows:
    print(fmt % r)
print("growth = peak - start; at %s MB it must stay within %d KiB of the %s MB growth"
      % (big, scale_max, small))
sys.exit(1 if failed else 0)
PY
cat "$WORK/table.txt"
cp "$WORK/table.txt" "$LOGDIR/table.txt"
exit $status
