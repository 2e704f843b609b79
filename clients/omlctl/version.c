/* omlctl version: the client's version and, when reachable, the server's (/version). */
#include <stdio.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/output.h"
#include "lib/cjson.h"
#include "lib/version.h"

static const char version_help[] =
    "Print the omlctl version and, when the server answers, omlopd's version.\n"
    "\n"
    "An unreachable server is reported on stderr (\"Server Version: unknown: ...\")\n"
    "and is not an error: the exit status is 0.\n"
    "\n"
    "Usage:\n"
    "  omlctl version [--client] [-o yaml|json]\n"
    "\n"
    "Flags:\n"
    "      --client          only the client version; do not contact the server\n"
    "  -o, --output FORMAT   yaml or json: {clientVersion: {...}, serverVersion: {...}}\n"
    "\n"
    "Examples:\n"
    "  omlctl version\n"
    "  omlctl version --client\n"
    "  omlctl version -o json --server https://omlop.example.com:8787\n";

int cmd_version(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *output = NULL;
    int client_only = 0, ret = OMLCTL_EXIT_USAGE;
    omlctl_output fmt = OMLCTL_OUT_TABLE;
    json_object *server = NULL, *all = NULL, *client;
    apiclient *api;
    const omlctl_opt opts[] = {
        {"client", 0, OMLCTL_OPT_BOOL, &client_only},
        {"output", 'o', OMLCTL_OPT_STRING, &output},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    omlctl_ctx_init(&ctx, "version");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, version_help, &ret))
        goto out;
    if (args.n) {
        omlctl_usage_error(&ctx, "unexpected argument '%s'", args.v[0]);
        goto out;
    }
    if (output && (omlctl_output_parse(output, &fmt, &err) < 0 ||
                   (fmt != OMLCTL_OUT_JSON && fmt != OMLCTL_OUT_YAML))) {
        omlctl_usage_error(&ctx, "-o takes yaml or json");
        goto out;
    }
    ret = OMLCTL_EXIT_OK;
    if (!client_only) {
        if (omlctl_ctx_client(&ctx, &api, &err) < 0 ||
            apiclient_json(api, "GET", "/version", NULL, NULL, &server, &err) < 0) {
            json_object_put(server);
            server = NULL;
            fprintf(stderr, "Server Version: unknown: %s\n", err.msg);
        }
    }
    if (fmt == OMLCTL_OUT_TABLE) {
        printf("Client Version: %s\n", OMLOP_RELEASE);
        if (server) {
            const char *v = cjson_get_string(server, "gitVersion");

            printf("Server Version: %s\n", v ? v : json_object_to_json_string(server));
        }
        goto out;
    }
    all = json_object_new_object();
    client = json_object_new_object();
    json_object_object_add(client, "gitVersion", json_object_new_string(OMLOP_RELEASE));
    json_object_object_add(all, "clientVersion", client);
    if (server)
        json_object_object_add(all, "serverVersion", json_object_get(server));
    if (omlctl_print_object(stdout, fmt, all, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        ret = OMLCTL_EXIT_ERROR;
    }
out:
    json_object_put(all);
    json_object_put(server);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
