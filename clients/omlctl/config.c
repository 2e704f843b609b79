/* config: omlctl's connection settings (file, environment, flags) and the `config` verb. */
#include "clients/omlctl/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/omlctl/cmds.h"
#include "clients/omlctl/common.h"
#include "clients/omlctl/output.h"
#include "crds/yamlio.h"
#include "lib/xalloc.h"

#define CONFIG_MAX_BYTES (1u << 20)

static const char *const config_keys[] = {"server", "token", "caFile", "insecureSkipTLSVerify"};

void omlctl_config_release(omlctl_config *cfg)
{
    free(cfg->server);
    if (cfg->token) {
        memset(cfg->token, 0, strlen(cfg->token));
        free(cfg->token);
    }
    free(cfg->ca_file);
    free(cfg->file);
    memset(cfg, 0, sizeof(*cfg));
}

void omlctl_config_file_release(omlctl_config_file *vals)
{
    free(vals->server);
    if (vals->token) {
        memset(vals->token, 0, strlen(vals->token));
        free(vals->token);
    }
    free(vals->ca_file);
    memset(vals, 0, sizeof(*vals));
    vals->insecure = -1;
}

int omlctl_config_path(strbuf *out, omlop_err *err)
{
    const char *explicit_path = getenv("OMLOP_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (explicit_path && *explicit_path) {
        strbuf_adds(out, explicit_path);
        return 0;
    }
    /* The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored. */
    if (xdg && xdg[0] == '/') {
        strbuf_addf(out, "%s/omlop/config", xdg);
        return 0;
    }
    if (home && *home) {
        strbuf_addf(out, "%s/.config/omlop/config", home);
        return 0;
    }
    return omlop_err_set(err, OMLOP_EINVAL,
                         "cannot place the config file: set XDG_CONFIG_HOME, HOME or OMLOP_CONFIG");
}

/* A scalar that means "not set": plain null, ~ or empty. */
static int is_null_scalar(const ynode *n)
{
    return n->is_plain && (n->len == 0 || !strcmp(n->value, "~") || !strcmp(n->value, "null") ||
                           !strcmp(n->value, "Null") || !strcmp(n->value, "NULL"));
}

static int config_string(const char *file, const ynode_pair *p, char **dest, omlop_err *err)
{
    if (p->value->kind != YNODE_SCALAR)
        return omlop_err_set(err, OMLOP_EINVAL, "%s:%d:%d: %s: must be a string", file,
                             p->value->line, p->value->col, p->key);
    if (memchr(p->value->value, '\0', p->value->len))
        return omlop_err_set(err, OMLOP_EINVAL, "%s:%d:%d: %s: contains a NUL byte", file,
                             p->value->line, p->value->col, p->key);
    free(*dest);
    *dest = NULL;
    if (!is_null_scalar(p->value))
        *dest = xstrdup(p->value->value);
    return 0;
}

