/* common: flags, the per-run context, kind resolution, durations and selectors. */
#include "clients/omlctl/common.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clients/omlctl/cmds.h"
#include "crds/mergepatch.h"
#include "crds/selector.h"
#include "crds/yamlio.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

void omlctl_strv_push(omlctl_strv *sv, const char *s)
{
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 8;
        const char **v = xrealloc(sv->v, cap * sizeof(*v));

        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = s;
}

void omlctl_strv_release(omlctl_strv *sv)
{
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

/* --- context ---------------------------------------------------------------------------- */

void omlctl_ctx_init(omlctl_ctx *ctx, const char *verb)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->verb = verb;
    ctx->request_timeout_ms = -1;
}

void omlctl_ctx_release(omlctl_ctx *ctx)
{
    apiclient_free(ctx->api);
    schema_set_free(ctx->schemas);
    omlctl_config_release(&ctx->cfg);
    ctx->api = NULL;
    ctx->schemas = NULL;
}

int omlctl_ctx_config(omlctl_ctx *ctx, const omlctl_config **out, omlop_err *err)
{
    omlctl_config_layer flags = OMLCTL_CONFIG_LAYER_INIT;
    int rc;

    if (!ctx->cfg_loaded) {
        flags.server = ctx->flag_server;
        flags.token = ctx->flag_token;
        flags.ca_file = ctx->flag_ca_file;
        flags.insecure = ctx->flag_insecure ? 1 : -1;
        rc = omlctl_config_load(&flags, &ctx->cfg, err);
        if (rc < 0)
            return rc;
        ctx->cfg_loaded = 1;
        log_debug("config server=%s from=%s file=%s", ctx->cfg.server, ctx->cfg.server_from,
                  ctx->cfg.file ? ctx->cfg.file : "-");
    }
    *out = &ctx->cfg;
    return 0;
}

int omlctl_ctx_client(omlctl_ctx *ctx, apiclient **out, omlop_err *err)
{
    const omlctl_config *cfg;
    apiclient_opts opts;
    int rc;

    if (!ctx->api) {
        rc = omlctl_ctx_config(ctx, &cfg, err);
        if (rc < 0)
            return rc;
        apiclient_opts_default(&opts);
        opts.server = cfg->server;
        opts.token = cfg->token;
        opts.ca_file = cfg->ca_file;
        opts.insecure_skip_verify = cfg->insecure;
        if (ctx->request_timeout_ms >= 0)
            opts.timeout_ms = ctx->request_timeout_ms;
        rc = apiclient_new(&opts, &ctx->api, err);
        if (rc < 0)
            return rc;
    }
    *out = ctx->api;
    return 0;
}

int omlctl_ctx_schemas(omlctl_ctx *ctx, schema_set **out, omlop_err *err)
{
    int rc;

    if (!ctx->schemas) {
        rc = schema_set_new_builtin(&ctx->schemas, err);
        if (rc < 0)
            return omlop_err_prefix(err, "loading the built-in resource model: ");
    }
    *out = ctx->schemas;
    return 0;
}

int omlctl_ctx_schemas_from(omlctl_ctx *ctx, const char *crds_dir, schema_set **out, omlop_err *err)
{
    if (!crds_dir)
        return omlctl_ctx_schemas(ctx, out, err);
    if (!ctx->schemas) {
        int rc = schema_set_new_from_dir(crds_dir, &ctx->schemas, err);

        if (rc < 0)
            return rc;
    }
    *out = ctx->schemas;
    return 0;
}

void omlctl_print_error(const omlctl_ctx *ctx, const omlop_err *err)
{
    (void)ctx;
    fprintf(stderr, "error: %s\n", err->msg[0] ? err->msg : omlop_code_name(err->code));
}

