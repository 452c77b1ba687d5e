/* Every public function and every failure case of include/hakmem.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "model.h"

struct reported reported;

static void recorder(int code, const char *message, void *ptr, void *arg)
{
    (void)arg;
    reported.count++;
    strncpy(reported.last_message, message, sizeof reported.last_message - 1);
    reported.last_code = code;
    reported.last_ptr = ptr;
}

void record_errors(void)
{
    memset(&reported, 0, sizeof reported);
    hak_set_error_handler(recorder, NULL);
}

static hak_arena_t *make(const hak_arena_config_t *cfg)
{
    hak_arena_t *a = NULL;
    cr_assert_eq(hak_arena_create(&a, cfg), 0);
    cr_assert_not_null(a);
    return a;
}

/* Consistent, and no block is live. */
static void check_empty(hak_arena_t *a)
{
    hak_arena_stats_t s;
    cr_assert_eq(hak_arena_stats(a, &s), 0);
    cr_assert_eq(s.in_use, 0);
    check(a);
}

TestSuite(api, .init = record_errors);

Test(api, create_with_defaults_and_destroy)
{
    hak_arena_t *a = make(NULL);
    hak_arena_stats_t s;
    cr_assert_eq(hak_arena_stats(a, &s), 0);
    cr_assert_eq(s.committed, 0, "nothing is committed before the first allocation");
    cr_assert_eq(s.superslabs, 0);
    check(a);
    hak_arena_destroy(a);
    hak_arena_destroy(NULL);
}

Test(api, create_rejects_bad_configs)
{
    hak_arena_t *a = (hak_arena_t *)1;
    cr_assert_eq(hak_arena_create(NULL, NULL), HAK_EINVAL);
    size_t bad_sizes[] = {1, SLAB_MIN / 2, SLAB_MIN + SLAB_MIN / 2, SLAB_MAX * 2, SLAB_MIN + 16};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.slab_size = bad_sizes[i]}), HAK_EINVAL);
        cr_assert_null(a, "*out is NULL on failure");
    }
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.flags = 1u << 7}), HAK_EINVAL);
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = (hak_policy_t)9}), HAK_EINVAL);
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool_size = 4096}), HAK_EINVAL);
    static _Alignas(16) char small_pool[1024]; /* less than an arena struct, on any platform and layout */
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool = small_pool, .pool_size = sizeof small_pool}),
                 HAK_EINVAL);
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool = small_pool + 1, .pool_size = 8u << 20}),
                 HAK_EINVAL, "misaligned pool");
    cr_assert_null(a);
}

/* A pool must not be memory hakmem manages: a block of another arena as the pool of a nested arena is refused (its
 * chunks would take over the registry entries through which the parent finds its blocks), and the parent goes on. */
Test(api, a_block_of_another_arena_is_refused_as_a_pool)
{
    hak_arena_t *parent = make(NULL), *child = (hak_arena_t *)1;
    size_t       n = 2 * hak_pool_size_min(0);
    unsigned char *pool = hak_alloc(parent, n), *after = hak_alloc(parent, 100);
    cr_assert_not_null(pool);
    cr_assert_not_null(after);
    memset(pool, 0x5a, n);
    cr_assert_eq(hak_arena_create(&child, &(hak_arena_config_t){.pool = pool, .pool_size = n}), HAK_EINVAL);
    cr_assert_null(child);
    cr_assert_eq(hak_arena_of(pool), parent);
    cr_assert_eq(hak_arena_of(after), parent);
    cr_assert_eq(reported.count, 0);
    hak_free(after);
    hak_free(pool);
    cr_assert_eq(reported.count, 0, "%s", reported.last_message);
    check_empty(parent);
    hak_arena_destroy(parent);
}

/* Nor is memory another pool arena holds, even where it has not placed a chunk yet: two arenas on one pool would
 * carve the same memory (and the second's struct may overwrite the first's). Disjoint halves of a buffer are two
 * pools; once the first arena is destroyed its pool may be given again. */
Test(api, a_pool_overlapping_another_arenas_pool_is_refused)
{
    size_t         half = hak_pool_size_min(0), n = 2 * half;
    unsigned char *pool = malloc(n);
    cr_assert_not_null(pool);
    hak_arena_t *first = make(&(hak_arena_config_t){.pool = pool, .pool_size = n}), *other = (hak_arena_t *)1;
    cr_assert_eq(hak_arena_create(&other, &(hak_arena_config_t){.pool = pool, .pool_size = n}), HAK_EINVAL,
                 "the same pool, before the first arena allocates");
    cr_assert_null(other);
    void *p = hak_alloc(first, 100);
    cr_assert_not_null(p);
    cr_assert_eq(hak_arena_create(&other, &(hak_arena_config_t){.pool = pool + half, .pool_size = half}), HAK_EINVAL,
                 "the upper half of the first arena's pool");
    cr_assert_eq(hak_arena_of(p), first);
    check(first);
    hak_arena_destroy(first);

    hak_arena_t *lo = make(&(hak_arena_config_t){.pool = pool, .pool_size = half});
    hak_arena_t *hi = make(&(hak_arena_config_t){.pool = pool + half, .pool_size = half});
    check(lo);
    check(hi);
    hak_arena_destroy(lo);
    hak_arena_destroy(hi);
    cr_assert_eq(reported.count, 0, "%s", reported.last_message);
    free(pool);
}

/* Freestanding: memory the platform owns (the static pool, an added region), used yet or not, is no pool, and a
 * region is not added over a live arena's pool: either way two allocators would carve the same memory. (It adds
 * two regions: HAK_MAX_REGIONS=1 refuses the second with HAK_ENOMEM, as it should.) */
Test(api, platform_memory_and_pools_do_not_overlap, .disabled = !HAK_CFG_FREESTANDING || HAK_CFG_MAX_REGIONS < 2)
{
#if HAK_CFG_FREESTANDING
    size_t       n = hak_pool_size_min(0);
    hak_arena_t *a = make(NULL), *other = (hak_arena_t *)1;
    size_t       big = 4 * n + (4u << 20); /* (past the largest size class: a chunk of its own) */
    unsigned char *freed = hak_alloc(a, big);
    cr_assert_not_null(freed);
    hak_free(freed); /* free platform memory again, which no arena holds */
    cr_assert_eq(hak_arena_create(&other, &(hak_arena_config_t){.pool = freed, .pool_size = n}), HAK_EINVAL,
                 "a pool in the platform's free memory");
    cr_assert_null(other);

    unsigned char *mem = aligned_alloc(64, 4 * n);
    cr_assert_not_null(mem);
    cr_assert_eq(hak_platform_add_region(mem, 2 * n), 0);
    cr_assert_eq(hak_arena_create(&other, &(hak_arena_config_t){.pool = mem + n, .pool_size = n}), HAK_EINVAL,
                 "a pool in an added region nothing uses yet");
    cr_assert_eq(hak_arena_create(&other, &(hak_arena_config_t){.pool = mem + n, .pool_size = 2 * n}), HAK_EINVAL,
                 "a pool across the end of an added region");
    cr_assert_null(other);
    hak_arena_t *pooled = make(&(hak_arena_config_t){.pool = mem + 2 * n, .pool_size = 2 * n});
    cr_assert_eq(hak_platform_add_region(mem + 3 * n, n), HAK_EINVAL, "a region inside a live arena's pool");
    cr_assert_eq(hak_platform_add_region(mem + n, 2 * n), HAK_EINVAL, "a region over an added one and a pool");
    void *p = hak_alloc(pooled, 100);
    cr_assert_not_null(p);
    cr_assert_eq(hak_arena_of(p), pooled);
    hak_free(p);
    check_empty(pooled);
    hak_arena_destroy(pooled);
    cr_assert_eq(hak_platform_add_region(mem + 2 * n, 2 * n), 0, "the pool of a destroyed arena may be added");
    check_empty(a);
    hak_arena_destroy(a);
    cr_assert_eq(reported.count, 0, "%s", reported.last_message);
#endif
}

