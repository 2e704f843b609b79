/*
 * Tests for reconcilers/tenant (one reconcile round) against a small stateful
 * fake of Podman's HTTP API on a unix socket and a real sqlite store: a first
 * round creates every component and reports Ready; a second round changes
 * nothing; a died container is started again and counted as a restart; a tag
 * that cannot be pulled degrades the tenant naming that component while the
 * others still run; a deleted tenant is torn down (through the finalizer:
 * containers, generated Secrets, with Purge the named volumes; an unreachable
 * host blocks it). The real Podman path is e2e/scenarios/30-aio-converge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clients/podman.h"
#include "clients/tunnel.h"
#include "crds/diag.h"
#include "crds/schema.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "operator/api_object.h"
#include "operator/events.h"
#include "operator/store.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant.h"
#include "reconcilers/tenant_lifecycle.h"
#include "reconcilers/tenant_status.h"
#include "unit-tests/fake_http.h"

#define MAX_CTRS 64
#define MAX_IMGS 64

typedef struct fctr {
    char name[128];
    char id[32];
    char image[256];
    char state[16];
    int exit_code;
    json_object *labels;
} fctr;

typedef struct fake {
    char dir[48];
    char path[96];
    int listen_fd;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock; /* protects everything below */
    fctr c[MAX_CTRS];
    size_t n;
    char images[MAX_IMGS][256];
    size_t n_images;
    char bad_image[256]; /* pulling this fails */
    int n_created, n_started, n_pulled, n_removed, n_unpaused, next_id;
    char removed_volumes[512]; /* "name name ..." of DELETE /volumes/<name> */
} fake;

typedef struct fixture {
    fake f;
    char data_dir[64];
    store *st;
    tunnel *tun;
    podman_client *pc;
    tenant_env env;
    events *ev;
    int is_host_down; /* host_get fails */
} fixture;

/* ---- the fake Podman ---------------------------------------------------------------------- */

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *body)
{
    char head[256];
    size_t n = body ? strlen(body) : 0;

    snprintf(head, sizeof(head),
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nLibpod-Api-Version: 4.3.1\r\n"
             "Content-Length: %zu\r\n\r\n",
             status, n);
    send_all(fd, head, strlen(head));
    if (n)
        send_all(fd, body, n);
}

static void url_decode(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (; *in && *in != '&' && o + 1 < size; in++) {
        unsigned v;

        if (*in == '%' && sscanf(in + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            in += 2;
        } else
            out[o++] = *in;
    }
    out[o] = '\0';
}

static fctr *find_ctr(fake *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->c[i].name, name) == 0 || strcmp(f->c[i].id, name) == 0)
            return &f->c[i];
    return NULL;
}

static int has_image(fake *f, const char *ref)
{
    for (size_t i = 0; i < f->n_images; i++)
        if (strcmp(f->images[i], ref) == 0)
            return 1;
    return 0;
}

static json_object *ctr_list_json(fake *f)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < f->n; i++) {
        json_object *e = json_object_new_object(), *names = json_object_new_array();

        json_object_array_add(names, json_object_new_string(f->c[i].name));
        json_object_object_add(e, "Id", json_object_new_string(f->c[i].id));
        json_object_object_add(e, "Names", names);
        json_object_object_add(e, "Image", json_object_new_string(f->c[i].image));
        json_object_object_add(e, "State", json_object_new_string(f->c[i].state));
        json_object_object_add(e, "ExitCode", json_object_new_int(f->c[i].exit_code));
        json_object_object_add(e, "Labels", json_object_get(f->c[i].labels));
        json_object_array_add(a, e);
    }
    return a;
}

static json_object *ctr_inspect_json(const fctr *c)
{
    json_object *o = json_object_new_object(), *st = json_object_new_object();
    json_object *cfg = json_object_new_object();

    json_object_object_add(o, "Id", json_object_new_string(c->id));
    json_object_object_add(o, "Name", json_object_new_string(c->name));
    json_object_object_add(o, "ImageName", json_object_new_string(c->image));
    json_object_object_add(st, "Status", json_object_new_string(c->state));
    json_object_object_add(st, "Running", json_object_new_boolean(!strcmp(c->state, "running")));
    json_object_object_add(st, "ExitCode", json_object_new_int(c->exit_code));
    json_object_object_add(o, "State", st);
    json_object_object_add(cfg, "Labels", json_object_get(c->labels));
    json_object_object_add(o, "Config", cfg);
    return o;
}

