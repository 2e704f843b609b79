/*
 * omlctl diff: what apply would change, as a unified diff per object.
 *
 * "merged" is the server's answer to the very request apply sends (the create
 * or the 3-way merge patch), with dryRun=All, so defaults, admission and
 * merging are the server's own. Both sides drop status and server-kept metadata
 * (omlctl_comparable) so only what apply can change shows up. Exit codes as
 * kubectl diff: 0 no differences, 1 differences, >1 an error (2 usage, 3 other).
 *
 * For a Tenant, the live plan (status.plan: what the last reconcile still has
 * to do on the hosts) follows its diff when there is one; it does not change
 * the exit status, which is about what apply would change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/omlctl/apply.h"
#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/liveplan.h"
#include "crds/mergepatch.h"
#include "clients/omlctl/output.h"
#include "clients/omlctl/secretmask.h"
#include "clients/omlctl/udiff.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"

#define DIFF_EXIT_DIFFERENT 1
#define DIFF_EXIT_ERROR     3

static const char diff_help[] =
    "Show what 'omlctl apply' would change, as a unified diff per object.\n"
    "\n"
    "For each object in the manifests, the live object is compared with what the\n"
    "server answers to the same request apply sends (a create, or the 3-way merge\n"
    "patch that also removes what the manifest no longer says), with dryRun=All:\n"
    "defaults, validation and merging are the server's. Status, the metadata the\n"
    "server keeps (resourceVersion, generation, uid, creationTimestamp,\n"
    "managedFields) and the last-applied-configuration annotation are left out of\n"
    "both sides. A new object diffs against nothing. A Secret's values show as\n"
    "***, or *** (before) and *** (after) where a value changes, as kubectl diff\n"
    "shows them; its keys show as they are.\n"
    "\n"
    "For a tenant that is not converged, the live plan follows: what the last\n"
    "reconcile still has to do on which host, and why it has not yet (status.plan).\n"
    "\n"
    "Usage:\n"
    "  omlctl diff -f FILE|DIR|- [-f ...] [flags]\n"
    "\n"
    "Flags:\n"
    "  -f, --filename PATH      manifest file, directory (recursive) or - (stdin)\n"
    "  -R, --recursive          accepted for kubectl compatibility (always recursive)\n"
    "  -U, --context N          lines of context around each change (default 3)\n"
    "      --field-manager NAME as for apply (default omlctl)\n"
    "      --force-conflicts    accepted, as for apply\n"
    "\n"
    "Exit status: 0 no differences, 1 differences found, 2 usage error, 3 other error.\n"
    "\n"
    "Examples:\n"
    "  omlctl diff -f tenants/acme.yaml\n"
    "  omlctl diff -f tenants/ && echo \"nothing to apply\"\n";

/*
 * What the diff shows of obj: omlctl_comparable's copy without the
 * last-applied record (apply's bookkeeping, one long line of JSON that repeats
 * the manifest - a Secret's stringData in clear text - while every real change
 * already shows above it). NULL gives NULL.
 */
static json_object *shown(const json_object *obj)
{
    json_object *c, *ann;

    if (!obj)
        return NULL;
    c = omlctl_comparable(obj);
    ann = cjson_get(c, "metadata.annotations");
    if (json_object_is_type(ann, json_type_object)) {
        json_object_object_del(ann, LAST_APPLIED_ANNOTATION);
        if (json_object_object_length(ann) == 0)
            json_object_object_del(json_object_object_get(c, "metadata"), "annotations");
    }
    return c;
}

/* Render both sides as YAML (NULL gives ""), a Secret's values masked as kubectl does. */
static int render_pair(const json_object *live, const json_object *merged, strbuf *a, strbuf *b,
                       omlop_err *err)
{
    json_object *ca = shown(live), *cb = shown(merged);
    int rc = 0;

    omlctl_secret_mask(ca, cb);
    if (ca)
        rc = yaml_emit_json(ca, a, err);
    if (rc == 0 && cb)
        rc = yaml_emit_json(cb, b, err);
    json_object_put(ca);
    json_object_put(cb);
    return rc;
}

