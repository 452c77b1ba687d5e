/*
 * Per-thread caches for synchronized (default) arenas, so threads sharing an arena rarely touch its lock.
 *
 * Each thread owns one hak_tcache_t (from a process-wide free list, refilled from metadata chunks), reached
 * through a thread-local pointer. It has HAK_TC_SLOTS slots, one per arena the thread uses lately; a slot keeps,
 * per size class, a LIFO list of free blocks of *that* arena (linked through the blocks, marked free like
 * any free block), so a block allocated from arena A always belongs to A whichever thread freed it before —
 * unlike a cache keyed by size alone. hak_alloc pops from the list and hak_free pushes to it, without lock or
 * atomics. A list holds 32 KiB of blocks, but at least 4 and at most 64 blocks: 4 blocks of the largest classes
 * are 256 KiB, so a slot may hold 4 MiB, 2.7 MiB of it above 8 KiB (capping those classes at one or two blocks
 * made random_mixed_large on a default arena 65% or 20% slower). A list that runs dry is refilled under the
 * arena's lock with a batch that starts at two blocks and doubles up to half the capacity (a short-lived arena
 * does not fill caches it will never use), one that overflows gives half back; near its arena's cap or the
 * process budget a slot caches nothing (cache_nothing_locked, below). A free from a thread that did not allocate
 * the block simply lands in that thread's cache: no remote queues, and the bound on each list bounds what an idle
 * thread can hold.
 *
 * Blocks in caches are counted as in use by their pages, so hak_arena_stats, trim, check and set_limit flush
 * the calling thread's cache of that arena first (other threads' caches count as in use). To the program (and to
 * memcheck in valgrind builds) they are free. Slot stats (allocs, frees) are merged into the arena's counters
 * whenever the lock is taken anyway.
 *
 * Staleness: every arena carries a generation, new on create, reset and destroy. A slot remembers the
 * generation it was filled under; a slot whose arena no longer has it is dropped without touching its blocks
 * (they were reset, or belong to memory that is gone), so a later arena never receives a destroyed arena's
 * blocks. Arena structs are never unmapped (pool arenas, whose struct is the caller's, are not cached), so a
 * stale slot's arena pointer may always be locked and its generation read. Thread exit flushes every live slot,
 * and so does hak_thread_flush, for a thread that stays.
 */
#include "arena/internal.h"

static _Atomic(hak_gen_t) g_gen;
_Static_assert(!HAK_CFG_TCACHE || sizeof(hak_gen_t) == 8, "thread caches need generations that never wrap");

hak_gen_t _hak_new_generation(void)
{
    return atomic_fetch_add_explicit(&g_gen, 1, memory_order_relaxed) + 1;
}

#if HAK_CFG_TCACHE
static _Thread_local hak_tcache_t *t_cache __attribute__((tls_model("initial-exec")));
hak_tslot_t                        _hak_no_slot;
_Thread_local hak_tslot_t         *_hak_t_last __attribute__((tls_model("initial-exec"))) = &_hak_no_slot;

#define TC_DEAD ((hak_tcache_t *)1) /* the thread is exiting: no new cache */
#define TC_BUSY ((hak_tcache_t *)2) /* being set up: registering the exit hook may allocate (pthread_setspecific
                                       can call calloc), and that call must take the locked path */

static hak_tcache_t *g_free_caches; /* under the global lock */

/* Blocks a bin holds at most: 32 KiB of them, 4 to 64. Filled by the first cache_new, under the global lock that
 * every later cache_new takes before its thread reads it (a claim would otherwise divide once per class). */
static uint8_t g_cap[HAK_NUM_CLASSES];

static void caps_fill_locked(void)
{
    if (g_cap[0])
        return;
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++) {
        uint32_t n = (uint32_t)((32u * 1024) / _hak_class_size[i]);
        g_cap[i] = (uint8_t)(n < 4 ? 4 : n > 64 ? 64 : n);
    }
}