int omlctl_config_parse(const char *file, const char *text, size_t len, omlctl_config_file *vals,
                        omlop_err *err)
{
    ydoc_list docs = YDOC_LIST_INIT;
    diag_list *diags = diag_list_new();
    const ynode *root;
    int rc = 0;

    memset(vals, 0, sizeof(*vals));
    vals->insecure = -1;
    if (yaml_load_buffer(file, text, len, NULL, &docs, diags) < 0 || diag_list_count(diags)) {
        strbuf sb = STRBUF_INIT;

        diag_format(diag_list_at(diags, 0), &sb);
        rc = omlop_err_set(err, OMLOP_EINVAL, "config file %s", strbuf_str(&sb));
        strbuf_release(&sb);
        goto out;
    }
    if (docs.n == 0)
        goto out; /* an empty file sets nothing */
    if (docs.n > 1) {
        rc = omlop_err_set(err, OMLOP_EINVAL, "%s: holds %zu YAML documents; the config is one",
                           file, docs.n);
        goto out;
    }
    root = docs.docs[0].root;
    if (root->kind != YNODE_MAP) {
        rc = omlop_err_set(err, OMLOP_EINVAL,
                           "%s:%d:%d: the config must be a mapping of server, token, caFile, "
                           "insecureSkipTLSVerify",
                           file, root->line, root->col);
        goto out;
    }
    for (size_t i = 0; i < root->n; i++) {
        const ynode_pair *p = &root->pairs[i];

        if (!strcmp(p->key, "server")) {
            rc = config_string(file, p, &vals->server, err);
        } else if (!strcmp(p->key, "token")) {
            rc = config_string(file, p, &vals->token, err);
        } else if (!strcmp(p->key, "caFile")) {
            rc = config_string(file, p, &vals->ca_file, err);
        } else if (!strcmp(p->key, "insecureSkipTLSVerify")) {
            const ynode *v = p->value;

            if (v->kind == YNODE_SCALAR && v->is_plain && !strcmp(v->value, "true"))
                vals->insecure = 1;
            else if (v->kind == YNODE_SCALAR && v->is_plain && !strcmp(v->value, "false"))
                vals->insecure = 0;
            else
                rc = omlop_err_set(err, OMLOP_EINVAL,
                                   "%s:%d:%d: insecureSkipTLSVerify: must be true or false", file,
                                   v->line, v->col);
        } else {
            rc = omlop_err_set(err, OMLOP_EINVAL,
                               "%s:%d:%d: unknown key '%s' (known: server, token, caFile, "
                               "insecureSkipTLSVerify)",
                               file, p->line, p->col, p->key);
        }
        if (rc < 0)
            goto out;
    }
out:
    if (rc < 0)
        omlctl_config_file_release(vals);
    ydoc_list_release(&docs);
    diag_list_free(diags);
    return rc;
}

/* First set value of the three layers, and where it came from. */
static const char *pick(const char *flag, const char *env, const char *file, const char *def,
                        const char *flag_name, const char *env_name, const char **from)
{
    if (flag) {
        *from = flag_name;
        return flag;
    }
    if (env) {
        *from = env_name;
        return env;
    }
    if (file) {
        *from = "file";
        return file;
    }
    *from = def ? "default" : "unset";
    return def;
}

