/*
 * tenant_memo: what rounds remember between rounds about each (tenant, host), so that a round
 * that finds nothing new stays cheap (issue 11 item 5).
 *
 * A no-change round must still see drift, so it lists the host's containers every time (the
 * labels carry what the plan compares: spec hash, env-file digest, tenant). Three other
 * observations are expensive over SSH and change only when someone acts on the host behind
 * omlop's back; they are verified on a slower cadence instead of every round:
 *   - images: whether each image the tenant needs is on the host (one Podman request each);
 *   - files: the digests of the env and config files and the presence of the bind-mount
 *     directories (an SSH command each);
 *   - readiness: the TCP checks of running components (an SSH channel each).
 * For each, the memo keeps a digest of what was verified (the desired image list, the desired
 * file digests and directories, the container ids checked) and when. A round skips the
 * observation when the digest it would verify is the one verified last and that is fresher
 * than the cadence; anything that differs (a new spec, a recreated container, a new Secret
 * value) is verified at once. A round whose plan has actions re-observes images first, so
 * nothing is ever created from an unverified image list.
 *
 * Thread-safe: one lock, never held while calling out. Entries are dropped by
 * tenant_memo_forget (a deleted tenant) and by their age (never used for 4 cadences).
 */
#ifndef OMLOP_TENANT_MEMO_H
#define OMLOP_TENANT_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/cjson.h"
#include "lib/strbuf.h"

/* What is remembered. */
typedef enum tenant_memo_kind {
    TENANT_MEMO_IMAGES = 0,
    TENANT_MEMO_FILES,
    TENANT_MEMO_READY,
    TENANT_MEMO_ROUND, /* a whole no-change round (host ""): tenant_memo_round_* below */
    TENANT_MEMO_KINDS
} tenant_memo_kind;

/* Default cadences: how old a verification may be before a round repeats it. */
#define TENANT_MEMO_IMAGES_MS (10 * 60 * 1000)
#define TENANT_MEMO_FILES_MS  (5 * 60 * 1000)
#define TENANT_MEMO_READY_MS  (2 * 60 * 1000)

typedef struct tenant_memo tenant_memo;

/* A memo with the cadences in ms (each <= 0: its default; a cadence of 1 remembers nothing
 * useful: every round verifies). */
tenant_memo *tenant_memo_new(int64_t images_ms, int64_t files_ms, int64_t ready_ms);
void tenant_memo_free(tenant_memo *m);

/*
 * Whether the observation kind of tenant on host, which would verify digest now (ms, the
 * monotonic clock), may be skipped: the same digest was verified less than the cadence ago.
 * m may be NULL (nothing is remembered: 0).
 */
int tenant_memo_is_fresh(tenant_memo *m, const char *tenant, const char *host,
                         tenant_memo_kind kind, const char *digest, int64_t now);

/* Record that kind was verified at now and found as wanted (digest). m may be NULL. */
void tenant_memo_verified(tenant_memo *m, const char *tenant, const char *host,
                          tenant_memo_kind kind, const char *digest, int64_t now);

/* Forget kind (the observation found drift, or an action changed the host). m may be NULL. */
void tenant_memo_invalidate(tenant_memo *m, const char *tenant, const char *host,
                            tenant_memo_kind kind);

/*
 * A whole round (issue 11 item 5): a round that found the tenant converged with nothing to do
 * records the signature of everything it started from (the Tenant's and its Secrets'
 * revisions, each host's containers as listed); a later round whose signature is the same
 * may stop after listing. The record lasts the shortest cadence, or until until_ms when that
 * is sooner (the certificate's next moment), and never past the moment a check above comes
 * due on one of the tenant's hosts; any invalidation of the tenant ends it.
 * tenant_memo_round_fresh answers 1 and the ms left until until_ms (0: none) when it may stop.
 */
void tenant_memo_round_done(tenant_memo *m, const char *tenant, const char *signature, int64_t now,
                            int64_t until_ms);
int tenant_memo_round_fresh(tenant_memo *m, const char *tenant, const char *const *hosts,
                            size_t n_hosts, const char *signature, int64_t now, int64_t *left_ms);

/*
 * What a round needs from the Tenant to stop after the listing, kept by a round that recorded
 * tenant_memo_round_done, as text the caller makes (tenant.c: the hosts' access and the Secrets
 * the Tenant names) for the Tenant's revision. tenant_memo_round_facts appends it to out and
 * answers 1 when it was kept for revision (else 0): a later round of the same revision then
 * does not parse the Tenant (a third of a stopped round's cost). A Tenant that changes gets a
 * new revision, so nothing kept for an older one is used.
 */
void tenant_memo_round_facts_keep(tenant_memo *m, const char *tenant, int64_t revision,
                                  const char *facts);
int tenant_memo_round_facts(tenant_memo *m, const char *tenant, int64_t revision, strbuf *out);

/* Forget everything about tenant (deleted). m may be NULL. */
void tenant_memo_forget(tenant_memo *m, const char *tenant);

/* Entries held (for tests and the RSS benchmark). */
size_t tenant_memo_count(tenant_memo *m);

#endif
