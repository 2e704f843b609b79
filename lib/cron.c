/* cron: parsing 5-field schedules and finding their next fire time (see cron.h). */
#include "lib/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRON_SEARCH_DAYS (366 * 12) /* Feb 29 can be 8 years away (2096 -> 2104) */

typedef struct cron_field {
    const char *name;
    int lo, hi;
    const char *const *names; /* 3-letter names for lo.. (NULL: none) */
} cron_field;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const cron_field fields[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day of week", 0, 7, dow_names},
};

static int ferr(omlop_err *err, int i, const char *fmt, ...) OMLOP_PRINTF(3, 4);

/* "field N (name): ..." */
static int ferr(omlop_err *err, int i, const char *fmt, ...)
{
    char what[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return omlop_err_set(err, OMLOP_EINVAL, "field %d (%s): %s", i + 1, fields[i].name, what);
}

/* A number or a name at *p (within [s, end)); advances *p. */
static int value(const cron_field *f, int i, const char **p, const char *end, int *out,
                 omlop_err *err)
{
    const char *s = *p;
    long v = 0;
    char tok[16];
    size_t n = 0;

    while (s + n < end && s[n] != '-' && s[n] != '/' && s[n] != ',')
        n++;
    snprintf(tok, sizeof(tok), "%.*s", (int)(n < sizeof(tok) - 1 ? n : sizeof(tok) - 1), s);
    if (n == 0)
        return ferr(err, i, "an empty value");
    if (s[0] >= '0' && s[0] <= '9') {
        for (size_t k = 0; k < n; k++) {
            if (s[k] < '0' || s[k] > '9')
                return ferr(err, i, "\"%s\" is not a number", tok);
            if (v < 1000)
                v = v * 10 + (s[k] - '0');
        }
        if (v < f->lo || v > f->hi)
            return ferr(err, i, "%s out of range %d-%d", tok, f->lo, f->hi);
        *out = (int)v;
        *p = s + n;
        return 0;
    }
    for (int k = 0; f->names && f->names[k]; k++)
        if (n == 3 && strncasecmp(s, f->names[k], 3) == 0) {
            *out = f->lo + k;
            *p = s + n;
            return 0;
        }
    if (f->names)
        return ferr(err, i, "\"%s\" is not a number or a name (%s, %s, ...)", tok, f->names[0],
                    f->names[1]);
    return ferr(err, i, "\"%s\" is not a number", tok);
}

/* One field's text [s, end) into bits; *is_star when it starts with "*". */
static int field_parse(int i, const char *s, const char *end, uint64_t *bits, int *is_star,
                       omlop_err *err)
{
    const cron_field *f = &fields[i];
    const char *p = s;
    int rc;

    *bits = 0;
    *is_star = *s == '*';
    for (;;) {
        int a, b, step = 1, star = 0;

        if (p < end && *p == '*') {
            a = f->lo;
            b = f->hi;
            star = 1;
            p++;
        } else {
            if ((rc = value(f, i, &p, end, &a, err)) < 0)
                return rc;
            b = a;
            if (p < end && *p == '-') {
                p++;
                if ((rc = value(f, i, &p, end, &b, err)) < 0)
                    return rc;
                if (b < a)
                    return ferr(err, i, "range %d-%d is backwards", a, b);
            }
        }
        if (p < end && *p == '/') {
            long v = 0;
            const char *q = ++p;

            while (p < end && *p >= '0' && *p <= '9') {
                if (v < 1000)
                    v = v * 10 + (*p - '0');
                p++;
            }
            if (p == q || (p < end && *p != ','))
                return ferr(err, i, "a step must be a number (after \"/\")");
            if (v < 1 || v > f->hi)
                return ferr(err, i, "step %ld out of range 1-%d", v, f->hi);
            step = (int)v;
            if (!star && a == b) /* cronie reads 5/15 as 5-max/15, Vixie refuses it */
                return ferr(err, i, "a step needs * or a range before it (%d/%d: write %d-%d/%d)",
                            a, step, a, f->hi, step);
        }
        if (p < end && *p != ',')
            return ferr(err, i, "unexpected \"%c\"", *p);
        for (int v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << v;
        if (p >= end)
            break;
        if (++p >= end)
            return ferr(err, i, "a list ends with \",\"");
    }
    return 0;
}

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

/* 1 when some month of the set has some day of the set (day fields ANDed). */
static int can_fire(const cron_expr *e)
{
    static const int max_day[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (!e->is_dom_star && !e->is_dow_star)
        return 1; /* either day field: every weekday comes */
    for (int m = 1; m <= 12; m++)
        if (e->months & (1u << m))
            for (int d = 1; d <= max_day[m]; d++)
                if (e->doms & (1u << d))
                    return 1;
    return 0;
}

int cron_parse(const char *text, cron_expr *out, omlop_err *err)
{
    const char *p = text ? text : "", *start[5], *end[5];
    uint64_t bits[5];
    int star[5], n = 0, rc;

    memset(out, 0, sizeof(*out));
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '@') {
        size_t len = strcspn(p, " \t");

        for (size_t k = 0; k < sizeof(macros) / sizeof(macros[0]); k++)
            if (strlen(macros[k].name) == len && strncasecmp(p, macros[k].name, len) == 0 &&
                p[len + strspn(p + len, " \t")] == '\0')
                return cron_parse(macros[k].expr, out, err);
        return omlop_err_set(err, OMLOP_EINVAL,
                             "unknown macro \"%.*s\" (@hourly, @daily, @weekly, @monthly, "
                             "@yearly)",
                             (int)(len < 32 ? len : 32), p);
    }
    while (*p) {
        if (n == 5) {
            n++;
            break;
        }
        start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        end[n++] = p;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    if (n != 5) {
        if (n > 5)
            for (n = 5; *p; n++) { /* count the rest for the message */
                while (*p && *p != ' ' && *p != '\t')
                    p++;
                while (*p == ' ' || *p == '\t')
                    p++;
            }
        return omlop_err_set(err, OMLOP_EINVAL,
                             "expected 5 fields (minute hour day-of-month month day-of-week), "
                             "got %d",
                             n);
    }
    for (int i = 0; i < 5; i++)
        if ((rc = field_parse(i, start[i], end[i], &bits[i], &star[i], err)) < 0)
            return rc;
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->doms = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->dows = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 is Sunday too */
    out->is_dom_star = (uint8_t)star[2];
    out->is_dow_star = (uint8_t)star[4];
    if (!can_fire(out))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "fields 3 and 4 (day of month, month): never fires: no month of "
                             "the set has such a day");
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int day_matches(const cron_expr *e, int64_t day, int *month)
{
    int64_t y;
    int m, d, dom_ok, dow_ok;

    tz_civil_from_days(day, &y, &m, &d);
    *month = m;
    if (!(e->months & (1u << m)))
        return 0;
    dom_ok = (e->doms >> d) & 1;
    dow_ok = (e->dows >> tz_weekday(day)) & 1;
    return e->is_dom_star || e->is_dow_star ? dom_ok && dow_ok : dom_ok || dow_ok;
}

int cron_matches_local(const cron_expr *e, int64_t local)
{
    int64_t day = floor_div(local, 86400), sod = local - day * 86400;
    int m;

    return day_matches(e, day, &m) && ((e->hours >> (sod / 3600)) & 1) &&
           ((e->minutes >> (sod % 3600 / 60)) & 1);
}

int cron_next(const cron_expr *e, const tz *z, int64_t after, int64_t *next, omlop_err *err)
{
    int64_t local = after + tz_offset_at(z, after);
    int64_t start = floor_div(local, 60) * 60 + 60; /* the next wall-clock minute */
    int64_t day0 = floor_div(start, 86400);

    for (int64_t day = day0; day < day0 + CRON_SEARCH_DAYS; day++) {
        int month;

        if (!day_matches(e, day, &month))
            continue;
        for (int h = 0; h < 24; h++) {
            if (!((e->hours >> h) & 1) || day * 86400 + h * 3600 + 3599 < start)
                continue;
            for (int mi = 0; mi < 60; mi++) {
                int64_t c = day * 86400 + h * 3600 + mi * 60, u;

                if (!((e->minutes >> mi) & 1) || c < start)
                    continue;
                /* a wall-clock time before `after`'s can still be later: not in this order */
                u = tz_local_to_utc(z, c, NULL);
                if (u > after) {
                    *next = u;
                    return 0;
                }
            }
        }
    }
    return omlop_err_set(err, OMLOP_ENOTFOUND, "the schedule does not fire within %d years",
                         CRON_SEARCH_DAYS / 366);
}
