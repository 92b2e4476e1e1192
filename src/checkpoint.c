/*
 * checkpoint.c - saving and restoring models and whole training runs as
 * safetensors files (the format itself is io_*.c's).
 *
 * A training checkpoint holds every model tensor under its state_dict name,
 * the optimizer state as "optim.<param>.<slot>", and metadata:
 *   slope.format     "slope-train-1" (or "slope-model-1" for sl_model_save)
 *   slope.epoch      epochs completed
 *   slope.steps      optimizer steps taken
 *   slope.optimizer  the optimizer kind
 *   slope.input_normalize, slope.input_mean, slope.input_std
 *                    the model's input normalisation ("none", "scale01" or
 *                    "standardize"; mean and std as %.17g, exact doubles)
 * plus whatever the caller adds (the CLI stores the config).  Both kinds
 * carry the input normalisation; a file without it (older checkpoints)
 * loads and leaves the model's setting as it was.
 */
#include "guard.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "alloc.h"
#include "slope/data.h"
#include "train_internal.h"

#define FORMAT_TRAIN "slope-train-1"
#define FORMAT_MODEL "slope-model-1"
#define FORMAT_MODEL_OPTIM "slope-model-optim-1"
#define MAX_META 32
#define OPT_NAME_MAX 192
#define KEY_NORM "slope.input_normalize"
#define KEY_MEAN "slope.input_mean"
#define KEY_STD "slope.input_std"

/* The model's input normalisation as the three metadata values save writes. */
typedef struct norm_meta {
    sl_normalize kind;
    double mean, std;
    char mean_text[32], std_text[32];
} norm_meta;

/* Appends the three normalisation entries to ours (which has room) and returns the count. */
static size_t add_norm_meta(const sl_model *m, norm_meta *nm, sl_kv *ours, size_t n)
{
    nm->kind = sl_model_input_normalize(m, &nm->mean, &nm->std);
    snprintf(nm->mean_text, sizeof nm->mean_text, "%.17g", nm->mean);
    snprintf(nm->std_text, sizeof nm->std_text, "%.17g", nm->std);
    ours[n++] = (sl_kv){KEY_NORM, sl_normalize_name(nm->kind)};
    ours[n++] = (sl_kv){KEY_MEAN, nm->mean_text};
    ours[n++] = (sl_kv){KEY_STD, nm->std_text};
    return n;
}

typedef struct tensor_list {
    sl_named_tensor *items;
    char (*names)[OPT_NAME_MAX];
    size_t n;
} tensor_list;

static sl_status list_tensors(const sl_model *m, const sl_optimizer *opt, tensor_list *l,
                              sl_error *err)
{
    size_t n_model = sl_model_num_params(m), n_opt = opt ? sl_optimizer_state_count(opt) : 0;
    l->items = sl_calloc(n_model + n_opt + 1, sizeof *l->items);
    l->names = sl_calloc(n_opt + 1, sizeof *l->names);
    l->n = 0;
    if (!l->items || !l->names)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory listing checkpoint tensors");
    for (size_t i = 0; i < n_model; i++) {
        const sl_param *p = sl_model_param(m, i);
        l->items[l->n++] = (sl_named_tensor){p->name, p->tensor};
    }
    for (size_t i = 0; i < n_opt; i++) {
        const char *name;
        sl_tensor *t = sl_optimizer_state(opt, i, &name);
        snprintf(l->names[i], OPT_NAME_MAX, "optim.%s", name);
        l->items[l->n++] = (sl_named_tensor){l->names[i], t};
    }
    return SL_OK;
}

static void list_free(tensor_list *l)
{
    sl_free(l->items);
    sl_free(l->names);
}

