/*
 * config_emit.c - an sl_config back to JSON, with every default written
 * out and only the keys that apply (an adam optimizer has no "momentum"), so
 * the text loads again into the same config.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "nn_internal.h"

/* v as the shortest decimal that reads back as the same float (0.01, not 0.0099999998). */
static cJSON *float_number(float v)
{
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    return cJSON_CreateNumber(strtod(buf, NULL));
}

static int add_item(cJSON *o, const char *key, cJSON *item)
{
    if (item && cJSON_AddItemToObject(o, key, item))
        return 1;
    cJSON_Delete(item);
    return 0;
}

static int append(cJSON *array, cJSON *item)
{
    if (item && cJSON_AddItemToArray(array, item))
        return 1;
    cJSON_Delete(item);
    return 0;
}

static int add_float(cJSON *o, const char *key, float v)
{
    return add_item(o, key, float_number(v));
}

static int add_number(cJSON *o, const char *key, double v)
{
    return cJSON_AddNumberToObject(o, key, v) != NULL;
}

static int add_bool(cJSON *o, const char *key, int v)
{
    return cJSON_AddBoolToObject(o, key, v ? 1 : 0) != NULL;
}

static int add_string(cJSON *o, const char *key, const char *v)
{
    return cJSON_AddStringToObject(o, key, v) != NULL;
}

/* ---- data ------------------------------------------------------------------------ */

static int emit_files(cJSON *data, const char *key, const sl_config_files *f)
{
    if (!f->csv && !f->images)
        return 1;
    cJSON *o = cJSON_AddObjectToObject(data, key);
    if (!o)
        return 0;
    if (f->csv)
        return add_string(o, "csv", f->csv);
    return add_string(o, "images", f->images) && add_string(o, "labels", f->labels);
}

static int emit_spiral(cJSON *data, const sl_config_data *d)
{
    cJSON *o = cJSON_AddObjectToObject(data, "spiral");
    return o && add_number(o, "classes", d->spiral_classes) &&
           add_number(o, "points", (double)d->spiral_points) &&
           add_float(o, "noise", d->spiral_noise);
}

/* Only the transforms that are set: no "augment" at all when none is. */
static int emit_augment(cJSON *data, const sl_augment_spec *a)
{
    cJSON *o = cJSON_AddObjectToObject(data, "augment");
    if (!o)
        return 0;
    if (a->crop) {
        cJSON *crop = cJSON_AddObjectToObject(o, "crop");
        if (!crop || !add_number(crop, "padding", a->crop_padding))
            return 0;
    }
    return a->flip > 0.0f ? add_float(o, "flip", a->flip) : 1;
}

static int emit_data(cJSON *root, const sl_config_data *d)
{
    cJSON *o = cJSON_AddObjectToObject(root, "data");
    int ok = o != NULL;
    if (ok && d->dataset)
        ok = add_string(o, "dataset", d->dataset);
    else if (ok)
        ok = emit_files(o, "train", &d->train) && emit_files(o, "test", &d->test) &&
             add_number(o, "classes", d->classes);
    ok = ok && add_string(o, "normalize", sl_normalize_name(d->normalize));
    if (ok && d->has_mean_std)
        ok = add_number(o, "mean", d->mean) && add_number(o, "std", d->std);
    ok = ok && add_number(o, "validation", d->validation);
    if (ok && d->spiral_classes)
        ok = emit_spiral(o, d);
    if (ok && sl_augment_active(&d->augment))
        ok = emit_augment(o, &d->augment);
    return ok;
}

/* ---- model ---------------------------------------------------------------------- */

/* One key of a layer as its row spells it. */
static int emit_key(cJSON *o, const sl_layer_key *k, const sl_layer_spec *s)
{
    double v = sl_nn_key_value(s, k);
    if (k->kind == SL_KEY_FLOAT)
        return add_float(o, k->name, (float)v);
    if (k->kind == SL_KEY_BOOL)
        return add_bool(o, k->name, v != 0.0);
    if (k->kind == SL_KEY_CHOICE) {
        const sl_layer_choice *ch = &k->choices[v >= 0 && v < k->n_choices ? (int)v : 0];
        return ch->json ? add_string(o, k->name, ch->json) : add_number(o, k->name, ch->number);
    }
    return add_number(o, k->name, v);
}

/* Every key of the layer's row, in the row's order, derived defaults filled in. */
static int emit_layer_settings(cJSON *o, const sl_layer_spec *spec)
{
    sl_layer_spec s = *spec;
    const sl_layer_def *d = sl_layer_def_of(s.type);
    if (!d)
        return 0;
    char msg[160];
    if (d->check)
        (void)d->check(&s, ~0u, msg, sizeof msg); /* a pool's stride 0 is its kernel */
    int ok = 1;
    for (int i = 0; ok && i < d->n_keys; i++)
        ok = emit_key(o, &d->keys[i], &s);
    return ok;
}

/* Entries [begin, end) of the flat list as the array a, each block's body nested in its
 * "layers" again. */
static int emit_layers(cJSON *a, const sl_layer_spec *layers, size_t begin, size_t end)
{
    int ok = 1;
    for (size_t i = begin; ok && i < end; i++) {
        const sl_layer_spec *s = &layers[i];
        cJSON *l = cJSON_CreateObject();
        ok = append(a, l) && add_string(l, "type", sl_layer_type_name(s->type)) &&
             emit_layer_settings(l, s);
        if (ok && s->type == SL_LAYER_RESIDUAL) {
            size_t body = s->body > 0 && (size_t)s->body < end - i ? (size_t)s->body : end - i - 1;
            cJSON *inner = cJSON_AddArrayToObject(l, "layers");
            ok = inner && emit_layers(inner, layers, i + 1, i + 1 + body);
            i += body;
        }
    }
    return ok;
}