static void slot_clear(hak_tslot_t *s)
{
    s->arena = NULL;
    s->gen = 0;
    s->allocs = s->frees = 0;
    memset(s->bins, 0, sizeof s->bins);
    s->uncached = false;
}

/* Returns `count` blocks of list bin to their pages; the arena's lock is held. A link that does not lead to a
 * free-marked block of this arena (a write after free) is reported, and the rest of the list dropped. */
static void give_back_locked(hak_arena_t *a, hak_tbin_t *bin, uint32_t count)
{
    while (count-- && bin->head) {
        hak_block_t *b = bin->head;
        hak_page_t  *page = hak_block_page(a, b);
        if (!page || !hak_is_marked(a, b)) {
            _hak_report(HAK_ERR_CORRUPT, "thread cache list corrupted (a write after free?); rest dropped", b);
            bin->head = NULL, bin->room = (int16_t)bin->cap;
            return;
        }
        bin->head = hak_next(a, b);
        bin->room++;
        hak_set_next(a, b, page->free);
        page->free = b;
        if (--page->used == 0 || !page->in_bin)
            _hak_page_after_free(a, page);
    }
}

static void merge_stats_locked(hak_arena_t *a, hak_tslot_t *s)
{
    a->allocs += s->allocs;
    a->frees += s->frees;
    s->allocs = s->frees = 0;
}

/* Near its cap an arena's threads cache nothing. A block in a thread's cache counts as used and keeps its page, so
 * threads that went idle after a burst kept much of a small cap to themselves (four idle threads in an arena capped
 * at 4 MiB: the next thread got 377 KiB before ENOMEM). Once the arena's pages pass 7/8 of its cap, or the
 * process's memory 7/8 of its budget (_hak_near_cap), a slot that refills or overflows gives all its blocks back
 * and caches nothing more (every bin's capacity 0: each alloc and free of the thread takes the lock) until a refill
 * finds the arena below that mark again. */
static void cache_nothing_locked(hak_arena_t *a, hak_tslot_t *s)
{
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++) {
        give_back_locked(a, &s->bins[i], UINT32_MAX);
        s->bins[i].cap = 0, s->bins[i].room = 0;
    }
    s->uncached = true;
}

static void cache_again(hak_tslot_t *s) /* (an uncached slot's bins are all empty) */
{
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++)
        s->bins[i] = (hak_tbin_t){.cap = g_cap[i], .room = (int16_t)g_cap[i], .batch = 2};
    s->uncached = false;
}

/* Gives a slot's blocks back (if its arena still has the slot's generation); the arena's lock is held. When the
 * thread exits or goes idle (`resting`: hak_thread_flush) a lean arena also gives back the memory that is empty
 * now: that is the end of a burst of traffic, and no later call may come to trigger a batch. */
static void slot_flush_locked(hak_tslot_t *s, bool resting)
{
    hak_arena_t *a = s->arena;
    if (atomic_load_explicit(&a->gen, memory_order_relaxed) == s->gen) {
        merge_stats_locked(a, s);
        for (unsigned i = 0; i < HAK_NUM_CLASSES; i++)
            give_back_locked(a, &s->bins[i], UINT32_MAX);
        if (resting && a->policy == HAK_POLICY_LEAN && (a->dirty || a->idle))
            _hak_lean_purge_now(a, true); /* all of it: no later batch may come to give it back */
    } else if (a->birth == s->birth) {
        merge_stats_locked(a, s); /* reset since: the blocks are gone, the counts stay */
    }
}

/* Gives a slot's blocks back and empties it. */
static void slot_flush(hak_tslot_t *s, bool resting)
{
    hak_arena_t *a = s->arena;
    if (!a)
        return;
    hak_lock(&a->lock);
    slot_flush_locked(s, resting);
    hak_unlock(&a->lock);
    slot_clear(s);
}

/* A slot for another arena: the next victim whose arena's lock is free now, flushed; NULL when every one is busy.
 * Never waits: this thread may hold one of those locks already (an error handler that allocates from another
 * arena while hakmem reports from inside a call on the first one). */