void omlctl_usage_error(const omlctl_ctx *ctx, const char *fmt, ...)
{
    const char *sep = ctx->verb ? " " : "", *verb = ctx->verb ? ctx->verb : "";
    va_list ap;

    fprintf(stderr, "omlctl%s%s: ", sep, verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nSee 'omlctl%s%s --help'.\n", sep, verb);
}

/* --- flags ------------------------------------------------------------------------------ */

void omlctl_print_global_flags(FILE *out)
{
    fprintf(out,
            "\nGlobal flags (every command):\n"
            "  -s, --server URL                  omlopd URL: http://HOST:PORT, https://HOST:PORT\n"
            "                                    or unix:///path/to.sock (env OMLOP_SERVER)\n"
            "      --token TOKEN                 bearer token (env OMLOP_TOKEN)\n"
            "      --ca-file FILE                CA bundle (PEM) for an https server (env "
            "OMLOP_CA_FILE;\n"
            "                                    alias --certificate-authority)\n"
            "      --insecure-skip-tls-verify    do not check the server certificate (tests only)\n"
            "      --request-timeout DURATION    limit for each request, e.g. 30s (0 = none;\n"
            "                                    default 60s); get -w: how long the watch\n"
            "                                    runs (default: until interrupted)\n"
            "  -v, --v[=LEVEL]                   debug log on stderr (requests, timings; never "
            "tokens)\n"
            "  -h, --help                        this help\n"
            "Global flags may come before or after the command.\n");
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static const omlctl_opt *find_opt(const omlctl_opt *opts, const char *name, size_t len,
                                  char short_name)
{
    if (!opts)
        return NULL;
    for (; opts->name; opts++) {
        if (short_name && opts->short_name == short_name)
            return opts;
        if (!short_name && strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
            return opts;
    }
    return NULL;
}

static int set_opt(omlctl_ctx *ctx, const omlctl_opt *o, const char *shown, const char *val)
{
    omlop_err err = OMLOP_ERR_INIT;
    char *end;
    long v;

    switch (o->type) {
    case OMLCTL_OPT_BOOL:
        if (parse_bool(val, (int *)o->dest) < 0) {
            omlctl_usage_error(ctx, "%s takes true or false, not '%s'", shown, val);
            return OMLCTL_PARSE_USAGE;
        }
        return 0;
    case OMLCTL_OPT_STRING:
        *(const char **)o->dest = val;
        return 0;
    case OMLCTL_OPT_LIST:
        omlctl_strv_push((omlctl_strv *)o->dest, val);
        return 0;
    case OMLCTL_OPT_DURATION:
        if (omlctl_duration_parse(val, (long *)o->dest, &err) < 0) {
            omlctl_usage_error(ctx, "%s: %s", shown, err.msg);
            return OMLCTL_PARSE_USAGE;
        }
        return 0;
    case OMLCTL_OPT_INT:
        errno = 0;
        v = strtol(val, &end, 10);
        if (errno || end == val || *end) {
            omlctl_usage_error(ctx, "%s takes an integer, not '%s'", shown, val);
            return OMLCTL_PARSE_USAGE;
        }
        *(long *)o->dest = v;
        return 0;
    }
    return OMLCTL_PARSE_USAGE;
}

/* -v, -v=N, -vN, --v, --v=N: kubectl's verbosity; any level > 0 turns on debug logging. */
static int parse_verbosity(omlctl_ctx *ctx, const char *arg)
{
    const char *v = NULL;
    char *end;
    long n;

    if (!strcmp(arg, "-v") || !strcmp(arg, "--v") || !strcmp(arg, "--verbose")) {
        ctx->verbose = 1;
        return 1;
    }
    if (!strncmp(arg, "--v=", 4))
        v = arg + 4;
    else if (!strncmp(arg, "-v=", 3))
        v = arg + 3;
    else if (!strncmp(arg, "-v", 2) && isdigit((unsigned char)arg[2]))
        v = arg + 2;
    if (!v)
        return 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 0)
        return -1;
    ctx->verbose = (int)n;
    return 1;
}

/*
 * The global flags bound to ctx: the one table that both positions parse with (after the verb
 * in omlctl_parse_args, before it in omlctl_args_hoist_globals), so they cannot disagree.
 */
enum { GLOBAL_OPTS_N = 7 };

static void global_opts_bind(omlctl_ctx *ctx, omlctl_opt out[GLOBAL_OPTS_N])
{
    const omlctl_opt table[GLOBAL_OPTS_N] = {
        {"server", 's', OMLCTL_OPT_STRING, &ctx->flag_server},
        {"token", 0, OMLCTL_OPT_STRING, &ctx->flag_token},
        {"ca-file", 0, OMLCTL_OPT_STRING, &ctx->flag_ca_file},
        {"certificate-authority", 0, OMLCTL_OPT_STRING, &ctx->flag_ca_file},
        {"insecure-skip-tls-verify", 0, OMLCTL_OPT_BOOL, &ctx->flag_insecure},
        {"request-timeout", 0, OMLCTL_OPT_DURATION, &ctx->request_timeout_ms},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };

    memcpy(out, table, sizeof(table));
}

/* A flag, not a positional argument ("-" is stdin), the end of flags ("--") or a help request. */
static int is_flag_arg(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && strcmp(a, "--") != 0 && strcmp(a, "--help") != 0 &&
           strcmp(a, "-h") != 0;
}

/*
 * Parse the flag argv[*i] (is_flag_arg) against the global flags, then opts (may be NULL),
 * moving *i past a separate value. The global flags are looked up first so that a flag
 * means the same on either side of the verb. Returns 0 or OMLCTL_PARSE_USAGE (printed).
 */
static int parse_flag(omlctl_ctx *ctx, const omlctl_opt *globals, const omlctl_opt *opts, int argc,
                      char **argv, int *i)
{
    const char *a = argv[*i];
    const omlctl_opt *o;
    const char *val = NULL;
    char shown[128];
    int vr = parse_verbosity(ctx, a);

    if (vr < 0) {
        omlctl_usage_error(ctx, "bad verbosity '%s' (use -v or --v=N)", a);
        return OMLCTL_PARSE_USAGE;
    }
    if (vr > 0)
        return 0;
    if (a[1] == '-') {
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);

        o = find_opt(globals, name, len, 0);
        if (!o)
            o = find_opt(opts, name, len, 0);
        snprintf(shown, sizeof(shown), "--%.*s", (int)len, name);
        if (eq)
            val = eq + 1;
    } else {
        o = find_opt(globals, NULL, 0, a[1]);
        if (!o)
            o = find_opt(opts, NULL, 0, a[1]);
        snprintf(shown, sizeof(shown), "-%c", a[1]);
        if (a[2] == '=')
            val = a + 3;
        else if (a[2])
            val = a + 2;
    }
    if (!o) {
        /* before the verb only the global flags are known: say so, kubectl users expect it */
        omlctl_usage_error(ctx, "unknown flag %s%s", shown,
                           ctx->verb ? "" : " (only global flags may come before the command)");
        return OMLCTL_PARSE_USAGE;
    }
    if (!val && o->type == OMLCTL_OPT_BOOL) {
        *(int *)o->dest = 1;
        return 0;
    }
    if (!val) {
        if (*i + 1 >= argc) {
            omlctl_usage_error(ctx, "flag %s needs a value", shown);
            return OMLCTL_PARSE_USAGE;
        }
        val = argv[++*i];
    }
    return set_opt(ctx, o, shown, val) ? OMLCTL_PARSE_USAGE : 0;
}

int omlctl_parse_args(omlctl_ctx *ctx, int argc, char **argv, const omlctl_opt *opts,
                      omlctl_strv *pos)
{
    omlctl_opt globals[GLOBAL_OPTS_N];
    int only_args = 0;

    global_opts_bind(ctx, globals);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (only_args || a[0] != '-' || a[1] == '\0') {
            omlctl_strv_push(pos, a);
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return OMLCTL_PARSE_HELP;
        if (parse_flag(ctx, globals, opts, argc, argv, &i))
            return OMLCTL_PARSE_USAGE;
    }
    if (ctx->verbose > 0)
        log_configure(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, stderr);
    return OMLCTL_PARSE_OK;
}

int omlctl_args_hoist_globals(int argc, char **argv)
{
    omlctl_opt globals[GLOBAL_OPTS_N];
    omlctl_ctx scratch;
    int i = 1, rc = OMLCTL_PARSE_OK;

    /* checked here only to stop at the first bad one; the verb parses them again */
    omlctl_ctx_init(&scratch, NULL);
    global_opts_bind(&scratch, globals);
    while (i < argc && is_flag_arg(argv[i])) {
        if (parse_flag(&scratch, globals, NULL, argc, argv, &i)) {
            rc = OMLCTL_PARSE_USAGE;
            goto out;
        }
        i++;
    }
    if (i == 1)
        goto out;
    if (i >= argc) {
        omlctl_usage_error(&scratch, "no command after the global flags");
        rc = OMLCTL_PARSE_USAGE;
        goto out;
    }
    {
        /* rotate: argv[1..i-1] go after the verb (or after --help, which ignores them) */
        char *verb = argv[i];

        memmove(&argv[2], &argv[1], (size_t)(i - 1) * sizeof(*argv));
        argv[1] = verb;
    }
out:
    omlctl_ctx_release(&scratch);
    return rc;
}

int omlctl_parse_verb_args(omlctl_ctx *ctx, int argc, char **argv, const omlctl_opt *opts,
                           omlctl_strv *pos, const char *help, int *exit_code)
{
    switch (omlctl_parse_args(ctx, argc, argv, opts, pos)) {
    case OMLCTL_PARSE_OK:
        return 1;
    case OMLCTL_PARSE_HELP:
        fputs(help, stdout);
        omlctl_print_global_flags(stdout);
        *exit_code = OMLCTL_EXIT_OK;
        return 0;
    default:
        *exit_code = OMLCTL_EXIT_USAGE;
        return 0;
    }
}

/* --- kinds ------------------------------------------------------------------------------ */

static void known_kinds(const schema_set *set, strbuf *out)
{
    size_t n = schema_set_kind_count(set);

    for (size_t i = 0; i < n; i++) {
        const kind_info *k = schema_set_kind_at(set, i);

        strbuf_addf(out, "%s%s (%s", i ? ", " : "", k->plural, k->singular);
        for (size_t j = 0; j < k->n_short_names; j++)
            strbuf_addf(out, ", %s", k->short_names[j]);
        strbuf_addch(out, ')');
    }
}

int omlctl_kind_resolve(const schema_set *set, const char *name, const kind_info **out,
                        omlop_err *err)
{
    static const char *const suffixes[] = {".v1alpha1.omlop.io", ".omlop.io"};
    char buf[128];
    size_t len = strlen(name);
    strbuf known = STRBUF_INIT;

    *out = NULL;
    if (len == 0 || len >= sizeof(buf))
        return omlop_err_set(err, OMLOP_EINVAL, "resource type '%s' is empty or too long", name);
    memcpy(buf, name, len + 1);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t sl = strlen(suffixes[i]);

        if (len > sl && strcasecmp(buf + len - sl, suffixes[i]) == 0) {
            buf[len - sl] = '\0';
            break;
        }
    }
    *out = schema_set_find_kind(set, buf);
    if (*out)
        return 0;
    known_kinds(set, &known);
    omlop_err_set(err, OMLOP_EINVAL, "unknown resource type \"%s\"; known: %s", name,
                  strbuf_str(&known));
    strbuf_release(&known);
    return OMLOP_EINVAL;
}

