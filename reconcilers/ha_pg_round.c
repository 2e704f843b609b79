/* ha_pg_round: layout ha's PostgreSQL roles during a round (see ha_pg_round.h). */
#include "reconcilers/ha_pg_round.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/podman_exec.h"
#include "crds/object.h"
#include "lib/cjson.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define OBSERVE_TIMEOUT_MS 10000
#define STEP_TIMEOUT_MS    180000 /* a clone copies the whole cluster */
#define TRACK_TIMEOUT_MS   10000  /* a loaded host answered an exec in over 5 s */
#define CONFIRM_DELAY_MS   1000
#define SWITCHOVER_WAIT_S  30 /* the standby replaying the old primary's last checkpoint */

struct ha_pg_round {
    tenant_round *r;
    size_t n;
    ha_pg_obs obs[HA_PG_MAX_NODES];
    ha_pg_decision d;
    int has_failover;
    ha_pg_failover fo;
    char fo_time[32];
    char fo_reason[160];
    const char *why_switch; /* what asked for the wanted primary (static text) */
    int record_pending;     /* a failover detected by this run: the status says so before the
                               followers' steps (a rejoin may take a whole clone) */
    /* the track file values this run wrote per node (1 + value; 0: none yet): one exec each
     * fewer when a later write in the run has the same (an exec takes seconds on a loaded host) */
    int written_rw[HA_PG_MAX_NODES], written_ro[HA_PG_MAX_NODES];
};

/* The container runs on h and is the tenant's. */
static int container_runs(const tenant_round *r, const tenant_host_round *h, const char *name)
{
    const live_container *lc = tenant_host_find(h, name);
    const char *owner = lc ? live_container_label(lc, OMLOP_LABEL_TENANT) : NULL;

    return h->is_reachable && h->pc && lc && lc->state == LIVE_STATE_RUNNING && owner &&
           strcmp(owner, r->tenant) == 0;
}

/* bash -c script in container on h; stdout into out (when not NULL). *answered (when not NULL)
 * is 0 when the host gave no answer at all (the exec call itself failed). */
static int run_answered(tenant_round *r, tenant_host_round *h, const char *container,
                        const char *user, const char *script, long timeout_ms, strbuf *out,
                        int *answered, omlop_err *err)
{
    const char *cmd[] = {"bash", "-c", script, NULL};
    podman_exec_result res = PODMAN_EXEC_RESULT_INIT;
    podman_exec_opts o;
    int rc;

    memset(&o, 0, sizeof(o));
    o.user = user;
    o.timeout_ms = timeout_ms;
    o.max_output = 256 * 1024;
    rc = podman_exec(h->pc, container, cmd, &o, &res, err);
    if (answered)
        *answered = rc == 0;
    if (rc == 0 && res.exit_code != 0) {
        /* the last line of stderr says what failed (repmgr's ERROR line) */
        const char *e = strbuf_str(&res.err);
        size_t len = strlen(e);

        while (len > 0 && (e[len - 1] == '\n' || e[len - 1] == ' '))
            len--;
        {
            size_t start = len;

            while (start > 0 && e[start - 1] != '\n')
                start--;
            rc = omlop_err_set(err, OMLOP_EUNAVAIL, "tenant %s host %s: %s exited with %d: %.*s",
                               r->tenant, h->name, container, res.exit_code, (int)(len - start),
                               e + start);
        }
    }
    if (rc == 0 && out)
        strbuf_adds(out, strbuf_str(&res.out));
    podman_exec_result_release(&res);
    return rc;
}

static int run(tenant_round *r, tenant_host_round *h, const char *container, const char *user,
               const char *script, long timeout_ms, strbuf *out, omlop_err *err)
{
    return run_answered(r, h, container, user, script, timeout_ms, out, NULL, err);
}

