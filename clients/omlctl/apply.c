/*
 * omlctl apply: create or update objects from manifests.
 *
 * This is kubectl's client-side apply. The manifest applied is recorded in the
 * annotation kubectl.kubernetes.io/last-applied-configuration; an update sends
 * the 3-way merge patch (mergepatch.h) from that record, the new manifest and
 * the live object, so a field the manifest stops saying is deleted, while
 * status, finalizers and whatever the server or `omlctl edit` added and was
 * never applied stay. A plain merge or server-side apply of the manifest alone
 * cannot tell "removed from the manifest" from "never in it" (the e2e bug: a
 * paused annotation dropped from the file stayed on the tenant).
 *
 * The patch carries the live resourceVersion, so a write between the GET and
 * the PATCH gives 409 and a fresh attempt (up to 3) on a fresh GET. A create is
 * a POST of the manifest with the record. Client dry runs compute the same
 * result locally; --dry-run=server and `omlctl diff` send the same request with
 * dryRun=All.
 *
 * "created", "configured" or "unchanged" comes from comparing the live object
 * (a GET before the write) with the answer, ignoring status and the metadata
 * the server keeps (resourceVersion, generation, uid, managedFields, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/omlctl/apply.h"
#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "crds/mergepatch.h"
#include "clients/omlctl/output.h"
#include "lib/cjson.h"

#define APPLY_CONFLICT_RETRIES 3

static const char apply_help[] =
    "Create or update objects from manifest files, directories or stdin.\n"
    "\n"
    "Every document is validated against the resource model first (all problems are\n"
    "printed with file:line:col and nothing is sent if there is any), then applied as\n"
    "kubectl's client-side apply does: the manifest is recorded in the annotation\n"
    "kubectl.kubernetes.io/last-applied-configuration, and an update is a 3-way\n"
    "merge patch, so fields removed from the manifest since the last apply are\n"
    "removed from the object, while fields it never set (status, finalizers, other\n"
    "writers' changes) are kept.\n"
    "Prints one line per object: KIND/NAME created | configured | unchanged.\n"
    "\n"
    "Usage:\n"
    "  omlctl apply -f FILE|DIR|- [-f ...] [flags]\n"
    "\n"
    "Flags:\n"
    "  -f, --filename PATH      a manifest file, a directory (walked recursively for\n"
    "                           *.yaml, *.yml, *.json) or - for stdin; repeatable;\n"
    "                           files may hold several documents separated by ---\n"
    "  -R, --recursive          accepted for kubectl compatibility (always recursive)\n"
    "      --dry-run MODE       none (default), client (validate and compare with the\n"
    "                           live object, send nothing) or server (the server runs\n"
    "                           everything but the write)\n"
    "  -l, --selector SEL       only apply the objects whose labels match\n"
    "      --prune              then delete the objects of every kind (except events)\n"
    "                           that match -l but are not in the files (needs -l)\n"
    "      --validate BOOL      check documents against the schema first (default\n"
    "                           true); false sends them typed by YAML rules alone\n"
    "      --field-manager NAME the manager name sent with each write (default omlctl)\n"
    "      --force-conflicts    accepted for kubectl compatibility (client-side apply\n"
    "                           has no field ownership to force)\n"
    "  -o, --output FORMAT      print the applied objects as yaml, json or name\n"
    "                           instead of the status lines\n"
    "\n"
    "Examples:\n"
    "  omlctl apply -f crds/examples/tenant-aio.yaml\n"
    "  omlctl apply -f tenants/ --dry-run=server\n"
    "  cat acme.yaml | omlctl apply -f -\n"
    "  omlctl apply -f tenants/ -l team=voice --prune\n";

typedef enum dry_mode { DRY_NONE, DRY_CLIENT, DRY_SERVER } dry_mode;

typedef struct apply_opts {
    omlctl_strv files;
    const char *dry_run;
    const char *selector;
    const char *field_manager;
    const char *output;
    int recursive;
    int prune;
    int validate;
    int force;
    dry_mode dry;
    omlctl_output fmt;
} apply_opts;

/* Whether the answer changed anything the user controls. */
static int same_object(const json_object *live, const json_object *result)
{
    json_object *a = omlctl_comparable(live), *b = omlctl_comparable(result);
    int same = cjson_equal(a, b);

    json_object_put(a);
    json_object_put(b);
    return same;
}

