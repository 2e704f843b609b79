/* config: omlopd's flags and YAML config file, and the rules that keep it safe. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crds/yamlio.h"
#include "lib/strbuf.h"
#include "lib/version.h"
#include "lib/xalloc.h"
#include "operator/api_guard.h"
#include "operator/api_pool.h"
#include "operator/api_server.h"
#include "store/store.h"

#define CONFIG_FILE_MAX (256 * 1024)

typedef enum opt_kind {
    OPT_STR,     /* char * */
    OPT_LISTEN,  /* char *, "none" clears */
    OPT_SIZE,    /* size_t, bytes */
    OPT_SECONDS, /* int, seconds */
    OPT_MILLIS,  /* int, milliseconds; given as "30s", "500ms" or a number of seconds */
    OPT_COUNT,   /* int, a count */
    OPT_LEVEL,
    OPT_FORMAT,
    OPT_BOOL,    /* int; as a flag --x (true), --no-x (false) or --x=true|false */
    OPT_FRACTION /* double in (0, 1): a decimal ("0.5") or a ratio ("1/3") */
} opt_kind;

typedef struct opt {
    const char *flag; /* without the leading "--" */
    const char *key;  /* in the YAML file */
    opt_kind kind;
    size_t offset;
    long long min, max; /* for numbers */
} opt;

#define OFF(f) offsetof(omlopd_config, f)

static const opt options[] = {
    {"data-dir", "dataDir", OPT_STR, OFF(data_dir), 0, 0},
    {"store", "store", OPT_STR, OFF(store), 0, 0},
    {"store-ca", "storeCA", OPT_STR, OFF(store_ca), 0, 0},
    {"store-cert", "storeCert", OPT_STR, OFF(store_cert), 0, 0},
    {"store-key", "storeKey", OPT_STR, OFF(store_key), 0, 0},
    {"compact-keep", "compactKeep", OPT_COUNT, OFF(compact_keep), 1, 1000000000},
    {"compact-interval", "compactInterval", OPT_SECONDS, OFF(compact_interval_s), 0, 86400},
    {"watch-buffer", "watchBuffer", OPT_COUNT, OFF(watch_buffer), 16, 1 << 20},
    {"listen", "listen", OPT_LISTEN, OFF(listen), 0, 0},
    {"socket", "socket", OPT_STR, OFF(socket_path), 0, 0},
    {"tls-cert", "tlsCert", OPT_STR, OFF(tls_cert), 0, 0},
    {"tls-key", "tlsKey", OPT_STR, OFF(tls_key), 0, 0},
    {"tokens", "tokens", OPT_STR, OFF(tokens), 0, 0},
    {"accept-hosts", "acceptHosts", OPT_STR, OFF(accept_hosts), 0, 0},
    {"log-level", "logLevel", OPT_LEVEL, OFF(log_level), 0, 0},
    {"log-format", "logFormat", OPT_FORMAT, OFF(log_format), 0, 0},
    {"max-body-bytes", "maxBodyBytes", OPT_SIZE, OFF(api.max_body_bytes), 1024, 64LL << 20},
    {"max-header-bytes", "maxHeaderBytes", OPT_SIZE, OFF(api.max_header_bytes), 1024, 32768},
    {"request-timeout", "requestTimeout", OPT_SECONDS, OFF(api.request_timeout_s), 1, 3600},
    {"max-watches", "maxWatches", OPT_COUNT, OFF(api.max_watches), 1, 100000},
    {"api-workers", "apiWorkers", OPT_COUNT, OFF(api.workers), API_POOL_MIN_WORKERS,
     API_POOL_MAX_WORKERS},
    {"bookmark-interval", "bookmarkInterval", OPT_SECONDS, OFF(api.bookmark_interval_s), 1, 86400},
    {"shutdown-grace", "shutdownGrace", OPT_SECONDS, OFF(api.shutdown_grace_s), 0, 3600},
    {"reconcile", "reconcile", OPT_BOOL, OFF(reconcile.is_enabled), 0, 1},
    {"workers", "workers", OPT_COUNT, OFF(reconcile.workers), 1, MANAGER_MAX_WORKERS},
    {"resync", "resync", OPT_SECONDS, OFF(reconcile.resync_s), 1, 24 * 3600},
    {"ready-timeout", "readyTimeout", OPT_MILLIS, OFF(reconcile.ready_timeout_ms), 100,
     3600 * 1000},
    {"connect-timeout", "connectTimeout", OPT_MILLIS, OFF(reconcile.connect_timeout_ms), 100,
     600 * 1000},
    {"public-ip-url", "publicIPURL", OPT_STR, OFF(reconcile.public_ip_url), 0, 0},
    {"known-hosts", "knownHostsFile", OPT_STR, OFF(reconcile.known_hosts_file), 0, 0},
    {"event-ttl", "eventTTL", OPT_SECONDS, OFF(reconcile.event_ttl_s), 60, 30 * 24 * 3600},
    {"ssh-threads", "sshThreads", OPT_COUNT, OFF(reconcile.ssh_threads), 1, 256},
    {"ssh-keepalive", "sshKeepalive", OPT_MILLIS, OFF(reconcile.ssh_keepalive_ms), 500, 600 * 1000},
    {"ssh-keepalive-count", "sshKeepaliveCount", OPT_COUNT, OFF(reconcile.ssh_keepalive_count), 1,
     100},
    {"ha-ssh-keepalive", "haSSHKeepalive", OPT_MILLIS, OFF(reconcile.ha_ssh_keepalive_ms), 500,
     600 * 1000},
    {"verify-images", "verifyImages", OPT_SECONDS, OFF(reconcile.verify_images_s), 1, 24 * 3600},
    {"verify-files", "verifyFiles", OPT_SECONDS, OFF(reconcile.verify_files_s), 1, 24 * 3600},
    {"verify-ready", "verifyReady", OPT_SECONDS, OFF(reconcile.verify_ready_s), 1, 24 * 3600},
    {"tls-renew-before-fraction", "tlsRenewBeforeFraction", OPT_FRACTION,
     OFF(reconcile.tls_renew_fraction), 0, 0},
    {"acme-solver-image", "acmeSolverImage", OPT_STR, OFF(reconcile.acme_solver_image), 0, 0},
    {NULL, NULL, OPT_STR, 0, 0, 0}};

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? xstrdup(v) : NULL;
}

