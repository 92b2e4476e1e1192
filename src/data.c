/*
 * data.c - dataset handles, storage, normalisation and views (slope/data.h).
 *
 * Loaders live in data_idx.c, data_csv.c, data_spiral.c and data_named.c;
 * the batch iterator in data_batch.c.
 */
#include "guard.h"
#include "alloc.h"
#include "data_internal.h"
#include "io_internal.h" /* sl_io_shape_str */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slope/rng.h"
#include "slope/tensor.h"

/* ---- storage -------------------------------------------------------------- */

sl_data_store *sl_data_store_new(sl_data_type type, int64_t count, int64_t sample_size,
                                 void *features, int32_t *labels, sl_error *err)
{
    sl_data_store *st = sl_calloc(1, sizeof *st);
    if (!st) {
        sl_free(features);
        sl_free(labels);
        sl_error_set(err, SL_ERR_NOMEM, "cannot allocate a dataset");
        return NULL;
    }
    st->refs = 1;
    st->type = type;
    st->count = count;
    st->sample_size = sample_size;
    st->owned_features = features;
    st->owned_labels = labels;
    if (type == SL_DATA_U8)
        st->u8 = features;
    else
        st->f32 = features;
    st->labels = labels;
    return st;
}

static void free_class_names(sl_data_store *st)
{
    if (!st->class_names)
        return;
    for (int k = 0; k < st->num_classes; k++)
        sl_free(st->class_names[k]);
    sl_free(st->class_names);
    st->class_names = NULL;
}

void sl_data_set_class_names(sl_data_store *store, char **names)
{
    free_class_names(store);
    store->class_names = names;
}

void sl_data_store_release(sl_data_store *st)
{
    if (!st || --st->refs > 0)
        return;
    free_class_names(st);
    sl_free(st->owned_features);
    sl_free(st->owned_labels);
    sl_free(st);
}

sl_status sl_data_check_labels(sl_data_store *store, int num_classes, const char *what,
                               sl_error *err)
{
    if (num_classes < 0 || num_classes > SL_DATA_MAX_CLASSES)
        return sl_error_set(err, SL_ERR_INVALID, "%s: num_classes %d is not in 0..%d", what,
                            num_classes, SL_DATA_MAX_CLASSES);
    int32_t limit = num_classes > 0 ? num_classes : SL_DATA_MAX_CLASSES;
    int32_t max = 0;
    for (int64_t i = 0; i < store->count; i++) {
        int32_t y = store->labels[i];
        if (y < 0 || y >= limit)
            return sl_error_set(err, SL_ERR_FORMAT,
                                "%s: label %ld of sample %lld is not in 0..%ld", what,
                                (long)y, (long long)i, (long)limit - 1);
        if (y > max)
            max = y;
    }
    store->num_classes = num_classes > 0 ? num_classes : (int)max + 1;
    return SL_OK;
}

int sl_data_mul_ok(uint64_t a, uint64_t b, uint64_t limit, uint64_t *out)
{
    if (a != 0 && b > limit / a)
        return 0;
    *out = a * b;
    return 1;
}

/* ---- handles -------------------------------------------------------------- */

static sl_status check_shape(int ndim, const int64_t *shape, int64_t *size, sl_error *err)
{
    if (!shape || ndim < 1 || ndim > SL_DATA_MAX_DIMS)
        return sl_error_set(err, SL_ERR_SHAPE, "a sample shape needs 1..%d dims, got %d",
                            SL_DATA_MAX_DIMS, ndim);
    uint64_t total = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return sl_error_set(err, SL_ERR_SHAPE, "sample dim %d is %lld, must be >= 1", d,
                                (long long)shape[d]);
        if (!sl_data_mul_ok(total, (uint64_t)shape[d], (uint64_t)INT64_MAX / 4, &total))
            return sl_error_set(err, SL_ERR_SHAPE, "sample shape is too large");
    }
    *size = (int64_t)total;
    return SL_OK;
}

/* y = x * scale + offset in float: the one formula behind every normalisation. */
static void normalize_coefficients(sl_normalize kind, double mean, double std, float *scale,
                                   float *offset)
{
    *scale = 1.0f;
    *offset = 0.0f;
    if (kind == SL_NORMALIZE_SCALE01) {
        *scale = 1.0f / 255.0f;
    } else if (kind == SL_NORMALIZE_STANDARDIZE) {
        *scale = (float)(1.0 / std);
        *offset = (float)(-mean / std);
    }
}

