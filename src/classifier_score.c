/*
 * classifier_score.c - how recognisable generated samples are, by a classifier
 * slope trained: exp(E_x[KL(p(y|x) || p(y))]) (the Inception score's form,
 * with the classifier of one's own data in place of Inception).  Near the
 * number of classes when every sample is confidently one class and the
 * classes are used evenly; 1 when the classifier cannot tell them apart.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "guard.h"
#include "slope/predict.h"
#include "slope/train.h"

/* exp(mean_i sum_k p_ik log(p_ik / pbar_k)), terms with p_ik = 0 counting 0. */
static double score_of(const float *p, int64_t n, int64_t c, const double *pbar)
{
    double kl = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < c; k++) {
            double q = p[i * c + k];
            if (q > 0.0 && pbar[k] > 0.0)
                kl += q * log(q / pbar[k]);
        }
    return exp(kl / (double)n);
}

sl_status sl_classifier_score(sl_model *classifier, const float *x, int64_t n, int64_t batch,
                              double *score, sl_error *err)
{
    SL_GUARD(classifier, err);
    SL_GUARD(x, err);
    SL_GUARD(score, err);
    int64_t out[4];
    if (n < 1 || batch < 1 || sl_model_output_shape(classifier, out) != 1 || out[0] < 2)
        return sl_error_set(err, SL_ERR_INVALID, "sl_classifier_score: needs n >= 1, batch >= 1 "
                            "and a classifier with one output per class (2 or more)");
    int64_t c = out[0], sample = 1, in[4];
    int nd = sl_model_layer_shape(classifier, -1, in);
    for (int d = 0; d < nd; d++)
        sample *= in[d];
    float *p = sl_malloc((size_t)n * (size_t)c * sizeof(float));
    double *pbar = sl_calloc((size_t)c, sizeof(double));
    sl_status st = p && pbar ? SL_OK : sl_error_set(err, SL_ERR_NOMEM, "sl_classifier_score: "
                                                    "out of memory for %lld x %lld", (long long)n,
                                                    (long long)c);
    for (int64_t at = 0; st == SL_OK && at < n; at += batch) {
        int64_t k = n - at < batch ? n - at : batch;
        st = sl_predict(classifier, x + at * sample, k, p + at * c, NULL, err);
    }
    if (st == SL_OK) {
        sl_softmax_rows(p, p, n, c); /* in place: predict.h allows it */
        for (int64_t i = 0; i < n * c; i++)
            pbar[i % c] += p[i] / (double)n;
        *score = score_of(p, n, c, pbar);
    }
    sl_free(p);
    sl_free(pbar);
    return st;
}