Test(api, every_slab_size_and_policy_works)
{
    for (size_t size = SLAB_MIN; size <= SLAB_MAX; size *= 2)
        for (int p = 0; p <= HAK_POLICY_LEAN; p++) {
            hak_arena_t *a = make(&(hak_arena_config_t){.slab_size = size, .policy = (hak_policy_t)p});
            void *blocks[64];
            for (int k = 0; k < 64; k++) {
                blocks[k] = hak_alloc(a, (size_t)k * 1000);
                cr_assert_not_null(blocks[k]);
                memset(blocks[k], k, (size_t)k * 1000);
            }
            check(a);
            for (int k = 0; k < 64; k++)
                hak_free(blocks[k]);
            check(a);
            hak_arena_destroy(a);
        }
}

Test(api, alignment_and_zero_size)
{
    hak_arena_t *a = make(NULL);
    void *z1 = hak_alloc(a, 0), *z2 = hak_alloc(a, 0);
    cr_assert(z1 && z2 && z1 != z2, "size 0 gives unique blocks");
    for (size_t n = 1; n < 300000; n = n * 3 / 2 + 1) {
        void *p = hak_alloc(a, n);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % HAK_MIN_ALIGN, 0, "size %zu misaligned", n);
        cr_assert_geq(hak_usable_size(p), n);
        cr_assert_eq(hak_arena_of(p), a);
        hak_free(p);
    }
    hak_free(z1);
    hak_free(z2);
    check(a);
    hak_arena_destroy(a);
}

Test(api, small_class_waste_is_bounded)
{
    hak_arena_t *a = make(NULL);
    for (size_t n = 129; n <= SMALL_MAX; n++) {
        void *p = hak_alloc(a, n);
        size_t u = hak_usable_size(p);
        cr_assert(u >= n && (u - n) * 8 <= n, "size %zu got %zu bytes", n, u);
        hak_free(p);
    }
    hak_arena_destroy(a);
}

Test(api, calloc_zeroes_and_detects_overflow)
{
    hak_arena_t *a = make(NULL);
    unsigned char *p = hak_alloc(a, 4000);
    memset(p, 0xff, 4000);
    hak_free(p);
    unsigned char *q = hak_calloc(a, 1000, 4);
    cr_assert_not_null(q);
    for (int i = 0; i < 4000; i++)
        cr_assert_eq(q[i], 0);
    unsigned char *big = hak_calloc(a, 3, 1u << 20);
    cr_assert_not_null(big);
    cr_assert_eq(big[(3u << 20) - 1], 0);
    errno = 0;
    cr_assert_null(hak_calloc(a, SIZE_MAX / 2, 3));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_null(hak_aligned_alloc(a, 48, 16)); /* a bad argument: EINVAL, not counted as a failure */
    cr_assert_eq(errno, EINVAL);
    int on_stack;
    if (!HAK_CFG_INVALID_FREE_ABORT) { /* (a bad realloc aborts there) */
        cr_assert_null(hak_realloc(a, &on_stack, 16));
        cr_assert_eq(errno, EINVAL);
    }
    hak_arena_stats_t s;
    hak_arena_stats(a, &s);
    cr_assert_eq(s.failed_allocs, HAK_CFG_STATS ? 1 : 0, "%llu", (unsigned long long)s.failed_allocs);
    hak_free(q);
    hak_free(big);
    hak_arena_destroy(a);
}

Test(api, absurd_sizes_fail_with_enomem)
{
    hak_arena_t *a = make(NULL);
    size_t sizes[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX - 4096};
    for (int i = 0; i < 3; i++) {
        errno = 0;
        cr_assert_null(hak_alloc(a, sizes[i]));
        cr_assert_eq(errno, ENOMEM);
    }
    errno = 0;
    cr_assert_null(hak_alloc(NULL, 16));
    cr_assert_eq(errno, EINVAL);
    check(a);
    hak_arena_destroy(a);
}

Test(api, aligned_alloc)
{
    hak_arena_t *a = make(NULL);
    for (size_t al = 1; al <= (1u << 21); al <<= 1) {
        size_t sizes[] = {1, al, al + 1, 3 * al, 40000};
        for (int i = 0; i < 5; i++) {
            void *p = hak_aligned_alloc(a, al, sizes[i]);
            cr_assert_not_null(p, "align %zu size %zu", al, sizes[i]);
            cr_assert_eq((uintptr_t)p % al, 0, "align %zu size %zu", al, sizes[i]);
            cr_assert_geq(hak_usable_size(p), sizes[i]);
            memset(p, 1, sizes[i]);
            check(a);
            hak_free(p);
        }
    }
    errno = 0;
    cr_assert_null(hak_aligned_alloc(a, 0, 16));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hak_aligned_alloc(a, 48, 16));
    cr_assert_eq(errno, EINVAL);
    check(a);
    hak_arena_destroy(a);
}

Test(api, realloc_keeps_contents_and_moves_between_arenas)
{
    hak_arena_t *a = make(NULL), *b = make(NULL);
    unsigned char *p = hak_realloc(a, NULL, 10);
    cr_assert_not_null(p);
    for (int i = 0; i < 10; i++)
        p[i] = (unsigned char)i;
    size_t sizes[] = {100, 5000, 70000, 900000, 3000000, 20, 5};
    size_t keep = 10;
    for (int k = 0; k < 7; k++) {
        p = hak_realloc(a, p, sizes[k]);
        cr_assert_not_null(p);
        for (size_t i = 0; i < keep && i < sizes[k]; i++)
            cr_assert_eq(p[i], (unsigned char)i);
        for (size_t i = 0; i < sizes[k]; i++)
            p[i] = (unsigned char)i;
        keep = sizes[k];
        check(a);
    }
    unsigned char *q = hak_realloc(b, p, 5); /* same size, other arena: must move */
    cr_assert_eq(hak_arena_of(q), b);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(q[i], i);
    cr_assert_null(hak_arena_of(p), "the old block was freed");
    void *z = hak_realloc(b, q, 0);
    cr_assert_not_null(z, "realloc to 0 returns a minimal block");
    hak_free(z);
    /* a failed realloc leaves the block alone */
    void *keepme = hak_alloc(a, 64);
    errno = 0;
    cr_assert_null(hak_realloc(a, keepme, SIZE_MAX / 2));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(hak_arena_of(keepme), a);
    hak_free(keepme);
    int dummy;
    errno = 0;
    if (!HAK_CFG_INVALID_FREE_ABORT) { /* (a bad realloc aborts there) */
        cr_assert_null(hak_realloc(a, &dummy, 16));
        cr_assert_eq(errno, EINVAL);
        cr_assert_eq(reported.last_code, HAK_ERR_FOREIGN_PTR);
    }
    check(a);
    check(b);
    hak_arena_destroy(a);
    hak_arena_destroy(b);
}

