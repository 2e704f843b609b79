/*
 * tenant_signature: what a no-change round starts from, as one digest (tenant_memo.h's
 * TENANT_MEMO_ROUND). Equal signatures mean the same inputs and the same containers: the
 * Tenant's revision (its spec, annotations and status), the revision of every Secret it may
 * read (so a rotated value counts), and, on each host, the tenant's containers as listed (name,
 * id, state, exit code). A container's image and labels (the spec and env-file digests the plan
 * compares) are fixed when it is created, so its id stands for them; Podman's free-text fields
 * ("Up 5 minutes") are left out: they change while nothing does.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "reconcilers/secrets.h"
#include "reconcilers/tenant_round.h"

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The host's containers of tenant, one line each, sorted (Podman's order is not promised). */
static void host_lines(const tenant_host_round *h, const char *tenant, strbuf *out)
{
    char **lines = xcalloc(h->list.n + 1, sizeof(*lines));
    size_t n = 0;

    for (size_t i = 0; i < h->list.n; i++) {
        const podman_container *c = &h->list.items[i];
        json_object *owner = NULL;
        strbuf line = STRBUF_INIT;

        if (!c->labels || !json_object_object_get_ex(c->labels, OMLOP_LABEL_TENANT, &owner) ||
            strcmp(json_object_get_string(owner), tenant) != 0)
            continue;
        strbuf_addf(&line, "c %s %s %s %d\n", c->name ? c->name : "", c->id ? c->id : "",
                    c->state ? c->state : "", c->exit_code);
        lines[n++] = strbuf_detach(&line, NULL);
    }
    qsort(lines, n, sizeof(*lines), cmp_line);
    for (size_t i = 0; i < n; i++) {
        strbuf_adds(out, lines[i]);
        free(lines[i]);
    }
    free(lines);
}

int tenant_round_signature(tenant_round *r, int64_t tenant_revision, char *const *names,
                           char out[CJSON_HASH_HEX_LEN + 1], omlop_err *err)
{
    strbuf text = STRBUF_INIT, key = STRBUF_INIT;
    char **keys = NULL;
    store_kv *kvs = NULL;
    size_t n = 0;
    int rc = 0;

    strbuf_addf(&text, "tenant %s %" PRId64 "\n", r->tenant, tenant_revision);
    /* one read of every Secret (one snapshot, one lock round): a no-change round's biggest
     * store cost otherwise; an absent Secret counts as revision 0 */
    while (names && names[n])
        n++;
    if (n > STORE_GET_MANY_MAX) {
        rc = omlop_err_set(err, OMLOP_ELIMIT, "tenant %s refers to %zu Secrets, more than %d",
                           r->tenant, n, STORE_GET_MANY_MAX);
        goto out;
    }
    keys = xcalloc(n + 1, sizeof(*keys));
    kvs = xcalloc(n + 1, sizeof(*kvs));
    for (size_t i = 0; i < n; i++) {
        strbuf_reset(&key);
        strbuf_addf(&key, "%s%s", SECRETS_KEY_PREFIX, names[i]);
        keys[i] = strbuf_detach(&key, NULL);
    }
    if ((rc = store_get_many(r->env->st, (const char *const *)keys, n, kvs, err)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        strbuf_addf(&text, "secret %s %" PRId64 "\n", names[i], kvs[i].mod_revision);
        store_kv_release(&kvs[i]);
    }
    for (size_t i = 0; i < r->n_hosts; i++) {
        const tenant_host_round *h = &r->hosts[i];

        strbuf_addf(&text, "host %s %d\n", h->name, h->is_reachable);
        host_lines(h, r->tenant, &text);
    }
    cjson_sha256_hex(text.buf, text.len, out);
out:
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(kvs);
    strbuf_release(&text);
    strbuf_release(&key);
    return rc;
}
