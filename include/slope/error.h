/*
 * slope/error.h - the one error mechanism of the library.
 *
 * Every fallible function returns an sl_status (or NULL, for constructors)
 * and, when given a non-NULL sl_error *, fills it with the status and a
 * readable message.  The library never prints and never exits: the caller
 * decides what to do with the message.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_ERROR_H
#define SLOPE_ERROR_H

#include "slope/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes.  SL_OK is zero; every error is non-zero. */
typedef enum sl_status {
    SL_OK = 0,
    SL_ERR_INVALID,     /**< a bad argument (NULL, out of range, wrong mode) */
    SL_ERR_SHAPE,       /**< tensor shapes do not fit the operation */
    SL_ERR_NOMEM,       /**< an allocation failed or a size overflowed */
    SL_ERR_IO,          /**< an output could not be created or written (a checkpoint, the
                             metrics file, a directory); also an MPI communication failure */
    SL_ERR_FORMAT,      /**< a file's content is malformed or truncated */
    SL_ERR_CONFIG,      /**< a model/training config is invalid */
    SL_ERR_NUMERIC,     /**< a NaN or Inf appeared where it must not */
    SL_ERR_STATE,       /**< a call out of order (e.g. backward twice) */
    SL_ERR_UNSUPPORTED, /**< a feature this build does not have */
    SL_ERR_READ         /**< an input could not be read: missing, no permission, a directory
                             or a FIFO instead of a file, an OS read error.  (Added in 0.3,
                             after the others, so their values stay; a malformed file is
                             SL_ERR_FORMAT, an invalid config SL_ERR_CONFIG.) */
} sl_status;

/* Room for two PATH_MAX (4096) paths plus a reason: a message naming long paths keeps
 * its reason.  A longer message is cut and ends with "...". */
#define SL_ERROR_MSG_MAX (8192 + 1024)

/** A status with its message.  Zero-initialise (or sl_error_clear) before use. */
typedef struct sl_error {
    sl_status status;
    char message[SL_ERROR_MSG_MAX];
} sl_error;

/** Resets err to SL_OK with an empty message.  err may be NULL. */
SL_API void sl_error_clear(sl_error *err);

/**
 * Records status and a printf-style message in err (if err is not NULL) and
 * returns status, so a caller can write `return sl_error_set(err, ...)`.
 * A message longer than SL_ERROR_MSG_MAX - 1 bytes is cut and its last three
 * bytes are "...", so a reader can tell it was truncated.
 */
SL_API sl_status sl_error_set(sl_error *err, sl_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** A constant name for a status, e.g. "SL_ERR_SHAPE". */
SL_API const char *sl_status_name(sl_status status);

#ifdef __cplusplus
}
#endif
#endif
