/*
 * nn_layer_def.c - reading the layer table (nn_layers.c): lookup by type
 * and name, defaults, key values, validation, shape inference, gains and
 * multiply-adds, and the init kinds' names.  Nothing here knows a layer
 * type; everything asks the rows.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "nn_internal.h"

const sl_layer_def *sl_layer_def_of(sl_layer_type type)
{
    if ((int)type < 0 || type >= SL_LAYER_TYPE_COUNT)
        return NULL;
    return &sl_nn_layer_table[type];
}

const sl_layer_def *sl_layer_def_find(const char *name)
{
    for (int t = 0; name && t < SL_LAYER_TYPE_COUNT; t++)
        if (strcmp(name, sl_nn_layer_table[t].name) == 0)
            return &sl_nn_layer_table[t];
    return NULL;
}

const char *sl_layer_type_name(sl_layer_type type)
{
    const sl_layer_def *d = sl_layer_def_of(type);
    return d ? d->name : "unknown";
}

sl_status sl_layer_type_parse(const char *name, sl_layer_type *type, sl_error *err)
{
    SL_GUARD(name, err);
    SL_GUARD(type, err);
    const sl_layer_def *d = sl_layer_def_find(name);
    if (d) {
        *type = d->type;
        return SL_OK;
    }
    char list[320];
    size_t len = 0;
    list[0] = '\0';
    for (int t = 0; t < SL_LAYER_TYPE_COUNT && len < sizeof list; t++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", t ? ", " : "",
                                sl_nn_layer_table[t].name);
    return sl_error_set(err, SL_ERR_CONFIG, "unknown layer type \"%s\" (expected one of: %s)",
                        name, list);
}

int sl_layer_is_activation(sl_layer_type type)
{
    const sl_layer_def *d = sl_layer_def_of(type);
    return d && (d->flags & SL_LAYER_ACTIVATION) != 0;
}

sl_layer_type sl_layer_activation_of(const sl_layer_spec *spec)
{
    const sl_layer_def *d = spec ? sl_layer_def_of(spec->type) : NULL;
    if (d && (d->flags & SL_LAYER_ACTIVATION))
        return d->type;
    if (d && (d->flags & SL_LAYER_OWN_ACTIVATION) && d->activation)
        return d->activation(spec);
    return SL_LAYER_TYPE_COUNT;
}

/* ---- key values ---------------------------------------------------------------------- */

double sl_nn_key_value(const sl_layer_spec *spec, const sl_layer_key *k)
{
    const char *field = (const char *)spec + k->offset;
    int i;
    int64_t i64;
    float f;
    switch (k->kind) {
    case SL_KEY_INT64: memcpy(&i64, field, sizeof i64); return (double)i64;
    case SL_KEY_FLOAT: memcpy(&f, field, sizeof f); return (double)f;
    default: memcpy(&i, field, sizeof i); return (double)i;
    }
}

/* v has passed sl_nn_key_accepts (or is a default), so it fits the field's type; each
 * conversion is made only for its own kind (an out-of-range one would be undefined). */
void sl_nn_key_set(sl_layer_spec *spec, const sl_layer_key *k, double v)
{
    char *field = (char *)spec + k->offset;
    switch (k->kind) {
    case SL_KEY_INT64: {
        int64_t i64 = (int64_t)v;
        memcpy(field, &i64, sizeof i64);
        break;
    }
    case SL_KEY_FLOAT: {
        float f = (float)v;
        memcpy(field, &f, sizeof f);
        break;
    }
    default: {
        int i = (int)v;
        memcpy(field, &i, sizeof i);
        break;
    }
    }
}

const sl_layer_key *sl_nn_key_find(const sl_layer_def *d, const char *name)
{
    for (int i = 0; d && name && i < d->n_keys; i++)
        if (strcmp(d->keys[i].name, name) == 0)
            return &d->keys[i];
    return NULL;
}

const char *sl_nn_key_range_text(const sl_layer_key *k, char *buf, size_t size)
{
    int is_int = k->kind == SL_KEY_INT || k->kind == SL_KEY_INT64;
    if (k->kind == SL_KEY_BOOL || k->kind == SL_KEY_CHOICE || (isinf(k->lo) && isinf(k->hi)))
        snprintf(buf, size, "%s", "");
    else if (isinf(k->hi))
        snprintf(buf, size, "%s %g", k->lo_open ? ">" : ">=", k->lo);
    else if (isinf(k->lo))
        snprintf(buf, size, "%s %g", k->hi_open ? "<" : "<=", k->hi);
    else if (is_int)
        snprintf(buf, size, "%.0f to %.0f", k->lo, k->hi);
    else
        snprintf(buf, size, "%c%g, %g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
                 k->hi_open ? ')' : ']');
    return buf;
}

