/*
 * nn_model.c - the model: layers, parameters in flat buffers, initialisation
 * and forward, each as the layer's row (nn_layers.c) says.  The layers are one
 * flat list in prefix order; a residual entry is followed by its body's
 * entries (spec.body of them), so walking a block is walking a range.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "alloc.h"
#include "autograd.h"
#include "nn_internal.h"
#include "parallel.h"
#include "slope/ops.h"
#include "slope/rng.h"

/* "layers.4095" and SL_MODEL_MAX_DEPTH levels of ".layers.4095", then the slot's name. */
#define SL_LAYER_NAME_MAX (12 + 13 * SL_MODEL_MAX_DEPTH)
#define SL_PARAM_NAME_MAX (SL_LAYER_NAME_MAX + 24)

typedef struct layer {
    sl_layer_spec spec;
    const sl_layer_def *def;
    sl_shape in, out;
    int param[SL_LAYER_MAX_PARAMS]; /* the row's slots: indices into model->params, -1 absent */
    sl_tensor *captured;     /* pre-activation of the last forward (capture mode) */
    sl_tensor *captured_out; /* the activation's output of that forward (capture mode) */
    int parent;              /* the flat index of the block holding it, -1 at the top */
    char name[SL_LAYER_NAME_MAX]; /* "layers.3.layers.0" */
} layer;

struct sl_model {
    sl_shape input;
    layer *layers;
    size_t n_layers, cap_layers;
    int64_t n_trainable; /* trainable scalars of the layers added: at most the model limit */
    sl_shape cur;        /* what the next layer added takes: the last output, or a block's input */
    int open[SL_MODEL_MAX_DEPTH];          /* flat indices of the open blocks, outermost first */
    int depth;                             /* how many are open */
    int children[SL_MODEL_MAX_DEPTH + 1];  /* layers added so far at each open level */
    sl_param *params;
    char (*names)[SL_PARAM_NAME_MAX];
    size_t n_params;
    float *flat_data, *flat_grad; /* trainable parameters */
    int64_t n_flat;
    float *buffer_data;           /* running statistics */
    int initialized;
    int capture;
    sl_nn_watch_fn watch;         /* sl_nn_set_watch's, or NULL */
    void *watch_user;
    /* How raw inputs become what forward expects: applied by sl_predict, saved in
     * checkpoints; forward itself never applies it (datasets normalise as they are read). */
    sl_normalize norm;
    double norm_mean, norm_std;
};

sl_model *sl_model_new(int ndim, const int64_t *sample_shape, sl_error *err)
{
    SL_GUARD_NULL(sample_shape, err);
    if (ndim < 1 || ndim > 3 || !sample_shape) {
        sl_error_set(err, SL_ERR_SHAPE,
                     "model input must be one sample's shape, [F] or [C, H, W] (got %d dims)",
                     ndim);
        return NULL;
    }
    sl_model *m = sl_calloc(1, sizeof *m);
    if (!m) {
        sl_error_set(err, SL_ERR_NOMEM, "out of memory for a model");
        return NULL;
    }
    m->input.ndim = ndim;
    m->depth = 0;
    m->norm = SL_NORMALIZE_NONE;
    m->norm_mean = 0.0;
    m->norm_std = 1.0;
    int64_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (sample_shape[i] < 1 || sample_shape[i] > ((int64_t)1 << 30) ||
            (size *= sample_shape[i]) > ((int64_t)1 << 32)) {
            sl_error_set(err, SL_ERR_SHAPE, "model input dimension %d is %lld: out of range", i,
                         (long long)sample_shape[i]);
            sl_free(m);
            return NULL;
        }
        m->input.dim[i] = sample_shape[i];
    }
    m->cur = m->input;
    return m;
}

void sl_model_free(sl_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_params; i++)
        sl_tensor_free(m->params[i].tensor);
    sl_free(m->params);
    sl_free(m->names);
    sl_free(m->flat_data);
    sl_free(m->flat_grad);
    sl_free(m->buffer_data);
    sl_free(m->layers);
    sl_free(m);
}

static const sl_shape *last_shape(const sl_model *m)
{
    return &m->cur;
}

/* "3", or "3.layers.1" inside the block at layers.3: how messages name a layer. */
static const char *label_of(const layer *l)
{
    return l->name + strlen("layers.");
}

/* A layer's activations per sample must stay addressable; bound them like tensors. */
static int shape_too_large(const sl_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dim[i] < 1 || s->dim[i] > ((int64_t)1 << 32) / n)
            return 1;
        n *= s->dim[i];
    }
    return 0;
}

