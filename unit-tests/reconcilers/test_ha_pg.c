/*
 * Tests for reconcilers/ha_pg: who is the PostgreSQL primary of a layout ha pair and what each
 * node does next (bootstrap, steady state, failover, the old primary back), the observation
 * parser, the repmgr step scripts, the VIP track weights and status.ha.postgres with its
 * HAHealthy part. Observations are fakes: no host, no PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cjson.h"
#include "reconcilers/ha_pg.h"

/* --- fakes -------------------------------------------------------------------------------- */

#define SYS_A "7300000000000000001"
#define SYS_B "7300000000000000002"

typedef enum { F_DOWN, F_PRIMARY, F_STANDBY, F_STOPPED, F_EMPTY } fake_state;

/* One node: name, state, registered in repmgr, its cluster, its timeline. */
static ha_pg_obs node(const char *name, fake_state st, int registered, const char *sysid, long tl)
{
    ha_pg_obs o;

    memset(&o, 0, sizeof(o));
    o.name = name;
    o.addr = strcmp(name, "h1") == 0 ? "10.0.0.1" : "10.0.0.2";
    o.repl_lag = -1;
    if (st == F_DOWN)
        return o;
    o.is_observed = 1;
    o.has_data = st != F_EMPTY;
    o.is_running = st == F_PRIMARY || st == F_STANDBY;
    o.is_recovery = st == F_STANDBY;
    o.is_registered = registered && o.is_running;
    snprintf(o.sysid, sizeof(o.sysid), "%s", o.is_running ? sysid : "");
    o.timeline = o.is_running ? tl : 0;
    if (st == F_STANDBY)
        snprintf(o.receiver, sizeof(o.receiver), "streaming");
    return o;
}

static ha_pg_decision decide(ha_pg_obs a, ha_pg_obs b, const char *recorded, const char *pref)
{
    ha_pg_obs o[2] = {a, b};
    ha_pg_decision d;

    ha_pg_decide(o, 2, recorded, pref, NULL, &d);
    return d;
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("script lacks \"%s\":\n%s", want, text);
}

/* --- deciding ------------------------------------------------------------------------------- */

static void test_ha_pg_bootstrap_keeps_the_preferred_main(void **state)
{
    ha_pg_decision d;

    (void)state;
    /* a fresh pair: two unregistered clusters of their own; h1's is kept, h2 cloned from it */
    d = decide(node("h1", F_PRIMARY, 0, SYS_A, 1), node("h2", F_PRIMARY, 0, SYS_B, 1), NULL, "h1");
    assert_int_equal(d.primary, 0);
    assert_int_equal(d.step[0], HA_PG_REGISTER_PRIMARY);
    assert_int_equal(d.step[1], HA_PG_CLONE);
    assert_int_equal(d.failover_from, -1);
    assert_int_equal(d.standby, -1);

    /* the preferred main is the backup role's host: the same, mirrored */
    d = decide(node("h1", F_PRIMARY, 0, SYS_A, 1), node("h2", F_PRIMARY, 0, SYS_B, 1), NULL, "h2");
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[1], HA_PG_REGISTER_PRIMARY);
    assert_int_equal(d.step[0], HA_PG_CLONE);

    /* the preferred main not reachable yet: nothing is decided, h2's data is not touched */
    d = decide(node("h1", F_DOWN, 0, SYS_A, 1), node("h2", F_PRIMARY, 0, SYS_B, 1), NULL, "h1");
    assert_int_equal(d.primary, -1);
    assert_int_equal(d.step[0], HA_PG_NONE);
    assert_int_equal(d.step[1], HA_PG_NONE);

    /* no status recorded but a registered primary exists (the status was lost): it wins over a
     * fresh preferred main, whose empty cluster is replaced, never the data */
    d = decide(node("h1", F_PRIMARY, 0, SYS_B, 1), node("h2", F_PRIMARY, 1, SYS_A, 3), NULL, "h1");
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[1], HA_PG_NONE);
    assert_int_equal(d.step[0], HA_PG_CLONE);
}