static void targets_push(omlctl_targets *t, const kind_info *kind, const char *name)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        omlctl_target *v = xrealloc(t->v, cap * sizeof(*v));

        t->v = v;
        t->cap = cap;
    }
    t->v[t->n].kind = kind;
    t->v[t->n].name = name;
    t->n++;
}

void omlctl_targets_release(omlctl_targets *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

static int check_name(const char *name, omlop_err *err)
{
    if (!*name)
        return omlop_err_set(err, OMLOP_EINVAL, "an object name is empty");
    if (strchr(name, '/'))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "object name '%s' contains '/'; use KIND/NAME or KIND NAME", name);
    return 0;
}

int omlctl_targets_parse(const schema_set *set, const omlctl_strv *args, int need_names,
                         omlctl_targets *out, omlop_err *err)
{
    const kind_info *kind;
    int rc;

    if (args->n == 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "name a resource type (e.g. tenants) or KIND/NAME arguments");
    if (strchr(args->v[0], '/')) {
        for (size_t i = 0; i < args->n; i++) {
            const char *slash = strchr(args->v[i], '/');
            char kbuf[128];

            if (!slash)
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "'%s': when one argument is KIND/NAME, all must be "
                                     "(got '%s' after '%s')",
                                     args->v[i], args->v[i], args->v[0]);
            snprintf(kbuf, sizeof(kbuf), "%.*s", (int)(slash - args->v[i]), args->v[i]);
            rc = omlctl_kind_resolve(set, kbuf, &kind, err);
            if (rc < 0)
                return rc;
            rc = check_name(slash + 1, err);
            if (rc < 0)
                return rc;
            targets_push(out, kind, slash + 1);
        }
        return 0;
    }
    if (strchr(args->v[0], ',')) {
        const char *p = args->v[0];

        if (args->n > 1)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "names cannot follow several resource types ('%s')", args->v[0]);
        if (need_names)
            return omlop_err_set(err, OMLOP_EINVAL, "name the objects: KIND NAME or KIND/NAME");
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char kbuf[128];

            snprintf(kbuf, sizeof(kbuf), "%.*s", (int)len, p);
            rc = omlctl_kind_resolve(set, kbuf, &kind, err);
            if (rc < 0)
                return rc;
            targets_push(out, kind, NULL);
            p += len + (comma ? 1 : 0);
        }
        return 0;
    }
    rc = omlctl_kind_resolve(set, args->v[0], &kind, err);
    if (rc < 0)
        return rc;
    if (args->n == 1) {
        if (need_names)
            return omlop_err_set(err, OMLOP_EINVAL, "name the %s: %s NAME or %s/NAME", kind->plural,
                                 args->v[0], args->v[0]);
        targets_push(out, kind, NULL);
        return 0;
    }
    for (size_t i = 1; i < args->n; i++) {
        rc = check_name(args->v[i], err);
        if (rc < 0)
            return rc;
        targets_push(out, kind, args->v[i]);
    }
    return 0;
}

