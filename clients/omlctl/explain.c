/*
 * omlctl explain: document the kinds and their fields from the schemas (like
 * kubectl explain), and --markdown: the whole reference (docs/reference.md).
 * Everything printed comes from the CRDs' descriptions and keywords, so the
 * documentation cannot drift from what the validator enforces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "crds/schema_meta.h"
#include "lib/cjson.h"
#include "lib/xalloc.h"

static const char explain_help[] =
    "Describe a kind or one of its fields: type, description, default, allowed values\n"
    "and the fields inside, from the resource model's schemas.\n"
    "\n"
    "Usage:\n"
    "  omlctl explain KIND[.FIELD.PATH] [--recursive]\n"
    "  omlctl explain --markdown\n"
    "\n"
    "KIND is a kind, plural, singular or short name (tenant, tenants, tn). Lists are\n"
    "entered transparently: tenant.spec.hosts.ssh.port (hosts[] works as well).\n"
    "\n"
    "Examples:\n"
    "  # What a Tenant is, and its top-level fields\n"
    "  omlctl explain tenant\n"
    "\n"
    "  # One field, with its default and range\n"
    "  omlctl explain tenant.spec.hosts.ssh.port\n"
    "\n"
    "  # Every field of the HA section, as a tree\n"
    "  omlctl explain tn.spec.ha --recursive\n"
    "\n"
    "  # Regenerate the reference documentation\n"
    "  omlctl explain --markdown > docs/reference.md\n"
    "\n"
    "Flags:\n"
    "      --recursive   print every nested field (names and types only)\n"
    "      --markdown    print the reference of every kind as Markdown\n"
    "\n"
    "Exit status: 0 ok, 1 unknown kind or field, 2 usage error.\n";

#define WRAP_COLUMNS 80

/* Where a field's schema lives, and whether it is the shared metadata one. */
typedef struct field_ref {
    const json_object *schema;
    int is_meta_root; /* the kind's metadata: documented by the metadata schema */
} field_ref;

static const char *schema_type(const json_object *s)
{
    const char *t = cjson_get_string(s, "type");

    return t ? t : "any";
}

static const json_object *schema_items(const json_object *s)
{
    return cjson_get(s, "items");
}

static const json_object *schema_props(const json_object *s)
{
    json_object *p = cjson_get(s, "properties");

    return p && json_object_object_length(p) > 0 ? p : NULL;
}

static const json_object *schema_additional(const json_object *s)
{
    json_object *a = cjson_get(s, "additionalProperties");

    return a && json_object_is_type(a, json_type_object) ? a : NULL;
}

/* kubectl's type labels: <string>, <[]Object>, <map[string]string>. */
static void type_label(const json_object *s, int md, strbuf *out)
{
    const char *t = schema_type(s);

    if (strcmp(t, "array") == 0) {
        strbuf_adds(out, "[]");
        type_label(schema_items(s), md, out);
    } else if (strcmp(t, "object") == 0 && schema_additional(s) && !schema_props(s)) {
        strbuf_adds(out, "map[string]");
        type_label(schema_additional(s), md, out);
    } else if (strcmp(t, "object") == 0) {
        strbuf_adds(out, md ? "object" : "Object");
    } else {
        strbuf_adds(out, t);
    }
}

static int is_required(const json_object *parent, const char *name)
{
    json_object *req = cjson_get(parent, "required");

    for (size_t i = 0; req && i < json_object_array_length(req); i++) {
        if (strcmp(json_object_get_string(json_object_array_get_idx(req, i)), name) == 0)
            return 1;
    }
    return 0;
}

/* A value as written in a manifest: strings bare, the rest as JSON. */
static void value_text(const json_object *v, strbuf *out)
{
    if (json_object_is_type(v, json_type_string))
        strbuf_adds(out, json_object_get_string((json_object *)v));
    else
        strbuf_adds(out, json_object_to_json_string_ext((json_object *)v, JSON_C_TO_STRING_PLAIN));
}

