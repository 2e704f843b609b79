/*
 * Tests for reconcilers/plan: each drift kind and its repair, ordering (pulls
 * first, catalog start order across hosts, removals last), orphans, other
 * tenants and unmanaged containers left alone, and the empty plan when
 * converged. The live side is built from the desired state and then bent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crds/schema.h"
#include "crds/yamlio.h"
#include "lib/imageref.h"
#include "reconcilers/plan.h"

/* --- fixtures ---------------------------------------------------------------------------- */

static json_object *example(const char *name)
{
    const char *src = getenv("OMLOP_SRCDIR");
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    schema_set *set = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *obj = NULL;
    char path[4096];

    snprintf(path, sizeof(path), "%s/crds/examples/%s", src ? src : ".", name);
    if (schema_set_new_builtin(&set, &err) < 0)
        fail_msg("schema: %s", err.msg);
    if (yaml_load_path(path, NULL, &docs, dl) < 0 || docs.n != 1 ||
        schema_set_decode(set, docs.docs[0].root, path, &obj, dl) < 0)
        fail_msg("cannot load %s", path);
    ydoc_list_release(&docs);
    diag_list_free(dl);
    schema_set_free(set);
    return obj;
}

static int fixed_ip(void *ctx, const char *host, strbuf *out)
{
    (void)ctx;
    (void)host;
    strbuf_adds(out, "203.0.113.10");
    return 0;
}

static desired_state *build(const char *example_name)
{
    json_object *t = example(example_name);
    desired_options opts = {fixed_ip, NULL, 0, NULL};
    omlop_err err = OMLOP_ERR_INIT;
    desired_state *ds = NULL;

    if (desired_build(t, &opts, &ds, &err) < 0)
        fail_msg("desired_build: %s", err.msg);
    json_object_put(t);
    return ds;
}

#define MAX_C 40
#define MAX_L 8

/* A mutable picture of one host: what Podman would report. */
typedef struct fake_host {
    char host[64];
    live_container c[MAX_C];
    live_label labels[MAX_C][MAX_L];
    char label_vals[MAX_C][MAX_L][160];
    char names[MAX_C][80];
    char images[MAX_C][160];
    char ids[MAX_C][16];
    size_t n;
    const char *image_list[MAX_C];
    char image_store[MAX_C][160];
    size_t n_images;
} fake_host;

static void fake_add_image(fake_host *f, const char *image)
{
    for (size_t i = 0; i < f->n_images; i++)
        if (strcmp(f->image_list[i], image) == 0)
            return;
    snprintf(f->image_store[f->n_images], sizeof(f->image_store[0]), "%s", image);
    f->image_list[f->n_images] = f->image_store[f->n_images];
    f->n_images++;
}

static void fake_remove_image(fake_host *f, const char *image)
{
    for (size_t i = 0; i < f->n_images; i++) {
        if (strcmp(f->image_list[i], image) == 0) {
            f->image_list[i] = "removed";
            return;
        }
    }
}

/* Add a container; labels as "k=v" strings, NULL-ended. Returns it for further edits. */
static live_container *fake_add(fake_host *f, const char *name, const char *image, live_state st,
                                const char *const *labels)
{
    size_t i = f->n++;
    live_container *c = &f->c[i];

    assert_true(i < MAX_C);
    snprintf(f->names[i], sizeof(f->names[0]), "%s", name);
    snprintf(f->images[i], sizeof(f->images[0]), "%s", image);
    snprintf(f->ids[i], sizeof(f->ids[0]), "id%zu", i);
    memset(c, 0, sizeof(*c));
    c->name = f->names[i];
    c->image = f->images[i];
    c->id = f->ids[i];
    c->is_image_present = 1;
    c->state = st;
    c->labels = f->labels[i];
    for (size_t l = 0; labels && labels[l]; l++) {
        char *eq;

        assert_true(l < MAX_L);
        snprintf(f->label_vals[i][l], sizeof(f->label_vals[0][0]), "%s", labels[l]);
        eq = strchr(f->label_vals[i][l], '=');
        *eq = '\0';
        f->labels[i][l].key = f->label_vals[i][l];
        f->labels[i][l].value = eq + 1;
        c->n_labels++;
    }
    fake_add_image(f, image);
    return c;
}

/* The live picture of a converged host: every desired container running, labelled. */
static void fake_converged(fake_host *f, const desired_host *dh)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->host, sizeof(f->host), "%s", dh->name);
    for (size_t i = 0; i < dh->n_containers; i++) {
        const desired_container *d = &dh->containers[i];
        const char *labels[MAX_L + 1] = {NULL};
        char buf[MAX_L][160];

        for (size_t l = 0; l < d->n_labels && l < MAX_L; l++) {
            snprintf(buf[l], sizeof(buf[0]), "%s=%s", d->labels[l].key, d->labels[l].value);
            labels[l] = buf[l];
        }
        fake_add(f, d->name, d->image, LIVE_STATE_RUNNING, labels);
    }
}

static live_container *fake_find(fake_host *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->c[i].name, name) == 0)
            return &f->c[i];
    fail_msg("no live %s", name);
    return NULL;
}

/* Drop a container from the live picture (its image stays). */
static void fake_drop(fake_host *f, const char *name)
{
    live_container *c = fake_find(f, name);

    c->name = "";
    c->n_labels = 0;
}

static void set_label(fake_host *f, const char *name, const char *key, const char *value)
{
    live_container *c = fake_find(f, name);
    size_t i = (size_t)(c - f->c);

    for (size_t l = 0; l < c->n_labels; l++) {
        if (strcmp(f->labels[i][l].key, key) == 0) {
            snprintf(f->label_vals[i][l], sizeof(f->label_vals[0][0]), "%s", key);
            f->labels[i][l].key = f->label_vals[i][l];
            f->labels[i][l].value = value;
            return;
        }
    }
    fail_msg("%s has no label %s", name, key);
}

