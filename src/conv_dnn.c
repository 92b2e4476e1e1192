/* conv_dnn.c - conv2d on oneDNN, and the conv backend switch (see conv_dnn.h). */
#include "conv_dnn.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int g_backend = -1;
static atomic_uint_least64_t g_dnn_count, g_dnn_bf16_count;
static atomic_int g_min_batch = SL_DNN_MIN_BATCH;

int sl_conv_dnn_set_min_batch(int n) { return atomic_exchange(&g_min_batch, n < 1 ? 1 : n); }

uint64_t sl_conv_dnn_count(void) { return atomic_load(&g_dnn_count); }

uint64_t sl_conv_dnn_bf16_count(void) { return atomic_load(&g_dnn_bf16_count); }

int sl_conv_dnn_built(void)
{
#ifdef SLOPE_HAVE_ONEDNN
    return 1;
#else
    return 0;
#endif
}

static sl_conv_backend backend_from_env(void)
{
    const char *v = getenv("SLOPE_CONV");
    if (v && strcmp(v, "im2col") == 0)
        return SL_CONV_IM2COL;
    return sl_conv_dnn_built() ? SL_CONV_ONEDNN : SL_CONV_IM2COL;
}

sl_conv_backend sl_conv_backend_get(void)
{
    int b = atomic_load(&g_backend);
    if (b < 0) {
        b = (int)backend_from_env();
        atomic_store(&g_backend, b);
    }
    return (sl_conv_backend)b;
}

sl_conv_backend sl_conv_set_backend(sl_conv_backend b)
{
    if (b != SL_CONV_ONEDNN || !sl_conv_dnn_built())
        b = SL_CONV_IM2COL;
    atomic_store(&g_backend, (int)b);
    return b;
}

#ifndef SLOPE_HAVE_ONEDNN

int sl_bf16_supported(void) { return 0; }

int sl_dnn_conv_forward(sl_graph *g, const sl_dnn_conv_args *a, int want_saved,
                        sl_dnn_conv_saved **saved)
{
    (void)g, (void)a, (void)want_saved, (void)saved;
    return 0;
}

void sl_dnn_conv_backward(const sl_dnn_conv_saved *s, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db)
{
    (void)s, (void)x, (void)w, (void)dy, (void)dx, (void)dw, (void)db;
}

#else

#include <dnnl.h>
#ifdef SLOPE_ONEDNN_OMP
#include <omp.h>
#endif

#include "alloc.h"
#include "kernels.h"
#include "parallel.h"

/* The buffers a conv touches: slope's (plain NCHW / OIHW / [O]) and oneDNN's layouts of them. */
enum slot {
    S_X, S_XF, S_W, S_WF, S_B, S_YF, S_Y,     /* forward: x, its layout, w, ..., y */
    S_DY, S_DYD, S_WD, S_DXD, S_DX,           /* backward data */
    S_XW, S_DYW, S_DWW, S_DW, S_DB,           /* backward weights */
    S_SCRATCH, S_COUNT
};
/* The primitives: three convolutions and the reorders between the slots. */
enum prim { P_FWD, P_BWD_D, P_BWD_W, P_X, P_W, P_Y, P_DYD, P_WD, P_DX, P_XW, P_DYW, P_DW, P_COUNT };

/* Each reorder: its primitive, from which slot to which, and whether it adds to the target. */
static const struct reorder_row { int prim, from, to, sum; } REORDERS[] = {
    {P_X, S_X, S_XF, 0},     {P_W, S_W, S_WF, 0},      {P_Y, S_YF, S_Y, 0},
    {P_DYD, S_DY, S_DYD, 0}, {P_WD, S_W, S_WD, 0},     {P_DX, S_DXD, S_DX, 1},
    {P_XW, S_X, S_XW, 0},    {P_DYW, S_DY, S_DYW, 0},  {P_DW, S_DWW, S_DW, 1},
};
#define N_REORDERS ((int)(sizeof REORDERS / sizeof REORDERS[0]))

/* Each primitive's arguments: (DNNL_ARG_*, slot), ending with a 0 slot count. */
typedef struct arg_row { int n; int arg[6], slot[6]; } arg_row;

static arg_row args_of(int prim, int bias)
{
    arg_row r = {0, {0}, {0}};
#define ADD(a, s) (r.arg[r.n] = (a), r.slot[r.n++] = (s))
    switch (prim) {
    case P_FWD:
        ADD(DNNL_ARG_SRC, S_XF), ADD(DNNL_ARG_WEIGHTS, S_WF), ADD(DNNL_ARG_DST, S_YF);
        if (bias)
            ADD(DNNL_ARG_BIAS, S_B);
        break;
    case P_BWD_D:
        ADD(DNNL_ARG_DIFF_DST, S_DYD), ADD(DNNL_ARG_WEIGHTS, S_WD), ADD(DNNL_ARG_DIFF_SRC, S_DXD);
        break;
    case P_BWD_W:
        ADD(DNNL_ARG_SRC, S_XW), ADD(DNNL_ARG_DIFF_DST, S_DYW), ADD(DNNL_ARG_DIFF_WEIGHTS, S_DWW);
        if (bias)
            ADD(DNNL_ARG_DIFF_BIAS, S_DB);
        break;
    default:
        for (int i = 0; i < N_REORDERS; i++)
            if (REORDERS[i].prim == prim)
                ADD(DNNL_ARG_FROM, REORDERS[i].from), ADD(DNNL_ARG_TO, REORDERS[i].to);
    }
    ADD(DNNL_ARG_SCRATCHPAD, S_SCRATCH);
#undef ADD
    return r;
}

