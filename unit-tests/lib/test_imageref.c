/*
 * Tests for lib/imageref: the normal form of image references, on the forms users
 * and the catalog write, compared with what Podman reports for the same image.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/imageref.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_normalize_forms_users_write(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        /* Docker Hub: registry, library/ and :latest filled in */
        {"postgres", "docker.io/library/postgres:latest"},
        {"postgres:14.9-bullseye", "docker.io/library/postgres:14.9-bullseye"},
        {"docker.io/postgres:14.9-bullseye", "docker.io/library/postgres:14.9-bullseye"},
        {"docker.io/library/postgres:14.9-bullseye", "docker.io/library/postgres:14.9-bullseye"},
        {"index.docker.io/postgres:14", "docker.io/library/postgres:14"},
        {"DOCKER.IO/postgres:14", "docker.io/library/postgres:14"},
        {"rabbitmq:3.12-management", "docker.io/library/rabbitmq:3.12-management"},
        {"bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"},
        {"docker.io/bitnami/redis", "docker.io/bitnami/redis:latest"},
        /* other registries: nothing added but the tag */
        {"quay.io/prometheus/node-exporter:v1.6.1", "quay.io/prometheus/node-exporter:v1.6.1"},
        {"quay.io/minio", "quay.io/minio:latest"},
        {"Quay.IO/minio/minio:RELEASE.2023", "quay.io/minio/minio:RELEASE.2023"},
        /* a registry with a port: its ':' is not a tag */
        {"reg.test:5000/omnileads/asterisk:1.0", "reg.test:5000/omnileads/asterisk:1.0"},
        {"reg.test:5000/omnileads/asterisk", "reg.test:5000/omnileads/asterisk:latest"},
        {"localhost:5000/x", "localhost:5000/x:latest"},
        {"10.0.0.1:5000/a/b/c:t", "10.0.0.1:5000/a/b/c:t"},
        /* localhost: Podman's own images */
        {"localhost/busybox", "localhost/busybox:latest"},
        {"localhost/busybox:1", "localhost/busybox:1"},
        /* "localhost" alone is a Docker Hub name; "myhost/x" is a Hub user, not a registry */
        {"localhost", "docker.io/library/localhost:latest"},
        {"myhost/x:1", "docker.io/myhost/x:1"},
        /* a short name with a numeric tag is not a registry with a port */
        {"redis:7", "docker.io/library/redis:7"},
        /* digests kept; a digest alone gets no tag; a tag beside it stays */
        {"postgres@" DIGEST, "docker.io/library/postgres@" DIGEST},
        {"postgres:14@" DIGEST, "docker.io/library/postgres:14@" DIGEST},
        {"quay.io/a/b:1@" DIGEST, "quay.io/a/b:1@" DIGEST},
        {"reg.test:5000/a@" DIGEST, "reg.test:5000/a@" DIGEST},
        /* names with separators */
        {"ab_c-d/e__f.g:v1.2_3-x", "docker.io/ab_c-d/e__f.g:v1.2_3-x"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf out = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;

        if (imageref_normalize(cases[i].in, &out, &err) < 0)
            fail_msg("%s: %s", cases[i].in, err.msg);
        if (strcmp(strbuf_str(&out), cases[i].want) != 0)
            fail_msg("%s: got %s, want %s", cases[i].in, strbuf_str(&out), cases[i].want);
        strbuf_release(&out);
    }
}

static void test_normalize_refuses_bad_references(void **state)
{
    char longref[IMAGEREF_MAX_LEN + 2], edge[IMAGEREF_MAX_LEN + 1];
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"", "empty"},
        {"post gres", "space"},
        {"postgres\n", "control"},
        {"Postgres:14", "lower case"},
        {"docker.io/Library/postgres", "lower case"},
        {"postgres:", "tag"},
        {"postgres:-x", "tag"},
        {"postgres:a+b", "not allowed in a tag"},
        {"a//b", "empty path component"},
        {"quay.io/", "empty path component"},
        {"/x", "empty path component"},
        {"postgres@sha256:abc", "digest"},
        {"postgres@" DIGEST "x", "digest"},
        {"postgres@", "digest"},
        {":14", "no name"},
        {"a/b$c", "not allowed in a repository"},
        {"bad_host.io:5000/x", "bad registry"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf out = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;

        strbuf_adds(&out, "kept");
        if (imageref_normalize(cases[i].in, &out, &err) != OMLOP_EINVAL)
            fail_msg("'%s' was accepted as %s", cases[i].in, strbuf_str(&out));
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].in, err.msg, cases[i].msg);
        assert_string_equal(strbuf_str(&out), "kept"); /* untouched on error */
        strbuf_release(&out);
    }
    /* the length bound: at the limit accepted, one past refused */
    memset(edge, 'a', IMAGEREF_MAX_LEN);
    edge[IMAGEREF_MAX_LEN] = '\0';
    {
        strbuf out = STRBUF_INIT;

        assert_int_equal(imageref_normalize(edge, &out, NULL), 0);
        strbuf_release(&out);
    }
    memset(longref, 'a', IMAGEREF_MAX_LEN + 1);
    longref[IMAGEREF_MAX_LEN + 1] = '\0';
    {
        strbuf out = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;

        assert_int_equal(imageref_normalize(longref, &out, &err), OMLOP_EINVAL);
        assert_non_null(strstr(err.msg, "longer than 512"));
        strbuf_release(&out);
    }
    assert_int_equal(imageref_normalize(NULL, NULL, NULL), OMLOP_EINVAL);
}

/* What the catalog writes against what Podman reports for the same container. */
static void test_equal_matches_what_podman_reports(void **state)
{
    static const struct {
        const char *a, *b;
        int is_same;
    } cases[] = {
        {"docker.io/postgres:14.9-bullseye", "docker.io/library/postgres:14.9-bullseye", 1},
        {"docker.io/rabbitmq:3.12", "docker.io/library/rabbitmq:3.12", 1},
        {"postgres", "docker.io/library/postgres:latest", 1},
        {"localhost/x", "localhost/x:latest", 1},
        {"reg.test:5000/omnileads/asterisk:1.0", "reg.test:5000/omnileads/asterisk:1.0", 1},
        /* differences that matter stay differences */
        {"docker.io/postgres:14.9-bullseye", "docker.io/library/postgres:15", 0},
        {"postgres:14", "quay.io/postgres:14", 0},
        {"postgres:14", "postgres:14@" DIGEST, 0},
        {"bitnami/redis:7", "docker.io/library/redis:7", 0},
        {"localhost/x", "docker.io/library/x", 0},
        {"reg.test:5000/a:1", "reg.test:5001/a:1", 0},
        /* unparsable: as written */
        {"Bad Ref", "Bad Ref", 1},
        {"Bad Ref", "bad ref", 0},
        {NULL, NULL, 1},
        {NULL, "postgres", 0},
        {"postgres", NULL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (imageref_equal(cases[i].a, cases[i].b) != cases[i].is_same)
            fail_msg("imageref_equal(%s, %s) != %d", cases[i].a ? cases[i].a : "NULL",
                     cases[i].b ? cases[i].b : "NULL", cases[i].is_same);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_forms_users_write),
        cmocka_unit_test(test_normalize_refuses_bad_references),
        cmocka_unit_test(test_equal_matches_what_podman_reports),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
