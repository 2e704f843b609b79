/* tenant_memo: the cadences of the expensive observations of a round. */
#include "reconcilers/tenant_memo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"

#define BUCKETS_MIN 64

typedef struct memo_entry {
    struct memo_entry *next;
    char *tenant, *host;
    char digest[TENANT_MEMO_KINDS][CJSON_HASH_HEX_LEN + 1];
    int64_t verified[TENANT_MEMO_KINDS]; /* 0: never */
    int64_t until[TENANT_MEMO_KINDS];    /* 0: the cadence alone; else also before this */
    int64_t used;                        /* last lookup or record */
    char *facts;                         /* host "": tenant_memo_round_facts_keep's text */
    int64_t facts_revision;
} memo_entry;

struct tenant_memo {
    pthread_mutex_t lock;
    int64_t cadence[TENANT_MEMO_KINDS];
    memo_entry **buckets;
    size_t n_buckets, n;
    int64_t last_sweep;
};

tenant_memo *tenant_memo_new(int64_t images_ms, int64_t files_ms, int64_t ready_ms)
{
    tenant_memo *m = xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->lock, NULL);
    m->cadence[TENANT_MEMO_IMAGES] = images_ms > 0 ? images_ms : TENANT_MEMO_IMAGES_MS;
    m->cadence[TENANT_MEMO_FILES] = files_ms > 0 ? files_ms : TENANT_MEMO_FILES_MS;
    m->cadence[TENANT_MEMO_READY] = ready_ms > 0 ? ready_ms : TENANT_MEMO_READY_MS;
    /* a round may be skipped only while none of the checks it would make is due */
    m->cadence[TENANT_MEMO_ROUND] = m->cadence[TENANT_MEMO_IMAGES];
    for (int k = TENANT_MEMO_FILES; k < TENANT_MEMO_ROUND; k++)
        if (m->cadence[k] < m->cadence[TENANT_MEMO_ROUND])
            m->cadence[TENANT_MEMO_ROUND] = m->cadence[k];
    m->n_buckets = BUCKETS_MIN;
    m->buckets = xcalloc(m->n_buckets, sizeof(*m->buckets));
    return m;
}

static void entry_free(memo_entry *e)
{
    free(e->facts);
    free(e->tenant);
    free(e->host);
    free(e);
}

void tenant_memo_free(tenant_memo *m)
{
    if (!m)
        return;
    for (size_t b = 0; b < m->n_buckets; b++)
        while (m->buckets[b]) {
            memo_entry *e = m->buckets[b];

            m->buckets[b] = e->next;
            entry_free(e);
        }
    free(m->buckets);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* FNV-1a over tenant, a separator and host. */
static size_t key_hash(const char *tenant, const char *host)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = tenant; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (const char *p = host; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)h;
}