static int64_t layer_param_count(const layer *l, int index);

/* Refuses, before anything is allocated, a layer that takes the model past its limit
 * (so "summary" and "train" stop at the same place, naming the layer). */
static sl_status check_param_limit(const sl_model *m, const layer *l, int64_t *own_out,
                                   sl_error *err)
{
    int64_t own = layer_param_count(l, 0);
    *own_out = own;
    if (own <= SL_MODEL_MAX_PARAMS - m->n_trainable)
        return SL_OK;
    if (own > SL_MODEL_MAX_PARAMS)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "layer %s (%s): more than %lld parameters (the model limit: 2^31)",
                            label_of(l), sl_layer_type_name(l->spec.type),
                            (long long)SL_MODEL_MAX_PARAMS);
    return sl_error_set(err, SL_ERR_CONFIG,
                        "layer %s (%s): its %lld parameters take the model past %lld "
                        "(the model limit: 2^31)",
                        label_of(l), sl_layer_type_name(l->spec.type), (long long)own,
                        (long long)SL_MODEL_MAX_PARAMS);
}

/* Names entry l, about to be the next one, by its place among its block's layers. */
static sl_status name_layer(const sl_model *m, layer *l, sl_error *err)
{
    l->parent = m->depth ? m->open[m->depth - 1] : -1;
    int child = m->children[m->depth];
    int n = l->parent < 0
                ? snprintf(l->name, sizeof l->name, "layers.%d", child)
                : snprintf(l->name, sizeof l->name, "%s.layers.%d", m->layers[l->parent].name,
                           child);
    if (n < 0 || (size_t)n >= sizeof l->name)
        return sl_error_set(err, SL_ERR_CONFIG, "layer %zu: too many layers for its name",
                            m->n_layers);
    return SL_OK;
}

static sl_status grow_layers(sl_model *m, sl_error *err)
{
    if (m->n_layers < m->cap_layers)
        return SL_OK;
    size_t cap = m->cap_layers ? 2 * m->cap_layers : 8;
    layer *grown = sl_realloc(m->layers, cap * sizeof *grown);
    if (!grown)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a layer");
    m->layers = grown;
    m->cap_layers = cap;
    return SL_OK;
}

/* A residual entry opens a block: its body takes its input; its output waits for the end. */
static sl_status prepare_block(const sl_model *m, layer *l, sl_error *err)
{
    if (m->depth == SL_MODEL_MAX_DEPTH)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "layer %s (residual): blocks nest at most %d deep", label_of(l),
                            SL_MODEL_MAX_DEPTH);
    sl_error inner = {0};
    if (sl_layer_spec_check(&l->spec, &inner) != SL_OK)
        return sl_error_set(err, inner.status, "layer %s (residual): %s", label_of(l),
                            inner.message);
    l->spec.body = 0; /* counted as the body is added; out and stride are set at the end */
    l->spec.out = 0;
    l->spec.stride = 1;
    l->spec.kernel = 1;
    l->out = l->in;
    return SL_OK;
}

static sl_status prepare_layer(const sl_model *m, layer *l, int64_t *own_params, sl_error *err)
{
    *own_params = 0;
    if (l->spec.type == SL_LAYER_RESIDUAL)
        return prepare_block(m, l, err);
    sl_status st = sl_nn_layer_prepare(&l->spec, label_of(l), &l->in, &l->out, err);
    if (st != SL_OK)
        return st;
    if (shape_too_large(&l->out))
        return sl_error_set(err, SL_ERR_SHAPE, "layer %s (%s): output is empty or too large",
                            label_of(l), sl_layer_type_name(l->spec.type));
    return check_param_limit(m, l, own_params, err);
}

sl_status sl_model_add(sl_model *m, const sl_layer_spec *spec, sl_error *err)
{
    if (!m || !spec)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_add: model or spec is NULL");
    if (m->initialized)
        return sl_error_set(err, SL_ERR_STATE, "sl_model_add: the model is already initialised");
    layer l;
    memset(&l, 0, sizeof l);
    l.spec = *spec;
    l.in = *last_shape(m);
    int64_t own_params;
    sl_status st = name_layer(m, &l, err);
    if (st == SL_OK)
        st = prepare_layer(m, &l, &own_params, err);
    if (st == SL_OK)
        st = grow_layers(m, err);
    if (st != SL_OK)
        return st;
    l.def = sl_layer_def_of(l.spec.type);
    for (int k = 0; k < SL_LAYER_MAX_PARAMS; k++)
        l.param[k] = -1;
    m->layers[m->n_layers++] = l;
    m->n_trainable += own_params;
    m->children[m->depth]++;
    if (l.spec.type == SL_LAYER_RESIDUAL) {
        m->open[m->depth++] = (int)m->n_layers - 1;
        m->children[m->depth] = 0;
    } else {
        m->cur = l.out;
    }
    return SL_OK;
}

