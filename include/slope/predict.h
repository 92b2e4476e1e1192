/*
 * slope/predict.h - what `slope predict` does: a trained model's predictions on new
 * inputs read from IDX, CSV, PNG or PGM files.
 *
 *     sl_predictor *p = sl_predictor_open("ck.safetensors", NULL, NULL, &err);
 *     const char *inputs[] = {"shoe.png", "shirt.pgm"};
 *     sl_dataset *ds = p ? sl_predict_load_inputs(sl_predictor_model(p), inputs, 2, &err) : NULL;
 *     float probs[2 * 10];          (sl_predictor_classes(p) per input)
 *     int32_t classes[2];
 *     if (ds && sl_predict_dataset(sl_predictor_model(p), ds, 256, probs, classes, &err) == SL_OK)
 *         sl_softmax_rows(probs, probs, 2, sl_predictor_classes(p));
 *
 * Inputs are raw, as the files hold them (0..255 pixels, CSV values as written); the
 * model's input normalisation (the checkpoint's, see sl_model_load) is applied to them,
 * exactly as sl_predict does, so the outputs are those sl_evaluate computes on the same
 * samples normalised the same way.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer (unless the
 * function says NULL is allowed) or an out-of-range value is SL_ERR_INVALID -- NULL with
 * the error set, from functions returning a pointer; getters return 0 / NULL for a NULL
 * handle; frees accept NULL.
 */
#ifndef SLOPE_PREDICT_H
#define SLOPE_PREDICT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "slope/data.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_predictor sl_predictor;

/**
 * Opens checkpoint for prediction: the model it holds (sl_checkpoint_model: the config
 * from config_path when it is not NULL, else from the checkpoint's "config" metadata, which
 * `slope train` checkpoints carry), with the checkpoint's input normalisation, and the
 * class names of the config's dataset descriptor (data.dataset, looked for in
 * datasets_dir; NULL: sl_datasets_dir()) when the descriptor has "class_names".  The names
 * are a convenience: a descriptor that is missing or unreadable leaves them unknown
 * (sl_predictor_class_name gives NULL), since a prediction reads none of its data.
 * Errors: SL_ERR_INVALID (NULL checkpoint), those of sl_checkpoint_model, SL_ERR_SHAPE
 * (a model whose output is not flat [classes]), SL_ERR_NOMEM.
 */
SL_API sl_predictor *sl_predictor_open(const char *checkpoint, const char *config_path,
                                       const char *datasets_dir, sl_error *err);
/** Frees p and its model.  NULL is a no-op. */
SL_API void sl_predictor_free(sl_predictor *p);
/** The model (owned by p), or NULL for a NULL p. */
SL_API sl_model *sl_predictor_model(const sl_predictor *p);
/** The number of outputs (classes) per input, or 0 for a NULL p. */
SL_API int64_t sl_predictor_classes(const sl_predictor *p);
/** The name of class k from the descriptor, or NULL when unknown or k is out of range. */
SL_API const char *sl_predictor_class_name(const sl_predictor *p, int64_t k);

/**
 * Reads PNG and PGM images into a new dataset of n samples of shape [channels, height,
 * width], stored as uint8 0..255 (labels all 0), in the order of paths.  Every image
 * must be exactly height x width pixels; its pixels are converted to what is asked for:
 *   - PNG (libpng): grey, grey+alpha, RGB, RGBA or palette, 1 to 16 bits, interlaced
 *     or not.  16-bit samples become 8-bit as round(v * 255 / 65535).  channels 1 from
 *     colour: the BT.601 luma of the 8-bit values, round(0.299 R + 0.587 G + 0.114 B);
 *     channels 3 from grey: the grey value in all three.  Alpha is dropped (not
 *     composited).
 *   - PGM (netpbm): binary "P5" or text "P2", with '#' comments in the header, maxval
 *     1..65535 (two big-endian bytes a sample above 255); values are scaled to 0..255 as
 *     round(v * 255 / maxval).  The file must end after the image (whitespace only, for
 *     P2).  channels 3: the grey value in all three.
 * The kind is told by the file's first bytes (the PNG signature, "P5" or "P2"), not
 * its name.  Each file is opened as every loader opens its files (regular files only,
 * never blocking); the samples count against the memory budget
 * (sl_data_set_memory_budget), checked before anything is allocated.
 *
 * channels: 1 or 3; height, width: 1..65535; n >= 1.
 * Returns NULL with SL_ERR_INVALID (bad arguments, a malformed SLOPE_DATA_BUDGET),
 * SL_ERR_IO (cannot open or read, not a regular file), SL_ERR_FORMAT ("FILE: not a PNG or
 * PGM image", a corrupt or truncated PNG: libpng's reason or "FILE: the file ends early
 * (truncated)"; a malformed PGM header, "FILE: pixel 12 of 784 is above the maxval 15",
 * "FILE: the file ends after K of N pixels (truncated)", data after the image), SL_ERR_SHAPE ("FILE: an image 32 pixels wide and 32 high (3
 * channels), but the model's input [C, H, W] is [1, 28, 28]": also for a header claiming a
 * huge size, refused before anything is allocated for it), SL_ERR_NOMEM (past the memory
 * budget, or out of memory).  Every message starts with the file's path.
 */
