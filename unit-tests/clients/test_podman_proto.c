/*
 * Tests for clients/podman_proto: request bodies and queries, parsing of
 * Podman 4.3's replies (container inspect/list, volumes, events, info, pull
 * lines) and the mapping of Podman error bodies to omlop errors. The reply
 * samples are real Podman 4.3.1 output (trimmed where long).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/podman_proto.h"
#include "lib/cjson.h"
#include "lib/err.h"
#include "lib/strbuf.h"

static const char INSPECT_JSON[] =
    "{\"Id\": \"98d7c4b9c01ed4d050a50a7163174cc88f5e22110a60e3785df16bf3d0d5e24b\", \"Created\": "
    "\"202"
    "6-11-25T13:25:32.47565243Z\", \"Path\": \"/bin/run.sh\", \"State\": {\"OciVersion\": "
    "\"1.0.2-dev\", \""
    "Status\": \"running\", \"Running\": true, \"Paused\": false, \"Restarting\": false, "
    "\"OOMKilled\": fa"
    "lse, \"Dead\": false, \"Pid\": 29842, \"ConmonPid\": 29827, \"ExitCode\": 0, \"Error\": \"\", "
    "\"Started"
    "At\": \"2026-11-25T13:44:11.635411963Z\", \"FinishedAt\": \"2026-11-25T13:25:49.111182416Z\", "
    "\"He"
    "alth\": {\"Status\": \"starting\", \"FailingStreak\": 0, \"Log\": null}, \"CgroupPath\": "
    "\"/libpod_par"
    "ent/libpod-98d7c4b9c01ed4d050a50a7163174cc88f5e22110a60e3785df16bf3d0d5e24b\", \"Checkpointe"
    "dAt\": \"0001-01-01T00:00:00Z\", \"RestoredAt\": \"0001-01-01T00:00:00Z\"}, \"Image\": "
    "\"087788e4ba7"
    "ad3bd3baf22a1acd4d9117a7b8085bb7a1c19c14540c46ba1e977\", \"ImageName\": "
    "\"localhost/omltest:1\""
    ", \"Name\": \"t1\", \"RestartCount\": 0, \"Driver\": \"overlay\", \"Mounts\": [{\"Type\": "
    "\"volume\", \"Nam"
    "e\": \"v1\", \"Source\": \"/tmp/omlssh-dev/storage/volumes/v1/_data\", \"Destination\": "
    "\"/data\", \"D"
    "river\": \"local\", \"Mode\": \"\", \"Options\": [\"nosuid\", \"nodev\", \"rbind\"], \"RW\": "
    "true, \"Propaga"
    "tion\": \"rprivate\"}, {\"Type\": \"bind\", \"Source\": \"/tmp/omlssh-dev/rootfs/etc\", "
    "\"Destination\""
    ": \"/hostetc\", \"Driver\": \"\", \"Mode\": \"\", \"Options\": [\"rbind\"], \"RW\": false, "
    "\"Propagation\": "
    "\"rprivate\"}], \"Config\": {\"Hostname\": \"vm\", \"Env\": "
    "[\"PATH=/usr/local/sbin:/usr/local/bin:/u"
    "sr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\", \"container=podman\", \"A=b\", "
    "\"HOSTNAME=vm\"], \"Cm"
    "d\": [\"/bin/run.sh\"], \"Image\": \"localhost/omltest:1\", \"Labels\": {\"omlop.io/tenant\": "
    "\"x\"}, \""
    "StopSignal\": 15}, \"HostConfig\": {\"Memory\": 67108864, \"RestartPolicy\": {\"Name\": "
    "\"always\", \""
    "MaximumRetryCount\": 0}, \"NetworkMode\": \"host\"}}";

static const char LIST_JSON[] =
    "[{\"AutoRemove\":false,\"Command\":[\"/bin/run.sh\"],\"Created\":\"2026-11-25T13:25:32Z\","
    "\"CreatedAt\":\"\",\"Exited\":false,\"ExitedAt\":-62135596800,\"ExitCode\":0,"
    "\"Id\":\"98d7c4b9c01e\",\"Image\":\"localhost/omltest:1\",\"ImageID\":\"087788e4ba7a\","
    "\"IsInfra\":false,\"Labels\":{\"omlop.io/tenant\":\"x\"},\"Mounts\":[\"/data\"],"
    "\"Names\":[\"t1\"],\"Namespaces\":{},\"Networks\":[],\"Pid\":9243,\"Pod\":\"\","
    "\"PodName\":\"\",\"Ports\":null,\"Size\":null,\"StartedAt\":1795613132,"
    "\"State\":\"running\",\"Status\":\"healthy\"},"
    "{\"Id\":\"1a23cfdaba8c\",\"Image\":\"localhost/omltest:1\",\"Labels\":null,"
    "\"Names\":[\"t2\"],\"State\":\"exited\",\"ExitCode\":137,\"Status\":\"\"}]";

static const char EVENT_JSON[] =
    "{\"status\":\"died\",\"id\":\"98d7c4b9c01e\",\"from\":\"localhost/omltest:1\","
    "\"Type\":\"container\",\"Action\":\"died\",\"Actor\":{\"ID\":\"98d7c4b9c01e\","
    "\"Attributes\":{\"containerExitCode\":\"0\",\"image\":\"localhost/omltest:1\","
    "\"name\":\"t1\",\"omlop.io/tenant\":\"x\",\"podId\":\"\"}},\"scope\":\"local\","
    "\"time\":1795613132,\"timeNano\":1795613132584849617}";

static const char INFO_JSON[] =
    "{\"host\":{\"arch\":\"amd64\",\"cgroupManager\":\"cgroupfs\",\"cgroupVersion\":\"v1\","
    "\"hostname\":\"vm\",\"kernel\":\"6.18.44\",\"os\":\"linux\",\"ociRuntime\":{\"name\":"
    "\"runc\",\"package\":\"runc_1.1.5+ds1-1+deb12u1_amd64\",\"path\":\"/usr/bin/runc\","
    "\"version\":\"runc version 1.1.5+ds1\\ncommit: 1.1.5+ds1-1+deb12u1\\nspec: 1.0.2-dev\"}},"
    "\"store\":{\"graphDriverName\":\"overlay\",\"graphRoot\":\"/var/lib/containers/storage\","
    "\"graphRootAllocated\":270553174016,\"graphRootUsed\":17331634176},"
    "\"version\":{\"APIVersion\":\"4.3.1\",\"Version\":\"4.3.1\",\"GoVersion\":\"go1.19.8\","
    "\"OsArch\":\"linux/amd64\",\"Os\":\"linux\"}}";

static void assert_json_text(const char *got, const char *want)
{
    json_object *g = json_tokener_parse(got), *w = json_tokener_parse(want);

    assert_non_null(g);
    assert_non_null(w);
    if (!cjson_equal(g, w))
        fail_msg("JSON differs:\n got  %s\n want %s", got, want);
    json_object_put(g);
    json_object_put(w);
}

static void test_query_escapes_values(void **state)
{
    strbuf q = STRBUF_INIT;

    (void)state;
    strbuf_adds(&q, "/v4.0.0/libpod/containers/json");
    podman_query_add(&q, "all", "true");
    podman_query_add(&q, "filters", "{\"label\":[\"omlop.io/tenant=a b\"]}");
    assert_string_equal(strbuf_str(&q),
                        "/v4.0.0/libpod/containers/json?all=true&filters="
                        "%7B%22label%22%3A%5B%22omlop.io%2Ftenant%3Da%20b%22%5D%7D");
    strbuf_release(&q);
}

static void test_check_ref_accepts_images_and_refuses_url_tricks(void **state)
{
    static const char *const good[] = {
        "omlapp",  "10.237.0.1:5000/omnileads/omlapp:241121.01",
        "t_1.x-y", "docker.io/library/redis@sha256:0123abcd",
        "a+b",
    };
    static const char *const bad[] = {
        "", "a b", "x?all=1", "x#y", "../containers/other", "/abs", "-flag", "a%2Fb", "a\nb",
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(podman_check_ref("image", good[i], &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (podman_check_ref("container", bad[i], &err) != OMLOP_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(err.msg, "container"));
    }
}

static void test_filters_json(void **state)
{
    static const char *const labels[] = {"omlop.io/tenant=t1", "omlop.io/component", NULL};
    static const char *const types[] = {"container", NULL};
    static const char *const events[] = {"start", "died", "remove", NULL};
    podman_filters f = {.labels = labels, .types = types, .events = events};
    strbuf out = STRBUF_INIT;

    (void)state;
    podman_filters_json(&f, &out);
    assert_json_text(strbuf_str(&out), "{\"label\":[\"omlop.io/tenant=t1\",\"omlop.io/component\"],"
                                       "\"type\":[\"container\"],"
                                       "\"event\":[\"start\",\"died\",\"remove\"]}");
    strbuf_reset(&out);
    podman_filters_json(NULL, &out);
    assert_string_equal(strbuf_str(&out), "{}");
    strbuf_release(&out);
}

static void test_create_body_has_every_field_podman_reads(void **state)
{
    static const char *const cmd[] = {"/bin/run.sh", "--port", "8080", NULL};
    static const char *const hc_test[] = {"CMD-SHELL", "test -f /tmp/ready", NULL};
    static const char *const cap_add[] = {"NET_ADMIN", "CAP_SYS_NICE", NULL};
    static const char *const cap_drop[] = {"MKNOD", NULL};
    const podman_kv env[] = {{"TZ", "UTC"}, {"DJANGO_PASS", "x y"}};
    const podman_kv labels[] = {{"omlop.io/tenant", "t1"}, {"omlop.io/hash", "abc"}};
    const podman_mount mounts[] = {
        {PODMAN_MOUNT_VOLUME, "t1-pgdata", "/var/lib/postgresql/data", 0, NULL},
        {PODMAN_MOUNT_BIND, "/etc/omnileads/t1", "/etc/omnileads", 1, "z"},
        {PODMAN_MOUNT_TMPFS, NULL, "/run/app", 0, NULL},
    };
    const podman_healthcheck hc = {hc_test, 10000, 2000, 30000, 3};
    podman_create_spec spec = {
        .name = "t1-omlapp",
        .image = "10.237.0.1:5000/omnileads/omlapp:241121.01",
        .command = cmd,
        .env = env,
        .n_env = 2,
        .labels = labels,
        .n_labels = 2,
        .mounts = mounts,
        .n_mounts = 3,
        .is_host_network = 1,
        .memory_limit_bytes = 1073741824,
        .restart_policy = "always",
        .healthcheck = &hc,
        .cap_add = cap_add,
        .cap_drop = cap_drop,
        .workdir = "/opt/omnileads",
        .stop_timeout_s = 15,
    };
    strbuf out = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_create_body(&spec, &out, &err), 0);
    assert_json_text(
        strbuf_str(&out),
        "{\"name\":\"t1-omlapp\",\"image\":\"10.237.0.1:5000/omnileads/omlapp:241121.01\","
        "\"command\":[\"/bin/run.sh\",\"--port\",\"8080\"],"
        "\"env\":{\"TZ\":\"UTC\",\"DJANGO_PASS\":\"x y\"},"
        "\"labels\":{\"omlop.io/tenant\":\"t1\",\"omlop.io/hash\":\"abc\"},"
        "\"mounts\":[{\"destination\":\"/etc/omnileads\",\"type\":\"bind\","
        "\"source\":\"/etc/omnileads/t1\",\"options\":[\"ro\",\"z\",\"rbind\"]},"
        "{\"destination\":\"/run/app\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[]}],"
        "\"volumes\":[{\"Name\":\"t1-pgdata\",\"Dest\":\"/var/lib/postgresql/data\","
        "\"Options\":[]}],"
        "\"netns\":{\"nsmode\":\"host\"},"
        "\"resource_limits\":{\"memory\":{\"limit\":1073741824}},"
        "\"restart_policy\":\"always\","
        "\"healthconfig\":{\"Test\":[\"CMD-SHELL\",\"test -f /tmp/ready\"],"
        "\"Interval\":10000000000,\"Timeout\":2000000000,\"StartPeriod\":30000000000,"
        "\"Retries\":3},"
        "\"cap_add\":[\"CAP_NET_ADMIN\",\"CAP_SYS_NICE\"],\"cap_drop\":[\"CAP_MKNOD\"],"
        "\"work_dir\":\"/opt/omnileads\",\"stop_timeout\":15}");
    strbuf_release(&out);
}

static void test_create_body_minimal_and_on_failure_retries(void **state)
{
    podman_create_spec spec = {
        .name = "a", .image = "img", .restart_policy = "on-failure", .restart_retries = 5};
    strbuf out = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_create_body(&spec, &out, &err), 0);
    assert_json_text(strbuf_str(&out), "{\"name\":\"a\",\"image\":\"img\",\"mounts\":[],"
                                       "\"volumes\":[],\"restart_policy\":\"on-failure\","
                                       "\"restart_tries\":5}");
    strbuf_release(&out);
}

static void test_create_body_refuses_bad_fields_by_name(void **state)
{
    static const char *const bad_caps[] = {"net_admin", NULL};
    static const char *const bad_hc[] = {"ls", NULL};
    const podman_mount rel_dest[] = {{PODMAN_MOUNT_BIND, "/x", "data", 0, NULL}};
    const podman_mount rel_src[] = {{PODMAN_MOUNT_BIND, "x", "/data", 0, NULL}};
    const podman_mount bad_vol[] = {{PODMAN_MOUNT_VOLUME, "a/b", "/data", 0, NULL}};
    const podman_healthcheck hc = {bad_hc, 0, 0, 0, 0};
    struct {
        podman_create_spec spec;
        const char *msg;
    } cases[] = {
        {{.name = "", .image = "img"}, "name:"},
        {{.name = "-x", .image = "img"}, "not a valid container name"},
        {{.name = "a", .image = NULL}, "image"},
        {{.name = "a", .image = "img", .memory_limit_bytes = 1024}, "at least 6 MiB"},
        {{.name = "a", .image = "img", .restart_policy = "sometimes"}, "'sometimes'"},
        {{.name = "a", .image = "img", .cap_add = bad_caps}, "cap_add[0]: 'net_admin'"},
        {{.name = "a", .image = "img", .healthcheck = &hc}, "healthcheck.test"},
        {{.name = "a", .image = "img", .mounts = rel_dest, .n_mounts = 1}, "mounts[0].destination"},
        {{.name = "a", .image = "img", .mounts = rel_src, .n_mounts = 1}, "mounts[0].source"},
        {{.name = "a", .image = "img", .mounts = bad_vol, .n_mounts = 1}, "not a volume name"},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf out = STRBUF_INIT;

        assert_int_equal(podman_create_body(&cases[i].spec, &out, &err), OMLOP_EINVAL);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        strbuf_release(&out);
    }
}

static void test_exec_body(void **state)
{
    static const char *const cmd[] = {"sh", "-c", "echo $X", NULL};
    static const char *const env[] = {"X=1", NULL};
    strbuf out = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_exec_body(cmd, env, "/tmp", "root", &out, &err), 0);
    assert_json_text(strbuf_str(&out), "{\"AttachStdout\":true,\"AttachStderr\":true,\"Tty\":false,"
                                       "\"Cmd\":[\"sh\",\"-c\",\"echo $X\"],\"Env\":[\"X=1\"],"
                                       "\"WorkingDir\":\"/tmp\",\"User\":\"root\"}");
    assert_int_equal(podman_exec_body(NULL, NULL, NULL, NULL, &out, &err), OMLOP_EINVAL);
    strbuf_release(&out);
}

static void test_parse_inspect(void **state)
{
    podman_container c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_parse_container_inspect(INSPECT_JSON, strlen(INSPECT_JSON), &c, &err),
                     0);
    assert_string_equal(c.id, "98d7c4b9c01ed4d050a50a7163174cc88f5e22110a60e3785df16bf3d0d5e24b");
    assert_string_equal(c.name, "t1");
    assert_string_equal(c.image, "localhost/omltest:1");
    assert_string_equal(c.state, "running");
    assert_true(c.is_running);
    assert_int_equal(c.exit_code, 0);
    assert_string_equal(c.health, "starting");
    assert_string_equal(c.started_at, "2026-11-25T13:44:11.635411963Z");
    assert_string_equal(json_object_get_string(json_object_object_get(c.labels, "omlop.io/tenant")),
                        "x");
    assert_int_equal(cjson_get_int(c.raw, "HostConfig.Memory", 0), 67108864);
    podman_container_release(&c);
}

static void test_parse_inspect_rejects_garbage(void **state)
{
    podman_container c;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_parse_container_inspect("{\"Id\":", 6, &c, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "not JSON"));
    assert_int_equal(podman_parse_container_inspect("{}", 2, &c, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "no Id"));
    assert_int_equal(podman_parse_container_inspect("[1]", 3, &c, &err), OMLOP_EPROTO);
}

static void test_parse_list(void **state)
{
    podman_container_list l;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_parse_container_list(LIST_JSON, strlen(LIST_JSON), &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "t1");
    assert_true(l.items[0].is_running);
    assert_string_equal(l.items[0].health, "healthy");
    assert_string_equal(
        json_object_get_string(json_object_object_get(l.items[0].labels, "omlop.io/tenant")), "x");
    assert_string_equal(l.items[1].name, "t2");
    assert_false(l.items[1].is_running);
    assert_int_equal(l.items[1].exit_code, 137);
    /* "Labels": null becomes an empty object, so callers need no NULL check */
    assert_non_null(l.items[1].labels);
    assert_int_equal(json_object_object_length(l.items[1].labels), 0);
    podman_container_list_release(&l);
    assert_int_equal(podman_parse_container_list("[]", 2, &l, &err), 0);
    assert_int_equal(l.n, 0);
    podman_container_list_release(&l);
    assert_int_equal(podman_parse_container_list("{}", 2, &l, &err), OMLOP_EPROTO);
    assert_string_equal(err.msg, "list containers: expected a JSON array");
    assert_null(l.items);
    assert_int_equal(podman_parse_container_list("[", 1, &l, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "list containers: Podman sent a reply that is not JSON"));
}