/*
 * What apply stores given the live object (NULL when there is none): the
 * manifest with its last-applied record for a create, else live with the
 * 3-way patch applied. Client dry runs show exactly this.
 */
static json_object *apply_expected(const json_object *live, const json_object *modified)
{
    json_object *last, *patch, *res;

    if (!live)
        return json_object_get((json_object *)modified);
    last = last_applied_get(live);
    patch = merge_patch_three_way(last, modified, live);
    res = merge_patch_apply(live, patch);
    json_object_put(patch);
    json_object_put(last);
    return res;
}

/*
 * One attempt: POST when there is no live object, else PATCH the 3-way patch
 * with live's resourceVersion as precondition, so a write in between gives
 * 409 (and a fresh attempt) instead of a patch computed from a stale object.
 */
static int apply_attempt(apiclient *api, const omlctl_manifest *m, const omlctl_apply_params *o,
                         const json_object *modified, json_object **result, omlop_err *err)
{
    json_object *live = NULL, *last = NULL, *patch = NULL, *meta;
    strbuf path = STRBUF_INIT;
    const char *rv;
    int rc = omlctl_get_object(api, m->kind, m->name, &live, err);

    if (rc < 0 && rc != OMLOP_ENOTFOUND)
        return rc;
    rc = 0;
    if (live) {
        last = last_applied_get(live);
        patch = merge_patch_three_way(last, modified, live);
        if (merge_patch_is_empty(patch)) {
            *result = json_object_get(live); /* nothing to write */
            goto out;
        }
        rv = cjson_get_string(live, "metadata.resourceVersion");
        meta = json_object_object_get(patch, "metadata");
        if (!json_object_is_type(meta, json_type_object)) {
            meta = json_object_new_object();
            json_object_object_add(patch, "metadata", meta);
        }
        if (rv)
            json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
        apiclient_path(&path, m->kind->plural, m->name, NULL);
    } else {
        apiclient_path(&path, m->kind->plural, NULL, NULL);
    }
    apiclient_query_add(&path, "fieldManager", o->field_manager ? o->field_manager : "omlctl");
    /* An unknown field is an error, not a silent drop (kubectl's default too). */
    apiclient_query_add(&path, "fieldValidation", "Strict");
    if (o->server_dry_run)
        apiclient_query_add(&path, "dryRun", "All");
    if (live)
        rc = apiclient_json(api, "PATCH", path.buf, "application/merge-patch+json", patch, result,
                            err);
    else
        rc = apiclient_json(api, "POST", path.buf, NULL, modified, result, err);
    if (rc == 0 && !*result)
        rc = omlop_err_set(err, OMLOP_EPROTO, "%s %s: the answer has no object",
                           live ? "PATCH" : "POST", path.buf);
out:
    json_object_put(patch);
    json_object_put(last);
    json_object_put(live);
    strbuf_release(&path);
    return rc;
}

int omlctl_apply_send(apiclient *api, const omlctl_manifest *m, const omlctl_apply_params *o,
                      json_object **result, omlop_err *err)
{
    json_object *modified = last_applied_modified(m->given ? m->given : m->obj);
    int rc = 0;

    *result = NULL;
    for (int attempt = 0; attempt <= APPLY_CONFLICT_RETRIES; attempt++) {
        rc = apply_attempt(api, m, o, modified, result, err);
        if (rc != OMLOP_ECONFLICT && rc != OMLOP_EEXIST)
            goto out;
    }
    rc = omlop_err_prefix(err, "gave up after %d conflicts: ", APPLY_CONFLICT_RETRIES + 1);
out:
    json_object_put(modified);
    return rc;
}

