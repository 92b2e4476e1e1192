/* graph.c - the autograd context: arena, tape, modes, error (see slope/graph.h). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas_check.h"
#include "alloc.h"
#include "guard.h"
#include "arena.h"
#include "autograd.h"

struct sl_graph {
    sl_arena arena;
    sl_node *tape;       /* the last node recorded; walk ->prev for earlier ones */
    size_t tape_length;
    int grad_enabled;
    int training;
    int backward_done;
    int grad_over_data; /* sl_graph_set_grad_over_data */
    sl_precision precision;
    sl_rng rng;
    sl_error error;
    void *cache;                /* an op family's state across steps (sl_ag_cache) */
    void (*cache_free)(void *); /* frees it with the graph */
};

sl_graph *sl_graph_new(uint64_t seed, sl_error *err)
{
    /* Every product runs on a graph: refuse here rather than spin inside OpenBLAS. */
    if (sl_blas_check(err) != SL_OK)
        return NULL;
    sl_graph *g = sl_calloc(1, sizeof *g);
    if (!g) {
        sl_error_set(err, SL_ERR_NOMEM, "out of memory for a graph");
        return NULL;
    }
    sl_arena_init(&g->arena);
    g->grad_enabled = 1;
    g->training = 1;
    sl_rng_seed(&g->rng, seed);
    return g;
}

void sl_graph_free(sl_graph *g)
{
    if (!g)
        return;
    if (g->cache_free)
        g->cache_free(g->cache);
    sl_arena_release(&g->arena);
    sl_free(g);
}

void sl_graph_reset(sl_graph *g)
{
    if (!g)
        return;
    sl_arena_reset(&g->arena);
    g->tape = NULL;
    g->tape_length = 0;
    g->backward_done = 0;
    sl_error_clear(&g->error);
}

void sl_ag_release_arena(sl_graph *g)
{
    sl_graph_reset(g);
    sl_arena_release(&g->arena);
}

/* Sets a mode flag to on (0 or 1) and returns what it was. */
static int swap_mode(int *mode, int on)
{
    int prev = *mode;
    *mode = on != 0;
    return prev;
}

int sl_graph_set_grad_enabled(sl_graph *g, int enabled)
{
    return g ? swap_mode(&g->grad_enabled, enabled) : 0;
}

int sl_graph_grad_enabled(const sl_graph *g) { return g ? g->grad_enabled : 0; }

int sl_graph_set_grad_over_data(sl_graph *g, int on)
{
    return g ? swap_mode(&g->grad_over_data, on) : 0;
}

int sl_graph_grad_over_data(const sl_graph *g) { return g ? g->grad_over_data : 0; }

sl_precision sl_graph_set_precision(sl_graph *g, sl_precision p)
{
    if (!g)
        return SL_PRECISION_FP32;
    sl_precision prev = g->precision;
    g->precision = p == SL_PRECISION_BF16 ? SL_PRECISION_BF16 : SL_PRECISION_FP32;
    return prev;
}

sl_precision sl_graph_precision(const sl_graph *g) { return g ? g->precision : SL_PRECISION_FP32; }

static const char *const precision_names[] = {"fp32", "bf16"};

const char *sl_precision_name(sl_precision p)
{
    return (unsigned)p < 2 ? precision_names[p] : "?";
}

sl_status sl_precision_parse(const char *name, sl_precision *p, sl_error *err)
{
    SL_GUARD(name, err);
    SL_GUARD(p, err);
    for (int i = 0; i < 2; i++)
        if (strcmp(name, precision_names[i]) == 0) {
            *p = (sl_precision)i;
            return SL_OK;
        }
    return sl_error_set(err, SL_ERR_CONFIG, "unknown precision \"%s\" (expected \"fp32\" or "
                        "\"bf16\")", name);
}

int sl_graph_set_training(sl_graph *g, int training)
{
    return g ? swap_mode(&g->training, training) : 0;
}

/* The getters answer 0 / NULL for a NULL graph; sl_graph_status says SL_ERR_INVALID. */
int sl_graph_training(const sl_graph *g) { return g ? g->training : 0; }
sl_rng *sl_graph_rng(sl_graph *g) { return g ? &g->rng : NULL; }
sl_status sl_graph_status(const sl_graph *g) { return g ? g->error.status : SL_ERR_INVALID; }
const char *sl_graph_errmsg(const sl_graph *g) { return g ? g->error.message : "graph is NULL"; }
void sl_graph_clear_error(sl_graph *g)
{
    if (g)
        sl_error_clear(&g->error);
}
size_t sl_graph_tape_length(const sl_graph *g) { return g ? g->tape_length : 0; }
size_t sl_graph_arena_capacity(const sl_graph *g) { return g ? g->arena.capacity : 0; }
size_t sl_graph_arena_used(const sl_graph *g) { return g ? g->arena.used : 0; }

