/*
 * SuperSlabs: getting them, cutting them into slice runs, giving memory back.
 *
 * A SuperSlab's slices are tracked by bitmaps in its header: free_map (slice not part of any page), commit_map
 * (slice's memory committed, i.e. possibly resident) and aged_map. A free slice may be committed — "dirty": it
 * held a page once and still has its memory. The arena's `dirty` counter sums those bytes; the fast policy
 * leaves them for reuse. The lean policy purges in batches, each after HAK_CFG_LEAN_BATCH_KIB (or an eighth of
 * the arena) of slices were freed. While the arena churns, a batch decommits only the dirty slices that were
 * already dirty at the previous batch (aged_map; taking a slice clears its bit), one platform call per contiguous
 * run, and unmaps the SuperSlabs that stayed empty since then, keeping one: pages a working set takes again within
 * a batch never cost a syscall. Without churn, or once the memory in use has halved since the last purge, a batch
 * gives back every dirty slice at once (as hak_arena_trim and thread exit do).
 * While the arena churns — it takes slices again about as fast as it frees them — batches are at least
 * HAK_CFG_LEAN_INTERVAL_MS apart (where the platform has a clock): else every batch of a busy working set of
 * mid-size blocks would decommit slices it takes back moments later (random_mixed_large: 10x slower than fast,
 * all of it madvise and page faults).
 *
 * Slice runs are found through buckets: every SuperSlab with free slices sits in its arena's bucket for the length
 * of its longest free run (exact up to 8 slices, then four buckets per doubling), and a bitmap marks the buckets
 * in use. A request for n slices takes the SuperSlab slices were last freed to if its longest run is long enough
 * (likely dirty memory: no page faults), else the first SuperSlab of the first bucket whose runs are all long
 * enough: one bit scan and one bitmap walk, however many SuperSlabs the arena owns (an arena of 3,000 SuperSlabs
 * spent a fifth of realloc_grow scanning them first-fit). Before that it tries the head of n's own bucket if that
 * bucket also holds shorter runs, which keeps exact fits. Within the SuperSlab a dirty run is preferred. A new
 * SuperSlab comes from the process-wide cache of SuperSlabs left by destroyed arenas (same size only), else from a
 * fresh chunk; only its header slices are committed then, nothing is prefaulted. With guard pages (Kconfig) a
 * fresh SuperSlab's last slice is made inaccessible and is not one of its slices: nslices is one short of
 * chunk.size.
 *
 * All functions here run under the arena's lock; the cache and registry writes also take the global lock.
 */
#include "arena/internal.h"

static hak_superslab_t *g_cache; /* under the global lock */
static unsigned         g_cache_len;
static size_t           g_cache_warm; /* committed bytes of lean arenas' cached SuperSlabs left warm */
#define CACHE_WARM_MAX ((size_t)HAK_CFG_LEAN_BATCH_KIB * 1024 * 4)
static const unsigned cache_max = HAK_CFG_SLAB_CACHE; /* a variable: no "always false" warning when 0 */

/* Bits i .. i+n-1 (n >= 1), a word-aligned piece at a time (a map is HAK_MAP_WORDS long: two words at most). */
#define MAP_SPAN(i, n, body)                                                                                 \
    for (unsigned j_ = (i), end_ = (i) + (n); j_ < end_;) {                                                \
        unsigned w_ = j_ >> 6, lo_ = j_ & 63, k_ = end_ - j_ < 64 - lo_ ? end_ - j_ : 64 - lo_;             \
        uint64_t mask_ = ~(uint64_t)0 >> (64 - k_) << lo_; /* k_ >= 1 */                                    \
        body;                                                                                                \
        j_ += k_;                                                                                           \
    }

/* The common span lies in one word (a page's run; a firmware SuperSlab's whole map is one word): one mask. */
HAK_INLINE bool one_word(unsigned i, unsigned n)
{
    return HAK_MAP_WORDS == 1 || (i & 63) + n <= 64;
}

HAK_INLINE uint64_t word_mask(unsigned i, unsigned n)
{
    return ~(uint64_t)0 >> (64 - n) << (i & 63);
}

HAK_INLINE_FAST void map_set(uint64_t *m, unsigned i, unsigned n, bool on)
{
    HAK_ASSERT(n >= 1);
    uint64_t fill = on ? ~(uint64_t)0 : 0;
    if (one_word(i, n))
        m[i >> 6] = (m[i >> 6] & ~word_mask(i, n)) | (fill & word_mask(i, n));
    else
        MAP_SPAN(i, n, m[w_] = (m[w_] & ~mask_) | (fill & mask_))
}

/* Set bits of x. Where the target has no popcount instruction (x86-64's baseline, Cortex-M) the builtin is a call
 * into libgcc; this is a dozen inline instructions. */
