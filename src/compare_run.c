/*
 * compare_run.c - the runs of a comparison (slope/compare.h): the data and
 * probe set (once), each seed's shared initial weights, each run's training
 * through sl_trainer_run_epoch, and the reports it takes at init and after
 * every epoch or every stats.every steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "compare_internal.h"
#include "nn_internal.h"

/* What every run of one sl_compare_run_all shares. */
typedef struct shared {
    sl_config view;        /* the config with layers below (activations swapped per run)
                            * and the seed of the runs under way */
    sl_layer_spec *layers; /* owned copy of the config's layers */
    sl_run_data data;
    const sl_dataset *eval; /* test split, else validation, else NULL */
    sl_dataset *probe;      /* the first stats.probe.count examples of the probe split */
    sl_model *ref;          /* the initial weights every run of the seed starts from */
    int64_t batches;        /* per epoch */
} shared;

/* One run in progress. */
typedef struct run_ctx {
    sl_compare *c;
    shared *s;
    size_t index;
    sl_model *model;
    sl_trainer *trainer;
    sl_stats *stats;
    sl_error *err;
} run_ctx;

/* ---- shared initial weights ----------------------------------------------------------------- */

/* The config's model with act in every activation layer and as every rnn layer's own
 * activation, initialised from the seed. */
static sl_model *build_model(shared *s, const sl_layer_spec *act, sl_error *err)
{
    for (size_t i = 0; i < s->view.model.num_layers; i++) {
        sl_layer_spec *l = &s->layers[i];
        if (sl_layer_is_activation(l->type)) {
            *l = *act;
        } else if (l->type == SL_LAYER_RNN) {
            sl_error inner = {0};
            if (sl_nn_rnn_set_activation(l, act, &inner) != SL_OK) {
                sl_error_set(err, SL_ERR_CONFIG, "compare: %s: model.layers entry %zu (rnn): %s",
                             s->view.origin, i, inner.message);
                return NULL;
            }
        }
    }
    return sl_run_build_model(&s->view, err);
}

static int is_shared(const sl_param *p)
{
    return p->role != SL_PARAM_PRELU_SLOPE;
}

/* Copies every shared parameter and buffer of the reference into m, by name. */
static sl_status copy_shared(const sl_model *ref, sl_model *m, sl_error *err)
{
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (!is_shared(p))
            continue;
        const sl_param *q = sl_model_find_param(ref, p->name);
        if (!q || q->tensor->size != p->tensor->size)
            return sl_error_set(err, SL_ERR_STATE, "compare: %s has no counterpart in the "
                                                   "reference model", p->name);
        memcpy(p->tensor->data, q->tensor->data, (size_t)p->tensor->size * sizeof(float));
    }
    return SL_OK;
}

/* Hashes the shared parameters (FNV-1a over names and bytes) and checks them against the
 * reference: the check, on the model as training receives it. */
static void check_shared(const sl_model *ref, const sl_model *m, sl_compare_run *r)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (!is_shared(p))
            continue;
        const unsigned char *bytes[2] = {(const unsigned char *)p->name,
                                         (const unsigned char *)p->tensor->data};
        size_t lens[2] = {strlen(p->name), (size_t)p->tensor->size * sizeof(float)};
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < lens[k]; j++)
                h = (h ^ bytes[k][j]) * 1099511628211ull;
        const sl_param *q = sl_model_find_param(ref, p->name);
        r->shared_tensors++;
        r->shared_scalars += p->tensor->size;
        r->shared_equal += q && q->tensor->size == p->tensor->size &&
                           memcmp(q->tensor->data, p->tensor->data, lens[1]) == 0;
    }
    r->initial_hash = h;
    r->hashed = 1;
}

/* ---- one run ---------------------------------------------------------------------------------- */

