/*
 * optim.c - SGD (momentum, nesterov, weight decay), Adam and AdamW with
 * PyTorch's update rules, per-role weight-decay groups and global gradient
 * norm clipping (see slope/optim.h).
 *
 * Every trainable parameter (any role but SL_PARAM_BUFFER) gets an entry
 * holding its decay flag and its state tensors, all allocated by
 * sl_optimizer_new, so a step allocates nothing.  Scalars that depend on the
 * step (bias corrections, the clipping factor) are computed in double, the
 * element-wise updates in float, as torch does for float32 tensors.
 */
#include "guard.h"
#include "alloc.h"
#include "parallel.h"
#include "slope/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 2
#define CLIP_EPS 1e-6 /* torch.nn.utils.clip_grad_norm_ adds this to the norm */

typedef struct opt_entry {
    const sl_param *param;
    int64_t size;                 /* the tensor's elements when the optimizer was made */
    int decay;                    /* weight decay applies to this parameter */
    sl_tensor *slot[MAX_SLOTS];   /* momentum_buffer, or exp_avg and exp_avg_sq */
    char *slot_name[MAX_SLOTS];   /* "<param name>.<slot>" */
} opt_entry;

/*
 * A step's passes over the gradients (norm, clipping, update) run in blocks: at most
 * SL_OPTIM_BLOCK elements of one parameter each, in the entries' order, claimed by slope's
 * threads (parallel.h) one at a time, so small parameters share the threads with large
 * ones in one hand-off.  Each block's sum of squares has its own slot and the slots are
 * added in order, so the norm, like the update, is the same for any thread count.
 */
#define SL_OPTIM_BLOCK ((int64_t)1 << 14)
/* Below this many trainable elements in all, a step runs in the calling thread. */
#define SL_OPTIM_PAR_MIN ((int64_t)1 << 15)

typedef struct opt_block {
    size_t entry;
    int64_t begin, end;
} opt_block;

struct sl_optimizer {
    sl_optim_spec spec;
    opt_entry *entries; /* the trainable parameters, in the caller's order */
    size_t n_entries;
    int n_slots;        /* state tensors per entry: 0, 1 or 2 */
    opt_block *blocks;  /* every entry's elements, cut into blocks, in order */
    size_t n_blocks;
    double *block_sums; /* one sum of squares per block */
    int64_t n_elements; /* trainable elements in all */
    int64_t steps;
    float last_grad_norm;
};

/* ---- names and defaults ------------------------------------------------------ */

static const char *const optim_names[] = {"sgd", "adam", "adamw"};

const char *sl_optim_name(sl_optim_kind kind)
{
    if ((int)kind < 0 || kind > SL_OPTIM_ADAMW)
        return "unknown";
    return optim_names[kind];
}

sl_status sl_optim_parse(const char *name, sl_optim_kind *kind, sl_error *err)
{
    SL_GUARD(name, err);
    SL_GUARD(kind, err);
    for (int k = 0; k <= SL_OPTIM_ADAMW; k++)
        if (strcmp(name, optim_names[k]) == 0) {
            *kind = (sl_optim_kind)k;
            return SL_OK;
        }
    return sl_error_set(err, SL_ERR_CONFIG,
                        "unknown optimizer \"%s\" (expected one of: sgd, adam, adamw)",
                        name);
}

sl_optim_spec sl_optim_defaults(sl_optim_kind kind)
{
    sl_optim_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.lr = kind == SL_OPTIM_SGD ? 0.01f : 0.001f;
    s.weight_decay = kind == SL_OPTIM_ADAMW ? 0.01f : 0.0f;
    s.beta1 = 0.9f;
    s.beta2 = 0.999f;
    s.eps = 1e-8f;
    return s;
}

/* ---- validation --------------------------------------------------------------- */

