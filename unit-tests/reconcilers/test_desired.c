/*
 * Tests for reconcilers/desired: placement per layout, image naming, external
 * services disabling bundled components, env content, secrets by reference,
 * spec-hash stability, and clear errors. Tenants come from crds/examples
 * through the real schema (defaults applied), then small edits per case.
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
#include "lib/cjson.h"
#include "reconcilers/desired.h"

/* --- fixtures ---------------------------------------------------------------------------- */

static json_object *decode_docs(ydoc_list *docs, diag_list *dl, const char *what)
{
    schema_set *set = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    json_object *obj = NULL;
    strbuf sb = STRBUF_INIT;

    if (schema_set_new_builtin(&set, &err) < 0)
        fail_msg("schema: %s", err.msg);
    if (docs->n != 1 || schema_set_decode(set, docs->docs[0].root, what, &obj, dl) < 0) {
        diag_list_format(dl, &sb);
        fail_msg("%s does not decode: %s", what, strbuf_str(&sb));
    }
    schema_set_free(set);
    strbuf_release(&sb);
    return obj;
}

/* A decoded example tenant: crds/examples/<name>. */
static json_object *example(const char *name)
{
    const char *src = getenv("OMLOP_SRCDIR");
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    char path[4096];
    json_object *obj;

    snprintf(path, sizeof(path), "%s/crds/examples/%s", src ? src : ".", name);
    if (yaml_load_path(path, NULL, &docs, dl) < 0)
        fail_msg("cannot load %s", path);
    obj = decode_docs(&docs, dl, path);
    ydoc_list_release(&docs);
    diag_list_free(dl);
    return obj;
}

/* A decoded tenant from YAML text. */
static json_object *from_yaml(const char *yaml)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *dl = diag_list_new();
    json_object *obj;

    if (yaml_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &docs, dl) < 0)
        fail_msg("test YAML does not load");
    obj = decode_docs(&docs, dl, "t.yaml");
    ydoc_list_release(&docs);
    diag_list_free(dl);
    return obj;
}

/* Set a dotted path (creating objects on the way), taking val. */
static void set_path(json_object *obj, const char *path, json_object *val)
{
    char buf[256], *dot, *key = buf;

    snprintf(buf, sizeof(buf), "%s", path);
    while ((dot = strchr(key, '.'))) {
        json_object *next;

        *dot = '\0';
        if (!json_object_object_get_ex(obj, key, &next)) {
            next = json_object_new_object();
            json_object_object_add(obj, key, next);
        }
        obj = next;
        key = dot + 1;
    }
    json_object_object_add(obj, key, val);
}

static void set_str(json_object *obj, const char *path, const char *s)
{
    set_path(obj, path, json_object_new_string(s));
}

static int fixed_public_ip(void *ctx, const char *host, strbuf *out)
{
    (void)host;
    strbuf_adds(out, ctx ? (const char *)ctx : "203.0.113.10");
    return 0;
}

static const desired_options with_ip = {fixed_public_ip, NULL, 0, NULL};

static desired_state *build(const json_object *t)
{
    omlop_err err = OMLOP_ERR_INIT;
    desired_state *ds = NULL;

    if (desired_build(t, &with_ip, &ds, &err) < 0)
        fail_msg("desired_build: %s", err.msg);
    return ds;
}

static const desired_container *find(const desired_state *ds, const char *host,
                                     const char *container)
{
    const desired_host *h = desired_host_find(ds, host);

    return h ? desired_host_find_container(h, container) : NULL;
}

static const char *env(const desired_container *c, const char *key)
{
    const desired_env *e = c ? desired_container_env(c, key) : NULL;

    return e ? (e->value ? e->value : "<secret>") : NULL;
}

static void assert_env(const desired_container *c, const char *key, const char *want)
{
    const char *got = env(c, key);

    if (!c)
        fail_msg("container missing (env %s)", key);
    if (!want && got)
        fail_msg("%s: env %s=%s, want it absent", c->name, key, got);
    if (want && (!got || strcmp(got, want) != 0))
        fail_msg("%s: env %s=%s, want %s", c->name, key, got ? got : "(absent)", want);
}

/* The host's container names, space-separated, in start order. */
static void host_names(const desired_state *ds, const char *host, strbuf *out)
{
    const desired_host *h = desired_host_find(ds, host);

    strbuf_reset(out);
    for (size_t i = 0; h && i < h->n_containers; i++)
        strbuf_addf(out, "%s%s", i ? " " : "", h->containers[i].name);
}

/* --- placement --------------------------------------------------------------------------- */

#define APP_SET                                                                                    \
    "oml-fastagi-server oml-kamailio-server oml-ami-server oml-websockets-server "                 \
    "oml-daphne-server oml-uwsgi-server oml-nginx-server oml-cron-server"

typedef struct placement_case {
    const char *example;
    const char *host;
    const char *want; /* container names in order */
} placement_case;

static void test_desired_placement_per_layout(void **state)
{
    static const placement_case cases[] = {
        {"tenant-aio.yaml", "algarrobo",
         "oml-minio-server oml-postgresql-server oml-redis-server oml-rabbitmq-server "
         "oml-rtpengine-server oml-fastagi-server oml-asterisk-server oml-asterisk-retrieve-conf "
         "oml-kamailio-server oml-ami-server oml-websockets-server oml-daphne-server "
         "oml-uwsgi-server oml-interaction_processor-server oml-nginx-server oml-cron-server "
         "oml-prometheus-node oml-prometheus-podman oml-prometheus-postgres oml-prometheus-redis "
         "oml-prometheus-server"},
        {"tenant-cluster.yaml", "data",
         "oml-minio-server oml-postgresql-server oml-redis-server oml-rabbitmq-server "
         "oml-prometheus-node oml-prometheus-podman oml-prometheus-postgres "
         "oml-prometheus-redis"},
        {"tenant-cluster.yaml", "voice",
         "oml-rtpengine-server oml-asterisk-server oml-asterisk-retrieve-conf "
         "oml-interaction_processor-server oml-prometheus-node oml-prometheus-podman"},
        {"tenant-cluster.yaml", "app",
         "oml-fastagi-server oml-kamailio-server oml-ami-server oml-websockets-server "
         "oml-daphne-server oml-uwsgi-server oml-nginx-server oml-cron-server "
         "oml-prometheus-node oml-prometheus-podman oml-prometheus-server"},
        /* ha: both nodes run the full set; the example uses an external bucket (no MinIO) */
        {"tenant-ha.yaml", "aio-a",
         "oml-postgresql-server oml-redis-server oml-rabbitmq-server oml-rtpengine-server "
         "oml-fastagi-server oml-asterisk-server oml-asterisk-retrieve-conf oml-kamailio-server "
         "oml-ami-server oml-websockets-server oml-daphne-server oml-uwsgi-server "
         "oml-interaction_processor-server oml-nginx-server oml-cron-server oml-keepalived "
         "oml-prometheus-node oml-prometheus-podman oml-prometheus-postgres oml-prometheus-redis "
         "oml-prometheus-server"},
        {"tenant-ha.yaml", "aio-b",
         "oml-postgresql-server oml-redis-server oml-rabbitmq-server oml-rtpengine-server "
         "oml-fastagi-server oml-asterisk-server oml-asterisk-retrieve-conf oml-kamailio-server "
         "oml-ami-server oml-websockets-server oml-daphne-server oml-uwsgi-server "
         "oml-interaction_processor-server oml-nginx-server oml-cron-server oml-keepalived "
         "oml-prometheus-node oml-prometheus-podman oml-prometheus-postgres oml-prometheus-redis "
         "oml-prometheus-server"},
    };
    strbuf sb = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *t = example(cases[i].example);
        desired_state *ds = build(t);

        host_names(ds, cases[i].host, &sb);
        if (strcmp(strbuf_str(&sb), cases[i].want) != 0)
            fail_msg("%s host %s:\n got: %s\nwant: %s", cases[i].example, cases[i].host,
                     strbuf_str(&sb), cases[i].want);
        desired_free(ds);
        json_object_put(t);
    }
    strbuf_release(&sb);
}

