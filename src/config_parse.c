/*
 * config_parse.c - the config's sections, JSON tree -> sl_config.  Each
 * section function checks its object's keys, then reads each value with the
 * typed readers of config_check.c; whatever is absent keeps its default.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config_internal.h"

#define INT32_LIMIT 2147483647
#define EPOCHS_MAX 1000000
#define LAYERS_MAX 4096
#define SPIRAL_POINTS_MAX 10000000
#define SEED_MAX 9007199254740992LL /* 2^53: JSON numbers are doubles */

static const sl_cfg_range ANY = {-INFINITY, INFINITY, 0, 0};
static const sl_cfg_range POSITIVE = {0.0, INFINITY, 1, 0};
static const sl_cfg_range NON_NEGATIVE = {0.0, INFINITY, 0, 0};
static const sl_cfg_range UNIT = {0.0, 1.0, 0, 0};         /* [0, 1] */
static const sl_cfg_range UNIT_OPEN = {0.0, 1.0, 0, 1};    /* [0, 1) */
static const sl_cfg_range FACTOR = {0.0, 1.0, 1, 0};       /* (0, 1] */

static sl_status no_memory(sl_cfg_ctx *c)
{
    return sl_error_set(c->err, SL_ERR_NOMEM, "%s: out of memory", c->origin);
}

static sl_status set_string(sl_cfg_ctx *c, char **dst, const char *src)
{
    char *copy = sl_cfg_strdup(src);
    if (src && !copy)
        return no_memory(c);
    sl_free(*dst);
    *dst = copy;
    return SL_OK;
}

/* Runs fn on obj[key] (an object) with the path pointing at it; absent: SL_OK or missing. */
typedef sl_status (*section_fn)(sl_cfg_ctx *c, const cJSON *obj, sl_config *cfg);

static sl_status section(sl_cfg_ctx *c, const cJSON *obj, const char *key, int required,
                         section_fn fn, sl_config *cfg)
{
    const cJSON *v = sl_cfg_member(obj, key);
    if (!v)
        return required ? sl_cfg_require(c, obj, key) : SL_OK;
    size_t mark = sl_cfg_push_key(c, key);
    sl_status st = sl_cfg_expect_object(c, v);
    if (st == SL_OK)
        st = fn(c, v, cfg);
    sl_cfg_pop(c, mark);
    return st;
}

/* ---- data ------------------------------------------------------------------------ */

static const char *const data_keys[] = {"dataset", "train", "test",       "classes", "normalize",
                                        "mean",    "std",   "validation", "spiral",  "augment",
                                        NULL};
static const char *const file_keys[] = {"images", "labels", "csv", NULL};
static const char *const spiral_keys[] = {"classes", "points", "noise", NULL};