/* The first problem of a spec, as an SL_ERR_CONFIG message, or SL_OK. */
static sl_status spec_problem(const sl_optim_spec *s, sl_error *err)
{
    if ((int)s->kind < 0 || s->kind > SL_OPTIM_ADAMW)
        return sl_error_set(err, SL_ERR_CONFIG, "optimizer: unknown kind %d", (int)s->kind);
    const char *name = optim_names[s->kind];
    if (!(s->lr > 0.0f) || !isfinite(s->lr))
        return sl_error_set(err, SL_ERR_CONFIG, "%s: lr is %g; it must be > 0", name, s->lr);
    if (!(s->weight_decay >= 0.0f) || !isfinite(s->weight_decay))
        return sl_error_set(err, SL_ERR_CONFIG, "%s: weight_decay is %g; it must be >= 0", name,
                            s->weight_decay);
    if (!(s->clip_grad_norm >= 0.0f) || !isfinite(s->clip_grad_norm))
        return sl_error_set(err, SL_ERR_CONFIG,
                            "%s: clip_grad_norm is %g; it must be >= 0 (0 = off)", name,
                            s->clip_grad_norm);
    if (s->kind == SL_OPTIM_SGD) {
        if (!(s->momentum >= 0.0f) || !isfinite(s->momentum))
            return sl_error_set(err, SL_ERR_CONFIG, "sgd: momentum is %g; it must be >= 0",
                                s->momentum);
        if (!isfinite(s->dampening))
            return sl_error_set(err, SL_ERR_CONFIG, "sgd: dampening is %g; it must be finite",
                                s->dampening);
        if (s->nesterov && (s->momentum == 0.0f || s->dampening != 0.0f))
            return sl_error_set(err, SL_ERR_CONFIG,
                                "sgd: nesterov needs momentum > 0 and dampening 0 (momentum %g, "
                                "dampening %g)",
                                s->momentum, s->dampening);
        return SL_OK;
    }
    if (!(s->beta1 >= 0.0f && s->beta1 < 1.0f))
        return sl_error_set(err, SL_ERR_CONFIG, "%s: beta1 is %g; it must be in [0, 1)", name,
                            s->beta1);
    if (!(s->beta2 >= 0.0f && s->beta2 < 1.0f))
        return sl_error_set(err, SL_ERR_CONFIG, "%s: beta2 is %g; it must be in [0, 1)", name,
                            s->beta2);
    /* eps 0 (say 1e-50 rounded to float) divides 0 by 0 where a gradient is zero */
    if (!(s->eps > 0.0f) || !isfinite(s->eps))
        return sl_error_set(err, SL_ERR_CONFIG, "%s: eps is %g; it must be > 0 and finite", name,
                            s->eps);
    return SL_OK;
}

static sl_status params_problem(const sl_param *params, size_t n, sl_error *err)
{
    if (n > 0 && !params)
        return sl_error_set(err, SL_ERR_INVALID, "optimizer: params is NULL but n is %zu", n);
    for (size_t i = 0; i < n; i++) {
        const sl_param *p = &params[i];
        if (!p->name || !p->tensor)
            return sl_error_set(err, SL_ERR_INVALID, "optimizer: params[%zu] has no %s", i,
                                p->name ? "tensor" : "name");
        if ((int)p->role < 0 || p->role > SL_PARAM_BUFFER)
            return sl_error_set(err, SL_ERR_INVALID, "optimizer: %s has an unknown role %d",
                                p->name, (int)p->role);
        /* One tensor twice would be updated twice, and by two threads at once. */
        for (size_t k = 0; k < i; k++)
            if (params[k].tensor == p->tensor)
                return sl_error_set(err, SL_ERR_INVALID,
                                    "optimizer: %s and %s are the same tensor", params[k].name,
                                    p->name);
    }
    return SL_OK;
}

/* ---- construction ----------------------------------------------------------- */

static int role_decays(const sl_optim_spec *s, sl_param_role role)
{
    if (s->weight_decay == 0.0f)
        return 0;
    switch (role) {
    case SL_PARAM_WEIGHT: return 1;
    case SL_PARAM_BIAS: return s->decay_bias != 0;
    case SL_PARAM_PRELU_SLOPE: return s->decay_prelu != 0;
    case SL_PARAM_NORM_SCALE:
    case SL_PARAM_NORM_SHIFT: return s->decay_norm != 0;
    case SL_PARAM_BUFFER: return 0;
    }
    return 0;
}