static void test_desired_hosts_and_layout_reported(void **state)
{
    json_object *t = example("tenant-cluster.yaml");
    desired_state *ds = build(t);

    (void)state;
    assert_string_equal(desired_tenant(ds), "tenant-mr-x");
    assert_string_equal(desired_layout(ds), "cluster");
    assert_int_equal(desired_host_count(ds), 3);
    assert_string_equal(desired_host_at(ds, 0)->name, "data");
    assert_string_equal(desired_host_at(ds, 1)->role, "voice");
    assert_string_equal(desired_host_at(ds, 2)->lan_ip, "172.16.101.43");
    assert_null(desired_host_at(ds, 3));
    assert_null(desired_host_find(ds, "nope"));
    desired_free(ds);
    json_object_put(t);
}

/* --- images ------------------------------------------------------------------------------ */

typedef struct image_case {
    const char *what;
    const char *edits[3][2]; /* path, value */
    const char *container;
    const char *want;
} image_case;

static void test_desired_image_naming(void **state)
{
    static const image_case cases[] = {
        {"tag from spec, default registry",
         {{NULL, NULL}},
         "oml-asterisk-server",
         "docker.io/omnileads/asterisk:240102.01"},
        {"default tag", {{NULL, NULL}}, "oml-nginx-server", "docker.io/omnileads/nginx:241009.01"},
        {"retrieve conf repo",
         {{NULL, NULL}},
         "oml-asterisk-retrieve-conf",
         "docker.io/omnileads/acd_retrieve_conf:240729.01"},
        {"third-party reference",
         {{NULL, NULL}},
         "oml-postgresql-server",
         "docker.io/postgres:14.9-bullseye"},
        {"enterprise on uwsgi",
         {{"spec.images.edition", "enterprise"}},
         "oml-uwsgi-server",
         "docker.io/omnileads/omlapp:240201.01-enterprise"},
        {"enterprise on daphne",
         {{"spec.images.edition", "enterprise"}},
         "oml-daphne-server",
         "docker.io/omnileads/omlapp:240201.01-enterprise"},
        {"enterprise on cron",
         {{"spec.images.edition", "enterprise"}},
         "oml-cron-server",
         "docker.io/omnileads/omlapp:240201.01-enterprise"},
        {"enterprise leaves asterisk",
         {{"spec.images.edition", "enterprise"}},
         "oml-asterisk-server",
         "docker.io/omnileads/asterisk:240102.01"},
        {"community",
         {{"spec.images.edition", "community"}},
         "oml-uwsgi-server",
         "docker.io/omnileads/omlapp:240201.01"},
        {"custom registry",
         {{"spec.images.registry", "registry.example.com:5000/mirror"}},
         "oml-kamailio-server",
         "registry.example.com:5000/mirror/omnileads/kamailio:240625.01"},
        {"custom registry + enterprise",
         {{"spec.images.registry", "reg.local"}, {"spec.images.edition", "enterprise"}},
         "oml-uwsgi-server",
         "reg.local/omnileads/omlapp:240201.01-enterprise"},
        {"custom registry leaves third-party",
         {{"spec.images.registry", "reg.local"}},
         "oml-minio-server",
         "quay.io/minio/minio:RELEASE.2023-09-27T15-22-50Z"},
        {"external override",
         {{"spec.images.external.rabbitmq", "reg.local/lib/rabbitmq:3.13"}},
         "oml-rabbitmq-server",
         "reg.local/lib/rabbitmq:3.13"},
        {"tag change",
         {{"spec.images.tags.websockets", "250101.01"}},
         "oml-websockets-server",
         "docker.io/omnileads/websockets:250101.01"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *t = example("tenant-aio.yaml");
        const desired_container *c;
        desired_state *ds;

        for (size_t e = 0; e < 3 && cases[i].edits[e][0]; e++)
            set_str(t, cases[i].edits[e][0], cases[i].edits[e][1]);
        ds = build(t);
        c = find(ds, "algarrobo", cases[i].container);
        if (!c)
            fail_msg("%s: no %s", cases[i].what, cases[i].container);
        if (strcmp(c->image, cases[i].want) != 0)
            fail_msg("%s: image %s, want %s", cases[i].what, c->image, cases[i].want);
        desired_free(ds);
        json_object_put(t);
    }
}

static void test_desired_ha_uses_repmgr_postgres_image(void **state)
{
    json_object *t = example("tenant-ha.yaml");
    desired_state *ds = build(t);
    const desired_container *pg = find(ds, "aio-b", "oml-postgresql-server");

    (void)state;
    assert_non_null(pg);
    assert_string_equal(pg->image, "docker.io/omnileads/postgres:240902.02");
    /* the repmgr image runs its own command; no listen_addresses override */
    assert_int_equal(pg->n_command, 0);
    assert_env(pg, "PGHOSTRO", "172.16.101.207");
    assert_env(find(ds, "aio-a", "oml-uwsgi-server"), "PGHOST", "172.16.101.206");
    assert_env(find(ds, "aio-a", "oml-uwsgi-server"), "OMNILEADS_HOSTNAME", "172.16.101.205");
    assert_env(find(ds, "aio-a", "oml-asterisk-server"), "DEPLOY_HA", "True");
    assert_true(find(ds, "aio-a", "oml-asterisk-server")->is_ha_active_only);
    assert_false(find(ds, "aio-a", "oml-redis-server")->is_ha_active_only);
    desired_free(ds);
    json_object_put(t);
}

/* --- external services and observability ------------------------------------------------- */

typedef struct ext_case {
    const char *what;
    const char *yaml_extra; /* appended under spec: */
    const char *gone[3];    /* containers that must not be desired */
    const char *container;  /* container whose env is checked */
    const char *key;
    const char *want;
} ext_case;

#define AIO_BASE                                                                                   \
    "apiVersion: omlop.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n"                \
    "  layout: aio\n  hosts:\n    - name: h1\n      ssh:\n        address: 10.0.0.5\n"             \
    "        identitySecretRef:\n          name: acme-ssh\n      lanIP: 10.0.0.5\n"                \
    "  network:\n    infraEnv: lan\n"

static void test_desired_external_services_disable_bundled(void **state)
{
    static const ext_case cases[] = {
        {"external postgres",
         "  database:\n    host: pg.example.com\n    passwordSecretRef:\n      name: acme-pg\n",
         {"oml-postgresql-server", "oml-prometheus-postgres", NULL},
         "oml-uwsgi-server",
         "PGHOST",
         "pg.example.com"},
        {"external bucket",
         "  objectStorage:\n    bucketURL: https://s3.example.com\n    bucketName: acme-rec\n"
         "    credentialsSecretRef:\n      name: acme-s3\n",
         {"oml-minio-server", NULL, NULL},
         "oml-asterisk-server",
         "S3_ENDPOINT",
         "https://s3.example.com"},
        {"external rtpengine",
         "  telephony:\n    rtpengineHost: 10.9.9.9\n",
         {"oml-rtpengine-server", NULL, NULL},
         "oml-kamailio-server",
         "RTPENGINE_HOSTNAME",
         "10.9.9.9"},
        {"external redis",
         "  redis:\n    host: redis.example.com\n    port: 6380\n",
         {"oml-redis-server", "oml-prometheus-redis", NULL},
         "oml-websockets-server",
         "REDIS_HOST",
         "redis://redis.example.com:6380"},
        {"observability off",
         "  observability:\n    enabled: false\n",
         {"oml-prometheus-server", "oml-prometheus-node", "oml-prometheus-postgres"},
         "oml-nginx-server",
         "ENV",
         "prodenv"},
    };
    strbuf yaml = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const ext_case *ec = &cases[i];
        json_object *t, *base;
        desired_state *ds, *ds_base;

        strbuf_reset(&yaml);
        strbuf_addf(&yaml, "%s%s", AIO_BASE, ec->yaml_extra);
        t = from_yaml(strbuf_str(&yaml));
        base = from_yaml(AIO_BASE);
        ds = build(t);
        ds_base = build(base);
        for (size_t g = 0; g < 3 && ec->gone[g]; g++) {
            if (!find(ds_base, "h1", ec->gone[g]))
                fail_msg("%s: %s not bundled without the setting", ec->what, ec->gone[g]);
            if (find(ds, "h1", ec->gone[g]))
                fail_msg("%s: %s still deployed", ec->what, ec->gone[g]);
        }
        assert_env(find(ds, "h1", ec->container), ec->key, ec->want);
        desired_free(ds);
        desired_free(ds_base);
        json_object_put(t);
        json_object_put(base);
    }
    strbuf_release(&yaml);
}