Test(api, large_blocks_grow_and_shrink_in_place)
{
    SIZE_CLASSES_ONLY("large blocks are runs of slices");
    hak_arena_config_t cfg = {.slab_size = SLAB_MIN, .flags = HAK_ARENA_UNSYNCHRONIZED};
    hak_arena_t   *a = make(&cfg);
    size_t         small = SMALL_MAX + SMALL_MAX / 4, big = SLAB_MIN / 2 - SMALL_MAX; /* both large blocks */
    unsigned char *p = hak_alloc(a, small);
    cr_assert_not_null(p);
    for (size_t i = 0; i < small; i++)
        p[i] = (unsigned char)(i * 7);
    /* The slices after it are free: it grows where it is. */
    cr_assert_eq(hak_realloc(a, p, big), p);
    cr_assert_geq(hak_usable_size(p), big);
    for (size_t i = 0; i < small; i++)
        cr_assert_eq(p[i], (unsigned char)(i * 7));
    memset(p + small, 0xab, big - small);
    check(a);
    /* Shrinking gives its last slices back: the next large block starts right behind it. */
    cr_assert_eq(hak_realloc(a, p, small), p);
    cr_assert_lt(hak_usable_size(p), big);
    unsigned char *r = hak_alloc(a, small);
    cr_assert_eq(r, p + hak_usable_size(p));
    check(a);
    /* Now a block sits behind it: growing moves it, contents and all. */
    unsigned char *q = hak_realloc(a, p, big);
    cr_assert_not_null(q);
    cr_assert_neq(q, p);
    for (size_t i = 0; i < small; i++)
        cr_assert_eq(q[i], (unsigned char)(i * 7));
    cr_assert_null(hak_arena_of(p), "the old block was freed");
    check(a);
    hak_free(q);
    hak_free(r);
    check(a);
    hak_arena_destroy(a);
}

/* A block that has to move to grow into a large size gets room for the next growth where memory is plentiful (a
 * power of two of slices), so a buffer grown by 1.5x moves every other step; a tight cap or a pool gets exactly
 * what was asked for. */
Test(api, realloc_growth_takes_room_only_where_memory_is_plentiful)
{
    LINUX_ONLY("growth room is taken only from an OS's memory");
    hak_arena_t *a = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED});
    size_t       step = SMALL_MAX + SMALL_MAX / 4, room = 2 * SMALL_MAX; /* 80 KiB: a 128 KiB run on Linux */
    unsigned char *p = hak_alloc(a, 1000);
    cr_assert_not_null(p);
    memset(p, 0x5a, 1000);
    unsigned char *q = hak_realloc(a, p, step);
    cr_assert_not_null(q);
    cr_assert_eq(hak_usable_size(q), room);
    cr_assert_eq(q[999], 0x5a);
    q[step - 1] = 1;
    cr_assert_eq(hak_realloc(a, q, step * 3 / 2), q, "the next 1.5x step stays where it is");
    cr_assert_eq(q[step - 1], 1);
    hak_free(q);
    check_empty(a);
    /* With the cap at what the arena holds now, the room would not leave a SuperSlab to spare: exact size. */
    hak_arena_stats_t s;
    cr_assert_eq(hak_arena_stats(a, &s), 0);
    cr_assert_eq(hak_arena_set_limit(a, s.committed), 0);
    p = hak_alloc(a, 1000);
    q = hak_realloc(a, p, step);
    cr_assert_not_null(q);
    cr_assert_lt(hak_usable_size(q), room);
    hak_free(q);
    hak_arena_destroy(a);
    /* A pool's memory is all there is: no room either. */
    size_t size = 4u << 20;
    void  *pool = aligned_alloc(16, size);
    cr_assert_not_null(pool);
    a = make(&(hak_arena_config_t){.pool = pool, .pool_size = size, .flags = HAK_ARENA_UNSYNCHRONIZED});
    q = hak_realloc(a, hak_alloc(a, 1000), step);
    cr_assert_not_null(q);
    cr_assert_lt(hak_usable_size(q), room);
    hak_free(q);
    check_empty(a);
    hak_arena_destroy(a);
    free(pool);
}

/* A huge block resized to another huge size keeps its contents; on Linux its pages move (mremap) rather than being
 * copied, so the old block is gone at once and the arena's counters follow the new size. */
Test(api, huge_blocks_are_resized)
{
    hak_arena_t   *a = make(NULL);
    size_t         sizes[] = {3u << 20, 9u << 20, 4u << 20, 12u << 20}, kept = 0; /* 4: less than half */
    unsigned char *p = NULL;
    for (int k = 0; k < 4; k++) {
        unsigned char *q = hak_realloc(a, p, sizes[k]);
        cr_assert_not_null(q);
        for (size_t i = 0; i < kept && i < sizes[k]; i += 4093)
            cr_assert_eq(q[i], (unsigned char)(i / 4093), "size %zu: byte %zu lost", sizes[k], i);
        for (size_t i = 0; i < sizes[k]; i += 4093)
            q[i] = (unsigned char)(i / 4093);
        cr_assert_geq(hak_usable_size(q), sizes[k]);
        cr_assert_eq(hak_arena_of(q), a);
        if (p && q != p)
            cr_assert_null(hak_arena_of(p), "the old block is gone");
        hak_arena_stats_t s;
        hak_arena_stats(a, &s);
        cr_assert_geq(s.committed, sizes[k]);
        cr_assert_lt(s.committed, sizes[k] + (4u << 20), "size %zu: committed %zu: the old block still counts",
                     sizes[k], s.committed);
        check(a);
        p = q;
        kept = sizes[k];
    }
    hak_free(p);
    check(a);
    hak_arena_destroy(a);
}

/* The default handler writes one line through the platform: "hakmem: MESSAGE (0xADDRESS)", in one write. */
Test(api, the_default_handler_writes_one_line, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    hak_set_error_handler(NULL, NULL);
    int on_stack;
    fflush(stderr);
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    hak_free(&on_stack);
    static _Alignas(64) unsigned char not_an_arena[16384]; /* (zeroed: no arena's magic) */
    hak_arena_destroy((hak_arena_t *)not_an_arena); /* a dead arena handle: reported, with its address */
    dup2(saved, 2);
    close(saved);
    char got[512] = {0}, want[512];
    rewind(tmp);
    size_t n = fread(got, 1, sizeof got - 1, tmp);
    fclose(tmp);
    snprintf(want, sizeof want, "hakmem: free of a pointer hakmem does not own: ignored (%p)\n"
                                "hakmem: hak_arena_destroy: not a live arena (%p)\n", (void *)&on_stack,
             (void *)not_an_arena);
    cr_assert_str_eq(got, want, "wrote %zu bytes", n);
}

/* Built with HAK_INVALID_FREE_ABORT, the tests of bad frees are disabled: the first one reports, then aborts. */
Test(api, invalid_free_aborts_when_so_configured, .signal = SIGABRT, .disabled = !HAK_CFG_INVALID_FREE_ABORT)
{
    int on_stack;
    hak_free(&on_stack);
}

