/*
 * yamlio: the parsing core of yamlio.h (libyaml events -> ynode trees, under
 * limits), pure: no I/O. Files, directories and stdin are in yamlio_path.c,
 * writing YAML in yamlio_emit.c.
 *
 * The loader builds the tree straight from parser events instead of using
 * libyaml's document API, because that API expands nothing (aliases stay
 * node references) and keeps no per-key budget: here every node, alias copy
 * and byte of text is charged against the limits before it is allocated, so a
 * billion-laughs file fails after at most max_doc_nodes allocations.
 */
#include "yamlio.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/xalloc.h"

/* One input stops adding diagnostics after this many: a map of 10^5 duplicate keys is one bug. */
#define MAX_DIAGS_PER_INPUT 50
/* Alias copies may hold this many times the input's bytes of text (a big scalar aliased often). */
#define EXPAND_BYTES_FACTOR 16
#define EXPAND_BYTES_MIN    (1u << 20)

void yaml_limits_default(yaml_limits *limits)
{
    limits->max_input_bytes = 4u << 20;
    limits->max_doc_nodes = 100000;
    limits->max_depth = 64;
    limits->max_docs = 1000;
    limits->max_files = 10000;
}

void ydoc_list_release(ydoc_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->docs[i].file);
        ynode_free(list->docs[i].root);
    }
    free(list->docs);
    list->docs = NULL;
    list->n = list->cap = 0;
}

static void ydoc_list_push(ydoc_list *list, const char *file, int index, ynode *root)
{
    ydoc *d;

    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        ydoc *p = xrealloc(list->docs, cap * sizeof(*p));

        list->docs = p;
        list->cap = cap;
    }
    d = &list->docs[list->n++];
    d->file = xstrdup(file ? file : "");
    d->index = index;
    d->root = root;
}

/* Move every document of src to the end of dst; src ends empty. */
static void ydoc_list_move(ydoc_list *dst, ydoc_list *src)
{
    for (size_t i = 0; i < src->n; i++) {
        ydoc_list_push(dst, src->docs[i].file, src->docs[i].index, src->docs[i].root);
        src->docs[i].root = NULL;
    }
    ydoc_list_release(src);
}

/* Append s for a message: quoted, control bytes escaped, cut near 64 bytes (whole characters). */
static void add_quoted(strbuf *out, const char *s)
{
    size_t i;

    strbuf_addch(out, '\'');
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i >= 64 && (c & 0xc0) != 0x80)
            break;
        if (c < 0x20 || c == 0x7f)
            strbuf_addf(out, "\\x%02x", c);
        else
            strbuf_addch(out, (char)c);
    }
    if (s[i])
        strbuf_adds(out, "...");
    strbuf_addch(out, '\'');
}

/* --- loader ----------------------------------------------------------------------------- */

typedef struct anchor {
    char *name;
    ynode *node;     /* in the document tree; owned only for an anchored map key */
    int is_owned;    /* node is a key's scalar that lives only here */
    int is_complete; /* the node's end event was seen (else an alias to it is recursive) */
    size_t nodes;    /* what one copy costs against the budgets */
    size_t bytes;
    int height; /* nesting levels the node adds (0 for a scalar) */
} anchor;

typedef struct frame {
    ynode *node; /* an open map or sequence, already attached to its parent */
    char *key;   /* map: the key waiting for its value, or NULL */
    int key_line, key_col;
    size_t anchor; /* 1-based index into the anchors, 0 for none */
    size_t nodes_at_start, bytes_at_start;
    int height; /* largest height among the children so far */
} frame;

typedef struct loader {
    const char *file;
    const char *buf;
    size_t len;
    const yaml_limits *lim;
    diag_list *diags;
    size_t n_diags;
    int code;       /* 0, or the first error code of this input */
    int is_stopped; /* a limit was hit: parse no further */
    size_t max_bytes;
    size_t docs_seen;
    ydoc_list docs; /* handed to the caller only when the whole input is clean */

    /* the document being built */
    ynode *root;
    frame *stack;
    size_t depth, stack_cap;
    anchor *anchors;
    size_t n_anchors, anchors_cap;
    int is_doc_failed;
    size_t doc_nodes, doc_bytes;
} loader;

static frame *ld_top(loader *ld)
{
    return ld->depth ? &ld->stack[ld->depth - 1] : NULL;
}

/* Whether the next node of the open map is its key. */
static int ld_wants_key(loader *ld)
{
    frame *f = ld_top(ld);

    return f && f->node->kind == YNODE_MAP && !f->key;
}

