/*
 * config_override.c - "path=value" assignments on the JSON tree, before
 * validation.  path is keys joined by '.' with array indices in brackets
 * ("model.layers[2].alpha"; a key of digits is an index too: "model.layers.2.alpha");
 * value is JSON when it parses as JSON, else a plain string.  Missing objects on
 * the way are created; arrays are never grown, so an index past the end is an error.
 * The value null removes the key ("not given", as a null in the file means): nothing
 * is created for it, and a path that leads nowhere removes nothing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define SEGMENTS_MAX 32
#define KEY_MAX 128

typedef struct segment {
    int is_index;
    size_t index;
    char key[KEY_MAX];
} segment;

typedef struct assignment {
    segment seg[SEGMENTS_MAX];
    int n;
    const char *value; /* the text after '=' */
    const char *problem; /* why the path is malformed, or NULL */
} assignment;

/* Reads the digits at *q into s as an index, moving *q past them. */
static const char *read_digits(const char **q, segment *s)
{
    size_t v = 0;
    for (; isdigit((unsigned char)**q); (*q)++) {
        if (v > 100000000)
            return "array index too large";
        v = v * 10 + (size_t)(**q - '0');
    }
    s->is_index = 1;
    s->index = v;
    return NULL;
}

/* Reads "[digits]" at *p. */
static const char *read_index(const char **p, segment *s)
{
    const char *q = *p + 1;
    if (!isdigit((unsigned char)*q))
        return "expected an array index like [2]";
    const char *why = read_digits(&q, s);
    if (why)
        return why;
    if (*q != ']')
        return "expected ']' after the array index";
    *p = q + 1;
    return NULL;
}

/* Reads a key (up to '.', '[' or the end of the path). */
static const char *read_key(const char **p, const char *end, segment *s)
{
    const char *q = *p;
    while (q < end && *q != '.' && *q != '[' && *q != ']')
        q++;
    if (q == *p)
        return "empty key";
    if ((size_t)(q - *p) >= KEY_MAX)
        return "key too long";
    memcpy(s->key, *p, (size_t)(q - *p));
    s->key[q - *p] = '\0';
    s->is_index = 0;
    *p = q;
    const char *digits = s->key;
    if (strspn(s->key, "0123456789") == strlen(s->key)) /* "layers.2" is "layers[2]" */
        return read_digits(&digits, s);
    return NULL;
}

static const char *split_path(const char *p, const char *end, assignment *a)
{
    const char *why = NULL;
    while (!why && p < end) {
        if (a->n == SEGMENTS_MAX)
            return "path too deep";
        segment *s = &a->seg[a->n];
        if (*p == '[') {
            why = a->n == 0 ? "the path must start with a key" : read_index(&p, s);
        } else {
            if (a->n > 0 && *p++ != '.')
                return "expected '.' or '[' between path parts";
            why = read_key(&p, end, s);
        }
        a->n += !why;
    }
    return why;
}

static void parse_assignment(const char *text, assignment *a)
{
    memset(a, 0, sizeof *a);
    const char *eq = strchr(text, '=');
    if (!eq) {
        a->problem = "expected path=value";
        return;
    }
    const char *start = text, *end = eq;
    while (start < end && isspace((unsigned char)*start))
        start++;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    a->value = eq + 1;
    a->problem = start == end ? "empty path" : split_path(start, end, a);
}

/* The path of segments [0, n) as "a.b[2]". */
static const char *path_text(const assignment *a, int n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        const segment *s = &a->seg[i];
        int w = s->is_index ? snprintf(buf + used, size - used, "[%zu]", s->index)
                            : snprintf(buf + used, size - used, "%s%s", i ? "." : "", s->key);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

void sl_cfg_override_path(const char *assignment_text, char *buf, size_t size)
{
    assignment a;
    parse_assignment(assignment_text, &a);
    if (a.problem)
        buf[0] = '\0';
    else
        path_text(&a, a.n, buf, size);
}

/* ---- applying -------------------------------------------------------------- */

typedef struct override_ctx {
    const char *origin;
    const char *text;
    sl_error *err;
} override_ctx;

static sl_status override_fail(const override_ctx *o, const assignment *a, int upto,
                               const char *what)
{
    char path[CFG_PATH_MAX];
    path_text(a, upto, path, sizeof path);
    return sl_error_set(o->err, SL_ERR_CONFIG, "%s: override \"%s\": %s: %s", o->origin, o->text,
                        path, what);
}

static cJSON *parse_value(const char *text)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithOpts(text, &end, 1);
    if (v)
        return v;
    while (isspace((unsigned char)*text))
        text++;
    return cJSON_CreateString(text);
}