static void observe_one(ha_pg_round *pg, size_t i)
{
    tenant_round *r = pg->r;
    tenant_host_round *h = &r->hosts[i];
    ha_pg_obs *o = &pg->obs[i];
    strbuf script = STRBUF_INIT, out = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    const char *name = o->name, *addr = o->addr;
    int answered = 1;

    memset(o, 0, sizeof(*o));
    o->name = name;
    o->addr = addr;
    o->repl_lag = -1;
    o->is_unreachable = !h->is_reachable;
    if (!container_runs(r, h, HA_PG_CONTAINER))
        goto out;
    ha_pg_observe_script((int)i + 1, &script);
    if (run_answered(r, h, HA_PG_CONTAINER, "postgres", strbuf_str(&script), OBSERVE_TIMEOUT_MS,
                     &out, &answered, &err) < 0 ||
        ha_pg_parse(strbuf_str(&out), o, &err) < 0) {
        log_warn("tenant=%s host=%s ha: cannot observe PostgreSQL: %s", r->tenant, h->name,
                 err.msg);
        o->is_observed = 0;
        o->is_unreachable = !answered; /* the host went silent during the round */
    }
out:
    strbuf_release(&script);
    strbuf_release(&out);
}

static void observe_all(ha_pg_round *pg)
{
    for (size_t i = 0; i < pg->n; i++)
        observe_one(pg, i);
}

/* The recorded primary's host gave no answer: ask every other node's keepalived whether it
 * still hears the primary (ha_pg_decide's witness). */
static void observe_witnesses(ha_pg_round *pg, const char *recorded, ha_pg_rw_reader read_rw)
{
    int rec = -1;

    for (size_t i = 0; recorded && i < pg->n; i++)
        if (strcmp(pg->obs[i].name, recorded) == 0)
            rec = (int)i;
    if (rec < 0 || !pg->obs[rec].is_unreachable)
        return;
    for (size_t i = 0; i < pg->n; i++) {
        int held = (int)i != rec ? read_rw(pg->r, &pg->r->hosts[i]) : -1;

        pg->obs[i].rw_vip = held == 1   ? HA_PG_RW_HELD
                            : held == 0 ? HA_PG_RW_NOT_HELD
                                        : HA_PG_RW_UNKNOWN;
    }
}

static void node_conf(const ha_pg_round *pg, size_t i, ha_pg_node_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->node_id = (int)i + 1;
    c->name = pg->obs[i].name;
    c->addr = pg->obs[i].addr;
    for (size_t j = 0; j < pg->n; j++)
        if (j != i)
            c->peer_addr = pg->obs[j].addr; /* two nodes: the other one */
}

/* Run node i's step; 0, or <0 with err. out gets the script's stdout. */
static int run_step(ha_pg_round *pg, size_t i, ha_pg_step s, strbuf *out, omlop_err *err)
{
    const char *up = pg->d.primary >= 0 ? pg->obs[pg->d.primary].addr : NULL;
    strbuf script = STRBUF_INIT;
    ha_pg_node_conf c;
    int rc;

    node_conf(pg, i, &c);
    rc = ha_pg_step_script(s, &c, up, &script, err);
    if (rc == 0) {
        log_info("tenant=%s host=%s ha: postgres %s", pg->r->tenant, pg->obs[i].name,
                 ha_pg_step_name(s));
        rc = run(pg->r, &pg->r->hosts[i], HA_PG_CONTAINER, "postgres", strbuf_str(&script),
                 STEP_TIMEOUT_MS, out, err);
    }
    strbuf_release(&script);
    return rc;
}

