/*
 * The public allocation entry points and their fast paths.
 *
 * hak_alloc: size -> class (a table load up to 1 KiB), pop the head page's free list, clear the free marker.
 * Everything else — bump allocation, full pages, new pages, large and huge blocks — is out of line.
 *
 * hak_free: address masked -> chunk header -> arena; slice index -> page header, while the registry lookup (two
 * loads) confirms on the side that the masked address is the block's chunk (free_ptr). The block is
 * validated before anything is written: its offset in the page must be a multiple of the block size (one
 * multiply by a reciprocal instead of a division) and below `bump`, and a block that already carries its free
 * marker is looked up in the page's free list, so foreign pointers, interior pointers and double frees are
 * reported and ignored at O(1) cost on the common path. Free slices point at a sentinel page whose fields fail
 * every check, so they need no branch of their own.
 *
 * Unsynchronized arenas take no lock and use no atomics (the registry loads are plain loads on x86 and ARM).
 * Synchronized arenas serve small blocks from the calling thread's cache (tcache.c): hak_alloc pops and
 * hak_free pushes there after the same validation, without the lock, whose holder only refills, drains and does
 * everything else; the lock is held from the first read of page state it protects to the last write.
 *
 * Valgrind builds (HAK_VALGRIND, see internal.h) tell memcheck here when the program gets a block (handed_out:
 * every return of a block passes through it) and when it gives one back (free_push, cache_push, free_rare).
 */
#include "arena/internal.h"

/* NULL with errno `err`; failed_allocs counts the refusals for want of memory (ENOMEM), not bad arguments. */
static HAK_NOINLINE void *fail(hak_arena_t *a, int err)
{
    if (a && HAK_CFG_STATS && err == HAK_ENOMEM) {
        hak_arena_lock(a);
        a->failed_allocs++;
        hak_arena_unlock(a);
    }
    hak_platform_set_errno(err);
    return NULL;
}

#if HAK_CFG_VALGRIND
/* Usable size of a block being handed out, from its page or huge header (no lock: the block is the caller's). */
HAK_INLINE size_t handed_size(const void *p)
{
    hak_chunk_t *c = _hak_registry_find(p);
    if (c->kind != HAK_CHUNK_SUPERSLAB)
        return ((hak_huge_t *)c)->bsize;
    hak_superslab_t *ss = (hak_superslab_t *)c;
    return hak_slice_page(ss, p)->bsize;
}
#endif

/* Every block the program gets passes here: to memcheck it becomes a malloc-like block as large as
 * hak_usable_size says (valgrind builds; nothing otherwise). */
HAK_INLINE void *handed_out(void *p)
{
#if HAK_CFG_VALGRIND
    if (p)
        HAK_VG_ALLOC(p, handed_size(p));
#endif
    return p;
}

static void *big_once(hak_arena_t *a, size_t size, size_t align, bool zeroed)
{
    if (_hak_large_fits(a, size, align))
        return _hak_large_alloc(a, size, align);
    return _hak_huge_alloc(a, size, align, zeroed);
}

/* Anything not served by a size class (`zeroed`: a huge block must be a fresh mapping). Takes the arena's lock
 * itself. */
static HAK_NOINLINE void *alloc_big(hak_arena_t *a, size_t size, size_t align, bool zeroed)
{
    hak_arena_lock(a);
    a->limit_wanted = 0;
    size_t before = a->committed;
    void  *p = big_once(a, size, align, zeroed);
    if (!p && _hak_limit_callback(a, before))
        p = big_once(a, size, align, zeroed);
    _hak_count_alloc(a, p);
    hak_arena_unlock(a);
    if (!p)
        hak_platform_set_errno(HAK_ENOMEM);
    return handed_out(p);
}

static HAK_NOINLINE void *alloc_class_slow(hak_arena_t *a, unsigned cls)
{
    a->limit_wanted = 0;
    size_t before = a->committed;
    void  *p = _hak_alloc_slow(a, cls);
    if (!p && _hak_limit_callback(a, before))
        p = _hak_alloc_slow(a, cls);
    _hak_count_alloc(a, p);
    if (!p)
        hak_platform_set_errno(HAK_ENOMEM);
    return handed_out(p);
}

