/*
 * data_augment.c - random crop after padding and horizontal flip of normalised
 * image batches (slope/data.h: sl_augment_*).
 *
 * The trainer calls sl_augment_batch on each training batch it reads; nothing
 * else does (evaluation, the statistics probe, validation and test splits see
 * the images as they are).  Each image is copied once into a scratch image the
 * caller allocated, then written back row by row: a constant run of padding, a
 * straight (or, flipped, reversed) copy of the shifted source row, and another
 * run of padding.  Plain loops the compiler vectorises; no allocation.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "data_internal.h"
#include "slope/rng.h"

int sl_augment_active(const sl_augment_spec *a)
{
    return a && (a->crop || a->flip > 0.0f);
}

static void shape_text(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? ", " : "",
                                (long long)shape[d]);
}

sl_status sl_augment_check(const sl_augment_spec *a, int ndim, const int64_t *shape,
                           sl_error *err)
{
    if (!a || !shape || ndim < 1 || ndim > SL_DATA_MAX_DIMS)
        return sl_error_set(err, SL_ERR_INVALID, "sl_augment_check: NULL or bad shape");
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1 || shape[d] > INT32_MAX)
            return sl_error_set(err, SL_ERR_INVALID, "sl_augment_check: dim %d is %lld", d,
                                (long long)shape[d]);
    if (!(a->flip >= 0.0f && a->flip <= 1.0f)) /* NaN fails too */
        return sl_error_set(err, SL_ERR_CONFIG, "flip: must be in [0, 1], got %g",
                            (double)a->flip);
    if (!sl_augment_active(a))
        return SL_OK;
    const char *key = a->crop ? "crop" : "flip";
    if (ndim != 3) {
        char buf[64];
        shape_text(ndim, shape, buf, sizeof buf);
        return sl_error_set(err, SL_ERR_CONFIG, "%s: needs images [C, H, W], not samples of "
                            "shape [%s]", key, buf);
    }
    int64_t side = shape[1] < shape[2] ? shape[1] : shape[2];
    if (a->crop && (a->crop_padding < 0 || a->crop_padding >= side))
        return sl_error_set(err, SL_ERR_CONFIG,
                            "crop.padding: must be 0..%lld (below the image size %lldx%lld), "
                            "got %d",
                            (long long)side - 1, (long long)shape[1], (long long)shape[2],
                            a->crop_padding);
    return SL_OK;
}

float sl_augment_pad_value(const sl_dataset *ds)
{
    if (!ds)
        return 0.0f;
    float zero = 0.0f, pad = 0.0f;
    sl_normalize_values(ds->norm, ds->mean, ds->std, &zero, &pad, 1);
    return pad;
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

sl_augment_draw sl_augment_draw_for(const sl_augment_spec *a, const sl_augment_where *w,
                                    int64_t sample)
{
    sl_augment_draw d = {0, 0, 0};
    if (!a || !w)
        return d;
    int crop = a->crop && a->crop_padding > 0; /* padding 0: the window is the image */
    d.dy = d.dx = crop ? a->crop_padding : 0;
    /* A stream of its own: the shuffle and dropout streams hash (seed, epoch / step) other
     * ways, and the constant keeps (seed, 0, 0, 0) away from sl_rng_seed(seed). */
    uint64_t h = mix64(w->seed ^ 0x5A17A06D2C3B4E91ull);
    h = mix64(h ^ (uint64_t)w->epoch);
    h = mix64(h ^ (uint64_t)w->batch);
    h = mix64(h ^ (uint64_t)sample);
    sl_rng rng;
    sl_rng_seed(&rng, h);
    if (crop) {
        uint64_t span = 2 * (uint64_t)a->crop_padding + 1;
        d.dy = (int)sl_rng_below(&rng, span);
        d.dx = (int)sl_rng_below(&rng, span);
    }
    d.flip = sl_rng_uniform(&rng) < a->flip;
    return d;
}

static void fill(float *dst, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = v;
}

/* One output row from source row src (W floats) shifted by s = dx - p: out[x] = src[x + s],
 * or flipped out[x] = src[W - 1 - x + s]; pad outside the source. */
static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* [lo, hi) of the row is the source, the rest padding; a shift of W or more leaves none. */
static void write_row(float *out, const float *src, int64_t W, int64_t s, int flip, float pad)
{
    s = clamp(s, -W, W);
    if (!flip) {
        int64_t lo = s < 0 ? -s : 0, hi = s > 0 ? W - s : W;
        fill(out, lo, pad);
        memcpy(out + lo, src + lo + s, (size_t)(hi - lo) * sizeof *out);
        fill(out + hi, W - hi, pad);
        return;
    }
    int64_t lo = s > 0 ? s : 0, hi = s < 0 ? W + s : W;
    fill(out, lo, pad);
    const float *from = src + W - 1 + s; /* out[x] = from[-x] */
    for (int64_t x = lo; x < hi; x++)
        out[x] = from[-x];
    fill(out + hi, W - hi, pad);
}

void sl_augment_image(const sl_augment_spec *a, sl_augment_draw d, float *img, int64_t C,
                      int64_t H, int64_t W, float pad, float *scratch)
{
    if (!a || !img || !scratch || C < 1 || H < 1 || W < 1)
        return;
    int64_t p = a->crop_padding, sy = (int64_t)d.dy - p, sx = (int64_t)d.dx - p;
    if (sy == 0 && sx == 0 && !d.flip)
        return; /* the image itself */
    memcpy(scratch, img, (size_t)(C * H * W) * sizeof *img);
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < H; y++) {
            float *out = img + (c * H + y) * W;
            int64_t from = y + sy;
            if (from < 0 || from >= H)
                fill(out, W, pad);
            else
                write_row(out, scratch + (c * H + from) * W, W, sx, d.flip, pad);
        }
}

sl_status sl_augment_batch(const sl_augment_spec *a, const sl_augment_where *w, float *x,
                           int64_t n, const int64_t *shape, float pad, float *scratch,
                           sl_error *err)
{
    if (!a || !w || !x || !shape || !scratch || n < 0)
        return sl_error_set(err, SL_ERR_INVALID, "sl_augment_batch: NULL argument or n < 0");
    sl_status st = sl_augment_check(a, 3, shape, err);
    if (st != SL_OK || !sl_augment_active(a))
        return st;
    int64_t C = shape[0], H = shape[1], W = shape[2];
    if (C > INT64_MAX / H / W || (n > 0 && C * H * W > INT64_MAX / n))
        return sl_error_set(err, SL_ERR_INVALID, "sl_augment_batch: %lld images of %lldx%lldx%lld "
                            "overflow", (long long)n, (long long)C, (long long)H, (long long)W);
    for (int64_t i = 0; i < n; i++)
        sl_augment_image(a, sl_augment_draw_for(a, w, w->first + i), x + i * C * H * W, C, H, W,
                         pad, scratch);
    return SL_OK;
}
