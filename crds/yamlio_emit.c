/*
 * yamlio_emit: the writing half of yamlio.h (json-c -> block YAML through
 * libyaml's emitter), split from yamlio.c along the read/write seam.
 *
 * libyaml already quotes what would not parse back as the same text; what it
 * cannot know is which plain scalars a reader would type as non-strings, so
 * string_style() decides that for both YAML 1.1 and 1.2 readers.
 */
#include "yamlio.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Nesting yaml_emit_json accepts; json-c's own parser stops at 32. */
#define EMIT_MAX_DEPTH 256

static int str_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/*
 * Whether a one-line string would read back as something else, or not at all,
 * if written plain: YAML 1.1 booleans and nulls in any case, anything that
 * starts like a number (1.1 also has sexagesimal 12:30, 1_000, 0b1, dates),
 * indicators, ": " and " #", edge white space. Quoting is always safe, so the
 * number test is deliberately broad ("1st" is quoted too).
 */
static int needs_quotes(const char *s, size_t len)
{
    static const char *const words[] = {"y",     "n",    "yes", "no", "on", "off",  "true",
                                        "false", "null", "~",   "=",  "<<", ".inf", ".nan"};
    const char *num = s + (*s == '-' || *s == '+');

    if (len == 0 || memchr(s, '\0', len))
        return 1;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (str_ieq(s, words[i]) || (num != s && str_ieq(num, words[i])))
            return 1;
    if ((*num >= '0' && *num <= '9') || (*num == '.' && num[1] >= '0' && num[1] <= '9'))
        return 1;
    if (strchr("-?:,[]{}#&*!|>'\"%@` \t", *s) || s[len - 1] == ' ' || s[len - 1] == '\t' ||
        s[len - 1] == ':')
        return 1;
    return strstr(s, ": ") || strstr(s, " #") || strstr(s, ":\t") || strstr(s, "\t#");
}

/* Whether s has a line break other than "\n" (CR, NEL, LS, PS), which a block scalar would
 * not keep as written. */
static int has_odd_break(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\r')
            return 1;
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0x85)
            return 1;
        if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
            ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
            return 1;
    }
    return 0;
}

static yaml_scalar_style_t string_style(const char *s, size_t len, int is_key)
{
    if (memchr(s, '\n', len) || has_odd_break(s, len))
        /* libyaml falls back to double quotes by itself when a literal block cannot hold s
         * (trailing spaces on a line, control characters). */
        return is_key || has_odd_break(s, len) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                               : YAML_LITERAL_SCALAR_STYLE;
    if (needs_quotes(s, len))
        return YAML_SINGLE_QUOTED_SCALAR_STYLE; /* libyaml upgrades to double when needed */
    return YAML_PLAIN_SCALAR_STYLE;
}

typedef struct emitter {
    yaml_emitter_t em;
    strbuf path; /* field path of the value being written, for messages */
    omlop_err *err;
} emitter;

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
    strbuf_add(data, buffer, size);
    return 1;
}

/* Emit an initialized event (libyaml owns and frees it either way). */
static int emit(emitter *e, yaml_event_t *ev)
{
    if (yaml_emitter_emit(&e->em, ev))
        return 0;
    return omlop_err_set(e->err, OMLOP_EINVAL, "cannot write YAML%s%s: %s",
                         e->path.len ? " at " : "", strbuf_str(&e->path),
                         e->em.problem ? e->em.problem : "emitter error");
}

static int emit_scalar(emitter *e, const char *text, size_t len, yaml_scalar_style_t style)
{
    yaml_event_t ev;

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)len, 1, 1, style))
        return omlop_err_set(e->err, OMLOP_EINVAL, "cannot write YAML%s%s: not valid UTF-8",
                             e->path.len ? " at " : "", strbuf_str(&e->path));
    return emit(e, &ev);
}

static int emit_value(emitter *e, json_object *obj, int depth);