/* Letters, digits, '.', '_', '-', not starting with '.' (a file name in datasets/). */
static int valid_dataset_name(const char *s)
{
    if (s[0] == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static sl_status files_complete(sl_cfg_ctx *c, const char *images, const char *labels,
                                const char *csv)
{
    if (csv && (images || labels))
        return sl_cfg_fail_at(c, images ? "images" : "labels",
                           "give either \"csv\" or \"images\" + \"labels\", not both");
    if (csv || (images && labels))
        return SL_OK;
    if (images || labels)
        return sl_cfg_fail(c, "missing key \"%s\" (IDX files come in pairs)",
                        images ? "labels" : "images");
    return sl_cfg_fail(c, "missing key \"images\" and \"labels\" (or \"csv\")");
}

static sl_status parse_files(sl_cfg_ctx *c, const cJSON *data, const char *key, sl_config_files *f)
{
    const cJSON *v = sl_cfg_member(data, key);
    if (!v)
        return SL_OK;
    size_t mark = sl_cfg_push_key(c, key);
    const char *images = NULL, *labels = NULL, *csv = NULL;
    sl_status st = sl_cfg_check_keys(c, v, file_keys, "a file set", NULL);
    if (st == SL_OK)
        st = sl_cfg_get_string(c, v, "images", &images);
    if (st == SL_OK)
        st = sl_cfg_get_string(c, v, "labels", &labels);
    if (st == SL_OK)
        st = sl_cfg_get_string(c, v, "csv", &csv);
    if (st == SL_OK)
        st = files_complete(c, images, labels, csv);
    if (st == SL_OK)
        st = set_string(c, &f->images, images);
    if (st == SL_OK)
        st = set_string(c, &f->labels, labels);
    if (st == SL_OK)
        st = set_string(c, &f->csv, csv);
    sl_cfg_pop(c, mark);
    return st;
}

static sl_status parse_named_source(sl_cfg_ctx *c, const cJSON *d, const char *name,
                                    sl_config_data *dd)
{
    const char *extra = sl_cfg_member(d, "train")   ? "train"
                        : sl_cfg_member(d, "test")  ? "test"
                        : sl_cfg_member(d, "classes") ? "classes"
                                                   : NULL;
    if (extra)
        return sl_cfg_fail_at(c, extra,
                           "only for explicit files; \"dataset\" \"%s\" describes its own", name);
    if (!valid_dataset_name(name))
        return sl_cfg_fail_at(c, "dataset",
                           "\"%s\" is not a dataset name (letters, digits, '.', '_' and '-', "
                           "naming a descriptor in datasets/)",
                           name);
    return set_string(c, &dd->dataset, name);
}

static sl_status parse_source(sl_cfg_ctx *c, const cJSON *d, sl_config_data *dd)
{
    const char *name = NULL;
    sl_status st = sl_cfg_get_string(c, d, "dataset", &name);
    if (st != SL_OK)
        return st;
    if (name)
        return parse_named_source(c, d, name, dd);
    if (!sl_cfg_member(d, "train"))
        return sl_cfg_fail(c, "missing key \"dataset\" (or explicit \"train\" files)");
    st = parse_files(c, d, "train", &dd->train);
    if (st == SL_OK)
        st = parse_files(c, d, "test", &dd->test);
    if (st == SL_OK)
        st = sl_cfg_get_int(c, d, "classes", &dd->classes, 0, SL_DATA_MAX_CLASSES);
    return st;
}

static sl_status parse_normalize(sl_cfg_ctx *c, const cJSON *d, sl_config_data *dd)
{
    const char *names[3];
    for (int k = 0; k < 3; k++)
        names[k] = sl_normalize_name((sl_normalize)k);
    int kind = (int)dd->normalize;
    sl_status st = sl_cfg_get_enum(c, d, "normalize", names, 3, &kind);
    if (st != SL_OK)
        return st;
    dd->normalize = (sl_normalize)kind;
    const cJSON *mean = sl_cfg_member(d, "mean"), *std = sl_cfg_member(d, "std");
    if (!mean && !std)
        return SL_OK;
    const char *key = mean ? "mean" : "std";
    if (dd->normalize != SL_NORMALIZE_STANDARDIZE)
        return sl_cfg_fail_at(c, key, "only used with \"normalize\": \"standardize\"");
    if (!mean || !std)
        return sl_cfg_fail_at(c, key,
                           "give both \"mean\" and \"std\" (or neither, to compute them "
                           "from the training data)");
    st = sl_cfg_get_double(c, d, "mean", &dd->mean, ANY);
    if (st == SL_OK)
        st = sl_cfg_get_double(c, d, "std", &dd->std, POSITIVE);
    dd->has_mean_std = 1;
    return st;
}

static sl_status parse_spiral(sl_cfg_ctx *c, const cJSON *d, sl_config_data *dd)
{
    const cJSON *v = sl_cfg_member(d, "spiral");
    int is_spiral = dd->dataset && strcmp(dd->dataset, "spiral") == 0;
    if (v && !is_spiral)
        return sl_cfg_fail_at(c, "spiral", "only for \"dataset\": \"spiral\"");
    if (!is_spiral)
        return SL_OK;
    dd->spiral_classes = 3;
    dd->spiral_points = 100;
    dd->spiral_noise = 0.2f;
    if (!v)
        return SL_OK;
    size_t mark = sl_cfg_push_key(c, "spiral");
    sl_status st = sl_cfg_check_keys(c, v, spiral_keys, "the spiral settings", NULL);
    if (st == SL_OK)
        st = sl_cfg_get_int(c, v, "classes", &dd->spiral_classes, 1, SL_DATA_MAX_CLASSES);
    if (st == SL_OK)
        st = sl_cfg_get_int64(c, v, "points", &dd->spiral_points, 1, SPIRAL_POINTS_MAX);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, v, "noise", &dd->spiral_noise, NON_NEGATIVE);
    sl_cfg_pop(c, mark);
    return st;
}

static const char *const augment_keys[] = {"crop", "flip", NULL};
static const char *const crop_keys[] = {"padding", NULL};

/* "crop": {"padding": P}; P is checked against the image size once the model is read. */
static sl_status parse_crop(sl_cfg_ctx *c, const cJSON *a, sl_augment_spec *aug)
{
    const cJSON *v = sl_cfg_member(a, "crop");
    if (!v)
        return SL_OK;
    size_t mark = sl_cfg_push_key(c, "crop");
    sl_status st = sl_cfg_expect_object(c, v);
    if (st == SL_OK)
        st = sl_cfg_check_keys(c, v, crop_keys, "the crop settings", NULL);
    if (st == SL_OK)
        st = sl_cfg_require(c, v, "padding");
    if (st == SL_OK)
        st = sl_cfg_get_int(c, v, "padding", &aug->crop_padding, 0, INT32_LIMIT);
    aug->crop = st == SL_OK;
    sl_cfg_pop(c, mark);
    return st;
}

static sl_status parse_augment(sl_cfg_ctx *c, const cJSON *d, sl_config_data *dd)
{
    const cJSON *v = sl_cfg_member(d, "augment");
    if (!v)
        return SL_OK;
    size_t mark = sl_cfg_push_key(c, "augment");
    sl_status st = sl_cfg_expect_object(c, v);
    if (st == SL_OK)
        st = sl_cfg_check_keys(c, v, augment_keys, "the augmentation", NULL);
    if (st == SL_OK)
        st = parse_crop(c, v, &dd->augment);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, v, "flip", &dd->augment.flip, UNIT);
    sl_cfg_pop(c, mark);
    return st;
}