SL_API sl_dataset *sl_dataset_load_images(const char *const *paths, size_t n, int channels,
                                          int64_t height, int64_t width, sl_error *err);

/**
 * Reads what `slope predict` takes as input into a dataset that fits m's input, raw (no
 * normalisation; labels 0 unless the file has them):
 *   - one IDX images file (magic 0x00000803; raw or gzip, as sl_dataset_load_idx reads
 *     it, with no labels file): its [1, rows, cols] images must be the model's input, or
 *     the model's input is flat [rows * cols] (read row-major);
 *   - one CSV file (raw or gzip; a header row is skipped as sl_dataset_load_csv skips
 *     it): the model's input size N decides whether there is a label column.  Rows of N
 *     numbers are N features each; rows of N + 1 are a label (a non-negative integer)
 *     followed by N features.  Any other width is SL_ERR_SHAPE naming the file and both
 *     counts;
 *   - one or more PNG / PGM images (sl_dataset_load_images): the model's input must be
 *     [C, H, W] with C 1 or 3, or [H, W] (one channel).
 * The kind is told by the first bytes: the IDX magic (after gunzip), the PNG signature,
 * "P2" / "P5"; a name ending in ".png" or ".pgm" is an image whatever it holds (so a bad
 * one is reported as such); anything else is CSV.  IDX and CSV are read one file at a time.
 * Errors: SL_ERR_INVALID (NULL, n == 0, several files that are not all images), those of
 * the loaders (SL_ERR_IO, SL_ERR_FORMAT, SL_ERR_NOMEM, all naming the file), SL_ERR_SHAPE
 * (inputs that do not fit the model's input: names the file and both shapes).
 */
SL_API sl_dataset *sl_predict_load_inputs(const sl_model *m, const char *const *paths,
                                          size_t n, sl_error *err);

/**
 * Runs m on every sample of ds in evaluation mode, batch_size samples at a time (one
 * batch buffer for the whole dataset, no allocation per sample or per batch).  The
 * samples are read as ds stores them (its own normalisation is ignored) and the model's
 * input normalisation is applied, as sl_predict does.  outputs gets count * classes
 * floats (the logits, row-major), classes count arg-max indices; either may be NULL.
 * Errors: SL_ERR_INVALID (NULL m or ds, batch_size < 1), SL_ERR_SHAPE (samples that do
 * not fit m's input, as sl_dataset_check_input says; an output that is not flat),
 * SL_ERR_NOMEM, errors of the forward pass.
 */
SL_API sl_status sl_predict_dataset(sl_model *m, const sl_dataset *ds, int64_t batch_size,
                                    float *outputs, int32_t *classes, sl_error *err);

/**
 * The softmax of each of n rows of k logits into probs (x and probs may be the same
 * array): exp(x - max) / sum, in double, so a row of large logits does not overflow and
 * every row sums to 1 within float rounding.  Does nothing for NULL arrays, n < 1, k < 1.
 */
SL_API void sl_softmax_rows(const float *logits, float *probs, int64_t n, int64_t k);

/**
 * The indices of the top most scores of scores[0..k) into order[0..top), highest first
 * (ties: the lower index first), so order[0] is the arg-max.  top is cut to k.  Returns
 * how many were written: 0 for NULL arrays, k < 1 or top == 0.
 */
SL_API size_t sl_predict_top(const float *scores, int64_t k, int32_t *order, size_t top);

/**
 * Prints n predictions to out as `slope predict` does, a line each: "NAME: class C (CLASS
 * NAME)" then the top classes by value, "CLASS NAME=0.9712" (the class index when the
 * predictor has no names), most likely first.  NAME is names[i] when there is one name per
 * prediction (n_names == n: one file an input), else the index.  values: n * k
 * probabilities or logits; top: how many classes per line (0 or more than k: all).
 * Errors: SL_ERR_INVALID (NULL out, p, values or classes, n < 1), SL_ERR_NOMEM.
 */
SL_API sl_status sl_predict_print(FILE *out, const sl_predictor *p, const char *const *names,
                                  size_t n_names, const float *values, const int32_t *classes,
                                  int64_t n, size_t top, sl_error *err);

/**
 * Writes n predictions as CSV to path, atomically (as sl_safetensors_write replaces a
 * file): a header "index,class,p0,...,p<k-1>" ("logit0,..." when logits is nonzero),
 * then per row its index, classes[i] and values[i * k .. i * k + k) with %.9g (floats
 * come back exactly).  Errors: SL_ERR_INVALID (NULL, n < 1, k < 1), SL_ERR_NOMEM,
 * SL_ERR_IO (path cannot be written, or is not a regular file or a new name).
 */
SL_API sl_status sl_predict_write_csv(const char *path, const float *values,
                                      const int32_t *classes, int64_t n, int64_t k,
                                      int logits, sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