/* Pops the head page's free list; everything else is out of line. Caller holds the lock if any. */
HAK_INLINE void *alloc_class_locked(hak_arena_t *a, unsigned cls)
{
    hak_page_t  *page = a->bins[cls].page;
    hak_block_t *b = page->free;
    if (HAK_UNLIKELY(!b))
        return alloc_class_slow(a, cls);
    hak_check_popped_from(a, page, b);
    page->free = hak_next(a, b);
    page->used++;
    hak_mark_live(b);
    if (HAK_CFG_STATS)
        a->allocs++;
    return handed_out(b);
}

/* Synchronized arenas: the calling thread's cache first (no lock), the locked path when there is none or the
 * arena is out of memory (it handles limits and on_limit). */
static HAK_NOINLINE void *alloc_class_sync(hak_arena_t *a, unsigned cls)
{
    hak_tslot_t *s = hak_tslot(a);
    if (HAK_LIKELY(s)) {
        hak_block_t *b = hak_tslot_pop(a, s, cls);
        if (HAK_LIKELY(b) || (b = _hak_tcache_refill(a, s, cls)))
            return handed_out(b);
    }
    hak_lock(&a->lock);
    void *p = alloc_class_locked(a, cls);
    hak_unlock(&a->lock);
    return p;
}

HAK_INLINE void *alloc_class(hak_arena_t *a, unsigned cls)
{
    return a->sync ? alloc_class_sync(a, cls) : alloc_class_locked(a, cls);
}

static HAK_NOINLINE void *alloc_generic(hak_arena_t *a, size_t size)
{
    if (!a)
        return fail(a, HAK_EINVAL);
    if (size <= HAK_SMALL_MAX)
        return alloc_class(a, hak_size_class(size));
    return alloc_big(a, size, HAK_MIN_ALIGN, false);
}

/* The fast path has no call but tail calls, so it needs no stack frame. */
HAK_HOT_ENTRY void *hak_alloc(hak_arena_t *a, size_t size)
{
    if (HAK_UNLIKELY(!a) || HAK_UNLIKELY(size > 1024))
        return alloc_generic(a, size);
    unsigned cls = _hak_class_of_small[(size + 15) >> 4];
    if (!a->sync)
        return alloc_class_locked(a, cls);
    hak_block_t *b = hak_cache_pop(a, cls);
    if (HAK_UNLIKELY(!b))
        return alloc_class_sync(a, cls);
    return handed_out(b);
}

void *hak_calloc(hak_arena_t *a, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes))
        return fail(a, a ? HAK_ENOMEM : HAK_EINVAL);
    /* A huge block can be a fresh mapping (no spare): where the platform hands out zeroed memory, clearing it
     * would only make every page of it resident (memcheck is told it is zeroed). */
    bool  fresh = a && bytes > a->slab_size / 2 && !a->pool && hak_platform_map_zeroed;
    void *p = fresh ? alloc_big(a, bytes, HAK_MIN_ALIGN, true) : hak_alloc(a, bytes);
    if (p && !fresh)
        memset(p, 0, bytes);
    else if (p)
        HAK_VG_DEFINED(p, bytes);
    return p;
}

void *hak_aligned_alloc(hak_arena_t *a, size_t align, size_t size)
{
    if (!a || align == 0 || (align & (align - 1)))
        return fail(a, HAK_EINVAL);
    if (align <= HAK_MIN_ALIGN)
        return hak_alloc(a, size);
    if (size <= HAK_SMALL_MAX && align <= HAK_SLICE) {
        /* A class whose size is a multiple of align has aligned blocks: pages start on slice boundaries. */
        for (unsigned cls = hak_size_class(size < align ? align : size); cls < HAK_NUM_CLASSES; cls++)
            if (_hak_class_size[cls] % align == 0)
                return alloc_class(a, cls);
    }
    return alloc_big(a, size, align, false);
}

/* ---- freeing ---- */

enum { BLOCK_SMALL, BLOCK_LARGE, BLOCK_HUGE };

/* Whether a's free blocks may sit in thread caches: then a free-marked block that is on no list we can see is
 * taken to be in another thread's cache, i.e. free. (The marker is a per-arena random value xor the address:
 * a live block carries it only if the program copied it out of freed memory.) */