/* Crop and flip need images: not the spiral's points nor a CSV's flat features, and a
 * model input [C, H, W] the padding is smaller than. */
static sl_status check_augment(sl_cfg_ctx *c, const sl_config *cfg)
{
    const sl_augment_spec *a = &cfg->data.augment;
    if (!sl_augment_active(a))
        return SL_OK;
    const char *key = a->crop ? "crop" : "flip", *why = NULL;
    size_t mark = sl_cfg_push_key(c, "data");
    sl_cfg_push_key(c, "augment");
    sl_status st = SL_OK;
    if (cfg->data.dataset && strcmp(cfg->data.dataset, "spiral") == 0)
        why = "the spiral's samples are points [2]";
    else if (!cfg->data.dataset && cfg->data.train.csv)
        why = "CSV features are flat [F]";
    const int64_t *in = cfg->model.input;
    if (!why && cfg->model.input_ndim != 3)
        why = "model.input is not [C, H, W]";
    if (why)
        st = sl_cfg_fail_at(c, key, "needs image data [C, H, W]; %s", why);
    else if (a->crop && (a->crop_padding >= in[1] || a->crop_padding >= in[2])) {
        sl_cfg_push_key(c, "crop");
        st = sl_cfg_fail_at(c, "padding", "must be below the image size %lldx%lld (model.input), "
                            "got %d", (long long)in[1], (long long)in[2], a->crop_padding);
    }
    sl_cfg_pop(c, mark);
    return st;
}

static sl_status parse_data(sl_cfg_ctx *c, const cJSON *d, sl_config *cfg)
{
    sl_config_data *dd = &cfg->data;
    sl_status st = sl_cfg_check_keys(c, d, data_keys, "\"data\"", NULL);
    if (st == SL_OK)
        st = parse_source(c, d, dd);
    if (st == SL_OK)
        st = parse_normalize(c, d, dd);
    if (st == SL_OK)
        st = sl_cfg_get_double(c, d, "validation", &dd->validation, UNIT_OPEN);
    if (st == SL_OK)
        st = parse_spiral(c, d, dd);
    if (st == SL_OK)
        st = parse_augment(c, d, dd);
    return st;
}

/* ---- layers ------------------------------------------------------------------------ */

/* Each layer's keys, types, ranges and cross-key rules are its row of the layer table. */

/* "type", the row's keys and a block's "layers", NULL-terminated. */
static void row_key_names(const sl_layer_def *d, const char **names)
{
    int n = 0;
    names[n++] = "type";
    for (int i = 0; i < d->n_keys; i++)
        names[n++] = d->keys[i].name;
    if (d->flags & SL_LAYER_CONTAINER)
        names[n++] = "layers";
    names[n] = NULL;
}

#define ANY_KEYS_MAX (SL_LAYER_TYPE_COUNT * SL_LAYER_MAX_KEYS + 3)

/* Every key of every row (for "not a setting of a relu layer"), NULL-terminated. */
static void all_key_names(const char **names)
{
    int n = 0;
    names[n++] = "type";
    names[n++] = "layers";
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++) {
        const sl_layer_def *d = sl_layer_def_of((sl_layer_type)t);
        for (int i = 0; i < d->n_keys; i++) {
            int seen = 0;
            for (int j = 0; j < n && !seen; j++)
                seen = strcmp(names[j], d->keys[i].name) == 0;
            if (!seen)
                names[n++] = d->keys[i].name;
        }
    }
    names[n] = NULL;
}

/* "expected 1 (one shared slope) or \"channel\" (one per channel), got 8". */
static sl_status bad_choice(sl_cfg_ctx *c, const sl_layer_key *k, const cJSON *v)
{
    char want[256], got[96];
    size_t len = 0;
    want[0] = '\0';
    for (int i = 0; i < k->n_choices && len < sizeof want; i++) {
        const sl_layer_choice *ch = &k->choices[i];
        const char *sep = i == 0 ? "" : i + 1 == k->n_choices ? " or " : ", ";
        if (ch->json)
            len += (size_t)snprintf(want + len, sizeof want - len, "%s\"%s\" (%s)", sep,
                                    ch->json, ch->doc);
        else
            len += (size_t)snprintf(want + len, sizeof want - len, "%s%g (%s)", sep, ch->number,
                                    ch->doc);
    }
    return sl_cfg_fail_at(c, k->name, "expected %s, got %s", want,
                          sl_cfg_describe(v, got, sizeof got));
}

