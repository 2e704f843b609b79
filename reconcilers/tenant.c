/*
 * tenant: one reconcile of one Tenant (see tenant.h). Observing the hosts
 * comes first, executing the plan second, the status write and the entry
 * points last. Secret values come through reconcilers/secrets.h; the round's
 * state is shared (tenant_round.h) with the deletion half, tenant_teardown.c.
 */
#include "reconcilers/tenant.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/imageref.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/desired.h"
#include "reconcilers/plan.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_round.h"
#include "reconcilers/tenant_status.h"

#define READY_TIMEOUT_MS_DEFAULT 30000
#define READY_POLL_MS            200
#define READY_POLL_FIRST_MS      10
/* A recreated (upgraded) component must still run this long after it started, at most. */
#define SERIAL_SETTLE_MAX_S     2
#define REQUEUE_AFTER_CHANGE_MS 2000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int is_cancelled(const tenant_env *env)
{
    return env->cancel && atomic_load(env->cancel);
}

/* ---- one host this round ------------------------------------------------------------------ */

static void host_round_release_live(tenant_host_round *h)
{
    podman_container_list_release(&h->list);
    free(h->lc);
    free(h->labels);
    for (size_t i = 0; i < h->n_images; i++)
        free(h->images[i]);
    free(h->images);
    h->lc = NULL;
    h->labels = NULL;
    h->images = NULL;
    h->n_images = 0;
}

int tenant_strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Append a copy of s to *v (n entries); always 0 (out of memory aborts, lib/xalloc.h). */
int tenant_strv_push(char ***v, size_t *n, const char *s, omlop_err *err)
{
    (void)err;
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrdup(s);
    return 0;
}

/* Whether v (n references) holds one naming the same image as ref (imageref.h). */
static int image_listed(char *const *v, size_t n, const char *ref)
{
    for (size_t i = 0; i < n; i++)
        if (imageref_equal(v[i], ref))
            return 1;
    return 0;
}

/* Ask whether ref is on the host (once per image, however it is written); record it when it
 * is. */
static int image_check(tenant_host_round *h, char ***asked, size_t *n_asked, const char *ref,
                       omlop_err *err)
{
    int exists = 0, rc;

    if (!ref || !*ref || image_listed(*asked, *n_asked, ref))
        return 0;
    if ((rc = tenant_strv_push(asked, n_asked, ref, err)) < 0)
        return rc;
    rc = podman_image_exists(h->pc, ref, &exists, err);
    if (rc < 0)
        return rc;
    return exists ? tenant_strv_push(&h->images, &h->n_images, ref, err) : 0;
}

/*
 * List everything the host runs (all tenants: a desired name taken by another
 * container must be seen) and which of the images that matter are present.
 */
static int host_observe(tenant_host_round *h, const char *tenant, const desired_host *dh,
                        omlop_err *err)
{
    size_t n_labels = 0, li = 0, n_asked = 0;
    char **asked = NULL;
    int rc;

    host_round_release_live(h);
    rc = podman_containers_list(h->pc, NULL, 1, &h->list, err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < h->list.n; i++)
        if (h->list.items[i].labels)
            n_labels += (size_t)json_object_object_length(h->list.items[i].labels);
    h->lc = xcalloc(h->list.n ? h->list.n : 1, sizeof(*h->lc));
    h->labels = xcalloc(n_labels ? n_labels : 1, sizeof(*h->labels));
    for (size_t i = 0; i < h->list.n; i++) {
        podman_container *pcn = &h->list.items[i];
        live_container *l = &h->lc[i];

        l->name = pcn->name;
        l->id = pcn->id;
        l->image = pcn->image;
        l->state = live_state_parse(pcn->state);
        l->exit_code = pcn->exit_code;
        l->labels = &h->labels[li];
        if (pcn->labels) {
            json_object_object_foreach(pcn->labels, k, v)
            {
                if (!json_object_is_type(v, json_type_string))
                    continue;
                h->labels[li].key = k;
                h->labels[li].value = json_object_get_string(v);
                li++;
                l->n_labels++;
            }
        }
    }
    for (size_t i = 0; dh && i < dh->n_containers; i++)
        if ((rc = image_check(h, &asked, &n_asked, dh->containers[i].image, err)) < 0)
            goto out;
    for (size_t i = 0; i < h->list.n; i++) {
        const char *owner = live_container_label(&h->lc[i], OMLOP_LABEL_TENANT);

        if (owner && strcmp(owner, tenant) == 0 &&
            (rc = image_check(h, &asked, &n_asked, h->lc[i].image, err)) < 0)
            goto out;
    }
    for (size_t i = 0; i < h->list.n; i++)
        h->lc[i].is_image_present =
            !h->lc[i].image || image_listed(h->images, h->n_images, h->lc[i].image) ||
            !image_listed(asked, n_asked,
                          h->lc[i].image); /* not asked: not ours, not our business */
    rc = 0;
out:
    for (size_t i = 0; i < n_asked; i++)
        free(asked[i]);
    free(asked);
    return rc; /* the Podman client's messages name the host (lib/err.h) */
}

/* ---- host files and readiness --------------------------------------------------------- */

static void host_round_release_files(tenant_host_round *h)
{
    for (size_t i = 0; i < h->n_files; i++) {
        if (h->files[i].content.buf)
            OPENSSL_cleanse(h->files[i].content.buf, h->files[i].content.len);
        strbuf_release(&h->files[i].content);
    }
    free(h->files);
    free(h->lf);
    free(h->ld);
    h->ld = NULL;
    h->n_dirs = 0;
    for (size_t i = 0; i < h->n_not_ready; i++)
        free(h->not_ready[i]);
    free(h->not_ready);
    h->files = NULL;
    h->lf = NULL;
    h->n_files = 0;
    h->not_ready = NULL;
    h->n_not_ready = 0;
}

static tenant_host_file *host_file_find(tenant_host_round *h, const char *path)
{
    for (size_t i = 0; path && i < h->n_files; i++)
        if (strcmp(h->files[i].path, path) == 0)
            return &h->files[i];
    return NULL;
}

/* The digest of c's env file as this round renders it, or NULL when unknown. */
static const char *env_hash_of(tenant_host_round *h, const desired_container *c)
{
    for (size_t i = 0; i < h->n_files; i++)
        if (h->files[i].c == c && h->files[i].is_env_file && h->files[i].is_rendered)
            return h->files[i].want;
    return NULL;
}

static tenant_host_file *host_file_next(tenant_host_round *h, const desired_container *c,
                                        const char *path, unsigned mode, int is_env_file)
{
    tenant_host_file *f = &h->files[h->n_files++];

    f->path = path;
    f->c = c;
    f->mode = mode;
    f->is_env_file = is_env_file;
    strbuf_init(&f->content);
    return f;
}

/*
 * Look for the bind-mount directories omlop makes (desired_volume.dir_mode)
 * that the host's desired containers need, each path once. Without a way to
 * look (no host ops) they are not observed, and the plan makes none.
 */
