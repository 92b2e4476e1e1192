/*
 * slope/data.h - datasets and the batch iterator.
 *
 * A dataset is a set of labelled samples of one shape (up to three dims,
 * e.g. [1, 28, 28] for images or [2] for points) with labels in
 * [0, num_classes).  Its features are stored either as uint8 (IDX images:
 * 55 MB for Fashion-MNIST's 70000 images, not four times that as floats) or
 * as float (CSV, spiral, caller arrays); they become float only batch by
 * batch, with the dataset's normalisation applied on the way.
 *
 * Handles and storage.  An sl_dataset handle is a view: it names a list of
 * samples of a storage block.  Splits and subsets are new handles over the
 * same storage (only an index list is made, never a copy of the data).
 * Every handle is freed with sl_dataset_free, in any order: the storage
 * goes when its last handle goes.  Handles that share storage must not be
 * freed concurrently from two threads; reading (batches, labels) from many
 * threads at once is safe.
 *
 * Errors.  Every fallible function returns an sl_status (or NULL, for
 * constructors) and fills the optional sl_error.  Messages about a file
 * start with the file's path and say where the problem is, e.g.
 * "train-images-idx3-ubyte.gz: header says 60000 images of 28x28 but the
 * file holds 59999.3" or "data.csv:12:3: expected a number, got \"x\"".
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_DATA_H
#define SLOPE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "slope/error.h"
#include "slope/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most dimensions a sample may have ([C, H, W]). */
#define SL_DATA_MAX_DIMS 3

/** The most classes a dataset may have. */
#define SL_DATA_MAX_CLASSES 65536

/** How the features are held in memory. */
typedef enum sl_data_type {
    SL_DATA_U8 = 0, /**< unsigned bytes (IDX images) */
    SL_DATA_F32     /**< floats (CSV, spiral, caller arrays) */
} sl_data_type;

/**
 * The normalisation applied when features are turned into floats for a
 * batch.  x is the stored value (0..255 for uint8 storage).
 */
typedef enum sl_normalize {
    SL_NORMALIZE_NONE = 0,   /**< y = x */
    SL_NORMALIZE_SCALE01,    /**< y = x / 255 (8-bit pixels to [0, 1]) */
    SL_NORMALIZE_STANDARDIZE /**< y = (x - mean) / std, mean and std in stored units */
} sl_normalize;

typedef struct sl_dataset sl_dataset;

/* ---- limits on what a file may make slope hold ---------------------------- */

/*
 * Every loader (sl_dataset_load_idx, sl_dataset_load_csv, sl_dataset_open)
 * opens its files without blocking and refuses, before reading a byte,
 * anything that is not a regular file (after symlinks): a FIFO, a device
 * (/dev/null, a terminal, /dev/stdin unless it is redirected from a file), a
 * directory, a socket, with SL_ERR_READ "PATH: is a FIFO, not a regular file".
 * Config files, dataset descriptors and checkpoints are opened the same way.
 */

/**
 * Sets the memory budget of the dataset loaders: the most bytes one load may
 * hold at once, its features, labels and reading buffers together (the
 * dataset it returns is within it).  It is checked before each buffer grows,
 * so a small gzip file that inflates to gigabytes, or a header that promises
 * them, is refused with SL_ERR_NOMEM naming the file, the size reached and
 * the budget ("big.csv.gz:81921: 81920 rows of 784 features would hold
 * 245.3 MiB (...), past the memory budget of 256.0 MiB (...)") instead of
 * exhausting the machine.  An IDX file whose raw body holds more than the
 * budget is refused before its body is read.
 *
 * bytes == 0 restores the default: the environment variable
 * SLOPE_DATA_BUDGET when set (bytes, or with a binary suffix: "512M", "2G",
 * "64KiB"; anything else makes every load fail with SL_ERR_INVALID), else
 * 90% of the least of: the memory the kernel reports available
 * (MemAvailable in /proc/meminfo), the room left under the address-space and
 * data limits (ulimit -v, ulimit -d) and under a cgroup v2 memory.max, taken
 * when each load starts; unlimited when none of these is known.
 *
 * Process-wide; set it before loading (a load in progress keeps the budget
 * it started with).
 */
SL_API void sl_data_set_memory_budget(uint64_t bytes);