/* The projection's stride: the whole factor by which the body shrinks H and W, or 0. */
static int64_t downsample_factor(const sl_shape *in, const sl_shape *out)
{
    if (out->dim[1] < 1 || out->dim[2] < 1 || in->dim[1] % out->dim[1] ||
        in->dim[2] % out->dim[2])
        return 0;
    int64_t f = in->dim[1] / out->dim[1];
    return f == in->dim[2] / out->dim[2] ? f : 0;
}

/* Whether the block's shortcut fits its body's output; why not in msg. */
static int shortcut_fits(layer *r, const sl_shape *out, char *msg, size_t size)
{
    char si[64], so[64];
    sl_nn_shape_str(&r->in, si, sizeof si);
    sl_nn_shape_str(out, so, sizeof so);
    int same = r->in.ndim == out->ndim;
    for (int d = 0; same && d < out->ndim; d++)
        same = r->in.dim[d] == out->dim[d];
    if (!r->spec.shortcut) {
        if (!same)
            snprintf(msg, size,
                     "identity shortcut needs the block's layers to keep its input shape %s, "
                     "but they give %s; use \"shortcut\": \"projection\"",
                     si, so);
        return same;
    }
    if (r->in.ndim != out->ndim || (out->ndim != 1 && out->ndim != 3)) {
        snprintf(msg, size, "projection shortcut maps %s to %s: it needs both flat [F] or both "
                 "images [C, H, W]", si, so);
        return 0;
    }
    int64_t f = out->ndim == 3 ? downsample_factor(&r->in, out) : 1;
    if (f < 1 || f > 4096) {
        snprintf(msg, size, "projection shortcut cannot map %s to %s: the block must shrink H "
                 "and W by the same whole factor", si, so);
        return 0;
    }
    r->spec.stride = (int)f;
    r->spec.out = out->dim[0];
    return 1;
}

sl_status sl_model_end_block(sl_model *m, sl_error *err)
{
    if (!m)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_end_block: model is NULL");
    if (m->initialized || m->depth == 0)
        return sl_error_set(err, SL_ERR_STATE, "sl_model_end_block: %s",
                            m->initialized ? "the model is already initialised"
                                           : "no residual block is open");
    int at = m->open[m->depth - 1];
    layer *r = &m->layers[at], trial = *r;
    if (m->children[m->depth] == 0)
        return sl_error_set(err, SL_ERR_CONFIG, "layer %s (residual): the block has no layers",
                            label_of(r));
    char msg[400];
    if (!shortcut_fits(&trial, &m->cur, msg, sizeof msg))
        return sl_error_set(err, SL_ERR_SHAPE, "layer %s (residual): %s", label_of(r), msg);
    trial.out = m->cur;
    int64_t own;
    sl_status st = check_param_limit(m, &trial, &own, err);
    if (st != SL_OK)
        return st;
    trial.spec.body = (int)(m->n_layers - (size_t)at - 1);
    *r = trial;
    m->n_trainable += own;
    m->depth--;
    return SL_OK;
}

/* ---- parameter layout ------------------------------------------------------------ */

typedef struct param_plan {
    int layer;
    const char *suffix;
    sl_param_role role;
    int ndim;
    int64_t shape[4];
    int *slot; /* where the layer keeps the index */
} param_plan;

/* Lists layer l's parameters into plan (at most SL_LAYER_MAX_PARAMS): the row's slots
 * that this spec has. */
static int plan_layer(layer *l, int index, param_plan *plan)
{
    const sl_layer_def *d = sl_layer_def_of(l->spec.type);
    int n = 0;
    for (int k = 0; k < d->n_params; k++) {
        param_plan p = {index, d->params[k].name, d->params[k].role, 0, {1, 1, 1, 1}, &l->param[k]};
        p.ndim = d->param_shape(&l->spec, k, &l->in, p.shape);
        if (p.ndim > 0)
            plan[n++] = p;
    }
    return n;
}

/* Counts saturate just past the model limit, so absurd configs cannot overflow them. */
#define SL_COUNT_CAP (SL_MODEL_MAX_PARAMS + 1)

