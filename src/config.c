/*
 * config.c - loading a config (read, parse, override, validate), freeing
 * it, and building its model.  The sections are validated in
 * config_parse.c, overrides applied in config_override.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "alloc.h"
#include "config_internal.h"
#include "io_internal.h" /* sl_io_utf8_prefix, sl_io_open_regular */

#define CONFIG_MAX_BYTES (16u << 20)

const char *sl_loss_name(sl_loss_kind kind)
{
    switch (kind) {
    case SL_LOSS_CROSS_ENTROPY: return "cross_entropy";
    case SL_LOSS_MSE: return "mse";
    }
    return "unknown";
}

/* ---- reading and parsing ----------------------------------------------------- */

static char *read_file(const char *path, size_t *len, sl_error *err)
{
    /* Never blocks on a FIFO; refuses whatever is not a regular file. */
    int fd = sl_io_open_regular(path, NULL, err);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (fd >= 0) {
            close(fd);
            sl_error_set(err, SL_ERR_NOMEM, "%s: cannot open: out of memory", path);
        }
        return NULL;
    }
    char *text = sl_malloc(CONFIG_MAX_BYTES + 1);
    errno = 0;
    *len = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    int failed = !text || ferror(f) || *len > CONFIG_MAX_BYTES;
    int read_errno = errno; /* EISDIR for a directory: fopen accepts one for reading */
    fclose(f);
    if (failed) {
        sl_error_set(err, text ? SL_ERR_READ : SL_ERR_NOMEM, "%s: %s", path,
                     !text                       ? "out of memory"
                     : *len > CONFIG_MAX_BYTES   ? "larger than 16 MiB"
                     : read_errno                ? strerror(read_errno)
                                                 : "read failed");
        sl_free(text);
        return NULL;
    }
    text[*len] = '\0';
    return text;
}

/* Line and column (1-based, in characters) of pos in text. */
static void line_column(const char *text, const char *pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < pos && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) { /* not a UTF-8 continuation */
            (*col)++;
        }
    }
}

static sl_status json_error(const char *text, const char *pos, const char *origin, sl_error *err)
{
    int line, col;
    line_column(text, pos, &line, &col);
    char near[32];
    size_t n = 0;
    for (; n + 1 < sizeof near && pos[n] && pos[n] != '\n' && pos[n] != '\r'; n++)
        near[n] = (unsigned char)pos[n] < 0x20 ? ' ' : pos[n];
    near[n] = '\0';
    if (n == 0)
        return sl_error_set(err, SL_ERR_CONFIG, "%s:%d:%d: invalid JSON: unexpected end of %s",
                            origin, line, col, pos[0] ? "line" : "input");
    return sl_error_set(err, SL_ERR_CONFIG, "%s:%d:%d: invalid JSON near '%s'", origin, line, col,
                        near);
}

/* The first \u0000 escape inside a JSON string, or NULL.  cJSON would decode it and
 * end the string there, so "name\u0000zzz" would pass as the key "name". */
static const char *nul_escape(const char *text)
{
    int in_string = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            in_string = !in_string;
        else if (in_string && *p == '\\') {
            if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
                return p;
            if (p[1])
                p++; /* the escaped character, e.g. \" */
        }
    }
    return NULL;
}