HAK_INLINE unsigned popcount64(uint64_t x)
{
#ifdef __POPCNT__
    return (unsigned)__builtin_popcountll(x);
#else
    x -= (x >> 1) & UINT64_C(0x5555555555555555);
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
#endif
}

HAK_INLINE unsigned word_zeros(uint64_t word, uint64_t mask)
{
    uint64_t z = ~word & mask;
    return z ? popcount64(z) : 0; /* no counting where there are none (a run of committed slices) */
}

/* Clear bits among i .. i+n-1 (n >= 1). */
HAK_INLINE_FAST unsigned map_zeros(const uint64_t *m, unsigned i, unsigned n)
{
    HAK_ASSERT(n >= 1);
    if (one_word(i, n))
        return word_zeros(m[i >> 6], word_mask(i, n));
    unsigned c = 0;
    MAP_SPAN(i, n, c += word_zeros(m[w_], mask_))
    return c;
}

/* First run of n slices set in `map` (nslices long) starting at a multiple of `align` slices; -1 if none. */
static int find_run_in(const uint64_t *map, unsigned nslices, unsigned n, unsigned align)
{
    unsigned i = HAK_HDR_SLICES;
    while (i + n <= nslices) {
        uint64_t bits = map[i >> 6] >> (i & 63);
        if (!bits) {
            i = (i | 63) + 1;
            continue;
        }
        i += (unsigned)__builtin_ctzll(bits);
        i = (i + align - 1) & ~(align - 1);
        unsigned j = i;
        if (i + n <= nslices && one_word(i, n) && (map[i >> 6] & word_mask(i, n)) == word_mask(i, n))
            return (int)i; /* the run lies in one word: one test */
        while (j < i + n && j < nslices && hak_map_bit(map, j))
            j++;
        if (j == i + n)
            return (int)i;
        i = j + 1;
    }
    return -1;
}

/* A run of n free slices of ss aligned to `align`, preferring dirty ones (free but still committed): they cost no
 * page faults, and what is reused need not be purged later. -1 if none. */
static int find_run(const hak_superslab_t *ss, unsigned n, unsigned align)
{
    uint64_t dirty[HAK_MAP_WORDS];
    for (unsigned w = 0; w < HAK_MAP_WORDS; w++)
        dirty[w] = ss->free_map[w] & ss->commit_map[w];
    int at = find_run_in(dirty, ss->nslices, n, align);
    return at >= 0 ? at : find_run_in(ss->free_map, ss->nslices, n, align);
}

/* Longest run of free slices (bits past nslices are clear, so every run ends by then). */
static unsigned longest_run(const hak_superslab_t *ss)
{
    unsigned best = 0, i = HAK_HDR_SLICES, end = ss->nslices;
    while (i < end) {
        uint64_t set = ss->free_map[i >> 6] >> (i & 63);
        if (!set) {
            i = (i | 63) + 1;
            continue;
        }
        i += (unsigned)__builtin_ctzll(set); /* a run starts at i ... */
        unsigned j = i;
        uint64_t clear = 0;
        while (j < end && !(clear = ~ss->free_map[j >> 6] >> (j & 63)))
            j = (j | 63) + 1;
        if (j < end)
            j += (unsigned)__builtin_ctzll(clear); /* ... and ends at the next used slice */
        if (j > end)
            j = end;
        if (j - i > best)
            best = j - i;
        i = j;
    }
    return best;
}

/* Length of the free run that contains slices i .. i+n-1 (all free), its first slice in *first if asked: word-wise
 * scans left and right of them (the header slices are never free, and bits past nslices are clear, so both scans
 * stop inside the map). */
static unsigned run_around(const hak_superslab_t *ss, unsigned i, unsigned n, unsigned *first)
{
    unsigned end = i + n, start = i;
    while (end < ss->nslices) {
        uint64_t used = ~ss->free_map[end >> 6] >> (end & 63);
        if (used) {
            end += (unsigned)__builtin_ctzll(used);
            break;
        }
        end = (end | 63) + 1;
    }
    end = end < ss->nslices ? end : ss->nslices;
    while (start > 0) {
        unsigned b = start - 1;
        uint64_t used = ~ss->free_map[b >> 6] & (((uint64_t)2 << (b & 63)) - 1); /* bits 0 .. b of that word */
        if (used) {
            start = (b & ~63u) + 64 - (unsigned)__builtin_clzll(used);
            break;
        }
        start = b & ~63u;
    }
    if (first)
        *first = start;
    return end - start;
}

static void runs_unlink(hak_arena_t *a, hak_superslab_t *ss)
{
    if (!ss->longest)
        return;
    unsigned b = hak_run_bucket(ss->longest);
    if (ss->rprev)
        ss->rprev->rnext = ss->rnext;
    else if (!(a->runs[b] = ss->rnext))
        a->runs_map &= ~((uint64_t)1 << b);
    if (ss->rnext)
        ss->rnext->rprev = ss->rprev;
}

