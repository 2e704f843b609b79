#!/bin/bash
# docker-entrypoint.sh of the lab's real PostgreSQL 15 image (e2e/lab builds it with
# debootstrap; see e2e/README.md "The real PostgreSQL image"). Written for omlop's lab from
# the documented behaviour of the official postgres image, which the catalog's postgresql
# component runs (docker.io/postgres:14.9-bullseye):
#
# - `postgres ARGS...` (or only `-c ...` flags): started as root, it makes PGDATA and the
#   socket dir the postgres user's and runs itself again as postgres (setpriv); as postgres,
#   on an empty PGDATA it initialises the cluster from POSTGRES_USER (default postgres),
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB
#   (default POSTGRES_USER) and POSTGRES_INITDB_ARGS, runs /docker-entrypoint-initdb.d/*
#   (*.sh run or sourced, *.sql and *.sql.gz through psql) against a server that listens on
#   the unix socket only, stops it, and execs postgres: the server is PID 1 and the image's
#   STOPSIGNAL (SIGINT) is a fast shutdown.
# - Network connections need a password (scram-sha-256, POSTGRES_HOST_AUTH_METHOD), from
#   127.0.0.1 too; the unix socket trusts its users (podman exec psql/pg_dump -U USER).
# - Any other command runs as is (podman exec, a shell).
#
# Layout ha (PGHOSTHA=true, which omlop sets only for the bundled PostgreSQL of layout ha;
# docs/ha.md "PostgreSQL roles"): the cluster is initialised for streaming replication and
# repmgr (the settings below, a superuser role and database repmgr with POSTGRES_PASSWORD,
# kept for libpq in ~postgres/.pgpass), and PID 1 is a small supervisor instead of postgres:
# omlopd stops, clones, rewinds and starts the server through `podman exec` (repmgr) while
# the container keeps running. The settings live in postgresql.conf, the same on both nodes
# (pg_basebackup and pg_rewind copy it); the command's -c flags are not used. A server with
# primary data is not started when the peer omlopd recorded answers as a primary: a node
# that comes back after a failover never runs as a second primary, it waits for omlopd to
# rejoin it. `docker-entrypoint.sh ha-pg-start|ha-pg-stop` start and stop the server (repmgr's
# service commands).
set -Eeuo pipefail

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

log() { printf 'docker-entrypoint: %s\n' "$*"; }
die() {
	printf 'docker-entrypoint: error: %s\n' "$*" >&2
	exit 1
}

# psql_init ARGS...: psql on the init server's socket, as the superuser, stop on error
psql_init() {
	psql -X -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

run_initdb_d() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[[ -e $f ]] || continue
		case $f in
		*.sh)
			if [[ -x $f ]]; then
				log "running $f"
				"$f"
			else
				log "sourcing $f"
				# shellcheck disable=SC1090 # the user's init script
				. "$f"
			fi
			;;
		*.sql)
			log "running $f"
			psql_init --dbname "$POSTGRES_DB" -f "$f"
			;;
		*.sql.gz)
			log "running $f"
			gzip -dc "$f" | psql_init --dbname "$POSTGRES_DB"
			;;
		*) log "ignoring $f" ;;
		esac
	done
}

# what layout ha adds to postgresql.conf (lab-parts: pg_rewind needs wal_keep_size)
HA_CONF="
# docker-entrypoint: layout ha (streaming replication, repmgr)
listen_addresses = '*'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
wal_log_hints = on
wal_keep_size = '512MB'
shared_preload_libraries = 'repmgr'
"
HA_HOME=/var/lib/postgresql
HA_LOG=$HA_HOME/postgres.log

is_ha() { [[ ${PGHOSTHA:-} == true ]]; }