static void test_desired_external_bucket_env(void **state)
{
    json_object *t = example("tenant-ha.yaml");
    desired_state *ds = build(t);
    const desired_container *app = find(ds, "aio-a", "oml-uwsgi-server");
    const desired_env *key = desired_container_env(app, "AWS_ACCESS_KEY_ID");

    (void)state;
    assert_env(app, "S3_ENDPOINT", "https://172.16.101.3:9000");
    assert_env(app, "CALLREC_DEVICE", "s3-no-check-cert");
    assert_env(app, "S3_BUCKET_NAME", "tenant-example-7");
    assert_env(app, "S3_ENDPOINT_MINIO", NULL);
    assert_non_null(key);
    assert_string_equal(key->secret_name, "tenant-example-7-bucket");
    assert_string_equal(key->secret_key, "accessKey");
    desired_free(ds);
    json_object_put(t);
}

static void test_desired_loki_adds_promtail_on_every_host(void **state)
{
    json_object *t = example("tenant-cluster.yaml");
    desired_state *ds;
    const desired_container *pt;

    (void)state;
    set_str(t, "spec.observability.lokiURL", "https://loki.example.com/loki/api/v1/push");
    ds = build(t);
    for (size_t h = 0; h < desired_host_count(ds); h++) {
        pt = desired_host_find_container(desired_host_at(ds, h), "oml-promtail-server");
        if (!pt)
            fail_msg("no promtail on %s", desired_host_at(ds, h)->name);
        assert_int_equal(pt->memory_limit, 512 * 1024 * 1024);
        assert_env(pt, "LOKI_URL", "https://loki.example.com/loki/api/v1/push");
        assert_int_equal(pt->n_files, 1);
        assert_non_null(strstr(pt->files[0].content, "${LOKI_URL}"));
        assert_non_null(strstr(pt->files[0].content, desired_host_at(ds, h)->name));
    }
    desired_free(ds);
    json_object_put(t);
}

static void test_desired_prometheus_scrapes_exporters_of_every_host(void **state)
{
    json_object *t = example("tenant-cluster.yaml");
    desired_state *ds = build(t);
    const desired_container *p = find(ds, "app", "oml-prometheus-server");
    const char *cfg;

    (void)state;
    assert_non_null(p);
    assert_int_equal(p->n_files, 1);
    assert_string_equal(p->files[0].path, "/etc/omnileads/prometheus.yml");
    cfg = p->files[0].content;
    assert_non_null(strstr(cfg, "job_name: node_exporter"));
    assert_non_null(strstr(cfg, "\"172.16.101.41:9100\""));
    assert_non_null(strstr(cfg, "\"172.16.101.42:9100\""));
    assert_non_null(strstr(cfg, "\"172.16.101.43:9100\""));
    assert_non_null(strstr(cfg, "\"172.16.101.41:9187\""));
    assert_non_null(strstr(cfg, "\"172.16.101.41:9121\""));
    assert_non_null(strstr(cfg, "\"172.16.101.43:9090\""));
    assert_null(strstr(cfg, "172.16.101.42:9187"));
    /* the file is mounted read-only where the command expects it */
    assert_string_equal(p->volumes[p->n_volumes - 1].target, "/etc/prometheus/prometheus.yml");
    assert_true(p->volumes[p->n_volumes - 1].is_readonly);
    assert_false(p->volumes[p->n_volumes - 1].is_named);
    desired_free(ds);
    json_object_put(t);
}

/* --- env content ------------------------------------------------------------------------- */

static void test_desired_nginx_env_file_aio(void **state)
{
    json_object *t = example("tenant-aio.yaml");
    desired_state *ds = build(t);
    omlop_err err = OMLOP_ERR_INIT;
    strbuf sb = STRBUF_INIT;

    (void)state;
    assert_int_equal(
        desired_env_file_render(find(ds, "algarrobo", "oml-nginx-server"), NULL, NULL, &sb, &err),
        0);
    assert_string_equal(strbuf_str(&sb), "DAPHNE_HOSTNAME=172.16.101.44\n"
                                         "DJANGO_HOSTNAME=172.16.101.44\n"
                                         "ENV=prodenv\n"
                                         "KAMAILIO_HOSTNAME=localhost\n"
                                         "S3_ENDPOINT=http://172.16.101.44:9000\n"
                                         "TZ=America/Argentina/Cordoba\n"
                                         "WEBSOCKETS_HOSTNAME=172.16.101.44\n");
    strbuf_release(&sb);
    desired_free(ds);
    json_object_put(t);
}

typedef struct env_case {
    const char *example;
    const char *host;
    const char *container;
    const char *key;
    const char *want; /* NULL: absent */
} env_case;