static void runs_link(hak_arena_t *a, hak_superslab_t *ss)
{
    if (!ss->longest)
        return;
    unsigned b = hak_run_bucket(ss->longest);
    ss->rprev = NULL;
    ss->rnext = a->runs[b];
    if (ss->rnext)
        ss->rnext->rprev = ss;
    a->runs[b] = ss;
    a->runs_map |= (uint64_t)1 << b;
}

/* ss's longest free run is now `longest`: moves it to that bucket (at the head) if the bucket changes. */
static void runs_set(hak_arena_t *a, hak_superslab_t *ss, unsigned longest)
{
    if (ss->longest && longest && hak_run_bucket(ss->longest) == hak_run_bucket(longest)) {
        ss->longest = longest;
        return;
    }
    runs_unlink(a, ss);
    ss->longest = longest;
    runs_link(a, ss);
}

/* Every slice after the header free. `keep_aging`: a reset arena's SuperSlab keeps what the lean purges learned
 * (aged bits mark free slices only, and those stay free), else its slices that sat unused through the last purge
 * would start aging anew at every reset, and an arena reset more often than it purges would never give back. */
static void slab_reset(hak_superslab_t *ss, bool keep_aging)
{
    memset(ss->free_map, 0, sizeof ss->free_map);
    if (!keep_aging) {
        memset(ss->aged_map, 0, sizeof ss->aged_map);
        ss->aged_empty = false;
    }
    map_set(ss->free_map, HAK_HDR_SLICES, ss->nslices - HAK_HDR_SLICES, true);
    ss->nfree = ss->nslices - HAK_HDR_SLICES;
    ss->longest = 0; /* on no bucket list until runs_set */
    for (unsigned i = 0; i < HAK_MAX_SLICES; i++) /* also past the end: a short SuperSlab's last granule */
        ss->slice_page[i] = &_hak_free_slice;
}

/* Decommits the free committed runs of ss (with `aged_only`, only the slices that were already free and committed
 * at the previous lean purge); what stays free and committed is aged from now on. Returns the bytes. Accounts to
 * `a` when it owns ss. */
static size_t decommit_free_runs(hak_arena_t *a, hak_superslab_t *ss, bool pool, bool aged_only)
{
    size_t   bytes = 0;
    unsigned calls = 0;
    uint64_t dirty[HAK_MAP_WORDS];
    for (unsigned w = 0; w < HAK_MAP_WORDS; w++)
        dirty[w] = ss->free_map[w] & ss->commit_map[w] & (aged_only ? ss->aged_map[w] : ~(uint64_t)0);
    for (unsigned i = HAK_HDR_SLICES; i < ss->nslices;) {
        if (!hak_map_bit(dirty, i)) {
            i++;
            continue;
        }
        unsigned j = i;
        while (j < ss->nslices && hak_map_bit(dirty, j))
            j++;
        if (!pool)
            hak_platform_decommit((uint8_t *)ss + ((size_t)i << HAK_SLICE_SHIFT), (size_t)(j - i) << HAK_SLICE_SHIFT,
                                  &calls);
        map_set(ss->commit_map, i, j - i, false);
        bytes += (size_t)(j - i) << HAK_SLICE_SHIFT;
        i = j;
    }
    for (unsigned w = 0; w < HAK_MAP_WORDS; w++)
        ss->aged_map[w] = ss->free_map[w] & ss->commit_map[w];
    if (a) {
        _hak_count_calls(a, calls);
        a->dirty -= bytes;
        _hak_commit_sub(a, bytes);
    } else if (!pool) {
        _hak_global_committed(0, bytes); /* a cached SuperSlab: counted only process-wide */
    }
    return bytes;
}

static size_t slab_committed(const hak_superslab_t *ss)
{
    return (size_t)(ss->nslices - map_zeros(ss->commit_map, 0, ss->nslices)) << HAK_SLICE_SHIFT;
}

static void slab_link(hak_arena_t *a, hak_superslab_t *ss)
{
    ss->prev = NULL;
    ss->next = a->slabs;
    if (a->slabs)
        a->slabs->prev = ss;
    a->slabs = ss;
    a->nslabs++;
    a->reserved += ss->chunk.size;
    runs_set(a, ss, longest_run(ss));
}

static void slab_unlink(hak_arena_t *a, hak_superslab_t *ss)
{
    runs_set(a, ss, 0);
    if (a->recent == ss)
        a->recent = NULL;
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        a->slabs = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    a->nslabs--;
    a->reserved -= ss->chunk.size;
}

static void chunk_forget(hak_arena_t *a, hak_superslab_t *ss)
{
    _hak_registry_clear(&ss->chunk);
    _hak_chunk_put(a, ss, ss->chunk.size);
}

