/*
 * libFuzzer target for the API's request and manifest parsing: the input is
 * read as an HTTP request ("METHOD /path?query HTTP/1.1", headers, a blank line,
 * a body; the .http files of unit-tests/data/api-malformed are seeds) and served
 * by the router against a real SQLite store and the built-in resource model, so
 * query parsing, selectors, continue tokens, JSON and YAML bodies, field
 * validation, schema decoding, patches and Table output all see fuzzed bytes.
 * The first byte of an input that starts with '#' picks a side target instead:
 * tokens files, config files, JSONPath, Accept headers.
 *
 * Built only by unit-tests/fuzz/run (clang -fsanitize=fuzzer,address
 * -DOMLOP_FUZZ); without OMLOP_FUZZ this file is empty, because the Makefile
 * links every non-test .c file under unit-tests/ into each unit test.
 */
#ifdef OMLOP_FUZZ

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crds/schema.h"
#include "lib/log.h"
#include "operator/api.h"
#include "operator/api_auth.h"
#include "operator/api_request.h"
#include "operator/api_router.h"
#include "operator/api_table.h"
#include "operator/config.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Built once per fuzzing process; libFuzzer calls the target many times. */
typedef struct fuzz_env {
    store *st;
    schema_set *schemas;
    api_auth *auth;
    api *a;
} fuzz_env;

static fuzz_env *env_get(void)
{
    static fuzz_env env; /* a fuzzer process has exactly one; there is no main of ours */
    static char dir[256];
    omlop_err err = OMLOP_ERR_INIT;
    store_options so;

    if (env.a)
        return &env;
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, stderr);
    if (getenv("OMLOP_FUZZ_DATA")) {
        snprintf(dir, sizeof(dir), "%s", getenv("OMLOP_FUZZ_DATA"));
    } else {
        snprintf(dir, sizeof(dir), "/tmp/omlop-fuzz-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    store_options_default(&so);
    so.data_dir = dir;
    so.compact_interval_s = 0;
    if (store_open("sqlite", &so, &env.st, &err) != 0 ||
        schema_set_new_builtin(&env.schemas, &err) != 0) {
        fprintf(stderr, "fuzz: %s\n", err.msg);
        abort();
    }
    env.auth = api_auth_new_open();
    if (api_new(NULL, env.st, env.schemas, env.auth, &env.a, &err) != 0)
        abort();
    return &env;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (!p)
        abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Split the input into a request; returns 0 when it has at least a request line. */
static int parse_input(const char *in, size_t n, api_request *req)
{
    const char *end = in + n, *p = in, *nl, *sp1, *sp2, *q;
    char *line;

    nl = memchr(p, '\n', n);
    if (!nl)
        nl = end;
    line = dup_n(p, (size_t)(nl - p));
    sp1 = strchr(line, ' ');
    if (!sp1) {
        free(line);
        return -1;
    }
    sp2 = strchr(sp1 + 1, ' ');
    {
        char *method = dup_n(line, (size_t)(sp1 - line));
        char *target = dup_n(sp1 + 1, sp2 ? (size_t)(sp2 - sp1 - 1) : strlen(sp1 + 1));

        req->method = api_method_parse(method);
        q = strchr(target, '?');
        req->path = dup_n(target, q ? (size_t)(q - target) : strlen(target));
        if (q)
            api_request_parse_query(req, q + 1);
        free(method);
        free(target);
    }
    free(line);
    p = nl < end ? nl + 1 : end;
    while (p < end) {
        const char *hend = memchr(p, '\n', (size_t)(end - p));
        size_t hn = hend ? (size_t)(hend - p) : (size_t)(end - p);
        char *h;

        if (hn == 0 || (hn == 1 && p[0] == '\r')) {
            p = hend ? hend + 1 : end;
            break;
        }
        h = dup_n(p, hn && p[hn - 1] == '\r' ? hn - 1 : hn);
        if (strncasecmp(h, "Content-Type:", 13) == 0)
            api_request_set_content_type(req, h + 13);
        else if (strncasecmp(h, "Accept:", 7) == 0 && !req->accept)
            req->accept = strdup(h + 7);
        free(h);
        p = hend ? hend + 1 : end;
    }
    req->body = p;
    req->body_len = (size_t)(end - p);
    req->remote = strdup("fuzz");
    req->is_local = 1;
    return 0;
}

static void side_targets(const char *in, size_t n)
{
    char *text = dup_n(in, n);
    omlop_err err = OMLOP_ERR_INIT;

    switch (n > 1 ? in[1] : 0) {
    case 't': {
        api_auth *a = NULL;

        if (api_auth_parse("fuzz.csv", text + 2, n - 2, &a, &err) == 0) {
            api_principal who;

            api_auth_check(a, text + 2, &who, &err);
        }
        api_auth_free(a);
        break;
    }
    case 'c': {
        omlopd_config c;

        config_init(&c);
        if (config_load_text(&c, "fuzz.yaml", text + 2, n - 2, &err) == 0)
            config_check(&c, &err);
        config_release(&c);
        break;
    }
    case 'j': {
        json_object *o = json_tokener_parse("{\"a\":[{\"b\":1,\"c\":\"x\"}],\"d\":{\"e.f\":2}}");
        const json_object *out[8];

        api_jsonpath_eval(o, text + 2, out, 8);
        json_object_put(o);
        break;
    }
    default:
        api_accept_wants_table(text);
        api_accept_wants_yaml(text);
        api_accept_allows(text, "application/json");
        break;
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_env *env = env_get();
    api_request req;
    api_response resp;

    if (size > 2 * 1024 * 1024)
        return 0; /* the server refuses bodies past its limit before parsing */
    if (size > 0 && data[0] == '#') {
        side_targets((const char *)data, size);
        return 0;
    }
    api_request_init(&req);
    api_response_init(&resp);
    if (parse_input((const char *)data, size, &req) == 0)
        api_handle(env->a, &req, &resp);
    api_response_release(&resp);
    api_request_release(&req);
    return 0;
}

#else
/* Not a fuzzing build: nothing here (see the comment at the top). */
typedef int fuzz_request_is_empty;
#endif
