/*
 * config_internal.h - what the config files share: the validation context
 * (the JSON path being checked, for messages) and the typed readers.
 *
 *   config.c           loading, overrides' orchestration, free, build_model
 *   config_override.c  "path=value" assignments on the cJSON tree
 *   config_check.c     the context and the typed, range-checked readers
 *   config_parse.c     the sections: JSON tree -> sl_config
 *   config_emit.c      sl_config -> JSON text
 */
#ifndef SLOPE_CONFIG_INTERNAL_H
#define SLOPE_CONFIG_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "slope/config.h"

#define CFG_PATH_MAX 256

/* Where validation is: the origin for messages and the JSON path of the value. */
typedef struct sl_cfg_ctx {
    const char *origin;
    sl_error *err;
    char path[CFG_PATH_MAX];
    size_t len;
    char fail_path[CFG_PATH_MAX]; /* the path of the first error, for override notes */
} sl_cfg_ctx;

/* An allowed numeric range; lo_open/hi_open exclude the bound, +-INFINITY for none. */
typedef struct sl_cfg_range {
    double lo, hi;
    int lo_open, hi_open;
} sl_cfg_range;

void sl_cfg_ctx_init(sl_cfg_ctx *c, const char *origin, sl_error *err);
/* Appends ".key" (or "key" at the root) / "[i]"; return the length to pop back to. */
size_t sl_cfg_push_key(sl_cfg_ctx *c, const char *key);
size_t sl_cfg_push_index(sl_cfg_ctx *c, size_t i);
void sl_cfg_pop(sl_cfg_ctx *c, size_t len);

/* SL_ERR_CONFIG "origin: path: message" at the current path. */
sl_status sl_cfg_fail(sl_cfg_ctx *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The same at path + ".key". */
sl_status sl_cfg_fail_at(sl_cfg_ctx *c, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A short JSON rendering of v for "got ..." (truncated with "..."). */
const char *sl_cfg_describe(const cJSON *v, char *buf, size_t size);

/* The member named key, or NULL when absent or null. */
const cJSON *sl_cfg_member(const cJSON *obj, const char *key);

/*
 * Checks obj is an object whose keys are all in allowed (NULL-terminated)
 * and none repeated.  what names the object's kind for messages ("a linear
 * layer"); known (may be NULL) lists keys that exist elsewhere, so they are
 * reported as "not a setting of <what>" rather than unknown.
 */
sl_status sl_cfg_check_keys(sl_cfg_ctx *c, const cJSON *obj, const char *const *allowed,
                         const char *what, const char *const *known);
/* Checks v (at the current path) is an object. */
sl_status sl_cfg_expect_object(sl_cfg_ctx *c, const cJSON *v);
/* "missing key" error unless obj has key (not null). */
sl_status sl_cfg_require(sl_cfg_ctx *c, const cJSON *obj, const char *key);

/*
 * Typed readers of obj[key].  When the key is absent (or null) they leave
 * *out untouched and return SL_OK; otherwise they check the type and range.
 */
sl_status sl_cfg_get_string(sl_cfg_ctx *c, const cJSON *obj, const char *key, const char **out);
sl_status sl_cfg_get_bool(sl_cfg_ctx *c, const cJSON *obj, const char *key, int *out);
sl_status sl_cfg_get_double(sl_cfg_ctx *c, const cJSON *obj, const char *key, double *out,
                         sl_cfg_range r);
sl_status sl_cfg_get_float(sl_cfg_ctx *c, const cJSON *obj, const char *key, float *out, sl_cfg_range r);
sl_status sl_cfg_get_int64(sl_cfg_ctx *c, const cJSON *obj, const char *key, int64_t *out, int64_t lo,
                        int64_t hi);
sl_status sl_cfg_get_int(sl_cfg_ctx *c, const cJSON *obj, const char *key, int *out, int lo, int hi);
/* A string among names[0..count); *out gets its index. */
sl_status sl_cfg_get_enum(sl_cfg_ctx *c, const cJSON *obj, const char *key, const char *const *names,
                       int count, int *out);

/* The same checks on a value already in hand (v not NULL), at the current path. */
sl_status sl_cfg_number(sl_cfg_ctx *c, const cJSON *v, double *out, sl_cfg_range r);
sl_status sl_cfg_integer(sl_cfg_ctx *c, const cJSON *v, int64_t *out, int64_t lo, int64_t hi);

/* The closest name to word (edit distance), or NULL when none is close. */
const char *sl_cfg_suggest(const char *word, const char *const *names, int count);
/* Writes "\"a\", \"b\", \"c\"" into buf. */
const char *sl_cfg_list(const char *const *names, int count, char *buf, size_t size);

/* config_parse.c: validates root into cfg (zeroed; origin and name set by the caller). */
sl_status sl_cfg_parse_root(sl_cfg_ctx *c, const cJSON *root, sl_config *cfg);

/* config_override.c: applies one "path=value" to root; errors name the assignment. */
sl_status sl_cfg_apply_override(cJSON *root, const char *assignment, const char *origin,
                             sl_error *err);
/* The canonical path of an assignment ("a.b[2]") into buf, "" when malformed. */
void sl_cfg_override_path(const char *assignment, char *buf, size_t size);

char *sl_cfg_strdup(const char *s);

#endif