/* Unmaps an empty SuperSlab of `a` (or returns it to the pool). */
static void slab_release(hak_arena_t *a, hak_superslab_t *ss)
{
    size_t c = slab_committed(ss); /* every committed slice but the header is a free, dirty one */
    a->dirty -= c - HAK_SLAB_HDR;
    _hak_commit_sub(a, c);
    slab_unlink(a, ss);
    chunk_forget(a, ss);
}

static hak_superslab_t *slab_from_cache(hak_arena_t *a)
{
    if (a->pool || HAK_CFG_SLAB_CACHE == 0)
        return NULL;
    _hak_global_lock();
    hak_superslab_t *ss = g_cache;
    while (ss && ss->chunk.size != a->slab_size)
        ss = ss->next;
    if (ss) {
        if (ss->prev)
            ss->prev->next = ss->next;
        else
            g_cache = ss->next;
        if (ss->next)
            ss->next->prev = ss->prev;
        g_cache_len--;
        if (ss->warm) {
            g_cache_warm -= slab_committed(ss);
            ss->warm = false;
        }
        ss->chunk.arena = a;
        ss->chunk.fast = a->sync ? NULL : a;
        HAK_VG_HEADER(ss, HAK_HDR_BYTES);
    }
    _hak_global_unlock();
    return ss;
}

/* Bytes for a new SuperSlab: slab_size, or on freestanding and in caller pools as much as is left if that is less
 * (a pool's last SuperSlab ends where the pool does); 0 if that cannot hold `slices` slices besides the header
 * (and the guard slice slab_new takes, if any). */
static size_t slab_bytes(hak_arena_t *a, size_t slices)
{
    size_t size = a->slab_size;
    if (a->pool || HAK_CFG_FREESTANDING) {
        size_t room = _hak_chunk_room(a, HAK_GRANULE) & ~(HAK_SLICE - 1);
        if (room < size)
            size = room;
    }
    size_t guard = HAK_CFG_GUARD_PAGES && !a->pool;
    return size >= ((HAK_HDR_SLICES + slices + guard) << HAK_SLICE_SHIFT) ? size : 0;
}

/* A SuperSlab that can hold a run of `room` slices, `slices` of which will be committed at once (an aligned run
 * needs room for its alignment but commits only itself). */
static hak_superslab_t *slab_new(hak_arena_t *a, size_t room, size_t slices)
{
    size_t least = HAK_SLAB_HDR + (slices << HAK_SLICE_SHIFT); /* what any SuperSlab must commit for the run */
    /* Over the cap: the arena's own empty memory goes first; the process's cache stays if that is not enough. */
    if (!_hak_within_cap(a, least)) {
        _hak_bins_release_empty(a);
        _hak_purge(a, 0);
        if (!_hak_within_cap(a, least)) {
            _hak_limit_refused(a, least);
            return NULL;
        }
    }
    hak_superslab_t *ss = slab_from_cache(a);
    if (ss) {
        /* Its committed bytes are already counted process-wide; only the arena's own cap applies, which leaves
         * room for the header and the run (above): what else it keeps committed goes if that would not fit. */
        size_t c = slab_committed(ss), run = slices << HAK_SLICE_SHIFT; /* (the run may be dirty already) */
        if (!_hak_within_cap(a, c + run)) {
            decommit_free_runs(NULL, ss, false, false);
            c = HAK_SLAB_HDR;
        }
        a->committed += c; /* not _hak_commit_add: the process total already has it */
        if (a->committed > a->peak_committed)
            a->peak_committed = a->committed;
        a->dirty += c - HAK_SLAB_HDR;
        slab_link(a, ss);
        return ss;
    }
    size_t size = slab_bytes(a, room);
    if (!size || !_hak_may_commit(a, HAK_SLAB_HDR + (slices << HAK_SLICE_SHIFT), true))
        return NULL; /* (a SuperSlab mapped for a page that cannot be committed would be unmapped at once) */
    _hak_huge_drop_spares(a); /* an arena that maps more gives back the huge chunks it kept first (large.c) */
    ss = _hak_chunk_get(a, size, HAK_GRANULE);
    if (!ss)
        return NULL;
    unsigned calls = 0;
    if (!a->pool && !hak_platform_commit(ss, HAK_SLAB_HDR, &calls)) {
        _hak_count_calls(a, calls);
        _hak_chunk_put(a, ss, size);
        return NULL;
    }
    _hak_count_calls(a, calls);
    /* Valgrind builds (internal.h): the header is no leak-check root, and no slice holds a block yet. */
    HAK_VG_HEADER(ss, HAK_HDR_BYTES);
    HAK_VG_NOACCESS((uint8_t *)ss + HAK_SLAB_HDR, size - HAK_SLAB_HDR);
    ss->chunk = (hak_chunk_t){.magic = HAK_CHUNK_MAGIC, .kind = HAK_CHUNK_SUPERSLAB, .arena = a,
                              .fast = a->sync ? NULL : a, .size = size};
    ss->nslices = (uint32_t)(size >> HAK_SLICE_SHIFT);
    /* Guard pages: the last slice becomes inaccessible and leaves the SuperSlab's slices (its slice_page entry
     * stays the free sentinel, so a free into it is reported, if the access did not fault first). */
    calls = 0;
    if (HAK_CFG_GUARD_PAGES && !a->pool &&
        hak_platform_protect((uint8_t *)ss + size - HAK_SLICE, HAK_SLICE, &calls))
        ss->nslices--; /* (the mapping splits in two: one more VMA per SuperSlab) */
    _hak_count_calls(a, calls);
    ss->warm = false;
    memset(ss->commit_map, 0, sizeof ss->commit_map);
    map_set(ss->commit_map, 0, HAK_HDR_SLICES, true);
    slab_reset(ss, false);
    if (!_hak_registry_claim(ss, size, &ss->chunk)) {
        _hak_chunk_put(a, ss, size);
        return NULL;
    }
    _hak_commit_add(a, HAK_SLAB_HDR);
    slab_link(a, ss);
    return ss;
}

