/* udiff: unified diffs with Myers' algorithm. */
#include "clients/omlctl/udiff.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

typedef struct line {
    const char *p;
    size_t len; /* without the newline */
    int has_nl;
} line;

typedef struct lines {
    line *v;
    size_t n;
} lines;

typedef enum op { OP_EQ, OP_DEL, OP_INS } op;

typedef struct edit {
    op kind;
    size_t ai; /* index in a (EQ, DEL) */
    size_t bi; /* index in b (EQ, INS) */
} edit;

typedef struct edits {
    edit *v;
    size_t n;
    size_t cap;
} edits;

static void split_lines(const char *s, size_t len, lines *out)
{
    size_t cap = 16;
    const char *p = s, *end = s + len;

    out->n = 0;
    out->v = xmalloc(cap * sizeof(line));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        if (out->n == cap) {
            cap *= 2;
            out->v = xrealloc(out->v, cap * sizeof(line));
        }
        out->v[out->n].p = p;
        out->v[out->n].len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        out->v[out->n].has_nl = nl != NULL;
        out->n++;
        p = nl ? nl + 1 : end;
    }
}

static int line_eq(const line *x, const line *y)
{
    return x->len == y->len && x->has_nl == y->has_nl && memcmp(x->p, y->p, x->len) == 0;
}

static void push(edits *e, op kind, size_t ai, size_t bi)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->v = xrealloc(e->v, e->cap * sizeof(edit));
    }
    e->v[e->n].kind = kind;
    e->v[e->n].ai = ai;
    e->v[e->n].bi = bi;
    e->n++;
}

/*
 * Myers on a[a0..a1) vs b[b0..b1); appends the edits in order. trace[d] holds
 * V[-d..d] after step d, which is what the backtrack needs.
 */
static void myers(const lines *a, size_t a0, size_t a1, const lines *b, size_t b0, size_t b1,
                  edits *out)
{
    long n = (long)(a1 - a0), m = (long)(b1 - b0);
    long max = n + m, dmax = max < OMLCTL_UDIFF_MAX_D ? max : OMLCTL_UDIFF_MAX_D;
    long *v = xcalloc((size_t)(2 * max + 3), sizeof(long));
    long **trace = xcalloc((size_t)dmax + 1, sizeof(long *));
    long d, found = -1;
    edits rev = {NULL, 0, 0};

    if (!v || !trace)
        abort();
    for (d = 0; d <= dmax; d++) {
        trace[d] = xmalloc((size_t)(2 * d + 1) * sizeof(long));
        for (long k = -d; k <= d; k += 2) {
            long x, y;

            if (k == -d || (k != d && v[max + k - 1] < v[max + k + 1]))
                x = v[max + k + 1];
            else
                x = v[max + k - 1] + 1;
            y = x - k;
            while (x < n && y < m && line_eq(&a->v[a0 + (size_t)x], &b->v[b0 + (size_t)y])) {
                x++;
                y++;
            }
            v[max + k] = x;
            if (x >= n && y >= m) {
                found = d;
                break;
            }
        }
        for (long k = -d; k <= d; k++)
            trace[d][k + d] = v[max + k];
        if (found >= 0)
            break;
    }
    if (found < 0) {
        /* Too different to diff minimally within the memory bound: replace all. */
        for (long i = 0; i < n; i++)
            push(out, OP_DEL, a0 + (size_t)i, b0);
        for (long j = 0; j < m; j++)
            push(out, OP_INS, a0 + (size_t)n, b0 + (size_t)j);
        goto out;
    }
    {
        long x = n, y = m;

        for (d = found; d > 0; d--) {
            long k = x - y, pk, px, py;
            long *pv = trace[d - 1];

            if (k == -d || (k != d && pv[k - 1 + (d - 1)] < pv[k + 1 + (d - 1)]))
                pk = k + 1;
            else
                pk = k - 1;
            px = pv[pk + (d - 1)];
            py = px - pk;
            while (x > px && y > py) {
                x--;
                y--;
                push(&rev, OP_EQ, a0 + (size_t)x, b0 + (size_t)y);
            }
            if (x == px) {
                y--;
                push(&rev, OP_INS, a0 + (size_t)x, b0 + (size_t)y);
            } else {
                x--;
                push(&rev, OP_DEL, a0 + (size_t)x, b0 + (size_t)y);
            }
        }
        while (x > 0 && y > 0) {
            x--;
            y--;
            push(&rev, OP_EQ, a0 + (size_t)x, b0 + (size_t)y);
        }
        for (size_t i = rev.n; i > 0; i--)
            push(out, rev.v[i - 1].kind, rev.v[i - 1].ai, rev.v[i - 1].bi);
    }
out:
    for (long i = 0; i <= dmax && i <= (found >= 0 ? found : dmax); i++)
        free(trace[i]);
    free(trace);
    free(v);
    free(rev.v);
}