static int host_dirs(tenant_host_round *h, const desired_host *dh, omlop_err *err)
{
    const char **paths;
    int *present;
    size_t n = 0;
    int rc;

    for (size_t i = 0; dh && i < dh->n_containers; i++)
        n += dh->containers[i].n_volumes;
    h->ld = xcalloc(n + 1, sizeof(*h->ld));
    for (size_t i = 0; dh && i < dh->n_containers; i++)
        for (size_t v = 0; v < dh->containers[i].n_volumes; v++) {
            const desired_volume *dv = &dh->containers[i].volumes[v];
            int is_listed = 0;

            for (size_t k = 0; k < h->n_dirs; k++)
                is_listed |= strcmp(h->ld[k].path, dv->source) == 0;
            if (dv->dir_mode && !is_listed)
                h->ld[h->n_dirs++].path = dv->source;
        }
    if (!h->n_dirs || !h->ops || !h->ops->dirs_present) {
        h->n_dirs = 0;
        return 0;
    }
    paths = xcalloc(h->n_dirs, sizeof(*paths));
    present = xcalloc(h->n_dirs, sizeof(*present));
    for (size_t k = 0; k < h->n_dirs; k++)
        paths[k] = h->ld[k].path;
    rc = h->ops->dirs_present(h->ops_ctx, paths, h->n_dirs, present, err);
    for (size_t k = 0; rc == 0 && k < h->n_dirs; k++)
        h->ld[k].is_present = present[k];
    if (rc < 0) {
        h->n_dirs = 0;
        omlop_err_prefix(err, "looking for its directories: ");
    }
    free(paths);
    free(present);
    return rc;
}

/*
 * Render every host file the host's desired containers read (env files with
 * their Secret values, configs) and, when the transport allows, read the
 * digests of what the host has. A file that cannot be rendered (a Secret is
 * missing) gets no digest: nothing is written, and the container's create
 * reports the Secret. Failing to read the host's files fails the host.
 */
static int host_files(tenant_round *r, tenant_host_round *h, const desired_host *dh, omlop_err *err)
{
    const char **paths = NULL;
    char(*hex)[CJSON_HASH_HEX_LEN + 1] = NULL;
    size_t n = 0;
    int rc = 0;

    host_round_release_files(h);
    for (size_t i = 0; dh && i < dh->n_containers; i++)
        n += (dh->containers[i].env_file != NULL) + dh->containers[i].n_files;
    h->files = xcalloc(n + 1, sizeof(*h->files));
    h->lf = xcalloc(n + 1, sizeof(*h->lf));
    h->not_ready = xcalloc((dh ? dh->n_containers : 0) + 1, sizeof(*h->not_ready));
    h->n_not_ready = dh ? dh->n_containers : 0;
    for (size_t i = 0; dh && i < dh->n_containers; i++) {
        const desired_container *c = &dh->containers[i];
        tenant_host_file *f;

        if (c->env_file) {
            omlop_err rerr = OMLOP_ERR_INIT;

            f = host_file_next(h, c, c->env_file, 0600, 1);
            if (desired_env_file_render(c, secrets_lookup, &r->sc, &f->content, &rerr) == 0)
                f->is_rendered = 1;
            else if (f->content.buf)
                OPENSSL_cleanse(f->content.buf, f->content.len);
        }
        for (size_t k = 0; k < c->n_files; k++) {
            f = host_file_next(h, c, c->files[k].path, 0644, 0);
            strbuf_adds(&f->content, c->files[k].content);
            f->is_rendered = 1;
        }
    }
    for (size_t i = 0; i < h->n_files; i++)
        if (h->files[i].is_rendered)
            cjson_sha256_hex(h->files[i].content.buf ? h->files[i].content.buf : "",
                             h->files[i].content.len, h->files[i].want);
    if (h->n_files && h->ops && h->ops->file_hashes) {
        paths = xcalloc(h->n_files, sizeof(*paths));
        hex = xcalloc(h->n_files, sizeof(*hex));
        for (size_t i = 0; i < h->n_files; i++)
            paths[i] = h->files[i].path;
        rc = h->ops->file_hashes(h->ops_ctx, paths, h->n_files, hex, err);
        if (rc < 0)
            goto out; /* "host H: cannot hash ...": the host ops name the host and the files */
        for (size_t i = 0; i < h->n_files; i++) {
            memcpy(h->files[i].live, hex[i], sizeof(hex[i]));
            h->files[i].is_observed = 1;
        }
    }
    for (size_t i = 0; i < h->n_files; i++) {
        const tenant_host_file *f = &h->files[i];

        h->lf[i].path = f->path;
        h->lf[i].container = f->c->name;
        h->lf[i].want_sha256 = f->is_rendered ? f->want : NULL;
        h->lf[i].live_sha256 = f->is_observed ? f->live : NULL;
        h->lf[i].is_env_file = f->is_env_file;
    }
    rc = host_dirs(h, dh, err);
out:
    free(paths);
    free(hex);
    return rc;
}

void tenant_held_release(tenant_held *held)
{
    for (size_t i = 0; i < held->n; i++) {
        free(held->names[i]);
        free(held->owners[i]);
    }
    free(held->names);
    free(held->owners);
    memset(held, 0, sizeof(*held));
}

const char *tenant_held_owner(const tenant_held *held, const char *name)
{
    for (size_t i = 0; i < held->n; i++)
        if (strcmp(held->names[i], name) == 0)
            return held->owners[i];
    return NULL;
}

int tenant_round_held_by_others(tenant_round *r, tenant_host_round *h, tenant_held *out,
                                omlop_err *err)
{
    const desired_host *dh = r->ds ? desired_host_find(r->ds, h->name) : NULL;
    podman_container_list all;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&all, 0, sizeof(all));
    if (!dh || !h->pc)
        return 0;
    rc = podman_containers_list(h->pc, NULL, 1, &all, err);
    for (size_t i = 0; rc == 0 && i < all.n; i++) {
        const podman_container *pcn = &all.items[i];
        json_object *mgr = NULL, *owner = NULL;
        const char *who;

        if (!pcn->name || !desired_host_find_container(dh, pcn->name))
            continue;
        json_object_object_get_ex(pcn->labels, OMLOP_LABEL_MANAGED_BY, &mgr);
        json_object_object_get_ex(pcn->labels, OMLOP_LABEL_TENANT, &owner);
        if (!mgr || strcmp(json_object_get_string(mgr), OMLOP_MANAGER_NAME) != 0)
            who = "(a container omlop does not manage)";
        else if (!owner || strcmp(json_object_get_string(owner), r->tenant) == 0)
            continue;
        else
            who = json_object_get_string(owner);
        if (!out->names) { /* at most one entry per container listed */
            out->names = xcalloc(all.n, sizeof(*out->names));
            out->owners = xcalloc(all.n, sizeof(*out->owners));
        }
        out->names[out->n] = xstrdup(pcn->name);
        out->owners[out->n++] = xstrdup(who);
    }
    podman_container_list_release(&all);
    if (rc < 0)
        tenant_held_release(out);
    return rc;
}

/* Index of c among its host's desired containers, for not_ready[]. */
static size_t container_index(const desired_host *dh, const desired_container *c)
{
    return (size_t)(c - dh->containers);
}

/*
 * Wait until c's readiness port accepts a TCP connection from its host
 * (bounded by the ready timeout). Without host ops, or for a component judged
 * by "running", there is nothing to wait for.
 */