static void add_label(fake_host *f, const char *name, const char *key, const char *value)
{
    live_container *c = fake_find(f, name);
    size_t i = (size_t)(c - f->c), l = c->n_labels;

    assert_true(l < MAX_L);
    snprintf(f->label_vals[i][l], sizeof(f->label_vals[0][0]), "%s", key);
    f->labels[i][l].key = f->label_vals[i][l];
    f->labels[i][l].value = value;
    c->n_labels++;
}

static live_host as_live(const fake_host *f)
{
    live_host lh = {f->host, f->c, f->n, f->image_list,  f->n_images, NULL,
                    0,       NULL, 0,    LIVE_HA_ACTIVE, NULL};

    return lh;
}

static plan *compute(const desired_state *ds, const live_host *lh, size_t n)
{
    omlop_err err = OMLOP_ERR_INIT;
    plan *p = NULL;

    if (plan_compute(ds, lh, n, &p, &err) < 0)
        fail_msg("plan_compute: %s", err.msg);
    return p;
}

/* "kind target" per action, joined with "; " (target: container, or image for pulls). */
static void summary(const plan *p, strbuf *out)
{
    strbuf_reset(out);
    for (size_t i = 0; i < plan_count(p); i++) {
        const plan_action *a = plan_at(p, i);

        strbuf_addf(out, "%s%s %s", i ? "; " : "", plan_kind_name(a->kind),
                    a->kind == PLAN_PULL ? a->image : a->container);
    }
}

static void assert_plan(const plan *p, const char *want)
{
    strbuf sb = STRBUF_INIT;

    summary(p, &sb);
    if (strcmp(strbuf_str(&sb), want) != 0)
        fail_msg("plan:\n got: %s\nwant: %s", strbuf_str(&sb), want);
    strbuf_release(&sb);
}

/* --- tests ------------------------------------------------------------------------------- */

static void test_plan_converged_is_empty(void **state)
{
    static const char *const examples[] = {"tenant-aio.yaml", "tenant-cluster.yaml",
                                           "tenant-ha.yaml"};

    (void)state;
    for (size_t e = 0; e < 3; e++) {
        desired_state *ds = build(examples[e]);
        fake_host *f = calloc(desired_host_count(ds), sizeof(*f));
        live_host lh[3];
        plan *p;

        for (size_t h = 0; h < desired_host_count(ds); h++) {
            fake_converged(&f[h], desired_host_at(ds, h));
            /* other tenants' and unmanaged containers are never touched */
            fake_add(
                &f[h], "oml-other-server", "docker.io/x:1", LIVE_STATE_EXITED,
                (const char *const[]){"omlop.io/managed-by=omlop", "omlop.io/tenant=other", NULL});
            fake_add(&f[h], "random", "docker.io/busybox:1", LIVE_STATE_EXITED, NULL);
            lh[h] = as_live(&f[h]);
        }
        p = compute(ds, lh, desired_host_count(ds));
        if (plan_count(p) != 0) {
            strbuf sb = STRBUF_INIT;

            plan_format(p, &sb);
            fail_msg("%s: not converged:\n%s", examples[e], strbuf_str(&sb));
        }
        plan_free(p);
        free(f);
        desired_free(ds);
    }
}

static void test_plan_fresh_host_pulls_first_then_creates_in_order(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    live_host lh = {dh->name, NULL, 0, NULL, 0, NULL, 0, NULL, 0, LIVE_HA_ACTIVE, NULL};
    plan *p = compute(ds, &lh, 1);
    size_t pulls = 0, creates = 0, omlapp_pulls = 0;
    int last_order = -1;

    (void)state;
    for (size_t i = 0; i < plan_count(p); i++) {
        const plan_action *a = plan_at(p, i);

        if (a->kind == PLAN_PULL) {
            assert_int_equal(creates, 0); /* every pull before any create */
            pulls++;
            if (strstr(a->image, "/omlapp:"))
                omlapp_pulls++;
            continue;
        }
        assert_int_equal(a->kind, PLAN_CREATE);
        assert_string_equal(a->reason, "missing");
        assert_true(a->order > last_order);
        assert_true(a->wait_ready);
        assert_false(a->is_serial);
        assert_non_null(a->desired);
        assert_string_equal(a->image, a->desired->image);
        last_order = a->order;
        creates++;
    }
    assert_int_equal(creates, dh->n_containers);
    /* uwsgi, daphne and cron share the omlapp image: one pull */
    assert_int_equal(omlapp_pulls, 1);
    assert_int_equal(pulls, dh->n_containers - 2);
    assert_string_equal(plan_at(p, pulls)->container, "oml-minio-server");
    assert_string_equal(plan_at(p, plan_count(p) - 1)->container, "oml-prometheus-server");
    plan_free(p);
    desired_free(ds);
}

static void test_plan_cluster_orders_across_hosts(void **state)
{
    desired_state *ds = build("tenant-cluster.yaml");
    live_host lh[3];
    plan *p;
    strbuf sb = STRBUF_INIT;
    fake_host *f = calloc(3, sizeof(*f));

    (void)state;
    /* images present everywhere, no containers: creates only, data before voice before app */
    for (size_t h = 0; h < 3; h++) {
        const desired_host *dh = desired_host_at(ds, h);

        fake_converged(&f[h], dh);
        for (size_t i = 0; i < dh->n_containers; i++)
            fake_drop(&f[h], dh->containers[i].name);
        lh[h] = as_live(&f[h]);
    }
    p = compute(ds, lh, 3);
    summary(p, &sb);
    assert_string_equal(
        strbuf_str(&sb),
        "create oml-minio-server; create oml-postgresql-server; create oml-redis-server; "
        "create oml-rabbitmq-server; create oml-rtpengine-server; create oml-fastagi-server; "
        "create oml-asterisk-server; create oml-asterisk-retrieve-conf; "
        "create oml-kamailio-server; create oml-ami-server; create oml-websockets-server; "
        "create oml-daphne-server; create oml-uwsgi-server; "
        "create oml-interaction_processor-server; create oml-nginx-server; "
        "create oml-cron-server; create oml-prometheus-node; create oml-prometheus-node; "
        "create oml-prometheus-node; create oml-prometheus-podman; create oml-prometheus-podman; "
        "create oml-prometheus-podman; create oml-prometheus-postgres; "
        "create oml-prometheus-redis; create oml-prometheus-server");
    /* per-host exporters: hosts in spec order */
    assert_string_equal(plan_at(p, 16)->host, "data");
    assert_string_equal(plan_at(p, 17)->host, "voice");
    assert_string_equal(plan_at(p, 18)->host, "app");
    strbuf_release(&sb);
    plan_free(p);
    free(f);
    desired_free(ds);
}