static void serve(fake *f, int fd, const char *method, const char *target, const char *body)
{
    const char *p = strstr(target, "/libpod/");
    char name[256], ref[256];
    json_object *o = NULL;
    fctr *c;

    pthread_mutex_lock(&f->lock);
    p = p ? p + 8 : target;
    if (strncmp(p, "_ping", 5) == 0) {
        respond(fd, 200, "OK");
    } else if (strncmp(p, "volumes/", 8) == 0 && strcmp(method, "DELETE") == 0) {
        const char *q = strchr(p + 8, '?');
        size_t used = strlen(f->removed_volumes);

        snprintf(f->removed_volumes + used, sizeof(f->removed_volumes) - used, "%.*s ",
                 (int)(q ? (size_t)(q - p - 8) : strlen(p + 8)), p + 8);
        respond(fd, 204, NULL);
    } else if (strncmp(p, "containers/json", 15) == 0) {
        o = ctr_list_json(f);
        respond(fd, 200, json_object_to_json_string(o));
    } else if (strncmp(p, "images/pull?reference=", 22) == 0) {
        url_decode(p + 22, ref, sizeof(ref));
        f->n_pulled++;
        if (strcmp(ref, f->bad_image) == 0)
            respond(fd, 200, "{\"error\":\"manifest unknown: no such tag\"}\n");
        else {
            if (!has_image(f, ref) && f->n_images < MAX_IMGS)
                snprintf(f->images[f->n_images++], sizeof(f->images[0]), "%s", ref);
            respond(fd, 200, "{\"stream\":\"pulling\\n\"}\n{\"id\":\"sha256:1\"}\n");
        }
    } else if (strncmp(p, "images/", 7) == 0 && strstr(p, "/exists")) {
        snprintf(ref, sizeof(ref), "%.*s", (int)(strstr(p, "/exists") - p - 7), p + 7);
        respond(fd, has_image(f, ref) ? 204 : 404,
                has_image(f, ref) ? NULL : "{\"cause\":\"no such image\",\"response\":404}");
    } else if (strcmp(p, "containers/create") == 0) {
        json_object *spec = json_tokener_parse(body);
        const char *n = cjson_get_string(spec, "name"), *img = cjson_get_string(spec, "image");

        if (!n || find_ctr(f, n) || f->n == MAX_CTRS) {
            respond(fd, 409, "{\"cause\":\"that name is already in use\",\"response\":409}");
        } else {
            c = &f->c[f->n++];
            memset(c, 0, sizeof(*c));
            snprintf(c->name, sizeof(c->name), "%s", n);
            snprintf(c->id, sizeof(c->id), "id%d", ++f->next_id);
            snprintf(c->image, sizeof(c->image), "%s", img ? img : "");
            snprintf(c->state, sizeof(c->state), "created");
            c->labels = json_object_get(cjson_get(spec, "labels"));
            if (!c->labels)
                c->labels = json_object_new_object();
            f->n_created++;
            snprintf(name, sizeof(name), "{\"Id\":\"%s\",\"Warnings\":[]}", c->id);
            respond(fd, 201, name);
        }
        json_object_put(spec);
    } else if (strncmp(p, "containers/", 11) == 0) {
        const char *rest = p + 11, *slash = strchr(rest, '/'), *q = strchr(rest, '?');
        size_t len = slash ? (size_t)(slash - rest) : q ? (size_t)(q - rest) : strlen(rest);

        snprintf(name, sizeof(name), "%.*s", (int)len, rest);
        c = find_ctr(f, name);
        if (!c) {
            respond(fd, 404, "{\"cause\":\"no such container\",\"response\":404}");
        } else if (strcmp(method, "DELETE") == 0) {
            json_object_put(c->labels);
            *c = f->c[--f->n];
            f->n_removed++;
            respond(fd, 200, "[]");
        } else if (slash && strncmp(slash, "/unpause", 8) == 0) {
            if (strcmp(c->state, "paused") != 0) {
                respond(fd, 500, "{\"cause\":\"container state improper\",\"response\":500}");
            } else {
                snprintf(c->state, sizeof(c->state), "running");
                f->n_unpaused++;
                respond(fd, 204, NULL);
            }
        } else if (slash && strncmp(slash, "/start", 6) == 0) {
            if (strcmp(c->state, "paused") == 0) { /* as Podman: start does not resume */
                respond(fd, 500, "{\"cause\":\"container state improper\",\"response\":500}");
                pthread_mutex_unlock(&f->lock);
                return;
            }
            snprintf(c->state, sizeof(c->state), "running");
            f->n_started++;
            respond(fd, 204, NULL);
        } else if (slash && strncmp(slash, "/stop", 5) == 0) {
            snprintf(c->state, sizeof(c->state), "exited");
            respond(fd, 204, NULL);
        } else if (slash && strncmp(slash, "/json", 5) == 0) {
            o = ctr_inspect_json(c);
            respond(fd, 200, json_object_to_json_string(o));
        } else
            respond(fd, 404, "{\"cause\":\"no such route\",\"response\":404}");
    } else {
        respond(fd, 404, "{\"cause\":\"no such route\",\"response\":404}");
    }
    pthread_mutex_unlock(&f->lock);
    json_object_put(o);
}