static int wait_tcp_ready(const tenant_env *env, const tenant_host_round *h,
                          const desired_container *c, omlop_err *err)
{
    long budget = env->ready_timeout_ms > 0 ? env->ready_timeout_ms : READY_TIMEOUT_MS_DEFAULT;
    long waited = 0, poll_ms = READY_POLL_FIRST_MS;

    if (c->ready.kind != DESIRED_READY_TCP || !c->ready.address || !h->ops || !h->ops->tcp_probe)
        return 0;
    for (;;) {
        omlop_err perr = OMLOP_ERR_INIT;
        int rc = h->ops->tcp_probe(h->ops_ctx, c->ready.address, c->ready.port, &perr);

        if (rc == 0)
            return 0;
        if (rc != OMLOP_EUNAVAIL)
            return omlop_err_set(err, rc, "%s readiness check on host %s: %s", c->name, h->name,
                                 perr.msg);
        if (waited >= budget || is_cancelled(env))
            return omlop_err_set(err, OMLOP_ETIMEOUT,
                                 "%s not ready: %s:%d accepted no connection within %ld ms (%s)",
                                 c->name, c->ready.address, c->ready.port, waited, perr.msg);
        /* most components are up within a few tens of ms: look again soon, then less often */
        sleep_ms(poll_ms);
        waited += poll_ms;
        poll_ms = poll_ms * 2 < READY_POLL_MS ? poll_ms * 2 : READY_POLL_MS;
    }
}

static const live_container *host_find(const tenant_host_round *h, const char *name)
{
    for (size_t i = 0; i < h->list.n; i++)
        if (h->lc[i].name && strcmp(h->lc[i].name, name) == 0)
            return &h->lc[i];
    return NULL;
}

/* Connect to host i of the spec through the provider; failures go to h->err. */
void tenant_round_host_connect(const tenant_env *env, secrets_ctx *sc, const char *tenant,
                               const json_object *hspec, tenant_host_round *h)
{
    const char *sname = cjson_get_string(hspec, "ssh.identitySecretRef.name");
    const char *skey = cjson_get_string(hspec, "ssh.identitySecretRef.key");
    strbuf identity = STRBUF_INIT;
    tenant_host_access a;
    tenant_host_conn hc;

    memset(&a, 0, sizeof(a));
    a.tenant = tenant;
    a.host = h->name;
    a.address = cjson_get_string(hspec, "ssh.address");
    a.port = (int)cjson_get_int(hspec, "ssh.port", 22);
    a.user = cjson_get_string(hspec, "ssh.user");
    a.known_host_key = cjson_get_string(hspec, "ssh.knownHostKey");
    a.socket = cjson_get_string(hspec, "podmanSocket");
    if (!sname) {
        omlop_err_set(&h->err, OMLOP_EINVAL, "spec.hosts[%s].ssh.identitySecretRef.name is empty",
                      h->name);
        goto out;
    }
    if (secrets_ssh_identity(sc, sname, skey ? skey : "ssh-privatekey", &identity, &h->err) < 0) {
        h->reason = secrets_reason(h->err.code);
        omlop_err_prefix(&h->err, "host %s: SSH key: ", h->name);
        goto out;
    }
    a.identity = identity.buf;
    memset(&hc, 0, sizeof(hc));
    if (env->host_get(env->host_ctx, &a, &hc, &h->info, &h->err) == 0 && hc.pc) {
        h->is_reachable = 1;
        h->pc = hc.pc;
        h->ops = hc.ops;
        h->ops_ctx = hc.ops_ctx;
    }
out:
    if (identity.buf)
        OPENSSL_cleanse(identity.buf, identity.len);
    strbuf_release(&identity);
}

/* ---- executing the plan ------------------------------------------------------------------- */

/* Wait until name runs; if settle_s, it must still run settle_s later. */
static int wait_running(const tenant_env *env, podman_client *pc, const char *name, int settle_s,
                        omlop_err *err)
{
    long budget = env->ready_timeout_ms > 0 ? env->ready_timeout_ms : READY_TIMEOUT_MS_DEFAULT;
    long waited = 0, poll_ms = READY_POLL_FIRST_MS;
    int rc, seen_running = 0;

    for (;;) {
        podman_container c;

        memset(&c, 0, sizeof(c));
        rc = podman_container_inspect(pc, name, &c, err);
        if (rc < 0)
            return rc;
        if (c.is_running && (!settle_s || seen_running)) {
            podman_container_release(&c);
            return 0;
        }
        if (!c.is_running && (seen_running || (c.state && strcmp(c.state, "exited") == 0))) {
            rc = omlop_err_set(err, OMLOP_EUNAVAIL, "%s exited with code %d right after starting",
                               name, c.exit_code);
            podman_container_release(&c);
            return rc;
        }
        if (c.is_running) {
            seen_running = 1;
            podman_container_release(&c);
            sleep_ms(settle_s * 1000L);
            continue;
        }
        podman_container_release(&c);
        if (waited >= budget || is_cancelled(env))
            return omlop_err_set(err, OMLOP_ETIMEOUT, "%s not running after %ld ms", name, waited);
        /* most components are up within a few tens of ms: look again soon, then less often */
        sleep_ms(poll_ms);
        waited += poll_ms;
        poll_ms = poll_ms * 2 < READY_POLL_MS ? poll_ms * 2 : READY_POLL_MS;
    }
}

/*
 * Create and start the desired container c. Its env goes into the create call
 * (Podman's API takes no env file); env_hash (may be NULL) becomes the
 * omlop.io/env-hash label, the digest of the env file written for it.
 */
static int container_create(const tenant_host_round *h, secrets_ctx *sc, podman_client *pc,
                            const desired_container *c, const char *env_hash, omlop_err *err)
{
    desired_env_values ev = {NULL, 0};
    podman_kv *envkv = NULL, *labels = NULL;
    podman_mount *mounts = NULL;
    podman_create_spec spec;
    size_t n_labels = c->n_labels;
    int rc;

    if (c->n_files > 0 && (!h->ops || !h->ops->files_write))
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "%s needs the host file %s, which cannot be written over this "
                             "host's connection",
                             c->name, c->files[0].path);
    rc = desired_env_resolve(c, secrets_lookup, sc, &ev, err);
    if (rc < 0)
        goto out;
    envkv = xcalloc(ev.n + 1, sizeof(*envkv));
    labels = xcalloc(c->n_labels + 2, sizeof(*labels));
    mounts = xcalloc(c->n_volumes + 1, sizeof(*mounts));
    for (size_t i = 0; i < ev.n; i++) {
        envkv[i].key = ev.items[i].key;
        envkv[i].value = ev.items[i].value;
    }
    for (size_t i = 0; i < c->n_labels; i++) {
        labels[i].key = c->labels[i].key;
        labels[i].value = c->labels[i].value;
    }
    if (env_hash) {
        labels[n_labels].key = OMLOP_LABEL_ENV_HASH;
        labels[n_labels++].value = env_hash;
    }
    for (size_t i = 0; i < c->n_volumes; i++) {
        mounts[i].type = c->volumes[i].is_named ? PODMAN_MOUNT_VOLUME : PODMAN_MOUNT_BIND;
        mounts[i].source = c->volumes[i].source;
        mounts[i].destination = c->volumes[i].target;
        mounts[i].is_readonly = c->volumes[i].is_readonly;
        mounts[i].options = c->volumes[i].options;
    }
    memset(&spec, 0, sizeof(spec));
    spec.name = c->name;
    spec.image = c->image;
    spec.command = c->n_command ? (const char *const *)c->command : NULL;
    spec.env = envkv;
    spec.n_env = ev.n;
    spec.labels = labels;
    spec.n_labels = n_labels;
    spec.mounts = mounts;
    spec.n_mounts = c->n_volumes;
    spec.is_host_network = c->is_host_network;
    spec.memory_limit_bytes = c->memory_limit;
    spec.restart_policy = c->restart_policy;
    spec.cap_add = c->n_cap_add ? (const char *const *)c->cap_add : NULL;
    rc = podman_container_create(pc, &spec, NULL, 0, err);
    if (rc < 0)
        goto out;
    rc = podman_container_start(pc, c->name, err);
