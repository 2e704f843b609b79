/*
 * omlctl apply: create or update objects from manifests.
 *
 * Each object is sent as a server-side apply: PATCH with Content-Type
 * application/apply-patch+yaml and fieldManager=omlctl. The server creates the
 * object or updates it in one request, with its own validation and without the
 * race of GET then PUT, and ?dryRun=All gives exactly what would be stored
 * (diff uses the same request). Only when a server answers that it does not
 * take apply patches (415 or 405) does apply fall back to GET + POST or PUT
 * with the live resourceVersion, retrying a few times on 409 Conflict.
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
#include "clients/omlctl/mergepatch.h"
#include "clients/omlctl/output.h"
#include "lib/cjson.h"

#define APPLY_CONFLICT_RETRIES 3

static const char apply_help[] =
    "Create or update objects from manifest files, directories or stdin.\n"
    "\n"
    "Every document is validated against the resource model first (all problems are\n"
    "printed with file:line:col and nothing is sent if there is any), then sent as a\n"
    "server-side apply (PATCH application/apply-patch+yaml, fieldManager=omlctl).\n"
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
    "      --field-manager NAME the manager name for server-side apply (default omlctl)\n"
    "      --force-conflicts    take over fields that another manager owns\n"
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

/* GET + POST or PUT, for servers without apply patches. */
static int apply_fallback(apiclient *api, const omlctl_manifest *m, const omlctl_apply_params *o,
                          json_object **result, omlop_err *err)
{
    for (int attempt = 0; attempt <= APPLY_CONFLICT_RETRIES; attempt++) {
        json_object *live = NULL, *body;
        strbuf path = STRBUF_INIT;
        int rc = omlctl_get_object(api, m->kind, m->name, &live, err);

        if (rc < 0 && rc != OMLOP_ENOTFOUND)
            return rc;
        if (json_object_deep_copy(m->obj, &body, NULL) != 0)
            abort();
        if (live) {
            const char *rv = cjson_get_string(live, "metadata.resourceVersion");
            json_object *meta = json_object_object_get(body, "metadata");

            if (rv && meta)
                json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
            apiclient_path(&path, m->kind->plural, m->name, NULL);
        } else {
            apiclient_path(&path, m->kind->plural, NULL, NULL);
        }
        if (o->server_dry_run)
            apiclient_query_add(&path, "dryRun", "All");
        if (o->field_manager)
            apiclient_query_add(&path, "fieldManager", o->field_manager);
        apiclient_query_add(&path, "fieldValidation", "Strict");
        rc = apiclient_json(api, live ? "PUT" : "POST", path.buf, NULL, body, result, err);
        json_object_put(body);
        json_object_put(live);
        strbuf_release(&path);
        if (rc != OMLOP_ECONFLICT && rc != OMLOP_EEXIST)
            return rc;
    }
    return omlop_err_prefix(err, "gave up after %d conflicts: ", APPLY_CONFLICT_RETRIES + 1);
}

int omlctl_apply_send(apiclient *api, const omlctl_manifest *m, const omlctl_apply_params *o,
                      json_object **result, omlop_err *err)
{
    strbuf path = STRBUF_INIT;
    apiclient_response resp = APICLIENT_RESPONSE_INIT;
    const char *text = json_object_to_json_string_ext(m->obj, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc;

    *result = NULL;
    apiclient_path(&path, m->kind->plural, m->name, NULL);
    apiclient_query_add(&path, "fieldManager", o->field_manager ? o->field_manager : "omlctl");
    /* An unknown field is an error, not a silent drop (kubectl's default too). */
    apiclient_query_add(&path, "fieldValidation", "Strict");
    if (o->force)
        apiclient_query_add(&path, "force", "true");
    if (o->server_dry_run)
        apiclient_query_add(&path, "dryRun", "All");
    rc = apiclient_do(api, "PATCH", path.buf, "application/apply-patch+yaml", text, strlen(text),
                      &resp, err);
    if (rc < 0)
        goto out;
    if (resp.code == 415 || resp.code == 405) {
        rc = apply_fallback(api, m, o, result, err);
        goto out;
    }
    apiclient_print_warnings(&resp);
    if (resp.code < 200 || resp.code >= 300) {
        rc = apiclient_status_error(resp.code, resp.body.buf, resp.body.len, err);
        goto out;
    }
    *result = json_tokener_parse(strbuf_str(&resp.body));
    if (!*result)
        rc = omlop_err_set(err, OMLOP_EPROTO, "PATCH %s: the %ld answer is not JSON", path.buf,
                           resp.code);
out:
    apiclient_response_release(&resp);
    strbuf_release(&path);
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
        /* What the object would look like: the manifest merged over the live one. */
        result = live ? omlctl_merge_patch_apply(live, m->obj) : json_object_get(m->obj);
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
