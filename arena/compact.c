/*
 * The compact layout (Kconfig HAK_COMPACT, freestanding builds): for pools of a few hundred KiB, where the
 * size-class layout's SuperSlab headers and half-filled pages cost a fifth of the pool and its code 10 KiB.
 *
 * Each chunk an arena holds is a region: a header, blocks of any size laid end to end, and an end marker. Free
 * blocks are merged with their free neighbours at once and sit in segregated lists by size, the two-level scheme
 * of TLSF (Masmano, Ripoll, Crespo and Real, 2004): below 256 bytes one list per 16 bytes, above it 16 lists per
 * power of two. A bitmap per row and one over the rows say which lists hold blocks, so finding a block that fits
 * is two find-first-set instructions; allocation then splits the block, free merges it with its two physical
 * neighbours. No loop depends on the pool's contents: every call is O(1) while its arena's regions serve it
 * (bar realloc's copy); taking a new region also walks the pool's free extents, the registry entries of the region
 * and, when memory is short, the arena's regions for empty ones: bounded by the configuration (pool size over
 * SuperSlab size), not by the blocks.
 *
 * A block (internal.h, hak_cblock_t) costs a header of two words and rounding to 16 bytes: `head` (size and two
 * flags) and `prev`, a pointer to the block before while that one is free (to merge with it), else a tag of the
 * block's own address. The payload starts 16-byte-aligned after the header and runs to the next header; a free
 * block keeps its list links there.
 *
 * Every block starts two words short of a multiple of 16 (the first block of a region is placed so, and sizes are
 * multiples of 16), so every payload is 16-aligned, and a free of any other address is refused at once.
 *
 * Finding a block: the head of the request's own list is tried first (it often fits: good fit, and near-full
 * pools use their last blocks; only the head, since a list above 256 bytes spans sizes below the request and
 * walking it would not be O(1)), then the first non-empty list of larger sizes, whose blocks all fit.
 * When none does, the arena takes a new region: a SuperSlab (Kconfig), or as much as the request needs, or
 * less when that is all its pool (or the platform's) or its cap has left.
 *
 * Invalid frees. The registry (registry.c) maps the address to its region, so foreign pointers are always
 * found. Within a region the header is checked in O(1): a size that stays inside the region, flags that agree with
 * the next block's, and `prev` (the tag, or a free block ending at this one), which the words before a pointer
 * into a block match only by a rare accident (and a block of an arena reset or destroyed since never: the tag's
 * key is renewed). A double free finds the free flag set (a block merged into the free block before it keeps its
 * header, flagged free, and `prev` still points into that block). Debug level 2 also confirms every free by
 * walking the region.
 *
 * Regions emptied: a region made for one block larger than a SuperSlab goes back when it is freed; a lean arena
 * keeps the region that emptied last and gives back the one it kept before (a lean reset: all but the last); a
 * fast arena keeps them (a reset too) until hak_arena_trim, its cap or the process budget asks for their memory.
 *
 * Locking: one lock per arena around every call (no thread caches on freestanding platforms), none for
 * unsynchronized arenas.
 */
#include "arena/internal.h"

#define W        sizeof(size_t)
#define TAG_KEY  ((uintptr_t)0x6d6b61686d6b6168u) /* mixed into every heap's key (truncated on 32-bit targets) */
#define FREE     ((size_t)1) /* head: this block is free */
#define PREV_F   ((size_t)2) /* head: the block before is free (and `prev` points at it) */
#define FLAGS    ((size_t)15)            /* head's low bits (sizes are multiples of 16): all but two stay 0 */
#define MIN_BLK  (4 * W)                 /* the header and a free block's two list links */
#define MAX_BLK  ((size_t)(((uint64_t)1 << HAK_CFG_COMPACT_MAX_SHIFT) - 16)) /* the largest block the lists hold */
#define MAX_ARG  ((MAX_BLK >> 1) - HAK_GRANULE) /* larger sizes and alignments fail at once (their sum fits) */

_Static_assert(MIN_BLK % 16 == 0 && 2 * W <= 16, "payloads are 16-aligned one or two words after the header");

/* ---- blocks ---- */