HAK_INLINE bool tcached(const hak_arena_t *a)
{
    return HAK_CFG_TCACHE && a->sync && !a->pool;
}

/* Whether block b of page is free: on the page's free list, in the calling thread's cache, or (`marked`, in an arena
 * with thread caches) in another thread's cache, where nothing but its marker shows it. Caller holds the lock. */
HAK_INLINE bool block_is_free(hak_arena_t *a, hak_page_t *page, const hak_block_t *b, bool marked)
{
    return _hak_page_has_free(a, page, b) || _hak_tcache_holds(a, b, page->cls) || (marked && tcached(a));
}

/* Validates that p starts a live block of chunk c; returns its kind or -(error code). Caller holds the lock. */
HAK_INLINE int classify(hak_arena_t *a, hak_chunk_t *c, const void *p, hak_page_t **pagep)
{
    if (HAK_UNLIKELY(c->kind != HAK_CHUNK_SUPERSLAB))
        return p == ((hak_huge_t *)c)->block ? BLOCK_HUGE : -HAK_ERR_INTERIOR_PTR;
    hak_superslab_t *ss = (hak_superslab_t *)c;
    hak_page_t      *page = hak_slice_page(ss, p);
    *pagep = page;
    if (HAK_UNLIKELY(!hak_is_block_start(page, p)))
        return -HAK_ERR_INTERIOR_PTR;
    const hak_block_t *b = p;
    bool               marked = hak_is_marked(a, b);
    if (HAK_UNLIKELY(marked || HAK_CFG_DEBUG >= 2) && block_is_free(a, page, b, marked))
        return -HAK_ERR_DOUBLE_FREE;
    return page->kind == HAK_PAGE_SMALL ? BLOCK_SMALL : BLOCK_LARGE;
}

static void report_bad_free(int code, const void *p)
{
    _hak_report_bad(code, p, false);
}

/* The chunk covering p, or NULL if hakmem does not own p or its arena is gone. */
HAK_INLINE hak_chunk_t *owner_chunk(const void *p)
{
    hak_chunk_t *c = _hak_registry_find(p);
    return HAK_LIKELY(c && c->arena) ? c : NULL;
}

static HAK_NOINLINE void free_bad(hak_arena_t *a, int kind, void *p)
{
    hak_arena_unlock(a);
    report_bad_free(-kind, p);
}

/* A large or huge block (a huge one's chunk may stay as a spare, see large.c). Leaves the lock released. */
static HAK_NOINLINE void free_rare(hak_arena_t *a, hak_chunk_t *c, hak_page_t *page, int kind, bool may_keep)
{
    HAK_VG_FREE(kind == BLOCK_HUGE ? ((hak_huge_t *)c)->block : page->start);
    if (kind == BLOCK_HUGE)
        _hak_huge_free(a, (hak_huge_t *)c, may_keep);
    else
        _hak_large_free(a, (hak_superslab_t *)c, page);
    if (HAK_CFG_STATS)
        a->frees++;
    hak_arena_unlock(a);
}

static HAK_NOINLINE void free_page_changed(hak_arena_t *a, hak_page_t *page)
{
    _hak_page_after_free(a, page);
    hak_arena_unlock(a);
}

/* Pushes a validated small block; leaves the lock released. */
HAK_INLINE void free_push(hak_arena_t *a, hak_page_t *page, hak_block_t *b, bool sync)
{
    if (HAK_CFG_DEBUG >= 2 && page->bsize > sizeof *b)
        memset(b + 1, 0xdf, page->bsize - sizeof *b);
    hak_set_next(a, b, page->free);
    hak_mark_free(a, b);
    HAK_VG_FREE(b);
    page->free = b;
    if (HAK_CFG_STATS)
        a->frees++;
    if (HAK_UNLIKELY(--page->used == 0 || !page->in_bin))
        return free_page_changed(a, page);
    if (sync)
        hak_unlock(&a->lock);
}

/* The block carries its free marker (or the debug level asks for the walk): free only if it is not free. A
 * synchronized arena comes here when the calling thread has no cache (e.g. in a TLS destructor after hakmem's
 * own), so the block may sit in another thread's cache. */
