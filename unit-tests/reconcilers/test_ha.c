/*
 * Tests for reconcilers/ha: keepalived's start script as desired.c renders it for the ha example
 * (priorities by preferredMain, vrid, the VIP, spec.ha.vrrpVersion's VRRPv3 without and VRRPv2
 * with the password from the Secret, what notify moves and what the track script checks), the
 * script run for real by bash with a fake keepalived, the errors naming spec.ha's fields, the VIP
 * holders read from `ip -o -4 addr show`, the active-node decision and status.ha with the HAHealthy
 * condition.
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
#include <sys/wait.h>
#include <unistd.h>

#include "crds/schema.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "reconcilers/desired.h"
#include "reconcilers/ha.h"
#include "reconcilers/ha_round.h"

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

static desired_state *build(json_object *t)
{
    desired_options opts = {fixed_ip, NULL, 0, NULL};
    omlop_err err = OMLOP_ERR_INIT;
    desired_state *ds = NULL;

    if (desired_build(t, &opts, &ds, &err) < 0)
        fail_msg("desired_build: %s", err.msg);
    return ds;
}

static const desired_container *keepalived_of(const desired_state *ds, const char *host)
{
    const desired_host *h = desired_host_find(ds, host);
    const desired_container *c = h ? desired_host_find_container(h, HA_CONTAINER) : NULL;

    if (!c || c->n_files != 1 || !c->files[0].content)
        fail_msg("host %s has no keepalived with its start script", host);
    return c;
}

static void assert_has(const char *text, const char *want, const char *what)
{
    if (!strstr(text, want))
        fail_msg("%s lacks \"%s\":\n%s", what, want, text);
}

static void assert_lacks(const char *text, const char *bad, const char *what)
{
    if (strstr(text, bad))
        fail_msg("%s has \"%s\"", what, bad);
}

/* The words of the line starting with prefix, after it (up to ';'). */
static void line_after(const char *text, const char *prefix, char *out, size_t size)
{
    const char *p = strstr(text, prefix);
    size_t n;

    if (!p)
        fail_msg("no \"%s\" in the script", prefix);
    p += strlen(prefix);
    n = strcspn(p, ";\n");
    snprintf(out, size, "%.*s", (int)n, p);
}

/* --- rendering ---------------------------------------------------------------------------- */

static void test_ha_keepalived_priorities_follow_preferred_main(void **state)
{
    json_object *t = example("tenant-ha.yaml");
    desired_state *ds;
    const char *a, *b;

    (void)state;
    ds = build(t);
    a = keepalived_of(ds, "aio-a")->files[0].content;
    b = keepalived_of(ds, "aio-b")->files[0].content;
    /* preferredMain aio-a: MASTER 100 there, BACKUP 50 on the other */
    assert_has(a, "\tstate MASTER\n", "aio-a");
    assert_has(a, "\tpriority 100\n", "aio-a");
    assert_has(b, "\tstate BACKUP\n", "aio-b");
    assert_has(b, "\tpriority 50\n", "aio-b");
    for (int i = 0; i < 2; i++) {
        const char *s = i ? b : a;

        assert_has(s, "\tvirtual_router_id 51\n", "script");
        assert_has(s, "\tinterface ens18\n", "script");
        assert_has(s, "\t\t172.16.101.205/24 dev ens18\n", "script");
        /* VRRPv3 with half-second adverts on all three instances: a backup takes over 1.9 s
         * after the last advert (3 x 0.5 + (256 - 50) / 256 x 0.5); v3 has no authentication,
         * so none is written (keepalived would ignore it with a warning) */
        assert_has(s, "global_defs {\n", "script");
        assert_has(s, "\tvrrp_version 3\n}\n", "script");
        {
            int n_adv = 0;

            for (const char *q = strstr(s, "\tadvert_int "); q;
                 q = strstr(q + 1, "\tadvert_int ")) {
                n_adv++;
                if (strncmp(q, "\tadvert_int 0.5\n", 16) != 0)
                    fail_msg("an instance has another advert_int: %.20s", q);
            }
            assert_int_equal(n_adv, 3);
        }
        assert_lacks(s, "authentication", "script");
        assert_lacks(s, "auth_pass", "script");
        assert_lacks(s, "VRRP_AUTH_PASS", "script");
        assert_has(s, "\tweight -60\n", "script");
        assert_has(s, "\t\tomlop_track\n", "script");
        assert_has(s, "exec keepalived -n -l -D -P -f", "script");
        /* the RW and RO VIPs: an instance each, at the base priority on both nodes, raised by
         * the track file omlopd writes from the PostgreSQL roles (ha_pg.h) */
        assert_has(s,
                   "track_file omlop_pg_rw {\n\tfile \"" HA_PG_RW_TRACK_FILE "\"\n\tweight 1\n}\n",
                   "script");
        assert_has(s,
                   "\tstate BACKUP\n\tinterface ens18\n\tvirtual_router_id 52\n"
                   "\tpriority 50\n",
                   "script");
        assert_has(s, "\t\t172.16.101.206/24 dev ens18\n", "script");
        assert_has(s, "\ttrack_file {\n\t\tomlop_pg_rw weight 1\n\t}\n", "script");
        assert_has(s,
                   "\tstate BACKUP\n\tinterface ens18\n\tvirtual_router_id 53\n"
                   "\tpriority 50\n",
                   "script");
        assert_has(s, "\t\t172.16.101.207/24 dev ens18\n", "script");
        assert_has(s, "\ttrack_file {\n\t\tomlop_pg_ro weight 1\n\t}\n", "script");
        /* a restart starts from no VIP (a SIGKILL leaves them behind) */
        assert_has(s, "ip addr del 172.16.101.205/24 dev ens18 2>/dev/null || true\n", "script");
        assert_has(s, "ip addr del 172.16.101.206/24 dev ens18 2>/dev/null || true\n", "script");
        assert_has(s, "ip addr del 172.16.101.207/24 dev ens18 2>/dev/null || true\n", "script");
        /* no role before omlopd says: both files 0 when keepalived starts */
        assert_has(s, "echo 0 >" HA_PG_RW_TRACK_FILE "\necho 0 >" HA_PG_RO_TRACK_FILE "\n",
                   "script");
    }
    desired_free(ds);

    /* preferredMain on the backup role: the priorities follow it, not the role */
    json_object_object_add(cjson_get(t, "spec.ha"), "preferredMain",
                           json_object_new_string("aio-b"));
    ds = build(t);
    assert_has(keepalived_of(ds, "aio-b")->files[0].content, "\tpriority 100\n", "aio-b");
    assert_has(keepalived_of(ds, "aio-a")->files[0].content, "\tpriority 50\n", "aio-a");
    desired_free(ds);

    /* without preferredMain: the host with role main */
    json_object_object_del(cjson_get(t, "spec.ha"), "preferredMain");
    ds = build(t);
    assert_has(keepalived_of(ds, "aio-a")->files[0].content, "\tstate MASTER\n", "aio-a");
    assert_has(keepalived_of(ds, "aio-b")->files[0].content, "\tstate BACKUP\n", "aio-b");
    desired_free(ds);
    json_object_put(t);
}

