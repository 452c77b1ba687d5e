/*
 * Thread stress for shared (default) arenas, in the spirit of mimalloc's test-stress, built without Criterion so
 * it can run under ThreadSanitizer (`make test-tsan`). Exits non-zero on the first failure.
 *  1. Rounds of THREADS threads allocate from two shared arenas and hand blocks to each other through a shared
 *     array (atomic exchange); whoever takes a block checks its contents and frees it. Threads are recreated every
 *     round (their caches go back at exit, and now and then through hak_thread_flush) and hak_arena_check runs
 *     after each round.
 *  2. 10,000 short thread lifetimes, each allocating and freeing through its cache: nothing leaks.
 *  3. Stale caches: a thread caches blocks of an arena that is then destroyed and replaced; its later
 *     allocations must come from the new arena only.
 *  4. Arenas created and destroyed concurrently in several threads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

#define THREADS 4
#define ROUNDS  6
#define ITERS   50000
#define SHARED  1024

#define CHECK(c, ...)                                                                                       \
    do {                                                                                                    \
        if (!(c)) {                                                                                         \
            fprintf(stderr, "stress: FAILED: " __VA_ARGS__);                                                \
            fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);                                              \
            exit(1);                                                                                        \
        }                                                                                                   \
    } while (0)

static hak_arena_t       *shared[2];
static _Atomic(uintptr_t) slots[SHARED];

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void fill(unsigned char *p, size_t n)
{
    p[0] = (unsigned char)n, p[1] = (unsigned char)(n >> 8);
    for (size_t i = 2; i < n; i++)
        p[i] = (unsigned char)(n * 7 + i);
}

static void verify_and_free(uintptr_t v)
{
    unsigned char *p = (unsigned char *)v;
    size_t         n = p[0] | (size_t)p[1] << 8;
    for (size_t i = 2; i < n; i++)
        CHECK(p[i] == (unsigned char)(n * 7 + i), "block %p corrupted at %zu", (void *)p, i);
    CHECK(hak_arena_of(p) == shared[0] || hak_arena_of(p) == shared[1], "block of no shared arena");
    CHECK(hak_usable_size(p) >= n, "block %p: usable size %zu below %zu", (void *)p, hak_usable_size(p), n);
    hak_free(p);
}

static void *worker(void *arg)
{
    uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
    for (int i = 0; i < ITERS; i++) {
        size_t n = 2 + next(&rng) % (next(&rng) % 16 ? 600 : 40000);
        unsigned char *p = hak_alloc(shared[next(&rng) & 1], n);
        CHECK(p, "allocation failed");
        fill(p, n);
        if (next(&rng) % 4 == 0) { /* some blocks die in the thread that made them */
            verify_and_free((uintptr_t)p);
            continue;
        }
        uintptr_t old = atomic_exchange(&slots[next(&rng) % SHARED], (uintptr_t)p);
        if (old)
            verify_and_free(old); /* usually made by another thread */
        if (i % 4096 == 4095)
            hak_thread_flush(); /* a pause: the caches go back while the other threads go on */
    }
    return NULL;
}

static void *short_life(void *arg)
{
    void *p[8];
    for (int i = 0; i < 8; i++)
        p[i] = hak_alloc(shared[0], 16 + (size_t)i * 100 + (uintptr_t)arg % 7);
    for (int i = 0; i < 8; i++)
        hak_free(p[i]);
    return NULL;
}

static hak_arena_t *volatile stale_arena;
static atomic_int            stale_step;

