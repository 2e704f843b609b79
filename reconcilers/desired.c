/* desired: Tenant -> per-host container specs, with labels and spec hashes. */
#include "reconcilers/desired.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "reconcilers/ha.h"
#include "reconcilers/tenantvars.h"

struct desired_state {
    char *tenant;
    char *layout;
    desired_host *hosts;
    size_t n_hosts;
};

/* --- templates --------------------------------------------------------------------------- */

typedef struct expand_ctx {
    const tv_vars *vars;
    strbuf *out;
    const char *pos; /* next literal byte to copy */
    int is_undefined;
    const char *unresolved; /* message of the first unresolved variable */
} expand_ctx;

static int expand_var(void *vctx, const char *name, size_t len)
{
    expand_ctx *x = vctx;
    const tv_value *v = tv_vars_get(x->vars, name, len);

    /* name - 1 is the '{'; copy the literal text before it. */
    strbuf_add(x->out, x->pos, (size_t)(name - 1 - x->pos));
    x->pos = name + len + 1;
    if (!tv_value_is_defined(v)) {
        x->is_undefined = 1;
    } else if (v->unresolved) {
        if (!x->unresolved)
            x->unresolved = v->unresolved;
    } else if (v->text) {
        strbuf_adds(x->out, v->text);
    }
    return 0;
}

/*
 * Expand tmpl into out. Returns 1 when every variable is defined, 0 when some
 * is not (the caller leaves the item out), negative on error (an unresolved
 * fact, or a template the catalog check should have caught).
 */
static int expand(const char *tmpl, const tv_vars *vars, strbuf *out, omlop_err *err)
{
    expand_ctx x = {vars, out, tmpl, 0, NULL};
    int rc;

    strbuf_reset(out);
    rc = catalog_template_each_var(tmpl, expand_var, &x, err);
    if (rc < 0)
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog template \"%s\" is broken", tmpl);
    strbuf_adds(out, x.pos);
    if (x.is_undefined)
        return 0;
    if (x.unresolved)
        return omlop_err_set(err, OMLOP_EUNAVAIL, "%s", x.unresolved);
    return 1;
}

/* The secret variable a template consists of, or NULL when it is not one. */
static const tv_value *whole_secret(const char *tmpl, const tv_vars *vars)
{
    size_t len = strlen(tmpl);
    const catalog_var *cv;
    char name[64];

    if (len < 3 || len - 2 >= sizeof(name) || tmpl[0] != '{' || tmpl[len - 1] != '}')
        return NULL;
    memcpy(name, tmpl + 1, len - 2);
    name[len - 2] = '\0';
    cv = catalog_var_find(name);
    if (!cv || !cv->is_secret)
        return NULL;
    return tv_vars_get(vars, name, len - 2);
}

/* --- image ------------------------------------------------------------------------------- */

static char *image_ref(const tv_tenant *t, const catalog_component *c)
{
    const catalog_image *im = &c->image;
    strbuf sb = STRBUF_INIT, path = STRBUF_INIT;

    if (t->layout == TV_LAYOUT_HA && (c->image_ha.repo || c->image_ha.external_key))
        im = &c->image_ha;
    if (im->repo) {
        const char *registry = tv_spec_string(t, "images.registry");
        const char *tag, *edition = tv_spec_string(t, "images.edition");

        strbuf_addf(&path, "images.tags.%s", im->tag_key);
        tag = tv_spec_string(t, strbuf_str(&path));
        strbuf_addf(&sb, "%s/omnileads/%s:%s", registry ? registry : "docker.io", im->repo,
                    tag ? tag : im->default_tag);
        /* As the 2.X tool: enterprise is the same image with "-enterprise" on the tag. */
        if (im->is_edition_suffixed && edition && strcmp(edition, "enterprise") == 0)
            strbuf_adds(&sb, "-enterprise");
    } else {
        const char *ref;

        strbuf_addf(&path, "images.external.%s", im->external_key);
        ref = tv_spec_string(t, strbuf_str(&path));
        strbuf_adds(&sb, ref ? ref : im->external_default);
    }
    strbuf_release(&path);
    return strbuf_detach(&sb, NULL);
}

/* --- container building ------------------------------------------------------------------ */

static int env_cmp(const void *a, const void *b)
{
    return strcmp(((const desired_env *)a)->key, ((const desired_env *)b)->key);
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const desired_label *)a)->key, ((const desired_label *)b)->key);
}

