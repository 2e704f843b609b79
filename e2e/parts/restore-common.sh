# shellcheck shell=bash
# e2e/parts/restore-common.sh: what the restore scenarios (54-restore, 55-restore-migration)
# share, sourced after lib.sh and e2e_init: an independent S3 client (curl --aws-sigv4) on the
# lab's Swift, a seeded AIO tenant on the real PostgreSQL image backed by a bucket, and
# waiting for a Backup or a Restore to end.

[[ -n ${OMLOP_LAB_S3_URL:-} ]] ||
	fail "the lab has no S3 service (OMLOP_LAB_S3_URL): a lab from an older e2e/lab; run e2e/lab up $OMLOP_LAB_N"
# shellcheck disable=SC2034 # used by the scenarios that source this
PG=oml-postgresql-server
# shellcheck disable=SC2034
AST=oml-asterisk-server

# curl's own SigV4 (the access key holds ':': a netrc, not --user)
S3_HOSTPORT=${OMLOP_LAB_S3_URL#http://}
printf 'machine %s login %s password %s\n' "${S3_HOSTPORT%%:*}" "$OMLOP_LAB_S3_ACCESS_KEY" \
	"$OMLOP_LAB_S3_SECRET_KEY" >"$WORK/s3.netrc"
chmod 600 "$WORK/s3.netrc"
s3curl() { # CURL-ARG...: a signed request
	curl -sS --max-time 60 --aws-sigv4 "aws:amz:$OMLOP_LAB_S3_REGION:s3" \
		--netrc-file "$WORK/s3.netrc" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
s3_keys() { # BUCKET PREFIX: the keys under PREFIX, one a line
	s3curl -f "$OMLOP_LAB_S3_URL/$1?list-type=2&prefix=$(urlq "$2")" >"$WORK/list.xml" ||
		fail "list $1/$2"
	grep -o '<Key>[^<]*</Key>' "$WORK/list.xml" | sed 's/<[^>]*>//g' || true
}
s3_clear() { # BUCKET PREFIX: delete every object under PREFIX
	local k
	for k in $(s3_keys "$1" "$2"); do s3curl -f -X DELETE "$OMLOP_LAB_S3_URL/$1/$k" >/dev/null; done
}
s3_bucket() { # BUCKET: create it (owned already is fine)
	local code
	code=$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$OMLOP_LAB_S3_URL/$1") || fail "create bucket $1"
	[[ $code == 200 || $code == 409 ]] || fail "create bucket $1: HTTP $code"
}

# rs_tenant TENANT N BUCKET: apply an AIO tenant on lab host N, postgres on the real image,
# backed by BUCKET (Secret TENANT-s3)
rs_tenant() {
	local t=$1 n=$2 bucket=$3
	apply_secret "$t"
	{
		printf 'apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: %s-s3\ndata:\n' "$t"
		printf '  accessKey: %s\n' "$(printf %s "$OMLOP_LAB_S3_ACCESS_KEY" | base64 -w0)"
		printf '  secretKey: %s\n' "$(printf %s "$OMLOP_LAB_S3_SECRET_KEY" | base64 -w0)"
	} >"$WORK/$t-s3.yaml"
	"$OMLCTL" apply -f "$WORK/$t-s3.yaml" >/dev/null || fail "apply secret $t-s3"
	write_tenant "$WORK/$t.yaml" "$t" aio "" "h$n::$n"
	pg_use_real_image "$WORK/$t.yaml"
	printf '  objectStorage:\n    bucketURL: %s\n    bucketName: %s\n    region: %s\n    credentialsSecretRef:\n      name: %s-s3\n' \
		"$OMLOP_LAB_S3_URL" "$bucket" "$OMLOP_LAB_S3_REGION" "$t" >>"$WORK/$t.yaml"
	"$OMLCTL" apply -f "$WORK/$t.yaml" >/dev/null || fail "apply tenant $t"
}

# rs_pg_env TENANT N KEY: KEY's value in the tenant's rendered /etc/default/postgres.env
rs_pg_env() {
	"$OMLCTL" render -f "$WORK/$1.yaml" --host "h$2" -o env >"$WORK/$1-render.env" || fail "render -o env"
	awk -v k="$3" '/^# tenant / { f = ($0 ~ /\/etc\/default\/postgres\.env$/) }
		f && index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' "$WORK/$1-render.env"
}

# rs_wait_phase KIND NAME SECONDS PHASE...: wait until NAME's status.phase is one of PHASE...;
# prints it; the object is left in $WORK/KIND-NAME.json
rs_wait_phase() {
	local kind=$1 name=$2 deadline=$((SECONDS + $3)) phase='' p
	shift 3
	while ((SECONDS < deadline)); do
		"$OMLCTL" get "$kind" "$name" -o json >"$WORK/$kind-$name.json" || fail "get $kind $name"
		phase=$(json_get "$WORK/$kind-$name.json" 'o.get("status", {}).get("phase", "")')
		for p in "$@"; do [[ $phase == "$p" ]] && { echo "$phase"; return 0; }; done
		sleep 0.5
	done
	sed -n '/"status"/,$p' "$WORK/$kind-$name.json" >&2
	fail "$kind $name is '$phase' after the wait, want one of: $*"
}

# rs_backup NAME TENANT: a Backup, waited for (Completed); prints its timestamp
rs_backup() {
	printf 'apiVersion: omlop.io/v1alpha1\nkind: Backup\nmetadata:\n  name: %s\nspec:\n  tenantRef:\n    name: %s\n' \
		"$1" "$2" >"$WORK/backup-$1.yaml"
	"$OMLCTL" apply -f "$WORK/backup-$1.yaml" >/dev/null || fail "apply backup $1"
	[[ $(rs_wait_phase backup "$1" 120 Completed Failed) == Completed ]] || {
		sed -n '/"status"/,$p' "$WORK/backup-$1.json" >&2
		fail "backup $1 Failed"
	}
	json_get "$WORK/backup-$1.json" 'o["status"]["timestamp"]'
}

# rs_restore NAME TENANT SPEC-LINES: a Restore (SPEC-LINES: the spec's other fields, indented
# by 2), waited for until it ends; prints its phase
rs_restore() {
	printf 'apiVersion: omlop.io/v1alpha1\nkind: Restore\nmetadata:\n  name: %s\nspec:\n  tenantRef:\n    name: %s\n%s\n' \
		"$1" "$2" "$3" >"$WORK/restore-$1.yaml"
	"$OMLCTL" apply -f "$WORK/restore-$1.yaml" >/dev/null || fail "apply restore $1"
	rs_wait_phase restore "$1" 150 Succeeded Failed
}

# rs_hold TENANT: the tenant's omlop.io/restore-hold annotation ("" when none)
rs_hold() {
	"$OMLCTL" get tenant "$1" -o json >"$WORK/tenant-$1.json" || fail "get tenant $1"
	json_get "$WORK/tenant-$1.json" 'o["metadata"].get("annotations", {}).get("omlop.io/restore-hold", "")'
}

# rs_unheld TENANT: the hold is lifted within 10 s (omlopd writes the phase first, then lifts
# the hold on the tenant: a read right after Succeeded may see it still)
rs_unheld() {
	local deadline=$((SECONDS + 10))
	while [[ -n $(rs_hold "$1") ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.3
	done
}
