/*
 * export_torch.c - weights for torch.nn.Sequential and back (slope/export_model.h):
 * the weights-only export, sl_model_init_from, and the model a checkpoint holds.
 *
 * The export writes its own safetensors header rather than calling
 * sl_safetensors_write, because batch_norm's num_batches_tracked is an I64
 * scalar (shape []) in torch, which strict loading wants, and slope tensors
 * are F32 with at least one dimension.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "io_internal.h"
#include "slope/export_model.h"
#include "slope/run.h"
#include "slope/train.h"

#define NAME_MAX_LEN 160

const char *sl_torch_name(const char *name, char *buf, size_t size)
{
    if (!name || !buf || size == 0)
        return NULL;
    snprintf(buf, size, "%s", strncmp(name, "layers.", 7) == 0 ? name + 7 : name);
    return buf;
}

/* ---- the model a checkpoint holds ------------------------------------------------------ */

static sl_config *config_of(const char *checkpoint, const char *config_path, sl_error *err)
{
    if (config_path)
        return sl_config_load_file(config_path, err);
    sl_safetensors *st = sl_safetensors_read(checkpoint, err);
    if (!st)
        return NULL;
    const char *json = sl_safetensors_metadata(st, "config");
    sl_config *cfg = NULL;
    if (!json)
        sl_error_set(err, SL_ERR_FORMAT,
                     "%s: no \"config\" metadata (not saved by `slope train`): give the config "
                     "it was trained with",
                     checkpoint);
    else
        cfg = sl_config_load_string(json, checkpoint, err);
    sl_safetensors_free(st);
    return cfg;
}

sl_model *sl_checkpoint_model(const char *checkpoint, const char *config_path,
                              sl_config **cfg_out, sl_error *err)
{
    if (cfg_out)
        *cfg_out = NULL;
    if (!checkpoint) {
        sl_error_set(err, SL_ERR_INVALID, "sl_checkpoint_model: NULL checkpoint");
        return NULL;
    }
    sl_config *cfg = config_of(checkpoint, config_path, err);
    sl_model *m = cfg ? sl_run_build_model(cfg, err) : NULL;
    if (m && sl_model_load(m, checkpoint, err) != SL_OK) {
        sl_model_free(m);
        m = NULL;
    }
    if (m && cfg_out)
        *cfg_out = cfg;
    else
        sl_config_free(cfg);
    return m;
}

/* ---- the export -------------------------------------------------------------------------- */

/* Appends to the growing header; 0 when it no longer fits. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int put(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= size - *used)
        return 0;
    *used += (size_t)w;
    return 1;
}

/* 1 for batch_norm's last tensor (running_var), after which torch has num_batches_tracked. */
static int ends_bn_layer(const sl_model *m, const sl_param *p)
{
    size_t n = strlen(p->name);
    return sl_model_layer(m, (size_t)p->layer)->type == SL_LAYER_BATCH_NORM && n > 11 &&
           strcmp(p->name + n - 11, "running_var") == 0;
}

/* The header JSON (without padding); *data_bytes the size of the data section. */
static int build_header(const sl_model *m, char *buf, size_t size, size_t *used,
                        uint64_t *data_bytes)
{
    sl_normalize kind;
    double mean, std;
    kind = sl_model_input_normalize(m, &mean, &std);
    uint64_t off = 0;
    int ok = put(buf, size, used,
                 "{\"__metadata__\":{\"format\":\"pt\",\"slope.input_normalize\":\"%s\","
                 "\"slope.input_mean\":\"%.17g\",\"slope.input_std\":\"%.17g\"}",
                 sl_normalize_name(kind), mean, std);
    char name[NAME_MAX_LEN];
    for (size_t i = 0; ok && i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        const sl_tensor *t = p->tensor;
        ok = put(buf, size, used, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                 sl_torch_name(p->name, name, sizeof name));
        for (int d = 0; ok && d < t->ndim; d++)
            ok = put(buf, size, used, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        uint64_t end = off + (uint64_t)t->size * 4u;
        ok = ok && put(buf, size, used, "],\"data_offsets\":[%llu,%llu]}",
                       (unsigned long long)off, (unsigned long long)end);
        off = end;
        if (ok && ends_bn_layer(m, p)) {
            ok = put(buf, size, used,
                     ",\"%s.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
                     "\"data_offsets\":[%llu,%llu]}",
                     sl_model_layer_name(m, (size_t)p->layer) + 7, (unsigned long long)off, (unsigned long long)(off + 8));
            off += 8;
        }
    }
    ok = ok && put(buf, size, used, "}");
    *data_bytes = off;
    return ok;
}

/* Header length, header (space-padded to 8 bytes, as the format recommends), then data. */
static sl_status write_file(const sl_model *m, sl_io_atomic *f, const char *hdr, size_t n,
                            sl_error *err)
{
    size_t padded = (n + 7) & ~(size_t)7;
    unsigned char len[8];
    sl_io_put_u64le(len, padded);
    if (sl_io_atomic_write(f, len, 8, err) != SL_OK || sl_io_atomic_write(f, hdr, n, err) != SL_OK ||
        sl_io_atomic_write(f, "       ", padded - n, err) != SL_OK)
        return err->status;
    unsigned char chunk[4096];
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        for (int64_t j = 0; j < p->tensor->size;) {
            size_t k = 0;
            for (; k < sizeof chunk / 4 && j < p->tensor->size; k++, j++)
                sl_io_put_f32le(chunk + 4 * k, p->tensor->data[j]);
            if (sl_io_atomic_write(f, chunk, 4 * k, err) != SL_OK)
                return err->status;
        }
        if (ends_bn_layer(m, p)) {
            memset(chunk, 0, 8);
            if (sl_io_atomic_write(f, chunk, 8, err) != SL_OK)
                return err->status;
        }
    }
    return SL_OK;
}