void omlctl_config_resolve(const omlctl_config_layer *flags, const omlctl_config_layer *env,
                           const omlctl_config_layer *file, omlctl_config *out)
{
    out->server = xstrdup(pick(flags->server, env->server, file->server, OMLCTL_DEFAULT_SERVER,
                               "flag --server", "env OMLOP_SERVER", &out->server_from));
    out->token = xstrdup(pick(flags->token, env->token, file->token, NULL, "flag --token",
                              "env OMLOP_TOKEN", &out->token_from));
    out->ca_file = xstrdup(pick(flags->ca_file, env->ca_file, file->ca_file, NULL, "flag --ca-file",
                                "env OMLOP_CA_FILE", &out->ca_file_from));
    if (flags->insecure >= 0) {
        out->insecure = flags->insecure;
        out->insecure_from = "flag --insecure-skip-tls-verify";
    } else if (env->insecure >= 0) {
        out->insecure = env->insecure;
        out->insecure_from = "env";
    } else if (file->insecure >= 0) {
        out->insecure = file->insecure;
        out->insecure_from = "file";
    } else {
        out->insecure = 0;
        out->insecure_from = "default";
    }
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

int omlctl_config_load(const omlctl_config_layer *flags, omlctl_config *out, omlop_err *err)
{
    strbuf path = STRBUF_INIT, text = STRBUF_INIT;
    omlctl_config_file vals = {NULL, NULL, NULL, -1};
    omlctl_config_layer env = OMLCTL_CONFIG_LAYER_INIT, file = OMLCTL_CONFIG_LAYER_INIT;
    int found = 0, rc;
    struct stat st;

    memset(out, 0, sizeof(*out));
    rc = omlctl_config_path(&path, err);
    if (rc < 0) {
        /* No place for a file is fine: flags and environment still work. */
        strbuf_reset(&path);
        rc = 0;
    } else {
        rc = strbuf_read_file(&text, path.buf, CONFIG_MAX_BYTES, err);
        if (rc == OMLOP_ENOTFOUND) {
            rc = 0;
        } else if (rc < 0) {
            goto out;
        } else {
            found = 1;
            rc = omlctl_config_parse(path.buf, strbuf_str(&text), text.len, &vals, err);
            if (rc < 0)
                goto out;
            if (vals.token && stat(path.buf, &st) == 0 && (st.st_mode & 077))
                fprintf(stderr,
                        "Warning: %s holds a token and is readable by others; run: chmod 600 "
                        "%s\n",
                        path.buf, path.buf);
        }
    }
    env.server = env_nonempty("OMLOP_SERVER");
    env.token = env_nonempty("OMLOP_TOKEN");
    env.ca_file = env_nonempty("OMLOP_CA_FILE");
    file.server = vals.server;
    file.token = vals.token;
    file.ca_file = vals.ca_file;
    file.insecure = vals.insecure;
    omlctl_config_resolve(flags, &env, &file, out);
    out->file = path.len ? strbuf_detach(&path, NULL) : NULL;
    out->file_found = found;
out:
    omlctl_config_file_release(&vals);
    strbuf_release(&path);
    strbuf_release(&text);
    return rc;
}

/* --- writing the file ------------------------------------------------------------------- */

static int mkdir_parents(const char *file, omlop_err *err)
{
    char buf[4096];
    size_t len = strlen(file);

    if (len >= sizeof(buf))
        return omlop_err_set(err, OMLOP_EINVAL, "config path too long: %s", file);
    memcpy(buf, file, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
            int e = errno;

            *p = '/';
            return omlop_err_set(err, OMLOP_EIO, "cannot create directory for %s: %s", file,
                                 strerror(e));
        }
        *p = '/';
    }
    return 0;
}

