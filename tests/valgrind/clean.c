/*
 * A correct program over every kind of block and every way of giving memory back; `make test-valgrind` runs it
 * under memcheck with --leak-check=full and requires zero errors, so hakmem's own work on free blocks (lists,
 * markers, thread caches, checks, realloc's copy) must not look like the program's. It exits with 1 if a block
 * does not keep its contents.
 *   - several arenas (default, unsynchronized, lean, capped, two in caller pools: static and malloc'd): alloc,
 *     calloc, aligned_alloc, realloc within and across arenas, free, trim, check, reset, destroy, over small,
 *     large and huge blocks, and writing every usable byte hak_usable_size reports;
 *   - a default arena shared by threads that free each other's blocks (through their caches) and exit with
 *     blocks cached, and an arena destroyed while a thread still caches its blocks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

#define CHECK(c)                                                                                            \
    do {                                                                                                    \
        if (!(c)) {                                                                                         \
            fprintf(stderr, "clean: FAILED: %s (line %d)\n", #c, __LINE__);                                \
            exit(1);                                                                                        \
        }                                                                                                   \
    } while (0)

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static const size_t sizes[] = {0, 1, 16, 48, 100, 1000, 5000, 40000, 65536, 100000, 300000, 3u << 20};
#define NSIZES (sizeof sizes / sizeof *sizes)

static void fill(unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i);
}

static void verify(const unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        CHECK(p[i] == (unsigned char)(seed + i));
}

/* Every kind of call on one arena, ending with all its blocks freed one by one or by a reset. */
static void exercise(hak_arena_t *a, hak_arena_t *other, int end_with_reset)
{
    unsigned char *p[NSIZES];
    for (size_t i = 0; i < NSIZES; i++) {
        p[i] = i % 3 == 1 ? hak_calloc(a, 1, sizes[i]) : hak_alloc(a, sizes[i]);
        CHECK(p[i]);
        if (i % 3 == 1)
            for (size_t k = 0; k < sizes[i]; k++)
                CHECK(p[i][k] == 0);
        size_t usable = hak_usable_size(p[i]);
        CHECK(usable >= sizes[i]);
        fill(p[i], usable, (unsigned char)i); /* the whole usable size is the program's */
    }
    CHECK(hak_arena_check(a) == 0);
    for (size_t i = 0; i < NSIZES; i++) { /* grow, shrink, move to the other arena */
        size_t         old = hak_usable_size(p[i]), size = sizes[(i + 5) % NSIZES];
        unsigned char *q = hak_realloc(i % 2 ? other : a, p[i], size);
        CHECK(q);
        verify(q, old < size ? old : size, (unsigned char)i);
        hak_free(q);
    }
    for (size_t align = 16; align <= ((size_t)1 << 20); align <<= 2) {
        unsigned char *q = hak_aligned_alloc(a, align, 200);
        CHECK(q && (uintptr_t)q % align == 0);
        fill(q, 200, 3);
        hak_free(q);
    }
    uint64_t rng = 0x9e3779b97f4a7c15u;
    void    *ring[256] = {0};
    for (int i = 0; i < 20000; i++) {
        unsigned k = (unsigned)(next(&rng) % 256);
        hak_free(ring[k]);
        size_t n = next(&rng) % 8 ? next(&rng) % 2000 : next(&rng) % 200000;
        ring[k] = hak_alloc(a, n);
        CHECK(ring[k]);
        memset(ring[k], 0x11, n);
    }
    CHECK(hak_arena_check(a) == 0);
    if (end_with_reset) {
        hak_arena_reset(a);
    } else {
        for (unsigned k = 0; k < 256; k++)
            hak_free(ring[k]);
        hak_arena_trim(a);
    }
    CHECK(hak_arena_check(a) == 0);
    unsigned char *after = hak_alloc(a, 100); /* the arena serves again after a reset or a trim */
    CHECK(after);
    fill(after, 100, 9);
    hak_free(after);
}

/* ---- threads sharing a default arena ---- */
#define THREADS 3
#define SHARED  256
static hak_arena_t       *shared;
static _Atomic(uintptr_t) exchange[SHARED];

static void *worker(void *arg)
{
    uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
    for (int i = 0; i < 20000; i++) {
        size_t         n = 3 + next(&rng) % 3000;
        unsigned char *p = hak_alloc(shared, n);
        CHECK(p);
        p[0] = (unsigned char)n, p[1] = (unsigned char)(n >> 8);
        memset(p + 2, (int)(n & 0xff), n - 2);
        uintptr_t old = atomic_exchange(&exchange[next(&rng) % SHARED], (uintptr_t)p);
        if (old) { /* usually another thread's block: it goes into this thread's cache */
            unsigned char *o = (unsigned char *)old;
            size_t         m = o[0] | (size_t)o[1] << 8;
            CHECK(m >= 3 && o[m - 1] == (unsigned char)(m & 0xff));
            hak_free(o);
        }
    }
    return NULL; /* exits with blocks cached: they go back to the arena */
}

static void *cache_then_exit(void *arg)
{
    hak_arena_t *a = arg;
    void        *p[40];
    for (int i = 0; i < 40; i++)
        CHECK((p[i] = hak_alloc(a, 64)));
    for (int i = 0; i < 40; i++)
        hak_free(p[i]);
    return NULL;
}

int main(void)
{
    static _Alignas(64) unsigned char pool[16u << 20];
    unsigned char *heap_pool = malloc(16u << 20); /* a block of memcheck's own heap, holding hakmem's blocks */
    CHECK(heap_pool);
    hak_arena_t       *a[6];
    hak_arena_config_t cfg[6] = {
        {.name = "default"},
        {.name = "solo", .flags = HAK_ARENA_UNSYNCHRONIZED},
        {.name = "lean", .policy = HAK_POLICY_LEAN, .slab_size = 512u << 10},
        {.name = "capped", .limit = 64u << 20},
        {.name = "pool", .pool = pool, .pool_size = sizeof pool},
        {.name = "heap-pool", .pool = heap_pool, .pool_size = 16u << 20},
    };
    for (int i = 0; i < 6; i++)
        CHECK(hak_arena_create(&a[i], &cfg[i]) == 0);
    for (int i = 0; i < 6; i++)
        exercise(a[i], a[(i + 1) % 6], i % 2);
    for (int i = 0; i < 6; i++)
        hak_arena_destroy(a[i]);
    free(heap_pool);

    CHECK(hak_arena_create(&shared, NULL) == 0);
    for (int round = 0; round < 2; round++) {
        pthread_t t[THREADS];
        for (uintptr_t i = 0; i < THREADS; i++)
            CHECK(pthread_create(&t[i], NULL, worker, (void *)(i + 1 + round * THREADS)) == 0);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        CHECK(hak_arena_check(shared) == 0);
    }
    for (int i = 0; i < SHARED; i++)
        hak_free((void *)atomic_exchange(&exchange[i], 0));
    hak_arena_stats_t st;
    CHECK(hak_arena_stats(shared, &st) == 0 && st.in_use == 0);
    hak_arena_destroy(shared);

    /* A thread caches blocks of an arena, the arena goes, another takes its place. */
    hak_arena_t *gone, *next_one;
    CHECK(hak_arena_create(&gone, NULL) == 0);
    cache_then_exit(gone); /* this thread now caches 40 free blocks of `gone` */
    hak_arena_destroy(gone);
    CHECK(hak_arena_create(&next_one, NULL) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, cache_then_exit, next_one) == 0);
    pthread_join(t, NULL);
    cache_then_exit(next_one);
    hak_arena_destroy(next_one);
    puts("clean: done");
    return 0;
}