static HAK_NOINLINE void free_suspect(hak_arena_t *a, hak_chunk_t *c, hak_page_t *page, hak_block_t *b)
{
    if (block_is_free(a, page, b, hak_is_marked(a, b)))
        return free_bad(a, -HAK_ERR_DOUBLE_FREE, b);
    if (page->kind != HAK_PAGE_SMALL)
        return free_rare(a, c, page, BLOCK_LARGE, false);
    free_push(a, page, b, a->sync);
}

static HAK_NOINLINE void free_huge(hak_arena_t *a, hak_chunk_t *c, void *p)
{
    if (p != ((hak_huge_t *)c)->block)
        return free_bad(a, -HAK_ERR_INTERIOR_PTR, p);
    free_rare(a, c, NULL, BLOCK_HUGE, true);
}

/* Frees p, a block of SuperSlab ss of arena a: the same checks as classify(), but every call is a tail call,
 * so the unsynchronized fast path needs no stack frame. Entered with the arena's lock held (if `sync`);
 * leaves it released. */
HAK_INLINE void free_slab_block(hak_arena_t *a, hak_superslab_t *ss, void *p, bool sync)
{
    hak_chunk_t *c = &ss->chunk;
    hak_page_t  *page = hak_slice_page(ss, p);
    if (HAK_UNLIKELY(!hak_is_block_start(page, p)))
        return free_bad(a, -HAK_ERR_INTERIOR_PTR, p);
    hak_block_t *b = p;
    if (HAK_UNLIKELY(hak_is_marked(a, b) || HAK_CFG_DEBUG >= 2))
        return free_suspect(a, c, page, b);
    if (HAK_UNLIKELY(page->kind != HAK_PAGE_SMALL))
        return free_rare(a, c, page, BLOCK_LARGE, false);
    free_push(a, page, b, sync);
}

/* Marks a validated small block free and pushes it on the calling thread's cache list; half the list goes back
 * to the arena when it overflows. */
HAK_INLINE void cache_push(hak_arena_t *a, hak_tslot_t *s, hak_tbin_t *bin, hak_block_t *b)
{
    hak_set_next(a, b, bin->head);
    hak_mark_free(a, b);
    HAK_VG_FREE(b);
    bin->head = b;
    if (HAK_CFG_STATS)
        s->frees++;
    if (HAK_UNLIKELY(--bin->room < 0))
        _hak_tcache_overflow(a, s, bin);
}

/* A large block of a synchronized arena, validated without the lock: validated again under it, where a second
 * free of the same block racing this one (both saw it live) finds it gone. */
static HAK_NOINLINE void free_large_locking(hak_arena_t *a, hak_superslab_t *ss, void *p)
{
    hak_lock(&a->lock);
    hak_page_t *page = NULL;
    if (classify(a, &ss->chunk, p, &page) != BLOCK_LARGE)
        return free_bad(a, -HAK_ERR_DOUBLE_FREE, p);
    free_rare(a, &ss->chunk, page, BLOCK_LARGE, false);
}

/* A free-marked block, or debug level >= 2: free only if it is on no free list. No lock held on entry. */
static HAK_NOINLINE void free_cached_suspect(hak_arena_t *a, hak_tslot_t *s, hak_page_t *page, hak_block_t *b)
{
    bool marked = hak_is_marked(a, b);
    bool free = _hak_tcache_holds(a, b, page->cls) || marked;
    if (!free) {
        hak_lock(&a->lock);
        free = _hak_page_has_free(a, page, b);
        hak_unlock(&a->lock);
    }
    if (free)
        return report_bad_free(HAK_ERR_DOUBLE_FREE, b);
    if (page->kind != HAK_PAGE_SMALL)
        return free_large_locking(a, hak_page_slab(page), b);
    cache_push(a, s, &s->bins[page->cls], b);
}

/* A synchronized arena's small block into the calling thread's cache, without the lock. The page fields read
 * here were written before the block was handed out (only `bump` moves meanwhile, and it is atomic). */