static void set_normalize_params(sl_dataset *ds, sl_normalize kind, double mean, double std)
{
    ds->norm = kind;
    ds->mean = mean;
    ds->std = std;
    normalize_coefficients(kind, mean, std, &ds->scale, &ds->offset);
}

void sl_normalize_values(sl_normalize kind, double mean, double std, const float *x, float *y,
                         int64_t n)
{
    if (!x || !y || n <= 0)
        return;
    float scale, offset;
    normalize_coefficients(kind, mean, std, &scale, &offset);
    if (kind == SL_NORMALIZE_NONE) {
        if (x != y)
            memmove(y, x, (size_t)n * sizeof *y);
        return;
    }
    for (int64_t j = 0; j < n; j++)
        y[j] = x[j] * scale + offset;
}

void sl_data_set_name(sl_dataset *ds, const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash && slash[1] ? slash + 1 : name;
    size_t len = strlen(base);
    if (len >= sizeof ds->name)
        len = sizeof ds->name - 1;
    memcpy(ds->name, base, len);
    ds->name[len] = '\0';
}

sl_dataset *sl_data_handle_new(sl_data_store *store, const char *name, int ndim,
                               const int64_t *shape, sl_error *err)
{
    sl_dataset *ds = sl_calloc(1, sizeof *ds);
    if (!ds) {
        sl_data_store_release(store);
        sl_error_set(err, SL_ERR_NOMEM, "cannot allocate a dataset handle");
        return NULL;
    }
    ds->store = store;
    ds->count = store->count;
    ds->ndim = ndim;
    for (int d = 0; d < SL_DATA_MAX_DIMS; d++)
        ds->shape[d] = d < ndim ? shape[d] : 1;
    sl_data_set_name(ds, name);
    set_normalize_params(ds, SL_NORMALIZE_NONE, 0.0, 1.0);
    return ds;
}

/* A handle on ds's storage with the same shape, normalisation and name. */
static sl_dataset *view_of(const sl_dataset *ds, int64_t count, int64_t *index, sl_error *err)
{
    sl_dataset *v = sl_malloc(sizeof *v);
    if (!v) {
        sl_free(index);
        sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a view", ds->name);
        return NULL;
    }
    *v = *ds;
    v->count = count;
    v->index = index;
    v->store->refs++;
    return v;
}

void sl_dataset_free(sl_dataset *ds)
{
    if (!ds)
        return;
    sl_data_store_release(ds->store);
    sl_free(ds->index);
    sl_free(ds);
}

sl_dataset *sl_dataset_from_arrays(const float *features, const int32_t *labels,
                                   int64_t count, int ndim, const int64_t *shape,
                                   int num_classes, sl_error *err)
{
    SL_GUARD_NULL(features, err);
    SL_GUARD_NULL(labels, err);
    SL_GUARD_NULL(shape, err);
    int64_t size = 0;
    if (!features || !labels || count < 1) {
        sl_error_set(err, SL_ERR_INVALID, "from_arrays: need features, labels and count >= 1");
        return NULL;
    }
    if (check_shape(ndim, shape, &size, err) != SL_OK)
        return NULL;
    sl_data_store *st = sl_data_store_new(SL_DATA_F32, count, size, NULL, NULL, err);
    if (!st)
        return NULL;
    st->f32 = features; /* borrowed: never written, never freed */
    st->labels = labels;
    if (sl_data_check_labels(st, num_classes, "from_arrays", err) != SL_OK) {
        sl_data_store_release(st);
        if (err)
            err->status = SL_ERR_INVALID; /* the caller's array, not a file, is wrong */
        return NULL;
    }
    return sl_data_handle_new(st, "arrays", ndim, shape, err);
}

/* ---- what a dataset is ---------------------------------------------------- */

const char *sl_dataset_name(const sl_dataset *ds)
{
    return ds ? ds->name : "";
}

int64_t sl_dataset_count(const sl_dataset *ds)
{
    return ds ? ds->count : 0;
}

int sl_dataset_shape(const sl_dataset *ds, int64_t *shape)
{
    if (!ds)
        return 0;
    if (shape)
        memcpy(shape, ds->shape, sizeof ds->shape);
    return ds->ndim;
}

int64_t sl_dataset_sample_size(const sl_dataset *ds)
{
    return ds ? ds->store->sample_size : 0;
}

int sl_dataset_num_classes(const sl_dataset *ds)
{
    return ds ? ds->store->num_classes : 0;
}

sl_data_type sl_dataset_type(const sl_dataset *ds)
{
    return ds ? ds->store->type : SL_DATA_F32;
}

