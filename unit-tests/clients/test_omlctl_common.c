/*
 * Tests for clients/omlctl/common.c and config.c: flag parsing, kind and
 * target resolution, durations, selectors, manifests, and the config file with
 * its precedence (flags > environment > file > default).
 *
 * The modules under test come from build/asan/libomlctl.a.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/omlctl/common.h"
#include "clients/omlctl/config.h"
#include "clients/omlctl/jsonpath.h"
#include "clients/omlctl/output.h"
#include "lib/cjson.h"
#include "lib/log.h"

/* --- flags ------------------------------------------------------------------------------ */

typedef struct flags {
    const char *output;
    int watch;
    omlctl_strv files;
    long timeout_ms;
    long count;
} test_flags;

static int parse(omlctl_ctx *ctx, test_flags *f, omlctl_strv *pos, int argc, const char **argv)
{
    const omlctl_opt opts[] = {
        {"output", 'o', OMLCTL_OPT_STRING, &f->output},
        {"watch", 'w', OMLCTL_OPT_BOOL, &f->watch},
        {"filename", 'f', OMLCTL_OPT_LIST, &f->files},
        {"timeout", 0, OMLCTL_OPT_DURATION, &f->timeout_ms},
        {"count", 0, OMLCTL_OPT_INT, &f->count},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    memset(f, 0, sizeof(*f));
    omlctl_ctx_init(ctx, "test");
    return omlctl_parse_args(ctx, argc, (char **)argv, opts, pos);
}

static void test_flags_forms_and_positionals(void **state)
{
    const char *argv[] = {"get",     "tenants", "-o",        "yaml",         "--watch",
                          "-f",      "a.yaml",  "-fb.yaml",  "--filename=c", "--server=http://h:1",
                          "--token", "t0k",     "--timeout", "1h30m",        "--count=7",
                          "-v=4",    "--",      "-notaflag"};
    omlctl_ctx ctx;
    omlctl_strv pos = OMLCTL_STRV_INIT;
    test_flags f;

    (void)state;
    assert_int_equal(parse(&ctx, &f, &pos, sizeof(argv) / sizeof(argv[0]), argv), OMLCTL_PARSE_OK);
    assert_string_equal(f.output, "yaml");
    assert_int_equal(f.watch, 1);
    assert_int_equal(f.files.n, 3);
    assert_string_equal(f.files.v[0], "a.yaml");
    assert_string_equal(f.files.v[1], "b.yaml");
    assert_string_equal(f.files.v[2], "c");
    assert_string_equal(ctx.flag_server, "http://h:1");
    assert_string_equal(ctx.flag_token, "t0k");
    assert_int_equal(f.timeout_ms, 5400000);
    assert_int_equal(f.count, 7);
    assert_int_equal(ctx.verbose, 4);
    assert_int_equal(pos.n, 2);
    assert_string_equal(pos.v[0], "tenants");
    assert_string_equal(pos.v[1], "-notaflag");
    log_configure(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, stderr);
    omlctl_strv_release(&pos);
    omlctl_strv_release(&f.files);
    omlctl_ctx_release(&ctx);
}

static void test_flags_errors_and_help(void **state)
{
    const char *unknown[] = {"get", "--bogus"};
    const char *missing[] = {"get", "-o"};
    const char *badbool[] = {"get", "--watch=maybe"};
    const char *baddur[] = {"get", "--timeout", "5 minutes"};
    const char *badint[] = {"get", "--count=x"};
    const char *help[] = {"get", "tenants", "-h"};
    const char *stdin_arg[] = {"get", "-", "--watch=false", "-oname"};
    omlctl_ctx ctx;
    omlctl_strv pos = OMLCTL_STRV_INIT;
    test_flags f;

    (void)state;
    assert_int_equal(parse(&ctx, &f, &pos, 2, unknown), OMLCTL_PARSE_USAGE);
    assert_int_equal(parse(&ctx, &f, &pos, 2, missing), OMLCTL_PARSE_USAGE);
    assert_int_equal(parse(&ctx, &f, &pos, 2, badbool), OMLCTL_PARSE_USAGE);
    assert_int_equal(parse(&ctx, &f, &pos, 3, baddur), OMLCTL_PARSE_USAGE);
    assert_int_equal(parse(&ctx, &f, &pos, 2, badint), OMLCTL_PARSE_USAGE);
    assert_int_equal(parse(&ctx, &f, &pos, 3, help), OMLCTL_PARSE_HELP);
    pos.n = 0;
    assert_int_equal(parse(&ctx, &f, &pos, 4, stdin_arg), OMLCTL_PARSE_OK);
    assert_int_equal(pos.n, 1);
    assert_string_equal(pos.v[0], "-");
    assert_int_equal(f.watch, 0);
    assert_string_equal(f.output, "name");
    omlctl_strv_release(&pos);
    omlctl_strv_release(&f.files);
}

/* What the global flags set in a context. */
typedef struct global_effect {
    const char *server, *token, *ca_file;
    int insecure, verbose;
    long request_timeout_ms;
} global_effect;

static void assert_effect(const omlctl_ctx *ctx, const global_effect *want, const char *flag)
{
    if (!ctx->flag_server != !want->server ||
        (want->server && strcmp(ctx->flag_server, want->server)) ||
        !ctx->flag_token != !want->token || (want->token && strcmp(ctx->flag_token, want->token)) ||
        !ctx->flag_ca_file != !want->ca_file ||
        (want->ca_file && strcmp(ctx->flag_ca_file, want->ca_file)) ||
        ctx->flag_insecure != want->insecure || ctx->verbose != want->verbose ||
        ctx->request_timeout_ms != want->request_timeout_ms)
        fail_msg("%s: server=%s token=%s ca=%s insecure=%d verbose=%d timeout=%ld", flag,
                 ctx->flag_server ? ctx->flag_server : "-", ctx->flag_token ? ctx->flag_token : "-",
                 ctx->flag_ca_file ? ctx->flag_ca_file : "-", ctx->flag_insecure, ctx->verbose,
                 ctx->request_timeout_ms);
}

/*
 * Every global flag, in each form, set the same before the verb (moved behind it by
 * omlctl_args_hoist_globals) as after it; the verb's own flags and arguments are untouched.
 */
static void test_global_flags_same_before_and_after_the_verb(void **state)
{
    static const struct {
        const char *args[3];
        global_effect want;
    } cases[] = {
        {{"-s", "http://a:1"}, {"http://a:1", NULL, NULL, 0, 0, -1}},
        {{"-shttp://a:2"}, {"http://a:2", NULL, NULL, 0, 0, -1}},
        {{"--server", "http://a:3"}, {"http://a:3", NULL, NULL, 0, 0, -1}},
        {{"--server=http://a:4"}, {"http://a:4", NULL, NULL, 0, 0, -1}},
        {{"--token", "t1"}, {NULL, "t1", NULL, 0, 0, -1}},
        {{"--token=t2"}, {NULL, "t2", NULL, 0, 0, -1}},
        {{"--ca-file", "/c1"}, {NULL, NULL, "/c1", 0, 0, -1}},
        {{"--ca-file=/c2"}, {NULL, NULL, "/c2", 0, 0, -1}},
        {{"--certificate-authority", "/c3"}, {NULL, NULL, "/c3", 0, 0, -1}},
        {{"--certificate-authority=/c4"}, {NULL, NULL, "/c4", 0, 0, -1}},
        {{"--insecure-skip-tls-verify"}, {NULL, NULL, NULL, 1, 0, -1}},
        {{"--insecure-skip-tls-verify=false"}, {NULL, NULL, NULL, 0, 0, -1}},
        {{"--request-timeout", "30s"}, {NULL, NULL, NULL, 0, 0, 30000}},
        {{"--request-timeout=0"}, {NULL, NULL, NULL, 0, 0, 0}},
        {{"-v"}, {NULL, NULL, NULL, 0, 1, -1}},
        {{"-v5"}, {NULL, NULL, NULL, 0, 5, -1}},
        {{"-v=2"}, {NULL, NULL, NULL, 0, 2, -1}},
        {{"--v=3"}, {NULL, NULL, NULL, 0, 3, -1}},
        {{"--verbose"}, {NULL, NULL, NULL, 0, 1, -1}},
        {{"-s", "http://b:1", "--insecure-skip-tls-verify"}, {"http://b:1", NULL, NULL, 1, 0, -1}},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *before[8] = {"omlctl"}, *after[8] = {"get", "tenants", "-o", "yaml"};
        int nb = 1, na = 4;
        omlctl_ctx ctx;
        omlctl_strv pos = OMLCTL_STRV_INIT;
        test_flags f;

        for (size_t k = 0; k < 3 && cases[i].args[k]; k++) {
            before[nb++] = cases[i].args[k];
            after[na++] = cases[i].args[k];
        }
        before[nb++] = "get";
        before[nb++] = "tenants";
        before[nb++] = "-o";
        before[nb++] = "yaml";
        assert_int_equal(omlctl_args_hoist_globals(nb, (char **)before), OMLCTL_PARSE_OK);
        assert_string_equal(before[1], "get");
        for (int pass = 0; pass < 2; pass++) {
            const char **argv = pass ? after : before + 1;

            pos.n = 0;
            assert_int_equal(parse(&ctx, &f, &pos, pass ? na : nb - 1, argv), OMLCTL_PARSE_OK);
            assert_effect(&ctx, &cases[i].want, cases[i].args[0]);
            assert_int_equal(pos.n, 1);
            assert_string_equal(pos.v[0], "tenants");
            assert_string_equal(f.output, "yaml");
            omlctl_ctx_release(&ctx);
        }
        omlctl_strv_release(&pos);
        log_configure(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, stderr);
    }
}

/* Before the verb only global flags are known; a bad one stops there, naming it. */
static void test_hoist_refuses_unknown_and_bad_global_flags(void **state)
{
    static const struct {
        const char *args[4];
        int argc;
    } bad[] = {
        {{"omlctl", "--bogus", "get"}, 3},   {{"omlctl", "-o", "yaml", "get"}, 4},
        {{"omlctl", "--server"}, 2},         {{"omlctl", "--request-timeout=soon", "get"}, 3},
        {{"omlctl", "-s", "http://a:1"}, 3},
    };
    const char *none[] = {"omlctl", "get", "-s", "x"};
    const char *help[] = {"omlctl", "-s", "x", "--help"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(omlctl_args_hoist_globals(bad[i].argc, (char **)bad[i].args),
                         OMLCTL_PARSE_USAGE);
    assert_int_equal(omlctl_args_hoist_globals(4, (char **)none), OMLCTL_PARSE_OK);
    assert_string_equal(none[1], "get");
    assert_string_equal(none[2], "-s");
    assert_int_equal(omlctl_args_hoist_globals(4, (char **)help), OMLCTL_PARSE_OK);
    assert_string_equal(help[1], "--help");
}

static void test_durations(void **state)
{
    static const struct {
        const char *in;
        long ms;
    } good[] = {{"30s", 30000}, {"5m", 300000}, {"1h30m", 5400000}, {"500ms", 500},
                {"10", 10000},  {"0", 0},       {"2d", 172800000},  {"1m30s", 90000}};
    static const char *const bad[] = {"", "5x", "m", "1.5h", "-1s", "5m3", "99999999999h"};
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long ms = -1;

        assert_int_equal(omlctl_duration_parse(good[i].in, &ms, &err), 0);
        assert_int_equal(ms, good[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long ms;

        assert_int_equal(omlctl_duration_parse(bad[i], &ms, &err), OMLOP_EINVAL);
    }
}

/* --- kinds and targets ------------------------------------------------------------------ */

static schema_set *the_set;

static int setup_set(void **state)
{
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    if (schema_set_new_builtin(&the_set, &err) < 0) {
        fprintf(stderr, "built-in CRDs: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown_set(void **state)
{
    (void)state;
    schema_set_free(the_set);
    return 0;
}

static void test_kind_resolution_by_every_name(void **state)
{
    static const struct {
        const char *in;
        const char *kind;
    } cases[] = {{"tenant", "Tenant"},
                 {"tenants", "Tenant"},
                 {"tn", "Tenant"},
                 {"TN", "Tenant"},
                 {"Tenant", "Tenant"},
                 {"tenants.omlop.io", "Tenant"},
                 {"tenant.v1alpha1.omlop.io", "Tenant"},
                 {"bk", "Backup"},
                 {"rs", "Restore"},
                 {"ev", "Event"},
                 {"secrets", "Secret"}};
    const kind_info *k;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(omlctl_kind_resolve(the_set, cases[i].in, &k, &err), 0);
        assert_string_equal(k->kind, cases[i].kind);
    }
    assert_int_equal(omlctl_kind_resolve(the_set, "pods", &k, &err), OMLOP_EINVAL);
    assert_null(k);
    assert_non_null(strstr(err.msg, "unknown resource type \"pods\""));
    assert_non_null(strstr(err.msg, "tenants (tenant, tn)"));
    assert_non_null(strstr(err.msg, "backups (backup, bk)"));
}

static int targets(const char *const *args, size_t n, int need_names, omlctl_targets *t,
                   omlop_err *err)
{
    omlctl_strv sv = OMLCTL_STRV_INIT;
    int rc;

    for (size_t i = 0; i < n; i++)
        omlctl_strv_push(&sv, args[i]);
    t->n = 0;
    rc = omlctl_targets_parse(the_set, &sv, need_names, t, err);
    omlctl_strv_release(&sv);
    return rc;
}

static void test_targets_forms(void **state)
{
    const char *slash[] = {"tenant/acme", "bk/nightly"};
    const char *names[] = {"tn", "a", "b"};
    const char *kinds[] = {"tenants,backups"};
    const char *mixed[] = {"tenant/acme", "b"};
    const char *empty[] = {"tenant/"};
    const char *nameless[] = {"tenants"};
    omlctl_targets t = OMLCTL_TARGETS_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(targets(slash, 2, 1, &t, &err), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0].kind->kind, "Tenant");
    assert_string_equal(t.v[0].name, "acme");
    assert_string_equal(t.v[1].kind->kind, "Backup");
    assert_string_equal(t.v[1].name, "nightly");
    assert_int_equal(targets(names, 3, 1, &t, &err), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[1].name, "b");
    assert_int_equal(targets(kinds, 1, 0, &t, &err), 0);
    assert_int_equal(t.n, 2);
    assert_null(t.v[0].name);
    assert_string_equal(t.v[1].kind->kind, "Backup");
    assert_int_equal(targets(mixed, 2, 1, &t, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "all must be"));
    assert_int_equal(targets(empty, 1, 1, &t, &err), OMLOP_EINVAL);
    assert_int_equal(targets(nameless, 1, 1, &t, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "name the tenants"));
    assert_int_equal(targets(nameless, 1, 0, &t, &err), 0);
    omlctl_targets_release(&t);
}

static void test_selector_flag(void **state)
{
    json_object *labels = json_tokener_parse("{\"env\":\"prod\",\"team\":\"voice\"}");
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(omlctl_selector_match("env=prod", labels, &err), 1);
    assert_int_equal(omlctl_selector_match("env=prod,team!=voice", labels, &err), 0);
    assert_int_equal(omlctl_selector_match("env in (dev,prod),!legacy", labels, &err), 1);
    assert_int_equal(omlctl_selector_match("team notin (voice)", labels, &err), 0);
    assert_int_equal(omlctl_selector_match("env", NULL, &err), 0);
    assert_int_equal(omlctl_selector_match("", NULL, &err), 1);
    assert_int_equal(omlctl_selector_match("env in (a", labels, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "env in (a"));
    assert_int_equal(omlctl_selector_match("=x", labels, &err), OMLOP_EINVAL);
    json_object_put(labels);
}

/* --- manifests -------------------------------------------------------------------------- */

static char tmpdir[64];

static void write_text(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/octl-common-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char secret_a[] = "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n"
                               "  name: a\n  labels:\n    env: prod\nstringData:\n  k: v\n";

static void test_manifests_load_validates_and_finds_duplicates(void **state)
{
    omlctl_ctx ctx;
    omlctl_strv paths = OMLCTL_STRV_INIT;
    omlctl_manifests ms;
    omlop_err err = OMLOP_ERR_INIT;
    char dir[128], p2[128];

    (void)state;
    setup_tmp(NULL);
    snprintf(dir, sizeof(dir), "%s", tmpdir);
    write_text("one.yaml", secret_a);
    write_text("two.yaml", "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n"
                           "  name: b\nstringData:\n  k: v\n---\n---\n"
                           "apiVersion: omlop.io/v1alpha1\nkind: Secret\nmetadata:\n"
                           "  name: c\nstringData:\n  k: v\n");
    omlctl_ctx_init(&ctx, "test");
    omlctl_strv_push(&paths, dir);
    assert_int_equal(omlctl_manifests_load(&ctx, &paths, 1, &ms, &err), 0);
    assert_int_equal(ms.n, 3);
    assert_string_equal(ms.v[0].name, "a");
    assert_string_equal(ms.v[0].kind->kind, "Secret");
    assert_string_equal(ms.v[2].name, "c");
    assert_non_null(strstr(ms.v[2].source, "two.yaml (document 3)"));
    omlctl_manifests_release(&ms);

    /* The same object in two files, an unknown kind and a schema error: all reported. */
    snprintf(p2, sizeof(p2), "%s/one.yaml", tmpdir);
    omlctl_strv_push(&paths, p2);
    write_text("bad.yml", "apiVersion: omlop.io/v1alpha1\nkind: Pod\nmetadata:\n  name: p\n");
    assert_int_equal(omlctl_manifests_load(&ctx, &paths, 1, &ms, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "problems in the manifests; nothing was sent"));
    assert_int_equal(ms.n, 0);
    omlctl_strv_release(&paths);
    omlctl_ctx_release(&ctx);
    teardown_tmp(NULL);
}

/* --crds-dir loads that directory once; without it the built-in model is used. */
static void test_schemas_from_crds_dir_or_builtin(void **state)
{
    omlctl_ctx ctx;
    omlop_err err = OMLOP_ERR_INIT;
    schema_set *a = NULL, *b = NULL;
    char dir[4096];
    const char *src = getenv("OMLOP_SRCDIR");

    (void)state;
    omlctl_ctx_init(&ctx, "test");
    assert_int_equal(omlctl_ctx_schemas_from(&ctx, "/nonexistent/crds", &a, &err), OMLOP_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/crds"));
    assert_null(a);
    snprintf(dir, sizeof(dir), "%s/crds", src ? src : ".");
    assert_int_equal(omlctl_ctx_schemas_from(&ctx, dir, &a, &err), 0);
    assert_non_null(a);
    assert_non_null(schema_set_find_kind(a, "tenant"));
    assert_int_equal(omlctl_ctx_schemas_from(&ctx, dir, &b, &err), 0);
    assert_ptr_equal(a, b);
    omlctl_ctx_release(&ctx);

    omlctl_ctx_init(&ctx, "test");
    assert_int_equal(omlctl_ctx_schemas_from(&ctx, NULL, &b, &err), 0);
    assert_non_null(b);
    assert_non_null(schema_set_find_kind(b, "Secret"));
    omlctl_ctx_release(&ctx);
}

static void test_comparable_drops_server_fields(void **state)
{
    json_object *o = json_tokener_parse(
        "{\"kind\":\"Tenant\",\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"5\","
        "\"generation\":2,\"uid\":\"u\",\"creationTimestamp\":\"t\",\"managedFields\":[],"
        "\"labels\":{\"a\":\"b\"}},\"spec\":{\"layout\":\"aio\"},\"status\":{\"phase\":\"x\"}}");
    json_object *c = omlctl_comparable(o);
    json_object *want =
        json_tokener_parse("{\"kind\":\"Tenant\",\"metadata\":{\"name\":\"x\","
                           "\"labels\":{\"a\":\"b\"}},\"spec\":{\"layout\":\"aio\"}}");

    (void)state;
    assert_true(cjson_equal(c, want));
    assert_non_null(cjson_get(o, "status")); /* the original is untouched */
    json_object_put(o);
    json_object_put(c);
    json_object_put(want);
}

/* --- config ----------------------------------------------------------------------------- */

static void test_config_parse_reports_position(void **state)
{
    omlctl_config_file v;
    omlop_err err = OMLOP_ERR_INIT;
    const char *good = "server: https://h:8787\ntoken: \"abc\"\ncaFile: /ca.pem\n"
                       "insecureSkipTLSVerify: true\n";

    (void)state;
    assert_int_equal(omlctl_config_parse("cfg", good, strlen(good), &v, &err), 0);
    assert_string_equal(v.server, "https://h:8787");
    assert_string_equal(v.token, "abc");
    assert_string_equal(v.ca_file, "/ca.pem");
    assert_int_equal(v.insecure, 1);
    omlctl_config_file_release(&v);
    assert_int_equal(omlctl_config_parse("cfg", "", 0, &v, &err), 0);
    assert_null(v.server);
    assert_int_equal(v.insecure, -1);
    assert_int_equal(omlctl_config_parse("cfg", "token: ~\n", 9, &v, &err), 0);
    assert_null(v.token);
    assert_int_equal(omlctl_config_parse("cfg", "server: x\nsevrer: y\n", 20, &v, &err),
                     OMLOP_EINVAL);
    assert_string_equal(err.msg, "cfg:2:1: unknown key 'sevrer' (known: server, token, caFile, "
                                 "insecureSkipTLSVerify)");
    assert_int_equal(omlctl_config_parse("cfg", "server: [a]\n", 12, &v, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "cfg:1:9: server: must be a string"));
    assert_int_equal(omlctl_config_parse("cfg", "insecureSkipTLSVerify: yes\n", 27, &v, &err),
                     OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "true or false"));
    assert_int_equal(omlctl_config_parse("cfg", "server: [\n", 10, &v, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "cfg:"));
    assert_int_equal(omlctl_config_parse("cfg", "- a\n", 4, &v, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "mapping"));
}

static void test_config_precedence_flags_env_file_default(void **state)
{
    omlctl_config_layer flags = OMLCTL_CONFIG_LAYER_INIT, env = OMLCTL_CONFIG_LAYER_INIT,
                        file = OMLCTL_CONFIG_LAYER_INIT;
    omlctl_config c;

    (void)state;
    memset(&c, 0, sizeof(c));
    omlctl_config_resolve(&flags, &env, &file, &c);
    assert_string_equal(c.server, "http://127.0.0.1:8787");
    assert_string_equal(c.server_from, "default");
    assert_null(c.token);
    assert_int_equal(c.insecure, 0);
    omlctl_config_release(&c);

    file.server = "http://file:1";
    file.token = "file-token";
    file.ca_file = "/file-ca";
    file.insecure = 1;
    env.server = "http://env:1";
    env.token = "env-token";
    flags.server = "http://flag:1";
    omlctl_config_resolve(&flags, &env, &file, &c);
    assert_string_equal(c.server, "http://flag:1");
    assert_string_equal(c.server_from, "flag --server");
    assert_string_equal(c.token, "env-token");
    assert_string_equal(c.token_from, "env OMLOP_TOKEN");
    assert_string_equal(c.ca_file, "/file-ca");
    assert_string_equal(c.ca_file_from, "file");
    assert_int_equal(c.insecure, 1);
    omlctl_config_release(&c);
    flags.insecure = 0;
    omlctl_config_resolve(&flags, &env, &file, &c);
    assert_int_equal(c.insecure, 0);
    omlctl_config_release(&c);
}

static void test_config_load_reads_xdg_file_and_env(void **state)
{
    omlctl_config_layer flags = OMLCTL_CONFIG_LAYER_INIT;
    omlctl_config c;
    omlop_err err = OMLOP_ERR_INIT;
    char dir[128], path[256];
    strbuf p = STRBUF_INIT;

    (void)state;
    setup_tmp(NULL);
    snprintf(dir, sizeof(dir), "%s/omlop", tmpdir);
    mkdir(dir, 0700);
    write_text("omlop/config", "server: http://file:9\ntoken: ft\n");
    snprintf(path, sizeof(path), "%s/omlop/config", tmpdir);
    chmod(path, 0600);
    unsetenv("OMLOP_CONFIG");
    unsetenv("OMLOP_TOKEN");
    unsetenv("OMLOP_CA_FILE");
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    setenv("OMLOP_SERVER", "http://env:9", 1);
    assert_int_equal(omlctl_config_path(&p, &err), 0);
    assert_string_equal(p.buf, path);
    assert_int_equal(omlctl_config_load(&flags, &c, &err), 0);
    assert_string_equal(c.server, "http://env:9");
    assert_string_equal(c.token, "ft");
    assert_int_equal(c.file_found, 1);
    omlctl_config_release(&c);
    /* An empty variable does not count as set. */
    setenv("OMLOP_SERVER", "", 1);
    assert_int_equal(omlctl_config_load(&flags, &c, &err), 0);
    assert_string_equal(c.server, "http://file:9");
    omlctl_config_release(&c);
    /* A broken file is an error naming it, not silently ignored. */
    write_text("omlop/config", "server: http://x\nbogus: 1\n");
    assert_int_equal(omlctl_config_load(&flags, &c, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, path));
    /* The writer: 0600, readable back, keys kept. */
    {
        omlctl_config_file v = {NULL, NULL, NULL, -1};
        struct stat st;

        v.server = "https://w:1";
        v.token = "on"; /* a string YAML 1.1 would misread */
        assert_int_equal(omlctl_config_write(path, &v, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(omlctl_config_load(&flags, &c, &err), 0);
        assert_string_equal(c.server, "https://w:1");
        assert_string_equal(c.token, "on");
        omlctl_config_release(&c);
    }
    unsetenv("OMLOP_SERVER");
    unsetenv("XDG_CONFIG_HOME");
    strbuf_release(&p);
    teardown_tmp(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_forms_and_positionals),
        cmocka_unit_test(test_flags_errors_and_help),
        cmocka_unit_test(test_global_flags_same_before_and_after_the_verb),
        cmocka_unit_test(test_hoist_refuses_unknown_and_bad_global_flags),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_kind_resolution_by_every_name),
        cmocka_unit_test(test_targets_forms),
        cmocka_unit_test(test_selector_flag),
        cmocka_unit_test(test_manifests_load_validates_and_finds_duplicates),
        cmocka_unit_test(test_schemas_from_crds_dir_or_builtin),
        cmocka_unit_test(test_comparable_drops_server_fields),
        cmocka_unit_test(test_config_parse_reports_position),
        cmocka_unit_test(test_config_precedence_flags_env_file_default),
        cmocka_unit_test(test_config_load_reads_xdg_file_and_env),
    };

    return cmocka_run_group_tests(tests, setup_set, teardown_set);
}