HAK_INLINE void free_cached(hak_arena_t *a, hak_tslot_t *s, hak_superslab_t *ss, void *p)
{
    hak_page_t *page = hak_slice_page(ss, p);
    if (HAK_UNLIKELY(!hak_is_block_start(page, p)))
        return report_bad_free(HAK_ERR_INTERIOR_PTR, p);
    hak_block_t *b = p;
    if (HAK_UNLIKELY(hak_is_marked(a, b) || HAK_CFG_DEBUG >= 2))
        return free_cached_suspect(a, s, page, b);
    if (HAK_UNLIKELY(page->kind != HAK_PAGE_SMALL))
        return free_large_locking(a, ss, p);
    cache_push(a, s, &s->bins[page->cls], b);
}

static HAK_NOINLINE void free_generic(hak_chunk_t *c, void *p)
{
    if (!c || !c->arena)
        return report_bad_free(HAK_ERR_FOREIGN_PTR, p);
    hak_arena_t *a = c->arena;
    if (a->sync && c->kind == HAK_CHUNK_SUPERSLAB) {
        hak_tslot_t *s = hak_tslot(a);
        if (HAK_LIKELY(s))
            return free_cached(a, s, (hak_superslab_t *)c, p);
    }
    hak_arena_lock(a);
    if (c->kind != HAK_CHUNK_SUPERSLAB)
        return free_huge(a, c, p);
    free_slab_block(a, (hak_superslab_t *)c, p, a->sync);
}

/* Frees p, whose chunk c is known: the unsynchronized fast path, or the synchronized one (a SuperSlab of a
 * synchronized arena and this thread's last-used cache slot: into the cache); everything else through
 * free_generic. Only tail calls, so neither fast path needs a stack frame. */
HAK_INLINE void free_in(hak_chunk_t *c, void *p)
{
    if (HAK_LIKELY(c->fast))
        return free_slab_block(c->fast, (hak_superslab_t *)c, p, false);
    hak_arena_t *a = c->arena;
    hak_tslot_t *s;
    if (HAK_LIKELY(a && c->kind == HAK_CHUNK_SUPERSLAB) && (s = hak_last_slot(a)))
        return free_cached(a, s, (hak_superslab_t *)c, p);
    free_generic(c, p);
}

/* A pointer whose chunk is not its address masked: a chunk hakmem could not align, or none (NULL, foreign). */
static HAK_NOINLINE void free_unmasked(hak_chunk_t *c, void *p, bool report)
{
    if (c)
        return free_in(c, p);
    if (p && report)
        free_generic(c, p);
}

/* The chunk is found twice: by masking p (one instruction) and through the registry (two dependent loads). Only
 * the masked address feeds the loads that follow, and the two are compared in a way the optimiser cannot see
 * through, so the processor runs ahead on the predicted branch while the registry confirms that p is ours. */
HAK_INLINE void free_ptr(void *p, bool report)
{
    hak_chunk_t *c = _hak_registry_find(p); /* NULL for p == NULL: no chunk can start at address 0 */
    uintptr_t    m = (uintptr_t)p & ~(uintptr_t)(HAK_CHUNK_ALIGN - 1);
    uintptr_t    differ = (uintptr_t)c ^ m;
    HAK_OPAQUE(differ);
    if (HAK_UNLIKELY(!c || differ))
        return free_unmasked(c, p, report);
    free_in((hak_chunk_t *)m, p);
}

HAK_HOT_ENTRY void hak_free(void *p)
{
    free_ptr(p, true);
}

void _hak_free_quiet(void *p)
{
    free_ptr(p, false);
}

/* Usable size and owner of a live block, or 0 (no report: these are queries). */
static size_t live_block(const void *p, hak_arena_t **owner)
{
    hak_chunk_t *c = owner_chunk(p);
    if (!c)
        return 0;
    hak_arena_t *a = c->arena;
    hak_page_t  *page = NULL;
    hak_arena_lock(a);
    int    kind = classify(a, c, p, &page);
    size_t size = kind == BLOCK_HUGE ? ((hak_huge_t *)c)->bsize : kind >= 0 ? page->bsize : 0;
    hak_arena_unlock(a);
    if (owner)
        *owner = kind >= 0 ? a : NULL;
    return size;
}

size_t hak_usable_size(const void *p)
{
    return p ? live_block(p, NULL) : 0;
}

hak_arena_t *hak_arena_of(const void *p)
{
    hak_arena_t *a = NULL;
    if (p)
        live_block(p, &a);
    return a;
}