/*
 * A fresh cluster: three hosts, none holding any image or container. Every host
 * must pull each image its own containers need, once: the node and Podman
 * exporters run on all three, so their images are pulled on all three (a pull
 * on one host puts nothing on another).
 */
static void test_plan_fresh_cluster_pulls_per_host(void **state)
{
    desired_state *ds = build("tenant-cluster.yaml");
    live_host lh[3];
    plan *p;

    (void)state;
    assert_int_equal(desired_host_count(ds), 3);
    for (size_t h = 0; h < 3; h++) {
        memset(&lh[h], 0, sizeof(lh[h]));
        lh[h].host = desired_host_at(ds, h)->name;
    }
    p = compute(ds, lh, 3);
    for (size_t h = 0; h < 3; h++) {
        const desired_host *dh = desired_host_at(ds, h);
        size_t n_distinct = 0, n_pulls = 0;

        for (size_t i = 0; i < dh->n_containers; i++) {
            const char *img = dh->containers[i].image;
            size_t n_here = 0, first_create = plan_count(p), pull_at = plan_count(p);
            int is_new = 1;

            for (size_t k = 0; k < i; k++)
                if (strcmp(dh->containers[k].image, img) == 0)
                    is_new = 0;
            n_distinct += is_new;
            for (size_t a = 0; a < plan_count(p); a++) {
                const plan_action *pa = plan_at(p, a);

                if (strcmp(pa->host, dh->name) != 0)
                    continue;
                if (pa->kind == PLAN_PULL && strcmp(pa->image, img) == 0) {
                    n_here++;
                    pull_at = a;
                }
                if (pa->kind == PLAN_CREATE && a < first_create &&
                    strcmp(pa->container, dh->containers[i].name) == 0)
                    first_create = a;
            }
            if (n_here != 1)
                fail_msg("host %s: %zu pulls of %s for %s, want 1", dh->name, n_here, img,
                         dh->containers[i].name);
            assert_true(pull_at < first_create); /* pulled on its host before its create */
        }
        for (size_t a = 0; a < plan_count(p); a++)
            n_pulls +=
                plan_at(p, a)->kind == PLAN_PULL && strcmp(plan_at(p, a)->host, dh->name) == 0;
        assert_int_equal(n_pulls, n_distinct);
        /* the per-host exporters are what makes a cross-host de-duplication show */
        assert_non_null(desired_host_find_container(dh, "oml-prometheus-node"));
    }
    plan_free(p);
    desired_free(ds);
}

/* Podman's fully qualified form of an image, as it reports containers and images. */
static void podman_name(const char *ref, char *out, size_t size)
{
    strbuf sb = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    if (imageref_normalize(ref, &sb, &err) < 0)
        fail_msg("%s", err.msg);
    snprintf(out, size, "%s", strbuf_str(&sb));
    strbuf_release(&sb);
}

/*
 * The catalog's short Docker Hub names (docker.io/postgres:14.9-bullseye) come
 * back from Podman as docker.io/library/postgres:14.9-bullseye, for the
 * container and for the image: converged is still converged, and an image
 * present under its long name is not pulled again.
 */
static void test_plan_podman_image_names_are_the_same_image(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    const desired_container *pg = desired_host_find_container(dh, "oml-postgresql-server");
    fake_host *f = calloc(1, sizeof(*f));
    live_host lh;
    plan *p;
    size_t n_short = 0;

    (void)state;
    assert_non_null(pg);
    assert_string_equal(pg->image, "docker.io/postgres:14.9-bullseye");
    fake_converged(f, dh);
    for (size_t i = 0; i < f->n; i++) {
        podman_name(f->images[i], f->images[i], sizeof(f->images[0]));
        n_short += strcmp(f->images[i], dh->containers[i].image) != 0;
    }
    for (size_t i = 0; i < f->n_images; i++)
        podman_name(f->image_store[i], f->image_store[i], sizeof(f->image_store[0]));
    assert_true(n_short >= 2); /* postgresql and rabbitmq at least */
    assert_string_equal(fake_find(f, "oml-postgresql-server")->image,
                        "docker.io/library/postgres:14.9-bullseye");
    lh = as_live(f);
    p = compute(ds, &lh, 1);
    assert_plan(p, "");
    plan_free(p);

    /* gone, its image still there under Podman's name: create, no pull */
    fake_drop(f, "oml-postgresql-server");
    fake_drop(f, "oml-rabbitmq-server");
    p = compute(ds, &lh, 1);
    assert_plan(p, "create oml-postgresql-server; create oml-rabbitmq-server");
    plan_free(p);

    /* a real upgrade is still one */
    fake_find(f, "oml-redis-server")->image = "docker.io/library/redis:6";
    p = compute(ds, &lh, 1);
    assert_plan(p, "create oml-postgresql-server; recreate oml-redis-server; "
                   "create oml-rabbitmq-server");
    plan_free(p);
    free(f);
    desired_free(ds);
}

typedef enum drift {
    DRIFT_MISSING,
    DRIFT_MISSING_NO_IMAGE,
    DRIFT_EXITED,
    DRIFT_PAUSED,
    DRIFT_CREATED,
    DRIFT_HASH,
    DRIFT_NO_HASH,
    DRIFT_IMAGE,
    DRIFT_IMAGE_NOT_PULLED,
    DRIFT_DEAD,
    DRIFT_REMOVING,
    DRIFT_IMAGE_GONE,
    DRIFT_UNMANAGED_SAME_NAME,
    DRIFT_OTHER_TENANT_SAME_NAME
} drift;