/* Field path of the open node; with at_child, of the child about to be added. */
static void ld_path(const loader *ld, int at_child, strbuf *out)
{
    for (size_t i = 0; i + 1 < ld->depth; i++) {
        const ynode *p = ld->stack[i].node;

        if (p->kind == YNODE_MAP)
            ynode_path_append_key(out, p->pairs[p->n - 1].key);
        else
            ynode_path_append_index(out, p->n - 1);
    }
    if (at_child && ld->depth) {
        const frame *f = &ld->stack[ld->depth - 1];

        if (f->node->kind == YNODE_SEQ)
            ynode_path_append_index(out, f->node->n);
        else if (f->key)
            ynode_path_append_key(out, f->key);
    }
}

/*
 * Report a problem at line:col of the current document and fail it; a limit
 * (OMLOP_ELIMIT) also stops the input, since going on would cost what the
 * limit is there to prevent.
 */
static void ld_error(loader *ld, int code, int line, int col, int at_child, const char *fmt, ...)
    OMLOP_PRINTF(6, 7);

static void ld_error(loader *ld, int code, int line, int col, int at_child, const char *fmt, ...)
{
    strbuf msg = STRBUF_INIT, path = STRBUF_INIT;
    va_list ap;

    if (!ld->code)
        ld->code = code;
    ld->is_doc_failed = 1;
    if (code == OMLOP_ELIMIT)
        ld->is_stopped = 1;
    if (ld->n_diags >= MAX_DIAGS_PER_INPUT) {
        ld->is_stopped = 1;
        return;
    }
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    ld_path(ld, at_child, &path);
    if (++ld->n_diags == MAX_DIAGS_PER_INPUT)
        strbuf_adds(&msg, " (too many problems; stopped reading this input)");
    diag_add(ld->diags, ld->file, line, col, path.len ? path.buf : NULL, "%s", msg.buf);
    strbuf_release(&msg);
    strbuf_release(&path);
}

/* Charge nodes and bytes of text to the document; 0, or -1 after reporting the overrun. */
static int ld_charge(loader *ld, size_t nodes, size_t bytes, const yaml_mark_t *m,
                     const char *alias)
{
    const char *what = alias ? "alias expansion" : "document";
    int line = (int)m->line + 1, col = (int)m->column + 1;

    if (nodes > ld->lim->max_doc_nodes - ld->doc_nodes) {
        ld_error(ld, OMLOP_ELIMIT, line, col, 1, "%s exceeds %zu nodes (max_doc_nodes)%s%s", what,
                 ld->lim->max_doc_nodes, alias ? "; alias *" : "", alias ? alias : "");
        return -1;
    }
    if (bytes > ld->max_bytes - ld->doc_bytes) {
        ld_error(ld, OMLOP_ELIMIT, line, col, 1, "%s exceeds %zu bytes of text%s%s", what,
                 ld->max_bytes, alias ? "; alias *" : "", alias ? alias : "");
        return -1;
    }
    ld->doc_nodes += nodes;
    ld->doc_bytes += bytes;
    return 0;
}

static size_t ld_anchor_add(loader *ld, const char *name, ynode *node, int is_owned)
{
    anchor *a;

    if (ld->n_anchors == ld->anchors_cap) {
        size_t cap = ld->anchors_cap ? ld->anchors_cap * 2 : 8;
        anchor *p = xrealloc(ld->anchors, cap * sizeof(*p));

        ld->anchors = p;
        ld->anchors_cap = cap;
    }
    a = &ld->anchors[ld->n_anchors++];
    memset(a, 0, sizeof(*a));
    a->name = xstrdup(name);
    a->node = node;
    a->is_owned = is_owned;
    return ld->n_anchors;
}

static void ld_anchor_add_scalar(loader *ld, const char *name, ynode *scalar, int is_owned)
{
    size_t index = ld_anchor_add(ld, name, scalar, is_owned); /* may move ld->anchors */
    anchor *a = &ld->anchors[index - 1];

    a->is_complete = 1;
    a->nodes = 1;
    a->bytes = scalar->len;
}

/* The latest anchor of that name (YAML lets a name be redefined), or NULL. */
static anchor *ld_anchor_find(loader *ld, const char *name)
{
    for (size_t i = ld->n_anchors; i > 0; i--)
        if (strcmp(ld->anchors[i - 1].name, name) == 0)
            return &ld->anchors[i - 1];
    return NULL;
}

