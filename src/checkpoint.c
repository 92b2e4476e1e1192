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
 * plus whatever the caller adds (the CLI stores the config).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

#define FORMAT_TRAIN "slope-train-1"
#define FORMAT_MODEL "slope-model-1"
#define MAX_META 32
#define OPT_NAME_MAX 96

typedef struct tensor_list {
    sl_named_tensor *items;
    char (*names)[OPT_NAME_MAX];
    size_t n;
} tensor_list;

static sl_status list_tensors(const sl_model *m, const sl_optimizer *opt, tensor_list *l,
                              sl_error *err)
{
    size_t n_model = sl_model_num_params(m), n_opt = opt ? sl_optimizer_state_count(opt) : 0;
    l->items = calloc(n_model + n_opt + 1, sizeof *l->items);
    l->names = calloc(n_opt + 1, sizeof *l->names);
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
    free(l->items);
    free(l->names);
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
    if (!sl_model_flat_params((sl_model *)(uintptr_t)m, NULL)) /* made by sl_model_init */
        return sl_error_set(err, SL_ERR_STATE, "sl_model_save: the model is not initialised");
    sl_kv ours[1] = {{"slope.format", FORMAT_MODEL}};
    return write_checkpoint(path, m, NULL, ours, 1, meta, n_meta, err);
}

sl_status sl_trainer_save(const sl_trainer *t, const char *path, const sl_kv *meta, size_t n_meta,
                          sl_error *err)
{
    if (!t || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_save: trainer or path is NULL");
    char epoch[32], steps[32];
    snprintf(epoch, sizeof epoch, "%d", t->epoch);
    snprintf(steps, sizeof steps, "%lld", (long long)t->steps);
    sl_kv ours[4] = {{"slope.format", FORMAT_TRAIN},
                     {"slope.epoch", epoch},
                     {"slope.steps", steps},
                     {"slope.optimizer", sl_optim_name(t->opt.optim.kind)}};
    return write_checkpoint(path, t->model, t->optim, ours, 4, meta, n_meta, err);
}

/* Copies every listed tensor from the file; all-or-nothing per tensor, names the missing one. */
static sl_status load_tensors(const sl_safetensors *st, const char *path, const tensor_list *l,
                              sl_error *err)
{
    for (size_t i = 0; i < l->n; i++) {
        sl_error inner = {0};
        if (sl_safetensors_load_into(st, l->items[i].name, (sl_tensor *)(uintptr_t)l->items[i].tensor,
                                     &inner) != SL_OK)
            return sl_error_set(err, inner.status, "%s: %s", path, inner.message);
    }
    return SL_OK;
}

static sl_safetensors *open_checkpoint(const char *path, const char *want_format, sl_error *err)
{
    sl_safetensors *st = sl_safetensors_read(path, err);
    if (!st)
        return NULL;
    const char *format = sl_safetensors_metadata(st, "slope.format");
    if (want_format && (!format || strcmp(format, want_format) != 0)) {
        sl_error_set(err, SL_ERR_FORMAT,
                     "%s: not a slope training checkpoint (slope.format is %s%s%s, expected %s)",
                     path, format ? "\"" : "", format ? format : "missing", format ? "\"" : "",
                     want_format);
        sl_safetensors_free(st);
        return NULL;
    }
    return st;
}

sl_status sl_model_load(sl_model *m, const char *path, sl_error *err)
{
    if (!m || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_load: model or path is NULL");
    sl_safetensors *st = open_checkpoint(path, NULL, err);
    if (!st)
        return err ? err->status : SL_ERR_IO;
    tensor_list l;
    sl_status s = list_tensors(m, NULL, &l, err);
    if (s == SL_OK)
        s = load_tensors(st, path, &l, err);
    list_free(&l);
    sl_safetensors_free(st);
    return s;
}

static int parse_count(const sl_safetensors *st, const char *key, long long *out)
{
    const char *v = sl_safetensors_metadata(st, key);
    char *end;
    if (!v)
        return 0;
    *out = strtoll(v, &end, 10);
    return *end == '\0' && end != v && *out >= 0;
}

sl_status sl_trainer_load(sl_trainer *t, const char *path, sl_error *err)
{
    if (!t || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_load: trainer or path is NULL");
    sl_safetensors *st = open_checkpoint(path, FORMAT_TRAIN, err);
    if (!st)
        return err ? err->status : SL_ERR_IO;
    long long epoch = 0, steps = 0;
    const char *kind = sl_safetensors_metadata(st, "slope.optimizer");
    sl_status s = SL_OK;
    if (!parse_count(st, "slope.epoch", &epoch) || !parse_count(st, "slope.steps", &steps))
        s = sl_error_set(err, SL_ERR_FORMAT, "%s: slope.epoch or slope.steps is missing or bad",
                         path);
    else if (!kind || strcmp(kind, sl_optim_name(t->opt.optim.kind)) != 0)
        s = sl_error_set(err, SL_ERR_FORMAT,
                         "%s: saved with optimizer \"%s\", but this run uses \"%s\"", path,
                         kind ? kind : "?", sl_optim_name(t->opt.optim.kind));
    tensor_list l = {0};
    if (s == SL_OK)
        s = list_tensors(t->model, t->optim, &l, err);
    if (s == SL_OK)
        s = load_tensors(st, path, &l, err);
    list_free(&l);
    sl_safetensors_free(st);
    if (s != SL_OK)
        return s;
    t->epoch = (int)epoch;
    t->steps = steps;
    sl_optimizer_set_steps(t->optim, steps);
    /* Every full epoch is t->batches steps, so the step count fixes the batch position. */
    int64_t batch = t->batches ? steps - (int64_t)epoch * t->batches : 0;
    if (batch < 0 || batch > t->batches)
        return sl_error_set(err, SL_ERR_FORMAT,
                            "%s: %lld steps do not fit %lld epochs of %lld batches (another "
                            "batch size or dataset?)",
                            path, steps, epoch, (long long)t->batches);
    return sl_batch_iter_seek(t->iter, epoch, batch, err);
}