typedef struct drift_case {
    const char *what;
    drift kind;
    const char *want; /* plan summary */
    const char *reason;
    int is_serial;
} drift_case;

static void apply_drift(fake_host *f, const desired_container *d, drift kind)
{
    live_container *c = fake_find(f, d->name);

    switch (kind) {
    case DRIFT_MISSING:
        fake_drop(f, d->name);
        break;
    case DRIFT_MISSING_NO_IMAGE:
        fake_drop(f, d->name);
        fake_remove_image(f, d->image);
        break;
    case DRIFT_EXITED:
        c->state = LIVE_STATE_EXITED;
        c->exit_code = 137;
        break;
    case DRIFT_PAUSED:
        c->state = LIVE_STATE_PAUSED;
        break;
    case DRIFT_CREATED:
        c->state = LIVE_STATE_CREATED;
        break;
    case DRIFT_HASH:
        set_label(f, d->name, OMLOP_LABEL_SPEC_HASH, "0000");
        break;
    case DRIFT_NO_HASH:
        set_label(f, d->name, OMLOP_LABEL_SPEC_HASH, "");
        break;
    case DRIFT_IMAGE:
        c->image = "docker.io/omnileads/nginx:230215.01";
        fake_add_image(f, c->image);
        break;
    case DRIFT_IMAGE_NOT_PULLED:
        c->image = "docker.io/omnileads/nginx:230215.01";
        fake_remove_image(f, d->image);
        fake_add_image(f, c->image);
        break;
    case DRIFT_DEAD:
        c->state = LIVE_STATE_DEAD;
        break;
    case DRIFT_REMOVING:
        c->state = LIVE_STATE_REMOVING;
        break;
    case DRIFT_IMAGE_GONE:
        c->is_image_present = 0;
        fake_remove_image(f, d->image);
        break;
    case DRIFT_UNMANAGED_SAME_NAME:
        c->n_labels = 0;
        break;
    case DRIFT_OTHER_TENANT_SAME_NAME:
        set_label(f, d->name, OMLOP_LABEL_TENANT, "someone-else");
        break;
    }
}

static void test_plan_each_drift_kind(void **state)
{
    static const drift_case cases[] = {
        {"removed", DRIFT_MISSING, "create oml-nginx-server", "missing", 0},
        {"removed with its image", DRIFT_MISSING_NO_IMAGE,
         "pull docker.io/omnileads/nginx:241009.01; create oml-nginx-server", "missing", 0},
        {"killed", DRIFT_EXITED, "start oml-nginx-server", "container died (exit code 137)", 0},
        {"paused", DRIFT_PAUSED, "start oml-nginx-server", "container paused", 0},
        {"created only", DRIFT_CREATED, "start oml-nginx-server",
         "container created but not started", 0},
        {"edited by hand", DRIFT_HASH, "recreate oml-nginx-server", "spec changed", 1},
        {"hash label lost", DRIFT_NO_HASH, "recreate oml-nginx-server", "spec changed", 1},
        {"other image", DRIFT_IMAGE, "recreate oml-nginx-server",
         "image changed from docker.io/omnileads/nginx:230215.01 to "
         "docker.io/omnileads/nginx:241009.01",
         1},
        {"upgrade, new tag not pulled", DRIFT_IMAGE_NOT_PULLED,
         "pull docker.io/omnileads/nginx:241009.01; recreate oml-nginx-server", NULL, 1},
        {"dead", DRIFT_DEAD, "recreate oml-nginx-server", "container dead", 1},
        {"being removed", DRIFT_REMOVING, "", NULL, 0},
        {"image removed under a running container", DRIFT_IMAGE_GONE,
         "pull docker.io/omnileads/nginx:241009.01", "image missing on host", 0},
        {"name taken by an unmanaged container", DRIFT_UNMANAGED_SAME_NAME,
         "blocked oml-nginx-server", "omlop does not manage", 0},
        {"name taken by another tenant", DRIFT_OTHER_TENANT_SAME_NAME, "blocked oml-nginx-server",
         "tenant someone-else's container", 0},
    };
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    const desired_container *nginx = desired_host_find_container(dh, "oml-nginx-server");

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const drift_case *dc = &cases[i];
        fake_host *f = calloc(1, sizeof(*f));
        live_host lh;
        plan *p;

        fake_converged(f, dh);
        apply_drift(f, nginx, dc->kind);
        lh = as_live(f);
        p = compute(ds, &lh, 1);
        {
            strbuf sb = STRBUF_INIT;

            summary(p, &sb);
            if (strcmp(strbuf_str(&sb), dc->want) != 0)
                fail_msg("%s:\n got: %s\nwant: %s", dc->what, strbuf_str(&sb), dc->want);
            strbuf_release(&sb);
        }
        if (plan_count(p) > 0) {
            const plan_action *last = plan_at(p, plan_count(p) - 1);

            if (dc->reason && !strstr(last->reason, dc->reason))
                fail_msg("%s: reason \"%s\" lacks \"%s\"", dc->what, last->reason, dc->reason);
            assert_int_equal(last->is_serial, dc->is_serial);
            assert_string_equal(last->host, "algarrobo");
            if (last->kind == PLAN_START || last->kind == PLAN_RECREATE)
                assert_string_equal(last->container_id, fake_find(f, "oml-nginx-server")->id);
            if (dc->kind == DRIFT_PAUSED)
                assert_int_equal(last->from_state, LIVE_STATE_PAUSED);
            if (last->kind == PLAN_RECREATE)
                assert_string_equal(last->image, nginx->image);
        }
        plan_free(p);
        free(f);
    }
    desired_free(ds);
}

