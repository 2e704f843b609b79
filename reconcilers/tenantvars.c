/* tenantvars: layout checks, placement and the per-host template variables. */
#include "reconcilers/tenantvars.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"
#include "lib/xalloc.h"
#include "reconcilers/ha.h"

const char *tv_spec_string(const tv_tenant *t, const char *path)
{
    const char *s = cjson_get_string(t->spec, path);

    return (s && *s) ? s : NULL;
}

static const char *spec_string_or(const tv_tenant *t, const char *path, const char *def)
{
    const char *s = tv_spec_string(t, path);

    return s ? s : def;
}

static int spec_bool_or(const tv_tenant *t, const char *path, int def)
{
    json_object *o = cjson_get(t->spec, path);

    if (!o || !json_object_is_type(o, json_type_boolean))
        return def;
    return json_object_get_boolean(o);
}

/* --- layout ------------------------------------------------------------------------------ */

static int host_load(const json_object *h, size_t i, tv_host *out, omlop_err *err)
{
    out->name = cjson_get_string(h, "name");
    out->role = cjson_get_string(h, "role");
    out->lan_ip = cjson_get_string(h, "lanIP");
    out->ssh_address = cjson_get_string(h, "ssh.address");
    out->podman_socket = cjson_get_string(h, "podmanSocket");
    if (!out->podman_socket || !*out->podman_socket)
        out->podman_socket = "/run/podman/podman.sock";
    if (!out->name || !*out->name)
        return omlop_err_set(err, OMLOP_EINVAL, "spec.hosts[%zu].name: missing", i);
    if (!out->lan_ip || !*out->lan_ip)
        return omlop_err_set(err, OMLOP_EINVAL, "spec.hosts[%zu].lanIP: missing (host %s)", i,
                             out->name);
    out->group = CATALOG_GROUP_EVERY;
    return 0;
}

/* Index of the one host with role, or an error naming what the layout needs. */
static int find_role(tv_tenant *t, const char *role, int *out, omlop_err *err)
{
    int found = -1, count = 0;

    for (size_t i = 0; i < t->n_hosts; i++) {
        if (t->hosts[i].role && strcmp(t->hosts[i].role, role) == 0) {
            if (found < 0)
                found = (int)i;
            count++;
        }
    }
    if (count != 1)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "spec.hosts: layout %s needs exactly one host with role %s (found "
                             "%d)",
                             t->layout_name, role, count);
    *out = found;
    return 0;
}

static int check_layout(tv_tenant *t, omlop_err *err)
{
    static const char *const cluster_roles[] = {"data", "voice", "app"};
    static const unsigned cluster_groups[] = {CATALOG_GROUP_DATA, CATALOG_GROUP_VOICE,
                                              CATALOG_GROUP_APP};
    int *cluster_idx[] = {&t->data_i, &t->voice_i, &t->app_i};
    int main_i, backup_i, rc;

    t->data_i = t->voice_i = t->app_i = -1;
    switch (t->layout) {
    case TV_LAYOUT_AIO:
        if (t->n_hosts != 1)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "spec.hosts: layout aio takes exactly one host (found %zu)",
                                 t->n_hosts);
        if (t->hosts[0].role && strcmp(t->hosts[0].role, "aio") != 0)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "spec.hosts[0].role: layout aio takes role aio or none, not %s",
                                 t->hosts[0].role);
        t->hosts[0].role = "aio";
        return 0;
    case TV_LAYOUT_CLUSTER:
        if (t->n_hosts != 3)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "spec.hosts: layout cluster takes three hosts, roles data, "
                                 "voice and app (found %zu hosts)",
                                 t->n_hosts);
        for (size_t r = 0; r < 3; r++) {
            if ((rc = find_role(t, cluster_roles[r], cluster_idx[r], err)) < 0)
                return rc;
            t->hosts[*cluster_idx[r]].group = cluster_groups[r];
        }
        return 0;
    case TV_LAYOUT_HA:
        if (t->n_hosts != 2)
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "spec.hosts: layout ha takes two hosts, roles main and backup "
                                 "(found %zu hosts)",
                                 t->n_hosts);
        if ((rc = find_role(t, "main", &main_i, err)) < 0 ||
            (rc = find_role(t, "backup", &backup_i, err)) < 0)
            return rc;
        if (!tv_spec_string(t, "ha.omnileadsVIP") || !tv_spec_string(t, "ha.postgresRWVIP") ||
            !tv_spec_string(t, "ha.postgresROVIP"))
            return omlop_err_set(err, OMLOP_EINVAL,
                                 "spec.ha: layout ha needs omnileadsVIP, postgresRWVIP and "
                                 "postgresROVIP");
        return 0;
    }
    return omlop_err_set(err, OMLOP_EINTERNAL, "unknown layout");
}