out:
    desired_env_values_release(&ev);
    free(envkv);
    free(labels);
    free(mounts);
    return rc;
}

static tenant_host_round *round_host(tenant_round *r, const char *name)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        if (strcmp(r->hosts[i].name, name) == 0)
            return &r->hosts[i];
    return NULL;
}

void tenant_round_event(tenant_round *r, const char *type, const char *reason, const char *fmt, ...)
{
    omlop_err err = OMLOP_ERR_INIT;
    strbuf msg = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    log_write(strcmp(type, EVENT_TYPE_WARNING) == 0 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
              "tenant=%s reason=%s %s", r->tenant, reason, msg.buf);
    if (r->env->ev && r->obj &&
        events_record(r->env->ev, r->obj, type, reason, &err, "%s", msg.buf) < 0)
        log_warn("tenant=%s reason=%s recording the event failed: %s", r->tenant, reason, err.msg);
    strbuf_release(&msg);
}

static int pull_progress(void *ud, const char *line)
{
    const plan_action *a = ud;

    log_debug("host=%s image=%s pull: %s", a->host, a->image, line);
    return 0;
}

static int image_failed(const tenant_round *r, const char *host, const char *image)
{
    for (size_t i = 0; i < plan_count(r->pl); i++) {
        const plan_action *a = plan_at(r->pl, i);

        if (a->kind == PLAN_PULL && r->res[i].rc < 0 && strcmp(a->host, host) == 0 &&
            imageref_equal(a->image, image))
            return 1;
    }
    return 0;
}

static void note_failure(tenant_round *r, const plan_action *a, const char *msg)
{
    if (r->failed.len)
        return; /* the first failure is the one that stopped the rollout */
    if (a->component)
        strbuf_addf(&r->failed, "component %s on host %s", a->component, a->host);
    else
        strbuf_addf(&r->failed, "image %s on host %s", a->image ? a->image : "?", a->host);
    strbuf_adds(&r->failure, msg);
}

/*
 * Write the host files of actions [first, first + n) of the plan (all PLAN_WRITE
 * on host h) in one call: one exec on the host instead of one per file.
 */
static int write_files(tenant_round *r, tenant_host_round *h, size_t first, size_t n,
                       omlop_err *err)
{
    tenant_file_write *w;
    int rc;

    if (!h->ops || !h->ops->files_write)
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "host %s: files cannot be written over this host's connection",
                             h->name);
    w = xcalloc(n, sizeof(*w));
    for (size_t i = 0; i < n; i++) {
        const plan_action *a = plan_at(r->pl, first + i);
        tenant_host_file *f = host_file_find(h, a->path);

        if (!f || !f->is_rendered) {
            free(w);
            return omlop_err_set(err, OMLOP_EINTERNAL, "host %s: no content for %s", h->name,
                                 a->path ? a->path : "?");
        }
        w[i].path = f->path;
        w[i].data = f->content.buf ? f->content.buf : "";
        w[i].len = f->content.len;
        w[i].mode = f->mode;
    }
    rc = h->ops->files_write(h->ops_ctx, w, n, err);
    free(w);
    return rc;
}

/* The record of the directories omlop made for the tenant on a host (tenant.h). */
static void dirs_record_path(const char *tenant, strbuf *out)
{
    strbuf_addf(out, "%s/%s", TENANT_DIRS_RECORD_DIR, tenant);
}

/* Make the missing directory of a PLAN_MKDIR on h, recorded for a Purge to take back. */
static int make_dir(tenant_round *r, tenant_host_round *h, const plan_action *a, omlop_err *err)
{
    tenant_dir d = {a->path, a->mode, NULL};
    strbuf record = STRBUF_INIT;
    int rc;

    if (!h->ops || !h->ops->dirs_make)
        return omlop_err_set(err, OMLOP_EUNAVAIL,
                             "host %s: directories cannot be made over this host's connection",
                             h->name);
    dirs_record_path(r->tenant, &record);
    rc = h->ops->dirs_make(h->ops_ctx, &d, 1, strbuf_str(&record), err);
    strbuf_release(&record);
    return rc;
}

int tenant_round_host_dirs_remove(tenant_round *r, tenant_host_round *h, omlop_err *err)
{
    strbuf record = STRBUF_INIT;
    tenant_held held;
    int rc;

    if (!h->ops || !h->ops->dirs_remove)
        return 0;
    rc = tenant_round_held_by_others(r, h, &held, err);
    if (rc == 0 && held.n > 0) {
        /* what another tenant's container mounts must stay; the record stays for later */
        log_info("tenant=%s host=%s directories kept: %s is held by tenant %s", r->tenant, h->name,
                 held.names[0], held.owners[0]);
        tenant_held_release(&held);
        return 0;
    }
    tenant_held_release(&held);
    dirs_record_path(r->tenant, &record);
    if (rc == 0)
        rc = h->ops->dirs_remove(h->ops_ctx, strbuf_str(&record), err);
    if (rc == 0)
        log_info("tenant=%s host=%s directories omlop made removed (deletionPolicy Purge)",
                 r->tenant, h->name);
    strbuf_release(&record);
    return rc;
}

/* Mark c ready for the rest of the round (its readiness check passed). */
static void mark_ready(tenant_round *r, tenant_host_round *h, const desired_container *c)
{
    const desired_host *dh = desired_host_find(r->ds, h->name);
    size_t i = dh ? container_index(dh, c) : 0;

    if (dh && i < h->n_not_ready && !h->not_ready[i])
        h->not_ready[i] = xstrdup("");
}

/* Called for a component that runs and has a TCP check the host can make (see below). */
typedef int (*tcp_visit_fn)(tenant_round *r, tenant_host_round *h, size_t j, void *ctx,
                            omlop_err *err);

/*
 * Call fn for every desired component, on every reachable host with host ops,
 * that runs now, is judged by a TCP check and has not passed one this round
 * (h->not_ready[j] is not ""). Stops at fn's first error.
 */
