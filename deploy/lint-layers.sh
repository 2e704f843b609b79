#!/bin/sh
# deploy/lint-layers.sh [ROOT]: the direction of dependencies, checked (`make lint` runs it).
#
# The layers, lowest first (docs/architecture.md):
#   lib  <-  crds  <-  store  <-  objects  <-  clients  <-  reconcilers  <-  operator
# A source file may include headers of its own layer and of the layers before it, with two
# narrowings: clients/ talks to hosts and to omlopd and needs only lib/ and crds/ (never the
# store or the object layer), and clients/omlctl/ - the CLI, an application like operator/ - may
# use reconcilers/ (its live plan is the reconciler's plan) but never store/, objects/ or
# operator/; operator/ never includes clients/omlctl/.
#
# Two checks, each failing with file:line:
#   1. an #include "layer/..." against that direction;
#   2. an object write (store_create, store_update, store_delete) outside store/ and objects/:
#      objects are written through objects/objects.h only (one write path).
# unit-tests/lint_layers_test.sh shows both failing on deliberate bad files.
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2

# allowed LAYER: the folders a file of LAYER may include from
allowed() {
	case "$1" in
	lib) echo "lib" ;;
	crds) echo "lib crds" ;;
	store) echo "lib crds store" ;;
	objects) echo "lib crds store objects" ;;
	clients) echo "lib crds clients" ;;
	omlctl) echo "lib crds clients reconcilers omlctl" ;;
	reconcilers) echo "lib crds store objects clients reconcilers" ;;
	operator) echo "lib crds store objects clients reconcilers operator" ;;
	esac
}

files=$(find lib crds store objects clients reconcilers operator -name '*.[ch]' 2>/dev/null | sort)
[ -n "$files" ] || { echo "lint-layers: no sources under $ROOT" >&2; exit 2; }
bad=0
for f in $files; do
	case "$f" in
	clients/omlctl/*) layer=omlctl ;;
	*) layer=${f%%/*} ;;
	esac
	ok=$(allowed "$layer")
	# #include "X/..." lines; X/Y where X is clients and Y omlctl counts as the omlctl layer
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]*/' "$f" | while IFS= read -r line; do
		n=${line%%:*}
		path=$(printf '%s' "$line" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
		case "$path" in
		clients/omlctl/*) target=omlctl ;;
		*) target=${path%%/*} ;;
		esac
		case "$target" in
		lib | crds | store | objects | clients | omlctl | reconcilers | operator) ;;
		*) continue ;; # build/gen, unit-tests: not a layer
		esac
		case " $ok " in
		*" $target "*) ;;
		*) echo "$f:$n: layer $layer may not include $path (it may include: $ok)" ;;
		esac
	done
done >"${TMPDIR:-/tmp}/lint-layers.$$"
if [ -s "${TMPDIR:-/tmp}/lint-layers.$$" ]; then
	cat "${TMPDIR:-/tmp}/lint-layers.$$"
	echo "lint-layers: include(s) above go against the layer order lib <- crds <- store <- objects <- clients <- reconcilers <- operator (docs/architecture.md)" >&2
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/lint-layers.$$"

writers=$(find clients reconcilers operator lib crds -name '*.[ch]' 2>/dev/null | sort)
if [ -n "$writers" ]; then
	# shellcheck disable=SC2086
	# comment lines (starting /*, * or //) may name the calls
	w=$(grep -nE '(^|[^A-Za-z0-9_])store_(create|update|delete)[[:space:]]*\(' $writers |
		grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/\*|\*|//)')
	if [ -n "$w" ]; then
		printf '%s\n' "$w"
		echo "lint-layers: object write(s) above outside store/ and objects/; write through objects/objects.h (obj_create, obj_update, obj_delete)" >&2
		bad=1
	fi
fi
[ $bad -eq 0 ] && echo "lint-layers: ok"
exit $bad
