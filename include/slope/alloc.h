/*
 * slope/alloc.h - the library's one allocation path: counters, and an
 * optional allocator of the program's own.
 *
 * Every heap block libslope allocates for itself goes through one private
 * path, which counts it with relaxed atomics (cheap, exact once the threads
 * that allocated have been joined).  sl_alloc_counters reads the counts:
 * the zero-allocation test and tools/bench_train use them to show that a
 * warm training step allocates nothing.  Memory that other libraries
 * allocate (OpenBLAS, cJSON, zlib, libc's strdup) is theirs and not counted.
 * Two results are handed to the caller to free with free(), and so come
 * from the C library's malloc whatever allocator is set: the texts of
 * sl_config_to_json and sl_layer_reference_markdown.
 *
 * Like SQLite's sqlite3_config(SQLITE_CONFIG_MALLOC), a program may route
 * those blocks to its own allocator with sl_set_allocator, but only while
 * the library holds no block (before the first slope call that allocates,
 * or after everything was freed): a block must be freed by the allocator
 * that made it.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_ALLOC_H
#define SLOPE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "slope/error.h"
#include "slope/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What the library has allocated since the process started (or the last reset). */
typedef struct sl_alloc_stats {
    uint64_t allocs;        /**< successful allocations (malloc, calloc, aligned, and realloc
                                 calls, each one) */
    uint64_t frees;         /**< blocks freed (sl_free of a non-NULL pointer, realloc to 0) */
    uint64_t failures;      /**< allocations that returned NULL */
    uint64_t live;          /**< blocks allocated and not yet freed */
    uint64_t bytes_total;   /**< bytes of all allocations, as the allocator's size reports */
    int64_t bytes;          /**< bytes currently held */
    int64_t peak_bytes;     /**< the most bytes held at once since the last sl_alloc_reset */
} sl_alloc_stats;

/** Fills *out with the counters.  Thread-safe; each field is read atomically. */
SL_API void sl_alloc_counters(sl_alloc_stats *out);

/**
 * Zeroes allocs, frees, failures and bytes_total, and sets peak_bytes to the
 * bytes held now; live and bytes are left as they are (they describe the
 * heap, not a period).  A benchmark calls it before the steps it measures.
 */
SL_API void sl_alloc_reset(void);

/**
 * A program's allocator.  Every function gets `user` first.  malloc and
 * aligned_alloc return NULL on failure; their blocks, and realloc's, are
 * freed by free.  aligned_alloc receives a power-of-two alignment >=
 * sizeof(void *).  realloc follows C's realloc for p != NULL and n > 0
 * (the library never calls it with n == 0 or p == NULL).  size returns the
 * bytes of a live block (any value constant over its life, e.g. the size
 * requested); it may be NULL, and then the byte counters stay 0.
 */
typedef struct sl_allocator {
    void *user;
    void *(*malloc)(void *user, size_t n);
    void *(*realloc)(void *user, void *p, size_t n);
    void (*free)(void *user, void *p);
    void *(*aligned_alloc)(void *user, size_t align, size_t n);
    size_t (*size)(void *user, void *p);
} sl_allocator;

/**
 * Installs a (copied; a->user is borrowed) or, with a == NULL, the C library's
 * allocator.  Only while the library holds no block (sl_alloc_stats.live ==
 * 0), from one thread, with no other slope call running.  Errors:
 * SL_ERR_STATE when blocks are live (nothing changes), SL_ERR_INVALID when
 * malloc, realloc, free or aligned_alloc is NULL.
 */
SL_API sl_status sl_set_allocator(const sl_allocator *a, sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