HAK_INLINE size_t cb_size(const hak_cblock_t *b)
{
    return b->head & ~FLAGS;
}

HAK_INLINE hak_cblock_t *cb_at(const void *p, size_t offset)
{
    return (hak_cblock_t *)((uintptr_t)p + offset);
}

HAK_INLINE hak_cblock_t *cb_next(const hak_cblock_t *b)
{
    return cb_at(b, cb_size(b));
}

HAK_INLINE void *cb_payload(hak_cblock_t *b)
{
    return &b->next_free;
}

HAK_INLINE hak_cblock_t *cb_of(const void *p)
{
    return (hak_cblock_t *)((uintptr_t)p - 2 * W);
}

/* The block size serving `size` bytes: payload plus the header's two words, rounded to 16. */
HAK_INLINE size_t cb_fit(size_t size)
{
    size_t s = (size + 2 * W + 15) & ~(size_t)15;
    return s < MIN_BLK ? MIN_BLK : s;
}

HAK_INLINE size_t cb_usable(const hak_cblock_t *b)
{
    return cb_size(b) - 2 * W;
}

/* What `prev` holds while the block before b is used: b's address, scrambled with the heap's key, which is new for
 * every arena and every reset (a pointer into a block rarely finds it before itself; a block of an arena reset or
 * destroyed since never does). */
HAK_INLINE hak_cblock_t *cb_tag(const hak_heap_t *h, const hak_cblock_t *b)
{
    return (hak_cblock_t *)((uintptr_t)b ^ h->key);
}

/* Flags b free and tells the next block (PREV_F, and `prev` = b), so that a free of that one merges back. */
HAK_INLINE_FAST void cb_set_free(hak_cblock_t *b)
{
    b->head |= FREE;
    hak_cblock_t *n = cb_next(b);
    n->head |= PREV_F;
    n->prev = b;
}

/* Flags b used: the next block's PREV_F goes, and its `prev` becomes its tag. */
HAK_INLINE_FAST void cb_set_used(const hak_heap_t *h, hak_cblock_t *b)
{
    b->head &= ~FREE;
    hak_cblock_t *n = cb_next(b);
    n->head &= ~PREV_F;
    n->prev = cb_tag(h, n);
}

/* ---- the segregated lists ---- */

HAK_INLINE unsigned log2_of(size_t x)
{
    return (unsigned)(8 * sizeof(unsigned long) - 1 - (unsigned)__builtin_clzl((unsigned long)x));
}

/* The list of blocks of `size` bytes: row f, column s. */
HAK_INLINE void list_of(size_t size, unsigned *f, unsigned *s)
{
    if (size < ((size_t)1 << HAK_CB_LINEAR)) {
        *f = 0;
        *s = (unsigned)(size >> 4);
        return;
    }
    unsigned lg = log2_of(size);
    *f = lg - (HAK_CB_LINEAR - 1);
    *s = (unsigned)(size >> (lg - HAK_CB_SL_SHIFT)) & (HAK_CB_SL - 1);
}

static void list_insert(hak_heap_t *h, hak_cblock_t *b)
{
    unsigned f, s;
    list_of(cb_size(b), &f, &s);
    hak_cblock_t *first = h->free[f][s];
    b->next_free = first;
    b->prev_free = NULL;
    if (first)
        first->prev_free = b;
    h->free[f][s] = b;
    h->fl_map |= 1u << f;
    h->sl_map[f] |= (uint16_t)(1u << s);
}

static void list_remove(hak_heap_t *h, hak_cblock_t *b)
{
    if (b->next_free)
        b->next_free->prev_free = b->prev_free;
    if (b->prev_free) {
        b->prev_free->next_free = b->next_free;
        return;
    }
    unsigned f, s;
    list_of(cb_size(b), &f, &s);
    h->free[f][s] = b->next_free;
    if (!b->next_free && !(h->sl_map[f] &= (uint16_t)~(1u << s)))
        h->fl_map &= ~(1u << f);
}

/* A free block of at least `size` bytes (a multiple of 16), or NULL. (Out of line: inlined into take, its one
 * caller, it makes it larger.) */