/* ---- plans: the primitives of one shape, made once ---------------------------------- */

typedef struct dnn_key { int mb, C, H, W, O, kh, kw, stride, pad, bias, bf16; } dnn_key;

/* One thread's stream and memory objects (their data handles are set at each call). */
typedef struct dnn_thread {
    dnnl_stream_t stream;
    dnnl_memory_t mem[S_COUNT];
    size_t scratch; /* the size mem[S_SCRATCH] was made for */
} dnn_thread;

typedef struct dnn_plan {
    struct dnn_plan *next;
    dnn_key key;
    int ok;                    /* 0: oneDNN declined the forward: im2col runs it */
    int bwd_d, bwd_w;          /* backward made: 1, declined: -1, not yet tried: 0 */
    dnnl_primitive_desc_t fwd_pd; /* the hint backward's descriptors need */
    dnnl_memory_desc_t md[S_COUNT];
    int used[S_COUNT];
    dnnl_primitive_t prim[P_COUNT];
    size_t scratch;            /* the largest scratchpad of its primitives */
    dnn_thread *thr[SL_PAR_MAX_THREADS];
} dnn_plan;

/* work is the threads' regions of the call running now: every convolution of the graph, in
 * forward and in backward, uses the same bytes (the calls run one after another, and nothing
 * in a region outlives its call), so a step holds one region set, not one per convolution. */
typedef struct dnn_cache {
    dnnl_engine_t engine;
    dnnl_primitive_attr_t attr, attr_sum; /* user scratchpad; and + sum post-op */
    dnn_plan *plans;
    char *work;        /* the regions of the running call; grows, never shrinks */
    size_t work_bytes;
} dnn_cache;

static void thread_free(dnn_thread *t)
{
    if (!t)
        return;
    for (int s = 0; s < S_COUNT; s++)
        if (t->mem[s])
            dnnl_memory_destroy(t->mem[s]);
    if (t->stream)
        dnnl_stream_destroy(t->stream);
    sl_free(t);
}

static void plan_free(dnn_plan *p)
{
    for (int i = 0; i < SL_PAR_MAX_THREADS; i++)
        thread_free(p->thr[i]);
    for (int i = 0; i < P_COUNT; i++)
        if (p->prim[i])
            dnnl_primitive_destroy(p->prim[i]);
    if (p->fwd_pd)
        dnnl_primitive_desc_destroy(p->fwd_pd);
    sl_free(p);
}

static void cache_free(void *ptr)
{
    dnn_cache *c = ptr;
    while (c->plans) {
        dnn_plan *next = c->plans->next;
        plan_free(c->plans);
        c->plans = next;
    }
    if (c->attr)
        dnnl_primitive_attr_destroy(c->attr);
    if (c->attr_sum)
        dnnl_primitive_attr_destroy(c->attr_sum);
    if (c->engine)
        dnnl_engine_destroy(c->engine);
    sl_free(c->work);
    sl_free(c);
}

static dnn_cache *cache_new(void)
{
    dnn_cache *c = sl_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    dnnl_post_ops_t po = NULL;
    int ok = dnnl_engine_create(&c->engine, dnnl_cpu, 0) == dnnl_success &&
             dnnl_primitive_attr_create(&c->attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(c->attr, dnnl_scratchpad_mode_user) ==
                 dnnl_success &&
             dnnl_primitive_attr_clone(&c->attr_sum, c->attr) == dnnl_success &&
             dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(c->attr_sum, po) == dnnl_success;
    if (po)
        dnnl_post_ops_destroy(po);
    if (!ok) {
        cache_free(c);
        return NULL;
    }
    return c;
}

/* The graph's cache, made at its first oneDNN convolution; NULL if oneDNN cannot start. */
static dnn_cache *cache_of(sl_graph *g)
{
    dnn_cache *c = sl_ag_cache(g);
    if (!c && (c = cache_new()) != NULL)
        sl_ag_set_cache(g, c, cache_free);
    return c;
}

static int typed_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims,
                    dnnl_data_type_t type, dnnl_format_tag_t tag)
{
    return dnnl_memory_desc_init_by_tag(md, ndims, dims, type, tag) == dnnl_success;
}

static int plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims,
                    dnnl_format_tag_t tag)
{
    return typed_md(md, ndims, dims, dnnl_f32, tag);
}

/* The shapes of one conv: plain descriptors of slope's buffers, "any" ones for oneDNN's. */
typedef struct conv_shape {
    dnnl_dims_t src, wei, dst, bias, strides, pad_l, pad_r;
} conv_shape;

static conv_shape shape_of(const dnn_key *k)
{
    int OH = (k->H + 2 * k->pad - k->kh) / k->stride + 1;
    int OW = (k->W + 2 * k->pad - k->kw) / k->stride + 1;
    conv_shape s = {{k->mb, k->C, k->H, k->W}, {k->O, k->C, k->kh, k->kw},
                    {k->mb, k->O, OH, OW},     {k->O},
                    {k->stride, k->stride},    {k->pad, k->pad},
                    {(OH - 1) * k->stride + k->kh - k->H - k->pad,
                     (OW - 1) * k->stride + k->kw - k->W - k->pad}};
    return s;
}

