/* Default arenas shared by threads: allocation and cross-thread frees through a shared array of slots. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "model.h"

#define THREADS 4
#define ROUNDS  5
#define ITERS   100000
#define SHARED  1024

static hak_arena_t *shared_arenas[2];
static _Atomic(uintptr_t) exchange[SHARED];

static void check_cookie(uintptr_t v)
{
    unsigned char *p = (unsigned char *)v;
    size_t         n = p[0] | (size_t)p[1] << 8, i = 2;
    while (i < n && p[i] == (unsigned char)(n + i))
        i++;
    cr_assert_eq(i, n, "block corrupted across threads (byte %zu of %zu)", i, n);
}

static void *worker(void *arg)
{
    uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
    for (int i = 0; i < ITERS; i++) {
        size_t         n = 2 + test_rand(&rng) % 2000;
        unsigned char *p = hak_alloc(shared_arenas[test_rand(&rng) & 1], n);
        cr_assert_not_null(p);
        p[0] = (unsigned char)n, p[1] = (unsigned char)(n >> 8);
        for (size_t k = 2; k < n; k++)
            p[k] = (unsigned char)(n + k);
        uintptr_t old = atomic_exchange(&exchange[test_rand(&rng) % SHARED], (uintptr_t)p);
        if (old) {
            check_cookie(old);
            hak_free((void *)old); /* usually allocated by another thread */
        }
    }
    return NULL;
}

Test(threads, shared_arenas_with_cross_thread_frees, .disabled = !HAK_CFG_THREADS) /* (unlocked arenas without HAK_THREADS) */
{
    for (int i = 0; i < 2; i++)
        cr_assert_eq(hak_arena_create(&shared_arenas[i], NULL), 0);
    record_errors();
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t t[THREADS];
        for (uintptr_t i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, worker, (void *)(i + 1 + (uintptr_t)round * THREADS));
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < 2; i++)
            cr_assert_eq(hak_arena_check(shared_arenas[i]), 0);
    }
    for (int i = 0; i < SHARED; i++) {
        uintptr_t v = atomic_exchange(&exchange[i], 0);
        if (v)
            hak_free((void *)v);
    }
    for (int i = 0; i < 2; i++) {
        hak_arena_stats_t st;
        hak_arena_stats(shared_arenas[i], &st);
        cr_assert_eq(st.in_use, 0);
        hak_arena_destroy(shared_arenas[i]);
    }
    cr_assert_eq(reported.count, 0);
}

static void *create_destroy(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, NULL), 0);
        void *p = hak_alloc(a, 100 + (size_t)i);
        cr_assert_eq(hak_arena_of(p), a);
        hak_arena_destroy(a);
    }
    return NULL;
}

Test(threads, concurrent_create_and_destroy, .disabled = !HAK_CFG_THREADS) /* (unlocked arenas without HAK_THREADS) */
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, create_destroy, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

/* Two threads create arenas on overlapping pools at the same instant, round after round: exactly one of them gets
 * its arena each round, the other HAK_EINVAL (the overlap check and the arena's entry in the list of live arenas
 * used to be two steps: both could pass the check, and the second struct was built over the first one's pool). */
#define POOL_RACE_ROUNDS (HAK_CFG_VALGRIND ? 300 : 3000) /* (valgrind runs one thread at a time: rounds cost ms) */
static atomic_uint       pool_race_ready; /* both threads of round r arrived: 2 (r + 1) */
static unsigned char    *pool_race_buf;
static size_t            pool_race_half;

static void *create_on_overlapping_pool(void *arg)
{
    uintptr_t    side = (uintptr_t)arg & 1, round = (uintptr_t)arg >> 1; /* side 0: [0, 2 half); 1: [half, 3 half) */
    hak_arena_t *a;
    atomic_fetch_add(&pool_race_ready, 1);
    while (atomic_load(&pool_race_ready) < 2 * (round + 1)) /* (start together) */
        if (HAK_CFG_VALGRIND)
            sched_yield(); /* (valgrind runs one thread at a time: a spin would wait out its time slice) */
    int rc = hak_arena_create(&a, &(hak_arena_config_t){.pool = pool_race_buf + side * pool_race_half,
                                                          .pool_size = 2 * pool_race_half});
    return rc ? (void *)(intptr_t)rc : a;
}

