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
typedef struct cfg_ctx {
    const char *origin;
    sl_error *err;
    char path[CFG_PATH_MAX];
    size_t len;
    char fail_path[CFG_PATH_MAX]; /* the path of the first error, for override notes */
} cfg_ctx;

/* An allowed numeric range; lo_open/hi_open exclude the bound, +-INFINITY for none. */
typedef struct cfg_range {
    double lo, hi;
    int lo_open, hi_open;
} cfg_range;

void cfg_ctx_init(cfg_ctx *c, const char *origin, sl_error *err);
/* Appends ".key" (or "key" at the root) / "[i]"; return the length to pop back to. */
size_t cfg_push_key(cfg_ctx *c, const char *key);
size_t cfg_push_index(cfg_ctx *c, size_t i);
void cfg_pop(cfg_ctx *c, size_t len);

/* SL_ERR_CONFIG "origin: path: message" at the current path. */
sl_status cfg_fail(cfg_ctx *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The same at path + ".key". */
sl_status cfg_fail_at(cfg_ctx *c, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A short JSON rendering of v for "got ..." (truncated with "..."). */
const char *cfg_describe(const cJSON *v, char *buf, size_t size);

/* The member named key, or NULL when absent or null. */
const cJSON *cfg_member(const cJSON *obj, const char *key);

/*
 * Checks obj is an object whose keys are all in allowed (NULL-terminated)
 * and none repeated.  what names the object's kind for messages ("a linear
 * layer"); known (may be NULL) lists keys that exist elsewhere, so they are
 * reported as "not a setting of <what>" rather than unknown.
 */
sl_status cfg_check_keys(cfg_ctx *c, const cJSON *obj, const char *const *allowed,
                         const char *what, const char *const *known);
/* Checks v (at the current path) is an object. */
sl_status cfg_expect_object(cfg_ctx *c, const cJSON *v);
/* "missing key" error unless obj has key (not null). */
sl_status cfg_require(cfg_ctx *c, const cJSON *obj, const char *key);

/*
 * Typed readers of obj[key].  When the key is absent (or null) they leave
 * *out untouched and return SL_OK; otherwise they check the type and range.
 */
sl_status cfg_get_string(cfg_ctx *c, const cJSON *obj, const char *key, const char **out);
sl_status cfg_get_bool(cfg_ctx *c, const cJSON *obj, const char *key, int *out);
sl_status cfg_get_double(cfg_ctx *c, const cJSON *obj, const char *key, double *out,
                         cfg_range r);
sl_status cfg_get_float(cfg_ctx *c, const cJSON *obj, const char *key, float *out, cfg_range r);
sl_status cfg_get_int64(cfg_ctx *c, const cJSON *obj, const char *key, int64_t *out, int64_t lo,
                        int64_t hi);
sl_status cfg_get_int(cfg_ctx *c, const cJSON *obj, const char *key, int *out, int lo, int hi);
/* A string among names[0..count); *out gets its index. */
sl_status cfg_get_enum(cfg_ctx *c, const cJSON *obj, const char *key, const char *const *names,
                       int count, int *out);

/* The same checks on a value already in hand (v not NULL), at the current path. */
sl_status cfg_number(cfg_ctx *c, const cJSON *v, double *out, cfg_range r);
sl_status cfg_integer(cfg_ctx *c, const cJSON *v, int64_t *out, int64_t lo, int64_t hi);

/* The closest name to word (edit distance), or NULL when none is close. */
const char *cfg_suggest(const char *word, const char *const *names, int count);
/* Writes "\"a\", \"b\", \"c\"" into buf. */
const char *cfg_list(const char *const *names, int count, char *buf, size_t size);

/* config_parse.c: validates root into cfg (zeroed; origin and name set by the caller). */
sl_status cfg_parse_root(cfg_ctx *c, const cJSON *root, sl_config *cfg);

/* config_override.c: applies one "path=value" to root; errors name the assignment. */
sl_status cfg_apply_override(cJSON *root, const char *assignment, const char *origin,
                             sl_error *err);
/* The canonical path of an assignment ("a.b[2]") into buf, "" when malformed. */
void cfg_override_path(const char *assignment, char *buf, size_t size);

char *cfg_strdup(const char *s);

#endif
