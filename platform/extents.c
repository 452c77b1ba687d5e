/* The free-extent list of platform/extents.h: first fit, and coalescing on the way back. */
#include "platform/extents.h"

/* Splits [at, at+size) out of extent *link (which must contain it), keeping what lies before and after. */
static void *extent_cut(hak_extent_t **link, uintptr_t at, size_t size)
{
    hak_extent_t *e = *link, *next = e->next;
    uintptr_t     s = (uintptr_t)e, end = s + e->size, tail = at + size;
    if (tail < end) {
        hak_extent_t *t = (hak_extent_t *)tail;
        t->size = end - tail;
        t->next = next;
        next = t;
    }
    if (at > s) {
        e->size = at - s;
        e->next = next;
    } else {
        *link = next;
    }
    return (void *)at;
}

void *_hak_extent_take(hak_extent_t **head, size_t size, size_t align, bool from_top)
{
    hak_extent_t **found = NULL;
    uintptr_t      found_at = 0;
    for (hak_extent_t **link = head; *link; link = &(*link)->next) {
        uintptr_t s = (uintptr_t)*link, end = s + (*link)->size, at;
        if (end - s < size)
            continue;
        at = from_top ? (end - size) & ~(uintptr_t)(align - 1) : (s + align - 1) & ~(uintptr_t)(align - 1);
        if (at < s || at > end || end - at < size)
            continue;
        found = link, found_at = at;
        if (!from_top)
            break;
    }
    return found ? extent_cut(found, found_at, size) : NULL;
}

size_t _hak_extent_largest(const hak_extent_t *e, size_t align)
{
    size_t best = 0;
    for (; e; e = e->next) {
        uintptr_t s = (uintptr_t)e, end = s + e->size, at = (s + align - 1) & ~(uintptr_t)(align - 1);
        if (at >= s && at < end && end - at > best)
            best = end - at;
    }
    return best;
}

void _hak_extent_give(hak_extent_t **head, void *base, size_t size)
{
    hak_extent_t **link = head, *prev = NULL;
    while (*link && (uintptr_t)*link < (uintptr_t)base)
        prev = *link, link = &(*link)->next;
    hak_extent_t *e = base, *next = *link;
    e->size = size;
    e->next = next;
    if (next && (uintptr_t)e + e->size == (uintptr_t)next)
        e->size += next->size, e->next = next->next;
    if (prev && (uintptr_t)prev + prev->size == (uintptr_t)e) {
        prev->size += e->size, prev->next = e->next;
        return;
    }
    *link = e;
}
