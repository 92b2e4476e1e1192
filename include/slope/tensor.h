/*
 * slope/tensor.h - float32 tensors of up to four dimensions.
 *
 * A tensor is contiguous and row-major: [N, F] for features, [N, C, H, W] for
 * images.  Its data is either owned (freed by sl_tensor_free) or borrowed from
 * the caller (never freed by slope); the SL_TENSOR_OWNS_DATA flag says which.
 * The gradient buffer is made, zero-filled, the first time backward needs it.
 *
 * Tensors made by operations during a step live in the graph's arena
 * (SL_TENSOR_ARENA) and are valid until the next sl_graph_reset; never free
 * them.  Tensors made with sl_tensor_new / sl_tensor_wrap live on the heap
 * and are freed with sl_tensor_free.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_TENSOR_H
#define SLOPE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "slope/error.h"
#include "slope/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_MAX_DIMS 4

/** The largest element count a tensor may have (2^40 floats = 4 TiB). */
#define SL_TENSOR_MAX_ELEMS ((int64_t)1 << 40)

enum sl_tensor_flags {
    SL_TENSOR_OWNS_DATA = 1u << 0,     /**< data is freed with the tensor */
    SL_TENSOR_OWNS_GRAD = 1u << 1,     /**< grad is freed with the tensor */
    SL_TENSOR_REQUIRES_GRAD = 1u << 2, /**< backward computes a gradient for it */
    SL_TENSOR_ARENA = 1u << 3          /**< struct, data and grad live in an arena */
};

typedef struct sl_tensor {
    int ndim;                    /**< 1..SL_MAX_DIMS */
    int64_t shape[SL_MAX_DIMS];  /**< unused trailing entries are 1 */
    int64_t size;                /**< product of the shape */
    float *data;                 /**< size floats */
    float *grad;                 /**< NULL until needed; then size floats */
    unsigned flags;              /**< sl_tensor_flags */
} sl_tensor;

/**
 * Checks a shape and computes its element count into *size.
 * Errors: SL_ERR_SHAPE for ndim outside 1..4 or a dimension < 1;
 * SL_ERR_NOMEM when the product exceeds SL_TENSOR_MAX_ELEMS (overflow-safe).
 */
SL_API sl_status sl_shape_size(int ndim, const int64_t *shape, int64_t *size, sl_error *err);

/** A new zero-filled tensor owning its data.  NULL on error (see sl_shape_size). */
SL_API sl_tensor *sl_tensor_new(int ndim, const int64_t *shape, sl_error *err);

/**
 * A tensor viewing caller-owned data (not copied, never freed by slope).
 * The caller keeps data alive and unchanged in size for the tensor's life.
 */
SL_API sl_tensor *sl_tensor_wrap(float *data, int ndim, const int64_t *shape, sl_error *err);

/** Frees a heap tensor, its owned data and its grad.  NULL is a no-op. */
SL_API void sl_tensor_free(sl_tensor *t);

/** Marks t as a leaf whose gradient backward must compute (parameters). */
SL_API void sl_tensor_set_requires_grad(sl_tensor *t, int requires_grad);

/** Makes the gradient buffer of a heap tensor if missing.  SL_ERR_NOMEM on failure. */
SL_API sl_status sl_tensor_ensure_grad(sl_tensor *t, sl_error *err);

/** Zero-fills t's gradient if it has one. */
SL_API void sl_tensor_zero_grad(sl_tensor *t);

/** Sets every element of data to value. */
SL_API void sl_tensor_fill(sl_tensor *t, float value);

/** 1 when a and b have the same ndim and shape. */
SL_API int sl_tensor_same_shape(const sl_tensor *a, const sl_tensor *b);

/** Writes "[2, 3, 4]" into buf (always terminated).  Returns buf. */
SL_API char *sl_shape_str(const sl_tensor *t, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif
#endif