static void test_ha_pg_steady_and_repairs(void **state)
{
    ha_pg_decision d;

    (void)state;
    d = decide(node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_STANDBY, 1, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.primary, 0);
    assert_int_equal(d.standby, 1);
    assert_int_equal(d.step[0], HA_PG_NONE);
    assert_int_equal(d.step[1], HA_PG_NONE);
    assert_int_equal(d.failover_from, -1);

    /* cloned but not registered yet */
    d = decide(node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_STANDBY, 0, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.step[1], HA_PG_REGISTER_STANDBY);
    assert_int_equal(d.standby, -1);

    /* the primary's registration lost: registered again, the standby untouched */
    d = decide(node("h1", F_PRIMARY, 0, SYS_A, 1), node("h2", F_STANDBY, 1, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.step[0], HA_PG_REGISTER_PRIMARY);
    assert_int_equal(d.step[1], HA_PG_NONE);

    /* the standby's volume lost, its server stopped, a standby of another cluster */
    d = decide(node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_EMPTY, 0, "", 0), "h1", "h1");
    assert_int_equal(d.step[1], HA_PG_CLONE);
    d = decide(node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_STOPPED, 1, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.step[1], HA_PG_REJOIN);
    d = decide(node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_STANDBY, 1, SYS_B, 1), "h1", "h1");
    assert_int_equal(d.step[1], HA_PG_CLONE);

    /* the standby unreachable: the primary stays, nothing is done to it */
    d = decide(node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_DOWN, 0, "", 0), "h1", "h1");
    assert_int_equal(d.primary, 0);
    assert_int_equal(d.standby, -1);
    assert_int_equal(d.step[1], HA_PG_NONE);
}

static void test_ha_pg_failover_promotes_the_standby(void **state)
{
    ha_pg_decision d;

    (void)state;
    /* the recorded primary's host or container does not answer */
    d = decide(node("h1", F_DOWN, 0, "", 0), node("h2", F_STANDBY, 1, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[1], HA_PG_PROMOTE);
    assert_int_equal(d.failover_from, 0);
    assert_non_null(strstr(d.why_lost, "unreachable"));

    /* its server stopped (killed): the same, and the stopped node is left alone meanwhile */
    d = decide(node("h1", F_STOPPED, 1, SYS_A, 1), node("h2", F_STANDBY, 1, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[1], HA_PG_PROMOTE);
    assert_int_equal(d.step[0], HA_PG_NONE);
    assert_non_null(strstr(d.why_lost, "not running"));

    /* failover regardless of preferredMain: the record decides */
    d = decide(node("h1", F_STANDBY, 1, SYS_A, 1), node("h2", F_STOPPED, 1, SYS_A, 2), "h2", "h2");
    assert_int_equal(d.primary, 0);
    assert_int_equal(d.step[0], HA_PG_PROMOTE);
    assert_int_equal(d.failover_from, 1);

    /* nobody to promote: an unregistered standby (not cloned by us), or none running */
    d = decide(node("h1", F_DOWN, 0, "", 0), node("h2", F_STANDBY, 0, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.primary, -1);
    assert_int_equal(d.failover_from, -1);
    assert_null(d.why_lost);
    assert_int_equal(d.step[1], HA_PG_NONE);
    d = decide(node("h1", F_DOWN, 0, "", 0), node("h2", F_STOPPED, 1, SYS_A, 1), "h1", "h1");
    assert_int_equal(d.primary, -1);
    assert_int_equal(d.step[1], HA_PG_NONE);

    /* someone promoted h2 already (by hand, repmgrd): followed, not promoted again */
    d = decide(node("h1", F_DOWN, 0, "", 0), node("h2", F_PRIMARY, 1, SYS_A, 2), "h1", "h1");
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[1], HA_PG_NONE);
    assert_int_equal(d.failover_from, 0);
}

/* A primary whose host omlopd lost is failed over only when the standby's keepalived does not
 * still hear it: every combination of how it was lost and what the witness says. */
static void test_ha_pg_failover_needs_the_standby_as_witness(void **state)
{
    static const struct {
        int unreachable; /* omlopd lost h1's host (else: h1 answered, its server is down) */
        ha_pg_rw_vip rw; /* h2's keepalived and the RW VIP */
        int want_failover;
    } cases[] = {
        {1, HA_PG_RW_NOT_HELD, 0}, /* h2 still hears h1: only omlopd's link is down */
        {1, HA_PG_RW_HELD, 1},     /* h2 lost h1 too */
        {1, HA_PG_RW_UNKNOWN, 1},  /* no witness to ask (no RW VIP, keepalived down): as before */
        {0, HA_PG_RW_NOT_HELD, 1}, /* seen down by omlopd itself: no witness needed */
        {0, HA_PG_RW_HELD, 1},     {0, HA_PG_RW_UNKNOWN, 1},
    };
    strbuf msg = STRBUF_INIT;
    const char *reason = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ha_pg_obs o[2] = {node("h1", cases[i].unreachable ? F_DOWN : F_STOPPED, 1, SYS_A, 1),
                          node("h2", F_STANDBY, 1, SYS_A, 1)};
        json_object *old = json_tokener_parse("{\"primary\": \"h1\", \"timeline\": 1}");
        json_object *st;
        ha_pg_decision d;

        o[0].is_unreachable = cases[i].unreachable;
        o[1].rw_vip = cases[i].rw;
        ha_pg_decide(o, 2, "h1", "h1", NULL, &d);
        st = ha_pg_status_json(&d, o, 2, old, NULL, &reason, &msg);
        if (cases[i].want_failover) {
            if (d.primary != 1 || d.step[1] != HA_PG_PROMOTE || d.failover_from != 0)
                fail_msg("case %zu: no failover to h2 (primary %d)", i, d.primary);
            assert_int_equal(d.held_by_witness, -1);
        } else {
            assert_int_equal(d.primary, -1);
            assert_int_equal(d.failover_from, -1);
            assert_int_equal(d.step[1], HA_PG_NONE); /* h2 untouched: never cloned or fenced */
            assert_int_equal(d.held_by_witness, 1);
            assert_string_equal(reason, "PrimaryUnreachable");
            assert_non_null(strstr(strbuf_str(&msg), "h1 does not answer omlopd"));
            assert_non_null(strstr(strbuf_str(&msg), "standby h2 still hears it"));
            assert_string_equal(cjson_get_string(st, "primary"), "h1"); /* the record stays */
            /* held: nothing moves the VIPs, h2 gets no RW weight */
            assert_int_equal(ha_pg_rw_weight(&d, o, 1), 0);
        }
        json_object_put(st);
        json_object_put(old);
    }
    /* the witness is only asked about a standby that could take over: an unregistered one
     * is not promoted whatever it hears */
    {
        ha_pg_obs o[2] = {node("h1", F_DOWN, 0, "", 0), node("h2", F_STANDBY, 0, SYS_A, 1)};
        ha_pg_decision d;

        o[0].is_unreachable = 1;
        o[1].rw_vip = HA_PG_RW_HELD;
        ha_pg_decide(o, 2, "h1", "h1", NULL, &d);
        assert_int_equal(d.primary, -1);
        assert_int_equal(d.held_by_witness, -1);
    }
    strbuf_release(&msg);
}

static void test_ha_pg_old_primary_back_is_never_a_second_primary(void **state)
{
    ha_pg_decision d;

    (void)state;
    /* h2 promoted (recorded); h1 back running as a primary of the same cluster: fenced */
    d = decide(node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_PRIMARY, 1, SYS_A, 2), "h2", "h1");
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[0], HA_PG_FENCE);
    assert_int_equal(d.step[1], HA_PG_NONE);
    assert_int_equal(d.failover_from, -1);
    /* fenced (stopped): rejoined as h2's standby */
    d = decide(node("h1", F_STOPPED, 1, SYS_A, 1), node("h2", F_PRIMARY, 1, SYS_A, 2), "h2", "h1");
    assert_int_equal(d.step[0], HA_PG_REJOIN);
    /* rejoined: h1 the standby; roles stay inverted (failback is a switchover) */
    d = decide(node("h1", F_STANDBY, 1, SYS_A, 2), node("h2", F_PRIMARY, 1, SYS_A, 2), "h2", "h1");
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.standby, 0);
    assert_int_equal(d.step[0], HA_PG_NONE);

    /* while a promotion runs, an old primary still running is only fenced */
    d = decide(node("h1", F_STANDBY, 1, SYS_A, 1), node("h2", F_PRIMARY, 1, SYS_A, 1), "h2", "h1");
    /* (h2 recorded and serving: h1 a plain standby) */
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[0], HA_PG_NONE);
}

