#!/usr/bin/env bash
# rss_bench: omlopd's resident memory with 100 and 1,000 Tenants in the store
# (issue 6 (d); target: VmRSS < 64 MiB at 1,000 tenants).
#
# One run, two modes, each its own omlopd on a temp data dir and a free
# loopback port (--listen 127.0.0.1:0), reconcile loop on (2 workers):
#   paused       every Tenant annotated omlop.io/paused: "true", so the loop
#                reads it and holds it without touching any host;
#   unreachable  not paused, its one host at 127.0.0.1 port 1 (nothing
#                listens): every round tries the SSH connection, fails,
#                records HostsReachable=False and backs off. Every tenant then
#                holds a live, retrying SSH connection (a pump thread) and a
#                Podman event follower (a thread): 2,000 threads at 1,000
#                tenants, about 80 KiB each, mostly thread stacks. This is
#                not the issue's case (tenants in the store) and is over its
#                64 MiB: it is printed as "info", not judged. (Until omlop
#                learnt public IPs on the hosts, these tenants - infraEnv cloud
#                by default, no natIP - stopped before connecting, so earlier
#                runs did not measure connections at all.)
# Each mode: measure the daemon with 0 tenants (the baseline, same run), then
# apply 100 Tenants + their SSH Secrets (one multi-document file, omlctl
# apply), settle, measure, then up to 1,000, settle, measure. VmRSS and VmHWM
# come from /proc/PID/status; ratios are against that mode's baseline.
#
# Knobs: OMLOP_BENCH_SETTLE_S (default 5) seconds between the apply and the
# reading; OMLOP_BENCH_MODES (default "paused unreachable").
set -u
cd "$(dirname "$0")/.." || exit 2

OMLOPD=bin/omlopd
OMLCTL=bin/omlctl
SETTLE=${OMLOP_BENCH_SETTLE_S:-5}
MODES=${OMLOP_BENCH_MODES:-paused unreachable}
TARGET_KIB=$((64 * 1024))
[[ -x $OMLOPD && -x $OMLCTL ]] || { echo "rss_bench: SKIP (no $OMLOPD or $OMLCTL: make -j2)"; exit 0; }

WORK=$(mktemp -d /tmp/omlop-rss-bench.XXXXXX)
PID=
cleanup() {
	if [[ -n $PID ]]; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "rss_bench: $*" >&2; exit 1; }

ssh-keygen -q -t ed25519 -N '' -C rss-bench -f "$WORK/key" || die "ssh-keygen failed"
KEY_B64=$(base64 -w0 <"$WORK/key")

# gen FROM TO MODE FILE: Tenants rss-FROM..rss-(TO-1) and their Secrets.
gen() {
	local i from=$1 to=$2 mode=$3 file=$4 ann=""
	[[ $mode == paused ]] && ann=$'  annotations:\n    omlop.io/paused: "true"\n'
	: >"$file"
	for ((i = from; i < to; i++)); do
		printf -- '---\napiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: rss-%d-ssh\ntype: kubernetes.io/ssh-auth\ndata:\n  ssh-privatekey: %s\n' \
			"$i" "$KEY_B64" >>"$file"
		printf -- '---\napiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: rss-%d\n%sspec:\n  layout: aio\n  hosts:\n    - name: h%d\n      ssh:\n        address: 127.0.0.1\n        port: 1\n        user: root\n        identitySecretRef:\n          name: rss-%d-ssh\n      lanIP: 127.0.0.1\n' \
			"$i" "$ann" "$i" "$i" >>"$file"
	done
}

# mem PID -> "RSS_KIB HWM_KIB"
mem() {
	awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {print r, h}' "/proc/$1/status"
}

start_daemon() {
	local mode=$1
	mkdir -p "$WORK/$mode/data"
	"$OMLOPD" --data-dir "$WORK/$mode/data" --listen 127.0.0.1:0 --reconcile --workers 2 \
		>"$WORK/$mode/start.txt" 2>"$WORK/$mode/omlopd.log" &
	PID=$!
	for _ in $(seq 1 100); do
		grep -q 'http://127.0.0.1:[0-9]' "$WORK/$mode/start.txt" 2>/dev/null && break
		kill -0 "$PID" 2>/dev/null || die "omlopd exited at start: $(tail -n 5 "$WORK/$mode/omlopd.log")"
		sleep 0.1
	done
	OMLOP_SERVER=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/$mode/start.txt" | head -n 1) ||
		die "omlopd did not print its address ($WORK/$mode/start.txt)"
	export OMLOP_SERVER
}