int tv_tenant_load(const json_object *tenant, tv_tenant *t, omlop_err *err)
{
    json_object *hosts;
    size_t n;
    int rc;

    memset(t, 0, sizeof(*t));
    t->obj = tenant;
    t->spec = cjson_get(tenant, "spec");
    t->name = cjson_get_string(tenant, "metadata.name");
    if (!t->name || !*t->name)
        return omlop_err_set(err, OMLOP_EINVAL, "metadata.name: missing (the tenant id)");
    if (!t->spec || !json_object_is_type((json_object *)t->spec, json_type_object))
        return omlop_err_set(err, OMLOP_EINVAL, "tenant %s: spec: missing", t->name);
    t->layout_name = cjson_get_string(t->spec, "layout");
    if (!t->layout_name)
        return omlop_err_set(err, OMLOP_EINVAL, "tenant %s: spec.layout: missing", t->name);
    if (strcmp(t->layout_name, "aio") == 0)
        t->layout = TV_LAYOUT_AIO;
    else if (strcmp(t->layout_name, "cluster") == 0)
        t->layout = TV_LAYOUT_CLUSTER;
    else if (strcmp(t->layout_name, "ha") == 0)
        t->layout = TV_LAYOUT_HA;
    else
        return omlop_err_set(err, OMLOP_EINVAL,
                             "tenant %s: spec.layout: \"%s\" is not aio, cluster or ha", t->name,
                             t->layout_name);

    hosts = cjson_get(t->spec, "hosts");
    if (!hosts || !json_object_is_type(hosts, json_type_array) ||
        json_object_array_length(hosts) == 0)
        return omlop_err_set(err, OMLOP_EINVAL, "tenant %s: spec.hosts: at least one host needed",
                             t->name);
    n = json_object_array_length(hosts);
    if (n > TV_MAX_HOSTS)
        return omlop_err_set(err, OMLOP_EINVAL, "tenant %s: spec.hosts: at most %d hosts", t->name,
                             TV_MAX_HOSTS);
    for (size_t i = 0; i < n; i++) {
        rc = host_load(json_object_array_get_idx(hosts, i), i, &t->hosts[i], err);

        if (rc < 0) {
            omlop_err_prefix(err, "tenant %s: ", t->name);
            return rc;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->hosts[j].name, t->hosts[i].name) == 0)
                return omlop_err_set(err, OMLOP_EINVAL,
                                     "tenant %s: spec.hosts[%zu].name: %s is used twice", t->name,
                                     i, t->hosts[i].name);
        t->n_hosts++;
    }
    if ((rc = check_layout(t, err)) < 0) {
        omlop_err_prefix(err, "tenant %s: ", t->name);
        return rc;
    }

    if (tv_spec_string(t, "database.host"))
        t->off |= CATALOG_OFF_EXT_POSTGRES;
    if (tv_spec_string(t, "objectStorage.bucketURL"))
        t->off |= CATALOG_OFF_EXT_BUCKET;
    if (tv_spec_string(t, "telephony.rtpengineHost"))
        t->off |= CATALOG_OFF_EXT_RTPENGINE;
    if (tv_spec_string(t, "redis.host"))
        t->off |= CATALOG_OFF_EXT_REDIS;
    if (!spec_bool_or(t, "observability.enabled", 1))
        t->off |= CATALOG_OFF_NO_METRICS | CATALOG_OFF_NO_LOKI;
    if (!tv_spec_string(t, "observability.lokiURL"))
        t->off |= CATALOG_OFF_NO_LOKI;
    if (t->layout != TV_LAYOUT_HA)
        t->off |= CATALOG_OFF_NOT_HA;
    return 0;
}

int tv_component_on_host(const tv_tenant *t, const catalog_component *c, size_t i)
{
    if (c->off_when & t->off)
        return 0;
    return (c->groups & t->hosts[i].group) != 0;
}