sl_status sl_graph_take_error(const sl_graph *g, sl_error *err)
{
    SL_GUARD(g, err);
    if (err)
        *err = g->error;
    return g->error.status;
}

/* ---- what ops use ----------------------------------------------------- */

void *sl_ag_fail(sl_graph *g, sl_status status, const char *fmt, ...)
{
    if (g->error.status != SL_OK)
        return NULL;
    g->error.status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->error.message, sizeof g->error.message, fmt, ap);
    va_end(ap);
    return NULL;
}

int sl_ag_failed(const sl_graph *g) { return g->error.status != SL_OK; }

void *sl_ag_alloc(sl_graph *g, size_t bytes)
{
    void *p = sl_arena_alloc(&g->arena, bytes);
    if (!p)
        sl_ag_fail(g, SL_ERR_NOMEM, "out of memory: the step's arena could not grow by %zu bytes",
                   bytes);
    return p;
}

sl_tensor *sl_ag_view(sl_graph *g, int ndim, const int64_t *shape, int64_t size, float *data)
{
    sl_tensor *t = sl_ag_alloc(g, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < SL_MAX_DIMS; i++)
        t->shape[i] = i < ndim ? shape[i] : 1;
    t->size = size;
    t->data = data;
    t->flags = SL_TENSOR_ARENA;
    return t;
}

static sl_tensor *arena_tensor(sl_graph *g, int ndim, const int64_t *shape, int zero)
{
    sl_error err = {0};
    int64_t size;
    if (sl_shape_size(ndim, shape, &size, &err) != SL_OK)
        return sl_ag_fail(g, err.status, "%s", err.message);
    float *data = sl_ag_alloc(g, (size_t)size * sizeof(float));
    if (!data)
        return NULL;
    if (zero)
        memset(data, 0, (size_t)size * sizeof(float));
    return sl_ag_view(g, ndim, shape, size, data);
}

sl_tensor *sl_ag_output(sl_graph *g, int ndim, const int64_t *shape)
{
    sl_tensor *t = arena_tensor(g, ndim, shape, 0);
    if (t)
        t->flags |= SL_TENSOR_AG_OWN_DATA;
    return t;
}

sl_tensor *sl_graph_tensor(sl_graph *g, int ndim, const int64_t *shape)
{
    if (!g || !shape)
        return NULL;
    return arena_tensor(g, ndim, shape, 1);
}

sl_tensor *sl_graph_randn(sl_graph *g, int ndim, const int64_t *shape, float mean, float std)
{
    if (!g || !shape)
        return NULL;
    if (!isfinite(mean) || !isfinite(std) || std < 0.0f)
        return sl_ag_fail(g, SL_ERR_INVALID, "randn: mean %g and std %g must be finite, std >= 0",
                          (double)mean, (double)std);
    sl_tensor *t = arena_tensor(g, ndim, shape, 0);
    if (t)
        for (int64_t i = 0; i < t->size; i++)
            t->data[i] = mean + std * sl_rng_normal(&g->rng);
    return t;
}

