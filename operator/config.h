/*
 * config: omlopd's settings, from a YAML file (--config) and flags, flags
 * winning. Every flag has a config key of the same meaning:
 *
 *   --data-dir DIR          dataDir          /var/lib/omlop (root) or $XDG_DATA_HOME/omlop
 *   --store URL             store            sqlite | sqlite:///DIR | etcd://H:P[,H:P][/prefix]
 *   --store-ca/-cert/-key   storeCA/storeCert/storeKey   etcd client TLS files
 *   --listen HOST:PORT      listen           127.0.0.1:8787; "none" for no TCP listener
 *   --socket PATH           socket           also a unix socket, mode 0600
 *   --tls-cert / --tls-key  tlsCert / tlsKey HTTPS on the TCP listener
 *   --tokens FILE           tokens           CSV token,name,role (api_auth.h)
 *   --accept-hosts REGEX    acceptHosts      more Host/Origin names to answer (api_guard.h)
 *   --log-level LEVEL       logLevel         debug | info | warn | error
 *   --log-format FORMAT     logFormat        text | json
 *   --max-body-bytes N      maxBodyBytes     1048576
 *   --max-header-bytes N    maxHeaderBytes   16384
 *   --request-timeout S     requestTimeout   30
 *   --max-watches N         maxWatches       256
 *   --api-workers N         apiWorkers       4 (threads serving store requests, 1..64)
 *   --bookmark-interval S   bookmarkInterval 60
 *   --shutdown-grace S      shutdownGrace    10
 *   --reconcile / --no-reconcile  reconcile  true (false: serve the API only)
 *   --workers N             workers          2 (tenants reconciled in parallel, 1..64)
 *   --resync S              resync           60 (every tenant looked at again this often)
 *   --ready-timeout D       readyTimeout     30s (a started component must get ready within)
 *   --connect-timeout D     connectTimeout   10s (a host's SSH connection, per round)
 *   --known-hosts FILE      knownHostsFile   (none) verifies hosts without knownHostKey
 *   --public-ip-url URL     publicIPURL      https://ipinfo.io/ip (hosts ask it their public IP)
 *   --ssh-keepalive D       sshKeepalive     10s (a keepalive to a host silent this long)
 *   --ssh-keepalive-count N sshKeepaliveCount 3 (silent intervals before a host is lost)
 *   --ha-ssh-keepalive D    haSSHKeepalive   2s (the interval for layout ha tenants' hosts)
 *
 * The security rule (config_check): listening anywhere but loopback needs TLS
 * (--tls-cert and --tls-key) and --tokens; without --tokens only loopback and
 * the unix socket are served, and every caller is the admin "local".
 */
#ifndef OMLOP_CONFIG_H
#define OMLOP_CONFIG_H

#include <stdio.h>

#include "lib/err.h"
#include "lib/log.h"
#include "operator/api.h"
#include "operator/manager.h"

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8787"

typedef struct omlopd_config {
    char *config_file;
    char *data_dir;
    char *store;
    char *store_ca;
    char *store_cert;
    char *store_key;
    int compact_keep;       /* revisions of history periodic compaction keeps */
    int compact_interval_s; /* seconds between periodic compactions; 0 = never */
    int watch_buffer;       /* events buffered per watch subscriber */
    char *listen;           /* NULL: no TCP listener */
    char *socket_path;
    char *tls_cert;
    char *tls_key;
    char *tokens;
    char *accept_hosts; /* extended regex of extra Host/Origin names (api_guard.h) */
    log_level log_level;
    log_format log_format;
    api_options api;
    manager_options reconcile; /* the reconcile loop (operator/manager.h) */
    int want_help;
    int want_version;
} omlopd_config;

/* Defaults (the data directory depends on the user). */
void config_init(omlopd_config *c);

/* Free the strings and reset. */
void config_release(omlopd_config *c);

/* Read a YAML config file over c; errors name file:line and the key. */
int config_load_file(omlopd_config *c, const char *path, omlop_err *err);

/* Parse YAML config text named name (for tests). */
int config_load_text(omlopd_config *c, const char *name, const char *text, size_t len,
                     omlop_err *err);

/*
 * Apply argv: --config FILE is read first, then every other flag overrides it.
 * OMLOP_EINVAL naming the flag for unknown flags and bad values.
 */
int config_parse_args(omlopd_config *c, int argc, char **argv, omlop_err *err);

/* The security and consistency rules; the message says how to fix it. */
int config_check(const omlopd_config *c, omlop_err *err);

/* The files the flags name (TLS, tokens, known hosts) are readable: OMLOP_EINVAL naming the flag.
 */
int config_check_files(const omlopd_config *c, omlop_err *err);

/* The --help text. */
void config_usage(FILE *out);

#endif