Test(threads, overlapping_pools_created_at_once_give_one_arena, .disabled = !HAK_CFG_THREADS)
{
    pool_race_half = hak_pool_size_min(0);
    pool_race_buf = malloc(3 * pool_race_half);
    cr_assert_not_null(pool_race_buf);
    int both = 0;
    for (int round = 0; round < POOL_RACE_ROUNDS; round++) {
        pthread_t t[2];
        void     *r[2];
        for (uintptr_t i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, create_on_overlapping_pool, (void *)(i | (uintptr_t)round << 1));
        int won = 0;
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], &r[i]);
            if ((uintptr_t)r[i] == (uintptr_t)HAK_EINVAL)
                continue;
            cr_assert_neq((uintptr_t)r[i], 0);
            won++;
        }
        cr_assert_gt(won, 0, "round %d: both creates refused", round);
        both += won == 2;
        if (won == 2)
            break; /* (two arenas on one pool's memory: nothing more to learn from this buffer) */
        for (int i = 0; i < 2; i++)
            if ((uintptr_t)r[i] != (uintptr_t)HAK_EINVAL) {
                cr_assert_eq(hak_arena_check(r[i]), 0);
                hak_arena_destroy(r[i]);
            }
    }
    cr_assert_eq(both, 0, "both creates on overlapping pools succeeded");
    free(pool_race_buf);
}

/* A second free of a block that sits in another thread's cache, from a thread that has no cache of its own any
 * more (a TLS destructor that runs after hakmem's thread-exit hook): reported, and the block is not handed out
 * twice. */
static hak_arena_t  *dtor_arena;
static void         *dtor_block;
static pthread_key_t dtor_key;

static void free_in_destructor(void *unused)
{
    (void)unused;
    hak_free(dtor_block);
}

static void *exit_with_late_destructor(void *unused)
{
    (void)unused;
    hak_free(hak_alloc(dtor_arena, 64)); /* this thread's cache exists: hakmem's exit hook is registered */
    pthread_setspecific(dtor_key, (void *)1);
    return NULL;
}

/* The second free of p was reported once, as a double free, and p is handed out once in n allocations of 64
 * bytes (kept), not twice. */
static void expect_one_double_free(hak_arena_t *a, const void *p, int n)
{
    cr_assert_eq(reported.count, 1, "the second free was not reported");
    cr_assert_eq(reported.last_code, HAK_ERR_DOUBLE_FREE);
    int seen = 0;
    for (int i = 0; i < n; i++)
        seen += hak_alloc(a, 64) == p;
    cr_assert_eq(seen, 1, "the block was handed out %d times", seen);
}

Test(threads, double_free_from_a_thread_without_a_cache, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    record_errors();
    cr_assert_eq(hak_arena_create(&dtor_arena, NULL), 0);
    void *first = hak_alloc(dtor_arena, 64);
    hak_free(first); /* hakmem's thread-exit key exists before ours: ours runs later */
    cr_assert_eq(pthread_key_create(&dtor_key, free_in_destructor), 0);
    dtor_block = hak_alloc(dtor_arena, 64);
    hak_free(dtor_block); /* now in this thread's cache */
    pthread_t t;
    pthread_create(&t, NULL, exit_with_late_destructor, NULL);
    pthread_join(t, NULL);
    expect_one_double_free(dtor_arena, dtor_block, 512);
    cr_assert_eq(hak_arena_check(dtor_arena), 0);
    hak_arena_destroy(dtor_arena);
    pthread_key_delete(dtor_key);
}

/* hak_arena_reset keeps the arena's counts, including those still held in thread caches: the calling thread's,
 * and another thread's, merged when that thread next finds its slot stale or exits. */