/**
 * The budget the next load would get (see sl_data_set_memory_budget), or 0
 * when SLOPE_DATA_BUDGET is malformed.
 */
SL_API uint64_t sl_data_memory_budget(void);

/**
 * Sets the longest CSV line, in bytes with its line end: a longer line is
 * refused with SL_ERR_FORMAT "data.csv:7: the line is longer than 16777216
 * bytes (the CSV line limit)" as soon as that many bytes have arrived, so a
 * gigabyte with no newline never makes a gigabyte buffer.  bytes == 0
 * restores the default, 16 MiB (4 million features of "0.5,"); the memory
 * budget applies to the line buffer as well.  Process-wide, like the budget.
 */
SL_API void sl_data_set_max_line(uint64_t bytes);

/** The longest CSV line in bytes (16 MiB unless sl_data_set_max_line changed it). */
SL_API uint64_t sl_data_max_line(void);

/* ---- loading ------------------------------------------------------------- */

/**
 * Loads an IDX image file (magic 0x00000803: count, rows, cols, then bytes)
 * and its IDX label file (magic 0x00000801: count, then bytes).  Each file
 * may be gzip-compressed or raw: the gzip magic bytes 1f 8b decide, not the
 * name.  Samples have shape [1, rows, cols] and stay uint8 in memory.
 *
 * num_classes: the number of classes (1..SL_DATA_MAX_CLASSES), or 0 to take
 * the largest label + 1.
 *
 * Checks: the magic numbers; dims within bounds (count 1..2^31-1, rows and
 * cols 1..65535) and their product without overflow; the decompressed
 * length equal to the header's exactly (a truncated file and one with
 * trailing bytes are both errors, and a header that claims more than the
 * file holds never triggers a huge allocation); as many labels as images;
 * every label below num_classes.
 *
 * The body is never read past what the header promises (rows * cols bytes
 * per image): a gzip stream that inflates to more is SL_ERR_FORMAT, found
 * after at most 16 MiB of the excess.  Images and labels count against the
 * memory budget (sl_data_set_memory_budget).
 *
 * Returns a new dataset owning its storage (free with sl_dataset_free), or
 * NULL with: SL_ERR_INVALID (NULL path, bad num_classes, a malformed
 * SLOPE_DATA_BUDGET), SL_ERR_READ (cannot open or read, not a regular file),
 * SL_ERR_FORMAT (bad magic, bounds, length, label count or range, corrupt
 * gzip stream), SL_ERR_NOMEM (past the memory budget, or out of memory).
 */
SL_API sl_dataset *sl_dataset_load_idx(const char *images_path, const char *labels_path,
                                       int num_classes, sl_error *err);

/**
 * Loads a CSV file (raw or gzip-compressed): one sample per line, the label
 * first (a non-negative integer) then the features (numbers, stored as
 * float).  Fields are separated by commas and may have spaces around them;
 * blank lines are skipped; CRLF line ends are fine; a leading UTF-8 byte-order
 * mark is skipped.  The first row is a header when none of its fields is a
 * number ("label,pixel0,pixel1"); one that mixes text and numbers ("x,1,2")
 * is an SL_ERR_FORMAT error rather than a silently dropped sample.  A header
 * must have the same number of columns as the data.  Samples have shape
 * [columns - 1]: flat, since CSV has no shape (see sl_dataset_check_input for
 * how a flat sample feeds a model whose input is [C, H, W]).
 *
 * The file is read line by line: no line may be longer than
 * sl_data_max_line (16 MiB), and the rows, the line and its fields count
 * against the memory budget (sl_data_set_memory_budget).
 *
 * num_classes: 1..SL_DATA_MAX_CLASSES, or 0 to take the largest label + 1.
 *
 * Returns a new dataset owning its storage, or NULL with SL_ERR_INVALID
 * (bad arguments, a malformed SLOPE_DATA_BUDGET), SL_ERR_READ (cannot open or
 * read, not a regular file), SL_ERR_FORMAT ("file:line:column: ..." for a
 * bad field, a wrong column count, a label that is not a non-negative
 * integer or not below num_classes, a feature that is not finite; "file:line:
 * the line is longer than N bytes"; "file: no data rows"), SL_ERR_NOMEM
 * ("file:line: R rows of F features would hold ..., past the memory budget
 * of ...", or out of memory).
 */
