/*
 * tenant_observe: the observing half of a round (tenant.h): connecting to each host, listing
 * its containers and images, reading the digests of its files and the state of the
 * bind-mount directories, and what other tenants hold there.
 */
#include "reconcilers/tenant_round.h"

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
#include "reconcilers/tenant_memo.h"
#include "reconcilers/tenant_status.h"

/* ---- one host this round ------------------------------------------------------------------ */

void tenant_host_release_live(tenant_host_round *h)
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
void tenant_host_images_digest(const desired_host *dh, char out[CJSON_HASH_HEX_LEN + 1])
{
    strbuf text = STRBUF_INIT;

    for (size_t i = 0; dh && i < dh->n_containers; i++)
        strbuf_addf(&text, "%s\n", dh->containers[i].image ? dh->containers[i].image : "");
    cjson_sha256_hex(text.buf ? text.buf : "", text.len, out);
    strbuf_release(&text);
}

/* Take the desired images as present (the memo verified them): h->is_images_assumed. */
static void images_assume(tenant_host_round *h, const desired_host *dh)
{
    for (size_t i = 0; dh && i < dh->n_containers; i++)
        if (dh->containers[i].image &&
            !image_listed(h->images, h->n_images, dh->containers[i].image))
            tenant_strv_push(&h->images, &h->n_images, dh->containers[i].image, NULL);
    for (size_t i = 0; i < h->list.n; i++)
        h->lc[i].is_image_present = 1;
    h->is_images_assumed = 1;
}

