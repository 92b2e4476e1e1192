/*
 * dist_none.c - the communication backend of a build without MPI: one
 * process, rank 0 of 1, so every collective leaves its data as it is.
 * (dist_mpi.c replaces this file when SLOPE_MPI is on.)
 */
#include "dist.h"

int sl_dist_available(void) { return 0; }

sl_status sl_dist_init(int *argc, char ***argv, sl_error *err)
{
    (void)argc;
    (void)argv;
    (void)err;
    return SL_OK;
}

void sl_dist_finalize(void) {}
int sl_dist_rank(void) { return 0; }
int sl_dist_size(void) { return 1; }

sl_status sl_dist_sum_f32(float *buf, int64_t n, sl_error *err)
{
    (void)buf;
    (void)n;
    (void)err;
    return SL_OK;
}

sl_status sl_dist_sum_f64(double *buf, int64_t n, sl_error *err)
{
    (void)buf;
    (void)n;
    (void)err;
    return SL_OK;
}

sl_status sl_dist_sum_i64(int64_t *buf, int64_t n, sl_error *err)
{
    (void)buf;
    (void)n;
    (void)err;
    return SL_OK;
}

sl_status sl_dist_min_int(int *v, sl_error *err)
{
    (void)v;
    (void)err;
    return SL_OK;
}

sl_status sl_dist_bcast(void *buf, size_t bytes, int root, sl_error *err)
{
    (void)buf;
    (void)bytes;
    (void)root;
    (void)err;
    return SL_OK;
}
