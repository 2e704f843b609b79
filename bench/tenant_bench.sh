#!/usr/bin/env bash
# tenant_bench.sh: apply-to-Ready, no-change, upgrade and self-heal times of omlop against
# the peer users run today (an Ansible playbook with containers.podman), on lab host 2.
#
# One run, same host, same containers (both sides take them from `omlctl render -o json`):
#   (a) Ansible peer (bench/ansible/tenant.yml): first apply from no containers, no-change
#       re-run, upgrade of two tags (redis, nginx); wall time of `ansible-playbook`.
#   (b) omlop: bin/omlopd on a temp data dir and a free loopback port; apply -> Ready
#       (`omlctl wait --for=condition=Ready`), a no-change reconcile (median of several:
#       from the watch event of a metadata-only change to the watch event of the status that
#       reconcile wrote), the same upgrade -> Ready at the new generation, then self-heal:
#       `podman kill oml-nginx-server` N times, time until it runs again (p50/p95).
# Between the sides the host is cleaned (containers, volumes, env files, and the images the
# run pulled), so both first applies pull the same images. bench/README.md has the details.
#
# Needs root and the e2e lab: like e2e/run it takes the lab's lock (/run/lock/omlop-e2e.lock,
# waiting up to 30 min); a lab that is up is reused, else one is brought up (3 hosts) and taken
# down at the end. Without root or the lab's packages it prints SKIP and exits 0. Exit 1 when a measurement fails or misses its target.
# Knobs: OMLOP_BENCH_KILLS (default 20), OMLOP_BENCH_POKES (no-change samples, default 5),
# OMLOP_BENCH_SIDES ("ansible omlop", the default, or one of them),
# OMLOP_BENCH_LOGDIR (default build/bench/tenant_bench: playbook and omlopd logs).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
ROOT=$(pwd)
TENANT=bench6
HOSTNUM=2
HOST=h2
SUFFIX=bench6 # derived images (see below) carry this tag suffix
KILLS=${OMLOP_BENCH_KILLS:-20}
POKES=${OMLOP_BENCH_POKES:-5}
SIDES=${OMLOP_BENCH_SIDES:-ansible omlop}
LOGDIR=${OMLOP_BENCH_LOGDIR:-$ROOT/build/bench/tenant_bench}

