# shellcheck shell=bash
# e2e/scenarios/48-ha-lib.sh: what the ha scenarios (48, 49, 61-63) share (sourced after
# lib.sh; not executable, so e2e/run does not run it). Layout ha on lab hosts 1 (main) and 2
# (backup), the OMniLeads VIP HA_VIP on eth0 of the lab bridge (keepalived, reconcilers/ha.h);
# the PostgreSQL roles (reconcilers/ha_pg.h) with the lab's real PostgreSQL + repmgr image.

HA_VIP=10.237.0.200
HA_RW=10.237.0.201
HA_RO=10.237.0.202

# write_ha_tenant FILE TENANT [TAGS [VRRP]]: an ha tenant, h1 main on lab host 1, h2 backup on
# lab host 2 (TAGS as write_tenant's: "postgresHA=$E2E_PG_TAG" for the real PostgreSQL; VRRP:
# spec.ha.vrrpVersion, absent when empty: the default, 3)
write_ha_tenant() {
	write_tenant "$1" "$2" ha "${3:-}" h1:main:1 h2:backup:2
	cat >>"$1" <<EOF2
  ha:
    vipNIC: eth0
    netaddr: 10.237.0.0/24
    omnileadsVIP: $HA_VIP
    postgresRWVIP: $HA_RW
    postgresROVIP: $HA_RO
    preferredMain: h1
EOF2
	if [[ -n ${4:-} ]]; then echo "    vrrpVersion: $4" >>"$1"; fi
}

# ha_cleanup: no VIP left on a host (a keepalived killed keeps its address), the link up
ha_cleanup() {
	local n a
	$OMLOP_LAB_CTL net-up 1 >/dev/null 2>&1 || true
	for n in 1 2; do
		for a in "$HA_VIP" "$HA_RW" "$HA_RO"; do
			lab "$n" ip addr del "$a/24" dev eth0 >/dev/null 2>&1 || true
		done
		lab "$n" rm -f /etc/omnileads/keepalived-run.sh >/dev/null 2>&1 || true
	done
}

# vip_report: where HA_VIP is and what each node's keepalived said last (for a failure)
vip_report() {
	local n
	for n in 1 2; do
		if holds_vip "$n"; then echo "lab host $n holds $HA_VIP"; else echo "lab host $n does not hold $HA_VIP"; fi
		echo "keepalived on lab host $n, last lines:"
		lab "$n" podman logs --tail 12 oml-keepalived 2>&1 | sed 's/^/    /' || true
	done
}

holds_vip() { # N: lab host N has HA_VIP on a link
	holds_addr "$1" "$HA_VIP"
}

# wait_vip N SECONDS: until HA_VIP is on lab host N (polled every 0.1 s); prints the seconds
# it took, or returns 1 after SECONDS
usec() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
wait_vip() {
	local t0 limit
	t0=$(usec)
	limit=$(($2 * 1000000))
	while ! holds_vip "$1"; do
		(($(usec) - t0 < limit)) || return 1
		sleep 0.1
	done
	python3 -c "print(round(($(usec) - $t0) / 1e6, 2))"
}

# active_only FILE: the active-only containers omlctl render lists (start order)
active_only() {
	"$OMLCTL" render -f "$1" -o json >"$WORK/render-ao.json" || fail "omlctl render -f $1"
	json_get "$WORK/render-ao.json" \
		'"\n".join(c["name"] for c in o["hosts"][0]["containers"] if c["haActiveOnly"])'
}

state_of() { # N NAME: podman's state of NAME on lab host N ("missing" when absent)
	local st
	st=$(pod_state "$1" "$2") # the socket, not the CLI: wait_ao polls six every 0.2 s
	echo "${st%% *}"
}

# wait_ao N running|stopped SECONDS: every active-only container on host N is running, or
# exists and is not running
wait_ao() {
	local n=$1 want=$2 deadline=$((SECONDS + $3)) c st ok
	while :; do
		ok=1
		for c in "${AO[@]}"; do
			st=$(state_of "$n" "$c")
			if [[ $want == running ]]; then
				[[ $st == running ]] || ok=0
			else
				[[ $st != running && $st != missing ]] || ok=0
			fi
		done
		((ok)) && return 0
		((SECONDS < deadline)) || {
			for c in "${AO[@]}"; do echo "  host $n $c: $(state_of "$n" "$c")" >&2; done
			return 1
		}
		sleep 0.2
	done
}

