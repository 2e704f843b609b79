/*
 * cron: 5-field cron schedules (Vixie cron's syntax) and their next fire time in a time zone.
 *
 * Fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week
 * (0-7 or SUN-SAT, 0 and 7 Sunday); each a list of "*", "N", "A-B", with an optional "/STEP"
 * ("*" + "/15", "1-30/5"; "5/15" is refused as Vixie cron does). Macros: @hourly, @daily
 * (@midnight), @weekly,
 * @monthly, @yearly (@annually). As in Vixie cron, when both day fields are restricted (neither
 * starts with "*") a day matches if EITHER matches; otherwise both must.
 *
 * Times are matched on the zone's wall clock (lib/tz.h). Across a DST change: a wall-clock
 * time the clocks skip fires at the instant the gap ends (02:30 in a 02:00->03:00 jump fires at
 * 03:00, once); a wall-clock time that happens twice fires at its first occurrence only.
 */
#ifndef OMLOP_CRON_H
#define OMLOP_CRON_H

#include <stdint.h>

#include "lib/err.h"
#include "lib/tz.h"

typedef struct cron_expr {
    uint64_t minutes; /* bit n: minute n */
    uint32_t hours;
    uint32_t doms;   /* bit n: day n (1-31) */
    uint16_t months; /* bit n: month n (1-12) */
    uint8_t dows;    /* bit n: weekday n (0 Sunday - 6) */
    uint8_t is_dom_star, is_dow_star;
} cron_expr;

/*
 * Parse text. Errors (OMLOP_EINVAL) name the field: "field 2 (hour): 25 out of range 0-23",
 * "expected 5 fields (minute hour day-of-month month day-of-week), got 4"; a schedule that can
 * never fire (day 30 of February) is refused too.
 */
int cron_parse(const char *text, cron_expr *out, omlop_err *err);

/* 1 when the wall-clock minute local (tz.h's local seconds) matches. */
int cron_matches_local(const cron_expr *e, int64_t local);

/*
 * The first fire time > after (Unix seconds, on a whole minute of the wall clock) in zone z.
 * OMLOP_ENOTFOUND when there is none within 12 years (cron_parse refuses such schedules).
 */
int cron_next(const cron_expr *e, const tz *z, int64_t after, int64_t *next, omlop_err *err);

#endif
