/*
 * omlctl gitsource: act on GitSources (docs/gitops.md). `sync` asks omlopd to fetch and apply
 * a source now instead of at its next interval: POST .../gitsources/NAME/sync (an admin
 * token), the same request a forge's push webhook sends.
 */
#include <stdio.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "lib/cjson.h"

static const char gitsource_help[] =
    "Act on GitSources: folders of Git repositories whose manifests omlopd applies.\n"
    "\n"
    "sync asks omlopd to fetch the repository and apply its commit now, instead of at\n"
    "the source's next interval (needs an admin token). It returns once the request is\n"
    "recorded; watch the result with `omlctl get gitsource NAME` or describe.\n"
    "\n"
    "Usage:\n"
    "  omlctl gitsource sync NAME\n"
    "\n"
    "Examples:\n"
    "  omlctl gitsource sync fleet\n"
    "  omlctl describe gitsource fleet\n"
    "\n"
    "The same request over HTTP (a push webhook):\n"
    "  curl -X POST -H 'Authorization: Bearer TOKEN' \\\n"
    "    https://omlopd:8443/apis/omlop.io/v1alpha1/gitsources/fleet/sync\n";

int cmd_gitsource(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const omlctl_opt opts[] = {{NULL, 0, OMLCTL_OPT_BOOL, NULL}};
    apiclient *api = NULL;
    json_object *out = NULL, *body = NULL;
    strbuf path = STRBUF_INIT;
    int ret = OMLCTL_EXIT_ERROR;

    omlctl_ctx_init(&ctx, "gitsource");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, gitsource_help, &ret))
        goto out;
    if (args.n == 0 || strcmp(args.v[0], "sync") != 0) {
        if (args.n)
            omlctl_usage_error(&ctx, "unknown subcommand '%s' (sync)", args.v[0]);
        else
            omlctl_usage_error(&ctx, "give a subcommand: sync NAME");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (args.n != 2) {
        omlctl_usage_error(&ctx, "sync takes exactly one GitSource name");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (omlctl_ctx_client(&ctx, &api, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    apiclient_path(&path, "gitsources", args.v[1], "sync");
    /* an empty JSON body: a body-less POST from libcurl would be typed as a form, which the
     * server refuses (api_guard: no form posts from web pages) */
    body = json_object_new_object();
    if (apiclient_json(api, "POST", path.buf, "application/json", body, &out, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    printf("gitsource/%s sync requested\n", args.v[1]);
    ret = OMLCTL_EXIT_OK;
out:
    json_object_put(body);
    json_object_put(out);
    strbuf_release(&path);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
