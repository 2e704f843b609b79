/* tz: TZif files and POSIX TZ rules, read into immutable zones (see tz.h for why). */
#include "lib/tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define TZ_FILE_MAX     (512 * 1024)
#define TZ_NAME_MAX     128
#define TZ_TIME_MAX_S   (167 * 3600) /* RFC 8536's extension of POSIX rule times */
#define TZ_OFFSET_MAX_S (26 * 3600)  /* no zone is further from UTC (a margin for searches) */

typedef struct tz_rule_date {
    char kind; /* 'M' month.week.day, 'J' Julian 1-365 without Feb 29, 'N' 0-365 */
    int m, w, d, n;
    int32_t time; /* seconds after local midnight, in the offset in force before it */
} tz_rule_date;

typedef struct tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    tz_rule_date start, end;
} tz_rule;

struct tz {
    char name[TZ_NAME_MAX];
    int64_t *trans; /* transition instants, ascending */
    uint8_t *idx;   /* the type each transition switches to */
    size_t n_trans;
    int32_t *types; /* the utoff of each local time type */
    size_t n_types;
    int has_rule; /* times after the last transition follow rule */
    tz_rule rule;
};

/* ---- the calendar ------------------------------------------------------------------------ */

int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    /* years start in March so that Feb 29 is the last day of a year */
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int tz_weekday(int64_t days)
{
    return (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
}

int tz_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && tz_is_leap(y) ? 29 : md[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- POSIX TZ rules ---------------------------------------------------------------------- */

static const char *parse_abbr(const char *p)
{
    const char *s = p;

    if (*p == '<') {
        while (*p && *p != '>')
            p++;
        return *p == '>' && p - s > 1 ? p + 1 : NULL;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

static const char *parse_num(const char *p, int lo, int hi, int *out)
{
    int v = 0, n = 0;

    while (*p >= '0' && *p <= '9' && n < 4) {
        v = v * 10 + (*p++ - '0');
        n++;
    }
    if (n == 0 || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

/* [+-]h[h[h]][:mm[:ss]] into seconds (max_h hours at most). */
static const char *parse_hms(const char *p, int max_h, int32_t *out)
{
    int sign = 1, h, mi = 0, s = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!(p = parse_num(p, 0, max_h, &h)))
        return NULL;
    if (*p == ':' && !(p = parse_num(p + 1, 0, 59, &mi)))
        return NULL;
    if (*p == ':' && !(p = parse_num(p + 1, 0, 59, &s)))
        return NULL;
    *out = sign * (h * 3600 + mi * 60 + s);
    return p;
}

static const char *parse_date(const char *p, tz_rule_date *d)
{
    memset(d, 0, sizeof(*d));
    d->time = 2 * 3600;
    if (*p == 'M') {
        d->kind = 'M';
        if (!(p = parse_num(p + 1, 1, 12, &d->m)) || *p != '.' ||
            !(p = parse_num(p + 1, 1, 5, &d->w)) || *p != '.' ||
            !(p = parse_num(p + 1, 0, 6, &d->d)))
            return NULL;
    } else if (*p == 'J') {
        d->kind = 'J';
        if (!(p = parse_num(p + 1, 1, 365, &d->n)))
            return NULL;
    } else {
        d->kind = 'N';
        if (!(p = parse_num(p, 0, 365, &d->n)))
            return NULL;
    }
    if (*p == '/' && !(p = parse_hms(p + 1, TZ_TIME_MAX_S / 3600, &d->time)))
        return NULL;
    return p;
}

static int parse_rule(const char *s, tz_rule *r)
{
    const char *p = parse_abbr(s);
    int32_t off;

    memset(r, 0, sizeof(*r));
    if (!p || !(p = parse_hms(p, 24, &off)))
        return -1;
    r->std_off = -off; /* POSIX counts west of UTC */
    if (!*p)
        return 0;
    if (!(p = parse_abbr(p)))
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, 24, &off)))
            return -1;
        r->dst_off = -off;
    }
    if (!*p) { /* no dates: the US rules, as glibc assumes */
        parse_date("M3.2.0", &r->start);
        parse_date("M11.1.0", &r->end);
        return 0;
    }
    if (*p != ',' || !(p = parse_date(p + 1, &r->start)) || *p != ',' ||
        !(p = parse_date(p + 1, &r->end)) || *p)
        return -1;
    return 0;
}

/* Days since the epoch of a rule's date in year y. */
static int64_t rule_day(const tz_rule_date *d, int64_t y)
{
    int64_t jan1 = tz_days_from_civil(y, 1, 1), first;
    int64_t day;

    if (d->kind == 'J')
        return jan1 + d->n - 1 + (tz_is_leap(y) && d->n >= 60);
    if (d->kind == 'N')
        return jan1 + d->n;
    first = tz_days_from_civil(y, d->m, 1);
    day = first + (d->d - tz_weekday(first) + 7) % 7 + (int64_t)(d->w - 1) * 7;
    while (day >= first + month_days(y, d->m))
        day -= 7; /* week 5: the last such day */
    return day;
}

typedef struct rule_tr {
    int64_t at;
    int32_t off;
} rule_tr;

/* The transitions of years y0..y0+3, ascending. */
static void rule_transitions(const tz_rule *r, int64_t y0, rule_tr out[8])
{
    size_t n = 0;

    for (int64_t y = y0; y < y0 + 4; y++) {
        out[n].at = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
        out[n++].off = r->std_off;
        out[n].at = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
        out[n++].off = r->dst_off;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: 8 entries */
        for (size_t j = i; j > 0 && out[j].at < out[j - 1].at; j--) {
            rule_tr t = out[j];

            out[j] = out[j - 1];
            out[j - 1] = t;
        }
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;

    tz_civil_from_days(floor_div(t, 86400), &y, &m, &d);
    return y;
}

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    rule_tr tr[8];
    int32_t off;

    if (!r->has_dst)
        return r->std_off;
    rule_transitions(r, year_of(t) - 2, tr);
    off = tr[0].off == r->std_off ? r->dst_off : r->std_off; /* before the first: the other */
    for (size_t i = 0; i < 8 && tr[i].at <= t; i++)
        off = tr[i].off;
    return off;
}

static int rule_next(const tz_rule *r, int64_t t, int64_t *next)
{
    rule_tr tr[8];

    if (!r->has_dst)
        return 0;
    rule_transitions(r, year_of(t) - 1, tr);
    for (size_t i = 0; i < 8; i++)
        if (tr[i].at > t) {
            *next = tr[i].at;
            return 1;
        }
    return 0;
}

/* ---- TZif -------------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static int tzif_header(const unsigned char *p, size_t len, tzif_counts *c, char *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    *version = (char)p[4];
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    if (c->type == 0 || c->type > 256 || c->time > 100000 || c->leap > 10000 || c->chars > 100000 ||
        c->isut > 256 || c->isstd > 256)
        return -1;
    return 0;
}

static size_t tzif_block_len(const tzif_counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

static int tzif_parse(tz *z, const unsigned char *p, size_t len)
{
    tzif_counts c;
    char version;
    size_t tsize = 4, blen;
    const unsigned char *b;

    if (tzif_header(p, len, &c, &version) < 0)
        return -1;
    blen = tzif_block_len(&c, 4);
    if (44 + blen > len)
        return -1;
    if (version >= '2') { /* skip the 32-bit data: the 64-bit block follows */
        p += 44 + blen;
        len -= 44 + blen;
        if (tzif_header(p, len, &c, &version) < 0)
            return -1;
        tsize = 8;
        blen = tzif_block_len(&c, 8);
        if (44 + blen > len)
            return -1;
    }
    b = p + 44;
    z->n_trans = c.time;
    z->n_types = c.type;
    z->trans = xcalloc(c.time + 1, sizeof(*z->trans));
    z->idx = xcalloc(c.time + 1, 1);
    z->types = xcalloc(c.type, sizeof(*z->types));
    for (size_t i = 0; i < c.time; i++) {
        z->trans[i] = tsize == 8 ? be64(b + i * 8) : (int32_t)be32(b + i * 4);
        if (i > 0 && z->trans[i] <= z->trans[i - 1])
            return -1;
    }
    b += c.time * tsize;
    for (size_t i = 0; i < c.time; i++)
        if ((z->idx[i] = b[i]) >= c.type)
            return -1;
    b += c.time;
    for (size_t i = 0; i < c.type; i++) {
        z->types[i] = (int32_t)be32(b + i * 6);
        if (z->types[i] > TZ_OFFSET_MAX_S || z->types[i] < -TZ_OFFSET_MAX_S)
            return -1;
    }
    if (version >= '2') { /* the footer: "\n<POSIX rule>\n" */
        const unsigned char *f = p + 44 + blen, *end = p + len, *nl;
        char rule[256];

        if (f >= end || *f != '\n')
            return -1;
        nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
        if (!nl || (size_t)(nl - f - 1) >= sizeof(rule))
            return -1;
        memcpy(rule, f + 1, (size_t)(nl - f - 1));
        rule[nl - f - 1] = '\0';
        if (rule[0]) {
            if (parse_rule(rule, &z->rule) < 0)
                return -1;
            z->has_rule = 1;
        }
    }
    return 0;
}