static hak_arena_t *reset_arena;
static atomic_int   reset_phase; /* the worker churns at even phases, main resets at odd ones */

static void wait_phase(int phase)
{
    while (atomic_load(&reset_phase) != phase)
        ;
}

static void churn(hak_arena_t *a, int n)
{
    void *b[16];
    for (int i = 0; i < n; i++)
        b[i] = hak_alloc(a, 32 + 16 * i);
    for (int i = 0; i < n; i++)
        hak_free(b[i]);
}

static void *churn_across_resets(void *unused)
{
    (void)unused;
    for (int round = 0; round < 3; round++) {
        wait_phase(2 * round);
        churn(reset_arena, 10);
        atomic_store(&reset_phase, 2 * round + 1); /* main resets the arena now */
    }
    return NULL;
}

Test(threads, reset_keeps_the_counts_of_thread_caches, .disabled = !HAK_CFG_THREADS) /* (unlocked arenas without HAK_THREADS) */
{
    cr_assert_eq(hak_arena_create(&reset_arena, NULL), 0);
    atomic_store(&reset_phase, 0);
    pthread_t t;
    pthread_create(&t, NULL, churn_across_resets, NULL);
    for (int round = 0; round < 3; round++) {
        churn(reset_arena, 16);
        wait_phase(2 * round + 1);
        hak_arena_reset(reset_arena);
        atomic_store(&reset_phase, 2 * round + 2);
    }
    pthread_join(t, NULL);
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(reset_arena, &st), 0);
    uint64_t want = HAK_CFG_STATS ? 3 * (16 + 10) : 0;
    cr_assert_eq(st.allocs, want, "allocs %llu, want %llu", (unsigned long long)st.allocs, (unsigned long long)want);
    cr_assert_eq(st.frees, want, "frees %llu, want %llu", (unsigned long long)st.frees, (unsigned long long)want);
    hak_arena_destroy(reset_arena);
}

/* Debug level 2 and up promise an exact double-free check: a second free from another thread, after a write over
 * the block's free marker, is found on the block's page (the first free went there, not to a thread's cache,
 * where the second free's thread could not see it and the block was later handed out twice). */
static void *free_from_here(void *p)
{
    hak_free(p);
    return NULL;
}

Test(threads, exact_double_free_check_sees_every_free_block, .disabled = HAK_CFG_INVALID_FREE_ABORT)
{
    if (HAK_CFG_DEBUG < 2)
        cr_skip_test("debug level 2 and up only");
    if (HAK_CFG_HARDENED) /* (rightly: the block's free marker is checked when it is handed out again) */
        cr_skip_test("a hardened build stops at the overwritten marker");
    record_errors();
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, NULL), 0);
    void *p = hak_alloc(a, 64);
    hak_free(p);
    ((uintptr_t *)p)[1] = 0; /* the marker, overwritten after the free */
    pthread_t t;
    pthread_create(&t, NULL, free_from_here, p);
    pthread_join(t, NULL);
    expect_one_double_free(a, p, 64);
    hak_arena_destroy(a);
}

/* hak_thread_flush: a thread that stays alive gives its cached blocks back, so they count as free, and a lean
 * arena gives back the memory they kept (without it they stay until the thread exits). */
static hak_arena_t *flush_arena;
static atomic_int   flush_phase;

static void wait_flush_phase(int phase)
{
    while (atomic_load(&flush_phase) != phase)
        ;
}

static void *fill_cache_then_flush(void *unused)
{
    (void)unused;
    void *b[48];
    for (int i = 0; i < 48; i++)
        cr_assert_not_null(b[i] = hak_alloc(flush_arena, 1000));
    for (int i = 0; i < 48; i++)
        hak_free(b[i]);
    atomic_store(&flush_phase, 1);
    wait_flush_phase(2);
    hak_thread_flush();
    atomic_store(&flush_phase, 3);
    wait_flush_phase(4); /* alive while main looks */
    return NULL;
}