/* Apply one manifest and print its line; returns 0 or the error (already printed). */
static int apply_one(omlctl_ctx *ctx, apiclient *api, const omlctl_manifest *m, const apply_opts *o,
                     json_object *out_list)
{
    omlop_err err = OMLOP_ERR_INIT;
    json_object *live = NULL, *result = NULL;
    strbuf ref = STRBUF_INIT;
    const char *action;
    int rc;

    rc = omlctl_get_object(api, m->kind, m->name, &live, &err);
    if (rc < 0 && rc != OMLOP_ENOTFOUND)
        goto fail;
    if (o->dry == DRY_CLIENT) {
        json_object *modified = last_applied_modified(m->given ? m->given : m->obj);

        result = apply_expected(live, modified);
        json_object_put(modified);
    } else {
        omlctl_apply_params p = {o->field_manager, o->force, o->dry == DRY_SERVER};

        rc = omlctl_apply_send(api, m, &p, &result, &err);
        if (rc < 0)
            goto fail;
    }
    if (!live)
        action = "created";
    else if (same_object(live, result))
        action = "unchanged";
    else
        action = "configured";
    omlctl_object_ref(&ref, m->kind, m->name);
    if (o->fmt == OMLCTL_OUT_NAME)
        printf("%s\n", ref.buf);
    else if (o->fmt == OMLCTL_OUT_YAML || o->fmt == OMLCTL_OUT_JSON)
        json_object_array_add(json_object_object_get(out_list, "items"), json_object_get(result));
    else
        printf("%s %s%s\n", ref.buf, action,
               o->dry == DRY_CLIENT   ? " (dry run)"
               : o->dry == DRY_SERVER ? " (server dry run)"
                                      : "");
    fflush(stdout);
    rc = 0;
    goto out;
fail:
    omlop_err_prefix(&err, "%s/%s (%s): ", m->kind->singular, m->name, m->source);
    omlctl_print_error(ctx, &err);
out:
    json_object_put(live);
    json_object_put(result);
    strbuf_release(&ref);
    return rc;
}

static int is_applied(const omlctl_manifests *ms, const kind_info *kind, const char *name)
{
    for (size_t i = 0; i < ms->n; i++) {
        if (ms->v[i].kind == kind && !strcmp(ms->v[i].name, name))
            return 1;
    }
    return 0;
}

/* --prune: delete what matches the selector but was not in the files. */
static int prune(omlctl_ctx *ctx, apiclient *api, const omlctl_manifests *ms, const apply_opts *o)
{
    omlop_err err = OMLOP_ERR_INIT;
    int failed = 0;

    for (size_t k = 0; k < schema_set_kind_count(ctx->schemas); k++) {
        const kind_info *kind = schema_set_kind_at(ctx->schemas, k);
        json_object *items = NULL;

        /* Events are the server's record of what happened, never declared in files. */
        if (!strcmp(kind->kind, "Event"))
            continue;
        if (omlctl_list_objects(api, kind, o->selector, NULL, &items, NULL, &err) < 0) {
            omlctl_print_error(ctx, &err);
            failed = 1;
            continue;
        }
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            const char *name =
                cjson_get_string(json_object_array_get_idx(items, i), "metadata.name");
            strbuf path = STRBUF_INIT;

            if (!name || is_applied(ms, kind, name))
                continue;
            apiclient_path(&path, kind->plural, name, NULL);
            if (o->dry == DRY_SERVER)
                apiclient_query_add(&path, "dryRun", "All");
            if (o->dry != DRY_CLIENT &&
                apiclient_json(api, "DELETE", path.buf, NULL, NULL, NULL, &err) < 0 &&
                err.code != OMLOP_ENOTFOUND) {
                omlop_err_prefix(&err, "pruning %s/%s: ", kind->singular, name);
                omlctl_print_error(ctx, &err);
                failed = 1;
            } else if (o->fmt == OMLCTL_OUT_TABLE) {
                printf("%s/%s pruned%s\n", kind->singular, name,
                       o->dry == DRY_CLIENT   ? " (dry run)"
                       : o->dry == DRY_SERVER ? " (server dry run)"
                                              : "");
            }
            strbuf_release(&path);
        }
        json_object_put(items);
    }
    return failed ? OMLOP_EIO : 0;
}