static int64_t add_capped(int64_t a, int64_t b)
{
    return a > SL_COUNT_CAP - b ? SL_COUNT_CAP : a + b;
}

static int64_t plan_size(const param_plan *p)
{
    int64_t n = 1;
    for (int d = 0; d < p->ndim; d++) {
        if (p->shape[d] > SL_COUNT_CAP / n)
            return SL_COUNT_CAP;
        n *= p->shape[d];
    }
    return n;
}

/* Creates every parameter as a view into two flat buffers (trainable, buffers). */
static sl_status allocate_params(sl_model *m, sl_error *err)
{
    size_t max_params = m->n_layers * SL_LAYER_MAX_PARAMS;
    param_plan *plan = sl_calloc(max_params ? max_params : 1, sizeof *plan);
    m->params = sl_calloc(max_params ? max_params : 1, sizeof *m->params);
    m->names = sl_calloc(max_params ? max_params : 1, sizeof *m->names);
    if (!plan || !m->params || !m->names) {
        sl_free(plan);
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory for the parameter table");
    }
    size_t n = 0;
    int64_t n_train = 0, n_buf = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        int k = plan_layer(&m->layers[i], (int)i, plan + n);
        for (int j = 0; j < k; j++) {
            if (plan[n + j].role == SL_PARAM_BUFFER)
                n_buf = add_capped(n_buf, plan_size(&plan[n + j]));
            else
                n_train = add_capped(n_train, plan_size(&plan[n + j]));
        }
        n += (size_t)k;
    }
    if (n_train > SL_MODEL_MAX_PARAMS || n_buf > SL_MODEL_MAX_PARAMS) {
        sl_free(plan);
        return sl_error_set(err, SL_ERR_CONFIG,
                            "the model has more than %lld parameters (the limit: 2^31)",
                            (long long)SL_MODEL_MAX_PARAMS);
    }
    m->flat_data = sl_calloc((size_t)(n_train ? n_train : 1), sizeof(float));
    m->flat_grad = sl_calloc((size_t)(n_train ? n_train : 1), sizeof(float));
    m->buffer_data = sl_calloc((size_t)(n_buf ? n_buf : 1), sizeof(float));
    if (!m->flat_data || !m->flat_grad || !m->buffer_data) {
        sl_free(plan);
        return sl_error_set(err, SL_ERR_NOMEM,
                            "out of memory for %lld parameters (%.1f MiB with gradients)",
                            (long long)n_train, (double)n_train * 8.0 / 1048576.0);
    }
    m->n_flat = n_train;
    int64_t off_train = 0, off_buf = 0;
    for (size_t i = 0; i < n; i++) {
        param_plan *p = &plan[i];
        int is_buffer = p->role == SL_PARAM_BUFFER;
        float *data = is_buffer ? m->buffer_data + off_buf : m->flat_data + off_train;
        sl_tensor *t = sl_tensor_wrap(data, p->ndim, p->shape, err);
        if (!t) {
            sl_free(plan);
            return err ? err->status : SL_ERR_NOMEM;
        }
        if (is_buffer) {
            off_buf += t->size;
        } else {
            t->grad = m->flat_grad + off_train;
            t->flags |= SL_TENSOR_REQUIRES_GRAD;
            off_train += t->size;
        }
        snprintf(m->names[i], SL_PARAM_NAME_MAX, "%s.%s", m->layers[p->layer].name, p->suffix);
        m->params[i] = (sl_param){m->names[i], t, p->role, p->layer};
        *p->slot = (int)i;
        m->n_params = i + 1;
    }
    sl_free(plan);
    return SL_OK;
}

/* ---- initialisation ------------------------------------------------------------------- */

/* One past the last entry of the block holding entry i (the model's end at the top). */
static size_t scope_end(const sl_model *m, size_t i)
{
    int p = m->layers[i].parent;
    return p < 0 ? m->n_layers : (size_t)p + 1 + (size_t)m->layers[p].spec.body;
}

/* The activation that follows entry i before the next weight layer, if any, within i's own
 * block: what comes after a block acts on the sum, not on one of its layers alone.  A
 * residual's shortcut weight looks past its body, to what follows the block. */
static const sl_layer_spec *next_activation(const sl_model *m, size_t i)
{
    size_t from = i + 1, end = scope_end(m, i);
    if (m->layers[i].spec.type == SL_LAYER_RESIDUAL)
        from += (size_t)m->layers[i].spec.body;
    for (size_t j = from; j < end; j++) {
        unsigned flags = m->layers[j].def->flags;
        if (flags & SL_LAYER_ACTIVATION)
            return &m->layers[j].spec;
        if (flags & SL_LAYER_WEIGHTED)
            return NULL;
    }
    return NULL;
}

