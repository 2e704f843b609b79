/*
 * secrets: Secret values from the store, generated Secrets on first use (see secrets.h).
 */
#include "reconcilers/secrets.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/ssh_keys.h"
#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "objects/objects.h"
#include "reconcilers/desired.h"

#define GENERATED_SECRET_BYTES 18

/* Secrets omlop makes itself when the spec names none, and the keys each holds. */
static const struct generated_secret {
    const char *suffix;
    const char *keys[3];
} generated_secrets[] = {
    {DESIRED_SECRET_POSTGRES, {"password", NULL, NULL}},
    {DESIRED_SECRET_OBJECTSTORAGE, {"accessKey", "secretKey", NULL}},
    {DESIRED_SECRET_MINIO_ADMIN, {"user", "password", NULL}},
    {DESIRED_SECRET_AMI, {"password", NULL, NULL}},
    {DESIRED_SECRET_VRRP, {"password", NULL, NULL}},
};

/* Secrets omlop owns for a tenant without generating them here: the certificate reconciler's
 * self-signed pair (reconcilers/tls.h) and the ACME account key. Deleted with the tenant;
 * a change wakes the tenant. */
static const char *const owned_suffixes[] = {"-tls", "-acme-account"};
#define N_OWNED     (sizeof(owned_suffixes) / sizeof(owned_suffixes[0]))
#define N_GENERATED (sizeof(generated_secrets) / sizeof(generated_secrets[0]))

/* The i-th suffix of every Secret omlop owns for a tenant (i < N_GENERATED + N_OWNED). */
static const char *owned_suffix(size_t i)
{
    return i < N_GENERATED ? generated_secrets[i].suffix : owned_suffixes[i - N_GENERATED];
}

static const struct generated_secret *generated_for(const char *tenant, const char *name)
{
    size_t tl = strlen(tenant);

    if (strncmp(name, tenant, tl) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof(generated_secrets) / sizeof(generated_secrets[0]); i++)
        if (strcmp(name + tl, generated_secrets[i].suffix) == 0)
            return &generated_secrets[i];
    return NULL;
}

/* Create Secret name with random values for g's keys (EEXIST: someone else just did). */
static int secret_generate(store *st, const char *tenant, const char *name,
                           const struct generated_secret *g, omlop_err *err)
{
    json_object *obj = json_object_new_object(), *meta = json_object_new_object();
    json_object *labels = json_object_new_object(), *data = json_object_new_object();
    obj_result res = {0};
    int rc = 0;

    json_object_object_add(obj, "apiVersion", json_object_new_string("omlop.io/v1alpha1"));
    json_object_object_add(obj, "kind", json_object_new_string("Secret"));
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(labels, OMLOP_LABEL_TENANT, json_object_new_string(tenant));
    json_object_object_add(labels, OMLOP_LABEL_MANAGED_BY,
                           json_object_new_string(OMLOP_MANAGER_NAME));
    json_object_object_add(meta, "labels", labels);
    json_object_object_add(obj, "metadata", meta);
    json_object_object_add(obj, "type", json_object_new_string("Opaque"));
    for (size_t i = 0; i < 3 && g->keys[i]; i++) {
        unsigned char raw[GENERATED_SECRET_BYTES];
        char hex[2 * GENERATED_SECRET_BYTES + 1];
        unsigned char b64[4 * ((sizeof(hex) + 2) / 3) + 1];

        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            rc = omlop_err_set(err, OMLOP_EINTERNAL, "Secret %s: no random bytes available", name);
            goto out;
        }
        for (size_t j = 0; j < sizeof(raw); j++)
            snprintf(hex + 2 * j, 3, "%02x", raw[j]);
        /* a value safe in env files and URLs: lowercase hex */
        EVP_EncodeBlock(b64, (const unsigned char *)hex, (int)strlen(hex));
        json_object_object_add(data, g->keys[i], json_object_new_string((const char *)b64));
        OPENSSL_cleanse(raw, sizeof(raw));
        OPENSSL_cleanse(hex, sizeof(hex));
    }
    json_object_object_add(obj, "data", data);
    data = NULL;
    /* the write path stamps uid, creationTimestamp and generation */
    rc = obj_create(st, "secrets", obj, 0, &res, err);
    if (rc == OMLOP_EEXIST) {
        omlop_err_clear(err);
        rc = 0;
    } else if (rc == 0)
        log_info("tenant=%s secret=%s generated secret created", tenant, name);
out:
    json_object_put(data);
    json_object_put(obj);
    obj_result_release(&res);
    return rc;
}

