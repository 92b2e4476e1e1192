/*
 * config_check.c - the validation context and the typed readers: each one
 * checks a JSON value's type and range and, when it is wrong, reports
 * "origin: json.path: what was expected, got <value>".
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config_internal.h"

/* ---- context and messages ------------------------------------------------ */

void sl_cfg_ctx_init(sl_cfg_ctx *c, const char *origin, sl_error *err)
{
    memset(c, 0, sizeof *c);
    c->origin = origin;
    c->err = err;
}

static size_t push_text(sl_cfg_ctx *c, const char *sep, const char *text)
{
    size_t mark = c->len;
    int n = snprintf(c->path + c->len, sizeof c->path - c->len, "%s%s", sep, text);
    if (n > 0)
        c->len += (size_t)n < sizeof c->path - c->len ? (size_t)n : sizeof c->path - c->len - 1;
    return mark;
}

size_t sl_cfg_push_key(sl_cfg_ctx *c, const char *key)
{
    return push_text(c, c->len ? "." : "", key ? key : "");
}

size_t sl_cfg_push_index(sl_cfg_ctx *c, size_t i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "[%zu]", i);
    return push_text(c, "", buf);
}

void sl_cfg_pop(sl_cfg_ctx *c, size_t len)
{
    c->len = len;
    c->path[len] = '\0';
}

static sl_status vfail(sl_cfg_ctx *c, const char *fmt, va_list ap)
{
    char msg[SL_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!c->fail_path[0])
        snprintf(c->fail_path, sizeof c->fail_path, "%s", c->path);
    if (c->len == 0)
        return sl_error_set(c->err, SL_ERR_CONFIG, "%s: %s", c->origin, msg);
    return sl_error_set(c->err, SL_ERR_CONFIG, "%s: %s: %s", c->origin, c->path, msg);
}

sl_status sl_cfg_fail(sl_cfg_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_status st = vfail(c, fmt, ap);
    va_end(ap);
    return st;
}

sl_status sl_cfg_fail_at(sl_cfg_ctx *c, const char *key, const char *fmt, ...)
{
    size_t mark = sl_cfg_push_key(c, key);
    va_list ap;
    va_start(ap, fmt);
    sl_status st = vfail(c, fmt, ap);
    va_end(ap);
    sl_cfg_pop(c, mark);
    return st;
}

const char *sl_cfg_describe(const cJSON *v, char *buf, size_t size)
{
    char *text = v ? cJSON_PrintUnformatted(v) : NULL;
    if (!text) {
        snprintf(buf, size, "%s", v && cJSON_IsNumber(v) ? "a number" : "a value");
        return buf;
    }
    if (strlen(text) < size)
        snprintf(buf, size, "%s", text);
    else if (size > 4)
        snprintf(buf, size, "%.*s...", (int)(size - 4), text);
    cJSON_free(text);
    return buf;
}

/* ---- names: lists and suggestions ----------------------------------------- */

const char *sl_cfg_list(const char *const *names, int count, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "", names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

#define SUGGEST_MAX_LEN 64

/* Optimal string alignment distance (edits, with adjacent swaps), case-insensitive. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    unsigned char d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1]; /* distances <= 64 */
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            unsigned best = d[i - 1][j - 1] + (unsigned)(ai != bj);
            if (d[i - 1][j] + 1u < best)
                best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best)
                best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[n][m];
}