int32_t sl_dataset_label(const sl_dataset *ds, int64_t i)
{
    if (!ds || i < 0 || i >= ds->count)
        return -1;
    return ds->store->labels[sl_data_index(ds, i)];
}

const char *sl_dataset_class_name(const sl_dataset *ds, int k)
{
    if (!ds || !ds->store->class_names || k < 0 || k >= ds->store->num_classes)
        return NULL;
    return ds->store->class_names[k];
}

const void *sl_dataset_storage(const sl_dataset *ds)
{
    if (!ds)
        return NULL;
    if (ds->store->type == SL_DATA_U8)
        return ds->store->u8;
    return ds->store->f32;
}

const int32_t *sl_dataset_storage_labels(const sl_dataset *ds)
{
    return ds ? ds->store->labels : NULL;
}

sl_status sl_dataset_reshape(sl_dataset *ds, int ndim, const int64_t *shape, sl_error *err)
{
    if (!ds)
        return sl_error_set(err, SL_ERR_INVALID, "reshape: NULL dataset");
    SL_GUARD(shape, err);
    int64_t size = 0;
    sl_status st = check_shape(ndim, shape, &size, err);
    if (st != SL_OK)
        return st;
    if (size != ds->store->sample_size)
        return sl_error_set(err, SL_ERR_SHAPE,
                            "%s: a shape of %lld features does not fit samples of %lld",
                            ds->name, (long long)size, (long long)ds->store->sample_size);
    ds->ndim = ndim;
    for (int d = 0; d < SL_DATA_MAX_DIMS; d++)
        ds->shape[d] = d < ndim ? shape[d] : 1;
    return SL_OK;
}

sl_status sl_dataset_check_input(const sl_dataset *ds, int ndim, const int64_t *shape,
                                 sl_error *err)
{
    if (!ds || !shape || ndim < 1 || ndim > SL_MAX_DIMS)
        return sl_error_set(err, SL_ERR_INVALID, "check_input: NULL or an input of %d dims",
                            ndim);
    uint64_t features = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1 ||
            !sl_data_mul_ok(features, (uint64_t)shape[d], (uint64_t)INT64_MAX, &features))
            return sl_error_set(err, SL_ERR_INVALID, "check_input: input dim %d is %lld", d,
                                (long long)shape[d]);
    if ((uint64_t)ds->store->sample_size != features)
        return sl_error_set(err, SL_ERR_SHAPE,
                            "%s: samples have %lld features but the model takes %lld",
                            ds->name, (long long)ds->store->sample_size, (long long)features);
    int same = ds->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = ds->shape[d] == shape[d];
    if (same || ds->ndim == 1) /* flat samples (CSV) are read row-major into any shape */
        return SL_OK;
    char have[96], want[96];
    return sl_error_set(err, SL_ERR_SHAPE,
                        "%s: samples of shape %s do not fit the model's input %s (the same "
                        "%lld features, another shape; only flat [N] samples are reshaped)",
                        ds->name, sl_io_shape_str(ds->ndim, ds->shape, have, sizeof have),
                        sl_io_shape_str(ndim, shape, want, sizeof want), (long long)features);
}

/* ---- normalisation -------------------------------------------------------- */

sl_status sl_dataset_set_normalize(sl_dataset *ds, sl_normalize kind, double mean,
                                   double std, sl_error *err)
{
    if (!ds)
        return sl_error_set(err, SL_ERR_INVALID, "set_normalize: NULL dataset");
    if (kind != SL_NORMALIZE_NONE && kind != SL_NORMALIZE_SCALE01 &&
        kind != SL_NORMALIZE_STANDARDIZE)
        return sl_error_set(err, SL_ERR_INVALID, "%s: unknown normalisation %d", ds->name,
                            (int)kind);
    if (kind == SL_NORMALIZE_STANDARDIZE && !(isfinite(mean) && isfinite(std) && std > 0.0))
        return sl_error_set(err, SL_ERR_INVALID,
                            "%s: standardize needs a finite mean and std > 0, got %g and %g",
                            ds->name, mean, std);
    set_normalize_params(ds, kind, mean, std);
    return SL_OK;
}

sl_normalize sl_dataset_normalize(const sl_dataset *ds, double *mean, double *std)
{
    if (!ds)
        return SL_NORMALIZE_NONE;
    if (mean)
        *mean = ds->mean;
    if (std)
        *std = ds->std;
    return ds->norm;
}