void config_init(omlopd_config *c)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    strbuf dir = STRBUF_INIT;
    store_options so;

    memset(c, 0, sizeof(*c));
    if (geteuid() == 0)
        strbuf_adds(&dir, "/var/lib/omlop");
    else if (xdg && *xdg)
        strbuf_addf(&dir, "%s/omlop", xdg);
    else
        strbuf_addf(&dir, "%s/.local/share/omlop", home && *home ? home : ".");
    c->data_dir = strbuf_detach(&dir, NULL);
    c->store = xstrdup("sqlite");
    c->listen = xstrdup(CONFIG_DEFAULT_LISTEN);
    store_options_default(&so); /* the store's own defaults, not a second copy */
    c->compact_keep = (int)so.compact_keep;
    c->compact_interval_s = so.compact_interval_s;
    c->watch_buffer = (int)so.watch_buffer;
    c->log_level = LOG_LEVEL_INFO;
    c->log_format = LOG_FORMAT_TEXT;
    api_options_default(&c->api);
    manager_options_default(&c->reconcile);
}

void config_release(omlopd_config *c)
{
    free(c->config_file);
    for (size_t i = 0; options[i].flag; i++)
        if (options[i].kind == OPT_STR || options[i].kind == OPT_LISTEN)
            free(*(char **)((char *)c + options[i].offset));
    memset(c, 0, sizeof(*c));
}

