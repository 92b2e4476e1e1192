/* tensor.c - heap tensors: shapes, ownership, lazily made gradients. */
#include "alloc.h"
#include "guard.h"
#include "slope/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sl_status sl_shape_size(int ndim, const int64_t *shape, int64_t *size, sl_error *err)
{
    SL_GUARD(shape, err);
    SL_GUARD(size, err);
    if (ndim < 1 || ndim > SL_MAX_DIMS)
        return sl_error_set(err, SL_ERR_SHAPE, "tensor rank %d is outside 1..%d", ndim,
                            SL_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return sl_error_set(err, SL_ERR_SHAPE, "dimension %d is %lld; it must be >= 1", i,
                                (long long)shape[i]);
        /* Divide instead of multiplying first, so the check itself cannot overflow. */
        if (shape[i] > SL_TENSOR_MAX_ELEMS / n)
            return sl_error_set(err, SL_ERR_NOMEM,
                                "tensor of %d dims is larger than the limit of 2^40 elements",
                                ndim);
        n *= shape[i];
    }
    *size = n;
    return SL_OK;
}

static sl_tensor *tensor_header(int ndim, const int64_t *shape, sl_error *err)
{
    int64_t size;
    if (sl_shape_size(ndim, shape, &size, err) != SL_OK)
        return NULL;
    sl_tensor *t = sl_calloc(1, sizeof *t);
    if (!t) {
        sl_error_set(err, SL_ERR_NOMEM, "out of memory for a tensor header");
        return NULL;
    }
    t->ndim = ndim;
    for (int i = 0; i < SL_MAX_DIMS; i++)
        t->shape[i] = i < ndim ? shape[i] : 1;
    t->size = size;
    return t;
}

sl_tensor *sl_tensor_new(int ndim, const int64_t *shape, sl_error *err)
{
    sl_tensor *t = tensor_header(ndim, shape, err);
    if (!t)
        return NULL;
    t->data = sl_calloc((size_t)t->size, sizeof(float));
    if (!t->data) {
        sl_error_set(err, SL_ERR_NOMEM, "out of memory for a tensor of %lld floats",
                     (long long)t->size);
        sl_free(t);
        return NULL;
    }
    t->flags = SL_TENSOR_OWNS_DATA;
    return t;
}

sl_tensor *sl_tensor_wrap(float *data, int ndim, const int64_t *shape, sl_error *err)
{
    if (!data) {
        sl_error_set(err, SL_ERR_INVALID, "sl_tensor_wrap: data is NULL");
        return NULL;
    }
    sl_tensor *t = tensor_header(ndim, shape, err);
    if (!t)
        return NULL;
    t->data = data;
    return t;
}

void sl_tensor_free(sl_tensor *t)
{
    if (!t || (t->flags & SL_TENSOR_ARENA))
        return;
    if (t->flags & SL_TENSOR_OWNS_DATA)
        sl_free(t->data);
    if (t->flags & SL_TENSOR_OWNS_GRAD)
        sl_free(t->grad);
    sl_free(t);
}

void sl_tensor_set_requires_grad(sl_tensor *t, int requires_grad)
{
    if (!t)
        return;
    if (requires_grad)
        t->flags |= SL_TENSOR_REQUIRES_GRAD;
    else
        t->flags &= ~(unsigned)SL_TENSOR_REQUIRES_GRAD;
}

sl_status sl_tensor_ensure_grad(sl_tensor *t, sl_error *err)
{
    if (!t)
        return sl_error_set(err, SL_ERR_INVALID, "sl_tensor_ensure_grad: tensor is NULL");
    if (t->grad)
        return SL_OK;
    if (t->flags & SL_TENSOR_ARENA)
        return sl_error_set(err, SL_ERR_INVALID,
                            "arena tensors get their gradient from the graph during backward");
    t->grad = sl_calloc((size_t)t->size, sizeof(float));
    if (!t->grad)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a gradient of %lld floats",
                            (long long)t->size);
    t->flags |= SL_TENSOR_OWNS_GRAD;
    return SL_OK;
}

void sl_tensor_zero_grad(sl_tensor *t)
{
    if (t && t->grad)
        memset(t->grad, 0, (size_t)t->size * sizeof(float));
}

void sl_tensor_fill(sl_tensor *t, float value)
{
    if (!t)
        return;
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = value;
}

int sl_tensor_same_shape(const sl_tensor *a, const sl_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

char *sl_shape_str(const sl_tensor *t, char *buf, size_t bufsize)
{
    if (!buf || bufsize == 0)
        return buf;
    buf[0] = '\0';
    if (!t)
        return buf;
    size_t used = 0;
    for (int i = 0; i < t->ndim && used < bufsize; i++) {
        int n = snprintf(buf + used, bufsize - used, "%s%lld", i ? ", " : "[",
                         (long long)t->shape[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used < bufsize)
        snprintf(buf + used, bufsize - used, "]");
    return buf;
}
