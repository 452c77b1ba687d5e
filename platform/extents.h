/*
 * Free extents: the free parts of a fixed region of memory, as an address-ordered singly linked list kept inside
 * the free memory itself (each free extent starts with its own list node), so managing a region costs no side
 * table. Used by the core for caller pools (hak_arena_config_t.pool) and by the freestanding platform for its
 * regions. Taking is first fit from the bottom, or from the top for small metadata so that it does not break up
 * the aligned room chunks need; giving back coalesces with both neighbours. Extents are at least
 * sizeof(hak_extent_t) bytes and that aligned: callers hand out multiples of 64 bytes.
 *
 * One copy of the code serves both (platform/extents.c; a firmware links it once).
 *
 * Cost: O(extents). The list only ever holds pieces between chunks the caller still holds, so its length is at
 * most one more than the number of those chunks.
 */
#ifndef HAK_EXTENTS_H
#define HAK_EXTENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hak_extent {
    struct hak_extent *next;
    size_t             size;
} hak_extent_t;

/* The lowest `size` bytes aligned to `align` (a power of two), or NULL. With from_top, the highest instead. */
void *_hak_extent_take(hak_extent_t **head, size_t size, size_t align, bool from_top);

/* The largest run of `align`-aligned bytes one extent could give. */
size_t _hak_extent_largest(const hak_extent_t *e, size_t align);

/* Returns [base, base+size) to the list, merging it with free neighbours. */
void _hak_extent_give(hak_extent_t **head, void *base, size_t size);

#endif /* HAK_EXTENTS_H */