static void test_ha_keepalived_container_moves_and_tracks(void **state)
{
    json_object *t = example("tenant-ha.yaml");
    desired_state *ds = build(t);
    const desired_container *k = keepalived_of(ds, "aio-a");
    const char *s = k->files[0].content;
    char start[512], stop[512], track[1024];
    int caps = 0;

    (void)state;
    /* VRRPv3 (the default): no password, so no reference to the Secret <tenant>-vrrp, which
     * is then never generated (test_ha_keepalived_vrrp_versions has version 2's) */
    assert_null(desired_container_env(k, "VRRP_AUTH_PASS"));
    for (size_t i = 0; i < k->n_cap_add; i++)
        caps |= (strcmp(k->cap_add[i], "NET_ADMIN") == 0) << 0 |
                (strcmp(k->cap_add[i], "NET_BROADCAST") == 0) << 1 |
                (strcmp(k->cap_add[i], "NET_RAW") == 0) << 2;
    assert_int_equal(caps, 7);
    assert_true(k->is_host_network);
    assert_false(k->is_ha_active_only);
    assert_string_equal(k->files[0].path, "/etc/omnileads/keepalived-run.sh");

    /* notify: MASTER starts the active-only ones in start order, the others stop in reverse */
    line_after(s, "MASTER)\n\trm -f " HA_ON_ACTIVE_FILE "\n\tfor c in", start, sizeof(start));
    assert_string_equal(start, " oml-asterisk-server oml-asterisk-retrieve-conf oml-ami-server "
                               "oml-uwsgi-server oml-nginx-server oml-cron-server");
    /* then the app's Redis sync (catalog: omlapp's ha_on_active, 2.X's oml_manage
     * --redis_sync), recorded only when it succeeded; a move away forgets it */
    assert_has(s, "; do api \"$c\" start; done\n\tif on_active; then echo ok >" HA_ON_ACTIVE_FILE,
               "script");
    assert_has(s,
               "\"Cmd\":[\"python3\",\"/opt/omnileads/ominicontacto/manage.py\","
               "\"regenerar_asterisk\"]",
               "script");
    assert_has(s, "/libpod/containers/oml-uwsgi-server/exec", "script");
    line_after(s, "BACKUP | FAULT | STOP)\n\trm -f " HA_ON_ACTIVE_FILE "\n\tfor c in", stop,
               sizeof(stop));
    assert_string_equal(stop, " oml-cron-server oml-nginx-server oml-uwsgi-server oml-ami-server "
                              "oml-asterisk-retrieve-conf oml-asterisk-server");
    /* track: what serves on both nodes; not the active-only ones, keepalived or monitoring */
    line_after(s, "not counted\" >&2\n\texit 0\n}\nfor c in", track, sizeof(track));
    assert_string_equal(track, " oml-postgresql-server oml-redis-server oml-rabbitmq-server "
                               "oml-rtpengine-server oml-fastagi-server oml-kamailio-server "
                               "oml-websockets-server oml-daphne-server "
                               "oml-interaction_processor-server");
    /* not in other layouts */
    desired_free(ds);
    json_object_put(t);
    t = example("tenant-aio.yaml");
    ds = build(t);
    assert_null(desired_host_find_container(desired_host_at(ds, 0), HA_CONTAINER));
    desired_free(ds);
    json_object_put(t);
}