/* --- variables --------------------------------------------------------------------------- */

static tv_value *slot(tv_vars *vars, const char *name)
{
    for (size_t i = 0; i < vars->n; i++)
        if (strcmp(catalog_var_at(i)->name, name) == 0)
            return &vars->v[i];
    abort(); /* a name missing from the catalog's variable table is a bug */
}

static void set_text(tv_vars *vars, const char *name, const char *value)
{
    tv_value *v = slot(vars, name);

    if (value) {
        free(v->text);
        v->text = xstrdup(value);
    }
}

static void set_fmt(tv_vars *vars, const char *name, const char *fmt, ...) OMLOP_PRINTF(3, 4);

static void set_fmt(tv_vars *vars, const char *name, const char *fmt, ...)
{
    strbuf sb = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    free(slot(vars, name)->text);
    slot(vars, name)->text = strbuf_detach(&sb, NULL);
}

static void set_int(tv_vars *vars, const char *name, const tv_tenant *t, const char *path,
                    int64_t def)
{
    set_fmt(vars, name, "%" PRId64, cjson_get_int(t->spec, path, def));
}

static void set_secret(tv_vars *vars, const char *name, const char *secret, const char *key)
{
    tv_value *v = slot(vars, name);

    v->secret_name = xstrdup(secret);
    v->secret_key = xstrdup(key);
}

/* A Secret reference from spec (path.name, path.key) or the generated "<tenant><suffix>". */
static void set_secret_ref(tv_vars *vars, const char *name, const tv_tenant *t, const char *path,
                           const char *key_default, const char *gen_suffix)
{
    strbuf p = STRBUF_INIT, gen = STRBUF_INIT;
    const char *secret, *key;

    strbuf_addf(&p, "%s.name", path);
    secret = tv_spec_string(t, strbuf_str(&p));
    strbuf_reset(&p);
    strbuf_addf(&p, "%s.key", path);
    key = tv_spec_string(t, strbuf_str(&p));
    if (secret) {
        set_secret(vars, name, secret, key ? key : key_default);
    } else if (gen_suffix) {
        strbuf_addf(&gen, "%s%s", t->name, gen_suffix);
        set_secret(vars, name, strbuf_str(&gen), key_default);
    }
    strbuf_release(&p);
    strbuf_release(&gen);
}

static int set_public_ip(tv_vars *vars, const tv_tenant *t, const tv_host *h,
                         const desired_options *opts)
{
    const char *nat = tv_spec_string(t, "network.natIP");
    const char *infra = spec_string_or(t, "network.infraEnv", "cloud");
    tv_value *v = slot(vars, "public_ip");
    strbuf sb = STRBUF_INIT;

    if (nat && strcmp(nat, "auto") != 0) {
        set_text(vars, "public_ip", nat);
    } else if (strcmp(infra, "lan") == 0) {
        set_text(vars, "public_ip", h->lan_ip);
    } else if (opts && opts->public_ip && opts->public_ip(opts->public_ip_ctx, h->name, &sb) == 0 &&
               sb.len > 0) {
        set_text(vars, "public_ip", strbuf_str(&sb));
    } else if (opts && opts->allow_unresolved) {
        strbuf_reset(&sb);
        strbuf_addf(&sb, "<public-ip:%s>", h->name);
        set_text(vars, "public_ip", strbuf_str(&sb));
    } else {
        strbuf_reset(&sb);
        strbuf_addf(&sb,
                    "its public IP is not known yet (network.infraEnv %s%s); it is "
                    "discovered over SSH, or set network.natIP",
                    infra, nat ? ", natIP auto" : "");
        v->unresolved = strbuf_detach(&sb, NULL);
    }
    strbuf_release(&sb);
    if (nat) {
        tv_value *n = slot(vars, "nat_ip");

        if (v->text)
            n->text = xstrdup(v->text);
        else
            n->unresolved = xstrdup(v->unresolved);
    }
    return 0;
}