static sl_status write_checkpoint(const char *path, const sl_model *m, const sl_optimizer *opt,
                                  const sl_kv *ours, size_t n_ours, const sl_kv *meta,
                                  size_t n_meta, sl_error *err)
{
    if (n_ours + n_meta > MAX_META)
        return sl_error_set(err, SL_ERR_INVALID, "%s: too many metadata entries (%zu)", path,
                            n_ours + n_meta);
    sl_kv all[MAX_META];
    size_t n = 0;
    for (size_t i = 0; i < n_ours; i++)
        all[n++] = ours[i];
    for (size_t i = 0; i < n_meta; i++) {
        if (meta[i].key && strncmp(meta[i].key, "slope.", 6) == 0)
            return sl_error_set(err, SL_ERR_INVALID, "%s: metadata key \"%s\" is reserved", path,
                                meta[i].key);
        all[n++] = meta[i];
    }
    tensor_list l;
    sl_status st = list_tensors(m, opt, &l, err);
    if (st == SL_OK)
        st = sl_safetensors_write(path, l.items, l.n, all, n, err);
    list_free(&l);
    return st;
}

sl_status sl_model_save(const sl_model *m, const char *path, const sl_kv *meta, size_t n_meta,
                        sl_error *err)
{
    if (!m || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_save: model or path is NULL");
    SL_GUARD_KV(meta, n_meta, err);
    if (!sl_model_flat_params((sl_model *)(uintptr_t)m, NULL)) /* made by sl_model_init */
        return sl_error_set(err, SL_ERR_STATE, "sl_model_save: the model is not initialised");
    sl_kv ours[4] = {{"slope.format", FORMAT_MODEL}};
    norm_meta nm;
    size_t n_ours = add_norm_meta(m, &nm, ours, 1);
    return write_checkpoint(path, m, NULL, ours, n_ours, meta, n_meta, err);
}

sl_status sl_trainer_save(const sl_trainer *t, const char *path, const sl_kv *meta, size_t n_meta,
                          sl_error *err)
{
    if (!t || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_save: trainer or path is NULL");
    SL_GUARD_KV(meta, n_meta, err);
    char epoch[32], steps[32];
    snprintf(epoch, sizeof epoch, "%d", t->epoch);
    snprintf(steps, sizeof steps, "%lld", (long long)t->steps);
    sl_kv ours[7] = {{"slope.format", FORMAT_TRAIN},
                     {"slope.epoch", epoch},
                     {"slope.steps", steps},
                     {"slope.optimizer", sl_optim_name(t->opt.optim.kind)}};
    norm_meta nm;
    size_t n_ours = add_norm_meta(t->model, &nm, ours, 4);
    return write_checkpoint(path, t->model, t->optim, ours, n_ours, meta, n_meta, err);
}

/*
 * Loading is all-or-nothing: every metadata value and every tensor is checked
 * first, and only then is anything copied or assigned, so a caller that gets
 * an error still has its model and trainer exactly as they were.
 */

/* Every listed tensor must be in the file with the destination's shape, so that
 * copy_tensors cannot fail half way.  The dtype needs no check: the reader keeps
 * F32 tensors only (sl_safetensors_read refuses any other). */
static sl_status check_tensors(const sl_safetensors *st, const tensor_list *l, sl_error *err)
{
    for (size_t i = 0; i < l->n; i++) {
        const sl_tensor *have = sl_safetensors_get(st, l->items[i].name);
        sl_tensor *dst = (sl_tensor *)(uintptr_t)l->items[i].tensor;
        if (have && sl_tensor_same_shape(have, dst))
            continue;
        /* sl_safetensors_load_into makes the same two checks, so it fails here too,
         * leaves dst alone and words the error ("<path>: no tensor named ...",
         * "<path>: tensor '...': shape ..."): the path appears once. */
        sl_status s = sl_safetensors_load_into(st, l->items[i].name, dst, err);
        return s != SL_OK ? s
                          : sl_error_set(err, SL_ERR_STATE, "tensor '%s': inconsistent checks",
                                         l->items[i].name);
    }
    return SL_OK;
}

/* Copies every listed tensor from the file; check_tensors has vouched for them. */
static void copy_tensors(const sl_safetensors *st, const tensor_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const sl_tensor *src = sl_safetensors_get(st, l->items[i].name);
        sl_tensor *dst = (sl_tensor *)(uintptr_t)l->items[i].tensor;
        memcpy(dst->data, src->data, (size_t)dst->size * sizeof(float));
    }
}

static sl_safetensors *open_checkpoint(const char *path, const char *want_format, sl_error *err)
{
    sl_safetensors *st = sl_safetensors_read(path, err);
    if (!st)
        return NULL;
    const char *format = sl_safetensors_metadata(st, "slope.format");
    if (want_format && (!format || strcmp(format, want_format) != 0)) {
        sl_error_set(err, SL_ERR_FORMAT,
                     "%s: not a slope checkpoint of this kind (slope.format is %s%s%s, expected %s)",
                     path, format ? "\"" : "", format ? format : "missing", format ? "\"" : "",
                     want_format);
        sl_safetensors_free(st);
        return NULL;
    }
    return st;
}

/* Reads metadata key as a finite number written by %.17g (strtod syntax, nothing after). */
static sl_status parse_real(const sl_safetensors *st, const char *path, const char *key,
                            double *out, sl_error *err)
{
    const char *v = sl_safetensors_metadata(st, key);
    if (!v)
        return sl_error_set(err, SL_ERR_FORMAT, "%s: metadata %s is missing (%s is standardize)",
                            path, key, KEY_NORM);
    char *end = NULL;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !isfinite(x))
        return sl_error_set(err, SL_ERR_FORMAT, "%s: metadata %s is \"%.64s\", not a finite number",
                            path, key, v);
    *out = x;
    return SL_OK;
}

