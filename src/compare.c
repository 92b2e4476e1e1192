/*
 * compare.c - a comparison of activations (slope/compare.h): its options,
 * the activation labels, and the accessors to what the runs measured.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "compare_internal.h"

sl_compare_options sl_compare_defaults(void)
{
    sl_compare_options o;
    memset(&o, 0, sizeof o);
    return o;
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sl_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- activation labels -------------------------------------------------------------------- */

/* "leaky_relu:0.1" -> spec, by the layer table (sl_layer_spec_parse). */
static sl_status parse_label(const char *label, sl_layer_spec *spec, sl_error *err)
{
    sl_error inner = {0};
    if (sl_layer_spec_parse(label, spec, &inner) == SL_OK)
        return SL_OK;
    return sl_error_set(err, SL_ERR_CONFIG, "compare: %s", inner.message);
}

/* ---- the object --------------------------------------------------------------------------- */

/* "prelu (shared slope)", "prelu:channel (per-channel slopes)", else the label. */
static void set_title(sl_compare_entry *e)
{
    const sl_layer_spec *a = &e->pub.act;
    const char *what = a->type != SL_LAYER_PRELU ? ""
                       : a->per_channel          ? " (per-channel slopes)"
                                                 : " (shared slope)";
    snprintf(e->title, sizeof e->title, "%s%s", e->label, what);
    e->pub.title = e->title;
}

/* Run i = seed_index * n_acts + act. */
static sl_status set_run(sl_compare *c, size_t i, const sl_compare_options *o, sl_error *err)
{
    sl_compare_entry *e = &c->runs[i];
    size_t act = i % o->n_acts;
    const char *label = o->acts && o->acts[act] ? o->acts[act] : NULL;
    if (o->specs) {
        if (!sl_layer_is_activation(o->specs[act].type))
            return sl_error_set(err, SL_ERR_INVALID, "compare: specs[%zu] (%s) is not an "
                                                     "activation", act,
                                sl_layer_type_name(o->specs[act].type));
        e->pub.act = o->specs[act];
        if (!label)
            label = sl_layer_type_name(o->specs[act].type);
    } else if (!label) {
        return sl_error_set(err, SL_ERR_INVALID, "compare: acts[%zu] is NULL", act);
    } else if (parse_label(label, &e->pub.act, err) != SL_OK) {
        return err ? err->status : SL_ERR_CONFIG;
    }
    e->label = copy_string(label);
    if (!e->label)
        return sl_error_set(err, SL_ERR_NOMEM, "compare: out of memory");
    e->pub.label = e->label;
    set_title(e);
    e->pub.error = e->error;
    e->pub.act_index = act;
    e->pub.seed_index = (int)(i / o->n_acts);
    e->pub.seed = c->cfg->seed + (uint64_t)e->pub.seed_index;
    e->pub.final_test_acc = NAN;
    return SL_OK;
}

static sl_status set_strings(sl_compare *c, const sl_compare_options *o, sl_error *err)
{
    const char *name = c->cfg->name, *origin = c->cfg->origin;
    size_t n = strlen(name) + 16;
    c->out_dir = o->out_dir ? copy_string(o->out_dir) : sl_malloc(n);
    if (c->out_dir && !o->out_dir)
        snprintf(c->out_dir, n, "compare-%s", name);
    c->datasets_dir = o->datasets_dir ? copy_string(o->datasets_dir) : NULL;
    c->config_label = copy_string(o->config_label ? o->config_label : origin);
    if (!c->out_dir || !c->config_label || (o->datasets_dir && !c->datasets_dir))
        return sl_error_set(err, SL_ERR_NOMEM, "compare: out of memory");
    return SL_OK;
}

sl_compare *sl_compare_new(const sl_config *cfg, const sl_compare_options *opt, sl_error *err)
{
    if (!cfg || !opt || opt->n_acts == 0 || (!opt->acts && !opt->specs)) {
        sl_error_set(err, SL_ERR_INVALID, "sl_compare_new: %s", !cfg || !opt ? "NULL argument"
                                                                      : "no activations");
        return NULL;
    }
    if (!cfg->name || !cfg->origin) { /* every loaded config has both */
        sl_error_set(err, SL_ERR_INVALID, "sl_compare_new: the config has no name or origin");
        return NULL;
    }
    if (opt->seeds < 0 || (size_t)opt->seeds > SIZE_MAX / sizeof(sl_compare_entry) / opt->n_acts) {
        sl_error_set(err, SL_ERR_INVALID, "sl_compare_new: seeds must be >= 0 (got %d)",
                     opt->seeds);
        return NULL;
    }
    int seeds = opt->seeds > 1 ? opt->seeds : 1;
    sl_compare *c = sl_calloc(1, sizeof *c);
    if (c) {
        c->cfg = cfg;
        c->cb = opt->callbacks;
        c->n_acts = opt->n_acts;
        c->n_seeds = seeds;
        c->runs = sl_calloc(opt->n_acts * (size_t)seeds, sizeof *c->runs);
    }
    if (!c || !c->runs) {
        sl_compare_free(c);
        sl_error_set(err, SL_ERR_NOMEM, "sl_compare_new: out of memory");
        return NULL;
    }
    for (; c->n_runs < opt->n_acts * (size_t)seeds; c->n_runs++)
        if (set_run(c, c->n_runs, opt, err) != SL_OK) {
            c->n_runs++; /* free what set_run allocated */
            sl_compare_free(c);
            return NULL;
        }
    if (set_strings(c, opt, err) != SL_OK) {
        sl_compare_free(c);
        return NULL;
    }
    return c;
}