static void step_event(ha_pg_round *pg, size_t i, ha_pg_step s, const char *result, int rc,
                       const omlop_err *err)
{
    tenant_round *r = pg->r;
    const char *node = pg->obs[i].name;
    const char *primary = pg->d.primary >= 0 ? pg->obs[pg->d.primary].name : "?";

    if (rc < 0) {
        tenant_round_event(r, EVENT_TYPE_WARNING, "PostgresStepFailed",
                           "PostgreSQL %s on node %s failed: %s", ha_pg_step_name(s), node,
                           err->msg);
        return;
    }
    switch (s) {
    case HA_PG_PROMOTE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Promoted",
                           "Promoted node %s to PostgreSQL primary (failover from %s)", node,
                           pg->fo.from ? pg->fo.from : "?");
        break;
    case HA_PG_CLONE:
        tenant_round_event(r, EVENT_TYPE_NORMAL, "Cloned",
                           "Node %s cloned from the PostgreSQL primary %s and registered as its "
                           "standby",
                           node, primary);
        break;
    case HA_PG_REJOIN: {
        /* pg_rewind's last line when it failed (the script prints it before the clone) */
        const char *why = result ? strstr(result, "omlop-rewind-error=") : NULL;
        int why_len = why ? (int)strcspn(why += strlen("omlop-rewind-error="), "\n") : 0;

        if (result && strstr(result, "omlop-result=rejoined"))
            tenant_round_event(r, EVENT_TYPE_NORMAL, "Rejoined",
                               "Node %s rejoined as standby of the PostgreSQL primary %s "
                               "(pg_rewind)",
                               node, primary);
        else
            tenant_round_event(r, EVENT_TYPE_NORMAL, "Rejoined",
                               "Node %s rejoined as standby of the PostgreSQL primary %s (a fresh "
                               "clone: pg_rewind could not: %.*s)",
                               node, primary, why_len > 200 ? 200 : why_len, why ? why : "");
        break;
    }
    case HA_PG_FENCE:
        tenant_round_event(r, EVENT_TYPE_WARNING, "Fenced",
                           "Stopped PostgreSQL on node %s: it ran as a second primary (the "
                           "primary is %s)",
                           node, primary);
        break;
    default:
        break;
    }
}

/* Run a bash script on node i's postgres container (name says what, for messages). */
static int run_script(ha_pg_round *pg, size_t i, const char *script, strbuf *out, omlop_err *err)
{
    return run(pg->r, &pg->r->hosts[i], HA_PG_CONTAINER, "postgres", script, STEP_TIMEOUT_MS, out,
               err);
}

/*
 * Switchover from the primary p to the caught-up standby t: p stopped cleanly (its walsender
 * sends everything, the shutdown checkpoint last), t promoted once it replayed that checkpoint,
 * p rejoined as t's standby. When t does not catch up, p is started again: nothing changed.
 */
static void switchover(ha_pg_round *pg, size_t p, size_t t)
{
    tenant_round *r = pg->r;
    strbuf out = STRBUF_INIT, script = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    ha_pg_node_conf c;
    char lsn[32];
    int rc;

    log_info("tenant=%s ha: postgres switchover %s -> %s (%s)", r->tenant, pg->obs[p].name,
             pg->obs[t].name, pg->why_switch);
    rc = run_step(pg, p, HA_PG_FENCE, &out, &err);
    if (rc == 0 && ha_pg_checkpoint_of(strbuf_str(&out), lsn, sizeof(lsn)) < 0)
        rc = omlop_err_set(&err, OMLOP_EUNAVAIL, "no checkpoint location after stopping %s",
                           pg->obs[p].name);
    if (rc == 0) {
        node_conf(pg, t, &c);
        rc = ha_pg_promote_after_script(&c, lsn, SWITCHOVER_WAIT_S, &script, &err);
        if (rc == 0)
            rc = run_script(pg, t, strbuf_str(&script), NULL, &err);
    }
    if (rc < 0) {
        omlop_err serr = OMLOP_ERR_INIT;

        tenant_round_event(r, EVENT_TYPE_WARNING, "SwitchoverFailed",
                           "PostgreSQL switchover from %s to %s failed: %s; %s stays the primary",
                           pg->obs[p].name, pg->obs[t].name, err.msg, pg->obs[p].name);
        if (run_script(pg, p, HA_PG_ENTRYPOINT " ha-pg-start", NULL, &serr) < 0)
            log_warn("tenant=%s host=%s ha: cannot start postgres again: %s", r->tenant,
                     pg->obs[p].name, serr.msg);
        goto out;
    }
    pg->d.primary = (int)t; /* the rejoin's upstream */
    tenant_round_event(r, EVENT_TYPE_NORMAL, "SwitchedOver",
                       "PostgreSQL primary switched over from %s to %s (%s); %s rejoins as its "
                       "standby",
                       pg->obs[p].name, pg->obs[t].name, pg->why_switch, pg->obs[p].name);
    strbuf_reset(&out);
    rc = run_step(pg, p, HA_PG_REJOIN, &out, &err);
    if (rc < 0)
        log_warn("tenant=%s host=%s ha: rejoin after the switchover failed (the next round "
                 "repairs it): %s",
                 r->tenant, pg->obs[p].name, err.msg);
    step_event(pg, p, HA_PG_REJOIN, strbuf_str(&out), rc, &err);
out:
    strbuf_release(&out);
    strbuf_release(&script);
}

