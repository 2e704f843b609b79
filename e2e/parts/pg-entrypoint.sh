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
	# the init server listens on the unix socket only, so nothing (omlop's readiness check)
	# sees the database before it is ready
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -t 60 start >/dev/null
	if [[ $POSTGRES_DB != postgres ]]; then
		psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >/dev/null
	fi
	run_initdb_d
	pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
	log "initialised; starting postgres"
}

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi

if [[ ${1:-} == postgres ]]; then
	if [[ $(id -u) == 0 ]]; then
		mkdir -p "$PGDATA" /run/postgresql
		chmod 0700 "$PGDATA"
		chmod 2775 /run/postgresql
		# a volume that another uid created: what postgres must own (the official image does
		# the same); cheap on an empty or already right PGDATA
		find "$PGDATA" /run/postgresql \! -user postgres -exec chown postgres:postgres {} +
		exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
	fi
	if [[ ! -s $PGDATA/PG_VERSION ]]; then
		init_cluster
	fi
	# the password is only needed by initdb: keep it out of the server's environment
	unset POSTGRES_PASSWORD
	exec "$@"
fi

exec "$@"
