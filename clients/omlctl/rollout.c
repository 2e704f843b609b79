/*
 * omlctl rollout: a Tenant's spec history and rolling back to an earlier spec.
 *
 * The history is what omlopd records on every spec change
 * (GET .../tenants/<name>/history, operator/api_history.h); a revision is the
 * metadata.generation that spec had. Undo writes the chosen revision's spec
 * back with a PUT carrying the current resourceVersion (re-read and retried on
 * 409 a bounded number of times), so it becomes a new generation and a new
 * revision, as in Kubernetes. spec.revisionHistoryLimit is not rolled back: it
 * says how much history to keep, not what to run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/output.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"

/* PUT attempts of an undo that lost a race with another writer. */
#define ROLLOUT_CONFLICT_RETRIES 5

static const char rollout_help[] =
    "Show a Tenant's rollout history, or roll it back to an earlier spec.\n"
    "\n"
    "omlopd keeps the last spec.revisionHistoryLimit specs (default 10) of each\n"
    "Tenant; a revision is the metadata.generation the spec had. An upgrade is an\n"
    "apply of new image tags; a rollback is an undo, which writes the old spec back\n"
    "and so becomes a new revision. spec.revisionHistoryLimit itself is not rolled\n"
    "back. The change cause shown is the annotation kubernetes.io/change-cause (or\n"
    "omlop.io/change-cause) the object had when the spec was written.\n"
    "\n"
    "Usage:\n"
    "  omlctl rollout history tenant/NAME [--revision=N] [-o yaml|json]\n"
    "  omlctl rollout undo tenant/NAME [--to-revision=N]\n"
    "\n"
    "Flags:\n"
    "      --revision N      history: show the spec of revision N (YAML; -o for JSON)\n"
    "      --to-revision N   undo: roll back to revision N (default: the one before the\n"
    "                        current)\n"
    "  -o, --output FORMAT   history: yaml or json instead of the table\n"
    "\n"
    "Examples:\n"
    "  # upgrade two components, then look at the history\n"
    "  omlctl apply -f acme.yaml\n"
    "  omlctl rollout history tenant/acme\n"
    "  # the spec of revision 2\n"
    "  omlctl rollout history tenant/acme --revision=2 -o yaml\n"
    "  # back to the previous spec, or to revision 1\n"
    "  omlctl rollout undo tenant/acme\n"
    "  omlctl rollout undo tenant/acme --to-revision=1\n";

typedef struct rollout_args {
    omlctl_ctx *ctx;
    apiclient *api;
    const kind_info *kind;
    const char *name;
    long revision;    /* history --revision, 0 = all */
    long to_revision; /* undo --to-revision, 0 = the previous one */
    omlctl_output fmt;
    int has_output;
} rollout_args;

static int fetch_history(const rollout_args *a, json_object **out, omlop_err *err)
{
    strbuf path = STRBUF_INIT;
    int rc;

    apiclient_path(&path, a->kind->plural, a->name, "history");
    rc = apiclient_json(a->api, "GET", path.buf, NULL, NULL, out, err);
    strbuf_release(&path);
    if (rc == OMLOP_ENOTFOUND)
        omlop_err_set(err, OMLOP_ENOTFOUND, "%s/%s not found", a->kind->singular, a->name);
    return rc;
}

/* The history item of revision rev, borrowed; NULL when it is not kept. */
static json_object *find_revision(const json_object *hist, int64_t rev)
{
    json_object *items = cjson_get(hist, "items");

    for (size_t i = 0;
         json_object_is_type(items, json_type_array) && i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);

        if (cjson_get_int(it, "revision", -1) == rev)
            return it;
    }
    return NULL;
}

/* "1, 2, 3" (or "none") for messages. */
static void kept_revisions(const json_object *hist, strbuf *out)
{
    json_object *items = cjson_get(hist, "items");
    size_t n = json_object_is_type(items, json_type_array) ? json_object_array_length(items) : 0;

    for (size_t i = 0; i < n; i++)
        strbuf_addf(out, "%s%lld", i ? ", " : "",
                    (long long)cjson_get_int(json_object_array_get_idx(items, i), "revision", -1));
    if (!n)
        strbuf_adds(out, "none");
}

static int history_table(const rollout_args *a, const json_object *hist)
{
    static const char *const headers[] = {"REVISION", "CHANGE-CAUSE", "AGE"};
    json_object *items = cjson_get(hist, "items");
    omlctl_table *t = omlctl_table_new(3, headers);
    time_t now = time(NULL);

    printf("%s/%s\n", a->kind->singular, a->name);
    for (size_t i = 0;
         json_object_is_type(items, json_type_array) && i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);
        char rev[32], age[64];
        const char *cells[3];

        snprintf(rev, sizeof(rev), "%lld", (long long)cjson_get_int(it, "revision", -1));
        omlctl_age_of(cjson_get_string(it, "createdAt"), now, age, sizeof(age));
        cells[0] = rev;
        cells[1] = cjson_get_string(it, "changeCause"); /* NULL prints <none> */
        cells[2] = age;
        omlctl_table_add_row(t, cells);
    }
    omlctl_table_flush(t, stdout, 1);
    if (!json_object_is_type(items, json_type_array) || json_object_array_length(items) == 0)
        printf("(no revisions kept: spec.revisionHistoryLimit is 0)\n");
    omlctl_table_free(t);
    return 0;
}