void omlctl_object_ref(strbuf *out, const kind_info *kind, const char *name)
{
    strbuf_addf(out, "%s/%s", kind->singular, name ? name : "");
}

int omlctl_kind_of_object(const schema_set *set, const json_object *obj, const kind_info **out,
                          omlop_err *err)
{
    const char *kind = cjson_get_string(obj, "kind");
    const char *api_version = cjson_get_string(obj, "apiVersion");

    *out = NULL;
    if (!kind || !*kind)
        return omlop_err_set(err, OMLOP_EINVAL, "the document has no \"kind\"");
    if (api_version && strcmp(api_version, OMLOP_API_VERSION) != 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "%s: apiVersion is \"%s\"; omlop serves " OMLOP_API_VERSION, kind,
                             api_version);
    *out = schema_set_find_kind(set, kind);
    if (!*out || strcmp((*out)->kind, kind) != 0) {
        strbuf known = STRBUF_INIT;

        known_kinds(set, &known);
        omlop_err_set(err, OMLOP_EINVAL, "unknown kind \"%s\"; known: %s", kind,
                      strbuf_str(&known));
        strbuf_release(&known);
        *out = NULL;
        return OMLOP_EINVAL;
    }
    return 0;
}

/* --- reading objects ------------------------------------------------------------------- */

