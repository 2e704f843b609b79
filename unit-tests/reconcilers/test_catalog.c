/*
 * Tests for reconcilers/catalog: the table's invariants, the 2.X facts it must
 * match (names, env files, groups, start order, disabled-when rules) and the
 * template parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "reconcilers/catalog.h"

static void test_catalog_check_passes(void **state)
{
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    if (catalog_check(&err) != 0)
        fail_msg("%s", err.msg);
}

typedef struct bad_case {
    const char *what;
    catalog_component entry; /* checked after a copy of the real first component */
    const char *error;       /* substring of the message */
} bad_case;

static void test_catalog_check_rejects_bad_tables(void **state)
{
    static const catalog_env unknown_var[] = {{"X", "{no_such_var}"}, {NULL, NULL}};
    static const catalog_env embedded_secret[] = {{"URL", "pg://u:{pg_password}@h"}, {NULL, NULL}};
    static const catalog_env bad_key[] = {{"lower", "x"}, {NULL, NULL}};
    static const catalog_env twice[] = {{"A", "1"}, {"A", "2"}, {NULL, NULL}};
    static const catalog_env unbalanced[] = {{"A", "{tz"}, {NULL, NULL}};
    static const char *const secret_cmd[] = {"--pass={pg_password}", NULL};
    static const catalog_volume dir_named[] = {{"vol", "/v", 0, NULL, 0755},
                                               {NULL, NULL, 0, NULL, 0}};
    static const catalog_volume dir_tmpl[] = {{"{podman_socket}", "/v", 0, NULL, 0755},
                                              {NULL, NULL, 0, NULL, 0}};
    static const catalog_volume dir_mode[] = {{"/etc/x", "/v", 0, NULL, 010000},
                                              {NULL, NULL, 0, NULL, 0}};
    catalog_component base = *catalog_at(1);
    bad_case cases[11];
    size_t n = 0;

    (void)state;
    base.name = "t";
    base.container = "oml-t-server";
    base.env_file = "/etc/default/t.env";
    base.order = catalog_at(0)->order + 1;
    for (size_t i = 0; i < 11; i++)
        cases[i].entry = base;
    cases[n].what = "unknown variable", cases[n].error = "unknown variable {no_such_var}";
    cases[n++].entry.env = unknown_var;
    cases[n].what = "secret inside a string", cases[n].error = "must be the whole value";
    cases[n++].entry.env = embedded_secret;
    cases[n].what = "lower-case key", cases[n].error = "bad env key 'lower'";
    cases[n++].entry.env = bad_key;
    cases[n].what = "key twice", cases[n].error = "env A given twice";
    cases[n++].entry.env = twice;
    cases[n].what = "unbalanced", cases[n].error = "bad template";
    cases[n++].entry.env = unbalanced;
    cases[n].what = "secret in command", cases[n].error = "must be the whole value";
    cases[n++].entry.command = secret_cmd;
    cases[n].what = "order not ascending", cases[n].error = "not after";
    cases[n++].entry.order = catalog_at(0)->order;
    cases[n].what = "same container", cases[n].error = "share a name";
    cases[n++].entry.container = catalog_at(0)->container;
    /* a directory omlop makes is a literal host path with a real mode */
    cases[n].what = "dir of a named volume", cases[n].error = "a directory omlop makes";
    cases[n++].entry.volumes = dir_named;
    cases[n].what = "dir of a template", cases[n].error = "a directory omlop makes";
    cases[n++].entry.volumes = dir_tmpl;
    cases[n].what = "dir mode past 07777", cases[n].error = "a mode up to 07777";
    cases[n++].entry.volumes = dir_mode;

    for (size_t i = 0; i < n; i++) {
        catalog_component table[2] = {*catalog_at(0), cases[i].entry};
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(catalog_check_table(table, 1, &err), 0);
        if (catalog_check_table(table, 2, &err) != OMLOP_EINTERNAL)
            fail_msg("%s: accepted", cases[i].what);
        if (!strstr(err.msg, cases[i].error))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].what, err.msg, cases[i].error);
    }
    {
        catalog_component table[2] = {*catalog_at(0), base};
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(catalog_check_table(table, 2, &err), 0);
    }
}

typedef struct fact {
    const char *name;
    const char *container;
    const char *env_file;
    unsigned groups;
    const char *image_repo;   /* omnileads/<repo>, or NULL for third-party */
    const char *external_key; /* images.external key, or NULL */
} fact;