say() { printf 'tenant_bench: %s\n' "$*"; }
skip() {
	say "SKIP: $*"
	exit 0
}
die() {
	say "error: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || skip "needs root (the e2e lab)"
for t in python3 curl; do command -v "$t" >/dev/null || skip "$t is not installed"; done
# shellcheck source=bench/lablock.sh
source "$ROOT/bench/lablock.sh"
trap bench_lab_release EXIT # until the cleanup below takes over
trap 'exit 130' INT TERM
bench_lab_acquire "$LOGDIR/lab-up.log"
env_text=$("$ROOT/e2e/lab" env 2>/dev/null) || die "e2e/lab env failed"
eval "$env_text"
((OMLOP_LAB_N >= HOSTNUM)) || skip "the lab has $OMLOP_LAB_N host(s); host $HOSTNUM is needed (e2e/lab up 3)"
ADDR=$OMLOP_LAB_HOST2
SOCK=$OMLOP_LAB_HOST2_PODMAN_SOCKET
R=$OMLOP_LAB_REGISTRY
read -ra EXEC <<<"$OMLOP_LAB_EXEC $HOSTNUM --" # a command line, split on purpose
OMLCTL=$ROOT/bin/omlctl
OMLOPD=$ROOT/bin/omlopd
[[ -x $OMLCTL ]] || die "no $OMLCTL: run make first"

WORK=$(mktemp -d /tmp/omlop-tenant-bench-XXXXXX)
mkdir -p "$LOGDIR"
PID=
HOST_IS_OURS= # set once host 2 runs no other OMniLeads containers: only then is it cleaned
ENV_FILES=()     # the env files both sides write (in host 2's own /etc/default)
FRESH_IMAGES=()  # images this run pulled (absent at the start): removed between the sides
declare -A RES   # measurement -> seconds (or SKIP:reason / FAIL:reason)

# Derived images: the lab images are busybox + /bin/omllab-init; components whose catalog
# entry runs a command of its own would fail, so host 2 gets images where those commands are
# links to omllab-init (as e2e/scenarios/30-aio-converge does on host 1). Local to host 2.
DERIVED=(
	"$R/omnileads/omlapp:241121.01 $R/omnileads/omlapp:241121.01-$SUFFIX /opt/omnileads/bin/init_uwsgi.sh"
	"$R/omnileads/interaction_processor:240506.01 $R/omnileads/interaction_processor:240506.01-$SUFFIX /usr/bin/python"
	"$R/omnileads/minio:RELEASE.2023-09-27T15-22-50Z $R/omnileads/minio:RELEASE.2023-09-27T15-22-50Z-$SUFFIX /usr/bin/server"
	"$R/omnileads/postgres:14.9-bullseye $R/omnileads/postgres:14.9-bullseye-$SUFFIX /usr/bin/postgres"
)
UPGRADE_TAGS="redis nginx" # the two components the upgrade moves to 250301.01

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

stop_omlopd() {
	[[ -n $PID ]] || return 0
	if kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		for _ in $(seq 1 150); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$PID" 2>/dev/null || true
	fi
	wait "$PID" 2>/dev/null || true
	PID=
}

# The containers, volumes and env files both sides make; the images this run pulled. Only
# containers labelled with this tenant (both sides label them); volumes and images without
# -f, so whatever another tenant uses stays. Nothing before the host is known to be free.
host_clean() {
	local ids=()
	[[ -n $HOST_IS_OURS ]] || return 0
	mapfile -t ids < <("${EXEC[@]}" podman ps -aq --filter "label=omlop.io/tenant=$TENANT" 2>/dev/null || true)
	if ((${#ids[@]} > 0)); then
		"${EXEC[@]}" podman rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 || true
	fi
	for v in $(python3 -c '
import json, sys
s = set()
for f in sys.argv[1:]:
    for c in json.load(open(f))["hosts"][0]["containers"]:
        s.update(v["source"] for v in c["volumes"] if not v["source"].startswith("/"))
print(" ".join(sorted(s)))' "$WORK/render.json" "$WORK/render-up.json"); do
		"${EXEC[@]}" podman volume rm "$v" >/dev/null 2>&1 || true
	done
	if ((${#ENV_FILES[@]} > 0)); then
		"${EXEC[@]}" rm -f -- "${ENV_FILES[@]}" >/dev/null 2>&1 || true
	fi
	for i in "${FRESH_IMAGES[@]}"; do
		"${EXEC[@]}" podman rmi "$i" >/dev/null 2>&1 || true
	done
}

cleanup() {
	local rc=$?
	stop_omlopd
	if [[ -n $HOST_IS_OURS && -f $WORK/render.json && -f $WORK/render-up.json ]]; then
		"${EXEC[@]}" podman rm -f bench6-build >/dev/null 2>&1 || true
		host_clean # containers first: the derived images are in use until then
		for d in "${DERIVED[@]}"; do
			read -r _ new _ <<<"$d"
			"${EXEC[@]}" podman rmi "$new" >/dev/null 2>&1 || true
		done
		host_clean # now the bases of the derived images can go too
	fi
	rm -rf "$WORK"
	bench_lab_release
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the tenant, for host 2, and what it renders to ------------------------------------------
HOSTKEY=$(awk -v h="$ADDR" '$1 == h { print $2 " " $3; exit }' "$OMLOP_LAB_KNOWN_HOSTS")
[[ -n $HOSTKEY ]] || die "no host key for $ADDR in $OMLOP_LAB_KNOWN_HOSTS"
# crds/examples/tenant-aio.yaml pointed at host 2, the lab registry and the derived images;
# ARGS: dst redis-tag nginx-tag
make_tenant() {
	python3 - "$ROOT/crds/examples/tenant-aio.yaml" "$1" "$2" "$3" <<EOF
import re, sys
src, dst, redis, nginx = sys.argv[1:5]
t = open(src).read()
subs = {
    "name: algarrobo\n  labels": "name: $TENANT\n  labels",
    "- name: algarrobo": "- name: $HOST",
    "address: 190.19.150.18": "address: $ADDR",
    "name: algarrobo-ssh": "name: $TENANT-ssh",
    "name: algarrobo-postgres": "name: $TENANT-postgres",
    "name: algarrobo-ami": "name: $TENANT-ami",
    "lanIP: 172.16.101.44": "lanIP: $ADDR",
    "omlapp: 240201.01   # a plain YAML float elsewhere; a tag string here":
        "omlapp: 241121.01-$SUFFIX\n      interactionProcessor: 240506.01-$SUFFIX\n"
        "      redis: " + redis + "\n      nginx: " + nginx,
    "asterisk: 240102.01": "asterisk: 240920.01\n    registry: $R\n    external:\n"
        "      postgres: $R/omnileads/postgres:14.9-bullseye-$SUFFIX\n"
        "      minio: $R/omnileads/minio:RELEASE.2023-09-27T15-22-50Z-$SUFFIX\n"
        "      rabbitmq: $R/omnileads/rabbitmq:3.12",
    "  timeZone:": "  observability:\n    enabled: false\n  timeZone:",
    "    infraEnv: cloud\n": "    infraEnv: cloud\n    natIP: $ADDR\n",
}
for k, v in subs.items():
    if k not in t:
        sys.exit("tenant_bench: crds/examples/tenant-aio.yaml changed: no '%s'" % k)
    t = t.replace(k, v)
t = re.sub(r"knownHostKey: .*", "knownHostKey: $HOSTKEY", t)
open(dst, "w").write(t)
EOF
}
make_tenant "$WORK/tenant.yaml" 231125.01 241009.01
make_tenant "$WORK/tenant-up.yaml" 250301.01 250301.01
"$OMLCTL" render -f "$WORK/tenant.yaml" -o json >"$WORK/render.json" || die "omlctl render tenant.yaml"
"$OMLCTL" render -f "$WORK/tenant-up.yaml" -o json >"$WORK/render-up.json" || die "omlctl render tenant-up.yaml"
N_CONTAINERS=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["hosts"][0]["containers"]))' "$WORK/render.json")
say "tenant $TENANT on lab host $HOSTNUM ($ADDR): $N_CONTAINERS containers; upgrade: $UPGRADE_TAGS -> 250301.01"

python3 "$ROOT/bench/ansible/gen_vars.py" "$WORK/render.json" "$HOST" "$WORK/vars.json"
python3 "$ROOT/bench/ansible/gen_vars.py" "$WORK/render-up.json" "$HOST" "$WORK/vars-up.json"
mapfile -t ENV_FILES < <(python3 -c 'import json,sys; [print(c["env_file"]) for c in json.load(open(sys.argv[1]))["oml_containers"]]' "$WORK/vars.json" | sort -u)
# /etc/default is host 2's own (e2e/lab gives each host its view of it): the env files there
# are the tenant's, and are removed between the sides once the host is known to be free.

# --- host 2: in use by others?; derived images, certs dir; which images it already has ---------
# The containers have fixed names (oml-<component>-server): another tenant's on host 2 (an
# e2e scenario placing components there) would collide with ours.
others=$("${EXEC[@]}" podman ps -a --format '{{.Names}} {{index .Labels "omlop.io/tenant"}}' |
	awk -v t="$TENANT" '$1 ~ /^(oml-|bench6-build)/ && $2 != t { printf "%s%s", sep, $1; sep = ", " }') ||
	skip "cannot list host $HOSTNUM's containers"
[[ -z $others ]] || skip "host $HOSTNUM runs other OMniLeads containers ($others): run the bench when it is free"
HOST_IS_OURS=1
mapfile -t have < <("${EXEC[@]}" podman images --format '{{.Repository}}:{{.Tag}}')
mapfile -t FRESH_IMAGES < <(python3 -c '
import json, sys
s = set()
for f in sys.argv[1:3]:
    for c in json.load(open(f))["hosts"][0]["containers"]:
        s.add(c["image"])
s.update(sys.argv[3].split())
have = set(sys.argv[4:])
for i in sorted(s):
    if i not in have and not i.endswith("-'"$SUFFIX"'"):
        print(i)' "$WORK/render.json" "$WORK/render-up.json" "$(for d in "${DERIVED[@]}"; do echo "${d%% *}"; done)" "${have[@]}")
host_clean
"${EXEC[@]}" podman rm -f bench6-build >/dev/null 2>&1 || true
for d in "${DERIVED[@]}"; do
	read -r base new links <<<"$d"
	cmd=""
	for l in $links; do cmd+="mkdir -p \$(dirname $l) && ln -sf /bin/omllab-init $l && "; done
	"${EXEC[@]}" podman run --name bench6-build --network none "$base" sh -c "${cmd}true" \
		>"$LOGDIR/derived-images.log" 2>&1 ||
		die "building $new from $base on host $HOSTNUM"
	"${EXEC[@]}" podman commit -q --change 'CMD ["/bin/omllab-init"]' bench6-build "$new" >/dev/null ||
		die "committing $new"
	"${EXEC[@]}" podman rm -f bench6-build >/dev/null 2>&1
done
# the derived images' bases were pulled to build them: drop them again when they are fresh
host_clean
"${EXEC[@]}" mkdir -p /etc/omnileads/certs

# live_check WANT.json: every rendered container runs on host 2 with its image and labels
live_check() {
	local ids=()
	mapfile -t ids < <("${EXEC[@]}" podman ps -aq --filter "label=omlop.io/tenant=$TENANT")
	((${#ids[@]} > 0)) || { say "no container of $TENANT on host $HOSTNUM"; return 1; }
	"${EXEC[@]}" podman inspect "${ids[@]}" >"$WORK/live.json" || return 1
	python3 - "$1" "$WORK/live.json" <<'EOF'
import json, sys
want = json.load(open(sys.argv[1]))["hosts"][0]["containers"]
live = {c["Name"]: c for c in json.load(open(sys.argv[2]))}
bad = []
for c in want:
    l = live.pop(c["name"], None)
    if l is None:
        bad.append("%s missing" % c["name"]); continue
    if l["ImageName"] != c["image"]:
        bad.append("%s runs %s, want %s" % (c["name"], l["ImageName"], c["image"]))
    if l["State"]["Status"] != "running":
        bad.append("%s is %s" % (c["name"], l["State"]["Status"]))
    labels = l["Config"].get("Labels") or {}
    for k, v in c["labels"].items():
        if labels.get(k) != v:
            bad.append("%s label %s=%s, want %s" % (c["name"], k, labels.get(k), v))
bad += ["%s is not desired" % n for n in live]
if bad:
    sys.exit("tenant_bench: " + "; ".join(bad))
EOF
}

# ids_of NAMES...: "name id" lines of those containers on host 2
ids_of() { "${EXEC[@]}" podman inspect -f '{{.Name}} {{.Id}}' "$@" 2>/dev/null | sort; }

# upgrade_check BEFORE-IDS: only the upgraded components got new containers
upgrade_check() {
	local names=()
	mapfile -t names < <(cut -d' ' -f1 "$1")
	ids_of "${names[@]}" >"$WORK/ids-after.txt"
	python3 - "$1" "$WORK/ids-after.txt" "$UPGRADE_TAGS" <<'EOF'
import sys
before = dict(l.split() for l in open(sys.argv[1]))
after = dict(l.split() for l in open(sys.argv[2]))
up = {"oml-%s-server" % c for c in sys.argv[3].split()}
bad = [n for n in before if (before[n] != after.get(n)) != (n in up)]
if bad:
    sys.exit("tenant_bench: upgrade recreated the wrong containers: " + ", ".join(sorted(bad)))
EOF
}

# --- (a) the Ansible peer ----------------------------------------------------------------------
ansible_side() {
	if ! command -v ansible-playbook >/dev/null; then
		RES[a_first]="SKIP:ansible-playbook is not installed (apt-get install ansible)"
		return 0
	fi
	cat >"$WORK/inventory.ini" <<EOF
[omlhost]
$HOST ansible_host=$ADDR ansible_port=$OMLOP_LAB_SSH_PORT ansible_user=$OMLOP_LAB_USER ansible_ssh_private_key_file=$OMLOP_LAB_KEY ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o UserKnownHostsFile=$OMLOP_LAB_KNOWN_HOSTS -o StrictHostKeyChecking=yes'
EOF
	export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_NOCOLOR=1 \
		ANSIBLE_LOCAL_TEMP=$WORK/ansible-local ANSIBLE_SSH_CONTROL_PATH_DIR=$WORK/ansible-cp
	local run vars t0 t1 names=()
	for run in first nochange upgrade; do
		vars=$WORK/vars.json
		if [[ $run == upgrade ]]; then
			vars=$WORK/vars-up.json
			mapfile -t names < <(python3 -c 'import json,sys; [print(c["name"]) for c in json.load(open(sys.argv[1]))["oml_containers"]]' "$vars")
			ids_of "${names[@]}" >"$WORK/ids-before.txt"
		fi
		t0=$(now)
		if ! ansible-playbook -i "$WORK/inventory.ini" "$ROOT/bench/ansible/tenant.yml" \
			-e "@$vars" >"$LOGDIR/ansible-$run.log" 2>&1; then
			tail -n 20 "$LOGDIR/ansible-$run.log" >&2
			RES[a_$run]="FAIL:ansible-playbook failed ($LOGDIR/ansible-$run.log)"
			return 0
		fi
		t1=$(now)
		RES[a_$run]=$(elapsed "$t0" "$t1")
		say "ansible $run: ${RES[a_$run]} s ($(grep -o 'changed=[0-9]*' "$LOGDIR/ansible-$run.log" | head -n 1))"
		case $run in
		first) live_check "$WORK/render.json" || RES[a_first]="FAIL:containers not as rendered" ;;
		nochange)
			grep -q 'changed=0 ' "$LOGDIR/ansible-$run.log" ||
				say "note: the no-change re-run reported changes ($LOGDIR/ansible-$run.log)"
			;;
		upgrade)
			live_check "$WORK/render-up.json" || RES[a_upgrade]="FAIL:containers not as rendered"
			upgrade_check "$WORK/ids-before.txt" || RES[a_upgrade]="FAIL:wrong containers recreated"
			;;
		esac
	done
}

# --- (b) omlop ---------------------------------------------------------------------------------
# The watcher prints one line per watch event: arrival time, annotation bench.omlop.io/poke,
# whether it carries status, observedGeneration.
cat >"$WORK/watch.py" <<'EOF'
import json, signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
def stop(*_):
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
dec = json.JSONDecoder()
buf = ""
t_first = None
try:
  for line in p.stdout:
      if not buf.strip():
          t_first = time.time()
      buf += line
      try:
          ev, _ = dec.raw_decode(buf.strip())
      except ValueError:
          continue
      buf = ""
      o = ev.get("object", ev)
      ann = (o.get("metadata", {}).get("annotations") or {}).get("bench.omlop.io/poke", "-")
      st = o.get("status") or {}
      print("%.6f %s %s %s" % (t_first, ann, st.get("lastReconcileTime", "-"),
                               o.get("metadata", {}).get("resourceVersion", "-")), flush=True)
finally:
    p.terminate()
    p.wait(timeout=10)
EOF

# the self-heal loop: kill, then poll the container's inspect (libpod API on host 2's socket,
# the same data as `podman inspect`) every 50 ms until it runs again, bounded
cat >"$WORK/selfheal.py" <<'EOF'
import http.client, json, socket, subprocess, sys, time
sock, name, kills, exec_cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()

class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(sock)

def state():
    c = Conn("d")
    try:
        c.request("GET", "/v4.0.0/libpod/containers/%s/json" % name)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            return None, None, None
        s = json.loads(body)
        return s["State"]["Status"], s["State"].get("StartedAt"), s["Id"]
    finally:
        c.close()

lat = []
for i in range(kills):
    deadline = time.time() + 30
    while True:  # settle: running, before each kill
        st, started, cid = state()
        if st == "running":
            break
        if time.time() > deadline:
            sys.exit("selfheal: %s not running before kill %d" % (name, i + 1))
        time.sleep(0.05)
    r = subprocess.run(exec_cmd + ["podman", "kill", name], capture_output=True, timeout=30)
    if r.returncode != 0:
        sys.exit("selfheal: podman kill %s: %s" % (name, r.stderr.decode().strip()))
    t0 = time.time()
    while True:
        st, s2, cid2 = state()
        if st == "running" and (s2 != started or cid2 != cid):
            break
        if time.time() - t0 > 30:
            sys.exit("selfheal: %s did not run again within 30 s of kill %d" % (name, i + 1))
        time.sleep(0.05)
    lat.append(time.time() - t0)
    print("kill %d: %.3f s" % (i + 1, lat[-1]), flush=True)
    time.sleep(0.5)
lat.sort()
def pct(p):
    k = max(0, min(len(lat) - 1, int(round(p / 100.0 * len(lat) + 0.5)) - 1))
    return lat[k]
print("p50 %.3f p95 %.3f" % (pct(50), pct(95)))
EOF

omlop_skip() {
	local k
	for k in o_first o_nochange o_upgrade o_heal50 o_heal95 o_round_skip o_round_full; do RES[$k]="SKIP:$1"; done
	say "omlop side SKIP: $1"
}

omlop_side() {
	local t0 t1 names=() p50 p95
	[[ -x $OMLOPD ]] || { omlop_skip "no $OMLOPD (make)"; return 0; }
	"$OMLOPD" --help 2>&1 | grep -q -- '--reconcile' || { omlop_skip "omlopd has no reconcile loop yet"; return 0; }
	mkdir -p "$WORK/data"
	"$OMLOPD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --reconcile --workers 2 --resync 600 \
		>"$WORK/start.txt" 2>"$LOGDIR/omlopd.log" &
	PID=$!
	for _ in $(seq 1 100); do
		[[ -s $WORK/start.txt ]] && break
		kill -0 "$PID" 2>/dev/null || { omlop_skip "omlopd exited at start ($LOGDIR/omlopd.log)"; PID=; return 0; }
		sleep 0.1
	done
	OMLOP_SERVER=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/start.txt") || { omlop_skip "omlopd did not start"; return 0; }
	export OMLOP_SERVER
	cat >"$WORK/secret.yaml" <<EOF
apiVersion: omlop.io/v1alpha1
kind: Secret
metadata:
  name: $TENANT-ssh
type: kubernetes.io/ssh-auth
data:
  ssh-privatekey: $(base64 -w0 <"$OMLOP_LAB_KEY")
EOF
	"$OMLCTL" apply -f "$WORK/secret.yaml" >/dev/null || die "omlctl apply secret"

	# first apply -> Ready
	t0=$(now)
	"$OMLCTL" apply -f "$WORK/tenant.yaml" >/dev/null || die "omlctl apply tenant"
	if ! "$OMLCTL" wait tenant "$TENANT" --for=condition=Ready --timeout=300s >"$WORK/wait.txt" 2>&1; then
		cat "$WORK/wait.txt" >&2
		RES[o_first]="FAIL:not Ready within 300 s ($LOGDIR/omlopd.log)"
		return 0
	fi
	t1=$(now)
	RES[o_first]=$(elapsed "$t0" "$t1")
	say "omlop apply-to-Ready: ${RES[o_first]} s"
	live_check "$WORK/render.json" || RES[o_first]="FAIL:containers not as rendered"
	"$OMLCTL" wait tenant "$TENANT" --for=condition=Progressing=False --timeout=60s >/dev/null ||
		say "note: still Progressing 60 s after Ready"
	sleep 2

	# no-change reconcile: poke the tenant with a change no container depends on (an
	# annotation naming the poke, and spec.revisionHistoryLimit, so that the generation moves
	# and the round has news to write: a round that finds nothing new writes no status), and
	# time, on one watch, from the poke's event to the status write after it
	python3 "$WORK/watch.py" "$OMLCTL" get tenant "$TENANT" -w --watch-only -o json \
		>"$WORK/watch.txt" 2>"$WORK/watch.err" &
	local wpid=$! i
	sleep 1
	for i in $(seq 1 "$POKES"); do
		python3 - "$WORK/tenant.yaml" "$WORK/poke.yaml" "$i" <<'EOF'
import sys
t = open(sys.argv[1]).read()
t = t.replace("  labels:\n", "  annotations:\n    bench.omlop.io/poke: \"%s\"\n  labels:\n" % sys.argv[3], 1)
t = t.replace("\nspec:\n", "\nspec:\n  revisionHistoryLimit: %d\n" % (20 + int(sys.argv[3])), 1)
open(sys.argv[2], "w").write(t)
EOF
		"$OMLCTL" apply -f "$WORK/poke.yaml" >/dev/null || die "omlctl apply (poke $i)"
		sleep 2
	done
	kill -TERM "$wpid" 2>/dev/null || true # it stops its omlctl
	wait "$wpid" 2>/dev/null || true
	cp "$WORK/watch.txt" "$LOGDIR/nochange-watch.txt"
	RES[o_nochange]=$(python3 - "$WORK/watch.txt" "$POKES" <<'EOF'
import sys
ev = [l.split() for l in open(sys.argv[1]) if l.strip()]
d = []
for i in range(1, int(sys.argv[2]) + 1):
    mine = [float(e[0]) for e in ev if e[1] == str(i)]
    if len(mine) >= 2:
        d.append(mine[1] - mine[0])
if not d:
    print("FAIL:no status write seen after a poke")
else:
    d.sort()
    print("%.3f" % d[len(d) // 2])
EOF
)
	say "omlop no-change reconcile (median of $POKES): ${RES[o_nochange]} s"

	# upgrade: two tags -> Ready at the new generation, only those two recreated
	mapfile -t names < <(python3 -c 'import json,sys; [print(c["name"]) for c in json.load(open(sys.argv[1]))["hosts"][0]["containers"]]' "$WORK/render.json")
	ids_of "${names[@]}" >"$WORK/ids-before.txt"
	t0=$(now)
	"$OMLCTL" apply -f "$WORK/tenant-up.yaml" >/dev/null || die "omlctl apply tenant-up"
	if ! "$OMLCTL" wait tenant "$TENANT" --for=condition=Ready --timeout=300s >"$WORK/wait.txt" 2>&1; then
		cat "$WORK/wait.txt" >&2
		RES[o_upgrade]="FAIL:not Ready after the upgrade within 300 s"
	else
		t1=$(now)
		RES[o_upgrade]=$(elapsed "$t0" "$t1")
		"$OMLCTL" get tenant "$TENANT" -o json >"$WORK/t.json"
		python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(o["status"]["observedGeneration"] != o["metadata"]["generation"])' "$WORK/t.json" ||
			RES[o_upgrade]="FAIL:observedGeneration does not match generation"
		live_check "$WORK/render-up.json" || RES[o_upgrade]="FAIL:containers not as rendered"
		upgrade_check "$WORK/ids-before.txt" || RES[o_upgrade]="FAIL:wrong containers recreated"
		say "omlop upgrade -> Ready: ${RES[o_upgrade]} s"
	fi
	"$OMLCTL" wait tenant "$TENANT" --for=condition=Progressing=False --timeout=60s >/dev/null || true

	# self-heal
	if python3 "$WORK/selfheal.py" "$SOCK" oml-nginx-server "$KILLS" "$OMLOP_LAB_EXEC $HOSTNUM --" \
		>"$LOGDIR/selfheal.txt" 2>&1; then
		read -r _ p50 _ p95 < <(tail -n 1 "$LOGDIR/selfheal.txt")
		RES[o_heal50]=$p50
		RES[o_heal95]=$p95
		say "omlop self-heal over $KILLS kills: p50 ${RES[o_heal50]} s, p95 ${RES[o_heal95]} s"
	else
		tail -n 3 "$LOGDIR/selfheal.txt" >&2
		RES[o_heal50]="FAIL:$(tail -n 1 "$LOGDIR/selfheal.txt")"
		RES[o_heal95]=${RES[o_heal50]}
	fi
	stop_omlopd
	periodic_rounds
}

# Periodic rounds over SSH (issue 11: a no-change round of one lab tenant <= 30 ms): omlopd
# again on the same data dir with a 1 s resync and debug logs, which time every round
# (manager.c: "tenant=T round_us=N unchanged=U"); the medians of the rounds that stopped after
# the listing (unchanged=1) and of the full ones (the first after the restart and one per
# cadence).
periodic_rounds() {
	local secs=${OMLOP_BENCH_PERIODIC_S:-20} out n_skip n_full
	"$OMLOPD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --reconcile --workers 2 --resync 1 \
		--log-level debug >"$WORK/start2.txt" 2>"$LOGDIR/omlopd-periodic.log" &
	PID=$!
	sleep "$secs"
	stop_omlopd
	out=$(python3 - "$LOGDIR/omlopd-periodic.log" "$TENANT" <<'EOF'
import re, statistics, sys
skip, full = [], []
for line in open(sys.argv[1]):
    m = re.search(r"tenant=(\S+) round_us=(\d+) unchanged=(\d) converged=(\d) rc=(-?\d+)", line)
    if not m or m.group(1) != sys.argv[2] or m.group(4) != "1" or m.group(5) != "0":
        continue
    (skip if m.group(3) == "1" else full).append(int(m.group(2)) / 1e6)
med = lambda v: "%.4f" % statistics.median(v) if v else "FAIL:no-converged-round-logged"
print(med(skip), len(skip), med(full), len(full))
EOF
	) || out="FAIL:log 0 FAIL:log 0"
	read -r "RES[o_round_skip]" n_skip "RES[o_round_full]" n_full <<<"$out"
	say "omlop periodic no-change round over SSH: median ${RES[o_round_skip]} s stopped after the listing ($n_skip rounds), ${RES[o_round_full]} s full ($n_full rounds)"
}

for side in $SIDES; do
	case $side in
	ansible) ansible_side ;;
	omlop) omlop_side ;;
	*) die "OMLOP_BENCH_SIDES: unknown side '$side' (ansible, omlop)" ;;
	esac
	host_clean
done

# --- the table ---------------------------------------------------------------------------------
for k in a_first a_nochange a_upgrade o_first o_nochange o_upgrade o_heal50 o_heal95; do
	[[ -n ${RES[$k]:-} ]] || RES[$k]="SKIP:not measured (side not in OMLOP_BENCH_SIDES=\"$SIDES\", or an earlier step failed)"
done
{
	for k in "${!RES[@]}"; do printf '%s=%s\n' "$k" "${RES[$k]}"; done
} >"$WORK/res.txt"
status=0
python3 - "$WORK/res.txt" "$N_CONTAINERS" "$KILLS" >"$WORK/table.txt" <<'EOF' || status=$?
import sys
res = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l)
n, kills = sys.argv[2], sys.argv[3]
def num(k):
    try:
        return float(res[k])
    except ValueError:
        return None
def show(k):
    v = num(k)
    return "%.3f s" % v if v is not None else res[k].split(":", 1)[0]
rows, notes, failed = [], [], False
for label, a, o, target in (("apply-to-Ready (first apply)", "a_first", "o_first", 10),
                            ("no-change re-run / reconcile", "a_nochange", "o_nochange", 100),
                            ("upgrade of 2 tags -> Ready", "a_upgrade", "o_upgrade", 10)):
    av, ov = num(a), num(o)
    if av is not None and ov is not None and ov > 0:
        ratio = "%.1fx" % (av / ov)
        verdict = "PASS" if av / ov >= target else "FAIL"
    else:
        ratio = "-"
        bad = [res[k] for k in (a, o) if res[k].startswith("FAIL")]
        verdict = "FAIL" if bad else "SKIP"
    failed |= verdict == "FAIL"
    rows.append((label, show(a), show(o), ratio, ">= %dx" % target, verdict))
for k in sorted(res):
    if ":" in res[k]:
        notes.append("%s: %s" % (k, res[k]))
for label, k in (("self-heal p50 (%s kills)" % kills, "o_heal50"), ("self-heal p95", "o_heal95")):
    v = num(k)
    if k == "o_heal95":
        verdict = ("PASS" if v < 2.0 else "FAIL") if v is not None else res[k].split(":", 1)[0]
        target = "< 2 s"
    else:
        verdict, target = ("-" if v is not None else res[k].split(":", 1)[0]), ""
    failed |= verdict == "FAIL"
    rows.append((label, "-", show(k), "-", target, verdict))
for label, k, limit in (("no-change round over SSH, periodic (median)", "o_round_skip", 0.030),
                        ("full no-change round over SSH (median)", "o_round_full", None)):
    if k not in res:
        continue
    v = num(k)
    if v is None:
        verdict = res[k].split(":", 1)[0]
    else:
        verdict = ("PASS" if v <= limit else "FAIL") if limit else "-"
    failed |= verdict == "FAIL"
    rows.append((label, "-", show(k), "-", "<= %d ms" % (limit * 1000) if limit else "", verdict))
hdr = ("measurement (%s containers)" % n, "ansible", "omlop", "ratio", "target", "result")
w = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
fmt = "  ".join("%%-%ds" % x for x in w)
print(fmt % hdr)
for r in rows:
    print(fmt % r)
for x in notes:
    print("  " + x)
sys.exit(1 if failed else 0)
EOF
cat "$WORK/table.txt"
cp "$WORK/table.txt" "$LOGDIR/table.txt"
exit $status