static void add_line(strbuf *out, char mark, const line *l)
{
    strbuf_addch(out, mark);
    strbuf_add(out, l->p, l->len);
    strbuf_addch(out, '\n');
    if (!l->has_nl)
        strbuf_adds(out, "\\ No newline at end of file\n");
}

static void range(strbuf *out, char sign, size_t start, size_t len)
{
    /* GNU diff: an empty range names the line before it; a one-line range omits ",1". */
    if (len == 0)
        strbuf_addf(out, "%c%zu,0", sign, start);
    else if (len == 1)
        strbuf_addf(out, "%c%zu", sign, start + 1);
    else
        strbuf_addf(out, "%c%zu,%zu", sign, start + 1, len);
}

int omlctl_udiff(const char *a, size_t alen, const char *b, size_t blen, const char *a_name,
                 const char *b_name, int context, strbuf *out)
{
    lines la, lb;
    edits e = {NULL, 0, 0};
    size_t head = 0, tail = 0, i;
    int differ = 0;

    split_lines(a, alen, &la);
    split_lines(b, blen, &lb);
    while (head < la.n && head < lb.n && line_eq(&la.v[head], &lb.v[head]))
        head++;
    while (tail < la.n - head && tail < lb.n - head &&
           line_eq(&la.v[la.n - 1 - tail], &lb.v[lb.n - 1 - tail]))
        tail++;
    for (i = 0; i < head; i++)
        push(&e, OP_EQ, i, i);
    myers(&la, head, la.n - tail, &lb, head, lb.n - tail, &e);
    for (i = 0; i < tail; i++)
        push(&e, OP_EQ, la.n - tail + i, lb.n - tail + i);
    for (i = 0; i < e.n; i++) {
        if (e.v[i].kind != OP_EQ)
            differ = 1;
    }
    if (!differ)
        goto out;
    strbuf_addf(out, "--- %s\n+++ %s\n", a_name, b_name);
    i = 0;
    while (i < e.n) {
        size_t start, end, j, a_start, b_start, a_len = 0, b_len = 0;

        while (i < e.n && e.v[i].kind == OP_EQ)
            i++;
        if (i == e.n)
            break;
        /* The hunk: back up context lines, then extend while changes are close. */
        start = i >= (size_t)context ? i - (size_t)context : 0;
        end = i;
        for (;;) {
            size_t eq_run = 0;

            while (end < e.n && e.v[end].kind != OP_EQ)
                end++;
            j = end;
            while (j < e.n && e.v[j].kind == OP_EQ) {
                j++;
                eq_run++;
            }
            if (j < e.n && eq_run <= 2 * (size_t)context) {
                end = j;
                continue;
            }
            end = end + (eq_run < (size_t)context ? eq_run : (size_t)context);
            break;
        }
        a_start = e.v[start].ai;
        b_start = e.v[start].bi;
        for (j = start; j < end; j++) {
            if (e.v[j].kind != OP_INS)
                a_len++;
            if (e.v[j].kind != OP_DEL)
                b_len++;
        }
        strbuf_adds(out, "@@ ");
        range(out, '-', a_start, a_len);
        strbuf_addch(out, ' ');
        range(out, '+', b_start, b_len);
        strbuf_adds(out, " @@\n");
        j = start;
        while (j < end) {
            size_t k = j;

            if (e.v[j].kind == OP_EQ) {
                add_line(out, ' ', &la.v[e.v[j].ai]);
                j++;
                continue;
            }
            /* A change block: its deletions first, then its insertions, as diff -u does. */
            while (k < end && e.v[k].kind != OP_EQ)
                k++;
            for (size_t m = j; m < k; m++) {
                if (e.v[m].kind == OP_DEL)
                    add_line(out, '-', &la.v[e.v[m].ai]);
            }
            for (size_t m = j; m < k; m++) {
                if (e.v[m].kind == OP_INS)
                    add_line(out, '+', &lb.v[e.v[m].bi]);
            }
            j = k;
        }
        i = end;
    }
out:
    free(e.v);
    free(la.v);
    free(lb.v);
    return differ;
}