static HAK_NOINLINE hak_cblock_t *list_find(const hak_heap_t *h, size_t size)
{
    unsigned f, s;
    list_of(size, &f, &s);
    hak_cblock_t *b = h->free[f][s];
    if (b && cb_size(b) >= size)
        return b;
    uint32_t cols = h->sl_map[f] & (~0u << (s + 1)); /* the larger lists of the row: every block fits */
    if (!cols) {
        uint32_t rows = h->fl_map & (~0u << (f + 1));
        if (!rows)
            return NULL;
        f = (unsigned)__builtin_ctz(rows);
        cols = h->sl_map[f];
    }
    return h->free[f][__builtin_ctz(cols)];
}

/* ---- regions ---- */

/* A region starts on a granule boundary and its size is a multiple of 64: its first block lies a fixed distance
 * after its header (the payload 16-aligned), and the end marker takes its last two words. */
#define REGION_HDR (((sizeof(hak_region_t) + 2 * W + 15) & ~(size_t)15) - 2 * W)

HAK_INLINE hak_cblock_t *region_first(const hak_region_t *r)
{
    return cb_at(r, REGION_HDR);
}

HAK_INLINE hak_cblock_t *region_end(const hak_region_t *r)
{
    return cb_at(r, r->chunk.size - 2 * W);
}

HAK_INLINE bool region_empty(const hak_region_t *r, const hak_cblock_t *b)
{
    return b == region_first(r) && cb_next(b) == region_end(r);
}

/* Makes the region one free block (not yet in a list) followed by the end marker. */
static hak_cblock_t *region_format(hak_region_t *r)
{
    hak_cblock_t *first = region_first(r), *end = region_end(r);
    first->head = (size_t)((uintptr_t)end - (uintptr_t)first);
    first->prev = cb_tag(&r->chunk.arena->heap, first);
    end->head = 0;
    cb_set_free(first);
    return first;
}

static void region_link(hak_arena_t *a, hak_region_t *r)
{
    r->prev = NULL;
    r->next = a->heap.regions;
    if (r->next)
        r->next->prev = r;
    a->heap.regions = r;
    a->nslabs++;
    a->reserved += r->chunk.size;
    _hak_commit_add(a, r->chunk.size);
}

/* Gives back a region whose blocks are in no list (its one free block was taken out, or the arena is dropped). */
static void region_release(hak_arena_t *a, hak_region_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        a->heap.regions = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (a->heap.spare == r)
        a->heap.spare = NULL;
    a->nslabs--;
    a->reserved -= r->chunk.size;
    _hak_commit_sub(a, r->chunk.size);
    _hak_registry_clear(&r->chunk);
    _hak_chunk_put(a, r, r->chunk.size);
}

/* A new region, within the cap and the budget, whose one free block (in no list yet) has at least `need` bytes;
 * NULL if none: a SuperSlab, or as much as the block needs, or what the pool (the platform's or the arena's) or the
 * cap leaves if that is less but enough. */
static hak_cblock_t *region_grow(hak_arena_t *a, size_t need)
{
    size_t least = (REGION_HDR + need + 2 * W + 63) & ~(size_t)63; /* header, the block, the end marker */
    size_t size = (least + HAK_GRANULE - 1) & ~(HAK_GRANULE - 1); /* (a granule's tail would be lost) */
    size_t room = _hak_chunk_room(a, HAK_GRANULE) & ~(size_t)63;
    if (size < a->slab_size)
        size = a->slab_size;
    if (size > room)
        size = room;
    if (a->limit && a->committed < a->limit && a->limit - a->committed < size)
        size = (a->limit - a->committed) & ~(size_t)63;
    if (size > MAX_BLK)
        size = MAX_BLK & ~(size_t)63;
    if (size < least)
        size = least; /* (then refused below: by the cap, or for want of room) */
    if (!_hak_may_commit(a, size, true))
        return NULL;
    hak_region_t *r = _hak_chunk_get(a, size, HAK_GRANULE);
    if (!r)
        return NULL;
    HAK_ASSERT(((uintptr_t)r & (HAK_GRANULE - 1)) == 0 && size % 64 == 0); /* (region_first, region_end) */
    unsigned calls = 0;
    bool     ok = a->pool || hak_platform_commit(r, size, &calls);
    _hak_count_calls(a, calls);
    r->chunk.magic = HAK_CHUNK_MAGIC;
    r->chunk.kind = HAK_CHUNK_SUPERSLAB;
    r->chunk.arena = a;
    r->chunk.fast = NULL;
    r->chunk.size = size;
    if (!ok || !_hak_registry_claim(r, size, &r->chunk)) {
        _hak_chunk_put(a, r, size);
        return NULL;
    }
    region_link(a, r);
    return region_format(r);
}

