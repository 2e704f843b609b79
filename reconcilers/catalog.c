/*
 * catalog: the component table. Adding or changing a component is an edit of
 * the table below, nothing else; catalog_check() (run by the unit tests) keeps
 * the table honest.
 */
#include "reconcilers/catalog.h"

#include <string.h>

/* --- template variables ------------------------------------------------------------------ */

#define VAR(n, doc)                                                                                \
    {                                                                                              \
        n, 0, 0, doc                                                                               \
    }
#define VAR_OPT(n, doc)                                                                            \
    {                                                                                              \
        n, 0, 1, doc                                                                               \
    }
#define SECRET(n, doc)                                                                             \
    {                                                                                              \
        n, 1, 0, doc                                                                               \
    }
#define SECRET_OPT(n, doc)                                                                         \
    {                                                                                              \
        n, 1, 1, doc                                                                               \
    }

static const catalog_var vars[] = {
    VAR("tenant", "metadata.name"),
    VAR("host_name", "spec.hosts[].name of the host the container runs on"),
    VAR("tz", "spec.timeZone"),
    VAR("lan_ip", "spec.hosts[].lanIP of the host the container runs on"),
    VAR("infra_env", "spec.network.infraEnv"),
    VAR("public_ip", "spec.network.natIP if an address; the lanIP for infraEnv lan; otherwise "
                     "the host's discovered public address"),
    VAR_OPT("nat_ip", "spec.network.natIP (discovered when auto); absent without natIP"),
    VAR_OPT("fqdn", "spec.network.fqdn"),
    VAR("omnileads_host", "web entry point: the app (aio) host's lanIP; ha: spec.ha.omnileadsVIP"),
    VAR("asterisk_host", "the voice (aio) host's lanIP; ha: spec.ha.omnileadsVIP"),
    VAR("ari_host", "Asterisk ARI for the config retriever: localhost (aio), the voice lanIP "
                    "(cluster), spec.ha.omnileadsVIP (ha)"),
    VAR("rtpengine_host", "spec.telephony.rtpengineHost, else the voice (aio) host's lanIP"),
    VAR("kamailio_host", "localhost (aio), the app host's lanIP (cluster, ha)"),
    VAR("kamailio_bind", "address Kamailio binds: localhost (aio), else the host's lanIP"),
    VAR("websockets_host", "the app (aio) host's lanIP"),
    VAR("omlapp_host", "where uWSGI and Daphne listen: the app (aio) host's lanIP"),
    VAR("pg_host", "spec.database.host, else localhost (aio), the data host's lanIP "
                   "(cluster), spec.ha.postgresRWVIP (ha)"),
    VAR_OPT("pg_listen", "listen_addresses of the bundled PostgreSQL: localhost (aio), the "
                         "data lanIP (cluster); absent for ha (the repmgr image decides)"),
    VAR("pg_local_addr", "address to probe the bundled PostgreSQL on from its own host"),
    VAR("pg_port", "spec.database.port"),
    VAR("pg_user", "spec.database.user"),
    VAR("pg_db", "spec.database.name"),
    VAR("pg_ssl", "spec.database.ssl as true|false"),
    SECRET("pg_password", "spec.database.passwordSecretRef, else the generated Secret "
                          "<tenant>-postgres key password"),
    VAR_OPT("pg_ha", "true when a read-only PostgreSQL exists (ha layout or "
                     "spec.database.readOnlyHost)"),
    VAR_OPT("pg_ro_host", "spec.database.readOnlyHost, or spec.ha.postgresROVIP (ha)"),
    VAR("redis_host", "spec.redis.host, else the data (aio, ha: own) host's lanIP"),
    VAR("redis_port", "spec.redis.port, else 6379"),
    VAR("rabbitmq_host", "the data (aio, ha: own) host's lanIP"),
    VAR_OPT("minio_host", "bundled MinIO only: the data (aio, ha: own) host's lanIP"),
    VAR_OPT("minio_console_addr", "bundled MinIO only: localhost:9001 (aio), else <lanIP>:9001"),
    SECRET("minio_root_user", "spec.objectStorage.adminCredentialsSecretRef key user, else "
                              "the generated Secret <tenant>-minio-admin"),
    SECRET("minio_root_password", "spec.objectStorage.adminCredentialsSecretRef key password, "
                                  "else the generated Secret <tenant>-minio-admin"),
    VAR("s3_endpoint", "spec.objectStorage.bucketURL, else http://<minio_host>:9000"),
    VAR("s3_public_endpoint", "the S3 URL browsers use: bucketURL; for MinIO https://<fqdn>, "
                              "https://<public_ip> (cloud) or https://<omnileads_host>"),
    VAR_OPT("s3_endpoint_minio", "bundled MinIO only: http://<minio_host>:9000"),
    VAR("callrec_device", "the web app's storage mode: s3-minio (bundled), s3, or "
                          "s3-no-check-cert (insecureSkipTLSVerify)"),
    VAR("callrec_backend_device", "the telephony side's storage mode: s3 or s3-no-check-cert"),
    VAR("s3_bucket", "spec.objectStorage.bucketName"),
    VAR("s3_region", "spec.objectStorage.region"),
    SECRET("s3_access_key", "spec.objectStorage.credentialsSecretRef key accessKey, else the "
                            "generated Secret <tenant>-objectstorage"),
    SECRET("s3_secret_key", "spec.objectStorage.credentialsSecretRef key secretKey, else the "
                            "generated Secret <tenant>-objectstorage"),
    VAR("ami_user", "spec.telephony.ami.user"),
    SECRET("ami_password", "spec.telephony.ami.passwordSecretRef, else the generated Secret "
                           "<tenant>-ami key password"),
    VAR("shm_size", "spec.telephony.kamailio.shmSize"),
    VAR("pkg_size", "spec.telephony.kamailio.pkgSize"),
    VAR("homer_enable", "true when spec.telephony.homerHost is set"),
    VAR_OPT("homer_host", "spec.telephony.homerHost"),
    VAR("deploy_ha", "True for layout ha, else false"),
    VAR("asterisk_scale", "True when spec.scaling.asterisk exists, else false"),
    VAR_OPT("asterisk_mem_limit", "spec.scaling.asterisk.memoryLimit"),
    VAR_OPT("pjsip_idle_timeout", "spec.scaling.asterisk.pjsipThreadpoolIdleTimeout"),
    VAR_OPT("pjsip_max_size", "spec.scaling.asterisk.pjsipThreadpoolMaxSize"),
    VAR("uwsgi_custom", "True when spec.scaling.uwsgi exists, else false"),
    VAR_OPT("uwsgi_processes", "spec.scaling.uwsgi.processes"),
    VAR_OPT("uwsgi_threads", "spec.scaling.uwsgi.threads"),
    VAR("session_cookie_age", "spec.app.sessionCookieAge"),
    VAR("ephemeral_ttl", "spec.app.ephemeralCredentialsTTL"),
    VAR("login_failure_limit", "spec.app.loginFailureLimit"),
    VAR_OPT("dialer_host", "spec.app.dialer.host"),
    VAR_OPT("dialer_user", "spec.app.dialer.user"),
    SECRET_OPT("dialer_password", "spec.app.dialer.passwordSecretRef"),
    VAR("email_backend", "the Django SMTP backend with spec.app.smtp, else the dummy backend"),
    VAR_OPT("email_host", "spec.app.smtp.host"),
    VAR_OPT("email_port", "spec.app.smtp.port"),
    VAR_OPT("email_user", "spec.app.smtp.user"),
    SECRET_OPT("email_password", "spec.app.smtp.passwordSecretRef"),
    VAR_OPT("email_from", "spec.app.smtp.from"),
    VAR_OPT("email_use_tls", "True when spec.app.smtp.security is starttls"),
    VAR_OPT("email_use_ssl", "True when spec.app.smtp.security is tls"),
    VAR_OPT("cors_origins", "spec.app.corsAllowedOrigins joined with commas"),
    VAR("certs_dir", "/etc/omnileads/certs (written by the TLS reconciler)"),
    VAR("podman_socket", "spec.hosts[].podmanSocket"),
    VAR_OPT("loki_url", "spec.observability.lokiURL"),
    SECRET_OPT("vrrp_password", "ha with spec.ha.vrrpVersion 2 only: the generated Secret "
                                "<tenant>-vrrp key password (VRRP PASS authentication: keepalived "
                                "uses its first 8 characters)"),
};