static int emit_object(emitter *e, json_object *obj, int depth)
{
    int empty = json_object_object_length(obj) == 0;
    yaml_event_t ev;
    int rc;

    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        empty ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    if ((rc = emit(e, &ev)) < 0)
        return rc;
    json_object_object_foreach(obj, k, v)
    {
        size_t mark = e->path.len, klen = strlen(k);

        ynode_path_append_key(&e->path, k);
        rc = emit_scalar(e, k, klen, string_style(k, klen, 1));
        if (rc == 0)
            rc = emit_value(e, v, depth + 1);
        strbuf_setlen(&e->path, mark);
        if (rc < 0)
            return rc;
    }
    yaml_mapping_end_event_initialize(&ev);
    return emit(e, &ev);
}

static int emit_array(emitter *e, json_object *arr, int depth)
{
    size_t n = json_object_array_length(arr);
    yaml_event_t ev;
    int rc;

    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                         n ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE);
    if ((rc = emit(e, &ev)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        size_t mark = e->path.len;

        ynode_path_append_index(&e->path, i);
        rc = emit_value(e, json_object_array_get_idx(arr, i), depth + 1);
        strbuf_setlen(&e->path, mark);
        if (rc < 0)
            return rc;
    }
    yaml_sequence_end_event_initialize(&ev);
    return emit(e, &ev);
}

static int emit_value(emitter *e, json_object *obj, int depth)
{
    strbuf text = STRBUF_INIT;
    int rc;

    if (depth > EMIT_MAX_DEPTH)
        return omlop_err_set(e->err, OMLOP_ELIMIT, "cannot write YAML at %s: nested deeper than %d",
                             strbuf_str(&e->path), EMIT_MAX_DEPTH);
    switch (json_object_get_type(obj)) {
    case json_type_object:
        return emit_object(e, obj, depth);
    case json_type_array:
        return emit_array(e, obj, depth);
    case json_type_string: {
        const char *s = json_object_get_string(obj);
        size_t len = (size_t)json_object_get_string_len(obj);

        return emit_scalar(e, s, len, string_style(s, len, 0));
    }
    case json_type_null:
        return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    case json_type_boolean:
        return json_object_get_boolean(obj) ? emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE)
                                            : emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    case json_type_int:
        /* json-c's own text is right for int64 and uint64 alike. */
        strbuf_adds(&text, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
        break;
    case json_type_double:
        ynode_format_double(json_object_get_double(obj), &text);
        break;
    }
    rc = emit_scalar(e, text.buf, text.len, YAML_PLAIN_SCALAR_STYLE);
    strbuf_release(&text);
    return rc;
}

int yaml_emit_json(const json_object *cobj, strbuf *out, omlop_err *err)
{
    json_object *obj = (json_object *)cobj; /* json-c's getters are not const-correct */
    strbuf text = STRBUF_INIT;
    emitter e;
    yaml_event_t ev;
    int rc;

    memset(&e, 0, sizeof(e));
    e.err = err;
    if (!yaml_emitter_initialize(&e.em))
        return omlop_err_set(err, OMLOP_ENOMEM, "cannot start the YAML emitter");
    yaml_emitter_set_output(&e.em, emit_write, &text);
    yaml_emitter_set_unicode(&e.em, 1);
    yaml_emitter_set_indent(&e.em, 2);
    yaml_emitter_set_width(&e.em, -1); /* never fold long lines: keeps image refs greppable */
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    rc = emit(&e, &ev);
    if (rc == 0) {
        /* After earlier output, "---" keeps this document separate from the one before. */
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, out->len == 0);
        rc = emit(&e, &ev);
    }
    if (rc == 0)
        rc = emit_value(&e, obj, 0);
    if (rc == 0) {
        yaml_document_end_event_initialize(&ev, 1);
        rc = emit(&e, &ev);
    }
    if (rc == 0) {
        yaml_stream_end_event_initialize(&ev);
        rc = emit(&e, &ev);
    }
    if (rc == 0 && !yaml_emitter_flush(&e.em))
        rc = omlop_err_set(err, OMLOP_EIO, "cannot write YAML: flush failed");
    yaml_emitter_delete(&e.em);
    if (rc == 0)
        strbuf_add(out, text.buf ? text.buf : "", text.len);
    strbuf_release(&text);
    strbuf_release(&e.path);
    return rc;
}