/*
 * The input normalisation the checkpoint records, checked as
 * sl_model_set_input_normalize would check it, so applying it later cannot
 * fail.  *present is 0 for a file without slope.input_normalize (an older
 * checkpoint): then the model keeps its own setting.
 */
static sl_status read_norm(const sl_safetensors *st, const char *path, int *present,
                           norm_meta *nm, sl_error *err)
{
    const char *v = sl_safetensors_metadata(st, KEY_NORM);
    *present = v != NULL;
    nm->kind = SL_NORMALIZE_NONE;
    nm->mean = 0.0;
    nm->std = 1.0;
    if (!v)
        return SL_OK;
    if (sl_normalize_parse(v, &nm->kind, NULL) != SL_OK)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: metadata %s is \"%.64s\", not none, scale01 or standardize",
                            path, KEY_NORM, v);
    if (nm->kind != SL_NORMALIZE_STANDARDIZE)
        return SL_OK; /* mean and std mean nothing for the other kinds */
    sl_status s = parse_real(st, path, KEY_MEAN, &nm->mean, err);
    if (s == SL_OK)
        s = parse_real(st, path, KEY_STD, &nm->std, err);
    if (s == SL_OK && !(nm->std > 0.0))
        s = sl_error_set(err, SL_ERR_FORMAT, "%s: metadata %s is %g, but standardize needs std > 0",
                         path, KEY_STD, nm->std);
    return s;
}

/* Sets what read_norm vouched for (cannot fail then). */
static void apply_norm(sl_model *m, int present, const norm_meta *nm)
{
    if (present)
        sl_model_set_input_normalize(m, nm->kind, nm->mean, nm->std, NULL);
}