static void code(strbuf *out, int md, const char *s)
{
    strbuf_adds(out, md ? "`" : "");
    strbuf_adds(out, s);
    strbuf_adds(out, md ? "`" : "");
}

static void value_code(strbuf *out, int md, const json_object *v)
{
    strbuf tmp = STRBUF_INIT;

    value_text(v, &tmp);
    code(out, md, tmp.buf);
    strbuf_release(&tmp);
}

static void add_range(strbuf *out, const char *what, const json_object *lo, const json_object *hi,
                      const char *unit)
{
    if (lo && hi)
        strbuf_addf(out, " %s: %s to %s%s.", what, json_object_to_json_string((json_object *)lo),
                    json_object_to_json_string((json_object *)hi), unit);
    else if (lo)
        strbuf_addf(out, " %s: at least %s%s.", what, json_object_to_json_string((json_object *)lo),
                    unit);
    else if (hi)
        strbuf_addf(out, " %s: at most %s%s.", what, json_object_to_json_string((json_object *)hi),
                    unit);
}

/* The keywords besides description, as sentences: "Default: 22. Range: 1 to 65535." */
static void constraints(const json_object *s, int md, strbuf *out)
{
    json_object *e = cjson_get(s, "enum");
    json_object *d = cjson_get(s, "default");
    const char *fmt = cjson_get_string(s, "format");
    const char *pat = cjson_get_string(s, "pattern");

    if (e) {
        strbuf_adds(out, " One of: ");
        for (size_t i = 0; i < json_object_array_length(e); i++) {
            strbuf_adds(out, i ? ", " : "");
            value_code(out, md, json_object_array_get_idx(e, i));
        }
        strbuf_adds(out, ".");
    }
    if (d) {
        strbuf_adds(out, " Default: ");
        value_code(out, md, d);
        if (json_object_is_type(d, json_type_object))
            strbuf_adds(out, " (created with its own defaults when absent)");
        strbuf_adds(out, ".");
    }
    if (fmt)
        strbuf_addf(out, " Format: %s.", fmt);
    if (pat) {
        strbuf_adds(out, " Pattern: ");
        code(out, md, pat);
        strbuf_adds(out, ".");
    }
    add_range(out, "Range", cjson_get(s, "minimum"), cjson_get(s, "maximum"), "");
    add_range(out, "Length", cjson_get(s, "minLength"), cjson_get(s, "maxLength"), " characters");
    add_range(out, "Items", cjson_get(s, "minItems"), cjson_get(s, "maxItems"), "");
    if (json_object_get_boolean(cjson_get(s, "nullable")))
        strbuf_adds(out, " May be null.");
}