/* Set one option from text; where is "--flag" or "file:line: key" for messages. */
static int set_value(omlopd_config *c, const opt *o, const char *v, const char *where,
                     omlop_err *err)
{
    void *slot = (char *)c + o->offset;
    long long n;
    char *end;
    int rc;

    switch (o->kind) {
    case OPT_STR:
        if (!*v)
            return omlop_err_set(err, OMLOP_EINVAL, "%s: empty value", where);
        set_str(slot, v);
        return 0;
    case OPT_LISTEN:
        set_str(slot, strcmp(v, "none") == 0 || !*v ? NULL : v);
        return 0;
    case OPT_LEVEL:
        rc = log_level_parse(v, slot, err);
        return rc ? omlop_err_set(err, rc, "%s: '%s' is not one of debug, info, warn, error", where,
                                  v)
                  : 0;
    case OPT_FORMAT:
        rc = log_format_parse(v, slot, err);
        return rc ? omlop_err_set(err, rc, "%s: '%s' is not one of text, json", where, v) : 0;
    case OPT_BOOL:
        /* YAML 1.1's other spellings (yes/on) are refused rather than guessed at */
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
            *(int *)slot = v[0] == 't';
            return 0;
        }
        return omlop_err_set(err, OMLOP_EINVAL, "%s: '%s' is not true or false", where, v);
    case OPT_FRACTION: {
        double f = -1, d;

        /* strictly between 0 and 1: at 0 a certificate would be used until it expires, at 1
         * renewed in every round */
        errno = 0;
        f = strtod(v, &end);
        if (!errno && end != v && *end == '/') {
            const char *den = end + 1;

            d = strtod(den, &end);
            f = end != den && d > 0 ? f / d : -1;
        }
        if (errno || end == v || *end || !(f > 0 && f < 1))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s: '%s' is not a fraction of the certificate's lifetime "
                                 "strictly between 0 and 1 (\"0.5\", \"1/3\")",
                                 where, v);
        *(double *)slot = f;
        return 0;
    }
    case OPT_MILLIS:
        errno = 0;
        n = strtoll(v, &end, 10);
        if (!errno && end != v && (strcmp(end, "s") == 0 || !*end) && n <= LLONG_MAX / 1000)
            n *= 1000;
        else if (errno || end == v || strcmp(end, "ms") != 0)
            n = -1;
        if (n < o->min || n > o->max)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "%s: '%s' is not a duration between %lldms and %llds "
                                 "(\"30s\", \"500ms\")",
                                 where, v, o->min, o->max / 1000);
        *(int *)slot = (int)n;
        return 0;
    default:
        break;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < o->min || n > o->max)
        return omlop_err_set(err, OMLOP_EINVAL, "%s: '%s' is not a%s between %lld and %lld", where,
                             v,
                             o->kind == OPT_SIZE      ? " byte count"
                             : o->kind == OPT_SECONDS ? " number of seconds"
                                                      : " number",
                             o->min, o->max);
    if (o->kind == OPT_SIZE)
        *(size_t *)slot = (size_t)n;
    else
        *(int *)slot = (int)n;
    return 0;
}

int config_load_text(omlopd_config *c, const char *name, const char *text, size_t len,
                     omlop_err *err)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    const ynode *root;
    int rc = 0;

    if (yaml_load_buffer(name, text, len, NULL, &docs, diags) != 0) {
        strbuf msg = STRBUF_INIT;

        diag_list_format(diags, &msg);
        rc = omlop_err_set(err, OMLOP_EINVAL, "%s", strbuf_str(&msg));
        strbuf_release(&msg);
        goto out;
    }
    if (docs.n == 0)
        goto out; /* an empty file changes nothing */
    if (docs.n > 1) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "%s: expected one YAML document, found %zu", name,
                           docs.n);
        goto out;
    }
    root = docs.docs[0].root;
    if (root->kind != YNODE_MAP) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "%s:%d:%d: expected a map of settings", name,
                           root->line, root->col);
        goto out;
    }
    for (size_t i = 0; i < root->n; i++) {
        const ynode_pair *p = &root->pairs[i];
        const opt *o = NULL;
        char where[512];

        for (size_t j = 0; options[j].flag; j++)
            if (strcmp(options[j].key, p->key) == 0)
                o = &options[j];
        if (!o) {
            strbuf known = STRBUF_INIT;

            for (size_t j = 0; options[j].flag; j++)
                strbuf_addf(&known, "%s%s", j ? ", " : "", options[j].key);
            rc = omlop_err_set(err, OMLOP_EINVAL, "%s:%d:%d: unknown setting '%s' (known: %s)",
                               name, p->line, p->col, p->key, known.buf);
            strbuf_release(&known);
            goto out;
        }
        snprintf(where, sizeof(where), "%s:%d:%d: %s", name, p->value->line, p->value->col, p->key);
        if (p->value->kind != YNODE_SCALAR) {
            rc = omlop_err_set(err, OMLOP_EINVAL, "%s: expected a single value", where);
            goto out;
        }
        rc = set_value(c, o, p->value->value, where, err);
        if (rc)
            goto out;
    }
out:
    ydoc_list_release(&docs);
    diag_list_free(diags);
    return rc;
}