sl_status sl_export_torch(const sl_model *m, const char *path, sl_error *err)
{
    sl_error local = {0};
    if (!err)
        err = &local;
    if (!m || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_export_torch: NULL argument");
    if (sl_model_num_params(m) == 0)
        return sl_error_set(err, SL_ERR_STATE, "sl_export_torch: the model is not initialised");
    size_t size = 512 + sl_model_num_params(m) * (NAME_MAX_LEN + 160), used = 0;
    char *hdr = sl_malloc(size);
    if (!hdr)
        return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", path);
    uint64_t data_bytes = 0;
    sl_status s = SL_OK;
    if (!build_header(m, hdr, size, &used, &data_bytes))
        s = sl_error_set(err, SL_ERR_INVALID, "%s: a parameter name is too long", path);
    sl_io_atomic f;
    if (s == SL_OK && sl_io_atomic_open(&f, path, NULL, err) == SL_OK) {
        if (write_file(m, &f, hdr, used, err) == SL_OK)
            sl_io_atomic_commit(&f, err);
        else
            sl_io_atomic_abort(&f);
    }
    sl_free(hdr);
    return s == SL_OK ? err->status : s;
}

/* ---- weights from a file ---------------------------------------------------------------- */

/* The file's tensor for p: under slope's name, else torch's; NULL when neither. */
static const sl_tensor *find(const sl_safetensors *st, const sl_param *p, const char **used,
                             char *torch)
{
    const sl_tensor *t = sl_safetensors_get(st, p->name);
    *used = p->name;
    if (!t) {
        *used = sl_torch_name(p->name, torch, NAME_MAX_LEN);
        t = sl_safetensors_get(st, *used);
    }
    return t;
}

/* 1 when name is one of m's tensors under either name, or one torch adds or slope ignores. */
static int known(const sl_model *m, const char *name)
{
    if (strncmp(name, "optim.", 6) == 0)
        return 1;
    char buf[NAME_MAX_LEN];
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (strcmp(name, p->name) == 0 ||
            strcmp(name, sl_torch_name(p->name, buf, sizeof buf)) == 0)
            return 1;
    }
    /* "<layer's torch path>.num_batches_tracked" of a batch_norm ("3", "1.layers.0"). */
    static const char tracked[] = ".num_batches_tracked";
    size_t n = strlen(name), t = sizeof tracked - 1;
    if (n <= t || strcmp(name + n - t, tracked) != 0)
        return 0;
    for (size_t i = 0; i < sl_model_num_layers(m); i++) {
        const char *path = sl_model_layer_name(m, i) + 7;
        if (sl_model_layer(m, i)->type == SL_LAYER_BATCH_NORM && strlen(path) == n - t &&
            strncmp(name, path, n - t) == 0)
            return 1;
    }
    return 0;
}

static sl_status check_all(const sl_model *m, const sl_safetensors *st, const char *path,
                           sl_error *err)
{
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        const char *name;
        char buf[NAME_MAX_LEN];
        const sl_tensor *t = find(st, p, &name, buf);
        char want[96], got[96];
        if (!t)
            return sl_error_set(err, SL_ERR_FORMAT, "%s: no tensor %s (or %s), expected %s",
                                path, p->name, name, sl_shape_str(p->tensor, want, sizeof want));
        if (!sl_tensor_same_shape(t, p->tensor))
            return sl_error_set(err, SL_ERR_SHAPE, "%s: tensor %s: expected %s, found %s", path,
                                name, sl_shape_str(p->tensor, want, sizeof want),
                                sl_shape_str(t, got, sizeof got));
    }
    for (size_t i = 0; i < sl_safetensors_count(st); i++) {
        const char *name = sl_safetensors_at(st, i).name;
        if (!known(m, name))
            return sl_error_set(err, SL_ERR_FORMAT,
                                "%s: tensor %s is not a parameter of this model", path, name);
    }
    return SL_OK;
}

sl_status sl_model_init_from(sl_model *m, const char *path, sl_error *err)
{
    sl_error local = {0};
    if (!err)
        err = &local;
    if (!m || !path)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_init_from: NULL argument");
    if (sl_model_num_params(m) == 0)
        return sl_error_set(err, SL_ERR_STATE, "sl_model_init_from: the model is not initialised");
    sl_safetensors *st = sl_safetensors_read(path, err);
    if (!st)
        return err->status;
    sl_status s = check_all(m, st, path, err);
    for (size_t i = 0; s == SL_OK && i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        const char *name;
        char buf[NAME_MAX_LEN];
        const sl_tensor *t = find(st, p, &name, buf);
        memcpy(p->tensor->data, t->data, (size_t)t->size * sizeof *t->data);
    }
    sl_safetensors_free(st);
    return s;
}