static void test_desired_env_of_key_components(void **state)
{
    static const env_case cases[] = {
        /* aio: PostgreSQL on localhost, public IP from discovery (cloud), fqdn for S3 */
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "PGHOST", "localhost"},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "PGUSER", "omnileads"},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "S3_ENDPOINT",
         "https://tenant-name.omnileads.net"},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "CALLREC_DEVICE", "s3-minio"},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "S3_ENDPOINT_MINIO",
         "http://172.16.101.44:9000"},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "UWSGI_CUSTOM", "false"},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "UWSGI_PROCESSES", NULL},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "EMAIL_BACKEND",
         "django.core.mail.backends.dummy.EmailBackend"},
        {"tenant-aio.yaml", "algarrobo", "oml-uwsgi-server", "TZ", "America/Argentina/Cordoba"},
        {"tenant-aio.yaml", "algarrobo", "oml-daphne-server", "DAPHNE_PORT", "8098"},
        {"tenant-aio.yaml", "algarrobo", "oml-asterisk-server", "ASTERISK_PUBLIC_IP",
         "203.0.113.10"},
        {"tenant-aio.yaml", "algarrobo", "oml-asterisk-server", "ENV", "cloud"},
        {"tenant-aio.yaml", "algarrobo", "oml-asterisk-server", "SCALE", "false"},
        {"tenant-aio.yaml", "algarrobo", "oml-asterisk-retrieve-conf", "ARI_HOST", "localhost"},
        {"tenant-aio.yaml", "algarrobo", "oml-kamailio-server", "KAMAILIO_HOSTNAME", "localhost"},
        {"tenant-aio.yaml", "algarrobo", "oml-kamailio-server", "SHM_SIZE", "64"},
        {"tenant-aio.yaml", "algarrobo", "oml-rtpengine-server", "PUBLIC_IP", NULL},
        {"tenant-aio.yaml", "algarrobo", "oml-postgresql-server", "POSTGRES_DB", "omnileads"},
        {"tenant-aio.yaml", "algarrobo", "oml-postgresql-server", "PGHOSTRO", NULL},
        /* cluster: addresses of the other hosts */
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "PGHOST", "172.16.101.41"},
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "REDIS_HOSTNAME", "172.16.101.41"},
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "ASTERISK_HOSTNAME", "172.16.101.42"},
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "KAMAILIO_HOSTNAME", "172.16.101.43"},
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "S3_ENDPOINT", "https://172.16.101.43"},
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "UWSGI_CUSTOM", "True"},
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "UWSGI_PROCESSES", "8"},
        {"tenant-cluster.yaml", "app", "oml-uwsgi-server", "UWSGI_THREADS", "1"},
        {"tenant-cluster.yaml", "app", "oml-kamailio-server", "RTPENGINE_HOSTNAME",
         "172.16.101.42"},
        {"tenant-cluster.yaml", "app", "oml-kamailio-server", "KAMAILIO_HOSTNAME", "172.16.101.43"},
        {"tenant-cluster.yaml", "app", "oml-nginx-server", "S3_ENDPOINT",
         "http://172.16.101.41:9000"},
        {"tenant-cluster.yaml", "app", "oml-websockets-server", "BIND_ADDRESS",
         "172.16.101.43:8000"},
        {"tenant-cluster.yaml", "voice", "oml-asterisk-server", "ASTERISK_PUBLIC_IP",
         "172.16.101.42"},
        {"tenant-cluster.yaml", "voice", "oml-asterisk-server", "SCALE", "True"},
        {"tenant-cluster.yaml", "voice", "oml-asterisk-server", "MEM_LIMIT", "1G"},
        {"tenant-cluster.yaml", "voice", "oml-asterisk-server", "THREADPOOL_MAX_SIZE", "150"},
        {"tenant-cluster.yaml", "voice", "oml-asterisk-server", "OMNILEADS_HOSTNAME",
         "172.16.101.43"},
        {"tenant-cluster.yaml", "voice", "oml-asterisk-retrieve-conf", "ARI_HOST", "172.16.101.42"},
        {"tenant-cluster.yaml", "voice", "oml-interaction_processor-server", "RABBITMQ_HOST",
         "172.16.101.41"},
        {"tenant-cluster.yaml", "voice", "oml-rtpengine-server", "ENV", "lan"},
        {"tenant-cluster.yaml", "data", "oml-redis-server", "BIND_IP", "172.16.101.41"},
        {"tenant-cluster.yaml", "data", "oml-prometheus-postgres", "DATA_SOURCE_URI",
         "172.16.101.41:5432/omnileads?sslmode=disable"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const env_case *ec = &cases[i];
        json_object *t = example(ec->example);
        desired_state *ds = build(t);
        const desired_container *c = find(ds, ec->host, ec->container);

        if (!c)
            fail_msg("%s: no %s on %s", ec->example, ec->container, ec->host);
        assert_env(c, ec->key, ec->want);
        desired_free(ds);
        json_object_put(t);
    }
}

static void test_desired_postgres_command_and_volumes(void **state)
{
    json_object *t = example("tenant-cluster.yaml");
    desired_state *ds = build(t);
    const desired_container *pg = find(ds, "data", "oml-postgresql-server");
    const desired_container *ast = find(ds, "voice", "oml-asterisk-server");

    (void)state;
    assert_int_equal(pg->n_command, 3);
    assert_string_equal(pg->command[2], "listen_addresses=172.16.101.41");
    assert_int_equal(pg->n_volumes, 1);
    assert_string_equal(pg->volumes[0].source, "oml_postgres");
    assert_string_equal(pg->volumes[0].target, "/var/lib/postgresql/data");
    assert_true(pg->volumes[0].is_named);
    assert_int_equal(pg->ready.kind, DESIRED_READY_TCP);
    assert_string_equal(pg->ready.address, "172.16.101.41");
    assert_int_equal(pg->ready.port, 5432);
    assert_string_equal(pg->restart_policy, "always");
    assert_true(pg->is_host_network);
    assert_int_equal(ast->memory_limit, (int64_t)1024 * 1024 * 1024);
    assert_int_equal(ast->n_volumes, 3);
    assert_int_equal(find(ds, "app", "oml-nginx-server")->volumes[0].is_named, 0);
    assert_true(find(ds, "app", "oml-nginx-server")->volumes[0].is_readonly);
    assert_false(find(ds, "app", "oml-nginx-server")->volumes[1].is_readonly);
    /* arrays are NULL-terminated, as podman_create_spec takes them */
    assert_null(pg->command[pg->n_command]);
    assert_null(find(ds, "voice", "oml-rtpengine-server")->cap_add[1]);
    assert_null(ast->command[0]);
    assert_null(ast->cap_add[0]);
    {
        const desired_container *node = find(ds, "voice", "oml-prometheus-node");

        assert_string_equal(node->volumes[0].source, "/");
        assert_true(node->volumes[0].is_readonly);
        assert_string_equal(node->volumes[0].options, "rslave");
        assert_string_equal(find(ds, "voice", "oml-prometheus-podman")->volumes[0].source,
                            "/run/podman/podman.sock");
    }
    desired_free(ds);
    json_object_put(t);
}

/* --- secrets ----------------------------------------------------------------------------- */

static int resolve_secret(void *ctx, const char *name, const char *key, strbuf *out, omlop_err *err)
{
    int *calls = ctx;

    (*calls)++;
    if (strcmp(name, "broken") == 0)
        return omlop_err_set(err, OMLOP_ENOTFOUND, "Secret %s not found", name);
    if (strcmp(name, "multiline") == 0) {
        strbuf_adds(out, "a\nb");
        return 0;
    }
    strbuf_addf(out, "value-of-%s-%s", name, key);
    return 0;
}

