/* selector: parse and match Kubernetes label selectors (see selector.h). */
#include "crds/selector.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cjson.h"
#include "lib/xalloc.h"

#define LABEL_NAME_MAX   63
#define LABEL_PREFIX_MAX 253

typedef enum sel_op { SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOT_EXISTS } sel_op;

typedef struct sel_req {
    char *key;
    sel_op op;
    char **values;
    size_t n_values;
} sel_req;

struct selector {
    sel_req *reqs;
    size_t n;
};

typedef enum tok_type {
    TOK_END,
    TOK_IDENT,
    TOK_COMMA,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_EQ,  /* = or == */
    TOK_NE,  /* != */
    TOK_NOT, /* ! */
    TOK_BAD  /* an operator Kubernetes selectors do not have here (<, >) */
} tok_type;

typedef struct token {
    tok_type type;
    size_t pos; /* byte offset in the text */
    const char *start;
    size_t len;
} token;

typedef struct lexer {
    const char *text;
    size_t at;
    token cur;
} lexer;

static int is_special(char c)
{
    return c == ',' || c == '(' || c == ')' || c == '=' || c == '!' || c == '<' || c == '>' ||
           isspace((unsigned char)c);
}

static void lex_next(lexer *lx)
{
    const char *t = lx->text;
    token *k = &lx->cur;

    while (t[lx->at] && isspace((unsigned char)t[lx->at]))
        lx->at++;
    k->pos = lx->at;
    k->start = t + lx->at;
    k->len = 1;
    switch (t[lx->at]) {
    case '\0':
        k->type = TOK_END;
        k->len = 0;
        return;
    case ',':
        k->type = TOK_COMMA;
        break;
    case '(':
        k->type = TOK_LPAREN;
        break;
    case ')':
        k->type = TOK_RPAREN;
        break;
    case '=':
        k->type = TOK_EQ;
        if (t[lx->at + 1] == '=')
            k->len = 2;
        break;
    case '!':
        k->type = t[lx->at + 1] == '=' ? TOK_NE : TOK_NOT;
        k->len = k->type == TOK_NE ? 2 : 1;
        break;
    case '<':
    case '>':
        k->type = TOK_BAD;
        break;
    default:
        k->type = TOK_IDENT;
        k->len = 0;
        while (t[lx->at + k->len] && !is_special(t[lx->at + k->len]))
            k->len++;
    }
    lx->at += k->len;
}

static int tok_is_word(const token *k, const char *word)
{
    return k->type == TOK_IDENT && k->len == strlen(word) && memcmp(k->start, word, k->len) == 0;
}

static int fail_at(const lexer *lx, const token *k, omlop_err *err, const char *expected)
{
    if (k->type == TOK_END)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "label selector '%s': position %zu: expected %s, found the end",
                             lx->text, k->pos + 1, expected);
    return omlop_err_set(err, OMLOP_EINVAL,
                         "label selector '%s': position %zu: expected %s, found '%.*s'", lx->text,
                         k->pos + 1, expected, (int)k->len, k->start);
}

/* Kubernetes' qualified-name part: alnum at both ends, '-', '_', '.' inside. */
static int check_name(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return 0;
    }
    return 1;
}