/* A settled pair: h_p primary (timeline tl), h_s its standby streaming with lag bytes. */
static void settled(ha_pg_obs o[2], int p, long long lag)
{
    o[p] = node(p ? "h2" : "h1", F_PRIMARY, 1, SYS_A, 2);
    o[!p] = node(p ? "h1" : "h2", F_STANDBY, 1, SYS_A, 2);
    snprintf(o[p].repl_name, sizeof(o[p].repl_name), "%s", o[!p].name);
    snprintf(o[p].repl_state, sizeof(o[p].repl_state), "streaming");
    o[p].repl_lag = lag;
}

static void test_ha_pg_switchover_only_when_settled_and_caught_up(void **state)
{
    ha_pg_obs o[2];
    ha_pg_decision d;

    (void)state;
    /* h2 primary after a failover, h1 its caught-up standby, h1 wanted: a switchover on h1 */
    settled(o, 1, 0);
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.primary, 1);
    assert_int_equal(d.step[0], HA_PG_SWITCHOVER);
    assert_int_equal(d.step[1], HA_PG_NONE);
    assert_int_equal(d.switchover_from, 1);

    /* nobody wants it (failback Manual, no annotation): the roles stay */
    ha_pg_decide(o, 2, "h2", "h1", NULL, &d);
    assert_int_equal(d.step[0], HA_PG_NONE);
    assert_int_equal(d.switchover_from, -1);
    /* the wanted one is the primary already */
    ha_pg_decide(o, 2, "h2", "h1", "h2", &d);
    assert_int_equal(d.step[0] + d.step[1], HA_PG_NONE);
    /* a name that is no node */
    ha_pg_decide(o, 2, "h2", "h1", "h9", &d);
    assert_int_equal(d.step[0] + d.step[1], HA_PG_NONE);

    /* not caught up: one byte behind, not streaming, another standby's connection */
    settled(o, 1, 1);
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[0], HA_PG_NONE);
    settled(o, 1, -1);
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[0], HA_PG_NONE);
    settled(o, 1, 0);
    snprintf(o[1].repl_state, sizeof(o[1].repl_state), "catchup");
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[0], HA_PG_NONE);
    settled(o, 1, 0);
    snprintf(o[1].repl_name, sizeof(o[1].repl_name), "h3");
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[0], HA_PG_NONE);

    /* a repair pending (the standby not registered): the repair first */
    settled(o, 1, 0);
    o[0].is_registered = 0;
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[0], HA_PG_REGISTER_STANDBY);
    assert_int_equal(d.switchover_from, -1);

    /* the primary's registration to repair: that first, the switchover a later round */
    settled(o, 1, 0);
    o[1].is_registered = 0;
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[1], HA_PG_REGISTER_PRIMARY);
    assert_int_equal(d.step[0], HA_PG_NONE);
    /* the primary sees it streaming but h1's own receiver does not say so: not its standby */
    settled(o, 1, 0);
    o[0].receiver[0] = '\0';
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[0], HA_PG_NONE);
    assert_int_equal(d.switchover_from, -1);

    /* the wanted primary lost meanwhile: a failover, never a switchover */
    settled(o, 1, 0);
    o[1] = node("h2", F_DOWN, 0, "", 0);
    ha_pg_decide(o, 2, "h2", "h1", "h1", &d);
    assert_int_equal(d.step[0], HA_PG_PROMOTE);
    assert_int_equal(d.switchover_from, -1);
}