/* Word-wrap text at WRAP_COLUMNS with indent spaces on every line. */
static void wrap(FILE *out, const char *text, int indent)
{
    const char *p = text;
    int col = 0;

    while (*p) {
        size_t w;

        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        w = strcspn(p, " \n");
        if (col > 0 && col + 1 + (int)w > WRAP_COLUMNS) {
            fputc('\n', out);
            col = 0;
        }
        if (col == 0) {
            fprintf(out, "%*s", indent, "");
            col = indent;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += (int)w;
        p += w;
    }
    if (col > 0)
        fputc('\n', out);
}

/* Description plus constraints of s, as one paragraph. */
static void field_text(const json_object *s, int md, strbuf *out)
{
    const char *desc = cjson_get_string(s, "description");

    strbuf_adds(out, desc ? desc : "(no description)");
    constraints(s, md, out);
}

/* The schema inside arrays: explain walks through lists transparently. */
static const json_object *through_arrays(const json_object *s)
{
    while (s && strcmp(schema_type(s), "array") == 0 && schema_items(s))
        s = schema_items(s);
    return s;
}

/* --- plain-text explain ---------------------------------------------------------------- */

static void print_fields(FILE *out, const json_object *parent, const json_object *meta,
                         int recursive, int depth, int at_root)
{
    const json_object *props = schema_props(through_arrays(parent));
    strbuf line = STRBUF_INIT;

    if (!props)
        return;
    json_object_object_foreach((json_object *)props, name, child)
    {
        const json_object *shown = at_root && strcmp(name, "metadata") == 0 ? meta : child;

        strbuf_reset(&line);
        type_label(shown, 0, &line);
        fprintf(out, "%*s%s\t<%s>%s\n", 2 + 2 * depth, "", name, line.buf,
                is_required(through_arrays(parent), name) ? " -required-" : "");
        if (recursive) {
            print_fields(out, shown, meta, 1, depth + 1, 0);
            continue;
        }
        strbuf_reset(&line);
        field_text(shown, 0, &line);
        wrap(out, line.buf, 4);
        fputc('\n', out);
    }
    strbuf_release(&line);
}

/* Resolve "spec.hosts.ssh" below root; NULL with err when a segment does not exist. */
static int resolve(const json_object *root, const json_object *meta, const char *path,
                   field_ref *ref, strbuf *last, omlop_err *err)
{
    const json_object *cur = root;
    strbuf seg = STRBUF_INIT, walked = STRBUF_INIT;
    const char *p = path;
    int rc = 0;

    ref->is_meta_root = 0;
    while (*p) {
        size_t n = strcspn(p, ".");
        const json_object *props;
        json_object *next = NULL;
        char *br;

        strbuf_reset(&seg);
        strbuf_add(&seg, p, n);
        br = strchr(seg.buf, '['); /* hosts[] or hosts[0]: the list itself */
        if (br)
            strbuf_setlen(&seg, (size_t)(br - seg.buf));
        props = schema_props(through_arrays(cur));
        if (cur == root && strcmp(seg.buf, "metadata") == 0) {
            next = (json_object *)meta;
        } else if (!props || !json_object_object_get_ex(props, seg.buf, &next)) {
            rc = omlop_err_set(err, OMLOP_ENOTFOUND, "field \"%s\" does not exist in %s", seg.buf,
                               walked.len ? walked.buf : "the kind");
            goto out;
        }
        strbuf_adds(&walked, walked.len ? "." : "");
        strbuf_adds(&walked, seg.buf);
        cur = next;
        p += n;
        if (*p == '.')
            p++;
    }
    ref->schema = cur;
    strbuf_reset(last);
    strbuf_adds(last, walked.buf ? walked.buf : "");
out:
    strbuf_release(&seg);
    strbuf_release(&walked);
    return rc;
}

static int explain_one(FILE *out, const schema_set *set, const char *arg, int recursive,
                       omlop_err *err)
{
    const char *dot = strchr(arg, '.');
    strbuf kind_name = STRBUF_INIT, field = STRBUF_INIT, label = STRBUF_INIT, text = STRBUF_INIT;
    const kind_info *kind;
    const json_object *root;
    json_object *meta = schema_meta_schema_json();
    field_ref ref = {NULL, 0};
    int rc;

    strbuf_add(&kind_name, arg, dot ? (size_t)(dot - arg) : strlen(arg));
    rc = omlctl_kind_resolve(set, kind_name.buf, &kind, err);
    if (rc < 0)
        goto out;
    root = cjson_get(
        json_object_array_get_idx(cjson_get(schema_set_crd(set, kind->kind), "spec.versions"), 0),
        "schema.openAPIV3Schema");
    rc = resolve(root, meta, dot ? dot + 1 : "", &ref, &field, err);
    if (rc < 0) {
        omlop_err_prefix(err, "%s: ", kind->kind);
        goto out;
    }
    fprintf(out, "GROUP:      %s\nKIND:       %s\nVERSION:    %s\n\n", OMLOP_GROUP, kind->kind,
            OMLOP_VERSION);
    if (field.len) {
        const char *name = strrchr(field.buf, '.');

        type_label(ref.schema, 0, &label);
        fprintf(out, "FIELD: %s <%s>\n\n", name ? name + 1 : field.buf, label.buf);
    }
    fprintf(out, "DESCRIPTION:\n");
    field_text(ref.schema, 0, &text);
    wrap(out, text.buf, 4);
    if (schema_props(through_arrays(ref.schema))) {
        fprintf(out, "\nFIELDS:\n");
        print_fields(out, ref.schema, meta, recursive, 0, field.len == 0);
    }
out:
    json_object_put(meta);
    strbuf_release(&kind_name);
    strbuf_release(&field);
    strbuf_release(&label);
    strbuf_release(&text);
    return rc;
}

/* --- markdown reference ------------------------------------------------------------------ */

/* Append text with what would break a table cell escaped. */
static void md_cell(strbuf *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            strbuf_adds(out, "\\|");
        else if (*p == '\n')
            strbuf_addch(out, ' ');
        else
            strbuf_addch(out, *p);
    }
}