static void test_plan_orphans_removed_others_untouched(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    fake_host *f = calloc(1, sizeof(*f));
    live_host lh;
    plan *p;

    (void)state;
    fake_converged(f, dh);
    /* ours, no longer desired (e.g. promtail after lokiURL was removed) */
    fake_add(f, "oml-promtail-server", "docker.io/grafana/promtail:latest", LIVE_STATE_RUNNING,
             (const char *const[]){"omlop.io/managed-by=omlop", "omlop.io/tenant=algarrobo",
                                   "omlop.io/component=promtail", NULL});
    /* a hand-made container carrying our labels */
    fake_add(f, "sneaky", "docker.io/busybox:1", LIVE_STATE_RUNNING,
             (const char *const[]){"omlop.io/managed-by=omlop", "omlop.io/tenant=algarrobo", NULL});
    /* another tenant's, and one with our tenant label but not managed by omlop */
    fake_add(f, "oml-x-server", "docker.io/x:1", LIVE_STATE_RUNNING,
             (const char *const[]){"omlop.io/managed-by=omlop", "omlop.io/tenant=other", NULL});
    fake_add(f, "lookalike", "docker.io/x:1", LIVE_STATE_RUNNING,
             (const char *const[]){"omlop.io/tenant=algarrobo", NULL});
    /* and a drift, so removals are seen to come last */
    fake_find(f, "oml-asterisk-server")->state = LIVE_STATE_EXITED;
    lh = as_live(f);
    p = compute(ds, &lh, 1);
    assert_plan(p, "start oml-asterisk-server; remove oml-promtail-server; remove sneaky");
    assert_string_equal(plan_at(p, 1)->reason, "no longer desired on this host (orphan)");
    assert_string_equal(plan_at(p, 1)->component, "promtail");
    assert_null(plan_at(p, 1)->desired);
    assert_string_equal(plan_at(p, 2)->container_id, fake_find(f, "sneaky")->id);
    plan_free(p);
    free(f);
    desired_free(ds);
}

static void test_plan_hosts_outside_spec_and_unobserved(void **state)
{
    desired_state *ds = build("tenant-cluster.yaml");
    fake_host *f = calloc(2, sizeof(*f));
    live_host lh[2];
    plan *p;

    (void)state;
    /* voice and app not observed this round; data converged; an old host still has ours */
    fake_converged(&f[0], desired_host_at(ds, 0));
    snprintf(f[1].host, sizeof(f[1].host), "retired");
    fake_add(&f[1], "oml-redis-server", "docker.io/omnileads/redis:231125.01", LIVE_STATE_RUNNING,
             (const char *const[]){"omlop.io/managed-by=omlop", "omlop.io/tenant=tenant-mr-x",
                                   "omlop.io/component=redis", NULL});
    fake_add(&f[1], "oml-other", "docker.io/x:1", LIVE_STATE_RUNNING,
             (const char *const[]){"omlop.io/managed-by=omlop", "omlop.io/tenant=t2", NULL});
    lh[0] = as_live(&f[0]);
    lh[1] = as_live(&f[1]);
    p = compute(ds, lh, 2);
    assert_plan(p, "remove oml-redis-server");
    assert_string_equal(plan_at(p, 0)->host, "retired");
    assert_string_equal(plan_at(p, 0)->reason, "host no longer in the tenant's spec (orphan)");
    plan_free(p);
    free(f);
    desired_free(ds);
}

static void test_plan_upgrade_recreates_only_changed_in_order(void **state)
{
    /* Live runs the old tags; the spec moved asterisk and nginx: only those two recreate,
     * serially, asterisk first (start order), after both pulls. */
    json_object *t = example("tenant-aio.yaml");
    desired_options opts = {fixed_ip, NULL, 0, NULL};
    omlop_err err = OMLOP_ERR_INIT;
    desired_state *old_ds = NULL, *new_ds = NULL;
    fake_host *f = calloc(1, sizeof(*f));
    live_host lh;
    plan *p;

    (void)state;
    assert_int_equal(desired_build(t, &opts, &old_ds, &err), 0);
    json_object_object_add(
        json_object_object_get(json_object_object_get(json_object_object_get(t, "spec"), "images"),
                               "tags"),
        "asterisk", json_object_new_string("250101.01"));
    json_object_object_add(
        json_object_object_get(json_object_object_get(json_object_object_get(t, "spec"), "images"),
                               "tags"),
        "nginx", json_object_new_string("250101.02"));
    assert_int_equal(desired_build(t, &opts, &new_ds, &err), 0);
    fake_converged(f, desired_host_at(old_ds, 0));
    lh = as_live(f);
    p = compute(new_ds, &lh, 1);
    assert_plan(p, "pull docker.io/omnileads/asterisk:250101.01; "
                   "pull docker.io/omnileads/nginx:250101.02; recreate oml-asterisk-server; "
                   "recreate oml-nginx-server");
    assert_true(plan_at(p, 2)->is_serial);
    assert_true(plan_at(p, 3)->is_serial);
    assert_true(plan_at(p, 2)->wait_ready);
    plan_free(p);

    /* rollback: the old spec against the new live state */
    fake_converged(f, desired_host_at(new_ds, 0));
    lh = as_live(f);
    p = compute(old_ds, &lh, 1);
    assert_plan(p, "pull docker.io/omnileads/asterisk:240102.01; "
                   "pull docker.io/omnileads/nginx:241009.01; recreate oml-asterisk-server; "
                   "recreate oml-nginx-server");
    plan_free(p);
    free(f);
    desired_free(old_ds);
    desired_free(new_ds);
    json_object_put(t);
}

/*
 * Host files: a missing or differing file is written before its container's
 * own action; a matching or unobserved one is not; an env-hash label that
 * differs from the env file's digest recreates the container (a rotated
 * Secret), one without the label does not.
 */