static int emit_model(cJSON *root, const sl_config_model *m)
{
    cJSON *o = cJSON_AddObjectToObject(root, "model");
    cJSON *input = o ? cJSON_AddArrayToObject(o, "input") : NULL;
    int ok = input != NULL;
    for (int i = 0; ok && i < m->input_ndim; i++)
        ok = append(input, cJSON_CreateNumber((double)m->input[i]));
    ok = ok && add_string(o, "init", sl_init_name(m->init));
    cJSON *layers = ok ? cJSON_AddArrayToObject(o, "layers") : NULL;
    return layers && emit_layers(layers, m->layers, 0, m->num_layers);
}

/* ---- optimizer, schedule, train, checkpoint, stats -------------------------------- */

static int emit_optimizer(cJSON *root, const sl_optim_spec *s)
{
    cJSON *o = cJSON_AddObjectToObject(root, "optimizer");
    int ok = o && add_string(o, "type", sl_optim_name(s->kind)) && add_float(o, "lr", s->lr);
    if (ok && s->kind == SL_OPTIM_SGD) {
        ok = add_float(o, "momentum", s->momentum) && add_bool(o, "nesterov", s->nesterov) &&
             add_float(o, "dampening", s->dampening);
    } else if (ok) {
        cJSON *betas = cJSON_AddArrayToObject(o, "betas");
        float b[2] = {s->beta1, s->beta2};
        ok = betas != NULL;
        for (int i = 0; ok && i < 2; i++)
            ok = append(betas, float_number(b[i]));
        ok = ok && add_float(o, "eps", s->eps);
    }
    return ok && add_float(o, "weight_decay", s->weight_decay) &&
           add_bool(o, "decay_bias", s->decay_bias) && add_bool(o, "decay_prelu", s->decay_prelu) &&
           add_bool(o, "decay_norm", s->decay_norm) &&
           add_float(o, "clip_grad_norm", s->clip_grad_norm);
}

static int emit_schedule(cJSON *root, const sl_schedule_spec *s)
{
    cJSON *o = cJSON_AddObjectToObject(root, "schedule");
    int ok = o && add_string(o, "type", sl_schedule_name(s->kind)) &&
             add_float(o, "warmup_epochs", s->warmup_epochs);
    if (ok && s->kind == SL_SCHEDULE_STEP)
        ok = add_number(o, "step_epochs", s->step_epochs) && add_float(o, "gamma", s->gamma);
    if (ok && s->kind == SL_SCHEDULE_COSINE)
        ok = add_float(o, "min_lr", s->min_lr);
    return ok;
}

static int emit_train(cJSON *root, const sl_config_train *t)
{
    cJSON *o = cJSON_AddObjectToObject(root, "train");
    return o && add_number(o, "epochs", t->epochs) &&
           add_number(o, "batch_size", (double)t->batch_size) &&
           add_bool(o, "drop_last", t->drop_last) && add_bool(o, "shuffle", t->shuffle) &&
           add_number(o, "threads", t->threads) &&
           add_string(o, "precision", sl_precision_name(t->precision));
}

static int emit_checkpoint(cJSON *root, const sl_config_checkpoint *k)
{
    cJSON *o = cJSON_AddObjectToObject(root, "checkpoint");
    int ok = o != NULL;
    if (ok && k->path)
        ok = add_string(o, "path", k->path);
    return ok && add_number(o, "every", k->every) && add_bool(o, "keep_best", k->keep_best);
}

static int emit_stats(cJSON *root, const sl_config_stats *s)
{
    cJSON *o = cJSON_AddObjectToObject(root, "stats");
    cJSON *probe = o && add_bool(o, "enabled", s->enabled) ? cJSON_AddObjectToObject(o, "probe")
                                                            : NULL;
    const char *split = s->probe_split == SL_SPLIT_TEST ? "test" : "train";
    int ok = probe && add_string(probe, "split", split) &&
             add_number(probe, "count", (double)s->probe_count);
    if (ok && s->every_steps > 0)
        return add_number(o, "every", (double)s->every_steps);
    return ok && add_string(o, "every", "epoch");
}

static int emit_root(cJSON *root, const sl_config *cfg)
{
    return add_string(root, "name", cfg->name) && add_number(root, "seed", (double)cfg->seed) &&
           emit_data(root, &cfg->data) && emit_model(root, &cfg->model) &&
           add_string(root, "loss", sl_loss_name(cfg->loss)) &&
           add_number(root, "label_smoothing", (double)cfg->label_smoothing) &&
           emit_optimizer(root, &cfg->optimizer) && emit_schedule(root, &cfg->schedule) &&
           emit_train(root, &cfg->train) && emit_checkpoint(root, &cfg->checkpoint) &&
           emit_stats(root, &cfg->stats);
}

char *sl_config_to_json(const sl_config *cfg)
{
    if (!cfg)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    char *text = root && emit_root(root, cfg) ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    /* The caller frees it with free(), whatever cJSON's hooks or slope's allocator: the one
     * block the library hands out of its allocation path on purpose (slope/alloc.h). */
    char *copy = NULL;
    if (text) {
        size_t n = strlen(text) + 1;
        copy = malloc(n); /* libc-alloc: freed by the caller with free() */
        if (copy)
            memcpy(copy, text, n);
    }
    cJSON_free(text);
    return copy;
}