Test(threads, thread_flush_gives_a_live_threads_cache_back, .disabled = !HAK_CFG_THREADS)
{
    hak_arena_config_t cfg = {.policy = HAK_POLICY_LEAN};
    cr_assert_eq(hak_arena_create(&flush_arena, &cfg), 0);
    atomic_store(&flush_phase, 0);
    pthread_t t;
    pthread_create(&t, NULL, fill_cache_then_flush, NULL);
    wait_flush_phase(1);
    hak_arena_stats_t held, flushed;
    cr_assert_eq(hak_arena_stats(flush_arena, &held), 0);
    if (HAK_CFG_TCACHE) /* the blocks sit in the other thread's cache */
        cr_assert_geq(held.in_use, 16 * 1000, "in use %zu", held.in_use);
    atomic_store(&flush_phase, 2);
    wait_flush_phase(3);
    cr_assert_eq(hak_arena_stats(flush_arena, &flushed), 0);
    cr_assert_eq(flushed.in_use, 0, "in use %zu after the flush", flushed.in_use);
    if (HAK_CFG_TCACHE)
        cr_assert_lt(flushed.committed, held.committed, "committed %zu -> %zu", held.committed, flushed.committed);
    cr_assert_eq(hak_arena_check(flush_arena), 0);
    atomic_store(&flush_phase, 4);
    pthread_join(t, NULL);
    void *p = hak_alloc(flush_arena, 1000); /* and the arena goes on */
    cr_assert_not_null(p);
    hak_free(p);
    cr_assert_eq(hak_arena_check(flush_arena), 0);
    hak_arena_destroy(flush_arena);
}

/* Near its cap (or the process budget) an arena's threads stop caching: threads that allocated up to the cap,
 * freed everything and went idle (alive, without hak_thread_flush) must not keep the memory from the next thread. */
static hak_arena_t *capped_shared;
static atomic_int   bursts_done, idle_until;

static void *burst_then_idle(void *arg)
{
    uint64_t rng = (uintptr_t)arg;
    void   **b = malloc(3000 * sizeof *b);
    int      n = 0;
    cr_assert_not_null(b);
    while (n < 3000 && (b[n] = hak_alloc(capped_shared, 16 + test_rand(&rng) % 4081)))
        n++;
    for (int i = 0; i < n; i++)
        hak_free(b[i]);
    free(b);
    atomic_fetch_add(&bursts_done, 1);
    while (!atomic_load(&idle_until))
        ; /* idle, with whatever its cache still holds */
    return NULL;
}

static void idle_threads_leave_the_cap(size_t limit, size_t budget)
{
    const size_t cap = limit ? limit : budget;
    hak_set_memory_limit(budget);
    cr_assert_eq(hak_arena_create(&capped_shared, &(hak_arena_config_t){.limit = limit}), 0);
    atomic_store(&bursts_done, 0);
    atomic_store(&idle_until, 0);
    pthread_t th[4];
    for (int t = 0; t < 4; t++) { /* one burst after the other: the same run every time */
        pthread_create(&th[t], NULL, burst_then_idle, (void *)(uintptr_t)(t + 1));
        while (atomic_load(&bursts_done) <= t)
            ;
    }
    size_t got = 0;
    while (hak_alloc(capped_shared, 1000))
        got += 1000;
    cr_assert_geq(got, cap / 4 * 3, "%zu KiB of a %zu KiB cap for the next thread", got >> 10, cap >> 10);
    atomic_store(&idle_until, 1);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    cr_assert_eq(hak_arena_check(capped_shared), 0);
    hak_arena_destroy(capped_shared);
    hak_set_memory_limit(0);
}

Test(threads, idle_threads_do_not_keep_a_capped_arenas_memory, .disabled = !HAK_CFG_THREADS)
{
    idle_threads_leave_the_cap(4u << 20, 0);
}

Test(threads, idle_threads_do_not_keep_the_budgets_memory, .disabled = !HAK_CFG_THREADS)
{
    idle_threads_leave_the_cap(0, 4u << 20);
}
