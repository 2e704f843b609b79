/* plan: drift detection and the ordered repair actions. */
#include "reconcilers/plan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/imageref.h"
#include "lib/xalloc.h"

typedef struct action_list {
    plan_action *v;
    size_t n, cap;
} action_list;

struct plan {
    action_list actions;
};

/* Sort key kept beside each action while the plan is assembled. */
typedef struct keyed {
    plan_action a;
    size_t host_index;
    size_t seq; /* insertion order: makes qsort stable */
} keyed;

typedef struct keyed_list {
    keyed *v;
    size_t n, cap;
} keyed_list;

static void action_release(plan_action *a)
{
    free(a->host);
    free(a->container);
    free(a->component);
    free(a->image);
    free(a->container_id);
    free(a->reason);
    free(a->path);
}

static void keyed_push(keyed_list *l, const plan_action *a, size_t host_index)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        keyed *v = xrealloc(l->v, cap * sizeof(*v));

        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].a = *a;
    l->v[l->n].host_index = host_index;
    l->v[l->n].seq = l->n;
    l->n++;
}

static void keyed_release(keyed_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        action_release(&l->v[i].a);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int by_order(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;

    if (a->a.order != b->a.order)
        return a->a.order < b->a.order ? -1 : 1;
    if (a->host_index != b->host_index)
        return a->host_index < b->host_index ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Host file writes go host by host (one exec per host), in start order within a host. */
static int by_host(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;

    if (a->host_index != b->host_index)
        return a->host_index < b->host_index ? -1 : 1;
    if (a->a.order != b->a.order)
        return a->a.order < b->a.order ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Removals run dependents first: reverse start order. */
static int by_reverse_order(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;

    if (a->a.order != b->a.order)
        return a->a.order > b->a.order ? -1 : 1;
    if (a->host_index != b->host_index)
        return a->host_index < b->host_index ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* --- live helpers ------------------------------------------------------------------------ */

live_state live_state_parse(const char *s)
{
    static const struct {
        const char *name;
        live_state st;
    } map[] = {
        {"created", LIVE_STATE_CREATED},     {"configured", LIVE_STATE_CREATED},
        {"initialized", LIVE_STATE_CREATED}, {"running", LIVE_STATE_RUNNING},
        {"paused", LIVE_STATE_PAUSED},       {"exited", LIVE_STATE_EXITED},
        {"stopped", LIVE_STATE_EXITED},      {"stopping", LIVE_STATE_RUNNING},
        {"removing", LIVE_STATE_REMOVING},   {"dead", LIVE_STATE_DEAD},
    };

    for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(s, map[i].name) == 0)
            return map[i].st;
    return LIVE_STATE_UNKNOWN;
}

const char *live_state_name(live_state st)
{
    switch (st) {
    case LIVE_STATE_CREATED:
        return "created";
    case LIVE_STATE_RUNNING:
        return "running";
    case LIVE_STATE_PAUSED:
        return "paused";
    case LIVE_STATE_EXITED:
        return "exited";
    case LIVE_STATE_REMOVING:
        return "removing";
    case LIVE_STATE_DEAD:
        return "dead";
    case LIVE_STATE_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *live_container_label(const live_container *c, const char *key)
{
    for (size_t i = 0; i < c->n_labels; i++)
        if (c->labels[i].key && strcmp(c->labels[i].key, key) == 0)
            return c->labels[i].value;
    return NULL;
}

static const live_container *live_find(const live_host *lh, const char *name)
{
    for (size_t i = 0; i < lh->n_containers; i++)
        if (lh->containers[i].name && strcmp(lh->containers[i].name, name) == 0)
            return &lh->containers[i];
    return NULL;
}

static int image_present(const live_host *lh, const char *image)
{
    for (size_t i = 0; i < lh->n_images; i++)
        if (lh->images[i] && imageref_equal(lh->images[i], image))
            return 1;
    return 0;
}

static int is_ours(const live_container *lc, const char *tenant)
{
    const char *mgr = live_container_label(lc, OMLOP_LABEL_MANAGED_BY);
    const char *t = live_container_label(lc, OMLOP_LABEL_TENANT);

    return mgr && t && strcmp(mgr, OMLOP_MANAGER_NAME) == 0 && strcmp(t, tenant) == 0;
}

/* --- building actions -------------------------------------------------------------------- */

static plan_action action_new(plan_kind kind, const char *host, const desired_container *c,
                              const live_container *lc, const char *reason)
{
    plan_action a;

    memset(&a, 0, sizeof(a));
    a.kind = kind;
    a.host = xstrdup(host);
    a.reason = xstrdup(reason);
    a.desired = c;
    if (c) {
        a.container = xstrdup(c->name);
        a.component = xstrdup(c->component->name);
        a.order = c->component->order;
    }
    if (lc) {
        a.container_id = xstrdup(lc->id);
        a.from_state = lc->state;
    }
    return a;
}

static void add_pull(keyed_list *pulls, const char *host, size_t hi, const desired_container *c,
                     const char *reason)
{
    plan_action a;

    for (size_t i = 0; i < pulls->n; i++)
        if (strcmp(pulls->v[i].a.host, host) == 0 && imageref_equal(pulls->v[i].a.image, c->image))
            return; /* one pull per image per host (omlapp runs three containers) */
    a = action_new(PLAN_PULL, host, c, NULL, reason);
    free(a.container); /* a pull is about an image, not a container */
    a.container = NULL;
    a.image = xstrdup(c->image);
    keyed_push(pulls, &a, hi);
}

static void reason_fmt(strbuf *sb, const char *fmt, ...) OMLOP_PRINTF(2, 3);

static void reason_fmt(strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    strbuf_reset(sb);
    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

static void blocked(keyed_list *steps, const char *host, size_t hi, const desired_container *c,
                    const live_container *lc, strbuf *why)
{
    const char *mgr = live_container_label(lc, OMLOP_LABEL_MANAGED_BY);
    const char *owner = live_container_label(lc, OMLOP_LABEL_TENANT);
    plan_action a;

    if (mgr && strcmp(mgr, OMLOP_MANAGER_NAME) == 0 && owner)
        reason_fmt(why,
                   "the name %s is taken by tenant %s's container; its host files are left to "
                   "tenant %s",
                   c->name, owner, owner);
    else
        reason_fmt(why,
                   "the name %s is taken by a container omlop does not manage (no %s label); "
                   "remove or rename it",
                   c->name, OMLOP_LABEL_MANAGED_BY);
    a = action_new(PLAN_BLOCKED, host, c, lc, strbuf_str(why));
    keyed_push(steps, &a, hi);
}

static const live_file *env_file_of(const live_host *lh, const desired_container *c)
{
    for (size_t i = 0; i < lh->n_files; i++)
        if (lh->files[i].is_env_file && lh->files[i].container &&
            strcmp(lh->files[i].container, c->name) == 0)
            return &lh->files[i];
    return NULL;
}

/* Writes of c's host files that are missing or differ. */
static void plan_files(keyed_list *writes, const desired_host *dh, size_t hi, const live_host *lh,
                       const desired_container *c)
{
    for (size_t i = 0; i < lh->n_files; i++) {
        const live_file *f = &lh->files[i];
        plan_action a;

        if (!f->container || strcmp(f->container, c->name) != 0 || !f->live_sha256 ||
            !f->want_sha256 || strcmp(f->live_sha256, f->want_sha256) == 0)
            continue;
        a = action_new(PLAN_WRITE, dh->name, c, NULL,
                       f->live_sha256[0] ? "content differs from what omlop wrote" : "missing");
        a.path = xstrdup(f->path);
        keyed_push(writes, &a, hi);
    }
}

/* Directories c's bind mounts need that the host lacks: one mkdir per host and path (nginx and
 * kamailio share /etc/omnileads/certs). Not observed: nothing to say. */
static void plan_dirs(keyed_list *mkdirs, const desired_host *dh, size_t hi, const live_host *lh,
                      const desired_container *c)
{
    for (size_t v = 0; v < c->n_volumes; v++) {
        const desired_volume *dv = &c->volumes[v];
        const live_dir *ld = NULL;
        int is_planned = 0;
        plan_action a;

        if (!dv->dir_mode)
            continue;
        for (size_t i = 0; i < lh->n_dirs && !ld; i++)
            if (lh->dirs[i].path && strcmp(lh->dirs[i].path, dv->source) == 0)
                ld = &lh->dirs[i];
        for (size_t i = 0; i < mkdirs->n; i++)
            is_planned |= strcmp(mkdirs->v[i].a.host, dh->name) == 0 &&
                          strcmp(mkdirs->v[i].a.path, dv->source) == 0;
        if (!ld || ld->is_present || is_planned)
            continue;
        a = action_new(PLAN_MKDIR, dh->name, c, NULL, "missing (a bind mount's source)");
        a.path = xstrdup(dv->source);
        a.mode = dv->dir_mode;
        keyed_push(mkdirs, &a, hi);
    }
}

/* The recreate conditions: why lc is not c any more, or NULL when it still is. */
static const char *changed_why(const live_container *lc, const desired_container *c,
                               const live_file *envf, strbuf *why)
{
    const char *hash = live_container_label(lc, OMLOP_LABEL_SPEC_HASH);
    /* a container made before env hashes existed has none: nothing to compare */
    const char *env_hash = live_container_label(lc, OMLOP_LABEL_ENV_HASH);

    /* Podman reports the image fully qualified (docker.io/library/...): compare normal forms */
    if (!imageref_equal(lc->image, c->image))
        reason_fmt(why, "image changed from %s to %s", lc->image ? lc->image : "(none)", c->image);
    else if (lc->state == LIVE_STATE_DEAD)
        reason_fmt(why, "container dead");
    else if (!hash || strcmp(hash, c->spec_hash) != 0)
        reason_fmt(why, "spec changed");
    else if (env_hash && envf && envf->want_sha256 && strcmp(env_hash, envf->want_sha256) != 0)
        reason_fmt(why, "env file changed (a Secret it reads changed)");
    else
        return NULL;
    return strbuf_str(why);
}

/*
 * An active-only component on a node that must not run it (layout ha): it exists, with the
 * desired spec, and is not running there. Created without a start, so that keepalived's notify
 * finds it to start when the VIP comes; stopped only when another node holds the VIP (STANDBY):
 * while none does, keepalived decides, and omlop neither starts nor stops.
 */
static void plan_standby(keyed_list *pulls, keyed_list *steps, const desired_host *dh, size_t hi,
                         const live_host *lh, const desired_container *c, const live_container *lc,
                         int has_image, strbuf *why)
{
    strbuf where = STRBUF_INIT;
    plan_action a;

    if (lh->ha == LIVE_HA_STANDBY)
        strbuf_addf(&where, "the OMniLeads VIP is on %s",
                    lh->ha_active ? lh->ha_active : "another node");
    else
        strbuf_adds(&where, "no node holds the OMniLeads VIP yet");
    if (!lc || changed_why(lc, c, env_file_of(lh, c), why)) {
        if (lc)
            strbuf_addf(why, " (not started: %s)", strbuf_str(&where));
        else
            reason_fmt(why, "missing (not started: %s)", strbuf_str(&where));
        if (!has_image)
            add_pull(pulls, dh->name, hi, c, "image not on host");
        a = action_new(lc ? PLAN_RECREATE : PLAN_CREATE, dh->name, c, lc, strbuf_str(why));
        a.image = xstrdup(c->image);
        a.is_no_start = 1;
        keyed_push(steps, &a, hi);
    } else if (lh->ha == LIVE_HA_STANDBY &&
               (lc->state == LIVE_STATE_RUNNING || lc->state == LIVE_STATE_PAUSED)) {
        reason_fmt(why, "active-only: %s", strbuf_str(&where));
        a = action_new(PLAN_STOP, dh->name, c, lc, strbuf_str(why));
        keyed_push(steps, &a, hi);
    } else if (!has_image && !lc->is_image_present) {
        add_pull(pulls, dh->name, hi, c, "image missing on host");
    }
    strbuf_release(&where);
}

/* Actions for one desired container against what its host runs. */
static void plan_container(keyed_list *pulls, keyed_list *mkdirs, keyed_list *writes,
                           keyed_list *steps, const char *tenant, const desired_host *dh, size_t hi,
                           const live_host *lh, const desired_container *c, strbuf *why)
{
    const live_container *lc = live_find(lh, c->name);
    const live_file *envf = env_file_of(lh, c);
    int has_image = image_present(lh, c->image);
    const char *hash, *env_hash, *tls_hash;
    plan_action a;

    /* host files follow the container: a name another tenant (or a person) holds means its
     * files are theirs too - /etc/default/<x>.env is per component, not per tenant */
    if (lc && !is_ours(lc, tenant)) {
        blocked(steps, dh->name, hi, c, lc, why);
        return;
    }
    plan_dirs(mkdirs, dh, hi, lh, c);
    plan_files(writes, dh, hi, lh, c);
    if (c->is_ha_active_only && lh->ha != LIVE_HA_ACTIVE) {
        plan_standby(pulls, steps, dh, hi, lh, c, lc, has_image, why);
        return;
    }
    if (!lc) {
        if (!has_image)
            add_pull(pulls, dh->name, hi, c, "image not on host");
        a = action_new(PLAN_CREATE, dh->name, c, NULL, "missing");
        a.image = xstrdup(c->image);
        a.wait_ready = 1;
        keyed_push(steps, &a, hi);
        return;
    }
    hash = live_container_label(lc, OMLOP_LABEL_SPEC_HASH);
    /* a container made before env hashes existed has none: nothing to compare */
    env_hash = live_container_label(lc, OMLOP_LABEL_ENV_HASH);
    /* a reader made without the pair (none was known) or with another one */
    tls_hash = live_container_label(lc, OMLOP_LABEL_TLS_HASH);
    /* Podman reports the image fully qualified (docker.io/library/...): compare normal forms */
    if (!imageref_equal(lc->image, c->image) || lc->state == LIVE_STATE_DEAD || !hash ||
        strcmp(hash, c->spec_hash) != 0 ||
        (env_hash && envf && envf->want_sha256 && strcmp(env_hash, envf->want_sha256) != 0) ||
        (c->tls_digest && (!tls_hash || strcmp(tls_hash, c->tls_digest) != 0))) {
        if (!imageref_equal(lc->image, c->image))
            reason_fmt(why, "image changed from %s to %s", lc->image ? lc->image : "(none)",
                       c->image);
        else if (lc->state == LIVE_STATE_DEAD)
            reason_fmt(why, "container dead");
        else if (!hash || strcmp(hash, c->spec_hash) != 0)
            reason_fmt(why, "spec changed");
        else if (c->tls_digest && (!tls_hash || strcmp(tls_hash, c->tls_digest) != 0))
            reason_fmt(why, "the TLS certificate it reads changed");
        else
            reason_fmt(why, "env file changed (a Secret it reads changed)");
        if (!has_image)
            add_pull(pulls, dh->name, hi, c, "image not on host");
        a = action_new(PLAN_RECREATE, dh->name, c, lc, strbuf_str(why));
        a.image = xstrdup(c->image);
        a.is_serial = 1;
        a.wait_ready = 1;
        keyed_push(steps, &a, hi);
        return;
    }
    switch (lc->state) {
    case LIVE_STATE_RUNNING:
        /* Converged. Without its image a later restart would fail: fetch it back now. */
        if (!has_image && !lc->is_image_present)
            add_pull(pulls, dh->name, hi, c, "image missing on host");
        return;
    case LIVE_STATE_REMOVING:
        return; /* Podman is removing it; the next round sees it gone and creates it */
    case LIVE_STATE_EXITED:
        reason_fmt(why, "container died (exit code %d)", lc->exit_code);
        break;
    case LIVE_STATE_PAUSED:
        reason_fmt(why, "container paused");
        break;
    case LIVE_STATE_CREATED:
        reason_fmt(why, "container created but not started");
        break;
    case LIVE_STATE_DEAD:
    case LIVE_STATE_UNKNOWN:
        reason_fmt(why, "container in state %s", live_state_name(lc->state));
        break;
    }
    a = action_new(PLAN_START, dh->name, c, lc, strbuf_str(why));
    a.wait_ready = 1;
    keyed_push(steps, &a, hi);
}

static void plan_orphans(keyed_list *removes, const char *tenant, const desired_host *dh, size_t hi,
                         const live_host *lh)
{
    for (size_t i = 0; i < lh->n_containers; i++) {
        const live_container *lc = &lh->containers[i];
        const catalog_component *cc;
        const char *comp;
        plan_action a;

        if (!lc->name || !is_ours(lc, tenant))
            continue;
        if (dh && desired_host_find_container(dh, lc->name))
            continue;
        comp = live_container_label(lc, OMLOP_LABEL_COMPONENT);
        cc = catalog_find(comp);
        a = action_new(PLAN_REMOVE, lh->host, NULL, lc,
                       dh ? "no longer desired on this host (orphan)"
                          : "host no longer in the tenant's spec (orphan)");
        a.container = xstrdup(lc->name);
        a.component = xstrdup(comp);
        a.order = cc ? cc->order : 0;
        keyed_push(removes, &a, hi);
    }
}

static void move_all(action_list *dst, keyed_list *src)
{
    for (size_t i = 0; i < src->n; i++)
        dst->v[dst->n++] = src->v[i].a;
    free(src->v);
    src->v = NULL;
    src->n = src->cap = 0;
}

int plan_compute(const desired_state *ds, const live_host *live, size_t n_live, plan **out,
                 omlop_err *err)
{
    keyed_list pulls = {NULL, 0, 0}, mkdirs = {NULL, 0, 0}, writes = {NULL, 0, 0};
    keyed_list steps = {NULL, 0, 0};
    keyed_list removes = {NULL, 0, 0};
    const char *tenant = desired_tenant(ds);
    strbuf why = STRBUF_INIT;
    plan *p;

    *out = NULL;
    for (size_t l = 0; l < n_live; l++) {
        if (!live[l].host)
            return omlop_err_set(err, OMLOP_EINVAL, "plan: live host %zu has no name", l);
        for (size_t m = 0; m < l; m++)
            if (strcmp(live[m].host, live[l].host) == 0)
                return omlop_err_set(err, OMLOP_EINVAL, "plan: host %s listed twice", live[l].host);
    }
    for (size_t l = 0; l < n_live; l++) {
        const live_host *lh = &live[l];
        const desired_host *dh = desired_host_find(ds, lh->host);
        size_t hi = desired_host_count(ds) + l; /* hosts not in the spec sort last */

        for (size_t h = 0; dh && h < desired_host_count(ds); h++)
            if (desired_host_at(ds, h) == dh)
                hi = h;
        for (size_t i = 0; dh && i < dh->n_containers; i++)
            plan_container(&pulls, &mkdirs, &writes, &steps, tenant, dh, hi, lh, &dh->containers[i],
                           &why);
        plan_orphans(&removes, tenant, dh, hi, lh);
    }
    strbuf_release(&why);
    if (pulls.n > 1)
        qsort(pulls.v, pulls.n, sizeof(*pulls.v), by_order);
    if (mkdirs.n > 1)
        qsort(mkdirs.v, mkdirs.n, sizeof(*mkdirs.v), by_host);
    if (writes.n > 1)
        qsort(writes.v, writes.n, sizeof(*writes.v), by_host);
    if (steps.n > 1)
        qsort(steps.v, steps.n, sizeof(*steps.v), by_order);
    if (removes.n > 1)
        qsort(removes.v, removes.n, sizeof(*removes.v), by_reverse_order);

    p = xcalloc(1, sizeof(*p));
    p->actions.cap = pulls.n + mkdirs.n + writes.n + steps.n + removes.n;
    p->actions.v = xcalloc(p->actions.cap ? p->actions.cap : 1, sizeof(*p->actions.v));
    move_all(&p->actions, &pulls);
    move_all(&p->actions, &mkdirs);
    move_all(&p->actions, &writes);
    move_all(&p->actions, &steps);
    move_all(&p->actions, &removes);
    keyed_release(&pulls);
    keyed_release(&mkdirs);
    keyed_release(&writes);
    keyed_release(&steps);
    keyed_release(&removes);
    *out = p;
    return 0;
}

void plan_free(plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->actions.n; i++)
        action_release(&p->actions.v[i]);
    free(p->actions.v);
    free(p);
}

size_t plan_count(const plan *p)
{
    return p->actions.n;
}

const plan_action *plan_at(const plan *p, size_t i)
{
    return i < p->actions.n ? &p->actions.v[i] : NULL;
}

const char *plan_kind_name(plan_kind k)
{
    switch (k) {
    case PLAN_PULL:
        return "pull";
    case PLAN_CREATE:
        return "create";
    case PLAN_START:
        return "start";
    case PLAN_RECREATE:
        return "recreate";
    case PLAN_REMOVE:
        return "remove";
    case PLAN_BLOCKED:
        return "blocked";
    case PLAN_WRITE:
        return "write";
    case PLAN_MKDIR:
        return "mkdir";
    case PLAN_STOP:
        return "stop";
    }
    return "?";
}

void plan_format(const plan *p, strbuf *out)
{
    for (size_t i = 0; i < p->actions.n; i++) {
        const plan_action *a = &p->actions.v[i];

        strbuf_addf(out, "host %s: %s", a->host, plan_kind_name(a->kind));
        if (a->kind == PLAN_PULL)
            strbuf_addf(out, " %s", a->image);
        else if (a->kind == PLAN_WRITE || a->kind == PLAN_MKDIR)
            strbuf_addf(out, " %s (for %s)", a->path, a->container);
        else
            strbuf_addf(out, " %s", a->container);
        if (a->image && a->kind != PLAN_PULL)
            strbuf_addf(out, " (%s)", a->image);
        if (a->reason)
            strbuf_addf(out, ": %s", a->reason);
        if (a->is_serial)
            strbuf_adds(out, " [one at a time]");
        if (a->is_no_start)
            strbuf_adds(out, " [not started]");
        strbuf_addch(out, '\n');
    }
}