static void mean_std_u8(const sl_dataset *ds, double *mean, double *std)
{
    int64_t hist[256] = {0};
    int64_t size = ds->store->sample_size;
    for (int64_t i = 0; i < ds->count; i++) {
        const uint8_t *p = ds->store->u8 + sl_data_index(ds, i) * size;
        for (int64_t j = 0; j < size; j++)
            hist[p[j]]++;
    }
    double n = (double)ds->count * (double)size, sum = 0.0, dev = 0.0;
    for (int v = 0; v < 256; v++)
        sum += (double)v * (double)hist[v];
    *mean = sum / n;
    for (int v = 0; v < 256; v++)
        dev += (double)hist[v] * ((double)v - *mean) * ((double)v - *mean);
    *std = sqrt(dev / n);
}

static void mean_std_f32(const sl_dataset *ds, double *mean, double *std)
{
    int64_t size = ds->store->sample_size;
    double n = (double)ds->count * (double)size, sum = 0.0, dev = 0.0;
    for (int64_t i = 0; i < ds->count; i++) {
        const float *p = ds->store->f32 + sl_data_index(ds, i) * size;
        for (int64_t j = 0; j < size; j++)
            sum += p[j];
    }
    *mean = sum / n;
    for (int64_t i = 0; i < ds->count; i++) {
        const float *p = ds->store->f32 + sl_data_index(ds, i) * size;
        for (int64_t j = 0; j < size; j++)
            dev += ((double)p[j] - *mean) * ((double)p[j] - *mean);
    }
    *std = sqrt(dev / n);
}

sl_status sl_dataset_mean_std(const sl_dataset *ds, double *mean, double *std, sl_error *err)
{
    if (!ds || !mean || !std)
        return sl_error_set(err, SL_ERR_INVALID, "mean_std: NULL argument");
    if (ds->store->type == SL_DATA_U8)
        mean_std_u8(ds, mean, std);
    else
        mean_std_f32(ds, mean, std);
    return SL_OK;
}

static const char *const normalize_names[] = {"none", "scale01", "standardize"};

sl_status sl_normalize_parse(const char *text, sl_normalize *kind, sl_error *err)
{
    SL_GUARD(text, err);
    SL_GUARD(kind, err);
    for (int k = 0; k < 3; k++) {
        if (strcmp(text, normalize_names[k]) == 0) {
            *kind = (sl_normalize)k;
            return SL_OK;
        }
    }
    return sl_error_set(err, SL_ERR_INVALID,
                        "unknown normalisation \"%s\" (expected none, scale01 or standardize)",
                        text);
}

const char *sl_normalize_name(sl_normalize kind)
{
    if ((int)kind < 0 || (int)kind > 2)
        return "unknown";
    return normalize_names[kind];
}

/* ---- views ---------------------------------------------------------------- */

/* Storage indices of view positions [first, first + n) into a new array. */
static int64_t *copy_indices(const sl_dataset *ds, int64_t first, int64_t n)
{
    int64_t *idx = sl_malloc((size_t)n * sizeof *idx);
    if (idx)
        for (int64_t i = 0; i < n; i++)
            idx[i] = sl_data_index(ds, first + i);
    return idx;
}

sl_dataset *sl_dataset_subset(const sl_dataset *ds, int64_t k, sl_error *err)
{
    if (!ds) {
        sl_error_set(err, SL_ERR_INVALID, "subset: NULL dataset");
        return NULL;
    }
    if (k < 1 || k > ds->count) {
        sl_error_set(err, SL_ERR_INVALID, "%s: subset of %lld samples, but it has %lld",
                     ds->name, (long long)k, (long long)ds->count);
        return NULL;
    }
    int64_t *idx = NULL;
    if (ds->index && !(idx = copy_indices(ds, 0, k))) {
        sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a subset", ds->name);
        return NULL;
    }
    return view_of(ds, k, idx, err);
}

sl_dataset *sl_data_range_view(const sl_dataset *ds, int64_t first, int64_t n, sl_error *err)
{
    if (!ds || first < 0 || n < 1 || first > ds->count - n) {
        sl_error_set(err, SL_ERR_INVALID, "range view: samples %lld..%lld are not in the dataset",
                     (long long)first, (long long)(first + n - 1));
        return NULL;
    }
    int64_t *idx = copy_indices(ds, first, n);
    if (!idx) {
        sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a view", ds->name);
        return NULL;
    }
    return view_of(ds, n, idx, err);
}

