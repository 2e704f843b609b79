# shellcheck shell=bash
# e2e/parts/gitserver.sh: the lab's Git server, for the GitSource scenarios (56-60). Sourced
# after e2e/scenarios/lib.sh (it uses lab, host_ip, host_key, fail, WORK, OMLCTL); not
# executable, e2e/run does not run it.
#
# A bare repository in lab host GIT_HOST's own /tmp (default host 3), served by that host's
# sshd (the lab's sshd on port 22, nothing else started): omlopd fetches it over real SSH, with
# the host key checked strictly against the Secret and a key of its own. That key is a deploy
# key made for the scenario and authorized for the lab's root with
# `restrict,command="git-shell -c ..."`, so it can run git-upload-pack and nothing else (no
# shell, no forwarding); gitserver_down removes it again. The scenario makes its commits with
# the git CLI in a work tree on this machine (GIT_SRC) and pushes them over SSH with the lab's
# client key (omlopd itself never runs git).
#
#   gitserver_up NAME         the bare repository NAME.git (empty, branch main), the work
#                             tree, the deploy key; sets GIT_URL, GIT_SRC, GIT_DEPLOY_KEY,
#                             GIT_HOSTKEY ("ssh-ed25519 AAAA..." of GIT_HOST)
#   git_push_commit MESSAGE   commit everything in GIT_SRC (additions and removals), push to
#                             main; prints the new commit id
#   git_head                  the bare repository's main, read on the server
#   gitserver_secret NAME [KEYFILE [HOSTKEY]]   apply Secret NAME with identity KEYFILE
#                             (default the deploy key) and knownHostKey HOSTKEY (default
#                             GIT_HOSTKEY)
#   gitsource_apply NAME SECRET [SPEC-LINES]  apply GitSource NAME for GIT_URL, path tenants,
#                             with SPEC-LINES (YAML, two-space indented under spec:)
#   gitsource_json NAME FILE  the GitSource as JSON in FILE
#   gitsource_cond FILE TYPE FIELD  a condition's field from such a FILE ("" when absent)
#   gitserver_down            remove the repository, the work tree and the deploy key's line
#                             (gitserver_up registers it to run before lib.sh's cleanup)

GIT_HOST=${GIT_HOST:-3}
GIT_DIR_ON_HOST=/tmp/omlop-gitserver
GIT_URL=
GIT_SRC=
GIT_DEPLOY_KEY=
GIT_HOSTKEY=
GIT_NAME=
GIT_KEY_TAG=

# git on this machine, as the test side: no user or system config, a fixed identity, and ssh
# with the lab's client key and strict host keys
tgit() {
	GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_SYSTEM=/dev/null GIT_CONFIG_NOSYSTEM=1 \
		GIT_AUTHOR_NAME=omlop-e2e GIT_AUTHOR_EMAIL=e2e@omlop.invalid \
		GIT_COMMITTER_NAME=omlop-e2e GIT_COMMITTER_EMAIL=e2e@omlop.invalid \
		GIT_SSH_COMMAND="ssh -i $OMLOP_LAB_KEY -o UserKnownHostsFile=$OMLOP_LAB_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5" \
		git -C "$GIT_SRC" "$@"
}

gitserver_down() {
	if [[ -n $GIT_KEY_TAG && -f $OMLOP_LAB_STATE/client/authorized_keys ]]; then
		sed -i "/ $GIT_KEY_TAG\$/d" "$OMLOP_LAB_STATE/client/authorized_keys" || true
	fi
	if [[ -n $GIT_NAME ]]; then
		lab "$GIT_HOST" rm -rf "$GIT_DIR_ON_HOST/$GIT_NAME.git" >/dev/null 2>&1 || true
	fi
	GIT_KEY_TAG=
	GIT_NAME=
}

