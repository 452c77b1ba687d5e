/*
 * Blocks above the size classes.
 *
 * Large blocks (above HAK_SMALL_MAX, 64 KiB on Linux, up to half a SuperSlab) are a page of kind LARGE: a run of whole
 * slices holding exactly one block at the run's start, so alignment up to half the registry granule comes from choosing
 * where the run starts. Freeing one returns its slices to the SuperSlab at once (there is no class to cache them for).
 * realloc grows one in place when the slices after it are free, and shrinks one in place by giving its last slices
 * back.
 *
 * Huge blocks (more than half a SuperSlab, or whose aligned run would not fit a fresh SuperSlab: _hak_large_fits) get
 * their own chunk: a hak_huge_t header at the start of the mapping and the block right after it (or at the requested
 * alignment). The chunk is registered for every granule it covers and unmapped (or returned to the pool) on free. On
 * Linux the mapping is rounded up to the chunk alignment, so that huge chunks placed side by side merge into one VMA
 * (one VMA each would stop a program at vm.max_map_count, 65,530, live huge blocks, where glibc's merged mappings do
 * not); only the header, the block and its page rounding count as committed (hak_huge_used): the rest is never touched.
 * realloc of a huge block to another huge size maps a chunk of the new size and has the platform move the old
 * chunk's pages into it (Linux: mremap), header included: no copy, and never both resident at once.
 *
 * Spares: a fast arena on an OS keeps up to HAK_HUGE_SPARES freed huge chunks of at most HAK_HUGE_SPARE_MAX
 * bytes, still committed (counted in `dirty`, what a purge gives back) but out of the registry, so a free of an
 * old pointer into one is reported as foreign. The next huge block that fits one without wasting half of it takes
 * it: a 1 MiB buffer allocated and freed per request then costs no mmap, no munmap and no page faults (glibc and
 * mimalloc reuse such memory too). A huge block that fits no spare gives them all back first (the sizes in use
 * changed), so does an arena about to map a new SuperSlab (it needs memory, not those sizes: sqlite's index
 * builds under the fast shim peaked 2 MB higher without this). hak_arena_reset keeps the arena's huge blocks as
 * spares; purges (the cap, the budget, hak_arena_trim) and destroy give spares back; calloc takes none (it wants
 * freshly zeroed pages), and a block realloc copies out of (where pages cannot move) is no spare: a buffer that
 * moved asks for other sizes next.
 *
 * Everything here runs under the arena's lock (alloc.c and arena.c take it); registry writes also take the global
 * lock, which _hak_huge_move holds for its registry updates but not across the platform's move.
 */
#include "arena/internal.h"

HAK_INLINE size_t run_slices(size_t size)
{
    return size ? (size + HAK_SLICE - 1) >> HAK_SLICE_SHIFT : 1; /* size 0 here: a big alignment */
}

HAK_INLINE size_t run_align(size_t align)
{
    return align > HAK_SLICE ? align >> HAK_SLICE_SHIFT : 1;
}

bool _hak_large_fits(const hak_arena_t *a, size_t size, size_t align)
{
    size_t guard = HAK_CFG_GUARD_PAGES && !a->pool;
    return size <= a->slab_size / 2 && align <= HAK_GRANULE / 2 &&
           HAK_HDR_SLICES + run_slices(size) + run_align(align) - 1 + guard <= a->slab_size >> HAK_SLICE_SHIFT;
}

