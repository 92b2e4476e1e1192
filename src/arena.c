/* arena.c - the per-step bump allocator (see arena.h). */
#include "arena.h"

#include <stdint.h>

#include "alloc.h"

#define SL_ARENA_MIN_BLOCK ((size_t)1 << 20)

struct sl_arena_block {
    sl_arena_block *next;
    size_t capacity;
    size_t used;
    unsigned char *memory;
};

void sl_arena_init(sl_arena *a)
{
    a->first = a->current = NULL;
    a->used = a->capacity = 0;
}

static sl_arena_block *block_new(size_t capacity)
{
    sl_arena_block *b = sl_malloc(sizeof *b);
    if (!b)
        return NULL;
    void *mem = sl_aligned_alloc(SL_ARENA_ALIGN, capacity);
    if (!mem) {
        sl_free(b);
        return NULL;
    }
    b->next = NULL;
    b->capacity = capacity;
    b->used = 0;
    b->memory = mem;
    return b;
}

static void block_chain_free(sl_arena_block *b)
{
    while (b) {
        sl_arena_block *next = b->next;
        sl_free(b->memory);
        sl_free(b);
        b = next;
    }
}

static size_t round_up(size_t n)
{
    return (n + SL_ARENA_ALIGN - 1) & ~(size_t)(SL_ARENA_ALIGN - 1);
}

void *sl_arena_alloc(sl_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX / 2)
        return NULL;
    size_t need = round_up(bytes ? bytes : 1);
    sl_arena_block *b = a->current;
    while (b && b->capacity - b->used < need)
        b = b->next; /* blocks kept after a failed merge are reused in order */
    if (!b) {
        size_t cap = need > SL_ARENA_MIN_BLOCK ? need : SL_ARENA_MIN_BLOCK;
        if (a->capacity > cap)
            cap = round_up(a->capacity); /* grow geometrically */
        b = block_new(cap);
        if (!b)
            return NULL;
        if (a->current) {
            b->next = a->current->next;
            a->current->next = b;
        } else {
            a->first = b;
        }
        a->capacity += cap;
    }
    a->current = b;
    void *p = b->memory + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void sl_arena_reset(sl_arena *a)
{
    if (a->first && a->first->next) {
        /* The step needed several blocks: replace them by one that holds it all. */
        sl_arena_block *merged = block_new(round_up(a->capacity));
        if (merged) {
            block_chain_free(a->first);
            a->first = merged;
            a->capacity = merged->capacity;
        }
    }
    for (sl_arena_block *b = a->first; b; b = b->next)
        b->used = 0;
    a->current = a->first;
    a->used = 0;
}

void sl_arena_release(sl_arena *a)
{
    block_chain_free(a->first);
    sl_arena_init(a);
}