static int plain_mds(dnn_plan *p, const conv_shape *s)
{
    dnnl_memory_desc_t *md = p->md;
    return plain_md(&md[S_X], 4, s->src, dnnl_nchw) && plain_md(&md[S_DX], 4, s->src, dnnl_nchw) &&
           plain_md(&md[S_W], 4, s->wei, dnnl_oihw) && plain_md(&md[S_DW], 4, s->wei, dnnl_oihw) &&
           plain_md(&md[S_Y], 4, s->dst, dnnl_nchw) && plain_md(&md[S_DY], 4, s->dst, dnnl_nchw) &&
           plain_md(&md[S_B], 1, s->bias, dnnl_x) && plain_md(&md[S_DB], 1, s->bias, dnnl_x);
}

/* Takes one of pd's memory descriptors into slot. */
static void take_md(dnn_plan *p, const_dnnl_primitive_desc_t pd, dnnl_query_t what, int slot)
{
    p->md[slot] = *dnnl_primitive_desc_query_md(pd, what, 0);
    p->used[slot] = 1;
}

/* Whether a bf16 plan's convolution impl runs on the CPU's own bf16 instructions: its ISA
 * (after the colon: "avx512_core_bf16", "avx512_core_amx_bf16") says bf16; oneDNN's
 * emulation on plain AVX-512 ("jit_bf16:avx512_core") is slower than fp32. */
static int native_bf16(const char *impl)
{
    const char *isa = strchr(impl, ':');
    return isa && strstr(isa, "bf16") != NULL;
}

static int is_convolution(int prim) { return prim == P_FWD || prim == P_BWD_D || prim == P_BWD_W; }

/* Makes the primitive of pd (destroyed after unless keep); 0 if it is oneDNN's reference
 * implementation (slower than im2col), a bf16 convolution without native bf16, or fails. */
static int make_prim(dnn_plan *p, int prim, dnnl_primitive_desc_t pd, int keep)
{
    const char *impl = NULL;
    int ok = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
             impl && strncmp(impl, "ref", 3) != 0 &&
             (!p->key.bf16 || !is_convolution(prim) || native_bf16(impl));
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (bytes > p->scratch)
        p->scratch = bytes;
    ok = ok && dnnl_primitive_create(&p->prim[prim], pd) == dnnl_success;
    if (!keep)
        dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* x's, w's and y's (or their gradients') descriptors with the layout left to oneDNN; the
 * flags say which of the three a bf16 plan holds in bf16 (the products' inputs). */
enum { LOW_X = 1, LOW_W = 2, LOW_Y = 4 };

static int any_layouts(const dnn_plan *p, const conv_shape *s, int low, dnnl_memory_desc_t *x,
                       dnnl_memory_desc_t *w, dnnl_memory_desc_t *y)
{
    dnnl_data_type_t bf = p->key.bf16 ? dnnl_bf16 : dnnl_f32;
    return typed_md(x, 4, s->src, low & LOW_X ? bf : dnnl_f32, dnnl_format_tag_any) &&
           typed_md(w, 4, s->wei, low & LOW_W ? bf : dnnl_f32, dnnl_format_tag_any) &&
           typed_md(y, 4, s->dst, low & LOW_Y ? bf : dnnl_f32, dnnl_format_tag_any);
}

static int make_forward(dnn_plan *p, const dnn_cache *c, const conv_shape *s)
{
    dnnl_memory_desc_t src, wei, dst;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    if (!any_layouts(p, s, LOW_X | LOW_W, &src, &wei, &dst) ||
        dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                           &src, &wei, p->key.bias ? &p->md[S_B] : NULL, &dst,
                                           s->strides, s->pad_l, s->pad_r) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &cd, c->attr, c->engine, NULL) != dnnl_success)
        return 0;
    p->fwd_pd = pd;
    take_md(p, pd, dnnl_query_src_md, S_XF);
    take_md(p, pd, dnnl_query_weights_md, S_WF);
    take_md(p, pd, dnnl_query_dst_md, S_YF);
    p->used[S_X] = p->used[S_W] = p->used[S_Y] = 1;
    p->used[S_B] = p->key.bias;
    return make_prim(p, P_FWD, pd, 1);
}

static int make_bwd_data(dnn_plan *p, const dnn_cache *c, const conv_shape *s)
{
    dnnl_memory_desc_t dsrc, wei, ddst;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    if (!any_layouts(p, s, LOW_W | LOW_Y, &dsrc, &wei, &ddst) ||
        dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &dsrc, &wei, &ddst,
                                                 s->strides, s->pad_l, s->pad_r) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &cd, c->attr, c->engine, p->fwd_pd) != dnnl_success)
        return 0;
    take_md(p, pd, dnnl_query_diff_src_md, S_DXD);
    take_md(p, pd, dnnl_query_weights_md, S_WD);
    take_md(p, pd, dnnl_query_diff_dst_md, S_DYD);
    p->used[S_DX] = p->used[S_DY] = p->used[S_W] = 1;
    return make_prim(p, P_BWD_D, pd, 0);
}