static void test_parse_volumes(void **state)
{
    static const char body[] =
        "[{\"Name\":\"v1\",\"Driver\":\"local\",\"Mountpoint\":\"/var/lib/containers/storage/"
        "volumes/v1/_data\",\"CreatedAt\":\"2026-11-25T13:25:32Z\",\"Labels\":{\"a\":\"b\"},"
        "\"Scope\":\"local\",\"Options\":{},\"MountCount\":0,\"NeedsCopyUp\":true}]";
    podman_volume_list l;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_parse_volume_list(body, strlen(body), &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].name, "v1");
    assert_string_equal(l.items[0].mountpoint, "/var/lib/containers/storage/volumes/v1/_data");
    assert_string_equal(json_object_get_string(json_object_object_get(l.items[0].labels, "a")),
                        "b");
    podman_volume_list_release(&l);
    /* entries that are not objects are skipped, not counted */
    assert_int_equal(podman_parse_volume_list("[1,{\"Name\":\"v2\"}]", 17, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].name, "v2");
    podman_volume_list_release(&l);
    assert_int_equal(podman_parse_volume_list("{}", 2, &l, &err), OMLOP_EPROTO);
    assert_string_equal(err.msg, "list volumes: expected a JSON array");
    assert_null(l.items);
    assert_int_equal(l.n, 0);
}