/* Measures now and records one row per activation layer. */
static sl_status report(run_ctx *r)
{
    int epoch = sl_trainer_epoch(r->trainer);
    int64_t step = sl_trainer_steps(r->trainer);
    if (sl_stats_measure(r->stats, epoch, step, r->err) != SL_OK)
        return r->err->status;
    double acc = NAN;
    if (r->s->eval) {
        /* In the trainer's graph at the training batch: no memory of its own. */
        sl_eval_result res = {0};
        if (sl_trainer_evaluate(r->trainer, r->s->eval, &res, r->err) != SL_OK)
            return r->err->status;
        acc = res.accuracy;
    }
    r->c->runs[r->index].pub.final_test_acc = acc;
    for (size_t i = 0; i < sl_stats_num_layers(r->stats); i++) {
        sl_compare_row row = {r->index, epoch, step, (double)step / (double)r->s->batches,
                              *sl_stats_layer(r->stats, i), acc};
        if (sl_compare_add_row(r->c, &row, r->err) != SL_OK)
            return r->err->status;
    }
    return SL_OK;
}

/* With stats.every N: a report every N steps (not at the epoch's end step, as before). */
static int on_step(const sl_step_info *info, void *user)
{
    run_ctx *r = user;
    return info->step % r->c->cfg->stats.every_steps == 0 && report(r) != SL_OK;
}

static sl_status train(run_ctx *r)
{
    int64_t every = r->c->cfg->stats.every_steps;
    const sl_compare_callbacks *cb = &r->c->cb;
    if (report(r) != SL_OK)
        return r->err->status;
    while (!sl_trainer_done(r->trainer)) {
        sl_epoch_result res;
        if (sl_trainer_run_epoch(r->trainer, every > 0 ? on_step : NULL, r, &res, r->err) != SL_OK)
            return r->err->status;
        if (res.stopped) /* on_step stopped: its report failed */
            return r->err->status;
        int due = every == 0 || (sl_trainer_done(r->trainer) &&
                                 sl_stats_step(r->stats) != sl_trainer_steps(r->trainer));
        if (due && report(r) != SL_OK) /* with every N, the last report ends training */
            return r->err->status;
        if (cb->epoch_done)
            cb->epoch_done(r->c, r->index, sl_trainer_epoch(r->trainer),
                           r->c->runs[r->index].pub.final_test_acc, cb->user);
    }
    return SL_OK;
}

/* The PReLU slopes at the end, in bins of 0.1-aligned bounds. */
static sl_status keep_histograms(run_ctx *r)
{
    sl_compare_entry *e = &r->c->runs[r->index];
    size_t n = sl_stats_num_layers(r->stats);
    e->hists = sl_calloc(n ? n : 1, sizeof *e->hists);
    if (!e->hists)
        return sl_error_set(r->err, SL_ERR_NOMEM, "compare: out of memory");
    for (size_t i = 0; i < n; i++) {
        const sl_layer_stats *l = sl_stats_layer(r->stats, i);
        if (!l->n_alpha)
            continue;
        sl_compare_hist *h = &e->hists[e->n_hists++];
        h->layer = l->layer;
        h->lo = floor(l->alpha_min * 10.0) / 10.0;
        h->hi = ceil(l->alpha_max * 10.0) / 10.0;
        if (!(h->hi > h->lo))
            h->hi = h->lo + 0.1;
        if (sl_stats_alpha_histogram(r->stats, i, h->lo, h->hi, SL_COMPARE_HIST_BINS, h->counts,
                                     r->err) != SL_OK)
            return r->err->status;
    }
    return SL_OK;
}

static sl_status setup_and_train(run_ctx *r)
{
    sl_compare_run *pub = &r->c->runs[r->index].pub;
    r->model = build_model(r->s, &pub->act, r->err);
    if (!r->model || copy_shared(r->s->ref, r->model, r->err) != SL_OK)
        return r->err->status;
    sl_train_options opt = sl_run_train_options(&r->s->view);
    r->trainer = sl_trainer_new(r->model, r->s->data.train, &opt, r->err);
    if (!r->trainer)
        return r->err->status;
    r->stats = sl_stats_new(r->model, r->s->probe, sl_run_probe_batch(r->c->cfg),
                            r->c->cfg->loss, r->err);
    if (!r->stats ||
        sl_stats_share_graph(r->stats, sl_trainer_graph(r->trainer), r->err) != SL_OK)
        return r->err->status;
    check_shared(r->s->ref, r->model, pub);
    if (pub->shared_equal != pub->shared_tensors)
        return sl_error_set(r->err, SL_ERR_STATE, "compare: run %s does not start from the "
                                                  "shared weights", pub->label);
    if (train(r) != SL_OK)
        return r->err->status;
    return keep_histograms(r);
}