static int make_bwd_weights(dnn_plan *p, const dnn_cache *c, const conv_shape *s)
{
    dnnl_memory_desc_t src, dwei, ddst;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    if (!any_layouts(p, s, LOW_X | LOW_Y, &src, &dwei, &ddst) ||
        dnnl_convolution_backward_weights_desc_init(
            &cd, dnnl_convolution_direct, &src, &dwei, p->key.bias ? &p->md[S_DB] : NULL, &ddst,
            s->strides, s->pad_l, s->pad_r) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &cd, c->attr, c->engine, p->fwd_pd) != dnnl_success)
        return 0;
    take_md(p, pd, dnnl_query_src_md, S_XW);
    take_md(p, pd, dnnl_query_diff_weights_md, S_DWW);
    take_md(p, pd, dnnl_query_diff_dst_md, S_DYW);
    p->used[S_X] = p->used[S_DY] = p->used[S_DW] = 1;
    p->used[S_DB] = p->key.bias;
    return make_prim(p, P_BWD_W, pd, 0);
}

/* Whether reorder r is needed: both slots in use, and a layout change or an accumulation. */
static int reorder_needed(const dnn_plan *p, const struct reorder_row *r)
{
    return p->used[r->from] && p->used[r->to] &&
           (r->sum || !dnnl_memory_desc_equal(&p->md[r->from], &p->md[r->to]));
}

/* Makes the reorders the slots in use need and do not have yet. */
static int make_reorders(dnn_plan *p, const dnn_cache *c)
{
    for (int i = 0; i < N_REORDERS; i++) {
        const struct reorder_row *r = &REORDERS[i];
        if (p->prim[r->prim] || !reorder_needed(p, r))
            continue;
        dnnl_primitive_desc_t pd = NULL;
        if (dnnl_reorder_primitive_desc_create(&pd, &p->md[r->from], c->engine, &p->md[r->to],
                                               c->engine, r->sum ? c->attr_sum : c->attr) !=
                dnnl_success ||
            !make_prim(p, r->prim, pd, 0))
            return 0;
    }
    return 1;
}

static dnn_plan *plan_new(dnn_cache *c, const dnn_key *k)
{
    dnn_plan *p = sl_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->key = *k;
    conv_shape s = shape_of(k);
    p->ok = plain_mds(p, &s) && make_forward(p, c, &s) && make_reorders(p, c);
    p->next = c->plans;
    c->plans = p;
    return p;
}

/* Makes the backward primitives need_dx / need_dw ask for; 0 if oneDNN declines one. */
static int plan_backward(dnn_plan *p, const dnn_cache *c, int need_dx, int need_dw)
{
    conv_shape s = shape_of(&p->key);
    if (need_dx && !p->bwd_d)
        p->bwd_d = make_bwd_data(p, c, &s) && make_reorders(p, c) ? 1 : -1;
    if (need_dw && !p->bwd_w)
        p->bwd_w = make_bwd_weights(p, c, &s) && make_reorders(p, c) ? 1 : -1;
    return (!need_dx || p->bwd_d > 0) && (!need_dw || p->bwd_w > 0);
}

static dnn_plan *plan_find(dnn_cache *c, const dnn_key *k)
{
    for (dnn_plan *p = c->plans; p; p = p->next)
        if (memcmp(&p->key, k, sizeof *k) == 0)
            return p;
    return plan_new(c, k);
}

/* The plan's memory objects and stream for thread t (made on the caller, before a run). */
static int plan_thread(dnn_plan *p, const dnn_cache *c, int t)
{
    dnn_thread *th = p->thr[t];
    if (!th) {
        th = p->thr[t] = sl_calloc(1, sizeof *th);
        if (!th || dnnl_stream_create(&th->stream, c->engine, dnnl_stream_default_flags) !=
                       dnnl_success)
            return 0;
    }
    /* The scratchpad grows when backward primitives join the plan. */
    dnnl_dims_t bytes = {p->scratch ? (dnnl_dim_t)p->scratch : 1};
    if (dnnl_memory_desc_init_by_tag(&p->md[S_SCRATCH], 1, bytes, dnnl_u8, dnnl_a) !=
        dnnl_success)
        return 0;
    p->used[S_SCRATCH] = 1;
    if (th->mem[S_SCRATCH] && th->scratch != p->scratch) {
        dnnl_memory_destroy(th->mem[S_SCRATCH]);
        th->mem[S_SCRATCH] = NULL;
    }
    th->scratch = p->scratch;
    for (int s = 0; s < S_COUNT; s++)
        if (p->used[s] && !th->mem[s] &&
            dnnl_memory_create(&th->mem[s], &p->md[s], c->engine, DNNL_MEMORY_NONE) !=
                dnnl_success)
            return 0;
    return 1;
}

/* ---- running ------------------------------------------------------------------------------ */

/* One call: the primitive's arguments bound to the buffers in buf. */
static dnnl_status_t run(const dnn_plan *p, dnn_thread *th, int prim, void *const *buf)
{
    arg_row r = args_of(prim, p->key.bias);
    dnnl_exec_arg_t args[6];
    for (int i = 0; i < r.n; i++) {
        dnnl_memory_t m = th->mem[r.slot[i]];
        dnnl_status_t st = dnnl_memory_set_data_handle_v2(m, buf[r.slot[i]], th->stream);
        if (st != dnnl_success)
            return st;
        args[i].arg = r.arg[i];
        args[i].memory = m;
    }
    dnnl_status_t st = dnnl_primitive_execute(p->prim[prim], th->stream, r.n, args);
    return st == dnnl_success ? dnnl_stream_wait(th->stream) : st;
}