Test(api, invalid_frees_are_reported_and_ignored, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    hak_arena_t *a = make(NULL);
    int on_stack;
    void *heap = malloc(64);
    hak_free(&on_stack);
    cr_assert_eq(reported.count, 1);
    cr_assert_eq(reported.last_code, HAK_ERR_FOREIGN_PTR);
    cr_assert_eq(reported.last_ptr, &on_stack);
    hak_free(heap);
    cr_assert_eq(reported.last_code, HAK_ERR_FOREIGN_PTR);
    free(heap);

    /* interior pointers of every kind of block */
    size_t sizes[] = {16, 48, 1000, 20000, 100000, 3u << 20};
    for (int i = 0; i < 6; i++) {
        char *p = hak_alloc(a, sizes[i]);
        int before = reported.count;
        hak_free(p + 16);
        cr_assert_eq(reported.count, before + 1, "size %zu", sizes[i]);
        /* (with random order, p + 16 of a 16-byte block may be a block already on the page's free list) */
        cr_assert(reported.last_code == HAK_ERR_INTERIOR_PTR ||
                  (HAK_CFG_RANDOM_ORDER && sizes[i] == 16 && reported.last_code == HAK_ERR_DOUBLE_FREE));
        hak_free(p + sizes[i] - 1);
        cr_assert_eq(reported.count, before + 2);
        cr_assert_eq(hak_arena_of(p), a, "the block is still live");
        hak_free(p);
        check(a);
    }
    /* a block the page has not handed out yet */
    char *first = hak_alloc(a, 64);
    hak_free(first + 64 * 100);
    cr_assert_eq(reported.last_code, HAK_ERR_INTERIOR_PTR);
    hak_free(first);
    check(a);
    hak_arena_destroy(a);
}

Test(api, double_frees_are_detected, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    hak_arena_t *a = make(NULL);
    void *keep[100];
    for (int i = 0; i < 100; i++)
        keep[i] = hak_alloc(a, 48);
    for (int i = 0; i < 100; i += 2)
        hak_free(keep[i]);
    int before = reported.count;
    for (int i = 0; i < 100; i += 2) {
        hak_free(keep[i]);
        cr_assert_eq(reported.last_code, HAK_ERR_DOUBLE_FREE);
    }
    cr_assert_eq(reported.count, before + 50);
    check(a);
    /* a live block whose contents happen to look free is not a double free */
    for (int i = 1; i < 100; i += 2) {
        memset(keep[i], 0, 48);
        hak_free(keep[i]);
    }
    cr_assert_eq(reported.count, before + 50);
    check(a);
    /* large and huge */
    void *l = hak_alloc(a, 100000), *h = hak_alloc(a, 4u << 20);
    hak_free(l);
    hak_free(l);
    cr_assert_eq(reported.count, before + 51);
    hak_free(h);
    hak_free(h);
    cr_assert_eq(reported.count, before + 52);
    check(a);
    hak_arena_destroy(a);
}

/* Two blocks or more to a page, so that freeing every other block empties none (with 512-byte slices a page holds
 * one 512-byte block, whose memory goes back when it is freed: a second free is then an interior pointer). */
#define VERDICT_BLOCK ((size_t)(HAK_CFG_SLICE_SHIFT > 9 ? 512 : 256))

/* Frees, double frees and interior frees over SuperSlabs of every size, and in a pool that starts off the build's
 * SuperSlab alignment: hak_free masks a block's address to find its SuperSlab (right only for chunks aligned to
 * the build's slab size) and confirms with the registry, so both ways must give the same verdicts. */
static void free_verdicts(hak_arena_t *a, size_t slab_size)
{
    size_t n = slab_size * 3 / 2 / VERDICT_BLOCK; /* more than one SuperSlab: blocks in every part of one */
    char **b = malloc(n * sizeof *b);
    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(b[i] = hak_alloc(a, VERDICT_BLOCK));
        memset(b[i], (int)i, VERDICT_BLOCK);
    }
    for (size_t i = 0; i < n; i += 2)
        hak_free(b[i]);
    int before = reported.count;
    for (size_t i = 0; i < n; i += 2) {
        hak_free(b[i]);
        cr_assert_eq(reported.last_code, HAK_ERR_DOUBLE_FREE);
        hak_free(b[i + 1] + VERDICT_BLOCK / 2);
        cr_assert_eq(reported.last_code, HAK_ERR_INTERIOR_PTR);
    }
    cr_assert_eq(reported.count, before + (int)n);
    check(a);
    for (size_t i = 1; i < n; i += 2) {
        cr_assert_eq(hak_arena_of(b[i]), a);
        cr_assert_eq(b[i][VERDICT_BLOCK - 1], (char)i);
        hak_free(b[i]);
    }
    cr_assert_eq(reported.count, before + (int)n);
    check_empty(a);
    free(b);
}

Test(api, frees_are_judged_alike_in_every_superslab, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    for (size_t size = SLAB_MIN; size <= SLAB_MAX; size *= 2) {
        hak_arena_t *a = make(&(hak_arena_config_t){.slab_size = size});
        free_verdicts(a, size);
        hak_arena_destroy(a);
    }
    size_t size = 8u << 20;
    char  *pool = aligned_alloc(SLAB_MAX, size + SLAB_MAX);
    cr_assert_not_null(pool);
    hak_arena_t *a = make(&(hak_arena_config_t){.pool = pool + SLAB_MIN / 2, .pool_size = size, .slab_size = SLAB_MIN});
    free_verdicts(a, SLAB_MIN);
    hak_arena_destroy(a);
    free(pool);
}

Test(api, free_after_destroy_is_reported, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    hak_arena_t *a = make(NULL);
    void *p = hak_alloc(a, 100), *h = hak_alloc(a, 8u << 20);
    hak_arena_destroy(a);
    int before = reported.count;
    hak_free(p);
    hak_free(h);
    cr_assert_eq(reported.count, before + 2);
    cr_assert_null(hak_arena_of(p));
    cr_assert_eq(hak_usable_size(p), 0);
    /* and a new arena still works and is not corrupted */
    hak_arena_t *b = make(NULL);
    void *q = hak_alloc(b, 100);
    cr_assert_not_null(q);
    check(b);
    hak_arena_destroy(b);
}

Test(api, null_and_foreign_queries)
{
    cr_assert_eq(hak_usable_size(NULL), 0);
    cr_assert_null(hak_arena_of(NULL));
    int x;
    cr_assert_null(hak_arena_of(&x));
    cr_assert_eq(hak_usable_size(&x), 0);
    hak_free(NULL);
    cr_assert_eq(reported.count, 0, "queries do not report");
    hak_arena_stats_t s;
    cr_assert_eq(hak_arena_stats(NULL, &s), HAK_EINVAL);
    cr_assert_eq(hak_arena_check(NULL), HAK_EINVAL);
    cr_assert_eq(hak_arena_trim(NULL), 0);
    hak_arena_reset(NULL);
}

