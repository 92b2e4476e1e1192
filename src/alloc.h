/*
 * alloc.h - the library's one allocation path (see slope/alloc.h).
 *
 * Every src/ file allocates and frees through these, never malloc/free
 * directly, so that the counters see everything and sl_set_allocator can
 * route it.  What each guarantees:
 *
 *   sl_malloc(n)        n bytes, aligned for any object (alignof(max_align_t),
 *                       16 on x86-64 with the default allocator) or NULL.
 *                       n == 0 gives a valid, unique pointer (1 byte).
 *   sl_calloc(k, n)     k * n zeroed bytes, or NULL when k * n overflows or
 *                       memory runs out.  k or n == 0: as sl_malloc(0).
 *   sl_realloc(p, n)    C's realloc for blocks of sl_malloc / sl_calloc /
 *                       sl_realloc: the contents up to min(old, n) kept, p
 *                       left valid on failure (NULL returned).  p == NULL:
 *                       sl_malloc(n).  n == 0: frees p and returns NULL.
 *                       Not for sl_aligned_alloc blocks (the alignment would
 *                       not survive): reallocate those by hand.
 *   sl_aligned_alloc(a, n)
 *                       n bytes at a multiple of a, which must be a power of
 *                       two (a < sizeof(void *) is raised to it); NULL for
 *                       another a.  n == 0: a valid pointer.
 *   sl_free(p)          frees a block of any of the four; NULL is a no-op.
 *                       Never pass it memory from plain malloc, strdup,
 *                       cJSON or zlib (free those with their own free).
 *
 * All are thread-safe (the counters are relaxed atomics).
 */
#ifndef SLOPE_ALLOC_INTERNAL_H
#define SLOPE_ALLOC_INTERNAL_H

#include <stddef.h>

#include "slope/alloc.h"

void *sl_malloc(size_t n);
void *sl_calloc(size_t count, size_t size);
void *sl_realloc(void *p, size_t n);
void *sl_aligned_alloc(size_t align, size_t n);
void sl_free(void *p);

#endif
