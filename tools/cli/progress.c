/* progress.c - the per-epoch progress bar and the phase line on a terminal (stderr). */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, int quiet)
{
    p->enabled = !quiet && isatty(STDERR_FILENO);
}

void progress_start(progress *p, int epoch, int epochs)
{
    p->epoch = epoch;
    p->epochs = epochs;
    p->start = p->last_draw = now();
    p->samples = p->timed = 0;
    p->loss_sum = 0.0;
}

/* 1 when it is time to redraw (at most 10 times a second, and always when last). */
static int due(progress *p, int last)
{
    double t = now();
    if (!p->enabled || (p->drawn && t - p->last_draw < 0.1 && !last))
        return 0;
    p->last_draw = t;
    return p->drawn = 1;
}

void progress_update(progress *p, const sl_step_info *info)
{
    /* The clock starts when the first step ends: its samples are not in the rate. */
    p->timed += p->samples ? info->n : 0;
    p->samples += info->n;
    p->loss_sum += (double)info->loss * (double)info->n;
    if (!due(p, info->batch + 1 >= info->batches))
        return;
    double elapsed = p->last_draw - p->start;
    double rate = elapsed > 0 ? (double)p->timed / elapsed : 0.0;
    double frac = (double)(info->batch + 1) / (double)info->batches;
    double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
    char bar[21];
    int filled = (int)(frac * 20.0);
    for (int i = 0; i < 20; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[20] = '\0';
    /* \033[K: erase what a longer line left, without writing past a narrow terminal's edge. */
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f samples/s ETA %ds\033[K",
            p->epoch + 1, p->epochs, bar, (long long)info->batch + 1, (long long)info->batches,
            p->samples ? p->loss_sum / (double)p->samples : 0.0, rate, (int)(eta + 0.5));
    fflush(stderr);
}

void progress_phase(progress *p, const char *phase, long long done, long long total)
{
    if (!due(p, done == 0 || done >= total))
        return;
    if (total > 0)
        fprintf(stderr, "\rslope: %s %lld/%lld %c\033[K", phase, done, total,
                "|/-\\"[p->spin++ & 3]);
    else
        fprintf(stderr, "\rslope: %s ...\033[K", phase);
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->drawn)
        fprintf(stderr, "\r\033[K");
    p->drawn = 0;
}