static void set_network(tv_vars *vars, const tv_tenant *t, const tv_host *h)
{
    const char *lan = h->lan_ip;
    const char *vip = tv_spec_string(t, "ha.omnileadsVIP");
    int aio = t->layout == TV_LAYOUT_AIO, ha = t->layout == TV_LAYOUT_HA;
    /* Where each role lives: cluster has one host per role; aio and ha run all on each node. */
    const char *data = t->layout == TV_LAYOUT_CLUSTER ? t->hosts[t->data_i].lan_ip : lan;
    const char *voice = t->layout == TV_LAYOUT_CLUSTER ? t->hosts[t->voice_i].lan_ip : lan;
    const char *app = t->layout == TV_LAYOUT_CLUSTER ? t->hosts[t->app_i].lan_ip : lan;

    set_text(vars, "omnileads_host", ha ? vip : app);
    set_text(vars, "asterisk_host", ha ? vip : voice);
    set_text(vars, "ari_host", aio ? "localhost" : ha ? vip : voice);
    set_text(vars, "rtpengine_host", spec_string_or(t, "telephony.rtpengineHost", voice));
    set_text(vars, "kamailio_host", aio ? "localhost" : app);
    set_text(vars, "kamailio_bind", aio ? "localhost" : lan);
    set_text(vars, "websockets_host", app);
    set_text(vars, "omlapp_host", app);
    set_text(vars, "redis_host", spec_string_or(t, "redis.host", data));
    set_int(vars, "redis_port", t, "redis.port", 6379);
    set_text(vars, "rabbitmq_host", data);
}

static void set_database(tv_vars *vars, const tv_tenant *t, const tv_host *h)
{
    const char *ext = tv_spec_string(t, "database.host");
    const char *ro = tv_spec_string(t, "database.readOnlyHost");
    int aio = t->layout == TV_LAYOUT_AIO, ha = t->layout == TV_LAYOUT_HA;
    const char *data = t->layout == TV_LAYOUT_CLUSTER ? t->hosts[t->data_i].lan_ip : h->lan_ip;

    if (ext)
        set_text(vars, "pg_host", ext);
    else if (ha)
        set_text(vars, "pg_host", tv_spec_string(t, "ha.postgresRWVIP"));
    else
        set_text(vars, "pg_host", aio ? "localhost" : data);
    if (!ext && !ha)
        set_text(vars, "pg_listen", aio ? "localhost" : h->lan_ip);
    set_text(vars, "pg_local_addr", aio ? "127.0.0.1" : h->lan_ip);
    set_int(vars, "pg_port", t, "database.port", 5432);
    set_text(vars, "pg_user", spec_string_or(t, "database.user", "omnileads"));
    set_text(vars, "pg_db", spec_string_or(t, "database.name", "omnileads"));
    set_text(vars, "pg_ssl", spec_bool_or(t, "database.ssl", 0) ? "true" : "false");
    set_secret_ref(vars, "pg_password", t, "database.passwordSecretRef", "password",
                   DESIRED_SECRET_POSTGRES);
    if (ext && ro)
        set_text(vars, "pg_ro_host", ro);
    else if (ha)
        set_text(vars, "pg_ro_host", tv_spec_string(t, "ha.postgresROVIP"));
    if (slot(vars, "pg_ro_host")->text)
        set_text(vars, "pg_ha", "true");
}