static int do_history(const rollout_args *a, omlop_err *err)
{
    json_object *hist = NULL, *it;
    strbuf kept = STRBUF_INIT, yaml = STRBUF_INIT;
    int rc;

    if ((rc = fetch_history(a, &hist, err)) < 0)
        goto out;
    if (a->revision == 0) {
        if (a->has_output)
            rc = omlctl_print_object(stdout, a->fmt, hist, err);
        else
            rc = history_table(a, hist);
        goto out;
    }
    it = find_revision(hist, a->revision);
    if (!it) {
        kept_revisions(hist, &kept);
        rc = omlop_err_set(err, OMLOP_ENOTFOUND,
                           "%s/%s has no revision %ld in its history (revisions kept: %s)",
                           a->kind->singular, a->name, a->revision, kept.buf);
        goto out;
    }
    if (a->has_output) {
        rc = omlctl_print_object(stdout, a->fmt, cjson_get(it, "spec"), err);
        goto out;
    }
    if ((rc = yaml_emit_json(cjson_get(it, "spec"), &yaml, err)) < 0)
        goto out;
    printf("%s/%s with revision #%ld\nChange-Cause: %s\nCreated: %s\nSpec:\n", a->kind->singular,
           a->name, a->revision,
           cjson_get_string(it, "changeCause") ? cjson_get_string(it, "changeCause") : "<none>",
           cjson_get_string(it, "createdAt") ? cjson_get_string(it, "createdAt") : "<unknown>");
    for (const char *p = strbuf_str(&yaml); *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);

        if (!(n == 3 && strncmp(p, "---", 3) == 0))
            printf("  %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
out:
    json_object_put(hist);
    strbuf_release(&kept);
    strbuf_release(&yaml);
    return rc;
}

/*
 * The revision undo goes to: --to-revision, or the newest kept revision older
 * than the current generation. Fills a message naming the tenant when none fits.
 */
static json_object *undo_target(const rollout_args *a, const json_object *hist, omlop_err *err)
{
    json_object *items = cjson_get(hist, "items"), *best = NULL, *it;
    int64_t current = cjson_get_int(hist, "currentRevision", 0);
    size_t n = json_object_is_type(items, json_type_array) ? json_object_array_length(items) : 0;
    strbuf kept = STRBUF_INIT;

    kept_revisions(hist, &kept);
    if (a->to_revision > 0) {
        it = find_revision(hist, a->to_revision);
        if (!it)
            omlop_err_set(err, OMLOP_ENOTFOUND,
                          "%s/%s has no revision %ld in its history (revisions kept: %s)",
                          a->kind->singular, a->name, a->to_revision, kept.buf);
        strbuf_release(&kept);
        return it;
    }
    for (size_t i = 0; i < n; i++) {
        it = json_object_array_get_idx(items, i);
        if (cjson_get_int(it, "revision", -1) < current)
            best = it; /* items come oldest first */
    }
    if (!best) {
        if (n == 0)
            omlop_err_set(err, OMLOP_ENOTFOUND,
                          "%s/%s has no rollout history (spec.revisionHistoryLimit is 0?); "
                          "nothing to undo to",
                          a->kind->singular, a->name);
        else
            omlop_err_set(err, OMLOP_ENOTFOUND,
                          "%s/%s has only one revision (revisions kept: %s); nothing to undo to",
                          a->kind->singular, a->name, kept.buf);
    }
    strbuf_release(&kept);
    return best;
}

/* The object to PUT: live with its spec replaced by spec, revisionHistoryLimit kept. */
static json_object *undo_body(const json_object *live, const json_object *spec)
{
    json_object *body = NULL, *nspec = NULL;
    /* json-c's copy takes a non-const source it does not change */
    int rc = json_object_deep_copy((json_object *)live, &body, NULL) |
             json_object_deep_copy((json_object *)spec, &nspec, NULL);
    json_object *limit = cjson_get(live, "spec.revisionHistoryLimit");

    if (rc != 0 || !body || !nspec)
        abort(); /* deep copies fail only when out of memory */
    json_object_object_del(nspec, "revisionHistoryLimit");
    if (limit)
        json_object_object_add(nspec, "revisionHistoryLimit", json_object_get(limit));
    json_object_object_del(body, "status");
    json_object_object_add(body, "spec", nspec);
    return body;
}

static int do_undo(const rollout_args *a, omlop_err *err)
{
    json_object *hist = NULL, *target, *live = NULL, *body = NULL, *stored = NULL;
    strbuf path = STRBUF_INIT;
    int64_t rev;
    int rc;

    if ((rc = omlctl_get_object(a->api, a->kind, a->name, &live, err)) < 0) {
        if (rc == OMLOP_ENOTFOUND)
            omlop_err_set(err, rc, "%s/%s not found", a->kind->singular, a->name);
        goto out;
    }
    if ((rc = fetch_history(a, &hist, err)) < 0)
        goto out;
    if (!(target = undo_target(a, hist, err))) {
        rc = err->code;
        goto out;
    }
    rev = cjson_get_int(target, "revision", -1);
    if (!json_object_is_type(cjson_get(target, "spec"), json_type_object)) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "revision %lld of %s/%s has no spec in its history",
                           (long long)rev, a->kind->singular, a->name);
        goto out;
    }
    apiclient_path(&path, a->kind->plural, a->name, NULL);
    for (int attempt = 0; attempt < ROLLOUT_CONFLICT_RETRIES; attempt++) {
        body = undo_body(live, cjson_get(target, "spec"));
        if (cjson_equal(cjson_get(body, "spec"), cjson_get(live, "spec"))) {
            printf("%s/%s skipped rollback (the current spec already matches revision %lld)\n",
                   a->kind->singular, a->name, (long long)rev);
            rc = 0;
            goto out;
        }
        rc = apiclient_json(a->api, "PUT", path.buf, NULL, body, &stored, err);
        json_object_put(body);
        body = NULL;
        if (rc != OMLOP_ECONFLICT)
            break;
        /* someone wrote in between: roll back over their version */
        json_object_put(live);
        live = NULL;
        omlop_err_clear(err);
        if ((rc = omlctl_get_object(a->api, a->kind, a->name, &live, err)) < 0)
            goto out;
        rc = omlop_err_set(err, OMLOP_ECONFLICT, "%s/%s kept changing: gave up after %d conflicts",
                           a->kind->singular, a->name, ROLLOUT_CONFLICT_RETRIES);
    }
    if (rc < 0)
        goto out;
    printf("%s/%s rolled back to revision %lld\n", a->kind->singular, a->name, (long long)rev);
