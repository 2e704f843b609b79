/*
 * omlctl ha: layout ha's requests. `ha switchover tenant/NAME --to NODE` asks for NODE as the
 * PostgreSQL primary: it sets the Tenant's annotation omlop.io/ha-primary (what kubectl annotate
 * would set; reconcilers/ha_pg.h), and omlopd switches over once the pair is settled and the
 * standby caught up (docs/ha.md). `--clear` removes the request.
 */
#include <stdio.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "lib/cjson.h"
#include "reconcilers/ha_pg.h"

static const char ha_help[] =
    "Requests to a layout ha tenant.\n"
    "\n"
    "Usage:\n"
    "  omlctl ha switchover tenant/NAME --to NODE\n"
    "  omlctl ha switchover tenant/NAME --clear\n"
    "\n"
    "switchover asks for NODE (a spec.hosts[].name) as the PostgreSQL primary: it sets the\n"
    "annotation " HA_PG_PRIMARY_ANNOTATION "=NODE (kubectl annotate does the same). omlopd\n"
    "switches over once the pair is settled and NODE, the standby, has replayed everything\n"
    "(the primary stops cleanly first: no write is lost), then the old primary rejoins as its\n"
    "standby; event SwitchedOver. The annotation stays: it is the wanted primary, also after a\n"
    "later failover (as spec.ha.failback Auto is for the preferred main). --clear removes it.\n"
    "\n"
    "Flags:\n"
    "      --to NODE   the wanted primary\n"
    "      --clear     remove the request\n"
    "\n"
    "Exit 0 when the request is recorded, 1 on error, 2 on usage errors.\n"
    "\n"
    "Examples:\n"
    "  omlctl ha switchover tenant/acme --to h1\n"
    "  omlctl ha switchover tn/acme --clear\n";

/* The node names of the tenant's spec.hosts[], checked against to. */
static int has_host(const json_object *tenant, const char *to)
{
    json_object *hosts = cjson_get(tenant, "spec.hosts");

    for (size_t i = 0; hosts && json_object_is_type(hosts, json_type_array) &&
                       i < json_object_array_length(hosts);
         i++) {
        const char *name = cjson_get_string(json_object_array_get_idx(hosts, i), "name");

        if (name && strcmp(name, to) == 0)
            return 1;
    }
    return 0;
}

static int switchover(omlctl_ctx *ctx, const omlctl_target *t, const char *to, omlop_err *err)
{
    apiclient *api;
    json_object *live = NULL, *patch = NULL, *meta, *ann, *result = NULL;
    strbuf path = STRBUF_INIT;
    const char *layout;
    int rc;

    if ((rc = omlctl_ctx_client(ctx, &api, err)) < 0)
        return rc;
    if ((rc = omlctl_get_object(api, t->kind, t->name, &live, err)) < 0)
        goto out;
    layout = cjson_get_string(live, "spec.layout");
    if (!layout || strcmp(layout, "ha") != 0) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "tenant %s has layout %s, not ha", t->name,
                           layout ? layout : "(none)");
        goto out;
    }
    if (to && !has_host(live, to)) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "--to %s: tenant %s has no host named so", to,
                           t->name);
        goto out;
    }
    patch = json_object_new_object();
    meta = json_object_new_object();
    ann = json_object_new_object();
    json_object_object_add(ann, HA_PG_PRIMARY_ANNOTATION, to ? json_object_new_string(to) : NULL);
    json_object_object_add(meta, "annotations", ann);
    json_object_object_add(patch, "metadata", meta);
    apiclient_path(&path, t->kind->plural, t->name, NULL);
    apiclient_query_add(&path, "fieldManager", "omlctl-ha");
    rc =
        apiclient_json(api, "PATCH", path.buf, "application/merge-patch+json", patch, &result, err);
out:
    json_object_put(result);
    json_object_put(patch);
    json_object_put(live);
    strbuf_release(&path);
    return rc;
}

int cmd_ha(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT, rest = OMLCTL_STRV_INIT;
    omlctl_targets targets = OMLCTL_TARGETS_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *to = NULL;
    int clear = 0, ret = OMLCTL_EXIT_USAGE;
    schema_set *set;
    const omlctl_opt opts[] = {
        {"to", 0, OMLCTL_OPT_STRING, &to},
        {"clear", 0, OMLCTL_OPT_BOOL, &clear},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    omlctl_ctx_init(&ctx, "ha");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, ha_help, &ret))
        goto out;
    if (args.n < 1 || strcmp(args.v[0], "switchover") != 0) {
        omlctl_usage_error(&ctx, "the only request is switchover (omlctl ha --help)");
        goto out;
    }
    if (!!to == !!clear) {
        omlctl_usage_error(&ctx, "switchover takes --to NODE or --clear");
        goto out;
    }
    if (args.n != 2) {
        omlctl_usage_error(&ctx, "switchover takes one tenant (tenant/NAME)");
        goto out;
    }
    ret = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas(&ctx, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    omlctl_strv_push(&rest, args.v[1]);
    if (omlctl_targets_parse(set, &rest, 1, &targets, &err) < 0 || targets.n != 1 ||
        strcmp(targets.v[0].kind->singular, "tenant") != 0) {
        omlctl_usage_error(&ctx, "%s", err.msg[0] ? err.msg : "switchover takes a tenant");
        ret = OMLCTL_EXIT_USAGE;
        goto out;
    }
    if (switchover(&ctx, &targets.v[0], to, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (to)
        printf("tenant/%s: switchover to %s requested (%s=%s)\n", targets.v[0].name, to,
               HA_PG_PRIMARY_ANNOTATION, to);
    else
        printf("tenant/%s: switchover request cleared\n", targets.v[0].name);
    ret = OMLCTL_EXIT_OK;
out:
    omlctl_targets_release(&targets);
    omlctl_strv_release(&rest);
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