/* ---- allocation ---- */

/* Splits the tail past `size` bytes off free block b (out of the lists) when it can stand alone. */
static void cb_trim(hak_heap_t *h, hak_cblock_t *b, size_t size)
{
    size_t have = cb_size(b);
    if (have - size < MIN_BLK)
        return;
    hak_cblock_t *rest = cb_at(b, size);
    rest->head = have - size;
    b->head = size | (b->head & FLAGS);
    cb_set_free(rest); /* (rest's PREV_F stays clear, and the caller's cb_set_used(b) writes its prev) */
    list_insert(h, rest);
}

/* The block inside free block b (in no list) whose payload is aligned to `align`, with room for `size` bytes
 * (b was found with that much to spare): what lies before it becomes a free block of its own. Reached through a
 * pointer from hak_aligned_alloc only, so that a firmware that never asks for an alignment does not link it. */
typedef hak_cblock_t *hak_aligner_t(hak_heap_t *h, hak_cblock_t *b, size_t align);

static hak_cblock_t *align_block(hak_heap_t *h, hak_cblock_t *b, size_t align)
{
    uintptr_t p = (uintptr_t)cb_payload(b), lead = ((p + align - 1) & ~(uintptr_t)(align - 1)) - p;
    if (!lead)
        return b;
    if (lead < MIN_BLK) /* (b was free, so the block before it is used: free blocks never touch) */
        lead += align;
    hak_cblock_t *nb = cb_at(b, lead);
    nb->head = cb_size(b) - lead;
    b->head = lead; /* (flags: neither FREE nor PREV_F; cb_set_free gives b and nb theirs) */
    cb_set_free(nb);
    cb_set_free(b);
    list_insert(h, b);
    return nb;
}

/* A used block of `size` bytes, or NULL; with an aligner, its payload aligned to `align`. Under the lock. */
static hak_cblock_t *take(hak_arena_t *a, size_t size, size_t align, hak_aligner_t *aligner)
{
    hak_heap_t *h = &a->heap;
    size_t      want = aligner ? size + align + MIN_BLK : size; /* room to align the payload */
    hak_cblock_t *b = list_find(h, want);
    if (b)
        list_remove(h, b);
    else if (!(b = region_grow(a, want)))
        return NULL;
    if (aligner)
        b = aligner(h, b, align);
    cb_trim(h, b, size);
    cb_set_used(h, b);
    h->in_use += cb_usable(b);
    return b;
}

/* Debug level 3: the whole arena is validated before every allocation, free and realloc (O(memory held) per call). */
static void debug_validate(hak_arena_t *a)
{
    hak_check_fail_t f;
    if (HAK_CFG_DEBUG >= 3 && _hak_check_locked(a, &f))
        _hak_assert_fail(f.what, __FILE__, __LINE__);
}

static void *alloc_aligned(hak_arena_t *a, size_t size, size_t align, hak_aligner_t *aligner)
{
    if (HAK_UNLIKELY(!a)) {
        hak_platform_set_errno(HAK_EINVAL);
        return NULL;
    }
    hak_arena_lock(a);
    debug_validate(a);
    hak_cblock_t *b = NULL;
    if (HAK_LIKELY(size <= MAX_ARG && align <= MAX_ARG)) {
        size_t before = a->committed, bsize = cb_fit(size);
        a->limit_wanted = 0;
        b = take(a, bsize, align, aligner);
        if (!b && _hak_limit_callback(a, before))
            b = take(a, bsize, align, aligner);
    }
    _hak_count_alloc(a, b);
    hak_arena_unlock(a);
    if (!b) {
        hak_platform_set_errno(HAK_ENOMEM);
        return NULL;
    }
    return cb_payload(b);
}

