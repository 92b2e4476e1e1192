/*
 * schedule.c - learning-rate schedules: constant, step decay and cosine, each
 * with an optional linear warm-up (see slope/optim.h).
 *
 * lr(step) = warmup(step) * kind(step), computed in double:
 *   warmup(step) = (step + 1) / W for step < W, else 1, where
 *                  W = round(warmup_epochs * steps_per_epoch);
 *   constant:  base_lr
 *   step:      base_lr * gamma^floor(epoch / step_epochs), epoch = floor(step / steps_per_epoch)
 *   cosine:    min_lr + (base_lr - min_lr) * (1 + cos(pi * t)) / 2 with
 *              t = (step - W) / (total - W) clamped to [0, 1], total = total_epochs *
 *              steps_per_epoch: base_lr when warm-up ends, min_lr once training is over.
 */
#include "guard.h"
#include "slope/optim.h"

#include <math.h>
#include <string.h>

#define SL_PI 3.14159265358979323846

static const char *const schedule_names[] = {"constant", "step", "cosine"};

const char *sl_schedule_name(sl_schedule_kind kind)
{
    if ((int)kind < 0 || kind > SL_SCHEDULE_COSINE)
        return "unknown";
    return schedule_names[kind];
}

sl_status sl_schedule_parse(const char *name, sl_schedule_kind *kind, sl_error *err)
{
    SL_GUARD(name, err);
    SL_GUARD(kind, err);
    for (int k = 0; k <= SL_SCHEDULE_COSINE; k++)
        if (strcmp(name, schedule_names[k]) == 0) {
            *kind = (sl_schedule_kind)k;
            return SL_OK;
        }
    return sl_error_set(err, SL_ERR_CONFIG,
                        "unknown schedule \"%s\" (expected one of: constant, step, cosine)",
                        name);
}

sl_schedule_spec sl_schedule_defaults(sl_schedule_kind kind)
{
    sl_schedule_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.step_epochs = 1;
    s.gamma = 0.1f;
    return s;
}

/* In double: warmup_epochs * steps_per_epoch can pass INT64_MAX (llround would be undefined). */
static double warmup_steps(const sl_schedule_spec *s, int64_t steps_per_epoch)
{
    if (!(s->warmup_epochs > 0.0f))
        return 0.0;
    return round((double)s->warmup_epochs * (double)steps_per_epoch);
}

static double step_decay(const sl_schedule_spec *s, double base, int64_t step,
                         int64_t steps_per_epoch)
{
    int64_t every = s->step_epochs > 0 ? s->step_epochs : 1;
    int64_t epoch = step / steps_per_epoch;
    return base * pow((double)s->gamma, (double)(epoch / every));
}

static double cosine(const sl_schedule_spec *s, double base, int64_t step, double warmup,
                     double total)
{
    double span = total - warmup;
    double t = span > 0.0 ? ((double)step - warmup) / span : 1.0;
    t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    double lo = (double)s->min_lr;
    return lo + (base - lo) * (1.0 + cos(SL_PI * t)) / 2.0;
}

float sl_schedule_lr(const sl_schedule_spec *s, float base_lr, int64_t step,
                     int64_t steps_per_epoch, int total_epochs)
{
    if (!s)
        return base_lr;
    if (steps_per_epoch < 1)
        steps_per_epoch = 1;
    if (step < 0)
        step = 0;
    /* Step counts in double: epochs * steps_per_epoch may overflow int64. */
    double total = (double)(total_epochs > 0 ? total_epochs : 0) * (double)steps_per_epoch;
    double warmup = warmup_steps(s, steps_per_epoch);
    double lr = base_lr;
    if (s->kind == SL_SCHEDULE_STEP)
        lr = step_decay(s, lr, step, steps_per_epoch);
    else if (s->kind == SL_SCHEDULE_COSINE)
        lr = cosine(s, lr, step, warmup, total);
    if ((double)step < warmup)
        lr *= ((double)step + 1.0) / warmup;
    return (float)lr;
}