static cJSON *parse_json(const char *text, size_t len, const char *origin, sl_error *err)
{
    if (strlen(text) != len) {
        int line, col;
        line_column(text, text + strlen(text), &line, &col);
        sl_error_set(err, SL_ERR_CONFIG, "%s:%d:%d: invalid JSON: a NUL byte", origin, line, col);
        return NULL;
    }
    /* cJSON passes raw bytes through; a checkpoint's metadata (which holds the config) must
     * be UTF-8, so a bad byte found only at the first save would lose the run. */
    size_t valid = sl_io_utf8_prefix(text, len);
    if (valid != len) {
        int line, col;
        line_column(text, text + valid, &line, &col);
        sl_error_set(err, SL_ERR_CONFIG, "%s:%d:%d: not valid UTF-8 (byte 0x%02x)", origin, line,
                     col, (unsigned char)text[valid]);
        return NULL;
    }
    const char *nul = nul_escape(text);
    if (nul) {
        int line, col;
        line_column(text, nul, &line, &col);
        sl_error_set(err, SL_ERR_CONFIG, "%s:%d:%d: a string holds \\u0000 (a NUL character)",
                     origin, line, col);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root)
        json_error(text, end && end >= text && end <= text + len ? end : text, origin, err);
    else if (!cJSON_IsObject(root)) {
        sl_error_set(err, SL_ERR_CONFIG, "%s: expected a JSON object {...} at the top level",
                     origin);
        cJSON_Delete(root);
        root = NULL;
    }
    return root;
}

/* ---- validation ------------------------------------------------------------------ */

/* The file name without directories and ".json"; "config" for none. */
static char *default_name(const char *origin)
{
    const char *base = origin ? strrchr(origin, '/') : NULL;
    base = base ? base + 1 : origin ? origin : "";
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    if (n == 0) {
        base = "config";
        n = 6;
    }
    char *name = sl_malloc(n + 1);
    if (name) {
        memcpy(name, base, n);
        name[n] = '\0';
    }
    return name;
}

/* Appends which override set the value at fault, if one did. */
static void note_override(const char *fail_path, const char *const *ov, size_t n,
                          sl_error *err)
{
    if (!err || !fail_path[0])
        return;
    for (size_t i = n; i-- > 0;) {
        char path[CFG_PATH_MAX];
        sl_cfg_override_path(ov[i], path, sizeof path);
        size_t k = strlen(path);
        char next = k ? fail_path[k] : 'x';
        if (k && strncmp(fail_path, path, k) == 0 && (next == '\0' || next == '.' || next == '[')) {
            size_t used = strlen(err->message);
            int w = snprintf(NULL, 0, " (set by override \"%s\")", ov[i]);
            if (w > 0 && used + (size_t)w < sizeof err->message)
                snprintf(err->message + used, sizeof err->message - used,
                         " (set by override \"%s\")", ov[i]);
            return;
        }
    }
}

static sl_config *validate(const cJSON *root, const char *origin, const char *name_from,
                           const char *const *ov, size_t n, sl_error *err)
{
    sl_config *cfg = sl_calloc(1, sizeof *cfg);
    if (cfg) {
        cfg->origin = sl_cfg_strdup(origin);
        cfg->name = default_name(name_from);
    }
    if (!cfg || !cfg->origin || !cfg->name) {
        sl_config_free(cfg);
        sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", origin);
        return NULL;
    }
    sl_cfg_ctx c;
    sl_cfg_ctx_init(&c, cfg->origin, err);
    sl_status st = sl_cfg_parse_root(&c, root, cfg);
    if (st == SL_OK)
        return cfg;
    if (st == SL_ERR_CONFIG)
        note_override(c.fail_path, ov, n, err);
    sl_config_free(cfg);
    return NULL;
}

static sl_config *load_text(const char *text, size_t len, const char *origin,
                            const char *name_from, const char *const *ov, size_t n,
                            sl_error *err)
{
    if (n > 0 && !ov) {
        sl_error_set(err, SL_ERR_INVALID, "%s: NULL override list", origin);
        return NULL;
    }
    cJSON *root = parse_json(text, len, origin, err);
    sl_status st = root ? SL_OK : SL_ERR_CONFIG;
    for (size_t i = 0; i < n && st == SL_OK; i++) {
        if (!ov[i])
            st = sl_error_set(err, SL_ERR_INVALID, "%s: override %zu is NULL", origin, i);
        else if (sl_io_utf8_prefix(ov[i], strlen(ov[i])) != strlen(ov[i]))
            st = sl_error_set(err, SL_ERR_CONFIG, "%s: override %zu is not valid UTF-8", origin,
                              i + 1);
        else
            st = sl_cfg_apply_override(root, ov[i], origin, err);
    }
    sl_config *cfg = st == SL_OK ? validate(root, origin, name_from, ov, n, err) : NULL;
    cJSON_Delete(root);
    return cfg;
}