int cmd_apply(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    omlctl_manifests ms = {NULL, 0};
    apply_opts o;
    omlop_err err = OMLOP_ERR_INIT;
    apiclient *api;
    json_object *out_list = NULL;
    int ret = OMLCTL_EXIT_ERROR, failed = 0, applied = 0;
    const omlctl_opt opts[] = {
        {"filename", 'f', OMLCTL_OPT_LIST, &o.files},
        {"recursive", 'R', OMLCTL_OPT_BOOL, &o.recursive},
        {"dry-run", 0, OMLCTL_OPT_STRING, &o.dry_run},
        {"selector", 'l', OMLCTL_OPT_STRING, &o.selector},
        {"prune", 0, OMLCTL_OPT_BOOL, &o.prune},
        {"validate", 0, OMLCTL_OPT_BOOL, &o.validate},
        {"field-manager", 0, OMLCTL_OPT_STRING, &o.field_manager},
        {"force-conflicts", 0, OMLCTL_OPT_BOOL, &o.force},
        {"output", 'o', OMLCTL_OPT_STRING, &o.output},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    memset(&o, 0, sizeof(o));
    o.validate = 1;
    o.field_manager = "omlctl";
    omlctl_ctx_init(&ctx, "apply");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, apply_help, &ret))
        goto out;
    ret = OMLCTL_EXIT_USAGE;
    if (args.n) {
        omlctl_usage_error(&ctx, "unexpected argument '%s' (manifests come with -f)", args.v[0]);
        goto out;
    }
    if (!o.files.n) {
        omlctl_usage_error(&ctx, "give the manifests with -f FILE|DIR|-");
        goto out;
    }
    if (!o.dry_run || !strcmp(o.dry_run, "none") || !strcmp(o.dry_run, "false")) {
        o.dry = DRY_NONE;
    } else if (!strcmp(o.dry_run, "client")) {
        o.dry = DRY_CLIENT;
    } else if (!strcmp(o.dry_run, "server")) {
        o.dry = DRY_SERVER;
    } else {
        omlctl_usage_error(&ctx, "--dry-run takes none, client or server, not '%s'", o.dry_run);
        goto out;
    }
    if (o.prune && !o.selector) {
        omlctl_usage_error(&ctx, "--prune needs -l SELECTOR: it deletes the objects matching it "
                                 "that are not in the files");
        goto out;
    }
    if (o.selector && omlctl_selector_match(o.selector, NULL, &err) < 0) {
        omlctl_usage_error(&ctx, "%s", err.msg);
        goto out;
    }
    if (omlctl_output_parse(o.output, &o.fmt, &err) < 0 || o.fmt == OMLCTL_OUT_WIDE) {
        omlctl_usage_error(&ctx, "-o takes yaml, json or name");
        goto out;
    }
    ret = OMLCTL_EXIT_ERROR;
    if (omlctl_manifests_load(&ctx, &o.files, o.validate, &ms, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (omlctl_ctx_client(&ctx, &api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    out_list = omlctl_list_new();
    for (size_t i = 0; i < ms.n; i++) {
        if (o.selector) {
            int match =
                omlctl_selector_match(o.selector, cjson_get(ms.v[i].obj, "metadata.labels"), &err);

            if (match == 0)
                continue;
        }
        applied++;
        if (apply_one(&ctx, api, &ms.v[i], &o, out_list) < 0)
            failed = 1;
    }
    if (!ms.n || !applied)
        fprintf(stderr, "%s\n",
                ms.n ? "no object in the manifests matches the selector"
                     : "no objects in the manifests");
    if (o.prune) {
        if (failed)
            fprintf(stderr, "error: not pruning: some objects failed to apply\n");
        else if (prune(&ctx, api, &ms, &o) < 0)
            failed = 1;
    }
    if (o.fmt == OMLCTL_OUT_YAML || o.fmt == OMLCTL_OUT_JSON) {
        json_object *items = json_object_object_get(out_list, "items");
        const json_object *what =
            json_object_array_length(items) == 1 ? json_object_array_get_idx(items, 0) : out_list;

        if (omlctl_print_object(stdout, o.fmt, what, &err) < 0) {
            omlctl_print_error(&ctx, &err);
            failed = 1;
        }
    }
    ret = failed ? OMLCTL_EXIT_ERROR : OMLCTL_EXIT_OK;
    if (!failed && !ms.n)
        ret = OMLCTL_EXIT_ERROR; /* kubectl: "no objects passed to apply" is an error */
out:
    json_object_put(out_list);
    omlctl_manifests_release(&ms);
    omlctl_strv_release(&o.files);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