/* Runs reorder prim if the plan has it; otherwise its target slot is its source's buffer. */
static dnnl_status_t reorder_or_alias(const dnn_plan *p, dnn_thread *th, int prim, void **buf)
{
    for (int i = 0; i < N_REORDERS; i++)
        if (REORDERS[i].prim == prim) {
            if (p->prim[prim])
                return run(p, th, prim, buf);
            buf[REORDERS[i].to] = buf[REORDERS[i].from];
        }
    return dnnl_success;
}

/* Bytes of slot in the plan (0 if unused). */
static size_t slot_bytes(const dnn_plan *p, int slot)
{
    return p->used[slot] ? dnnl_memory_desc_get_size(&p->md[slot]) : 0;
}

/* The per-thread buffers of each phase, in this order in a thread's region: the scratchpad,
 * then the oneDNN layouts of the part's images. Forward and backward are separate calls, so
 * their slots share the region. */
typedef enum { PHASE_FORWARD, PHASE_BACKWARD } dnn_phase;
static const int FORWARD_SLOTS[] = {S_SCRATCH, S_XF, S_YF, -1};
static const int BACKWARD_SLOTS[] = {S_SCRATCH, S_DYD, S_DXD, S_XW, S_DYW, -1};

static const int *phase_slots(dnn_phase phase)
{
    return phase == PHASE_FORWARD ? FORWARD_SLOTS : BACKWARD_SLOTS;
}

static size_t round_up(size_t n) { return (n + 63) & ~(size_t)63; }

/* The bytes one thread's region needs for plan p in phase (only the slots p reorders into). */
static size_t thread_bytes(const dnn_plan *p, dnn_phase phase)
{
    size_t total = 0;
    for (const int *slot = phase_slots(phase); *slot >= 0; slot++)
        total += round_up(slot_bytes(p, *slot));
    return total;
}

/* Points buf's per-thread slots of phase into region. */
static void thread_buffers(const dnn_plan *p, dnn_phase phase, char *region, void **buf)
{
    for (const int *slot = phase_slots(phase); *slot >= 0; slot++) {
        buf[*slot] = region;
        region += round_up(slot_bytes(p, *slot));
    }
}

struct sl_dnn_conv_saved {
    sl_graph *g;
    sl_dnn_conv_args a;
    dnn_plan *plan;         /* for parts of SL_DNN_PART images */
    int parts, threads;
    int last;               /* images in the last part: SL_DNN_PART, or fewer */
    dnn_phase phase;        /* of the call running now */
    size_t thread_bytes;    /* per thread, in that phase: the plan's thread_bytes */
    char *regions;          /* threads x thread_bytes: the cache's work, during the call */
    float *wf, *wd;         /* w in the forward and backward-data layouts */
    float *stage_x, *stage_y, *stage_dx; /* a short last part, padded with zero images */
    char *x_kept;           /* parts x x's oneDNN layout, kept for backward weights (or NULL) */
    char *dww;              /* parts x the plan's dW size: dW of each part, in its layout */
    float *dbp;             /* parts x O: db of each part */
    atomic_int status;      /* the first failed oneDNN call's status */
    const char *failed;     /* and what it was */
};

typedef sl_dnn_conv_saved conv_run;

static void note_failure(conv_run *r, dnnl_status_t st, const char *what)
{
    int expected = dnnl_success;
    if (st != dnnl_success && atomic_compare_exchange_strong(&r->status, &expected, (int)st))
        r->failed = what;
}

static void omp_single(void)
{
#ifdef SLOPE_ONEDNN_OMP
    omp_set_num_threads(1);
#endif
}

static size_t x_image(const sl_dnn_conv_args *a) { return (size_t)a->C * a->H * a->W; }
static size_t y_image(const sl_dnn_conv_args *a) { return (size_t)a->O * a->OH * a->OW; }

/* The short last part's images of src (image size n floats) into stage, zero images after. */
static void stage_in(const conv_run *r, const float *src, size_t n, float *stage)
{
    memcpy(stage, src, (size_t)r->last * n * sizeof(float));
    memset(stage + (size_t)r->last * n, 0, (size_t)(SL_DNN_PART - r->last) * n * sizeof(float));
}

static int is_short(const conv_run *r, int64_t k)
{
    return k == r->parts - 1 && r->last < SL_DNN_PART;
}

/* buf with part k's images of x and y (staged when the part is short), w, b and thread t's
 * region. */
static void part_buffers(const conv_run *r, int64_t k, int t, void **buf)
{
    const sl_dnn_conv_args *a = &r->a;
    const dnn_plan *p = r->plan;
    size_t n0 = (size_t)k * SL_DNN_PART;
    memset(buf, 0, S_COUNT * sizeof *buf);
    thread_buffers(p, r->phase, r->regions + (size_t)t * r->thread_bytes, buf);
    buf[S_X] = (void *)(a->x + n0 * x_image(a));
    buf[S_Y] = a->y + n0 * y_image(a);
    if (is_short(r, k)) {
        stage_in(r, buf[S_X], x_image(a), r->stage_x);
        buf[S_X] = r->stage_x;
        buf[S_Y] = r->stage_y;
    }
    buf[S_W] = (void *)a->w;
    buf[S_B] = (void *)a->b;
    buf[S_WF] = p->prim[P_W] ? (void *)r->wf : buf[S_W];
    buf[S_WD] = p->prim[P_WD] ? (void *)r->wd : buf[S_W];
    if (!p->prim[P_Y]) /* oneDNN writes y itself */
        buf[S_YF] = buf[S_Y];
}