static void *fake_main(void *arg)
{
    fake *f = arg;

    while (!atomic_load(&f->stop)) {
        struct pollfd p = {f->listen_fd, POLLIN, 0};
        strbuf in = STRBUF_INIT, body = STRBUF_INIT;
        char method[16], target[1024];
        int fd;

        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        while (fake_http_read_request(&f->stop, fd, &in, method, target, &body) == 0)
            serve(f, fd, method, target, strbuf_str(&body));
        close(fd);
        strbuf_release(&in);
        strbuf_release(&body);
    }
    return NULL;
}

/* ---- fixture ------------------------------------------------------------------------------ */

static const char tenant_json[] =
    "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Tenant\","
    "\"metadata\":{\"name\":\"t1\",\"uid\":\"u-1\",\"generation\":1},"
    "\"spec\":{\"layout\":\"aio\",\"hosts\":[{\"name\":\"h1\",\"lanIP\":\"10.0.0.5\","
    "\"ssh\":{\"address\":\"10.0.0.5\",\"identitySecretRef\":{\"name\":\"t1-ssh\"}}}],"
    "\"network\":{\"infraEnv\":\"lan\",\"fqdn\":\"t1.example.com\"},"
    "\"observability\":{\"enabled\":false},"
    "\"images\":{\"registry\":\"reg.test:5000\"}}}";

static int host_get(void *ctx, const tenant_host_access *a, podman_client **out,
                    tenant_host_info *info, omlop_err *err)
{
    fixture *fx = ctx;

    if (fx->is_host_down)
        return omlop_err_set(err, OMLOP_EUNAVAIL, "host h1: ssh 10.0.0.5:22: connection refused");
    assert_string_equal(a->host, "h1");
    assert_string_equal(a->address, "10.0.0.5");
    assert_string_equal(a->identity, "KEY"); /* resolved from the Secret's stringData */
    snprintf(info->fingerprint, sizeof(info->fingerprint), "SHA256:test");
    *out = fx->pc;
    return 0;
}

