/* progress.h - a progress bar for one epoch, drawn only on a terminal. */
#ifndef SLOPE_CLI_PROGRESS_H
#define SLOPE_CLI_PROGRESS_H

#include "slope/train.h"

typedef struct progress {
    int enabled;
    int epoch, epochs;
    double start, last_draw;
    long long samples;
} progress;

void progress_start(progress *p, int epoch, int epochs, int quiet);
void progress_update(progress *p, const sl_step_info *info);
void progress_end(progress *p);

#endif