static int slots_for(const sl_optim_spec *s)
{
    if (s->kind == SL_OPTIM_SGD)
        return s->momentum > 0.0f ? 1 : 0;
    return 2;
}

static const char *slot_label(const sl_optim_spec *s, int slot)
{
    if (s->kind == SL_OPTIM_SGD)
        return "momentum_buffer";
    return slot == 0 ? "exp_avg" : "exp_avg_sq";
}

/* Allocates one zero-filled state tensor shaped like the parameter, and its name. */
static sl_status make_slot(sl_optimizer *opt, opt_entry *e, int slot, sl_error *err)
{
    const sl_tensor *t = e->param->tensor;
    e->slot[slot] = sl_tensor_new(t->ndim, t->shape, err);
    if (!e->slot[slot])
        return err ? err->status : SL_ERR_NOMEM;
    const char *label = slot_label(&opt->spec, slot);
    size_t len = strlen(e->param->name) + 1 + strlen(label) + 1;
    e->slot_name[slot] = sl_malloc(len);
    if (!e->slot_name[slot])
        return sl_error_set(err, SL_ERR_NOMEM, "optimizer: out of memory for state names");
    snprintf(e->slot_name[slot], len, "%s.%s", e->param->name, label);
    return SL_OK;
}

static size_t count_trainable(const sl_param *params, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += params[i].role != SL_PARAM_BUFFER;
    return k;
}

static sl_status make_entries(sl_optimizer *opt, const sl_param *params, size_t n,
                              sl_error *err)
{
    opt->n_entries = count_trainable(params, n);
    if (opt->n_entries == 0)
        return SL_OK;
    opt->entries = sl_calloc(opt->n_entries, sizeof *opt->entries);
    if (!opt->entries)
        return sl_error_set(err, SL_ERR_NOMEM, "optimizer: out of memory for %zu parameters",
                            opt->n_entries);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (params[i].role == SL_PARAM_BUFFER)
            continue;
        opt_entry *e = &opt->entries[k++];
        e->param = &params[i];
        e->size = params[i].tensor->size;
        e->decay = role_decays(&opt->spec, params[i].role);
        for (int s = 0; s < opt->n_slots; s++)
            if (make_slot(opt, e, s, err) != SL_OK)
                return err ? err->status : SL_ERR_NOMEM;
    }
    return SL_OK;
}

static sl_status make_blocks(sl_optimizer *opt, sl_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < opt->n_entries; i++) {
        n += (size_t)((opt->entries[i].size + SL_OPTIM_BLOCK - 1) / SL_OPTIM_BLOCK);
        opt->n_elements += opt->entries[i].size;
    }
    if (n == 0)
        return SL_OK;
    opt->blocks = sl_calloc(n, sizeof *opt->blocks);
    opt->block_sums = sl_calloc(n, sizeof *opt->block_sums);
    if (!opt->blocks || !opt->block_sums)
        return sl_error_set(err, SL_ERR_NOMEM, "optimizer: out of memory for %zu blocks", n);
    for (size_t i = 0; i < opt->n_entries; i++) {
        int64_t size = opt->entries[i].size;
        for (int64_t b = 0; b < size; b += SL_OPTIM_BLOCK)
            opt->blocks[opt->n_blocks++] =
                (opt_block){i, b, b + SL_OPTIM_BLOCK < size ? b + SL_OPTIM_BLOCK : size};
    }
    return SL_OK;
}

