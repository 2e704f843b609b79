/*
 * omlctl render: print the containers omlop would run for a Tenant manifest,
 * per host, without a cluster: a dry view of the desired state (images, env
 * files, volumes, labels, spec hashes). Secrets stay references.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/output.h"
#include "crds/schema_files.h"
#include "crds/yamlio.h"
#include "reconcilers/desired.h"

static const char render_help[] =
    "Print the containers omlop would run for each Tenant in the manifests, host by\n"
    "host in start order: image, env file, volumes, command, labels (with the spec\n"
    "hash drift detection compares) and readiness check. Offline: nothing is sent\n"
    "to omlopd and no host is contacted. Secret values are never read; env files\n"
    "show <secret:NAME/KEY> where omlop puts the Secret's value.\n"
    "\n"
    "Usage:\n"
    "  omlctl render -f PATH [--host NAME] [-o yaml|json|env] [--public-ip [HOST=]IP]\n"
    "\n"
    "Examples:\n"
    "  # Everything a cluster tenant runs\n"
    "  omlctl render -f tenant.yaml\n"
    "\n"
    "  # The env files omlop writes on the voice host\n"
    "  omlctl render -f tenant.yaml --host voice -o env\n"
    "\n"
    "Flags:\n"
    "  -f, --filename PATH      file, directory or - (stdin); repeatable\n"
    "      --host NAME          only this host (spec.hosts[].name)\n"
    "  -o, --output FORMAT      yaml (default), json, or env (the /etc/default/*.env files)\n"
    "      --public-ip [HOST=]IP  the public address omlop would discover over SSH (for\n"
    "                           infraEnv cloud/all or natIP auto); without it such values\n"
    "                           show as <public-ip:HOST>. Repeatable, one per host;\n"
    "                           IP is an IPv4 or IPv6 address, HOST a host of a tenant\n"
    "                           in the input (spec.hosts[].name).\n"
    "      --crds-dir DIR       use the CRD files in DIR instead of the built-in ones\n"
    "\n"
    "Exit status: 0 rendered, 1 invalid manifest or tenant, 2 usage error.\n";

/* --public-ip values: "IP" for every host, or "HOST=IP". */
static int public_ip_lookup(void *ctx, const char *host, strbuf *out)
{
    const omlctl_strv *ips = ctx;
    const char *any = NULL;

    for (size_t i = 0; i < ips->n; i++) {
        const char *eq = strchr(ips->v[i], '=');

        if (!eq) {
            any = ips->v[i];
        } else if (strlen(host) == (size_t)(eq - ips->v[i]) &&
                   strncmp(ips->v[i], host, strlen(host)) == 0) {
            strbuf_adds(out, eq + 1);
            return 0;
        }
    }
    if (!any)
        return OMLOP_ENOTFOUND;
    strbuf_adds(out, any);
    return 0;
}

static void render_env(const desired_state *ds, const char *only_host, strbuf *text)
{
    omlop_err err = OMLOP_ERR_INIT;

    for (size_t h = 0; h < desired_host_count(ds); h++) {
        const desired_host *dh = desired_host_at(ds, h);

        if (only_host && strcmp(only_host, dh->name) != 0)
            continue;
        for (size_t i = 0; i < dh->n_containers; i++) {
            const desired_container *c = &dh->containers[i];

            strbuf_addf(text, "# tenant %s, host %s, %s: %s\n", desired_tenant(ds), dh->name,
                        c->name, c->env_file);
            /* No resolver: secrets print as references, which cannot fail. */
            desired_env_file_render(c, NULL, NULL, text, &err);
            strbuf_addch(text, '\n');
        }
    }
}