/* Steps from node into segment i (not the last one), creating a missing object. */
static cJSON *step_into(const override_ctx *o, const assignment *a, int i, cJSON *node,
                        sl_status *st)
{
    const segment *s = &a->seg[i];
    char msg[96];
    if (s->is_index) {
        int size = cJSON_GetArraySize(node);
        if ((size_t)size <= s->index) {
            snprintf(msg, sizeof msg, "no such element (the array has %d)", size);
            *st = override_fail(o, a, i + 1, msg);
            return NULL;
        }
        return cJSON_GetArrayItem(node, (int)s->index);
    }
    cJSON *child = cJSON_GetObjectItemCaseSensitive(node, s->key);
    if (child && !cJSON_IsNull(child))
        return child;
    if (a->seg[i + 1].is_index) {
        *st = override_fail(o, a, i + 1, "no such array");
        return NULL;
    }
    cJSON *made = cJSON_CreateObject();
    /* (ReplaceItemInObject names the new item; ReplaceItemViaPointer would not.) */
    int ok = made && (child ? cJSON_ReplaceItemInObjectCaseSensitive(node, s->key, made)
                            : cJSON_AddItemToObject(node, s->key, made));
    if (!ok) {
        cJSON_Delete(made);
        *st = sl_error_set(o->err, SL_ERR_NOMEM, "%s: out of memory", o->origin);
        return NULL;
    }
    return made;
}

/* Checks node can take segment i: an array for an index, an object for a key. */
static sl_status check_container(const override_ctx *o, const assignment *a, int i,
                                 const cJSON *node)
{
    const segment *s = &a->seg[i];
    if (s->is_index && !cJSON_IsArray(node))
        return override_fail(o, a, i, "not an array, so it has no index");
    if (!s->is_index && !cJSON_IsObject(node))
        return override_fail(o, a, i, "not an object, so it has no keys");
    return SL_OK;
}

static sl_status place(const override_ctx *o, const segment *s, cJSON *node, cJSON *value)
{
    int ok;
    if (s->is_index) {
        ok = cJSON_ReplaceItemInArray(node, (int)s->index, value);
    } else {
        ok = cJSON_GetObjectItemCaseSensitive(node, s->key)
                 ? cJSON_ReplaceItemInObjectCaseSensitive(node, s->key, value)
                 : cJSON_AddItemToObject(node, s->key, value);
    }
    if (ok)
        return SL_OK;
    cJSON_Delete(value);
    return sl_error_set(o->err, SL_ERR_NOMEM, "%s: out of memory", o->origin);
}

/* The node that holds the last segment, for a removal: NULL (and SL_OK) when some part of the
 * path is absent, so there is nothing to remove. */
static cJSON *find_parent(const override_ctx *o, const assignment *a, cJSON *node, sl_status *st)
{
    for (int i = 0; i + 1 < a->n && node; i++) {
        if ((*st = check_container(o, a, i, node)) != SL_OK)
            return NULL;
        const segment *s = &a->seg[i];
        node = s->is_index ? cJSON_GetArrayItem(node, (int)s->index)
                           : cJSON_GetObjectItemCaseSensitive(node, s->key);
        if (cJSON_IsNull(node))
            node = NULL;
    }
    return node;
}

/* PATH=null: removes the key (every copy of it), wherever it stands. */
static sl_status remove_key(const override_ctx *o, const assignment *a, cJSON *root)
{
    sl_status st = SL_OK;
    cJSON *node = find_parent(o, a, root, &st);
    if (!node)
        return st;
    if ((st = check_container(o, a, a->n - 1, node)) != SL_OK)
        return st;
    const segment *last = &a->seg[a->n - 1];
    if (last->is_index) /* removing one would renumber the rest: arrays keep their length */
        return override_fail(o, a, a->n, "null removes keys, not array elements");
    while (cJSON_GetObjectItemCaseSensitive(node, last->key))
        cJSON_DeleteItemFromObjectCaseSensitive(node, last->key);
    return SL_OK;
}

/* The value is the JSON null (whitespace around it allowed). */
static int is_null_text(const char *text)
{
    text += strspn(text, " \t\r\n");
    if (strncmp(text, "null", 4) != 0)
        return 0;
    return text[4 + strspn(text + 4, " \t\r\n")] == '\0';
}

sl_status sl_cfg_apply_override(cJSON *root, const char *text, const char *origin, sl_error *err)
{
    override_ctx o = {origin, text, err};
    assignment a;
    parse_assignment(text, &a);
    if (a.problem)
        return sl_error_set(err, SL_ERR_CONFIG, "%s: override \"%s\": %s", origin, text,
                            a.problem);
    if (is_null_text(a.value))
        return remove_key(&o, &a, root);
    cJSON *node = root;
    sl_status st = SL_OK;
    for (int i = 0; i + 1 < a.n && st == SL_OK; i++) {
        st = check_container(&o, &a, i, node);
        if (st == SL_OK)
            node = step_into(&o, &a, i, node, &st);
    }
    if (st == SL_OK)
        st = check_container(&o, &a, a.n - 1, node);
    const segment *last = &a.seg[a.n - 1];
    if (st == SL_OK && last->is_index && (size_t)cJSON_GetArraySize(node) <= last->index) {
        char msg[96];
        snprintf(msg, sizeof msg, "no such element (the array has %d)", cJSON_GetArraySize(node));
        st = override_fail(&o, &a, a.n, msg);
    }
    if (st != SL_OK)
        return st;
    cJSON *value = parse_value(a.value);
    if (!value)
        return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", origin);
    return place(&o, last, node, value);
}