static void put_object(store *st, const char *key, json_object *obj)
{
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    api_object_store_text(obj, &text);
    if (store_create(st, key, text.buf, text.len, NULL, &err) < 0)
        fail_msg("store_create %s: %s", key, err.msg);
    strbuf_release(&text);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    struct sockaddr_un sa;
    store_options so;
    omlop_err err = OMLOP_ERR_INIT;
    schema_set *set = NULL;
    diag_list *dl = diag_list_new();
    json_object *raw = json_tokener_parse(tenant_json), *decoded = NULL, *secret;
    fake *f = &fx->f;

    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    snprintf(f->dir, sizeof(f->dir), "/tmp/omlop-tenantrec-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/podman.sock", f->dir);
    snprintf(fx->data_dir, sizeof(fx->data_dir), "%s/data", f->dir);
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->listen_fd, 16), 0);
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);

    store_options_default(&so);
    so.data_dir = fx->data_dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &fx->st, &err) < 0)
        fail_msg("store: %s", err.msg);
    if (schema_set_new_builtin(&set, &err) < 0)
        fail_msg("schema: %s", err.msg);
    if (schema_set_decode_json(set, raw, &decoded, dl) < 0)
        fail_msg("the test tenant does not decode (%zu problems)", diag_list_count(dl));
    put_object(fx->st, TENANT_KEY_PREFIX "t1", decoded);
    secret = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                                "\"metadata\":{\"name\":\"t1-ssh\"},"
                                "\"stringData\":{\"ssh-privatekey\":\"KEY\"}}");
    put_object(fx->st, SECRETS_KEY_PREFIX "t1-ssh", secret);
    json_object_put(secret);
    json_object_put(raw);
    json_object_put(decoded);
    schema_set_free(set);
    diag_list_free(dl);

    if (tunnel_new_local(f->path, &fx->tun, &err) < 0 ||
        podman_client_new(fx->tun, &fx->pc, &err) < 0)
        fail_msg("client: %s", err.msg);
    fx->env.st = fx->st;
    fx->env.host_get = host_get;
    fx->env.host_ctx = fx;
    fx->env.ready_timeout_ms = 2000;
    if (events_new(fx->st, NULL, "omlopd", &fx->ev, &err) < 0)
        fail_msg("events: %s", err.msg);
    fx->env.ev = fx->ev;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    fake *f = &fx->f;
    char cmd[160];

    podman_client_free(fx->pc);
    tunnel_free(fx->tun);
    events_free(fx->ev);
    store_close(fx->st);
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    for (size_t i = 0; i < f->n; i++)
        json_object_put(f->c[i].labels);
    pthread_mutex_destroy(&f->lock);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static json_object *stored_tenant(fixture *fx)
{
    store_kv kv = {0};
    omlop_err err = OMLOP_ERR_INIT;
    json_object *o;

    if (store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err) < 0)
        fail_msg("store_get: %s", err.msg);
    o = api_object_parse(kv.value, kv.value_len);
    store_kv_release(&kv);
    assert_non_null(o);
    return o;
}