static int name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= TZ_NAME_MAX || name[0] == '/' || name[0] == '.' || strstr(name, ".."))
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+' || *p == '.'))
            return 0;
    return 1;
}

static tz *tz_alloc(const char *name)
{
    tz *z = xcalloc(1, sizeof(*z));

    snprintf(z->name, sizeof(z->name), "%s", name);
    return z;
}

int tz_load(const char *name, const char *dir, tz **out, omlop_err *err)
{
    char path[512];
    unsigned char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    tz *z = NULL;
    int rc = 0;

    *out = NULL;
    if (!name || !name_ok(name))
        return omlop_err_set(err, OMLOP_EINVAL, "time zone \"%s\": not a tz database name",
                             name ? name : "");
    z = tz_alloc(name);
    if (strcmp(name, "UTC") == 0) {
        z->has_rule = 1; /* the zero offset, file or not */
        goto done;
    }
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : TZ_DIR_DEFAULT, name);
    if (!(f = fopen(path, "rb"))) {
        rc = omlop_err_set(err, errno == ENOENT || errno == ENOTDIR ? OMLOP_ENOTFOUND : OMLOP_EIO,
                           "time zone \"%s\": not in the tz database (%s: %s)", name, path,
                           strerror(errno));
        goto done;
    }
    buf = xmalloc(TZ_FILE_MAX);
    len = fread(buf, 1, TZ_FILE_MAX, f);
    if (len == TZ_FILE_MAX || ferror(f) || tzif_parse(z, buf, len) < 0)
        rc = omlop_err_set(err, OMLOP_EPROTO, "time zone \"%s\": %s is not a valid TZif file", name,
                           path);