/* mark[i] = 1 for the n_val view positions a seeded shuffle puts first. */
static sl_status pick_validation(int64_t count, int64_t n_val, uint64_t seed, uint8_t *mark)
{
    int64_t *perm = sl_malloc((size_t)count * sizeof *perm);
    if (!perm)
        return SL_ERR_NOMEM;
    sl_rng rng;
    sl_rng_seed(&rng, seed);
    for (int64_t i = 0; i < count; i++)
        perm[i] = i;
    /* Only the first n_val slots of a Fisher-Yates shuffle are needed. */
    for (int64_t i = 0; i < n_val; i++) {
        int64_t j = i + (int64_t)sl_rng_below(&rng, (uint64_t)(count - i));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        mark[perm[i]] = 1;
    }
    sl_free(perm);
    return SL_OK;
}

static sl_status split_views(const sl_dataset *ds, const uint8_t *mark, int64_t n_val,
                             sl_dataset **train, sl_dataset **val, sl_error *err)
{
    int64_t *ti = sl_malloc((size_t)(ds->count - n_val) * sizeof *ti);
    int64_t *vi = sl_malloc((size_t)n_val * sizeof *vi);
    if (!ti || !vi) {
        sl_free(ti);
        sl_free(vi);
        return sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a split", ds->name);
    }
    int64_t nt = 0, nv = 0;
    for (int64_t i = 0; i < ds->count; i++) {
        if (mark[i])
            vi[nv++] = sl_data_index(ds, i);
        else
            ti[nt++] = sl_data_index(ds, i);
    }
    *train = view_of(ds, nt, ti, err);
    if (!*train) {
        sl_free(vi);
        return SL_ERR_NOMEM;
    }
    *val = view_of(ds, nv, vi, err);
    if (!*val) {
        sl_dataset_free(*train);
        *train = NULL;
        return SL_ERR_NOMEM;
    }
    return SL_OK;
}

sl_status sl_dataset_split(const sl_dataset *ds, double fraction, uint64_t seed,
                           sl_dataset **train, sl_dataset **val, sl_error *err)
{
    if (!train || !val)
        return sl_error_set(err, SL_ERR_INVALID, "split: NULL output");
    *train = NULL;
    *val = NULL;
    if (!ds)
        return sl_error_set(err, SL_ERR_INVALID, "split: NULL dataset");
    if (!(fraction > 0.0 && fraction < 1.0))
        return sl_error_set(err, SL_ERR_INVALID,
                            "%s: validation fraction %g is not in (0, 1)", ds->name, fraction);
    int64_t n_val = (int64_t)llround(fraction * (double)ds->count);
    if (n_val < 1 || n_val >= ds->count)
        return sl_error_set(err, SL_ERR_INVALID,
                            "%s: a validation fraction of %g of %lld samples leaves a part empty",
                            ds->name, fraction, (long long)ds->count);
    uint8_t *mark = sl_calloc((size_t)ds->count, 1);
    if (!mark || pick_validation(ds->count, n_val, seed, mark) != SL_OK) {
        sl_free(mark);
        return sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a split", ds->name);
    }
    sl_status st = split_views(ds, mark, n_val, train, val, err);
    sl_free(mark);
    return st;
}

/* ---- reading -------------------------------------------------------------- */

void sl_data_convert(const sl_dataset *ds, int64_t s, float *dst)
{
    const sl_data_store *st = ds->store;
    int64_t size = st->sample_size;
    const float scale = ds->scale, offset = ds->offset;
    if (st->type == SL_DATA_U8) {
        const uint8_t *src = st->u8 + s * size;
        for (int64_t j = 0; j < size; j++)
            dst[j] = (float)src[j] * scale + offset;
    } else if (ds->norm == SL_NORMALIZE_NONE) {
        memcpy(dst, st->f32 + s * size, (size_t)size * sizeof *dst);
    } else {
        const float *src = st->f32 + s * size;
        for (int64_t j = 0; j < size; j++)
            dst[j] = src[j] * scale + offset;
    }
}

sl_status sl_dataset_read(const sl_dataset *ds, int64_t first, int64_t n, float *x,
                          int32_t *labels, sl_error *err)
{
    if (!ds || !x)
        return sl_error_set(err, SL_ERR_INVALID, "read: NULL argument");
    if (first < 0 || n < 0 || first > ds->count || n > ds->count - first)
        return sl_error_set(err, SL_ERR_INVALID,
                            "%s: %lld samples from %lld are outside 0..%lld", ds->name,
                            (long long)n, (long long)first, (long long)ds->count - 1);
    int64_t size = ds->store->sample_size;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = sl_data_index(ds, first + i);
        sl_data_convert(ds, s, x + i * size);
        if (labels)
            labels[i] = ds->store->labels[s];
    }
    return SL_OK;
}