sl_config *sl_config_parse(const char *json, const char *origin, const char *const *overrides,
                           size_t n_overrides, sl_error *err)
{
    if (!json) {
        sl_error_set(err, SL_ERR_INVALID, "sl_config_parse: NULL text");
        return NULL;
    }
    for (size_t i = 0; i < n_overrides; i++)
        if (!overrides || !overrides[i]) {
            sl_error_set(err, SL_ERR_INVALID, "sl_config_parse: override %zu is NULL", i);
            return NULL;
        }
    return load_text(json, strlen(json), origin ? origin : "<string>", origin, overrides,
                     n_overrides, err);
}

sl_config *sl_config_load_string(const char *json, const char *origin, sl_error *err)
{
    return sl_config_parse(json, origin, NULL, 0, err);
}

sl_config *sl_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                          sl_error *err)
{
    if (n_overrides && !overrides) {
        sl_error_set(err, SL_ERR_INVALID, "sl_config_load: overrides is NULL with %zu entries",
                     n_overrides);
        return NULL;
    }
    if (!path) {
        sl_error_set(err, SL_ERR_INVALID, "sl_config_load: NULL path");
        return NULL;
    }
    size_t len = 0;
    char *text = read_file(path, &len, err);
    if (!text)
        return NULL;
    sl_config *cfg = load_text(text, len, path, path, overrides, n_overrides, err);
    sl_free(text);
    return cfg;
}

sl_config *sl_config_load_file(const char *path, sl_error *err)
{
    return sl_config_load(path, NULL, 0, err);
}

static void free_files(sl_config_files *f)
{
    sl_free(f->images);
    sl_free(f->labels);
    sl_free(f->csv);
}

void sl_config_free(sl_config *cfg)
{
    if (!cfg)
        return;
    sl_free(cfg->origin);
    sl_free(cfg->name);
    sl_free(cfg->data.dataset);
    free_files(&cfg->data.train);
    free_files(&cfg->data.test);
    sl_free(cfg->model.layers);
    sl_free(cfg->checkpoint.path);
    sl_free(cfg);
}

/* ---- building the model ---------------------------------------------------------- */