static hak_tslot_t *slot_evict(hak_tcache_t *tc)
{
    for (unsigned i = 0; i < HAK_TC_SLOTS; i++) {
        hak_tslot_t *s = &tc->slot[(tc->next_victim + i) % HAK_TC_SLOTS];
        if (hak_trylock(&s->arena->lock)) {
            tc->next_victim = (tc->next_victim + i + 1) % HAK_TC_SLOTS;
            slot_flush_locked(s, false);
            hak_unlock(&s->arena->lock);
            slot_clear(s);
            return s;
        }
    }
    return NULL;
}

/* A cache no thread uses goes back on the process-wide free list, for the next thread's cache_new. */
static void cache_put(hak_tcache_t *tc)
{
    _hak_global_lock();
    tc->next_free = g_free_caches;
    g_free_caches = tc;
    _hak_global_unlock();
}

static void thread_exit(void *arg)
{
    hak_tcache_t *tc = arg;
    t_cache = TC_DEAD; /* first: a call made while the slots go back (an error handler's) takes the locked path */
    _hak_t_last = &_hak_no_slot;
    for (unsigned i = 0; i < HAK_TC_SLOTS; i++)
        slot_flush(&tc->slot[i], true);
    cache_put(tc);
}

void hak_thread_flush(void)
{
    hak_tcache_t *tc = t_cache;
    if (!tc || tc == TC_DEAD || tc == TC_BUSY)
        return;
    _hak_t_last = &_hak_no_slot; /* the next call on any arena looks its slot up again */
    for (unsigned i = 0; i < HAK_TC_SLOTS; i++)
        slot_flush(&tc->slot[i], true);
}

static hak_tcache_t *cache_new(void)
{
    _hak_global_lock();
    caps_fill_locked();
    hak_tcache_t *tc = g_free_caches;
    if (tc)
        g_free_caches = tc->next_free;
    _hak_global_unlock();
    if (!tc && !(tc = _hak_meta_alloc(sizeof *tc)))
        return NULL; /* no memory now: the locked paths serve, and a later call tries again */
    for (unsigned i = 0; i < HAK_TC_SLOTS; i++)
        slot_clear(&tc->slot[i]);
    tc->next_victim = 0;
    if (!hak_platform_at_thread_exit(thread_exit, tc)) {
        cache_put(tc);
        t_cache = TC_DEAD; /* its caches could never go back: this thread goes without */
        return NULL;
    }
    return tc;
}

hak_tslot_t *_hak_tslot_slow(hak_arena_t *a)
{
    if (a->pool || t_cache == TC_DEAD || t_cache == TC_BUSY)
        return NULL;
    if (!t_cache) {
        t_cache = TC_BUSY;
        hak_tcache_t *tc = cache_new();
        if (t_cache == TC_BUSY) /* cache_new may have marked the thread dead */
            t_cache = tc;
        if (!tc)
            return NULL;
    }
    hak_tcache_t *tc = t_cache;
    hak_gen_t     gen = atomic_load_explicit(&a->gen, memory_order_relaxed);
    hak_tslot_t  *free_slot = NULL;
    for (unsigned i = 0; i < HAK_TC_SLOTS; i++) {
        hak_tslot_t *s = &tc->slot[i];
        if (s->arena == a && s->gen == gen)
            return _hak_t_last = s;
        if (s->arena == a)
            slot_flush(s, false); /* reset or destroyed since: its blocks are not ours to give back (counts are) */
        if (!s->arena && !free_slot)
            free_slot = s;
    }
    if (!free_slot && !(free_slot = slot_evict(tc)))
        return NULL; /* the locked path serves this call */
    free_slot->arena = a;
    free_slot->gen = gen;
    free_slot->birth = a->birth; /* (written under the lock at create, as gen) */
    cache_again(free_slot);
    return _hak_t_last = free_slot;
}

