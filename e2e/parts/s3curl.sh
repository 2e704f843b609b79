# shellcheck shell=bash
# e2e/parts/s3curl.sh: an independent S3 client for the backup scenarios (46, 47, 52-55): curl's own
# SigV4 against the lab's Swift (e2e/lab env: OMLOP_LAB_S3_*). Source it after lib.sh and
# e2e_init (it uses WORK and fail) with BUCKET set; s3_bucket creates the bucket.

S3_HOSTPORT=${OMLOP_LAB_S3_URL#http://}
# the access key has ':' (account:user): a netrc, not --user
printf 'machine %s login %s password %s\n' "${S3_HOSTPORT%%:*}" "$OMLOP_LAB_S3_ACCESS_KEY" \
	"$OMLOP_LAB_S3_SECRET_KEY" >"$WORK/s3.netrc"
chmod 600 "$WORK/s3.netrc"

s3curl() { # CURL-ARG...: a signed request (query parameters sorted by name, encoded)
	curl -sS --max-time 60 --aws-sigv4 "aws:amz:$OMLOP_LAB_S3_REGION:s3" \
		--netrc-file "$WORK/s3.netrc" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
s3_keys() { # PREFIX: the keys under PREFIX, one a line
	s3curl -f "$OMLOP_LAB_S3_URL/$BUCKET?list-type=2&prefix=$(urlq "$1")" >"$WORK/list.xml" ||
		fail "list $BUCKET/$1"
	grep -o '<Key>[^<]*</Key>' "$WORK/list.xml" | sed 's/<[^>]*>//g' || true
}
s3_pending() { # PREFIX: keys of the multipart uploads pending under PREFIX
	s3curl -f "$OMLOP_LAB_S3_URL/$BUCKET?prefix=$(urlq "$1")&uploads=" >"$WORK/uploads.xml" ||
		fail "list the uploads of $BUCKET/$1"
	grep -o '<Key>[^<]*</Key>' "$WORK/uploads.xml" | sed 's/<[^>]*>//g' || true
}
# s3_wait_keys PREFIX FILE SECONDS: until the sorted keys under PREFIX are FILE's lines (a
# listing may lag a moment behind the writes on a loaded Swift); 1 on timeout, the last
# listing in $WORK/keys.txt
s3_wait_keys() {
	local deadline=$((SECONDS + $3))
	until s3_keys "$1" | sort >"$WORK/keys.txt" && diff -q "$2" "$WORK/keys.txt" >/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}
# s3_wait_empty PREFIX SECONDS: until nothing is listed under PREFIX, objects or pending uploads
s3_wait_empty() {
	local deadline=$((SECONDS + $2))
	until [[ -z $(s3_keys "$1") && -z $(s3_pending "$1") ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}
s3_clear() { # PREFIX: delete every object under PREFIX
	local k
	for k in $(s3_keys "$1"); do s3curl -f -X DELETE "$OMLOP_LAB_S3_URL/$BUCKET/$k" >/dev/null; done
}
s3_bucket() { # create BUCKET (or find it there)
	local code
	code=$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$OMLOP_LAB_S3_URL/$BUCKET") || fail "create bucket $BUCKET"
	[[ $code == 200 || $code == 409 ]] || fail "create bucket $BUCKET: HTTP $code"
}
# s3_secret TENANT: the Secret TENANT-s3 with the lab's keys
s3_secret() {
	{
		printf 'apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n  name: %s-s3\ndata:\n' "$1"
		printf '  accessKey: %s\n' "$(printf %s "$OMLOP_LAB_S3_ACCESS_KEY" | base64 -w0)"
		printf '  secretKey: %s\n' "$(printf %s "$OMLOP_LAB_S3_SECRET_KEY" | base64 -w0)"
	} >"$WORK/s3-secret.yaml"
	"$OMLCTL" apply -f "$WORK/s3-secret.yaml" >/dev/null || fail "apply secret $1-s3"
}
# s3_tenant_storage FILE TENANT: append the tenant's objectStorage (the lab's S3, BUCKET)
s3_tenant_storage() {
	printf '  objectStorage:\n    bucketURL: %s\n    bucketName: %s\n    region: %s\n    credentialsSecretRef:\n      name: %s-s3\n' \
		"$OMLOP_LAB_S3_URL" "$BUCKET" "$OMLOP_LAB_S3_REGION" "$2" >>"$1"
}