/* The node's state follows it in the same arena block, at an offset any type can sit at. */
#define SL_NODE_STATE_OFFSET                                                                   \
    ((sizeof(sl_node) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

sl_node *sl_ag_record(sl_graph *g, sl_op_kind kind, sl_tensor *out, sl_tensor **in, int n_in)
{
    if (!g->grad_enabled)
        return NULL;
    int any = 0;
    for (int k = 0; k < n_in; k++)
        if (in[k] && (in[k]->flags & SL_TENSOR_REQUIRES_GRAD))
            any = 1;
    if (!any)
        return NULL;
    const sl_op_def *op = sl_op_def_of(kind);
    if (!op)
        return sl_ag_fail(g, SL_ERR_INVALID, "autograd: op kind %d is not in the op table",
                          (int)kind);
    size_t bytes = op->state_size ? SL_NODE_STATE_OFFSET + op->state_size : sizeof(sl_node);
    sl_node *node = sl_ag_alloc(g, bytes);
    if (!node)
        return NULL;
    memset(node, 0, bytes);
    node->op = op;
    node->state = op->state_size ? (char *)node + SL_NODE_STATE_OFFSET : NULL;
    node->out = out;
    node->n_in = n_in;
    for (int k = 0; k < n_in; k++)
        node->in[k] = in[k];
    node->prev = g->tape;
    g->tape = node;
    g->tape_length++;
    out->flags |= SL_TENSOR_REQUIRES_GRAD;
    return node;
}

const sl_node *sl_ag_tape(const sl_graph *g) { return g ? g->tape : NULL; }

void *sl_ag_cache(const sl_graph *g) { return g->cache; }

void sl_ag_set_cache(sl_graph *g, void *cache, void (*cache_free)(void *))
{
    g->cache = cache;
    g->cache_free = cache_free;
}

int sl_ag_wants_grad(const sl_node *node, int k)
{
    const sl_tensor *t = node->in[k];
    return t && (t->flags & SL_TENSOR_REQUIRES_GRAD) && t->grad;
}

/* ---- backward ---------------------------------------------------------- */

void sl_ag_share(sl_tensor *t)
{
    if (t && (t->flags & SL_TENSOR_ARENA)) /* a caller's tensor never gets a step gradient */
        t->flags |= SL_TENSOR_AG_SHARED;
}

/* Marks a step tensor's data as read by some backward (a caller's tensors keep their flags). */
static void mark_read(sl_tensor *t)
{
    if (t && (t->flags & SL_TENSOR_ARENA))
        t->flags |= SL_TENSOR_AG_READ;
}

/* Marks SL_TENSOR_AG_READ on every step tensor of the tape whose data some backward reads.
 * Step tensors are made this step without it (sl_ag_view), and backward runs once a step. */
static void mark_data_read_by_backward(sl_graph *g)
{
    for (sl_node *node = g->tape; node; node = node->prev) {
        unsigned skips = node->op->bwd_skips;
        if (!(skips & SL_BWD_SKIPS_OUT))
            mark_read(node->out);
        for (int k = 0; k < node->n_in; k++)
            if (!(skips & SL_BWD_SKIPS_IN(k)))
                mark_read(node->in[k]);
    }
}

/* Whether t's gradient may lie over its data: an op output's own buffer, which nothing
 * shares and no backward reads (so nothing misses the values the gradient overwrites). */
static int ag_grad_fits_over_data(const sl_graph *g, const sl_tensor *t)
{
    const unsigned need = SL_TENSOR_ARENA | SL_TENSOR_AG_OWN_DATA;
    const unsigned refuse = SL_TENSOR_AG_SHARED | SL_TENSOR_AG_READ;
    return g->grad_over_data && (t->flags & (need | refuse)) == need;
}

/* Gives t a zeroed gradient if it has none: arena memory for step tensors (maybe over their
 * own data, see ag_grad_fits_over_data), heap for leaves. */
static int ensure_grad(sl_graph *g, sl_tensor *t)
{
    if (t->grad)
        return 1;
    if (ag_grad_fits_over_data(g, t)) {
        t->grad = t->data;
        memset(t->grad, 0, (size_t)t->size * sizeof(float));
        return 1;
    }
    if (t->flags & SL_TENSOR_ARENA) {
        t->grad = sl_ag_alloc(g, (size_t)t->size * sizeof(float));
        if (!t->grad)
            return 0;
        memset(t->grad, 0, (size_t)t->size * sizeof(float));
        return 1;
    }
    sl_error err = {0};
    if (sl_tensor_ensure_grad(t, &err) != SL_OK) {
        sl_ag_fail(g, err.status, "%s", err.message);
        return 0;
    }
    return 1;
}

sl_status sl_backward(sl_graph *g, sl_tensor *loss)
{
    if (!g)
        return SL_ERR_INVALID;
    if (sl_ag_failed(g))
        return g->error.status;
    if (!loss) {
        sl_ag_fail(g, SL_ERR_INVALID, "backward: the loss is NULL");
        return g->error.status;
    }
    if (loss->size != 1) {
        char shape[64];
        sl_ag_fail(g, SL_ERR_SHAPE, "backward: the loss must have one element, got shape %s",
                   sl_shape_str(loss, shape, sizeof shape));
        return g->error.status;
    }
    if (g->backward_done) {
        sl_ag_fail(g, SL_ERR_STATE, "backward: already run for this step (reset the graph first)");
        return g->error.status;
    }
    if (!g->tape || !(loss->flags & SL_TENSOR_REQUIRES_GRAD) || !(loss->flags & SL_TENSOR_ARENA)) {
        sl_ag_fail(g, SL_ERR_STATE,
                   "backward: the loss was not computed this step from any tensor that "
                   "requires a gradient");
        return g->error.status;
    }
    if (g->grad_over_data)
        mark_data_read_by_backward(g);
    sl_ag_share(loss); /* the caller may read the loss after backward, whatever made it */
    if (!ensure_grad(g, loss))
        return g->error.status;
    loss->grad[0] += 1.0f;
    g->backward_done = 1;

    for (sl_node *node = g->tape; node; node = node->prev) {
        if (!node->out->grad)
            continue; /* nothing downstream reached this output */
        for (int k = 0; k < node->n_in; k++) {
            sl_tensor *t = node->in[k];
            if (t && (t->flags & SL_TENSOR_REQUIRES_GRAD) && !ensure_grad(g, t))
                return g->error.status;
        }
        node->op->backward(node);
    }
    /* A backward function may record an error (a library it calls failed). */
    return g->error.status;
}