sl_optimizer *sl_optimizer_new(const sl_param *params, size_t n, const sl_optim_spec *spec,
                               sl_error *err)
{
    if (!spec) {
        sl_error_set(err, SL_ERR_INVALID, "optimizer: spec is NULL");
        return NULL;
    }
    if (spec_problem(spec, err) != SL_OK || params_problem(params, n, err) != SL_OK)
        return NULL;
    sl_optimizer *opt = sl_calloc(1, sizeof *opt);
    if (!opt) {
        sl_error_set(err, SL_ERR_NOMEM, "optimizer: out of memory");
        return NULL;
    }
    opt->spec = *spec;
    opt->n_slots = slots_for(spec);
    if (make_entries(opt, params, n, err) != SL_OK || make_blocks(opt, err) != SL_OK) {
        sl_optimizer_free(opt);
        return NULL;
    }
    return opt;
}

void sl_optimizer_free(sl_optimizer *opt)
{
    if (!opt)
        return;
    for (size_t i = 0; i < opt->n_entries; i++)
        for (int s = 0; s < MAX_SLOTS; s++) {
            sl_tensor_free(opt->entries[i].slot[s]);
            sl_free(opt->entries[i].slot_name[s]);
        }
    sl_free(opt->entries);
    sl_free(opt->blocks);
    sl_free(opt->block_sums);
    sl_free(opt);
}

/* ---- gradient check, norm and clipping ------------------------------------- */

/* Sum of squares in double; not finite iff some element is NaN/Inf (a float squared
 * cannot overflow a double, nor can 2^40 of them summed). */
static double sum_squares(const float *g, int64_t n)
{
    /* Eight independent double lanes: the same double accuracy as one running
     * sum, but vectorisable (a single chain is bound by the add latency). */
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            lane[j] += (double)g[i + j] * (double)g[i + j];
    double s = 0.0;
    for (; i < n; i++)
        s += (double)g[i] * (double)g[i];
    for (int j = 0; j < 8; j++)
        s += lane[j];
    return s;
}

static sl_status report_non_finite(const sl_optimizer *opt, const opt_entry *e, sl_error *err)
{
    const sl_tensor *t = e->param->tensor;
    int64_t i = 0;
    while (i < t->size - 1 && isfinite(t->grad[i]))
        i++;
    return sl_error_set(err, SL_ERR_NUMERIC,
                        "step %lld: the gradient of %s holds %s at element %lld; no parameter "
                        "was updated",
                        (long long)opt->steps + 1, e->param->name,
                        isnan(t->grad[i]) ? "NaN" : "Inf", (long long)i);
}

/* ---- the block passes ---------------------------------------------------------- */

/* Adam's step-dependent scalars, as torch computes them. */
typedef struct adam_scalars {
    float step_size;  /* lr / (1 - beta1^t) */
    float bc2_sqrt;   /* sqrt(1 - beta2^t) */
    float decay_keep; /* adamw: 1 - lr * weight_decay */
} adam_scalars;

/* What one pass over the blocks does, and the scalars it needs. */
typedef enum { PASS_SQUARES, PASS_CLIP, PASS_UPDATE } block_pass;

typedef struct pass_job {
    sl_optimizer *opt;
    block_pass pass;
    float scale;              /* PASS_CLIP: the clipping factor */
    float lr;                 /* PASS_UPDATE */
    const adam_scalars *adam; /* PASS_UPDATE, Adam and AdamW */
} pass_job;

/* The updates of one entry over elements [b, end) of its buffers: every element on its own,
 * so the results are the same however the elements are cut into blocks or threads. */
