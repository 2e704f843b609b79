#!/bin/sh
# A one-node OpenStack Swift with the s3api and tempauth middleware: the real S3 API (SigV4
# checked, ListObjectsV2, multipart) that the S3 client's unit tests and the backup scenarios
# talk to. Recipe: ../shared/reference/lab-parts.md, "S3 API: OpenStack Swift with s3api".
#
# usage: swift.sh up DIR PORT [ADDR [STORAGE_PORT]]
#        swift.sh down DIR
#
# up: rings, configs and data under DIR (created; must be empty or a previous swift.sh DIR),
#     the proxy on ADDR:PORT (default 127.0.0.1), the object, container and account servers on
#     127.0.0.1:STORAGE_PORT, +1, +2 (default PORT+1), then waits (bounded, 60 s) for the
#     proxy's /healthcheck and for the storage servers to answer.
#     Credentials: access key `lab:backup`, secret from $SWIFT_SECRET (default `labsecret`),
#     written to DIR/credentials. Virtual-host style works with http://BUCKET.localhost:PORT
#     (s3api's storage_domain: $SWIFT_STORAGE_DOMAIN, default localhost). With $SWIFT_OWNER_PID set, the servers are also stopped and
#     DIR removed when that process dies (a test binary that crashes leaves nothing behind).
#     Idempotent: a DIR whose servers answer is left as it is; a stale one is rebuilt.
# down: stops every process up started (TERM, then KILL after 5 s) and removes DIR. A missing
#     DIR is nothing to do.
#
# Packages (--no-install-recommends): swift-proxy swift-account swift-container swift-object.
set -u

die() {
	echo "swift.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: swift.sh up DIR PORT [ADDR [STORAGE_PORT]] | down DIR" >&2
	exit 2
}

is_port() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	[ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# stop_all DIR: TERM every recorded process group, KILL what is left after 5 s.
stop_all() {
	pf=$1/run/pids
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

healthy() {
	curl -fsS --max-time 2 "http://$1/healthcheck" 2>/dev/null | grep -q '^OK'
}

# storage_up PORT: the storage server on 127.0.0.1:PORT answers HTTP (any status): the proxy's
# healthcheck says nothing about them, and a bucket created before they listen gets a 503.
storage_up() {
	code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null)
	[ -n "$code" ] && [ "$code" != 000 ]
}

# all_up ADDR:PORT STORAGE_PORT
all_up() {
	healthy "$1" && storage_up "$2" && storage_up $(($2 + 1)) && storage_up $(($2 + 2))
}

# addr_port ADDR PORT: ADDR:PORT, with brackets for an IPv6 address.
addr_port() {
	case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac
}

cmd_down() {
	[ $# -eq 1 ] || usage
	dir=$1
	[ -e "$dir" ] || {
		echo "swift.sh: $dir: not there, nothing to stop"
		return 0
	}
	[ -f "$dir/.swift-sh" ] || die "$dir was not made by swift.sh up (no $dir/.swift-sh): not removing it"
	stop_all "$dir"
	rm -rf "$dir" || die "could not remove $dir"
	echo "swift.sh: stopped and removed $dir"
}

write_confs() {
	d=$1 port=$2 addr=$3 sp=$4 user=$5 secret=$6 domain=$7
	mkdir -p "$d/etc" "$d/srv/d1" "$d/run" "$d/log" "$d/cache" || die "cannot create dirs under $d"
	cat >"$d/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = omlop-lab-suffix
swift_hash_path_prefix = omlop-lab-prefix

[storage-policy:0]
name = Policy-0
default = yes
EOF
	for n in object container account; do
		case $n in object) p=$sp ;; container) p=$((sp + 1)) ;; account) p=$((sp + 2)) ;; esac
		cat >"$d/etc/$n-server.conf" <<EOF
[DEFAULT]
devices = $d/srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $p
workers = 0
swift_dir = $d/etc
user = $user
log_name = $n-server
log_address = $d/run/nolog

[pipeline:main]
pipeline = $n-server

[app:$n-server]
use = egg:swift#$n
EOF
	done
	# The three one-device rings (what `swift-ring-builder NAME.builder create 8 1 1; add
	# r1z1-127.0.0.1:PORT/d1 100; rebalance` makes), in one Python process: nine
	# swift-ring-builder runs take half a minute on a loaded machine.
	/usr/bin/python3 - "$d/etc" "$sp" <<'PY' || die "building the rings in $d/etc failed"
import sys
from swift.common.ring import RingBuilder

