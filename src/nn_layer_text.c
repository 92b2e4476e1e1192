/*
 * nn_layer_text.c - the layer table as text: short activation specs
 * ("prelu:channel:0.1", for `slope compare --act`), the names and short
 * forms help texts list, and the markdown layer reference of the README.
 * Like the rest of the nn files, it knows no layer type: it reads the rows.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h" /* sl_cfg_suggest */
#include "nn_internal.h"

#define TEXT_MAX 128

static int is_activation(const sl_layer_def *d)
{
    return (d->flags & SL_LAYER_ACTIVATION) != 0;
}

size_t sl_layer_activation_names(const char **names, size_t max)
{
    size_t n = 0;
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++) {
        const sl_layer_def *d = sl_layer_def_of((sl_layer_type)t);
        if (!is_activation(d))
            continue;
        if (names && n < max)
            names[n] = d->name;
        n++;
    }
    return n;
}

/* Appends to buf[size] at *len, keeping it terminated (truncates quietly). */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/* "prelu[:shared|channel][:init]": choice tokens go anywhere, numbers fill keys in order. */
const char *sl_layer_short_form(sl_layer_type type, char *buf, size_t size)
{
    const sl_layer_def *d = sl_layer_def_of(type);
    size_t len = 0;
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    if (!d)
        return buf;
    append(buf, size, &len, "%s", d->name);
    for (int i = 0; i < d->n_keys; i++) {
        const sl_layer_key *k = &d->keys[i];
        for (int c = 0; k->kind == SL_KEY_CHOICE && c < k->n_choices; c++)
            append(buf, size, &len, "%s%s", c ? "|" : "[:", k->choices[c].name);
        if (k->kind == SL_KEY_CHOICE)
            append(buf, size, &len, "]");
    }
    int open = 0;
    for (int i = 0; i < d->n_keys; i++)
        if (d->keys[i].kind != SL_KEY_CHOICE) {
            append(buf, size, &len, "[:%s", d->keys[i].name);
            open++;
        }
    while (open-- > 0)
        append(buf, size, &len, "]");
    return buf;
}

/* "relu, leaky_relu[:alpha], ..." */
static const char *activation_forms(char *buf, size_t size)
{
    size_t len = 0;
    char form[TEXT_MAX];
    buf[0] = '\0';
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++)
        if (is_activation(sl_layer_def_of((sl_layer_type)t)))
            append(buf, size, &len, "%s%s", len ? ", " : "",
                   sl_layer_short_form((sl_layer_type)t, form, sizeof form));
    return buf;
}

/* ---- short activation specs --------------------------------------------------------- */

static sl_status unknown_activation(const char *text, const char *name, const sl_layer_def *d,
                                    sl_error *err)
{
    char forms[400];
    activation_forms(forms, sizeof forms);
    if (d)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "activation \"%s\": \"%s\" is a layer, not an activation "
                            "(activations: %s)",
                            text, name, forms);
    const char *names[SL_LAYER_TYPE_COUNT];
    int n = (int)sl_layer_activation_names(names, SL_LAYER_TYPE_COUNT);
    const char *near = sl_cfg_suggest(name, names, n);
    if (near)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "activation \"%s\": unknown name \"%s\" (did you mean \"%s\"?); "
                            "activations: %s",
                            text, name, near, forms);
    return sl_error_set(err, SL_ERR_CONFIG,
                        "activation \"%s\": unknown name \"%s\"; activations: %s", text, name,
                        forms);
}

/* The choice key of d with a choice named tok: its index, the choice's in *choice; -1. */
static int choice_key(const sl_layer_def *d, const char *tok, int *choice)
{
    for (int i = 0; i < d->n_keys; i++)
        for (int c = 0; d->keys[i].kind == SL_KEY_CHOICE && c < d->keys[i].n_choices; c++)
            if (strcmp(d->keys[i].choices[c].name, tok) == 0) {
                *choice = c;
                return i;
            }
    return -1;
}

/* The first numeric key not given yet, or -1. */
static int next_number_key(const sl_layer_def *d, unsigned given)
{
    for (int i = 0; i < d->n_keys; i++)
        if (d->keys[i].kind != SL_KEY_CHOICE && !(given & (1u << i)))
            return i;
    return -1;
}