/* Whether backward weights reads x in the layout forward reorders it into: then forward
 * keeps each part's reordered x in the arena and backward skips its own reorder. */
static int keeps_x(const dnn_plan *p)
{
    return p->prim[P_X] && p->prim[P_XW] && dnnl_memory_desc_equal(&p->md[S_XF], &p->md[S_XW]);
}

static void *kept_x(const conv_run *r, int64_t k)
{
    return r->x_kept + (size_t)k * round_up(slot_bytes(r->plan, S_XF));
}

static void forward_part(void *ctx, int64_t k, int t)
{
    conv_run *r = ctx;
    const dnn_plan *p = r->plan;
    dnn_thread *th = p->thr[t];
    void *buf[S_COUNT];
    omp_single();
    part_buffers(r, k, t, buf);
    if (r->x_kept)
        buf[S_XF] = kept_x(r, k);
    dnnl_status_t st = reorder_or_alias(p, th, P_X, buf);
    if (st == dnnl_success)
        st = run(p, th, P_FWD, buf);
    if (st == dnnl_success && p->prim[P_Y])
        st = run(p, th, P_Y, buf);
    if (is_short(r, k))
        memcpy(r->a.y + (size_t)k * SL_DNN_PART * y_image(&r->a), r->stage_y,
               (size_t)r->last * y_image(&r->a) * sizeof(float));
    note_failure(r, st, "convolution forward");
}

/* dx (part k) += backward data of dy. */
static dnnl_status_t backward_data_part(const dnn_plan *p, dnn_thread *th, void **buf)
{
    dnnl_status_t st = reorder_or_alias(p, th, P_DYD, buf);
    if (st == dnnl_success)
        st = run(p, th, P_BWD_D, buf);
    return st == dnnl_success ? run(p, th, P_DX, buf) : st;
}

/* dW and db of part k into the part's partials. */
static dnnl_status_t backward_weights_part(const conv_run *r, dnn_thread *th, int64_t k,
                                           void **buf)
{
    const dnn_plan *p = r->plan;
    buf[S_DWW] = r->dww + (size_t)k * round_up(slot_bytes(p, S_DWW));
    buf[S_DB] = r->dbp ? r->dbp + (size_t)k * r->a.O : NULL;
    dnnl_status_t st = dnnl_success;
    if (r->x_kept)
        buf[S_XW] = kept_x(r, k);
    else if ((st = reorder_or_alias(p, th, P_XW, buf)) != dnnl_success)
        return st;
    if (p->prim[P_DYW] && p->prim[P_DYD] && buf[S_DYD] &&
        dnnl_memory_desc_equal(&p->md[S_DYD], &p->md[S_DYW]))
        buf[S_DYW] = buf[S_DYD]; /* backward data has reordered dy already */
    else if ((st = reorder_or_alias(p, th, P_DYW, buf)) != dnnl_success)
        return st;
    return run(p, th, P_BWD_W, buf);
}

typedef struct backward_job {
    conv_run *r;
    const float *dy;
    float *dx;
    int want_w;
} backward_job;

/* Part k's dy and dx; a short part's are staged in the forward's y and dx stages, with
 * dx's current values (the reorder adds to them). */
static void backward_buffers(const backward_job *j, int64_t k, void **buf)
{
    const conv_run *r = j->r;
    const sl_dnn_conv_args *a = &r->a;
    size_t n0 = (size_t)k * SL_DNN_PART;
    buf[S_DY] = (void *)(j->dy + n0 * y_image(a));
    buf[S_DX] = j->dx ? j->dx + n0 * x_image(a) : NULL;
    if (is_short(r, k)) {
        stage_in(r, buf[S_DY], y_image(a), r->stage_y);
        buf[S_DY] = r->stage_y;
        if (j->dx) {
            stage_in(r, buf[S_DX], x_image(a), r->stage_dx);
            buf[S_DX] = r->stage_dx;
        }
    }
}

static void backward_part(void *ctx, int64_t k, int t)
{
    const backward_job *j = ctx;
    conv_run *r = j->r;
    const dnn_plan *p = r->plan;
    dnn_thread *th = p->thr[t];
    void *buf[S_COUNT];
    omp_single();
    part_buffers(r, k, t, buf);
    backward_buffers(j, k, buf);
    if (j->dx) {
        note_failure(r, backward_data_part(p, th, buf), "convolution backward data");
        if (is_short(r, k))
            memcpy(j->dx + (size_t)k * SL_DNN_PART * x_image(&r->a), r->stage_dx,
                   (size_t)r->last * x_image(&r->a) * sizeof(float));
    } else {
        buf[S_DYD] = NULL; /* not reordered: backward weights must not reuse it */
    }
    if (j->want_w)
        note_failure(r, backward_weights_part(r, th, k, buf), "convolution backward weights");
}