static void test_parse_event(void **state)
{
    static const char old_style[] =
        "{\"status\":\"start\",\"id\":\"abc\",\"Type\":\"container\",\"time\":1700000000}";
    podman_event ev;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_parse_event(EVENT_JSON, strlen(EVENT_JSON), &ev, &err), 0);
    assert_string_equal(ev.type, "container");
    assert_string_equal(ev.action, "died");
    assert_string_equal(ev.id, "98d7c4b9c01e");
    assert_string_equal(ev.name, "t1");
    assert_string_equal(ev.image, "localhost/omltest:1");
    assert_true(ev.time_nano == 1795613132584849617LL);
    assert_string_equal(
        json_object_get_string(json_object_object_get(ev.attributes, "omlop.io/tenant")), "x");
    podman_event_release(&ev);
    /* Action and timeNano missing (older servers): fall back to status and time */
    assert_int_equal(podman_parse_event(old_style, strlen(old_style), &ev, &err), 0);
    assert_string_equal(ev.action, "start");
    assert_string_equal(ev.id, "abc");
    assert_string_equal(ev.name, "");
    assert_true(ev.time_nano == 1700000000000000000LL);
    podman_event_release(&ev);
    assert_int_equal(podman_parse_event("{\"Type\":\"container\"}", 20, &ev, &err), OMLOP_EPROTO);
    assert_int_equal(podman_parse_event("nope", 4, &ev, &err), OMLOP_EPROTO);
}