/* DNS-1123 subdomain: lowercase alnum, '-' and '.', alnum at both ends. */
static int check_dns_subdomain(const char *s, size_t n)
{
    if (n == 0 || n > LABEL_PREFIX_MAX)
        return 0;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!(islower(c) || isdigit(c) || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int check_key(const lexer *lx, const token *k, omlop_err *err)
{
    const char *slash = memchr(k->start, '/', k->len);
    const char *name = slash ? slash + 1 : k->start;
    size_t name_len = k->len - (size_t)(name - k->start);

    if (slash && !check_dns_subdomain(k->start, (size_t)(slash - k->start)))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "label selector '%s': position %zu: key prefix '%.*s' must be a "
                             "lowercase DNS subdomain of at most %d characters",
                             lx->text, k->pos + 1, (int)(slash - k->start), k->start,
                             LABEL_PREFIX_MAX);
    if (!check_name(name, name_len, LABEL_NAME_MAX))
        return omlop_err_set(err, OMLOP_EINVAL,
                             "label selector '%s': position %zu: key '%.*s' must be at most %d "
                             "characters of [A-Za-z0-9-_.], starting and ending alphanumeric",
                             lx->text, k->pos + 1, (int)k->len, k->start, LABEL_NAME_MAX);
    return 0;
}

static int check_value(const lexer *lx, const token *k, omlop_err *err)
{
    if (k->len == 0 || check_name(k->start, k->len, LABEL_NAME_MAX))
        return 0;
    return omlop_err_set(err, OMLOP_EINVAL,
                         "label selector '%s': position %zu: value '%.*s' must be at most %d "
                         "characters of [A-Za-z0-9-_.], starting and ending alphanumeric",
                         lx->text, k->pos + 1, (int)k->len, k->start, LABEL_NAME_MAX);
}

static char *dup_tok(const token *k)
{
    char *s = xmalloc(k->len + 1);

    memcpy(s, k->start, k->len);
    s[k->len] = '\0';
    return s;
}

static void add_value(sel_req *r, const token *k)
{
    char **v = xrealloc(r->values, (r->n_values + 1) * sizeof(*v));

    r->values = v;
    r->values[r->n_values++] = k ? dup_tok(k) : xstrdup("");
    if (!r->values[r->n_values - 1])
        abort();
}

static void req_release(sel_req *r)
{
    free(r->key);
    for (size_t i = 0; i < r->n_values; i++)
        free(r->values[i]);
    free(r->values);
}

/* "(" v ["," v]* ")" after in/notin; an empty slot is the empty value. */
static int parse_set(lexer *lx, sel_req *r, omlop_err *err)
{
    int rc;

    if (lx->cur.type != TOK_LPAREN)
        return fail_at(lx, &lx->cur, err, "'(' after 'in'/'notin'");
    lex_next(lx);
    if (lx->cur.type == TOK_RPAREN)
        return omlop_err_set(err, OMLOP_EINVAL,
                             "label selector '%s': position %zu: the set of values for "
                             "'in'/'notin' is empty",
                             lx->text, lx->cur.pos + 1);
    for (;;) {
        if (lx->cur.type == TOK_IDENT) {
            if ((rc = check_value(lx, &lx->cur, err)) < 0)
                return rc;
            add_value(r, &lx->cur);
            lex_next(lx);
        } else if (lx->cur.type == TOK_COMMA || lx->cur.type == TOK_RPAREN) {
            add_value(r, NULL);
        } else {
            return fail_at(lx, &lx->cur, err, "a value, ',' or ')'");
        }
        if (lx->cur.type == TOK_RPAREN)
            break;
        if (lx->cur.type != TOK_COMMA)
            return fail_at(lx, &lx->cur, err, "',' or ')'");
        lex_next(lx);
    }
    lex_next(lx);
    return 0;
}

static int parse_requirement(lexer *lx, sel_req *r, omlop_err *err)
{
    int negated = 0, rc;

    if (lx->cur.type == TOK_NOT) {
        negated = 1;
        lex_next(lx);
    }
    if (lx->cur.type != TOK_IDENT)
        return fail_at(lx, &lx->cur, err, "a label key");
    if ((rc = check_key(lx, &lx->cur, err)) < 0)
        return rc;
    r->key = dup_tok(&lx->cur);
    lex_next(lx);
    if (negated) {
        r->op = SEL_NOT_EXISTS;
        if (lx->cur.type != TOK_COMMA && lx->cur.type != TOK_END)
            return fail_at(lx, &lx->cur, err, "',' or the end after '!key'");
        return 0;
    }
    switch (lx->cur.type) {
    case TOK_COMMA:
    case TOK_END:
        r->op = SEL_EXISTS;
        return 0;
    case TOK_EQ:
    case TOK_NE:
        r->op = lx->cur.type == TOK_EQ ? SEL_EQ : SEL_NE;
        lex_next(lx);
        if (lx->cur.type == TOK_IDENT) {
            if ((rc = check_value(lx, &lx->cur, err)) < 0)
                return rc;
            add_value(r, &lx->cur);
            lex_next(lx);
        } else if (lx->cur.type == TOK_COMMA || lx->cur.type == TOK_END) {
            add_value(r, NULL); /* "a=" selects the empty value, as in Kubernetes */
        } else {
            return fail_at(lx, &lx->cur, err, "a value");
        }
        return 0;
    case TOK_IDENT:
        if (tok_is_word(&lx->cur, "in") || tok_is_word(&lx->cur, "notin")) {
            r->op = tok_is_word(&lx->cur, "in") ? SEL_IN : SEL_NOTIN;
            lex_next(lx);
            return parse_set(lx, r, err);
        }
        return fail_at(lx, &lx->cur, err, "'=', '==', '!=', 'in', 'notin', ',' or the end");
    default:
        return fail_at(lx, &lx->cur, err, "'=', '==', '!=', 'in', 'notin', ',' or the end");
    }
}

int selector_parse(const char *text, selector **out, omlop_err *err)
{
    selector *sel = xcalloc(1, sizeof(*sel));
    lexer lx = {text ? text : "", 0, {TOK_END, 0, NULL, 0}};
    int rc = 0;

    *out = NULL;
    lex_next(&lx);
    while (lx.cur.type != TOK_END) {
        sel_req *reqs = xrealloc(sel->reqs, (sel->n + 1) * sizeof(*reqs));

        sel->reqs = reqs;
        memset(&sel->reqs[sel->n], 0, sizeof(sel->reqs[0]));
        sel->n++;
        if ((rc = parse_requirement(&lx, &sel->reqs[sel->n - 1], err)) < 0)
            goto fail;
        if (lx.cur.type == TOK_END)
            break;
        if (lx.cur.type != TOK_COMMA) {
            rc = fail_at(&lx, &lx.cur, err, "',' between requirements");
            goto fail;
        }
        lex_next(&lx);
        if (lx.cur.type == TOK_END) {
            rc = fail_at(&lx, &lx.cur, err, "a requirement after ','");
            goto fail;
        }
    }
    *out = sel;
    return 0;
fail:
    selector_free(sel);
    return rc;
}

void selector_free(selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++)
        req_release(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}

size_t selector_count(const selector *sel)
{
    return sel ? sel->n : 0;
}

static int in_set(const sel_req *r, const char *v)
{
    for (size_t i = 0; i < r->n_values; i++)
        if (strcmp(r->values[i], v) == 0)
            return 1;
    return 0;
}

int selector_matches(const selector *sel, const json_object *labels)
{
    for (size_t i = 0; sel && i < sel->n; i++) {
        const sel_req *r = &sel->reqs[i];
        json_object *v = NULL;
        const char *s = NULL;
        int present;

        present = labels && json_object_is_type(labels, json_type_object) &&
                  json_object_object_get_ex(labels, r->key, &v);
        /* A label that is not a string has no value any selector can name. */
        if (present && json_object_is_type(v, json_type_string))
            s = json_object_get_string(v);
        switch (r->op) {
        case SEL_EQ:
        case SEL_IN:
            if (!s || !in_set(r, s))
                return 0;
            break;
        case SEL_NE:
        case SEL_NOTIN:
            if (s && in_set(r, s))
                return 0;
            break;
        case SEL_EXISTS:
            if (!present)
                return 0;
            break;
        case SEL_NOT_EXISTS:
            if (present)
                return 0;
            break;
        }
    }
    return 1;
}

void selector_format(const selector *sel, strbuf *out)
{
    static const char *const ops[] = {"=", "!=", " in ", " notin "};

    for (size_t i = 0; sel && i < sel->n; i++) {
        const sel_req *r = &sel->reqs[i];

        if (i)
            strbuf_addch(out, ',');
        if (r->op == SEL_NOT_EXISTS)
            strbuf_addch(out, '!');
        strbuf_adds(out, r->key);
        if (r->op == SEL_EXISTS || r->op == SEL_NOT_EXISTS)
            continue;
        strbuf_adds(out, ops[r->op]);
        if (r->op == SEL_IN || r->op == SEL_NOTIN)
            strbuf_addch(out, '(');
        for (size_t k = 0; k < r->n_values; k++)
            strbuf_addf(out, "%s%s", k ? "," : "", r->values[k]);
        if (r->op == SEL_IN || r->op == SEL_NOTIN)
            strbuf_addch(out, ')');
    }
}