etc, port = sys.argv[1], int(sys.argv[2])
for off, name in enumerate(("object", "container", "account")):
    b = RingBuilder(8, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port + off,
               "device": "d1", "weight": 100})
    b.rebalance()
    b.save("%s/%s.builder" % (etc, name))
    b.get_ring().save("%s/%s.ring.gz" % (etc, name))
PY
	cat >"$d/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = $addr
bind_port = $port
workers = 0
swift_dir = $d/etc
user = $user
log_name = proxy-server
log_address = $d/run/nolog

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_lab_backup = $secret .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
storage_domain = $domain

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF
	umask 077
	printf 'access_key=lab:backup\nsecret_key=%s\nendpoint=http://%s\nregion=us-east-1\n' \
		"$secret" "$(addr_port "$addr" "$port")" >"$d/credentials"
}

cmd_up() {
	[ $# -ge 2 ] && [ $# -le 4 ] || usage
	dir=$1 port=$2 addr=${3:-127.0.0.1} sp=${4:-}
	is_port "$port" || die "PORT '$port' is not a port number (1-65535)"
	[ -n "$sp" ] || sp=$((port + 1))
	is_port "$sp" && [ "$sp" -le 65533 ] || die "STORAGE_PORT '$sp' is not a port number (1-65533)"
	case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
	for b in swift-proxy-server swift-object-server swift-container-server swift-account-server \
		curl /usr/bin/python3; do
		command -v "$b" >/dev/null 2>&1 ||
			die "$b not found: install swift-proxy swift-account swift-container swift-object (apt-get install --no-install-recommends) and curl"
	done
	ep=$(addr_port "$addr" "$port")
	if [ -f "$dir/.swift-sh" ] && [ -f "$dir/run/pids" ] && all_up "$ep" "$sp"; then
		echo "swift.sh: already up on http://$ep ($dir)"
		return 0
	fi
	if [ -e "$dir" ]; then
		if [ -f "$dir/.swift-sh" ]; then
			stop_all "$dir"
			rm -rf "$dir" || die "could not remove the stale $dir"
		elif [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
			die "$dir exists, is not empty and was not made by swift.sh: choose another DIR"
		fi
	fi
	if healthy "$ep"; then
		die "something already answers on http://$ep/healthcheck: choose another PORT"
	fi
	mkdir -p "$dir" || die "cannot create $dir"
	: >"$dir/.swift-sh"
	secret=${SWIFT_SECRET:-labsecret}
	case $secret in *[!A-Za-z0-9._-]* | '') die "SWIFT_SECRET must be [A-Za-z0-9._-]+" ;; esac
	domain=${SWIFT_STORAGE_DOMAIN:-localhost}
	case $domain in *[!A-Za-z0-9.-]* | '') die "SWIFT_STORAGE_DOMAIN must be a host name" ;; esac
	write_confs "$dir" "$port" "$addr" "$sp" "$(id -un)" "$secret" "$domain"
	for n in object container account proxy; do
		# setsid: each server leads its own process group, so down stops it with all it forked
		setsid "swift-$n-server" "$dir/etc/$n-server.conf" </dev/null >"$dir/log/$n.log" 2>&1 &
		echo $! >>"$dir/run/pids"
	done
	if [ -n "${SWIFT_OWNER_PID:-}" ]; then
		# the watcher ends with the owner or when down removes the pids file
		(
			while kill -0 "$SWIFT_OWNER_PID" 2>/dev/null && [ -f "$dir/run/pids" ]; do sleep 1; done
			if [ -f "$dir/run/pids" ]; then
				stop_all "$dir"
				rm -rf "$dir"
			fi
		) </dev/null >/dev/null 2>&1 &
	fi
	i=0
	while [ $i -lt 600 ]; do
		all_up "$ep" "$sp" && break
		for p in $(cat "$dir/run/pids"); do
			kill -0 "$p" 2>/dev/null && continue
			stop_all "$dir"
			tail -n 20 "$dir"/log/*.log >&2
			die "a swift server exited at start (logs above, in $dir/log)"
		done
		sleep 0.1
		i=$((i + 1))
	done
	if ! all_up "$ep" "$sp"; then
		stop_all "$dir"
		tail -n 20 "$dir"/log/*.log >&2
		die "no answer on http://$ep/healthcheck or from the storage servers on 127.0.0.1:$sp-$((sp + 2)) after 60 s (logs above, in $dir/log)"
	fi
	echo "swift.sh: up on http://$ep (access key lab:backup, $dir/credentials)"
}

[ $# -ge 1 ] || usage
verb=$1
shift
case $verb in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
*) usage ;;
esac
