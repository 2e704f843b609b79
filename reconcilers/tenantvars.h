/*
 * tenantvars: the read side of desired-state rendering. Checks that a decoded
 * Tenant's hosts fit its layout, answers placement questions (which external
 * services replace bundled ones, which role a host has) and computes the
 * catalog's template variables for one host. Internal to reconcilers/ (used by
 * desired.c); pure, like it.
 */
#ifndef OMLOP_TENANTVARS_H
#define OMLOP_TENANTVARS_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "reconcilers/catalog.h"
#include "reconcilers/desired.h"

typedef enum tv_layout { TV_LAYOUT_AIO, TV_LAYOUT_CLUSTER, TV_LAYOUT_HA } tv_layout;

#define TV_MAX_HOSTS 16

typedef struct tv_host {
    const char *name;
    const char *role; /* as given, or "aio" for an aio host without one */
    const char *lan_ip;
    const char *ssh_address;
    const char *podman_socket;
    unsigned group; /* catalog_group bit for cluster roles; CATALOG_GROUP_EVERY otherwise */
} tv_host;

/* A checked view of a Tenant; strings are borrowed from the json object. */
typedef struct tv_tenant {
    const json_object *obj;
    const json_object *spec;
    const char *name;
    const char *layout_name;
    tv_layout layout;
    tv_host hosts[TV_MAX_HOSTS];
    size_t n_hosts;
    int data_i, voice_i, app_i; /* cluster: host index per role; -1 otherwise */
    unsigned off;               /* catalog_off bits that hold for this tenant */
} tv_tenant;

/* One variable's value: text, a Secret reference, undefined, or not known yet. */
typedef struct tv_value {
    char *text;        /* literal, or NULL */
    char *secret_name; /* secret reference, or NULL */
    char *secret_key;
    char *unresolved; /* why it is not known yet (public IP), or NULL */
} tv_value;

/* Values indexed like catalog_var_at(). */
typedef struct tv_vars {
    tv_value *v;
    size_t n;
} tv_vars;

/* Check the tenant and fill t. -OMLOP_EINVAL naming the field otherwise. */
int tv_tenant_load(const json_object *tenant, tv_tenant *t, omlop_err *err);

/* Whether component c runs on host i of t (placement + "disabled when"). */
int tv_component_on_host(const tv_tenant *t, const catalog_component *c, size_t i);

/* Compute the variables of host i. Release with tv_vars_release (also after errors). */
int tv_vars_build(const tv_tenant *t, size_t i, const desired_options *opts, tv_vars *out,
                  omlop_err *err);
void tv_vars_release(tv_vars *vars);

/* Value of a variable by name (never NULL for a known name; fields NULL = undefined). */
const tv_value *tv_vars_get(const tv_vars *vars, const char *name, size_t len);

/* Whether the value is defined (text, secret, or unresolved). */
int tv_value_is_defined(const tv_value *v);

/* String at a dotted path of the spec, NULL when absent or empty. */
const char *tv_spec_string(const tv_tenant *t, const char *path);

#endif