SL_API sl_dataset *sl_dataset_load_csv(const char *path, int num_classes, sl_error *err);

/**
 * Makes the classic 2-D spiral: classes arms of points_per_class points.
 * Point i of class k has radius r = i / points_per_class and angle
 * t = 4k + 4i / points_per_class + noise * N(0, 1), and features
 * (r sin t, r cos t); its label is k.  Samples are in class order, shape [2],
 * float storage.  The same arguments give the same data on every platform.
 *
 * Returns a new dataset, or NULL with SL_ERR_INVALID (classes outside
 * 1..SL_DATA_MAX_CLASSES, points_per_class < 1, noise negative or not
 * finite, too many points) or SL_ERR_NOMEM.
 */
SL_API sl_dataset *sl_dataset_spiral(int classes, int64_t points_per_class, float noise,
                                     uint64_t seed, sl_error *err);

/**
 * Wraps caller arrays WITHOUT copying them: features holds count samples of
 * the given shape (row-major floats), labels holds count int32 values.
 * Both stay owned by the caller, who keeps them alive and unchanged in size
 * until the last handle on this storage is freed; slope never writes to or
 * frees them.  Labels are checked once, here.
 *
 * ndim 1..SL_DATA_MAX_DIMS; num_classes as for sl_dataset_load_csv.
 * Returns a new dataset, or NULL with SL_ERR_INVALID (NULL arrays, count < 1,
 * a label out of range: the message names its index), SL_ERR_SHAPE (bad
 * shape) or SL_ERR_NOMEM.
 */
SL_API sl_dataset *sl_dataset_from_arrays(const float *features, const int32_t *labels,
                                          int64_t count, int ndim, const int64_t *shape,
                                          int num_classes, sl_error *err);

/**
 * Opens split ("train", "test", ...) of the dataset described by the JSON
 * descriptor <datasets_dir>/<name>.json (see the README for the format).
 * name may contain letters, digits, '.', '_' and '-' and must not start
 * with '.'.  A relative "directory" in the descriptor is taken relative to
 * datasets_dir.  The dataset gets the descriptor's shape ("input") and
 * class names.
 *
 * Returns a new dataset, or NULL with SL_ERR_INVALID (bad arguments),
 * SL_ERR_READ (descriptor or data file missing: the message names the path
 * and, when the descriptor names one, the Debian package that provides it:
 * "install it with: apt-get install dataset-fashion-mnist"; either of them
 * not a regular file), SL_ERR_FORMAT ("name.json: splits.train.images:
 * expected a string", an unknown split, "input" not matching the data, or
 * any loader error), SL_ERR_NOMEM (the loaders' memory budget, or out of
 * memory).
 */
SL_API sl_dataset *sl_dataset_open(const char *datasets_dir, const char *name,
                                   const char *split, sl_error *err);

/** Frees a handle; the storage goes with its last handle.  NULL is a no-op. */
SL_API void sl_dataset_free(sl_dataset *ds);

/* ---- what a dataset is --------------------------------------------------- */

/** A short name for messages: the descriptor name and split, or the file name. */
SL_API const char *sl_dataset_name(const sl_dataset *ds);
/** The number of samples in this handle. */
SL_API int64_t sl_dataset_count(const sl_dataset *ds);
/** Copies the sample shape into shape[SL_DATA_MAX_DIMS] (may be NULL); returns ndim. */
SL_API int sl_dataset_shape(const sl_dataset *ds, int64_t *shape);
/** Features per sample (the product of the shape). */
SL_API int64_t sl_dataset_sample_size(const sl_dataset *ds);
/** The number of classes. */
SL_API int sl_dataset_num_classes(const sl_dataset *ds);
/** How the features are stored. */
SL_API sl_data_type sl_dataset_type(const sl_dataset *ds);
/** The label of sample i of this handle, or -1 when i is out of range. */
SL_API int32_t sl_dataset_label(const sl_dataset *ds, int64_t i);
/** The name of class k from the descriptor, or NULL when unknown. */
SL_API const char *sl_dataset_class_name(const sl_dataset *ds, int k);

