/*
 * The process-wide memory budget: the bytes that all arenas together may hold from the platform.
 *
 * Its default is a share (Kconfig HAK_CGROUP_LIMIT_PERCENT) of the container's cgroup memory limit, so a service
 * fails allocations cleanly with ENOMEM before the kernel's OOM killer would fire; HAKMEM_LIMIT overrides it
 * (bytes with an optional KiB/MiB/GiB suffix, a percentage of the cgroup limit such as "75%", or "off"), and
 * hak_set_memory_limit() overrides both. It is read lazily, once, when the first arena is created.
 *
 * g_committed counts every committed byte hakmem holds from the platform (arenas and the SuperSlab cache; pool
 * arenas use the caller's memory and are not counted). It is atomic and updated on slow paths only. The check
 * against the budget is not a reservation: threads committing at the same instant in different arenas may
 * overshoot it by at most one slice run or chunk each, which the default 10% headroom absorbs. An arena at the
 * budget first purges its own empty memory, then that of other arenas (lean ones first); other arenas are only
 * try-locked (never waited for) and unsynchronized ones are left alone, since another thread owns them.
 *
 * g_arenas lists every live arena (for the purge, hak_stats_total and the pool overlap check of
 * hak_arena_create), under the global lock. A pool is claimed (g_claims) in the same critical section as its
 * overlap check, and stays claimed until its arena joins g_arenas: two creates on overlapping pools at once see
 * each other (claims are on the creators' stacks; without threads there is no such race and no claim).
 */
#include "arena/internal.h"

static atomic_size_t g_committed, g_peak, g_reserved;
static atomic_size_t g_budget;
static atomic_int    g_budget_ready;
static hak_arena_t  *g_arenas;
static hak_pool_claim_t *g_claims;

/* (add - sub wraps around when sub is larger: the counter's arithmetic is modulo 2^N too) */
void _hak_global_committed(size_t add, size_t sub)
{
    size_t now = atomic_fetch_add_explicit(&g_committed, add - sub, memory_order_relaxed) + (add - sub);
    size_t peak = atomic_load_explicit(&g_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak_explicit(&g_peak, &peak, now, memory_order_relaxed,
                                                                 memory_order_relaxed))
        ;
}

void _hak_global_reserved(size_t add, size_t sub)
{
    atomic_fetch_add_explicit(&g_reserved, add - sub, memory_order_relaxed);
}

static size_t percent_of(size_t bytes, uint64_t pct)
{
    return (size_t)((uint64_t)bytes / 100 * pct + (uint64_t)bytes % 100 * pct / 100); /* floor(bytes*pct/100) */
}

/* "64MiB", "1g", "4096", "75%" (of `cgroup`, 0 to 100), "off" (any case), with spaces around allowed (and
 * between the number and its unit: "512 MiB"). Returns false if s is none of those (the caller keeps the default
 * then). 0 and "0%" mean no budget, as "off" does. */
static bool parse_limit(const char *s, size_t cgroup, size_t *out)
{
    static const struct { const char *suffix; unsigned shift; } units[] = {
        {"", 0},       {"k", 10},  {"kb", 10}, {"kib", 10}, {"m", 20},  {"mb", 20},  {"mib", 20},
        {"g", 30},     {"gb", 30}, {"gib", 30}, {"t", 40},  {"tb", 40}, {"tib", 40}, {"off", 64}};
    while (_hak_env_space(*s))
        s++;
    uint64_t    v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    bool digits = p != s;
    while (digits && _hak_env_space(*p))
        p++;
    size_t ulen = 0; /* the unit: what follows the digits, but trailing spaces */
    while (p[ulen])
        ulen++;
    while (ulen && _hak_env_space(p[ulen - 1]))
        ulen--;
    if (digits && ulen == 1 && *p == '%') {
        if (v > 100)
            return false;
        *out = percent_of(cgroup, v);
        return true;
    }
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        const char *b = units[u].suffix;
        size_t      i = 0;
        while (i < ulen && b[i] && (p[i] | 0x20) == b[i])
            i++;
        if (i != ulen || b[i] || digits != (units[u].shift < 64))
            continue;
        if (units[u].shift == 64) { /* "off" */
            *out = 0;
            return true;
        }
        if (v > (UINT64_MAX >> units[u].shift))
            return false;
        v <<= units[u].shift; /* a budget beyond the address space (8GiB on a 32-bit build) bounds nothing: SIZE_MAX */
        *out = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
        return true;
    }
    return false;
}

/* Under the global lock. Without an OS there is no container and no environment: no default budget (g_budget
 * stays 0 until hak_set_memory_limit). */