static int diff_one(omlctl_ctx *ctx, apiclient *api, const omlctl_manifest *m,
                    const omlctl_apply_params *p, int context, int *differs)
{
    omlop_err err = OMLOP_ERR_INIT;
    json_object *live = NULL, *merged = NULL;
    strbuf a = STRBUF_INIT, b = STRBUF_INIT, an = STRBUF_INIT, bn = STRBUF_INIT, out = STRBUF_INIT;
    int rc;

    rc = omlctl_get_object(api, m->kind, m->name, &live, &err);
    if (rc < 0 && rc != OMLOP_ENOTFOUND)
        goto fail;
    rc = omlctl_apply_send(api, m, p, &merged, &err);
    if (rc < 0)
        goto fail;
    if ((rc = render_pair(live, merged, &a, &b, &err)) < 0)
        goto fail;
    strbuf_adds(&an, "live/");
    omlctl_object_ref(&an, m->kind, m->name);
    strbuf_adds(&bn, "merged/");
    omlctl_object_ref(&bn, m->kind, m->name);
    if (omlctl_udiff(strbuf_str(&a), a.len, strbuf_str(&b), b.len, live ? an.buf : "/dev/null",
                     bn.buf, context, &out)) {
        *differs = 1;
        fwrite(out.buf, 1, out.len, stdout);
    }
    strbuf_reset(&out);
    if (live && omlctl_liveplan_format(live, 2, &out) > 0) {
        printf("# live plan of %s/%s (pending after the last reconcile):\n", m->kind->singular,
               m->name);
        fwrite(out.buf, 1, out.len, stdout);
    }
    fflush(stdout);
    rc = 0;
    goto out;
fail:
    omlop_err_prefix(&err, "%s/%s (%s): ", m->kind->singular, m->name, m->source);
    omlctl_print_error(ctx, &err);
out:
    json_object_put(live);
    json_object_put(merged);
    strbuf_release(&a);
    strbuf_release(&b);
    strbuf_release(&an);
    strbuf_release(&bn);
    strbuf_release(&out);
    return rc;
}

int cmd_diff(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT, files = OMLCTL_STRV_INIT;
    omlctl_manifests ms = {NULL, 0};
    omlctl_apply_params p = {"omlctl", 0, 1};
    omlop_err err = OMLOP_ERR_INIT;
    apiclient *api;
    long context = 3;
    int recursive = 0, differs = 0, failed = 0;
    int ret = DIFF_EXIT_ERROR;
    const omlctl_opt opts[] = {
        {"filename", 'f', OMLCTL_OPT_LIST, &files},
        {"recursive", 'R', OMLCTL_OPT_BOOL, &recursive},
        {"context", 'U', OMLCTL_OPT_INT, &context},
        {"field-manager", 0, OMLCTL_OPT_STRING, &p.field_manager},
        {"force-conflicts", 0, OMLCTL_OPT_BOOL, &p.force},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    omlctl_ctx_init(&ctx, "diff");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, diff_help, &ret))
        goto out;
    if (args.n || !files.n || context < 0 || context > 1000) {
        omlctl_usage_error(&ctx, args.n    ? "unexpected argument (manifests come with -f)"
                                 : files.n ? "--context takes 0 to 1000"
                                           : "give the manifests with -f FILE|DIR|-");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_manifests_load(&ctx, &files, 1, &ms, &err) < 0 ||
        omlctl_ctx_client(&ctx, &api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    for (size_t i = 0; i < ms.n; i++) {
        if (diff_one(&ctx, api, &ms.v[i], &p, (int)context, &differs) < 0)
            failed = 1;
    }
    ret = failed ? DIFF_EXIT_ERROR : differs ? DIFF_EXIT_DIFFERENT : OMLCTL_EXIT_OK;
out:
    omlctl_manifests_release(&ms);
    omlctl_strv_release(&files);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
