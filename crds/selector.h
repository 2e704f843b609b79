/*
 * selector: Kubernetes label selectors ("a=b,c!=d,e in (x,y),f notin (z),g,!h").
 *
 * Grammar (as kubectl -l): requirements separated by ','; each is
 *   key | !key | key=value | key==value | key!=value
 *   | key in (v1,v2,...) | key notin (v1,...)
 * with white space allowed between tokens. Keys are [prefix/]name label keys,
 * values are label values (checked as Kubernetes does: 63 characters, alnum at
 * both ends, '-', '_' and '.' inside). An empty selector selects everything.
 * Errors name the 1-based character position of the offending token.
 *
 * Matching: '=' and 'in' need the label present with a listed value; '!=' and
 * 'notin' also match when the label is absent; 'key' needs it present, '!key'
 * absent. All requirements must hold.
 */
#ifndef OMLOP_SELECTOR_H
#define OMLOP_SELECTOR_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"

typedef struct selector selector;

/* Parse text (NULL or "" = everything) into *out. OMLOP_EINVAL naming the position. */
int selector_parse(const char *text, selector **out, omlop_err *err);

/* Free; NULL ok. */
void selector_free(selector *sel);

/* How many requirements sel has (0 selects everything). */
size_t selector_count(const selector *sel);

/* Whether a labels object (string values; NULL = no labels) satisfies sel. */
int selector_matches(const selector *sel, const json_object *labels);

/* Append the normalized text of sel ("a=b,c in (x,y)") to out. */
void selector_format(const selector *sel, strbuf *out);

#endif
