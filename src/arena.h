/*
 * arena.h - a bump allocator for one training step.
 *
 * Allocations are 64-byte aligned (cache lines, AVX-512 loads) and freed all
 * at once by sl_arena_reset.  When a step outgrows the first block, more
 * blocks are chained; the next reset merges them into one block as large as
 * the whole step needed, so from then on a step allocates nothing.
 */
#ifndef SLOPE_ARENA_H
#define SLOPE_ARENA_H

#include <stddef.h>

#define SL_ARENA_ALIGN 64

typedef struct sl_arena_block sl_arena_block;

typedef struct sl_arena {
    sl_arena_block *first;   /* the block reset returns to */
    sl_arena_block *current; /* the block allocations come from */
    size_t used;             /* bytes handed out since the last reset, padding included */
    size_t capacity;         /* bytes held in all blocks */
} sl_arena;

void sl_arena_init(sl_arena *a);
/* Returns NULL on OOM or when bytes would overflow; never for bytes == 0 (gives a valid pointer). */
void *sl_arena_alloc(sl_arena *a, size_t bytes);
void sl_arena_reset(sl_arena *a);
void sl_arena_release(sl_arena *a);

#endif