static int each_tcp_unconfirmed(tenant_round *r, tcp_visit_fn fn, void *ctx, omlop_err *err)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];
        const desired_host *dh = desired_host_find(r->ds, h->name);

        if (!h->is_reachable || !dh || !h->ops || !h->ops->tcp_probe)
            continue;
        for (size_t j = 0; j < dh->n_containers && j < h->n_not_ready; j++) {
            const desired_container *c = &dh->containers[j];
            const live_container *lc = host_find(h, c->name);
            int rc;

            if ((h->not_ready[j] && !*h->not_ready[j]) || c->ready.kind != DESIRED_READY_TCP ||
                !c->ready.address || !lc || lc->state != LIVE_STATE_RUNNING)
                continue;
            if ((rc = fn(r, h, j, ctx, err)) < 0)
                return rc;
        }
    }
    return 0;
}

/* tcp_visit_fn: wait for a component that starts before the action ctx. */
static int wait_if_earlier(tenant_round *r, tenant_host_round *h, size_t j, void *ctx,
                           omlop_err *err)
{
    const plan_action *a = ctx;
    const desired_container *c = &desired_host_find(r->ds, h->name)->containers[j];
    int rc;

    if (c->component->order >= a->order)
        return 0;
    rc = wait_tcp_ready(r->env, h, c, err);
    if (rc < 0)
        return omlop_err_prefix(err, "waiting for %s on host %s: ", c->component->name, h->name);
    free(h->not_ready[j]);
    h->not_ready[j] = xstrdup("");
    return 0;
}

/*
 * Start order means "after the earlier components are ready": before acting
 * on a component, wait for every earlier one that runs (on any host) and has
 * not passed its readiness check this round. A rollout that stopped on a
 * component that never got ready must not go on past it in the next round.
 */
static int wait_earlier_ready(tenant_round *r, const plan_action *a, omlop_err *err)
{
    return each_tcp_unconfirmed(r, wait_if_earlier, (void *)a, err);
}

static int run_action(tenant_round *r, const plan_action *a, omlop_err *err)
{
    tenant_host_round *h = round_host(r, a->host);
    podman_client *pc = h ? h->pc : NULL;
    long stop_s = r->env->stop_timeout_s > 0
                      ? r->env->stop_timeout_s
                      : catalog_stop_timeout_s(a->desired ? a->desired->component : NULL);
    int settle = 0, rc = 0;

    if (!pc)
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host %s is not connected", a->host);
    /* judged by "running" alone, an upgraded component must still run a moment later; one
     * with a TCP check proves itself by answering instead */
    if (a->desired && a->desired->ready.start_period_s > 0 &&
        !(a->desired->ready.kind == DESIRED_READY_TCP && h && h->ops && h->ops->tcp_probe))
        settle = a->desired->ready.start_period_s < SERIAL_SETTLE_MAX_S
                     ? a->desired->ready.start_period_s
                     : SERIAL_SETTLE_MAX_S;
    if ((a->kind == PLAN_CREATE || a->kind == PLAN_START || a->kind == PLAN_RECREATE) &&
        (rc = wait_earlier_ready(r, a, err)) < 0)
        return rc;
    switch (a->kind) {
    case PLAN_PULL: {
        podman_pull_opts po = {-1, 0, r->env->cancel};

        /* as kubelet does: a pull that takes long shows in describe while it runs */
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Pulling", "Pulling %s on host %s", a->image,
                           a->host);
        return podman_image_pull(pc, a->image, &po, pull_progress, (void *)a, NULL, 0, err);
    }
    case PLAN_WRITE:
        return write_files(r, h, (size_t)(a - plan_at(r->pl, 0)), 1, err);
    case PLAN_MKDIR:
        return make_dir(r, h, a, err);
    case PLAN_CREATE:
        rc = container_create(h, &r->sc, pc, a->desired, env_hash_of(h, a->desired), err);
        if (rc == 0)
            rc = wait_running(r->env, pc, a->container, 0, err);
        break;
    case PLAN_START:
        /* a paused container refuses start: it is resumed where it stopped */
        if (a->from_state == LIVE_STATE_PAUSED)
            rc = podman_container_unpause(pc, a->container, err);
        else
            rc = podman_container_start(pc, a->container, err);
        if (rc == 0)
            rc = wait_running(r->env, pc, a->container, 0, err);
        break;
    case PLAN_RECREATE:
        /* as a teardown does: what ignores its stop signal is killed, never waited on forever */
        rc = podman_container_stop_or_kill(pc, a->container, (int)stop_s, 0, NULL, err);
        if (rc == 0 || rc == OMLOP_ENOTFOUND)
            rc = podman_container_remove(pc, a->container, 1, 0, err);
        if (rc == OMLOP_ENOTFOUND)
            rc = 0;
        if (rc == 0)
            rc = container_create(h, &r->sc, pc, a->desired, env_hash_of(h, a->desired), err);
        /* an upgrade goes one component at a time: this one must hold before the next */
        if (rc == 0)
            rc = wait_running(r->env, pc, a->container, a->is_serial ? settle : 0, err);
        break;
    case PLAN_REMOVE:
        rc = podman_container_remove(pc, a->container, 1, 0, err);
        return rc == OMLOP_ENOTFOUND ? 0 : rc;
    case PLAN_BLOCKED:
        return omlop_err_set(err, OMLOP_ECONFLICT, "%s", a->reason ? a->reason : "blocked");
    default:
        return omlop_err_set(err, OMLOP_EINTERNAL, "unknown plan action %d", (int)a->kind);
    }
    /* created, started or recreated: ready before the next component */
    if (rc == 0 && a->desired) {
        rc = wait_tcp_ready(r->env, h, a->desired, err);
        if (rc == 0)
            mark_ready(r, h, a->desired);
    }
    return rc;
}

static const char *fail_reason(plan_kind k)
{
    switch (k) {
    case PLAN_PULL:
        return "PullFailed";
    case PLAN_CREATE:
        return "CreateFailed";
    case PLAN_START:
        return "StartFailed";
    case PLAN_RECREATE:
        return "RecreateFailed";
    case PLAN_REMOVE:
        return "RemoveFailed";
    case PLAN_BLOCKED:
        return "NameConflict";
    case PLAN_WRITE:
        return "WriteFailed";
    case PLAN_MKDIR:
        return "MkdirFailed";
    }
    return "Failed";
}

static void report_done(tenant_round *r, const plan_action *a, long elapsed_ms)
{
    const char *why = a->reason ? a->reason : "";

    switch (a->kind) {
    case PLAN_PULL:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Pulled", "Pulled %s on host %s in %.3f s",
                           a->image, a->host, (double)elapsed_ms / 1000.0);
        break;
    case PLAN_CREATE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Created", "Created %s on host %s: %s",
                           a->container, a->host, why);
        break;
    case PLAN_START:
        if (a->from_state == LIVE_STATE_PAUSED)
            tenant_round_event(r, EVENT_TYPE_NORMAL, "Unpaused", "Unpaused %s on host %s: %s",
                               a->container, a->host, why);
        else
            tenant_round_event(r, EVENT_TYPE_NORMAL, "Restarted", "Restarted %s on host %s: %s",
                               a->container, a->host, why);
        break;
    case PLAN_RECREATE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Recreated", "Recreated %s on host %s: %s",
                           a->container, a->host, why);
        break;
    case PLAN_REMOVE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Removed", "Removed %s on host %s: %s",
                           a->container, a->host, why);
        break;
    case PLAN_WRITE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Wrote", "Wrote %s on host %s for %s: %s", a->path,
                           a->host, a->container, why);
        break;
    case PLAN_MKDIR:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "CreatedDirectory",
                           "Created directory %s on host %s for %s: %s", a->path, a->host,
                           a->container, why);
        break;
    case PLAN_BLOCKED:
        break;
    }
}

