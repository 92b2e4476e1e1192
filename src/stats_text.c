/*
 * stats_text.c - a statistics report as text: what a unit wholly <= 0 is
 * called ("dead" or "inactive", from the layer table's SL_LAYER_DIES) and
 * the one line per layer `slope train` prints (slope/stats.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "slope/stats.h"

const char *sl_stats_unit_word(sl_layer_type type)
{
    const sl_layer_def *d = sl_layer_def_of(type);
    if (!d || !(d->flags & SL_LAYER_ACTIVATION))
        return NULL;
    return (d->flags & SL_LAYER_DIES) ? "dead" : "inactive";
}

char *sl_stats_summary_line(const sl_stats *s, size_t i, char *buf, size_t size)
{
    const sl_layer_stats *l = sl_stats_layer(s, i);
    if (!l || !buf || size == 0)
        return NULL;
    char neg[32] = "-", alpha[80] = "";
    if (isfinite(l->neg_mean))
        snprintf(neg, sizeof neg, "%.3g", l->neg_mean);
    if (l->n_alpha == 1)
        snprintf(alpha, sizeof alpha, ", alpha %.3g", l->alpha_mean);
    else if (l->n_alpha > 1)
        snprintf(alpha, sizeof alpha, ", alpha %.3g [%.3g, %.3g]", l->alpha_mean, l->alpha_min,
                 l->alpha_max);
    const char *word = sl_stats_unit_word(l->act);
    /* "layer 3", or "layer 1.layers.2" inside a block: the name without its "layers.". */
    char where[160];
    if (strncmp(l->name, "layers.", 7) == 0)
        snprintf(where, sizeof where, "%s", l->name + 7);
    else
        snprintf(where, sizeof where, "%d", l->layer);
    snprintf(buf, size,
             "layer %s %s: %lld/%lld %s (%.1f%%), %lld since init, died %lld, revived %lld, "
             "neg mean %s%s",
             where, sl_layer_type_name(l->type), (long long)l->dead, (long long)l->units,
             word ? word : "dead", 100.0 * l->dead_frac, (long long)l->born_dead,
             (long long)l->died, (long long)l->revived, neg, alpha);
    return buf;
}