/* Gives free slices i .. i+n-1 of ss to `page`: commits those that are not committed, then marks them used. */
static bool take_slices(hak_arena_t *a, hak_superslab_t *ss, unsigned i, unsigned n, hak_page_t *page)
{
    unsigned fresh = map_zeros(ss->commit_map, i, n);
    if (fresh && !_hak_may_commit(a, (size_t)fresh << HAK_SLICE_SHIFT, false))
        return false;
    for (unsigned j = i; fresh && j < i + n; j++) { /* each run committed here is a free, dirty run until taken */
        if (hak_map_bit(ss->commit_map, j))
            continue;
        unsigned k = j, calls = 0;
        while (k < i + n && !hak_map_bit(ss->commit_map, k))
            k++;
        size_t bytes = (size_t)(k - j) << HAK_SLICE_SHIFT;
        bool   ok = a->pool || hak_platform_commit((uint8_t *)ss + ((size_t)j << HAK_SLICE_SHIFT), bytes, &calls);
        _hak_count_calls(a, calls);
        if (!ok)
            return false;
        map_set(ss->commit_map, j, k - j, true);
        _hak_commit_add(a, bytes);
        a->dirty += bytes;
        j = k;
    }
    a->dirty -= (size_t)n << HAK_SLICE_SHIFT;
    a->taken += (size_t)n << HAK_SLICE_SHIFT;
    unsigned first, run = run_around(ss, i, n, &first);
    map_set(ss->free_map, i, n, false);
    map_set(ss->aged_map, i, n, false);
    ss->aged_empty = false;
    if (run == ss->nfree) { /* the only free run (a SuperSlab being filled): the longer of what is left of it */
        unsigned left = i - first, right = first + run - i - n;
        runs_set(a, ss, left > right ? left : right);
    } else if (run == ss->longest) { /* cut from a longest run: another may be as long, or none */
        runs_set(a, ss, longest_run(ss));
    }
    ss->nfree -= n;
    for (unsigned j = i; j < i + n; j++)
        ss->slice_page[j] = page;
    return true;
}

static void give_slices(hak_arena_t *a, hak_superslab_t *ss, unsigned i, unsigned n)
{
    for (unsigned j = i; j < i + n; j++)
        ss->slice_page[j] = &_hak_free_slice;
    map_set(ss->free_map, i, n, true);
    unsigned run = run_around(ss, i, n, NULL); /* the slices joined their neighbours' runs */
    if (run > ss->longest)
        runs_set(a, ss, run);
    ss->nfree += n;
    a->dirty += (size_t)n << HAK_SLICE_SHIFT;
    a->fresh += (size_t)n << HAK_SLICE_SHIFT;
    a->recent = ss;
}

/* A SuperSlab of a with a run of n free slices aligned to `align`, its index in *at; NULL if none. */
static hak_superslab_t *find_slab(hak_arena_t *a, size_t n, size_t align, int *at)
{
    size_t           need = n + align - 1; /* a free run this long holds an aligned run of n */
    unsigned         own = hak_run_bucket((unsigned)n);
    hak_superslab_t *ss = a->recent; /* where slices were freed last: likely a dirty run, no page faults */
    if (!ss || ss->longest < need)
        ss = a->runs[own];
    if (!ss || ss->longest < need) { /* n's own bucket may hold shorter runs too; from `from` on, none is */
        unsigned from = need == 1 ? 0 : hak_run_bucket((unsigned)need - 1) + 1;
        uint64_t map = from < 64 ? a->runs_map >> from << from : 0;
        if (!map)
            return NULL;
        ss = a->runs[__builtin_ctzll(map)];
    }
    *at = find_run(ss, (unsigned)n, (unsigned)align);
    HAK_ASSERT(*at >= 0);
    return ss;
}