/**
 * The underlying storage, in storage order (not this handle's order): a
 * const uint8_t * or const float * per sl_dataset_type, and the int32
 * labels.  For sl_dataset_from_arrays these are the caller's own pointers.
 * Valid while any handle on the storage lives.
 */
SL_API const void *sl_dataset_storage(const sl_dataset *ds);
SL_API const int32_t *sl_dataset_storage_labels(const sl_dataset *ds);

/**
 * Gives the samples a new shape with the same number of features, e.g.
 * [784] for [1, 28, 28].  Affects this handle only.
 * Errors: SL_ERR_SHAPE (ndim outside 1..SL_DATA_MAX_DIMS, a dim < 1, or a
 * different product), SL_ERR_INVALID (NULL).
 */
SL_API sl_status sl_dataset_reshape(sl_dataset *ds, int ndim, const int64_t *shape,
                                    sl_error *err);

/**
 * Checks that the samples of ds fit a model input of shape [ndim] (what
 * sl_trainer_new and sl_evaluate check): the sample shape must equal it
 * exactly.  One reshape rule applies: a flat dataset, shape [N] (every CSV,
 * a flat sl_dataset_from_arrays), feeds any input of N features, read
 * row-major: [C * H * W] into [C, H, W].  Anything else with the same number
 * of features, e.g. 4x4 images for an input [1, 2, 8] or [1, 28, 28] images
 * for [784], is refused: reshape the dataset (sl_dataset_reshape, a
 * descriptor's "input") or the model.
 * Errors: SL_ERR_SHAPE naming the dataset and both shapes ("tiny-images.idx:
 * samples of shape [1, 4, 4] do not fit the model's input [1, 2, 8]"),
 * SL_ERR_INVALID (NULL, ndim outside 1..4).
 */
SL_API sl_status sl_dataset_check_input(const sl_dataset *ds, int ndim, const int64_t *shape,
                                        sl_error *err);

/* ---- normalisation ------------------------------------------------------- */

/**
 * Sets the normalisation of this handle (views made from it afterwards
 * inherit it).  mean and std are used by SL_NORMALIZE_STANDARDIZE only and
 * are in stored units: for uint8 images 0..255 (multiply [0, 1] statistics
 * by 255).  Errors: SL_ERR_INVALID (unknown kind, std not finite and > 0,
 * mean not finite).
 */
SL_API sl_status sl_dataset_set_normalize(sl_dataset *ds, sl_normalize kind, double mean,
                                          double std, sl_error *err);

/** The normalisation of ds; mean and std (may be NULL) receive its parameters. */
SL_API sl_normalize sl_dataset_normalize(const sl_dataset *ds, double *mean, double *std);

/**
 * The mean and (population) standard deviation of every feature of every
 * sample of this handle, as one scalar each, in stored units.  Compute them
 * on the training handle and set them on every handle, so validation and
 * test data do not leak into them.  Exact for uint8 (a histogram), two
 * passes in double for float.  Errors: SL_ERR_INVALID (NULL).
 */
SL_API sl_status sl_dataset_mean_std(const sl_dataset *ds, double *mean, double *std,
                                     sl_error *err);

/** Parses "none", "scale01" or "standardize".  SL_ERR_INVALID for anything else. */
SL_API sl_status sl_normalize_parse(const char *text, sl_normalize *kind, sl_error *err);
/** "none", "scale01" or "standardize". */
SL_API const char *sl_normalize_name(sl_normalize kind);
/**
 * Normalises n raw values (as the dataset stores them: 0..255 for uint8
 * images) exactly as a dataset handle with this normalisation reads them:
 * y = x * scale + offset in float.  x and y may be the same array.  Does
 * nothing for NULL arrays or n <= 0.
 */
SL_API void sl_normalize_values(sl_normalize kind, double mean, double std, const float *x,
                                float *y, int64_t n);

/* ---- views ---------------------------------------------------------------- */

/**
 * Splits ds into a training and a validation view over the same storage:
 * round(fraction * count) samples, chosen by a shuffle seeded with seed, go
 * to *val and the rest to *train; each view keeps ds's order.  Both inherit
 * ds's shape and normalisation and are freed with sl_dataset_free.
 * Errors: SL_ERR_INVALID (NULL, fraction not in (0, 1), a part that would be
 * empty), SL_ERR_NOMEM.  On error *train and *val are set to NULL.
 */