static void *stale_user(void *arg)
{
    (void)arg;
    void *p[64];
    for (int i = 0; i < 64; i++)
        p[i] = hak_alloc(stale_arena, 48);
    for (int i = 0; i < 64; i++)
        hak_free(p[i]); /* they sit in this thread's cache now */
    atomic_store(&stale_step, 1);
    while (atomic_load(&stale_step) != 2)
        ;
    hak_arena_t *fresh = stale_arena; /* the main thread destroyed the old one and made this */
    for (int i = 0; i < 64; i++) {
        void *q = hak_alloc(fresh, 48);
        CHECK(hak_arena_of(q) == fresh, "a block of a destroyed arena came back from a stale cache");
        p[i] = q;
    }
    for (int i = 0; i < 64; i++)
        hak_free(p[i]);
    return NULL;
}

static void *churn_arenas(void *arg)
{
    uint64_t rng = (uintptr_t)arg + 77;
    for (int i = 0; i < 300; i++) {
        hak_arena_t *a;
        CHECK(hak_arena_create(&a, NULL) == 0, "create");
        void *b[16];
        for (int k = 0; k < 16; k++)
            b[k] = hak_alloc(a, 16 + next(&rng) % 3000);
        for (int k = 0; k < 8; k++)
            hak_free(b[k]);
        CHECK(hak_arena_check(a) == 0, "check of a private arena");
        hak_arena_destroy(a); /* with 8 blocks still live and 8 in this thread's cache */
    }
    return NULL;
}

static size_t in_use(hak_arena_t *a)
{
    hak_arena_stats_t s;
    CHECK(hak_arena_stats(a, &s) == 0, "stats");
    return s.in_use;
}

int main(void)
{
    for (int i = 0; i < 2; i++)
        CHECK(hak_arena_create(&shared[i], NULL) == 0, "create shared");

    for (int round = 0; round < ROUNDS; round++) {
        pthread_t t[THREADS + 1];
        for (uintptr_t i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, worker, (void *)(i + 1 + (uintptr_t)round * THREADS));
        pthread_create(&t[THREADS], NULL, churn_arenas, (void *)(uintptr_t)round);
        for (int i = 0; i <= THREADS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < 2; i++)
            CHECK(hak_arena_check(shared[i]) == 0, "check after round %d", round);
    }
    for (int i = 0; i < SHARED; i++) {
        uintptr_t v = atomic_exchange(&slots[i], 0);
        if (v)
            verify_and_free(v);
    }
    for (int i = 0; i < 2; i++)
        CHECK(in_use(shared[i]) == 0, "blocks lost: exited threads' caches must go back (%zu bytes)", in_use(shared[i]));

    hak_arena_stats_t before, after;
    hak_arena_stats(shared[0], &before);
    for (int i = 0; i < 10000; i += 8) {
        pthread_t t[8];
        for (uintptr_t k = 0; k < 8; k++)
            pthread_create(&t[k], NULL, short_life, (void *)(i + k));
        for (int k = 0; k < 8; k++)
            pthread_join(t[k], NULL);
    }
    hak_arena_stats(shared[0], &after);
    CHECK(after.in_use == 0, "10,000 thread lifetimes leak %zu bytes", after.in_use);
    CHECK(after.committed <= before.committed + (1u << 20), "thread lifetimes grow memory");

    CHECK(hak_arena_create((hak_arena_t **)&stale_arena, NULL) == 0, "create");
    pthread_t t;
    pthread_create(&t, NULL, stale_user, NULL);
    while (atomic_load(&stale_step) != 1)
        ;
    hak_arena_destroy(stale_arena);
    hak_arena_t *fresh;
    CHECK(hak_arena_create(&fresh, NULL) == 0, "create"); /* likely the same struct, recycled */
    stale_arena = fresh;
    atomic_store(&stale_step, 2);
    pthread_join(t, NULL);
    CHECK(hak_arena_check(fresh) == 0 && in_use(fresh) == 0, "fresh arena after a stale cache");
    hak_arena_destroy(fresh);

    for (int i = 0; i < 2; i++)
        hak_arena_destroy(shared[i]);
    printf("stress: passed (%d rounds x %d threads, 10,000 thread lifetimes, stale caches, arena churn)\n", ROUNDS,
           THREADS);
    return 0;
}
