/*
 * data_batch.c - the batch iterator: a seeded order per epoch, batches
 * written into the caller's buffers with no allocation.
 *
 * The order of epoch e is a Fisher-Yates shuffle of 0..count-1 drawn from
 * an sl_rng seeded with a mix of (seed, e), so any position can be restored
 * without replaying the epochs before it.
 */
#include <limits.h>
#include "alloc.h"
#include "data_internal.h"

#include <stdlib.h>

#include "slope/rng.h"

struct sl_batch_iter {
    const sl_dataset *ds;
    sl_batch_options opt;
    int64_t batches; /* per epoch */
    int64_t *order;  /* view positions, count */
    int64_t epoch;
    int64_t batch; /* the index of the batch next() returns */
};

static void make_order(sl_batch_iter *it)
{
    int64_t n = it->ds->count;
    for (int64_t i = 0; i < n; i++)
        it->order[i] = i;
    if (!it->opt.shuffle)
        return;
    sl_rng rng;
    sl_rng_seed(&rng, it->opt.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(it->epoch + 1)));
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)sl_rng_below(&rng, (uint64_t)i + 1);
        int64_t t = it->order[i];
        it->order[i] = it->order[j];
        it->order[j] = t;
    }
}

sl_batch_iter *sl_batch_iter_new(const sl_dataset *ds, const sl_batch_options *opt,
                                 sl_error *err)
{
    if (!ds || !opt || opt->batch_size < 1) {
        sl_error_set(err, SL_ERR_INVALID, "batch_iter: need a dataset and batch_size >= 1");
        return NULL;
    }
    int64_t n = ds->count, b = opt->batch_size;
    int64_t batches = opt->drop_last ? n / b : n / b + (n % b != 0);
    if (batches == 0) {
        sl_error_set(err, SL_ERR_INVALID,
                     "%s: batch size %lld with drop_last leaves no batch of its %lld samples",
                     ds->name, (long long)b, (long long)n);
        return NULL;
    }
    sl_batch_iter *it = sl_calloc(1, sizeof *it);
    int64_t *order = sl_malloc((size_t)n * sizeof *order);
    if (!it || !order) {
        sl_free(it);
        sl_free(order);
        sl_error_set(err, SL_ERR_NOMEM, "%s: cannot allocate a batch iterator", ds->name);
        return NULL;
    }
    *it = (sl_batch_iter){.ds = ds, .opt = *opt, .batches = batches, .order = order};
    make_order(it);
    return it;
}

void sl_batch_iter_free(sl_batch_iter *it)
{
    if (!it)
        return;
    sl_free(it->order);
    sl_free(it);
}

static void fill(const sl_batch_iter *it, int64_t start, int64_t n, float *x, int32_t *labels)
{
    const sl_dataset *ds = it->ds;
    int64_t size = ds->store->sample_size;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = sl_data_index(ds, it->order[start + i]);
        sl_data_convert(ds, s, x + i * size);
        labels[i] = ds->store->labels[s];
    }
}

sl_status sl_batch_iter_next(sl_batch_iter *it, float *x, int32_t *labels, int64_t *n,
                             sl_error *err)
{
    int64_t n_part;
    return sl_batch_iter_next_part(it, 0, 1, x, labels, n, &n_part, err);
}

sl_status sl_batch_iter_next_part(sl_batch_iter *it, int part, int parts, float *x,
                                  int32_t *labels, int64_t *n, int64_t *n_part, sl_error *err)
{
    if (!it || !x || !labels || !n || !n_part || parts < 1 || part < 0 || part >= parts)
        return sl_error_set(err, SL_ERR_INVALID, "batch_iter_next: bad argument");
    if (it->batch >= it->batches) {
        *n = *n_part = 0;
        it->epoch++;
        it->batch = 0;
        make_order(it);
        return SL_OK;
    }
    int64_t start = it->batch * it->opt.batch_size, left = it->ds->count - start;
    *n = left < it->opt.batch_size ? left : it->opt.batch_size;
    int64_t lo = *n * part / parts, hi = *n * (part + 1) / parts;
    *n_part = hi - lo;
    fill(it, start + lo, *n_part, x, labels);
    it->batch++;
    return SL_OK;
}

int64_t sl_batch_iter_batches(const sl_batch_iter *it)
{
    return it ? it->batches : 0;
}

void sl_batch_iter_position(const sl_batch_iter *it, int64_t *epoch, int64_t *batch)
{
    if (epoch)
        *epoch = it ? it->epoch : 0;
    if (batch)
        *batch = it ? it->batch : 0;
}

sl_status sl_batch_iter_seek(sl_batch_iter *it, int64_t epoch, int64_t batch, sl_error *err)
{
    if (!it)
        return sl_error_set(err, SL_ERR_INVALID, "batch_iter_seek: NULL iterator");
    /* Epochs are ints elsewhere (the trainer); the order seed uses epoch + 1. */
    if (epoch < 0 || epoch > INT_MAX || batch < 0 || batch > it->batches)
        return sl_error_set(err, SL_ERR_INVALID,
                            "%s: cannot seek to epoch %lld batch %lld (0..%lld batches)",
                            it->ds->name, (long long)epoch, (long long)batch,
                            (long long)it->batches);
    if (epoch != it->epoch) {
        it->epoch = epoch;
        make_order(it);
    }
    it->batch = batch;
    return SL_OK;
}