out:
    json_object_put(hist);
    json_object_put(live);
    json_object_put(body);
    json_object_put(stored);
    strbuf_release(&path);
    return rc;
}

int cmd_rollout(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT, rest = OMLCTL_STRV_INIT;
    omlctl_targets targets = OMLCTL_TARGETS_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    rollout_args a;
    const char *output = NULL, *sub;
    schema_set *schemas;
    int ret = OMLCTL_EXIT_ERROR, rc;
    const omlctl_opt opts[] = {
        {"revision", 0, OMLCTL_OPT_INT, &a.revision},
        {"to-revision", 0, OMLCTL_OPT_INT, &a.to_revision},
        {"output", 'o', OMLCTL_OPT_STRING, &output},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    memset(&a, 0, sizeof(a));
    a.ctx = &ctx;
    omlctl_ctx_init(&ctx, "rollout");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, rollout_help, &ret))
        goto out;
    sub = args.n ? args.v[0] : NULL;
    if (!sub || (strcmp(sub, "history") != 0 && strcmp(sub, "undo") != 0)) {
        if (sub)
            omlctl_usage_error(&ctx, "unknown subcommand '%s' (history or undo)", sub);
        else
            omlctl_usage_error(&ctx, "give a subcommand: history or undo");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 1; i < args.n; i++)
        omlctl_strv_push(&rest, args.v[i]);
    if (a.revision < 0 || a.to_revision < 0) {
        omlctl_usage_error(&ctx, "a revision is a positive number");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (strcmp(sub, "history") == 0 ? a.to_revision != 0 : (a.revision != 0 || output != NULL)) {
        omlctl_usage_error(&ctx, "%s",
                           strcmp(sub, "history") == 0
                               ? "--to-revision is for undo (history takes --revision)"
                               : "undo takes --to-revision, not --revision or -o");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (output) {
        if (omlctl_output_parse(output, &a.fmt, &err) < 0 ||
            (a.fmt != OMLCTL_OUT_YAML && a.fmt != OMLCTL_OUT_JSON)) {
            omlctl_usage_error(&ctx, "-o takes yaml or json here, not '%s'", output);
            ret = OMLCTL_EXIT_USAGE;
            goto out;
        }
        a.has_output = 1;
    }
    if (omlctl_ctx_schemas(&ctx, &schemas, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (omlctl_targets_parse(schemas, &rest, 1, &targets, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (targets.n != 1 || strcmp(targets.v[0].kind->kind, "Tenant") != 0) {
        if (targets.n != 1)
            omlctl_usage_error(&ctx, "give exactly one tenant: tenant/NAME");
        else
            omlctl_usage_error(&ctx, "only tenants have a rollout history, not %s",
                               targets.v[0].kind->plural);
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    a.kind = targets.v[0].kind;
    a.name = targets.v[0].name;
    if (omlctl_ctx_client(&ctx, &a.api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    rc = strcmp(sub, "history") == 0 ? do_history(&a, &err) : do_undo(&a, &err);
    if (rc < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    ret = OMLCTL_EXIT_OK;
out:
    omlctl_targets_release(&targets);
    omlctl_strv_release(&rest);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
