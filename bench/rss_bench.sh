#!/usr/bin/env bash
# rss_bench: omlopd's resident memory and thread count with 10, 100 and 1,000
# Tenants (issue 6 (d), issue 11: VmRSS < 64 MiB at 1,000 tenants, and a thread
# count independent of the number of hosts and tenants).
#
# One run, three modes, each its own omlopd on a temp data dir and a free
# loopback port (--listen 127.0.0.1:0), reconcile loop on (2 workers):
#   paused       every Tenant annotated omlop.io/paused: "true", so the loop
#                reads it and holds it without touching any host;
#   unreachable  not paused, each Tenant's one host a distinct loopback
#                address (127.1.X.Y) on port 1, where nothing listens: 1,000
#                distinct hosts, each a live SSH session in the host pool that
#                fails and retries with backoff; rounds record
#                HostsReachable=False and back off;
#   reachable    not paused, the Tenants spread over 5 real sshd on 127.0.0.1
#                (started here, the unit-test fixture's way, with ForceCommand
#                /bin/false so a round can run no command on this machine):
#                many tenants per host, one shared SSH session per host. There
#                is no Podman behind them, so rounds fail after connecting.
# Each mode: measure the daemon with 0 tenants (the baseline, same run), then
# apply Tenants + their SSH Secrets (multi-document files, omlctl apply) up to
# 10, 100 and 1,000, settling after each, and read VmRSS, VmHWM and Threads
# from /proc/PID/status; then the bench lists the Tenants through the API (to
# check they are all stored) and reads VmRSS again ("afterList": a list of
# 1,000 Tenants with their status parses them all at once in the API thread,
# a heap peak of tens of MiB that glibc keeps, heaptrack shows it; omlctl get
# does the same to a running omlopd). Ratios are against that mode's
# baseline. A mode fails
# when VmRSS >= 64 MiB at 1,000 or the thread count at 1,000 differs from the
# one at 10 (the session threads are a fixed set, omlopd --ssh-threads).
#
# Knobs: OMLOP_BENCH_SETTLE_S (default 5) seconds between the apply and the
# reading; OMLOP_BENCH_MODES (default "paused unreachable reachable").
set -u
cd "$(dirname "$0")/.." || exit 2

OMLOPD=bin/omlopd
OMLCTL=bin/omlctl
SETTLE=${OMLOP_BENCH_SETTLE_S:-5}
MODES=${OMLOP_BENCH_MODES:-paused unreachable reachable}
N_SSHD=5
TARGET_KIB=$((64 * 1024))
[[ -x $OMLOPD && -x $OMLCTL ]] || { echo "rss_bench: SKIP (no $OMLOPD or $OMLCTL: make -j2)"; exit 0; }

WORK=$(mktemp -d /tmp/omlop-rss-bench.XXXXXX)
PID=
SSHD_PIDS=()
cleanup() {
	if [[ -n $PID ]]; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	for p in "${SSHD_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "rss_bench: $*" >&2; exit 1; }

ssh-keygen -q -t ed25519 -N '' -C rss-bench -f "$WORK/key" || die "ssh-keygen failed"
KEY_B64=$(base64 -w0 <"$WORK/key")
SSHD_PORTS=()
HOST_KEY=

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Start N_SSHD sshd on 127.0.0.1 that accept the bench key and run no command.
start_sshds() {
	local i port dir=$WORK/sshd
	[[ -x /usr/sbin/sshd ]] || die "/usr/sbin/sshd is missing: install openssh-server"
	mkdir -p "$dir" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -C rss-bench-host -f "$dir/host_key" || die "ssh-keygen failed"
	cp "$WORK/key.pub" "$dir/authorized_keys"
	HOST_KEY=$(cut -d' ' -f1,2 "$dir/host_key.pub")
	for ((i = 0; i < N_SSHD; i++)); do
		port=$(free_port)
		printf 'Port %d\nListenAddress 127.0.0.1\nHostKey %s/host_key\nPidFile %s/sshd-%d.pid\nAuthorizedKeysFile %s/authorized_keys\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowTcpForwarding yes\nForceCommand /bin/false\nMaxSessions 64\n' \
			"$port" "$dir" "$dir" "$i" "$dir" >"$dir/sshd-$i.conf"
		/usr/sbin/sshd -D -e -f "$dir/sshd-$i.conf" 2>"$dir/sshd-$i.log" &
		SSHD_PIDS+=($!)
		SSHD_PORTS+=("$port")
	done
	for port in "${SSHD_PORTS[@]}"; do
		for _ in $(seq 1 100); do
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
			sleep 0.1
		done
	done
}

# gen FROM TO MODE FILE: Tenants rss-FROM..rss-(TO-1) and their Secrets.
gen() {
	local i from=$1 to=$2 mode=$3 file=$4 ann="" addr port hk net
	[[ $mode == paused ]] && ann=$'  annotations:\n    omlop.io/paused: "true"\n'
	: >"$file"
	for ((i = from; i < to; i++)); do
		addr=127.0.0.1 port=1 hk=""
		net=$'  network:\n    infraEnv: lan\n    fqdn: rss.example.com\n'
		if [[ $mode == unreachable ]]; then
			addr=127.1.$((i / 250)).$((i % 250 + 1)) # a distinct host per tenant
		elif [[ $mode == reachable ]]; then
			port=${SSHD_PORTS[$((i % N_SSHD))]}
			hk="        knownHostKey: $HOST_KEY"$'\n'
		fi
		printf -- '---\napiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: rss-%d-ssh\ntype: kubernetes.io/ssh-auth\ndata:\n  ssh-privatekey: %s\n' \
			"$i" "$KEY_B64" >>"$file"
		printf -- '---\napiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: rss-%d\n%sspec:\n  layout: aio\n%s  hosts:\n    - name: h%d\n      ssh:\n        address: %s\n        port: %d\n        user: root\n%s        identitySecretRef:\n          name: rss-%d-ssh\n      lanIP: 127.0.0.1\n' \
			"$i" "$ann" "$net" "$i" "$addr" "$port" "$hk" "$i" >>"$file"
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

# Counts the objects of a kind the API lists.
count_kind() {
	"$OMLCTL" get "$1" -o json 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("items", [])))' 2>/dev/null || echo "?"
}