static void budget_init_locked(void)
{
    if (HAK_CFG_FREESTANDING || atomic_load_explicit(&g_budget_ready, memory_order_relaxed))
        return;
    size_t      budget, cgroup = hak_platform_memory_limit();
    const char *env = hak_platform_getenv("HAKMEM_LIMIT");
    if (!env || !parse_limit(env, cgroup, &budget)) {
        budget = percent_of(cgroup, HAK_CFG_CGROUP_LIMIT_PERCENT);
        if (env)
            _hak_env_bad(HAK_ENV_BAD_LIMIT);
    }
    atomic_store_explicit(&g_budget, budget, memory_order_relaxed);
    atomic_store_explicit(&g_budget_ready, 1, memory_order_release);
}

void _hak_arena_list_add(hak_arena_t *a)
{
    _hak_global_lock();
    budget_init_locked();
    if (HAK_CFG_THREADS && a->pool) { /* its pool's claim (claims do not overlap: the one that starts there) */
        hak_pool_claim_t **c = &g_claims;
        while ((*c)->lo != (uintptr_t)a->pool)
            c = &(*c)->next;
        *c = (*c)->next;
    }
    a->all_prev = NULL;
    a->all_next = g_arenas;
    if (g_arenas)
        g_arenas->all_prev = a;
    g_arenas = a;
    _hak_global_unlock();
}

#if HAK_CFG_TCACHE /* (its one caller; the compact layout counts no free slices) */
/* Whether the arena's pages (`committed` but its free slices) are past 7/8 of its cap, or the memory of all arenas
 * but this one's free slices past 7/8 of the process budget (pool arenas: their cap only). */
bool _hak_near_cap(const hak_arena_t *a)
{
    size_t pages = a->committed - a->dirty, budget = atomic_load_explicit(&g_budget, memory_order_relaxed);
    if (a->limit && pages > a->limit - a->limit / 8)
        return true;
    return budget && !a->pool &&
           atomic_load_explicit(&g_committed, memory_order_relaxed) - a->dirty > budget - budget / 8;
}
#endif

/* Whether [lo, hi) overlaps the pool (its struct and chunks, used or not) of a live arena or of one being made.
 * Under the global lock. */
HAK_INLINE bool pool_taken_locked(uintptr_t lo, uintptr_t hi)
{
    hak_arena_t *o = g_arenas;
    while (o && !(lo < (uintptr_t)o->pool + o->pool_size && (uintptr_t)o->pool < hi))
        o = o->all_next; /* (an arena without a pool: an empty range at 0) */
    hak_pool_claim_t *c = HAK_CFG_THREADS ? g_claims : NULL;
    while (c && !(lo < c->hi && c->lo < hi))
        c = c->next;
    return o || c;
}

bool _hak_pool_claim(uintptr_t lo, uintptr_t hi, hak_pool_claim_t *claim)
{
    _hak_global_lock();
    bool ok = !pool_taken_locked(lo, hi) && !hak_platform_owns(lo, hi);
    if (HAK_CFG_THREADS && ok) {
        claim->lo = lo, claim->hi = hi;
        claim->next = g_claims;
        g_claims = claim;
    }
    _hak_global_unlock();
    return ok;
}

#if HAK_CFG_FREESTANDING
/* (Public, include/hakmem.h, but here rather than in the platform: a region must not overlap an arena's pool,
 * which is checked under the global lock, as pools are claimed. A wrapping region is the platform's to refuse.) */
int hak_platform_add_region(void *base, size_t size)
{
    uintptr_t lo = (uintptr_t)base, hi = lo + size;
    _hak_global_lock();
    int rc = hi > lo && pool_taken_locked(lo, hi) ? HAK_EINVAL : hak_platform_region_add(base, size);
    _hak_global_unlock();
    return rc;
}
#endif

void _hak_arena_list_remove(hak_arena_t *a)
{
    _hak_global_lock();
    if (a->all_prev)
        a->all_prev->all_next = a->all_next;
    else
        g_arenas = a->all_next;
    if (a->all_next)
        a->all_next->all_prev = a->all_prev;
    _hak_global_unlock();
}

void hak_set_memory_limit(size_t bytes)
{
    _hak_global_lock();
    atomic_store_explicit(&g_budget, bytes, memory_order_relaxed);
    atomic_store_explicit(&g_budget_ready, 1, memory_order_release);
    _hak_global_unlock();
}

size_t hak_memory_limit(void)
{
    if (!atomic_load_explicit(&g_budget_ready, memory_order_acquire)) {
        _hak_global_lock();
        budget_init_locked();
        _hak_global_unlock();
        _hak_env_report();
    }
    return atomic_load_explicit(&g_budget, memory_order_relaxed);
}

bool _hak_commit_fits(const hak_arena_t *a, size_t more)
{
    if (!_hak_within_cap(a, more))
        return false;
    if (a->pool)
        return true;
    size_t budget = atomic_load_explicit(&g_budget, memory_order_relaxed);
    size_t now = atomic_load_explicit(&g_committed, memory_order_relaxed);
    return !budget || (now <= budget && more <= budget - now);
}