SL_API sl_status sl_dataset_split(const sl_dataset *ds, double fraction, uint64_t seed,
                                  sl_dataset **train, sl_dataset **val, sl_error *err);

/**
 * A view of the first k samples of ds (in ds's order), e.g. a fixed probe
 * set.  Returns NULL with SL_ERR_INVALID when k is not in 1..count, or
 * SL_ERR_NOMEM.
 */
SL_API sl_dataset *sl_dataset_subset(const sl_dataset *ds, int64_t k, sl_error *err);

/**
 * Writes samples first .. first+n-1 of ds, normalised, into x (n * sample
 * size floats) and their labels into labels (n values; may be NULL).  No
 * allocation.  Errors: SL_ERR_INVALID (NULL, range outside the dataset).
 */
SL_API sl_status sl_dataset_read(const sl_dataset *ds, int64_t first, int64_t n, float *x,
                                 int32_t *labels, sl_error *err);

/* ---- batches -------------------------------------------------------------- */

typedef struct sl_batch_options {
    int64_t batch_size; /**< samples per batch, >= 1 */
    int shuffle;        /**< nonzero: a new seeded order every epoch */
    uint64_t seed;      /**< the order of epoch e depends on (seed, e) only */
    int drop_last;      /**< nonzero: skip the last batch when it is partial */
} sl_batch_options;

typedef struct sl_batch_iter sl_batch_iter;

/**
 * A batch iterator over ds, positioned at epoch 0, batch 0.  ds is borrowed:
 * it must outlive the iterator.  The order array (8 bytes per sample) is
 * allocated here, once; batches allocate nothing.
 * Returns NULL with SL_ERR_INVALID (NULL, batch_size < 1, drop_last with
 * fewer samples than one batch) or SL_ERR_NOMEM.
 */
SL_API sl_batch_iter *sl_batch_iter_new(const sl_dataset *ds, const sl_batch_options *opt,
                                        sl_error *err);

/** Frees an iterator (not its dataset).  NULL is a no-op. */
SL_API void sl_batch_iter_free(sl_batch_iter *it);

/**
 * Fills the caller's buffers with the next batch: x gets *n * sample size
 * normalised floats, labels gets *n labels; both must hold a full batch.
 * *n is the batch size, smaller for the last batch of an epoch unless
 * drop_last.  At the end of an epoch *n is 0 and the iterator moves to the
 * next epoch (reshuffling), so
 *     while (sl_batch_iter_next(it, x, y, &n, &err) == SL_OK && n > 0) ...
 * walks one epoch.  No allocation.  Errors: SL_ERR_INVALID (NULL).
 */
SL_API sl_status sl_batch_iter_next(sl_batch_iter *it, float *x, int32_t *labels, int64_t *n,
                                    sl_error *err);

/** Batches in one epoch (the partial one included unless drop_last). */
SL_API int64_t sl_batch_iter_batches(const sl_batch_iter *it);

/**
 * The position: the epoch, and the index of the batch the next call
 * returns.  Saved after a step, it resumes the same sequence through
 * sl_batch_iter_seek.
 */
SL_API void sl_batch_iter_position(const sl_batch_iter *it, int64_t *epoch, int64_t *batch);

/**
 * Moves to (epoch, batch): the next call returns that batch of that epoch,
 * the same samples in the same order as an iterator that got there by
 * calling next.  batch may equal sl_batch_iter_batches (the end of the
 * epoch).  Errors: SL_ERR_INVALID (negative or out of range; epoch above INT_MAX).
 */
SL_API sl_status sl_batch_iter_seek(sl_batch_iter *it, int64_t epoch, int64_t batch,
                                    sl_error *err);

/* ---- augmentation of image batches (data_augment.c) ---------------------------- */

/*
 * Random crop after padding and horizontal flip, torchvision's
 * RandomCrop(size=(H, W), padding=crop_padding) then RandomHorizontalFlip(flip)
 * on every image of a training batch.  They act on normalised batches (what
 * sl_batch_iter_next writes), so the padding is the normalised value of a raw 0,
 * sl_augment_pad_value: 0 for none and scale01, -mean/std for standardize --
 * exactly torchvision's fill=0 on the raw image followed by the normalisation.
 *
 * Per image, in this order: the crop offset (dy, dx), each uniform in
 * [0, 2 * crop_padding], into the image padded by crop_padding on every side
 * (dy = dx = crop_padding is the image itself); then, with probability flip,
 * the mirror image (x -> W - 1 - x).  The draws of image i of batch b of epoch
 * e come from an sl_rng seeded with a hash of (seed, e, b, i), i counted in the
 * whole batch: they do not depend on what came before (a resumed run draws what
 * an uninterrupted one would), nor on how a batch is split among replicas.
 */