static void test_ha_pg_wanted_primary(void **state)
{
    (void)state;
    assert_string_equal(ha_pg_wanted_primary("h2", "Auto", "h1"), "h2"); /* asked wins */
    assert_string_equal(ha_pg_wanted_primary("h2", "Manual", "h1"), "h2");
    assert_string_equal(ha_pg_wanted_primary(NULL, "Auto", "h1"), "h1");
    assert_string_equal(ha_pg_wanted_primary("", "Auto", "h1"), "h1");
    assert_null(ha_pg_wanted_primary(NULL, "Manual", "h1"));
    assert_null(ha_pg_wanted_primary(NULL, NULL, "h1")); /* the CRD's default: Manual */
}

static void test_ha_pg_switchover_scripts(void **state)
{
    ha_pg_node_conf c = {1, "h1", "10.0.0.1", "10.0.0.2"};
    strbuf s = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;
    char lsn[32];

    (void)state;
    /* the stop prints the shutdown checkpoint, which the shell reads back */
    assert_int_equal(ha_pg_step_script(HA_PG_FENCE, &c, NULL, &s, &err), 0);
    assert_has(strbuf_str(&s), "Latest checkpoint location");
    assert_int_equal(ha_pg_checkpoint_of("x\ncheckpoint=0/3000028\n", lsn, sizeof(lsn)), 0);
    assert_string_equal(lsn, "0/3000028");
    assert_int_equal(ha_pg_checkpoint_of("checkpoint=\n", lsn, sizeof(lsn)), -1);
    assert_int_equal(ha_pg_checkpoint_of("checkpoint=0/30g\n", lsn, sizeof(lsn)), -1);
    assert_int_equal(ha_pg_checkpoint_of("nothing", lsn, sizeof(lsn)), -1);
    assert_int_equal(ha_pg_checkpoint_of(NULL, lsn, sizeof(lsn)), -1);
    assert_int_equal(ha_pg_checkpoint_of("checkpoint=0/1", lsn, 3), -1); /* does not fit */
    strbuf_reset(&s);

    /* the new primary waits for that checkpoint (bounded), then promotes */
    assert_int_equal(ha_pg_promote_after_script(&c, "0/3000028", 30, &s, &err), 0);
    assert_has(strbuf_str(&s), "pg_last_wal_replay_lsn() >= '0/3000028'::pg_lsn");
    assert_has(strbuf_str(&s), "if [ \"$i\" -gt 150 ]; then");
    assert_has(strbuf_str(&s), "done\nr standby promote\n");
    strbuf_reset(&s);
    assert_int_equal(ha_pg_promote_after_script(&c, "0/30'; drop", 30, &s, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "not an LSN"));
    assert_int_equal(ha_pg_promote_after_script(&c, "/1", 30, &s, &err), OMLOP_EINVAL);
    assert_int_equal(ha_pg_promote_after_script(&c, "1/", 30, &s, &err), OMLOP_EINVAL);
    /* SWITCHOVER is the shell's sequence, not one script */
    assert_int_equal(ha_pg_step_script(HA_PG_SWITCHOVER, &c, NULL, &s, &err), OMLOP_EINVAL);
    strbuf_release(&s);
}

