/*
 * catalog_check: the invariants of the component table (catalog.c), checked
 * by the unit tests so a bad edit of the table fails the build's tests rather
 * than a reconcile on some host.
 */
#include <stdio.h>
#include <string.h>

#include "reconcilers/catalog.h"

/* --- self-check -------------------------------------------------------------------------- */

typedef struct check_ctx {
    const catalog_component *c;
    const char *where; /* "env PGHOST", "command", ... */
    const char *tmpl;
    int allow_secret;
    omlop_err *err;
} check_ctx;

static int check_var(void *vctx, const char *name, size_t len)
{
    check_ctx *cc = vctx;
    const catalog_var *v = NULL;

    for (size_t i = 0; i < catalog_var_count() && !v; i++)
        if (strlen(catalog_var_at(i)->name) == len &&
            memcmp(catalog_var_at(i)->name, name, len) == 0)
            v = catalog_var_at(i);

    if (!v)
        return omlop_err_set(cc->err, OMLOP_EINTERNAL,
                             "catalog: component %s, %s: unknown variable {%.*s}", cc->c->name,
                             cc->where, (int)len, name);
    if (v->is_secret) {
        /* A secret must be the whole value so it can travel as a reference. */
        if (!cc->allow_secret || strlen(cc->tmpl) != len + 2)
            return omlop_err_set(cc->err, OMLOP_EINTERNAL,
                                 "catalog: component %s, %s: secret {%s} must be the whole "
                                 "value of an env entry",
                                 cc->c->name, cc->where, v->name);
    }
    return 0;
}

static int check_tmpl(const catalog_component *c, const char *where, const char *tmpl,
                      int allow_secret, omlop_err *err)
{
    check_ctx cc = {c, where, tmpl, allow_secret, err};
    int rc = catalog_template_each_var(tmpl, check_var, &cc, err);

    if (rc < 0 && err && err->code == OMLOP_EINVAL)
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: component %s, %s: bad template \"%s\"",
                             c->name, where, tmpl);
    return rc;
}

static int is_env_key(const char *k)
{
    if (!k || !*k || (*k >= '0' && *k <= '9'))
        return 0;
    for (; *k; k++)
        if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
            return 0;
    return 1;
}

static int check_env_set(const catalog_component *c, const catalog_env *set,
                         const catalog_env *other, omlop_err *err)
{
    for (const catalog_env *e = set; e && e->key; e++) {
        char where[128];
        int rc;

        if (!is_env_key(e->key) || !e->tmpl)
            return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: component %s: bad env key '%s'",
                                 c->name, e->key);
        for (const catalog_env *f = e + 1; f->key; f++)
            if (strcmp(e->key, f->key) == 0)
                return omlop_err_set(err, OMLOP_EINTERNAL,
                                     "catalog: component %s: env %s given twice", c->name, e->key);
        for (const catalog_env *f = other; f && f->key; f++)
            if (strcmp(e->key, f->key) == 0)
                return omlop_err_set(err, OMLOP_EINTERNAL,
                                     "catalog: component %s: env %s both shared and own", c->name,
                                     e->key);
        snprintf(where, sizeof(where), "env %s", e->key);
        rc = check_tmpl(c, where, e->tmpl, 1, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int check_image(const catalog_component *c, const catalog_image *im, omlop_err *err)
{
    if (im->repo && (!im->tag_key || !im->default_tag))
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: component %s: image %s has no tag",
                             c->name, im->repo);
    if (!im->repo && im->external_key && !im->external_default)
        return omlop_err_set(err, OMLOP_EINTERNAL,
                             "catalog: component %s: external image has no default", c->name);
    return 0;
}

static int check_component(const catalog_component *c, omlop_err *err)
{
    int rc;

    if (!c->name || !c->container || !c->env_file || !c->summary)
        return omlop_err_set(err, OMLOP_EINTERNAL,
                             "catalog: an entry lacks a name, container, "
                             "env file or summary");
    if (strncmp(c->container, "oml-", 4) != 0)
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: container %s lacks the oml- prefix",
                             c->container);
    if (!c->image.repo && !c->image.external_key)
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: component %s has no image", c->name);
    if ((rc = check_image(c, &c->image, err)) < 0 || (rc = check_image(c, &c->image_ha, err)) < 0)
        return rc;
    if (!(c->groups & CATALOG_GROUP_EVERY))
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: component %s has no group", c->name);
    if (c->ready == CATALOG_READY_TCP && (!c->ready_addr || c->ready_port <= 0))
        return omlop_err_set(err, OMLOP_EINTERNAL,
                             "catalog: component %s: TCP readiness needs an address and port",
                             c->name);
    if (c->mem_rule == CATALOG_MEM_FIXED && c->mem_bytes <= 0)
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: component %s: fixed memory of 0",
                             c->name);
    if (c->file_kind != CATALOG_FILE_NONE && (!c->file_path || !c->file_target))
        return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: component %s: file without paths",
                             c->name);
    if ((rc = check_env_set(c, c->env_common, c->env, err)) < 0 ||
        (rc = check_env_set(c, c->env, NULL, err)) < 0)
        return rc;
    for (const catalog_volume *v = c->volumes; v && v->source; v++) {
        if (!v->target || v->target[0] != '/')
            return omlop_err_set(err, OMLOP_EINTERNAL,
                                 "catalog: component %s: volume %s has a relative target", c->name,
                                 v->source);
        if ((rc = check_tmpl(c, "volume", v->source, 0, err)) < 0)
            return rc;
        if (v->dir_mode && (v->source[0] != '/' || strchr(v->source, '{') || v->dir_mode > 07777))
            return omlop_err_set(err, OMLOP_EINTERNAL,
                                 "catalog: component %s: volume %s: a directory omlop makes needs "
                                 "a literal absolute path and a mode up to 07777",
                                 c->name, v->source);
    }
    for (const char *const *a = c->command; a && *a; a++)
        if ((rc = check_tmpl(c, "command", *a, 0, err)) < 0)
            return rc;
    if (c->ready_addr && (rc = check_tmpl(c, "readiness", c->ready_addr, 0, err)) < 0)
        return rc;
    return 0;
}

int catalog_check_table(const catalog_component *table, size_t n, omlop_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const catalog_component *c = &table[i];
        int rc = check_component(c, err);

        if (rc < 0)
            return rc;
        if (i > 0 && table[i - 1].order >= c->order)
            return omlop_err_set(err, OMLOP_EINTERNAL,
                                 "catalog: component %s: order %d not after %s's %d", c->name,
                                 c->order, table[i - 1].name, table[i - 1].order);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(table[j].name, c->name) == 0 ||
                strcmp(table[j].container, c->container) == 0 ||
                strcmp(table[j].env_file, c->env_file) == 0)
                return omlop_err_set(err, OMLOP_EINTERNAL,
                                     "catalog: components %s and %s share a name, container or "
                                     "env file",
                                     table[j].name, c->name);
        }
    }
    return 0;
}

int catalog_check(omlop_err *err)
{
    for (size_t i = 0; i < catalog_var_count(); i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(catalog_var_at(i)->name, catalog_var_at(j)->name) == 0)
                return omlop_err_set(err, OMLOP_EINTERNAL, "catalog: variable %s defined twice",
                                     catalog_var_at(i)->name);
    /* catalog_at() hands out entries of one array, so the table starts at entry 0. */
    return catalog_check_table(catalog_at(0), catalog_count(), err);
}