static sl_status parse_choice(sl_cfg_ctx *c, const cJSON *obj, const sl_layer_key *k, int *out)
{
    const cJSON *v = sl_cfg_member(obj, k->name);
    if (!v)
        return SL_OK;
    for (int i = 0; i < k->n_choices; i++) {
        const sl_layer_choice *ch = &k->choices[i];
        int match = ch->json ? cJSON_IsString(v) && strcmp(v->valuestring, ch->json) == 0
                             : cJSON_IsNumber(v) && v->valuedouble == ch->number;
        if (match) {
            *out = i;
            return SL_OK;
        }
    }
    return bad_choice(c, k, v);
}

/* Reads obj[k->name] (absent: the default stays) into its field of s. */
static sl_status parse_key(sl_cfg_ctx *c, const cJSON *obj, const sl_layer_key *k,
                           sl_layer_spec *s)
{
    if (k->required && sl_cfg_require(c, obj, k->name) != SL_OK)
        return SL_ERR_CONFIG;
    void *field = (char *)s + k->offset;
    sl_cfg_range range = {k->lo, k->hi, k->lo_open, k->hi_open};
    switch (k->kind) {
    case SL_KEY_INT: return sl_cfg_get_int(c, obj, k->name, field, (int)k->lo, (int)k->hi);
    case SL_KEY_INT64:
        return sl_cfg_get_int64(c, obj, k->name, field, (int64_t)k->lo, (int64_t)k->hi);
    case SL_KEY_FLOAT: return sl_cfg_get_float(c, obj, k->name, field, range);
    case SL_KEY_BOOL: return sl_cfg_get_bool(c, obj, k->name, field);
    case SL_KEY_CHOICE: return parse_choice(c, obj, k, field);
    }
    return SL_OK;
}

static sl_status parse_layer_settings(sl_cfg_ctx *c, const cJSON *v, sl_layer_spec *s)
{
    const sl_layer_def *d = sl_layer_def_of(s->type);
    unsigned given = 0;
    for (int i = 0; i < d->n_keys; i++) {
        if (parse_key(c, v, &d->keys[i], s) != SL_OK)
            return SL_ERR_CONFIG;
        if (sl_cfg_member(v, d->keys[i].name))
            given |= 1u << i;
    }
    char msg[160];
    const char *bad = d->check ? d->check(s, given, msg, sizeof msg) : NULL;
    return bad ? sl_cfg_fail_at(c, bad, "%s", msg) : SL_OK;
}

static sl_status parse_layer(sl_cfg_ctx *c, const cJSON *v, sl_layer_spec *s)
{
    const char *names[SL_LAYER_TYPE_COUNT];
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++)
        names[t] = sl_layer_type_name((sl_layer_type)t);
    int type = 0;
    sl_status st = sl_cfg_expect_object(c, v);
    if (st == SL_OK)
        st = sl_cfg_require(c, v, "type");
    if (st == SL_OK)
        st = sl_cfg_get_enum(c, v, "type", names, SL_LAYER_TYPE_COUNT, &type);
    if (st != SL_OK)
        return st;
    *s = sl_layer_defaults((sl_layer_type)type);
    const char *keys[SL_LAYER_MAX_KEYS + 3], *any[ANY_KEYS_MAX];
    row_key_names(sl_layer_def_of(s->type), keys);
    all_key_names(any);
    char what[64];
    snprintf(what, sizeof what, "a \"%s\" layer", names[type]);
    st = sl_cfg_check_keys(c, v, keys, what, any);
    return st == SL_OK ? parse_layer_settings(c, v, s) : st;
}

/* Entries a layers array makes in the flat list: one per layer, and a block's own. */
static int count_entries(const cJSON *array, int depth)
{
    int n = 0;
    for (const cJSON *item = array ? array->child : NULL; item && n <= LAYERS_MAX;
         item = item->next) {
        const cJSON *body = cJSON_IsObject(item) ? sl_cfg_member(item, "layers") : NULL;
        n += 1 + (cJSON_IsArray(body) && depth < SL_MODEL_MAX_DEPTH
                      ? count_entries(body, depth + 1)
                      : 0);
    }
    return n;
}

static sl_status parse_list(sl_cfg_ctx *c, const cJSON *v, sl_config_model *model, int depth);

