#!/bin/sh
# A real ACME server for the lab: Debian's pebble, with pebble-challtestsrv as the DNS server it
# asks, so that a tenant's FQDN resolves to its lab host and pebble's http-01 validation really
# connects to port 80 there. Recipe: ../shared/reference/lab-parts.md, "ACME: pebble".
#
# usage: pebble.sh up DIR [VALIDITY_S]
#        pebble.sh add-a DIR NAME IPV4      (NAME resolves to IPV4 for pebble's validation)
#        pebble.sh root DIR                 (pebble's issuing root, PEM, on stdout)
#        pebble.sh down DIR
#
# up: a CA and a listener pair generated in DIR (never shipped: pebble's package has none),
#     pebble.json with certificateValidityPeriod VALIDITY_S (default 86400: certificates live a
#     day; 120 for renewal tests), then pebble (ACME directory https://127.0.0.1:$PEBBLE_PORT/dir,
#     management https://127.0.0.1:$PEBBLE_MGMT_PORT, TLS with DIR/ca.pem) with PEBBLE_VA_NOSLEEP=1
#     and pebble's default 5% of rejected nonces (clients must retry badNonce), and
#     pebble-challtestsrv (DNS 127.0.0.1:$PEBBLE_DNS_PORT, management 127.0.0.1:$PEBBLE_DNS_MGMT_PORT,
#     no challenge servers of its own); waits (bounded, 20 s) until both answer.
#     Never PEBBLE_VA_ALWAYS_VALID: validation is real. Idempotent: servers that answer with the
#     same validity are left running; otherwise they are stopped and started again (pebble keeps
#     no state: accounts and certificates are forgotten, and the root changes).
# down: stops both (TERM, then KILL after 5 s) and removes DIR; a missing DIR is nothing to do.
#
# Everything listens on 127.0.0.1 only. Ports (environment): PEBBLE_PORT (14100),
# PEBBLE_MGMT_PORT (15100), PEBBLE_DNS_PORT (8153), PEBBLE_DNS_MGMT_PORT (8155) and
# PEBBLE_HTTP_PORT (80, where http-01 is validated) - not the ports
# of unit-tests/clients/test_acme_pebble.c (14000, 15000, 8053, 8055), so both can run at once.
# Packages: pebble (pebble, pebble-challtestsrv), openssl, curl.
set -u

PEBBLE_PORT=${PEBBLE_PORT:-14100}
PEBBLE_MGMT_PORT=${PEBBLE_MGMT_PORT:-15100}
PEBBLE_DNS_PORT=${PEBBLE_DNS_PORT:-8153}
PEBBLE_DNS_MGMT_PORT=${PEBBLE_DNS_MGMT_PORT:-8155}
# the port pebble's validator connects to for http-01 (80: the solver on a lab host; a bench
# serving the challenge itself on the loopback uses a free high port)
PEBBLE_HTTP_PORT=${PEBBLE_HTTP_PORT:-80}

die() {
	echo "pebble.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: pebble.sh up DIR [VALIDITY_S] | add-a DIR NAME IPV4 | root DIR | down DIR" >&2
	exit 2
}