sl_status sl_model_load(sl_model *m, const char *path, sl_error *err)
{
    if (!m || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_load: model or path is NULL");
    sl_safetensors *st = open_checkpoint(path, NULL, err);
    if (!st)
        return err ? err->status : SL_ERR_READ;
    norm_meta nm;
    int has_norm = 0;
    tensor_list l = {0};
    sl_status s = read_norm(st, path, &has_norm, &nm, err);
    if (s == SL_OK)
        s = list_tensors(m, NULL, &l, err);
    if (s == SL_OK)
        s = check_tensors(st, &l, err);
    if (s == SL_OK) {
        copy_tensors(st, &l);
        apply_norm(m, has_norm, &nm);
    }
    list_free(&l);
    sl_safetensors_free(st);
    return s;
}

/* Reads metadata key as a decimal count.  Digits only: a sign, spaces or a
 * trailing character are refused, and so is a value past INT64_MAX (caught
 * before the multiplication that would overflow). */
static sl_status parse_count(const sl_safetensors *st, const char *path, const char *key,
                             int64_t *out, sl_error *err)
{
    const char *v = sl_safetensors_metadata(st, key);
    if (!v)
        return sl_error_set(err, SL_ERR_FORMAT, "%s: metadata %s is missing", path, key);
    int64_t n = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (n > (INT64_MAX - d) / 10)
            break;
        n = n * 10 + d;
    }
    if (p == v || *p != '\0')
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: metadata %s is \"%.64s\", not an integer from 0 to %lld", path,
                            key, v, (long long)INT64_MAX);
    *out = n;
    return SL_OK;
}

/*
 * The steps that `epoch` completed epochs of `batches` allow: epoch * batches
 * plus 0..batches of the epoch in progress (all of them when it ended but the
 * trainer has not moved on yet), and exactly epoch * batches once the run is
 * complete.  *batch is the position in the epoch in progress.
 */
static sl_status check_steps(const sl_trainer *t, const char *path, int64_t epoch, int64_t steps,
                             int64_t *batch, sl_error *err)
{
    int64_t batches = t->batches;
    int64_t partial = epoch == t->opt.epochs ? 0 : batches;
    /* epoch <= INT_MAX but batches can be large: keep epoch * batches + partial in range. */
    int fits = batches == 0 || epoch <= (INT64_MAX - partial) / batches;
    int64_t lo = fits ? epoch * batches : 0;
    if (fits && steps >= lo && steps - lo <= partial) {
        *batch = steps - lo;
        return SL_OK;
    }
    char want[64] = "an impossible count";
    if (fits)
        snprintf(want, sizeof want, partial ? "%lld to %lld" : "%lld", (long long)lo,
                 (long long)(lo + partial));
    return sl_error_set(err, SL_ERR_FORMAT,
                        "%s: metadata slope.steps is %lld, but slope.epoch %lld at %lld batches "
                        "per epoch means %s (another batch size or dataset?)",
                        path, (long long)steps, (long long)epoch, (long long)batches, want);
}

/* The position in training the checkpoint records, checked against this trainer. */
static sl_status read_position(const sl_trainer *t, const sl_safetensors *st, const char *path,
                               int64_t *epoch, int64_t *steps, int64_t *batch, sl_error *err)
{
    sl_status s = parse_count(st, path, "slope.epoch", epoch, err);
    if (s == SL_OK)
        s = parse_count(st, path, "slope.steps", steps, err);
    if (s != SL_OK)
        return s;
    /* t->epoch is an int and the run ends at train.epochs: a later epoch cannot resume. */
    if (*epoch > t->opt.epochs)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: metadata slope.epoch is %lld, more than the %d epochs of this "
                            "run (train.epochs)",
                            path, (long long)*epoch, t->opt.epochs);
    return check_steps(t, path, *epoch, *steps, batch, err);
}