HAK_API void *hak_alloc(hak_arena_t *a, size_t size)
{
    return alloc_aligned(a, size, HAK_MIN_ALIGN, NULL);
}

HAK_API void *hak_aligned_alloc(hak_arena_t *a, size_t align, size_t size)
{
    if (!a || !align || (align & (align - 1))) {
        hak_platform_set_errno(HAK_EINVAL);
        return NULL;
    }
    if (align <= HAK_MIN_ALIGN)
        return alloc_aligned(a, size, HAK_MIN_ALIGN, NULL);
    return alloc_aligned(a, size, align, align_block);
}

HAK_API void *hak_calloc(hak_arena_t *a, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n))
        n = SIZE_MAX; /* refused and counted as any request too large */
    void *p = hak_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

/* ---- free ---- */

/* Whether the walk from the region's first block reaches b: the exact test for a block start (debug level 2). */
static bool region_has(const hak_region_t *r, const hak_cblock_t *b)
{
    const hak_cblock_t *end = region_end(r);
    for (const hak_cblock_t *c = region_first(r); c < end && cb_size(c); c = cb_next(c))
        if (c == b)
            return true;
    return false;
}

/* The region whose granules p lies in, or NULL. (Regions are all the registry holds in this layout: it has no
 * cache of chunks between arenas, and a region's arena is set before it is registered.) */
static hak_region_t *region_of(const void *p)
{
    return (hak_region_t *)_hak_registry_lookup(p);
}

/* Whether b's `prev` is what its flags say: the tag of b, or a pointer to the free block before it, which ends at b
 * (or beyond it, for a header that was merged away: `merged`). That free block carries the tag in its turn (the
 * block before a free one is used): headers from before a reset, or of a destroyed arena on the same memory,
 * fail here too, not only those whose `prev` is a tag. */
static bool cb_prev_ok(const hak_region_t *r, const hak_cblock_t *b, bool merged)
{
    const hak_heap_t   *h = &r->chunk.arena->heap;
    const hak_cblock_t *p = b->prev;
    if (!(b->head & PREV_F))
        return p == cb_tag(h, b);
    if (p < region_first(r) || p >= b || (((uintptr_t)p ^ (uintptr_t)b) & 15) || !(p->head & FREE) ||
        p->prev != cb_tag(h, p))
        return false;
    uintptr_t next = (uintptr_t)p + cb_size(p);
    return next == (uintptr_t)b || (merged && next > (uintptr_t)b);
}

/* 0 if b is a used block of region r, else the error code to report (O(1); debug level 2 also walks). */
static int cb_check_used(const hak_region_t *r, const hak_cblock_t *b)
{
    const hak_cblock_t *end = region_end(r);
    if ((((uintptr_t)b + 2 * W) & 15) || b < region_first(r) || b >= end)
        return HAK_ERR_INTERIOR_PTR;
    size_t size = cb_size(b);
    if ((b->head & (FLAGS & ~(FREE | PREV_F))) || size < MIN_BLK || size > (uintptr_t)end - (uintptr_t)b)
        return HAK_ERR_INTERIOR_PTR;
    if (b->head & FREE) /* a free block, or the header of one merged into the free block before it */
        return cb_prev_ok(r, b, true) ? HAK_ERR_DOUBLE_FREE : HAK_ERR_INTERIOR_PTR;
    if (!cb_prev_ok(r, b, false) || (cb_next(b)->head & PREV_F) || (HAK_CFG_DEBUG >= 2 && !region_has(r, b)))
        return HAK_ERR_INTERIOR_PTR;
    return 0;
}

HAK_INLINE bool region_is_empty(const hak_region_t *r)
{
    const hak_cblock_t *first = region_first(r);
    return (first->head & FREE) && region_empty(r, first);
}

/* Region r has just emptied (its one free block is in no list). A region larger than a SuperSlab (made for one big
 * block; not a pool's) goes back at once; a lean arena keeps the region that emptied last and gives back the one it
 * kept before, if that is still empty (a working set that empties and refills a region costs no release each
 * time); a fast one keeps them all. */