static void test_plan_files_and_env_hash(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    const desired_container *nginx = desired_host_find_container(dh, "oml-nginx-server");
    const desired_container *redis = desired_host_find_container(dh, "oml-redis-server");
    fake_host *f = calloc(1, sizeof(*f));
    live_file files[3];
    live_host lh;
    plan *p;

    (void)state;
    assert_non_null(nginx);
    assert_non_null(redis);
    fake_converged(f, dh);
    memset(files, 0, sizeof(files));
    files[0] = (live_file){nginx->env_file, nginx->name, "aaaa", "", 1};     /* missing */
    files[1] = (live_file){redis->env_file, redis->name, "bbbb", "bbbb", 1}; /* as written */
    files[2] = (live_file){"/etc/x.yml", redis->name, "cccc", NULL, 0};      /* not observed */
    lh = as_live(f);
    lh.files = files;
    lh.n_files = 3;
    p = compute(ds, &lh, 1);
    assert_int_equal(plan_count(p), 1);
    assert_int_equal(plan_at(p, 0)->kind, PLAN_WRITE);
    assert_string_equal(plan_at(p, 0)->path, nginx->env_file);
    assert_string_equal(plan_at(p, 0)->container, "oml-nginx-server");
    assert_string_equal(plan_at(p, 0)->reason, "missing");
    plan_free(p);

    /* edited by hand, and nginx's container carries an older env digest */
    files[0].live_sha256 = "zzzz";
    add_label(f, "oml-nginx-server", "omlop.io/env-hash", "old");
    p = compute(ds, &lh, 1);
    assert_int_equal(plan_count(p), 2);
    assert_int_equal(plan_at(p, 0)->kind, PLAN_WRITE);
    assert_string_equal(plan_at(p, 0)->reason, "content differs from what omlop wrote");
    assert_int_equal(plan_at(p, 1)->kind, PLAN_RECREATE);
    assert_string_equal(plan_at(p, 1)->container, "oml-nginx-server");
    assert_non_null(strstr(plan_at(p, 1)->reason, "a Secret it reads changed"));
    plan_free(p);

    /* the digest matches: nothing but the write */
    set_label(f, "oml-nginx-server", "omlop.io/env-hash", "aaaa");
    p = compute(ds, &lh, 1);
    assert_int_equal(plan_count(p), 1);
    assert_int_equal(plan_at(p, 0)->kind, PLAN_WRITE);
    plan_free(p);
    free(f);
    desired_free(ds);
}

/*
 * Two tenants on one host: host file paths are per component, so the files of
 * a component whose container another tenant holds are that tenant's. The
 * plan blocks the component, names the other tenant and writes none of its
 * files; a component nobody holds gets its files and its container.
 */
static void test_plan_files_of_another_tenants_component_are_left_alone(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    fake_host *f = calloc(1, sizeof(*f));
    live_file *files = calloc(dh->n_containers, sizeof(*files));
    size_t n_files = 0, n_blocked = 0;
    live_host lh;
    plan *p;

    (void)state;
    fake_converged(f, dh);
    for (size_t i = 0; i < dh->n_containers; i++) {
        const desired_container *c = &dh->containers[i];

        set_label(f, c->name, OMLOP_LABEL_TENANT, "tenant-a");
        if (c->env_file) /* tenant A's file holds A's values: not what B renders */
            files[n_files++] = (live_file){c->env_file, c->name, "b-digest", "a-digest", 1};
    }
    assert_true(n_files >= 10);
    lh = as_live(f);
    lh.files = files;
    lh.n_files = n_files;
    p = compute(ds, &lh, 1);
    for (size_t i = 0; i < plan_count(p); i++) {
        const plan_action *a = plan_at(p, i);

        if (a->kind != PLAN_BLOCKED)
            fail_msg("%s %s on another tenant's host", plan_kind_name(a->kind),
                     a->path ? a->path : a->container);
        assert_non_null(strstr(a->reason, "taken by tenant tenant-a's container"));
        assert_non_null(strstr(a->reason, "host files are left to tenant tenant-a"));
        n_blocked++;
    }
    assert_int_equal(n_blocked, dh->n_containers);
    plan_free(p);

    /* A's redis went away: B may take that component, files first */
    fake_drop(f, "oml-redis-server");
    p = compute(ds, &lh, 1);
    n_blocked = 0;
    for (size_t i = 0; i < plan_count(p); i++) {
        const plan_action *a = plan_at(p, i);

        if (a->kind == PLAN_BLOCKED) {
            n_blocked++;
            continue;
        }
        /* the write goes first (i == 0), the create takes its place in start order */
        assert_string_equal(a->container, "oml-redis-server");
        assert_int_equal(a->kind, i == 0 ? PLAN_WRITE : PLAN_CREATE);
    }
    assert_int_equal(n_blocked, dh->n_containers - 1);
    assert_int_equal(plan_at(p, 0)->kind, PLAN_WRITE);
    assert_string_equal(plan_at(p, 0)->path,
                        desired_host_find_container(dh, "oml-redis-server")->env_file);
    plan_free(p);
    free(files);
    free(f);
    desired_free(ds);
}

/*
 * A host that never ran OMniLeads has no /etc/omnileads/certs, and Podman
 * refuses a bind mount of a missing source: the plan makes it (once, though
 * kamailio and nginx both mount it) after the pulls and before any create. A
 * present or unobserved directory is not made; nor one whose components another
 * tenant holds.
 */