static void fill_uniform(sl_tensor *t, sl_rng *r, double bound)
{
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (float)((2.0 * sl_rng_uniform(r) - 1.0) * bound);
}

static void fill_normal(sl_tensor *t, sl_rng *r, double std)
{
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (float)(sl_rng_normal(r) * std);
}

/* fan_in and fan_out of a weight [out, in, ...]. */
static void fans(const sl_tensor *w, double *fan_in, double *fan_out)
{
    *fan_in = (double)(w->size / w->shape[0]);
    *fan_out = (double)(w->size / w->shape[1]);
}

static void fill_weight(sl_model *m, size_t i, sl_tensor *w, sl_init_kind kind, sl_rng *r)
{
    double fan_in, fan_out, gain = sl_nn_gain_for(next_activation(m, i));
    fans(w, &fan_in, &fan_out);
    switch (kind) {
    case SL_INIT_KAIMING_UNIFORM: fill_uniform(w, r, gain * sqrt(3.0 / fan_in)); break;
    case SL_INIT_KAIMING_NORMAL: fill_normal(w, r, gain / sqrt(fan_in)); break;
    case SL_INIT_XAVIER_UNIFORM: fill_uniform(w, r, gain * sqrt(6.0 / (fan_in + fan_out))); break;
    case SL_INIT_XAVIER_NORMAL: fill_normal(w, r, gain * sqrt(2.0 / (fan_in + fan_out))); break;
    case SL_INIT_PYTORCH: fill_uniform(w, r, 1.0 / sqrt(fan_in)); break;
    }
}

/* A bias follows its layer's weight (slot 0): PyTorch draws it from the weight's fan_in. */
static void fill_bias(const sl_model *m, const layer *l, sl_tensor *b, sl_init_kind kind,
                      sl_rng *r)
{
    if (kind != SL_INIT_PYTORCH || l->param[0] < 0) {
        sl_tensor_fill(b, 0.0f);
        return;
    }
    double fan_in, fan_out;
    fans(m->params[l->param[0]].tensor, &fan_in, &fan_out);
    fill_uniform(b, r, 1.0 / sqrt(fan_in));
}

/* Fills the layer's slots in the row's order, which is the order of the draws. */
static void init_layer(sl_model *m, size_t i, sl_init_kind kind, uint64_t seed)
{
    layer *l = &m->layers[i];
    sl_rng r;
    /* One stream per layer: weights of layer i do not depend on other layers' sizes. */
    sl_rng_seed(&r, seed + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1));
    for (int k = 0; k < l->def->n_params; k++) {
        if (l->param[k] < 0)
            continue;
        sl_tensor *t = m->params[l->param[k]].tensor;
        switch (l->def->params[k].fill) {
        case SL_FILL_WEIGHT: fill_weight(m, i, t, kind, &r); break;
        case SL_FILL_BIAS: fill_bias(m, l, t, kind, &r); break;
        case SL_FILL_ZERO: sl_tensor_fill(t, 0.0f); break;
        case SL_FILL_ONE: sl_tensor_fill(t, 1.0f); break;
        case SL_FILL_ALPHA: sl_tensor_fill(t, l->spec.alpha); break;
        case SL_FILL_OWN:
            if (l->def->fill)
                l->def->fill(&l->spec, k, t, &r);
            break;
        }
    }
}

sl_status sl_model_init(sl_model *m, sl_init_kind init, uint64_t seed, sl_error *err)
{
    if (!m)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_init: model is NULL");
    if ((int)init < 0 || init > SL_INIT_PYTORCH)
        return sl_error_set(err, SL_ERR_CONFIG, "sl_model_init: unknown init %d", (int)init);
    if (m->n_layers == 0)
        return sl_error_set(err, SL_ERR_CONFIG, "the model has no layers");
    if (m->depth > 0)
        return sl_error_set(err, SL_ERR_STATE,
                            "layer %s (residual): the block is still open (sl_model_end_block)",
                            label_of(&m->layers[m->open[m->depth - 1]]));
    if (!m->initialized) {
        sl_status st = allocate_params(m, err);
        if (st != SL_OK)
            return st;
        m->initialized = 1;
    }
    for (size_t i = 0; i < m->n_layers; i++)
        init_layer(m, i, init, seed);
    sl_model_zero_grad(m);
    return SL_OK;
}