int tenant_host_observe(tenant_host_round *h, const char *tenant, const desired_host *dh,
                        int check_images, omlop_err *err)
{
    size_t n_labels = 0, li = 0, n_asked = 0;
    char **asked = NULL;
    int rc;

    tenant_host_release_live(h);
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
    h->is_images_assumed = 0;
    if (!check_images) {
        images_assume(h, dh);
        rc = 0;
        goto out;
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

void tenant_host_release_files(tenant_host_round *h)
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

tenant_host_file *tenant_host_file_find(tenant_host_round *h, const char *path)
{
    for (size_t i = 0; path && i < h->n_files; i++)
        if (strcmp(h->files[i].path, path) == 0)
            return &h->files[i];
    return NULL;
}

/* The digest of c's env file as this round renders it, or NULL when unknown. */
const char *tenant_env_hash_of(tenant_host_round *h, const desired_container *c)
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
static int host_dirs(tenant_host_round *h, const desired_host *dh, int assume_present,
                     omlop_err *err)
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
    if (assume_present) {
        for (size_t k = 0; k < h->n_dirs; k++)
            h->ld[k].is_present = 1;
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
 * The TLS pair (tls.h) as two host files, held by the host's first reader of the certificates
 * directory (nginx and kamailio share it: one write, not two). Without a pair this round
 * (a custom Secret that fails its checks) nothing is written: the host keeps the pair placed
 * before.
 */
static void tls_host_files(tenant_round *r, tenant_host_round *h, const desired_host *dh)
{
    tenant_host_file *f;

    if (!r->has_tls || !r->tls.cert_pem || !r->tls.key_pem)
        return;
    for (size_t i = 0; dh && i < dh->n_containers; i++) {
        const desired_container *c = &dh->containers[i];

        if (!c->is_tls_reader)
            continue;
        f = host_file_next(h, c, DESIRED_CERT_FILE, DESIRED_CERT_MODE, 0);
        strbuf_adds(&f->content, r->tls.cert_pem);
        f->is_rendered = 1;
        f = host_file_next(h, c, DESIRED_KEY_FILE, DESIRED_KEY_MODE, 0);
        strbuf_adds(&f->content, r->tls.key_pem);
        f->is_rendered = 1;
        return;
    }
}

/*
 * The digest of what a file check of h verifies: every file's path and wanted digest, and the
 * directories. "" when a file could not be rendered (nothing to compare: always read).
 */
static void files_digest(const tenant_host_round *h, const desired_host *dh,
                         char out[CJSON_HASH_HEX_LEN + 1])
{
    strbuf text = STRBUF_INIT;

    out[0] = '\0';
    for (size_t i = 0; i < h->n_files; i++) {
        if (!h->files[i].is_rendered)
            goto out;
        strbuf_addf(&text, "f %s %s %o\n", h->files[i].path, h->files[i].want, h->files[i].mode);
    }
    for (size_t i = 0; dh && i < dh->n_containers; i++)
        for (size_t v = 0; v < dh->containers[i].n_volumes; v++)
            if (dh->containers[i].volumes[v].dir_mode)
                strbuf_addf(&text, "d %s\n", dh->containers[i].volumes[v].source);
    cjson_sha256_hex(text.buf ? text.buf : "", text.len, out);
out:
    strbuf_release(&text);
}

/* Whether every file on h has its wanted digest and every directory is there. */
static int files_as_wanted(const tenant_host_round *h)
{
    for (size_t i = 0; i < h->n_files; i++)
        if (!h->files[i].is_observed || strcmp(h->files[i].live, h->files[i].want) != 0)
            return 0;
    for (size_t k = 0; k < h->n_dirs; k++)
        if (!h->ld[k].is_present)
            return 0;
    return 1;
}

/*
 * Render every host file the host's desired containers read (env files with
 * their Secret values, configs) and, when the transport allows, read the
 * digests of what the host has. A file that cannot be rendered (a Secret is
 * missing) gets no digest: nothing is written, and the container's create
 * reports the Secret. Failing to read the host's files fails the host.
 */
int tenant_host_files(tenant_round *r, tenant_host_round *h, const desired_host *dh, omlop_err *err)
{
    char digest[CJSON_HASH_HEX_LEN + 1];
    const char **paths = NULL;
    char(*hex)[CJSON_HASH_HEX_LEN + 1] = NULL;
    size_t n = 0;
    int rc = 0;

    tenant_host_release_files(h);
    for (size_t i = 0; dh && i < dh->n_containers; i++)
        n += (dh->containers[i].env_file != NULL) + dh->containers[i].n_files;
    n += 2; /* the TLS pair (tls.h) */
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
    tls_host_files(r, h, dh);
    for (size_t i = 0; i < h->n_files; i++)
        if (h->files[i].is_rendered)
            cjson_sha256_hex(h->files[i].content.buf ? h->files[i].content.buf : "",
                             h->files[i].content.len, h->files[i].want);
    files_digest(h, dh, digest);
    h->is_files_assumed = digest[0] && h->ops &&
                          tenant_memo_is_fresh(r->env->memo, r->tenant, h->name, TENANT_MEMO_FILES,
                                               digest, clock_now_ms());
    if (h->is_files_assumed) {
        /* verified recently with these very contents: the host has them */
        for (size_t i = 0; i < h->n_files; i++) {
            memcpy(h->files[i].live, h->files[i].want, sizeof(h->files[i].live));
            h->files[i].is_observed = 1;
        }
    } else if (h->n_files && h->ops && h->ops->file_hashes) {
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
    rc = host_dirs(h, dh, h->is_files_assumed, err);
    if (rc == 0 && !h->is_files_assumed && digest[0] && h->ops) {
        if (files_as_wanted(h))
            tenant_memo_verified(r->env->memo, r->tenant, h->name, TENANT_MEMO_FILES, digest,
                                 clock_now_ms());
        else
            tenant_memo_invalidate(r->env->memo, r->tenant, h->name, TENANT_MEMO_FILES);
    }
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
size_t tenant_container_index(const desired_host *dh, const desired_container *c)
{
    return (size_t)(c - dh->containers);
}

const live_container *tenant_host_find(const tenant_host_round *h, const char *name)
{
    for (size_t i = 0; i < h->list.n; i++)
        if (h->lc[i].name && strcmp(h->lc[i].name, name) == 0)
            return &h->lc[i];
    return NULL;
}

/* Connect to host i of the spec through the provider; failures go to h->err. */
void tenant_round_host_connect(const tenant_env *env, secrets_ctx *sc, const json_object *tobj,
                               const char *tenant, const json_object *hspec, tenant_host_round *h)
{
    const char *layout = tobj ? cjson_get_string(tobj, "spec.layout") : NULL;
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
    a.is_ha = layout && strcmp(layout, "ha") == 0;
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
