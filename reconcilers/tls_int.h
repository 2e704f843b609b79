/*
 * tls_int: what the certificate reconciler's files (tls.c: selfsigned and custom, tls_acme.c:
 * acme) share and nothing else may use.
 */
#ifndef OMLOP_TLS_INT_H
#define OMLOP_TLS_INT_H

#include <json-c/json.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "reconcilers/tls.h"
#include "store/store.h"

/* Where the pair in "<tenant>-tls" came from: "acme <directory URL>" for an ACME pair (a pair of
 * another server, or a self-signed one, is issued again); absent on a self-signed pair. */
#define TLS_ANNOTATION_SOURCE "omlop.io/tls-source"

/* A pair to store in a tenant's generated Secret (all borrowed). */
typedef struct pair_write {
    const char *tenant;
    const char *name;
    const char *cert, *key;
    const char *source; /* TLS_ANNOTATION_SOURCE's value, or NULL: none */
} pair_write;

/* The string member key of object o (keys with dots), or NULL. */
const char *tls_member_string(const json_object *o, const char *key);

/* Append Secret obj's value of key (stringData, else data in base64) to out; ENOTFOUND. */
int tls_secret_value(const json_object *obj, const char *name, const char *key, strbuf *out,
                     omlop_err *err);

/* A JSON string of s in base64 (a Secret's data value; the temporary copy wiped). */
json_object *tls_b64_json(const char *s);

/* Wipe and release sb. */
void tls_wipe(strbuf *sb);

/* Whether obj's label key is value. */
int tls_has_label(const json_object *obj, const char *key, const char *value);

/* Whether secret carries the labels of a Secret omlop generated for tenant. */
int tls_is_generated(const json_object *secret, const char *tenant);

/* Store the pair in the tenant's generated Secret: created, or updated when it exists. */
int tls_pair_store(store *st, const pair_write *pw, int exists, int64_t *revision, omlop_err *err);

/* Whether cert is what an earlier round accepted from Secret secret at revision (its key was
 * checked then). */
int tls_is_accepted(const json_object *tenant, const char *secret, int64_t revision,
                    const char *cert);

/* Take the pair (cert and key detached into r): digest, inspection (known: cert's, done
 * already, moved into r and zeroed; NULL: inspected here), when to look again. */
int tls_pair_take(tls_result *r, strbuf *cert, strbuf *key, int is_renewable, const tls_options *o,
                  tlspair_info *known, omlop_err *err);

/* f when it is a fraction in (0, 1), else TLSPAIR_RENEW_FRACTION. */
double tls_fraction_of(double f);

/* r->fail_reason = reason, r->fail_msg formatted. */
void tls_set_fail(tls_result *r, const char *reason, const char *fmt, ...) OMLOP_PRINTF(3, 4);

#endif