/* Wipe the string values under obj's data and stringData before it goes back. */
static void secret_wipe(json_object *obj)
{
    static const char *const fields[] = {"data", "stringData"};

    for (size_t i = 0; i < 2; i++) {
        json_object *m = cjson_get(obj, fields[i]);

        if (!json_object_is_type(m, json_type_object))
            continue;
        json_object_object_foreach(m, k, v)
        {
            (void)k;
            if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
                OPENSSL_cleanse((char *)json_object_get_string(v),
                                (size_t)json_object_get_string_len(v));
        }
    }
}

void secrets_ctx_release(secrets_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_cache; i++) {
        secret_wipe(ctx->cache[i].obj);
        json_object_put(ctx->cache[i].obj);
        free(ctx->cache[i].name);
    }
    free(ctx->cache);
    ctx->cache = NULL;
    ctx->n_cache = 0;
}

/* Secret name as stored (generated first when omlop owns it and it is missing); cached. */
static int secret_load(secrets_ctx *ctx, const char *name, const char *key, json_object **out,
                       omlop_err *err)
{
    const struct generated_secret *g = generated_for(ctx->tenant, name);
    strbuf skey = STRBUF_INIT;
    store_kv kv = {0};
    json_object *obj = NULL;
    int rc;

    for (size_t i = 0; i < ctx->n_cache; i++)
        if (strcmp(ctx->cache[i].name, name) == 0) {
            *out = ctx->cache[i].obj;
            return 0;
        }
    strbuf_addf(&skey, "%s%s", SECRETS_KEY_PREFIX, name);
    rc = store_get(ctx->st, skey.buf, &kv, err);
    if (rc == OMLOP_ENOTFOUND && g) {
        rc = secret_generate(ctx->st, ctx->tenant, name, g, err);
        if (rc == 0)
            rc = store_get(ctx->st, skey.buf, &kv, err);
    }
    if (rc == OMLOP_ENOTFOUND) {
        rc = omlop_err_set(
            err, OMLOP_ENOTFOUND,
            "Secret %s (key %s) not found: create it (see crds/examples/secret.yaml)", name, key);
        goto out;
    }
    if (rc < 0)
        goto out;
    obj = object_parse(kv.value, kv.value_len);
    if (!obj) {
        rc = omlop_err_set(err, OMLOP_EPROTO, "Secret %s: stored value is not a JSON object", name);
        goto out;
    }
    ctx->cache = xrealloc(ctx->cache, (ctx->n_cache + 1) * sizeof(*ctx->cache));
    ctx->cache[ctx->n_cache].name = xstrdup(name);
    ctx->cache[ctx->n_cache++].obj = obj;
    *out = obj;
out:
    if (kv.value)
        OPENSSL_cleanse(kv.value, kv.value_len);
    store_kv_release(&kv);
    strbuf_release(&skey);
    return rc;
}