/* Bytes a run of n slices at `at` of ss must commit (its slices not committed yet); n of them if there is no ss. */
HAK_INLINE size_t run_fresh(const hak_superslab_t *ss, int at, size_t n)
{
    return (ss ? map_zeros(ss->commit_map, (unsigned)at, (unsigned)n) : n) << HAK_SLICE_SHIFT;
}

hak_page_t *_hak_slices_alloc(hak_arena_t *a, size_t n, size_t align)
{
    if (n == 0 || n >= (a->slab_size >> HAK_SLICE_SHIFT) || align > (HAK_GRANULE >> HAK_SLICE_SHIFT))
        return NULL;
    int              at = -1;
    hak_superslab_t *ss = find_slab(a, n, align, &at);
    /* Room under the cap and the budget for what the run must commit (nothing if its slices are dirty: at the
     * budget, an arena reset after every request reuses them as they are; an arena over its lowered cap purges
     * anyway), made before any SuperSlab is taken, since the purge that makes it may release the one found. */
    size_t fresh = run_fresh(ss, at, n);
    if (!_hak_commit_fits(a, fresh)) {
        _hak_may_commit(a, fresh, true);
        ss = find_slab(a, n, align, &at);
    }
    if (!ss && (ss = slab_new(a, n + align - 1, n)) != NULL) {
        at = find_run(ss, (unsigned)n, (unsigned)align);
        HAK_ASSERT(at >= 0);
    } else if (!ss) {
        /* No memory for another SuperSlab (a pool or a static region is full long before any OS limit): the
         * empty pages bins keep for reuse go back (_hak_chunk_get may have done so already), and we search again. */
        _hak_bins_release_empty(a);
        ss = find_slab(a, n, align, &at);
        if (!ss && _hak_bins_shrink(a)) { /* then the slices pages never used */
            ss = find_slab(a, n, align, &at);
            if (!ss && (ss = slab_new(a, n + align - 1, n)) != NULL) /* (under a cap, it first gives back what the
                                                                      shrink freed) */
                at = find_run(ss, (unsigned)n, (unsigned)align);
        }
        /* The run found may need memory committed that the cap refuses until the free slices just made are given
         * back (which may release the SuperSlab found: search again after it). */
        if (ss && !_hak_commit_fits(a, fresh = run_fresh(ss, at, n))) {
            _hak_may_commit(a, fresh, true);
            ss = find_slab(a, n, align, &at);
        }
    }
    if (!ss || at < 0)
        return NULL;
    hak_page_t *page = &ss->pages[at - (int)HAK_HDR_SLICES];
    if (!take_slices(a, ss, (unsigned)at, (unsigned)n, page))
        return NULL;
    page->slice = (uint16_t)at;
    page->nslices = (uint16_t)n;
    page->start = (uint8_t *)ss + ((size_t)at << HAK_SLICE_SHIFT);
    return page;
}

void _hak_slices_release(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page)
{
    give_slices(a, ss, page->slice, page->nslices);
    page->kind = HAK_PAGE_FREE;
}

bool _hak_slices_resize(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page, size_t m)
{
    unsigned i = page->slice, n = page->nslices;
    if (m > n) {
        if (i + m > ss->nslices || map_zeros(ss->free_map, i + n, (unsigned)m - n))
            return false;
        size_t fresh = run_fresh(ss, (int)(i + n), m - n);
        if (!_hak_commit_fits(a, fresh)) /* at the cap: the arena's own empty memory first (never ss's slices in */
            _hak_may_commit(a, fresh, true); /* use: the purge leaves the slices free, maybe no longer committed) */
        if (!take_slices(a, ss, i + n, (unsigned)m - n, page))
            return false;
    }
    if (m < n)
        give_slices(a, ss, i + (unsigned)m, n - (unsigned)m);
    page->nslices = (uint16_t)m;
    return true;
}

/* hak_arena_reset: every SuperSlab's slices become free (and dirty where committed). */
static void slabs_reset(hak_arena_t *a)
{
    a->dirty = 0;
    for (int i = 0; i < HAK_HUGE_SPARES; i++) /* a fast arena's spare huge chunks (large.c) stay as they are */
        a->dirty += a->huge_spare[i] ? hak_huge_used(a->huge_spare[i]) : 0;
    for (hak_superslab_t *ss = a->slabs; ss; ss = ss->next) {
        runs_set(a, ss, 0);
        slab_reset(ss, true);
        runs_set(a, ss, longest_run(ss));
        a->dirty += slab_committed(ss) - HAK_SLAB_HDR;
    }
    a->fresh = a->dirty; /* all freed at once: a lean arena's next batch is due */
}