/* Write the RW and RO track files of every node whose keepalived runs: the losers first. */
static void write_weights(ha_pg_round *pg)
{
    if (pg->d.primary < 0 && pg->d.held_by_witness >= 0)
        return; /* the primary is out of omlopd's sight only: the VIPs stay where they are */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < pg->n; i++) {
            tenant_host_round *h = &pg->r->hosts[i];
            int rw = ha_pg_rw_weight(&pg->d, pg->obs, i);
            int ro = ha_pg_ro_weight(&pg->d, pg->obs, i);
            strbuf script = STRBUF_INIT;
            omlop_err err = OMLOP_ERR_INIT;

            if ((pass == 0) != (rw == 0) || !container_runs(pg->r, h, HA_CONTAINER))
                continue;
            if (pg->written_rw[i] == rw + 1 && pg->written_ro[i] == ro + 1)
                continue;
            /* unchanged values are not written: keepalived re-reads a file on every write */
            strbuf_addf(&script,
                        "w() { [ \"$(cat \"$1\" 2>/dev/null)\" = \"$2\" ] || echo \"$2\" >\"$1\"; "
                        "}\n"
                        "w " HA_PG_RW_TRACK_FILE " %d\n"
                        "w " HA_PG_RO_TRACK_FILE " %d\n",
                        rw, ro);
            if (run(pg->r, h, HA_CONTAINER, NULL, strbuf_str(&script), TRACK_TIMEOUT_MS, NULL,
                    &err) < 0) {
                log_warn("tenant=%s host=%s ha: cannot write the PostgreSQL VIP weights: %s",
                         pg->r->tenant, h->name, err.msg);
            } else {
                pg->written_rw[i] = rw + 1;
                pg->written_ro[i] = ro + 1;
            }
            strbuf_release(&script);
        }
}

/* A tenant_status_fn: the stored status with the failover of ctx (an ha_pg_round). */
static int status_promoted(const json_object *old_status, const void *ctx, const char *now,
                           json_object **out, omlop_err *err)
{
    const ha_pg_round *pg = ctx;

    (void)now;
    (void)err;
    *out = ha_pg_status_promoted(old_status, &pg->fo, pg->obs[pg->d.primary].timeline);
    return 0;
}

/*
 * Right after a promotion (or a primary found promoted already), before any follower's step:
 * the RW VIP to the new primary, and status.ha.postgres saying what happened, written now: the
 * round's own status comes only at its end, after the old primary's rejoin (a whole clone when
 * pg_rewind cannot) and the plan.
 */
static void record_failover(ha_pg_round *pg)
{
    omlop_err err = OMLOP_ERR_INIT;

    pg->record_pending = 0;
    if (!pg->has_failover || pg->d.primary < 0)
        return;
    observe_one(pg, (size_t)pg->d.primary); /* its new timeline */
    write_weights(pg);
    if (tenant_round_status_write(pg->r, status_promoted, pg, &err) < 0)
        log_warn("tenant=%s ha: cannot record the failover in the status yet: %s", pg->r->tenant,
                 err.msg);
}