void sl_compare_free(sl_compare *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_runs; i++) {
        sl_free(c->runs[i].label);
        sl_free(c->runs[i].hists);
    }
    sl_free(c->runs);
    sl_free(c->rows);
    sl_free(c->out_dir);
    sl_free(c->datasets_dir);
    sl_free(c->config_label);
    sl_free(c);
}

sl_status sl_compare_add_row(sl_compare *c, const sl_compare_row *row, sl_error *err)
{
    if (c->n_rows == c->cap_rows) {
        size_t cap = c->cap_rows ? 2 * c->cap_rows : 256;
        sl_compare_row *grown = sl_realloc(c->rows, cap * sizeof *grown);
        if (!grown)
            return sl_error_set(err, SL_ERR_NOMEM, "compare: out of memory for the statistics");
        c->rows = grown;
        c->cap_rows = cap;
    }
    c->rows[c->n_rows++] = *row;
    return SL_OK;
}

/* ---- accessors ---------------------------------------------------------------------------- */

const sl_config *sl_compare_config(const sl_compare *c) { return c ? c->cfg : NULL; }
const char *sl_compare_out_dir(const sl_compare *c) { return c ? c->out_dir : NULL; }
int64_t sl_compare_probe_count(const sl_compare *c) { return c ? c->probe_count : 0; }
size_t sl_compare_num_runs(const sl_compare *c) { return c ? c->n_runs : 0; }
size_t sl_compare_num_acts(const sl_compare *c) { return c ? c->n_acts : 0; }
int sl_compare_num_seeds(const sl_compare *c) { return c ? c->n_seeds : 0; }

const sl_compare_run *sl_compare_get_run(const sl_compare *c, size_t i)
{
    return c && i < c->n_runs ? &c->runs[i].pub : NULL;
}

/* Seed by seed (runs seed_index * n_acts .. + n_acts - 1). */
int sl_compare_weights_shared(const sl_compare *c)
{
    int any = 0;
    for (size_t s = 0; c && s < (size_t)c->n_seeds; s++) {
        const sl_compare_run *first = NULL;
        for (size_t a = 0; a < c->n_acts; a++) {
            const sl_compare_run *r = &c->runs[s * c->n_acts + a].pub;
            if (!r->hashed)
                continue;
            if (first && r->initial_hash != first->initial_hash)
                return 0;
            first = first ? first : r;
        }
        any |= first != NULL;
    }
    return any;
}

const sl_compare_row *sl_compare_rows(const sl_compare *c, size_t *n)
{
    *n = c ? c->n_rows : 0;
    return c ? c->rows : NULL;
}

/* A run's layers are the rows of its first report. */
size_t sl_compare_num_layers(const sl_compare *c, size_t run)
{
    size_t n = 0, k = 0;
    while (c && k < c->n_rows && c->rows[k].run != run)
        k++;
    for (; c && k + n < c->n_rows; n++) {
        const sl_compare_row *r = &c->rows[k + n];
        if (r->run != run || r->step != c->rows[k].step)
            break;
    }
    return n;
}

sl_status sl_compare_get_layer(const sl_compare *c, size_t run, size_t k, sl_compare_layer *out,
                               sl_error *err)
{
    if (!out || k >= sl_compare_num_layers(c, run))
        return sl_error_set(err, SL_ERR_INVALID, "sl_compare_get_layer: run %zu has no layer %zu",
                            run, k);
    size_t j = 0;
    while (c->rows[j].run != run)
        j++;
    const sl_compare_row *first = &c->rows[j + k];
    memset(out, 0, sizeof *out);
    out->layer = first->l.layer;
    out->first = out->last = first->l;
    for (; j < c->n_rows; j++) {
        const sl_compare_row *r = &c->rows[j];
        if (r->run == run && r->l.layer == first->l.layer) {
            out->last = r->l;
            out->died += r->l.died;
            out->revived += r->l.revived;
        }
    }
    return SL_OK;
}