/* What the 2.X tool runs (omldeploytool release-2.2.2): the component list. */
static const fact facts[] = {
    {"minio", "oml-minio-server", "/etc/default/minio.env", CATALOG_GROUP_DATA, NULL, "minio"},
    {"postgresql", "oml-postgresql-server", "/etc/default/postgres.env", CATALOG_GROUP_DATA, NULL,
     "postgres"},
    {"redis", "oml-redis-server", "/etc/default/redis.env", CATALOG_GROUP_DATA, "redis", NULL},
    {"rabbitmq", "oml-rabbitmq-server", "/etc/default/rabbitmq.env", CATALOG_GROUP_DATA, NULL,
     "rabbitmq"},
    {"rtpengine", "oml-rtpengine-server", "/etc/default/rtpengine.env", CATALOG_GROUP_VOICE,
     "rtpengine", NULL},
    {"asterisk", "oml-asterisk-server", "/etc/default/asterisk.env", CATALOG_GROUP_VOICE,
     "asterisk", NULL},
    {"asterisk_retrieve_conf", "oml-asterisk-retrieve-conf",
     "/etc/default/asterisk_retrieve_conf.env", CATALOG_GROUP_VOICE, "acd_retrieve_conf", NULL},
    {"interaction_processor", "oml-interaction_processor-server",
     "/etc/default/interaction_processor.env", CATALOG_GROUP_VOICE, "interaction_processor", NULL},
    /* kamailio runs on the app host in 2.X, not on voice */
    {"kamailio", "oml-kamailio-server", "/etc/default/kamailio.env", CATALOG_GROUP_APP, "kamailio",
     NULL},
    {"fastagi", "oml-fastagi-server", "/etc/default/fastagi.env", CATALOG_GROUP_APP, "fastagi",
     NULL},
    {"astami", "oml-ami-server", "/etc/default/ami.env", CATALOG_GROUP_APP, "astami", NULL},
    {"websockets", "oml-websockets-server", "/etc/default/websockets.env", CATALOG_GROUP_APP,
     "websockets", NULL},
    {"daphne", "oml-daphne-server", "/etc/default/daphne.env", CATALOG_GROUP_APP, "omlapp", NULL},
    {"omlapp", "oml-uwsgi-server", "/etc/default/django.env", CATALOG_GROUP_APP, "omlapp", NULL},
    {"omlcron", "oml-cron-server", "/etc/default/omlcron.env", CATALOG_GROUP_APP, "omlapp", NULL},
    {"nginx", "oml-nginx-server", "/etc/default/nginx.env", CATALOG_GROUP_APP, "nginx", NULL},
    {"prometheus", "oml-prometheus-server", "/etc/default/prometheus.env", CATALOG_GROUP_APP, NULL,
     "prometheus"},
    {"node_exporter", "oml-prometheus-node", "/etc/default/prometheus_node.env",
     CATALOG_GROUP_EVERY, NULL, "nodeExporter"},
    {"podman_exporter", "oml-prometheus-podman", "/etc/default/prometheus_podman.env",
     CATALOG_GROUP_EVERY, NULL, "podmanExporter"},
    {"postgres_exporter", "oml-prometheus-postgres", "/etc/default/prometheus_postgres.env",
     CATALOG_GROUP_DATA, NULL, "postgresExporter"},
    {"redis_exporter", "oml-prometheus-redis", "/etc/default/prometheus_redis.env",
     CATALOG_GROUP_DATA, NULL, "redisExporter"},
    {"promtail", "oml-promtail-server", "/etc/default/promtail.env", CATALOG_GROUP_EVERY, NULL,
     "promtail"},
    /* not a 2.X container (2.X installed keepalived on the host): layout ha only */
    {"keepalived", "oml-keepalived", "/etc/default/keepalived.env", CATALOG_GROUP_EVERY, NULL,
     "keepalived"},
};

static void test_catalog_matches_2x_facts(void **state)
{
    (void)state;
    assert_int_equal(catalog_count(), sizeof(facts) / sizeof(facts[0]));
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
        const fact *f = &facts[i];
        const catalog_component *c = catalog_find(f->name);

        if (!c)
            fail_msg("component %s missing", f->name);
        assert_string_equal(c->container, f->container);
        assert_string_equal(c->env_file, f->env_file);
        if (c->groups != f->groups)
            fail_msg("component %s: groups %u, want %u", f->name, c->groups, f->groups);
        assert_true(c->is_host_network);
        if (f->image_repo) {
            assert_non_null(c->image.repo);
            assert_string_equal(c->image.repo, f->image_repo);
        } else {
            assert_null(c->image.repo);
            assert_string_equal(c->image.external_key, f->external_key);
        }
        assert_ptr_equal(catalog_find_container(f->container), c);
    }
    assert_null(catalog_find("nope"));
    assert_null(catalog_find_container("oml-nope-server"));
    assert_null(catalog_find(NULL));
}