static const char *shape_text(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "[", (long long)shape[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used + 1 < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* The entries in [begin, end) of one level: a block spans itself and its body. */
static size_t entry_span(const sl_layer_spec *l)
{
    return 1 + (l->type == SL_LAYER_RESIDUAL && l->body > 0 ? (size_t)l->body : 0);
}

/* Appends the JSON path of flat entry target, within entries [begin, end) of one level. */
static void path_within(const sl_layer_spec *layers, size_t begin, size_t end, size_t target,
                        char *buf, size_t size)
{
    size_t child = 0;
    for (size_t j = begin; j < end; j += entry_span(&layers[j]), child++) {
        size_t len = strlen(buf);
        if (j == target) {
            snprintf(buf + len, size - len, "[%zu]", child);
            return;
        }
        if (target > j && target < j + entry_span(&layers[j])) {
            snprintf(buf + len, size - len, "[%zu].layers", child);
            path_within(layers, j + 1, j + entry_span(&layers[j]), target, buf, size);
            return;
        }
    }
}

/* "model.layers[3].layers[1]": where flat entry i is in the config. */
static const char *layer_path(const sl_config_model *model, size_t i, char *buf, size_t size)
{
    snprintf(buf, size, "model.layers");
    path_within(model->layers, 0, model->num_layers, i, buf, size);
    return buf;
}

/* The flat index of the last top-level layer (the one giving the output). */
static size_t last_top_level(const sl_config_model *model)
{
    size_t last = 0;
    for (size_t j = 0; j < model->num_layers; j += entry_span(&model->layers[j]))
        last = j;
    return last;
}

/* The output must be one vector per sample, of the class count when the config knows it. */
static sl_status check_output(const sl_config *cfg, const sl_model *m, sl_error *err)
{
    int64_t shape[8] = {0};
    int ndim = sl_model_output_shape(m, shape);
    int classes = cfg->data.spiral_classes ? cfg->data.spiral_classes : cfg->data.classes;
    char text[96], where[160];
    layer_path(&cfg->model, last_top_level(&cfg->model), where, sizeof where);
    if (ndim != 1)
        return sl_error_set(err, SL_ERR_SHAPE,
                            "%s: %s: the model's output per sample is %s; a "
                            "classifier needs one vector [classes] (end with flatten and linear)",
                            cfg->origin, where, shape_text(shape, ndim, text, sizeof text));
    if (classes > 0 && shape[0] != classes)
        return sl_error_set(err, SL_ERR_SHAPE,
                            "%s: %s: the model outputs %lld values per sample but "
                            "the data has %d classes",
                            cfg->origin, where, (long long)shape[0], classes);
    return SL_OK;
}

/* The flat list into m: each block closed after the last entry of its body. */
static sl_status add_layers(const sl_config *cfg, sl_model *m, sl_error *err)
{
    const sl_config_model *model = &cfg->model;
    size_t open[SL_MODEL_MAX_DEPTH + 1];
    int depth = 0;
    sl_error inner = {0};
    char where[160];
    for (size_t i = 0; i < model->num_layers; i++) {
        const sl_layer_spec *s = &model->layers[i];
        size_t outer = depth ? open[depth - 1] + entry_span(&model->layers[open[depth - 1]])
                             : model->num_layers;
        if (s->type == SL_LAYER_RESIDUAL && (s->body < 1 || i + entry_span(s) > outer))
            return sl_error_set(err, SL_ERR_CONFIG, "%s: %s: residual: body of %d entries does "
                                "not fit in the layer list",
                                cfg->origin, layer_path(model, i, where, sizeof where), s->body);
        if (sl_model_add(m, s, &inner) != SL_OK)
            return sl_error_set(err, inner.status, "%s: %s: %s", cfg->origin,
                                layer_path(model, i, where, sizeof where), inner.message);
        if (s->type == SL_LAYER_RESIDUAL) {
            open[depth++] = i; /* nesting is bounded by sl_model_add */
            continue;
        }
        while (depth && open[depth - 1] + entry_span(&model->layers[open[depth - 1]]) == i + 1) {
            size_t r = open[--depth];
            if (sl_model_end_block(m, &inner) != SL_OK)
                return sl_error_set(err, inner.status, "%s: %s: %s", cfg->origin,
                                    layer_path(model, r, where, sizeof where), inner.message);
        }
    }
    return SL_OK;
}

sl_model *sl_config_build_model(const sl_config *cfg, sl_error *err)
{
    if (!cfg || cfg->model.num_layers == 0) {
        sl_error_set(err, SL_ERR_INVALID, "sl_config_build_model: no config or no layers");
        return NULL;
    }
    sl_error inner = {0};
    sl_model *m = sl_model_new(cfg->model.input_ndim, cfg->model.input, &inner);
    if (!m) {
        sl_error_set(err, inner.status, "%s: model.input: %s", cfg->origin, inner.message);
        return NULL;
    }
    if (add_layers(cfg, m, err) != SL_OK) {
        sl_model_free(m);
        return NULL;
    }
    if (check_output(cfg, m, err) != SL_OK) {
        sl_model_free(m);
        return NULL;
    }
    /* Found now, naming the config, rather than as "backward: ... no tensor that requires a
     * gradient" at the first training step. */
    if (sl_model_param_count(m) == 0) {
        sl_error_set(err, SL_ERR_CONFIG,
                     "%s: model.layers: the model has no trainable parameters (add a linear or "
                     "conv2d layer)",
                     cfg->origin);
        sl_model_free(m);
        return NULL;
    }
    return m;
}