# stop_all DIR: TERM each recorded process group, KILL what is left after 5 s.
stop_all() {
	pf=$1/pids
	[ -f "$pf" ] || return 0
	pids=$(cat "$pf")
	for p in $pids; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
	i=0
	while [ $i -lt 50 ]; do
		alive=""
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
		[ -z "$alive" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for p in $pids; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done
	rm -f "$pf"
}

dir_answers() {
	curl -fsS --max-time 2 --cacert "$1/ca.pem" "https://127.0.0.1:$PEBBLE_PORT/dir" >/dev/null 2>&1
}

dns_answers() {
	# the management API answers any path; a 404 is an answer
	curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$PEBBLE_DNS_MGMT_PORT/" 2>/dev/null
}

running() { # DIR VALIDITY: both servers up with this validity
	[ -f "$1/pids" ] && [ "$(cat "$1/validity" 2>/dev/null)" = "$2 $PEBBLE_HTTP_PORT" ] || return 1
	while read -r p; do kill -0 "$p" 2>/dev/null || return 1; done <"$1/pids"
	dir_answers "$1" && dns_answers
}

make_pairs() {
	d=$1
	[ -s "$d/ca.pem" ] && [ -s "$d/cert.pem" ] && [ -s "$d/key.pem" ] && return 0
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 \
		-subj "/CN=omlop lab pebble CA" >/dev/null 2>&1 || die "openssl: the CA"
	openssl req -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/srv.csr" \
		-subj /CN=localhost >/dev/null 2>&1 || die "openssl: the listener key"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/cert.pem" -days 30 -extfile "$d/ext.cnf" >/dev/null 2>&1 ||
		die "openssl: the listener certificate"
	chmod 0600 "$d/ca.key" "$d/key.pem"
}

cmd_up() {
	d=$1
	validity=${2:-86400}
	case $validity in '' | *[!0-9]*) die "VALIDITY_S must be a number of seconds, got '$validity'" ;; esac
	[ "$validity" -ge 60 ] || die "VALIDITY_S must be at least 60, got $validity"
	if ! command -v pebble >/dev/null || ! command -v pebble-challtestsrv >/dev/null; then
		die "pebble or pebble-challtestsrv missing (Debian package pebble; make deps)"
	fi
	mkdir -p "$d" || die "cannot make $d"
	running "$d" "$validity" && return 0
	stop_all "$d"
	make_pairs "$d"
	cat >"$d/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT",
  "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
  "certificate": "$d/cert.pem", "privateKey": "$d/key.pem",
  "httpPort": $PEBBLE_HTTP_PORT, "tlsPort": 5001, "ocspResponderURL": "",
  "externalAccountBindingRequired": false,
  "certificateValidityPeriod": $validity}}
EOF
	setsid pebble-challtestsrv -management "127.0.0.1:$PEBBLE_DNS_MGMT_PORT" \
		-dns01 "127.0.0.1:$PEBBLE_DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
		-defaultIPv6 "" </dev/null >"$d/challtestsrv.log" 2>&1 &
	echo $! >"$d/pids"
	PEBBLE_VA_NOSLEEP=1 setsid pebble -config "$d/pebble.json" -strict=false \
		-dnsserver "127.0.0.1:$PEBBLE_DNS_PORT" </dev/null >"$d/pebble.log" 2>&1 &
	echo $! >>"$d/pids"
	echo "$validity $PEBBLE_HTTP_PORT" >"$d/validity"
	i=0
	while [ $i -lt 200 ]; do
		if dir_answers "$d" && dns_answers; then
			echo "pebble: https://127.0.0.1:$PEBBLE_PORT/dir (validity ${validity}s), DNS 127.0.0.1:$PEBBLE_DNS_PORT"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	tail -5 "$d/pebble.log" "$d/challtestsrv.log" >&2
	stop_all "$d"
	die "pebble did not answer on 127.0.0.1:$PEBBLE_PORT within 20 s (logs in $d)"
}

cmd_add_a() {
	if [ -z "${2:-}" ] || [ -z "${3:-}" ]; then usage; fi
	curl -fsS --max-time 5 -d "{\"host\":\"$2\",\"addresses\":[\"$3\"]}" \
		"http://127.0.0.1:$PEBBLE_DNS_MGMT_PORT/add-a" >/dev/null ||
		die "pebble-challtestsrv did not take $2 -> $3"
}

cmd_root() {
	curl -fsS --max-time 5 --cacert "$1/ca.pem" "https://127.0.0.1:$PEBBLE_MGMT_PORT/roots/0" ||
		die "no root from pebble's management port $PEBBLE_MGMT_PORT"
}

cmd_down() {
	[ -d "$1" ] || return 0
	stop_all "$1"
	rm -rf "$1"
}

[ $# -ge 2 ] || usage
cmd=$1
shift
case $cmd in
up) cmd_up "$@" ;;
add-a) cmd_add_a "$@" ;;
root) cmd_root "$1" ;;
down) cmd_down "$1" ;;
*) usage ;;
esac
