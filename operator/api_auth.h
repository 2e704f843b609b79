/*
 * api_auth: who is calling. Bearer tokens from a CSV file, one per line:
 *
 *     # token,name,role
 *     4f1c...e2,ci-bot,admin
 *     9a77...01,dashboard,view
 *
 * role is admin (read and write) or view (read only). Tokens are kept only as
 * SHA-256 digests and compared in constant time (CRYPTO_memcmp over every entry,
 * no early exit), so neither the token nor its length leaks through timing.
 *
 * Without a tokens file the API is open and every request is the admin "local";
 * omlopd then only listens on loopback and the unix socket (see config.h).
 */
#ifndef OMLOP_API_AUTH_H
#define OMLOP_API_AUTH_H

#include <stddef.h>

#include "lib/err.h"
#include "operator/api_request.h"

typedef struct api_auth api_auth;

/* Load a tokens file; errors name file:line and what is wrong. */
int api_auth_load(const char *path, api_auth **out, omlop_err *err);

/* Parse tokens file text (name is used in messages). */
int api_auth_parse(const char *name, const char *text, size_t len, api_auth **out, omlop_err *err);

/* An authenticator without tokens: everyone is the admin "local". Never NULL. */
api_auth *api_auth_new_open(void);

/* Free; NULL is fine. */
void api_auth_free(api_auth *a);

/* Whether tokens are required (a tokens file was loaded). */
int api_auth_enabled(const api_auth *a);

/* Number of tokens loaded. */
size_t api_auth_count(const api_auth *a);

/*
 * Authenticate an Authorization header value ("Bearer <token>", may be NULL).
 * Fills who; OMLOP_EAUTH with a message (that never contains the token) when
 * the header is missing, malformed or the token unknown.
 */
int api_auth_check(const api_auth *a, const char *authorization, api_principal *who,
                   omlop_err *err);

/* Same for a bare token of len bytes (the websocket bearer subprotocol). */
int api_auth_check_token(const api_auth *a, const char *token, size_t len, api_principal *who,
                         omlop_err *err);

/* "admin", "view" or "none". */
const char *api_role_name(api_role role);

#endif