/* A label value (label keys hold dots, so no dotted-path getter). */
static const char *label(json_object *labels, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(labels, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static const char *cond_status(const json_object *t, const char *type)
{
    return cjson_get_string(tenant_condition_find(cjson_get(t, "status"), type), "status");
}

static json_object *status_component(const json_object *t, const char *name)
{
    json_object *h = json_object_array_get_idx(cjson_get(t, "status.hosts"), 0);
    json_object *cs = cjson_get(h, "components");

    for (size_t i = 0; cs && i < json_object_array_length(cs); i++)
        if (strcmp(cjson_get_string(json_object_array_get_idx(cs, i), "name"), name) == 0)
            return json_object_array_get_idx(cs, i);
    return NULL;
}

static void reconcile_ok(fixture *fx, tenant_result *res)
{
    omlop_err err = OMLOP_ERR_INIT;

    if (tenant_reconcile(&fx->env, "t1", res, &err) < 0)
        fail_msg("tenant_reconcile: %s", err.msg);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_reconcile_creates_everything_then_is_a_noop(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    size_t created;
    int64_t gen;

    reconcile_ok(fx, &res);
    assert_false(res.is_gone);
    created = (size_t)fx->f.n_created;
    assert_true(created >= 10);
    assert_int_equal(fx->f.n, created);
    for (size_t i = 0; i < fx->f.n; i++) {
        assert_string_equal(fx->f.c[i].state, "running");
        assert_string_equal(label(fx->f.c[i].labels, "omlop.io/tenant"), "t1");
        assert_string_equal(label(fx->f.c[i].labels, "omlop.io/managed-by"), "omlop");
        assert_non_null(label(fx->f.c[i].labels, "omlop.io/spec-hash"));
    }
    assert_true(fx->f.n_pulled > 0); /* nothing was on the host */
    t = stored_tenant(fx);
    gen = cjson_get_int(t, "metadata.generation", 0);
    assert_int_equal(gen, 1); /* the status write leaves the spec's generation alone */
    assert_int_equal(cjson_get_int(t, "status.observedGeneration", 0), 1);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_string_equal(cond_status(t, "HostsReachable"), "True");
    assert_string_equal(cond_status(t, "Progressing"), "True"); /* it just did work */
    assert_string_equal(cjson_get_string(json_object_array_get_idx(cjson_get(t, "status.hosts"), 0),
                                         "hostKeyFingerprint"),
                        "SHA256:test");
    assert_int_equal(json_object_array_length(cjson_get(
                         json_object_array_get_idx(cjson_get(t, "status.hosts"), 0), "components")),
                     created);
    json_object_put(t);
    /* generated Secrets exist now, with random values */
    {
        store_kv kv = {0};

        assert_int_equal(store_get(fx->st, SECRETS_KEY_PREFIX "t1-postgres", &kv, NULL), 0);
        assert_non_null(strstr(kv.value, "\"password\""));
        store_kv_release(&kv);
    }

    reconcile_ok(fx, &res);
    assert_true(res.is_converged);
    assert_int_equal(res.requeue_ms, 0);
    assert_int_equal((size_t)fx->f.n_created, created);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Progressing"), "False");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Ready");
    json_object_put(t);
}

static void test_reconcile_restarts_a_died_container(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;
    fctr *c;
    int started;

    reconcile_ok(fx, &res);
    pthread_mutex_lock(&fx->f.lock);
    c = find_ctr(&fx->f, "oml-nginx-server");
    assert_non_null(c);
    snprintf(c->state, sizeof(c->state), "exited");
    c->exit_code = 137;
    started = fx->f.n_started;
    pthread_mutex_unlock(&fx->f.lock);

    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_started, started + 1);
    assert_string_equal(find_ctr(&fx->f, "oml-nginx-server")->state, "running");
    t = stored_tenant(fx);
    assert_int_equal(cjson_get_int(status_component(t, "nginx"), "restarts", 0), 1);
    assert_non_null(cjson_get_string(status_component(t, "nginx"), "lastDriftRepaired"));
    assert_string_equal(cond_status(t, "Ready"), "True");
    json_object_put(t);
}

static void test_reconcile_bad_pull_degrades_only_that_component(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t;
    const char *msg;

    snprintf(fx->f.bad_image, sizeof(fx->f.bad_image), "reg.test:5000/omnileads/nginx:241009.01");
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0); /* retried with backoff */
    assert_non_null(strstr(err.msg, "nginx"));
    assert_null(find_ctr(&fx->f, "oml-nginx-server"));
    assert_non_null(find_ctr(&fx->f, "oml-redis-server"));
    assert_string_equal(find_ctr(&fx->f, "oml-redis-server")->state, "running");
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Degraded"), "True");
    msg = cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "message");
    assert_non_null(strstr(msg, "nginx"));
    assert_non_null(strstr(msg, "manifest unknown"));
    assert_string_equal(cond_status(t, "Ready"), "False");
    assert_string_equal(cjson_get_string(status_component(t, "nginx"), "state"), "Missing");
    assert_string_equal(cjson_get_string(t, "status.phase"), "Degraded");
    /* the live plan: what is still to do, on which host, and why it did not happen */
    {
        json_object *pl = cjson_get(t, "status.plan"), *pull = NULL, *create = NULL;

        assert_non_null(pl);
        for (size_t i = 0; i < json_object_array_length(pl); i++) {
            json_object *e = json_object_array_get_idx(pl, i);
            const char *act = cjson_get_string(e, "action");

            assert_string_equal(cjson_get_string(e, "host"), "h1");
            if (strcmp(act, "pull") == 0)
                pull = e;
            else if (strcmp(act, "create") == 0)
                create = e;
        }
        assert_int_equal(json_object_array_length(pl), 2); /* only nginx's pull and create */
        assert_non_null(pull);
        assert_string_equal(cjson_get_string(pull, "image"),
                            "reg.test:5000/omnileads/nginx:241009.01");
        assert_non_null(strstr(cjson_get_string(pull, "error"), "manifest unknown"));
        assert_non_null(create);
        assert_string_equal(cjson_get_string(create, "container"), "oml-nginx-server");
        assert_string_equal(cjson_get_string(create, "reason"), "missing");
    }
    json_object_put(t);

    fx->f.bad_image[0] = '\0'; /* the tag is fixed */
    reconcile_ok(fx, &res);
    assert_non_null(find_ctr(&fx->f, "oml-nginx-server"));
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_string_equal(cond_status(t, "Degraded"), "False");
    assert_null(cjson_get(t, "status.plan")); /* converged: nothing pending */
    json_object_put(t);
}