/* Add a finished child to the open collection (or make it the root); record its height. */
static void ld_attach(loader *ld, ynode *n, int height)
{
    frame *f = ld_top(ld);

    if (!f) {
        ld->root = n;
        return;
    }
    if (f->node->kind == YNODE_SEQ) {
        ynode_seq_add_take(f->node, n);
    } else {
        ynode_map_add_take(f->node, f->key, f->key_line, f->key_col, n);
        free(f->key);
        f->key = NULL;
    }
    if (height > f->height)
        f->height = height;
}

/* Take text as the open map's next key; 0 or -1 after reporting. */
static int ld_set_key(loader *ld, const char *text, size_t len, int line, int col)
{
    frame *f = ld_top(ld);

    if (memchr(text, '\0', len)) {
        ld_error(ld, OMLOP_EINVAL, line, col, 0, "map key contains a NUL character");
        return -1;
    }
    f->key = xstrndup(text, len);
    f->key_line = line;
    f->key_col = col;
    return 0;
}

static void ld_scalar(loader *ld, const yaml_event_t *ev)
{
    const char *text = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *anchor_name = (const char *)ev->data.scalar.anchor;
    size_t len = ev->data.scalar.length;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    int is_plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    int is_key = ld_wants_key(ld);
    ynode *n;

    if (ld_charge(ld, is_key ? 0 : 1, len, &ev->start_mark, NULL) < 0)
        return;
    n = ynode_new_scalar(text, len, is_plain, line, col);
    if (tag)
        ynode_set_tag(n, tag);
    if (is_key) {
        if (ld_set_key(ld, text, len, line, col) < 0 || !anchor_name) {
            ynode_free(n);
            return;
        }
        /* An anchored key can be aliased later as a value, so keep it as a node. */
        ld_anchor_add_scalar(ld, anchor_name, n, 1);
        return;
    }
    ld_attach(ld, n, 0);
    if (anchor_name)
        ld_anchor_add_scalar(ld, anchor_name, n, 0);
}

static void ld_collection_start(loader *ld, const yaml_event_t *ev, ynode_kind kind)
{
    const char *anchor_name = kind == YNODE_MAP ? (const char *)ev->data.mapping_start.anchor
                                                : (const char *)ev->data.sequence_start.anchor;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    ynode *n;
    frame *f;

    if (ld_wants_key(ld)) {
        ld_error(ld, OMLOP_EINVAL, line, col, 0,
                 "a %s cannot be a map key; keys must be scalars (strings)",
                 kind == YNODE_MAP ? "map" : "sequence");
        return;
    }
    if (ld->depth >= (size_t)ld->lim->max_depth) {
        ld_error(ld, OMLOP_ELIMIT, line, col, 1, "nesting deeper than %d levels (max_depth)",
                 ld->lim->max_depth);
        return;
    }
    if (ld_charge(ld, 1, 0, &ev->start_mark, NULL) < 0)
        return;
    n = kind == YNODE_MAP ? ynode_new_map(line, col) : ynode_new_seq(line, col);
    ld_attach(ld, n, 0);
    if (ld->depth == ld->stack_cap) {
        size_t cap = ld->stack_cap ? ld->stack_cap * 2 : 16;
        frame *p = xrealloc(ld->stack, cap * sizeof(*p));

        ld->stack = p;
        ld->stack_cap = cap;
    }
    f = &ld->stack[ld->depth++];
    memset(f, 0, sizeof(*f));
    f->node = n;
    f->nodes_at_start = ld->doc_nodes - 1;
    f->bytes_at_start = ld->doc_bytes;
    if (anchor_name)
        f->anchor = ld_anchor_add(ld, anchor_name, n, 0);
}

typedef struct keyref {
    const char *key;
    size_t idx;
} keyref;