/* dir/run.sh: script s writing into dir/run instead of /run/omlop-keepalived, with a fake
 * keepalived (copies its config to dir/conf.out; touches dir/stale when the pid files of a
 * killed one were left) and a fake ip that only logs its arguments to dir/ip.out (the script
 * must not touch this machine's addresses). */
/* dir/name's text into buf (size bytes at most, NUL included); "" and -1 when it is absent. */
static int read_text(const char *dir, const char *name, char *buf, size_t size)
{
    char path[512];
    FILE *f;
    size_t n;

    buf[0] = '\0';
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

static void stage_script(const char *s, const char *dir)
{
    strbuf script = STRBUF_INIT;
    char path[512];
    FILE *f;

    for (const char *p = s, *q; *p; p = q + strlen("/run/omlop-keepalived")) {
        q = strstr(p, "/run/omlop-keepalived");
        if (!q) {
            strbuf_adds(&script, p);
            break;
        }
        strbuf_add(&script, p, (size_t)(q - p));
        strbuf_addf(&script, "%s/run", dir);
    }
    snprintf(path, sizeof(path), "%s/run.sh", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(strbuf_str(&script), f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/keepalived", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -f ] && cp \"$2\" %s/conf.out; "
            "shift; done\n"
            "if [ -e %s/run/keepalived.pid ] || [ -e %s/run/vrrp.pid ]; then touch %s/stale; fi\n",
            dir, dir, dir, dir);
    fclose(f);
    chmod(path, 0755);
    snprintf(path, sizeof(path), "%s/ip", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\necho \"$*\" >>%s/ip.out\n", dir);
    fclose(f);
    chmod(path, 0755);
    strbuf_release(&script);
}

/* The script run by bash with a fake keepalived that keeps its config: the heredocs expand
 * what they must ($d, $pass cut to 8 characters) and keep the rest literal ($3, $c). */
static void test_ha_keepalived_script_runs(void **state)
{
    json_object *t = example("tenant-ha.yaml");
    desired_state *ds = build(t);
    const char *s = keepalived_of(ds, "aio-a")->files[0].content;
    char dir[] = "/tmp/omlop-test-ha-XXXXXX", path[512], cmd[2048], conf[8192], ips[1024];
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    stage_script(s, dir);
    /* a restarted container: the killed keepalived's pid files are still there */
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/run && echo 1 >%s/run/keepalived.pid && echo 7 >%s/run/vrrp.pid", dir,
             dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "env -i PATH=%s:/usr/bin:/bin VRRP_AUTH_PASS=0123456789abcdef bash %s/run.sh", dir,
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(read_text(dir, "conf.out", conf, sizeof(conf)), 0);
    assert_has(conf, "\tvrrp_version 3\n", "config");
    assert_int_equal(read_text(dir, "ip.out", ips, sizeof(ips)), 0);
    assert_has(ips, "addr del 172.16.101.205/24 dev ens18\n", "the ip calls");
    snprintf(path, sizeof(path), "%s/stale", dir);
    if (access(path, F_OK) == 0)
        fail_msg("keepalived started with the old pid files: it would exit as already running");
    assert_lacks(conf, "0123456", "config");
    snprintf(path, sizeof(path), "\tscript \"%s/run/check.sh\"\n", dir);
    assert_has(conf, path, "config");
    assert_int_equal(read_text(dir, "run/notify.sh", conf, sizeof(conf)), 0);
    assert_has(conf, "state=${3:-UNKNOWN}", "notify.sh");
    assert_has(conf, "api \"$c\" start", "notify.sh");
    /* the notify run for real against a fake curl (Podman's API): MASTER starts the six in
     * order, then the Redis sync (exec create in the app, start, its exit code), recorded */
    snprintf(path, sizeof(path), "%s/curl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(
        f,
        "#!/bin/bash\nurl=${*: -1}\necho \"${url#http://d/v4.0.0/libpod/}\" >>%s/curl.out\n"
        "case $url in\n*/exec) echo '{\"Id\":\"ab12\"}' ;;\n"
        "*/exec/ab12/json) echo \"{\\\"ExitCode\\\": $(cat %s/code),\\\"Running\\\":false}\" ;;\n"
        "esac\nexit 0\n",
        dir, dir);
    fclose(f);
    chmod(path, 0755);
    snprintf(cmd, sizeof(cmd),
             "cd %s && echo 0 >code && env -i PATH=%s:/usr/bin:/bin bash run/notify.sh "
             "INSTANCE omlop_x MASTER 100 && cat run/on-active >ok.out",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(read_text(dir, "curl.out", conf, sizeof(conf)), 0);
    assert_string_equal(conf, "containers/oml-asterisk-server/start\n"
                              "containers/oml-asterisk-retrieve-conf/start\n"
                              "containers/oml-ami-server/start\n"
                              "containers/oml-uwsgi-server/start\n"
                              "containers/oml-nginx-server/start\n"
                              "containers/oml-cron-server/start\n"
                              "containers/oml-uwsgi-server/exec\n"
                              "exec/ab12/start\n"
                              "exec/ab12/json\n");
    /* BACKUP forgets it; a sync that exits 1 is not recorded (omlopd runs it then) */
    snprintf(cmd, sizeof(cmd),
             "cd %s && grep -qx ok ok.out && env -i PATH=%s:/usr/bin:/bin bash run/notify.sh "
             "INSTANCE omlop_x BACKUP 50 && test ! -e run/on-active",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "cd %s && echo 1 >code && env -i PATH=%s:/usr/bin:/bin bash run/notify.sh "
             "INSTANCE omlop_x MASTER 100 && test ! -e run/on-active && "
             "test \"$(grep -c ab12/start curl.out)\" = 2",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    /* no password needed any more (VRRPv3 carries none) */
    snprintf(cmd, sizeof(cmd), "env -i PATH=%s:/usr/bin:/bin bash %s/run.sh", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    desired_free(ds);
    json_object_put(t);
}

/* Every instance's advert_int and authentication block in s: n_inst instances, each with
 * advert_int want_adv and (with_auth) the PASS block right after it, never another. */
static void assert_instances(const char *s, const char *want_adv, int with_auth, int n_inst)
{
    static const char auth[] = "\tauthentication {\n\t\tauth_type PASS\n\t\tauth_pass $pass\n"
                               "\t}\n\tvirtual_ipaddress {\n";
    char want[64];
    int n_adv = 0, n_auth = 0, n_vrrp = 0;

    snprintf(want, sizeof(want), "\tadvert_int %s\n", want_adv);
    for (const char *q = strstr(s, "vrrp_instance "); q; q = strstr(q + 1, "vrrp_instance "))
        n_vrrp++;
    for (const char *q = strstr(s, "\tadvert_int "); q; q = strstr(q + 1, "\tadvert_int ")) {
        n_adv++;
        if (strncmp(q, want, strlen(want)) != 0)
            fail_msg("an instance has another advert_int: %.20s (want %s)", q, want_adv);
        if (with_auth && strncmp(q + strlen(want), auth, strlen(auth)) != 0)
            fail_msg("an instance lacks the PASS block after its advert_int: %.80s", q);
    }
    for (const char *q = strstr(s, "authentication"); q; q = strstr(q + 1, "authentication"))
        n_auth++;
    assert_int_equal(n_vrrp, n_inst);
    assert_int_equal(n_adv, n_inst);
    assert_int_equal(n_auth, with_auth ? n_inst : 0);
}

/* spec.ha.vrrpVersion: 3 (absent or set) VRRPv3, 0.5 s, no authentication, no Secret; 2 VRRPv2,
 * 1 s, PASS on all three instances from the Secret <tenant>-vrrp; nothing else renders. */
static void test_ha_keepalived_vrrp_versions(void **state)
{
    json_object *t = example("tenant-ha.yaml");
    json_object *ha = cjson_get(t, "spec.ha");
    desired_state *ds;
    const desired_container *k;
    const desired_env *pw;
    omlop_err err = OMLOP_ERR_INIT;
    desired_options opts = {fixed_ip, NULL, 0, NULL};
    static const int bad[] = {1, 4, 0, -3, 23};
    char v3_hash[sizeof(k->spec_hash)];

    (void)state;
    /* the example leaves it out: the schema's default, 3 */
    assert_int_equal(cjson_get_int(t, "spec.ha.vrrpVersion", -1), 3);
    json_object_object_del(ha, "vrrpVersion"); /* a tenant stored before the field: also 3 */
    for (int round = 0; round < 2; round++) {
        ds = build(t);
        for (int h = 0; h < 2; h++) {
            k = keepalived_of(ds, h ? "aio-b" : "aio-a");
            assert_has(k->files[0].content, "\tvrrp_version 3\n}\n", "v3 script");
            assert_instances(k->files[0].content, "0.5", 0, 3);
            assert_lacks(k->files[0].content, "auth_pass", "v3 script");
            assert_lacks(k->files[0].content, "VRRP_AUTH_PASS", "v3 script");
            assert_null(desired_container_env(k, "VRRP_AUTH_PASS"));
        }
        memcpy(v3_hash, k->spec_hash, sizeof(v3_hash));
        desired_free(ds);
        json_object_object_add(ha, "vrrpVersion", json_object_new_int(3));
    }

    json_object_object_add(ha, "vrrpVersion", json_object_new_int(2));
    ds = build(t);
    for (int h = 0; h < 2; h++) {
        const char *s;

        k = keepalived_of(ds, h ? "aio-b" : "aio-a");
        s = k->files[0].content;
        assert_has(s, "\tvrrp_version 2\n}\n", "v2 script");
        assert_instances(s, "1", 1, 3);
        /* the password from the env, cut to 8 characters before the config is written */
        assert_has(s,
                   "pass=${VRRP_AUTH_PASS:?VRRP_AUTH_PASS is not set: the Secret "
                   "tenant-example-7-vrrp key password}\npass=${pass:0:8}\n",
                   "v2 script");
        assert_true(strstr(s, "pass=${pass:0:8}") < strstr(s, "keepalived.conf\" <<OMLOP_EOF"));
        /* a Secret reference, never a literal, never in the file */
        pw = desired_container_env(k, "VRRP_AUTH_PASS");
        assert_non_null(pw);
        assert_null(pw->value);
        assert_string_equal(pw->secret_name, "tenant-example-7-vrrp");
        assert_string_equal(pw->secret_key, "password");
    }
    /* a change of version changes keepalived's spec hash: it is recreated with the new script */
    assert_string_not_equal(k->spec_hash, v3_hash);
    desired_free(ds);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ds = NULL;
        json_object_object_add(ha, "vrrpVersion", json_object_new_int(bad[i]));
        assert_int_equal(desired_build(t, &opts, &ds, &err), OMLOP_EINVAL);
        if (!strstr(err.msg, "spec.ha.vrrpVersion"))
            fail_msg("vrrpVersion %d: \"%s\" does not name spec.ha.vrrpVersion", bad[i], err.msg);
        desired_free(ds);
        omlop_err_clear(&err);
    }
    json_object_put(t);
}

/* Run dir/run.sh with env (NAME=value words, or ""); its exit status; the config into conf
 * (empty when none was written), stderr into errs. */
static int run_script(const char *dir, const char *env, char *conf, size_t size, char *errs,
                      size_t esize)
{
    char cmd[2048];
    int rc;

    snprintf(cmd, sizeof(cmd),
             "rm -f %s/conf.out; env -i PATH=%s:/usr/bin:/bin %s bash %s/run.sh "
             "2>%s/err.out",
             dir, dir, env, dir, dir);
    rc = system(cmd);
    read_text(dir, "conf.out", conf, size);
    read_text(dir, "err.out", errs, esize);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* VRRPv2's script run by bash: the env's password cut to 8 characters lands in all three
 * instances of the config (not in the script); no password, or one keepalived's config would
 * read as syntax in its first 8 characters, stops it before keepalived starts, without showing
 * the value. */
static void test_ha_keepalived_v2_script_runs(void **state)
{
    json_object *t = example("tenant-ha.yaml");
    desired_state *ds;
    const char *s;
    char dir[] = "/tmp/omlop-test-ha2-XXXXXX", cmd[600], conf[8192], errs[1024];
    int n = 0;

    (void)state;
    json_object_object_add(cjson_get(t, "spec.ha"), "vrrpVersion", json_object_new_int(2));
    ds = build(t);
    s = keepalived_of(ds, "aio-b")->files[0].content;
    assert_non_null(mkdtemp(dir));
    stage_script(s, dir);

    assert_int_equal(
        run_script(dir, "VRRP_AUTH_PASS=0123456789abcdef", conf, sizeof(conf), errs, sizeof(errs)),
        0);
    for (const char *q = strstr(conf, "\t\tauth_pass 01234567\n"); q;
         q = strstr(q + 1, "\t\tauth_pass 01234567\n"))
        n++;
    assert_int_equal(n, 3);
    assert_lacks(conf, "012345678", "config");
    assert_lacks(conf, "$pass", "config");
    assert_has(conf, "\tvrrp_version 2\n", "config");
    /* exactly 8, and a bad character past the 8th is cut off before the check */
    assert_int_equal(
        run_script(dir, "VRRP_AUTH_PASS=abcdefgh", conf, sizeof(conf), errs, sizeof(errs)), 0);
    assert_has(conf, "\t\tauth_pass abcdefgh\n", "config");
    assert_int_equal(
        run_script(dir, "VRRP_AUTH_PASS='ab.-_x=Z}{ $'", conf, sizeof(conf), errs, sizeof(errs)),
        0);
    assert_has(conf, "\t\tauth_pass ab.-_x=Z\n", "config");
    /* shorter than 8: all of it */
    assert_int_equal(run_script(dir, "VRRP_AUTH_PASS=abc", conf, sizeof(conf), errs, sizeof(errs)),
                     0);
    assert_has(conf, "\t\tauth_pass abc\n", "config");
    /* no password, an empty one, one with a brace or a space in its first 8 characters */
    assert_int_equal(run_script(dir, "", conf, sizeof(conf), errs, sizeof(errs)) != 0, 1);
    assert_string_equal(conf, "");
    assert_has(errs, "tenant-example-7-vrrp", "stderr");
    assert_int_equal(
        run_script(dir, "VRRP_AUTH_PASS=", conf, sizeof(conf), errs, sizeof(errs)) != 0, 1);
    assert_string_equal(conf, "");
    assert_int_equal(
        run_script(dir, "VRRP_AUTH_PASS='secr}t99'", conf, sizeof(conf), errs, sizeof(errs)) != 0,
        1);
    assert_string_equal(conf, "");
    assert_has(errs, "the Secret tenant-example-7-vrrp key password", "stderr");
    assert_lacks(errs, "secr", "stderr");
    assert_int_equal(
        run_script(dir, "VRRP_AUTH_PASS='pa ss'", conf, sizeof(conf), errs, sizeof(errs)) != 0, 1);
    assert_string_equal(conf, "");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    desired_free(ds);
    json_object_put(t);
}

/* The track script run by bash against a fake curl (Podman's list of running containers):
 * one call; every tracked container must be listed by its exact name; an API that does not
 * answer is not counted against the node. keepalived's bound on it is above the call's. */
static void test_ha_track_script_runs(void **state)
{
    static const char *const tracked[] = {
        "oml-postgresql-server", "oml-redis-server",   "oml-rabbitmq-server",
        "oml-rtpengine-server",  "oml-fastagi-server", "oml-kamailio-server",
        "oml-websockets-server", "oml-daphne-server",  "oml-interaction_processor-server",
    };
    json_object *t = example("tenant-ha.yaml");
    desired_state *ds = build(t);
    const char *s = keepalived_of(ds, "aio-a")->files[0].content;
    char dir[] = "/tmp/omlop-test-hat-XXXXXX", path[512], cmd[1024], conf[8192], errs[1024];
    strbuf list = STRBUF_INIT;
    FILE *f;

    (void)state;
    assert_has(s, "\ttimeout " HA_TRACK_TIMEOUT "\n", "script");
    assert_true(atoi(HA_TRACK_API_TIMEOUT) < atoi(HA_TRACK_TIMEOUT));
    assert_non_null(mkdtemp(dir));
    stage_script(s, dir);
    assert_int_equal(run_script(dir, "", conf, sizeof(conf), errs, sizeof(errs)), 0);
    /* the fake curl: counts its calls, prints dir/list, fails (as on a timeout) without it */
    snprintf(path, sizeof(path), "%s/curl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\necho x >>%s/calls\ncase \"$*\" in *containers/json*) ;; *) exit 9 ;; "
            "esac\n[ -e %s/list ] || exit 28\ncat %s/list\n",
            dir, dir, dir);
    fclose(f);
    chmod(path, 0755);
    for (int round = 0; round < 7; round++) {
        int want;

        strbuf_reset(&list);
        strbuf_adds(&list, "[");
        for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++) {
            const char *name = tracked[i];
            char other[128];

            if (i == 4 && round == 2)
                continue; /* one not running */
            if (i == 4 && round == 3) {
                snprintf(other, sizeof(other), "%s-old", name); /* a longer name is not it */
                name = other;
            }
            if (i == 4 && round == 4)
                name = "oml-fastagi"; /* nor a shorter one */
            strbuf_addf(&list, "%s{\"Id\":\"%zu\",\"Names\":%s[\"%s\"],\"State\":\"running\"}",
                        i ? "," : "", i, round == 1 ? " " : "", name);
        }
        strbuf_adds(&list, ",{\"Names\":[\"oml-nginx-server\"]}]\n");
        snprintf(path, sizeof(path), "%s/list", dir);
        if (round == 5) {
            unlink(path); /* the API does not answer: not counted */
        } else {
            f = fopen(path, "w");
            assert_non_null(f);
            fputs(strbuf_str(&list), f);
            fclose(f);
        }
        if (round == 6) { /* no list at all (an empty answer): every tracked one is missing */
            f = fopen(path, "w");
            assert_non_null(f);
            fclose(f);
        }
        want = round == 2 || round == 3 || round == 4 || round == 6;
        snprintf(cmd, sizeof(cmd),
                 "cd %s && rm -f calls && env -i PATH=%s:/usr/bin:/bin bash run/check.sh "
                 "2>err.out; rc=$?; [ \"$(wc -l <calls)\" = 1 ] || exit 99; exit $rc",
                 dir, dir);
        {
            int rc = system(cmd);

            assert_true(WIFEXITED(rc));
            if (WEXITSTATUS(rc) != want)
                fail_msg("round %d: check.sh exited %d, want %d", round, WEXITSTATUS(rc), want);
        }
        if (round == 5) { /* it says why it passed */
            snprintf(cmd, sizeof(cmd), "grep -q 'did not answer: not counted' %s/err.out", dir);
            assert_int_equal(system(cmd), 0);
        }
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    strbuf_release(&list);
    desired_free(ds);
    json_object_put(t);
}

static void test_ha_keepalived_bad_values_name_the_field(void **state)
{
    static const char *const active[] = {"oml-asterisk-server", NULL};
    static const struct {
        const char *nic, *vip, *netaddr, *field;
    } cases[] = {
        {"ens18; reboot", "10.0.0.5", "10.0.0.0/24", "spec.ha.vipNIC"},
        {"", "10.0.0.5", "10.0.0.0/24", "spec.ha.vipNIC"},
        {"eth0", "10.0.0.256", "10.0.0.0/24", "spec.ha.omnileadsVIP"},
        {"eth0", "10.0.0", "10.0.0.0/24", "spec.ha.omnileadsVIP"},
        {"eth0", "10.0.0.5$(x)", "10.0.0.0/24", "spec.ha.omnileadsVIP"},
        {"eth0", "10.0.0.5", "10.0.0.0", "spec.ha.netaddr"},
        {"eth0", "10.0.0.5", "10.0.0.0/33", "spec.ha.netaddr"},
        {"eth0", "10.0.0.5", "10.0.0.0/0", "spec.ha.netaddr"},
    };
    strbuf out = STRBUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ha_keepalived_params p = {"t",
                                  "h",
                                  cases[i].nic,
                                  cases[i].vip,
                                  cases[i].netaddr,
                                  1,
                                  active,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  3};
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(ha_keepalived_render(&p, &out, &err), OMLOP_EINVAL);
        if (!strstr(err.msg, cases[i].field))
            fail_msg("case %zu: \"%s\" does not name %s", i, err.msg, cases[i].field);
    }
    {
        /* at the edges: /32 and /1 are prefixes, a container name with a quote is not */
        static const char *const bad[] = {"oml-x'server", NULL};
        ha_keepalived_params p = {"t",  "h",  "eth0.10", "10.0.0.5", "10.0.0.5/32", 0, active,
                                  NULL, NULL, NULL,      NULL,       NULL,          3};
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(ha_keepalived_render(&p, &out, &err), 0);
        assert_has(strbuf_str(&out), "\t\t10.0.0.5/32 dev eth0.10\n", "script");
        p.netaddr = "10.0.0.0/1";
        assert_int_equal(ha_keepalived_render(&p, &out, &err), 0);
        p.tracked = bad;
        assert_int_equal(ha_keepalived_render(&p, &out, &err), OMLOP_EINVAL);
        assert_non_null(strstr(err.msg, "oml-x'server"));
        p.tracked = NULL;
    }
    {
        /* the on-active command goes into JSON inside single quotes: a quote, a space or a
         * backslash in a word is refused (naming the word); paths and options are not */
        static const char *const ok[] = {"python3", "/opt/x/manage.py", "--a=b,c:d", NULL};
        static const char *const quote[] = {"sh", "-c", "x'y", NULL};
        static const char *const space[] = {"echo", "a b", NULL};
        static const char *const dq[] = {"echo", "a\"b", NULL};
        ha_keepalived_params p = {"t",       "h",    "eth0", "10.0.0.5", "10.0.0.0/24",
                                  0,         active, NULL,   NULL,       NULL,
                                  "oml-app", ok,     3};
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(ha_keepalived_render(&p, &out, &err), 0);
        assert_has(strbuf_str(&out), "\"Cmd\":[\"python3\",\"/opt/x/manage.py\",\"--a=b,c:d\"]",
                   "script");
        p.on_active = quote;
        assert_int_equal(ha_keepalived_render(&p, &out, &err), OMLOP_EINVAL);
        assert_non_null(strstr(err.msg, "\"x'y\""));
        p.on_active = space;
        assert_int_equal(ha_keepalived_render(&p, &out, &err), OMLOP_EINVAL);
        p.on_active = dq;
        assert_int_equal(ha_keepalived_render(&p, &out, &err), OMLOP_EINVAL);
        p.on_active = ok;
        p.on_active_container = "oml app";
        assert_int_equal(ha_keepalived_render(&p, &out, &err), OMLOP_EINVAL);
    }
    strbuf_release(&out);
}

/* --- observation and decision ------------------------------------------------------------- */

static void test_ha_addr_held_reads_ip_output(void **state)
{
    static const char *out =
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
        "2: eth0    inet 10.237.0.11/24 brd 10.237.0.255 scope global eth0\\       valid_lft "
        "forever preferred_lft forever\n"
        "2: eth0    inet 10.237.0.100/24 scope global secondary eth0\\       valid_lft forever "
        "preferred_lft forever\n";

    (void)state;
    assert_true(ha_addr_held(out, "10.237.0.100"));
    assert_true(ha_addr_held(out, "10.237.0.11"));
    /* a prefix of a held address is not held */
    assert_false(ha_addr_held(out, "10.237.0.10"));
    assert_false(ha_addr_held(out, "10.237.0.1"));
    assert_false(ha_addr_held(out, "0.237.0.100"));
    assert_false(ha_addr_held(out, "10.237.0.101"));
    assert_false(ha_addr_held("", "10.237.0.100"));
    assert_false(ha_addr_held(NULL, "10.237.0.100"));
    assert_false(ha_addr_held(out, NULL));
    assert_false(ha_addr_held(out, ""));
}

static void test_ha_decide_active(void **state)
{
    /* name, reachable, observed, holds omnileads */
    static const struct {
        int reach[2], obs[2], holds[2];
        const char *previous, *preferred;
        int want;
    } cases[] = {
        {{1, 1}, {1, 1}, {0, 0}, NULL, "a", -1}, /* keepalived not up yet: nobody */
        {{1, 1}, {1, 1}, {1, 0}, NULL, "a", 0},  /* on the main */
        {{1, 1}, {1, 1}, {0, 1}, "a", "a", 1},   /* moved to the backup */
        {{0, 1}, {0, 1}, {0, 1}, "a", "a", 1},   /* main unreachable, backup holds it */
        {{1, 0}, {1, 0}, {1, 1}, "b", "a", 0},   /* the unreachable holder does not count */
        {{1, 1}, {0, 1}, {1, 0}, NULL, "a", -1}, /* not observed: not a holder */
        {{1, 1}, {1, 1}, {1, 1}, "b", "a", 1},   /* both: the previous active one stays */
        {{1, 1}, {1, 1}, {1, 1}, NULL, "b", 1},  /* both, no previous: the preferred */
        {{1, 1}, {1, 1}, {1, 1}, "x", "y", 0},   /* both, neither: the first */
        {{0, 0}, {0, 0}, {1, 1}, "a", "a", -1},  /* nothing reachable */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ha_node_obs n[2];

        memset(n, 0, sizeof(n));
        n[0].name = "a";
        n[1].name = "b";
        for (int k = 0; k < 2; k++) {
            n[k].is_reachable = cases[i].reach[k];
            n[k].is_observed = cases[i].obs[k];
            n[k].holds[HA_VIP_OMNILEADS] = cases[i].holds[k];
            n[k].holds[HA_VIP_POSTGRES_RW] = 1; /* other VIPs never decide */
        }
        if (ha_decide_active(n, 2, cases[i].previous, cases[i].preferred) != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i,
                     ha_decide_active(n, 2, cases[i].previous, cases[i].preferred), cases[i].want);
    }
    assert_int_equal(ha_node_role(-1, 0), LIVE_HA_UNDECIDED);
    assert_int_equal(ha_node_role(1, 1), LIVE_HA_ACTIVE);
    assert_int_equal(ha_node_role(1, 0), LIVE_HA_STANDBY);
}

/* --- status ------------------------------------------------------------------------------- */

static void test_ha_status_and_condition(void **state)
{
    ha_node_obs n[2];
    ha_report rp;
    strbuf msg = STRBUF_INIT;
    const char *st = NULL, *reason = NULL;
    json_object *ha, *old;

    (void)state;
    memset(n, 0, sizeof(n));
    memset(&rp, 0, sizeof(rp));
    n[0].name = "a";
    n[1].name = "b";
    n[0].is_reachable = n[1].is_reachable = n[0].is_observed = n[1].is_observed = 1;
    n[0].holds[HA_VIP_OMNILEADS] = 1;
    rp.nodes = n;
    rp.n = 2;
    rp.addr[0] = "10.0.0.100";
    rp.addr[1] = "10.0.0.101";
    rp.addr[2] = "10.0.0.102";
    rp.preferred = "a";
    rp.active = 0;
    rp.now = "2026-12-05T05:00:00Z";

    ha = ha_status_json(&rp, &st, &reason, &msg);
    assert_string_equal(st, "True");
    assert_string_equal(reason, "ActiveOnPreferredMain");
    assert_string_equal(cjson_get_string(ha, "activeNode"), "a");
    assert_string_equal(cjson_get_string(ha, "preferredMain"), "a");
    assert_string_equal(
        json_object_to_json_string_ext(cjson_get(ha, "vips"), JSON_C_TO_STRING_PLAIN),
        "[{\"name\":\"omnileads\",\"address\":\"10.0.0.100\",\"holders\":[\"a\"]},"
        "{\"name\":\"postgresRW\",\"address\":\"10.0.0.101\",\"holders\":[]},"
        "{\"name\":\"postgresRO\",\"address\":\"10.0.0.102\",\"holders\":[]}]");
    assert_null(cjson_get(ha, "lastActiveChange")); /* no previous active node: no change */

    /* moved: lastActiveChange from a to b, still healthy (on the backup) */
    old = ha;
    n[0].holds[HA_VIP_OMNILEADS] = 0;
    n[1].holds[HA_VIP_OMNILEADS] = 1;
    rp.active = 1;
    rp.old_ha = old;
    rp.now = "2026-12-05T05:01:00Z";
    ha = ha_status_json(&rp, &st, &reason, &msg);
    assert_string_equal(st, "True");
    assert_string_equal(reason, "ActiveOnBackup");
    assert_non_null(strstr(strbuf_str(&msg), "preferred main a"));
    assert_string_equal(cjson_get_string(ha, "lastActiveChange.from"), "a");
    assert_string_equal(cjson_get_string(ha, "lastActiveChange.to"), "b");
    assert_string_equal(cjson_get_string(ha, "lastActiveChange.time"), "2026-12-05T05:01:00Z");
    json_object_put(old);

    /* unchanged since: the change is kept as it was */
    old = ha;
    rp.old_ha = old;
    rp.now = "2026-12-05T05:02:00Z";
    ha = ha_status_json(&rp, &st, &reason, &msg);
    assert_string_equal(cjson_get_string(ha, "lastActiveChange.time"), "2026-12-05T05:01:00Z");
    json_object_put(ha);

    /* both hold it */
    n[0].holds[HA_VIP_OMNILEADS] = 1;
    ha = ha_status_json(&rp, &st, &reason, &msg);
    assert_string_equal(st, "False");
    assert_string_equal(reason, "VIPHeldTwice");
    json_object_put(ha);

    /* nobody holds it */
    n[0].holds[HA_VIP_OMNILEADS] = n[1].holds[HA_VIP_OMNILEADS] = 0;
    rp.active = -1;
    ha = ha_status_json(&rp, &st, &reason, &msg);
    assert_string_equal(reason, "VIPNotHeld");
    assert_null(cjson_get(ha, "activeNode"));
    json_object_put(ha);

    /* keepalived down on b, then b unreachable */
    n[1].is_observed = 0;
    ha = ha_status_json(&rp, &st, &reason, &msg);
    assert_string_equal(st, "False");
    assert_string_equal(reason, "KeepalivedNotRunning");
    assert_non_null(strstr(strbuf_str(&msg), "node b"));
    json_object_put(ha);
    n[1].is_reachable = 0;
    ha = ha_status_json(&rp, &st, &reason, &msg);
    assert_string_equal(reason, "NodeUnreachable");
    json_object_put(ha);
    json_object_put(old);
    strbuf_release(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ha_keepalived_priorities_follow_preferred_main),
        cmocka_unit_test(test_ha_keepalived_container_moves_and_tracks),
        cmocka_unit_test(test_ha_keepalived_vrrp_versions),
        cmocka_unit_test(test_ha_keepalived_v2_script_runs),
        cmocka_unit_test(test_ha_track_script_runs),
        cmocka_unit_test(test_ha_keepalived_script_runs),
        cmocka_unit_test(test_ha_keepalived_bad_values_name_the_field),
        cmocka_unit_test(test_ha_addr_held_reads_ip_output),
        cmocka_unit_test(test_ha_decide_active),
        cmocka_unit_test(test_ha_status_and_condition),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
