/*
 * tz: time zones from the tz database, read without the C library's TZ machinery.
 *
 * Why not localtime_r with setenv("TZ"): the process has one TZ, and omlopd's workers would
 * each set it for their own tenant; setenv racing with getenv (and localtime's tzset) in
 * other threads is undefined behaviour. A forked helper per computation is too heavy. So a zone
 * is read here from its TZif file (RFC 8536: /usr/share/zoneinfo/<name>, the 64-bit data of
 * version 2+, and the POSIX TZ rule of its footer for times after the last transition) into an
 * immutable value: any thread may use a loaded zone; nothing global is touched.
 *
 * Times are Unix seconds (int64_t). "Local" times are the wall clock's seconds counted as if
 * they were UTC (days_from_civil * 86400 + seconds of the day).
 */
#ifndef OMLOP_TZ_H
#define OMLOP_TZ_H

#include <stdint.h>

#include "lib/err.h"

#define TZ_DIR_DEFAULT "/usr/share/zoneinfo"

typedef struct tz tz;

/*
 * Load zone name ("Europe/Madrid", "UTC") from dir (NULL: TZ_DIR_DEFAULT). "UTC" needs no file.
 * Errors: OMLOP_EINVAL for a malformed name, OMLOP_ENOTFOUND for a zone the database lacks,
 * OMLOP_EPROTO for a file that is not TZif; each message names the zone.
 */
int tz_load(const char *name, const char *dir, tz **out, omlop_err *err);

/* A zone from a POSIX TZ rule alone ("CET-1CEST,M3.5.0,M10.5.0/3"); OMLOP_EINVAL if bad. */
int tz_from_posix(const char *rule, tz **out, omlop_err *err);

void tz_free(tz *z);

/* The zone's name as loaded. */
const char *tz_name(const tz *z);

/* Seconds east of UTC at instant t. */
int32_t tz_offset_at(const tz *z, int64_t t);

/* The first instant > t at which the offset changes: 1 and *next, or 0 when none. */
int tz_next_transition(const tz *z, int64_t t, int64_t *next);

typedef enum tz_local_kind {
    TZ_LOCAL_UNIQUE = 0, /* the wall-clock time happens once */
    TZ_LOCAL_GAP,        /* skipped (clocks moved forward): the instant the gap ends */
    TZ_LOCAL_OVERLAP,    /* happens twice (clocks moved back): its first occurrence */
} tz_local_kind;

/* The instant of wall-clock time local (see the kinds); *kind may be NULL. */
int64_t tz_local_to_utc(const tz *z, int64_t local, tz_local_kind *kind);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12), and back. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Day of the week of a day count: 0 Sunday .. 6 Saturday. */
int tz_weekday(int64_t days);

/* 1 for a leap year. */
int tz_is_leap(int64_t y);

#endif
