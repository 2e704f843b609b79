#!/bin/sh
# unit-tests/lint_alloc_test.sh: deploy/lint-alloc.sh passes the tree and fails a bare call.
#
# Builds small fake trees in a temporary directory: one that only uses lib/xalloc.h (and
# things that look like allocation but are not: members, x-wrappers, lib/xalloc.c itself), then
# the same tree with one deliberate bare calloc() in operator/; the lint must pass the first,
# fail the second naming operator/bad.c:3, and pass the real tree. `make lint` runs it.
# Prints "lint-alloc-test: N passed, N failed"; exits 1 if a case failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LINT="$ROOT/deploy/lint-alloc.sh"
T=$(mktemp -d /tmp/omlop-lint-alloc-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

check() { # NAME WANT-RC GOT-RC [OUTPUT MUST-CONTAIN]
	if [ "$2" = "$3" ] && { [ $# -lt 5 ] || printf '%s' "$4" | grep -qF "$5"; }; then
		passed=$((passed + 1))
		echo "ok   $1"
	else
		failed=$((failed + 1))
		echo "FAIL $1 (want rc $2, got $3)"
		printf '%s\n' "$4"
	fi
}

mkdir -p "$T/lib" "$T/crds" "$T/operator" "$T/reconcilers" "$T/clients"
cat > "$T/lib/xalloc.c" <<'C'
void *xmalloc(unsigned long n) { return malloc(n ? n : 1); }
C
cat > "$T/operator/good.c" <<'C'
/* a malloc'd key: words in comments are fine */
char *k = xstrdup(s);
void *p = ops->malloc(16), *q = a.calloc(1, 2), *r = my_realloc(p, 3);
C
out=$(sh "$LINT" "$T" 2>&1)
check "clean tree passes" 0 $? "$out"

cat > "$T/operator/bad.c" <<'C'
#include "lib/xalloc.h"

    hostfs_file *hf = calloc(n, sizeof(*hf));
C
out=$(sh "$LINT" "$T" 2>&1)
check "a bare calloc fails, named by file:line" 1 $? "$out" "operator/bad.c:3:"
rm "$T/operator/bad.c"

printf 'char *d = strdup (s);\n' > "$T/clients/bad.h"
out=$(sh "$LINT" "$T" 2>&1)
check "a bare strdup in a header fails" 1 $? "$out" "clients/bad.h:1:"
rm "$T/clients/bad.h"

out=$(sh "$LINT" "$ROOT" 2>&1)
check "the real tree passes" 0 $? "$out"

echo "lint-alloc-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