/* --- shared env sets --------------------------------------------------------------------- */

/* What uWSGI, Daphne and the cron container share (2.X django.env, daphne.env, omlcron.env). */
static const catalog_env env_django[] = {
    {"TZ", "{tz}"},
    {"AMI_USER", "{ami_user}"},
    {"AMI_PASSWORD", "{ami_password}"},
    {"DJANGO_HOSTNAME", "localhost"},
    {"ASTERISK_LOCATION", "/opt/omnileads/asterisk"},
    {"ASTERISK_HOSTNAME", "{asterisk_host}"},
    {"KAMAILIO_HOSTNAME", "{kamailio_host}"},
    {"PYTHONPATH", "/opt/omnileads/ominicontacto"},
    {"INSTALL_PREFIX", "/opt/omnileads/"},
    {"CALIFICACION_REAGENDA", "Agenda"},
    {"DJANGO_SETTINGS_MODULE", "ominicontacto.settings.production"},
    {"EPHEMERAL_USER_TTL", "{ephemeral_ttl}"},
    {"LOGIN_FAILURE_LIMIT", "{login_failure_limit}"},
    {"OMNILEADS_HOSTNAME", "{omnileads_host}"},
    {"PGHOST", "{pg_host}"},
    {"PGDATABASE", "{pg_db}"},
    {"PGPORT", "{pg_port}"},
    {"PGUSER", "{pg_user}"},
    {"PGPASSWORD", "{pg_password}"},
    {"PGHOSTHA", "{pg_ha}"},
    {"PGHOSTRO", "{pg_ro_host}"},
    {"REDIS_HOSTNAME", "{redis_host}"},
    {"REDIS_PORT", "{redis_port}"},
    {"SESSION_COOKIE_AGE", "{session_cookie_age}"},
    {"WEBSOCKET_HOST", "{websockets_host}"},
    {"WEBSOCKET_PORT", "8000"},
    {"WOMBAT_HOSTNAME", "{dialer_host}"},
    {"WOMBAT_USER", "{dialer_user}"},
    {"WOMBAT_PASSWORD", "{dialer_password}"},
    {"MONITORFORMAT", "mp3"},
    {"S3_STORAGE_ENABLED", "true"},
    {"S3_BUCKET_NAME", "{s3_bucket}"},
    {"AWS_ACCESS_KEY_ID", "{s3_access_key}"},
    {"AWS_SECRET_ACCESS_KEY", "{s3_secret_key}"},
    {"AWS_DEFAULT_REGION", "{s3_region}"},
    {"CALLREC_DEVICE", "{callrec_device}"},
    {"S3_ENDPOINT", "{s3_public_endpoint}"},
    {"S3_ENDPOINT_MINIO", "{s3_endpoint_minio}"},
    {"EMAIL_BACKEND", "{email_backend}"},
    {"DEFAULT_FROM_EMAIL", "{email_from}"},
    {"EMAIL_HOST", "{email_host}"},
    {"EMAIL_PORT", "{email_port}"},
    {"EMAIL_HOST_USER", "{email_user}"},
    {"EMAIL_HOST_PASSWORD", "{email_password}"},
    {"EMAIL_USE_TLS", "{email_use_tls}"},
    {"EMAIL_USE_SSL", "{email_use_ssl}"},
    {"CUSTOM_CORS_ALLOWED_ORIGINS", "{cors_origins}"},
    {"DJANGO_ALLOW_ASYNC_UNSAFE", "true"},
    {NULL, NULL},
};