/* Render one tenant into text (or an item appended to list for JSON). */
static int render_tenant(const json_object *tenant, const char *only_host, const char *output,
                         const desired_options *dopts, json_object *list, strbuf *text,
                         omlop_err *err)
{
    desired_state *ds = NULL;
    json_object *view;
    int rc = desired_build(tenant, dopts, &ds, err);

    if (rc < 0)
        return rc;
    if (only_host && !desired_host_find(ds, only_host)) {
        strbuf names = STRBUF_INIT;

        for (size_t h = 0; h < desired_host_count(ds); h++)
            strbuf_addf(&names, "%s%s", h ? ", " : "", desired_host_at(ds, h)->name);
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "tenant %s has no host %s (hosts: %s)",
                           desired_tenant(ds), only_host, strbuf_str(&names));
        strbuf_release(&names);
        goto out;
    }
    if (strcmp(output, "env") == 0) {
        render_env(ds, only_host, text);
        goto out;
    }
    view = desired_state_to_json(ds, only_host);
    if (list) {
        json_object_array_add(list, view);
    } else {
        rc = yaml_emit_json(view, text, err);
        json_object_put(view);
    }
out:
    desired_free(ds);
    return rc;
}

static int check_flags(omlctl_ctx *ctx, const omlctl_strv *files, const omlctl_strv *pos,
                       const char *output, const omlctl_strv *ips)
{
    if (pos->n > 0) {
        omlctl_usage_error(ctx, "unexpected argument '%s' (files go after -f)", pos->v[0]);
        return -1;
    }
    if (files->n == 0) {
        omlctl_usage_error(ctx, "no input: give -f PATH (a file, a directory or -)");
        return -1;
    }
    if (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0 && strcmp(output, "env") != 0) {
        omlctl_usage_error(ctx, "unknown output format '%s' (use yaml, json or env)", output);
        return -1;
    }
    for (size_t i = 0; i < ips->n; i++) {
        const char *eq = strchr(ips->v[i], '=');
        const char *ip = eq ? eq + 1 : ips->v[i];
        unsigned char addr[sizeof(struct in6_addr)];

        if (!*ip || (eq && eq == ips->v[i])) {
            omlctl_usage_error(ctx, "--public-ip '%s': expected IP or HOST=IP", ips->v[i]);
            return -1;
        }
        /* The value lands in ASTERISK_PUBLIC_IP and the like: only a real address will do. */
        if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1) {
            omlctl_usage_error(ctx, "--public-ip '%s': '%s' is not an IPv4 or IPv6 address",
                               ips->v[i], ip);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            const char *eq2 = strchr(ips->v[j], '=');
            size_t klen = eq ? (size_t)(eq - ips->v[i]) : 0;

            if ((!eq && !eq2) || (eq && eq2 && (size_t)(eq2 - ips->v[j]) == klen &&
                                  strncmp(ips->v[i], ips->v[j], klen) == 0)) {
                omlctl_usage_error(ctx, "--public-ip '%s': %s given twice (also '%s')", ips->v[i],
                                   eq ? "this host's address is" : "an address for every host is",
                                   ips->v[j]);
                return -1;
            }
        }
    }
    return 0;
}

/*
 * Every HOST of --public-ip HOST=IP must be a host of some Tenant in the input:
 * a misspelt name would otherwise leave the placeholder in place, unnoticed.
 */
static int check_public_ip_hosts(const schema_doc_list *docs, const omlctl_strv *ips,
                                 omlop_err *err)
{
    for (size_t i = 0; i < ips->n; i++) {
        const char *eq = strchr(ips->v[i], '=');
        strbuf names = STRBUF_INIT;
        int found = 0;

        if (!eq)
            continue;
        for (size_t d = 0; d < docs->n && !found; d++) {
            const json_object *obj = docs->docs[d].obj;
            json_object *spec = NULL, *hosts = NULL;
            const char *kind = json_object_get_string(json_object_object_get(obj, "kind"));

            if (!kind || strcmp(kind, "Tenant") != 0 ||
                !json_object_object_get_ex(obj, "spec", &spec) ||
                !json_object_object_get_ex(spec, "hosts", &hosts) ||
                !json_object_is_type(hosts, json_type_array))
                continue;
            for (size_t h = 0; h < json_object_array_length(hosts) && !found; h++) {
                const char *name = json_object_get_string(
                    json_object_object_get(json_object_array_get_idx(hosts, h), "name"));

                if (!name)
                    continue;
                found = strlen(name) == (size_t)(eq - ips->v[i]) &&
                        strncmp(name, ips->v[i], strlen(name)) == 0;
                strbuf_addf(&names, "%s%s", names.len ? ", " : "", name);
            }
        }
        if (!found) {
            int rc = omlop_err_set(err, OMLOP_EINVAL,
                                   "--public-ip '%s': no Tenant in the input has a host %.*s "
                                   "(hosts: %s)",
                                   ips->v[i], (int)(eq - ips->v[i]), ips->v[i],
                                   names.len ? strbuf_str(&names) : "none");

            strbuf_release(&names);
            return rc;
        }
        strbuf_release(&names);
    }
    return 0;
}