static int has_line_break(const char *s)
{
    return strchr(s, '\n') || strchr(s, '\r');
}

static int add_env_set(desired_container *c, const catalog_env *set, const tv_vars *vars,
                       strbuf *tmp, omlop_err *err)
{
    for (const catalog_env *e = set; e && e->key; e++) {
        const tv_value *sv = whole_secret(e->tmpl, vars);
        desired_env *d = &c->env[c->n_env];
        int rc;

        if (sv) {
            if (!sv->secret_name)
                continue; /* an optional secret the spec does not use */
            d->key = xstrdup(e->key);
            d->secret_name = xstrdup(sv->secret_name);
            d->secret_key = xstrdup(sv->secret_key);
            c->n_env++;
            continue;
        }
        rc = expand(e->tmpl, vars, tmp, err);
        if (rc < 0) {
            omlop_err_prefix(err, "%s env %s: ", c->name, e->key);
            return rc;
        }
        if (rc == 0)
            continue;
        if (has_line_break(strbuf_str(tmp)))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s env %s: the value from the spec contains a line break, "
                                 "which an env file cannot hold",
                                 c->name, e->key);
        d->key = xstrdup(e->key);
        d->value = xstrdup(strbuf_str(tmp));
        c->n_env++;
    }
    return 0;
}

static size_t count_env(const catalog_env *set)
{
    size_t n = 0;

    for (const catalog_env *e = set; e && e->key; e++)
        n++;
    return n;
}

static int build_env(desired_container *c, const catalog_component *cc, const tv_vars *vars,
                     strbuf *tmp, omlop_err *err)
{
    int rc;

    c->env = xcalloc(count_env(cc->env_common) + count_env(cc->env), sizeof(*c->env));
    if ((rc = add_env_set(c, cc->env_common, vars, tmp, err)) < 0 ||
        (rc = add_env_set(c, cc->env, vars, tmp, err)) < 0)
        return rc;
    qsort(c->env, c->n_env, sizeof(*c->env), env_cmp);
    return 0;
}

static int build_volumes(desired_container *c, const catalog_component *cc, const tv_vars *vars,
                         strbuf *tmp, omlop_err *err)
{
    size_t n = 0;

    for (const catalog_volume *v = cc->volumes; v && v->source; v++)
        n++;
    c->volumes = xcalloc(n + (cc->file_kind != CATALOG_FILE_NONE), sizeof(*c->volumes));
    /* Mounts keep catalog order: later ones may sit inside earlier ones. */
    for (const catalog_volume *v = cc->volumes; v && v->source; v++) {
        desired_volume *d = &c->volumes[c->n_volumes];
        int rc = expand(v->source, vars, tmp, err);

        if (rc < 0) {
            omlop_err_prefix(err, "%s volume %s: ", c->name, v->target);
            return rc;
        }
        if (rc == 0)
            continue;
        d->source = xstrdup(strbuf_str(tmp));
        d->target = xstrdup(v->target);
        d->is_readonly = v->is_readonly;
        d->options = v->options ? xstrdup(v->options) : NULL;
        d->is_named = d->source[0] != '/';
        d->dir_mode = d->is_named ? 0 : v->dir_mode;
        c->is_tls_reader |= strcmp(d->source, DESIRED_CERTS_DIR) == 0;
        c->n_volumes++;
    }
    if (cc->file_kind != CATALOG_FILE_NONE) {
        desired_volume *d = &c->volumes[c->n_volumes++];

        d->source = xstrdup(cc->file_path);
        d->target = xstrdup(cc->file_target);
        d->is_readonly = 1;
    }
    return 0;
}

static int build_command(desired_container *c, const catalog_component *cc, const tv_vars *vars,
                         strbuf *tmp, omlop_err *err)
{
    size_t n = 0;

    for (const char *const *a = cc->command; a && *a; a++)
        n++;
    c->command = xcalloc(n + 1, sizeof(*c->command)); /* NULL-terminated for podman */
    for (const char *const *a = cc->command; a && *a; a++) {
        int rc = expand(*a, vars, tmp, err);

        if (rc < 0) {
            omlop_err_prefix(err, "%s command: ", c->name);
            return rc;
        }
        if (rc == 0) {
            /* An argument without its value: run the image's own default command. */
            for (size_t i = 0; i < c->n_command; i++) {
                free(c->command[i]);
                c->command[i] = NULL;
            }
            c->n_command = 0;
            return 0;
        }
        c->command[c->n_command++] = xstrdup(strbuf_str(tmp));
    }
    return 0;
}