stop_daemon() {
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}

# Counts the Tenants the API lists (checks the apply really stored them).
count_tenants() {
	"$OMLCTL" get tenants -o json 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("items", [])))' 2>/dev/null || echo "?"
}

ROWS=()
NOTES=()
status=0
for mode in $MODES; do
	mkdir -p "$WORK/$mode"
	start_daemon "$mode"
	sleep "$SETTLE"
	read -r base_rss base_hwm < <(mem "$PID")
	ROWS+=("$(printf '%-12s %8s %10s %10s %8s %8s' "$mode" 0 "$base_rss" "$base_hwm" 1.00x -)")
	prev=0
	for n in 100 1000; do
		# omlctl takes at most 1,000 documents per file: files of 200 tenants + 200 Secrets.
		mkdir -p "$WORK/$mode/docs-$n"
		for ((c = prev; c < n; c += 200)); do
			gen "$c" "$((c + 200 < n ? c + 200 : n))" "$mode" "$WORK/$mode/docs-$n/part-$c.yaml"
		done
		t0=$(date +%s.%N)
		"$OMLCTL" apply -f "$WORK/$mode/docs-$n" >"$WORK/$mode/apply-$n.txt" 2>&1 ||
			die "omlctl apply of $n tenants ($mode) failed: $(tail -n 5 "$WORK/$mode/apply-$n.txt")"
		t1=$(date +%s.%N)
		prev=$n
		sleep "$SETTLE"
		kill -0 "$PID" 2>/dev/null || die "omlopd died with $n tenants ($mode): $(tail -n 5 "$WORK/$mode/omlopd.log")"
		stored=$(count_tenants)
		[[ $stored == "$n" ]] || die "the API lists $stored tenants, expected $n ($mode)"
		read -r rss hwm < <(mem "$PID")
		threads=$(awk '/^Threads:/ {print $2}' "/proc/$PID/status")
		ratio=$(awk -v a="$rss" -v b="$base_rss" 'BEGIN {printf "%.2fx", a / b}')
		verdict=-
		if [[ $n == 1000 && $mode == unreachable ]]; then
			verdict=info # see the header: not the issue's case, and over its budget
		elif [[ $n == 1000 ]]; then
			if ((rss < TARGET_KIB)); then verdict=PASS; else
				verdict=FAIL
				status=1
			fi
		fi
		ROWS+=("$(printf '%-12s %8s %10s %10s %8s %8s   (apply %.2f s)' "$mode" "$n" "$rss" "$hwm" "$ratio" "$verdict" \
			"$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")")
	done
	if [[ $mode == unreachable ]]; then
		# How far the loop got: Tenants whose status already says HostsReachable (else the
		# figure would be of a daemon that never looked at them).
		seen=$("$OMLCTL" get tenants -o json 2>/dev/null | python3 -c '
import json, sys
items = json.load(sys.stdin).get("items", [])
print(sum(1 for o in items if any(c.get("type") == "HostsReachable"
      for c in (o.get("status") or {}).get("conditions") or [])))' 2>/dev/null || echo "?")
		NOTES+=("unreachable: $seen of 1000 tenants had a HostsReachable condition at the reading; threads at the reading: ${threads:-?} (info: each tenant holds a retrying SSH connection and an event follower)")
	fi
	stop_daemon
done

echo "omlopd memory (KiB; ratio = VmRSS / the same mode's 0-tenant baseline; target VmRSS < 64 MiB at 1,000)"
printf '%-12s %8s %10s %10s %8s %8s\n' mode tenants VmRSS VmHWM ratio result
for r in "${ROWS[@]}"; do echo "$r"; done
for r in "${NOTES[@]}"; do echo "$r"; done
exit $status