/* A residual's "layers": its body, right after it in the flat list, counted in its spec. */
static sl_status parse_body(sl_cfg_ctx *c, const cJSON *item, sl_config_model *model,
                            size_t at, int depth)
{
    const cJSON *body = sl_cfg_member(item, "layers");
    size_t mark = sl_cfg_push_key(c, "layers");
    sl_status st = SL_OK;
    if (depth >= SL_MODEL_MAX_DEPTH)
        st = sl_cfg_fail(c, "residual blocks nest at most %d deep", SL_MODEL_MAX_DEPTH);
    else if (!cJSON_IsArray(body) || cJSON_GetArraySize(body) < 1)
        st = sl_cfg_fail(c, "a residual block needs its layers: an array [{\"type\": ...}, ...] "
                            "of at least one layer");
    sl_cfg_pop(c, mark);
    if (st != SL_OK)
        return st;
    st = parse_list(c, body, model, depth + 1);
    model->layers[at].body = (int)(model->num_layers - at - 1);
    return st;
}

/* Appends the layers of array v (the path at v) and, depth first, the blocks' bodies. */
static sl_status parse_list(sl_cfg_ctx *c, const cJSON *v, sl_config_model *model, int depth)
{
    size_t mark = sl_cfg_push_key(c, "layers"), i = 0;
    sl_status st = SL_OK;
    for (const cJSON *item = v->child; st == SL_OK && item; item = item->next, i++) {
        size_t at = sl_cfg_push_index(c, i), entry = model->num_layers++;
        st = parse_layer(c, item, &model->layers[entry]);
        if (st == SL_OK && model->layers[entry].type == SL_LAYER_RESIDUAL)
            st = parse_body(c, item, model, entry, depth);
        sl_cfg_pop(c, at);
    }
    sl_cfg_pop(c, mark);
    return st;
}

static sl_status parse_layers(sl_cfg_ctx *c, const cJSON *m, sl_config_model *model)
{
    const cJSON *v = sl_cfg_member(m, "layers");
    size_t mark = sl_cfg_push_key(c, "layers");
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    int entries = cJSON_IsArray(v) ? count_entries(v, 0) : 0;
    sl_status st = SL_OK;
    if (!cJSON_IsArray(v))
        st = sl_cfg_fail(c, "expected an array of layers [{\"type\": ...}, ...]");
    else if (n < 1 || entries > LAYERS_MAX)
        st = sl_cfg_fail(c, "needs 1 to %d layers (blocks' layers included), got %d",
                         LAYERS_MAX, entries);
    else if (!(model->layers = sl_calloc((size_t)entries, sizeof *model->layers)))
        st = no_memory(c);
    sl_cfg_pop(c, mark);
    return st == SL_OK ? parse_list(c, v, model, 0) : st;
}

/* ---- model ---------------------------------------------------------------------- */

static const char *const model_keys[] = {"input", "init", "layers", NULL};

static sl_status parse_input(sl_cfg_ctx *c, const cJSON *m, sl_config_model *model)
{
    const cJSON *v = sl_cfg_member(m, "input");
    size_t mark = sl_cfg_push_key(c, "input");
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    char got[96];
    sl_status st = SL_OK;
    if (n < 1 || n > SL_CONFIG_MAX_INPUT_DIMS)
        st = sl_cfg_fail(c, "expected the shape of one sample, 1 to %d sizes such as [1, 28, 28], "
                         "got %s",
                      SL_CONFIG_MAX_INPUT_DIMS, sl_cfg_describe(v, got, sizeof got));
    size_t i = 0;
    for (const cJSON *d = v ? v->child : NULL; st == SL_OK && d; d = d->next, i++) {
        size_t at = sl_cfg_push_index(c, i);
        st = sl_cfg_integer(c, d, &model->input[i], 1, INT32_LIMIT);
        sl_cfg_pop(c, at);
    }
    model->input_ndim = n;
    sl_cfg_pop(c, mark);
    return st;
}

static sl_status parse_model(sl_cfg_ctx *c, const cJSON *m, sl_config *cfg)
{
    const char *names[SL_INIT_PYTORCH + 1];
    for (int k = 0; k <= SL_INIT_PYTORCH; k++)
        names[k] = sl_init_name((sl_init_kind)k);
    int init = (int)cfg->model.init;
    sl_status st = sl_cfg_check_keys(c, m, model_keys, "\"model\"", NULL);
    if (st == SL_OK)
        st = sl_cfg_require(c, m, "input");
    if (st == SL_OK)
        st = sl_cfg_require(c, m, "layers");
    if (st == SL_OK)
        st = parse_input(c, m, &cfg->model);
    if (st == SL_OK)
        st = sl_cfg_get_enum(c, m, "init", names, SL_INIT_PYTORCH + 1, &init);
    cfg->model.init = (sl_init_kind)init;
    if (st == SL_OK)
        st = parse_layers(c, m, &cfg->model);
    return st;
}

