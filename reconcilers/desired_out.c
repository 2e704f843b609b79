/*
 * desired_out: the output side of desired states: the JSON views (the spec
 * the hash covers, the display form), env values with secrets resolved, env
 * file text, and the variables of a host for debugging.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "reconcilers/desired.h"
#include "reconcilers/tenantvars.h"

static int has_line_break(const char *s)
{
    return strchr(s, '\n') || strchr(s, '\r');
}

/* --- JSON views -------------------------------------------------------------------------- */

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

json_object *desired_container_spec_json(const desired_container *c)
{
    json_object *o = json_object_new_object(), *env = json_object_new_object();
    json_object *labels = json_object_new_object(), *vols = json_object_new_array();
    json_object *cmd = json_object_new_array(), *caps = json_object_new_array();
    json_object *files = json_object_new_array();

    json_object_object_add(o, "name", jstr(c->name));
    json_object_object_add(o, "image", jstr(c->image));
    json_object_object_add(o, "envFile", jstr(c->env_file));
    for (size_t i = 0; i < c->n_env; i++) {
        const desired_env *e = &c->env[i];

        if (e->secret_name) {
            json_object *ref = json_object_new_object();
            strbuf sb = STRBUF_INIT;

            strbuf_addf(&sb, "%s/%s", e->secret_name, e->secret_key);
            json_object_object_add(ref, "secretRef", jstr(strbuf_str(&sb)));
            strbuf_release(&sb);
            json_object_object_add(env, e->key, ref);
        } else {
            json_object_object_add(env, e->key, jstr(e->value));
        }
    }
    json_object_object_add(o, "env", env);
    for (size_t i = 0; i < c->n_labels; i++)
        if (strcmp(c->labels[i].key, OMLOP_LABEL_SPEC_HASH) != 0)
            json_object_object_add(labels, c->labels[i].key, jstr(c->labels[i].value));
    json_object_object_add(o, "labels", labels);
    for (size_t i = 0; i < c->n_volumes; i++) {
        json_object *v = json_object_new_object();

        json_object_object_add(v, "source", jstr(c->volumes[i].source));
        json_object_object_add(v, "target", jstr(c->volumes[i].target));
        json_object_object_add(v, "readOnly", json_object_new_boolean(c->volumes[i].is_readonly));
        if (c->volumes[i].options)
            json_object_object_add(v, "options", jstr(c->volumes[i].options));
        json_object_array_add(vols, v);
    }
    json_object_object_add(o, "volumes", vols);
    for (size_t i = 0; i < c->n_command; i++)
        json_object_array_add(cmd, jstr(c->command[i]));
    json_object_object_add(o, "command", cmd);
    for (size_t i = 0; i < c->n_cap_add; i++)
        json_object_array_add(caps, jstr(c->cap_add[i]));
    json_object_object_add(o, "capAdd", caps);
    json_object_object_add(o, "memoryLimit", json_object_new_int64(c->memory_limit));
    json_object_object_add(o, "restartPolicy", jstr(c->restart_policy));
    json_object_object_add(o, "network", jstr(c->is_host_network ? "host" : "default"));
    for (size_t i = 0; i < c->n_files; i++) {
        json_object *f = json_object_new_object();

        json_object_object_add(f, "path", jstr(c->files[i].path));
        json_object_object_add(f, "target", jstr(c->files[i].target));
        json_object_object_add(f, "content", jstr(c->files[i].content));
        json_object_array_add(files, f);
    }
    json_object_object_add(o, "files", files);
    return o;
}

json_object *desired_container_to_json(const desired_container *c)
{
    json_object *o = desired_container_spec_json(c);
    json_object *labels = json_object_new_object(), *ready = json_object_new_object();

    for (size_t i = 0; i < c->n_labels; i++)
        json_object_object_add(labels, c->labels[i].key, jstr(c->labels[i].value));
    json_object_object_add(o, "labels", labels);
    json_object_object_add(o, "component", jstr(c->component->name));
    json_object_object_add(o, "specHash", jstr(c->spec_hash));
    json_object_object_add(ready, "kind",
                           jstr(c->ready.kind == DESIRED_READY_TCP ? "tcp" : "running"));
    if (c->ready.kind == DESIRED_READY_TCP) {
        json_object_object_add(ready, "address", jstr(c->ready.address));
        json_object_object_add(ready, "port", json_object_new_int(c->ready.port));
    }
    json_object_object_add(ready, "startPeriodSeconds",
                           json_object_new_int(c->ready.start_period_s));
    json_object_object_add(o, "readiness", ready);
    json_object_object_add(o, "haActiveOnly", json_object_new_boolean(c->is_ha_active_only));
    return o;
}