typedef struct sl_augment_spec {
    int crop;         /**< nonzero: random crop after padding */
    int crop_padding; /**< with crop: pixels of padding on each side, 0..min(H, W) - 1 */
    float flip;       /**< probability of a horizontal flip, in [0, 1]; 0 = never */
} sl_augment_spec;

/** 1 when a does anything (crop set, or flip > 0); 0 for NULL. */
SL_API int sl_augment_active(const sl_augment_spec *a);

/**
 * Checks a against samples of shape [ndim]: crop or flip > 0 needs images
 * [C, H, W] (ndim 3), crop_padding 0..min(H, W) - 1, flip a number in [0, 1].
 * An inactive spec fits any shape.  Messages start with the key at fault, for
 * callers to prefix with where the spec came from: "crop: needs images
 * [C, H, W], not samples of shape [2]", "crop.padding: must be below the image
 * size 28x28, got 28", "flip: must be in [0, 1], got 1.5".
 * Errors: SL_ERR_CONFIG; SL_ERR_INVALID (NULL a or shape, ndim outside 1..3, a
 * dim outside 1..INT32_MAX).
 */
SL_API sl_status sl_augment_check(const sl_augment_spec *a, int ndim, const int64_t *shape,
                                  sl_error *err);

/** The normalised value of a raw 0 on ds (the crop's padding); 0 for NULL. */
SL_API float sl_augment_pad_value(const sl_dataset *ds);

/** What one image gets: the crop offset into the padded image, and the flip. */
typedef struct sl_augment_draw {
    int dy, dx; /**< 0..2 * crop_padding each; crop_padding, crop_padding = no shift */
    int flip;   /**< 1: mirrored */
} sl_augment_draw;

/** Where a batch is in training: its draws depend on these only. */
typedef struct sl_augment_where {
    uint64_t seed; /**< the run's seed */
    int64_t epoch; /**< 0-based */
    int64_t batch; /**< 0-based, within the epoch */
    int64_t first; /**< the index in the whole batch of the first image given */
} sl_augment_where;

/**
 * The draw of image `sample` of the batch at w (w->first is ignored): dy and
 * dx from sl_rng_below(2 * crop_padding + 1) when crop is set with a padding
 * above 0 (else crop_padding, or 0 for a padding below 0: no shift), then flip = sl_rng_uniform < flip (never for
 * flip 0, always for flip 1).  NULL a or w: no change.
 */
SL_API sl_augment_draw sl_augment_draw_for(const sl_augment_spec *a, const sl_augment_where *w,
                                           int64_t sample);

/**
 * Applies draw d to one image img[C * H * W] in place:
 *     out[c][y][x] = in[c][y + dy - p][x' + dx - p],  x' = d.flip ? W - 1 - x : x,
 * with p = a->crop_padding and pad where the source is outside the image (any
 * draw is safe: a window past the padded image is all padding).  scratch holds
 * C * H * W floats (its contents are overwritten).  Does nothing for NULL
 * pointers or a dim below 1.
 */
SL_API void sl_augment_image(const sl_augment_spec *a, sl_augment_draw d, float *img, int64_t C,
                             int64_t H, int64_t W, float pad, float *scratch);

/**
 * Augments n images x[n * C * H * W] (shape = {C, H, W}), images w->first ..
 * w->first + n - 1 of the batch at w, each with sl_augment_draw_for and
 * sl_augment_image.  scratch: C * H * W floats.  No allocation.
 * Errors: SL_ERR_INVALID (NULL, n < 0, n * C * H * W past INT64_MAX), those of
 * sl_augment_check.
 */
SL_API sl_status sl_augment_batch(const sl_augment_spec *a, const sl_augment_where *w, float *x,
                                  int64_t n, const int64_t *shape, float pad, float *scratch,
                                  sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