void *_hak_large_alloc(hak_arena_t *a, size_t size, size_t align)
{
    size_t      n = run_slices(size);
    hak_page_t *page = _hak_slices_alloc(a, n, run_align(align));
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

/* The mapping for a huge chunk whose first `bytes` are used (see the top of this file). */
static size_t huge_mapping(const hak_arena_t *a, size_t bytes)
{
    if (HAK_CFG_FREESTANDING || a->pool)
        return bytes;
    return (bytes + HAK_CHUNK_ALIGN - 1) & ~(HAK_CHUNK_ALIGN - 1);
}

size_t _hak_huge_committed(const hak_arena_t *a, const hak_huge_t *h)
{
    size_t offset = (size_t)((uint8_t *)h->block - (uint8_t *)h);
    return hak_huge_used(h) - hak_huge_gap(a->pool != NULL, offset, hak_platform_page_size());
}

/* A fresh chunk for a huge block using `bytes` of it, of which `gap` stay untouched (hak_huge_gap), committed and
 * counted; NULL if the cap, the budget or the platform refuse it. */
static hak_huge_t *huge_map(hak_arena_t *a, size_t bytes, size_t gap, size_t align)
{
    if (!_hak_may_commit(a, bytes - gap, true))
        return NULL;
    size_t      map = huge_mapping(a, bytes);
    hak_huge_t *h = _hak_chunk_get(a, map, align);
    if (!h)
        return NULL;
    unsigned calls = 0;
    bool     ok = a->pool || hak_platform_commit(h, bytes, &calls);
    _hak_count_calls(a, calls);
    if (!ok) {
        _hak_chunk_put(a, h, map);
        return NULL;
    }
    h->chunk.size = map;
    a->reserved += map;
    _hak_commit_add(a, bytes - gap);
    return h;
}

/* Gives a huge chunk (out of the registry, counted) back to the platform. */
static void huge_unmap(hak_arena_t *a, hak_huge_t *h)
{
    a->reserved -= h->chunk.size;
    _hak_commit_sub(a, _hak_huge_committed(a, h));
    _hak_chunk_put(a, h, h->chunk.size);
}

/* The smallest spare that holds `bytes` without wasting half of it, with its start aligned to `align`. */
static hak_huge_t *take_spare(hak_arena_t *a, size_t bytes, size_t align)
{
    int best = -1;
    for (int i = 0; i < HAK_HUGE_SPARES; i++) {
        hak_huge_t *s = a->huge_spare[i];
        if (s && hak_huge_used(s) >= bytes && hak_huge_used(s) / 2 < bytes && !((uintptr_t)s & (align - 1)) &&
            (best < 0 || hak_huge_used(s) < hak_huge_used(a->huge_spare[best])))
            best = i;
    }
    if (best < 0)
        return NULL;
    hak_huge_t *s = a->huge_spare[best];
    a->huge_spare[best] = NULL;
    a->dirty -= hak_huge_used(s);
    return s;
}

/* Keeps a freed huge chunk (unlinked, still registered) as a spare if the arena keeps spares and has room. */
static bool keep_spare(hak_arena_t *a, hak_huge_t *h)
{
    if (HAK_CFG_FREESTANDING || a->pool || a->policy != HAK_POLICY_FAST || hak_huge_used(h) > HAK_HUGE_SPARE_MAX ||
        _hak_huge_committed(a, h) != hak_huge_used(h)) /* (spares are whole: any block may reuse them) */
        return false;
    for (int i = 0; i < HAK_HUGE_SPARES; i++)
        if (!a->huge_spare[i]) {
            _hak_registry_clear(&h->chunk);
            a->huge_spare[i] = h; /* (valgrind builds: its block stays no-access, as free left it) */
            a->dirty += hak_huge_used(h);
            return true;
        }
    return false;
}

void _hak_huge_drop_spares(hak_arena_t *a)
{
    for (int i = 0; i < HAK_HUGE_SPARES; i++) {
        hak_huge_t *s = a->huge_spare[i];
        if (s) {
            a->huge_spare[i] = NULL;
            a->dirty -= hak_huge_used(s);
            huge_unmap(a, s);
        }
    }
}

void *_hak_huge_alloc(hak_arena_t *a, size_t size, size_t align, bool zeroed)
{
    size_t page = a->pool ? HAK_GRANULE : hak_platform_page_size();
    if (align < HAK_MIN_ALIGN)
        align = HAK_MIN_ALIGN;
    size_t offset = (HAK_HUGE_HDR + align - 1) & ~(align - 1);
    if (size == 0)
        size = 1; /* the block must lie inside the mapping */
    if (offset > SIZE_MAX / 4 || size > SIZE_MAX / 2 - offset - page) /* (an alignment of 2^63 would wrap) */
        return NULL;
    size_t      bytes = (offset + size + page - 1) & ~(page - 1), gap = hak_huge_gap(a->pool != NULL, offset, page);
    hak_huge_t *h = zeroed || gap ? NULL : take_spare(a, bytes, align);
    if (h) {
        bytes = hak_huge_used(h); /* already committed and counted */
    } else {
        if (!zeroed)
            _hak_huge_drop_spares(a); /* none fits: the sizes changed, and the spares would only hold memory */
        if (!(h = huge_map(a, bytes, gap, align)))
            return NULL;
    }
    size_t map = h->chunk.size;
    h->block = (uint8_t *)h + offset; /* (hak_huge_used reads these two) */
    h->bsize = bytes - offset;
    h->chunk = (hak_chunk_t){.magic = HAK_CHUNK_MAGIC, .kind = HAK_CHUNK_HUGE, .arena = a, .size = map};
    if (!_hak_registry_claim(h, map, &h->chunk)) { /* (published complete: the registry's stores release it) */
        huge_unmap(a, h);
        return NULL;
    }
    HAK_VG_HEADER(h, offset); /* valgrind builds: see internal.h */
    h->prev = NULL;
    h->next = a->huge;
    if (a->huge)
        a->huge->prev = h;
    a->huge = h;
    a->nhuge++;
    hak_mark_live((hak_block_t *)h->block);
    return h->block;
}

void *_hak_huge_move(hak_arena_t *a, hak_huge_t *h, size_t size)
{
    size_t page = hak_platform_page_size(), offset = (size_t)((uint8_t *)h->block - (uint8_t *)h);
    if (HAK_CFG_FREESTANDING || a->pool || HAK_VG_RUNNING || size > SIZE_MAX / 2 - offset - page)
        return NULL; /* static memory has no pages to move; under valgrind memcheck would lose the moved contents'
                        definedness: copy instead */
    size_t old = h->chunk.size, old_used = hak_huge_used(h), bytes = (offset + size + page - 1) & ~(page - 1);
    if (bytes > old_used && !_hak_may_commit(a, bytes - old_used, true))
        return NULL;
    size_t      map = huge_mapping(a, bytes);
    hak_huge_t *to = _hak_chunk_get(a, map, offset > HAK_HUGE_HDR ? offset : HAK_MIN_ALIGN);
    if (!to)
        return NULL;
    /* The new range is registered before the move (nothing points into it yet) and the old one cleared: once
     * the old range is unmapped another thread may map and register it at once. Restoring it cannot fail (its
     * registry leaves exist). */
    _hak_global_lock();
    bool ok = _hak_registry_set(to, map, &to->chunk);
    if (!ok)
        _hak_registry_set(to, map, NULL);
    else
        _hak_registry_set(h, old, NULL);
    _hak_global_unlock();
    unsigned calls = 0;
    if (ok && !hak_platform_move(h, old, to, map, &calls)) {
        _hak_global_lock();
        _hak_registry_set(to, map, NULL);
        _hak_registry_set(h, old, &h->chunk);
        _hak_global_unlock();
        ok = false;
    }
    if (ok && bytes < old_used) /* the move kept the pages past the shrunk block resident: no longer counted */
        hak_platform_decommit((uint8_t *)to + bytes, (old_used < map ? old_used : map) - bytes, &calls);
    _hak_count_calls(a, calls);
    if (!ok) {
        _hak_chunk_put(a, to, map);
        return NULL;
    }
    _hak_global_reserved(0, old); /* the old mapping is gone */
    to->chunk.size = map;
    to->block = (uint8_t *)to + offset;
    to->bsize = bytes - offset;
    if (to->prev)
        to->prev->next = to;
    else
        a->huge = to;
    if (to->next)
        to->next->prev = to;
    a->reserved += map - old;
    if (bytes > old_used)
        _hak_commit_add(a, bytes - old_used);
    else
        _hak_commit_sub(a, old_used - bytes);
    return to->block;
}

/* An unlinked huge chunk: kept as a spare where the arena keeps them, else out of the registry and unmapped. */
static void huge_release(hak_arena_t *a, hak_huge_t *h, bool may_keep)
{
    if (may_keep && keep_spare(a, h))
        return;
    _hak_registry_clear(&h->chunk);
    huge_unmap(a, h);
}

void _hak_huge_free(hak_arena_t *a, hak_huge_t *h, bool may_keep)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        a->huge = h->next;
    if (h->next)
        h->next->prev = h->prev;
    a->nhuge--;
    huge_release(a, h, may_keep);
}

void _hak_huge_drop_all(hak_arena_t *a, bool keep_spares)
{
    while (a->huge) {
        hak_huge_t *h = a->huge;
        a->huge = h->next;
        a->nhuge--;
        huge_release(a, h, keep_spares);
    }
    if (!keep_spares)
        _hak_huge_drop_spares(a);
}