static void test_parse_info(void **state)
{
    podman_host_info hi;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_parse_info(INFO_JSON, strlen(INFO_JSON), &hi, &err), 0);
    assert_string_equal(hi.version, "4.3.1");
    assert_int_equal(hi.major, 4);
    assert_int_equal(hi.minor, 3);
    assert_int_equal(hi.patch, 1);
    assert_string_equal(hi.oci_runtime, "runc");
    assert_string_equal(hi.oci_runtime_version, "runc version 1.1.5+ds1");
    assert_string_equal(hi.graph_driver, "overlay");
    assert_string_equal(hi.graph_root, "/var/lib/containers/storage");
    assert_true(hi.graph_root_allocated == 270553174016LL);
    assert_true(hi.graph_root_used == 17331634176LL);
    assert_string_equal(hi.cgroup_manager, "cgroupfs");
    /* Podman 3 has no graphRootAllocated: the disk is "unknown", not 0 */
    assert_int_equal(
        podman_parse_info("{\"version\":{\"Version\":\"3.0.1\"},\"store\":{}}", 45, &hi, &err), 0);
    assert_int_equal(hi.major, 3);
    assert_true(hi.graph_root_allocated == -1);
    assert_int_equal(podman_parse_info("{}", 2, &hi, &err), OMLOP_EPROTO);
    assert_non_null(strstr(err.msg, "no Podman version"));
}