static void test_reconcile_removes_orphans_and_tears_down(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    fctr *c;

    reconcile_ok(fx, &res);
    /* a hand-made container carrying omlop's labels for this tenant is an orphan */
    pthread_mutex_lock(&fx->f.lock);
    c = &fx->f.c[fx->f.n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "oml-stray");
    snprintf(c->id, sizeof(c->id), "stray");
    snprintf(c->image, sizeof(c->image), "reg.test:5000/x:1");
    snprintf(c->state, sizeof(c->state), "running");
    c->labels =
        json_tokener_parse("{\"omlop.io/tenant\":\"t1\",\"omlop.io/managed-by\":\"omlop\"}");
    pthread_mutex_unlock(&fx->f.lock);
    reconcile_ok(fx, &res);
    assert_null(find_ctr(&fx->f, "oml-stray"));

    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err), 0);
    assert_int_equal(store_delete(fx->st, TENANT_KEY_PREFIX "t1", 0, NULL, &err), 0);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_true(fx->f.n > 0);
    if (tenant_teardown(&fx->env, kv.value, &err) < 0)
        fail_msg("teardown: %s", err.msg);
    assert_int_equal(fx->f.n, 0);
    store_kv_release(&kv);
}

/* An upgrade: one tag changed -> only that component is recreated, with the new image. */
static void test_reconcile_upgrade_recreates_only_the_changed_component(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t, *tags;
    strbuf text = STRBUF_INIT;
    char redis_id[32], nginx_id[32];
    int created, removed;

    reconcile_ok(fx, &res);
    snprintf(redis_id, sizeof(redis_id), "%s", find_ctr(&fx->f, "oml-redis-server")->id);
    snprintf(nginx_id, sizeof(nginx_id), "%s", find_ctr(&fx->f, "oml-nginx-server")->id);
    created = fx->f.n_created;
    removed = fx->f.n_removed;
    t = stored_tenant(fx);
    tags = cjson_get(t, "spec.images.tags");
    assert_non_null(tags);
    json_object_object_add(tags, "nginx", json_object_new_string("250301.01"));
    api_object_store_text(t, &text);
    assert_int_equal(
        store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err), 0);
    json_object_put(t);
    strbuf_release(&text);

    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_created, created + 1);
    assert_int_equal(fx->f.n_removed, removed + 1);
    assert_string_equal(find_ctr(&fx->f, "oml-nginx-server")->image,
                        "reg.test:5000/omnileads/nginx:250301.01");
    assert_string_not_equal(find_ctr(&fx->f, "oml-nginx-server")->id, nginx_id);
    assert_string_equal(find_ctr(&fx->f, "oml-redis-server")->id, redis_id);
    t = stored_tenant(fx);
    assert_string_equal(cond_status(t, "Ready"), "True");
    assert_string_equal(cjson_get_string(cjson_get(t, "status.images"), "nginx"),
                        "reg.test:5000/omnileads/nginx:250301.01");
    assert_non_null(cjson_get_string(status_component(t, "nginx"), "lastDriftRepaired"));
    assert_null(cjson_get_string(status_component(t, "redis"), "lastDriftRepaired"));
    json_object_put(t);
}

static void test_reconcile_leaves_a_paused_tenant_alone(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    store_kv kv = {0};
    json_object *t = stored_tenant(fx), *ann = json_object_new_object();
    strbuf text = STRBUF_INIT;

    json_object_object_add(ann, TENANT_PAUSED_ANNOTATION, json_object_new_string("true"));
    json_object_object_add(cjson_get(t, "metadata"), "annotations", ann);
    api_object_store_text(t, &text);
    assert_int_equal(
        store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err), 0);
    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_created, 0);
    assert_int_equal(fx->f.n, 0);
    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, &err), 0);
    assert_null(strstr(kv.value, "\"status\""));
    store_kv_release(&kv);
    strbuf_release(&text);
    json_object_put(t);
}

/* ---- deletion through the finalizer ------------------------------------------------------- */

/* Replace the stored Tenant with t (no compare-and-swap: the test is the only writer). */
static void store_tenant(fixture *fx, const json_object *t)
{
    strbuf text = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    api_object_store_text(t, &text);
    if (store_update(fx->st, TENANT_KEY_PREFIX "t1", text.buf, text.len, 0, NULL, &err) < 0)
        fail_msg("store_update: %s", err.msg);
    strbuf_release(&text);
}

/* What the API's DELETE does to an object with finalizers: set deletionTimestamp. */
static void mark_deleted(fixture *fx)
{
    json_object *t = stored_tenant(fx);

    json_object_object_add(cjson_get(t, "metadata"), "deletionTimestamp",
                           json_object_new_string("2026-01-01T00:00:00Z"));
    store_tenant(fx, t);
    json_object_put(t);
}