int omlctl_get_object(apiclient *api, const kind_info *kind, const char *name, json_object **out,
                      omlop_err *err)
{
    strbuf path = STRBUF_INIT;
    int rc;

    apiclient_path(&path, kind->plural, name, NULL);
    rc = apiclient_json(api, "GET", path.buf, NULL, NULL, out, err);
    if (rc == 0 && !*out)
        rc = omlop_err_set(err, OMLOP_EPROTO, "GET %s: empty answer", path.buf);
    strbuf_release(&path);
    return rc;
}

#define LIST_PAGE      "500"
#define LIST_MAX_PAGES 100000

int omlctl_list_objects(apiclient *api, const kind_info *kind, const char *label_selector,
                        const char *field_selector, json_object **items, strbuf *rv, omlop_err *err)
{
    strbuf path = STRBUF_INIT;
    char *cont = NULL;
    int rc = 0;

    *items = json_object_new_array();
    for (int page = 0; page < LIST_MAX_PAGES; page++) {
        json_object *list = NULL, *its;
        const char *next;

        strbuf_reset(&path);
        apiclient_path(&path, kind->plural, NULL, NULL);
        apiclient_query_add(&path, "limit", LIST_PAGE);
        if (label_selector && *label_selector)
            apiclient_query_add(&path, "labelSelector", label_selector);
        if (field_selector && *field_selector)
            apiclient_query_add(&path, "fieldSelector", field_selector);
        if (cont)
            apiclient_query_add(&path, "continue", cont);
        rc = apiclient_json(api, "GET", path.buf, NULL, NULL, &list, err);
        if (rc < 0)
            goto out;
        its = json_object_object_get(list, "items");
        if (its && !json_object_is_type(its, json_type_array)) {
            json_object_put(list);
            rc = omlop_err_set(err, OMLOP_EPROTO, "GET %s: \"items\" is not a list", path.buf);
            goto out;
        }
        for (size_t i = 0; its && i < json_object_array_length(its); i++)
            json_object_array_add(*items, json_object_get(json_object_array_get_idx(its, i)));
        if (rv) {
            const char *r = cjson_get_string(list, "metadata.resourceVersion");

            strbuf_reset(rv);
            strbuf_adds(rv, r ? r : "");
        }
        next = cjson_get_string(list, "metadata.continue");
        free(cont);
        cont = next && *next ? xstrdup(next) : NULL;
        json_object_put(list);
        if (!cont)
            goto out;
    }
    rc = omlop_err_set(err, OMLOP_ELIMIT, "listing %s: more than %d pages", kind->plural,
                       LIST_MAX_PAGES);
out:
    if (rc < 0) {
        json_object_put(*items);
        *items = NULL;
    }
    free(cont);
    strbuf_release(&path);
    return rc;
}