static void grow(tenant_memo *m)
{
    size_t nb = m->n_buckets * 2;
    memo_entry **b = xcalloc(nb, sizeof(*b));

    for (size_t i = 0; i < m->n_buckets; i++)
        while (m->buckets[i]) {
            memo_entry *e = m->buckets[i];
            size_t k = key_hash(e->tenant, e->host) % nb;

            m->buckets[i] = e->next;
            e->next = b[k];
            b[k] = e;
        }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

/* Drop entries unused for 4 of the longest cadence (hosts left the spec, tenants gone
 * without a forget); at most once per cadence. Under m->lock. */
static void sweep(tenant_memo *m, int64_t now)
{
    int64_t longest = 0;

    for (int k = 0; k < TENANT_MEMO_KINDS; k++)
        if (m->cadence[k] > longest)
            longest = m->cadence[k];
    if (now - m->last_sweep < longest)
        return;
    m->last_sweep = now;
    for (size_t b = 0; b < m->n_buckets; b++)
        for (memo_entry **pe = &m->buckets[b]; *pe;) {
            memo_entry *e = *pe;

            if (now - e->used > 4 * longest) {
                *pe = e->next;
                entry_free(e);
                m->n--;
            } else {
                pe = &e->next;
            }
        }
}

/* The entry of (tenant, host); created when is_create. Under m->lock. */
static memo_entry *find(tenant_memo *m, const char *tenant, const char *host, int is_create)
{
    size_t k = key_hash(tenant, host) % m->n_buckets;
    memo_entry *e;

    for (e = m->buckets[k]; e; e = e->next)
        if (strcmp(e->tenant, tenant) == 0 && strcmp(e->host, host) == 0)
            return e;
    if (!is_create)
        return NULL;
    if (m->n + 1 > 2 * m->n_buckets) {
        grow(m);
        k = key_hash(tenant, host) % m->n_buckets;
    }
    e = xcalloc(1, sizeof(*e));
    e->tenant = xstrdup(tenant);
    e->host = xstrdup(host);
    e->next = m->buckets[k];
    m->buckets[k] = e;
    m->n++;
    return e;
}

int tenant_memo_is_fresh(tenant_memo *m, const char *tenant, const char *host,
                         tenant_memo_kind kind, const char *digest, int64_t now)
{
    memo_entry *e;
    int is_fresh = 0;

    if (!m || !digest || kind < 0 || kind >= TENANT_MEMO_KINDS)
        return 0;
    pthread_mutex_lock(&m->lock);
    e = find(m, tenant, host, 0);
    if (e) {
        e->used = now;
        is_fresh = e->verified[kind] != 0 && now - e->verified[kind] < m->cadence[kind] &&
                   (e->until[kind] == 0 || now < e->until[kind]) &&
                   strcmp(e->digest[kind], digest) == 0;
    }
    pthread_mutex_unlock(&m->lock);
    return is_fresh;
}

void tenant_memo_verified(tenant_memo *m, const char *tenant, const char *host,
                          tenant_memo_kind kind, const char *digest, int64_t now)
{
    memo_entry *e;

    if (!m || !digest || kind < 0 || kind >= TENANT_MEMO_KINDS)
        return;
    pthread_mutex_lock(&m->lock);
    sweep(m, now);
    e = find(m, tenant, host, 1);
    e->used = now;
    e->verified[kind] = now ? now : 1;
    e->until[kind] = 0;
    strncpy(e->digest[kind], digest, CJSON_HASH_HEX_LEN);
    e->digest[kind][CJSON_HASH_HEX_LEN] = '\0';
    pthread_mutex_unlock(&m->lock);
}

void tenant_memo_invalidate(tenant_memo *m, const char *tenant, const char *host,
                            tenant_memo_kind kind)
{
    memo_entry *e;

    if (!m || kind < 0 || kind >= TENANT_MEMO_KINDS)
        return;
    pthread_mutex_lock(&m->lock);
    e = find(m, tenant, host, 0);
    if (e)
        e->verified[kind] = 0;
    /* a check found drift (or is due): no round of the tenant may be skipped until a full one
     * records again */
    if ((e = find(m, tenant, "", 0)) != NULL)
        e->verified[TENANT_MEMO_ROUND] = 0;
    pthread_mutex_unlock(&m->lock);
}

void tenant_memo_round_done(tenant_memo *m, const char *tenant, const char *signature, int64_t now,
                            int64_t until_ms)
{
    memo_entry *e;

    tenant_memo_verified(m, tenant, "", TENANT_MEMO_ROUND, signature, now);
    if (!m || !signature || until_ms <= 0)
        return;
    pthread_mutex_lock(&m->lock);
    if ((e = find(m, tenant, "", 0)) != NULL)
        e->until[TENANT_MEMO_ROUND] = until_ms;
    pthread_mutex_unlock(&m->lock);
}

void tenant_memo_round_facts_keep(tenant_memo *m, const char *tenant, int64_t revision,
                                  const char *facts)
{
    memo_entry *e;

    if (!m || !facts)
        return;
    pthread_mutex_lock(&m->lock);
    if ((e = find(m, tenant, "", 1)) != NULL) {
        free(e->facts);
        e->facts = xstrdup(facts);
        e->facts_revision = revision;
    }
    pthread_mutex_unlock(&m->lock);
}

int tenant_memo_round_facts(tenant_memo *m, const char *tenant, int64_t revision, strbuf *out)
{
    memo_entry *e;
    int is_kept = 0;

    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    e = find(m, tenant, "", 0);
    if (e && e->facts && e->facts_revision == revision) {
        strbuf_adds(out, e->facts);
        is_kept = 1;
    }
    pthread_mutex_unlock(&m->lock);
    return is_kept;
}

/* Whether a check of an earlier round on the tenant's host comes due. Under m->lock. */
static int is_check_due(tenant_memo *m, const char *tenant, const char *host, int64_t now)
{
    memo_entry *e = find(m, tenant, host, 0);

    for (int k = 0; e && k < TENANT_MEMO_ROUND; k++)
        if (e->verified[k] != 0 && now - e->verified[k] >= m->cadence[k])
            return 1;
    return 0;
}

int tenant_memo_round_fresh(tenant_memo *m, const char *tenant, const char *const *hosts,
                            size_t n_hosts, const char *signature, int64_t now, int64_t *left_ms)
{
    memo_entry *e;
    int is_fresh;

    *left_ms = 0;
    if (!tenant_memo_is_fresh(m, tenant, "", TENANT_MEMO_ROUND, signature, now))
        return 0;
    pthread_mutex_lock(&m->lock);
    e = find(m, tenant, "", 0);
    is_fresh = e != NULL;
    for (size_t i = 0; is_fresh && i < n_hosts; i++)
        is_fresh = !is_check_due(m, tenant, hosts[i], now);
    if (is_fresh && e->until[TENANT_MEMO_ROUND] > 0)
        *left_ms = e->until[TENANT_MEMO_ROUND] - now;
    pthread_mutex_unlock(&m->lock);
    return is_fresh;
}

void tenant_memo_forget(tenant_memo *m, const char *tenant)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    for (size_t b = 0; b < m->n_buckets; b++)
        for (memo_entry **pe = &m->buckets[b]; *pe;) {
            memo_entry *e = *pe;

            if (strcmp(e->tenant, tenant) == 0) {
                *pe = e->next;
                entry_free(e);
                m->n--;
            } else {
                pe = &e->next;
            }
        }
    pthread_mutex_unlock(&m->lock);
}

size_t tenant_memo_count(tenant_memo *m)
{
    size_t n;

    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    n = m->n;
    pthread_mutex_unlock(&m->lock);
    return n;
}