int omlctl_config_write(const char *file, const omlctl_config_file *vals, omlop_err *err)
{
    json_object *o = json_object_new_object();
    strbuf text = STRBUF_INIT, tmp = STRBUF_INIT;
    int fd = -1, rc;
    size_t off = 0;

    if (vals->server)
        json_object_object_add(o, "server", json_object_new_string(vals->server));
    if (vals->token)
        json_object_object_add(o, "token", json_object_new_string(vals->token));
    if (vals->ca_file)
        json_object_object_add(o, "caFile", json_object_new_string(vals->ca_file));
    if (vals->insecure >= 0)
        json_object_object_add(o, "insecureSkipTLSVerify", json_object_new_boolean(vals->insecure));
    /* Emit first: yaml_emit_json starts a "---" document after existing text. */
    if (json_object_object_length(o) == 0)
        strbuf_adds(&text, "{}\n");
    else if ((rc = yaml_emit_json(o, &text, err)) < 0)
        goto out;
    strbuf_adds(&tmp, "# omlctl configuration: see 'omlctl config --help'.\n");
    strbuf_add(&tmp, text.buf, text.len);
    strbuf_reset(&text);
    strbuf_add(&text, tmp.buf, tmp.len);
    strbuf_reset(&tmp);
    rc = mkdir_parents(file, err);
    if (rc < 0)
        goto out;
    strbuf_addf(&tmp, "%s.tmp.%ld", file, (long)getpid());
    fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = omlop_err_set(err, OMLOP_EIO, "cannot write %s: %s", tmp.buf, strerror(errno));
        goto out;
    }
    while (off < text.len) {
        ssize_t n = write(fd, text.buf + off, text.len - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = omlop_err_set(err, OMLOP_EIO, "cannot write %s: %s", tmp.buf, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        rc = omlop_err_set(err, OMLOP_EIO, "cannot write %s: %s", tmp.buf, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.buf, file) < 0) {
        rc = omlop_err_set(err, OMLOP_EIO, "cannot replace %s: %s", file, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp.len)
        unlink(tmp.buf);
    strbuf_release(&tmp);
    strbuf_release(&text);
    json_object_put(o);
    return rc;
}

/* --- the verb --------------------------------------------------------------------------- */

static const char config_help[] =
    "Show or change omlctl's connection settings.\n"
    "\n"
    "Values are taken from, in order: flags (--server, --token, --ca-file,\n"
    "--insecure-skip-tls-verify), the environment (OMLOP_SERVER, OMLOP_TOKEN,\n"
    "OMLOP_CA_FILE), the config file, and the default server http://127.0.0.1:8787.\n"
    "The file is $XDG_CONFIG_HOME/omlop/config (else ~/.config/omlop/config, or\n"
    "OMLOP_CONFIG), YAML with the keys server, token, caFile, insecureSkipTLSVerify.\n"
    "It is written with mode 0600 because it holds the token.\n"
    "\n"
    "Usage:\n"
    "  omlctl config view [--raw]      the effective settings and where each came from\n"
    "  omlctl config path              the config file's path\n"
    "  omlctl config set KEY VALUE     set a key in the file\n"
    "  omlctl config unset KEY         remove a key from the file\n"
    "\n"
    "Flags:\n"
    "      --raw    show the token instead of REDACTED\n"
    "\n"
    "Examples:\n"
    "  omlctl config set server https://omlop.example.com:8787\n"
    "  omlctl config set token \"$(cat ~/omlop-admin.token)\"\n"
    "  omlctl config set caFile /etc/omlop/ca.crt\n"
    "  OMLOP_SERVER=unix:///run/omlop/omlopd.sock omlctl config view\n";

static int config_key_index(const char *key)
{
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
        if (!strcmp(key, config_keys[i]))
            return (int)i;
    }
    return -1;
}

static int config_view(omlctl_ctx *ctx, int raw)
{
    const omlctl_config *cfg;
    omlop_err err = OMLOP_ERR_INIT;
    const char *headers[] = {"KEY", "VALUE", "SOURCE"};
    omlctl_table *t;
    const char *row[3];

    if (omlctl_ctx_config(ctx, &cfg, &err) < 0) {
        omlctl_print_error(ctx, &err);
        return OMLCTL_EXIT_ERROR;
    }
    printf("file: %s (%s)\n", cfg->file ? cfg->file : "<none>",
           cfg->file_found ? "found" : "not found");
    t = omlctl_table_new(3, headers);
    row[0] = "server";
    row[1] = cfg->server;
    row[2] = cfg->server_from;
    omlctl_table_add_row(t, row);
    row[0] = "token";
    row[1] = cfg->token ? (raw ? cfg->token : "REDACTED") : "<none>";
    row[2] = cfg->token_from;
    omlctl_table_add_row(t, row);
    row[0] = "caFile";
    row[1] = cfg->ca_file ? cfg->ca_file : "<none>";
    row[2] = cfg->ca_file_from;
    omlctl_table_add_row(t, row);
    row[0] = "insecureSkipTLSVerify";
    row[1] = cfg->insecure ? "true" : "false";
    row[2] = cfg->insecure_from;
    omlctl_table_add_row(t, row);
    omlctl_table_flush(t, stdout, 1);
    omlctl_table_free(t);
    return OMLCTL_EXIT_OK;
}

/* Read the file's current values (missing file = none). */
static int config_read_file(const char *path, omlctl_config_file *vals, omlop_err *err)
{
    strbuf text = STRBUF_INIT;
    int rc;

    memset(vals, 0, sizeof(*vals));
    vals->insecure = -1;
    rc = strbuf_read_file(&text, path, CONFIG_MAX_BYTES, err);
    if (rc == OMLOP_ENOTFOUND) {
        rc = 0;
    } else if (rc == 0) {
        rc = omlctl_config_parse(path, strbuf_str(&text), text.len, vals, err);
    }
    strbuf_release(&text);
    return rc;
}

static int config_change(omlctl_ctx *ctx, const char *key, const char *value)
{
    strbuf path = STRBUF_INIT;
    omlctl_config_file vals = {NULL, NULL, NULL, -1};
    omlop_err err = OMLOP_ERR_INIT;
    int idx = config_key_index(key);
    int ret = OMLCTL_EXIT_ERROR;

    if (idx < 0) {
        omlctl_usage_error(ctx,
                           "unknown key '%s' (known: server, token, caFile, "
                           "insecureSkipTLSVerify)",
                           key);
        return OMLCTL_EXIT_USAGE;
    }
    if (value && idx == 0 && strncmp(value, "http://", 7) && strncmp(value, "https://", 8) &&
        strncmp(value, "unix:///", 8)) {
        omlctl_usage_error(ctx,
                           "server '%s' must start with http://, https:// or unix:/// (e.g. "
                           "http://127.0.0.1:8787)",
                           value);
        return OMLCTL_EXIT_USAGE;
    }
    if (value && idx == 3 && strcmp(value, "true") && strcmp(value, "false")) {
        omlctl_usage_error(ctx, "insecureSkipTLSVerify takes true or false, not '%s'", value);
        return OMLCTL_EXIT_USAGE;
    }
    if (omlctl_config_path(&path, &err) < 0 || config_read_file(path.buf, &vals, &err) < 0)
        goto out;
    switch (idx) {
    case 0:
        free(vals.server);
        vals.server = xstrdup(value);
        break;
    case 1:
        if (vals.token)
            memset(vals.token, 0, strlen(vals.token));
        free(vals.token);
        vals.token = xstrdup(value);
        break;
    case 2:
        free(vals.ca_file);
        vals.ca_file = xstrdup(value);
        break;
    default:
        vals.insecure = value ? !strcmp(value, "true") : -1;
        break;
    }
    if (omlctl_config_write(path.buf, &vals, &err) < 0)
        goto out;
    printf("%s %s in %s\n", key, value ? "set" : "unset", path.buf);
    ret = OMLCTL_EXIT_OK;
out:
    if (ret != OMLCTL_EXIT_OK)
        omlctl_print_error(ctx, &err);
    omlctl_config_file_release(&vals);
    strbuf_release(&path);
    return ret;
}

int cmd_config(int argc, char **argv)
{
    omlctl_ctx ctx;
    omlctl_strv args = OMLCTL_STRV_INIT;
    int raw = 0;
    const omlctl_opt opts[] = {
        {"raw", 0, OMLCTL_OPT_BOOL, &raw},
        {NULL, 0, OMLCTL_OPT_BOOL, NULL},
    };
    int ret = OMLCTL_EXIT_USAGE;
    const char *sub;

    omlctl_ctx_init(&ctx, "config");
    if (!omlctl_parse_verb_args(&ctx, argc, argv, opts, &args, config_help, &ret))
        goto out;
    sub = args.n ? args.v[0] : "view";
    if (!strcmp(sub, "view") && args.n <= 1) {
        ret = config_view(&ctx, raw);
    } else if (!strcmp(sub, "path") && args.n == 1) {
        strbuf path = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;

        if (omlctl_config_path(&path, &err) < 0) {
            omlctl_print_error(&ctx, &err);
            ret = OMLCTL_EXIT_ERROR;
        } else {
            printf("%s\n", path.buf);
            ret = OMLCTL_EXIT_OK;
        }
        strbuf_release(&path);
    } else if (!strcmp(sub, "set") && args.n == 3) {
        ret = config_change(&ctx, args.v[1], args.v[2]);
    } else if (!strcmp(sub, "unset") && args.n == 2) {
        ret = config_change(&ctx, args.v[1], NULL);
    } else {
        omlctl_usage_error(&ctx, "expected 'view', 'path', 'set KEY VALUE' or 'unset KEY'");
    }
out:
    omlctl_strv_release(&args);
    omlctl_ctx_release(&ctx);
    return ret;
}
