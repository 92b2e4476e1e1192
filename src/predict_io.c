/*
 * predict_io.c - what `slope predict` reads and writes (slope/predict.h): its inputs
 * (one IDX images file, one CSV file, or PNG / PGM images), told apart by their first
 * bytes and made to fit the model's input, and the CSV of the predictions.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "alloc.h"
#include "data_internal.h"
#include "guard.h"
#include "io_internal.h"
#include "nn_internal.h"
#include "slope/predict.h"

typedef enum input_kind { INPUT_CSV, INPUT_IDX, INPUT_IMAGE } input_kind;

/* 1 when path ends in ext, ignoring case. */
static int ends_with(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    if (n < e)
        return 0;
    for (size_t i = 0; i < e; i++)
        if (tolower((unsigned char)path[n - e + i]) != ext[i])
            return 0;
    return 1;
}

/* The kind of a file by its first bytes (inflated, for gzip), else by its name. */
static sl_status sniff(const char *path, input_kind *kind, sl_error *err)
{
    gzFile f = NULL;
    sl_status st = sl_data_gz_open(path, &f, NULL, err);
    if (st != SL_OK)
        return st;
    unsigned char b[4] = {0};
    int n = gzread(f, b, sizeof b);
    int raw = gzdirect(f);
    if (n < 0)
        st = sl_data_gz_error(f, path, err);
    gzclose(f);
    if (st != SL_OK)
        return st;
    int image = raw && n >= 2 &&
                ((b[0] == 0x89 && b[1] == 'P') || (b[0] == 'P' && (b[1] == '5' || b[1] == '2')));
    if (image || ends_with(path, ".png") || ends_with(path, ".pgm"))
        *kind = INPUT_IMAGE;
    else if (n >= 3 && b[0] == 0 && b[1] == 0 && b[2] == 0x08) /* IDX, unsigned bytes */
        *kind = INPUT_IDX;
    else
        *kind = INPUT_CSV;
    return SL_OK;
}

static sl_dataset *shape_error(sl_dataset *ds, const char *path, const char *what,
                               sl_error *err)
{
    sl_dataset_free(ds);
    sl_error_set(err, SL_ERR_SHAPE, "%s: %s", path, what);
    return NULL;
}

/* IDX [1, rows, cols] images: the model's input, or flat [rows * cols] (made so). */
static sl_dataset *load_idx(const sl_model *m, const char *path, int ndim, const int64_t *in,
                            sl_error *err)
{
    sl_dataset *ds = sl_data_load_idx_images(path, err);
    int64_t features = sl_dataset_sample_size(ds);
    if (ds && ndim == 1 && in[0] == features &&
        sl_dataset_reshape(ds, 1, &features, err) != SL_OK) {
        sl_dataset_free(ds);
        return NULL;
    }
    if (ds && sl_nn_check_data_input(m, ds, err) != SL_OK) {
        sl_dataset_free(ds);
        return NULL;
    }
    return ds;
}

/* CSV rows of N features, or of a label and N features, for a model of N inputs. */
static sl_dataset *load_csv(const char *path, int ndim, const int64_t *in, sl_error *err)
{
    int64_t want = 1;
    for (int d = 0; d < ndim; d++)
        want *= in[d];
    sl_dataset *ds = sl_data_load_csv_features(path, err);
    int64_t width = sl_dataset_sample_size(ds);
    if (!ds || width == want)
        return ds;
    if (width != want + 1) {
        char what[160];
        snprintf(what, sizeof what,
                 "rows of %lld values, but the model takes %lld features (a row holds them, "
                 "or a label and them: %lld values)",
                 (long long)width, (long long)want, (long long)want + 1);
        return shape_error(ds, path, what, err);
    }
    sl_dataset_free(ds); /* read again, the first column as the label */
    return sl_dataset_load_csv(path, 0, err);
}

/* Images for an input [C, H, W] (C 1 or 3) or [H, W]. */
static sl_dataset *load_images(const char *const *paths, size_t n, int ndim,
                               const int64_t *in, sl_error *err)
{
    int64_t c = ndim == 3 ? in[0] : 1;
    if (ndim < 2 || (c != 1 && c != 3)) {
        char what[160], shape[64];
        snprintf(what, sizeof what,
                 "an image, but the model's input %s is not [1 or 3 channels, height, width] "
                 "or [height, width]",
                 sl_io_shape_str(ndim, in, shape, sizeof shape));
        return shape_error(NULL, paths[0], what, err);
    }
    sl_dataset *ds = sl_dataset_load_images(paths, n, (int)c, in[ndim - 2], in[ndim - 1], err);
    if (ds && ndim == 2 && sl_dataset_reshape(ds, 2, in, err) != SL_OK) {
        sl_dataset_free(ds);
        return NULL;
    }
    return ds;
}