static int parse_number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*v);
}

/* Applies one ":" token to s; fills msg and returns 0 when it does not fit. */
static int apply_token(const sl_layer_def *d, const char *tok, sl_layer_spec *s, unsigned *given,
                       char *msg, size_t size)
{
    char form[TEXT_MAX];
    int choice = 0, k = choice_key(d, tok, &choice);
    double v;
    if (k >= 0) {
        if (*given & (1u << k)) {
            snprintf(msg, size, "%s given twice", d->keys[k].name);
            return 0;
        }
        sl_nn_key_set(s, &d->keys[k], choice);
    } else if (!parse_number(tok, &v)) {
        snprintf(msg, size, "\"%s\" is not a value of %s", tok,
                 sl_layer_short_form(d->type, form, sizeof form));
        return 0;
    } else if ((k = next_number_key(d, *given)) < 0) {
        snprintf(msg, size, "too many values (%s)",
                 sl_layer_short_form(d->type, form, sizeof form));
        return 0;
    } else {
        char why[120];
        if (!sl_nn_key_accepts(&d->keys[k], v, why, sizeof why)) {
            snprintf(msg, size, "%s %s", d->keys[k].name, why);
            return 0;
        }
        sl_nn_key_set(s, &d->keys[k], v);
    }
    *given |= 1u << k;
    return 1;
}

sl_status sl_layer_spec_parse(const char *text, sl_layer_spec *spec, sl_error *err)
{
    if (!text || !spec)
        return sl_error_set(err, SL_ERR_INVALID, "sl_layer_spec_parse: text or spec is NULL");
    char buf[TEXT_MAX];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
        return sl_error_set(err, SL_ERR_CONFIG, "activation \"%.40s...\": too long", text);
    char *args = strchr(buf, ':');
    if (args)
        *args++ = '\0';
    const sl_layer_def *d = sl_layer_def_find(buf);
    if (!d || !is_activation(d))
        return unknown_activation(text, buf, d, err);
    sl_layer_spec s = sl_layer_defaults(d->type);
    unsigned given = 0;
    char msg[200];
    while (args) {
        char *tok = args;
        args = strchr(args, ':');
        if (args)
            *args++ = '\0';
        if (!*tok)
            return sl_error_set(err, SL_ERR_CONFIG, "activation \"%s\": an empty value", text);
        if (!apply_token(d, tok, &s, &given, msg, sizeof msg))
            return sl_error_set(err, SL_ERR_CONFIG, "activation \"%s\": %s", text, msg);
    }
    const char *bad = d->check ? d->check(&s, given, msg, sizeof msg) : NULL;
    if (bad)
        return sl_error_set(err, SL_ERR_CONFIG, "activation \"%s\": %s %s", text, bad, msg);
    *spec = s;
    return SL_OK;
}

/* ---- the markdown reference ----------------------------------------------------------- */

typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put(text *t, const char *fmt, ...)
{
    for (int tries = 0; !t->failed && tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
        } else if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        } else {
            size_t cap = 2 * t->cap + (size_t)n + 1;
            char *grown = realloc(t->buf, cap); /* libc-alloc: the caller frees it */
            if (!grown)
                t->failed = 1;
            else {
                t->buf = grown;
                t->cap = cap;
            }
        }
    }
}

/* v as the shortest decimal that reads back as the same float (as the config writes it). */
static const char *float_text(float v, char *buf, size_t size)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    return buf;
}

static const char *choice_json(const sl_layer_choice *c, char *buf, size_t size)
{
    if (c->json)
        snprintf(buf, size, "`\"%s\"`", c->json);
    else
        snprintf(buf, size, "`%g`", c->number);
    return buf;
}

static const char *key_type(const sl_layer_key *k, char *buf, size_t size)
{
    static const char *const kinds[] = {"integer", "integer", "number", "boolean", ""};
    size_t len = 0;
    char json[64];
    buf[0] = '\0';
    if (k->kind != SL_KEY_CHOICE)
        append(buf, size, &len, "%s", kinds[k->kind]);
    for (int c = 0; k->kind == SL_KEY_CHOICE && c < k->n_choices; c++)
        append(buf, size, &len, "%s%s (%s)", c ? " or " : "",
               choice_json(&k->choices[c], json, sizeof json), k->choices[c].doc);
    return buf;
}