ROWS=()
NOTES=()
status=0
[[ " $MODES " == *" reachable "* ]] && start_sshds
for mode in $MODES; do
	mkdir -p "$WORK/$mode"
	start_daemon "$mode"
	sleep "$SETTLE"
	read -r base_rss base_hwm < <(mem "$PID")
	base_thr=$(awk '/^Threads:/ {print $2}' "/proc/$PID/status")
	ROWS+=("$(printf '%-12s %8s %10s %10s %10s %8s %8s %8s' "$mode" 0 "$base_rss" - "$base_hwm" 1.00x "$base_thr" -)")
	prev=0
	thr10=
	for n in 10 100 1000; do
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
		read -r rss hwm < <(mem "$PID")
		threads=$(awk '/^Threads:/ {print $2}' "/proc/$PID/status")
		stored=$(count_tenants)
		[[ $stored == "$n" ]] || die "the API lists $stored tenants, expected $n ($mode)"
		read -r rss_list _ < <(mem "$PID")
		[[ -z $thr10 ]] && thr10=$threads
		ratio=$(awk -v a="$rss" -v b="$base_rss" 'BEGIN {printf "%.2fx", a / b}')
		verdict=-
		if [[ $n == 1000 ]]; then
			if ((rss < TARGET_KIB)) && [[ $threads == "$thr10" ]]; then verdict=PASS; else
				verdict=FAIL
				status=1
			fi
		fi
		ROWS+=("$(printf '%-12s %8s %10s %10s %10s %8s %8s %8s   (apply %.2f s)' "$mode" "$n" "$rss" "$rss_list" "$hwm" "$ratio" "$threads" "$verdict" \
			"$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")")
	done
	if [[ $mode != paused ]]; then
		# How far the loop got: Tenants whose status already says HostsReachable (else the
		# figure would be of a daemon that never looked at them), and the sessions it opened.
		seen=$("$OMLCTL" get tenants -o json 2>/dev/null | python3 -c '
import json, sys
items = json.load(sys.stdin).get("items", [])
print(sum(1 for o in items if any(c.get("type") == "HostsReachable"
      for c in (o.get("status") or {}).get("conditions") or [])))' 2>/dev/null || echo "?")
		logins=$(cat "$WORK"/sshd/sshd-*.log 2>/dev/null | grep -c "Accepted publickey")
		NOTES+=("$mode: $seen of 1000 tenants had a HostsReachable condition at the reading; SSH logins accepted by the bench sshd so far: $logins; objects in the store: $(count_kind secrets) Secrets, $(count_kind events) Events")
	fi
	stop_daemon
done

echo "omlopd memory (KiB; ratio = VmRSS / the same mode's 0-tenant baseline; afterList = VmRSS once the bench listed the tenants through the API) and threads; target at 1,000: VmRSS < 64 MiB and threads as at 10"
printf '%-12s %8s %10s %10s %10s %8s %8s %8s\n' mode tenants VmRSS afterList VmHWM ratio threads result
for r in "${ROWS[@]}"; do echo "$r"; done
for r in "${NOTES[@]}"; do echo "$r"; done
exit $status