static void test_parse_version(void **state)
{
    int a, b, c;

    (void)state;
    assert_int_equal(podman_parse_version("4.3.1", &a, &b, &c), 0);
    assert_true(a == 4 && b == 3 && c == 1);
    assert_int_equal(podman_parse_version("5.0.0-dev", &a, &b, &c), 0);
    assert_true(a == 5 && b == 0 && c == 0);
    assert_int_equal(podman_parse_version("3.4", &a, &b, &c), 0);
    assert_true(a == 3 && b == 4 && c == 0);
    assert_int_equal(podman_parse_version("v4", &a, &b, &c), -1);
    assert_int_equal(podman_parse_version("", &a, &b, &c), -1);
}

static void test_parse_pull_lines(void **state)
{
    static const char l1[] =
        "{\"stream\":\"Trying to pull 10.237.0.1:5000/omnileads/redis...\\n\"}";
    static const char l2[] = "{\"images\":[\"087788e4ba7a\"],\"id\":\"087788e4ba7a\"}";
    static const char l3[] =
        "{\"error\":\"initializing source docker://localhost:1/x/y:1: pinging container "
        "registry localhost:1: connect: connection refused\"}";
    podman_pull_line pl;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(podman_parse_pull_line(l1, strlen(l1), &pl, &err), 0);
    assert_string_equal(pl.stream, "Trying to pull 10.237.0.1:5000/omnileads/redis...");
    assert_null(pl.error);
    assert_null(pl.id);
    podman_pull_line_release(&pl);
    assert_int_equal(podman_parse_pull_line(l2, strlen(l2), &pl, &err), 0);
    assert_string_equal(pl.id, "087788e4ba7a");
    podman_pull_line_release(&pl);
    assert_int_equal(podman_parse_pull_line(l3, strlen(l3), &pl, &err), 0);
    assert_non_null(strstr(pl.error, "connection refused"));
    podman_pull_line_release(&pl);
}