/* ---- optimizer and schedule ---------------------------------------------------- */

static const char *const keys_sgd[] = {"type",        "lr",          "momentum",   "nesterov",
                                       "dampening",   "weight_decay", "decay_bias", "decay_prelu",
                                       "decay_norm",  "clip_grad_norm", NULL};
static const char *const keys_adam[] = {"type",       "lr",          "betas",      "eps",
                                        "weight_decay", "decay_bias", "decay_prelu", "decay_norm",
                                        "clip_grad_norm", NULL};
static const char *const keys_any_optim[] = {
    "type",         "lr",         "momentum",    "nesterov",   "dampening",      "betas", "eps",
    "weight_decay", "decay_bias", "decay_prelu", "decay_norm", "clip_grad_norm", NULL};

static sl_status parse_betas(sl_cfg_ctx *c, const cJSON *o, sl_optim_spec *s)
{
    const cJSON *v = sl_cfg_member(o, "betas");
    if (!v)
        return SL_OK;
    size_t mark = sl_cfg_push_key(c, "betas");
    char got[96];
    double b[2] = {0.0, 0.0};
    sl_status st = SL_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        st = sl_cfg_fail(c, "expected two numbers [beta1, beta2], got %s",
                      sl_cfg_describe(v, got, sizeof got));
    for (int i = 0; st == SL_OK && i < 2; i++) {
        size_t at = sl_cfg_push_index(c, (size_t)i);
        st = sl_cfg_number(c, cJSON_GetArrayItem(v, i), &b[i], UNIT_OPEN);
        sl_cfg_pop(c, at);
    }
    sl_cfg_pop(c, mark);
    s->beta1 = (float)b[0];
    s->beta2 = (float)b[1];
    return st;
}

static sl_status parse_sgd(sl_cfg_ctx *c, const cJSON *o, sl_optim_spec *s)
{
    sl_status st = sl_cfg_get_float(c, o, "momentum", &s->momentum, UNIT_OPEN);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "dampening", &s->dampening, UNIT);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "nesterov", &s->nesterov);
    if (st == SL_OK && s->nesterov && (s->momentum <= 0.0f || s->dampening != 0.0f))
        st = sl_cfg_fail_at(c, "nesterov", "needs momentum > 0 and dampening 0");
    return st;
}

static sl_status parse_optimizer(sl_cfg_ctx *c, const cJSON *o, sl_config *cfg)
{
    const char *names[SL_OPTIM_ADAMW + 1];
    for (int k = 0; k <= SL_OPTIM_ADAMW; k++)
        names[k] = sl_optim_name((sl_optim_kind)k);
    int kind = SL_OPTIM_SGD;
    sl_status st = sl_cfg_get_enum(c, o, "type", names, SL_OPTIM_ADAMW + 1, &kind);
    if (st != SL_OK)
        return st;
    sl_optim_spec *s = &cfg->optimizer;
    *s = sl_optim_defaults((sl_optim_kind)kind);
    char what[64];
    snprintf(what, sizeof what, "the \"%s\" optimizer", names[kind]);
    st = sl_cfg_check_keys(c, o, kind == SL_OPTIM_SGD ? keys_sgd : keys_adam, what, keys_any_optim);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "lr", &s->lr, POSITIVE);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "weight_decay", &s->weight_decay, NON_NEGATIVE);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "decay_bias", &s->decay_bias);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "decay_prelu", &s->decay_prelu);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "decay_norm", &s->decay_norm);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "clip_grad_norm", &s->clip_grad_norm, NON_NEGATIVE);
    if (st == SL_OK && kind == SL_OPTIM_SGD)
        return parse_sgd(c, o, s);
    if (st == SL_OK)
        st = parse_betas(c, o, s);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "eps", &s->eps, POSITIVE);
    return st;
}

static const char *const keys_constant[] = {"type", "warmup_epochs", NULL};
static const char *const keys_step[] = {"type", "warmup_epochs", "step_epochs", "gamma", NULL};
static const char *const keys_cosine[] = {"type", "warmup_epochs", "min_lr", NULL};
static const char *const keys_any_schedule[] = {"type", "warmup_epochs", "step_epochs", "gamma",
                                                "min_lr", NULL};