/* Locks another arena without waiting: false if it is busy or unsynchronized (its thread owns it). Without
 * threads there is one thread, so every arena is ours. */
static bool try_lock_other(hak_arena_t *o)
{
    return !HAK_CFG_THREADS || (o->sync && hak_trylock(&o->lock));
}

/* Gives back empty memory of other synchronized arenas that are not busy, lean ones first, until `more` fits.
 * The arenas are try-locked under the global lock (never waited for: the lock order is arena, then global) in
 * batches of at most PURGE_BATCH, and purged after it is released, since purging takes the global lock itself; a
 * locked arena cannot be destroyed meanwhile (destroy waits for its lock). Each arena is visited once per call
 * (marked with the call's epoch; a mark of a later call counts as visited), so batches go on down the list to the
 * oldest arenas, and calls running at once do not hand the same arenas back and forth. The epoch has 64 bits, so a
 * mark never looks newer than it is (with 32 bits compared modulo 2^32, every arena created once 2^31 purges had
 * run, and any left unvisited that long, counted as visited for the next 2^31). */
#if HAK_CFG_THREADS
#define PURGE_BATCH 32
static uint64_t g_purge_epoch; /* under the global lock */

static bool purge_others(hak_arena_t *self, size_t more)
{
    _hak_global_lock();
    uint64_t epoch = ++g_purge_epoch;
    _hak_global_unlock();
    for (int pass = 0; pass < 2; pass++) {
        for (int n = PURGE_BATCH; n == PURGE_BATCH;) {
            hak_arena_t *locked[PURGE_BATCH];
            n = 0;
            _hak_global_lock();
            for (hak_arena_t *o = g_arenas; o && n < PURGE_BATCH; o = o->all_next)
                if (o != self && !o->pool && o->purge_epoch < epoch && /* (a newer call's mark counts too: two
                                                                          calls must not take turns forever) */
                    (pass == 0) == (o->policy == HAK_POLICY_LEAN) && try_lock_other(o)) {
                    o->purge_epoch = epoch;
                    locked[n++] = o;
                }
            _hak_global_unlock();
            for (int i = 0; i < n; i++) {
                _hak_release_empty(locked[i]);
                hak_unlock(&locked[i]->lock);
            }
            if (_hak_commit_fits(self, more))
                return true;
        }
    }
    return false;
}
#else
/* Without threads nothing else runs meanwhile (no locks, no marks): one walk per pass, arena by arena. */
static bool purge_others(hak_arena_t *self, size_t more)
{
    for (int pass = 0; pass < 2; pass++)
        for (hak_arena_t *o = g_arenas; o; o = o->all_next)
            if (o != self && !o->pool && (pass == 0) == (o->policy == HAK_POLICY_LEAN)) {
                _hak_release_empty(o);
                if (_hak_commit_fits(self, more))
                    return true;
            }
    return false;
}
#endif

bool _hak_may_commit(hak_arena_t *a, size_t more, bool may_purge)
{
    if (_hak_commit_fits(a, more))
        return true;
    if (may_purge) {
        _hak_release_empty(a);
        if (_hak_commit_fits(a, more))
            return true;
        if (_hak_within_cap(a, more) && !a->pool && atomic_load_explicit(&g_budget, memory_order_relaxed)) { /* (the
                                       arena's own cap refused: other arenas' memory would not help it) */
            if (HAK_CFG_SLAB_CACHE > 0) { /* memory no arena uses goes first (with no room, the cache is empty) */
                _hak_slab_cache_drop(a);
                if (_hak_commit_fits(a, more))
                    return true;
            }
            if (purge_others(a, more))
                return true;
        }
    }
    _hak_limit_refused(a, more);
    return false;
}

int hak_stats_total(hak_arena_stats_t *out)
{
    if (!out)
        return HAK_EINVAL;
    hak_arena_stats_t t = {0};
    _hak_global_lock();
    for (hak_arena_t *a = g_arenas; a; a = a->all_next) {
        if (!try_lock_other(a))
            continue; /* unsynchronized arenas belong to their thread; busy ones are skipped, not waited for */
        hak_arena_stats_t s;
        _hak_stats_locked(a, &s);
        hak_unlock(&a->lock);
        t.in_use += s.in_use;
        t.superslabs += s.superslabs;
        t.allocs += s.allocs;
        t.frees += s.frees;
        t.failed_allocs += s.failed_allocs;
    }
    _hak_global_unlock();
    t.committed = atomic_load_explicit(&g_committed, memory_order_relaxed);
    t.peak_committed = atomic_load_explicit(&g_peak, memory_order_relaxed);
    t.reserved = atomic_load_explicit(&g_reserved, memory_order_relaxed);
    t.limit = hak_memory_limit();
    t.platform_calls = hak_platform_os_calls();
    *out = t;
    return 0;
}