gitserver_up() {
	local name=$1 ak=$OMLOP_LAB_STATE/client/authorized_keys
	command -v git >/dev/null || fail "git is needed on the test side (make deps)"
	lab "$GIT_HOST" sh -c 'command -v git-shell && command -v git-upload-pack' >/dev/null ||
		fail "lab host $GIT_HOST has no git-shell/git-upload-pack (package git)"
	[[ -f $ak ]] || fail "no $ak: the lab is not up"
	GIT_NAME=$name
	# our own cleanup first, then lib.sh's (which removes WORK)
	trap 'gitserver_down; e2e_cleanup' EXIT
	lab "$GIT_HOST" sh -c "rm -rf '$GIT_DIR_ON_HOST/$name.git' && mkdir -p '$GIT_DIR_ON_HOST' &&
		git init -q --bare -b main '$GIT_DIR_ON_HOST/$name.git'" || fail "git init --bare on lab host $GIT_HOST"
	GIT_URL="ssh://root@$(host_ip "$GIT_HOST")/tmp/omlop-gitserver/$name.git"
	GIT_HOSTKEY=$(host_key "$GIT_HOST")
	GIT_DEPLOY_KEY=$WORK/git-deploy-key
	GIT_KEY_TAG="omlop-e2e-git-$name-$$"
	ssh-keygen -q -t ed25519 -N '' -C "$GIT_KEY_TAG" -f "$GIT_DEPLOY_KEY" || fail "ssh-keygen"
	# sshd runs the command through root's shell; git-shell allows git-upload-pack (and
	# receive-pack) on a quoted path, nothing else
	# shellcheck disable=SC2016 # for sshd to expand, not here
	printf 'restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" %s\n' \
		"$(cat "$GIT_DEPLOY_KEY.pub")" >>"$ak"
	GIT_SRC=$WORK/git-src
	mkdir -p "$GIT_SRC"
	tgit init -q -b main . || fail "git init"
	tgit remote add origin "ssh://root@$(host_ip "$GIT_HOST")$GIT_DIR_ON_HOST/$name.git"
	echo "ok: Git server: $GIT_URL on lab host $GIT_HOST (deploy key restricted to git-shell)"
}

git_push_commit() {
	tgit add -A . || fail "git add"
	tgit commit -q --allow-empty -m "$1" || fail "git commit"
	tgit push -q origin main 2>"$WORK/git-push.err" || fail "git push: $(cat "$WORK/git-push.err")"
	tgit rev-parse HEAD
}

git_head() {
	lab "$GIT_HOST" git --git-dir="$GIT_DIR_ON_HOST/$GIT_NAME.git" rev-parse refs/heads/main
}

gitserver_secret() {
	local name=$1 key=${2:-$GIT_DEPLOY_KEY} hk=${3:-$GIT_HOSTKEY}
	cat >"$WORK/$name-secret.yaml" <<EOF
apiVersion: omlop.io/v1alpha1
kind: Secret
metadata:
  name: $name
data:
  identity: $(base64 -w0 <"$key")
  knownHostKey: $(printf '%s\n' "$hk" | base64 -w0)
EOF
	"$OMLCTL" apply -f "$WORK/$name-secret.yaml" >/dev/null || fail "apply Secret $name"
}

gitsource_apply() {
	local name=$1 secret=$2 extra=${3:-}
	{
		cat <<EOF
apiVersion: omlop.io/v1alpha1
kind: GitSource
metadata:
  name: $name
spec:
  url: $GIT_URL
  branch: main
  path: tenants
  secretRef:
    name: $secret
EOF
		[[ -n $extra ]] && printf '%s\n' "$extra"
	} >"$WORK/gitsource-$name.yaml"
	"$OMLCTL" apply -f "$WORK/gitsource-$name.yaml" >/dev/null || fail "apply GitSource $name"
}

gitsource_json() {
	"$OMLCTL" get gitsource "$1" -o json >"$2" || fail "omlctl get gitsource $1"
}

gitsource_cond() {
	json_get "$1" "next((c.get('$3') or '' for c in o.get('status', {}).get('conditions', []) if c['type'] == '$2'), '')"
}

# wait_gitsource NAME PYTHON-EXPR SECONDS: until EXPR (o = the GitSource) is true; fails with
# the status otherwise
wait_gitsource() {
	local deadline=$((SECONDS + $3))
	while :; do
		gitsource_json "$1" "$WORK/gs.json"
		[[ $(json_get "$WORK/gs.json" "bool($2)") == True ]] && return 0
		if ((SECONDS >= deadline)); then
			python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get("status"), indent=1))' \
				"$WORK/gs.json" >&2 || true
			fail "GitSource $1: not ($2) within $3 s"
		fi
		sleep 0.2
	done
}
