#!/bin/sh
# Install the Debian packages omlop needs, only those missing (idempotent).
# usage: deps.sh REQUIRED... [-- OPTIONAL...]
# Required packages must install; optional ones (test peers) are installed when
# the archive has them and skipped with a note otherwise. `make deps` passes the
# test packages as optional, `make test` as required.
#
# Packages only: the machine state the e2e lab needs (Podman's directories,
# /run/sshd, keys, configs) is created by e2e/lab itself, not here.
set -u
required=""
optional=""
seen_sep=0
for p in "$@"; do
	if [ "$p" = "--" ]; then seen_sep=1; continue; fi
	if [ $seen_sep -eq 0 ]; then required="$required $p"; else optional="$optional $p"; fi
done

missing() {
	out=""
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
		case "$st" in *" installed") ;; *) out="$out $p" ;; esac
	done
	echo "$out"
}

miss_req=$(missing $required)
miss_opt=$(missing $optional)
if [ -z "$miss_req$miss_opt" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$miss_req$miss_opt"
	echo "deps: run as root:  apt-get update && apt-get install -y$miss_req$miss_opt"
	[ -z "$miss_req" ] && exit 0
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing:$miss_req$miss_opt"
apt-get update -qq || { echo "deps: apt-get update failed"; exit 1; }
if [ -n "$miss_req" ]; then
	apt-get install -y -qq --no-install-recommends $miss_req || { echo "deps: could not install:$miss_req"; exit 1; }
fi
for p in $miss_opt; do
	if apt-cache show "$p" >/dev/null 2>&1; then
		apt-get install -y -qq --no-install-recommends "$p" >/dev/null || echo "deps: note: optional package $p failed to install"
	else
		echo "deps: note: optional package $p is not in the archive; tests that need it are skipped (make unit, make e2e) or fail (make test)"
	fi
done
# The lab runs its own registry on 10.237.0.1:5000 (e2e/lab); the package's
# service, which systemd starts on install, listens on *:5000 and would take
# that port. Stop it only when this script installed the package.
case " $miss_opt $miss_req " in
*" docker-registry "*)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now docker-registry.service >/dev/null 2>&1 &&
			echo "deps: note: stopped and disabled docker-registry.service (the e2e lab runs its own registry on port 5000)"
	fi
	;;
esac
# Swift's packages enable services that read /etc/swift (the proxy on *:8080); the tests run their
# own Swift (e2e/parts/swift.sh). Stop them only when this script installed the packages.
case " $miss_opt $miss_req " in
*" swift-proxy "* | *" swift-account "* | *" swift-container "* | *" swift-object "*)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		units=$(systemctl list-unit-files --state=enabled --no-legend 'swift-*' 2>/dev/null | awk '{print $1}')
		[ -n "$units" ] && systemctl disable --now $units >/dev/null 2>&1 &&
			echo "deps: note: stopped and disabled the swift services (the tests run their own Swift)"
	fi
	;;
esac
exit 0