static void test_catalog_start_order_follows_matrix(void **state)
{
    /* matrix.yml: minio, postgresql, redis, rabbitmq, rtpengine, fastagi, asterisk,
     * kamailio, ami, websockets, daphne, django, interaction_processor, nginx, cron,
     * observability; the config retriever right after Asterisk. */
    static const char *const order[] = {
        "minio",         "postgresql",
        "redis",         "rabbitmq",
        "rtpengine",     "fastagi",
        "asterisk",      "asterisk_retrieve_conf",
        "kamailio",      "astami",
        "websockets",    "daphne",
        "omlapp",        "interaction_processor",
        "nginx",         "omlcron",
        "node_exporter",
    };

    (void)state;
    for (size_t i = 1; i < sizeof(order) / sizeof(order[0]); i++) {
        const catalog_component *a = catalog_find(order[i - 1]), *b = catalog_find(order[i]);

        assert_non_null(a);
        assert_non_null(b);
        if (a->order >= b->order)
            fail_msg("%s (order %d) must start before %s (order %d)", a->name, a->order, b->name,
                     b->order);
    }
    for (size_t i = 1; i < catalog_count(); i++)
        assert_true(catalog_at(i - 1)->order < catalog_at(i)->order);
    assert_null(catalog_at(catalog_count()));
}

typedef struct off_case {
    const char *name;
    unsigned off;
} off_case;

static void test_catalog_disabled_when_rules(void **state)
{
    static const off_case cases[] = {
        {"postgresql", CATALOG_OFF_EXT_POSTGRES},
        {"minio", CATALOG_OFF_EXT_BUCKET},
        {"rtpengine", CATALOG_OFF_EXT_RTPENGINE},
        {"redis", CATALOG_OFF_EXT_REDIS},
        {"postgres_exporter", CATALOG_OFF_NO_METRICS | CATALOG_OFF_EXT_POSTGRES},
        {"redis_exporter", CATALOG_OFF_NO_METRICS | CATALOG_OFF_EXT_REDIS},
        {"node_exporter", CATALOG_OFF_NO_METRICS},
        {"podman_exporter", CATALOG_OFF_NO_METRICS},
        {"prometheus", CATALOG_OFF_NO_METRICS},
        {"promtail", CATALOG_OFF_NO_METRICS | CATALOG_OFF_NO_LOKI},
        {"asterisk", 0},
        {"omlapp", 0},
        {"nginx", 0},
        {"rabbitmq", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const catalog_component *c = catalog_find(cases[i].name);

        assert_non_null(c);
        if (c->off_when != cases[i].off)
            fail_msg("%s: off_when %#x, want %#x", c->name, c->off_when, cases[i].off);
    }
}

static void test_catalog_enterprise_suffix_only_on_omlapp_image(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_count(); i++) {
        const catalog_component *c = catalog_at(i);
        int want = c->image.repo && strcmp(c->image.repo, "omlapp") == 0;

        if (c->image.is_edition_suffixed != want)
            fail_msg("%s: edition suffix %d, want %d", c->name, c->image.is_edition_suffixed, want);
    }
    assert_string_equal(catalog_find("postgresql")->image_ha.tag_key, "postgresHA");
    assert_int_equal(catalog_find("asterisk")->mem_rule, CATALOG_MEM_ASTERISK_SCALE);
    assert_int_equal(catalog_find("promtail")->mem_rule, CATALOG_MEM_FIXED);
}

typedef struct collect {
    char names[8][32];
    size_t n;
} collect;

static int collect_var(void *ctx, const char *name, size_t len)
{
    collect *c = ctx;

    if (c->n == 8 || len >= 32)
        return -1;
    memcpy(c->names[c->n], name, len);
    c->names[c->n][len] = '\0';
    c->n++;
    return 0;
}

typedef struct tmpl_case {
    const char *tmpl;
    int rc;
    size_t n;
    const char *first;
    const char *second;
} tmpl_case;

