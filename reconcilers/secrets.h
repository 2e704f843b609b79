/*
 * secrets: Secret values for one tenant's reconcile, read from the store.
 *
 * A Secret lives at /omlop/secrets/<name> as the API stores it: values in
 * data (base64) or stringData (text, when written straight to the store).
 * The Secrets omlop generates when a Tenant's spec names none
 * ("<tenant>-postgres": password; "-objectstorage": accessKey, secretKey;
 * "-minio-admin": user, password; "-ami": password, see desired.h) are
 * created on first use with random hex values and the labels
 * omlop.io/tenant and omlop.io/managed-by=omlop (the mark that lets the
 * tenant's deletion remove them, and nothing else). The certificate
 * reconciler's "<tenant>-tls" (its self-signed pair, reconcilers/tls.h) and
 * "<tenant>-acme-account" carry the same labels: they are not generated here,
 * but they are woken on and deleted with the tenant the same way. Values never
 * appear in error messages or logs.
 */
#ifndef OMLOP_SECRETS_H
#define OMLOP_SECRETS_H

#include <json-c/json.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "store/store.h"

#define SECRETS_KEY_PREFIX "/omlop/secrets/"

/* Condition and event reasons of a Secret a tenant cannot use (status, events). */
#define SECRETS_REASON_NOT_FOUND "SecretNotFound"
#define SECRETS_REASON_INVALID   "InvalidSecret"

/* Whose Secrets, from where (borrowed). */
/* One Secret read this round: its stored text parsed once (a round renders many values). */
typedef struct secrets_cached {
    char *name;
    json_object *obj;
} secrets_cached;

typedef struct secrets_ctx {
    store *st;
    const char *tenant;
    /* Secrets already read by this ctx (secrets_ctx_release frees them); a round re-reads
     * nothing, a new round starts empty, so a changed Secret is seen by the next round */
    secrets_cached *cache;
    size_t n_cache;
} secrets_ctx;

/* Free what ctx cached (values wiped first). ctx can be used again: it reads afresh. */
void secrets_ctx_release(secrets_ctx *ctx);

/*
 * desired_secret_fn over the store (ctx is a secrets_ctx): append the value of
 * key in Secret name to out. OMLOP_ENOTFOUND names the Secret and key.
 */
int secrets_lookup(void *ctx, const char *name, const char *key, strbuf *out, omlop_err *err);

/*
 * secrets_lookup for an SSH private key: the value must also parse as one
 * (OMLOP_EINVAL otherwise). Every error names the Secret and the key and
 * never quotes the value.
 */
int secrets_ssh_identity(void *ctx, const char *name, const char *key, strbuf *out, omlop_err *err);

/*
 * The condition reason for a failed secrets_lookup / secrets_ssh_identity:
 * SECRETS_REASON_NOT_FOUND (Secret or key missing), SECRETS_REASON_INVALID
 * (present but unusable), or NULL when the Secret itself is not at fault (the
 * store failed).
 */
const char *secrets_reason(int code);

/*
 * Every Secret name the Tenant tenant (an API object) may read: the name of
 * each secretRef / ...SecretRef in its spec (SSH identity, database, object
 * storage, TLS, AMI, dialer, SMTP, ...) and the names omlop generates for it.
 * Sorted, without duplicates, NULL-ended; free with secrets_names_free.
 */
char **secrets_referenced(const json_object *tenant);

/* Free a list from secrets_referenced; NULL is fine. */
void secrets_names_free(char **names);

/*
 * The tenant is being deleted: delete the Secrets omlop generated for it -
 * only those of the generated names that carry both labels omlop.io/tenant=
 * tenant and omlop.io/managed-by=omlop (a Secret the user made under such a
 * name is left alone). *n_deleted (may be NULL) counts them.
 */
int secrets_delete_generated(store *st, const char *tenant, size_t *n_deleted, omlop_err *err);

#endif