static void sgd_update(const pass_job *j, const opt_entry *e, int64_t b, int64_t end)
{
    const sl_optim_spec *s = &j->opt->spec;
    sl_tensor *t = e->param->tensor;
    /* Parameters, gradients and momentum are separate buffers: restrict lets the
     * loops vectorise, and each case gets its own branch-free loop. */
    float *restrict p = t->data + b;
    const float *restrict grad = t->grad + b;
    const int64_t n = end - b;
    const float lr = j->lr, wd = e->decay ? s->weight_decay : 0.0f;
    const float mom = s->momentum, keep = 1.0f - s->dampening;
    float *restrict buf = j->opt->n_slots ? e->slot[0]->data + b : NULL;
    if (!buf) {
        for (int64_t i = 0; i < n; i++)
            p[i] -= lr * (grad[i] + wd * p[i]);
    } else if (j->opt->steps == 0) { /* torch starts the buffer at the first gradient */
        if (s->nesterov)
            for (int64_t i = 0; i < n; i++) {
                float g = grad[i] + wd * p[i];
                buf[i] = g;
                p[i] -= lr * (g + mom * g);
            }
        else
            for (int64_t i = 0; i < n; i++) {
                float g = grad[i] + wd * p[i];
                buf[i] = g;
                p[i] -= lr * g;
            }
    } else if (s->nesterov) {
        for (int64_t i = 0; i < n; i++) {
            float g = grad[i] + wd * p[i];
            float m = mom * buf[i] + keep * g;
            buf[i] = m;
            p[i] -= lr * (g + mom * m);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float g = grad[i] + wd * p[i];
            float m = mom * buf[i] + keep * g;
            buf[i] = m;
            p[i] -= lr * m;
        }
    }
}

static adam_scalars adam_scalars_for(const sl_optimizer *opt, float lr)
{
    const sl_optim_spec *s = &opt->spec;
    double t = (double)(opt->steps + 1);
    adam_scalars a;
    a.step_size = (float)((double)lr / (1.0 - pow((double)s->beta1, t)));
    a.bc2_sqrt = (float)sqrt(1.0 - pow((double)s->beta2, t));
    a.decay_keep = (float)(1.0 - (double)lr * (double)s->weight_decay);
    return a;
}

static void adam_update(const pass_job *j, const opt_entry *e, int64_t b, int64_t end)
{
    const sl_optim_spec *s = &j->opt->spec;
    const adam_scalars *a = j->adam;
    int adamw = s->kind == SL_OPTIM_ADAMW, decay = e->decay;
    sl_tensor *t = e->param->tensor;
    float *p = t->data, *m = e->slot[0]->data, *v = e->slot[1]->data;
    const float *grad = t->grad;
    float l2 = decay && !adamw ? s->weight_decay : 0.0f;
    float b1 = s->beta1, b2 = s->beta2, eps = s->eps;
    float keep = decay && adamw ? a->decay_keep : 1.0f;
    for (int64_t i = b; i < end; i++) {
        float g = grad[i] + l2 * p[i];
        p[i] *= keep;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float denom = sqrtf(v[i]) / a->bc2_sqrt + eps;
        p[i] -= a->step_size * (m[i] / denom);
    }
}

/* One block of the job's pass; blocks whose parameter has no gradient are skipped. */
static void run_block(void *ctx, int64_t index, int thread)
{
    (void)thread;
    const pass_job *j = ctx;
    const opt_block *k = &j->opt->blocks[index];
    const opt_entry *e = &j->opt->entries[k->entry];
    float *grad = e->param->tensor->grad;
    if (j->pass == PASS_SQUARES)
        j->opt->block_sums[index] = grad ? sum_squares(grad + k->begin, k->end - k->begin) : 0.0;
    else if (!grad)
        return;
    else if (j->pass == PASS_CLIP)
        for (int64_t i = k->begin; i < k->end; i++)
            grad[i] *= j->scale;
    else if (j->opt->spec.kind == SL_OPTIM_SGD)
        sgd_update(j, e, k->begin, k->end);
    else
        adam_update(j, e, k->begin, k->end);
}

static void run_pass(const pass_job *j)
{
    const sl_optimizer *opt = j->opt;
    if (opt->n_elements >= SL_OPTIM_PAR_MIN) {
        sl_par_run((int64_t)opt->n_blocks, run_block, (void *)j);
        return;
    }
    for (size_t i = 0; i < opt->n_blocks; i++)
        run_block((void *)j, (int64_t)i, 0);
}

/* The global L2 norm of every gradient present, or SL_ERR_NUMERIC naming the first
 * parameter (in the entries' order) whose gradient is not finite. */