static void md_rows(FILE *out, const json_object *parent, const char *prefix, int at_root)
{
    const json_object *inner = through_arrays(parent);
    const json_object *props = schema_props(inner);
    strbuf path = STRBUF_INIT, row = STRBUF_INIT, text = STRBUF_INIT;

    if (!props)
        return;
    json_object_object_foreach((json_object *)props, name, child)
    {
        const json_object *items = child;

        strbuf_reset(&path);
        strbuf_addf(&path, "%s%s%s", prefix, *prefix ? "." : "", name);
        strbuf_reset(&row);
        strbuf_addf(&row, "| `%s` | ", path.buf);
        type_label(child, 1, &row);
        if (is_required(inner, name))
            strbuf_adds(&row, ", **required**");
        strbuf_adds(&row, " | ");
        strbuf_reset(&text);
        field_text(child, 1, &text);
        if (at_root && strcmp(name, "metadata") == 0)
            strbuf_adds(&text, " See [metadata](#metadata).");
        md_cell(&row, text.buf);
        fprintf(out, "%s |\n", row.buf);
        if (at_root && strcmp(name, "metadata") == 0)
            continue;
        /* Lists are documented with [] so paths read like the manifest's structure. */
        while (strcmp(schema_type(items), "array") == 0 && schema_items(items)) {
            strbuf_adds(&path, "[]");
            items = schema_items(items);
        }
        md_rows(out, items, path.buf, 0);
    }
    strbuf_release(&path);
    strbuf_release(&row);
    strbuf_release(&text);
}

static void md_table(FILE *out, const json_object *schema, int at_root)
{
    fprintf(out, "| Field | Type | Description |\n| --- | --- | --- |\n");
    md_rows(out, schema, "", at_root);
}

/* Kinds in the order a reader meets them; any other kind follows in set order. */
static const char *const kind_order[] = {"Tenant", "Secret", "Backup", "Restore", "Event"};

static void md_kind(FILE *out, const schema_set *set, const kind_info *k)
{
    const json_object *root = cjson_get(
        json_object_array_get_idx(cjson_get(schema_set_crd(set, k->kind), "spec.versions"), 0),
        "schema.openAPIV3Schema");
    const char *desc = cjson_get_string(root, "description");
    strbuf lower = STRBUF_INIT;

    for (const char *p = k->kind; *p; p++)
        strbuf_addch(&lower, (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p));
    fprintf(out, "## %s\n\n", k->kind);
    fprintf(out, "%s\n\n", desc ? desc : "");
    fprintf(out, "Plural `%s`, singular `%s`", k->plural, k->singular);
    for (size_t i = 0; i < k->n_short_names; i++)
        fprintf(out, "%s`%s`", i ? ", " : ", short name ", k->short_names[i]);
    fprintf(out,
            ", list kind `%s`. Status subresource: %s. Example: "
            "`omlctl explain %s.FIELD`.\n\n",
            k->list_kind, k->has_status ? "yes (status is written by omlop only)" : "no",
            lower.buf);
    md_table(out, root, 1);
    fprintf(out, "\n");
    strbuf_release(&lower);
}

