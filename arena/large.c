/*
 * Blocks above the size classes.
 *
 * Large blocks (64 KiB .. half a SuperSlab) are a page of kind LARGE: a run of whole slices holding exactly one
 * block at the run's start, so alignment up to the registry granule comes from choosing where the run starts.
 * Freeing one returns its slices to the SuperSlab at once (there is no class to cache them for). realloc grows one
 * in place when the slices after it are free, and shrinks one in place by giving its last slices back.
 *
 * Huge blocks (more than half a SuperSlab) get their own chunk: a hak_huge_t header at the start of the
 * mapping and the block right after it (or at the requested alignment). The chunk is registered for every
 * granule it covers and unmapped (or returned to the pool) on free. Huge blocks are counted fully committed.
 * realloc of a huge block to another huge size maps a chunk of the new size and has the platform move the old
 * chunk's pages into it (Linux: mremap), header included: no copy, and never both resident at once.
 */
#include "arena/internal.h"

void *_hak_large_alloc(hak_arena_t *a, size_t size, size_t align)
{
    size_t n = size ? (size + HAK_SLICE - 1) >> HAK_SLICE_SHIFT : 1; /* size 0 here: a big alignment */
    size_t align_slices = align > HAK_SLICE ? align >> HAK_SLICE_SHIFT : 1;
    hak_page_t *page = _hak_slices_alloc(a, n, align_slices);
    if (!page)
        return NULL;
    page->kind = HAK_PAGE_LARGE;
    page->bsize = (uint32_t)(n << HAK_SLICE_SHIFT);
    page->recip = 1; /* only offset 0 is a block start */
    page->free = NULL;
    page->used = 1;
    hak_set_bump(page, page->start + page->bsize);
    page->end_off = page->bsize;
    page->in_bin = false;
    hak_mark_live((hak_block_t *)page->start);
    return page->start;
}

void _hak_large_free(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page)
{
    page->used = 0;
    _hak_slices_release(a, ss, page);
    _hak_lean_maybe_purge(a);
}

bool _hak_large_resize(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page, size_t size)
{
    size_t m = (size + HAK_SLICE - 1) >> HAK_SLICE_SHIFT;
    if (!_hak_slices_resize(a, ss, page, m))
        return false;
    page->bsize = (uint32_t)(m << HAK_SLICE_SHIFT);
    hak_set_bump(page, page->start + page->bsize);
    page->end_off = page->bsize;
    _hak_lean_maybe_purge(a); /* a shrink gave slices back */
    return true;
}

void *_hak_huge_alloc(hak_arena_t *a, size_t size, size_t align)
{
    size_t page = a->pool ? HAK_GRANULE : hak_platform_page_size();
    if (align < HAK_MIN_ALIGN)
        align = HAK_MIN_ALIGN;
    size_t offset = (HAK_HUGE_HDR + align - 1) & ~(align - 1);
    if (size == 0)
        size = 1; /* the block must lie inside the mapping */
    if (size > SIZE_MAX / 2 - offset - page)
        return NULL;
    size_t bytes = (offset + size + page - 1) & ~(page - 1);
    if (!_hak_may_commit(a, bytes, true))
        return NULL;
    hak_huge_t *h = _hak_chunk_get(a, bytes, align);
    if (!h)
        return NULL;
    unsigned calls = 0;
    bool     ok = a->pool || hak_platform_commit(h, bytes, &calls);
    a->platform_calls += calls;
    if (ok) {
        _hak_global_lock();
        ok = _hak_registry_set(h, bytes, &h->chunk);
        if (!ok)
            _hak_registry_set(h, bytes, NULL);
        _hak_global_unlock();
    }
    if (!ok) {
        _hak_chunk_put(a, h, bytes);
        return NULL;
    }
    HAK_VG_HEADER(h, offset); /* valgrind builds: see internal.h */
    h->chunk = (hak_chunk_t){.magic = HAK_CHUNK_MAGIC, .kind = HAK_CHUNK_HUGE, .arena = a, .size = bytes};
    h->block = (uint8_t *)h + offset;
    h->bsize = bytes - offset;
    h->prev = NULL;
    h->next = a->huge;
    if (a->huge)
        a->huge->prev = h;
    a->huge = h;
    a->nhuge++;
    a->reserved += bytes;
    _hak_commit_add(a, bytes);
    hak_mark_live((hak_block_t *)h->block);
    return h->block;
}

void *_hak_huge_move(hak_arena_t *a, hak_huge_t *h, size_t size)
{
    size_t page = hak_platform_page_size(), offset = (size_t)((uint8_t *)h->block - (uint8_t *)h);
    if (HAK_CFG_FREESTANDING || a->pool || HAK_VG_ACTIVE() || size > SIZE_MAX / 2 - offset - page)
        return NULL; /* static memory has no pages to move; under valgrind memcheck would lose the moved contents'
                        definedness: copy instead */
    size_t old = h->chunk.size, bytes = (offset + size + page - 1) & ~(page - 1);
    if (bytes > old && !_hak_may_commit(a, bytes - old, true))
        return NULL;
    hak_huge_t *to = _hak_chunk_get(a, bytes, offset > HAK_HUGE_HDR ? offset : HAK_MIN_ALIGN);
    if (!to)
        return NULL;
    /* The new range is registered before the move (nothing points into it yet) and the old one cleared: once
     * the old range is unmapped another thread may map and register it at once. Restoring it cannot fail (its
     * registry leaves exist). */
    _hak_global_lock();
    bool ok = _hak_registry_set(to, bytes, &to->chunk);
    if (!ok)
        _hak_registry_set(to, bytes, NULL);
    else
        _hak_registry_set(h, old, NULL);
    _hak_global_unlock();
    unsigned calls = 0;
    if (ok && !hak_platform_move(h, old, to, bytes, &calls)) {
        _hak_global_lock();
        _hak_registry_set(to, bytes, NULL);
        _hak_registry_set(h, old, &h->chunk);
        _hak_global_unlock();
        ok = false;
    }
    a->platform_calls += calls;
    if (!ok) {
        _hak_chunk_put(a, to, bytes);
        return NULL;
    }
    _hak_global_reserved(0, old); /* the old mapping is gone */
    to->chunk.size = bytes;
    to->block = (uint8_t *)to + offset;
    to->bsize = bytes - offset;
    if (to->prev)
        to->prev->next = to;
    else
        a->huge = to;
    if (to->next)
        to->next->prev = to;
    a->reserved += bytes - old;
    if (bytes > old)
        _hak_commit_add(a, bytes - old);
    else
        _hak_commit_sub(a, old - bytes);
    return to->block;
}

static void huge_release(hak_arena_t *a, hak_huge_t *h)
{
    size_t bytes = h->chunk.size;
    _hak_global_lock();
    _hak_registry_set(h, bytes, NULL);
    _hak_global_unlock();
    a->reserved -= bytes;
    _hak_commit_sub(a, bytes);
    _hak_chunk_put(a, h, bytes);
}

void _hak_huge_free(hak_arena_t *a, hak_huge_t *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        a->huge = h->next;
    if (h->next)
        h->next->prev = h->prev;
    a->nhuge--;
    huge_release(a, h);
}

void _hak_huge_drop_all(hak_arena_t *a)
{
    while (a->huge) {
        hak_huge_t *h = a->huge;
        a->huge = h->next;
        a->nhuge--;
        huge_release(a, h);
    }
}
