/* guard.h - entry checks for the public API: a NULL pointer argument is SL_ERR_INVALID. */
#ifndef SLOPE_GUARD_H
#define SLOPE_GUARD_H

#include "slope/error.h"

/* Returns SL_ERR_INVALID ("<function>: <arg> is NULL") from a function returning sl_status. */
#define SL_GUARD(p, err)                                                                     \
    do {                                                                                     \
        if (!(p))                                                                            \
            return sl_error_set((err), SL_ERR_INVALID, "%s: %s is NULL", __func__, #p);      \
    } while (0)

/* The same for a constructor: NULL with the error set. */
#define SL_GUARD_NULL(p, err)                                                                \
    do {                                                                                     \
        if (!(p)) {                                                                          \
            sl_error_set((err), SL_ERR_INVALID, "%s: %s is NULL", __func__, #p);             \
            return NULL;                                                                     \
        }                                                                                    \
    } while (0)

/* Metadata given as (kv, n): kv may be NULL only with n == 0, and every key and value is set. */
#define SL_GUARD_KV(kv, n, err)                                                              \
    do {                                                                                     \
        if ((n) && !(kv))                                                                    \
            return sl_error_set((err), SL_ERR_INVALID, "%s: %s is NULL with %zu entries",    \
                                __func__, #kv, (size_t)(n));                                 \
        for (size_t k_ = 0; k_ < (size_t)(n); k_++)                                          \
            if (!(kv)[k_].key || !(kv)[k_].value)                                            \
                return sl_error_set((err), SL_ERR_INVALID, "%s: %s[%zu] has a NULL %s",      \
                                    __func__, #kv, k_, (kv)[k_].key ? "value" : "key");      \
    } while (0)

#endif