Test(api, reset_frees_everything_and_arena_stays_usable)
{
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t *a = make(&(hak_arena_config_t){.policy = (hak_policy_t)p});
        void *blocks[2000];
        for (int i = 0; i < 2000; i++)
            blocks[i] = hak_alloc(a, (size_t)(i % 50) * 100 + (i % 7 == 0 ? 700000 : 0));
        hak_arena_stats_t s;
        hak_arena_stats(a, &s);
        cr_assert_gt(s.in_use, 0);
        hak_arena_reset(a);
        hak_arena_stats(a, &s);
        cr_assert_eq(s.in_use, 0);
        check(a);
        cr_assert_null(hak_arena_of(blocks[0]), "reset blocks are not live");
        void *q = hak_alloc(a, 100);
        cr_assert_not_null(q);
        check(a);
        hak_arena_destroy(a);
    }
}

Test(api, stats_track_use_and_trim_gives_memory_back)
{
    hak_arena_t *a = make(&(hak_arena_config_t){.name = "stats", .policy = HAK_POLICY_FAST});
    void *b[1000];
    for (int i = 0; i < 1000; i++)
        b[i] = hak_alloc(a, 1000);
    hak_arena_stats_t s;
    hak_arena_stats(a, &s);
    cr_assert_eq(s.in_use, 1000 * hak_usable_size(b[0]));
    cr_assert_geq(s.committed, s.in_use);
    cr_assert_geq(s.reserved, s.committed);
    cr_assert_geq(s.peak_committed, s.committed);
    cr_assert_geq(s.superslabs, 1);
    if (HAK_CFG_STATS)
        cr_assert_eq(s.allocs, 1000);
    else /* no counters built in (a thread cache's own tally must not reach the arena either) */
        cr_assert(s.allocs == 0 && s.frees == 0, "allocs %llu, frees %llu without stats",
                  (unsigned long long)s.allocs, (unsigned long long)s.frees);
    for (int i = 0; i < 1000; i++)
        hak_free(b[i]);
    hak_arena_stats(a, &s);
    cr_assert_eq(s.in_use, 0);
    if (s.frees)
        cr_assert_eq(s.frees, 1000);
    size_t released = hak_arena_trim(a);
    hak_arena_stats_t t;
    hak_arena_stats(a, &t);
    cr_assert_gt(released, 0);
    cr_assert_eq(t.committed, s.committed - released);
    cr_assert_eq(t.committed, 0, "an empty arena trims to nothing");
    check(a);
    hak_arena_destroy(a);
}

/* A lean arena unmaps a freed huge block at once; a fast one keeps up to two of at most 32 MiB as spares for the
 * next huge blocks (no syscall, no page faults), counted as committed until a trim, or a huge block that fits
 * none of them, gives them back. */
Test(api, huge_blocks_are_returned_on_free_or_kept_as_spares)
{
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t      *a = make(&(hak_arena_config_t){.policy = (hak_policy_t)p});
        hak_arena_stats_t s0, s1, s2;
        hak_arena_stats(a, &s0);
        char *b = hak_alloc(a, 5u << 20);
        cr_assert_not_null(b);
        b[0] = 1, b[(5u << 20) - 1] = 2;
        hak_arena_stats(a, &s1);
        cr_assert_geq(s1.committed - s0.committed, 5u << 20);
        hak_free(b);
        hak_arena_stats(a, &s2);
        check(a);
        if (p == HAK_POLICY_LEAN || HAK_CFG_FREESTANDING) {
            cr_assert_eq(s2.committed, s0.committed);
            cr_assert_eq(s2.reserved, s0.reserved);
            hak_arena_destroy(a);
            continue;
        }
        cr_assert_eq(s2.committed, s1.committed, "fast: the chunk stays as a spare");
        cr_assert_eq(s2.in_use, s0.in_use);
        record_errors();
        if (!HAK_CFG_INVALID_FREE_ABORT) { /* (a bad free aborts there) */
            hak_free(b); /* the old block is no block now */
            cr_assert_eq(reported.count, 1);
            cr_assert_eq(reported.last_code, HAK_ERR_FOREIGN_PTR);
        }
        char *c = hak_alloc(a, (5u << 20) - 4096); /* fits the spare */
        cr_assert_not_null(c);
        hak_arena_stats(a, &s1);
        cr_assert_eq(s1.platform_calls, s2.platform_calls, "the spare is reused without a syscall");
        cr_assert_eq(s1.committed, s2.committed);
        memset(c, 0xff, 4096);
        hak_free(c);
        unsigned char *z = hak_calloc(a, 1, 5u << 20); /* calloc wants zeroed pages: not the spare */
        cr_assert_not_null(z);
        for (size_t i = 0; i < (5u << 20); i += 997)
            cr_assert_eq(z[i], 0);
        hak_free(z);
        check(a);
        hak_arena_stats(a, &s2);
        cr_assert_eq(s2.committed, s1.committed + (s1.committed - s0.committed), "two 5 MiB spares");
        char *big = hak_alloc(a, 40u << 20); /* fits no spare: they go back; above 32 MiB: never kept */
        cr_assert_not_null(big);
        hak_free(big);
        hak_arena_stats(a, &s2);
        cr_assert_eq(s2.committed, s0.committed);
        cr_assert_eq(s2.reserved, s0.reserved);
        cr_assert_not_null(c = hak_alloc(a, 5u << 20));
        hak_free(c);
        hak_arena_trim(a); /* gives spares back */
        hak_arena_stats(a, &s2);
        cr_assert_eq(s2.committed, s0.committed);
        cr_assert_eq(s2.reserved, s0.reserved);
        char *r = hak_alloc(a, SLAB_MAX); /* (a chunk of its own: 1 MiB lies in a 2 MiB SuperSlab, which a */
        cr_assert_not_null(r);             /* destroyed arena leaves in the process-wide cache) */
        hak_arena_reset(a); /* a reset keeps huge blocks as spares too */
        hak_arena_stats(a, &s1);
        cr_assert_not_null(hak_alloc(a, SLAB_MAX));
        hak_arena_stats(a, &s2);
        cr_assert_eq(s2.platform_calls, s1.platform_calls);
        check(a);
        hak_arena_destroy(a); /* with its spares */
        hak_stats_total(&s2);
        cr_assert_eq(s2.reserved, 0, "the process holds nothing: this test's only arena is gone");
    }
}

Test(api, limit_is_a_hard_cap)
{
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        size_t limit = 3u << 20;
        hak_arena_t *a = make(&(hak_arena_config_t){.limit = limit, .policy = (hak_policy_t)p});
        void *b[10000];
        int n = 0;
        errno = 0;
        while (n < 10000 && (b[n] = hak_alloc(a, 2000)) != NULL)
            n++;
        cr_assert_lt(n, 10000, "the cap stops allocation");
        cr_assert_eq(errno, ENOMEM);
        hak_arena_stats_t s;
        hak_arena_stats(a, &s);
        cr_assert_leq(s.committed, limit);
        cr_assert_eq(s.limit, limit);
        cr_assert_gt(s.in_use, limit / 2, "most of the cap is usable");
        cr_assert_null(hak_alloc(a, 4u << 20), "a huge block over the cap fails");
        check(a);
        for (int i = 0; i < n; i += 2)
            hak_free(b[i]);
        void *again = hak_alloc(a, 2000);
        cr_assert_not_null(again, "memory freed under the cap is usable again");
        hak_free(again);
        for (int i = 1; i < n; i += 2)
            hak_free(b[i]);
        cr_assert_not_null(hak_alloc(a, 1u << 20), "the whole cap is usable once empty");
        check(a);
        hak_arena_destroy(a);
    }
}