static int build_memory(desired_container *c, const catalog_component *cc, const tv_tenant *t,
                        omlop_err *err)
{
    const char *lim;
    int rc;

    switch (cc->mem_rule) {
    case CATALOG_MEM_NONE:
        return 0;
    case CATALOG_MEM_FIXED:
        c->memory_limit = cc->mem_bytes;
        return 0;
    case CATALOG_MEM_ASTERISK_SCALE:
        lim = tv_spec_string(t, "scaling.asterisk.memoryLimit");
        if (!cjson_get(t->spec, "scaling.asterisk") || !lim)
            return 0;
        rc = desired_parse_memory(lim, &c->memory_limit, err);
        if (rc < 0)
            omlop_err_prefix(err, "spec.scaling.asterisk.memoryLimit: ");
        return rc;
    }
    return 0;
}

static void add_label(desired_container *c, const char *key, const char *value)
{
    c->labels[c->n_labels].key = xstrdup(key);
    c->labels[c->n_labels].value = xstrdup(value);
    c->n_labels++;
}

static int build_container(desired_container *c, const catalog_component *cc, const tv_tenant *t,
                           const tv_vars *vars, omlop_err *err)
{
    strbuf tmp = STRBUF_INIT;
    int rc;

    c->component = cc;
    c->name = xstrdup(cc->container);
    c->image = image_ref(t, cc);
    c->env_file = xstrdup(cc->env_file);
    c->restart_policy = DESIRED_RESTART_POLICY;
    c->is_host_network = cc->is_host_network;
    c->is_ha_active_only = cc->is_ha_active_only;
    c->labels = xcalloc(4, sizeof(*c->labels));
    add_label(c, OMLOP_LABEL_TENANT, t->name);
    add_label(c, OMLOP_LABEL_COMPONENT, cc->name);
    add_label(c, OMLOP_LABEL_MANAGED_BY, OMLOP_MANAGER_NAME);

    if ((rc = build_env(c, cc, vars, &tmp, err)) < 0 ||
        (rc = build_volumes(c, cc, vars, &tmp, err)) < 0 ||
        (rc = build_command(c, cc, vars, &tmp, err)) < 0 || (rc = build_memory(c, cc, t, err)) < 0)
        goto out;
    for (const char *const *a = cc->cap_add; a && *a; a++)
        c->n_cap_add++;
    c->cap_add = xcalloc(c->n_cap_add + 1, sizeof(*c->cap_add)); /* NULL-terminated */
    for (size_t i = 0; i < c->n_cap_add; i++)
        c->cap_add[i] = xstrdup(cc->cap_add[i]);

    c->ready.kind = (desired_ready_kind)cc->ready;
    c->ready.port = cc->ready_port;
    c->ready.start_period_s = cc->ready_start_s;
    if (cc->ready == CATALOG_READY_TCP) {
        rc = expand(cc->ready_addr, vars, &tmp, err);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            c->ready.kind = DESIRED_READY_RUNNING; /* no address to probe: judge by state */
            c->ready.port = 0;
        } else {
            c->ready.address = xstrdup(strbuf_str(&tmp));
        }
    }
    if (cc->file_kind != CATALOG_FILE_NONE) {
        c->files = xcalloc(1, sizeof(*c->files));
        c->files[0].path = xstrdup(cc->file_path);
        c->files[0].target = xstrdup(cc->file_target);
        c->n_files = 1; /* content comes once every host is placed */
    }
    rc = 0;
out:
    strbuf_release(&tmp);
    return rc;
}