static void test_error_bodies_become_clear_errors(void **state)
{
    static const struct {
        long status;
        const char *body;
        int code;
        const char *msg;
    } cases[] = {
        {404,
         "{\"cause\":\"no such container\",\"message\":\"no container with name or ID \\\"nope\\\" "
         "found: no such container\",\"response\":404}",
         OMLOP_ENOTFOUND,
         "host h1: start container 'nope': no container with name or ID \"nope\" "
         "found: no such container (HTTP 404)"},
        {500,
         "{\"cause\":\"that name is already in use\",\"message\":\"creating container storage: "
         "the container name \\\"t1\\\" is already in use\",\"response\":500}",
         OMLOP_EEXIST, "is already in use (HTTP 500)"},
        {500, "{\"cause\":\"image not known\",\"message\":\"x:1: image not known\"}",
         OMLOP_ENOTFOUND, "image not known"},
        {500,
         "{\"cause\":\"volume already exists\",\"message\":\"volume with name v1 already "
         "exists: volume already exists\",\"response\":500}",
         OMLOP_EEXIST, "volume with name v1"},
        {409,
         "{\"cause\":\"volume is being used\",\"message\":\"volume v1 is being used\","
         "\"response\":409}",
         OMLOP_ECONFLICT, "(HTTP 409)"},
        {400, "{\"cause\":\"bad parameter\",\"message\":\"bad timeout\"}", OMLOP_EINVAL,
         "bad timeout"},
        {403, "", OMLOP_EPERM, "no details in the reply (HTTP 403)"},
        {502, "<html>Bad\nGateway</html>", OMLOP_EIO, "<html>Bad Gateway</html> (HTTP 502)"},
        {500, "{\"cause\":\"EOF\",\"message\":\"decoding request body as JSON: EOF\"}", OMLOP_EIO,
         "decoding request body"},
    };
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int code = podman_error_from_response("h1", "start container 'nope'", cases[i].status,
                                              cases[i].body, strlen(cases[i].body), &err);

        if (code != cases[i].code)
            fail_msg("case %zu: code %s, want %s (%s)", i, omlop_code_name(code),
                     omlop_code_name(cases[i].code), err.msg);
        assert_int_equal(err.code, code);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        assert_non_null(strstr(err.msg, "host h1: start container 'nope': "));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_escapes_values),
        cmocka_unit_test(test_check_ref_accepts_images_and_refuses_url_tricks),
        cmocka_unit_test(test_filters_json),
        cmocka_unit_test(test_create_body_has_every_field_podman_reads),
        cmocka_unit_test(test_create_body_minimal_and_on_failure_retries),
        cmocka_unit_test(test_create_body_refuses_bad_fields_by_name),
        cmocka_unit_test(test_exec_body),
        cmocka_unit_test(test_parse_inspect),
        cmocka_unit_test(test_parse_inspect_rejects_garbage),
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_parse_volumes),
        cmocka_unit_test(test_parse_event),
        cmocka_unit_test(test_parse_info),
        cmocka_unit_test(test_parse_version),
        cmocka_unit_test(test_parse_pull_lines),
        cmocka_unit_test(test_error_bodies_become_clear_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
