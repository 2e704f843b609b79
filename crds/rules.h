/*
 * rules: the cross-field checks an OpenAPI schema cannot say, run on an object
 * that already passed its schema (types are right, defaults applied).
 *
 * Tenant: layout aio takes one host (role aio or none); cluster exactly one
 * host each of data, voice, app; ha two hosts, one main and one backup, plus
 * spec.ha whose VIPs are inside ha.netaddr, distinct, and not a host's lanIP
 * (and the hosts' lanIPs inside netaddr too); spec.ha only with layout ha;
 * host names and lanIPs unique; ssh.address a host name or IP; tls.mode custom
 * needs tls.secretRef; acme needs tls.acme.email and network.fqdn; infraEnv nat
 * needs natIP, lan refuses it, and natIP is "auto" or a valid IPv4; an external
 * database needs its password Secret; external object storage (and a backup
 * destination with a bucketURL) need credentials; observability.lokiURL needs
 * observability enabled; backup.schedule parses as a 5-field cron schedule
 * that can fire (lib/cron.h; the message names the field), and a tenant with
 * one has a name of at most 49 characters (its Backups are <tenant>-yyyymmdd-
 * hhmm); spec.timeZone is in the tz database (lib/tz.h); ha.preferredMain names
 * a host.
 * Restore: exactly one of backupRef and timestamp.
 * Secret: keys of data and stringData are [-._a-zA-Z0-9]+, at most 253.
 * Event: lastTimestamp is not before firstTimestamp.
 *
 * Rules only see a schema-clean object, so their messages never repeat a
 * schema error; schema_set_decode runs them after the schema passes.
 */
#ifndef OMLOP_RULES_H
#define OMLOP_RULES_H

#include <json-c/json.h>
#include <stddef.h>

#include "crds/diag.h"
#include "crds/ynode.h"

/*
 * Check obj (of the given kind) and add a diag per broken rule. doc, when not
 * NULL, is the tree obj was decoded from: each diag takes the position of the
 * offending node, or of its nearest present ancestor. Returns 0 when every
 * rule holds, -OMLOP_EINVAL otherwise. Kinds without rules pass.
 */
int rules_check(const char *kind, const json_object *obj, const ynode *doc, const char *file,
                diag_list *diags);

/*
 * Whether expr is a valid 5-field cron expression or macro (lib/cron.h); when
 * not, why (why_size bytes) says which field is wrong.
 */
int rules_cron_is_valid(const char *expr, char *why, size_t why_size);

#endif