static void test_desired_secrets_are_references(void **state)
{
    json_object *t = example("tenant-aio.yaml");
    desired_state *ds = build(t);
    const desired_container *app = find(ds, "algarrobo", "oml-uwsgi-server");
    const desired_container *minio = find(ds, "algarrobo", "oml-minio-server");
    const desired_env *pw = desired_container_env(app, "PGPASSWORD");
    omlop_err err = OMLOP_ERR_INIT;
    strbuf sb = STRBUF_INIT;
    json_object *spec;
    int calls = 0;

    (void)state;
    /* spec-named Secret, and generated ones when the spec names none */
    assert_non_null(pw);
    assert_null(pw->value);
    assert_string_equal(pw->secret_name, "algarrobo-postgres");
    assert_string_equal(pw->secret_key, "password");
    assert_string_equal(desired_container_env(app, "AMI_PASSWORD")->secret_name, "algarrobo-ami");
    assert_string_equal(desired_container_env(app, "AWS_SECRET_ACCESS_KEY")->secret_name,
                        "algarrobo-objectstorage");
    assert_string_equal(desired_container_env(minio, "MINIO_ROOT_USER")->secret_name,
                        "algarrobo-minio-admin");
    assert_string_equal(desired_container_env(minio, "MINIO_ROOT_USER")->secret_key, "user");

    /* without a resolver: references only */
    assert_int_equal(desired_env_file_render(app, NULL, NULL, &sb, &err), 0);
    assert_non_null(strstr(strbuf_str(&sb), "PGPASSWORD=<secret:algarrobo-postgres/password>\n"));
    assert_null(strstr(strbuf_str(&sb), "value-of"));
    /* with one: values, and the spec (hash input) still holds only references */
    strbuf_reset(&sb);
    assert_int_equal(desired_env_file_render(app, resolve_secret, &calls, &sb, &err), 0);
    assert_non_null(strstr(strbuf_str(&sb), "PGPASSWORD=value-of-algarrobo-postgres-password\n"));
    assert_true(calls >= 4);
    spec = desired_container_spec_json(app);
    strbuf_reset(&sb);
    cjson_canonical(spec, &sb);
    assert_null(strstr(strbuf_str(&sb), "value-of"));
    assert_non_null(strstr(strbuf_str(&sb), "\"secretRef\":\"algarrobo-postgres/password\""));
    json_object_put(spec);
    strbuf_release(&sb);
    desired_free(ds);
    json_object_put(t);
}

static void test_desired_env_resolve_for_create(void **state)
{
    json_object *t = example("tenant-aio.yaml");
    desired_state *ds = build(t);
    const desired_container *app = find(ds, "algarrobo", "oml-uwsgi-server");
    desired_env_values vals = {NULL, 0};
    omlop_err err = OMLOP_ERR_INIT;
    int calls = 0, found = 0;

    (void)state;
    assert_int_equal(desired_env_resolve(app, resolve_secret, &calls, &vals, &err), 0);
    assert_int_equal(vals.n, app->n_env);
    for (size_t i = 0; i < vals.n; i++) {
        assert_string_equal(vals.items[i].key, app->env[i].key);
        if (strcmp(vals.items[i].key, "AMI_PASSWORD") == 0) {
            assert_string_equal(vals.items[i].value, "value-of-algarrobo-ami-password");
            found++;
        }
        if (strcmp(vals.items[i].key, "PGHOST") == 0) {
            assert_string_equal(vals.items[i].value, "localhost");
            found++;
        }
    }
    assert_int_equal(found, 2);
    desired_env_values_release(&vals);
    assert_null(vals.items);
    /* no resolver: refused rather than written without the secret */
    assert_int_equal(desired_env_resolve(app, NULL, NULL, &vals, &err), OMLOP_EINTERNAL);
    assert_null(vals.items);
    desired_free(ds);
    json_object_put(t);
}

static void test_desired_secret_resolver_errors(void **state)
{
    json_object *t = example("tenant-aio.yaml");
    desired_state *ds;
    omlop_err err = OMLOP_ERR_INIT;
    strbuf sb = STRBUF_INIT;
    int calls = 0;

    (void)state;
    set_str(t, "spec.database.passwordSecretRef.name", "broken");
    ds = build(t);
    assert_int_equal(desired_env_file_render(find(ds, "algarrobo", "oml-uwsgi-server"),
                                             resolve_secret, &calls, &sb, &err),
                     OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "oml-uwsgi-server env PGPASSWORD"));
    assert_non_null(strstr(err.msg, "Secret broken not found"));
    desired_free(ds);

    set_str(t, "spec.database.passwordSecretRef.name", "multiline");
    ds = build(t);
    strbuf_reset(&sb);
    assert_int_equal(desired_env_file_render(find(ds, "algarrobo", "oml-uwsgi-server"),
                                             resolve_secret, &calls, &sb, &err),
                     OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "Secret multiline key password holds a line break"));
    assert_null(strstr(err.msg, "a\nb"));
    strbuf_release(&sb);
    desired_free(ds);
    json_object_put(t);
}

static void test_desired_optional_secret_only_when_configured(void **state)
{
    json_object *t = example("tenant-aio.yaml");
    desired_state *ds = build(t);
    const desired_container *app = find(ds, "algarrobo", "oml-uwsgi-server");

    (void)state;
    assert_env(app, "WOMBAT_PASSWORD", NULL);
    assert_env(app, "EMAIL_HOST_PASSWORD", NULL);
    desired_free(ds);
    set_str(t, "spec.app.dialer.host", "10.1.1.1");
    set_str(t, "spec.app.dialer.passwordSecretRef.name", "dialer");
    set_str(t, "spec.app.smtp.host", "smtp.example.com");
    set_str(t, "spec.app.smtp.from", "oml@example.com");
    set_str(t, "spec.app.smtp.security", "tls");
    ds = build(t);
    app = find(ds, "algarrobo", "oml-uwsgi-server");
    assert_env(app, "WOMBAT_HOSTNAME", "10.1.1.1");
    assert_env(app, "WOMBAT_USER", "demoadmin");
    assert_env(app, "WOMBAT_PASSWORD", "<secret>");
    assert_string_equal(desired_container_env(app, "WOMBAT_PASSWORD")->secret_name, "dialer");
    assert_env(app, "EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend");
    assert_env(app, "EMAIL_PORT", "587");
    assert_env(app, "EMAIL_USE_SSL", "True");
    assert_env(app, "EMAIL_USE_TLS", NULL);
    assert_env(app, "EMAIL_HOST_PASSWORD", NULL);
    desired_free(ds);
    json_object_put(t);
}

/* --- labels and hashes ------------------------------------------------------------------- */

