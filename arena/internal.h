/*
 * Internal structures of the hakmem core, shared by the files of arena/.
 *
 * Memory layout. Every region hakmem gets from the platform is a chunk, aligned to HAK_GRANULE (the smallest
 * SuperSlab: 512 KiB on Linux) and entered in the address registry (registry.c), which maps each granule to the
 * chunk header covering it: that is how hak_free finds a block's arena from its address alone, in O(1) and
 * without a lock, and how it recognises pointers that are not ours. A chunk is either
 *  - a SuperSlab (slab_size bytes) cut into slices (16 KiB on Linux). The first slice (first few on small
 *    freestanding geometries) holds the header below; the others are
 *    free, or belong to a page: a run of slices holding blocks of one size class (small pages), or a single
 *    block (large pages). slice_page[] maps each slice to its page header, so a block's page is one index away.
 *  - a huge block: one block larger than half a SuperSlab, with a small header at the start of its mapping.
 * (In the compact layout, Kconfig HAK_COMPACT, every chunk is instead one heap of blocks of any size: compact.c.
 * The rest of this comment is about the size-class layout.)
 *
 * Small pages. A page hands out blocks from its LIFO free list, and when that is empty from `bump`, the first
 * never-used block: untouched memory stays untouched (and off RSS) until needed. A free block's first word is
 * the free-list link and its second the free marker `cookie ^ address`: a free whose block already carries the
 * marker is confirmed as a double free by walking that page's free list, so release builds detect double
 * frees in O(1) on the common path. Allocation clears the marker.
 *
 * Bins. Each arena has one bin per size class: a list of pages that still have free blocks; its head is the
 * page allocation serves from. A page that runs out is unlinked (`in_bin` false) and relinked by the next free
 * into it. An emptied page other than the head gives its slices back to its SuperSlab.
 *
 * Locking. A synchronized arena has one lock protecting everything reachable from it (bins, pages, slice maps,
 * counters), except the per-thread caches (tcache.c), which belong to their thread. Page fields that lock-free
 * frees read (start, bsize, recip, kind, cls) are written before any block of the page is handed out; `bump`,
 * which moves meanwhile, is atomic. The global lock (g_lock in arena.c) protects the registry writes, the
 * SuperSlab cache, the arena list and the metadata free lists (arena.c lists all it guards). Order: arena lock,
 * then global lock; never the reverse (budget.c only try-locks arenas while holding it).
 */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/hak_config.h"
#include "hakmem.h"
#include "platform/extents.h"
#include "platform/platform.h"

#pragma GCC visibility push(hidden) /* everything internal stays out of the shared library's symbol table */

/* The two C library functions the core uses, as builtins: inlined where small, else calls to memset/memcpy,
 * which the C library provides (or platform/freestanding/libc.c where there is none: no <string.h> needed). */
#define memset(d, c, n) __builtin_memset(d, c, n)
#define memcpy(d, s, n) __builtin_memcpy(d, s, n)

#define HAK_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_INLINE      static inline __attribute__((always_inline))
#define HAK_NOINLINE    __attribute__((noinline))
/* Inlined where the build optimises for speed, a call where it optimises for size (-Os: the firmware configs).
 * HAK_HOT_ENTRY starts hak_alloc and hak_free on a cache line in speed builds, so that their speed does not move
 * with unrelated code placed before them (random_mixed and larson_like shifted by 2-4% that way alone). */
#ifdef __OPTIMIZE_SIZE__
#define HAK_INLINE_FAST static
#define HAK_HOT_ENTRY
#else
#define HAK_INLINE_FAST HAK_INLINE
#define HAK_HOT_ENTRY   __attribute__((aligned(64)))
#endif
/* Hides x's value from the optimiser, which then cannot replace it by another variable it knows is equal. */
#define HAK_OPAQUE(x)   __asm__("" : "+r"(x))

/* ---- geometry (config/hak_config.h: Linux 512 KiB granule and 16 KiB slices; freestanding smaller) ---- */
#define HAK_LOG2(x)        ((x) >= 2048u * 1024 ? 21 : (x) >= 1024u * 1024 ? 20 : (x) >= 512u * 1024 ? 19 :     \
                            (x) >= 256u * 1024 ? 18 : (x) >= 128u * 1024 ? 17 : (x) >= 64u * 1024 ? 16 :        \
                            (x) >= 32u * 1024 ? 15 : 14)
#define HAK_SLAB_MIN_SHIFT HAK_LOG2(HAK_CFG_SLAB_MIN)
/* Registry granule = chunk alignment: the smallest SuperSlab on Linux; 16 KiB on freestanding, whose SuperSlabs
 * may end anywhere on a slice boundary (a pool's last one is as large as what is left). */
#define HAK_GRANULE_SHIFT  (HAK_CFG_FREESTANDING ? 14 : HAK_SLAB_MIN_SHIFT)
#define HAK_GRANULE        ((size_t)1 << HAK_GRANULE_SHIFT)
#define HAK_SLICE_SHIFT    HAK_CFG_SLICE_SHIFT
#define HAK_SLICE          ((size_t)1 << HAK_SLICE_SHIFT)
#define HAK_MAX_SLICES     (HAK_CFG_SLAB_MAX >> HAK_SLICE_SHIFT)
#define HAK_MAP_WORDS      ((HAK_MAX_SLICES + 63) / 64)
/* Largest size-class block: 64 KiB; freestanding at most a sixteenth of the SuperSlab (pages of few blocks fit). */
#define HAK_SMALL_SHIFT    (HAK_CFG_FREESTANDING && HAK_SLAB_MIN_SHIFT - 4 < 16 ? HAK_SLAB_MIN_SHIFT - 4 : 16)
#define HAK_SMALL_MAX      ((size_t)1 << HAK_SMALL_SHIFT)
#define HAK_NUM_CLASSES    (8 + (HAK_SMALL_SHIFT - 7) * 8) /* 16..128 by 16, then 8 per doubling */
#define HAK_HUGE_HDR       64 /* bytes before a huge block at the start of its mapping */
/* Chunks are aligned to the build's SuperSlab size where memory is plentiful (always on Linux; see
 * _hak_chunk_get): then the header of a default-sized SuperSlab is the block's address masked, and hak_free's
 * registry lookup only has to confirm it, off the critical path (alloc.c). Other chunks are found through the
 * registry alone. */
#define HAK_CHUNK_ALIGN    ((size_t)HAK_CFG_SLAB_SIZE)

_Static_assert(HAK_CFG_FREESTANDING || HAK_GRANULE == HAK_CFG_SLAB_MIN, "the smallest SuperSlab is a power of two");
_Static_assert(HAK_SMALL_MAX >= 1024, "classes cover at least the table-driven sizes");