/* The messages follow the config reader's (config_check.c), so both paths read alike. */
int sl_nn_key_accepts(const sl_layer_key *k, double v, char *msg, size_t size)
{
    if (k->kind == SL_KEY_BOOL)
        return 1; /* any int: non-zero is true */
    if (k->kind == SL_KEY_CHOICE) {
        if (v >= 0 && v < k->n_choices && floor(v) == v)
            return 1;
        snprintf(msg, size, "must be a choice index 0 to %d, got %g", k->n_choices - 1, v);
        return 0;
    }
    if (!isfinite(v)) {
        snprintf(msg, size, "must be a finite number, got %g", v);
        return 0;
    }
    if (k->kind == SL_KEY_FLOAT && fabs(v) > FLT_MAX) {
        snprintf(msg, size, "is too large for a float, got %g", v);
        return 0;
    }
    if (k->kind != SL_KEY_FLOAT) {
        if (floor(v) != v) {
            snprintf(msg, size, "must be an integer, got %g", v);
            return 0;
        }
        if (v < k->lo || v > k->hi) {
            snprintf(msg, size, "must be %s %.0f, got %.0f", v < k->lo ? ">=" : "<=",
                     v < k->lo ? k->lo : k->hi, v);
            return 0;
        }
        return 1;
    }
    int lo_ok = k->lo_open ? v > k->lo : v >= k->lo;
    int hi_ok = k->hi_open ? v < k->hi : v <= k->hi;
    double f = (double)(float)v; /* what the float field will hold: 1e-50 > 0 becomes 0 */
    int f_ok = (k->lo_open ? f > k->lo : f >= k->lo) && (k->hi_open ? f < k->hi : f <= k->hi);
    if (lo_ok && hi_ok && !f_ok) {
        snprintf(msg, size, "%g rounds to %g as a float, outside the allowed range", v, f);
        return 0;
    }
    if (lo_ok && hi_ok)
        return 1;
    char range[64];
    sl_nn_key_range_text(k, range, sizeof range);
    snprintf(msg, size, "must be %s%s, got %g", isinf(k->lo) || isinf(k->hi) ? "" : "in ", range,
             v);
    return 0;
}

/* ---- defaults and validation --------------------------------------------------------- */

sl_layer_spec sl_layer_defaults(sl_layer_type type)
{
    sl_layer_spec s;
    memset(&s, 0, sizeof s);
    s.type = type;
    const sl_layer_def *d = sl_layer_def_of(type);
    for (int i = 0; d && i < d->n_keys; i++)
        sl_nn_key_set(&s, &d->keys[i], d->keys[i].def);
    return s;
}

/* A key whose default the row's check derives is unset while it holds the placeholder. */
static int key_unset(const sl_layer_spec *spec, const sl_layer_key *k)
{
    return k->def_doc && sl_nn_key_value(spec, k) == k->def;
}

sl_status sl_layer_spec_check(sl_layer_spec *spec, sl_error *err)
{
    SL_GUARD(spec, err);
    const sl_layer_def *d = sl_layer_def_of(spec->type);
    if (!d)
        return sl_error_set(err, SL_ERR_CONFIG, "unknown layer type %d", (int)spec->type);
    char msg[160];
    for (int i = 0; i < d->n_keys; i++) {
        const sl_layer_key *k = &d->keys[i];
        if (!key_unset(spec, k) && !sl_nn_key_accepts(k, sl_nn_key_value(spec, k), msg, sizeof msg))
            return sl_error_set(err, SL_ERR_CONFIG, "%s %s", k->name, msg);
    }
    const char *bad = d->check ? d->check(spec, ~0u, msg, sizeof msg) : NULL;
    if (bad)
        return sl_error_set(err, SL_ERR_CONFIG, "%s %s", bad, msg);
    return SL_OK;
}

sl_status sl_nn_layer_prepare(sl_layer_spec *spec, const char *label, const sl_shape *in,
                              sl_shape *out, sl_error *err)
{
    sl_error inner = {0};
    if (sl_layer_spec_check(spec, &inner) != SL_OK)
        return sl_error_set(err, inner.status, "layer %s (%s): %s", label,
                            sl_layer_type_name(spec->type), inner.message);
    const sl_layer_def *d = sl_layer_def_of(spec->type);
    *out = *in;
    const char *misfit = d->shape ? d->shape(spec, in, out) : NULL;
    if (misfit) {
        char sin[64];
        return sl_error_set(err, SL_ERR_SHAPE, "layer %s (%s): input %s: %s", label, d->name,
                            sl_nn_shape_str(in, sin, sizeof sin), misfit);
    }
    return SL_OK;
}

char *sl_nn_shape_str(const sl_shape *s, char *buf, size_t size)
{
    sl_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = s->ndim;
    for (int i = 0; i < s->ndim; i++)
        t.shape[i] = s->dim[i];
    return sl_shape_str(&t, buf, size);
}

/* ---- initialisation gain and FLOPs ---------------------------------------------------- */

double sl_nn_gain_for(const sl_layer_spec *act)
{
    const sl_layer_def *d = act ? sl_layer_def_of(act->type) : NULL;
    return d && d->gain ? d->gain(act) : 1.0;
}

int64_t sl_nn_layer_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out)
{
    const sl_layer_def *d = sl_layer_def_of(s->type);
    return d && d->macs ? d->macs(s, in, out) : 0;
}

/* ---- init kinds ------------------------------------------------------------------------ */

static const char *const init_names[] = {"kaiming_uniform", "kaiming_normal", "xavier_uniform",
                                         "xavier_normal", "pytorch"};

const char *sl_init_name(sl_init_kind kind)
{
    if ((int)kind < 0 || kind > SL_INIT_PYTORCH)
        return "unknown";
    return init_names[kind];
}

sl_status sl_init_parse(const char *name, sl_init_kind *kind, sl_error *err)
{
    SL_GUARD(name, err);
    SL_GUARD(kind, err);
    for (int k = 0; k <= SL_INIT_PYTORCH; k++)
        if (strcmp(name, init_names[k]) == 0) {
            *kind = (sl_init_kind)k;
            return SL_OK;
        }
    return sl_error_set(err, SL_ERR_CONFIG,
                        "unknown init \"%s\" (expected one of: kaiming_uniform, kaiming_normal, "
                        "xavier_uniform, xavier_normal, pytorch)",
                        name);
}