Test(api, arenas_are_independent)
{
    hak_arena_t *a = make(NULL), *b = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED});
    void *pa = hak_alloc(a, 64), *pb = hak_alloc(b, 64);
    cr_assert_eq(hak_arena_of(pa), a);
    cr_assert_eq(hak_arena_of(pb), b);
    memset(pb, 0x77, 64);
    hak_arena_destroy(a);
    cr_assert_eq(((unsigned char *)pb)[63], 0x77, "destroying one arena leaves the other's blocks alone");
    check(b);
    hak_free(pb);
    check(b);
    hak_arena_destroy(b);
}

static int mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Huge blocks side by side share VMAs (a mapping each would stop a program at vm.max_map_count live blocks, where
 * glibc's merged mappings do not): their mappings are rounded up to the chunk alignment, and only the used pages
 * count as committed. */
Test(api, huge_blocks_share_mappings)
{
    LINUX_ONLY("VMAs are Linux's");
    hak_arena_t *a = make(&(hak_arena_config_t){.policy = HAK_POLICY_FAST, .flags = HAK_ARENA_UNSYNCHRONIZED});
    size_t size = SLAB_MAX / 2 + 4096; /* huge in every build */
    static unsigned char *b[300];
    int before = mappings();
    for (int i = 0; i < 300; i++) {
        cr_assert_not_null(b[i] = hak_alloc(a, size));
        b[i][0] = b[i][size - 1] = (unsigned char)i;
    }
    int after = mappings();
    cr_assert_lt(after - before, 60, "300 huge blocks took %d new mappings", after - before);
    hak_arena_stats_t s;
    hak_arena_stats(a, &s);
    cr_assert_leq(s.committed, 300 * (size + 2 * 16384), "committed counts the used pages, not the rounding");
    check(a);
    for (int i = 0; i < 300; i++) {
        cr_assert_eq(b[i][size - 1], (unsigned char)i);
        hak_free(b[i]);
    }
    hak_arena_destroy(a);
}

Test(api, pool_arena_uses_only_the_pool)
{
    size_t size = 4u << 20;
    void *pool = aligned_alloc(16, size);
    cr_assert_not_null(pool);
    cr_assert_geq(size, hak_pool_size_min(SLAB_MIN));
    hak_arena_t *a = make(&(hak_arena_config_t){.pool = pool, .pool_size = size, .slab_size = SLAB_MIN});
    cr_assert((uintptr_t)a >= (uintptr_t)pool && (uintptr_t)a < (uintptr_t)pool + size);
    static void *b[8000]; /* twice what the pool can hold */
    int n = 0;
    while (n < 8000 && (b[n] = hak_alloc(a, 1000)) != NULL) {
        cr_assert((uintptr_t)b[n] >= (uintptr_t)pool && (uintptr_t)b[n] + 1000 <= (uintptr_t)pool + size);
        n++;
    }
    cr_assert_lt(n, 8000, "a pool arena fails when the pool is full");
    cr_assert_gt(n * 1000, (int)(size / 2));
    check(a);
    hak_arena_stats_t s;
    hak_arena_stats(a, &s);
    cr_assert_eq(s.platform_calls, 0, "a pool arena never calls the platform for memory");
    for (int i = 0; i < n; i++)
        hak_free(b[i]);
    void *h = hak_alloc(a, 1u << 20); /* huge, from the pool too */
    cr_assert_not_null(h);
    cr_assert((uintptr_t)h >= (uintptr_t)pool && (uintptr_t)h < (uintptr_t)pool + size);
    check(a);
    hak_arena_destroy(a);
    free(pool);
}

static int calls_to_custom;
static void custom(int code, const char *message, void *ptr, void *arg)
{
    (void)code, (void)ptr;
    cr_assert_not_null(message);
    cr_assert_eq(arg, &calls_to_custom);
    calls_to_custom++;
}

Test(api, error_handler_can_be_replaced_and_restored, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    int x;
    hak_set_error_handler(custom, &calls_to_custom);
    hak_free(&x);
    cr_assert_eq(calls_to_custom, 1);
    record_errors();
    hak_free(&x);
    cr_assert_eq(calls_to_custom, 1);
    cr_assert_eq(reported.count, 1);
}

Test(api, check_detects_corruption)
{
    hak_arena_t *a = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED}); /* frees go to the page */
    void *p = hak_alloc(a, 64), *q = hak_alloc(a, 64); /* (q keeps p apart from the free memory after it) */
    hak_free(p);
    check(a);
    void *link = *(void **)p;
    *(void **)p = (char *)p + 8; /* a use-after-free write breaks p's free-list link */
    cr_assert_eq(hak_arena_check(a), HAK_ERR_CORRUPT);
    cr_assert_eq(reported.last_code, HAK_ERR_CORRUPT);
    *(void **)p = link;
    check(a);
    hak_free(q);
    check(a);
    hak_arena_destroy(a);
}

/* An error handler that allocates from another arena (the header allows any arena but the one reported on). */
static int handler_reports;
static void allocating_handler(int code, const char *message, void *ptr, void *arg)
{
    (void)message, (void)ptr;
    handler_reports += code == HAK_ERR_CORRUPT;
    void *q = hak_alloc(arg, 64);
    cr_assert_not_null(q);
    hak_free(q);
}

/* The thread's four cache slots hold A and three others, A first, so a fifth arena used from inside a report on A
 * must not pick A's slot to flush: that would wait for A's lock, which the reporting call may hold. */
Test(api, error_handler_may_use_other_arenas, .timeout = 30)
{
    hak_arena_t *a = make(NULL), *other[4];
    for (int i = 0; i < 4; i++)
        other[i] = make(NULL);
    void *p = hak_alloc(a, 64), *q = hak_alloc(a, 64);
    for (int i = 0; i < 3; i++)
        hak_free(hak_alloc(other[i], 64));
    hak_set_error_handler(allocating_handler, other[3]);
    hak_free(p);
    hak_free(q);
    int x;
    if (HAK_CFG_TCACHE) { /* a write after free points the cache's list at the stack: reported under A's lock */
        *(void **)q = &x;
        hak_arena_check(a);
    }
    void *r = hak_alloc(a, 64);
    hak_free(r);
    hak_arena_stats_t st;
    hak_arena_stats(a, &st); /* every free block of A on its page */
    ((uintptr_t *)r)[1] ^= 1; /* a write after free over r's free marker */
    cr_assert_eq(hak_arena_check(a), HAK_ERR_CORRUPT);
    cr_assert_geq(handler_reports, 1);
    ((uintptr_t *)r)[1] ^= 1;
    record_errors();
    check(a);
    for (int i = 0; i < 4; i++)
        hak_arena_destroy(other[i]);
    hak_arena_destroy(a);
}