json_object *desired_state_to_json(const desired_state *ds, const char *only_host)
{
    json_object *o = json_object_new_object(), *hosts = json_object_new_array();

    json_object_object_add(o, "tenant", jstr(desired_tenant(ds)));
    json_object_object_add(o, "layout", jstr(desired_layout(ds)));
    for (size_t h = 0; h < desired_host_count(ds); h++) {
        const desired_host *dh = desired_host_at(ds, h);
        json_object *jh, *cs;

        if (only_host && strcmp(only_host, dh->name) != 0)
            continue;
        jh = json_object_new_object();
        cs = json_object_new_array();
        json_object_object_add(jh, "name", jstr(dh->name));
        json_object_object_add(jh, "role", jstr(dh->role));
        json_object_object_add(jh, "lanIP", jstr(dh->lan_ip));
        for (size_t i = 0; i < dh->n_containers; i++)
            json_object_array_add(cs, desired_container_to_json(&dh->containers[i]));
        json_object_object_add(jh, "containers", cs);
        json_object_array_add(hosts, jh);
    }
    json_object_object_add(o, "hosts", hosts);
    return o;
}

/* --- env values and files ---------------------------------------------------------------- */

static int secret_value(const desired_container *c, const desired_env *e, desired_secret_fn fn,
                        void *fn_ctx, strbuf *val, omlop_err *err)
{
    int rc = fn(fn_ctx, e->secret_name, e->secret_key, val, err);

    if (rc < 0) {
        omlop_err_prefix(err, "%s env %s: ", c->name, e->key);
        return rc;
    }
    if (strlen(strbuf_str(val)) != val->len || has_line_break(strbuf_str(val)))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s env %s: Secret %s key %s holds a line break or NUL, which an "
                             "env file cannot hold",
                             c->name, e->key, e->secret_name, e->secret_key);
    return 0;
}

/* Wipe then free a buffer that held a secret. */
static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

int desired_env_resolve(const desired_container *c, desired_secret_fn fn, void *fn_ctx,
                        desired_env_values *out, omlop_err *err)
{
    strbuf val = STRBUF_INIT;
    int rc = 0;

    out->items = xcalloc(c->n_env ? c->n_env : 1, sizeof(*out->items));
    out->n = 0;
    for (size_t i = 0; i < c->n_env; i++) {
        const desired_env *e = &c->env[i];

        if (e->secret_name) {
            if (!fn) {
                rc = omlop_err_set(err, OMLOP_EINTERNAL, "%s env %s: no secret resolver", c->name,
                                   e->key);
                break;
            }
            strbuf_reset(&val);
            if ((rc = secret_value(c, e, fn, fn_ctx, &val, err)) < 0)
                break;
        }
        out->items[out->n].key = xstrdup(e->key);
        out->items[out->n].value = xstrdup(e->secret_name ? strbuf_str(&val) : e->value);
        out->n++;
    }
    if (val.buf)
        memset(val.buf, 0, val.alloc);
    strbuf_release(&val);
    if (rc < 0)
        desired_env_values_release(out);
    return rc;
}

void desired_env_values_release(desired_env_values *v)
{
    for (size_t i = 0; v->items && i < v->n; i++) {
        free(v->items[i].key);
        wipe_free(v->items[i].value);
    }
    free(v->items);
    v->items = NULL;
    v->n = 0;
}

int desired_env_file_render(const desired_container *c, desired_secret_fn fn, void *fn_ctx,
                            strbuf *out, omlop_err *err)
{
    desired_env_values vals = {NULL, 0};
    int rc;

    if (!fn) {
        for (size_t i = 0; i < c->n_env; i++) {
            const desired_env *e = &c->env[i];

            if (e->secret_name)
                strbuf_addf(out, "%s=<secret:%s/%s>\n", e->key, e->secret_name, e->secret_key);
            else
                strbuf_addf(out, "%s=%s\n", e->key, e->value);
        }
        return 0;
    }
    rc = desired_env_resolve(c, fn, fn_ctx, &vals, err);
    for (size_t i = 0; rc == 0 && i < vals.n; i++)
        strbuf_addf(out, "%s=%s\n", vals.items[i].key, vals.items[i].value);
    desired_env_values_release(&vals);
    return rc;
}

int desired_vars(const json_object *tenant, const char *host, const desired_options *opts,
                 json_object **out, omlop_err *err)
{
    tv_tenant t;
    tv_vars vars = {NULL, 0};
    size_t hi;
    int rc;

    *out = NULL;
    if ((rc = tv_tenant_load(tenant, &t, err)) < 0)
        return rc;
    for (hi = 0; hi < t.n_hosts; hi++)
        if (strcmp(t.hosts[hi].name, host) == 0)
            break;
    if (hi == t.n_hosts)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "tenant %s has no host %s", t.name, host);
    if ((rc = tv_vars_build(&t, hi, opts, &vars, err)) == 0) {
        *out = json_object_new_object();
        for (size_t i = 0; i < vars.n; i++) {
            const tv_value *v = &vars.v[i];
            const char *name = catalog_var_at(i)->name;

            if (v->text) {
                json_object_object_add(*out, name, jstr(v->text));
            } else if (v->secret_name) {
                json_object *ref = json_object_new_object(), *sr = json_object_new_object();

                json_object_object_add(sr, "name", jstr(v->secret_name));
                json_object_object_add(sr, "key", jstr(v->secret_key));
                json_object_object_add(ref, "secretRef", sr);
                json_object_object_add(*out, name, ref);
            } else if (v->unresolved) {
                json_object *u = json_object_new_object();

                json_object_object_add(u, "unresolved", jstr(v->unresolved));
                json_object_object_add(*out, name, u);
            }
        }
    }
    tv_vars_release(&vars);
    return rc;
}