static void test_desired_labels(void **state)
{
    json_object *t = example("tenant-cluster.yaml");
    desired_state *ds = build(t);

    (void)state;
    for (size_t h = 0; h < desired_host_count(ds); h++) {
        const desired_host *dh = desired_host_at(ds, h);

        for (size_t i = 0; i < dh->n_containers; i++) {
            const desired_container *c = &dh->containers[i];
            char want[CJSON_HASH_HEX_LEN + 1];
            json_object *spec = desired_container_spec_json(c);

            assert_string_equal(desired_container_label(c, OMLOP_LABEL_TENANT), "tenant-mr-x");
            assert_string_equal(desired_container_label(c, OMLOP_LABEL_COMPONENT),
                                c->component->name);
            assert_string_equal(desired_container_label(c, OMLOP_LABEL_MANAGED_BY), "omlop");
            cjson_hash(spec, want);
            assert_string_equal(desired_container_label(c, OMLOP_LABEL_SPEC_HASH), want);
            assert_string_equal(c->spec_hash, want);
            /* the hash does not cover itself */
            assert_false(
                json_object_object_get_ex(cjson_get(spec, "labels"), OMLOP_LABEL_SPEC_HASH, NULL));
            json_object_put(spec);
        }
    }
    desired_free(ds);
    json_object_put(t);
}

/* hash of every container, "host/name=hash" lines */
static void hashes(const json_object *t, strbuf *out)
{
    desired_state *ds = build(t);

    strbuf_reset(out);
    for (size_t h = 0; h < desired_host_count(ds); h++) {
        const desired_host *dh = desired_host_at(ds, h);

        for (size_t i = 0; i < dh->n_containers; i++)
            strbuf_addf(out, "%s/%s=%s\n", dh->name, dh->containers[i].name,
                        dh->containers[i].spec_hash);
    }
    desired_free(ds);
}

/* Names of containers whose hash differs between two hash listings, space-separated. */
static void changed(const char *a, const char *b, strbuf *out)
{
    strbuf_reset(out);
    while (*a && *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        const char *eq = strchr(a, '=');

        if ((ea - a) != (eb - b) || memcmp(a, b, (size_t)(ea - a)) != 0)
            strbuf_addf(out, "%s%.*s", out->len ? " " : "", (int)(eq - a), a);
        a = ea + 1;
        b = eb + 1;
    }
}

typedef struct hash_case {
    const char *what;
    const char *path;
    const char *value;
    const char *want_changed; /* containers whose hash must change; "" none; "*" all */
} hash_case;

static void test_desired_hash_changes_only_where_relevant(void **state)
{
    static const hash_case cases[] = {
        {"asterisk tag", "spec.images.tags.asterisk", "250101.01", "voice/oml-asterisk-server"},
        {"omlapp tag", "spec.images.tags.omlapp", "250101.01",
         "app/oml-daphne-server app/oml-uwsgi-server app/oml-cron-server"},
        {"kamailio shm", "spec.telephony.kamailio.shmSize", NULL, "app/oml-kamailio-server"},
        {"time zone", "spec.timeZone", "Europe/Madrid", "*"},
        {"backup retention", "spec.backup.retention", NULL, ""},
        {"ssh user", "spec.hosts.0.ssh.user", "admin", ""},
        {"tls mode", "spec.tls.mode", "selfsigned", ""},
        {"prometheus image", "spec.images.external.prometheus", "reg.local/prom/prometheus:v3",
         "app/oml-prometheus-server"},
    };
    json_object *t0 = example("tenant-cluster.yaml");
    strbuf h0 = STRBUF_INIT, h1 = STRBUF_INIT, diff = STRBUF_INIT;

    (void)state;
    hashes(t0, &h0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const hash_case *hc = &cases[i];
        json_object *t = example("tenant-cluster.yaml");

        if (strcmp(hc->path, "spec.hosts.0.ssh.user") == 0)
            set_str(cjson_get(json_object_array_get_idx(cjson_get(t, "spec.hosts"), 0), "ssh"),
                    "user", hc->value);
        else if (strcmp(hc->path, "spec.telephony.kamailio.shmSize") == 0)
            set_path(t, hc->path, json_object_new_int(128));
        else if (strcmp(hc->path, "spec.backup.retention") == 0)
            set_path(t, hc->path, json_object_new_int(3));
        else
            set_str(t, hc->path, hc->value);
        hashes(t, &h1);
        changed(strbuf_str(&h0), strbuf_str(&h1), &diff);
        if (strcmp(hc->want_changed, "*") == 0) {
            /* every container's env carries TZ */
            size_t lines = 0;

            for (const char *p = strbuf_str(&h0); *p; p++)
                lines += *p == '\n';
            for (const char *p = strbuf_str(&diff); *p; p++)
                lines -= *p == ' ';
            if (lines != 1)
                fail_msg("%s: not every hash changed: %s", hc->what, strbuf_str(&diff));
        } else if (strcmp(strbuf_str(&diff), hc->want_changed) != 0) {
            fail_msg("%s: changed \"%s\", want \"%s\"", hc->what, strbuf_str(&diff),
                     hc->want_changed);
        }
        json_object_put(t);
    }
    strbuf_release(&h0);
    strbuf_release(&h1);
    strbuf_release(&diff);
    json_object_put(t0);
}

static void test_desired_hash_stable_and_key_order_free(void **state)
{
    /* The same tenant written with its keys in another order hashes alike. */
    static const char *const a = AIO_BASE "  timeZone: UTC\n  images:\n    registry: r.local\n"
                                          "    tags:\n      nginx: \"1.0\"\n";
    static const char *const b =
        "kind: Tenant\napiVersion: omlop.io/v1alpha1\nspec:\n  images:\n    tags:\n"
        "      nginx: \"1.0\"\n    registry: r.local\n  timeZone: UTC\n  network:\n"
        "    infraEnv: lan\n  hosts:\n    - lanIP: 10.0.0.5\n      name: h1\n      ssh:\n"
        "        identitySecretRef:\n          name: acme-ssh\n        address: 10.0.0.5\n"
        "  layout: aio\nmetadata:\n  name: acme\n";
    json_object *ta = from_yaml(a), *tb = from_yaml(b);
    strbuf ha = STRBUF_INIT, hb = STRBUF_INIT, again = STRBUF_INIT;

    (void)state;
    hashes(ta, &ha);
    hashes(tb, &hb);
    hashes(ta, &again);
    assert_string_equal(strbuf_str(&ha), strbuf_str(&hb));
    assert_string_equal(strbuf_str(&ha), strbuf_str(&again));
    assert_true(ha.len > 100);
    strbuf_release(&ha);
    strbuf_release(&hb);
    strbuf_release(&again);
    json_object_put(ta);
    json_object_put(tb);
}

/* --- public IP and errors ---------------------------------------------------------------- */