static void region_emptied(hak_arena_t *a, hak_region_t *r)
{
    hak_heap_t   *h = &a->heap;
    hak_region_t *old = h->spare;
    if (!a->pool && r->chunk.size > a->slab_size) {
        region_release(a, r);
        return;
    }
    list_insert(h, region_first(r));
    if (a->policy != HAK_POLICY_LEAN)
        return;
    h->spare = r;
    if (old && old != r && region_is_empty(old)) {
        list_remove(h, region_first(old));
        region_release(a, old);
    }
}

/* Makes used block b of region r free, merged with its free neighbours (the caller counts the bytes); under the
 * lock. */
static void cb_release(hak_arena_t *a, hak_region_t *r, hak_cblock_t *b)
{
    hak_heap_t *h = &a->heap;
    b->head |= FREE; /* merged away below, its header still says free: a second free of it is found */
    if (b->head & PREV_F) {
        hak_cblock_t *p = b->prev;
        list_remove(h, p);
        p->head += cb_size(b);
        b = p;
    }
    hak_cblock_t *n = cb_next(b);
    if (n->head & FREE) {
        list_remove(h, n);
        b->head += cb_size(n);
    }
    cb_set_free(b);
    if (region_empty(r, b))
        region_emptied(a, r);
    else
        list_insert(h, b);
}

/* hak_free; `quiet`: pointers in no region are not reported (the shim's frees of memory from before it). */
static void free_ptr(void *p, bool quiet)
{
    if (!p)
        return;
    hak_region_t *r = region_of(p);
    int           rc = HAK_ERR_FOREIGN_PTR;
    if (r) {
        hak_arena_t *a = r->chunk.arena;
        hak_arena_lock(a);
        debug_validate(a);
        hak_cblock_t *b = cb_of(p);
        if (!(rc = cb_check_used(r, b))) {
            if (HAK_CFG_STATS)
                a->frees++;
            a->heap.in_use -= cb_usable(b);
            cb_release(a, r, b);
        }
        hak_arena_unlock(a);
    }
    if (rc && !(quiet && rc == HAK_ERR_FOREIGN_PTR))
        _hak_report_bad(rc, p, false);
}

HAK_API void hak_free(void *p)
{
    free_ptr(p, false);
}

void _hak_free_quiet(void *p)
{
    free_ptr(p, true);
}

/* ---- realloc and queries ---- */

/* Resizes used block b in place if it can: a shrink always, a growth into the free block after it. */
static bool resize_in_place(hak_arena_t *a, hak_region_t *r, hak_cblock_t *b, size_t want)
{
    size_t        have = cb_size(b);
    hak_cblock_t *n = cb_next(b);
    if (want > have) {
        if (!(n->head & FREE) || have + cb_size(n) < want)
            return false;
        list_remove(&a->heap, n);
        a->heap.in_use += cb_size(n);
        b->head += cb_size(n);
        n->head = 0; /* (a pointer to n's old payload is no block's now) */
        cb_set_used(&a->heap, b); /* (for the block after n) */
        have = cb_size(b);
    }
    if (have - want >= MIN_BLK) { /* the tail is freed as a used block of its own */
        hak_cblock_t *tail = cb_at(b, want);
        tail->head = have - want;
        tail->prev = cb_tag(&a->heap, tail);
        b->head = want | (b->head & PREV_F);
        a->heap.in_use -= have - want;
        cb_release(a, r, tail);
    }
    return true;
}

/* Whether a block shrinking to `want` bytes should move rather than shrink in place: when it is more than twice too
 * big and sits in a region made for it (larger than a SuperSlab, not a pool's), which then goes back. */
HAK_INLINE bool shrinks_out(const hak_arena_t *a, const hak_region_t *r, const hak_cblock_t *b, size_t want)
{
    return want < cb_size(b) / 2 && !a->pool && r->chunk.size > a->slab_size;
}