# ha_status TENANT: "ACTIVE HOLDERS HAHEALTHY-STATUS HAHEALTHY-REASON" from status
ha_status() {
	"$OMLCTL" get tenant "$1" -o json >"$WORK/ha.json" || fail "omlctl get tenant $1"
	json_get "$WORK/ha.json" '" ".join([
        (o.get("status", {}).get("ha") or {}).get("activeNode", "-"),
        ",".join(([v for v in (o.get("status", {}).get("ha") or {}).get("vips", [])
                   if v["name"] == "omnileads"] or [{"holders": []}])[0]["holders"]) or "-",
        ([c["status"] + " " + c["reason"] for c in o.get("status", {}).get("conditions", [])
          if c["type"] == "HAHealthy"] or ["- -"])[0]])'
}

# wait_ha_status TENANT PATTERN SECONDS: until ha_status matches the glob PATTERN
wait_ha_status() {
	local deadline=$((SECONDS + $3)) s
	while :; do
		s=$(ha_status "$1")
		# shellcheck disable=SC2053 # a glob on purpose
		[[ $s == $2 ]] && return 0
		((SECONDS < deadline)) || fail "status.ha of $1 is \"$s\", want \"$2\" (after $3 s)"
		sleep 0.5
	done
}

# ---- PostgreSQL roles (61-63) ------------------------------------------------------------------

PG_C=oml-postgresql-server

holds_addr() { # N ADDR: lab host N has ADDR on a link
	local out
	# read whole, then searched: under pipefail, `ip | grep -q` fails when grep stops at the
	# match before ip has written the rest (SIGPIPE), though the address is there
	out=$(lab "$1" ip -o -4 addr show) || return 1
	grep -q " inet $2/" <<<"$out"
}

# wait_addr N ADDR SECONDS: until ADDR is on lab host N (polled every 0.1 s); prints the seconds
wait_addr() {
	local t0 limit
	t0=$(usec)
	limit=$(($3 * 1000000))
	while ! holds_addr "$1" "$2"; do
		(($(usec) - t0 < limit)) || return 1
		sleep 0.1
	done
	python3 -c "print(round(($(usec) - $t0) / 1e6, 2))"
}

# wait_no_addr N ADDR SECONDS: until ADDR is not on lab host N (the old holder drops it once it
# hears the new holder's advert: a moment after the move)
wait_no_addr() {
	local deadline=$((SECONDS + $3))
	while holds_addr "$1" "$2"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# pg_roles TENANT: "PRIMARY STANDBY REPL-STATE LAG TIMELINE" from status.ha.postgres ("-" absent)
pg_roles() {
	"$OMLCTL" get tenant "$1" -o json >"$WORK/pg.json" || fail "omlctl get tenant $1"
	json_get "$WORK/pg.json" '" ".join(str(x) for x in [
        ((o.get("status", {}).get("ha") or {}).get("postgres") or {}).get("primary", "-"),
        ((o.get("status", {}).get("ha") or {}).get("postgres") or {}).get("standby", "-"),
        (((o.get("status", {}).get("ha") or {}).get("postgres") or {}).get("replication") or {}).get("state", "-"),
        (((o.get("status", {}).get("ha") or {}).get("postgres") or {}).get("replication") or {}).get("lagBytes", "-"),
        ((o.get("status", {}).get("ha") or {}).get("postgres") or {}).get("timeline", "-")])'
}

# wait_pg_roles TENANT PATTERN SECONDS: until pg_roles matches the glob PATTERN
wait_pg_roles() {
	local deadline=$((SECONDS + $3)) s
	while :; do
		s=$(pg_roles "$1")
		# shellcheck disable=SC2053 # a glob on purpose
		[[ $s == $2 ]] && return 0
		((SECONDS < deadline)) || fail "status.ha.postgres of $1 is \"$s\", want \"$2\" (after $3 s)"
		sleep 0.5
	done
}

# pg_q N SQL: run SQL on lab host N's server (unix socket, as repmgr on database omnileads)
pg_q() {
	lab "$1" podman exec -u postgres "$PG_C" psql -X -q -A -t -v ON_ERROR_STOP=1 -U repmgr \
		-d omnileads -c "$2"
}

# pg_q_at N ADDR SQL: the same through the network to ADDR (a VIP), from lab host N's postgres
# container; the repmgr role's password is in its ~/.pgpass (no password on a command line)
pg_q_at() {
	lab "$1" podman exec -u postgres "$PG_C" psql -X -q -A -t -v ON_ERROR_STOP=1 \
		"host=$2 user=repmgr dbname=omnileads connect_timeout=2" -c "$3"
}

# is_primary N: lab host N's server runs and is not in recovery
is_primary() {
	[[ $(pg_q "$1" 'SELECT pg_is_in_recovery()' 2>/dev/null) == f ]]
}

# wait_row N ID SECONDS: the row ID of e2e_ha is on lab host N's server
wait_row() {
	local deadline=$((SECONDS + $3))
	until [[ $(pg_q "$1" "SELECT count(*) FROM e2e_ha WHERE id = $2" 2>/dev/null) == 1 ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}
