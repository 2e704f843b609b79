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
 * tenant's deletion remove them, and nothing else). Values never appear in
 * error messages or logs.
 */
#ifndef OMLOP_SECRETS_H
#define OMLOP_SECRETS_H

#include "lib/err.h"
#include "lib/strbuf.h"
#include "operator/store.h"

#define SECRETS_KEY_PREFIX "/omlop/secrets/"

/* Whose Secrets, from where (borrowed). */
typedef struct secrets_ctx {
    store *st;
    const char *tenant;
} secrets_ctx;

/*
 * desired_secret_fn over the store (ctx is a secrets_ctx): append the value of
 * key in Secret name to out. OMLOP_ENOTFOUND names the Secret and key.
 */
int secrets_lookup(void *ctx, const char *name, const char *key, strbuf *out, omlop_err *err);

/*
 * The tenant is being deleted: delete the Secrets omlop generated for it -
 * only those of the generated names that carry both labels omlop.io/tenant=
 * tenant and omlop.io/managed-by=omlop (a Secret the user made under such a
 * name is left alone). *n_deleted (may be NULL) counts them.
 */
int secrets_delete_generated(store *st, const char *tenant, size_t *n_deleted, omlop_err *err);

#endif