static void run_steps(ha_pg_round *pg)
{
    size_t order[HA_PG_MAX_NODES], k = 0;

    /* the primary's step first: a standby clones from a registered primary */
    if (pg->d.primary >= 0)
        order[k++] = (size_t)pg->d.primary;
    for (size_t i = 0; i < pg->n; i++)
        if ((int)i != pg->d.primary)
            order[k++] = i;
    for (size_t j = 0; j < k; j++) {
        size_t i = order[j];
        ha_pg_step s = pg->d.step[i];
        strbuf out = STRBUF_INIT;
        omlop_err err = OMLOP_ERR_INIT;
        int rc;

        if ((int)i != pg->d.primary && pg->record_pending)
            record_failover(pg);
        if (s == HA_PG_NONE)
            continue;
        if (s == HA_PG_SWITCHOVER) {
            switchover(pg, (size_t)pg->d.switchover_from, i);
            strbuf_release(&out);
            break; /* the switchover ran the old primary's part too */
        }
        rc = run_step(pg, i, s, &out, &err);
        if (rc < 0)
            log_warn("tenant=%s host=%s ha: postgres %s failed: %s", pg->r->tenant, pg->obs[i].name,
                     ha_pg_step_name(s), err.msg);
        step_event(pg, i, s, strbuf_str(&out), rc, &err);
        if (s == HA_PG_PROMOTE && rc < 0)
            pg->has_failover = 0; /* not happened: the next round tries again */
        strbuf_release(&out);
        if (s == HA_PG_PROMOTE && rc < 0)
            break; /* no follower of a primary that is not one */
    }
    if (pg->record_pending)
        record_failover(pg);
}

static int any_step(const ha_pg_decision *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d->step[i] != HA_PG_NONE)
            return 1;
    return 0;
}

/* metadata.annotations[HA_PG_PRIMARY_ANNOTATION] (a key with dots: no cjson path) */
static const char *annotation(const json_object *obj)
{
    json_object *a = cjson_get(obj, "metadata.annotations"), *v = NULL;

    if (!a || !json_object_object_get_ex(a, HA_PG_PRIMARY_ANNOTATION, &v))
        return NULL;
    return json_object_get_string(v);
}

/* Carry prev's failover into pg (the strings copied or borrowed from the round's hosts). */
static void carry_failover(ha_pg_round *pg, const ha_pg_round *prev)
{
    if (!prev || !prev->has_failover)
        return;
    pg->has_failover = 1;
    snprintf(pg->fo_time, sizeof(pg->fo_time), "%s", prev->fo_time);
    snprintf(pg->fo_reason, sizeof(pg->fo_reason), "%s", prev->fo_reason);
    pg->fo.time = pg->fo_time;
    pg->fo.reason = pg->fo_reason;
    pg->fo.from = prev->fo.from;
    pg->fo.to = prev->fo.to;
}