static sl_status parse_schedule(sl_cfg_ctx *c, const cJSON *o, sl_config *cfg)
{
    const char *names[SL_SCHEDULE_COSINE + 1];
    for (int k = 0; k <= SL_SCHEDULE_COSINE; k++)
        names[k] = sl_schedule_name((sl_schedule_kind)k);
    int kind = SL_SCHEDULE_CONSTANT;
    sl_status st = sl_cfg_get_enum(c, o, "type", names, SL_SCHEDULE_COSINE + 1, &kind);
    if (st != SL_OK)
        return st;
    sl_schedule_spec *s = &cfg->schedule;
    *s = sl_schedule_defaults((sl_schedule_kind)kind);
    const char *const *keys = kind == SL_SCHEDULE_STEP     ? keys_step
                              : kind == SL_SCHEDULE_COSINE ? keys_cosine
                                                           : keys_constant;
    char what[64];
    snprintf(what, sizeof what, "the \"%s\" schedule", names[kind]);
    st = sl_cfg_check_keys(c, o, keys, what, keys_any_schedule);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "warmup_epochs", &s->warmup_epochs, NON_NEGATIVE);
    if (st == SL_OK)
        st = sl_cfg_get_int(c, o, "step_epochs", &s->step_epochs, 1, EPOCHS_MAX);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "gamma", &s->gamma, FACTOR);
    if (st == SL_OK)
        st = sl_cfg_get_float(c, o, "min_lr", &s->min_lr, NON_NEGATIVE);
    return st;
}

/* ---- train, checkpoint, stats ------------------------------------------------- */

static const char *const train_keys[] = {"epochs", "batch_size", "drop_last", "shuffle",
                                         "threads", "precision", NULL};
static const char *const checkpoint_keys[] = {"path", "every", "keep_best", NULL};
static const char *const stats_keys[] = {"enabled", "probe", "every", NULL};
static const char *const probe_keys[] = {"split", "count", NULL};

static sl_status parse_train(sl_cfg_ctx *c, const cJSON *o, sl_config *cfg)
{
    sl_config_train *t = &cfg->train;
    sl_status st = sl_cfg_check_keys(c, o, train_keys, "\"train\"", NULL);
    if (st == SL_OK)
        st = sl_cfg_get_int(c, o, "epochs", &t->epochs, 1, EPOCHS_MAX);
    if (st == SL_OK)
        st = sl_cfg_get_int64(c, o, "batch_size", &t->batch_size, 1, INT32_LIMIT);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "drop_last", &t->drop_last);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "shuffle", &t->shuffle);
    if (st == SL_OK)
        st = sl_cfg_get_int(c, o, "threads", &t->threads, 0, 4096);
    const char *const precisions[] = {sl_precision_name(SL_PRECISION_FP32),
                                      sl_precision_name(SL_PRECISION_BF16)};
    int precision = (int)t->precision;
    if (st == SL_OK)
        st = sl_cfg_get_enum(c, o, "precision", precisions, 2, &precision);
    t->precision = (sl_precision)precision;
    return st;
}

static sl_status parse_checkpoint(sl_cfg_ctx *c, const cJSON *o, sl_config *cfg)
{
    sl_config_checkpoint *k = &cfg->checkpoint;
    const char *path = NULL;
    sl_status st = sl_cfg_check_keys(c, o, checkpoint_keys, "\"checkpoint\"", NULL);
    if (st == SL_OK)
        st = sl_cfg_get_string(c, o, "path", &path);
    if (st == SL_OK)
        st = set_string(c, &k->path, path);
    if (st == SL_OK)
        st = sl_cfg_get_int(c, o, "every", &k->every, 1, EPOCHS_MAX);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "keep_best", &k->keep_best);
    return st;
}

static sl_status parse_probe(sl_cfg_ctx *c, const cJSON *o, sl_config *cfg)
{
    static const char *const splits[] = {"train", "test"};
    int split = (int)cfg->stats.probe_split;
    sl_status st = sl_cfg_check_keys(c, o, probe_keys, "\"probe\"", NULL);
    if (st == SL_OK)
        st = sl_cfg_get_enum(c, o, "split", splits, 2, &split);
    cfg->stats.probe_split = (sl_split_kind)split;
    if (st == SL_OK)
        st = sl_cfg_get_int64(c, o, "count", &cfg->stats.probe_count, 1, INT32_LIMIT);
    return st;
}

static sl_status parse_stats_every(sl_cfg_ctx *c, const cJSON *o, sl_config_stats *s)
{
    const cJSON *v = sl_cfg_member(o, "every");
    if (!v || (cJSON_IsString(v) && strcmp(v->valuestring, "epoch") == 0))
        return SL_OK;
    char got[96];
    if (!cJSON_IsNumber(v))
        return sl_cfg_fail_at(c, "every", "expected \"epoch\" or a number of steps, got %s",
                           sl_cfg_describe(v, got, sizeof got));
    return sl_cfg_get_int64(c, o, "every", &s->every_steps, 1, INT32_LIMIT);
}