int cmd_render(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv files = OMLCTL_STRV_INIT, pos = OMLCTL_STRV_INIT, ips = OMLCTL_STRV_INIT;
    const char *crds_dir = NULL, *output = "yaml", *host = NULL;
    schema_doc_list docs = SCHEMA_DOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *list = NULL;
    schema_set *set;
    size_t tenants = 0;
    int bad = 0, rc;
    desired_options dopts = {public_ip_lookup, &ips, 1, NULL};
    omlctl_opt opts[] = {
        {"filename", 'f', OMLCTL_OPT_LIST, &files},    {"output", 'o', OMLCTL_OPT_STRING, &output},
        {"host", 0, OMLCTL_OPT_STRING, &host},         {"public-ip", 0, OMLCTL_OPT_LIST, &ips},
        {"crds-dir", 0, OMLCTL_OPT_STRING, &crds_dir}, {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    omlctl_ctx_init(&ctx, "render");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &pos, render_help, &rc))
        goto out;
    if (check_flags(&ctx, &files, &pos, output, &ips) < 0) {
        rc = OMLCTL_EXIT_USAGE;
        goto out;
    }
    rc = OMLCTL_EXIT_ERROR;
    if (omlctl_ctx_schemas_from(&ctx, crds_dir, &set, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    for (size_t f = 0; f < files.n; f++)
        if (schema_files_decode(set, files.v[f], &docs, diags) < 0)
            bad = 1;
    if (bad) {
        diag_list_format(diags, &text);
        fputs(strbuf_str(&text), stderr);
        goto out;
    }
    if (check_public_ip_hosts(&docs, &ips, &err) < 0) {
        omlctl_print_error(&ctx, &err);
        goto out;
    }
    if (strcmp(output, "json") == 0)
        list = json_object_new_array();
    for (size_t i = 0; i < docs.n; i++) {
        const char *kind = json_object_get_string(json_object_object_get(docs.docs[i].obj, "kind"));

        if (!kind || strcmp(kind, "Tenant") != 0)
            continue; /* Secrets and others may sit in the same file */
        tenants++;
        if (render_tenant(docs.docs[i].obj, host, output, &dopts, list, &text, &err) < 0) {
            omlop_err_prefix(&err, "%s: ", docs.docs[i].file);
            omlctl_print_error(&ctx, &err);
            goto out;
        }
    }
    if (tenants == 0) {
        fprintf(stderr, "error: no Tenant found in the given input\n");
        goto out;
    }
    if (list) {
        if (json_object_array_length(list) == 1) {
            omlctl_json_pretty(json_object_array_get_idx(list, 0), &text);
        } else {
            json_object *wrap = omlctl_list_new();

            for (size_t i = 0; i < json_object_array_length(list); i++)
                json_object_array_add(json_object_object_get(wrap, "items"),
                                      json_object_get(json_object_array_get_idx(list, i)));
            omlctl_json_pretty(wrap, &text);
            json_object_put(wrap);
        }
    }
    fputs(strbuf_str(&text), stdout);
    rc = OMLCTL_EXIT_OK;
out:
    json_object_put(list);
    schema_doc_list_release(&docs);
    diag_list_free(diags);
    strbuf_release(&text);
    omlctl_strv_release(&files);
    omlctl_strv_release(&pos);
    omlctl_strv_release(&ips);
    omlctl_ctx_release(&ctx);
    return rc;
}
