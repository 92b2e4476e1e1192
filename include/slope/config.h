/*
 * slope/config.h - a JSON config file -> a validated model + training spec.
 *
 * Loading goes: read the text -> parse it as JSON -> apply the overrides
 * ("optimizer.lr=0.1", in order) to the JSON tree -> validate the tree into
 * an sl_config with every default filled in.  Overrides are applied before
 * validation, so an overridden value is checked exactly as if it had been in
 * the file.  The README's config reference lists every key.
 *
 * Validation is strict: an unknown key, a value of the wrong type, a number
 * that is out of range or not integral where an integer is needed, and an
 * unknown enum string are all SL_ERR_CONFIG.  Every message starts with the
 * file (the origin name for a string) and the JSON path of the value:
 *
 *     models/x.json: model.layers[3].alpha: expected a number, got "0.1x"
 *     models/x.json: model.layers[1].ot: unknown key (did you mean "out"?)
 *     models/x.json:12:5: invalid JSON: ...
 *
 * A JSON null counts as "not given" (the key takes its default), so an
 * override "checkpoint.path=null" removes a setting.
 *
 * Ownership: an sl_config owns copies of all its strings and its layer
 * array, and holds no pointer into the JSON text; free it with
 * sl_config_free.  Thread safety: separate configs may be used from
 * separate threads; cJSON's parser records errors in a global, so parsing
 * from several threads at once is not recommended.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_CONFIG_H
#define SLOPE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "slope/data.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"
#include "slope/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most dimensions of one input sample ([C, H, W]). */
#define SL_CONFIG_MAX_INPUT_DIMS 3

/** The loss the model is trained with. */
typedef enum sl_loss_kind {
    SL_LOSS_CROSS_ENTROPY, /**< softmax cross-entropy on integer labels (default) */
    SL_LOSS_MSE            /**< mean squared error against one-hot labels */
} sl_loss_kind;

/** "cross_entropy" or "mse". */
SL_API const char *sl_loss_name(sl_loss_kind kind);

/** Which split a setting refers to. */
typedef enum sl_split_kind { SL_SPLIT_TRAIN, SL_SPLIT_TEST } sl_split_kind;

/** Explicit data files: IDX images + labels, or one CSV file.  Unused ones are NULL. */
typedef struct sl_config_files {
    char *images; /**< IDX image file (raw or .gz) */
    char *labels; /**< IDX label file (raw or .gz) */
    char *csv;    /**< CSV file: label first, then the features */
} sl_config_files;

/** The "data" section.  Either dataset is set, or train (and maybe test) files are. */
typedef struct sl_config_data {
    char *dataset;          /**< descriptor name in datasets/ ("fashion-mnist"), or NULL */
    sl_config_files train;  /**< with dataset == NULL: the training files (required) */
    sl_config_files test;   /**< with dataset == NULL: the test files (all NULL if none) */
    int classes;            /**< explicit files: number of classes, 0 = largest label + 1 */
    sl_normalize normalize; /**< SL_NORMALIZE_NONE by default */
    int has_mean_std;       /**< standardize: 1 if mean and std were given, else compute them */
    double mean, std;       /**< standardize: in stored units (0..255 for IDX images) */
    double validation;      /**< fraction of the training split held out, in [0, 1); 0 */
    int spiral_classes;     /**< dataset "spiral" only (else 0): arms, 3 */
    int64_t spiral_points;  /**< points per arm, 100 */
    float spiral_noise;     /**< angle noise, 0.2 */
    sl_augment_spec augment; /**< "augment": training batches of images only; none */
} sl_config_data;

/** The "model" section. */
typedef struct sl_config_model {
    int input_ndim;                            /**< 1..SL_CONFIG_MAX_INPUT_DIMS */
    int64_t input[SL_CONFIG_MAX_INPUT_DIMS];   /**< shape of one sample, e.g. [1, 28, 28] */
    sl_init_kind init;                         /**< SL_INIT_KAIMING_UNIFORM */
    size_t num_layers;                         /**< >= 1 */
    sl_layer_spec *layers;                     /**< owned; unused fields hold the defaults */
} sl_config_model;

/** The "train" section. */
typedef struct sl_config_train {
    int epochs;         /**< 10 */
    int64_t batch_size; /**< 64 */
    int drop_last;      /**< 0 */
    int shuffle;        /**< 1 */
    int threads;        /**< 0 = leave the thread count as it is */
    sl_precision precision; /**< "precision": "fp32" (default) or "bf16", the convolutions'
                                 arithmetic (sl_graph_set_precision) */
} sl_config_train;

