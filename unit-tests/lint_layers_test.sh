#!/bin/sh
# unit-tests/lint_layers_test.sh: deploy/lint-layers.sh passes the tree and fails a bad include
# or an object write outside the write path.
#
# Builds small fake trees in a temporary directory: one that follows the layer order, then the
# same tree with one deliberate bad file at a time - a reconciler including the API server, a
# client including the store, omlctl including operator/, lib including crds, and a reconciler
# calling store_update - and expects each to fail naming file:line; then the real tree must
# pass. `make lint` runs it. Prints "lint-layers-test: N passed, N failed"; exits 1 on a failure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LINT="$ROOT/deploy/lint-layers.sh"
T=$(mktemp -d /tmp/omlop-lint-layers-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

check() { # NAME WANT-RC GOT-RC OUTPUT [MUST-CONTAIN]
	if [ "$2" = "$3" ] && { [ $# -lt 5 ] || printf '%s' "$4" | grep -qF "$5"; }; then
		passed=$((passed + 1))
		echo "ok   $1"
	else
		failed=$((failed + 1))
		echo "FAIL $1 (want rc $2, got $3)"
		printf '%s\n' "$4"
	fi
}

mkdir -p "$T/lib" "$T/crds" "$T/store" "$T/objects" "$T/clients/omlctl" "$T/reconcilers" \
	"$T/operator"
printf '#include "lib/err.h"\n' >"$T/lib/err.c"
printf '#include "lib/err.h"\n#include "crds/schema.h"\n' >"$T/crds/schema.c"
printf '#include "lib/err.h"\n#include "store/store.h"\nint f(void) { return store_update(0); }\n' >"$T/store/store.c"
printf '#include "store/store.h"\n#include "crds/object.h"\nint g(void) { return store_delete(0); }\n' >"$T/objects/objects.c"
printf '#include "lib/err.h"\n#include "crds/object.h"\n#include "clients/ssh.h"\n#include "build/gen/x.h"\n' >"$T/clients/podman.c"
printf '#include "clients/podman.h"\n#include "reconcilers/plan.h"\n#include "clients/omlctl/common.h"\n' >"$T/clients/omlctl/get.c"
printf '#include "objects/objects.h"\n#include "clients/podman.h"\n/* store_update( in a comment is a word */\nint h(void) { return obj_update(0); }\n' >"$T/reconcilers/tenant.c"
printf '#include "reconcilers/tenant.h"\n#include "objects/events.h"\n' >"$T/operator/manager.c"

out=$(sh "$LINT" "$T" 2>&1)
check "tree in layer order passes" 0 $? "$out" "lint-layers: ok"

bad() { # NAME FILE CONTENT WANT-IN-OUTPUT
	printf '%b' "$3" >"$T/$2"
	out=$(sh "$LINT" "$T" 2>&1)
	check "$1" 1 $? "$out" "$4"
	rm -f "$T/$2"
}
bad "reconciler includes the API server" reconcilers/bad.c '#include "lib/err.h"\n#include "operator/api_server.h"\n' \
	'reconcilers/bad.c:2: layer reconcilers may not include operator/api_server.h'
bad "client includes the store" clients/bad.c '#include "store/store.h"\n' \
	'clients/bad.c:1: layer clients may not include store/store.h'
bad "client includes omlctl" clients/bad.c '#include "clients/omlctl/common.h"\n' \
	'clients/bad.c:1: layer clients may not include clients/omlctl/common.h'
bad "omlctl includes operator" clients/omlctl/bad.c '#include "operator/selector.h"\n' \
	'clients/omlctl/bad.c:1: layer omlctl may not include operator/selector.h'
bad "omlctl includes objects" clients/omlctl/bad.h '#include "objects/objects.h"\n' \
	'clients/omlctl/bad.h:1: layer omlctl may not include objects/objects.h'
bad "lib includes crds" lib/bad.h '\n\n# include "crds/schema.h"\n' \
	'lib/bad.h:3: layer lib may not include crds/schema.h'
bad "store includes objects" store/bad.c '#include "objects/objects.h"\n' \
	'store/bad.c:1: layer store may not include objects/objects.h'
bad "operator includes omlctl" operator/bad.c '#include "clients/omlctl/apply.h"\n' \
	'operator/bad.c:1: layer operator may not include clients/omlctl/apply.h'
bad "reconciler writes the store" reconcilers/bad.c 'int x(void)\n{\n    return store_update(st, k, v, n, 0, 0, e);\n}\n' \
	'reconcilers/bad.c:3:'
bad "API handler deletes from the store" operator/bad.c 'void y(void) { store_delete (s, k, 0, 0, e); }\n' \
	'operator/bad.c:1:'

out=$(sh "$LINT" 2>&1)
check "the real tree passes" 0 $? "$out" "lint-layers: ok"

echo "lint-layers-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
