/*
 * io_dtype.c - the safetensors dtypes slope reads besides F32, each converted
 * to float as it loads: F16 and BF16 exactly, F64 rounded to nearest (beyond
 * the float range to +-inf), integers and BOOL to the nearest float (exact up
 * to 2^24, which covers counters such as torch's num_batches_tracked).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "io_internal.h"

static const struct {
    const char *name;
    size_t size;
} DTYPES[SL_IO_N_DTYPES] = {
    [SL_IO_F32] = {"F32", 4}, [SL_IO_F16] = {"F16", 2}, [SL_IO_BF16] = {"BF16", 2},
    [SL_IO_F64] = {"F64", 8}, [SL_IO_I64] = {"I64", 8}, [SL_IO_I32] = {"I32", 4},
    [SL_IO_I16] = {"I16", 2}, [SL_IO_I8] = {"I8", 1},   [SL_IO_U64] = {"U64", 8},
    [SL_IO_U32] = {"U32", 4}, [SL_IO_U16] = {"U16", 2}, [SL_IO_U8] = {"U8", 1},
    [SL_IO_BOOL] = {"BOOL", 1},
};

int sl_io_dtype_parse(const char *name)
{
    for (int d = 0; d < SL_IO_N_DTYPES; d++)
        if (strcmp(name, DTYPES[d].name) == 0)
            return d;
    return -1;
}

size_t sl_io_dtype_size(int dtype)
{
    return dtype >= 0 && dtype < SL_IO_N_DTYPES ? DTYPES[dtype].size : 0;
}

/* The n-byte little-endian unsigned integer at p. */
static uint64_t get_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* IEEE half: (1024 + m) 2^(e - 25) when normal, m 2^-24 when subnormal. */
static float from_f16(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0    ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* BF16 is the top half of a float32. */
static float from_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Converting a double outside the float range is undefined in C: clamp to +-inf first. */
static float from_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    if (isfinite(d) && fabs(d) > (double)FLT_MAX)
        return d > 0 ? INFINITY : -INFINITY;
    return (float)d;
}

/* A two's-complement integer of `bytes` bytes, sign-extended. */
static float from_signed(uint64_t v, size_t bytes)
{
    if (bytes < 8 && (v >> (8 * bytes - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * bytes);
    int64_t s;
    memcpy(&s, &v, sizeof s);
    return (float)s;
}

static float one_value(int dtype, const unsigned char *p)
{
    size_t n = DTYPES[dtype].size;
    uint64_t v = get_le(p, n);
    switch (dtype) {
    case SL_IO_F16: return from_f16((uint16_t)v);
    case SL_IO_BF16: return from_bf16((uint16_t)v);
    case SL_IO_F64: return from_f64(v);
    case SL_IO_I64:
    case SL_IO_I32:
    case SL_IO_I16:
    case SL_IO_I8: return from_signed(v, n);
    case SL_IO_BOOL: return v ? 1.0f : 0.0f;
    default: return (float)v; /* the unsigned kinds */
    }
}

void sl_io_dtype_to_f32(int dtype, const unsigned char *src, float *dst, int64_t n)
{
    size_t size = DTYPES[dtype].size;
    for (int64_t i = 0; i < n; i++)
        dst[i] = dtype == SL_IO_F32 ? sl_io_get_f32le(src + 4 * i)
                                    : one_value(dtype, src + size * (size_t)i);
}