ha_pg_round *ha_pg_round_run(tenant_round *r, const char *preferred, const ha_pg_round *prev,
                             ha_pg_rw_reader read_rw)
{
    const char *recorded = prev && prev->d.primary >= 0
                               ? prev->obs[prev->d.primary].name
                               : cjson_get_string(r->obj, "status.ha.postgres.primary");
    const char *asked = annotation(r->obj);
    const char *wanted =
        ha_pg_wanted_primary(asked, cjson_get_string(r->obj, "spec.ha.failback"), preferred);
    ha_pg_round *pg;
    int any = 0, any_observed = 0, acted = 0;

    if (!r->ds || cjson_get_string(r->obj, "spec.database.host"))
        return NULL;
    pg = xcalloc(1, sizeof(*pg));
    pg->r = r;
    carry_failover(pg, prev);
    pg->n = r->n_hosts < HA_PG_MAX_NODES ? r->n_hosts : HA_PG_MAX_NODES;
    for (size_t i = 0; i < pg->n; i++) {
        const desired_host *dh = desired_host_find(r->ds, r->hosts[i].name);

        pg->obs[i].name = r->hosts[i].name;
        pg->obs[i].addr = dh ? dh->lan_ip : NULL;
        any |= r->hosts[i].is_reachable;
    }
    if (!any) {
        free(pg);
        return NULL;
    }
    observe_all(pg);
    observe_witnesses(pg, recorded, read_rw);
    for (size_t i = 0; i < pg->n; i++)
        any_observed |= pg->obs[i].is_observed;
    if (!any_observed && !recorded) {
        /* never had roles: no repmgr image (or no server yet); nothing to say */
        free(pg);
        return NULL;
    }
    pg->why_switch = asked && *asked ? "asked by the annotation " HA_PG_PRIMARY_ANNOTATION
                                     : "failback Auto: the preferred main is back and caught up";
    ha_pg_decide(pg->obs, pg->n, recorded, preferred, wanted, &pg->d);
    if (pg->d.failover_from >= 0) {
        /* confirm: a server restarting right now is not a lost primary */
        clock_sleep_ms(CONFIRM_DELAY_MS);
        observe_one(pg, (size_t)pg->d.failover_from);
        observe_witnesses(pg, recorded, read_rw);
        ha_pg_decide(pg->obs, pg->n, recorded, preferred, wanted, &pg->d);
    }
    if (pg->d.held_by_witness >= 0)
        tenant_round_event(r, EVENT_TYPE_WARNING, "FailoverHeld",
                           "PostgreSQL primary %s does not answer omlopd, but the standby %s "
                           "still hears it (its keepalived does not hold the RW VIP): no "
                           "failover while only omlopd's link to %s is down",
                           recorded, pg->obs[pg->d.held_by_witness].name, recorded);
    if (pg->d.failover_from >= 0) {
        const char *from = pg->obs[pg->d.failover_from].name;
        const char *to = pg->obs[pg->d.primary].name;

        pg->has_failover = 1;
        object_time_format(time(NULL), pg->fo_time);
        snprintf(pg->fo_reason, sizeof(pg->fo_reason), "primary %s %s", from, pg->d.why_lost);
        pg->fo.time = pg->fo_time;
        pg->fo.reason = pg->fo_reason;
        pg->fo.from = from;
        pg->fo.to = to;
        pg->record_pending = 1;
        tenant_round_event(r, EVENT_TYPE_WARNING, "FailoverDetected",
                           "PostgreSQL primary %s lost (%s): promoting the standby %s", from,
                           pg->d.why_lost, to);
    }
    for (size_t i = 0; i < pg->n; i++)
        acted |= pg->d.step[i] != HA_PG_NONE;
    if (acted) {
        const char *now_primary;
        char keep[64] = "";

        run_steps(pg); /* a switchover moves d.primary */
        now_primary = pg->d.primary >= 0 ? pg->obs[pg->d.primary].name : recorded;
        /* what runs now, for the weights and the status */
        if (now_primary)
            snprintf(keep, sizeof(keep), "%s", now_primary);
        observe_all(pg);
        /* no wanted primary: a switchover is the next round's, after a fresh look */
        ha_pg_decide(pg->obs, pg->n, keep[0] ? keep : NULL, preferred, NULL, &pg->d);
        /* the next round's steps (a fence's rejoin) are the next round's: not reported here */
        if (pg->d.failover_from >= 0) {
            /* the promotion did not take (yet): the RW VIP stays where it is */
            memset(&pg->d, 0, sizeof(pg->d));
            pg->d.primary = pg->d.standby = pg->d.failover_from = -1;
        } else if (pg->has_failover && pg->d.primary >= 0 && any_step(&pg->d, pg->n)) {
            /* after a promotion: the RW VIP to the new primary first, then the old primary's
             * repair (a stopped server rejoined) now, not after the plan waited for it */
            write_weights(pg);
            run_steps(pg);
            observe_all(pg);
            ha_pg_decide(pg->obs, pg->n, keep[0] ? keep : NULL, preferred, NULL, &pg->d);
        }
    }
    write_weights(pg);
    log_info("tenant=%s ha: postgres primary %s, standby %s", r->tenant,
             pg->d.primary >= 0 ? pg->obs[pg->d.primary].name : "(none)",
             pg->d.standby >= 0 ? pg->obs[pg->d.standby].name : "(none)");
    return pg;
}

void ha_pg_round_report(const ha_pg_round *pg, ha_report *rp)
{
    if (!pg)
        return;
    rp->pg_d = &pg->d;
    rp->pg_obs = pg->obs;
    rp->pg_n = pg->n;
    rp->pg_failover = pg->has_failover ? &pg->fo : NULL;
}

int ha_pg_round_is_settled(const ha_pg_round *pg)
{
    return !pg || (pg->d.primary >= 0 && pg->d.standby >= 0);
}

void ha_pg_round_free(ha_pg_round *pg)
{
    free(pg);
}