done:
    if (f)
        fclose(f);
    free(buf);
    if (rc < 0)
        tz_free(z);
    else
        *out = z;
    return rc;
}

int tz_from_posix(const char *rule, tz **out, omlop_err *err)
{
    tz *z = tz_alloc(rule ? rule : "");

    *out = NULL;
    if (!rule || parse_rule(rule, &z->rule) < 0) {
        tz_free(z);
        return omlop_err_set(err, OMLOP_EINVAL, "TZ rule \"%s\": not a POSIX TZ rule",
                             rule ? rule : "");
    }
    z->has_rule = 1;
    *out = z;
    return 0;
}

void tz_free(tz *z)
{
    if (!z)
        return;
    free(z->trans);
    free(z->idx);
    free(z->types);
    free(z);
}

const char *tz_name(const tz *z)
{
    return z->name;
}

/* ---- lookups ----------------------------------------------------------------------------- */

int32_t tz_offset_at(const tz *z, int64_t t)
{
    size_t lo = 0, hi;

    if (z->n_trans == 0)
        return z->has_rule ? rule_offset(&z->rule, t) : z->types[0];
    if (t < z->trans[0])
        return z->types[0]; /* RFC 8536: type 0 before the first transition */
    if (t >= z->trans[z->n_trans - 1] && z->has_rule)
        return rule_offset(&z->rule, t);
    hi = z->n_trans; /* the last transition <= t: trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->types[z->idx[lo]];
}

int tz_next_transition(const tz *z, int64_t t, int64_t *next)
{
    size_t lo = 0, hi;

    if (z->n_trans > 0 && t < z->trans[z->n_trans - 1]) {
        hi = z->n_trans - 1; /* the first transition > t */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (z->trans[mid] > t)
                hi = mid;
            else
                lo = mid + 1;
        }
        /* skip the ones that change only a name (and zic's markers at 2^31 - 1) */
        for (; lo < z->n_trans; lo++) {
            int32_t before = lo > 0 ? z->types[z->idx[lo - 1]] : z->types[0];

            if (z->types[z->idx[lo]] != before) {
                *next = z->trans[lo];
                return 1;
            }
        }
        t = z->trans[z->n_trans - 1];
    }
    return z->has_rule ? rule_next(&z->rule, t, next) : 0;
}

int64_t tz_local_to_utc(const tz *z, int64_t local, tz_local_kind *kind)
{
    /* Walk the pieces of constant offset that can hold the instant, earliest first. */
    int64_t t = local - TZ_OFFSET_MAX_S - 3600, end = local + TZ_OFFSET_MAX_S + 3600;
    int32_t off = tz_offset_at(z, t);
    tz_local_kind k = TZ_LOCAL_UNIQUE;

    for (int guard = 0; guard < 64 && t <= end; guard++) {
        int64_t nt = INT64_MAX, u = local - off;
        int has_next = tz_next_transition(z, t, &nt);

        if (has_next && u >= nt && u >= t) {
            t = nt;
            off = tz_offset_at(z, nt);
            continue;
        }
        if (u < t) { /* the wall clock jumped over local when this piece began */
            k = TZ_LOCAL_GAP;
            u = t;
        } else if (has_next && tz_offset_at(z, nt) < off && local - tz_offset_at(z, nt) >= nt) {
            k = TZ_LOCAL_OVERLAP; /* the next piece has local again, later */
        }
        if (kind)
            *kind = k;
        return u;
    }
    if (kind)
        *kind = TZ_LOCAL_UNIQUE;
    return local - off;
}