static void explain_markdown(FILE *out, const schema_set *set)
{
    size_t n = schema_set_kind_count(set);
    const kind_info **order = xcalloc(n ? n : 1, sizeof(*order));
    json_object *meta = schema_meta_schema_json();
    size_t m = 0;

    for (size_t i = 0; i < sizeof(kind_order) / sizeof(kind_order[0]); i++) {
        const kind_info *k = schema_set_find_kind(set, kind_order[i]);

        if (k && strcmp(k->kind, kind_order[i]) == 0)
            order[m++] = k;
    }
    for (size_t i = 0; i < n; i++) {
        const kind_info *k = schema_set_kind_at(set, i);
        int seen = 0;

        for (size_t j = 0; j < m; j++)
            seen |= order[j] == k;
        if (!seen)
            order[m++] = k;
    }
    fprintf(out,
            "# omlop resource reference\n\n"
            "<!-- Generated by `bin/omlctl explain --markdown` from crds/*.yaml; do not "
            "edit. -->\n\n"
            "Every kind is cluster-scoped and served under API group `%s`, version `%s` "
            "(`apiVersion: %s`). Descriptions, types, defaults and limits come from the CRD "
            "files in `crds/`, which the validator enforces; `omlctl explain KIND.FIELD` "
            "prints the same on the command line. A list field is shown as `field[]`, "
            "its items' fields as `field[].name`.\n\n",
            OMLOP_GROUP, OMLOP_VERSION, OMLOP_API_VERSION);
    fprintf(out, "Kinds:");
    for (size_t i = 0; i < m; i++) {
        strbuf anchor = STRBUF_INIT;

        for (const char *p = order[i]->kind; *p; p++)
            strbuf_addch(&anchor, (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p));
        fprintf(out, " [%s](#%s),", order[i]->kind, anchor.buf);
        strbuf_release(&anchor);
    }
    fprintf(out, " and the [metadata](#metadata) every object has.\n\n");
    for (size_t i = 0; i < m; i++)
        md_kind(out, set, order[i]);
    fprintf(out, "## metadata\n\n%s\n\n", cjson_get_string(meta, "description"));
    md_table(out, meta, 0);
    json_object_put(meta);
    free(order);
}

int cmd_explain(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv pos = OMLCTL_STRV_INIT;
    int recursive = 0, markdown = 0, rc;
    omlctl_opt opts[] = {
        {"recursive", 0, OMLCTL_OPT_BOOL, &recursive},
        {"markdown", 0, OMLCTL_OPT_BOOL, &markdown},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };
    omlop_err err = OMLOP_ERR_INIT;
    schema_set *set;

    omlctl_ctx_init(&ctx, "explain");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &pos, explain_help, &rc))
        goto out;
    rc = OMLCTL_EXIT_USAGE;
    if (markdown && (pos.n > 0 || recursive)) {
        omlctl_usage_error(&ctx, "--markdown documents every kind and takes no KIND or "
                                 "--recursive");
        goto out;
    }
    if (!markdown && pos.n != 1) {
        omlctl_usage_error(&ctx, pos.n ? "give one KIND[.FIELD.PATH]"
                                       : "which kind? e.g. omlctl explain tenant.spec");
        goto out;
    }
    rc = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas(&ctx, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (markdown) {
        explain_markdown(stdout, set);
    } else if (explain_one(stdout, set, pos.v[0], recursive, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    rc = OMLCTL_EXIT_OK;
out:
    omlctl_strv_release(&pos);
    omlctl_ctx_release(&ctx);
    return rc;
}
