# shellcheck shell=bash
# e2e/scenarios/lib.sh: helpers the omlopd scenarios (30-*, 31-*, ...) source.
# Not executable on purpose: e2e/run only runs executable files.
#
# A scenario sets TENANTS (the tenant names it owns) and LAB_HOSTS_USED (lab host numbers)
# before calling e2e_init; e2e_init sets ROOT, OMLOPD, OMLCTL, WORK and an EXIT trap that
# stops omlopd and removes every container labelled for those tenants on those hosts, their
# named volumes and the files omlop writes there (env files, prometheus.yml, promtail.yml);
# it does the same cleanup first, so each scenario starts from hosts without them.

cd "${OMLOP_SRCDIR:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../..}" || exit 1
ROOT=$(pwd)
if [[ -z ${OMLOP_LAB_HOST1:-} ]]; then
	env_text=$("$ROOT/e2e/lab" env 2>/dev/null) || {
		echo "skip: no lab (e2e/lab up 3)"
		exit 77
	}
	eval "$env_text"
fi
R=$OMLOP_LAB_REGISTRY
PID=
WORK=
SCENARIO=${SCENARIO:-$(basename "$0")}

# the named volumes of the catalog (deleting a tenant keeps them; scenarios do not)
E2E_VOLUMES=(oml_minio oml_postgres oml_redis oml_rabbitmq asterisk_conf asterisk_sounds
	asterisk_callrec django_static django_callrec_zip oml_prometheus oml_promtail)
# the files omlop writes on a host besides the env files (/etc/default/*.env)
E2E_HOST_FILES=(/etc/omnileads/prometheus.yml /etc/omnileads/promtail.yml
	/etc/omnileads/certs/cert.pem /etc/omnileads/certs/key.pem)

fail() {
	echo "FAIL: $*" >&2
	if [[ -n ${WORK:-} && -f $WORK/omlopd.log ]]; then
		echo "--- omlopd log (tail):" >&2
		tail -n 40 "$WORK/omlopd.log" >&2
	fi
	exit 1
}

lab() { # N CMD...: run CMD inside lab host N (no ssh)
	local n=$1
	shift
	# OMLOP_LAB_EXEC is a command line: split on purpose
	# shellcheck disable=SC2086
	$OMLOP_LAB_EXEC "$n" -- "$@"
}

now() { date +%s.%N; }
since() { python3 -c "print(round($(now) - $1, 2))"; }