static void container_release(desired_container *c)
{
    free(c->tls_digest);
    free(c->name);
    free(c->image);
    free(c->env_file);
    for (size_t i = 0; i < c->n_env; i++) {
        free(c->env[i].key);
        free(c->env[i].value);
        free(c->env[i].secret_name);
        free(c->env[i].secret_key);
    }
    free(c->env);
    for (size_t i = 0; i < c->n_labels; i++) {
        free(c->labels[i].key);
        free(c->labels[i].value);
    }
    free(c->labels);
    for (size_t i = 0; i < c->n_volumes; i++) {
        free(c->volumes[i].source);
        free(c->volumes[i].target);
        free(c->volumes[i].options);
    }
    free(c->volumes);
    for (size_t i = 0; i < c->n_command; i++)
        free(c->command[i]);
    free(c->command);
    for (size_t i = 0; i < c->n_cap_add; i++)
        free(c->cap_add[i]);
    free(c->cap_add);
    for (size_t i = 0; i < c->n_files; i++) {
        free(c->files[i].path);
        free(c->files[i].target);
        free(c->files[i].content);
    }
    free(c->files);
    free(c->ready.address);
}

/* --- host files (need the whole placement) ----------------------------------------------- */

static int is_exporter(const desired_container *c)
{
    const char *n = c->component->name;
    size_t len = strlen(n);

    return len > 9 && strcmp(n + len - 9, "_exporter") == 0;
}

static void render_prometheus(const desired_state *ds, const desired_container *self, strbuf *out)
{
    strbuf_addf(out,
                "# Written by omlop for tenant %s; changes are overwritten.\n"
                "global:\n  scrape_interval: 15s\n  external_labels:\n    tenant: \"%s\"\n"
                "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n"
                "      - targets: [\"%s:%d\"]\n",
                ds->tenant, ds->tenant, self->ready.address ? self->ready.address : "localhost",
                self->ready.port ? self->ready.port : 9090);
    for (size_t k = 0; k < catalog_count(); k++) {
        const catalog_component *cc = catalog_at(k);
        int has_job = 0;

        for (size_t h = 0; h < ds->n_hosts; h++) {
            const desired_container *c = desired_host_find_container(&ds->hosts[h], cc->container);

            if (!c || !is_exporter(c) || c->ready.kind != DESIRED_READY_TCP)
                continue;
            if (!has_job)
                strbuf_addf(out, "  - job_name: %s\n    static_configs:\n", cc->name);
            has_job = 1;
            strbuf_addf(out,
                        "      - targets: [\"%s:%d\"]\n        labels:\n          host: \"%s\"\n",
                        c->ready.address, c->ready.port, ds->hosts[h].name);
        }
    }
}

static void render_promtail(const desired_state *ds, const desired_host *h, strbuf *out)
{
    /* LOKI_URL comes from the env file (-config.expand-env), so the URL lives in one place. */
    strbuf_addf(out,
                "# Written by omlop for tenant %s; changes are overwritten.\n"
                "server:\n  http_listen_port: 9080\n  grpc_listen_port: 0\n"
                "positions:\n  filename: /tmp/positions.yaml\n"
                "clients:\n  - url: ${LOKI_URL}\n"
                "scrape_configs:\n  - job_name: journal\n    journal:\n"
                "      path: /var/log/journal\n      max_age: 12h\n      labels:\n"
                "        job: systemd-journal\n        tenant: \"%s\"\n        host: \"%s\"\n"
                "    relabel_configs:\n      - source_labels: [\"__journal_container_name\"]\n"
                "        target_label: container\n",
                ds->tenant, ds->tenant, h->name);
}

/* The node spec.ha.preferredMain names, else the one with role main (layout ha). */
static const char *ha_preferred(const tv_tenant *t)
{
    const char *pref = tv_spec_string(t, "ha.preferredMain");

    for (size_t i = 0; !pref && i < t->n_hosts; i++)
        if (t->hosts[i].role && strcmp(t->hosts[i].role, "main") == 0)
            pref = t->hosts[i].name;
    return pref;
}