/* ---- the entry points ------------------------------------------------------------------ */

/* Sets this thread's OpenMP to one thread (oneDNN's kernels are made and run for one);
 * returns the setting to restore. */
static int omp_enter(void)
{
#ifdef SLOPE_ONEDNN_OMP
    int prev = omp_get_max_threads();
    omp_set_num_threads(1);
    return prev;
#else
    return 0;
#endif
}

static void omp_leave(int prev)
{
#ifdef SLOPE_ONEDNN_OMP
    omp_set_num_threads(prev);
#else
    (void)prev;
#endif
}

/* The plan of key k with its backward primitives when saving; NULL if oneDNN declines.  A
 * bf16 plan must have all three convolutions native, whatever this call needs, so a shape
 * computes in one precision in training and evaluation alike. */
static dnn_plan *usable_plan(dnn_cache *c, const dnn_key *k, const sl_dnn_conv_args *a,
                             int saving)
{
    dnn_plan *p = plan_find(c, k);
    if (!p || !p->ok)
        return NULL;
    if (k->bf16 ? !plan_backward(p, c, 1, 1)
                : saving && !plan_backward(p, c, a->need_dx, a->need_dw))
        return NULL;
    return p;
}

/* Whether a small bf16 conv gets native bf16 kernels, forward and backward: made in a cache
 * of its own and thrown away. */
static int probe_bf16(void)
{
    dnn_cache *c = cache_new();
    if (!c)
        return 0;
    dnn_key k = {SL_DNN_PART, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1};
    sl_dnn_conv_args a;
    memset(&a, 0, sizeof a);
    a.need_dx = a.need_dw = 1;
    int prev = omp_enter();
    int ok = usable_plan(c, &k, &a, 1) != NULL;
    omp_leave(prev);
    cache_free(c);
    return ok;
}

static atomic_int g_bf16_supported = -1;

int sl_bf16_supported(void)
{
    if (sl_conv_backend_get() != SL_CONV_ONEDNN) /* SLOPE_CONV=im2col: fp32 convolutions */
        return 0;
    int v = atomic_load(&g_bf16_supported);
    if (v < 0) {
        v = probe_bf16();
        atomic_store(&g_bf16_supported, v);
    }
    return v;
}

/* Finds or makes the plan's primitives (backward ones too when saving) and the resources of
 * threads 0..threads-1; 0 if oneDNN declines any of it.  A bf16 conv whose bf16 plan oneDNN
 * declines takes the fp32 plan. */
static int plan_ready(dnn_cache *c, conv_run *r, int saving)
{
    const sl_dnn_conv_args *a = &r->a;
    dnn_key k = {SL_DNN_PART, a->C, a->H, a->W, a->O, a->kh, a->kw, a->stride, a->pad,
                 a->b != NULL, a->bf16 != 0};
    dnn_plan *p = usable_plan(c, &k, a, saving);
    if (!p && k.bf16) {
        k.bf16 = 0;
        p = usable_plan(c, &k, a, saving);
    }
    if (!(r->plan = p))
        return 0;
    for (int t = 0; t < r->threads; t++)
        if (!plan_thread(p, c, t))
            return 0;
    return 1;
}

static void *take(sl_graph *g, size_t bytes, int *ok)
{
    void *p = *ok ? sl_ag_alloc(g, bytes) : NULL;
    *ok = p != NULL;
    return p;
}

/* Points r's regions at the cache's work, grown to threads regions of phase if smaller (only
 * the first steps grow it); 0 if out of memory. */
static int take_regions(dnn_cache *c, conv_run *r, dnn_phase phase, int threads)
{
    r->phase = phase;
    r->thread_bytes = thread_bytes(r->plan, phase);
    size_t bytes = r->thread_bytes * (size_t)threads;
    if (bytes > c->work_bytes) {
        sl_free(c->work);
        c->work_bytes = 0;
        if ((c->work = sl_aligned_alloc(64, bytes)) == NULL)
            return 0;
        c->work_bytes = bytes;
    }
    r->regions = c->work;
    return 1;
}

/* Arena buffers: w's layouts, the stages, the partial gradients. */
static int take_buffers(sl_graph *g, conv_run *r, int saving)
{
    const dnn_plan *p = r->plan;
    const sl_dnn_conv_args *a = &r->a;
    int ok = 1;
    if (p->prim[P_W])
        r->wf = take(g, slot_bytes(p, S_WF), &ok);
    if (saving && p->prim[P_WD])
        r->wd = take(g, slot_bytes(p, S_WD), &ok);
    if (r->last < SL_DNN_PART) {
        r->stage_x = take(g, SL_DNN_PART * x_image(a) * sizeof(float), &ok);
        r->stage_y = take(g, SL_DNN_PART * y_image(a) * sizeof(float), &ok);
        if (saving && a->need_dx)
            r->stage_dx = take(g, SL_DNN_PART * x_image(a) * sizeof(float), &ok);
    }
    if (saving && a->need_dw && keeps_x(p))
        r->x_kept = take(g, round_up(slot_bytes(p, S_XF)) * (size_t)r->parts, &ok);
    if (saving && a->need_dw) {
        r->dww = take(g, round_up(slot_bytes(p, S_DWW)) * (size_t)r->parts, &ok);
        if (a->b)
            r->dbp = take(g, (size_t)r->parts * a->O * sizeof(float), &ok);
    }
    return ok;
}