static void test_desired_public_ip_resolution(void **state)
{
    json_object *t = example("tenant-aio.yaml"); /* infraEnv cloud, no natIP */
    desired_options none = {NULL, NULL, 0, NULL}, dry = {NULL, NULL, 1, NULL};
    omlop_err err = OMLOP_ERR_INIT;
    desired_state *ds = NULL;

    (void)state;
    assert_int_equal(desired_build(t, &none, &ds, &err), OMLOP_EUNAVAIL);
    assert_null(ds);
    /* the host named once (lib/err.h), not by each layer */
    {
        const char *first = strstr(err.msg, "host algarrobo");

        assert_non_null(first);
        assert_null(strstr(first + 1, "host algarrobo"));
    }
    assert_non_null(strstr(err.msg, "public IP"));

    assert_int_equal(desired_build(t, &dry, &ds, &err), 0);
    assert_env(find(ds, "algarrobo", "oml-asterisk-server"), "ASTERISK_PUBLIC_IP",
               "<public-ip:algarrobo>");
    desired_free(ds);

    /* nat with a literal address: no discovery needed, PUBLIC_IP for rtpengine */
    set_str(t, "spec.network.infraEnv", "nat");
    set_str(t, "spec.network.natIP", "198.51.100.7");
    assert_int_equal(desired_build(t, &none, &ds, &err), 0);
    assert_env(find(ds, "algarrobo", "oml-rtpengine-server"), "PUBLIC_IP", "198.51.100.7");
    assert_env(find(ds, "algarrobo", "oml-asterisk-server"), "ASTERISK_PUBLIC_IP", "198.51.100.7");
    assert_env(find(ds, "algarrobo", "oml-rtpengine-server"), "ENV", "nat");
    desired_free(ds);

    /* natIP auto: discovered */
    set_str(t, "spec.network.natIP", "auto");
    ds = NULL;
    {
        desired_options disc = {fixed_public_ip, (void *)"192.0.2.99", 0, NULL};

        assert_int_equal(desired_build(t, &disc, &ds, &err), 0);
    }
    assert_env(find(ds, "algarrobo", "oml-rtpengine-server"), "PUBLIC_IP", "192.0.2.99");
    desired_free(ds);
    json_object_put(t);
}

typedef struct err_case {
    const char *what;
    const char *yaml_hosts; /* the spec.hosts list and layout */
    int code;
    const char *msg;
} err_case;

static void test_desired_layout_errors_name_the_field(void **state)
{
    /* Built as JSON (not through the schema, whose rules would refuse them first):
     * desired must not trust its caller to have run them. */
    static const err_case cases[] = {
        {"cluster with two hosts",
         "{\"layout\":\"cluster\",\"hosts\":[{\"name\":\"a\",\"role\":\"data\",\"lanIP\":\"1.1.1."
         "1\"},"
         "{\"name\":\"b\",\"role\":\"app\",\"lanIP\":\"1.1.1.2\"}]}",
         OMLOP_EINVAL, "layout cluster takes three hosts"},
        {"cluster without voice",
         "{\"layout\":\"cluster\",\"hosts\":[{\"name\":\"a\",\"role\":\"data\",\"lanIP\":\"1.1.1."
         "1\"},"
         "{\"name\":\"b\",\"role\":\"app\",\"lanIP\":\"1.1.1.2\"},{\"name\":\"c\",\"role\":\"app\","
         "\"lanIP\":\"1.1.1.3\"}]}",
         OMLOP_EINVAL, "exactly one host with role voice (found 0)"},
        {"aio with two hosts",
         "{\"layout\":\"aio\",\"hosts\":[{\"name\":\"a\",\"lanIP\":\"1.1.1.1\"},{\"name\":\"b\","
         "\"lanIP\":\"1.1.1.2\"}]}",
         OMLOP_EINVAL, "layout aio takes exactly one host (found 2)"},
        {"aio with a cluster role",
         "{\"layout\":\"aio\",\"hosts\":[{\"name\":\"a\",\"role\":\"data\",\"lanIP\":\"1.1.1.1\"}]"
         "}",
         OMLOP_EINVAL, "spec.hosts[0].role"},
        {"ha without backup",
         "{\"layout\":\"ha\",\"hosts\":[{\"name\":\"a\",\"role\":\"main\",\"lanIP\":\"1.1.1.1\"},"
         "{\"name\":\"b\",\"role\":\"main\",\"lanIP\":\"1.1.1.2\"}]}",
         OMLOP_EINVAL, "role main (found 2)"},
        {"ha without VIPs",
         "{\"layout\":\"ha\",\"hosts\":[{\"name\":\"a\",\"role\":\"main\",\"lanIP\":\"1.1.1.1\"},"
         "{\"name\":\"b\",\"role\":\"backup\",\"lanIP\":\"1.1.1.2\"}]}",
         OMLOP_EINVAL, "spec.ha"},
        {"missing lanIP", "{\"layout\":\"aio\",\"hosts\":[{\"name\":\"a\"}]}", OMLOP_EINVAL,
         "spec.hosts[0].lanIP: missing (host a)"},
        {"duplicate host names",
         "{\"layout\":\"ha\",\"hosts\":[{\"name\":\"a\",\"role\":\"main\",\"lanIP\":\"1.1.1.1\"},"
         "{\"name\":\"a\",\"role\":\"backup\",\"lanIP\":\"1.1.1.2\"}]}",
         OMLOP_EINVAL, "spec.hosts[1].name: a is used twice"},
        {"unknown layout",
         "{\"layout\":\"mesh\",\"hosts\":[{\"name\":\"a\",\"lanIP\":\"1.1.1.1\"}]}", OMLOP_EINVAL,
         "spec.layout: \"mesh\""},
        {"no hosts", "{\"layout\":\"aio\",\"hosts\":[]}", OMLOP_EINVAL, "spec.hosts"},
        {"bad memory",
         "{\"layout\":\"aio\",\"hosts\":[{\"name\":\"a\",\"lanIP\":\"1.1.1.1\"}],\"network\":"
         "{\"infraEnv\":\"lan\"},\"scaling\":{\"asterisk\":{\"memoryLimit\":\"12X\"}}}",
         OMLOP_EINVAL, "spec.scaling.asterisk.memoryLimit"},
        {"line break in a value",
         "{\"layout\":\"aio\",\"hosts\":[{\"name\":\"a\",\"lanIP\":\"1.1.1.1\"}],\"network\":"
         "{\"infraEnv\":\"lan\"},\"timeZone\":\"UTC\\nEVIL=1\"}",
         OMLOP_EINVAL, "env TZ: the value from the spec contains a line break"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *t = json_object_new_object(), *meta = json_object_new_object();
        json_object *spec = json_tokener_parse(cases[i].yaml_hosts);
        omlop_err err = OMLOP_ERR_INIT;
        desired_state *ds = NULL;
        int rc;

        assert_non_null(spec);
        json_object_object_add(meta, "name", json_object_new_string("acme"));
        json_object_object_add(t, "metadata", meta);
        json_object_object_add(t, "spec", spec);
        rc = desired_build(t, &with_ip, &ds, &err);
        if (rc != cases[i].code)
            fail_msg("%s: rc %d (%s), want %d", cases[i].what, rc, err.msg, cases[i].code);
        assert_null(ds);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].what, err.msg, cases[i].msg);
        assert_non_null(strstr(err.msg, "acme"));
        json_object_put(t);
    }
}

typedef struct mem_case {
    const char *in;
    int rc;
    int64_t want;
} mem_case;