/* keepalived's start script for host h (reconcilers/ha.h): what it moves and what it tracks. */
static int render_keepalived(const tv_tenant *t, const desired_host *h, strbuf *out, omlop_err *err)
{
    const char **active = xcalloc(h->n_containers + 1, sizeof(*active));
    const char **tracked = xcalloc(h->n_containers + 1, sizeof(*tracked));
    size_t na = 0, nt = 0;
    ha_keepalived_params p;
    int rc;

    memset(&p, 0, sizeof(p));
    for (size_t i = 0; i < h->n_containers; i++) {
        const desired_container *c = &h->containers[i];
        unsigned obs = CATALOG_OFF_NO_METRICS | CATALOG_OFF_NO_LOKI;

        if (c->is_ha_active_only && c->component->ha_on_active && !p.on_active) {
            p.on_active_container = c->name; /* the app's Redis sync (catalog.h) */
            p.on_active = c->component->ha_on_active;
        }
        if (c->is_ha_active_only)
            active[na++] = c->name;
        else if (c->component->file_kind != CATALOG_FILE_KEEPALIVED &&
                 !(c->component->off_when & obs))
            tracked[nt++] = c->name; /* what the node needs to serve; not its monitoring */
    }
    p.tenant = t->name;
    p.host = h->name;
    p.nic = tv_spec_string(t, "ha.vipNIC");
    p.vip = tv_spec_string(t, "ha.omnileadsVIP");
    p.netaddr = tv_spec_string(t, "ha.netaddr");
    p.is_preferred = ha_preferred(t) && strcmp(ha_preferred(t), h->name) == 0;
    p.active_only = active;
    p.tracked = tracked;
    p.pg_rw_vip = tv_spec_string(t, "ha.postgresRWVIP");
    p.pg_ro_vip = tv_spec_string(t, "ha.postgresROVIP");
    p.vrrp_version = ha_vrrp_version(t->spec);
    rc = ha_keepalived_render(&p, out, err);
    free(active);
    free(tracked);
    return rc;
}

static int render_files(desired_state *ds, const tv_tenant *t, omlop_err *err)
{
    for (size_t h = 0; h < ds->n_hosts; h++) {
        for (size_t i = 0; i < ds->hosts[h].n_containers; i++) {
            desired_container *c = &ds->hosts[h].containers[i];
            strbuf sb = STRBUF_INIT;

            if (c->n_files == 0)
                continue;
            if (c->component->file_kind == CATALOG_FILE_PROMETHEUS)
                render_prometheus(ds, c, &sb);
            else if (c->component->file_kind == CATALOG_FILE_PROMTAIL)
                render_promtail(ds, &ds->hosts[h], &sb);
            else if (c->component->file_kind == CATALOG_FILE_KEEPALIVED &&
                     render_keepalived(t, &ds->hosts[h], &sb, err) < 0) {
                strbuf_release(&sb);
                return omlop_err_prefix(err, "tenant %s, host %s: ", ds->tenant, ds->hosts[h].name);
            }
            c->files[0].content = strbuf_detach(&sb, NULL);
        }
    }
    return 0;
}

/* --- the hash --------------------------------------------------------------------------- */

static void seal_hashes(desired_state *ds, const desired_options *opts)
{
    const char *tls = opts && opts->tls_digest && *opts->tls_digest ? opts->tls_digest : NULL;

    for (size_t h = 0; h < ds->n_hosts; h++) {
        for (size_t i = 0; i < ds->hosts[h].n_containers; i++) {
            desired_container *c = &ds->hosts[h].containers[i];
            json_object *spec;

            /* beside the spec hash, like the env file's digest: `omlctl render` cannot know
             * the pair, and its hashes must stay the ones the hosts run */
            if (c->is_tls_reader && tls)
                c->tls_digest = xstrdup(tls);
            spec = desired_container_spec_json(c);
            cjson_hash(spec, c->spec_hash);
            json_object_put(spec);
            add_label(c, OMLOP_LABEL_SPEC_HASH, c->spec_hash);
            qsort(c->labels, c->n_labels, sizeof(*c->labels), label_cmp);
        }
    }
}

/* --- the state --------------------------------------------------------------------------- */

static int build_host(desired_host *dh, const tv_tenant *t, size_t hi, const desired_options *opts,
                      omlop_err *err)
{
    const tv_host *th = &t->hosts[hi];
    tv_vars vars = {NULL, 0};
    int rc;

    dh->name = xstrdup(th->name);
    dh->role = xstrdup(th->role ? th->role : "");
    dh->lan_ip = xstrdup(th->lan_ip);
    dh->ssh_address = xstrdup(th->ssh_address ? th->ssh_address : "");
    dh->containers = xcalloc(catalog_count(), sizeof(*dh->containers));
    rc = tv_vars_build(t, hi, opts, &vars, err);
    for (size_t k = 0; rc == 0 && k < catalog_count(); k++) {
        const catalog_component *cc = catalog_at(k);

        if (!tv_component_on_host(t, cc, hi))
            continue;
        /* Count first so a half-built container is released on error. */
        dh->n_containers++;
        rc = build_container(&dh->containers[dh->n_containers - 1], cc, t, &vars, err);
        if (rc < 0)
            omlop_err_prefix(err, "tenant %s, host %s: ", t->name, th->name);
    }
    tv_vars_release(&vars);
    return rc;
}