/* The string at key of obj's member section; keys hold dots (tls.crt): no dotted path. */
static const char *section_string(json_object *obj, const char *section, const char *key)
{
    json_object *sec = NULL, *v = NULL;

    if (!json_object_object_get_ex(obj, section, &sec) ||
        !json_object_object_get_ex(sec, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* desired_secret_fn over the store: data (base64) or stringData (text). */
int secrets_lookup(void *vctx, const char *name, const char *key, strbuf *out, omlop_err *err)
{
    secrets_ctx *ctx = vctx;
    json_object *obj = NULL;
    const char *v;
    int rc;

    if ((rc = secret_load(ctx, name, key, &obj, err)) < 0)
        return rc;
    if ((v = section_string(obj, "stringData", key)) != NULL) {
        strbuf_adds(out, v);
    } else if ((v = section_string(obj, "data", key)) != NULL) {
        rc = ssh_keys_base64_decode(v, out, err);
        if (rc < 0)
            omlop_err_set(err, rc, "Secret %s key %s: data is not valid base64", name, key);
    } else {
        rc = omlop_err_set(err, OMLOP_ENOTFOUND, "Secret %s has no key %s", name, key);
    }
    return rc;
}

int secrets_ssh_identity(void *ctx, const char *name, const char *key, strbuf *out, omlop_err *err)
{
    ssh_key parsed = NULL;
    int rc = secrets_lookup(ctx, name, key, out, err);

    if (rc < 0)
        return rc;
    /* parsed here, where the Secret is known, so the message can name it: a key that does
     * not parse is the Secret's fault, not the host's. The parser's own words are left out:
     * they may quote a piece of the value. */
    if (ssh_keys_load_text(strbuf_str(out), "value", &parsed, NULL) < 0)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "Secret %s key %s is not an unencrypted SSH private key (OpenSSH or "
                             "PEM text, or its base64): put the host's login key there",
                             name, key);
    ssh_key_free(parsed);
    return 0;
}

const char *secrets_reason(int code)
{
    switch (code) {
    case OMLOP_ENOTFOUND:
        return SECRETS_REASON_NOT_FOUND;
    case OMLOP_EINVAL:
    case OMLOP_EPROTO:
    case OMLOP_ELIMIT:
        return SECRETS_REASON_INVALID;
    default:
        return NULL;
    }
}

/* Whether a member name is a Secret reference ("secretRef", "identitySecretRef", ...). */
static int is_ref_key(const char *k)
{
    size_t n = strlen(k), sl = strlen("SecretRef");

    return strcmp(k, "secretRef") == 0 || (n > sl && strcmp(k + n - sl, "SecretRef") == 0);
}

static void names_add(char ***v, size_t *n, size_t *cap, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    if (*n + 1 >= *cap) {
        *cap = *cap ? 2 * *cap : 8;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = xstrdup(s);
    (*v)[*n] = NULL;
    if (!(*v)[*n - 1])
        abort();
}

/* Walk o for Secret references (the spec is a few levels deep; no recursion limit needed:
 * the API bounds an object's depth). */
static void refs_walk(const json_object *o, char ***v, size_t *n, size_t *cap)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            refs_walk(json_object_array_get_idx(o, i), v, n, cap);
        return;
    }
    if (!json_object_is_type(o, json_type_object))
        return;
    json_object_object_foreach((json_object *)o, k, val)
    {
        const char *name = is_ref_key(k) ? cjson_get_string(val, "name") : NULL;

        if (name && *name)
            names_add(v, n, cap, name);
        else
            refs_walk(val, v, n, cap);
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **secrets_referenced(const json_object *tenant)
{
    const char *tname = cjson_get_string(tenant, "metadata.name");
    char **v = xcalloc(1, sizeof(*v));
    size_t n = 0, cap = 1;

    refs_walk(cjson_get(tenant, "spec"), &v, &n, &cap);
    for (size_t i = 0; tname && i < N_GENERATED + N_OWNED; i++) {
        strbuf s = STRBUF_INIT;

        strbuf_addf(&s, "%s%s", tname, owned_suffix(i));
        names_add(&v, &n, &cap, s.buf);
        strbuf_release(&s);
    }
    qsort(v, n, sizeof(*v), cmp_names);
    return v;
}

void secrets_names_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

/* Whether labels (an object) has key=value. */
static int has_label(const json_object *labels, const char *key, const char *value)
{
    json_object *v = NULL;

    /* label keys hold dots: no dotted-path getter */
    return json_object_object_get_ex(labels, key, &v) && json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), value) == 0;
}

int secrets_delete_generated(store *st, const char *tenant, size_t *n_deleted, omlop_err *err)
{
    int rc = 0;

    if (n_deleted)
        *n_deleted = 0;
    for (size_t i = 0; i < N_GENERATED + N_OWNED; i++) {
        strbuf name = STRBUF_INIT;
        json_object *obj = NULL, *labels;
        obj_delete_opts o = {0};
        obj_result res = {0};
        int grc;

        strbuf_addf(&name, "%s%s", tenant, owned_suffix(i));
        grc = obj_get(st, "secrets", name.buf, &obj, &o.expect_revision, err);
        if (grc == 0) {
            labels = cjson_get(obj, "metadata.labels");
            /* only what omlop generated for this tenant; compare-and-swap on what was read */
            if (has_label(labels, OMLOP_LABEL_TENANT, tenant) &&
                has_label(labels, OMLOP_LABEL_MANAGED_BY, OMLOP_MANAGER_NAME)) {
                grc = obj_delete(st, "secrets", name.buf, &o, &res, err);
                if (grc == 0 && n_deleted)
                    (*n_deleted)++;
                if (grc == 0)
                    log_info("tenant=%s secret=%s generated secret deleted", tenant, name.buf);
            }
        }
        if (grc == OMLOP_ENOTFOUND) {
            omlop_err_clear(err);
            grc = 0;
        }
        if (grc < 0 && rc == 0) {
            omlop_err_prefix(err, "deleting Secret %s: ", name.buf);
            rc = grc;
        }
        json_object_put(obj);
        obj_result_release(&res);
        strbuf_release(&name);
        if (rc < 0)
            break;
    }
    return rc;
}