/*
 * Execute the plan in order. A failed pull skips the actions needing that
 * image; any other failure stops every later create/start/recreate (removals
 * of orphans still run: they cannot hurt the failing component).
 */
static void run_plan(tenant_round *r)
{
    int is_stopped = 0;

    for (size_t i = 0; i < plan_count(r->pl); i++) {
        const plan_action *a = plan_at(r->pl, i);
        tenant_action_result *ar = &r->res[i];
        omlop_err err = OMLOP_ERR_INIT;
        size_t n = 1;
        long t0 = clock_now_ms();

        if (is_cancelled(r->env) || (is_stopped && a->kind != PLAN_REMOVE) ||
            (a->image && a->kind != PLAN_PULL && image_failed(r, a->host, a->image))) {
            ar->is_skipped = 1;
            r->n_pending++;
            continue;
        }
        if (a->kind == PLAN_WRITE) {
            /* the plan puts a host's writes together: one call for all of them */
            tenant_host_round *h = round_host(r, a->host);

            while (i + n < plan_count(r->pl) && plan_at(r->pl, i + n)->kind == PLAN_WRITE &&
                   strcmp(plan_at(r->pl, i + n)->host, a->host) == 0)
                n++;
            ar->rc = h && h->pc
                         ? write_files(r, h, i, n, &err)
                         : omlop_err_set(&err, OMLOP_EUNAVAIL, "host %s is not connected", a->host);
        } else
            ar->rc = run_action(r, a, &err);
        for (size_t k = 0; k < n; k++) {
            const plan_action *ak = plan_at(r->pl, i + k);
            tenant_action_result *rk = &r->res[i + k];

            rk->rc = ar->rc;
            rk->elapsed_ms = clock_now_ms() - t0;
            if (ar->rc == 0) {
                rk->is_done = 1;
                r->n_applied++;
                report_done(r, ak, rk->elapsed_ms);
                continue;
            }
            snprintf(rk->msg, sizeof(rk->msg), "%s", err.msg);
            r->n_pending++;
        }
        if (ar->rc < 0) {
            note_failure(r, a, err.msg);
            if (a->kind == PLAN_PULL)
                tenant_round_event(r, EVENT_TYPE_WARNING, "PullFailed",
                                   "Pulling %s on host %s failed: %s", a->image, a->host, err.msg);
            else
                tenant_round_event(r, EVENT_TYPE_WARNING, fail_reason(a->kind),
                                   "%s %s on host %s failed: %s", plan_kind_name(a->kind),
                                   a->kind == PLAN_WRITE || a->kind == PLAN_MKDIR ? a->path
                                   : a->container                                 ? a->container
                                                                                  : "",
                                   a->host, err.msg);
            if (a->kind != PLAN_PULL && a->kind != PLAN_REMOVE)
                is_stopped = 1;
        }
        i += n - 1;
    }
}

/* ---- status ------------------------------------------------------------------------------- */

static const char *state_of(const live_container *lc)
{
    if (!lc)
        return TENANT_STATE_MISSING;
    switch (lc->state) {
    case LIVE_STATE_RUNNING:
        return TENANT_STATE_RUNNING;
    case LIVE_STATE_CREATED:
        return TENANT_STATE_STARTING;
    case LIVE_STATE_PAUSED:
        return TENANT_STATE_STOPPED;
    case LIVE_STATE_EXITED:
        return lc->exit_code == 0 ? TENANT_STATE_STOPPED : TENANT_STATE_FAILED;
    case LIVE_STATE_DEAD:
        return TENANT_STATE_FAILED;
    case LIVE_STATE_REMOVING:
    case LIVE_STATE_UNKNOWN:
        break;
    }
    return TENANT_STATE_UNKNOWN;
}

/* The component's observation: live state after the plan ran, and what omlop did to it. */
static void observe_component(tenant_round *r, const tenant_host_round *h, const desired_host *dh,
                              const desired_container *c, tenant_obs_component *oc)
{
    const live_container *lc = h->is_reachable ? host_find(h, c->name) : NULL;
    const char *hash = lc ? live_container_label(lc, OMLOP_LABEL_SPEC_HASH) : NULL;

    memset(oc, 0, sizeof(*oc));
    oc->host = h->name;
    oc->name = c->component->name;
    oc->image = lc && lc->image ? lc->image : c->image;
    oc->state = h->is_reachable ? state_of(lc) : TENANT_STATE_UNKNOWN;
    oc->container_id = lc ? lc->id : NULL;
    oc->spec_hash = hash;
    oc->is_current = lc && lc->state == LIVE_STATE_RUNNING && hash &&
                     strcmp(hash, c->spec_hash) == 0 && imageref_equal(lc->image, c->image);
    if (h->is_reachable && lc && lc->state == LIVE_STATE_RUNNING && dh &&
        container_index(dh, c) < h->n_not_ready) {
        const char *nr = h->not_ready[container_index(dh, c)];

        if (!nr && c->ready.kind != DESIRED_READY_TCP)
            oc->readiness = TENANT_READINESS_PASSED; /* judged by running */
        else if (nr && !*nr)
            oc->readiness = TENANT_READINESS_PASSED;
        else if (nr) {
            oc->readiness = TENANT_READINESS_FAILED;
            oc->is_current = 0;
            oc->message = nr;
        }
    }
    if (!h->is_reachable)
        oc->message = "host unreachable";
    for (size_t i = 0; i < plan_count(r->pl); i++) {
        const plan_action *a = plan_at(r->pl, i);

        if (!a->container || strcmp(a->container, c->name) != 0 || strcmp(a->host, h->name) != 0)
            continue;
        if (r->res[i].is_done) {
            oc->is_restarted = a->kind == PLAN_START;
            oc->is_repaired = a->kind == PLAN_START || a->kind == PLAN_RECREATE;
            oc->is_created = a->kind == PLAN_CREATE;
        } else if (r->res[i].rc < 0)
            oc->message = r->res[i].msg;
        else if (r->res[i].is_skipped)
            oc->message = "waiting: the rollout stopped at an earlier failure";
    }
}

static int status_from_obs(const json_object *old_status, const void *ctx, const char *now,
                           json_object **out, omlop_err *err)
{
    return tenant_status_compute(old_status, ctx, now, out, err);
}

typedef struct status_change {
    tenant_status_fn fn;
    const void *ctx;
} status_change;