HAK_API void *hak_realloc(hak_arena_t *a, void *p, size_t size)
{
    if (!p || !a) {
        if (p) /* (and with no block, hak_alloc says EINVAL for the NULL arena) */
            hak_platform_set_errno(HAK_EINVAL);
        return p ? NULL : hak_alloc(a, size);
    }
    hak_region_t *r = region_of(p);
    hak_cblock_t *b = cb_of(p);
    int           rc = HAK_ERR_FOREIGN_PTR;
    size_t        old = 0, want = size <= MAX_ARG ? cb_fit(size) : 0;
    bool          mine = r && r->chunk.arena == a;
    if (r) {
        hak_arena_t *owner = r->chunk.arena;
        hak_arena_lock(owner);
        debug_validate(owner);
        rc = cb_check_used(r, b);
        old = rc ? 0 : cb_usable(b);
        bool done = !rc && mine && want && !shrinks_out(a, r, b, want) && resize_in_place(a, r, b, want);
        hak_arena_unlock(owner);
        if (done)
            return p;
    }
    if (rc) {
        _hak_report_bad(rc, p, true);
        hak_platform_set_errno(HAK_EINVAL);
        return NULL;
    }
    void *q = hak_alloc(a, size);
    if (q) {
        memcpy(q, p, old < size ? old : size);
        hak_free(p);
    } else if (mine && size <= old) { /* a shrink does not fail for want of room to move to */
        hak_arena_lock(a);
        if (!cb_check_used(r, b))
            resize_in_place(a, r, b, want);
        hak_arena_unlock(a);
        q = p;
    }
    return q;
}

/* The usable size of the used block at p, or 0 (no report: these are queries), and its region. Read under the
 * lock: a neighbour's free or allocation writes the flags of this block's header meanwhile. */
static size_t live_block(const void *p, hak_region_t **region)
{
    hak_region_t *r = p ? region_of(p) : NULL;
    if (!r)
        return 0;
    hak_arena_t  *a = r->chunk.arena;
    hak_cblock_t *b = cb_of(p);
    hak_arena_lock(a);
    size_t usable = cb_check_used(r, b) ? 0 : cb_usable(b);
    hak_arena_unlock(a);
    *region = r;
    return usable;
}

HAK_API size_t hak_usable_size(const void *p)
{
    hak_region_t *r;
    return live_block(p, &r);
}

HAK_API hak_arena_t *hak_arena_of(const void *p)
{
    hak_region_t *r;
    return live_block(p, &r) ? r->chunk.arena : NULL;
}

/* ---- the layout interface (internal.h) ---- */

/* The tag key: a generation (the arena's at create, a new one at reset), shifted clear of the low bits all headers
 * share, and a constant, so that a tag is never the plain address (a new arena on the memory of an old one does
 * not match the old headers). */
static void heap_key(hak_heap_t *h, hak_gen_t gen)
{
    h->key = ((uintptr_t)gen << 4) ^ TAG_KEY;
}

void _hak_layout_init(hak_arena_t *a, const hak_arena_config_t *c)
{
    (void)c; /* the struct was zeroed: no lists, no regions */
    heap_key(&a->heap, a->birth);
}

void _hak_layout_drop(hak_arena_t *a)
{
    while (a->heap.regions)
        region_release(a, a->heap.regions);
}

void _hak_layout_reset(hak_arena_t *a)
{
    hak_heap_t *h = &a->heap;
    memset(h->free, 0, sizeof h->free);
    memset(h->sl_map, 0, sizeof h->sl_map);
    h->fl_map = 0;
    h->in_use = 0;
    h->spare = NULL;
    heap_key(h, atomic_load_explicit(&a->gen, memory_order_relaxed)); /* old headers stop matching */
    for (hak_region_t *r = h->regions, *next; r; r = next) {
        next = r->next;
        region_format(r);
        region_emptied(a, r); /* as when its last block is freed */
    }
}

size_t _hak_release_empty(hak_arena_t *a)
{
    size_t released = 0;
    for (hak_region_t *r = a->heap.regions, *next; r; r = next) {
        next = r->next;
        if (region_is_empty(r)) {
            released += r->chunk.size;
            list_remove(&a->heap, region_first(r));
            region_release(a, r);
        }
    }
    return released;
}

void _hak_layout_trim(hak_arena_t *a)
{
    _hak_release_empty(a);
}

size_t _hak_in_use(const hak_arena_t *a)
{
    return a->heap.in_use;
}