static void test_plan_fresh_host_makes_bind_dirs_before_creates(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    const desired_container *kam = desired_host_find_container(dh, "oml-kamailio-server");
    live_dir dirs[1] = {{"/etc/omnileads/certs", 0}};
    live_host lh = {dh->name, NULL, 0, NULL, 0, NULL, 0, dirs, 1, LIVE_HA_ACTIVE, NULL};
    fake_host *f = calloc(1, sizeof(*f));
    size_t n_mkdir = 0, first_create = 0, mkdir_at = 0, n_pulls = 0;
    plan *p = compute(ds, &lh, 1);
    strbuf sb = STRBUF_INIT;

    (void)state;
    assert_non_null(kam);
    for (size_t v = 0; v < kam->n_volumes; v++)
        if (strcmp(kam->volumes[v].source, "/etc/omnileads/certs") == 0)
            assert_int_equal(kam->volumes[v].dir_mode, 0755);
    for (size_t i = 0; i < plan_count(p); i++) {
        const plan_action *a = plan_at(p, i);

        n_pulls += a->kind == PLAN_PULL;
        if (a->kind == PLAN_MKDIR) {
            n_mkdir++;
            mkdir_at = i;
            assert_string_equal(a->path, "/etc/omnileads/certs");
            assert_int_equal(a->mode, 0755);
            assert_string_equal(a->container, "oml-kamailio-server");
        }
        if (a->kind == PLAN_CREATE && !first_create)
            first_create = i;
    }
    assert_int_equal(n_mkdir, 1);
    assert_int_equal(mkdir_at, n_pulls); /* right after the pulls */
    assert_true(mkdir_at < first_create);
    plan_format(p, &sb);
    assert_non_null(strstr(strbuf_str(&sb), "host algarrobo: mkdir /etc/omnileads/certs (for "
                                            "oml-kamailio-server): missing (a bind mount's "
                                            "source)\n"));
    strbuf_release(&sb);
    plan_free(p);

    /* converged with the directory there, or not looked at: nothing */
    fake_converged(f, dh);
    lh = as_live(f);
    lh.dirs = dirs;
    lh.n_dirs = 1;
    dirs[0].is_present = 1;
    p = compute(ds, &lh, 1);
    assert_plan(p, "");
    plan_free(p);
    dirs[0].is_present = 0;
    lh.n_dirs = 0;
    p = compute(ds, &lh, 1);
    assert_plan(p, "");
    plan_free(p);
    /* missing under running containers (removed by hand): made again */
    lh.n_dirs = 1;
    p = compute(ds, &lh, 1);
    assert_plan(p, "mkdir oml-kamailio-server");
    plan_free(p);
    /* kamailio and nginx held by another tenant: their directory is that tenant's business */
    set_label(f, "oml-kamailio-server", OMLOP_LABEL_TENANT, "tenant-a");
    set_label(f, "oml-nginx-server", OMLOP_LABEL_TENANT, "tenant-a");
    p = compute(ds, &lh, 1);
    assert_plan(p, "blocked oml-kamailio-server; blocked oml-nginx-server");
    plan_free(p);
    free(f);
    desired_free(ds);
}

static void test_plan_rejects_duplicate_hosts(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    live_host lh[2] = {{"algarrobo", NULL, 0, NULL, 0, NULL, 0, NULL, 0, LIVE_HA_ACTIVE, NULL},
                       {"algarrobo", NULL, 0, NULL, 0, NULL, 0, NULL, 0, LIVE_HA_ACTIVE, NULL}};
    omlop_err err = OMLOP_ERR_INIT;
    plan *p = NULL;

    (void)state;
    assert_int_equal(plan_compute(ds, lh, 2, &p, &err), OMLOP_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "algarrobo listed twice"));
    desired_free(ds);
}

static void test_plan_format_lines(void **state)
{
    desired_state *ds = build("tenant-aio.yaml");
    const desired_host *dh = desired_host_at(ds, 0);
    fake_host *f = calloc(1, sizeof(*f));
    strbuf sb = STRBUF_INIT;
    live_host lh;
    plan *p;

    (void)state;
    fake_converged(f, dh);
    set_label(f, "oml-nginx-server", OMLOP_LABEL_SPEC_HASH, "x");
    fake_find(f, "oml-redis-server")->state = LIVE_STATE_EXITED;
    fake_find(f, "oml-redis-server")->exit_code = 1;
    lh = as_live(f);
    p = compute(ds, &lh, 1);
    plan_format(p, &sb);
    assert_string_equal(strbuf_str(&sb),
                        "host algarrobo: start oml-redis-server: container died (exit code 1)\n"
                        "host algarrobo: recreate oml-nginx-server "
                        "(docker.io/omnileads/nginx:241009.01): spec changed [one at a time]\n");
    strbuf_release(&sb);
    plan_free(p);
    free(f);
    desired_free(ds);
}