/* The message of the first recorded Event with that reason, copied to out ("" if none). */
static int find_event(fixture *fx, const char *reason, char *out, size_t size)
{
    store_list_opts lo;
    store_list_result res;
    omlop_err err = OMLOP_ERR_INIT;
    int found = 0;

    memset(&lo, 0, sizeof(lo));
    lo.prefix = "/omlop/events/";
    memset(&res, 0, sizeof(res));
    if (store_list(fx->st, &lo, &res, &err) < 0)
        fail_msg("store_list: %s", err.msg);
    out[0] = '\0';
    for (size_t i = 0; i < res.items.n && !found; i++) {
        json_object *e = api_object_parse(res.items.items[i].value, res.items.items[i].value_len);
        const char *r = cjson_get_string(e, "reason");

        if (r && strcmp(r, reason) == 0) {
            snprintf(out, size, "%s", cjson_get_string(e, "message"));
            found = 1;
        }
        json_object_put(e);
    }
    store_list_result_release(&res);
    return found;
}

static int secret_exists(fixture *fx, const char *name)
{
    strbuf key = STRBUF_INIT;
    store_kv kv = {0};
    int rc;

    strbuf_addf(&key, "%s%s", SECRETS_KEY_PREFIX, name);
    rc = store_get(fx->st, key.buf, &kv, NULL);
    store_kv_release(&kv);
    strbuf_release(&key);
    return rc == 0;
}

static void add_foreign_container(fixture *fx)
{
    fctr *c;

    pthread_mutex_lock(&fx->f.lock);
    c = &fx->f.c[fx->f.n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "other-redis");
    snprintf(c->id, sizeof(c->id), "other");
    snprintf(c->image, sizeof(c->image), "reg.test:5000/x:1");
    snprintf(c->state, sizeof(c->state), "running");
    c->labels =
        json_tokener_parse("{\"omlop.io/tenant\":\"t2\",\"omlop.io/managed-by\":\"omlop\"}");
    pthread_mutex_unlock(&fx->f.lock);
}

static void test_reconcile_adds_the_finalizer_without_bumping_generation(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;

    reconcile_ok(fx, &res);
    t = stored_tenant(fx);
    assert_true(tenant_has_finalizer(t));
    assert_int_equal(json_object_array_length(cjson_get(t, "metadata.finalizers")), 1);
    assert_int_equal(cjson_get_int(t, "metadata.generation", 0), 1);
    json_object_put(t);
    reconcile_ok(fx, &res); /* not added twice */
    t = stored_tenant(fx);
    assert_int_equal(json_object_array_length(cjson_get(t, "metadata.finalizers")), 1);
    json_object_put(t);
}

static void test_deletion_tears_down_and_releases_the_finalizer(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    store_kv kv = {0};
    char msg[1024];

    reconcile_ok(fx, &res);
    assert_true(secret_exists(fx, "t1-postgres"));
    add_foreign_container(fx);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    /* only the other tenant's container is left; volumes kept (deletionPolicy Keep) */
    assert_int_equal(fx->f.n, 1);
    assert_non_null(find_ctr(&fx->f, "other-redis"));
    assert_string_equal(fx->f.removed_volumes, "");
    assert_int_equal(store_get(fx->st, TENANT_KEY_PREFIX "t1", &kv, NULL), OMLOP_ENOTFOUND);
    assert_false(secret_exists(fx, "t1-postgres"));
    assert_false(secret_exists(fx, "t1-ami"));
    assert_true(secret_exists(fx, "t1-ssh")); /* the user's, not generated */
    assert_true(find_event(fx, "TornDown", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "volumes kept"));
}

static void test_deletion_with_purge_removes_named_volumes(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t;

    t = stored_tenant(fx);
    json_object_object_add(cjson_get(t, "spec"), "deletionPolicy", json_object_new_string("Purge"));
    store_tenant(fx, t);
    json_object_put(t);
    reconcile_ok(fx, &res);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_int_equal(fx->f.n, 0);
    assert_non_null(strstr(fx->f.removed_volumes, "oml_postgres "));
    assert_non_null(strstr(fx->f.removed_volumes, "oml_redis "));
}