static int keyref_by_key(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct dup_pair {
    size_t later, first;
} dup_pair;

static int dup_by_position(const void *a, const void *b)
{
    const dup_pair *x = a, *y = b;

    return x->later < y->later ? -1 : x->later > y->later;
}

/* Report every repeated key of the open map, in source order; sorting keeps big maps O(n log n). */
static void ld_check_dups(loader *ld, const ynode *map)
{
    keyref *refs;
    dup_pair *dups;
    size_t n_dups = 0, first = 0;

    if (map->n < 2)
        return;
    refs = xcalloc(map->n, sizeof(*refs));
    dups = xcalloc(map->n, sizeof(*dups));
    for (size_t i = 0; i < map->n; i++) {
        refs[i].key = map->pairs[i].key;
        refs[i].idx = i;
    }
    qsort(refs, map->n, sizeof(*refs), keyref_by_key);
    for (size_t i = 1; i < map->n; i++) {
        if (strcmp(refs[i].key, refs[i - 1].key) != 0) {
            first = i;
            continue;
        }
        dups[n_dups].later = refs[i].idx;
        dups[n_dups++].first = refs[first].idx;
    }
    qsort(dups, n_dups, sizeof(*dups), dup_by_position);
    for (size_t i = 0; i < n_dups && !ld->is_stopped; i++) {
        const ynode_pair *later = &map->pairs[dups[i].later];
        const ynode_pair *orig = &map->pairs[dups[i].first];
        strbuf key = STRBUF_INIT;

        add_quoted(&key, later->key);
        ld_error(ld, OMLOP_EINVAL, later->line, later->col, 0, "duplicate key %s (first at %d:%d)",
                 key.buf, orig->line, orig->col);
        strbuf_release(&key);
    }
    free(refs);
    free(dups);
}

static void ld_collection_end(loader *ld)
{
    frame *f = ld_top(ld);
    int height = f->height + 1;

    if (f->node->kind == YNODE_MAP)
        ld_check_dups(ld, f->node);
    if (f->anchor) {
        anchor *a = &ld->anchors[f->anchor - 1];

        a->is_complete = 1;
        a->nodes = ld->doc_nodes - f->nodes_at_start;
        a->bytes = ld->doc_bytes - f->bytes_at_start;
        a->height = height;
    }
    free(f->key);
    ld->depth--;
    f = ld_top(ld);
    if (f && height > f->height)
        f->height = height;
}

static void ld_alias(loader *ld, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    anchor *a = ld_anchor_find(ld, name);
    ynode *copy;

    if (!a) {
        ld_error(ld, OMLOP_EINVAL, line, col, 1, "undefined alias *%s (no &%s before it)", name,
                 name);
        return;
    }
    if (!a->is_complete) {
        ld_error(ld, OMLOP_EINVAL, line, col, 1,
                 "alias *%s refers to a node that contains it (recursive alias)", name);
        return;
    }
    if (ld_wants_key(ld)) {
        if (a->node->kind != YNODE_SCALAR) {
            ld_error(ld, OMLOP_EINVAL, line, col, 0,
                     "alias *%s names a %s, which cannot be a map key", name,
                     a->node->kind == YNODE_MAP ? "map" : "sequence");
            return;
        }
        if (ld_charge(ld, 0, a->node->len, &ev->start_mark, name) == 0)
            ld_set_key(ld, a->node->value, a->node->len, line, col);
        return;
    }
    if (ld_charge(ld, a->nodes, a->bytes, &ev->start_mark, name) < 0)
        return;
    if (ld->depth + (size_t)a->height > (size_t)ld->lim->max_depth) {
        ld_error(ld, OMLOP_ELIMIT, line, col, 1,
                 "alias *%s expands to nesting deeper than %d levels (max_depth)", name,
                 ld->lim->max_depth);
        return;
    }
    copy = ynode_clone(a->node);
    /* The copy's root sits where the alias was written; inner nodes keep the anchor's text. */
    copy->line = line;
    copy->col = col;
    ld_attach(ld, copy, a->height);
}

/* Drop what the document under construction owns. */
static void ld_doc_reset(loader *ld)
{
    while (ld->depth)
        free(ld->stack[--ld->depth].key);
    for (size_t i = 0; i < ld->n_anchors; i++) {
        free(ld->anchors[i].name);
        if (ld->anchors[i].is_owned)
            ynode_free(ld->anchors[i].node);
    }
    ld->n_anchors = 0;
    ynode_free(ld->root);
    ld->root = NULL;
    ld->is_doc_failed = 0;
    ld->doc_nodes = ld->doc_bytes = 0;
}

static int is_empty_doc(const ynode *root)
{
    return !root || (root->kind == YNODE_SCALAR && root->is_plain && root->len == 0 && !root->tag);
}

static void ld_doc_end(loader *ld)
{
    if (!ld->is_doc_failed && !is_empty_doc(ld->root)) {
        ydoc_list_push(&ld->docs, ld->file, (int)(ld->docs_seen - 1), ld->root);
        ld->root = NULL;
    }
    ld_doc_reset(ld);
}

static void ld_event(loader *ld, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++ld->docs_seen > ld->lim->max_docs)
            ld_error(ld, OMLOP_ELIMIT, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                     0, "more than %zu documents (max_docs)", ld->lim->max_docs);
        return;
    case YAML_DOCUMENT_END_EVENT:
        ld_doc_end(ld);
        return;
    default:
        break;
    }
    if (ld->is_doc_failed)
        return; /* skip to the document's end; later documents are still checked */
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        ld_scalar(ld, ev);
        break;
    case YAML_ALIAS_EVENT:
        ld_alias(ld, ev);
        break;
    case YAML_MAPPING_START_EVENT:
        ld_collection_start(ld, ev, YNODE_MAP);
        break;
    case YAML_SEQUENCE_START_EVENT:
        ld_collection_start(ld, ev, YNODE_SEQ);
        break;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        ld_collection_end(ld);
        break;
    default:
        break;
    }
}