static void set_storage(tv_vars *vars, const tv_tenant *t, const tv_host *h)
{
    const char *url = tv_spec_string(t, "objectStorage.bucketURL");
    const char *fqdn = tv_spec_string(t, "network.fqdn");
    const char *infra = spec_string_or(t, "network.infraEnv", "cloud");
    int insecure = spec_bool_or(t, "objectStorage.insecureSkipTLSVerify", 0);
    const char *data = t->layout == TV_LAYOUT_CLUSTER ? t->hosts[t->data_i].lan_ip : h->lan_ip;
    const tv_value *pub = slot(vars, "public_ip");

    set_text(vars, "s3_bucket", spec_string_or(t, "objectStorage.bucketName", "omnileads"));
    set_text(vars, "s3_region", spec_string_or(t, "objectStorage.region", "us-east-1"));
    set_secret_ref(vars, "s3_access_key", t, "objectStorage.credentialsSecretRef", "accessKey",
                   DESIRED_SECRET_OBJECTSTORAGE);
    set_secret_ref(vars, "s3_secret_key", t, "objectStorage.credentialsSecretRef", "secretKey",
                   DESIRED_SECRET_OBJECTSTORAGE);
    if (url) {
        set_text(vars, "s3_endpoint", url);
        set_text(vars, "s3_public_endpoint", url);
        set_text(vars, "callrec_device", insecure ? "s3-no-check-cert" : "s3");
        set_text(vars, "callrec_backend_device", insecure ? "s3-no-check-cert" : "s3");
        return;
    }
    /* Bundled MinIO: the app reaches it directly, browsers through Nginx's /bucket proxy. */
    set_text(vars, "minio_host", data);
    if (t->layout == TV_LAYOUT_AIO)
        set_text(vars, "minio_console_addr", "localhost:9001");
    else
        set_fmt(vars, "minio_console_addr", "%s:9001", h->lan_ip);
    set_secret_ref(vars, "minio_root_user", t, "objectStorage.adminCredentialsSecretRef", "user",
                   DESIRED_SECRET_MINIO_ADMIN);
    set_secret_ref(vars, "minio_root_password", t, "objectStorage.adminCredentialsSecretRef",
                   "password", DESIRED_SECRET_MINIO_ADMIN);
    set_fmt(vars, "s3_endpoint", "http://%s:9000", data);
    set_fmt(vars, "s3_endpoint_minio", "http://%s:9000", data);
    set_text(vars, "callrec_device", "s3-minio");
    set_text(vars, "callrec_backend_device", "s3");
    if (fqdn) {
        set_fmt(vars, "s3_public_endpoint", "https://%s", fqdn);
    } else if (strcmp(infra, "cloud") == 0) {
        if (pub->text)
            set_fmt(vars, "s3_public_endpoint", "https://%s", pub->text);
        else
            slot(vars, "s3_public_endpoint")->unresolved = xstrdup(pub->unresolved);
    } else {
        set_fmt(vars, "s3_public_endpoint", "https://%s", slot(vars, "omnileads_host")->text);
    }
}

static void set_telephony(tv_vars *vars, const tv_tenant *t)
{
    const char *homer = tv_spec_string(t, "telephony.homerHost");
    json_object *scale = cjson_get(t->spec, "scaling.asterisk");

    set_text(vars, "ami_user", spec_string_or(t, "telephony.ami.user", "omnileads"));
    set_secret_ref(vars, "ami_password", t, "telephony.ami.passwordSecretRef", "password",
                   DESIRED_SECRET_AMI);
    set_int(vars, "shm_size", t, "telephony.kamailio.shmSize", 64);
    set_int(vars, "pkg_size", t, "telephony.kamailio.pkgSize", 8);
    set_text(vars, "homer_enable", homer ? "true" : "false");
    set_text(vars, "homer_host", homer);
    set_text(vars, "deploy_ha", t->layout == TV_LAYOUT_HA ? "True" : "false");
    if (t->layout == TV_LAYOUT_HA && ha_vrrp_version(t->spec) == 2) {
        strbuf vrrp = STRBUF_INIT;

        /* VRRPv2's PASS authentication only (reconcilers/ha.h): with VRRPv3 nothing references
         * the Secret, so it is not generated. Always the generated name: the spec has no field
         * for it (nothing outside omlop reads it) */
        strbuf_addf(&vrrp, "%s%s", t->name, DESIRED_SECRET_VRRP);
        set_secret(vars, "vrrp_password", strbuf_str(&vrrp), "password");
        strbuf_release(&vrrp);
    }
    set_text(vars, "asterisk_scale", scale ? "True" : "false");
    if (scale) {
        set_text(vars, "asterisk_mem_limit", tv_spec_string(t, "scaling.asterisk.memoryLimit"));
        if (cjson_get(t->spec, "scaling.asterisk.pjsipThreadpoolIdleTimeout"))
            set_int(vars, "pjsip_idle_timeout", t, "scaling.asterisk.pjsipThreadpoolIdleTimeout",
                    0);
        if (cjson_get(t->spec, "scaling.asterisk.pjsipThreadpoolMaxSize"))
            set_int(vars, "pjsip_max_size", t, "scaling.asterisk.pjsipThreadpoolMaxSize", 0);
    }
}