int desired_build(const json_object *tenant, const desired_options *opts, desired_state **out,
                  omlop_err *err)
{
    desired_state *ds = NULL;
    tv_tenant t;
    int rc;

    *out = NULL;
    if ((rc = tv_tenant_load(tenant, &t, err)) < 0)
        return rc;
    ds = xcalloc(1, sizeof(*ds));
    ds->tenant = xstrdup(t.name);
    ds->layout = xstrdup(t.layout_name);
    ds->hosts = xcalloc(t.n_hosts, sizeof(*ds->hosts));
    for (size_t h = 0; h < t.n_hosts; h++) {
        ds->n_hosts++;
        if ((rc = build_host(&ds->hosts[h], &t, h, opts, err)) < 0)
            goto out;
    }
    if ((rc = render_files(ds, &t, err)) < 0)
        goto out;
    seal_hashes(ds, opts);
    *out = ds;
    ds = NULL;
    rc = 0;
out:
    desired_free(ds);
    return rc;
}

void desired_free(desired_state *ds)
{
    if (!ds)
        return;
    for (size_t h = 0; h < ds->n_hosts; h++) {
        desired_host *dh = &ds->hosts[h];

        for (size_t i = 0; i < dh->n_containers; i++)
            container_release(&dh->containers[i]);
        free(dh->containers);
        free(dh->name);
        free(dh->role);
        free(dh->lan_ip);
        free(dh->ssh_address);
    }
    free(ds->hosts);
    free(ds->tenant);
    free(ds->layout);
    free(ds);
}

const char *desired_tenant(const desired_state *ds)
{
    return ds->tenant;
}

const char *desired_layout(const desired_state *ds)
{
    return ds->layout;
}

size_t desired_host_count(const desired_state *ds)
{
    return ds->n_hosts;
}

const desired_host *desired_host_at(const desired_state *ds, size_t i)
{
    return i < ds->n_hosts ? &ds->hosts[i] : NULL;
}

const desired_host *desired_host_find(const desired_state *ds, const char *name)
{
    for (size_t i = 0; name && i < ds->n_hosts; i++)
        if (strcmp(ds->hosts[i].name, name) == 0)
            return &ds->hosts[i];
    return NULL;
}

const desired_container *desired_host_find_container(const desired_host *h, const char *name)
{
    for (size_t i = 0; name && i < h->n_containers; i++)
        if (strcmp(h->containers[i].name, name) == 0)
            return &h->containers[i];
    return NULL;
}

const char *desired_container_label(const desired_container *c, const char *key)
{
    for (size_t i = 0; i < c->n_labels; i++)
        if (strcmp(c->labels[i].key, key) == 0)
            return c->labels[i].value;
    return NULL;
}

const desired_env *desired_container_env(const desired_container *c, const char *key)
{
    for (size_t i = 0; i < c->n_env; i++)
        if (strcmp(c->env[i].key, key) == 0)
            return &c->env[i];
    return NULL;
}

int desired_parse_memory(const char *s, int64_t *out, omlop_err *err)
{
    int64_t v = 0, mult = 1;
    const char *p = s;

    if (!s || !*s)
        return omlop_err_set(err, OMLOP_EINVAL, "empty memory size");
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return omlop_err_set(err, OMLOP_EINVAL, "memory size \"%s\" is too large", s);
        v = v * 10 + (*p - '0');
    }
    if (p == s)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "memory size \"%s\": expected a number with an optional unit k, M "
                             "or G",
                             s);
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mult = 1024;
        p++;
        break;
    case 'm':
    case 'M':
        mult = 1024 * 1024;
        p++;
        break;
    case 'g':
    case 'G':
        mult = 1024 * 1024 * 1024;
        p++;
        break;
    default:
        break;
    }
    if (*p != '\0')
        return omlop_err_set(err, OMLOP_EINVAL,
                             "memory size \"%s\": expected a number with an optional unit k, M "
                             "or G",
                             s);
    if (v > INT64_MAX / mult)
        return omlop_err_set(err, OMLOP_EINVAL, "memory size \"%s\" is too large", s);
    *out = v * mult;
    return 0;
}