/* --- parsing ---------------------------------------------------------------------------------- */

static void test_ha_pg_parse_reads_the_observation(void **state)
{
    ha_pg_obs o;
    omlop_err err = OMLOP_ERR_INIT;
    static const struct {
        const char *text, *key;
    } bad[] = {
        {"data=2\n", "data"},
        {"running=yes\n", "running"},
        {"timeline=-1\n", "timeline"},
        {"timeline=1x\n", "timeline"},
        {"sysid=abc\n", "sysid"},
        {"repl=h2 streaming\n", "repl"},
        {"repl=h2 streaming lots\n", "repl"},
        {"just text\n", "just text"},
    };

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "h1";
    o.addr = "10.0.0.1";
    assert_int_equal(ha_pg_parse("data=1\nrunning=1\nrecovery=0\nsysid=" SYS_A
                                 "\ntimeline=3\nregistered=1\n\nfuture=thing\n"
                                 "repl=h2 streaming 4096\ncomplete=1\n",
                                 &o, &err),
                     0);
    assert_string_equal(o.name, "h1");
    assert_string_equal(o.addr, "10.0.0.1");
    assert_true(o.is_observed && o.has_data && o.is_running && !o.is_recovery);
    assert_true(o.is_registered);
    assert_string_equal(o.sysid, SYS_A);
    assert_int_equal(o.timeline, 3);
    assert_string_equal(o.repl_name, "h2");
    assert_string_equal(o.repl_state, "streaming");
    assert_int_equal(o.repl_lag, 4096);

    /* a server that stopped answering while it was read: its lines after running=1 are the
     * script's defaults (registered=0, no recovery=), never an unregistered primary */
    err = (omlop_err)OMLOP_ERR_INIT;
    assert_int_equal(ha_pg_parse("data=1\nrunning=1\nregistered=0\n", &o, &err), OMLOP_EUNAVAIL);
    assert_false(o.is_observed);
    assert_non_null(strstr(err.msg, "h1"));
    assert_non_null(strstr(err.msg, "incomplete"));
    assert_int_equal(ha_pg_parse("data=1\nrunning=1\nrecovery=1\nsysid=" SYS_A
                                 "\ntimeline=3\nregistered=1\ncomplete=0\n",
                                 &o, &err),
                     OMLOP_EUNAVAIL);

    /* a stopped server: only data= and running= */
    assert_int_equal(ha_pg_parse("data=1\nrunning=0\n", &o, &err), 0);
    assert_true(o.is_observed && o.has_data && !o.is_running && !o.is_registered);
    assert_int_equal(o.repl_lag, -1);
    assert_string_equal(o.sysid, "");

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = (omlop_err)OMLOP_ERR_INIT;
        assert_int_equal(ha_pg_parse(bad[i].text, &o, &err), OMLOP_EINVAL);
        if (!strstr(err.msg, bad[i].key) || !strstr(err.msg, "h1"))
            fail_msg("case %zu: \"%s\" names neither %s nor the node", i, err.msg, bad[i].key);
    }
}

/* --- scripts ---------------------------------------------------------------------------------- */

