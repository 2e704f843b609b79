#!/bin/sh
# deploy/lint-alloc.sh [ROOT]: the out-of-memory policy, checked (`make lint` runs it).
#
# Production code allocates through lib/xalloc.h (xmalloc, xcalloc, xrealloc, xstrdup, xstrndup),
# which abort with a message when memory runs out; a bare malloc/calloc/realloc/strdup/strndup
# call would bring back NULL checks and OMLOP_ENOMEM paths no test exercises. Fails, naming each
# file:line, on such a call in lib/ crds/ store/ objects/ operator/ reconcilers/ clients/ (lib/xalloc.c, which
# wraps them, excepted). Calls into json-c, libyaml, curl or libssh are not matched: their names
# differ. unit-tests/lint_alloc_test.sh shows it failing on a deliberate bad call.
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
files=$(find lib crds store objects operator reconcilers clients -name '*.[ch]' ! -path lib/xalloc.c 2>/dev/null | sort)
[ -n "$files" ] || { echo "lint-alloc: no sources under $ROOT" >&2; exit 2; }
# a call: the name not preceded by an identifier character, '.' or '->' (a member), then '('
# shellcheck disable=SC2086
bad=$(grep -nE '(^|[^A-Za-z0-9_.>])(malloc|calloc|realloc|strdup|strndup)[[:space:]]*\(' $files)
if [ -n "$bad" ]; then
	printf '%s\n' "$bad"
	echo "lint-alloc: bare allocation call(s) above; use lib/xalloc.h (xmalloc, xcalloc, xrealloc, xstrdup, xstrndup): out of memory aborts" >&2
	exit 1
fi
echo "lint-alloc: ok"