/* The calling thread's live slot of a, or NULL (looked up in every slot: not only the last one used). */
static hak_tslot_t *slot_current(const hak_arena_t *a)
{
    if (!t_cache || t_cache == TC_DEAD || t_cache == TC_BUSY)
        return NULL;
    hak_gen_t gen = atomic_load_explicit(&((hak_arena_t *)a)->gen, memory_order_relaxed);
    for (unsigned i = 0; i < HAK_TC_SLOTS; i++)
        if (t_cache->slot[i].arena == a && t_cache->slot[i].gen == gen)
            return &t_cache->slot[i];
    return NULL;
}

void *_hak_tcache_refill(hak_arena_t *a, hak_tslot_t *s, unsigned cls)
{
    hak_tbin_t *bin = &s->bins[cls];
    hak_lock(&a->lock);
    merge_stats_locked(a, s);
    if (s->uncached != _hak_near_cap(a)) {
        if (s->uncached)
            cache_again(s);
        else
            cache_nothing_locked(a, s);
    }
    uint32_t take = s->uncached ? 1 : bin->batch;
    if (bin->batch < bin->cap / 2)
        bin->batch *= 2;
    for (uint32_t want = take; want; want--) {
        hak_page_t  *page = a->bins[cls].page;
        hak_block_t *b = page->free;
        if (b) {
            hak_check_popped_from(a, page, b);
            page->free = hak_next(a, b);
            page->used++;
        } else if (!(b = _hak_alloc_slow(a, cls))) {
            break;
        }
        hak_set_next(a, b, bin->head);
        hak_mark_free(a, b);
        bin->head = b;
        bin->room--;
    }
    hak_unlock(&a->lock);
    hak_block_t *b = bin->head;
    if (!b)
        return NULL; /* out of memory or at a limit: the caller takes the locked path, which handles both */
    bin->head = hak_next(a, b);
    bin->room++;
    hak_mark_live(b);
    if (HAK_CFG_STATS)
        s->allocs++;
    return b; /* alloc.c tells memcheck */
}

void _hak_tcache_overflow(hak_arena_t *a, hak_tslot_t *s, hak_tbin_t *bin)
{
    hak_lock(&a->lock);
    merge_stats_locked(a, s);
    if (!s->uncached && _hak_near_cap(a))
        cache_nothing_locked(a, s);
    give_back_locked(a, bin, s->uncached ? UINT32_MAX : bin->cap / 2);
    hak_unlock(&a->lock);
}

bool _hak_tcache_flush_locked(hak_arena_t *a)
{
    hak_tslot_t *s = slot_current(a);
    if (!s)
        return false;
    merge_stats_locked(a, s);
    bool any = false;
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++) {
        any |= s->bins[i].head != NULL;
        give_back_locked(a, &s->bins[i], UINT32_MAX);
    }
    return any;
}

bool _hak_tcache_holds(const hak_arena_t *a, const hak_block_t *b, unsigned cls)
{
    hak_tslot_t *s = slot_current(a);
    if (!s)
        return false;
    uint32_t n = (uint32_t)(s->bins[cls].cap - s->bins[cls].room); /* the blocks on the list */
    for (const hak_block_t *f = s->bins[cls].head; f && n && hak_block_page(a, f); f = hak_next(a, f), n--)
        if (f == b) /* (a link that leads out of the arena ends the walk: give-back reports it) */
            return true;
    return false;
}

#else /* no per-thread caches (no threads, or no thread-local storage): the locked paths serve every call */

void hak_thread_flush(void)
{
}

hak_tslot_t *_hak_tslot_slow(hak_arena_t *a)
{
    (void)a;
    return NULL;
}

void *_hak_tcache_refill(hak_arena_t *a, hak_tslot_t *s, unsigned cls)
{
    (void)a, (void)s, (void)cls;
    return NULL;
}

void _hak_tcache_overflow(hak_arena_t *a, hak_tslot_t *s, hak_tbin_t *bin)
{
    (void)a, (void)s, (void)bin;
}

bool _hak_tcache_holds(const hak_arena_t *a, const hak_block_t *b, unsigned cls)
{
    (void)a, (void)b, (void)cls;
    return false;
}
#endif