static void test_ha_pg_step_scripts(void **state)
{
    ha_pg_node_conf c = {2, "h2", "10.0.0.2", "10.0.0.1"};
    strbuf s = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    assert_int_equal(ha_pg_step_script(HA_PG_CLONE, &c, "10.0.0.1", &s, &err), 0);
    /* repmgr.conf names this node, the peer file the other one (the entrypoint reads it) */
    assert_has(strbuf_str(&s), "node_id=2\nnode_name='h2'\n");
    assert_has(strbuf_str(&s), "conninfo='host=10.0.0.2 port=5432 user=repmgr dbname=repmgr");
    assert_has(strbuf_str(&s), "echo '10.0.0.1' >" HA_PG_HOME "/omlop-peer\n");
    assert_has(strbuf_str(&s), "up='10.0.0.1'\n");
    assert_has(strbuf_str(&s), "find " HA_PG_DATA " -mindepth 1 -delete\n"
                               "\tr -h \"$up\" -p 5432 -U repmgr -d repmgr standby clone");
    assert_has(strbuf_str(&s), "\tr standby register --force\n");
    strbuf_reset(&s);

    assert_int_equal(ha_pg_step_script(HA_PG_REJOIN, &c, "10.0.0.1", &s, &err), 0);
    /* a checkpoint on the primary first (a just promoted one has its new timeline in its
     * control file only then: pg_rewind reads it there), then pg_rewind from it (it runs a
     * killed server's crash recovery itself), not repmgr's node rejoin, which skipped the rewind
     * a killed primary needed */
    assert_has(strbuf_str(&s), "psql -X -q -c CHECKPOINT \"host=$up port=5432 user=repmgr "
                               "dbname=repmgr connect_timeout=2\" >/dev/null 2>&1 || true\n"
                               "if " HA_PG_BINDIR "/pg_rewind -D " HA_PG_DATA
                               " --source-server=\"host=$up port=5432 user=repmgr");
    assert_null(strstr(strbuf_str(&s), "node rejoin"));
    assert_null(strstr(strbuf_str(&s), "--single")); /* pg_rewind's own, not a second one */
    /* then a standby of it, as a clone would be: the primary's copied conninfo replaced by one
     * naming this node (the primary's pg_stat_replication), standby.signal, start, register */
    assert_has(strbuf_str(&s), "me='h2'\n");
    assert_has(strbuf_str(&s),
               "\tsed -i '/^primary_conninfo/d' " HA_PG_DATA "/postgresql.auto.conf\n"
               "\techo \"primary_conninfo = 'host=$up port=5432 user=repmgr "
               "application_name=$me connect_timeout=2'\" >>" HA_PG_DATA "/postgresql.auto.conf\n"
               "\ttouch " HA_PG_DATA "/standby.signal\n"
               "\tif " HA_PG_ENTRYPOINT " ha-pg-start; then\n\t\tok=1\n");
    assert_has(strbuf_str(&s), "if [ \"$ok\" = 1 ]; then\n\tr standby register --force\n"
                               "\techo omlop-result=rejoined\n");
    /* pg_rewind failed, or the server did not start after it: a fresh clone in the same step,
     * saying why (a standby left crashed would need a crash recovery it cannot have) */
    assert_has(strbuf_str(&s), "the server did not start after pg_rewind: $(grep -E 'FATAL|PANIC'");
    assert_has(strbuf_str(&s), "else\n\techo \"omlop-rewind-error=$why\"\n");
    assert_has(strbuf_str(&s), "standby clone --fast-checkpoint\n");
    strbuf_reset(&s);

    assert_int_equal(ha_pg_step_script(HA_PG_PROMOTE, &c, NULL, &s, &err), 0);
    assert_has(strbuf_str(&s), "r standby promote\n");
    strbuf_reset(&s);
    assert_int_equal(ha_pg_step_script(HA_PG_REGISTER_PRIMARY, &c, NULL, &s, &err), 0);
    assert_has(strbuf_str(&s), "r primary register --force\n");
    strbuf_reset(&s);
    assert_int_equal(ha_pg_step_script(HA_PG_FENCE, &c, NULL, &s, &err), 0);
    assert_has(strbuf_str(&s), HA_PG_ENTRYPOINT " ha-pg-stop\n");
    strbuf_reset(&s);

    /* what cannot go into a script */
    assert_int_equal(ha_pg_step_script(HA_PG_CLONE, &c, NULL, &s, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "no primary address"));
    c.addr = "10.0.0.2' ; rm -rf /";
    assert_int_equal(ha_pg_step_script(HA_PG_FENCE, &c, NULL, &s, &err), OMLOP_EINVAL);
    assert_non_null(strstr(err.msg, "h2"));
    c.addr = "10.0.0.2";
    c.node_id = 0;
    assert_int_equal(ha_pg_step_script(HA_PG_FENCE, &c, NULL, &s, &err), OMLOP_EINVAL);
    strbuf_release(&s);
}

/* bash -n on a script: 0 when bash parses it */
static int bash_parses(const char *script)
{
    char path[] = "/tmp/omlop-test-ha-pg-XXXXXX", cmd[256];
    int fd = mkstemp(path), rc;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!f)
        fail_msg("mkstemp");
    fputs(script, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "bash -n %s 2>/dev/null", path);
    rc = system(cmd);
    unlink(path);
    return rc;
}