static void set_app(tv_vars *vars, const tv_tenant *t)
{
    json_object *uwsgi = cjson_get(t->spec, "scaling.uwsgi");
    json_object *cors = cjson_get(t->spec, "app.corsAllowedOrigins");
    const char *security = spec_string_or(t, "app.smtp.security", "starttls");

    set_text(vars, "uwsgi_custom", uwsgi ? "True" : "false");
    if (uwsgi) {
        set_int(vars, "uwsgi_processes", t, "scaling.uwsgi.processes", 4);
        set_int(vars, "uwsgi_threads", t, "scaling.uwsgi.threads", 1);
    }
    set_int(vars, "session_cookie_age", t, "app.sessionCookieAge", 3600);
    set_int(vars, "ephemeral_ttl", t, "app.ephemeralCredentialsTTL", 28800);
    set_int(vars, "login_failure_limit", t, "app.loginFailureLimit", 10);
    if (tv_spec_string(t, "app.dialer.host")) {
        set_text(vars, "dialer_host", tv_spec_string(t, "app.dialer.host"));
        set_text(vars, "dialer_user", spec_string_or(t, "app.dialer.user", "demoadmin"));
        set_secret_ref(vars, "dialer_password", t, "app.dialer.passwordSecretRef", "password",
                       NULL);
    }
    if (tv_spec_string(t, "app.smtp.host")) {
        set_text(vars, "email_backend", "django.core.mail.backends.smtp.EmailBackend");
        set_text(vars, "email_host", tv_spec_string(t, "app.smtp.host"));
        set_int(vars, "email_port", t, "app.smtp.port", 587);
        set_text(vars, "email_user", tv_spec_string(t, "app.smtp.user"));
        set_secret_ref(vars, "email_password", t, "app.smtp.passwordSecretRef", "password", NULL);
        set_text(vars, "email_from", tv_spec_string(t, "app.smtp.from"));
        if (strcmp(security, "starttls") == 0)
            set_text(vars, "email_use_tls", "True");
        else if (strcmp(security, "tls") == 0)
            set_text(vars, "email_use_ssl", "True");
    } else {
        set_text(vars, "email_backend", "django.core.mail.backends.dummy.EmailBackend");
    }
    if (cors && json_object_is_type(cors, json_type_array) && json_object_array_length(cors)) {
        strbuf sb = STRBUF_INIT;

        for (size_t i = 0; i < json_object_array_length(cors); i++) {
            const char *o = json_object_get_string(json_object_array_get_idx(cors, i));

            if (i)
                strbuf_addch(&sb, ',');
            strbuf_adds(&sb, o ? o : "");
        }
        set_text(vars, "cors_origins", strbuf_str(&sb));
        strbuf_release(&sb);
    }
}

int tv_vars_build(const tv_tenant *t, size_t i, const desired_options *opts, tv_vars *out,
                  omlop_err *err)
{
    const tv_host *h;

    out->n = catalog_var_count();
    out->v = xcalloc(out->n, sizeof(*out->v));
    if (i >= t->n_hosts)
        return omlop_err_set(err, OMLOP_EINTERNAL, "host index %zu out of range", i);
    h = &t->hosts[i];

    set_text(out, "tenant", t->name);
    set_text(out, "host_name", h->name);
    set_text(out, "tz", spec_string_or(t, "timeZone", "UTC"));
    set_text(out, "lan_ip", h->lan_ip);
    set_text(out, "infra_env", spec_string_or(t, "network.infraEnv", "cloud"));
    set_text(out, "fqdn", tv_spec_string(t, "network.fqdn"));
    set_text(out, "certs_dir", "/etc/omnileads/certs");
    set_text(out, "podman_socket", h->podman_socket);
    set_text(out, "loki_url", tv_spec_string(t, "observability.lokiURL"));
    set_public_ip(out, t, h, opts);
    set_network(out, t, h);
    set_database(out, t, h);
    set_storage(out, t, h);
    set_telephony(out, t);
    set_app(out, t);
    return 0;
}

void tv_vars_release(tv_vars *vars)
{
    for (size_t i = 0; vars->v && i < vars->n; i++) {
        free(vars->v[i].text);
        free(vars->v[i].secret_name);
        free(vars->v[i].secret_key);
        free(vars->v[i].unresolved);
    }
    free(vars->v);
    vars->v = NULL;
    vars->n = 0;
}

const tv_value *tv_vars_get(const tv_vars *vars, const char *name, size_t len)
{
    for (size_t i = 0; i < vars->n; i++) {
        const char *n = catalog_var_at(i)->name;

        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return &vars->v[i];
    }
    return NULL;
}

int tv_value_is_defined(const tv_value *v)
{
    return v && (v->text || v->secret_name || v->unresolved);
}