/* An obj_mutate_fn: next's status computed from cur's; OBJ_UNCHANGED when nothing is new. */
static int status_mutate(json_object *next, const json_object *cur, void *ctx, omlop_err *err)
{
    const status_change *sw = ctx;
    json_object *st = NULL;
    char now[32];
    int rc;

    object_time_format(time(NULL), now);
    if ((rc = sw->fn(cjson_get(cur, "status"), sw->ctx, now, &st, err)) < 0)
        return rc;
    if (tenant_status_is_unchanged(cjson_get(cur, "status"), st, time(NULL),
                                   TENANT_STATUS_REFRESH_S)) {
        json_object_put(st); /* nothing new: no write, no watcher woken */
        return OBJ_UNCHANGED;
    }
    json_object_object_add(next, "status", st);
    return 0;
}

/* Replace .status of the stored Tenant (compare-and-swap; retried on a concurrent write). */
int tenant_round_status_write(tenant_round *r, tenant_status_fn fn, const void *ctx, omlop_err *err)
{
    status_change sw = {fn, ctx};
    obj_update_opts o = {0};
    obj_result res = {0};
    int rc;

    /* deleted and created again meanwhile: that one gets its own reconcile */
    o.expect_uid = cjson_get_string(r->obj, "metadata.uid");
    o.is_status = 1;
    rc = obj_update(r->env->st, "tenants", r->tenant, &o, status_mutate, &sw, &res, err);
    obj_result_release(&res);
    if (rc == OMLOP_ENOTFOUND) {
        omlop_err_clear(err);
        rc = 0; /* deleted (or re-created) meanwhile: nothing to report on */
    }
    return rc;
}

static int status_write(tenant_round *r, const tenant_obs *obs, omlop_err *err)
{
    return tenant_round_status_write(r, status_from_obs, obs, err);
}

/* The plan's actions this round did not carry out (the live plan, status.plan); caller frees. */
static tenant_obs_action *pending_actions(const tenant_round *r, size_t *n)
{
    size_t total = r->pl ? plan_count(r->pl) : 0;
    tenant_obs_action *v = xcalloc(total + 1, sizeof(*v));

    *n = 0;
    for (size_t i = 0; v && i < total; i++) {
        const plan_action *a = plan_at(r->pl, i);
        const tenant_action_result *ar = &r->res[i];
        tenant_obs_action *p;

        if (ar->is_done)
            continue;
        p = &v[(*n)++];
        p->host = a->host;
        p->action = plan_kind_name(a->kind);
        p->container = a->container;
        p->path = a->path;
        p->component = a->component;
        p->image = a->image;
        p->reason = a->reason;
        if (ar->rc < 0)
            p->error = ar->msg;
        else if (ar->is_skipped)
            p->error = is_cancelled(r->env)
                           ? "not tried: omlopd is stopping"
                           : "not tried: the rollout stopped at an earlier failure";
    }
    return v;
}

static int write_status(tenant_round *r, const char *invalid, omlop_err *err)
{
    tenant_obs obs;
    tenant_obs_host *oh = xcalloc(r->n_hosts + 1, sizeof(*oh));
    tenant_obs_component *oc = NULL;
    tenant_obs_action *pending = NULL;
    size_t n_oc = 0, cap = 0;
    int rc;

    memset(&obs, 0, sizeof(obs));
    obs.generation = cjson_get_int(r->obj, "metadata.generation", 1);
    obs.invalid = invalid;
    for (size_t i = 0; i < r->n_hosts; i++) {
        const tenant_host_round *h = &r->hosts[i];
        const desired_host *dh = r->ds ? desired_host_find(r->ds, h->name) : NULL;

        oh[i].name = h->name;
        oh[i].is_reachable = h->is_reachable;
        oh[i].error = h->is_reachable ? NULL : h->err.msg;
        oh[i].reason = h->is_reachable ? NULL : h->reason;
        oh[i].fingerprint = h->info.fingerprint[0] ? h->info.fingerprint : NULL;
        for (size_t j = 0; dh && j < dh->n_containers; j++) {
            if (n_oc == cap) {
                size_t ncap = cap ? 2 * cap : 32;
                oc = xrealloc(oc, ncap * sizeof(*oc));
                cap = ncap;
            }
            observe_component(r, h, dh, &dh->containers[j], &oc[n_oc++]);
        }
    }
    obs.hosts = oh;
    obs.n_hosts = r->n_hosts;
    obs.components = oc;
    obs.n_components = n_oc;
    obs.n_applied = r->n_applied;
    obs.n_pending = r->n_pending;
    obs.failed = r->failed.len ? r->failed.buf : NULL;
    obs.failure = r->failure.len ? r->failure.buf : NULL;
    obs.plan = pending = pending_actions(r, &obs.n_plan);
    rc = status_write(r, &obs, err);
    free(oh);
    free(oc);
    free(pending);
    return rc;
}

/* ---- entry points ------------------------------------------------------------------------- */

static int is_paused(const json_object *obj)
{
    json_object *v = NULL;

    /* annotation keys hold dots: no dotted-path getter here */
    if (!json_object_object_get_ex(cjson_get(obj, "metadata.annotations"), TENANT_PAUSED_ANNOTATION,
                                   &v))
        return 0;
    return json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), "true") == 0;
}

/* desired_public_ip_fn: ask the round's host (connected first) for its public address. */
static int round_public_ip(void *ctx, const char *host, strbuf *out)
{
    tenant_round *r = ctx;
    tenant_host_round *h = round_host(r, host);
    omlop_err err = OMLOP_ERR_INIT;

    if (!h || !h->is_reachable || !h->ops || !h->ops->public_ip)
        return OMLOP_ENOTFOUND;
    if (h->ops->public_ip(h->ops_ctx, out, &err) < 0) {
        log_warn("tenant=%s host=%s public IP: %s", r->tenant, host, err.msg);
        return OMLOP_ENOTFOUND;
    }
    return 0;
}

/* Connect to every host of the spec (hosts with no connection stay unreachable). */
static void round_connect(tenant_round *r)
{
    json_object *hosts = cjson_get(r->obj, "spec.hosts");
    size_t n =
        hosts && json_object_is_type(hosts, json_type_array) ? json_object_array_length(hosts) : 0;

    r->hosts = xcalloc(n + 1, sizeof(*r->hosts));
    for (size_t i = 0; i < n; i++) {
        json_object *hs = json_object_array_get_idx(hosts, i);
        tenant_host_round *h = &r->hosts[r->n_hosts];

        h->name = cjson_get_string(hs, "name");
        if (!h->name)
            continue;
        r->n_hosts++;
        tenant_round_host_connect(r->env, &r->sc, r->tenant, hs, h);
        if (!h->is_reachable)
            tenant_round_event(r, EVENT_TYPE_WARNING, h->reason ? h->reason : "HostUnreachable",
                               "%s", h->err.msg);
    }
    if (r->env->host_forget) {
        /* hosts removed from the spec: drop their cached connections */
        const char **keep = xcalloc(r->n_hosts + 1, sizeof(*keep));

        for (size_t i = 0; i < r->n_hosts; i++)
            keep[i] = r->hosts[i].name;
        r->env->host_forget(r->env->host_ctx, r->tenant, keep);
        free(keep);
    }
}

static int round_any_reachable(const tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        if (r->hosts[i].is_reachable)
            return 1;
    return 0;
}