static void test_ha_pg_scripts_parse(void **state)
{
    static const ha_pg_step steps[] = {
        HA_PG_NONE,  HA_PG_REGISTER_PRIMARY, HA_PG_PROMOTE, HA_PG_CLONE, HA_PG_REJOIN,
        HA_PG_FENCE, HA_PG_REGISTER_STANDBY};
    ha_pg_node_conf c = {2, "h2", "10.0.0.2", "10.0.0.1"};
    strbuf s = STRBUF_INIT;
    omlop_err err = OMLOP_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        strbuf_reset(&s);
        assert_int_equal(ha_pg_step_script(steps[i], &c, "10.0.0.1", &s, &err), 0);
        if (bash_parses(strbuf_str(&s)) != 0)
            fail_msg("bash cannot parse the %s script:\n%s", ha_pg_step_name(steps[i]),
                     strbuf_str(&s));
    }
    strbuf_reset(&s);
    assert_int_equal(ha_pg_promote_after_script(&c, "0/3000028", 30, &s, &err), 0);
    if (bash_parses(strbuf_str(&s)) != 0)
        fail_msg("bash cannot parse the promote-after script:\n%s", strbuf_str(&s));
    strbuf_reset(&s);
    ha_pg_observe_script(2, &s);
    if (bash_parses(strbuf_str(&s)) != 0)
        fail_msg("bash cannot parse the observe script:\n%s", strbuf_str(&s));
    /* complete=1 is its last query: every other line came from a server that still answered */
    assert_non_null(strstr(strbuf_str(&s), "q \"SELECT 'complete=1'\"\nexit 0\n"));
    assert_true(strstr(strbuf_str(&s), "'complete=1'") > strstr(strbuf_str(&s), "'repl='"));
    /* the check itself can fail */
    assert_int_not_equal(bash_parses("echo 'unterminated\n"), 0);
    strbuf_release(&s);
}

/* --- weights ---------------------------------------------------------------------------------- */

static void test_ha_pg_vip_weights(void **state)
{
    ha_pg_obs o[2] = {node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_STANDBY, 1, SYS_A, 1)};
    ha_pg_decision d;

    (void)state;
    ha_pg_decide(o, 2, "h1", "h1", NULL, &d);
    assert_int_equal(ha_pg_rw_weight(&d, o, 0), 101);
    assert_int_equal(ha_pg_rw_weight(&d, o, 1), 0);
    assert_int_equal(ha_pg_ro_weight(&d, o, 0), 10);
    assert_int_equal(ha_pg_ro_weight(&d, o, 1), 100);

    /* after a failover the newer timeline outbids the stale value an old primary keeps */
    o[1] = node("h2", F_PRIMARY, 1, SYS_A, 2);
    o[0] = node("h1", F_DOWN, 0, "", 0);
    ha_pg_decide(o, 2, "h2", "h1", NULL, &d);
    assert_true(ha_pg_rw_weight(&d, o, 1) > 101);
    assert_int_equal(ha_pg_ro_weight(&d, o, 1), 10); /* no standby: the RO VIP too */
    assert_int_equal(ha_pg_rw_weight(&d, o, 0), 0);

    /* at and past the cap: the priority stays a VRRP priority (50 + 200 < 255) */
    o[1].timeline = 100;
    assert_int_equal(ha_pg_rw_weight(&d, o, 1), 200);
    o[1].timeline = 101;
    assert_int_equal(ha_pg_rw_weight(&d, o, 1), 200);

    /* nothing decided: nobody raises either VIP */
    o[1] = node("h2", F_STOPPED, 1, SYS_A, 1);
    ha_pg_decide(o, 2, "h1", "h1", NULL, &d);
    assert_int_equal(ha_pg_rw_weight(&d, o, 0) + ha_pg_rw_weight(&d, o, 1), 0);
    assert_int_equal(ha_pg_ro_weight(&d, o, 0) + ha_pg_ro_weight(&d, o, 1), 0);
}

/* --- status ----------------------------------------------------------------------------------- */

static void test_ha_pg_status(void **state)
{
    ha_pg_obs o[2] = {node("h1", F_PRIMARY, 1, SYS_A, 1), node("h2", F_STANDBY, 1, SYS_A, 1)};
    ha_pg_decision d;
    strbuf msg = STRBUF_INIT;
    const char *reason = "x";
    json_object *st, *old;
    ha_pg_failover fo = {"2026-12-05T08:00:00Z", "primary h1 lost", "h1", "h2"};

    (void)state;
    snprintf(o[0].repl_name, sizeof(o[0].repl_name), "h2");
    snprintf(o[0].repl_state, sizeof(o[0].repl_state), "streaming");
    o[0].repl_lag = 0;
    ha_pg_decide(o, 2, "h1", "h1", NULL, &d);
    st = ha_pg_status_json(&d, o, 2, NULL, NULL, &reason, &msg);
    assert_null(reason);
    assert_string_equal(cjson_get_string(st, "primary"), "h1");
    assert_string_equal(cjson_get_string(st, "standby"), "h2");
    assert_string_equal(cjson_get_string(st, "replication.state"), "streaming");
    assert_int_equal(json_object_get_int64(cjson_get(st, "replication.lagBytes")), 0);
    assert_int_equal(json_object_get_int64(cjson_get(st, "timeline")), 1);
    assert_null(cjson_get(st, "lastFailover"));

    /* a failover this round is recorded; the next rounds keep it */
    old = ha_pg_status_json(&d, o, 2, NULL, &fo, &reason, &msg);
    assert_string_equal(cjson_get_string(old, "lastFailover.from"), "h1");
    assert_string_equal(cjson_get_string(old, "lastFailover.to"), "h2");
    assert_string_equal(cjson_get_string(old, "lastFailover.time"), fo.time);
    json_object_put(st);
    st = ha_pg_status_json(&d, o, 2, old, NULL, &reason, &msg);
    assert_string_equal(cjson_get_string(st, "lastFailover.reason"), "primary h1 lost");
    json_object_put(st);

    /* no standby streaming: unhealthy, saying whose */
    o[1] = node("h2", F_DOWN, 0, "", 0);
    o[0].repl_state[0] = '\0';
    ha_pg_decide(o, 2, "h1", "h1", NULL, &d);
    st = ha_pg_status_json(&d, o, 2, old, NULL, &reason, &msg);
    assert_string_equal(reason, "StandbyNotStreaming");
    assert_non_null(strstr(strbuf_str(&msg), "h1"));
    assert_null(cjson_get(st, "standby"));
    assert_null(cjson_get(st, "replication"));
    json_object_put(st);

    /* no primary: the record is kept (the next round needs it to fail over) */
    o[0] = node("h1", F_DOWN, 0, "", 0);
    ha_pg_decide(o, 2, "h1", "h1", NULL, &d);
    st = ha_pg_status_json(&d, o, 2, old, NULL, &reason, &msg);
    assert_string_equal(reason, "NoPrimary");
    assert_string_equal(cjson_get_string(st, "primary"), "h1");
    json_object_put(st);
    json_object_put(old);
    strbuf_release(&msg);
}