/* A block realloc must move to grow it into a large size gets room for the next growth: its run of slices is
 * rounded up to a power of two (at most half a SuperSlab), so the next steps of a growing buffer often stay in
 * place (a buffer grown by 1.5x from 50 to 256 KiB moves twice instead of four times) and copies touch fewer new
 * pages. Only where memory is plentiful: on an OS, outside pools, and with the cap and the budget leaving a
 * SuperSlab to spare beyond the room; slices that are never written cost address space, not RSS. NULL: no room
 * taken (the caller allocates `size` as usual). */
static HAK_NOINLINE void *alloc_with_room(hak_arena_t *a, size_t size)
{
    if (HAK_CFG_FREESTANDING || a->pool || size <= HAK_SMALL_MAX || size > a->slab_size / 2)
        return NULL;
    size_t room = HAK_SLICE;
    while (room < size)
        room <<= 1;
    if (room > a->slab_size / 2)
        room = a->slab_size / 2;
    hak_arena_lock(a);
    void *q = _hak_commit_fits(a, room + a->slab_size) ? _hak_large_alloc(a, room, 0) : NULL;
    a->limit_wanted = 0;
    if (HAK_CFG_STATS && q)
        a->allocs++;
    hak_arena_unlock(a);
    return handed_out(q);
}

void *hak_realloc(hak_arena_t *a, void *p, size_t size)
{
    if (!a)
        return fail(a, HAK_EINVAL);
    if (!p)
        return hak_alloc(a, size);
    hak_chunk_t *c = owner_chunk(p);
    if (!c) {
        _hak_report_bad(HAK_ERR_FOREIGN_PTR, p, true);
        return fail(a, HAK_EINVAL);
    }
    hak_arena_t *owner = c->arena;
    hak_page_t  *page = NULL;
    hak_arena_lock(owner);
    int    kind = classify(owner, c, p, &page);
    size_t usable = kind == BLOCK_HUGE ? ((hak_huge_t *)c)->bsize : kind >= 0 ? page->bsize : 0;
    /* Stays where it is: fits without wasting half, or a large block whose next slices are free (or that gives
     * its last ones back), as long as the new size is still one for a large block. */
    bool stays = owner == a && ((size <= usable && size >= usable - usable / 2) ||
                                (kind == BLOCK_LARGE && size > HAK_SMALL_MAX && size <= a->slab_size / 2 &&
                                 _hak_large_resize(a, (hak_superslab_t *)c, page, size)));
    size_t now = kind >= 0 && kind != BLOCK_HUGE ? page->bsize : usable;
    /* A huge block that stays huge: its pages move to a chunk of the new size (where the platform can). */
    void *moved = !stays && owner == a && kind == BLOCK_HUGE && size > a->slab_size / 2
                      ? _hak_huge_move(a, (hak_huge_t *)c, size)
                      : NULL;
    hak_arena_unlock(owner);
    if (kind < 0) {
        _hak_report_bad(-kind, p, true);
        return fail(a, HAK_EINVAL);
    }
    if (moved)
        return moved;
    if (stays) {
        HAK_VG_RESIZE(p, usable, now);
        return p;
    }
    void *q = size > usable ? alloc_with_room(a, size) : NULL;
    if (!q && !(q = hak_alloc(a, size))) {
        if (owner != a || size > usable)
            return NULL;
        /* A shrink with no room to move to (a cap, a full pool) does not fail: the block stays, and a large one
         * gives back the slices past the new size. */
        if (kind == BLOCK_LARGE) {
            hak_arena_lock(a);
            if (_hak_large_resize(a, (hak_superslab_t *)c, page, size ? size : 1))
                HAK_VG_RESIZE(p, usable, page->bsize);
            hak_arena_unlock(a);
        }
        return p;
    }
    memcpy(q, p, size < usable ? size : usable);
    if (kind != BLOCK_HUGE || !HAK_HUGE_SPARES) {
        hak_free(p);
    } else { /* a buffer that moved will ask for other sizes next: its old chunk goes back, not to the spares */
        hak_arena_lock(owner);
        free_rare(owner, c, NULL, BLOCK_HUGE, false);
    }
    return q;
}