/* ---- forward -------------------------------------------------------------------------- */

/* How a forward pass runs: diagnosing, it stops at the first non-finite output. */
typedef struct forward_run {
    int diagnose;
    int found; /* the first entry whose output is not finite, -1 for none */
} forward_run;

static int all_finite(const sl_tensor *t);

/* A layer with its own activation (rnn) when captured or watched: its row gives views of the
 * pre-activations and outputs of every step (no extra memory), which the watch sees after
 * forward (the pre view's gradient is filled by backward). */
static sl_tensor *own_activation_forward(sl_model *m, sl_graph *g, size_t i, sl_tensor *x,
                                         sl_tensor *const *p)
{
    layer *l = &m->layers[i];
    sl_tensor *pre = NULL, *post = NULL;
    sl_tensor *y = l->def->forward_capture(g, &l->spec, x, p, &pre, &post);
    if (m->capture) {
        l->captured = pre;
        l->captured_out = post;
        sl_ag_share(pre); /* the caller reads them after backward */
        sl_ag_share(post);
    }
    if (m->watch && pre && post) {
        m->watch(m->watch_user, i, pre, 0);
        m->watch(m->watch_user, i, post, 1);
    }
    return y;
}

/* x through one entry's own row; reusable: x is a fresh output nobody else reads, so an
 * activation may overwrite it. */
static sl_tensor *layer_forward(sl_model *m, sl_graph *g, size_t i, sl_tensor *x, int reusable)
{
    layer *l = &m->layers[i];
    sl_tensor *p[SL_LAYER_MAX_PARAMS] = {NULL};
    for (int k = 0; k < l->def->n_params; k++)
        p[k] = l->param[k] >= 0 ? m->params[l->param[k]].tensor : NULL;
    int in_place = 0, act = (l->def->flags & SL_LAYER_ACTIVATION) != 0;
    if (act) {
        l->captured = m->capture ? x : NULL;
        in_place = !m->capture && reusable;
        if (m->watch)
            m->watch(m->watch_user, i, x, 0); /* before an in-place forward overwrites x */
    }
    if ((l->def->flags & SL_LAYER_OWN_ACTIVATION) && l->def->forward_capture) {
        l->captured = l->captured_out = NULL;
        if (m->capture || m->watch)
            return own_activation_forward(m, g, i, x, p);
    }
    sl_tensor *y = l->def->forward(g, &l->spec, x, p, in_place);
    if (act) {
        l->captured_out = m->capture ? y : NULL;
        if (m->capture) {
            sl_ag_share(x); /* the caller reads them after backward */
            sl_ag_share(y);
        }
        if (m->watch && y)
            m->watch(m->watch_user, i, y, 1);
    }
    return y;
}

static sl_tensor *run_range(sl_model *m, sl_graph *g, size_t begin, size_t end, sl_tensor *x,
                            forward_run *run);

/* x + f(x): the body must not overwrite x, which the shortcut reads too. */
static sl_tensor *block_forward(sl_model *m, sl_graph *g, size_t i, sl_tensor *x,
                                forward_run *run)
{
    size_t end = i + 1 + (size_t)m->layers[i].spec.body;
    sl_tensor *fx = run_range(m, g, i + 1, end, x, run);
    if (!fx || run->found >= 0)
        return fx;
    sl_tensor *shortcut = layer_forward(m, g, i, x, 0);
    return shortcut ? sl_add(g, fx, shortcut) : NULL;
}

/* Entries [begin, end) of one level, in order; the first gets x, which it may not overwrite. */
static sl_tensor *run_range(sl_model *m, sl_graph *g, size_t begin, size_t end, sl_tensor *x,
                            forward_run *run)
{
    int reusable = 0;
    for (size_t i = begin; i < end && x; i++) {
        layer *l = &m->layers[i];
        x = l->spec.type == SL_LAYER_RESIDUAL ? block_forward(m, g, i, x, run)
                                              : layer_forward(m, g, i, x, reusable);
        if (run->found >= 0)
            return x;
        if (run->diagnose && x && !all_finite(x)) {
            run->found = (int)i;
            return x;
        }
        /* A fresh output of a layer whose backward never reads it may be overwritten. */
        reusable = (l->def->flags & SL_LAYER_OUTPUT_REUSABLE) != 0;
        if (l->spec.type == SL_LAYER_RESIDUAL)
            i += (size_t)l->spec.body;
    }
    return x;
}