static void test_ha_pg_status_promoted(void **state)
{
    ha_pg_failover fo = {"2026-12-05T08:00:00Z", "primary h1 lost", "h1", "h2"};
    json_object *old = json_tokener_parse(
        "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
        "\"ha\":{\"activeNode\":\"h1\",\"postgres\":{\"primary\":\"h1\",\"standby\":\"h2\","
        "\"timeline\":1,\"replication\":{\"state\":\"streaming\"}}}}");
    json_object *st;

    (void)state;
    assert_non_null(old);
    /* the failover replaces status.ha.postgres; the rest of the status stays as it was */
    st = ha_pg_status_promoted(old, &fo, 2);
    assert_string_equal(cjson_get_string(st, "ha.postgres.primary"), "h2");
    assert_int_equal(cjson_get_int(st, "ha.postgres.timeline", 0), 2);
    assert_null(cjson_get(st, "ha.postgres.standby")); /* nothing streams from h2 yet */
    assert_null(cjson_get(st, "ha.postgres.replication"));
    assert_string_equal(cjson_get_string(st, "ha.postgres.lastFailover.from"), "h1");
    assert_string_equal(cjson_get_string(st, "ha.postgres.lastFailover.to"), "h2");
    assert_string_equal(cjson_get_string(st, "ha.postgres.lastFailover.time"), fo.time);
    assert_string_equal(cjson_get_string(st, "ha.postgres.lastFailover.reason"), fo.reason);
    assert_string_equal(cjson_get_string(st, "ha.activeNode"), "h1");
    assert_non_null(cjson_get(st, "conditions"));
    /* old itself is not changed (the round's object) */
    assert_string_equal(cjson_get_string(old, "ha.postgres.primary"), "h1");
    json_object_put(st);

    /* timeline unknown: left out; no status (or no ha part) yet: made */
    st = ha_pg_status_promoted(NULL, &fo, 0);
    assert_string_equal(cjson_get_string(st, "ha.postgres.primary"), "h2");
    assert_null(cjson_get(st, "ha.postgres.timeline"));
    assert_string_equal(cjson_get_string(st, "ha.postgres.lastFailover.from"), "h1");
    json_object_put(st);
    json_object_put(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ha_pg_bootstrap_keeps_the_preferred_main),
        cmocka_unit_test(test_ha_pg_steady_and_repairs),
        cmocka_unit_test(test_ha_pg_failover_promotes_the_standby),
        cmocka_unit_test(test_ha_pg_failover_needs_the_standby_as_witness),
        cmocka_unit_test(test_ha_pg_old_primary_back_is_never_a_second_primary),
        cmocka_unit_test(test_ha_pg_switchover_only_when_settled_and_caught_up),
        cmocka_unit_test(test_ha_pg_wanted_primary),
        cmocka_unit_test(test_ha_pg_switchover_scripts),
        cmocka_unit_test(test_ha_pg_parse_reads_the_observation),
        cmocka_unit_test(test_ha_pg_step_scripts),
        cmocka_unit_test(test_ha_pg_scripts_parse),
        cmocka_unit_test(test_ha_pg_vip_weights),
        cmocka_unit_test(test_ha_pg_status),
        cmocka_unit_test(test_ha_pg_status_promoted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