static void test_catalog_template_parser(void **state)
{
    static const tmpl_case cases[] = {
        {"plain", 0, 0, NULL, NULL},
        {"", 0, 0, NULL, NULL},
        {"{a}", 0, 1, "a", NULL},
        {"redis://{redis_host}:{redis_port}", 0, 2, "redis_host", "redis_port"},
        {"x{a}y{b}z", 0, 2, "a", "b"},
        {"{", OMLOP_EINVAL, 0, NULL, NULL},
        {"}", OMLOP_EINVAL, 0, NULL, NULL},
        {"a}{b", OMLOP_EINVAL, 0, NULL, NULL},
        {"{}", OMLOP_EINVAL, 0, NULL, NULL},
        {"{a{b}", OMLOP_EINVAL, 0, NULL, NULL},
        {"{a}}", OMLOP_EINVAL, 1, "a", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tmpl_case *tc = &cases[i];
        omlop_err err = OMLOP_ERR_INIT;
        collect c;
        int rc;

        memset(&c, 0, sizeof(c));
        rc = catalog_template_each_var(tc->tmpl, collect_var, &c, &err);
        if (rc != tc->rc)
            fail_msg("template \"%s\": rc %d, want %d", tc->tmpl, rc, tc->rc);
        if (rc == 0) {
            assert_int_equal(c.n, tc->n);
            if (tc->first)
                assert_string_equal(c.names[0], tc->first);
            if (tc->second)
                assert_string_equal(c.names[1], tc->second);
        } else {
            assert_non_null(strstr(err.msg, tc->tmpl));
        }
    }
}

static void test_catalog_variables_documented(void **state)
{
    (void)state;
    assert_true(catalog_var_count() > 40);
    for (size_t i = 0; i < catalog_var_count(); i++) {
        const catalog_var *v = catalog_var_at(i);

        assert_non_null(v->doc);
        assert_true(strlen(v->doc) > 5);
        assert_ptr_equal(catalog_var_find(v->name), v);
    }
    assert_true(catalog_var_find("pg_password")->is_secret);
    assert_true(catalog_var_find("ami_password")->is_secret);
    assert_true(catalog_var_find("s3_secret_key")->is_secret);
    assert_false(catalog_var_find("pg_host")->is_secret);
    assert_true(catalog_var_find("nat_ip")->is_optional);
    assert_null(catalog_var_find("no_such_var"));
    assert_null(catalog_var_at(catalog_var_count()));
}

static void test_catalog_secrets_only_whole_env_values(void **state)
{
    /* Every use of a secret variable anywhere in the table is a whole env value. */
    (void)state;
    for (size_t i = 0; i < catalog_count(); i++) {
        const catalog_component *c = catalog_at(i);
        const catalog_env *sets[2] = {c->env_common, c->env};

        for (size_t s = 0; s < 2; s++) {
            for (const catalog_env *e = sets[s]; e && e->key; e++) {
                for (size_t v = 0; v < catalog_var_count(); v++) {
                    const catalog_var *cv = catalog_var_at(v);
                    char whole[80];

                    if (!cv->is_secret)
                        continue;
                    snprintf(whole, sizeof(whole), "{%s}", cv->name);
                    if (strstr(e->tmpl, whole) && strcmp(e->tmpl, whole) != 0)
                        fail_msg("%s env %s embeds secret %s", c->name, e->key, cv->name);
                }
            }
        }
    }
}

/* docs/components.md documents every component: a table row with its container and env file. */
static void test_catalog_documented_in_docs(void **state)
{
    const char *src = getenv("OMLOP_SRCDIR");
    omlop_err err = OMLOP_ERR_INIT;
    strbuf doc = STRBUF_INIT, row = STRBUF_INIT;
    char path[4096];

    (void)state;
    snprintf(path, sizeof(path), "%s/docs/components.md", src ? src : ".");
    if (strbuf_read_file(&doc, path, 1u << 20, &err) < 0)
        fail_msg("%s", err.msg);
    for (size_t i = 0; i < catalog_count(); i++) {
        const catalog_component *c = catalog_at(i);
        const char *line;

        strbuf_reset(&row);
        strbuf_addf(&row, "| %d | ", c->order);
        line = strstr(strbuf_str(&doc), strbuf_str(&row));
        if (!line)
            fail_msg("docs/components.md has no row for %s (order %d)", c->name, c->order);
        strbuf_reset(&row);
        strbuf_add(&row, line, strcspn(line, "\n"));
        if (!strstr(strbuf_str(&row), c->container) || !strstr(strbuf_str(&row), c->env_file))
            fail_msg("docs/components.md row for %s lacks %s or %s", c->name, c->container,
                     c->env_file);
    }
    strbuf_release(&doc);
    strbuf_release(&row);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_check_passes),
        cmocka_unit_test(test_catalog_check_rejects_bad_tables),
        cmocka_unit_test(test_catalog_matches_2x_facts),
        cmocka_unit_test(test_catalog_start_order_follows_matrix),
        cmocka_unit_test(test_catalog_disabled_when_rules),
        cmocka_unit_test(test_catalog_enterprise_suffix_only_on_omlapp_image),
        cmocka_unit_test(test_catalog_template_parser),
        cmocka_unit_test(test_catalog_variables_documented),
        cmocka_unit_test(test_catalog_secrets_only_whole_env_values),
        cmocka_unit_test(test_catalog_documented_in_docs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