static void run_one(sl_compare *c, shared *s, size_t index)
{
    sl_error err = {0};
    run_ctx r = {c, s, index, NULL, NULL, NULL, &err};
    sl_compare_entry *e = &c->runs[index];
    e->pub.attempted = 1;
    if (c->cb.run_started)
        c->cb.run_started(c, index, c->cb.user);
    if (setup_and_train(&r) != SL_OK) {
        e->pub.failed = 1;
        e->pub.status = err.status;
        memcpy(e->error, err.message, sizeof e->error);
        e->n_hists = 0; /* a failed run's slopes are not a result */
        if (c->cb.run_failed)
            c->cb.run_failed(c, index, &err, c->cb.user);
    }
    sl_stats_free(r.stats);
    sl_trainer_free(r.trainer);
    sl_model_free(r.model);
}

/* ---- the comparison --------------------------------------------------------------------------- */

static sl_status open_shared(sl_compare *c, shared *s, sl_error *err)
{
    const sl_config *cfg = c->cfg;
    if (sl_compare_make_dirs(c->out_dir, err) != SL_OK) /* fail before hours of training */
        return err->status;
    s->view = *cfg;
    s->layers = sl_malloc(cfg->model.num_layers * sizeof *s->layers);
    if (!s->layers)
        return sl_error_set(err, SL_ERR_NOMEM, "compare: out of memory");
    memcpy(s->layers, cfg->model.layers, cfg->model.num_layers * sizeof *s->layers);
    s->view.model.layers = s->layers;
    if (sl_run_data_open(cfg, c->datasets_dir, &s->data, err) != SL_OK)
        return err->status;
    s->eval = s->data.test ? s->data.test : s->data.val;
    s->probe = sl_run_probe_open(cfg, &s->data, err);
    if (!s->probe)
        return err->status;
    c->probe_count = sl_dataset_count(s->probe);
    int64_t n = sl_dataset_count(s->data.train), bs = cfg->train.batch_size;
    s->batches = cfg->train.drop_last ? n / bs : (n + bs - 1) / bs;
    return SL_OK;
}

/* Seed seed_index: the view's seed (data order, dropout, init) and its shared weights,
 * drawn for the first activation of the list. */
static sl_status open_seed(sl_compare *c, shared *s, int seed_index, sl_error *err)
{
    s->view.seed = c->cfg->seed + (uint64_t)seed_index;
    sl_model_free(s->ref);
    s->ref = build_model(s, &c->runs[0].pub.act, err);
    return s->ref ? SL_OK : err->status;
}

static void close_shared(shared *s)
{
    sl_model_free(s->ref);
    sl_dataset_free(s->probe);
    sl_run_data_close(&s->data);
    sl_free(s->layers);
}

sl_status sl_compare_run_all(sl_compare *c, sl_error *err)
{
    if (!c)
        return sl_error_set(err, SL_ERR_INVALID, "sl_compare_run_all: NULL comparison");
    if (c->ran)
        return sl_error_set(err, SL_ERR_STATE, "sl_compare_run_all: the runs were done already");
    c->ran = 1;
    sl_error local = {0};
    if (!err)
        err = &local;
    shared s;
    memset(&s, 0, sizeof s);
    sl_status st = open_shared(c, &s, err);
    for (int seed = 0; st == SL_OK && seed < c->n_seeds; seed++) {
        st = open_seed(c, &s, seed, err);
        for (size_t a = 0; st == SL_OK && a < c->n_acts; a++)
            run_one(c, &s, (size_t)seed * c->n_acts + a);
    }
    close_shared(&s);
    return st;
}