static sl_status global_grad_norm(sl_optimizer *opt, double *norm, sl_error *err)
{
    pass_job j = {opt, PASS_SQUARES, 0.0f, 0.0f, NULL};
    run_pass(&j);
    double total = 0.0;
    for (size_t i = 0; i < opt->n_blocks; i++) {
        if (!isfinite(opt->block_sums[i]))
            return report_non_finite(opt, &opt->entries[opt->blocks[i].entry], err);
        total += opt->block_sums[i];
    }
    *norm = sqrt(total);
    return SL_OK;
}

/* torch.nn.utils.clip_grad_norm_: scale by max / (norm + 1e-6) when that is below 1. */
static void clip_grads(sl_optimizer *opt, double norm)
{
    double coef = (double)opt->spec.clip_grad_norm / (norm + CLIP_EPS);
    if (coef >= 1.0)
        return;
    pass_job j = {opt, PASS_CLIP, (float)coef, 0.0f, NULL};
    run_pass(&j);
}

sl_status sl_optimizer_step(sl_optimizer *opt, float lr, sl_error *err)
{
    if (!opt)
        return sl_error_set(err, SL_ERR_INVALID, "sl_optimizer_step: optimizer is NULL");
    if (opt->steps >= SL_OPTIM_MAX_STEPS)
        return sl_error_set(err, SL_ERR_INVALID, "sl_optimizer_step: the step count is at its "
                            "limit (%lld)", (long long)SL_OPTIM_MAX_STEPS);
    if (!(lr >= 0.0f) || !isfinite(lr))
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_optimizer_step: learning rate %g; it must be finite and >= 0",
                            lr);
    for (size_t i = 0; i < opt->n_entries; i++) /* the blocks were cut for these sizes */
        if (opt->entries[i].param->tensor->size != opt->entries[i].size)
            return sl_error_set(err, SL_ERR_STATE,
                                "sl_optimizer_step: %s has %lld elements, %lld when the "
                                "optimizer was made", opt->entries[i].param->name,
                                (long long)opt->entries[i].param->tensor->size,
                                (long long)opt->entries[i].size);
    double norm = 0.0;
    if (global_grad_norm(opt, &norm, err) != SL_OK)
        return SL_ERR_NUMERIC;
    opt->last_grad_norm = (float)norm;
    if (opt->spec.clip_grad_norm > 0.0f)
        clip_grads(opt, norm);
    adam_scalars a = adam_scalars_for(opt, lr);
    pass_job j = {opt, PASS_UPDATE, 0.0f, lr, &a};
    run_pass(&j);
    opt->steps++;
    return SL_OK;
}

/* ---- accessors and state ----------------------------------------------------- */

float sl_optimizer_last_grad_norm(const sl_optimizer *opt)
{
    return opt ? opt->last_grad_norm : 0.0f;
}

int64_t sl_optimizer_steps(const sl_optimizer *opt)
{
    return opt ? opt->steps : 0;
}

const sl_optim_spec *sl_optimizer_spec(const sl_optimizer *opt)
{
    return opt ? &opt->spec : NULL;
}

size_t sl_optimizer_state_count(const sl_optimizer *opt)
{
    return opt ? opt->n_entries * (size_t)opt->n_slots : 0;
}

sl_tensor *sl_optimizer_state(const sl_optimizer *opt, size_t i, const char **name)
{
    if (name)
        *name = NULL;
    if (i >= sl_optimizer_state_count(opt))
        return NULL;
    const opt_entry *e = &opt->entries[i / (size_t)opt->n_slots];
    int slot = (int)(i % (size_t)opt->n_slots);
    if (name)
        *name = e->slot_name[slot];
    return e->slot[slot];
}

void sl_optimizer_set_steps(sl_optimizer *opt, int64_t steps)
{
    if (opt)
        opt->steps = steps < 0 ? 0 : steps > SL_OPTIM_MAX_STEPS ? SL_OPTIM_MAX_STEPS : steps;
}
