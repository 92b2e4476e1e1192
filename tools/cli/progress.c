/* progress.c - the per-epoch progress bar on a terminal (stderr). */
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

void progress_start(progress *p, int epoch, int epochs, int quiet)
{
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->epoch = epoch;
    p->epochs = epochs;
    p->start = p->last_draw = now();
    p->samples = 0;
}

void progress_update(progress *p, const sl_step_info *info)
{
    p->samples += info->n;
    if (!p->enabled)
        return;
    double t = now();
    if (t - p->last_draw < 0.1 && info->batch + 1 < info->batches)
        return; /* redraw at most 10 times a second */
    p->last_draw = t;
    double elapsed = t - p->start, rate = elapsed > 0 ? (double)p->samples / elapsed : 0.0;
    double frac = (double)(info->batch + 1) / (double)info->batches;
    double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
    char bar[31];
    int filled = (int)(frac * 30.0);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[30] = '\0';
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f samples/s ETA %ds   ",
            p->epoch + 1, p->epochs, bar, (long long)info->batch + 1, (long long)info->batches,
            (double)info->loss, rate, (int)(eta + 0.5));
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->enabled)
        fprintf(stderr, "\r%*s\r", 100, "");
}