static void test_desired_parse_memory(void **state)
{
    static const mem_case cases[] = {
        {"512", 0, 512},
        {"64k", 0, 65536},
        {"1M", 0, 1048576},
        {"2G", 0, (int64_t)2 << 30},
        {"1g", 0, (int64_t)1 << 30},
        {"", OMLOP_EINVAL, 0},
        {"G", OMLOP_EINVAL, 0},
        {"1T", OMLOP_EINVAL, 0},
        {"1.5G", OMLOP_EINVAL, 0},
        {"99999999999999999999", OMLOP_EINVAL, 0},
        {"9999999999999G", OMLOP_EINVAL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        omlop_err err = OMLOP_ERR_INIT;
        int64_t v = -1;
        int rc = desired_parse_memory(cases[i].in, &v, &err);

        if (rc != cases[i].rc)
            fail_msg("\"%s\": rc %d want %d", cases[i].in, rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(v, cases[i].want);
    }
}

/* Every variable a template may use is defined for a tenant using every feature. */
static void test_desired_vars_cover_catalog(void **state)
{
    json_object *t = example("tenant-cluster.yaml"), *vars = NULL;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    set_str(t, "spec.observability.lokiURL", "https://loki.example.com/push");
    set_str(t, "spec.telephony.homerHost", "10.2.2.2");
    set_str(t, "spec.app.dialer.host", "10.1.1.1");
    set_str(t, "spec.app.dialer.passwordSecretRef.name", "dialer");
    set_str(t, "spec.app.smtp.host", "smtp.example.com");
    set_str(t, "spec.app.smtp.user", "u");
    set_str(t, "spec.app.smtp.from", "oml@example.com");
    set_str(t, "spec.app.smtp.passwordSecretRef.name", "smtp");
    set_str(t, "spec.network.fqdn", "oml.example.com");
    set_str(t, "spec.network.natIP", "198.51.100.7");
    set_str(t, "spec.database.readOnlyHost", "unused-without-host");
    set_path(t, "spec.app.corsAllowedOrigins", json_tokener_parse("[\"https://a\",\"https://b\"]"));
    assert_int_equal(desired_vars(t, "data", &with_ip, &vars, &err), 0);
    for (size_t i = 0; i < catalog_var_count(); i++) {
        const catalog_var *v = catalog_var_at(i);
        json_object *val = NULL;

        if (!json_object_object_get_ex(vars, v->name, &val) && !v->is_optional)
            fail_msg("variable %s undefined", v->name);
        if (val && v->is_secret)
            assert_non_null(cjson_get(val, "secretRef.name"));
    }
    assert_string_equal(cjson_get_string(vars, "cors_origins"), "https://a,https://b");
    assert_string_equal(cjson_get_string(vars, "pg_listen"), "172.16.101.41");
    assert_null(cjson_get(vars, "pg_ro_host")); /* readOnlyHost counts only with host */
    assert_null(cjson_get(vars, "email_use_ssl"));
    assert_string_equal(cjson_get_string(vars, "email_use_tls"), "True");
    json_object_put(vars);
    assert_int_equal(desired_vars(t, "nope", &with_ip, &vars, &err), OMLOP_ENOTFOUND);
    json_object_put(t);
}

static void test_desired_state_json(void **state)
{
    json_object *t = example("tenant-cluster.yaml");
    desired_state *ds = build(t);
    json_object *all = desired_state_to_json(ds, NULL), *one = desired_state_to_json(ds, "voice");
    json_object *c0;

    (void)state;
    assert_int_equal(json_object_array_length(cjson_get(all, "hosts")), 3);
    assert_int_equal(json_object_array_length(cjson_get(one, "hosts")), 1);
    c0 = json_object_array_get_idx(
        cjson_get(json_object_array_get_idx(cjson_get(one, "hosts"), 0), "containers"), 0);
    assert_string_equal(cjson_get_string(c0, "name"), "oml-rtpengine-server");
    assert_string_equal(cjson_get_string(c0, "readiness.kind"), "running");
    assert_string_equal(cjson_get_string(c0, "network"), "host");
    assert_string_equal(
        json_object_get_string(json_object_array_get_idx(cjson_get(c0, "capAdd"), 0)), "NET_ADMIN");
    assert_int_equal(strlen(cjson_get_string(c0, "specHash")), 64);
    json_object_put(all);
    json_object_put(one);
    desired_free(ds);
    json_object_put(t);
}

/* The readers of the certificates directory (nginx, kamailio) carry the TLS pair's digest
 * beside their spec hash (like the env hash): `omlctl render` cannot know the pair, so the spec
 * hash must not move with it. */
static void test_desired_tls_digest_on_readers_only(void **state)
{
    json_object *t = example("tenant-aio.yaml");
    desired_options a = with_ip, b = with_ip;
    desired_state *da = NULL, *db = NULL;
    omlop_err err = OMLOP_ERR_INIT;
    size_t n_readers = 0;

    (void)state;
    b.tls_digest = "1111111111111111111111111111111111111111111111111111111111111111";
    if (desired_build(t, &a, &da, &err) < 0 || desired_build(t, &b, &db, &err) < 0)
        fail_msg("desired: %s", err.msg);
    for (size_t i = 0; i < desired_host_at(da, 0)->n_containers; i++) {
        const desired_container *ca = &desired_host_at(da, 0)->containers[i];
        const desired_container *cb = &desired_host_at(db, 0)->containers[i];
        int reads = strcmp(ca->component->name, "nginx") == 0 ||
                    strcmp(ca->component->name, "kamailio") == 0;

        assert_int_equal(ca->is_tls_reader, reads);
        assert_null(ca->tls_digest);
        assert_string_equal(ca->spec_hash, cb->spec_hash);
        assert_null(desired_container_label(cb, OMLOP_LABEL_TLS_HASH));
        if (reads) {
            n_readers++;
            assert_string_equal(cb->tls_digest, b.tls_digest);
        } else {
            assert_null(cb->tls_digest);
        }
    }
    assert_int_equal(n_readers, 2);
    desired_free(da);
    desired_free(db);
    json_object_put(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desired_tls_digest_on_readers_only),
        cmocka_unit_test(test_desired_placement_per_layout),
        cmocka_unit_test(test_desired_hosts_and_layout_reported),
        cmocka_unit_test(test_desired_image_naming),
        cmocka_unit_test(test_desired_ha_uses_repmgr_postgres_image),
        cmocka_unit_test(test_desired_external_services_disable_bundled),
        cmocka_unit_test(test_desired_external_bucket_env),
        cmocka_unit_test(test_desired_loki_adds_promtail_on_every_host),
        cmocka_unit_test(test_desired_prometheus_scrapes_exporters_of_every_host),
        cmocka_unit_test(test_desired_nginx_env_file_aio),
        cmocka_unit_test(test_desired_env_of_key_components),
        cmocka_unit_test(test_desired_postgres_command_and_volumes),
        cmocka_unit_test(test_desired_secrets_are_references),
        cmocka_unit_test(test_desired_env_resolve_for_create),
        cmocka_unit_test(test_desired_secret_resolver_errors),
        cmocka_unit_test(test_desired_optional_secret_only_when_configured),
        cmocka_unit_test(test_desired_labels),
        cmocka_unit_test(test_desired_hash_changes_only_where_relevant),
        cmocka_unit_test(test_desired_hash_stable_and_key_order_free),
        cmocka_unit_test(test_desired_public_ip_resolution),
        cmocka_unit_test(test_desired_layout_errors_name_the_field),
        cmocka_unit_test(test_desired_parse_memory),
        cmocka_unit_test(test_desired_vars_cover_catalog),
        cmocka_unit_test(test_desired_state_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