static int input_matches(const sl_model *m, const sl_tensor *x)
{
    if (x->ndim != m->input.ndim + 1)
        return 0;
    for (int d = 0; d < m->input.ndim; d++)
        if (x->shape[d + 1] != m->input.dim[d])
            return 0;
    return 1;
}

sl_tensor *sl_model_forward(sl_model *m, sl_graph *g, sl_tensor *x)
{
    if (!g || !x || sl_graph_status(g) != SL_OK)
        return NULL;
    sl_error err = {0};
    if (!m || !m->initialized) {
        sl_error_set(&err, SL_ERR_STATE, "forward: the model is not initialised (sl_model_init)");
    } else if (!input_matches(m, x)) {
        char sx[64], sm[64];
        sl_error_set(&err, SL_ERR_SHAPE, "forward: input %s does not match the model's [N, %s",
                     sl_shape_str(x, sx, sizeof sx), sl_nn_shape_str(&m->input, sm, sizeof sm) + 1);
    }
    if (err.status != SL_OK)
        return sl_ag_fail(g, err.status, "%s", err.message);
    forward_run run = {0, -1};
    return run_range(m, g, 0, m->n_layers, x, &run);
}

/* ---- the data it reads -------------------------------------------------------------------- */

sl_status sl_nn_check_data_input(const sl_model *m, const sl_dataset *ds, sl_error *err)
{
    int sequence = m->n_layers > 0 && m->layers[0].spec.type == SL_LAYER_RNN;
    if (sequence && ds) {
        int64_t features = 1;
        for (int d = 0; d < m->input.ndim; d++)
            features *= m->input.dim[d];
        if (sl_dataset_sample_size(ds) == features)
            return SL_OK;
    }
    return sl_dataset_check_input(ds, m->input.ndim, m->input.dim, err);
}

/* ---- queries ---------------------------------------------------------------------------- */

size_t sl_model_num_layers(const sl_model *m) { return m ? m->n_layers : 0; }

const sl_layer_spec *sl_model_layer(const sl_model *m, size_t i)
{
    return m && i < m->n_layers ? &m->layers[i].spec : NULL;
}

const char *sl_model_layer_name(const sl_model *m, size_t i)
{
    return m && i < m->n_layers ? m->layers[i].name : NULL;
}

int sl_model_layer_parent(const sl_model *m, size_t i)
{
    return m && i < m->n_layers ? m->layers[i].parent : -1;
}

/* shape may be NULL: then only the rank is returned. */
static int copy_shape(const sl_shape *s, int64_t *shape)
{
    if (!shape)
        return s->ndim;
    for (int d = 0; d < s->ndim; d++)
        shape[d] = s->dim[d];
    return s->ndim;
}

int sl_model_layer_shape(const sl_model *m, int i, int64_t *shape)
{
    if (!m || i < -1 || i >= (int)m->n_layers)
        return 0;
    return copy_shape(i < 0 ? &m->input : &m->layers[i].out, shape);
}

int sl_model_layer_input_shape(const sl_model *m, size_t i, int64_t *shape)
{
    return m && i < m->n_layers ? copy_shape(&m->layers[i].in, shape) : 0;
}

int sl_model_output_shape(const sl_model *m, int64_t *shape)
{
    return m ? copy_shape(last_shape(m), shape) : 0;
}

int64_t sl_model_layer_flops(const sl_model *m, size_t i)
{
    if (!m || i >= m->n_layers)
        return 0;
    const layer *l = &m->layers[i];
    return sl_nn_layer_macs(&l->spec, &l->in, &l->out);
}

/* Trainable scalars of layer l (at position index), saturating past the model limit. */
static int64_t layer_param_count(const layer *l, int index)
{
    layer tmp = *l; /* plan_layer records slots in the layer it plans */
    param_plan plan[SL_LAYER_MAX_PARAMS];
    int n = plan_layer(&tmp, index, plan);
    int64_t count = 0;
    for (int j = 0; j < n; j++)
        if (plan[j].role != SL_PARAM_BUFFER)
            count = add_capped(count, plan_size(&plan[j]));
    return count;
}

int64_t sl_model_layer_param_count(const sl_model *m, size_t i)
{
    return m && i < m->n_layers ? layer_param_count(&m->layers[i], (int)i) : 0;
}

size_t sl_model_num_params(const sl_model *m) { return m ? m->n_params : 0; }

const sl_param *sl_model_param(const sl_model *m, size_t i)
{
    return m && i < m->n_params ? &m->params[i] : NULL;
}