#define OMLAPP_IMAGE                                                                               \
    {                                                                                              \
        "omlapp", "omlapp", "241121.01", NULL, NULL, 1                                             \
    }
#define NO_IMAGE                                                                                   \
    {                                                                                              \
        NULL, NULL, NULL, NULL, NULL, 0                                                            \
    }
#define MIB ((int64_t)1024 * 1024)

/* --- the table, in start order (matrix.yml) ---------------------------------------------- */

static const catalog_component components[] = {
    {
        .name = "minio",
        .container = "oml-minio-server",
        .summary = "S3 object storage for recordings and media (bundled MinIO)",
        .image = {NULL, NULL, NULL, "minio", "quay.io/minio/minio:RELEASE.2023-09-27T15-22-50Z", 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/minio.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"MINIO_ROOT_USER", "{minio_root_user}"},
                                     {"MINIO_ROOT_PASSWORD", "{minio_root_password}"},
                                     {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){{"oml_minio", "/data", 0, NULL, 0}, {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"server", "/data", "--console-address",
                                         "{minio_console_addr}", NULL},
        .order = 10,
        .groups = CATALOG_GROUP_DATA,
        .off_when = CATALOG_OFF_EXT_BUCKET,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{minio_host}",
        .ready_port = 9000,
        .ready_start_s = 2,
    },
    {
        .name = "postgresql",
        .container = "oml-postgresql-server",
        .summary = "PostgreSQL database (bundled; repmgr image for layout ha)",
        .image = {NULL, NULL, NULL, "postgres", "docker.io/postgres:14.9-bullseye", 0},
        .image_ha = {"postgres", "postgresHA", "240902.02", NULL, NULL, 0},
        .is_host_network = 1,
        .env_file = "/etc/default/postgres.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"POSTGRES_USER", "{pg_user}"},
                                     {"POSTGRES_PASSWORD", "{pg_password}"},
                                     {"POSTGRES_DB", "{pg_db}"},
                                     {"PGHOSTHA", "{pg_ha}"},
                                     {"PGHOSTRO", "{pg_ro_host}"},
                                     {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){{"oml_postgres", "/var/lib/postgresql/data", 0, NULL, 0},
                                     {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"postgres", "-c", "listen_addresses={pg_listen}", NULL},
        .order = 20,
        .groups = CATALOG_GROUP_DATA,
        .off_when = CATALOG_OFF_EXT_POSTGRES,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{pg_local_addr}",
        .ready_port = 5432,
        .ready_start_s = 2,
        .stop_timeout_s = 30, /* a clean shutdown writes a checkpoint: do not cut it short */
    },
    {
        .name = "redis",
        .container = "oml-redis-server",
        .summary = "Redis (RedisGears) for sessions, queues and presence",
        .image = {"redis", "redis", "231125.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/redis.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"REDISGEARS_VERSION", "1.0.9"},
                                     {"BIND_IP", "{redis_host}"},
                                     {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){{"oml_redis", "/data", 0, NULL, 0}, {NULL, NULL, 0, NULL, 0}},
        .order = 30,
        .groups = CATALOG_GROUP_DATA,
        .off_when = CATALOG_OFF_EXT_REDIS,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{redis_host}",
        .ready_port = 6379,
        .ready_start_s = 1,
    },
    {
        .name = "rabbitmq",
        .container = "oml-rabbitmq-server",
        .summary = "RabbitMQ feeding the interaction processor",
        .image = {NULL, NULL, NULL, "rabbitmq", "docker.io/rabbitmq:3.12", 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/rabbitmq.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"}, {NULL, NULL}},
        .volumes = (const catalog_volume[]){{"oml_rabbitmq", "/var/lib/rabbitmq", 0, NULL, 0},
                                            {NULL, NULL, 0, NULL, 0}},
        .order = 40,
        .groups = CATALOG_GROUP_DATA,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{rabbitmq_host}",
        .ready_port = 5672,
        .ready_start_s = 5,
    },
    {
        .name = "rtpengine",
        .container = "oml-rtpengine-server",
        .summary = "RTPengine media relay (WebRTC <-> RTP)",
        .image = {"rtpengine", "rtpengine", "240625.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/rtpengine.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"RTPENGINE_HOSTNAME", "{lan_ip}"},
                                     {"ENV", "{infra_env}"},
                                     {"PUBLIC_IP", "{nat_ip}"},
                                     {"SCALE", "false"},
                                     {NULL, NULL}},
        /* omlop's addition: lets rtpengine use in-kernel forwarding when the module is loaded. */
        .cap_add = (const char *const[]){"NET_ADMIN", NULL},
        .order = 50,
        .groups = CATALOG_GROUP_VOICE,
        .off_when = CATALOG_OFF_EXT_RTPENGINE,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 3,
    },
    {
        .name = "fastagi",
        .container = "oml-fastagi-server",
        .summary = "FastAGI server Asterisk's dialplan calls into",
        .image = {"fastagi", "fastagi", "241017.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/fastagi.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"AMI_USER", "{ami_user}"},
                                     {"AMI_PASSWORD", "{ami_password}"},
                                     {"ASTERISK_HOSTNAME", "{asterisk_host}"},
                                     {"OMNILEADS_HOSTNAME", "{omnileads_host}"},
                                     {"PGHOST", "{pg_host}"},
                                     {"PGDATABASE", "{pg_db}"},
                                     {"PGPORT", "{pg_port}"},
                                     {"PGUSER", "{pg_user}"},
                                     {"PGPASSWORD", "{pg_password}"},
                                     {"PGHOSTHA", "{pg_ha}"},
                                     {"PGHOSTRO", "{pg_ro_host}"},
                                     {"REDIS_HOSTNAME", "{redis_host}"},
                                     {"REDIS_PORT", "{redis_port}"},
                                     {"S3_BUCKET_NAME", "{s3_bucket}"},
                                     {"AWS_ACCESS_KEY_ID", "{s3_access_key}"},
                                     {"AWS_SECRET_ACCESS_KEY", "{s3_secret_key}"},
                                     {"S3_ENDPOINT", "{s3_endpoint}"},
                                     {NULL, NULL}},
        .order = 60,
        .groups = CATALOG_GROUP_APP,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 3,
    },
    {
        .name = "asterisk",
        .container = "oml-asterisk-server",
        .summary = "Asterisk PBX (ACD, dialplan, recordings)",
        .image = {"asterisk", "asterisk", "240920.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/asterisk.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"ENV", "{infra_env}"},
                                     {"FULL_LOGS", "false"},
                                     {"CALLREC_DEVICE", "{callrec_backend_device}"},
                                     {"ASTERISK_PUBLIC_IP", "{public_ip}"},
                                     {"AMI_USER", "{ami_user}"},
                                     {"AMI_PASSWORD", "{ami_password}"},
                                     {"OMNILEADS_HOSTNAME", "{omnileads_host}"},
                                     {"REDIS_HOSTNAME", "{redis_host}"},
                                     {"PGHOST", "{pg_host}"},
                                     {"PGPORT", "{pg_port}"},
                                     {"PGUSER", "{pg_user}"},
                                     {"PGDATABASE", "{pg_db}"},
                                     {"PGPASSWORD", "{pg_password}"},
                                     {"PGSSL", "{pg_ssl}"},
                                     {"HOMER_ENABLE", "{homer_enable}"},
                                     {"HOMERHOST", "{homer_host}"},
                                     {"HOMERPORT", "9060"},
                                     {"S3_BUCKET_NAME", "{s3_bucket}"},
                                     {"AWS_ACCESS_KEY_ID", "{s3_access_key}"},
                                     {"AWS_SECRET_ACCESS_KEY", "{s3_secret_key}"},
                                     {"AWS_DEFAULT_REGION", "{s3_region}"},
                                     {"S3_ENDPOINT", "{s3_endpoint}"},
                                     {"DEPLOY_HA", "{deploy_ha}"},
                                     {"ASTERISK_HOSTNAME", "{asterisk_host}"},
                                     {"HOSTNAME", "{lan_ip}"},
                                     {"SCALE", "{asterisk_scale}"},
                                     {"MEM_LIMIT", "{asterisk_mem_limit}"},
                                     {"THREADPOOL_IDLE_TIMEOUT", "{pjsip_idle_timeout}"},
                                     {"THREADPOOL_MAX_SIZE", "{pjsip_max_size}"},
                                     {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){
                {"asterisk_conf", "/etc/asterisk", 0, NULL, 0},
                {"asterisk_sounds", "/var/lib/asterisk/sounds/oml", 0, NULL, 0},
                {"asterisk_callrec", "/var/spool/asterisk/monitor", 0, NULL, 0},
                {NULL, NULL, 0, NULL, 0}},
        .mem_rule = CATALOG_MEM_ASTERISK_SCALE,
        .order = 70,
        .groups = CATALOG_GROUP_VOICE,
        .is_ha_active_only = 1,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 5,
    },
    {
        .name = "asterisk_retrieve_conf",
        .container = "oml-asterisk-retrieve-conf",
        .summary = "Fetches the Asterisk configuration the web app generates",
        .image = {"acd_retrieve_conf", "asteriskRetrieveConf", "240729.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/asterisk_retrieve_conf.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"OMNILEADS_HOSTNAME", "{omnileads_host}"},
                                     {"ARI_USER", "{ami_user}"},
                                     {"ARI_PASS", "{ami_password}"},
                                     {"ARI_HOST", "{ari_host}"},
                                     {NULL, NULL}},
        .volumes = (const catalog_volume[]){{"asterisk_conf", "/etc/asterisk", 0, NULL, 0},
                                            {"asterisk_sounds", "/var/lib/asterisk/sounds/oml", 0,
                                             NULL, 0},
                                            {NULL, NULL, 0, NULL, 0}},
        .order = 75,
        .groups = CATALOG_GROUP_VOICE,
        .is_ha_active_only = 1,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 3,
    },
    {
        .name = "kamailio",
        .container = "oml-kamailio-server",
        .summary = "Kamailio SIP proxy for the agents' WebRTC phones",
        .image = {"kamailio", "kamailio", "240625.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/kamailio.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"KAMAILIO_HOSTNAME", "{kamailio_bind}"},
                                     {"KAMAILIO_CERTS_LOCATION", "{certs_dir}"},
                                     {"REDIS_HOSTNAME", "{redis_host}"},
                                     {"SHM_SIZE", "{shm_size}"},
                                     {"PKG_SIZE", "{pkg_size}"},
                                     {"RTPENGINE_HOSTNAME", "{rtpengine_host}"},
                                     {"ASTERISK_HOSTNAME", "{asterisk_host}"},
                                     {NULL, NULL}},
        .volumes = (const catalog_volume[]){{"/etc/omnileads/certs", "/etc/omnileads/certs", 1,
                                             NULL, 0755},
                                            {NULL, NULL, 0, NULL, 0}},
        .order = 80,
        .groups = CATALOG_GROUP_APP,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 3,
    },
    {
        .name = "astami",
        .container = "oml-ami-server",
        .summary = "Asterisk Manager Interface bridge for the web app",
        .image = {"astami", "astami", "241017.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/ami.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"AMI_USER", "{ami_user}"},
                                     {"AMI_PASSWORD", "{ami_password}"},
                                     {"REDIS_HOSTNAME", "{redis_host}"},
                                     {"ASTERISK_HOSTNAME", "{asterisk_host}"},
                                     {NULL, NULL}},
        .order = 90,
        .groups = CATALOG_GROUP_APP,
        .is_ha_active_only = 1,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 3,
    },
    {
        .name = "websockets",
        .container = "oml-websockets-server",
        .summary = "Websockets server pushing events to the agents' browsers",
        .image = {"websockets", "websockets", "240705.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/websockets.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"EVENT_LOOP", "uvloop"},
                                     {"LOGGERS", "INFO:websockets.server"},
                                     {"DEBUG_EVENT_LOOP", "off"},
                                     {"BIND_ADDRESS", "{lan_ip}:8000"},
                                     {"REDIS_HOST", "redis://{redis_host}:{redis_port}"},
                                     {NULL, NULL}},
        .order = 100,
        .groups = CATALOG_GROUP_APP,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 8000,
        .ready_start_s = 2,
    },
    {
        .name = "daphne",
        .container = "oml-daphne-server",
        .summary = "Daphne (ASGI) for the web app's websocket views",
        .image = OMLAPP_IMAGE,
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/daphne.env",
        .env_common = env_django,
        .env =
            (const catalog_env[]){{"DAPHNE_ENABLE", "True"}, {"DAPHNE_PORT", "8098"}, {NULL, NULL}},
        .order = 110,
        .groups = CATALOG_GROUP_APP,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 8098,
        .ready_start_s = 5,
    },
    {
        .name = "omlapp",
        .container = "oml-uwsgi-server",
        .summary = "The OMniLeads web application (Django under uWSGI)",
        .image = OMLAPP_IMAGE,
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/django.env",
        .env_common = env_django,
        .env = (const catalog_env[]){{"UWSGI_CUSTOM", "{uwsgi_custom}"},
                                     {"UWSGI_PROCESSES", "{uwsgi_processes}"},
                                     {"UWSGI_THREADS", "{uwsgi_threads}"},
                                     {"CRON_ENABLE", "false"},
                                     {"UWSGI_PORT", "8099"},
                                     {"DJANGO_LOG_LEVEL", "INFO"},
                                     {NULL, NULL}},
        .volumes = (const catalog_volume[]){{"django_static", "/opt/omnileads/static", 0, NULL, 0},
                                            {"django_callrec_zip",
                                             "/opt/omnileads/asterisk/var/spool/asterisk/monitor",
                                             0, NULL, 0},
                                            {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"/opt/omnileads/bin/init_uwsgi.sh", NULL},
        .order = 120,
        .groups = CATALOG_GROUP_APP,
        .is_ha_active_only = 1,
        /* 2.X's MASTER transition ran `oml_manage --redis_sync`, which is this in the app
         * container: Redis' Asterisk data regenerated from the database */
        .ha_on_active = (const char *const[]){"python3", "/opt/omnileads/ominicontacto/manage.py",
                                              "regenerar_asterisk", NULL},
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 8099,
        .ready_start_s = 10,
    },
    {
        .name = "interaction_processor",
        .container = "oml-interaction_processor-server",
        .summary = "Processes call recordings and interactions from RabbitMQ",
        .image = {"interaction_processor", "interactionProcessor", "240506.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/interaction_processor.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"RABBITMQ_HOST", "{rabbitmq_host}"},
                                     {"S3_BUCKET_NAME", "{s3_bucket}"},
                                     {"S3_ENDPOINT", "{s3_endpoint}"},
                                     {"AWS_ACCESS_KEY_ID", "{s3_access_key}"},
                                     {"AWS_SECRET_ACCESS_KEY", "{s3_secret_key}"},
                                     {"AWS_DEFAULT_REGION", "{s3_region}"},
                                     {"CALLREC_DEVICE", "{callrec_backend_device}"},
                                     {NULL, NULL}},
        .volumes = (const catalog_volume[]){{"asterisk_callrec", "/var/spool/asterisk/monitor", 0,
                                             NULL, 0},
                                            {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"python", "/app/app.py", NULL},
        .order = 130,
        .groups = CATALOG_GROUP_VOICE,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 3,
    },
    {
        .name = "nginx",
        .container = "oml-nginx-server",
        .summary = "Nginx: HTTPS front end, static files, proxy to uWSGI/Daphne/Kamailio",
        .image = {"nginx", "nginx", "241009.01", NULL, NULL, 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/nginx.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"DJANGO_HOSTNAME", "{omlapp_host}"},
                                     {"DAPHNE_HOSTNAME", "{omlapp_host}"},
                                     {"KAMAILIO_HOSTNAME", "{kamailio_host}"},
                                     {"WEBSOCKETS_HOSTNAME", "{websockets_host}"},
                                     {"ENV", "prodenv"},
                                     {"S3_ENDPOINT", "{s3_endpoint}"},
                                     {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){
                {"/etc/omnileads/certs", "/etc/omnileads/certs", 1, NULL, 0755},
                {"django_static", "/opt/omnileads/static", 0, NULL, 0},
                {"django_callrec_zip", "/opt/omnileads/asterisk/var/spool/asterisk/monitor", 0,
                 NULL, 0},
                {NULL, NULL, 0, NULL, 0}},
        .order = 140,
        .groups = CATALOG_GROUP_APP,
        .is_ha_active_only = 1,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 443,
        .ready_start_s = 2,
    },
    {
        .name = "omlcron",
        .container = "oml-cron-server",
        .summary = "The web app's scheduled jobs",
        .image = OMLAPP_IMAGE,
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/omlcron.env",
        .env_common = env_django,
        .env = (const catalog_env[]){{"UWSGI_PORT", "8097"}, {NULL, NULL}},
        .order = 150,
        .groups = CATALOG_GROUP_APP,
        .is_ha_active_only = 1,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 3,
    },
    {
        /* Not a 2.X container (2.X installed keepalived on the host): omlop runs it from an
         * image with keepalived, bash, curl and iproute2 (the lab builds one, e2e/lab). Last of
         * the application components: its track script finds what it watches in place, and its
         * notify script finds the active-only containers to start (docs/ha.md). */
        .name = "keepalived",
        .container = "oml-keepalived",
        .summary = "keepalived (VRRP): the OMniLeads VIP and the active-only components (ha)",
        .image = {NULL, NULL, NULL, "keepalived", "docker.io/omnileads/keepalived:2.2.7-bookworm",
                  0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/keepalived.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"VRRP_AUTH_PASS", "{vrrp_password}"},
                                     {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){{"{podman_socket}", "/run/podman/podman.sock", 0, NULL, 0},
                                     {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"bash", "/etc/omlop/keepalived-run.sh", NULL},
        .cap_add = (const char *const[]){"NET_ADMIN", "NET_BROADCAST", "NET_RAW", NULL},
        .order = 155,
        .groups = CATALOG_GROUP_EVERY,
        .off_when = CATALOG_OFF_NOT_HA,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 2,
        .file_kind = CATALOG_FILE_KEEPALIVED,
        .file_path = "/etc/omnileads/keepalived-run.sh",
        .file_target = "/etc/omlop/keepalived-run.sh",
    },
    {
        .name = "node_exporter",
        .container = "oml-prometheus-node",
        .summary = "Prometheus node exporter (host metrics), on every host",
        .image = {NULL, NULL, NULL, "nodeExporter", "docker.io/prom/node-exporter:v1.7.0", 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/prometheus_node.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"}, {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){{"/", "/host", 1, "rslave", 0}, {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"--path.rootfs=/host",
                                         "--web.listen-address={lan_ip}:9100", NULL},
        .order = 160,
        .groups = CATALOG_GROUP_EVERY,
        .off_when = CATALOG_OFF_NO_METRICS,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 9100,
        .ready_start_s = 1,
    },
    {
        .name = "podman_exporter",
        .container = "oml-prometheus-podman",
        .summary = "Prometheus Podman exporter (container metrics), on every host",
        .image = {NULL, NULL, NULL, "podmanExporter",
                  "quay.io/navidys/prometheus-podman-exporter:latest", 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/prometheus_podman.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"CONTAINER_HOST", "unix:///run/podman/podman.sock"},
                                     {NULL, NULL}},
        .volumes =
            (const catalog_volume[]){{"{podman_socket}", "/run/podman/podman.sock", 0, NULL, 0},
                                     {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"--web.listen-address={lan_ip}:9882", NULL},
        .order = 161,
        .groups = CATALOG_GROUP_EVERY,
        .off_when = CATALOG_OFF_NO_METRICS,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 9882,
        .ready_start_s = 1,
    },
    {
        .name = "postgres_exporter",
        .container = "oml-prometheus-postgres",
        .summary = "Prometheus PostgreSQL exporter, next to the bundled PostgreSQL",
        .image = {NULL, NULL, NULL, "postgresExporter",
                  "docker.io/prometheuscommunity/postgres-exporter:latest", 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/prometheus_postgres.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"DATA_SOURCE_URI",
                                      "{pg_host}:{pg_port}/{pg_db}?sslmode=disable"},
                                     {"DATA_SOURCE_USER", "{pg_user}"},
                                     {"DATA_SOURCE_PASS", "{pg_password}"},
                                     {"PG_EXPORTER_WEB_LISTEN_ADDRESS", "{lan_ip}:9187"},
                                     {NULL, NULL}},
        .order = 162,
        .groups = CATALOG_GROUP_DATA,
        .off_when = CATALOG_OFF_NO_METRICS | CATALOG_OFF_EXT_POSTGRES,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 9187,
        .ready_start_s = 1,
    },
    {
        .name = "redis_exporter",
        .container = "oml-prometheus-redis",
        .summary = "Prometheus Redis exporter, next to the bundled Redis",
        .image = {NULL, NULL, NULL, "redisExporter", "docker.io/oliver006/redis_exporter:latest",
                  0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/prometheus_redis.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"},
                                     {"REDIS_ADDR", "redis://{redis_host}:{redis_port}"},
                                     {"REDIS_EXPORTER_WEB_LISTEN_ADDRESS", "{lan_ip}:9121"},
                                     {NULL, NULL}},
        .order = 163,
        .groups = CATALOG_GROUP_DATA,
        .off_when = CATALOG_OFF_NO_METRICS | CATALOG_OFF_EXT_REDIS,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 9121,
        .ready_start_s = 1,
    },
    {
        .name = "prometheus",
        .container = "oml-prometheus-server",
        .summary = "Prometheus scraping the tenant's exporters (LAN port 9090)",
        .image = {NULL, NULL, NULL, "prometheus", "docker.io/prom/prometheus:v2.49.1", 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/prometheus.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"}, {NULL, NULL}},
        .volumes = (const catalog_volume[]){{"oml_prometheus", "/prometheus", 0, NULL, 0},
                                            {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"--config.file=/etc/prometheus/prometheus.yml",
                                         "--storage.tsdb.path=/prometheus",
                                         "--storage.tsdb.retention.time=30d",
                                         "--web.listen-address={lan_ip}:9090",
                                         "--web.enable-lifecycle", NULL},
        .order = 165,
        .groups = CATALOG_GROUP_APP,
        .off_when = CATALOG_OFF_NO_METRICS,
        .ready = CATALOG_READY_TCP,
        .ready_addr = "{lan_ip}",
        .ready_port = 9090,
        .ready_start_s = 2,
        .file_kind = CATALOG_FILE_PROMETHEUS,
        .file_path = "/etc/omnileads/prometheus.yml",
        .file_target = "/etc/prometheus/prometheus.yml",
    },
    {
        .name = "promtail",
        .container = "oml-promtail-server",
        .summary = "Promtail shipping the host journal to Loki (with observability.lokiURL)",
        .image = {NULL, NULL, NULL, "promtail", "docker.io/grafana/promtail:latest", 0},
        .image_ha = NO_IMAGE,
        .is_host_network = 1,
        .env_file = "/etc/default/promtail.env",
        .env = (const catalog_env[]){{"TZ", "{tz}"}, {"LOKI_URL", "{loki_url}"}, {NULL, NULL}},
        .volumes = (const catalog_volume[]){{"oml_promtail", "/tmp", 0, NULL, 0},
                                            {"/var/log/journal", "/var/log/journal", 1, NULL, 0},
                                            {"/etc/machine-id", "/etc/machine-id", 1, NULL, 0},
                                            {NULL, NULL, 0, NULL, 0}},
        .command = (const char *const[]){"-config.file=/etc/promtail/promtail.yml",
                                         "-config.expand-env=true", NULL},
        .mem_rule = CATALOG_MEM_FIXED,
        .mem_bytes = 512 * MIB,
        .order = 170,
        .groups = CATALOG_GROUP_EVERY,
        .off_when = CATALOG_OFF_NO_METRICS | CATALOG_OFF_NO_LOKI,
        .ready = CATALOG_READY_RUNNING,
        .ready_start_s = 2,
        .file_kind = CATALOG_FILE_PROMTAIL,
        .file_path = "/etc/omnileads/promtail.yml",
        .file_target = "/etc/promtail/promtail.yml",
    },
};

#define N_COMPONENTS (sizeof(components) / sizeof(components[0]))
#define N_VARS       (sizeof(vars) / sizeof(vars[0]))

size_t catalog_count(void)
{
    return N_COMPONENTS;
}

const catalog_component *catalog_at(size_t i)
{
    return i < N_COMPONENTS ? &components[i] : NULL;
}

const catalog_component *catalog_find(const char *name)
{
    for (size_t i = 0; name && i < N_COMPONENTS; i++)
        if (strcmp(components[i].name, name) == 0)
            return &components[i];
    return NULL;
}

int catalog_stop_timeout_s(const catalog_component *c)
{
    return c && c->stop_timeout_s > 0 ? c->stop_timeout_s : CATALOG_STOP_TIMEOUT_S;
}

const catalog_component *catalog_find_container(const char *container)
{
    for (size_t i = 0; container && i < N_COMPONENTS; i++)
        if (strcmp(components[i].container, container) == 0)
            return &components[i];
    return NULL;
}

size_t catalog_var_count(void)
{
    return N_VARS;
}

const catalog_var *catalog_var_at(size_t i)
{
    return i < N_VARS ? &vars[i] : NULL;
}

static const catalog_var *var_find_n(const char *name, size_t len)
{
    for (size_t i = 0; i < N_VARS; i++)
        if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
            return &vars[i];
    return NULL;
}

const catalog_var *catalog_var_find(const char *name)
{
    return name ? var_find_n(name, strlen(name)) : NULL;
}

int catalog_template_each_var(const char *tmpl, int (*fn)(void *ctx, const char *name, size_t len),
                              void *ctx, omlop_err *err)
{
    const char *p = tmpl;

    while (*p) {
        const char *open = strchr(p, '{');
        const char *close_b = strchr(p, '}');
        const char *end;
        int rc;

        if (!open) {
            if (close_b)
                return omlop_err_set(err, OMLOP_EINVAL, "template \"%s\": '}' without '{'", tmpl);
            break;
        }
        if (close_b && close_b < open)
            return omlop_err_set(err, OMLOP_EINVAL, "template \"%s\": '}' without '{'", tmpl);
        end = strchr(open + 1, '}');
        if (!end)
            return omlop_err_set(err, OMLOP_EINVAL, "template \"%s\": '{' without '}'", tmpl);
        if (end == open + 1 || memchr(open + 1, '{', (size_t)(end - open - 1)))
            return omlop_err_set(err, OMLOP_EINVAL, "template \"%s\": bad variable name", tmpl);
        rc = fn(ctx, open + 1, (size_t)(end - open - 1));
        if (rc < 0)
            return rc;
        p = end + 1;
    }
    return 0;
}

const char *catalog_group_name(unsigned group_bit)
{
    switch (group_bit) {
    case CATALOG_GROUP_DATA:
        return "data";
    case CATALOG_GROUP_VOICE:
        return "voice";
    case CATALOG_GROUP_APP:
        return "app";
    default:
        return "";
    }
}