json_get() { # FILE PYTHON-EXPR (o = the document)
	python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

host_key() { # N: "ssh-ed25519 KEY" of lab host N
	local ip k
	ip=$(host_ip "$1")
	k=$(awk -v h="$ip" '$1 == h { print $2 " " $3; exit }' "$OMLOP_LAB_KNOWN_HOSTS")
	[[ -n $k ]] || fail "no host key for $ip in $OMLOP_LAB_KNOWN_HOSTS"
	echo "$k"
}
host_ip() { # N
	local v=OMLOP_LAB_HOST$1
	[[ -n ${!v:-} ]] || fail "lab host $1 does not exist"
	echo "${!v}"
}

tenant_ids() { # N TENANT: IDs of every container labelled for TENANT on host N
	lab "$1" podman ps -aq --no-trunc --filter "label=omlop.io/tenant=$2"
}

host_cleanup() { # N: remove the scenario's tenants' containers and volumes from host N
	local n=$1 t ids=()
	for t in "${TENANTS[@]}"; do
		mapfile -t ids < <(tenant_ids "$n" "$t" 2>/dev/null || true)
		if ((${#ids[@]} > 0)); then
			lab "$n" podman rm -f -t 2 "${ids[@]}" >/dev/null 2>&1 || true
		fi
	done
	# not -f: that would also remove any other tenant's container still using the volume
	for t in "${E2E_VOLUMES[@]}"; do
		lab "$n" podman volume rm "$t" >/dev/null 2>&1 || true
	done
	# the files omlop wrote, so that the next scenario sees only what its omlopd writes;
	# /etc/default only when it is the lab host's own (never the machine's)
	lab "$n" rm -f "${E2E_HOST_FILES[@]}" >/dev/null 2>&1 || true
	if lab "$n" findmnt -rn --mountpoint /etc/default >/dev/null 2>&1; then
		lab "$n" find /etc/default -maxdepth 1 -name '*.env' -type f -delete 2>/dev/null || true
	fi
}

# stop_omlopd: TERM, then KILL after 30 s (a worker ends its round first: a teardown's last
# removals, and ASan's leak check at exit, can take seconds on a loaded machine); returns its
# exit status
stop_omlopd() {
	local rc=0
	[[ -n $PID ]] || return 0
	if kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		for _ in $(seq 1 300); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$PID" 2>/dev/null || true
	fi
	wait "$PID" 2>/dev/null || rc=$?
	PID=
	return $rc
}

e2e_cleanup() {
	local n
	stop_omlopd || true
	for n in "${LAB_HOSTS_USED[@]}"; do
		# a scenario that stopped sshd and failed before starting it again
		if [[ -n ${E2E_SSHD_STOPPED:-} && $E2E_SSHD_STOPPED == "$n" ]]; then
			$OMLOP_LAB_CTL start-sshd "$n" >/dev/null 2>&1 || true
		fi
		host_cleanup "$n"
	done
	if [[ -n ${OMLOP_E2E_LOGDIR:-} && -f $WORK/omlopd.log ]]; then
		cp "$WORK/omlopd.log" "$OMLOP_E2E_LOGDIR/$SCENARIO.omlopd.log" 2>/dev/null || true
	fi
	[[ -n $WORK ]] && rm -rf "$WORK"
}

e2e_init() {
	local n
	# OMLOP_E2E_OMLOPD / OMLOP_E2E_OMLCTL: other binaries (e.g. copies, while a build runs)
	OMLOPD=${OMLOP_E2E_OMLOPD:-$ROOT/build/asan/bin/omlopd}
	[[ -x $OMLOPD ]] || OMLOPD=$ROOT/bin/omlopd
	[[ -x $OMLOPD ]] || fail "no omlopd binary: run make first"
	OMLCTL=${OMLOP_E2E_OMLCTL:-$ROOT/bin/omlctl}
	[[ -x $OMLCTL ]] || fail "no omlctl binary: run make first"
	command -v python3 >/dev/null || {
		echo "skip: python3 is needed to check JSON output"
		exit 77
	}
	WORK=$(mktemp -d "/tmp/omlop-e2e-$SCENARIO-XXXXXX")
	trap e2e_cleanup EXIT
	for n in "${LAB_HOSTS_USED[@]}"; do
		# omlop writes env files there: each lab host must have its own (e2e/lab since
		# /etc/default joined LAB_VIEW_DIRS), or they would land on this machine
		lab "$n" findmnt -rn --mountpoint /etc/default >/dev/null ||
			fail "lab host $n has no /etc/default of its own (a lab from an older e2e/lab): run e2e/lab up $OMLOP_LAB_N"
		host_cleanup "$n"
		# the catalog bind-mounts it (kamailio, nginx); it must exist on the host
		lab "$n" mkdir -p /etc/omnileads/certs
	done
	mkdir -p "$WORK/data"
}

# start_omlopd [FLAG...]: omlopd on $WORK/data, a free loopback port, with the scenario's
# extra flags; sets OMLOP_SERVER
# shellcheck disable=SC2120 # the flags are optional
start_omlopd() {
	: >"$WORK/start.txt"
	"$OMLOPD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --reconcile --workers 2 --resync 5 \
		"$@" >"$WORK/start.txt" 2>>"$WORK/omlopd.log" &
	PID=$!
	for _ in $(seq 1 100); do
		[[ -s $WORK/start.txt ]] && break
		kill -0 "$PID" 2>/dev/null || fail "omlopd exited at start"
		sleep 0.1
	done
	OMLOP_SERVER=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/start.txt") || fail "omlopd did not start"
	export OMLOP_SERVER
}

# omlopd_accepts FLAG VALUE: this omlopd takes FLAG VALUE (it parses every flag before
# acting on --version; an unknown flag or a bad value exits 2)
omlopd_accepts() {
	"$OMLOPD" "$1" "$2" --version >/dev/null 2>&1
}

# omlopd exits 0 on SIGTERM with nothing bad in its log (ASan builds report leaks at exit)
finish_omlopd() {
	stop_omlopd || fail "omlopd exited with $? (ASan/leaks? see the log)"
	if grep -E "recording the event failed|status write|AddressSanitizer|LeakSanitizer|runtime error" \
		"$WORK/omlopd.log" >&2; then
		fail "omlopd logged the errors above"
	fi
}

apply_secret() { # TENANT: Secret TENANT-ssh with the lab client key
	cat >"$WORK/$1-secret.yaml" <<EOF
apiVersion: omlop.io/v1alpha1
kind: Secret
metadata:
  name: $1-ssh
type: kubernetes.io/ssh-auth
data:
  ssh-privatekey: $(base64 -w0 <"$OMLOP_LAB_KEY")
EOF
	"$OMLCTL" apply -f "$WORK/$1-secret.yaml" >/dev/null || fail "apply secret $1-ssh"
}

# write_tenant FILE TENANT LAYOUT TAGS HOST...
#   TAGS: "key=tag,key=tag" for spec.images.tags ("" for the defaults)
#   HOST: NAME:ROLE:N (ROLE empty for aio): lab host N
# Infra env "lan" (the public address is the lanIP), the lab registry, and the third-party
# images (postgres, minio, rabbitmq) taken from the lab registry too. Observability is off
# unless E2E_OBSERVABILITY=true (then without lokiURL, so no Promtail; the exporters' and
# Prometheus' default image names resolve to the lab registry, see e2e/README.md).
write_tenant() {
	local file=$1 name=$2 layout=$3 tags=$4 h hn role n kv
	shift 4
	{
		cat <<EOF
apiVersion: omlop.io/v1alpha1
kind: Tenant
metadata:
  name: $name
spec:
  layout: $layout
  hosts:
EOF
		for h in "$@"; do
			IFS=: read -r hn role n <<<"$h"
			echo "    - name: $hn"
			[[ -n $role ]] && echo "      role: $role"
			cat <<EOF
      ssh:
        address: $(host_ip "$n")
        user: root
        identitySecretRef:
          name: $name-ssh
        knownHostKey: $(host_key "$n")
      lanIP: $(host_ip "$n")
EOF
		done
		cat <<EOF
  network:
    infraEnv: lan
  timeZone: America/Argentina/Cordoba
  observability:
    enabled: ${E2E_OBSERVABILITY:-false}
  images:
    registry: $R
    external:
      postgres: $R/omnileads/postgres:14.9-bullseye
      minio: $R/omnileads/minio:RELEASE.2023-09-27T15-22-50Z
      rabbitmq: $R/omnileads/rabbitmq:3.12
EOF
		if [[ -n $tags ]]; then
			echo "    tags:"
			IFS=, read -ra kv <<<"$tags"
			for h in "${kv[@]}"; do echo "      ${h%%=*}: \"${h#*=}\""; done
		fi
	} >"$file"
}

# render_want TENANT-FILE HOSTNAME: "name image spec-hash" lines omlop should run on that host
render_want() {
	"$OMLCTL" render -f "$1" -o json >"$WORK/render.json" || fail "omlctl render -f $1"
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
hosts = d["hosts"] if isinstance(d, dict) else d[0]["hosts"]
found = False
for h in hosts:
    if h["name"] != sys.argv[2]:
        continue
    found = True
    for c in h["containers"]:
        print(c["name"], c["image"], c["labels"]["omlop.io/spec-hash"])
if not found:
    sys.exit("render has no host " + sys.argv[2])
' "$WORK/render.json" "$2" | sort
}

# live_containers N TENANT: "name image state managed-by component spec-hash id" per container
live_containers() {
	local ids=()
	mapfile -t ids < <(tenant_ids "$1" "$2")
	((${#ids[@]} > 0)) || return 0
	# a container removed between the listing and the inspect is left out (omlop may be
	# recreating it right now); callers that need a settled host compare counts
	{ lab "$1" podman inspect "${ids[@]}" \
		--format '{{.Name}} {{.ImageName}} {{.State.Status}} {{index .Config.Labels "omlop.io/managed-by"}} {{index .Config.Labels "omlop.io/component"}} {{index .Config.Labels "omlop.io/spec-hash"}} {{.Id}}' \
		2>/dev/null || true; } | sort
}

# check_host N TENANT WANT-FILE: host N runs exactly the containers of WANT-FILE for TENANT,
# running, with the desired image and spec-hash and omlop's labels
check_host() {
	local n=$1 t=$2 want=$3 name image hash line limage lstate lmgr lcomp lhash nw nl
	live_containers "$n" "$t" >"$WORK/live.txt"
	while read -r name image hash; do
		line=$(awk -v n="$name" '$1 == n' "$WORK/live.txt")
		[[ -n $line ]] || fail "$name of $t is not on host $n"
		read -r _ limage lstate lmgr lcomp lhash _ <<<"$line"
		[[ $limage == "$image" ]] || fail "$name on host $n runs $limage, want $image"
		[[ $lstate == running ]] || fail "$name on host $n is $lstate, want running"
		[[ $lmgr == omlop ]] || fail "$name on host $n: omlop.io/managed-by=$lmgr"
		[[ -n $lcomp ]] || fail "$name on host $n: no omlop.io/component label"
		[[ $lhash == "$hash" ]] || fail "$name on host $n: spec-hash $lhash, want $hash"
	done <"$want"
	nw=$(wc -l <"$want")
	nl=$(wc -l <"$WORK/live.txt")
	((nl == nw)) || fail "host $n runs $nl containers of $t, want $nw: $(cut -d' ' -f1 "$WORK/live.txt" | tr '\n' ' ')"
}

wait_ready() { # TENANT SECONDS
	"$OMLCTL" wait tenant "$1" --for=condition=Ready --timeout="$2s" >/dev/null || {
		{ "$OMLCTL" get tenant "$1" -o yaml | sed -n '/^status:/,$p' | head -80 >&2; } || true
		fail "tenant $1 not Ready within $2 s"
	}
}

# wait until the round after Ready has settled (Progressing False)
wait_settled() { # TENANT SECONDS
	"$OMLCTL" wait tenant "$1" --for=condition=Progressing=False --timeout="$2s" >/dev/null ||
		fail "tenant $1 still Progressing after $2 s"
}

# pod_state N NAME: "STATUS ID" of container NAME on lab host N ("missing" when there is none),
# read from the host's Podman socket with curl: polling loops call it every 0.2 s, and the
# podman CLI costs about 0.25 s of CPU a call, which two e2e lanes on two cores cannot spare
pod_state() {
	local v="OMLOP_LAB_HOST$1_PODMAN_SOCKET" j st id
	[[ -n ${!v:-} ]] || fail "lab host $1 has no Podman socket in the lab's env ($v)"
	j=$(curl -s --max-time 5 --unix-socket "${!v}" "http://d/v4.0.0/libpod/containers/$2/json") || j=
	# State.Status follows State.OciVersion in libpod's inspect (State.Health has a Status too)
	st=$(sed -n 's/^.*"State":{"OciVersion":"[^"]*","Status":"\([a-z]*\)".*$/\1/p' <<<"$j")
	id=$(sed -n 's/^{"Id":"\([0-9a-f]*\)".*$/\1/p' <<<"$j")
	if [[ -n $st ]]; then echo "$st $id"; else echo missing; fi
}

wait_running() { # N NAME SECONDS [NOT-ID]: NAME runs on host N (with another ID than NOT-ID)
	local deadline=$((SECONDS + $3)) st
	while ((SECONDS < deadline)); do
		st=$(pod_state "$1" "$2")
		if [[ $st == running\ * ]] && [[ -z ${4:-} || $st != *"$4"* ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

started_at() { # N NAME: when container NAME on host N last started (podman's State.StartedAt)
	lab "$1" podman inspect -f '{{.State.StartedAt}}' "$2"
}

# wait_restarted N NAME STARTED SECONDS: NAME runs on host N again, started after STARTED (a
# killed container reads "running" for a moment; omlop starts the same container again)
wait_restarted() {
	local deadline=$((SECONDS + $4)) st
	until st=$(lab "$1" podman inspect -f '{{.State.Status}} {{.State.StartedAt}}' "$2" 2>/dev/null) &&
		[[ $st == "running "* && $st != "running $3" ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

events_json() { # TENANT FILE
	"$OMLCTL" get events --field-selector "involvedObject.name=$1" -o json >"$2"
}

wait_event() { # TENANT TEXT [SECONDS]: an Event on TENANT whose message contains TEXT
	local deadline=$((SECONDS + ${3:-20}))
	until events_json "$1" "$WORK/ev.json" && grep -q "$2" "$WORK/ev.json"; do
		((SECONDS < deadline)) || fail "no event on $1 saying '$2'"
		sleep 0.5
	done
}

# delete_tenant TENANT N...: delete it and wait (bounded) until its containers are gone from
# hosts N..., then until the tenant is (its finalizer goes last, after the files and Secrets).
# omlopd tears hosts down one after another, each within its longest stop timeout (postgres:
# 30 s) plus the removals, so the bound is 15 s + 35 s per host.
delete_tenant() {
	local t=$1 n deadline t0=$SECONDS
	shift
	"$OMLCTL" delete tenant "$t" >/dev/null || fail "delete tenant $t"
	deadline=$((SECONDS + 15 + 35 * $#))
	for n in "$@"; do
		while [[ -n $(tenant_ids "$n" "$t") ]]; do
			((SECONDS < deadline)) || fail "containers of the deleted tenant $t still on host $n $((SECONDS - t0)) s after the delete: $(lab "$n" podman ps -a --filter "label=omlop.io/tenant=$t" --format '{{.Names}} ({{.Status}})' | tr '\n' ' ')
$(grep -E "verb=delete resource=tenants name=$t |tenant=$t .*(reason=Stopping|configs removed \(tenant deleted)" "$WORK/omlopd.log" 2>/dev/null | cut -c1-200 | tail -n 12)"
			sleep 0.5
		done
	done
	# then the rest of the teardown (env files, generated Secrets) and the finalizer, last
	"$OMLCTL" wait tenant "$t" --for=delete --timeout=60s >/dev/null ||
		fail "the deleted tenant $t is still there $((SECONDS - t0)) s after the delete (its containers are gone)"
	echo "ok: tenant $t deleted, its containers gone from host(s) $* within $((SECONDS - t0)) s"
}

# ---- files omlop writes on the hosts -------------------------------------------------------

# host_files N PATH...: one line per PATH: "PATH MODE UID BASE64-CONTENT", or "PATH missing"
host_files() {
	local n=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner sh
	lab "$n" sh -c 'for f; do
		# a file removed between the test and the reads (a teardown under way) counts as missing
		if [ -f "$f" ] && m=$(stat -c "%a %u" "$f" 2>/dev/null) && b=$(base64 -w0 "$f" 2>/dev/null); then
			printf "%s %s %s\n" "$f" "$m" "$b"
		else printf "%s missing\n" "$f"; fi
	done' sh "$@"
}

# secret_value NAME KEY: the value of a Secret's key, as omlopd holds it
secret_value() {
	"$OMLCTL" get secret "$1" -o json >"$WORK/secret.json" || fail "omlctl get secret $1"
	python3 -c '
import base64, json, sys
d = json.load(open(sys.argv[1])).get("data") or {}
if sys.argv[2] not in d:
    sys.exit("secret %s has no key %s" % (sys.argv[3], sys.argv[2]))
sys.stdout.write(base64.b64decode(d[sys.argv[2]]).decode())' "$WORK/secret.json" "$2" "$1"
}

# check_env_files N TENANT-FILE HOSTNAME: every env file `omlctl render -o env` lists for
# HOSTNAME is on lab host N, mode 0600, owned by root, with exactly the rendered keys: the
# plain values as rendered, each <secret:NAME/KEY> as that Secret's current value (read from
# omlopd). Blank and # lines are allowed. Every mismatch is listed, secret values are not.
check_env_files() {
	local n=$1 file=$2 host=$3 s files
	"$OMLCTL" render -f "$file" --host "$host" -o env >"$WORK/render.env" ||
		fail "omlctl render -f $file --host $host -o env"
	mkdir -p "$WORK/secrets"
	rm -f "$WORK/secrets"/*
	# the Secrets the env files use, fetched once each
	while read -r s; do
		"$OMLCTL" get secret "$s" -o json >"$WORK/secrets/$s.json" ||
			fail "the env files use Secret $s, which omlctl get cannot show"
	done < <(grep -o '<secret:[^/>]*' "$WORK/render.env" | cut -d: -f2 | sort -u)
	mapfile -t files < <(sed -n 's/^# tenant .*: \(\/.*\)$/\1/p' "$WORK/render.env")
	((${#files[@]} > 0)) || fail "render -o env shows no env file for host $host"
	host_files "$n" "${files[@]}" >"$WORK/host-files.txt"
	python3 - "$WORK/render.env" "$WORK/host-files.txt" "$WORK/secrets" "$n" <<'PY' || fail "env files on lab host $n differ from omlctl render (above)"
import base64, json, os, re, sys

render_env, dump, sdir, n = sys.argv[1:5]
want, cur = {}, None
for line in open(render_env):
    line = line.rstrip("\n")
    m = re.match(r"^# tenant .*: (/.*)$", line)
    if m:
        cur = want.setdefault(m.group(1), {})
    elif line and cur is not None:
        k, _, v = line.partition("=")
        cur[k] = v
secrets = {}
for f in os.listdir(sdir):
    d = json.load(open(os.path.join(sdir, f))).get("data") or {}
    secrets[f[:-5]] = {k: base64.b64decode(v).decode() for k, v in d.items()}
errs = []
for line in open(dump):
    parts = line.split()
    path = parts[0]
    if parts[1] == "missing":
        errs.append("%s: missing" % path)
        continue
    mode, uid = parts[1], parts[2]
    text = base64.b64decode(parts[3]).decode() if len(parts) > 3 else ""
    if mode != "600" or uid != "0":
        errs.append("%s: mode %s uid %s, want 600 uid 0" % (path, mode, uid))
    have = {}
    for i, l in enumerate(text.split("\n"), 1):
        if not l.strip() or l.startswith("#"):
            continue
        if "=" not in l:
            errs.append("%s:%d: not KEY=VALUE: %r" % (path, i, l))
            continue
        k, _, v = l.partition("=")
        if k in have:
            errs.append("%s:%d: %s set twice" % (path, i, k))
        have[k] = v
    w = want[path]
    for k in sorted(set(w) - set(have)):
        errs.append("%s: no %s" % (path, k))
    for k in sorted(set(have) - set(w)):
        errs.append("%s: %s is not in the render" % (path, k))
    for k in sorted(set(w) & set(have)):
        m = re.fullmatch(r"<secret:([^/>]+)/([^>]+)>", w[k])
        if not m:
            if have[k] != w[k]:
                errs.append("%s: %s=%s, want %s" % (path, k, have[k], w[k]))
            continue
        sv = secrets.get(m.group(1), {}).get(m.group(2))
        if not have[k] or have[k].startswith("<secret:"):
            errs.append("%s: %s has no secret value" % (path, k))
        elif sv is None:
            errs.append("%s: %s: Secret %s has no key %s" % (path, k, m.group(1), m.group(2)))
        elif have[k] != sv:
            errs.append("%s: %s is not the current value of Secret %s key %s" % (path, k, m.group(1), m.group(2)))
for e in errs:
    print("  " + e, file=sys.stderr)
if errs:
    sys.exit(1)
print("ok: %d env files on lab host %s match the render (mode 0600, secrets filled in)" % (len(want), n))
PY
}

# wait_file N PATH WANT-FILE SECONDS: PATH on lab host N has WANT-FILE's content (it exists)
wait_file() {
	local deadline=$((SECONDS + $4))
	until lab "$1" cat "$2" 2>/dev/null | cmp -s - "$3"; do
		((SECONDS < deadline)) || return 1
		sleep 0.3
	done
}

# event_count TENANT TEXT: how often Events on TENANT whose message contains TEXT happened
# (the sum of their counts: a repeated Event is one object whose count goes up)
event_count() {
	events_json "$1" "$WORK/evc.json" || fail "omlctl get events"
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
items = d.get("items", []) if isinstance(d, dict) else d
print(sum(int(e.get("count") or 1) for e in items if sys.argv[2] in (e.get("message") or "")))' \
		"$WORK/evc.json" "$2"
}

# wait_event_after TENANT TEXT COUNT [SECONDS]: more than COUNT Events (event_count) say TEXT
wait_event_after() {
	local deadline=$((SECONDS + ${4:-20}))
	until (($(event_count "$1" "$2") > $3)); do
		((SECONDS < deadline)) || fail "no new event on $1 saying '$2' within ${4:-20} s"
		sleep 0.5
	done
}

# render_order TENANT-FILE HOSTNAME: the host's container names, in start order
render_order() {
	"$OMLCTL" render -f "$1" --host "$2" -o json >"$WORK/render-order.json" || fail "omlctl render -f $1"
	json_get "$WORK/render-order.json" '"\n".join(c["name"] for c in o["hosts"][0]["containers"])'
}

# ---- PostgreSQL: the real lab image and a seeded tenant database ----------------------------
# e2e/lab publishes PostgreSQL 15 + repmgr (Debian, debootstrap) as $E2E_PG_IMAGE (and the
# same image as omnileads/postgres:$E2E_PG_TAG for layout ha's images.tags.postgresHA); a
# tenant selects it with images.external.postgres (pg_use_real_image). The helpers run psql
# in the tenant's postgres container through `podman exec` on the unix socket, which the
# image trusts (as the official one): no password on any command line.

E2E_PG_IMAGE=${OMLOP_LAB_POSTGRES_IMAGE:-$R/library/postgres:15-bookworm}
# shellcheck disable=SC2034 # for the scenarios (images.tags.postgresHA)
E2E_PG_TAG=${OMLOP_LAB_POSTGRES_TAG:-15-bookworm}
E2E_PG_SEED=$ROOT/e2e/parts/pg-seed.sql
E2E_PG_SEED_COUNTS=$ROOT/e2e/parts/pg-seed.counts

# pg_use_real_image TENANT-FILE: a write_tenant file's postgresql runs $E2E_PG_IMAGE
pg_use_real_image() {
	grep -q "^      postgres: $R/omnileads/postgres:" "$1" || fail "$1 has no images.external.postgres"
	sed -i "s|^      postgres: $R/omnileads/postgres:.*|      postgres: $E2E_PG_IMAGE|" "$1"
}

# pg_psql N CONTAINER USER DB [PSQL-ARG...]: psql in CONTAINER on lab host N as USER on DB,
# over the unix socket; no psqlrc, tuples only, unaligned, stops at the first error; the
# script is stdin (or -c)
pg_psql() {
	local n=$1 c=$2 u=$3 d=$4
	shift 4
	lab "$n" podman exec -i "$c" psql -X -q -A -t -v ON_ERROR_STOP=1 -U "$u" -d "$d" "$@"
}

# pg_wait N CONTAINER USER DB SECONDS: the server is up for good (bounded): PID 1 is postgres
# (during the first initialisation a temporary server answers on the socket, then stops) and
# the database answers a query
pg_wait() {
	local deadline=$((SECONDS + $5))
	until [[ $(lab "$1" podman exec "$2" cat /proc/1/comm 2>/dev/null) == postgres ]] &&
		pg_psql "$1" "$2" "$3" "$4" -c 'SELECT 1' </dev/null >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "database $4 in $2 on host $1 does not answer within $5 s"
		sleep 0.5
	done
}

# pg_seed N CONTAINER USER DB: load e2e/parts/pg-seed.sql (once, into an empty database)
pg_seed() {
	pg_psql "$@" <"$E2E_PG_SEED" >"$WORK/pg-seed.out" 2>&1 ||
		fail "seeding database $4 in $2 on host $1: $(tail -n 3 "$WORK/pg-seed.out")"
}

# the rows of every table of schema public, and an md5 of their content (rows as text, sorted;
# timestamps in UTC, so the server's TZ does not change the digest)
E2E_PG_DIGEST_SQL="SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET IntervalStyle TO 'postgres';
SET extra_float_digits TO 1; SET bytea_output TO 'hex';
SELECT t.table_name || ' ' ||
  (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
    t.table_schema, t.table_name), false, true, '')))[1]::text || ' ' ||
  (xpath('/row/h/text()', query_to_xml(format(
    'SELECT md5(coalesce(string_agg(x::text, E''\\n'' ORDER BY x::text), '''')) AS h FROM %I.%I AS x',
    t.table_schema, t.table_name), false, true, '')))[1]::text
FROM information_schema.tables AS t
WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
ORDER BY t.table_name;"

# pg_digest N CONTAINER USER DB: "TABLE ROWS MD5" per table of schema public, by name: equal
# digests mean the same rows (for restore checks)
pg_digest() {
	pg_psql "$@" <<<"$E2E_PG_DIGEST_SQL" || fail "reading the tables of $4 in $2 on host $1"
}

# pg_counts N CONTAINER USER DB: "TABLE ROWS" per table of schema public, by name
pg_counts() {
	pg_digest "$@" | cut -d' ' -f1,2
}

# pg_seed_check N CONTAINER USER DB: the database holds exactly the seed's tables and counts
pg_seed_check() {
	pg_counts "$@" >"$WORK/pg-counts.txt"
	grep -v '^#' "$E2E_PG_SEED_COUNTS" | diff -u - "$WORK/pg-counts.txt" >&2 ||
		fail "database $4 in $2 on host $1: tables and rows differ from e2e/parts/pg-seed.counts (above)"
}
