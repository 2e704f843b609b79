/*
 * config: where omlctl finds omlopd and how it proves who it is.
 *
 * Four layers, the first that sets a value wins:
 *   1. flags:       --server, --token, --ca-file, --insecure-skip-tls-verify
 *   2. environment: OMLOP_SERVER, OMLOP_TOKEN, OMLOP_CA_FILE
 *   3. the file:    $XDG_CONFIG_HOME/omlop/config (else ~/.config/omlop/config),
 *                   YAML with the keys server, token, caFile, insecureSkipTLSVerify;
 *                   OMLOP_CONFIG names another file
 *   4. default:     server http://127.0.0.1:8787, no token
 * The file holds a token, so `omlctl config set` writes it with mode 0600.
 */
#ifndef OMLOP_OMLCTL_CONFIG_H
#define OMLOP_OMLCTL_CONFIG_H

#include "lib/err.h"
#include "lib/strbuf.h"

#define OMLCTL_DEFAULT_SERVER "http://127.0.0.1:8787"

/* One layer's values; NULL / -1 = not set by this layer. Strings borrowed. */
typedef struct omlctl_config_layer {
    const char *server;
    const char *token;
    const char *ca_file;
    int insecure; /* -1 unset, 0, 1 */
} omlctl_config_layer;

#define OMLCTL_CONFIG_LAYER_INIT                                                                   \
    {                                                                                              \
        NULL, NULL, NULL, -1                                                                       \
    }

/* The resolved configuration; every string owned. */
typedef struct omlctl_config {
    char *server;
    char *token; /* NULL = none */
    char *ca_file;
    int insecure;
    const char *server_from; /* "flag --server", "env OMLOP_SERVER", "file", "default" */
    const char *token_from;
    const char *ca_file_from;
    const char *insecure_from;
    char *file;     /* the config file consulted */
    int file_found; /* it existed */
} omlctl_config;

/* Free what cfg owns and zero it. */
void omlctl_config_release(omlctl_config *cfg);

/* The config file path: OMLOP_CONFIG, $XDG_CONFIG_HOME/omlop/config or ~/.config/omlop/config. */
int omlctl_config_path(strbuf *out, omlop_err *err);

/*
 * Parse a config file's text (YAML) into values owned by *vals (release with
 * omlctl_config_file_release). Unknown keys and wrong types are errors naming
 * the file, line and key.
 */
typedef struct omlctl_config_file {
    char *server;
    char *token;
    char *ca_file;
    int insecure; /* -1 unset */
} omlctl_config_file;

int omlctl_config_parse(const char *file, const char *text, size_t len, omlctl_config_file *vals,
                        omlop_err *err);

/* Free what vals owns. */
void omlctl_config_file_release(omlctl_config_file *vals);

/*
 * Write vals to file atomically (temp file in the same directory, mode 0600,
 * rename), creating missing parent directories.
 */
int omlctl_config_write(const char *file, const omlctl_config_file *vals, omlop_err *err);

/*
 * Resolve the layers into out (pure: no environment or file access), recording
 * where each value came from.
 */
void omlctl_config_resolve(const omlctl_config_layer *flags, const omlctl_config_layer *env,
                           const omlctl_config_layer *file, omlctl_config *out);

/*
 * Load: read the file (missing is fine), the environment, then resolve with
 * the flag layer.
 */
int omlctl_config_load(const omlctl_config_layer *flags, omlctl_config *out, omlop_err *err);

#endif