Test(api, corrupted_thread_cache_is_reported_not_followed)
{
    if (!HAK_CFG_TCACHE)
        cr_skip_test("no per-thread caches in this build");
    hak_arena_t *a = make(NULL); /* a default arena: frees go to this thread's cache */
    void *p = hak_alloc(a, 64), *q = hak_alloc(a, 64);
    hak_free(p);
    hak_free(q);
    int x;
    *(void **)q = &x; /* a write after free points the cache's list at the stack */
    cr_assert_eq(hak_arena_check(a), 0, "the bad link is dropped, not followed");
    cr_assert_eq(reported.last_code, HAK_ERR_CORRUPT);
    void *r = hak_alloc(a, 64);
    cr_assert(r != (void *)&x, "the stack address is never handed out");
    cr_assert_eq(hak_arena_of(r), a);
    hak_arena_destroy(a);
}

/* Found by the fuzzer: a large block freed through a thread cache's checking path was cached as a small one. */
Test(api, large_blocks_of_default_arenas_are_really_freed)
{
    hak_arena_t *a = make(NULL);
    for (int i = 0; i < 50; i++) {
        void *p = hak_alloc(a, 40000 + (size_t)i * 9000);
        hak_free(p);
    }
    check_empty(a);
    hak_arena_destroy(a);
}

/* Found by the fuzzer: size 0 with an alignment above 16 KiB took the slice-run path with zero slices. */
Test(api, aligned_alloc_of_size_zero)
{
    hak_arena_t *a = make(NULL);
    for (size_t al = 16; al <= (1u << 20); al <<= 1) {
        void *p = hak_aligned_alloc(a, al, 0);
        cr_assert_not_null(p, "alignment %zu", al);
        cr_assert_eq((uintptr_t)p % al, 0);
        hak_free(p);
    }
    check(a);
    hak_arena_destroy(a);
}

#if HAK_CFG_GUARD_PAGES
/* Guard pages: the last slice of a SuperSlab faults (a SuperSlab of the smallest size is aligned to its size). */
Test(api, guard_page_ends_every_superslab, .signal = SIGSEGV)
{
    hak_arena_t *a = make(&(hak_arena_config_t){.slab_size = SLAB_MIN, .flags = HAK_ARENA_UNSYNCHRONIZED});
    char *p = hak_alloc(a, 100);
    cr_assert_not_null(p);
    volatile char *last = (char *)(((uintptr_t)p & ~(uintptr_t)(SLAB_MIN - 1)) + SLAB_MIN - 1);
    *last = 1; /* the last byte of the SuperSlab */
    cr_assert_fail("the guard page did not fault");
}

Test(api, guard_pages_leave_the_arena_whole)
{
    hak_arena_t *a = make(&(hak_arena_config_t){.slab_size = SLAB_MIN});
    void *big[64];
    for (int i = 0; i < 64; i++) { /* runs of slices up to half a SuperSlab: never into a guard */
        big[i] = hak_alloc(a, SLAB_MIN / 2 - (size_t)i * 4096);
        cr_assert_not_null(big[i]);
        memset(big[i], i, SLAB_MIN / 2 - (size_t)i * 4096);
    }
    check(a);
    for (int i = 0; i < 64; i++)
        hak_free(big[i]);
    check(a);
    hak_arena_destroy(a);
}
#endif

#if HAK_CFG_HARDENED
/* Hardened builds: an overflow that rewrites a free block's link is caught when the block leaves the list. */
Test(api, hardened_overwritten_link_stops_the_process, .signal = SIGABRT)
{
    hak_arena_t *a = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED});
    char *victim = hak_alloc(a, 64), *target = hak_alloc(a, 64);
    hak_free(target);
    hak_free(victim);
    memset(victim, 0x41, 16); /* an overflow from the previous block rewrites link and marker */
    hak_alloc(a, 64);         /* pops victim: its marker is gone */
    cr_assert_fail("the corrupted free list was not noticed");
}

/* A write over the link alone (the marker intact) sends the list to an address outside the arena: reported when
 * that address would leave the list, before anything there is read (it was read first: SIGSEGV, no report). */
static int corrupt_reports;
static void count_corrupt_then_continue(int code, const char *message, void *ptr, void *arg)
{
    (void)message, (void)ptr, (void)arg;
    corrupt_reports += code == HAK_ERR_CORRUPT;
}

Test(api, hardened_link_to_anywhere_is_reported_before_it_is_followed, .signal = SIGABRT)
{
    hak_set_error_handler(count_corrupt_then_continue, NULL);
    hak_arena_t *a = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED});
    char *victim = hak_alloc(a, 64), *target = hak_alloc(a, 64);
    hak_free(target);
    hak_free(victim);
    memset(victim, 0x41, 8); /* the link only: decodes to an address no block has */
    hak_alloc(a, 64);        /* victim leaves the list: fine */
    hak_alloc(a, 64);        /* the decoded link would */
    cr_assert_fail("a link to an address outside the arena was followed (%d reports)", corrupt_reports);
}

/* A block handed out keeps no encoded link in its first word (whoever reads it would learn the link key). */
Test(api, hardened_blocks_handed_out_hold_no_link)
{
    hak_arena_t *a = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED});
    void        *p[256];
    for (int i = 0; i < 256; i++) {
        p[i] = hak_alloc(a, 48);
        cr_assert_eq(((uintptr_t *)p[i])[0], 0, "block %d: first word %#lx", i, (unsigned long)((uintptr_t *)p[i])[0]);
    }
    for (int i = 0; i < 256; i++)
        hak_free(p[i]);
    for (int i = 0; i < 256; i++)
        cr_assert_eq(((uintptr_t *)hak_alloc(a, 48))[0], 0, "reused block %d", i);
    hak_arena_destroy(a);
}
#endif

#if HAK_CFG_DEBUG >= 3
/* An internal assertion that fails (here: debug level 3's page validation, after a write over a free block) is
 * reported through the error handler, as corruption, before the process stops; it was printed past it. */
static void exit_on_failed_assertion(int code, const char *message, void *ptr, void *arg)
{
    (void)ptr, (void)arg;
    if (code == HAK_ERR_CORRUPT && strstr(message, "internal assertion failed"))
        _exit(42);
}

Test(api, failed_internal_assertions_reach_the_error_handler, .exit_code = 42)
{ /* (debug level 3 only: a skip exits 0, which .exit_code = 42 counts as a failure) */
    hak_set_error_handler(exit_on_failed_assertion, NULL);
    hak_arena_t *a = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED});
    void *p = hak_alloc(a, 64), *q = hak_alloc(a, 64);
    hak_free(p);
    if (HAK_CFG_COMPACT)
        ((uintptr_t *)p)[0] = 8; /* the free-list link, overwritten */
    else
        ((uintptr_t *)p)[1] = 0; /* the free marker, overwritten */
    hak_free(q);                 /* the page changes state (compact: any free): validated */
    hak_arena_destroy(a);
    cr_assert_fail("the overwritten free block was not noticed");
}
#endif

#if HAK_CFG_RANDOM_ORDER
/* Random order: a fresh page hands out its first 16 blocks each once but not in address order, and two arenas
 * shuffle differently (the chance that two shuffles of 16 agree is 1 in 16!). */
