/*
 * The malformed-input corpus (the .http files of unit-tests/data/api-malformed) against a
 * real omlopd: each file is sent as the raw bytes of one connection. None may
 * get a 5xx answer; afterwards omlopd must still answer, the store revision
 * must not have moved, and omlopd must stop cleanly (no ASan report).
 */
#include "api_harness.h"

#include <dirent.h>

#define BK        "/apis/omlop.io/v1alpha1/backups"
#define MAX_CASES 256

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void store_revision(const omlopd_proc *p, char *rv, size_t n)
{
    http_resp r;

    assert_int_equal(http_do(p, "GET", BK, NULL, NULL, &r), 200);
    snprintf(rv, n, "%s", resp_str(&r, "metadata.resourceVersion"));
    http_resp_release(&r);
}

static void test_corpus_leaves_server_and_store_intact(void **state)
{
    /* the API alone: reconcilers must not change the store the test compares */
    static const char *const flags[] = {"--request-timeout", "2", "--no-reconcile", NULL};
    omlopd_proc p;
    char dir[512], before[32], after[32];
    char *names[MAX_CASES] = {0};
    size_t n = 0;
    DIR *d;
    struct dirent *de;
    int answered = 0;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/unit-tests/data/api-malformed", harness_srcdir());
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL && n < MAX_CASES) {
        size_t len = strlen(de->d_name);

        if (len > 5 && strcmp(de->d_name + len - 5, ".http") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    assert_true(n >= 40);
    qsort(names, n, sizeof(names[0]), by_name);

    omlopd_start(&p, flags);
    {
        /* one object, so "unchanged" covers an existing object too (not "x", which the
         * corpus tries to patch and delete) */
        http_resp r;

        assert_int_equal(http_do(&p, "POST", BK,
                                 "{\"apiVersion\":\"omlop.io/v1alpha1\",\"kind\":\"Backup\","
                                 "\"metadata\":{\"name\":\"keep\"},\"spec\":{\"tenantRef\":{"
                                 "\"name\":\"t\"}}}",
                                 NULL, &r),
                         201);
        http_resp_release(&r);
    }
    store_revision(&p, before, sizeof(before));
    for (size_t i = 0; i < n; i++) {
        char path[800];
        strbuf data = STRBUF_INIT, got = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        assert_int_equal(strbuf_read_file(&data, path, 4 * 1024 * 1024, &err), 0);
        fd = raw_connect(p.port);
        raw_send(fd, data.buf, data.len); /* the server may hang up part-way */
        raw_recv(fd, &got, "\r\n\r\n", 4000);
        close(fd);
        if (getenv("OMLOP_TEST_VERBOSE"))
            fprintf(stderr, "%-40s %.40s\n", names[i], got.len ? strtok(got.buf, "\r") : "-");
        if (got.len >= 12 && strncmp(got.buf, "HTTP/1.1 ", 9) == 0) {
            answered++;
            if (got.buf[9] == '5')
                fail_msg("%s: answered %.12s", names[i], got.buf);
        }
        strbuf_release(&data);
        strbuf_release(&got);
        /* still alive after each case */
        {
            http_resp r;

            if (http_do_opts(p.url, "GET", "/healthz", NULL, 0, NULL, &r) != CURLE_OK ||
                r.code != 200)
                fail_msg("omlopd stopped answering after %s", names[i]);
            http_resp_release(&r);
        }
    }
    assert_true(answered >= 30); /* most cases get a clear error answer */
    store_revision(&p, after, sizeof(after));
    assert_string_equal(before, after);
    omlopd_stop(&p);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_leaves_server_and_store_intact),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_ALL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