static size_t purge(hak_arena_t *a, size_t keep_empty, bool aged_only)
{
    size_t before = a->committed, kept = 0;
    _hak_huge_drop_spares(a); /* a fast arena's spare huge chunks (large.c) */
    for (hak_superslab_t *ss = a->slabs, *next; ss; ss = next) {
        next = ss->next;
        bool empty = ss->nfree == ss->nslices - HAK_HDR_SLICES;
        if (empty && (ss->aged_empty || !aged_only) && kept++ >= keep_empty) {
            slab_release(a, ss);
            continue;
        }
        if (a->dirty)
            decommit_free_runs(a, ss, a->pool != NULL, aged_only);
        ss->aged_empty = empty;
    }
    a->fresh = 0;
    return before - a->committed;
}

size_t _hak_purge(hak_arena_t *a, size_t keep_empty)
{
    return purge(a, keep_empty, false);
}

void _hak_lean_purge_now(hak_arena_t *a, bool all)
{
    _hak_bins_release_empty(a); /* emptied head pages too: the batch is the delay that keeps them warm */
    purge(a, 1, !all);
    a->idle = a->taken = 0;
    a->purge_inuse = a->committed - a->dirty;
    a->purged_ms = hak_platform_clock_ms();
}

void _hak_lean_maybe_purge(hak_arena_t *a)
{
    /* A batch is due once HAK_CFG_LEAN_BATCH_KIB of slices, or an eighth of what the arena holds if more, were
     * freed since the last one (the aging it does is described at the top of this file). Emptied head pages
     * (idle) join a batch only when real pages are being given back too: alone they are the churn of a steady
     * working set. While the arena churns (it took again at least half as many slices as it freed since the
     * last purge), a batch due sooner than HAK_CFG_LEAN_INTERVAL_MS after that purge waits: its slices keep aging,
     * and a working set that takes them back within the interval costs no syscall and no page fault.
     * Without churn a batch goes whole, aged or not: nothing takes it back. And a working set going away is no
     * churn, whatever was taken before: once the memory in use has fallen to half of what it was after the last
     * purge, a due batch goes at once. So an arena that goes quiet after freeing its working set keeps about the
     * batch it has not completed, unless its last purge came at a low point (cycles of filling and emptying it
     * faster than the interval: the reference is then small). (Churn moves the memory in use by a few pages; the
     * takes that preceded a sudden release held its batches back for as long as the arena was called, and for
     * good once it went quiet.) */
    size_t batch = (size_t)HAK_CFG_LEAN_BATCH_KIB * 1024;
    if (batch < a->committed / 8)
        batch = a->committed / 8;
    if (a->policy != HAK_POLICY_LEAN || !a->fresh || a->fresh + a->idle < batch)
        return;
    bool churn = a->taken >= a->fresh / 2;
    bool for_good = churn && a->committed - a->dirty - _hak_bins_empty_heads(a) < a->purge_inuse / 2;
#if HAK_CFG_LEAN_INTERVAL_MS > 0 /* (0: no pacing; as an `if`, the comparison below would not compile) */
    if (churn && !for_good) {
        uint64_t now = hak_platform_clock_ms(); /* 0: no clock, no pacing */
        if (now && now - a->purged_ms < HAK_CFG_LEAN_INTERVAL_MS)
            return;
    }
#endif
    _hak_lean_purge_now(a, for_good || !churn); /* (aging keeps back only what churn may take again) */
}

/* Unmaps every SuperSlab of the process-wide cache (the process budget is short, and no arena uses them). The
 * calls count to `a`, a non-pool arena whose lock is held. */
void _hak_slab_cache_drop(hak_arena_t *a)
{
    _hak_global_lock();
    hak_superslab_t *ss = g_cache;
    g_cache = NULL;
    g_cache_len = 0;
    g_cache_warm = 0;
    _hak_global_unlock();
    while (ss) {
        hak_superslab_t *next = ss->next;
        ss->warm = false;
        _hak_global_committed(0, slab_committed(ss));
        chunk_forget(a, ss);
        ss = next;
    }
}

/* Puts an emptied SuperSlab into the process-wide cache (the global lock is held). */
static void slab_to_cache_locked(hak_superslab_t *ss)
{
    ss->chunk.arena = ss->chunk.fast = NULL;
    ss->prev = NULL;
    ss->next = g_cache;
    if (g_cache)
        g_cache->prev = ss;
    g_cache = ss;
    g_cache_len++;
    HAK_VG_HEADER_GONE(ss, HAK_HDR_BYTES); /* points at no block: valgrind need not skip it */
}

/* destroy: every SuperSlab leaves the arena, into the process-wide cache while it has room (lean arenas' up to
 * CACHE_WARM_MAX of them still committed), else back to the platform or the pool. */