static sl_status parse_stats(sl_cfg_ctx *c, const cJSON *o, sl_config *cfg)
{
    sl_status st = sl_cfg_check_keys(c, o, stats_keys, "\"stats\"", NULL);
    if (st == SL_OK)
        st = sl_cfg_get_bool(c, o, "enabled", &cfg->stats.enabled);
    if (st == SL_OK)
        st = section(c, o, "probe", 0, parse_probe, cfg);
    if (st == SL_OK)
        st = parse_stats_every(c, o, &cfg->stats);
    return st;
}

/* ---- the root ------------------------------------------------------------------- */

static const char *const root_keys[] = {"name",      "seed",     "data",  "model",
                                        "loss",      "label_smoothing", "optimizer", "schedule",
                                        "train",     "checkpoint", "stats",    NULL};

static void set_defaults(sl_config *cfg)
{
    cfg->seed = 42;
    cfg->model.init = SL_INIT_KAIMING_UNIFORM;
    cfg->loss = SL_LOSS_CROSS_ENTROPY;
    cfg->optimizer = sl_optim_defaults(SL_OPTIM_SGD);
    cfg->schedule = sl_schedule_defaults(SL_SCHEDULE_CONSTANT);
    cfg->train.epochs = 10;
    cfg->train.batch_size = 64;
    cfg->train.shuffle = 1;
    cfg->checkpoint.every = 1;
    cfg->stats.probe_split = SL_SPLIT_TRAIN;
    cfg->stats.probe_count = 10000;
}

static sl_status parse_header(sl_cfg_ctx *c, const cJSON *root, sl_config *cfg)
{
    static const char *const losses[] = {"cross_entropy", "mse"};
    const char *name = NULL;
    int64_t seed = (int64_t)cfg->seed;
    int loss = (int)cfg->loss;
    sl_status st = sl_cfg_get_string(c, root, "name", &name);
    if (st == SL_OK && name)
        st = set_string(c, &cfg->name, name);
    if (st == SL_OK)
        st = sl_cfg_get_int64(c, root, "seed", &seed, 0, SEED_MAX);
    cfg->seed = (uint64_t)seed;
    if (st == SL_OK)
        st = sl_cfg_get_enum(c, root, "loss", losses, 2, &loss);
    cfg->loss = (sl_loss_kind)loss;
    if (st == SL_OK)
        st = sl_cfg_get_float(c, root, "label_smoothing", &cfg->label_smoothing, UNIT_OPEN);
    if (st == SL_OK && cfg->label_smoothing > 0.0f && cfg->loss != SL_LOSS_CROSS_ENTROPY)
        st = sl_cfg_fail_at(c, "label_smoothing", "needs \"loss\": \"cross_entropy\", not \"%s\"",
                            sl_loss_name(cfg->loss));
    return st;
}

/* Checks that tie sections together. */
static sl_status cross_check(sl_cfg_ctx *c, const sl_config *cfg)
{
    sl_status st = SL_OK;
    size_t mark = sl_cfg_push_key(c, "schedule");
    if ((double)cfg->schedule.warmup_epochs > (double)cfg->train.epochs)
        st = sl_cfg_fail_at(c, "warmup_epochs", "%g is more than train.epochs (%d)",
                         (double)cfg->schedule.warmup_epochs, cfg->train.epochs);
    else if (cfg->schedule.kind == SL_SCHEDULE_COSINE && cfg->schedule.min_lr > cfg->optimizer.lr)
        st = sl_cfg_fail_at(c, "min_lr", "must be <= optimizer.lr (%g), got %g",
                         (double)cfg->optimizer.lr, (double)cfg->schedule.min_lr);
    sl_cfg_pop(c, mark);
    return st;
}

sl_status sl_cfg_parse_root(sl_cfg_ctx *c, const cJSON *root, sl_config *cfg)
{
    set_defaults(cfg);
    if (!cJSON_IsObject(root))
        return sl_cfg_fail(c, "expected a JSON object {...} at the top level");
    sl_status st = sl_cfg_check_keys(c, root, root_keys, "the config", NULL);
    if (st == SL_OK)
        st = parse_header(c, root, cfg);
    if (st == SL_OK)
        st = section(c, root, "data", 1, parse_data, cfg);
    if (st == SL_OK)
        st = section(c, root, "model", 1, parse_model, cfg);
    if (st == SL_OK)
        st = section(c, root, "optimizer", 0, parse_optimizer, cfg);
    if (st == SL_OK)
        st = section(c, root, "schedule", 0, parse_schedule, cfg);
    if (st == SL_OK)
        st = section(c, root, "train", 0, parse_train, cfg);
    if (st == SL_OK)
        st = section(c, root, "checkpoint", 0, parse_checkpoint, cfg);
    if (st == SL_OK)
        st = section(c, root, "stats", 0, parse_stats, cfg);
    if (st == SL_OK)
        st = cross_check(c, cfg);
    if (st == SL_OK)
        st = check_augment(c, cfg);
    return st;
}