init_cluster() {
	local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	POSTGRES_USER=${POSTGRES_USER:-postgres}
	POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
	export POSTGRES_USER POSTGRES_DB
	if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
		die "the database is not initialised and POSTGRES_PASSWORD is empty: set it (or POSTGRES_HOST_AUTH_METHOD=trust, never outside a test)"
	fi
	log "initialising $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
	# the password goes through a pipe, never the command line (ps) nor a file
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of flags, as upstream
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
		--auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} >/dev/null
	{
		echo
		echo '# docker-entrypoint: every network client, with a password'
		echo "host all all all $auth"
		echo "host replication all all $auth"
	} >>"$PGDATA/pg_hba.conf"
	if is_ha; then printf '%s' "$HA_CONF" >>"$PGDATA/postgresql.conf"; fi
	# the init server listens on the unix socket only, so nothing (omlop's readiness check)
	# sees the database before it is ready
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -t 60 start >/dev/null
	if [[ $POSTGRES_DB != postgres ]]; then
		psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >/dev/null
	fi
	if is_ha; then
		psql_init --dbname postgres --set pw="$POSTGRES_PASSWORD" >/dev/null <<<"
CREATE ROLE repmgr SUPERUSER REPLICATION LOGIN PASSWORD :'pw';
CREATE DATABASE repmgr OWNER repmgr;"
	fi
	run_initdb_d
	pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
	log "initialised; starting postgres"
}

# ~postgres/.pgpass: the repmgr role's password for repmgr and pg_basebackup (libpq); ':' and
# '\' escaped as .pgpass wants
ha_pgpass() {
	local pw=${POSTGRES_PASSWORD:-}
	pw=${pw//\\/\\\\}
	pw=${pw//:/\\:}
	(umask 077 && printf '*:*:*:repmgr:%s\n' "$pw" >"$HA_HOME/.pgpass")
}

ha_pg_start() {
	pg_ctl -D "$PGDATA" -l "$HA_LOG" -w -t 60 start >/dev/null
}

ha_pg_stop() {
	if pg_ctl -D "$PGDATA" status >/dev/null 2>&1; then
		pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
	fi
}

# ha_peer_is_primary: the peer omlopd last recorded ($HA_HOME/omlop-peer, written with
# repmgr.conf) answers and is not in recovery
ha_peer_is_primary() {
	local peer r
	peer=$(cat "$HA_HOME/omlop-peer" 2>/dev/null) || return 1
	[[ -n $peer ]] || return 1
	r=$(psql -X -A -t -q "host=$peer user=repmgr dbname=repmgr connect_timeout=2" \
		-c 'SELECT pg_is_in_recovery()' 2>/dev/null) || return 1
	[[ $r == f ]]
}

# ha_supervise: PID 1 of layout ha; the server is a child it does not restart (omlopd decides)
ha_supervise() {
	trap 'ha_pg_stop || true; exit 0' TERM INT
	touch "$HA_LOG"
	tail -n 0 -F "$HA_LOG" 2>/dev/null &
	if [[ ! -f $PGDATA/standby.signal ]] && ha_peer_is_primary; then
		log "layout ha: the peer $(cat "$HA_HOME/omlop-peer") is a primary: not starting this one (omlopd rejoins it as its standby)"
	else
		ha_pg_start || log "layout ha: postgres did not start (see above)"
	fi
	while :; do
		sleep 5 &
		wait $! || true
	done
}

case ${1:-} in
ha-pg-start)
	ha_pg_start
	exit
	;;
ha-pg-stop)
	ha_pg_stop
	exit
	;;
esac

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi

if [[ ${1:-} == postgres ]]; then
	if [[ $(id -u) == 0 ]]; then
		mkdir -p "$PGDATA" /run/postgresql
		chmod 0700 "$PGDATA"
		chmod 2775 /run/postgresql
		# a volume that another uid created: what postgres must own (the official image does
		# the same); cheap on an empty or already right PGDATA
		find "$PGDATA" /run/postgresql \! -user postgres -exec chown postgres:postgres {} +
		if is_ha; then chown postgres:postgres "$HA_HOME"; fi
		exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
	fi
	if [[ ! -s $PGDATA/PG_VERSION ]]; then
		init_cluster
	fi
	if is_ha; then
		ha_pgpass
		unset POSTGRES_PASSWORD
		# libpq finds ~postgres/.pgpass through HOME, which setpriv left at the container's
		# (/root): without this the peer check below cannot log in (a node back after a
		# failover would start as a second primary) nor can a standby it starts stream
		export HOME=$HA_HOME
		ha_supervise
	fi
	# the password is only needed by initdb: keep it out of the server's environment
	unset POSTGRES_PASSWORD
	exec "$@"
fi

exec "$@"
