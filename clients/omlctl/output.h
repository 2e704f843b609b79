/*
 * output: how omlctl prints objects.
 *
 *   - -o table|wide|yaml|json|name; JSON indented by 4 spaces with keys in the
 *     server's order, YAML through crds/yamlio.h;
 *   - aligned tables that can be printed incrementally (watches);
 *   - the CRD's additionalPrinterColumns, evaluated with the JSONPath subset
 *     CRDs use, and ages printed as kubectl prints them.
 * Pure functions of their inputs (plus the FILE they print to).
 */
#ifndef OMLOP_OMLCTL_OUTPUT_H
#define OMLOP_OMLCTL_OUTPUT_H

#include <json-c/json.h>
#include <stdio.h>
#include <time.h>

#include "clients/omlctl/jsonpath.h"
#include "crds/schema.h"
#include "lib/err.h"
#include "lib/strbuf.h"

/* --- output ----------------------------------------------------------------------------- */

typedef enum omlctl_output {
    OMLCTL_OUT_TABLE = 0,
    OMLCTL_OUT_WIDE,
    OMLCTL_OUT_YAML,
    OMLCTL_OUT_JSON,
    OMLCTL_OUT_NAME
} omlctl_output;

/* Parse -o (NULL or "" = table); the error lists the formats. */
int omlctl_output_parse(const char *s, omlctl_output *out, omlop_err *err);

/* Append obj as JSON indented by 4 spaces, keys in their order, with a final newline. */
void omlctl_json_pretty(const json_object *obj, strbuf *out);

/* Print obj as pretty JSON or as one YAML document ("---" separated when several). */
int omlctl_print_object(FILE *out, omlctl_output fmt, const json_object *obj, omlop_err *err);

/* A list of objects for -o yaml|json: {"apiVersion":"v1","kind":"List","items":[...]}. */
json_object *omlctl_list_new(void);

typedef struct omlctl_table omlctl_table;

/* A table with ncols columns named by headers (copied); header printed upper-case. */
omlctl_table *omlctl_table_new(size_t ncols, const char *const *headers);

/* Free; NULL is fine. */
void omlctl_table_free(omlctl_table *t);

/* Indent every printed line by n spaces (describe nests tables). */
void omlctl_table_set_indent(omlctl_table *t, int n);

/* Append a row of ncols cells (copied; NULL cells print as "<none>"). */
void omlctl_table_add_row(omlctl_table *t, const char *const *cells);

/*
 * Print the rows added since the last flush, aligned: columns separated by
 * three spaces, no trailing blanks. Column widths only grow, so rows printed
 * later (a watch) stay aligned with earlier ones where they fit. The header is
 * printed before the first flushed row when show_header.
 */
void omlctl_table_flush(omlctl_table *t, FILE *out, int show_header);

/* --- printer columns -------------------------------------------------------------------- */

typedef struct omlctl_column {
    char *name;      /* header, upper-cased */
    char *json_path; /* ".spec.layout"; NULL for the NAME column */
    char *type;      /* "string", "integer", "date", ... */
    int priority;    /* 0 shown always, > 0 only with -o wide */
} omlctl_column;

typedef struct omlctl_columns {
    omlctl_column *v;
    size_t n;
} omlctl_columns;

/*
 * The columns kubectl shows for a CRD: NAME, then additionalPrinterColumns
 * (priority 0; all with wide); NAME and AGE when the CRD declares none.
 */
int omlctl_columns_for_kind(const schema_set *set, const kind_info *kind, int wide,
                            omlctl_columns *out, omlop_err *err);

/* Same from a CRD json object directly (for tests and other callers). */
int omlctl_columns_from_crd(const json_object *crd, int wide, omlctl_columns *out, omlop_err *err);

/* Free the columns. */
void omlctl_columns_release(omlctl_columns *cols);

/* The headers of cols, borrowed, for omlctl_table_new (caller frees the array). */
const char **omlctl_columns_headers(const omlctl_columns *cols);

/* Append one table row for obj at time now (cells are added with omlctl_table_add_row). */
void omlctl_columns_add_row(const omlctl_columns *cols, omlctl_table *t, const json_object *obj,
                            time_t now);

/* --- times ------------------------------------------------------------------------------ */

/* The age of an RFC 3339 timestamp at now, or "<unknown>" when it does not parse. */
void omlctl_age_of(const char *timestamp, time_t now, char *out, size_t outsz);

#endif