Test(api, random_order_within_a_page)
{
    unsigned order[2][16];
    for (int k = 0; k < 2; k++) {
        hak_arena_t *a = make(&(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED});
        uintptr_t    addr[16], lo = UINTPTR_MAX;
        unsigned     ascending = 0;
        bool         seen[16] = {false};
        for (int i = 0; i < 16; i++) {
            addr[i] = (uintptr_t)hak_alloc(a, 64);
            lo = addr[i] < lo ? addr[i] : lo;
            ascending += i > 0 && addr[i] == addr[i - 1] + 64;
        }
        for (int i = 0; i < 16; i++) {
            order[k][i] = (unsigned)((addr[i] - lo) / 64);
            cr_assert(addr[i] % 64 == lo % 64 && order[k][i] < 16 && !seen[order[k][i]], "not the page's first 16");
            seen[order[k][i]] = true;
        }
        cr_assert_lt(ascending, 15, "blocks handed out in address order");
        check(a);
        hak_arena_destroy(a);
    }
    cr_assert_neq(memcmp(order[0], order[1], sizeof order[0]), 0, "two arenas shuffled alike");
}
#endif

Test(api, version_macros)
{
    cr_assert_geq(HAKMEM_VERSION_MAJOR * 10000 + HAKMEM_VERSION_MINOR * 100 + HAKMEM_VERSION_PATCH, 1);
}

/* An aligned block whose run cannot fit a SuperSlab beside its header (and, in builds with guard pages, the guard
 * slice) is served as a huge block, not refused after mapping a SuperSlab that cannot hold it. */
Test(api, aligned_blocks_too_big_for_a_run_are_huge)
{
    LINUX_ONLY("512 KiB SuperSlabs");
    hak_arena_t *a = make(&(hak_arena_config_t){.slab_size = 512u << 10});
    void        *p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = hak_aligned_alloc(a, 256u << 10, 250u << 10);
        cr_assert_not_null(p[i], "try %d: errno %d", i, errno);
        cr_assert_eq((uintptr_t)p[i] & ((256u << 10) - 1), 0);
        memset(p[i], i, 250u << 10);
    }
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    size_t each = HAK_CFG_SLAB_SIZE > (1u << 20) ? HAK_CFG_SLAB_SIZE : 1u << 20; /* (a huge chunk's mapping is */
    cr_assert_leq(st.reserved, 8 * each, "reserved %zu", st.reserved);         /* rounded up to the build's) */
    cr_assert_eq(hak_arena_check(a), 0);
    for (int i = 0; i < 8; i++)
        hak_free(p[i]);
    hak_arena_destroy(a);
}

/* Under the kernel's default overcommit heuristics, a block no machine here could back fails with ENOMEM, as
 * glibc's malloc does, instead of succeeding and meeting the OOM killer when touched. */
Test(api, impossible_sizes_fail_with_enomem)
{
    LINUX_ONLY("the kernel's overcommit policy");
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int   mode = -1;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = -1;
        fclose(f);
    }
    if (mode != 0 && mode != 2)
        cr_skip_test("vm.overcommit_memory is %d: every mapping is allowed", mode);
    if ((uint64_t)SIZE_MAX < ((uint64_t)1 << 46))
        cr_skip_test("32-bit: no such size to ask for");
    hak_arena_t *a = make(NULL);
    errno = 0;
    cr_assert_null(hak_alloc(a, (size_t)((uint64_t)1 << 46))); /* 64 TiB */
    cr_assert_eq(errno, ENOMEM);
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_lt(st.committed, (size_t)1 << 30, "committed %zu", st.committed);
    hak_arena_destroy(a);
}

/* Memory at the very top of the address space, where rounding up to an alignment wraps to 0: refused before a
 * byte of it is touched (these addresses are not even mapped). */
Test(api, pools_and_regions_at_the_top_of_the_address_space_are_refused)
{
    uintptr_t top = (UINTPTR_MAX - 0x1fff) & ~(uintptr_t)15; /* 8 KiB below the end: the granule round-up wraps */
    hak_arena_t *a = (hak_arena_t *)1;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool = (void *)top, .pool_size = 0x1000}), HAK_EINVAL);
    cr_assert_null(a);
#if HAK_CFG_FREESTANDING
    cr_assert_eq(hak_platform_add_region((void *)(UINTPTR_MAX - 47), 32), HAK_EINVAL);
#endif
}

/* A mapping that fails at first and succeeds once the arena has given back its empty memory: the allocation
 * succeeds, and errno is what it was (a first failed mmap used to leave ENOMEM behind a block handed out). The
 * address space is capped just above what the process maps, so that the 4 MiB block fits only after the arena's
 * ~10 MiB of empty SuperSlabs are unmapped. */
#include <sys/resource.h>
Test(api, a_successful_allocation_leaves_errno_alone)
{
    LINUX_ONLY("mmap and the address-space limit");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("a sanitizer's shadow memory does not fit an address-space limit");
#endif
    static void *blocks[20000];
    hak_arena_t *a = make(&(hak_arena_config_t){.policy = HAK_POLICY_FAST});
    for (int i = 0; i < 20000; i++)
        cr_assert_not_null(blocks[i] = hak_alloc(a, 512));
    for (int i = 0; i < 20000; i++)
        hak_free(blocks[i]);
    unsigned long pages = 0;
    FILE         *f = fopen("/proc/self/statm", "r");
    cr_assert(f && fscanf(f, "%lu", &pages) == 1);
    fclose(f);
    struct rlimit old, capped;
    cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
    capped = (struct rlimit){(rlim_t)pages * 4096 + (1u << 20), old.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_AS, &capped), 0);
    errno = 0;
    void *big = hak_alloc(a, 4u << 20);
    int   err = errno;
    cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
    cr_assert_not_null(big, "errno %d", err);
    cr_assert_eq(err, 0, "errno %d after a successful allocation", err);
    hak_free(big);
    hak_arena_destroy(a);
}

/* "At most twice too big" stays: a block shrunk to exactly half its usable size is not moved. */
Test(api, realloc_to_exactly_half_stays)
{
    hak_arena_t *a = make(NULL);
    for (size_t usable = 32; usable <= 1024; usable *= 2) {
        void *p = hak_alloc(a, usable);
        if (!HAK_CFG_COMPACT) /* (compact blocks have two words of header: their usable sizes are no powers of two) */
            cr_assert_eq(hak_usable_size(p), usable);
        size_t have = hak_usable_size(p);
        cr_assert_eq(hak_realloc(a, p, have / 2), p, "usable %zu shrunk to %zu moved", have, have / 2);
        hak_free(p);
    }
    hak_arena_destroy(a);
}

/* A bad realloc is reported as one (the program called no free), with the same codes as a bad free. */
Test(api, bad_realloc_is_reported_as_a_realloc, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    record_errors();
    hak_arena_t *a = make(NULL);
    void        *p = hak_alloc(a, 40);
    hak_free(p);
    errno = 0;
    cr_assert_null(hak_realloc(a, p, 100));
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(reported.last_code, HAK_ERR_DOUBLE_FREE);
    cr_assert_eq(strncmp(reported.last_message, "realloc of", 10), 0, "%s", reported.last_message);
    int x;
    cr_assert_null(hak_realloc(a, &x, 10));
    cr_assert_eq(reported.last_code, HAK_ERR_FOREIGN_PTR);
    cr_assert_eq(strncmp(reported.last_message, "realloc of", 10), 0, "%s", reported.last_message);
    hak_arena_destroy(a);
}
