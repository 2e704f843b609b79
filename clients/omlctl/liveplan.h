/*
 * liveplan: the Tenant's live plan (status.plan, written by the reconciler
 * when it is not converged) as text, for `omlctl describe` and `omlctl diff`:
 * what would still change, on which host, and why it has not yet.
 */
#ifndef OMLOP_OMLCTL_LIVEPLAN_H
#define OMLOP_OMLCTL_LIVEPLAN_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/strbuf.h"

/*
 * Append one line per pending action of tenant's status.plan to out, each
 * indented by indent spaces ("h1: create oml-nginx-server (nginx, image
 * R): missing"), with the last attempt's error on a line of its own below.
 * Returns the number of actions (0: nothing pending, nothing appended).
 */
size_t omlctl_liveplan_format(const json_object *tenant, int indent, strbuf *out);

#endif