static const char *key_default(const sl_layer_key *k, char *buf, size_t size)
{
    char v[32];
    if (k->required)
        snprintf(buf, size, "required");
    else if (k->def_doc)
        snprintf(buf, size, "%s", k->def_doc);
    else if (k->kind == SL_KEY_BOOL)
        snprintf(buf, size, "`%s`", k->def != 0.0 ? "true" : "false");
    else if (k->kind == SL_KEY_CHOICE)
        choice_json(&k->choices[(int)k->def], buf, size);
    else if (k->kind == SL_KEY_FLOAT)
        snprintf(buf, size, "`%s`", float_text((float)k->def, v, sizeof v));
    else
        snprintf(buf, size, "`%.0f`", k->def);
    return buf;
}

static void put_keys(text *t, const sl_layer_def *d)
{
    if (d->n_keys == 0) {
        put(t, "No keys besides `type`.\n\n");
        return;
    }
    put(t, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < d->n_keys; i++) {
        const sl_layer_key *k = &d->keys[i];
        char type[160], def[64], range[64];
        put(t, "| `%s` | %s | %s | %s | %s |\n", k->name, key_type(k, type, sizeof type),
            key_default(k, def, sizeof def), sl_nn_key_range_text(k, range, sizeof range),
            k->doc);
    }
    put(t, "\n");
}

static void put_row(text *t, const sl_layer_def *d)
{
    put(t, "#### `%s`\n\n%s\n\n", d->name, d->doc);
    put_keys(t, d);
    if (d->n_params > 0) {
        put(t, "Parameters:");
        for (int k = 0; k < d->n_params; k++)
            put(t, "%s `layers.<i>.%s` %s", k ? ";" : "", d->params[k].name, d->params[k].doc);
        put(t, ".\n\n");
    }
    if (d->flags & SL_LAYER_CONTAINER)
        put(t, "Its `layers` (required, at least one; blocks nest up to %d deep) are an array of "
               "layers like the model's; their parameters are `layers.<i>.layers.<j>.<name>`. "
               "The identity shortcut needs the body to keep the block's input shape (else a "
               "shape error naming the block); the projection maps it to the body's output: a "
               "1x1 conv2d with stride H_in / H_out on images (the body must shrink H and W by "
               "one whole factor), a linear layer on flat inputs. The block's weights take the "
               "gain of an activation inside the block only; the shortcut's, of the activation "
               "after the block.\n\n",
            SL_MODEL_MAX_DEPTH);
    if (is_activation(d)) {
        char form[TEXT_MAX];
        put(t, "Init gain of the weight layer before it: %s. `slope compare --act`: `%s`.\n\n",
            d->gain_doc, sl_layer_short_form(d->type, form, sizeof form));
    }
}

char *sl_layer_reference_markdown(void)
{
    text t = {malloc(4096), 0, 4096, 0}; /* libc-alloc: the caller frees it */
    t.failed = t.buf == NULL;
    put(&t, "Generated from the layer table (`src/nn_layers.c`) by `layer_reference`. "
            "Every layer is `{\"type\": NAME, ...keys}`; a key left out takes its default.\n\n");
    put(&t, "| layer | |\n|---|---|\n");
    for (int i = 0; i < SL_LAYER_TYPE_COUNT; i++) {
        const sl_layer_def *d = sl_layer_def_of((sl_layer_type)i);
        put(&t, "| [`%s`](#%s) | %s%s |\n", d->name, d->name,
            is_activation(d) ? "activation: " : "", d->doc);
    }
    put(&t, "\n");
    for (int i = 0; i < SL_LAYER_TYPE_COUNT; i++)
        put_row(&t, sl_layer_def_of((sl_layer_type)i));
    if (t.failed) {
        free(t.buf); /* libc-alloc */
        return NULL;
    }
    return t.buf;
}