static void test_plan_live_state_parse(void **state)
{
    static const struct {
        const char *in;
        live_state want;
    } cases[] = {
        {"running", LIVE_STATE_RUNNING}, {"Running", LIVE_STATE_RUNNING},
        {"exited", LIVE_STATE_EXITED},   {"stopped", LIVE_STATE_EXITED},
        {"created", LIVE_STATE_CREATED}, {"configured", LIVE_STATE_CREATED},
        {"paused", LIVE_STATE_PAUSED},   {"removing", LIVE_STATE_REMOVING},
        {"dead", LIVE_STATE_DEAD},       {"weird", LIVE_STATE_UNKNOWN},
        {NULL, LIVE_STATE_UNKNOWN},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(live_state_parse(cases[i].in), cases[i].want);
    assert_string_equal(live_state_name(LIVE_STATE_EXITED), "exited");
    assert_string_equal(plan_kind_name(PLAN_RECREATE), "recreate");
}

/* Layout ha: the active-only components follow the node holding the OMniLeads VIP (live_ha). */
static const char *const ha_active_only[] = {"oml-asterisk-server", "oml-asterisk-retrieve-conf",
                                             "oml-ami-server",      "oml-uwsgi-server",
                                             "oml-nginx-server",    "oml-cron-server"};

static void ha_set_state(fake_host *f, live_state st)
{
    for (size_t i = 0; i < sizeof(ha_active_only) / sizeof(ha_active_only[0]); i++)
        fake_find(f, ha_active_only[i])->state = st;
}

static void test_plan_ha_active_only_follow_the_vip(void **state)
{
    desired_state *ds = build("tenant-ha.yaml");
    fake_host *f = calloc(2, sizeof(*f));
    live_host lh[2] = {{"aio-a", NULL, 0, NULL, 0, NULL, 0, NULL, 0, LIVE_HA_ACTIVE, "aio-a"},
                       {"aio-b", NULL, 0, NULL, 0, NULL, 0, NULL, 0, LIVE_HA_STANDBY, "aio-a"}};
    size_t n_no_start = 0;
    plan *p;

    (void)state;
    /* fresh nodes: everything created; on the standby the active-only ones are not started */
    p = compute(ds, lh, 2);
    for (size_t i = 0; i < plan_count(p); i++) {
        const plan_action *a = plan_at(p, i);
        int is_ao = a->desired && a->desired->is_ha_active_only;

        if (a->kind != PLAN_CREATE)
            continue;
        if (strcmp(a->host, "aio-b") == 0 && is_ao) {
            assert_true(a->is_no_start);
            assert_false(a->wait_ready);
            assert_string_equal(a->reason, "missing (not started: the OMniLeads VIP is on aio-a)");
            n_no_start++;
        } else {
            assert_false(a->is_no_start);
            assert_true(a->wait_ready);
        }
    }
    assert_int_equal(n_no_start, 6);
    plan_free(p);

    /* both run them: the standby's are stopped, nothing else */
    fake_converged(&f[0], desired_host_at(ds, 0));
    fake_converged(&f[1], desired_host_at(ds, 1));
    lh[0] = as_live(&f[0]);
    lh[1] = as_live(&f[1]);
    lh[1].ha = LIVE_HA_STANDBY;
    lh[1].ha_active = "aio-a";
    p = compute(ds, lh, 2);
    assert_plan(p,
                "stop oml-asterisk-server; stop oml-asterisk-retrieve-conf; stop oml-ami-server; "
                "stop oml-uwsgi-server; stop oml-nginx-server; stop oml-cron-server");
    assert_string_equal(plan_at(p, 0)->host, "aio-b");
    assert_string_equal(plan_at(p, 0)->reason, "active-only: the OMniLeads VIP is on aio-a");
    plan_free(p);

    /* stopped there: converged; the active node still restarts one that died */
    ha_set_state(&f[1], LIVE_STATE_EXITED);
    p = compute(ds, lh, 2);
    assert_plan(p, "");
    plan_free(p);
    fake_find(&f[0], "oml-nginx-server")->state = LIVE_STATE_EXITED;
    p = compute(ds, lh, 2);
    assert_plan(p, "start oml-nginx-server");
    assert_string_equal(plan_at(p, 0)->host, "aio-a");
    plan_free(p);
    fake_find(&f[0], "oml-nginx-server")->state = LIVE_STATE_RUNNING;

    /* a changed spec on the standby: recreated, still not started */
    set_label(&f[1], "oml-asterisk-server", OMLOP_LABEL_SPEC_HASH, "0000");
    p = compute(ds, lh, 2);
    assert_plan(p, "recreate oml-asterisk-server");
    assert_true(plan_at(p, 0)->is_no_start);
    assert_non_null(strstr(plan_at(p, 0)->reason, "spec changed (not started: "));
    plan_free(p);
    set_label(
        &f[1], "oml-asterisk-server", OMLOP_LABEL_SPEC_HASH,
        desired_host_find_container(desired_host_at(ds, 1), "oml-asterisk-server")->spec_hash);

    /* nobody holds the VIP: keepalived decides, omlop neither starts nor stops */
    lh[0].ha = lh[1].ha = LIVE_HA_UNDECIDED;
    lh[0].ha_active = lh[1].ha_active = NULL;
    p = compute(ds, lh, 2); /* running on a, exited on b */
    assert_plan(p, "");
    plan_free(p);
    ha_set_state(&f[0], LIVE_STATE_CREATED);
    p = compute(ds, lh, 2);
    assert_plan(p, "");
    plan_free(p);

    /* the VIP moved to b while omlopd was away: b starts them, a stops them */
    lh[0].ha = LIVE_HA_STANDBY;
    lh[1].ha = LIVE_HA_ACTIVE;
    lh[0].ha_active = lh[1].ha_active = "aio-b";
    ha_set_state(&f[0], LIVE_STATE_RUNNING);
    p = compute(ds, lh, 2);
    assert_plan(p, "stop oml-asterisk-server; start oml-asterisk-server; "
                   "stop oml-asterisk-retrieve-conf; start oml-asterisk-retrieve-conf; "
                   "stop oml-ami-server; start oml-ami-server; stop oml-uwsgi-server; "
                   "start oml-uwsgi-server; stop oml-nginx-server; start oml-nginx-server; "
                   "stop oml-cron-server; start oml-cron-server");
    assert_string_equal(plan_at(p, 0)->host, "aio-a");
    assert_string_equal(plan_at(p, 1)->host, "aio-b");
    plan_free(p);

    free(f);
    desired_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_converged_is_empty),
        cmocka_unit_test(test_plan_fresh_host_pulls_first_then_creates_in_order),
        cmocka_unit_test(test_plan_cluster_orders_across_hosts),
        cmocka_unit_test(test_plan_fresh_cluster_pulls_per_host),
        cmocka_unit_test(test_plan_podman_image_names_are_the_same_image),
        cmocka_unit_test(test_plan_each_drift_kind),
        cmocka_unit_test(test_plan_orphans_removed_others_untouched),
        cmocka_unit_test(test_plan_hosts_outside_spec_and_unobserved),
        cmocka_unit_test(test_plan_upgrade_recreates_only_changed_in_order),
        cmocka_unit_test(test_plan_rejects_duplicate_hosts),
        cmocka_unit_test(test_plan_files_and_env_hash),
        cmocka_unit_test(test_plan_files_of_another_tenants_component_are_left_alone),
        cmocka_unit_test(test_plan_fresh_host_makes_bind_dirs_before_creates),
        cmocka_unit_test(test_plan_format_lines),
        cmocka_unit_test(test_plan_live_state_parse),
        cmocka_unit_test(test_plan_ha_active_only_follow_the_vip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