sl_status sl_trainer_load(sl_trainer *t, const char *path, sl_error *err)
{
    if (!t || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_load: trainer or path is NULL");
    sl_safetensors *st = open_checkpoint(path, FORMAT_TRAIN, err);
    if (!st)
        return err ? err->status : SL_ERR_READ;
    int64_t epoch = 0, steps = 0, batch = 0;
    const char *kind = sl_safetensors_metadata(st, "slope.optimizer");
    norm_meta nm;
    int has_norm = 0;
    sl_status s = read_position(t, st, path, &epoch, &steps, &batch, err);
    if (s == SL_OK)
        s = read_norm(st, path, &has_norm, &nm, err);
    if (s == SL_OK && (!kind || strcmp(kind, sl_optim_name(t->opt.optim.kind)) != 0))
        s = sl_error_set(err, SL_ERR_FORMAT,
                         "%s: saved with optimizer \"%s\", but this run uses \"%s\"", path,
                         kind ? kind : "?", sl_optim_name(t->opt.optim.kind));
    tensor_list l = {0};
    if (s == SL_OK)
        s = list_tensors(t->model, t->optim, &l, err);
    if (s == SL_OK)
        s = check_tensors(st, &l, err);
    /* The seek changes nothing when it fails (it cannot, after read_position), so it
     * goes first; after it nothing can fail. */
    if (s == SL_OK)
        s = sl_batch_iter_seek(t->iter, epoch, batch, err);
    if (s == SL_OK) {
        copy_tensors(st, &l);
        apply_norm(t->model, has_norm, &nm);
        t->epoch = (int)epoch; /* 0..t->opt.epochs */
        t->steps = steps;
        sl_optimizer_set_steps(t->optim, steps);
    }
    list_free(&l);
    sl_safetensors_free(st);
    return s;
}

/* ---- a model and its optimizer, for loops of the caller's own ------------------------- */

sl_status sl_model_save_with_optimizer(const sl_model *m, const sl_optimizer *opt,
                                       const char *path, const sl_kv *meta, size_t n_meta,
                                       sl_error *err)
{
    SL_GUARD(m, err);
    SL_GUARD(opt, err);
    SL_GUARD(path, err);
    SL_GUARD_KV(meta, n_meta, err);
    if (!sl_model_flat_params((sl_model *)(uintptr_t)m, NULL))
        return sl_error_set(err, SL_ERR_STATE, "%s: the model is not initialised", __func__);
    char steps[32];
    snprintf(steps, sizeof steps, "%lld", (long long)sl_optimizer_steps(opt));
    sl_kv ours[6] = {{"slope.format", FORMAT_MODEL_OPTIM},
                     {"slope.steps", steps},
                     {"slope.optimizer", sl_optim_name(sl_optimizer_spec(opt)->kind)}};
    norm_meta nm;
    size_t n_ours = add_norm_meta(m, &nm, ours, 3);
    return write_checkpoint(path, m, opt, ours, n_ours, meta, n_meta, err);
}

sl_status sl_model_load_with_optimizer(sl_model *m, sl_optimizer *opt, const char *path,
                                       sl_error *err)
{
    SL_GUARD(m, err);
    SL_GUARD(opt, err);
    SL_GUARD(path, err);
    sl_safetensors *st = open_checkpoint(path, FORMAT_MODEL_OPTIM, err);
    if (!st)
        return err ? err->status : SL_ERR_IO;
    const char *kind = sl_safetensors_metadata(st, "slope.optimizer");
    const char *want = sl_optim_name(sl_optimizer_spec(opt)->kind);
    int64_t steps = 0;
    norm_meta nm;
    int has_norm = 0;
    sl_status s = parse_count(st, path, "slope.steps", &steps, err);
    if (s == SL_OK)
        s = read_norm(st, path, &has_norm, &nm, err);
    if (s == SL_OK && (!kind || strcmp(kind, want) != 0))
        s = sl_error_set(err, SL_ERR_FORMAT, "%s: saved with optimizer \"%s\", but this one is "
                         "\"%s\"", path, kind ? kind : "?", want);
    tensor_list l = {0};
    if (s == SL_OK)
        s = list_tensors(m, opt, &l, err);
    if (s == SL_OK)
        s = check_tensors(st, &l, err);
    if (s == SL_OK) {
        copy_tensors(st, &l);
        apply_norm(m, has_norm, &nm);
        sl_optimizer_set_steps(opt, steps);
    }
    list_free(&l);
    sl_safetensors_free(st);
    return s;
}