static void test_deletion_blocked_by_an_unreachable_host_until_it_is_back(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *t;
    size_t n;
    char msg[1024];

    reconcile_ok(fx, &res);
    n = fx->f.n;
    mark_deleted(fx);
    fx->is_host_down = 1;
    assert_true(tenant_reconcile(&fx->env, "t1", &res, &err) < 0);
    assert_non_null(strstr(err.msg, "host h1"));
    assert_false(res.is_gone);
    assert_int_equal(fx->f.n, n); /* nothing touched */
    t = stored_tenant(fx);
    assert_true(tenant_has_finalizer(t)); /* no silent leak: the object waits */
    assert_string_equal(cjson_get_string(t, "status.phase"), "Deleting");
    assert_string_equal(cond_status(t, "Degraded"), "True");
    assert_string_equal(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "reason"),
        "TeardownBlocked");
    assert_non_null(strstr(
        cjson_get_string(tenant_condition_find(cjson_get(t, "status"), "Degraded"), "message"),
        "host h1"));
    json_object_put(t);
    assert_true(secret_exists(fx, "t1-postgres"));
    assert_true(find_event(fx, "TeardownBlocked", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "h1"));
    assert_non_null(strstr(msg, TENANT_FINALIZER));

    fx->is_host_down = 0;
    reconcile_ok(fx, &res);
    assert_true(res.is_gone);
    assert_int_equal(fx->f.n, 0);
}

static void test_deletion_keeps_other_finalizers_and_user_secrets(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    json_object *t, *secret;

    reconcile_ok(fx, &res);
    /* a Secret the user made under a generated name (no omlop labels) is theirs */
    secret = json_tokener_parse("{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Secret\","
                                "\"metadata\":{\"name\":\"t1-ami\"},"
                                "\"stringData\":{\"password\":\"mine\"}}");
    {
        omlop_err err = OMLOP_ERR_INIT;
        strbuf text = STRBUF_INIT;

        api_object_store_text(secret, &text);
        assert_int_equal(
            store_update(fx->st, SECRETS_KEY_PREFIX "t1-ami", text.buf, text.len, 0, NULL, &err),
            0);
        strbuf_release(&text);
    }
    json_object_put(secret);
    t = stored_tenant(fx);
    json_object_array_add(cjson_get(t, "metadata.finalizers"),
                          json_object_new_string("example.com/backup"));
    store_tenant(fx, t);
    json_object_put(t);
    mark_deleted(fx);
    reconcile_ok(fx, &res);
    assert_false(res.is_gone);
    assert_int_equal(fx->f.n, 0);
    t = stored_tenant(fx);
    assert_false(tenant_has_finalizer(t));
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(t, "metadata.finalizers"), 0)),
        "example.com/backup");
    json_object_put(t);
    assert_true(secret_exists(fx, "t1-ami"));
    assert_false(secret_exists(fx, "t1-postgres"));
    reconcile_ok(fx, &res); /* waiting for the other finalizer: nothing to do, no error */
    assert_false(res.is_gone);
}

static void test_reconcile_unpauses_a_paused_container(void **state)
{
    fixture *fx = *state;
    tenant_result res;
    omlop_err err = OMLOP_ERR_INIT;
    char msg[1024];
    int started;

    reconcile_ok(fx, &res);
    pthread_mutex_lock(&fx->f.lock);
    snprintf(find_ctr(&fx->f, "oml-redis-server")->state, sizeof(fx->f.c[0].state), "paused");
    started = fx->f.n_started;
    pthread_mutex_unlock(&fx->f.lock);
    reconcile_ok(fx, &res);
    assert_int_equal(fx->f.n_unpaused, 1);
    assert_int_equal(fx->f.n_started, started);
    assert_string_equal(find_ctr(&fx->f, "oml-redis-server")->state, "running");
    assert_true(find_event(fx, "Unpaused", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "oml-redis-server"));
    /* the client call itself: a missing container and a bad name are clear errors */
    assert_int_equal(podman_container_unpause(fx->pc, "nope", &err), OMLOP_ENOTFOUND);
    assert_int_equal(podman_container_unpause(fx->pc, "a/../b", &err), OMLOP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reconcile_creates_everything_then_is_a_noop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_restarts_a_died_container, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_bad_pull_degrades_only_that_component, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_removes_orphans_and_tears_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_leaves_a_paused_tenant_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_upgrade_recreates_only_the_changed_component,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_unpauses_a_paused_container, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_reconcile_adds_the_finalizer_without_bumping_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_tears_down_and_releases_the_finalizer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deletion_with_purge_removes_named_volumes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_deletion_blocked_by_an_unreachable_host_until_it_is_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_keeps_other_finalizers_and_user_secrets,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