/* Reorders w into the layout of prim (P_W or P_WD), on thread 0's objects. */
static void reorder_weights(conv_run *r, int prim, float *into)
{
    const dnn_plan *p = r->plan;
    if (!p->prim[prim])
        return;
    void *buf[S_COUNT] = {0};
    thread_buffers(p, r->phase, r->regions, buf);
    buf[S_W] = (void *)r->a.w;
    buf[prim == P_W ? S_WF : S_WD] = into;
    note_failure(r, run(p, p->thr[0], prim, buf), "weights reorder");
}

static int report(conv_run *r)
{
    int st = atomic_load(&r->status);
    if (st == dnnl_success)
        return 1;
    sl_ag_fail(r->g, st == dnnl_out_of_memory ? SL_ERR_NOMEM : SL_ERR_UNSUPPORTED,
               "conv2d: oneDNN %s failed (dnnl status %d)", r->failed ? r->failed : "call", st);
    return 0;
}

static int forward_run(sl_graph *g, conv_run *r, int saving)
{
    dnn_cache *c = cache_of(g);
    if (!c || !plan_ready(c, r, saving))
        return 0;
    if (!take_buffers(g, r, saving) || !take_regions(c, r, PHASE_FORWARD, r->threads)) {
        sl_ag_fail(g, SL_ERR_NOMEM, "conv2d: out of memory for oneDNN's buffers");
        return -1;
    }
    reorder_weights(r, P_W, r->wf);
    if (atomic_load(&r->status) == dnnl_success)
        sl_par_run(r->parts, forward_part, r);
    return report(r) ? 1 : -1;
}

int sl_dnn_conv_forward(sl_graph *g, const sl_dnn_conv_args *a, int want_saved,
                        sl_dnn_conv_saved **saved)
{
    if (sl_conv_backend_get() != SL_CONV_ONEDNN || a->N < atomic_load(&g_min_batch))
        return 0;
    conv_run *r = sl_ag_alloc(g, sizeof *r);
    if (!r)
        return -1;
    memset(r, 0, sizeof *r);
    r->g = g;
    r->a = *a;
    r->parts = (a->N + SL_DNN_PART - 1) / SL_DNN_PART;
    r->last = a->N - (r->parts - 1) * SL_DNN_PART;
    r->threads = sl_par_threads() < r->parts ? sl_par_threads() : r->parts;
    atomic_init(&r->status, dnnl_success);
    int saving = want_saved && (a->need_dx || a->need_dw);
    int prev = omp_enter();
    int done = forward_run(g, r, saving);
    omp_leave(prev);
    if (done == 1) {
        atomic_fetch_add(&g_dnn_count, 1);
        if (r->plan->key.bf16)
            atomic_fetch_add(&g_dnn_bf16_count, 1);
        if (saved)
            *saved = want_saved ? r : NULL;
    }
    return done;
}

/* Adds each part's dW (in the plan's layout) and db to dw and db, in part order. */
static void reduce_weights(conv_run *r, float *dw, float *db)
{
    const dnn_plan *p = r->plan;
    for (int k = 0; k < r->parts; k++) {
        if (dw) {
            void *buf[S_COUNT] = {0};
            thread_buffers(p, r->phase, r->regions, buf);
            buf[S_DWW] = r->dww + (size_t)k * round_up(slot_bytes(p, S_DWW));
            buf[S_DW] = dw;
            note_failure(r, run(p, p->thr[0], P_DW, buf), "weights gradient reorder");
        }
        if (db)
            sl_k_axpy(r->a.O, 1.0f, r->dbp + (size_t)k * r->a.O, db);
    }
}

void sl_dnn_conv_backward(const sl_dnn_conv_saved *saved, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db)
{
    conv_run *r = (conv_run *)saved; /* its status records failures */
    if ((dx && !r->a.need_dx) || ((dw || db) && !r->a.need_dw)) {
        sl_ag_fail(r->g, SL_ERR_STATE,
                   "conv2d: a gradient was asked for that forward did not prepare (an input's "
                   "requires_grad changed between forward and backward)");
        return;
    }
    r->a.x = x;
    r->a.w = w;
    backward_job j = {r, dy, dx, dw || db};
    int prev = omp_enter();
    int threads = sl_par_threads() < r->parts ? sl_par_threads() : r->parts;
    /* More threads than forward prepared for: its resources serve one. */
    int pooled = threads <= r->threads;
    if (!take_regions(sl_ag_cache(r->g), r, PHASE_BACKWARD, pooled ? threads : 1)) {
        omp_leave(prev);
        sl_ag_fail(r->g, SL_ERR_NOMEM, "conv2d: out of memory for oneDNN's buffers");
        return;
    }
    if (dx)
        reorder_weights(r, P_WD, r->wd);
    if (atomic_load(&r->status) == dnnl_success) {
        if (pooled)
            sl_par_run(r->parts, backward_part, &j);
        else
            for (int k = 0; k < r->parts; k++)
                backward_part(&j, k, 0);
    }
    if (j.want_w && atomic_load(&r->status) == dnnl_success)
        reduce_weights(r, dw, db);
    omp_leave(prev);
    report(r);
}

#endif