int omlctl_watch_open(apiclient *api, const kind_info *kind, const char *name,
                      const char *label_selector, const char *field_selector, const char *rv,
                      apiclient_watch **out, omlop_err *err)
{
    strbuf path = STRBUF_INIT, fs = STRBUF_INIT;
    int rc;

    apiclient_path(&path, kind->plural, NULL, NULL);
    apiclient_query_add(&path, "watch", "true");
    apiclient_query_add(&path, "allowWatchBookmarks", "true");
    if (rv && *rv)
        apiclient_query_add(&path, "resourceVersion", rv);
    if (name)
        strbuf_addf(&fs, "metadata.name=%s", name);
    if (field_selector && *field_selector)
        strbuf_addf(&fs, "%s%s", fs.len ? "," : "", field_selector);
    if (fs.len)
        apiclient_query_add(&path, "fieldSelector", fs.buf);
    if (label_selector && *label_selector)
        apiclient_query_add(&path, "labelSelector", label_selector);
    rc = apiclient_watch_open(api, path.buf, out, err);
    strbuf_release(&path);
    strbuf_release(&fs);
    return rc;
}

/* --- manifests ------------------------------------------------------------------------- */

void omlctl_manifests_release(omlctl_manifests *m)
{
    for (size_t i = 0; i < m->n; i++) {
        json_object_put(m->v[i].obj);
        json_object_put(m->v[i].given);
        free(m->v[i].source);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static void print_diags(const diag_list *diags)
{
    strbuf sb = STRBUF_INIT;

    diag_list_format(diags, &sb);
    fputs(strbuf_str(&sb), stderr);
    if (sb.len && sb.buf[sb.len - 1] != '\n')
        fputc('\n', stderr);
    strbuf_release(&sb);
}

int omlctl_manifests_load(omlctl_ctx *ctx, const omlctl_strv *paths, int validate,
                          omlctl_manifests *out, omlop_err *err)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    schema_set *set = NULL;
    int stdin_seen = 0, rc = 0;
    size_t problems = 0;

    out->v = NULL;
    out->n = 0;
    rc = omlctl_ctx_schemas(ctx, &set, err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < paths->n; i++) {
        if (!strcmp(paths->v[i], "-") && stdin_seen++) {
            rc = omlop_err_set(err, OMLOP_EINVAL, "-f - (stdin) can be given only once");
            goto out;
        }
        /* Keep going after a bad path so one run reports every problem. */
        yaml_load_path(paths->v[i], NULL, &docs, diags);
    }
    out->v = xcalloc(docs.n ? docs.n : 1, sizeof(*out->v));
    for (size_t i = 0; i < docs.n; i++) {
        const ydoc *d = &docs.docs[i];
        json_object *obj = NULL;
        omlctl_manifest *m;
        const kind_info *kind;
        const char *name;
        size_t before = diag_list_count(diags);

        if (!d->root)
            continue;
        if (validate) {
            if (schema_set_decode(set, d->root, d->file, &obj, diags) < 0 || !obj)
                continue;
        } else {
            obj = ynode_to_json_core(d->root);
        }
        if (omlctl_kind_of_object(set, obj, &kind, err) < 0) {
            diag_add(diags, d->file, d->root->line, d->root->col, NULL, "%s", err->msg);
            json_object_put(obj);
            continue;
        }
        name = cjson_get_string(obj, "metadata.name");
        if (!name || !*name) {
            diag_add(diags, d->file, d->root->line, d->root->col, "metadata.name",
                     "required: every object needs a name");
            json_object_put(obj);
            continue;
        }
        for (size_t j = 0; j < out->n; j++) {
            if (out->v[j].kind == kind && !strcmp(out->v[j].name, name))
                diag_add(diags, d->file, d->root->line, d->root->col, "metadata.name",
                         "%s/%s is also defined in %s", kind->singular, name, out->v[j].source);
        }
        if (diag_list_count(diags) > before) {
            json_object_put(obj);
            continue;
        }
        m = &out->v[out->n++];
        m->obj = obj;
        m->given = validate ? merge_patch_given_fields(obj, d->root) : NULL;
        m->kind = kind;
        m->name = name;
        {
            strbuf src = STRBUF_INIT;

            strbuf_adds(&src, d->file);
            if (d->index > 0)
                strbuf_addf(&src, " (document %d)", d->index + 1);
            m->source = strbuf_detach(&src, NULL);
        }
    }
    problems = diag_list_count(diags);
    if (problems) {
        print_diags(diags);
        rc = omlop_err_set(err, OMLOP_EINVAL, "%zu problem%s in the manifests; nothing was sent",
                           problems, problems == 1 ? "" : "s");
    }
out:
    if (rc < 0)
        omlctl_manifests_release(out);
    ydoc_list_release(&docs);
    diag_list_free(diags);
    return rc;
}

json_object *omlctl_comparable(const json_object *obj)
{
    static const char *const server_meta[] = {"resourceVersion", "generation", "uid",
                                              "creationTimestamp", "managedFields"};
    json_object *c = NULL, *meta;

    if (!obj)
        return NULL;
    if (json_object_deep_copy((json_object *)obj, &c, NULL) != 0)
        abort();
    if (!json_object_is_type(c, json_type_object))
        return c;
    json_object_object_del(c, "status");
    meta = json_object_object_get(c, "metadata");
    if (meta && json_object_is_type(meta, json_type_object)) {
        for (size_t i = 0; i < sizeof(server_meta) / sizeof(server_meta[0]); i++)
            json_object_object_del(meta, server_meta[i]);
    }
    return c;
}

/* --- durations -------------------------------------------------------------------------- */

int omlctl_duration_parse(const char *s, long *ms, omlop_err *err)
{
    const char *p = s;
    long long total = 0;

    if (!*s)
        return omlop_err_set(err, OMLOP_EINVAL, "empty duration (use e.g. 30s, 5m, 1h30m)");
    while (*p) {
        long long n = 0, unit;
        const char *digits = p;

        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (*p - '0');
            if (n > 1000000000LL)
                return omlop_err_set(err, OMLOP_EINVAL, "duration '%s' is too long", s);
            p++;
        }
        if (p == digits)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "invalid duration '%s' (use e.g. 30s, 5m, 1h30m, 500ms)", s);
        if (!*p && digits == s) {
            unit = 1000; /* a bare number is seconds, as kubectl's --timeout=0 */
        } else if (!strncmp(p, "ms", 2)) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000;
            p++;
        } else if (*p == 'd') {
            unit = 86400LL * 1000;
            p++;
        } else {
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "invalid duration '%s': unit must be ms, s, m, h or d", s);
        }
        total += n * unit;
        if (total > LONG_MAX / 2)
            return omlop_err_set(err, OMLOP_EINVAL, "duration '%s' is too long", s);
    }
    *ms = (long)total;
    return 0;
}

/* --- label selectors -------------------------------------------------------------------- */

int omlctl_selector_match(const char *text, const json_object *labels, omlop_err *err)
{
    selector *sel = NULL;
    int rc;

    /* The server's own parser, so -l means the same on both sides. */
    rc = selector_parse(text, &sel, err);
    if (rc < 0)
        return rc;
    rc = selector_matches(sel, labels) ? 1 : 0;
    selector_free(sel);
    return rc;
}