int config_load_file(omlopd_config *c, const char *path, omlop_err *err)
{
    strbuf sb = STRBUF_INIT;
    int rc = strbuf_read_file(&sb, path, CONFIG_FILE_MAX, err);

    if (rc) {
        omlop_err_prefix(err, "--config: ");
        goto out;
    }
    rc = config_load_text(c, path, strbuf_str(&sb), sb.len, err);
out:
    strbuf_release(&sb);
    return rc;
}

static const opt *find_flag(const char *name, size_t n)
{
    for (size_t i = 0; options[i].flag; i++)
        if (strlen(options[i].flag) == n && strncmp(options[i].flag, name, n) == 0)
            return &options[i];
    return NULL;
}

int config_parse_args(omlopd_config *c, int argc, char **argv, omlop_err *err)
{
    int rc;

    /* the file first, so that flags win whatever their order */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return omlop_err_set(err, OMLOP_EINVAL, "--config needs a file");
            set_str(&c->config_file, argv[++i]);
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            set_str(&c->config_file, argv[i] + 9);
        }
    }
    if (c->config_file) {
        rc = config_load_file(c, c->config_file, err);
        if (rc)
            return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *value;
        const opt *o;
        char where[96];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->want_help = 1;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            c->want_version = 1;
            continue;
        }
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0)
            return omlop_err_set(err, OMLOP_EINVAL, "unexpected argument '%s' (see --help)", a);
        eq = strchr(a, '=');
        if (!eq && strncmp(a, "--no-", 5) == 0 && (o = find_flag(a + 5, strlen(a + 5))) &&
            o->kind == OPT_BOOL) {
            *(int *)((char *)c + o->offset) = 0;
            continue;
        }
        o = find_flag(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
        if (!o)
            return omlop_err_set(err, OMLOP_EINVAL, "unknown flag '%.*s' (see --help)",
                                 (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
        if (eq) {
            value = eq + 1;
        } else if (o->kind == OPT_BOOL) {
            value = "true"; /* a bare --reconcile; a following word is not its value */
        } else {
            if (i + 1 >= argc)
                return omlop_err_set(err, OMLOP_EINVAL, "--%s needs a value", o->flag);
            value = argv[++i];
        }
        snprintf(where, sizeof(where), "--%s", o->flag);
        rc = set_value(c, o, value, where, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* The store URL forms docs/store.md lists; an empty directory is refused, never defaulted. */
static int check_store(const char *url, omlop_err *err)
{
    const char *dir = NULL;

    if (strcmp(url, "sqlite") == 0 || strncmp(url, "etcd://", 7) == 0)
        return 0;
    if (strncmp(url, "sqlite://", 9) == 0) {
        dir = url + 9;
        if (*dir && *dir != '/')
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "--store '%s': sqlite:// takes an absolute path "
                                 "(sqlite:///var/lib/omlop); use sqlite:DIR for a relative one",
                                 url);
    } else if (strncmp(url, "sqlite:", 7) == 0) {
        dir = url + 7;
    }
    if (dir && *dir)
        return 0;
    if (dir)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "--store '%s' names no directory: use sqlite (with --data-dir), "
                             "sqlite:DIR or sqlite:///ABSOLUTE/DIR",
                             url);
    return omlop_err_set(err, OMLOP_EINVAL,
                         "--store '%s': expected sqlite, sqlite:DIR, sqlite:///DIR or "
                         "etcd://HOST:PORT[,HOST:PORT...][/prefix]",
                         url);
}

/* A file a flag names must be readable now, not fail later. */
static int check_readable(const char *flag, const char *path, omlop_err *err)
{
    if (path && access(path, R_OK) != 0)
        return omlop_err_set(err, OMLOP_EINVAL, "%s %s: %s", flag, path, strerror(errno));
    return 0;
}

int config_check(const omlopd_config *c, omlop_err *err)
{
    char name[256], host[256];
    int port, rc;

    if (!c->listen && !c->socket_path)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "--listen none without --socket leaves nothing to serve");
    if ((c->tls_cert != NULL) != (c->tls_key != NULL))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "--tls-cert and --tls-key go together; give both or neither");
    if (c->listen) {
        rc = api_server_parse_listen(c->listen, name, sizeof(name), &port, err);
        if (rc)
            return rc;
        /* a name counts for what it resolves to, as the listener will */
        rc = api_server_resolve_host(name, host, sizeof(host), err);
        if (rc)
            return rc;
        if (!host[0] || !api_server_host_is_loopback(host)) {
            if (!c->tls_cert || !c->tokens)
                return omlop_err_set(
                    err, OMLOP_EINVAL,
                    "refusing to listen on %s: a non-loopback address needs TLS (--tls-cert "
                    "and --tls-key) and authentication (--tokens); missing %s%s%s. Use "
                    "127.0.0.1 or --socket for local access",
                    c->listen, c->tls_cert ? "" : "TLS", !c->tls_cert && !c->tokens ? " and " : "",
                    c->tokens ? "" : "--tokens");
        }
    }
    rc = check_readable("--known-hosts", c->reconcile.known_hosts_file, err);
    if (rc)
        return rc;
    if (c->accept_hosts) {
        api_guard *g = NULL;

        rc = api_guard_new(c->accept_hosts, NULL, 0, &g, err);
        api_guard_free(g);
        if (rc)
            return rc;
    }
    return check_store(c->store, err);
}