/* Observe every reachable host; a listing failure makes the host unreachable this round. */
static void round_observe(tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];

        if (!h->is_reachable)
            continue;
        if (host_observe(h, r->tenant, desired_host_find(r->ds, h->name), &h->err) < 0) {
            h->is_reachable = 0;
            tenant_round_event(r, EVENT_TYPE_WARNING, "HostUnreachable", "%s", h->err.msg);
        }
    }
}

/* Render and read every reachable host's files; a host whose files cannot be read fails. */
static void round_files(tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        tenant_host_round *h = &r->hosts[i];

        if (!h->is_reachable)
            continue;
        if (host_files(r, h, desired_host_find(r->ds, h->name), &h->err) < 0) {
            h->is_reachable = 0;
            tenant_round_event(r, EVENT_TYPE_WARNING, "HostUnreachable", "%s", h->err.msg);
        }
    }
}

/* tcp_visit_fn: check once; ctx counts the components that are not ready. */
static int probe_once(tenant_round *r, tenant_host_round *h, size_t j, void *ctx, omlop_err *err)
{
    const desired_container *c = &desired_host_find(r->ds, h->name)->containers[j];
    omlop_err perr = OMLOP_ERR_INIT;
    strbuf why = STRBUF_INIT;

    (void)err;
    free(h->not_ready[j]);
    if (h->ops->tcp_probe(h->ops_ctx, c->ready.address, c->ready.port, &perr) == 0) {
        h->not_ready[j] = xstrdup("");
        return 0;
    }
    strbuf_addf(&why, "not ready: %s:%d accepts no connection (%s)", c->ready.address,
                c->ready.port, perr.msg);
    h->not_ready[j] = strbuf_detach(&why, NULL);
    (*(size_t *)ctx)++;
    return 0;
}

/*
 * Check the readiness of every running component with a TCP check that has
 * not passed one this round, once (no waiting): the status says which are not
 * ready. Returns how many are not.
 */
static size_t round_probe_ready(tenant_round *r)
{
    size_t n_failed = 0;

    each_tcp_unconfirmed(r, probe_once, &n_failed, NULL);
    return n_failed;
}

void tenant_round_release(tenant_round *r)
{
    for (size_t i = 0; i < r->n_hosts; i++) {
        host_round_release_live(&r->hosts[i]);
        host_round_release_files(&r->hosts[i]);
    }
    free(r->hosts);
    free(r->res);
    plan_free(r->pl);
    desired_free(r->ds);
    json_object_put(r->obj);
    strbuf_release(&r->failed);
    strbuf_release(&r->failure);
}

int tenant_reconcile(const tenant_env *env, const char *name, tenant_result *res, omlop_err *err)
{
    tenant_round r;
    strbuf key = STRBUF_INIT;
    store_kv kv = {0};
    live_host *live = NULL;
    size_t n_live = 0, n_down = 0, n_not_ready = 0;
    omlop_err berr = OMLOP_ERR_INIT;
    desired_options dopts;
    int rc;

    memset(&r, 0, sizeof(r));
    memset(res, 0, sizeof(*res));
    r.env = env;
    r.tenant = name;
    r.sc.st = env->st;
    r.sc.tenant = name;
    strbuf_init(&r.failed);
    strbuf_init(&r.failure);
    strbuf_addf(&key, "%s%s", TENANT_KEY_PREFIX, name);
    rc = store_get(env->st, key.buf, &kv, err);
    if (rc == OMLOP_ENOTFOUND) {
        res->is_gone = 1;
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if ((rc = obj_from_kv(&kv, &r.obj, err)) < 0)
        goto out;
    if (tenant_is_deleting(r.obj)) {
        rc = tenant_round_finalize(&r, res, err);
        goto out;
    }
    if (is_paused(r.obj)) {
        log_info("tenant=%s paused (annotation %s), not reconciled", name,
                 TENANT_PAUSED_ANNOTATION);
        goto out;
    }
    round_connect(&r);
    memset(&dopts, 0, sizeof(dopts));
    dopts.public_ip = round_public_ip;
    dopts.public_ip_ctx = &r;
    if (desired_build(r.obj, &dopts, &r.ds, &berr) < 0) {
        tenant_round_event(&r, EVENT_TYPE_WARNING, "InvalidSpec",
                           "Tenant %s cannot be converged: %s", name, berr.msg);
        rc = write_status(&r, berr.msg, err);
        /* a fact not learnt yet (a public IP) comes with retries; a bad spec waits for a
         * new spec */
        if (rc == 0 && berr.code == OMLOP_EUNAVAIL)
            rc = omlop_err_set(err, OMLOP_EUNAVAIL, "tenant %s: %s", name, berr.msg);
        goto out;
    }
    if (round_any_reachable(&r) && !tenant_has_finalizer(r.obj)) {
        /* before omlop touches a host: what it may create there, it must be able to remove.
         * A tenant no host of which was ever reached has nothing to tear down, and its
         * deletion must not wait for hosts that may never exist. */
        rc = tenant_finalizer_ensure(env->st, name, cjson_get_string(r.obj, "metadata.uid"), err);
        if (rc < 0)
            goto out;
    }
    round_observe(&r);
    round_files(&r);
    live = xcalloc(r.n_hosts + 1, sizeof(*live));
    for (size_t i = 0; i < r.n_hosts; i++) {
        tenant_host_round *h = &r.hosts[i];

        if (!h->is_reachable) {
            n_down++;
            continue;
        }
        live[n_live].host = h->name;
        live[n_live].containers = h->lc;
        live[n_live].n_containers = h->list.n;
        live[n_live].images = (const char *const *)h->images;
        live[n_live].n_images = h->n_images;
        live[n_live].files = h->lf;
        live[n_live].n_files = h->n_files;
        live[n_live].dirs = h->ld;
        live[n_live].n_dirs = h->n_dirs;
        n_live++;
    }
    rc = plan_compute(r.ds, live, n_live, &r.pl, err);
    if (rc < 0)
        goto out;
    r.res = xcalloc(plan_count(r.pl) + 1, sizeof(*r.res));
    if (plan_count(r.pl) > 0) {
        strbuf ptext = STRBUF_INIT;

        plan_format(r.pl, &ptext);
        log_info("tenant=%s actions=%zu plan:\n%s", name, plan_count(r.pl), ptext.buf);
        strbuf_release(&ptext);
        run_plan(&r);
        round_observe(&r); /* the status reports what runs now, not what we meant to do */
    }
    n_not_ready = round_probe_ready(&r);
    rc = write_status(&r, NULL, err);
    if (rc < 0)
        goto out;
    res->is_converged = r.failed.len == 0 && n_down == 0 && r.n_pending == 0 &&
                        (plan_count(r.pl) == 0) && n_not_ready == 0;
    if (r.n_applied > 0 || n_not_ready > 0)
        res->requeue_ms = REQUEUE_AFTER_CHANGE_MS; /* confirm it holds: a crash loop shows */
    if (r.failed.len)
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "tenant %s: %s: %s", name, r.failed.buf,
                           r.failure.buf);
    else if (n_down)
        rc = omlop_err_set(err, OMLOP_EUNAVAIL, "tenant %s: %zu host(s) unreachable", name, n_down);
out:
    free(live);
    tenant_round_release(&r);
    store_kv_release(&kv);
    strbuf_release(&key);
    return rc;
}
