/*
 * blas_check.h - is there address space for OpenBLAS's work buffers?
 *
 * OpenBLAS takes a ~128 MiB work buffer per thread that calls or runs it, and
 * when the allocation fails it retries forever (blas_memory_alloc): under a
 * tight `ulimit -v` the first matrix product, or OpenBLAS's own worker at
 * start-up, spins and the process never ends.  sl_blas_check refuses first.
 */
#ifndef SLOPE_BLAS_CHECK_H
#define SLOPE_BLAS_CHECK_H

#include "slope/error.h"

/* SL_OK when RLIMIT_AS is unlimited or a reservation of the buffers for
 * sl_par_threads() calling threads (plus a margin) fits; else SL_ERR_NOMEM with
 * the limit and what is needed.  Checked again only when the thread count grows
 * past the last one that fitted.  On failure (glibc) it also arranges that exit()
 * ends the process without running library destructors, as OpenBLAS's would join
 * a worker that may be spinning on its buffer. */
sl_status sl_blas_check(sl_error *err);

#endif