const sl_param *sl_model_find_param(const sl_model *m, const char *name)
{
    for (size_t i = 0; m && name && i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return &m->params[i];
    return NULL;
}

int64_t sl_model_param_count(const sl_model *m) { return m ? m->n_trainable : 0; }

float *sl_model_flat_params(sl_model *m, int64_t *n)
{
    if (n)
        *n = m ? m->n_flat : 0;
    return m ? m->flat_data : NULL;
}

float *sl_model_flat_grads(sl_model *m, int64_t *n)
{
    if (n)
        *n = m ? m->n_flat : 0;
    return m ? m->flat_grad : NULL;
}

static void zero_range(void *ctx, int64_t begin, int64_t end)
{
    float *grad = ctx;
    memset(grad + begin, 0, (size_t)(end - begin) * sizeof *grad);
}

/* Large models zero their gradients in ranges on slope's threads: a memset of a
 * megabyte is bound by one core's stores. */
#define SL_ZERO_PAR_MIN ((int64_t)1 << 16)

void sl_model_zero_grad(sl_model *m)
{
    if (m && m->flat_grad)
        sl_par_for(m->n_flat, SL_ZERO_PAR_MIN, 16, zero_range, m->flat_grad);
}

void sl_model_set_trainable(sl_model *m, int on)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].role != SL_PARAM_BUFFER)
            sl_tensor_set_requires_grad(m->params[i].tensor, on != 0);
}

int sl_model_trainable(const sl_model *m)
{
    if (!m)
        return 0;
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].role != SL_PARAM_BUFFER)
            return (m->params[i].tensor->flags & SL_TENSOR_REQUIRES_GRAD) != 0;
    return 0;
}

void sl_model_set_capture(sl_model *m, int on)
{
    if (m)
        m->capture = on != 0;
}

void sl_nn_set_watch(sl_model *m, sl_nn_watch_fn fn, void *user)
{
    m->watch = fn;
    m->watch_user = fn ? user : NULL;
}

sl_tensor *sl_model_captured(const sl_model *m, size_t i)
{
    return m && i < m->n_layers ? m->layers[i].captured : NULL;
}

sl_tensor *sl_model_captured_output(const sl_model *m, size_t i)
{
    return m && i < m->n_layers ? m->layers[i].captured_out : NULL;
}

/* ---- diagnosis -------------------------------------------------------------------------- */

static int all_finite(const sl_tensor *t)
{
    for (int64_t i = 0; i < t->size; i++)
        if (!isfinite(t->data[i]))
            return 0;
    return 1;
}

int sl_nn_first_nonfinite_layer(sl_model *m, sl_graph *g, sl_tensor *x)
{
    if (!all_finite(x))
        return -2;
    int grad = sl_graph_set_grad_enabled(g, 0);
    int capture = m->capture;
    m->capture = 1; /* out of place, so each layer's output stays readable */
    forward_run run = {1, -1};
    (void)run_range(m, g, 0, m->n_layers, x, &run);
    m->capture = capture;
    sl_graph_set_grad_enabled(g, grad);
    return run.found;
}

/* ---- input normalisation -------------------------------------------------------- */

sl_status sl_model_set_input_normalize(sl_model *m, sl_normalize kind, double mean, double std,
                                       sl_error *err)
{
    if (!m)
        return sl_error_set(err, SL_ERR_INVALID, "sl_model_set_input_normalize: NULL model");
    if (kind != SL_NORMALIZE_NONE && kind != SL_NORMALIZE_SCALE01 &&
        kind != SL_NORMALIZE_STANDARDIZE)
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_model_set_input_normalize: unknown normalisation %d", (int)kind);
    if (kind == SL_NORMALIZE_STANDARDIZE && !(isfinite(mean) && isfinite(std) && std > 0.0))
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_model_set_input_normalize: standardize needs a finite mean and "
                            "std > 0, got %g and %g",
                            mean, std);
    m->norm = kind;
    /* Only standardize uses them; the others keep the neutral pair, as datasets do. */
    m->norm_mean = kind == SL_NORMALIZE_STANDARDIZE ? mean : 0.0;
    m->norm_std = kind == SL_NORMALIZE_STANDARDIZE ? std : 1.0;
    return SL_OK;
}

sl_normalize sl_model_input_normalize(const sl_model *m, double *mean, double *std)
{
    if (mean)
        *mean = m ? m->norm_mean : 0.0;
    if (std)
        *std = m ? m->norm_std : 1.0;
    return m ? m->norm : SL_NORMALIZE_NONE;
}