/* ---- checks graded by debug level (STYLE.md: cheap always, internal at 1, expensive at 3) ---- */
void _hak_assert_fail(const char *what, const char *file, int line);
#define HAK_ASSERT(c)                                                                                      \
    do {                                                                                                   \
        if (HAK_CFG_DEBUG >= 1 && HAK_UNLIKELY(!(c)))                                                       \
            _hak_assert_fail(#c, __FILE__, __LINE__);                                                       \
    } while (0)

/* ---- locks: a test-and-test-and-set spinlock; compiled out without threads ---- */
typedef struct { atomic_uint held; } hak_lock_t;

void _hak_lock_contended(hak_lock_t *l);

/* fork (the malloc shim's pthread_atfork handlers, arena.c): between _hak_fork_hold and _hak_fork_release the
 * forking thread holds the locks the shim needs, and passes through them when another library's fork handler
 * allocates (it is the only thread that can be inside them then). */
#define HAK_FORK_LOCKS (HAK_CFG_THREADS && !HAK_CFG_FREESTANDING)
#if HAK_FORK_LOCKS
extern _Thread_local bool _hak_t_forking;
bool _hak_fork_holds(const hak_lock_t *l);
#endif
void _hak_fork_hold(hak_lock_t *arena_lock);
void _hak_fork_release(hak_lock_t *arena_lock);

HAK_INLINE void hak_lock(hak_lock_t *l)
{
#if HAK_CFG_THREADS && HAK_CFG_FREESTANDING
    hak_platform_lock(); /* the firmware's critical section (interrupts off, scheduler suspended), nestable */
#endif
    if (HAK_CFG_THREADS && HAK_UNLIKELY(atomic_exchange_explicit(&l->held, 1, memory_order_acquire)))
        _hak_lock_contended(l);
}

/* Takes the lock only if it is free (never waits); the critical section is left again when it is not. */
HAK_INLINE bool hak_trylock(hak_lock_t *l)
{
#if HAK_CFG_THREADS && HAK_CFG_FREESTANDING
    hak_platform_lock();
#endif
    if (!HAK_CFG_THREADS || !atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
        return true;
#if HAK_CFG_THREADS && HAK_CFG_FREESTANDING
    hak_platform_unlock();
#endif
    return false;
}

HAK_INLINE void hak_unlock(hak_lock_t *l)
{
#if HAK_FORK_LOCKS
    if (HAK_UNLIKELY(_hak_t_forking) && _hak_fork_holds(l))
        return; /* a fork handler's allocation inside the fork's hold: the hold stays */
#endif
    if (HAK_CFG_THREADS)
        atomic_store_explicit(&l->held, 0, memory_order_release);
#if HAK_CFG_THREADS && HAK_CFG_FREESTANDING
    hak_platform_unlock();
#endif
}

/* ---- chunks ---- */
enum { HAK_CHUNK_SUPERSLAB = 1, HAK_CHUNK_HUGE = 2 };
#define HAK_CHUNK_MAGIC 0x68616b6du /* "hakm" */

typedef struct hak_chunk {
    uint32_t     magic;
    uint32_t     kind;
    hak_arena_t *arena; /* owner; NULL while a SuperSlab sits in the process-wide cache */
    hak_arena_t *fast;  /* the owner if it is unsynchronized and this is a SuperSlab, else NULL: hak_free's
                           fast path tests this one field instead of kind, owner and owner->sync */
    size_t       size;  /* bytes mapped */
} hak_chunk_t;

/* A free block: the link and the free marker (blocks are at least 16 bytes). */
typedef struct hak_block {
    struct hak_block *next;
    uintptr_t         marker;
} hak_block_t;

enum { HAK_PAGE_FREE = 0, HAK_PAGE_SMALL = 1, HAK_PAGE_LARGE = 2 };

/* One cache line; the fields the fast paths touch come first. */
typedef struct hak_page {
    hak_block_t     *free;     /* LIFO free list */
    uint8_t         *start;    /* first block */
    _Atomic(uint8_t *) bump;   /* first never-used block; atomic (relaxed) because other threads read it to
                                  validate frees without the lock (tcache.c) */
    uint32_t         recip;    /* ceil(2^34 / bsize) for small pages (the block-start test, see HAK_RECIP_SHIFT);
                                  1 for large ones, so that only offset 0 passes it */
    uint32_t         bsize;    /* block size */
    uint32_t         used;     /* live blocks */
    uint32_t         end_off;  /* end of the last whole block, from start */
    uint16_t         slice;    /* first slice index in its SuperSlab */
    uint16_t         nslices;
    uint8_t          kind;     /* HAK_PAGE_* */
    uint8_t          cls;
    bool             in_bin;
    struct hak_page *next, *prev; /* bin list */
} hak_page_t;

_Static_assert(sizeof(hak_page_t) <= 64 || sizeof(void *) < 8, "a page header is one cache line");

HAK_INLINE uint8_t *hak_bump(const hak_page_t *page)
{
    return atomic_load_explicit(&((hak_page_t *)page)->bump, memory_order_relaxed);
}

HAK_INLINE void hak_set_bump(hak_page_t *page, uint8_t *bump)
{
    atomic_store_explicit(&page->bump, bump, memory_order_relaxed);
}

/* Divisibility by one multiply. With recip = ceil(2^34 / bsize) = (2^34 + e) / bsize, e < bsize, an offset
 * k * bsize + r times recip is k * 2^34 + k * e + r * recip: its low 34 bits are k * e < recip when r == 0, and
 * at least recip otherwise, as long as (k + 1) * e stays below recip. It does for every class (blocks of 16
 * bytes to 64 KiB, recip >= 2^18) and offset inside a small page (at most 2^18 bytes: 16 Linux slices): checked for
 * every pair by tests/test_internals.c (block_start_test_is_exact). recip <= 2^30 for blocks of 16 bytes or more. */
#define HAK_RECIP_SHIFT 34
HAK_INLINE uint32_t hak_recip(uint32_t bsize)
{
    uint32_t c = bsize >> 4; /* class sizes are multiples of 16: ceil(2^34 / bsize) = ceil(2^30 / c), in 32 bits */
    return ((UINT32_C(1) << (HAK_RECIP_SHIFT - 4)) + c - 1) / c;
}

/* Whether an offset from a small page's start is a multiple of its block size (see HAK_RECIP_SHIFT). */
HAK_INLINE bool hak_offset_is_block(uint64_t off, uint32_t recip)
{
    return ((off * recip) & ((UINT64_C(1) << HAK_RECIP_SHIFT) - 1)) < recip;
}

/* The bytes of the whole blocks a small page of `bytes` (at most 2^18) holds: bytes rounded down to a multiple of
 * the block size, by the same multiply (floor(bytes * recip / 2^34) is bytes / bsize under the same condition). */
HAK_INLINE uint32_t hak_whole_blocks(uint32_t bytes, uint32_t bsize, uint32_t recip)
{
    return (uint32_t)(((uint64_t)bytes * recip) >> HAK_RECIP_SHIFT) * bsize;
}

/* True iff p is the start of a block of the page that has been handed out at least once. One unsigned compare
 * bounds p on both sides: below the page's start, the offset wraps to a huge number. */
HAK_INLINE bool hak_is_block_start(const hak_page_t *page, const void *p)
{
    uint64_t off = (uintptr_t)p - (uintptr_t)page->start;
    uint64_t handed = (uintptr_t)hak_bump(page) - (uintptr_t)page->start;
    return hak_offset_is_block(off, page->recip) && off < handed;
}

/* Free-run buckets (superslab.c): one per run length up to 8 slices, then four per doubling. */
#define HAK_RUN_BUCKETS (4 * (HAK_LOG2(HAK_CFG_SLAB_MAX) - HAK_SLICE_SHIFT))
_Static_assert(HAK_RUN_BUCKETS <= 64, "runs_map has a bit per bucket");

HAK_INLINE unsigned hak_run_bucket(unsigned slices) /* slices >= 1 */
{
    if (slices <= 8)
        return slices - 1;
    unsigned lg = 31 - (unsigned)__builtin_clz(slices - 1);
    return 8 + (lg - 3) * 4 + (((slices - 1) >> (lg - 2)) & 3);
}

/* Bit i of a bitmap of 64-bit words (a SuperSlab's slice maps below). */
HAK_INLINE bool hak_map_bit(const uint64_t *m, unsigned i)
{
    return (m[i >> 6] >> (i & 63)) & 1;
}

typedef struct hak_superslab {
    hak_chunk_t           chunk;
    struct hak_superslab *next, *prev; /* the arena's list, or the cache */
    uint32_t              nslices;
    uint32_t              nfree;                      /* free slices */
    uint32_t              longest;                    /* longest run of free slices (0: full) */
    struct hak_superslab *rnext, *rprev;              /* its arena's bucket of SuperSlabs by `longest` */
    bool                  warm;                       /* in the cache, left committed (lean arenas' one) */
    bool                  aged_empty;                 /* empty at the last lean purge, and untouched since */
    uint64_t              free_map[HAK_MAP_WORDS];    /* 1 = slice free */
    uint64_t              commit_map[HAK_MAP_WORDS];  /* 1 = slice committed (header slices always) */
    uint64_t              aged_map[HAK_MAP_WORDS];    /* 1 = free and committed since the last lean purge */
    hak_page_t           *slice_page[HAK_MAX_SLICES]; /* slice -> its page (a FREE sentinel when free) */
    _Alignas(64) hak_page_t pages[];                  /* pages[i]: header of the page starting at slice
                                                         HAK_HDR_SLICES + i (the header's slices start none) */
} hak_superslab_t;
/* The header occupies the first HAK_HDR_SLICES slices of every SuperSlab (one on Linux): the fixed part and a page
 * header for each slice after them, i.e. the fewest H with H slices >= fixed + (HAK_MAX_SLICES - H) headers.
 * (A 64 KiB firmware SuperSlab of 1 KiB slices on a 32-bit MCU: 3 slices, where headers for every slice take 4.) */
#define HAK_HDR_FIXED  offsetof(hak_superslab_t, pages)
#define HAK_HDR_SLICES \
    ((HAK_HDR_FIXED + HAK_MAX_SLICES * sizeof(hak_page_t) + HAK_SLICE + sizeof(hak_page_t) - 1) / (HAK_SLICE + sizeof(hak_page_t)))
#define HAK_HDR_BYTES  (HAK_HDR_FIXED + (HAK_MAX_SLICES - HAK_HDR_SLICES) * sizeof(hak_page_t))
#define HAK_SLAB_HDR   (HAK_HDR_SLICES << HAK_SLICE_SHIFT)
_Static_assert(HAK_HDR_BYTES <= HAK_SLAB_HDR, "the header fits its slices");
_Static_assert(HAK_HDR_FIXED + (HAK_MAX_SLICES - HAK_HDR_SLICES + 1) * sizeof(hak_page_t) >
                   ((HAK_HDR_SLICES - 1) << HAK_SLICE_SHIFT),
               "and one slice fewer would not hold it");
_Static_assert(HAK_HDR_BYTES <= HAK_GRANULE / 2, "page headers lie in a SuperSlab's first granule");

/* The page header of the slice of ss that p lies in (the free-slice sentinel where no page is). */
HAK_INLINE hak_page_t *hak_slice_page(const hak_superslab_t *ss, const void *p)
{
    return ss->slice_page[((uintptr_t)p - (uintptr_t)ss) >> HAK_SLICE_SHIFT];
}

typedef struct hak_huge {
    hak_chunk_t      chunk;
    struct hak_huge *next, *prev;
    void            *block;
    size_t           bsize; /* usable bytes from block to the end of the mapping */
} hak_huge_t;
_Static_assert(sizeof(hak_huge_t) <= HAK_HUGE_HDR, "huge header fits before the block");
/* The bytes of a huge chunk counted as committed: header, block and the block's page rounding. On Linux the
 * mapping (chunk.size) extends further, to a multiple of HAK_CHUNK_ALIGN, so that neighbouring huge chunks touch and
 * merge into one VMA; that tail is never written and never resident. */
HAK_INLINE size_t hak_huge_used(const hak_huge_t *h)
{
    return (size_t)((uint8_t *)h->block - (uint8_t *)h) + h->bsize;
}
/* The whole OS pages between a huge chunk's header page and its block, which a block aligned to more than a page
 * leaves untouched, for a block `offset` bytes into the chunk: not committed. (Pools count whole extents.) */
HAK_INLINE size_t hak_huge_gap(bool in_pool, size_t offset, size_t page)
{
    return HAK_CFG_FREESTANDING || in_pool || offset < 2 * page ? 0 : (offset & ~(page - 1)) - page;
}
/* What a huge chunk counts as committed: hak_huge_used, less that gap. */
size_t _hak_huge_committed(const hak_arena_t *a, const hak_huge_t *h);
#define HAK_HUGE_SPARES    (HAK_CFG_FREESTANDING ? 0 : 2) /* freed huge chunks a fast arena keeps (large.c) */
#define HAK_HUGE_SPARE_MAX ((size_t)32 << 20) /* ... if they are no larger than this */

typedef struct hak_bin {
    hak_page_t *page; /* head of the list of pages with free blocks; &_hak_empty_page when none */
} hak_bin_t;


/* ---- per-thread caches (tcache.c) ---- */
#define HAK_TC_SLOTS 4 /* arenas a thread caches at once */

typedef struct hak_tbin {
    hak_block_t *head;  /* free blocks of the slot's arena, LIFO, free-marked */
    int16_t      room;  /* cap minus the blocks on the list: a push that takes it below 0 overflows */
    uint16_t     cap;
    uint16_t     batch; /* blocks the next refill takes: starts small, doubles up to cap/2, so a short-lived
                           arena does not fill caches it will never use */
} hak_tbin_t;
_Static_assert(sizeof(hak_tbin_t) <= 16, "a bin is indexed by a shift");

/* Arena generations (tcache.c): 64 bits wherever there are thread caches, so they never wrap (a 32-bit count of
 * creates and resets wraps after 2^32: an arena reset 100,000 times a second gets there in 12 hours, and an idle
 * thread's stale slot would then match again); builds without thread caches (firmware: no 64-bit atomics on
 * Cortex-M) keep a word. */
#if HAK_CFG_TCACHE
typedef uint64_t hak_gen_t;
#else
typedef uintptr_t hak_gen_t;
#endif

typedef struct hak_tslot {
    hak_arena_t *arena;
    hak_gen_t    gen;   /* the arena's generation when the slot was claimed */
    hak_gen_t    birth; /* the arena's birth then: a stale slot of the same arena (reset since) still merges its
                           stats into it */
    uint64_t     allocs, frees;
    hak_tbin_t   bins[HAK_NUM_CLASSES];
    bool         uncached; /* its arena is near its cap: every bin's capacity is 0 (tcache.c) */
} hak_tslot_t;

typedef struct hak_tcache {
    hak_tslot_t        slot[HAK_TC_SLOTS];
    unsigned           next_victim;
    struct hak_tcache *next_free;
} hak_tcache_t;

/* ---- the compact layout (compact.c, Kconfig HAK_COMPACT): each chunk is one best-fit heap ---- */
#define HAK_CB_SL_SHIFT 4                           /* 16 free lists per power of two... */
#define HAK_CB_SL       (1u << HAK_CB_SL_SHIFT)
#define HAK_CB_LINEAR   8                           /* ...and below 256 bytes one list per 16 bytes */
#define HAK_CB_FL       (HAK_CFG_COMPACT_MAX_SHIFT - HAK_CB_LINEAR + 1) /* blocks below 2^N (Kconfig) */

/* A block's header; a block's address is its header's. `prev` points to the block before while that one is free,
 * else holds a tag of the block's address; `head` is the block's size (to the next header, a multiple of 16) and
 * two flags. A used block's payload starts at next_free (16-aligned) and runs to the next header; a free one
 * keeps its list links there. */
typedef struct hak_cblock {
    struct hak_cblock *prev;
    size_t             head;
    struct hak_cblock *next_free, *prev_free;
} hak_cblock_t;

/* A chunk of the compact layout: this header, then blocks end to end, then an end marker (a header of size 0
 * that is never free). */
typedef struct hak_region {
    hak_chunk_t        chunk;
    struct hak_region *next, *prev; /* the arena's regions */
} hak_region_t;

typedef struct hak_heap {
    hak_region_t *regions;
    hak_region_t *spare;  /* lean: the region that emptied last, kept (if it still is empty) for reuse */
    size_t        in_use; /* usable bytes of used blocks (hak_usable_size) */
    uintptr_t     key;    /* mixed into the address tags: new per arena and per reset (stale headers fail) */
    uint32_t      fl_map;                             /* bit f: some list of row f is not empty */
    uint16_t      sl_map[HAK_CB_FL];                  /* bit s of row f: free[f][s] is not empty */
    hak_cblock_t *free[HAK_CB_FL][HAK_CB_SL];         /* (last: 1.6 KiB on a 32-bit target) */
} hak_heap_t;

#define HAK_ARENA_MAGIC 0x6172656eu /* "aren" */
#define HAK_NAME_MAX    32

struct hak_arena {
#if !HAK_CFG_COMPACT
    hak_bin_t  bins[HAK_NUM_CLASSES]; /* hot: first */
#endif
    uintptr_t  cookie;                /* free-marker key */
    uintptr_t  link_key;              /* hardened builds: free-list link key (a second secret) */
    uint64_t   rng;                   /* HAK_RANDOM_ORDER: the arena's random generator (xorshift) */
    _Atomic(hak_gen_t) gen;          /* new on create, reset and destroy: thread caches of older ones are stale */
    bool       sync;
    hak_lock_t lock;
    uint64_t   allocs, frees, failed_allocs;
    hak_gen_t  birth; /* its generation at create: unlike gen, kept by reset (whose stats carry on) */

    uint32_t         magic;
    uint8_t          policy; /* HAK_POLICY_FAST or HAK_POLICY_LEAN */
    unsigned         flags;
    size_t           slab_size;
    size_t           limit;
    size_t           committed, reserved, peak_committed;
    uint64_t         platform_calls;
    size_t           nslabs; /* SuperSlabs (compact layout: regions) */
#if !HAK_CFG_COMPACT
    size_t           dirty; /* committed bytes of free slices (what a purge would give back) */
    size_t           fresh; /* lean: bytes of slices freed since the last purge */
    size_t           idle;  /* lean: bytes of head pages seen emptying since the last purge (a hint: some may be
                               in use again); with `fresh` it decides when a batch is due */
    size_t           taken; /* lean: bytes of slices taken since the last purge (churn, when close to `fresh`) */
    size_t           purge_inuse; /* lean: committed - dirty (memory in use) right after the last purge */
    uint64_t         purged_ms; /* lean: hak_platform_clock_ms() at the last purge */
    uint32_t         trim_ms;    /* at most one round of page-tail trims begins per trim_ms (0: none; small.c) */
    uint32_t         trim_touches; /* 4 KiB pages of new memory touched for small blocks, up to the young limit */
    uint64_t         trimmed_ms; /* hak_platform_clock_ms() when the last round of page-tail trims began */
    struct hak_page *trim_next;  /* the page of bin trim_cls a round of tail trims goes on with (or NULL) */
    uint8_t          trim_cls;   /* the class the round is in; HAK_NUM_CLASSES when no round is under way */
    uint64_t         paged[(HAK_NUM_CLASSES + 63) / 64]; /* classes that made a page since create or reset */
    hak_superslab_t *slabs;                     /* every SuperSlab of the arena */
    hak_superslab_t *runs[HAK_RUN_BUCKETS];     /* SuperSlabs with free slices, by their longest free run */
    uint64_t         runs_map;                  /* bit b: runs[b] is not empty */
    hak_superslab_t *recent;                    /* the SuperSlab slices were last given back to, or NULL */
    hak_huge_t      *huge;
    size_t           nhuge;
    hak_huge_t      *huge_spare[HAK_HUGE_SPARES + 1]; /* fast: freed huge chunks kept, unregistered, for reuse
                                                        (the last entry is never used: no array of 0) */
#endif
    uint8_t         *pool;       /* the caller's pool [pool, pool + pool_size), which holds this struct too, or NULL */
    size_t           pool_size;
    hak_extent_t    *pool_free;  /* free extents of the pool's chunk area */
    size_t           limit_wanted; /* bytes the last commit refused by the cap or the budget wanted (0: none) */
    void           (*on_limit)(hak_arena_t *, size_t wanted, void *arg);
    void            *on_limit_arg;
    bool             in_on_limit; /* on_limit is running (alloc.c): refusals meanwhile do not call it again */
    struct hak_arena *next_free; /* arena-struct free list */
    struct hak_arena *all_next, *all_prev; /* every live arena (budget.c), under the global lock */
#if HAK_CFG_THREADS
    uint64_t          purge_epoch;          /* the last budget purge that visited it (budget.c), ditto */
#endif
    char             name[HAK_NAME_MAX];
#if HAK_CFG_COMPACT
    hak_heap_t       heap; /* last: ARM's short loads reach only the first 124 bytes of a struct */
#endif
};

/* An arena's lock, taken only where the arena is synchronized. */
HAK_INLINE void hak_arena_lock(hak_arena_t *a)
{
    if (a->sync)
        hak_lock(&a->lock);
}

HAK_INLINE void hak_arena_unlock(hak_arena_t *a)
{
    if (a->sync)
        hak_unlock(&a->lock);
}

/* ---- size classes (small.c) ---- */
extern const uint8_t _hak_class_of_small[1024 / 16 + 1];
extern const uint32_t _hak_class_size[80];

HAK_INLINE unsigned hak_size_class(size_t size)
{
    if (HAK_LIKELY(size <= 1024))
        return _hak_class_of_small[(size + 15) >> 4];
    unsigned k = (unsigned)(8 * sizeof(long) - 1 - (unsigned)__builtin_clzl((unsigned long)(size - 1)));
    return 8 + (k - 7) * 8 + (unsigned)((size - 1 - ((size_t)1 << k)) >> (k - 3));
}

/* ---- shared internals ---- */
extern hak_page_t _hak_empty_page; /* bins with no page point here: free == NULL sends alloc to the slow path */
extern hak_page_t _hak_free_slice; /* slice_page[] of free slices points here */

/* registry.c: a two-level radix table, granule -> chunk header (see registry.c) */
#define HAK_PTR_BITS (UINTPTR_MAX > 0xffffffffu ? 64 : 32)
#if HAK_CFG_FREESTANDING /* memory above 2^bits is refused (a map that fails); no more bits than a pointer has */
#define HAK_REG_ADDR_BITS (HAK_CFG_ADDR_BITS < HAK_PTR_BITS ? HAK_CFG_ADDR_BITS : HAK_PTR_BITS)
#elif UINTPTR_MAX > 0xffffffffu
#define HAK_REG_ADDR_BITS 48
#else
#define HAK_REG_ADDR_BITS 32
#endif
/* Whether some addresses lie above the registry's span (and must be refused before they index its root). */
#define HAK_REG_BOUNDED (HAK_REG_ADDR_BITS < HAK_PTR_BITS)
#define HAK_REG_INDEX_BITS (HAK_REG_ADDR_BITS - HAK_GRANULE_SHIFT)
/* Linux: leaves of 16 Ki entries under a small root; freestanding: root and leaves of equal size (1-2 KiB each on a
 * 32-bit target with small SuperSlabs), since one leaf usually covers all of a microcontroller's RAM. */
#define HAK_REG_LEAF_MAX   (HAK_CFG_FREESTANDING ? (HAK_REG_INDEX_BITS + 1) / 2 : 14)
#define HAK_REG_LEAF_BITS  (HAK_REG_INDEX_BITS < HAK_REG_LEAF_MAX ? HAK_REG_INDEX_BITS : HAK_REG_LEAF_MAX)
#define HAK_REG_ROOT_BITS  (HAK_REG_INDEX_BITS - HAK_REG_LEAF_BITS)
#define HAK_REG_LEAF_LEN   ((size_t)1 << HAK_REG_LEAF_BITS)
typedef _Atomic(hak_chunk_t *) hak_reg_entry_t;
extern _Atomic(hak_reg_entry_t *) _hak_reg_root[(size_t)1 << HAK_REG_ROOT_BITS];

/* The chunk covering p, or NULL if hakmem has none there. Lock-free. */
HAK_INLINE hak_chunk_t *_hak_registry_find(const void *p)
{
    uintptr_t x = (uintptr_t)p;
#if HAK_REG_BOUNDED
    if (HAK_UNLIKELY(x >> HAK_REG_ADDR_BITS))
        return NULL;
#endif
    size_t           index = x >> HAK_GRANULE_SHIFT;
    hak_reg_entry_t *leaf = atomic_load_explicit(&_hak_reg_root[index >> HAK_REG_LEAF_BITS], memory_order_acquire);
    if (HAK_UNLIKELY(!leaf))
        return NULL;
    return atomic_load_explicit(&leaf[index & (HAK_REG_LEAF_LEN - 1)], memory_order_acquire);
}
hak_chunk_t *_hak_registry_lookup(const void *p); /* the same, out of line (for small code off the fast paths) */
bool         _hak_registry_set(void *base, size_t size, hak_chunk_t *chunk); /* under the global lock */
bool         _hak_registry_claim(void *base, size_t size, hak_chunk_t *chunk); /* takes it; undone on failure */
void         _hak_free_quiet(void *p); /* hak_free(p), but silent about pointers hakmem never mapped (the shim) */

/* arena.c */
int   _hak_arena_enter(const hak_arena_t *a); /* validates a handle (0, HAK_EINVAL, HAK_ERR_BAD_ARENA); on 0
                                               the arena is locked and this thread's cached blocks are back in it */
void  _hak_global_lock(void);
void  _hak_global_unlock(void);
/* Chunk c leaves the registry (registry.c): its granules map to no chunk again. Takes the global lock. */
HAK_INLINE void _hak_registry_clear(hak_chunk_t *c)
{
    _hak_global_lock();
    _hak_registry_set(c, c->size, NULL);
    _hak_global_unlock();
}
void  _hak_report(int code, const char *msg, const void *ptr);
void  _hak_report_bad(int code, const void *ptr, bool realloc); /* an invalid free or realloc */
/* Environment variables found unreadable (HAK_ENV_BAD_*), reported by _hak_env_report once no lock is held. */
enum { HAK_ENV_BAD_POLICY = 1, HAK_ENV_BAD_LIMIT = 2, HAK_ENV_BAD_STATS = 4 /* (the malloc shim's) */ };
/* The spaces allowed around a variable's value (and between a number and its unit): a value read from a file with
 * CRLF line ends ends in "\r". */
HAK_INLINE bool _hak_env_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool _hak_env_is(const char *s, const char *word); /* s is `word` (lower case) in any case, spaces around it */
void _hak_env_bad(unsigned which);
void _hak_env_report(void);
void  _hak_commit_add(hak_arena_t *a, size_t bytes);
void  _hak_commit_sub(hak_arena_t *a, size_t bytes);
/* Counts the system calls a platform function made for the arena (the `calls` it reported; freestanding platforms
 * make none, and their builds count nothing). */
HAK_INLINE void _hak_count_calls(hak_arena_t *a, unsigned calls)
{
    if (!HAK_CFG_FREESTANDING)
        a->platform_calls += calls;
}
void *_hak_chunk_get(hak_arena_t *a, size_t size, size_t align);
void *_hak_meta_alloc(size_t size); /* process metadata (arena structs, thread caches); never freed */
void *_hak_meta_map(size_t bytes);  /* committed memory for metadata from the platform (registry leaves) */
void  _hak_chunk_put(hak_arena_t *a, void *base, size_t size);
size_t _hak_chunk_room(const hak_arena_t *a, size_t align);
bool   _hak_limit_callback(hak_arena_t *a, size_t before); /* after a refusal: on_limit; whether to retry */
/* The cap or the budget refused a commit of `bytes`: on_limit is told the largest such refusal of the call. */
HAK_INLINE void _hak_limit_refused(hak_arena_t *a, size_t bytes)
{
    if (bytes > a->limit_wanted)
        a->limit_wanted = bytes;
}
/* Counts an allocation that went through that protocol: served, or refused for want of memory. */
HAK_INLINE void _hak_count_alloc(hak_arena_t *a, bool served)
{
    if (HAK_CFG_STATS) {
        if (served)
            a->allocs++;
        else
            a->failed_allocs++;
    }
}

/* budget.c: process budget, global counters, the list of live arenas */
void _hak_global_committed(size_t add, size_t sub);
void _hak_global_reserved(size_t add, size_t sub);
bool _hak_commit_fits(const hak_arena_t *a, size_t more);
bool _hak_near_cap(const hak_arena_t *a); /* its threads should not cache (tcache.c) */
/* Whether `more` bytes fit under the arena's own cap (_hak_commit_fits: and under the process budget). */
HAK_INLINE bool _hak_within_cap(const hak_arena_t *a, size_t more)
{
    return !a->limit || (a->committed <= a->limit && more <= a->limit - a->committed);
}
bool _hak_may_commit(hak_arena_t *a, size_t more, bool may_purge); /* may purge own + others' empty memory */
/* A pool claimed for an arena being made (on its creator's stack), from the overlap check until the arena is
 * listed. */
typedef struct hak_pool_claim {
    uintptr_t              lo, hi;
    struct hak_pool_claim *next;
} hak_pool_claim_t;
/* Claims [lo, hi) for a pool arena: false if it overlaps the pool of a live arena or of one being made. The claim
 * (`claim`, unused without threads) holds until _hak_arena_list_add lists the arena with that pool. */
bool _hak_pool_claim(uintptr_t lo, uintptr_t hi, hak_pool_claim_t *claim);
void _hak_arena_list_add(hak_arena_t *a);
void _hak_arena_list_remove(hak_arena_t *a);

/* tcache.c */
#if HAK_CFG_TCACHE
/* The slot the calling thread used last; never NULL (a slot of no arena, generation 0, when there is none). */
extern _Thread_local hak_tslot_t *_hak_t_last __attribute__((tls_model("initial-exec")));
extern hak_tslot_t                _hak_no_slot;
#endif
hak_gen_t    _hak_new_generation(void);
hak_tslot_t *_hak_tslot_slow(hak_arena_t *a);             /* NULL: no cache for this thread or arena */
void        *_hak_tcache_refill(hak_arena_t *a, hak_tslot_t *s, unsigned cls);
void         _hak_tcache_overflow(hak_arena_t *a, hak_tslot_t *s, hak_tbin_t *bin);
#if HAK_CFG_TCACHE
bool         _hak_tcache_flush_locked(hak_arena_t *a);    /* the calling thread's blocks of a go back (any?) */
#else
HAK_INLINE bool _hak_tcache_flush_locked(hak_arena_t *a) /* (no caches: none; inline, so that callers fold it) */
{
    (void)a;
    return false;
}
#endif
bool         _hak_tcache_holds(const hak_arena_t *a, const hak_block_t *b, unsigned cls);

/* The calling thread's slot for a if it is the one it used last (no call, no loop), else NULL. Generations are
 * unique over all arenas, never 0 and never wrap, so the generation alone says it. */
HAK_INLINE hak_tslot_t *hak_last_slot(hak_arena_t *a)
{
#if HAK_CFG_TCACHE
    hak_tslot_t *s = _hak_t_last;
    if (HAK_LIKELY(s->gen == atomic_load_explicit(&a->gen, memory_order_relaxed)))
        return s;
#else
    (void)a;
#endif
    return NULL;
}

/* The calling thread's cache slot for synchronized arena a, or NULL (then the locked paths serve). */
HAK_INLINE hak_tslot_t *hak_tslot(hak_arena_t *a)
{
    hak_tslot_t *s = hak_last_slot(a);
#if HAK_CFG_TCACHE
    if (HAK_UNLIKELY(!s))
        s = _hak_tslot_slow(a);
#endif
    return s;
}

/* stats.c */
void _hak_stats_locked(hak_arena_t *a, hak_arena_stats_t *out);

/* ---- the layout: what arena.c, budget.c and stats.c ask of the blocks' organisation, which is either size
 * classes in SuperSlabs (superslab.c, small.c, large.c, alloc.c, check.c; tcache.c, built in both, serves only
 * them) or, with Kconfig HAK_COMPACT, one best-fit heap per chunk (compact.c). Each layout also defines the public
 * allocation calls (hak_alloc .. hak_arena_of), _hak_free_quiet, _hak_check_locked and _hak_slab_cache_drop. All
 * but _hak_layout_init run with the arena locked. ---- */
void   _hak_layout_init(hak_arena_t *a, const hak_arena_config_t *c); /* a new arena: nothing allocated yet */
void   _hak_layout_drop(hak_arena_t *a);          /* destroy: every chunk goes back */
void   _hak_layout_reset(hak_arena_t *a);         /* reset: every block is free again */
size_t _hak_release_empty(hak_arena_t *a);        /* gives back the arena's empty memory; nonzero if any went */
void   _hak_layout_trim(hak_arena_t *a);          /* hak_arena_trim: that, and on Linux the RSS of free blocks */
size_t _hak_in_use(const hak_arena_t *a);         /* bytes of live blocks */

/* superslab.c */
hak_page_t *_hak_slices_alloc(hak_arena_t *a, size_t n, size_t align);
void        _hak_slices_release(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page);
bool        _hak_slices_resize(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page, size_t m);
size_t      _hak_purge(hak_arena_t *a, size_t keep_empty); /* decommit dirty slices, unmap spare empty slabs */
void        _hak_lean_maybe_purge(hak_arena_t *a); /* lean: purge once a batch has gathered */
void        _hak_lean_purge_now(hak_arena_t *a, bool all); /* empty pages, aged (or all) dirty slices, spare slabs */
void        _hak_slab_cache_drop(hak_arena_t *a); /* unmap the process-wide cache (the budget is short) */

/* small.c */
void *_hak_alloc_slow(hak_arena_t *a, unsigned cls);
void  _hak_page_after_free(hak_arena_t *a, hak_page_t *page);
bool  _hak_page_has_free(const hak_arena_t *a, hak_page_t *page, const hak_block_t *b);
void  _hak_bins_clear(hak_arena_t *a);
void  _hak_bins_trim_tails(hak_arena_t *a); /* page tails above the highest live block, and the insides of free
                                              blocks of two OS pages or more, go back (Linux) */
size_t _hak_bins_empty_heads(const hak_arena_t *a); /* bytes of emptied head pages kept for reuse */
size_t _hak_bins_shrink(hak_arena_t *a);       /* out of slices: pages give back slices past their bump */
size_t _hak_bins_release_empty(hak_arena_t *a); /* empty pages kept at bin heads go back; returns how many */

/* large.c */
/* Whether a block of `size` aligned to `align` is large: at most half a SuperSlab, and its run fits a fresh one
 * of a's beside the header (and the guard slice); else it is huge. */
bool  _hak_large_fits(const hak_arena_t *a, size_t size, size_t align);
void *_hak_large_alloc(hak_arena_t *a, size_t size, size_t align);
void  _hak_large_free(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page);
bool  _hak_large_resize(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page, size_t size); /* in place */
void *_hak_huge_move(hak_arena_t *a, hak_huge_t *h, size_t size); /* realloc by moving pages; NULL: copy */
void  *_hak_huge_alloc(hak_arena_t *a, size_t size, size_t align, bool zeroed);
void   _hak_huge_free(hak_arena_t *a, hak_huge_t *h, bool may_keep);
void   _hak_huge_drop_all(hak_arena_t *a, bool keep_spares);
void   _hak_huge_drop_spares(hak_arena_t *a);

/* check.c */
typedef struct hak_check_fail {
    const char *what; /* the first inconsistency found, for the error handler */
    const void *obj;  /* the structure it was found in */
} hak_check_fail_t;
/* Records the first inconsistency and returns from the checking function (which has `f` and the object `obj`). */
#define HAK_CHECK_FAIL(msg)                                                                                 \
    do {                                                                                                    \
        f->what = "hak_arena_check: " msg, f->obj = obj;                                                    \
        return HAK_ERR_CORRUPT;                                                                             \
    } while (0)
int _hak_check_locked(hak_arena_t *a, hak_check_fail_t *f);
int _hak_check_page(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page, hak_check_fail_t *f); /* debug level 3 */

/* ---- valgrind memcheck (Kconfig HAK_VALGRIND; empty otherwise) ----
 * Memcheck cannot tell blocks apart inside memory hakmem maps itself, so valgrind builds describe them with client
 * requests. <valgrind/memcheck.h> is a tool header of no-op instruction sequences that makes no OS call: the one
 * header beyond the freestanding four that the core includes, and only under this option (the Makefile's include
 * check reads the .c files only). A block is a malloc-like block of its usable size from the moment hak_alloc &
 * co. hand it out (alloc.c) until the program frees it, or reset or destroy free it with all the others
 * (arena.c); a block in a thread cache is free. (Not a memcheck memory pool per arena: the leak checker skips pool
 * chunks when no malloc'd block is left at exit.) The rest of a SuperSlab's slices is no-access, so memcheck
 * reports accesses after free or outside any block, reads of uninitialised contents and leaks. hakmem's own
 * reads and writes of a block's first 16 bytes (link, marker) go through HAK_VG_LOAD/STORE, which put memcheck's
 * view back as it was: a free block stays no-access, a live block's undefined bytes stay undefined. SuperSlab and
 * huge-block headers hold pointers to blocks (page->start, h->block): they are excluded from address-error
 * reporting (they are always addressable anyway) and with that from the leak checker's root scan, so a block the
 * program dropped is reported as definitely lost; a SuperSlab in the process-wide cache is not excluded. */
#if HAK_CFG_VALGRIND
#include <valgrind/memcheck.h>

HAK_INLINE uintptr_t hak_vg_load(const void *word)
{
    unsigned char vbits[sizeof(uintptr_t)];
    unsigned      got = VALGRIND_GET_VBITS(word, vbits, sizeof vbits); /* 1: addressable; 3: no-access */
    uintptr_t     v;
    VALGRIND_MAKE_MEM_DEFINED(word, sizeof v);
    memcpy(&v, word, sizeof v);
    if (got == 1)
        VALGRIND_SET_VBITS(word, vbits, sizeof vbits);
    else if (got == 3)
        VALGRIND_MAKE_MEM_NOACCESS(word, sizeof v);
    return v;
}

HAK_INLINE void hak_vg_store(void *word, uintptr_t v)
{
    unsigned char vbits[sizeof(uintptr_t)];
    bool          closed = VALGRIND_GET_VBITS(word, vbits, sizeof vbits) == 3;
    if (closed)
        VALGRIND_MAKE_MEM_UNDEFINED(word, sizeof v);
    memcpy(word, &v, sizeof v);
    if (closed)
        VALGRIND_MAKE_MEM_NOACCESS(word, sizeof v);
}

/* Whether the block at p is the program's: live blocks are addressable, free ones no-access. */
HAK_INLINE bool hak_vg_live(const void *p)
{
    unsigned char vbits;
    return VALGRIND_GET_VBITS(p, &vbits, 1) == 1;
}

/* Whether the process runs under valgrind: every hak_arena_create sets it (HAK_VG_START), before any block of the
 * arena exists. Natively each client request below then costs a load and a branch. */
extern atomic_bool _hak_vg_running;
HAK_INLINE bool hak_vg_running(void)
{
    return HAK_UNLIKELY(atomic_load_explicit(&_hak_vg_running, memory_order_relaxed));
}

#define HAK_VG_START()           atomic_store_explicit(&_hak_vg_running, RUNNING_ON_VALGRIND != 0, memory_order_relaxed)
#define HAK_VG_RUNNING           hak_vg_running()
#define HAK_VG_LOAD(type, word)  (hak_vg_running() ? (type)hak_vg_load(word) : *(word))
#define HAK_VG_STORE(word, v)    (hak_vg_running() ? hak_vg_store(word, (uintptr_t)(v)) : (void)(*(word) = (v)))
#define HAK_VG_REQUEST(request)  do { if (hak_vg_running()) request; } while (0)
#define HAK_VG_ALLOC(p, n)       HAK_VG_REQUEST(VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, 0))
#define HAK_VG_FREE(p)           HAK_VG_REQUEST(VALGRIND_FREELIKE_BLOCK(p, 0))
#define HAK_VG_RESIZE(p, old, n) HAK_VG_REQUEST(VALGRIND_RESIZEINPLACE_BLOCK(p, old, n, 0))
#define HAK_VG_LIVE(p)           hak_vg_live(p)
#define HAK_VG_DEFINED(p, n)     HAK_VG_REQUEST(VALGRIND_MAKE_MEM_DEFINED(p, n))
#define HAK_VG_UNDEFINED(p, n)   HAK_VG_REQUEST(VALGRIND_MAKE_MEM_UNDEFINED(p, n))
#define HAK_VG_NOACCESS(p, n)    HAK_VG_REQUEST(VALGRIND_MAKE_MEM_NOACCESS(p, n))
#define HAK_VG_HEADER(p, n)      HAK_VG_REQUEST(VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, n))
#define HAK_VG_HEADER_GONE(p, n) HAK_VG_REQUEST(VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, n))
#else
/* The arguments are named, never evaluated: no unused-variable warnings, no code. */
#define HAK_VG_START()           ((void)0)
#define HAK_VG_RUNNING           0
#define HAK_VG_LOAD(type, word)  (*(word))
#define HAK_VG_STORE(word, v)    (*(word) = (v))
#define HAK_VG_ALLOC(p, n)       ((void)sizeof(p), (void)sizeof(n))
#define HAK_VG_FREE(p)           ((void)sizeof(p))
#define HAK_VG_RESIZE(p, old, n) ((void)sizeof(p), (void)sizeof(old), (void)sizeof(n))
#define HAK_VG_LIVE(p)           ((void)sizeof(p), false)
#define HAK_VG_DEFINED(p, n)     ((void)sizeof(p), (void)sizeof(n))
#define HAK_VG_UNDEFINED(p, n)   ((void)sizeof(p), (void)sizeof(n))
#define HAK_VG_NOACCESS(p, n)    ((void)sizeof(p), (void)sizeof(n))
#define HAK_VG_HEADER(p, n)      ((void)sizeof(p), (void)sizeof(n))
#define HAK_VG_HEADER_GONE(p, n) ((void)sizeof(p), (void)sizeof(n))
#endif

/* ---- free blocks: link and marker (every access goes through these, for HAK_VG_LOAD/STORE) ---- */
HAK_INLINE uintptr_t hak_marker(const hak_arena_t *a, const void *b)
{
    return a->cookie ^ (uintptr_t)b;
}

/* Whether b carries its free marker: it is free, or a live block whose contents happen to look free. */
HAK_INLINE bool hak_is_marked(const hak_arena_t *a, const hak_block_t *b)
{
    return HAK_VG_LOAD(uintptr_t, &b->marker) == hak_marker(a, b);
}

HAK_INLINE void hak_mark_free(const hak_arena_t *a, hak_block_t *b)
{
    HAK_VG_STORE(&b->marker, hak_marker(a, b));
}

HAK_INLINE void hak_mark_live(hak_block_t *b)
{
    HAK_VG_STORE(&b->marker, 0);
    if (HAK_CFG_HARDENED) /* the encoded link would tell whoever reads the new block's first word the link key */
        HAK_VG_STORE(&b->next, NULL);
}

/* Free-list links. Plain, or in hardened builds stored xor the arena's link key and the link's own address, so
 * that bytes written over a free block by an overflow decode to garbage rather than to a chosen address. */
HAK_INLINE hak_block_t *hak_next(const hak_arena_t *a, const hak_block_t *b)
{
    hak_block_t *next = HAK_VG_LOAD(hak_block_t *, &b->next);
    if (!HAK_CFG_HARDENED)
        return next;
    return (hak_block_t *)((uintptr_t)next ^ a->link_key ^ ((uintptr_t)b >> 4));
}

HAK_INLINE void hak_set_next(const hak_arena_t *a, hak_block_t *b, hak_block_t *next)
{
    HAK_VG_STORE(&b->next,
                 HAK_CFG_HARDENED ? (hak_block_t *)((uintptr_t)next ^ a->link_key ^ ((uintptr_t)b >> 4)) : next);
}

_Noreturn void _hak_corrupt(const void *ptr);

/* The small page of arena a in which b is the start of a block handed out at least once, or NULL. Reads only
 * hakmem's own tables (the registry, then headers it leads to), never b: safe for a link decoded from an
 * overwritten free block, whatever address it holds. */
HAK_INLINE hak_page_t *hak_block_page(const hak_arena_t *a, const void *b)
{
    hak_chunk_t *c = _hak_registry_find(b);
    if (!c || c->arena != a || c->kind != HAK_CHUNK_SUPERSLAB)
        return NULL;
    const hak_superslab_t *ss = (const hak_superslab_t *)c;
    size_t                 slice = ((uintptr_t)b - (uintptr_t)ss) >> HAK_SLICE_SHIFT;
    hak_page_t            *page = slice < ss->nslices ? ss->slice_page[slice] : NULL;
    return page && page->kind == HAK_PAGE_SMALL && hak_is_block_start(page, b) ? page : NULL;
}

/* Hardened builds: a block leaving a free list must be a block of the arena (checked before it is read: an
 * overwritten link may point anywhere) and carry its free marker, else the list was overwritten. A thread
 * cache's list holds blocks of many pages, found through the registry; a page's list only its own. */
HAK_INLINE void hak_check_popped(const hak_arena_t *a, const hak_block_t *b)
{
    if (HAK_CFG_HARDENED && HAK_UNLIKELY(!hak_block_page(a, b) || !hak_is_marked(a, b)))
        _hak_corrupt(b);
}

HAK_INLINE void hak_check_popped_from(const hak_arena_t *a, const hak_page_t *page, const hak_block_t *b)
{
    if (HAK_CFG_HARDENED && HAK_UNLIKELY(!hak_is_block_start(page, b) || !hak_is_marked(a, b)))
        _hak_corrupt(b);
}

HAK_INLINE hak_superslab_t *hak_page_slab(const hak_page_t *page)
{
    return (hak_superslab_t *)((uintptr_t)page & ~(uintptr_t)(HAK_GRANULE - 1));
}

/* A free block of class cls from slot s of synchronized arena a, marked live, or NULL when its list is empty. */
HAK_INLINE hak_block_t *hak_tslot_pop(hak_arena_t *a, hak_tslot_t *s, unsigned cls)
{
    hak_block_t *b = s->bins[cls].head;
    if (HAK_UNLIKELY(!b))
        return NULL;
    hak_check_popped(a, b);
    s->bins[cls].head = hak_next(a, b);
    s->bins[cls].room++;
    hak_mark_live(b);
    if (HAK_CFG_STATS)
        s->allocs++;
    return b;
}

/* The same from the calling thread's last-used slot, or NULL (no such slot, or its list is empty): hak_alloc's
 * fast path, and the malloc shim's. */
HAK_INLINE hak_block_t *hak_cache_pop(hak_arena_t *a, unsigned cls)
{
    hak_tslot_t *s = hak_last_slot(a);
    return HAK_UNLIKELY(!s) ? NULL : hak_tslot_pop(a, s, cls);
}

#pragma GCC visibility pop
#endif /* HAK_INTERNAL_H */