static void slabs_drop_all(hak_arena_t *a)
{
    while (a->slabs) {
        hak_superslab_t *ss = a->slabs;
        slab_unlink(a, ss);
        slab_reset(ss, false);
        bool cached = false;
        if (!a->pool && HAK_CFG_SLAB_CACHE > 0) {
            size_t c = slab_committed(ss); /* read before another arena can adopt it */
            if (a->policy == HAK_POLICY_LEAN) {
                /* Lean: up to 4 batches of cached SuperSlabs stay committed, so that arenas made and destroyed
                 * per request reuse warm pages instead of paying a madvise each; the rest is decommitted (outside
                 * the lock), then cached cold. Warm ones are counted and cached in one hold of the lock: a cache
                 * drop in between would zero the count and leave this one to be taken off it later. */
                _hak_global_lock();
                if (g_cache_warm + c <= CACHE_WARM_MAX && g_cache_len < cache_max) {
                    ss->warm = true;
                    g_cache_warm += c;
                    slab_to_cache_locked(ss);
                    cached = true;
                }
                _hak_global_unlock();
                if (!cached) {
                    decommit_free_runs(NULL, ss, false, false); /* takes the bytes off the process total itself */
                    c = slab_committed(ss);
                }
            }
            if (!cached) {
                _hak_global_lock();
                if (g_cache_len < cache_max) {
                    ss->warm = false;
                    slab_to_cache_locked(ss);
                    cached = true; /* its `c` committed bytes stay in the process total */
                }
                _hak_global_unlock();
            }
            if (!cached)
                _hak_global_committed(0, c);
        } else if (!a->pool) {
            _hak_global_committed(0, slab_committed(ss));
        }
        if (!cached)
            chunk_forget(a, ss);
    }
    a->committed = a->dirty = 0; /* only destroy drops everything, and the arena is gone after it */
}

/* ---- the layout interface (internal.h) of the size-class layout ---- */

void _hak_layout_init(hak_arena_t *a, const hak_arena_config_t *c)
{
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++)
        a->bins[i].page = &_hak_empty_page;
    a->trim_cls = HAK_NUM_CLASSES; /* no round of page-tail trims under way (small.c) */
    a->trim_ms = c->trim_ms ? c->trim_ms : a->policy == HAK_POLICY_LEAN ? HAK_CFG_LEAN_TRIM_MS : HAK_CFG_FAST_TRIM_MS;
    if (HAK_CFG_FREESTANDING || a->trim_ms == HAK_TRIM_NEVER)
        a->trim_ms = 0;
}

/* Valgrind builds: destroy and reset free every block the program still holds, i.e. every slot handed out that
 * memcheck finds addressable (free blocks, cached ones too, are no-access). O(blocks handed out), and only when
 * running under valgrind. */
static void vg_free_blocks(hak_arena_t *a)
{
    if (!HAK_VG_RUNNING)
        return;
    for (hak_superslab_t *ss = a->slabs; ss; ss = ss->next)
        for (uint32_t i = HAK_HDR_SLICES; i < ss->nslices; i++) {
            hak_page_t *page = ss->slice_page[i];
            if (page->kind == HAK_PAGE_FREE || page->slice != i)
                continue;
            for (uint8_t *b = page->start; b < hak_bump(page); b += page->bsize)
                if (HAK_VG_LIVE(b))
                    HAK_VG_FREE(b);
        }
    for (hak_huge_t *h = a->huge; h; h = h->next)
        HAK_VG_FREE(h->block);
}

void _hak_layout_drop(hak_arena_t *a)
{
    vg_free_blocks(a);
    _hak_huge_drop_all(a, false);
    slabs_drop_all(a);
}

void _hak_layout_reset(hak_arena_t *a)
{
    vg_free_blocks(a);
    _hak_bins_clear(a);
    slabs_reset(a);
    _hak_huge_drop_all(a, true); /* fast: some stay as spares for the next request's big buffers */
    _hak_lean_maybe_purge(a);    /* lean: decommit in batches, like any other emptied memory */
}

size_t _hak_release_empty(hak_arena_t *a)
{
    return _hak_bins_release_empty(a) + _hak_purge(a, 0); /* empty pages, then empty SuperSlabs */
}

void _hak_layout_trim(hak_arena_t *a)
{
    _hak_bins_release_empty(a);
    _hak_bins_trim_tails(a); /* RSS only: the slices stay committed */
    _hak_purge(a, 0);
}

size_t _hak_in_use(const hak_arena_t *a)
{
    size_t in_use = 0;
    for (hak_superslab_t *ss = a->slabs; ss; ss = ss->next)
        for (uint32_t i = HAK_HDR_SLICES; i < ss->nslices; i++) {
            hak_page_t *p = ss->slice_page[i];
            if (p != &_hak_free_slice && p->slice == i)
                in_use += (size_t)p->used * p->bsize;
        }
    for (hak_huge_t *h = a->huge; h; h = h->next)
        in_use += h->bsize;
    return in_use;
}
