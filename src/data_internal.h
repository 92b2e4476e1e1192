/*
 * data_internal.h - the private side of the data module (slope/data.h).
 *
 * A storage block (sl_data_store) holds the samples and labels and is
 * reference-counted; a dataset handle (struct sl_dataset) is a view of it:
 * an optional index list, a shape and a normalisation.
 */
#ifndef SLOPE_DATA_INTERNAL_H
#define SLOPE_DATA_INTERNAL_H

#include <stdint.h>

#include <zlib.h>

#include "slope/data.h"

typedef struct sl_data_store {
    int refs;
    sl_data_type type;
    int64_t count;       /* samples in storage */
    int64_t sample_size; /* features per sample */
    int num_classes;
    const uint8_t *u8;      /* count * sample_size, when type is SL_DATA_U8 */
    const float *f32;       /* count * sample_size, when type is SL_DATA_F32 */
    const int32_t *labels;  /* count */
    void *owned_features;   /* freed with the store (NULL when borrowed) */
    int32_t *owned_labels;  /* freed with the store (NULL when borrowed) */
    char **class_names;     /* num_classes strings, or NULL */
} sl_data_store;

#define SL_DATA_NAME_MAX 128

struct sl_dataset {
    sl_data_store *store;
    char name[SL_DATA_NAME_MAX];
    int64_t count;
    int64_t *index; /* count storage indices, or NULL for storage 0..count-1 */
    int ndim;
    int64_t shape[SL_DATA_MAX_DIMS];
    sl_normalize norm;
    double mean, std;
    float scale, offset; /* y = x * scale + offset */
};

/* A new store with refs = 1 taking ownership of features and labels. */
sl_data_store *sl_data_store_new(sl_data_type type, int64_t count, int64_t sample_size,
                                 void *features, int32_t *labels, sl_error *err);

/* Drops a reference; frees the store with its last one.  NULL is a no-op. */
void sl_data_store_release(sl_data_store *store);

/* A handle on store (taking its reference) of shape [ndim] over all samples. */
sl_dataset *sl_data_handle_new(sl_data_store *store, const char *name, int ndim,
                               const int64_t *shape, sl_error *err);

/* Checks labels against num_classes (0: infers max + 1) and stores the result. */
sl_status sl_data_check_labels(sl_data_store *store, int num_classes, const char *what,
                               sl_error *err);

/* Takes the class names (an array of num_classes strings); frees old ones. */
void sl_data_set_class_names(sl_data_store *store, char **names);

/* Copies the last path component of path into name. */
void sl_data_set_name(sl_dataset *ds, const char *name);

/* Storage index of view position i (0 <= i < count). */
static inline int64_t sl_data_index(const sl_dataset *ds, int64_t i)
{
    return ds->index ? ds->index[i] : i;
}

/* A view of samples first .. first+n-1 of ds (n >= 1), in ds's order; freed with
 * sl_dataset_free.  NULL with SL_ERR_INVALID (range outside ds) or SL_ERR_NOMEM. */
sl_dataset *sl_data_range_view(const sl_dataset *ds, int64_t first, int64_t n, sl_error *err);

/* sl_batch_iter_next for one of parts ranks: *n is the global batch (0 at the end of an
 * epoch, which advances like next), and only its contiguous share
 * [n * part / parts, n * (part + 1) / parts), *n_part samples, is written to x and
 * labels.  parts == 1 is sl_batch_iter_next (which calls this). */
sl_status sl_batch_iter_next_part(sl_batch_iter *it, int part, int parts, float *x,
                                  int32_t *labels, int64_t *n, int64_t *n_part, sl_error *err);

/* Writes sample at storage index s, normalised, to dst.  No checks. */
void sl_data_convert(const sl_dataset *ds, int64_t s, float *dst);

/* a * b into *out; 0 on overflow past limit. */
int sl_data_mul_ok(uint64_t a, uint64_t b, uint64_t limit, uint64_t *out);

/* Opens path (raw or gzip) for gzread, refusing what is not a regular file without
 * blocking (sl_io_open_regular); *size (may be NULL) gets the file's size on disk.
 * SL_ERR_READ, SL_ERR_NOMEM. */
sl_status sl_data_gz_open(const char *path, gzFile *out, uint64_t *size, sl_error *err);

/* 1 when zlib recorded an error (including a gzip stream cut short) on f. */
int sl_data_gz_failed(gzFile f);

/* Sets err from zlib's error on f: SL_ERR_READ for an OS error, else SL_ERR_FORMAT. */
sl_status sl_data_gz_error(gzFile f, const char *path, sl_error *err);

/* ---- inputs without labels (slope/predict.h) ------------------------------------ */

/* The images of an IDX file alone (no labels file): labels 0, one class. */
sl_dataset *sl_data_load_idx_images(const char *path, sl_error *err);

/* sl_dataset_load_csv of rows with no label column: every column a feature, labels 0. */
sl_dataset *sl_data_load_csv_features(const char *path, sl_error *err);

/* The "class_names" of descriptor <datasets_dir>/<name>.json, without opening its data:
 * *names gets *count strings (free with sl_data_free_names), or NULL when it has none. */
sl_status sl_data_descriptor_names(const char *datasets_dir, const char *name, char ***names,
                                   int *count, sl_error *err);
void sl_data_free_names(char **names, int count);

/* ---- the memory budget (data_budget.c) ---------------------------------------- */

/* One load's cap on the bytes it holds, and where the cap came from (for messages). */
typedef struct sl_data_budget {
    uint64_t cap;
    const char *source;
} sl_data_budget;

/* Takes the budget for a load starting now (sl_data_memory_budget).  SL_ERR_INVALID for a
 * malformed SLOPE_DATA_BUDGET. */
sl_status sl_data_budget_init(sl_data_budget *b, sl_error *err);

/* SL_OK when holding bytes in all stays within the budget, else SL_ERR_NOMEM:
 * "path[:line]: <what> would hold 3.0 GiB (... bytes), past the memory budget of ...". */
sl_status sl_data_budget_check(const sl_data_budget *b, const char *path, long line,
                               uint64_t bytes, const char *what, sl_error *err);

#endif