const char *sl_cfg_suggest(const char *word, const char *const *names, int count)
{
    if (!word || strlen(word) > SUGGEST_MAX_LEN)
        return NULL;
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits */
    for (int i = 0; i < count; i++) {
        if (strlen(names[i]) > SUGGEST_MAX_LEN)
            continue;
        size_t d = edit_distance(word, names[i]);
        /* A suggestion must keep something of both words. */
        if (d < best_d && d < strlen(word) && d < strlen(names[i])) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

static int count_names(const char *const *names)
{
    int n = 0;
    while (names && names[n])
        n++;
    return n;
}

static int has_name(const char *const *names, const char *key)
{
    for (int i = 0; names && names[i]; i++)
        if (strcmp(names[i], key) == 0)
            return 1;
    return 0;
}

/* ---- objects and keys -------------------------------------------------------- */

const cJSON *sl_cfg_member(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    return "null";
}

sl_status sl_cfg_expect_object(sl_cfg_ctx *c, const cJSON *v)
{
    if (cJSON_IsObject(v))
        return SL_OK;
    return sl_cfg_fail(c, "expected an object {...}, got %s", json_kind(v));
}

sl_status sl_cfg_require(sl_cfg_ctx *c, const cJSON *obj, const char *key)
{
    if (sl_cfg_member(obj, key))
        return SL_OK;
    return sl_cfg_fail(c, "missing key \"%s\"", key);
}

static sl_status unknown_key(sl_cfg_ctx *c, const char *key, const char *const *allowed,
                             const char *what, const char *const *known)
{
    char list[320];
    sl_cfg_list(allowed, count_names(allowed), list, sizeof list);
    if (has_name(known, key)) /* a key of another type: after --set optimizer.type=adam, say */
        return sl_cfg_fail(c, "not a setting of %s (its keys: %s); remove it, e.g. with --set "
                              "%s=null",
                           what, list, c->path);
    const char *near = sl_cfg_suggest(key, allowed, count_names(allowed));
    if (near)
        return sl_cfg_fail(c, "unknown key (did you mean \"%s\"?)", near);
    return sl_cfg_fail(c, "unknown key (the keys of %s are %s)", what, list);
}

static int seen_before(const cJSON *obj, const cJSON *item)
{
    for (const cJSON *p = obj->child; p && p != item; p = p->next)
        if (strcmp(p->string, item->string) == 0)
            return 1;
    return 0;
}

sl_status sl_cfg_check_keys(sl_cfg_ctx *c, const cJSON *obj, const char *const *allowed,
                         const char *what, const char *const *known)
{
    sl_status st = sl_cfg_expect_object(c, obj);
    if (st != SL_OK)
        return st;
    for (const cJSON *item = obj->child; st == SL_OK && item; item = item->next) {
        size_t mark = sl_cfg_push_key(c, item->string);
        if (seen_before(obj, item))
            st = sl_cfg_fail(c, "duplicate key");
        else if (!has_name(allowed, item->string))
            st = unknown_key(c, item->string, allowed, what, known);
        sl_cfg_pop(c, mark);
    }
    return st;
}

/* ---- values ---------------------------------------------------------------- */

static void range_text(sl_cfg_range r, char *buf, size_t size)
{
    if (isinf(r.hi))
        snprintf(buf, size, "%s %g", r.lo_open ? ">" : ">=", r.lo);
    else if (isinf(r.lo))
        snprintf(buf, size, "%s %g", r.hi_open ? "<" : "<=", r.hi);
    else
        snprintf(buf, size, "in %c%g, %g%c", r.lo_open ? '(' : '[', r.lo, r.hi,
                 r.hi_open ? ')' : ']');
}

static int in_range(double v, sl_cfg_range r)
{
    int lo_ok = r.lo_open ? v > r.lo : v >= r.lo;
    int hi_ok = r.hi_open ? v < r.hi : v <= r.hi;
    return lo_ok && hi_ok;
}

sl_status sl_cfg_number(sl_cfg_ctx *c, const cJSON *v, double *out, sl_cfg_range r)
{
    char got[96];
    if (!cJSON_IsNumber(v))
        return sl_cfg_fail(c, "expected a number, got %s", sl_cfg_describe(v, got, sizeof got));
    double x = v->valuedouble;
    if (!isfinite(x))
        return sl_cfg_fail(c, "the number is too large");
    if (!in_range(x, r)) {
        char want[96];
        range_text(r, want, sizeof want);
        return sl_cfg_fail(c, "must be %s, got %s", want, sl_cfg_describe(v, got, sizeof got));
    }
    *out = x;
    return SL_OK;
}

sl_status sl_cfg_integer(sl_cfg_ctx *c, const cJSON *v, int64_t *out, int64_t lo, int64_t hi)
{
    char got[96];
    if (!cJSON_IsNumber(v))
        return sl_cfg_fail(c, "expected an integer, got %s", sl_cfg_describe(v, got, sizeof got));
    double x = v->valuedouble;
    if (!isfinite(x) || floor(x) != x)
        return sl_cfg_fail(c, "expected an integer, got %s", sl_cfg_describe(v, got, sizeof got));
    if (x < (double)lo)
        return sl_cfg_fail(c, "must be >= %lld, got %s", (long long)lo,
                        sl_cfg_describe(v, got, sizeof got));
    if (x > (double)hi)
        return sl_cfg_fail(c, "must be <= %lld, got %s", (long long)hi,
                        sl_cfg_describe(v, got, sizeof got));
    *out = (int64_t)x;
    return SL_OK;
}

sl_status sl_cfg_get_string(sl_cfg_ctx *c, const cJSON *obj, const char *key, const char **out)
{
    const cJSON *v = sl_cfg_member(obj, key);
    if (!v)
        return SL_OK;
    char got[96];
    if (!cJSON_IsString(v))
        return sl_cfg_fail_at(c, key, "expected a string, got %s", sl_cfg_describe(v, got, sizeof got));
    if (v->valuestring[0] == '\0')
        return sl_cfg_fail_at(c, key, "must not be empty");
    *out = v->valuestring;
    return SL_OK;
}

sl_status sl_cfg_get_bool(sl_cfg_ctx *c, const cJSON *obj, const char *key, int *out)
{
    const cJSON *v = sl_cfg_member(obj, key);
    if (!v)
        return SL_OK;
    char got[96];
    if (!cJSON_IsBool(v))
        return sl_cfg_fail_at(c, key, "expected true or false, got %s",
                           sl_cfg_describe(v, got, sizeof got));
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return SL_OK;
}

sl_status sl_cfg_get_double(sl_cfg_ctx *c, const cJSON *obj, const char *key, double *out, sl_cfg_range r)
{
    const cJSON *v = sl_cfg_member(obj, key);
    if (!v)
        return SL_OK;
    size_t mark = sl_cfg_push_key(c, key);
    sl_status st = sl_cfg_number(c, v, out, r);
    sl_cfg_pop(c, mark);
    return st;
}

sl_status sl_cfg_get_float(sl_cfg_ctx *c, const cJSON *obj, const char *key, float *out, sl_cfg_range r)
{
    double x = 0.0;
    const cJSON *v = sl_cfg_member(obj, key);
    sl_status st = sl_cfg_get_double(c, obj, key, &x, r);
    if (st != SL_OK || !v)
        return st;
    if (fabs(x) > FLT_MAX)
        return sl_cfg_fail_at(c, key, "%g is too large for a float", x);
    /* A value inside the range can round out of it as a float32 (1e-50 > 0 becomes 0):
     * refused here, not found later as a zero step size or a config that cannot reload. */
    float f = (float)x;
    double fd = (double)f;
    int below = r.lo_open ? !(fd > r.lo) : !(fd >= r.lo);
    int above = r.hi_open ? !(fd < r.hi) : !(fd <= r.hi);
    if (below || above)
        return sl_cfg_fail_at(c, key, "%g rounds to %g as a float, outside the allowed range", x,
                              fd);
    *out = f;
    return SL_OK;
}

sl_status sl_cfg_get_int64(sl_cfg_ctx *c, const cJSON *obj, const char *key, int64_t *out, int64_t lo,
                        int64_t hi)
{
    const cJSON *v = sl_cfg_member(obj, key);
    if (!v)
        return SL_OK;
    size_t mark = sl_cfg_push_key(c, key);
    sl_status st = sl_cfg_integer(c, v, out, lo, hi);
    sl_cfg_pop(c, mark);
    return st;
}

sl_status sl_cfg_get_int(sl_cfg_ctx *c, const cJSON *obj, const char *key, int *out, int lo, int hi)
{
    int64_t x = 0;
    const cJSON *v = sl_cfg_member(obj, key);
    sl_status st = sl_cfg_get_int64(c, obj, key, &x, lo, hi);
    if (st == SL_OK && v)
        *out = (int)x;
    return st;
}

sl_status sl_cfg_get_enum(sl_cfg_ctx *c, const cJSON *obj, const char *key, const char *const *names,
                       int count, int *out)
{
    const cJSON *v = sl_cfg_member(obj, key);
    if (!v)
        return SL_OK;
    char list[320], got[96];
    sl_cfg_list(names, count, list, sizeof list);
    if (!cJSON_IsString(v))
        return sl_cfg_fail_at(c, key, "expected one of %s, got %s", list,
                           sl_cfg_describe(v, got, sizeof got));
    for (int i = 0; i < count; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = i;
            return SL_OK;
        }
    sl_cfg_describe(v, got, sizeof got);
    const char *near = sl_cfg_suggest(v->valuestring, names, count);
    if (near)
        return sl_cfg_fail_at(c, key, "unknown value %s (did you mean \"%s\"?); valid values: %s",
                           got, near, list);
    return sl_cfg_fail_at(c, key, "unknown value %s; valid values: %s", got, list);
}

char *sl_cfg_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = sl_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