/** The "checkpoint" section. */
typedef struct sl_config_checkpoint {
    char *path;    /**< where to write checkpoints; NULL = none */
    int every;     /**< write every this many epochs: 1 */
    int keep_best; /**< also keep the best one (by validation, else test accuracy): 0 */
} sl_config_checkpoint;

/** The "stats" section (dying-neuron statistics). */
typedef struct sl_config_stats {
    int enabled;               /**< 0 */
    sl_split_kind probe_split; /**< where the probe examples come from: train */
    int64_t probe_count;       /**< how many (the first ones of the split): 10000 */
    int64_t every_steps;       /**< 0 = after every epoch, else every this many steps */
} sl_config_stats;

/** A validated config: every field holds its value or its default. */
typedef struct sl_config {
    char *origin;     /**< the file path (or origin name) messages start with */
    char *name;       /**< default: the file name without directory and ".json" */
    uint64_t seed;    /**< 42 */
    sl_config_data data;
    sl_config_model model;
    sl_loss_kind loss;               /**< cross_entropy */
    float label_smoothing;           /**< cross_entropy's target smoothing in [0, 1): 0 */
    sl_optim_spec optimizer;         /**< sl_optim_defaults(type) + what the file sets */
    sl_schedule_spec schedule;       /**< sl_schedule_defaults(type) + what the file sets */
    sl_config_train train;
    sl_config_checkpoint checkpoint;
    sl_config_stats stats;
} sl_config;

/**
 * Loads the config file at path, applies overrides[0..n_overrides) in
 * order, and validates the result.  An override is "path=value": path is
 * JSON keys separated by '.' with array indices in brackets
 * ("model.layers[2].alpha"); value is parsed as JSON when it is valid JSON
 * (3, 0.1, true, null, "text", [1, 28, 28], {"type": "relu"}) and taken as
 * a plain string otherwise (sgd).  Setting a key that does not exist adds it
 * (missing objects on the way are created), so validation then reports an
 * unknown one; an index past the end of an array is an error.
 *
 * Returns a new config (free with sl_config_free) or NULL with:
 * SL_ERR_INVALID (NULL path), SL_ERR_READ (cannot read the file),
 * SL_ERR_CONFIG (invalid JSON with file:line:column, a bad override, or a
 * validation error naming the file and JSON path; when the value at fault
 * came from an override the message says which), SL_ERR_NOMEM.
 */
SL_API sl_config *sl_config_load(const char *path, const char *const *overrides,
                                 size_t n_overrides, sl_error *err);

/** sl_config_load without overrides. */
SL_API sl_config *sl_config_load_file(const char *path, sl_error *err);

/**
 * The same for JSON text in memory; origin names it in messages (NULL:
 * "<string>") and gives the default name.  SL_ERR_INVALID for NULL json.
 */
SL_API sl_config *sl_config_parse(const char *json, const char *origin,
                                  const char *const *overrides, size_t n_overrides,
                                  sl_error *err);

/** sl_config_parse without overrides. */
SL_API sl_config *sl_config_load_string(const char *json, const char *origin, sl_error *err);

/** Frees a config and everything it owns.  NULL is a no-op. */
SL_API void sl_config_free(sl_config *cfg);

/**
 * The effective config as JSON text (indented), every default written out,
 * so that loading it gives the same config.  For a checkpoint's metadata.
 * The caller frees it with free().  NULL on a NULL cfg or out of memory.
 */
SL_API char *sl_config_to_json(const sl_config *cfg);

/**
 * Builds the described model: sl_model_new with model.input, then
 * sl_model_add per layer.  The parameters are not allocated yet: call
 * sl_model_init(m, cfg->model.init, cfg->seed, err) to draw them (or load
 * them).  Also checks that the output is one vector per sample ([classes]),
 * matching the class count when the config knows it (spiral, explicit
 * "classes").  Errors are prefixed with the file and the JSON path, e.g.
 * "models/x.json: model.layers[3]: layer 3 (linear): input [64, 7, 7]: ...":
 * SL_ERR_SHAPE (a layer does not fit its input, wrong output), SL_ERR_CONFIG
 * (a setting nn refuses, or a model without trainable parameters: nothing to
 * train), SL_ERR_INVALID (NULL cfg), SL_ERR_NOMEM.
 */
SL_API sl_model *sl_config_build_model(const sl_config *cfg, sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