/* 1-based line and column (in characters) of a byte offset into the input. */
static void offset_position(const char *buf, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\n') {
            ++*line;
            *col = 1;
        } else if ((c & 0xc0) != 0x80) {
            ++*col;
        }
    }
}

static void ld_syntax_error(loader *ld, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown problem";
    int line, col;

    switch (p->error) {
    case YAML_READER_ERROR:
        /*
         * The reader reports a byte offset, not a mark: bad UTF-8, control
         * characters. The offending byte is not quoted: it may be part of a
         * Secret's value, and its position is enough to find it.
         */
        offset_position(ld->buf, ld->len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            ld_error(ld, OMLOP_EINVAL, line, col, 0, "%s (at byte %zu); input must be UTF-8",
                     problem, p->problem_offset);
        else
            ld_error(ld, OMLOP_EINVAL, line, col, 0, "%s (at byte %zu)", problem,
                     p->problem_offset);
        break;
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
        if (p->context)
            ld_error(ld, OMLOP_EINVAL, line, col, 0, "syntax error: %s (%s started at %d:%d)",
                     problem, p->context, (int)p->context_mark.line + 1,
                     (int)p->context_mark.column + 1);
        else
            ld_error(ld, OMLOP_EINVAL, line, col, 0, "syntax error: %s", problem);
        break;
    default:
        ld_error(ld, OMLOP_ENOMEM, 0, 0, 0, "YAML parser failed: %s", problem);
        break;
    }
}

int yaml_load_buffer(const char *file, const char *buf, size_t len, const yaml_limits *limits,
                     ydoc_list *out, diag_list *diags)
{
    yaml_limits defaults;
    yaml_parser_t parser;
    loader ld;

    if (!limits) {
        yaml_limits_default(&defaults);
        limits = &defaults;
    }
    if (len > limits->max_input_bytes) {
        diag_add(diags, file, 0, 0, NULL,
                 "input is %zu bytes, over the %zu byte limit (max_input_bytes)", len,
                 limits->max_input_bytes);
        return OMLOP_ELIMIT;
    }
    memset(&ld, 0, sizeof(ld));
    ld.file = file;
    ld.buf = buf ? buf : "";
    ld.len = buf ? len : 0;
    ld.lim = limits;
    ld.diags = diags;
    ld.max_bytes = limits->max_input_bytes > SIZE_MAX / EXPAND_BYTES_FACTOR
                       ? SIZE_MAX
                       : limits->max_input_bytes * EXPAND_BYTES_FACTOR;
    if (ld.max_bytes < EXPAND_BYTES_MIN)
        ld.max_bytes = EXPAND_BYTES_MIN;
    if (!yaml_parser_initialize(&parser)) {
        diag_add(diags, file, 0, 0, NULL, "cannot start the YAML parser (out of memory)");
        return OMLOP_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)ld.buf, ld.len);
    /* Bounded: every event consumes input, and the stream ends at the end of the buffer. */
    while (!ld.is_stopped) {
        yaml_event_t ev;
        yaml_event_type_t type;

        if (!yaml_parser_parse(&parser, &ev)) {
            ld_syntax_error(&ld, &parser);
            break;
        }
        type = ev.type;
        ld_event(&ld, &ev);
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            break;
    }
    ld_doc_reset(&ld);
    free(ld.stack);
    free(ld.anchors);
    yaml_parser_delete(&parser);
    if (ld.code)
        ydoc_list_release(&ld.docs);
    else
        ydoc_list_move(out, &ld.docs);
    return ld.code;
}