void _hak_slab_cache_drop(hak_arena_t *a)
{
    (void)a; /* no SuperSlabs are cached across arenas in this layout */
}

/* ---- hak_arena_check ---- */

/* Walks the region's blocks: sizes, bounds, flags, no two free blocks side by side; counts what it finds. */
static int check_region(hak_arena_t *a, hak_region_t *r, size_t *nfree, size_t *in_use, hak_check_fail_t *f)
{
    const void *obj = r;
    if (r->chunk.magic != HAK_CHUNK_MAGIC || r->chunk.kind != HAK_CHUNK_SUPERSLAB || r->chunk.arena != a)
        HAK_CHECK_FAIL("region header");
    for (size_t off = 0; off < r->chunk.size; off += HAK_GRANULE)
        if (_hak_registry_find((uint8_t *)r + off) != &r->chunk)
            HAK_CHECK_FAIL("registry entry of a region");
    hak_cblock_t *end = region_end(r), *b = region_first(r);
    bool          prev_free = false;
    for (; b != end; b = cb_next(b)) {
        obj = b;
        size_t size = cb_size(b);
        if (size < MIN_BLK || size % 16 || size > (uintptr_t)end - (uintptr_t)b)
            HAK_CHECK_FAIL("block size");
        if (!(b->head & PREV_F) != !prev_free || (b->head & (FLAGS & ~(FREE | PREV_F))) ||
            (!prev_free && b->prev != cb_tag(&a->heap, b)))
            HAK_CHECK_FAIL("block flags");
        bool is_free = b->head & FREE;
        if (is_free && prev_free)
            HAK_CHECK_FAIL("two free blocks side by side");
        if (is_free && cb_next(b)->prev != b)
            HAK_CHECK_FAIL("back link of a free block");
        *nfree += is_free;
        *in_use += is_free ? 0 : size - 2 * W;
        prev_free = is_free;
    }
    obj = end;
    if (end->head & ~PREV_F || !(end->head & PREV_F) != !prev_free || (!prev_free && end->prev != cb_tag(&a->heap, end)))
        HAK_CHECK_FAIL("region end marker");
    return 0;
}

int _hak_check_locked(hak_arena_t *a, hak_check_fail_t *f)
{
    const void *obj = a;
    hak_heap_t *h = &a->heap;
    size_t      nfree = 0, in_use = 0, nregions = 0, bytes = 0;
    for (hak_region_t *r = h->regions; r; r = r->next) {
        obj = r;
        hak_chunk_t *c = _hak_registry_find(r);
        if (c != &r->chunk || ++nregions > a->nslabs || (r->next && r->next->prev != r))
            HAK_CHECK_FAIL("region list");
        bytes += r->chunk.size;
        int rc = check_region(a, r, &nfree, &in_use, f);
        if (rc)
            return rc;
    }
    obj = a;
    if (nregions != a->nslabs || bytes != a->reserved || bytes != a->committed || in_use != h->in_use)
        HAK_CHECK_FAIL("byte counters disagree with the regions");
    size_t listed = 0;
    for (unsigned fl = 0; fl < HAK_CB_FL; fl++) {
        if (!((h->fl_map >> fl) & 1) != !h->sl_map[fl])
            HAK_CHECK_FAIL("row bitmap");
        for (unsigned sl = 0; sl < HAK_CB_SL; sl++) {
            if (!((h->sl_map[fl] >> sl) & 1) != !h->free[fl][sl])
                HAK_CHECK_FAIL("list bitmap");
            for (hak_cblock_t *b = h->free[fl][sl], *prev = NULL; b; prev = b, b = b->next_free) {
                obj = b;
                hak_chunk_t *c = _hak_registry_find(b);
                unsigned     bf, bs;
                if (++listed > nfree || !c || c->arena != a || b->prev_free != prev || !(b->head & FREE))
                    HAK_CHECK_FAIL("free list");
                list_of(cb_size(b), &bf, &bs);
                if (bf != fl || bs != sl)
                    HAK_CHECK_FAIL("block in the wrong free list");
            }
        }
    }
    obj = a;
    if (listed != nfree)
        HAK_CHECK_FAIL("free blocks missing from the free lists");
    return 0;
}