sl_dataset *sl_predict_load_inputs(const sl_model *m, const char *const *paths, size_t n,
                                   sl_error *err)
{
    SL_GUARD_NULL(m, err);
    SL_GUARD_NULL(paths, err);
    for (size_t i = 0; i < n; i++)
        SL_GUARD_NULL(paths[i], err);
    int64_t in[4];
    int ndim = sl_model_layer_shape(m, -1, in);
    input_kind kind = INPUT_CSV;
    if (n == 0 || ndim < 1) {
        sl_error_set(err, SL_ERR_INVALID, "sl_predict_load_inputs: %s",
                     n ? "the model has no input shape" : "no input files");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (sniff(paths[i], &kind, err) != SL_OK)
            return NULL;
        if (n > 1 && kind != INPUT_IMAGE) {
            sl_error_set(err, SL_ERR_INVALID,
                         "%s: %s files are read one at a time; several inputs must all be "
                         "PNG or PGM images",
                         paths[i], kind == INPUT_IDX ? "IDX" : "CSV");
            return NULL;
        }
    }
    if (kind == INPUT_IMAGE)
        return load_images(paths, n, ndim, in, err);
    return kind == INPUT_IDX ? load_idx(m, paths[0], ndim, in, err)
                             : load_csv(paths[0], ndim, in, err);
}

/* ---- the CSV of predictions ------------------------------------------------------------- */

#define CSV_BUF (1u << 16)

typedef struct csv_out {
    sl_io_atomic f;
    char buf[CSV_BUF];
    size_t used;
    sl_status st;
    sl_error *err;
} csv_out;

/* Appends a field (at most 63 bytes), flushing the buffer as it fills. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(csv_out *o, const char *fmt, ...)
{
    if (o->st != SL_OK)
        return;
    if (CSV_BUF - o->used < 64) {
        o->st = sl_io_atomic_write(&o->f, o->buf, o->used, o->err);
        o->used = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->used, CSV_BUF - o->used, fmt, ap);
    va_end(ap);
    o->used += w > 0 ? (size_t)w : 0;
}

static void put_rows(csv_out *o, const float *values, const int32_t *classes, int64_t n,
                     int64_t k, int logits)
{
    put(o, "index,class");
    for (int64_t j = 0; j < k; j++)
        put(o, ",%s%lld", logits ? "logit" : "p", (long long)j);
    put(o, "\n");
    for (int64_t i = 0; i < n; i++) {
        put(o, "%lld,%ld", (long long)i, (long)classes[i]);
        for (int64_t j = 0; j < k; j++)
            put(o, ",%.9g", (double)values[i * k + j]);
        put(o, "\n");
    }
    if (o->st == SL_OK)
        o->st = sl_io_atomic_write(&o->f, o->buf, o->used, o->err);
}

sl_status sl_predict_write_csv(const char *path, const float *values, const int32_t *classes,
                               int64_t n, int64_t k, int logits, sl_error *err)
{
    SL_GUARD(path, err);
    SL_GUARD(values, err);
    SL_GUARD(classes, err);
    if (n < 1 || k < 1)
        return sl_error_set(err, SL_ERR_INVALID, "sl_predict_write_csv: %lld rows of %lld values",
                            (long long)n, (long long)k);
    csv_out *o = sl_calloc(1, sizeof *o);
    if (!o)
        return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", path);
    o->err = err;
    sl_status st = sl_io_atomic_open(&o->f, path, NULL, err);
    if (st == SL_OK) {
        put_rows(o, values, classes, n, k, logits);
        st = o->st;
        if (st == SL_OK)
            st = sl_io_atomic_commit(&o->f, err);
        else
            sl_io_atomic_abort(&o->f);
    }
    sl_free(o);
    return st;
}

sl_status sl_predict_print(FILE *out, const sl_predictor *p, const char *const *names,
                           size_t n_names, const float *values, const int32_t *classes,
                           int64_t n, size_t top, sl_error *err)
{
    SL_GUARD(out, err);
    SL_GUARD(p, err);
    SL_GUARD(values, err);
    SL_GUARD(classes, err);
    int64_t k = sl_predictor_classes(p);
    if (n < 1 || k < 1)
        return sl_error_set(err, SL_ERR_INVALID, "sl_predict_print: n is %lld", (long long)n);
    int32_t *order = sl_malloc((size_t)k * sizeof *order);
    if (!order)
        return sl_error_set(err, SL_ERR_NOMEM, "sl_predict_print: out of memory");
    char id[32];
    for (int64_t i = 0; i < n; i++) {
        const char *name = sl_predictor_class_name(p, classes[i]);
        snprintf(id, sizeof id, "%lld", (long long)i);
        fprintf(out, "%s: class %d%s%s%s ", names && (int64_t)n_names == n ? names[i] : id,
                (int)classes[i], name ? " (" : "", name ? name : "", name ? ")" : "");
        size_t m = sl_predict_top(values + i * k, k, order, top ? top : (size_t)k);
        for (size_t j = 0; j < m; j++) {
            const char *cn = sl_predictor_class_name(p, order[j]);
            snprintf(id, sizeof id, "%d", (int)order[j]);
            fprintf(out, " %s=%.4f", cn ? cn : id, (double)values[i * k + order[j]]);
        }
        fprintf(out, "\n");
    }
    sl_free(order);
    return SL_OK;
}
