/*
 * slope/run.h - what `slope train CONFIG` does, as library calls.
 *
 * The pieces, each usable alone:
 *   sl_run_data_open      the datasets a config names: splits, validation
 *                         fraction, normalisation (mean/std computed from
 *                         the training split when the config asks for it)
 *   sl_run_build_model    the config's model, initialised from its seed
 *   sl_run_train_options  the trainer options a config describes
 *
 * Ownership: an sl_run_data owns its datasets (close it with
 * sl_run_data_close); the config is borrowed and may be freed afterwards.
 */
#ifndef SLOPE_RUN_H
#define SLOPE_RUN_H

#include <stdint.h>

#include "slope/config.h"
#include "slope/data.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"
#include "slope/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The datasets of a run.  Every handle is normalised as the config says. */
typedef struct sl_run_data {
    sl_dataset *train_all; /**< the whole training split */
    sl_dataset *train;     /**< what is trained on: train_all without the validation part */
    sl_dataset *val;       /**< the held-out part (data.validation > 0), else NULL */
    sl_dataset *test;      /**< the test split, NULL when the data has none */
    sl_normalize normalize; /**< the normalisation applied to every split */
    double mean, std;      /**< its parameters (standardize), in stored units */
} sl_run_data;

/**
 * Where dataset descriptors are looked for when a caller gives none: the
 * environment's SLOPE_DATASETS_DIR, else the installed share/slope/datasets,
 * else the source tree's datasets/ (for programs run from a build tree),
 * else "datasets".  The string is static (or the environment's).
 */
SL_API const char *sl_datasets_dir(void);

/**
 * Opens the datasets cfg->data names: a descriptor from datasets_dir (NULL:
 * sl_datasets_dir()), the spiral set, or explicit IDX/CSV files; applies
 * the normalisation to every split and holds out the validation fraction
 * (from the config's seed).  On error nothing is left open (d is zeroed).
 * Errors: those of the loaders (SL_ERR_IO, SL_ERR_FORMAT, SL_ERR_CONFIG for
 * a missing descriptor), SL_ERR_INVALID for NULL arguments.
 */
SL_API sl_status sl_run_data_open(const sl_config *cfg, const char *datasets_dir, sl_run_data *d,
                                  sl_error *err);
/** Frees every dataset of d and zeroes it.  A zeroed d is a no-op. */
SL_API void sl_run_data_close(sl_run_data *d);

/** sl_config_build_model, then sl_model_init with the config's init and seed. */
SL_API sl_model *sl_run_build_model(const sl_config *cfg, sl_error *err);

/** The trainer options the config's train, optimizer, schedule, loss and seed describe. */
SL_API sl_train_options sl_run_train_options(const sl_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
