/*
 * A firmware whose arenas all live in pools of their own, with no static pool and no region for the platform to
 * hand out (tests/freestanding/pools_only_defconfig): two pool arenas serve small, large and huge blocks, grow them
 * by realloc and pass hak_arena_check, all from their own pools, while an arena without a pool fails cleanly.
 * Host build, no Criterion: exits non-zero on the first failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "pools_only.c:%d: check failed: %s\n", __LINE__, #cond);           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static _Alignas(16) unsigned char pool_a[512 << 10], pool_b[300 << 10];

static int inside(const void *p, size_t n, const unsigned char *pool, size_t size)
{
    return (uintptr_t)p >= (uintptr_t)pool && (uintptr_t)p + n <= (uintptr_t)pool + size;
}

/* Fills the arena with blocks of 16 B..8 KiB and some larger ones, content-checked, then frees them all. */
static void exercise(hak_arena_t *a, unsigned char *pool, size_t size, uint64_t seed)
{
    enum { N = 600 };
    static void  *b[N];
    static size_t len[N];
    int           n = 0;
    for (; n < N; n++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        len[n] = n % 50 == 49 ? 20000 + seed % 30000 : 16 + seed % 8192;
        if (!(b[n] = hak_alloc(a, len[n])))
            break;
        CHECK(inside(b[n], len[n], pool, size));
        memset(b[n], n & 0xff, len[n]);
    }
    CHECK(n > 20); /* the pool filled up (or all N fit) without a platform to draw from */
    CHECK(hak_arena_check(a) == 0);
    for (int i = 0; i < n; i += 2) { /* every other block grows or shrinks by realloc, contents kept */
        size_t keep = len[i] < 100 ? len[i] : 100;
        void  *q = hak_realloc(a, b[i], len[i] / 2 + 8);
        CHECK(q != NULL && inside(q, len[i] / 2 + 8, pool, size));
        for (size_t k = 0; k < keep && k < len[i] / 2 + 8; k++)
            CHECK(((unsigned char *)q)[k] == (i & 0xff));
        b[i] = q, len[i] = len[i] / 2 + 8;
    }
    for (int i = 0; i < n; i++) {
        CHECK(((unsigned char *)b[i])[len[i] - 1] == (i & 0xff));
        hak_free(b[i]);
    }
    CHECK(hak_arena_check(a) == 0);
    hak_arena_stats_t s;
    CHECK(hak_arena_stats(a, &s) == 0 && s.in_use == 0);
}

int main(void)
{
    hak_arena_t *a, *b, *none = NULL;
    CHECK(hak_arena_create(&a, &(hak_arena_config_t){.pool = pool_a, .pool_size = sizeof pool_a}) == 0);
    CHECK(hak_arena_create(&b, &(hak_arena_config_t){.pool = pool_b, .pool_size = sizeof pool_b,
                                                      .flags = HAK_ARENA_UNSYNCHRONIZED}) == 0);
    CHECK(hak_arena_create(&none, NULL) == HAK_ENOMEM && none == NULL); /* no platform memory at all */
    for (uint64_t round = 1; round <= 3; round++) {
        exercise(a, pool_a, sizeof pool_a, round);
        exercise(b, pool_b, sizeof pool_b, round * 77);
    }
    void *huge = hak_alloc(a, 200 << 10);
    CHECK(huge != NULL && inside(huge, 200 << 10, pool_a, sizeof pool_a));
    hak_free(huge);
    hak_arena_destroy(b);
    hak_arena_destroy(a);
    printf("pools only: two pool arenas served every request from their own pools; an arena without a pool "
           "failed with HAK_ENOMEM\n");
    return 0;
}