int config_check_files(const omlopd_config *c, omlop_err *err)
{
    int rc;

    if ((rc = check_readable("--tls-cert", c->tls_cert, err)) != 0 ||
        (rc = check_readable("--tls-key", c->tls_key, err)) != 0 ||
        (rc = check_readable("--tokens", c->tokens, err)) != 0)
        return rc;
    return 0;
}

void config_usage(FILE *out)
{
    fprintf(out,
            "omlopd %s: the OMniLeads operator daemon (API server, store, reconcilers).\n"
            "\n"
            "Usage:\n"
            "  omlopd [--config FILE] [flags]\n"
            "\n"
            "Flags (each also a key of the YAML config file; flags win):\n"
            "  --config FILE            YAML file with the settings below (camelCase keys)\n"
            "  --data-dir DIR           dataDir: where the embedded store lives\n"
            "                           (default /var/lib/omlop, or $XDG_DATA_HOME/omlop)\n"
            "  --store URL              store: sqlite (default), sqlite:DIR, sqlite:///DIR or\n"
            "                           etcd://HOST:PORT[,HOST:PORT...][/prefix]\n"
            "  --store-ca/--store-cert/--store-key FILE   etcd client TLS\n"
            "  --compact-keep N         compactKeep: store revisions kept for watches (10000)\n"
            "  --compact-interval S     compactInterval: seconds between compactions (300; 0 off)\n"
            "  --watch-buffer N         watchBuffer: events buffered per watcher (1024)\n"
            "  --listen HOST:PORT       listen: API address (default %s; none = off)\n"
            "  --socket PATH            socket: also serve on a unix socket (mode 0600)\n"
            "  --tls-cert FILE          tlsCert: serve HTTPS with this certificate\n"
            "  --tls-key FILE           tlsKey: and this private key\n"
            "  --tokens FILE            tokens: bearer tokens, CSV lines token,name,role\n"
            "                           (role admin or view); without it only loopback and\n"
            "                           the socket are served and callers are admin \"local\"\n"
            "  --accept-hosts REGEX     acceptHosts: more Host/Origin names to answer (an\n"
            "                           extended regex matched against the whole name)\n"
            "  --log-level LEVEL        logLevel: debug, info (default), warn, error\n"
            "  --log-format FORMAT      logFormat: text (default) or json\n"
            "  --max-body-bytes N       maxBodyBytes: request body limit (default 1048576)\n"
            "  --max-header-bytes N     maxHeaderBytes: request header limit (default 16384)\n"
            "  --request-timeout S      requestTimeout: seconds to receive and answer a\n"
            "                           request (30; 503/504 when the store is slower)\n"
            "  --max-watches N          maxWatches: open watch streams (default 256)\n"
            "  --api-workers N          apiWorkers: threads serving requests that touch the\n"
            "                           store (default 4, 1..64)\n"
            "  --bookmark-interval S    bookmarkInterval: BOOKMARK event period (60)\n"
            "  --shutdown-grace S       shutdownGrace: on SIGTERM, wait for requests (10)\n"
            "  (the reconcile flags, also config keys, are listed below)\n"
            "  --help                   this help\n"
            "  --version                print the version\n"
            "\n"
            "A non-loopback --listen needs --tls-cert, --tls-key and --tokens.\n"
            "Exit status: 0 after a clean stop, 1 when it cannot run (store, address in use),\n"
            "2 for a usage error (a bad flag, setting or combination, or a file they name\n"
            "that cannot be read or parsed).\n"
            "See docs/api.md for the API, authentication and limits.\n",
            OMLOP_RELEASE, CONFIG_DEFAULT_LISTEN);
}
