/*
 * The compact layout (Kconfig HAK_COMPACT; this file replaces test_internals.c in those builds): block layout,
 * merging, in-place realloc, regions and what a small pool holds. The public API's behaviour is covered by the
 * rest of the suite, which runs unchanged on this layout.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "model.h"

#define W sizeof(size_t)

static hak_arena_t *unsync(hak_policy_t policy)
{
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = policy, .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    return a;
}

/* A block costs two words of header and rounding to 16 bytes; blocks taken one after another lie end to end. */
Test(compact, blocks_cost_two_words_and_lie_end_to_end)
{
    hak_arena_t   *a = unsync(HAK_POLICY_FAST);
    unsigned char *prev = NULL;
    size_t         total = 0;
    for (size_t n = 0; n <= 1000; n += 17) { /* (about 30 KiB: as much of it as fits the first region) */
        if ((total += (n + 2 * W + 15) / 16 * 16 + 16) > SLAB_MIN - 512)
            break;
        unsigned char *p = hak_alloc(a, n);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0);
        size_t want = (n + 2 * W + 15) / 16 * 16 < 4 * W ? 4 * W : (n + 2 * W + 15) / 16 * 16;
        cr_assert_eq(hak_usable_size(p), want - 2 * W, "size %zu: usable %zu", n, hak_usable_size(p));
        if (prev)
            cr_assert_eq(p, prev + hak_usable_size(prev) + 2 * W, "size %zu: not behind the block before", n);
        prev = p;
    }
    check(a);
    hak_arena_destroy(a);
}

/* A freed block merges with free neighbours on both sides: three freed in any order make one block again. */
Test(compact, free_merges_both_neighbours)
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    hak_arena_t *a = unsync(HAK_POLICY_FAST);
    for (int o = 0; o < 6; o++) {
        unsigned char *b[3];
        for (int i = 0; i < 3; i++)
            b[i] = hak_alloc(a, 200);
        void  *guard = hak_alloc(a, 16); /* keeps them apart from the free memory after them */
        size_t all = 3 * (hak_usable_size(b[0]) + 2 * W) - 2 * W; /* three blocks under one header */
        for (int i = 0; i < 3; i++) {
            hak_free(b[orders[o][i]]);
            check(a);
        }
        unsigned char *m = hak_alloc(a, all);
        cr_assert_eq(m, b[0], "order %d: the merged block is not reused whole", o);
        hak_free(m);
        hak_free(guard);
        check(a);
    }
    hak_arena_destroy(a);
}

/* realloc grows into the free block behind it, shrinks in place giving the tail back, and moves when blocked. */
Test(compact, realloc_grows_and_shrinks_in_place)
{
    hak_arena_t   *a = unsync(HAK_POLICY_FAST);
    unsigned char *p = hak_alloc(a, 100);
    for (int i = 0; i < 100; i++)
        p[i] = (unsigned char)(i * 7);
    cr_assert_eq(hak_realloc(a, p, 5000), p, "the memory behind it is free: it grows where it is");
    cr_assert_geq(hak_usable_size(p), 5000);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(p[i], (unsigned char)(i * 7));
    check(a);
    cr_assert_eq(hak_realloc(a, p, 1000), p);
    unsigned char *q = hak_alloc(a, 100);
    cr_assert_eq(q, p + hak_usable_size(p) + 2 * W, "the tail it gave back holds the next block");
    unsigned char *r = hak_realloc(a, p, 2000);
    cr_assert_neq(r, p, "a block behind it: it moves");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(r[i], (unsigned char)(i * 7));
    check(a);
    hak_free(q);
    hak_free(r);
    hak_arena_destroy(a);
}

/* An aligned block leaves the bytes before it free for other blocks. */
Test(compact, alignment_leaves_the_lead_free)
{
    hak_arena_t *a = unsync(HAK_POLICY_FAST);
    for (size_t align = 32; align <= 8192; align *= 2) {
        unsigned char *first = hak_alloc(a, 16);
        unsigned char *p = hak_aligned_alloc(a, align, 100);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % align, 0);
        void  *lead = hak_alloc(a, 16);
        size_t gap = (size_t)(p - 2 * W - (first + hak_usable_size(first))); /* a free block split off before p */
        /* (16 bytes and a header fit it; and the free tail after p, about SuperSlab - align bytes, is in a list
         * of larger blocks than the lead's: else the better fit may be either) */
        if (gap >= 32 && 2 * align < SLAB_MIN)
            cr_assert_lt((uintptr_t)lead, (uintptr_t)p, "align %zu: the lead is not reused", align);
        check(a);
        hak_free(lead);
        hak_free(p);
        hak_free(first);
    }
    check(a);
    hak_arena_destroy(a);
}

/* Interior pointers and double frees, also of blocks merged into a neighbour, are reported and change nothing. */
Test(compact, bad_frees_are_found_from_the_header, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    record_errors();
    hak_arena_t   *a = unsync(HAK_POLICY_FAST);
    unsigned char *p = hak_alloc(a, 64), *q = hak_alloc(a, 64), *g = hak_alloc(a, 64);
    memset(p, 0xff, 64); /* what p + 16's "header" reads: flag bits no header has */
    hak_free(p + 16);
    cr_assert_eq(reported.last_code, HAK_ERR_INTERIOR_PTR);
    hak_free(p);
    hak_free(q); /* merged into p's free block: its header stays behind, flagged free */
    hak_free(q);
    cr_assert_eq(reported.last_code, HAK_ERR_DOUBLE_FREE);
    hak_free(p);
    cr_assert_eq(reported.last_code, HAK_ERR_DOUBLE_FREE);
    cr_assert_eq(reported.count, 3);
    check(a);
    hak_free(g);
    check(a);
    hak_arena_destroy(a);
}

/* An overflow that rewrites the next block's header is found by hak_arena_check. */
Test(compact, check_finds_an_overwritten_header)
{
    record_errors();
    hak_arena_t   *a = unsync(HAK_POLICY_FAST);
    unsigned char *p = hak_alloc(a, 40), *q = hak_alloc(a, 40);
    size_t        *head = (size_t *)(q - W), saved = *head;
    *head = saved + 64; /* q now claims more than it has */
    cr_assert_eq(hak_arena_check(a), HAK_ERR_CORRUPT);
    cr_assert_eq(reported.last_code, HAK_ERR_CORRUPT);
    *head = saved;
    check(a);
    hak_free(p);
    hak_free(q);
    hak_arena_destroy(a);
}

/* A lean arena keeps the region that emptied last and gives back the one it kept before; a fast arena keeps
 * both until trim. */
Test(compact, regions_go_back_by_policy)
{
    for (int lean = 0; lean < 2; lean++) {
        hak_arena_t *a = unsync(lean ? HAK_POLICY_LEAN : HAK_POLICY_FAST);
        void        *p = hak_alloc(a, SLAB_MIN * 3 / 4), *q = hak_alloc(a, SLAB_MIN * 3 / 4); /* a region each */
        cr_assert_eq(committed_of(a), 2 * SLAB_MIN);
        hak_free(p);
        cr_assert_eq(committed_of(a), 2 * SLAB_MIN, "the first region to empty is kept");
        hak_free(q);
        cr_assert_eq(committed_of(a), (lean ? 1 : 2) * SLAB_MIN);
        check(a);
        cr_assert_eq(hak_arena_trim(a), (lean ? 1 : 2) * SLAB_MIN);
        cr_assert_eq(committed_of(a), 0);
        check(a);
        hak_arena_destroy(a);
    }
}

/* A block larger than a SuperSlab gets a region of its own, which goes back when it is freed. */
Test(compact, a_big_block_region_goes_back_when_freed)
{
    hak_arena_t *a = unsync(HAK_POLICY_FAST);
    void        *p = hak_alloc(a, SLAB_MIN * 3);
    cr_assert_not_null(p);
    cr_assert_gt(committed_of(a), SLAB_MIN * 3);
    hak_free(p);
    cr_assert_eq(committed_of(a), 0);
    check(a);
    hak_arena_destroy(a);
}

/* A pool arena takes its pool in SuperSlabs, the last one what is left; a reset makes each one free block again. */
Test(compact, a_pool_is_taken_in_superslabs)
{
    static _Alignas(16384) unsigned char pool[SLAB_MIN > (64 << 10) ? 4 * SLAB_MIN : 256 << 10]; /* 4+ SuperSlabs */
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool = pool, .pool_size = sizeof pool}), 0);
    cr_assert_not_null(hak_alloc(a, 100));
    cr_assert_eq(committed_of(a), SLAB_MIN);
    size_t n = 0;
    while (hak_alloc(a, 1000))
        n++;
    hak_arena_stats_t s;
    cr_assert_eq(hak_arena_stats(a, &s), 0);
    cr_assert_eq(s.superslabs, (sizeof pool + SLAB_MIN - 1) / SLAB_MIN);
    cr_assert_geq(s.committed, sizeof pool - 8192, "all the pool but the arena struct");
    hak_arena_reset(a);
    check(a);
    size_t again = 0;
    while (hak_alloc(a, 1000))
        again++;
    cr_assert_geq(again, n, "after the reset the pool holds as many blocks again");
    check(a);
    hak_arena_destroy(a);
}

/* What a 256 KiB pool holds: a working set of random 16..1024-byte blocks grown until the first failure fills
 * at least 85% of the pool with requested bytes (bench/static_pool measures the same over more seeds). */
Test(compact, a_small_pool_holds_85_percent)
{
    static _Alignas(16384) unsigned char pool[256 << 10];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool = pool, .pool_size = sizeof pool,
                                                                .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
        uint64_t rng = seed * 0x9e3779b97f4a7c15u;
        size_t   live = 0;
        for (;;) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            size_t n = 16 + (size_t)(rng % 1009);
            if (!hak_alloc(a, n))
                break;
            live += n;
        }
        cr_assert_geq(live * 100, sizeof pool * 85, "seed %d: %zu of %zu bytes", (int)seed, live, sizeof pool);
        check(a);
        hak_arena_destroy(a);
    }
}

/* A block of an arena reset since, or of a destroyed arena whose memory a new arena uses, is no live block: its old
 * header (untouched by the reset) carries a tag the arena no longer makes. */
Test(compact, stale_blocks_after_reset_or_destroy_are_refused, .disabled = HAK_CFG_INVALID_FREE_ABORT)
{
    static _Alignas(16384) unsigned char pool[256 << 10];
    record_errors();
    hak_arena_t *a = unsync(HAK_POLICY_FAST);
    void        *p = hak_alloc(a, 100), *q = hak_alloc(a, 100), *r = hak_alloc(a, 100);
    (void)p, (void)r;
    hak_arena_reset(a);
    hak_free(q);
    cr_assert_eq(reported.count, 1, "a block freed by the reset was freed again unseen");
    cr_assert_eq(reported.last_code, HAK_ERR_INTERIOR_PTR);
    cr_assert_eq(hak_usable_size(q), 0);
    cr_assert_null(hak_arena_of(q));
    check(a);
    hak_arena_destroy(a);

    hak_arena_t *old, *young;
    cr_assert_eq(hak_arena_create(&old, &(hak_arena_config_t){.pool = pool, .pool_size = sizeof pool}), 0);
    hak_alloc(old, 16);
    void *stale = hak_alloc(old, 100);
    hak_arena_destroy(old);
    cr_assert_eq(hak_arena_create(&young, &(hak_arena_config_t){.pool = pool, .pool_size = sizeof pool}), 0);
    hak_alloc(young, 16);
    hak_free(stale);
    cr_assert_eq(reported.count, 2, "a block of the destroyed arena was freed into the new one");
    check(young);
    hak_arena_destroy(young);
}

/* A pool that ends off a 64-byte boundary: nothing is written past its end, however full it gets. */
Test(compact, a_pool_ending_anywhere_is_not_overrun)
{
    static _Alignas(16384) unsigned char buf[16384 + (64 << 10) + 64 * 1000 + 64];
    size_t         lead = 8192, len = lead + (64 << 10) + 64 * 1000 + 8;
    unsigned char *pool = buf + 16384 - lead;
    memset(buf, 0x5a, sizeof buf);
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool = pool, .pool_size = len}), 0);
    while (hak_alloc(a, 1000))
        ;
    check(a);
    hak_arena_destroy(a);
    for (size_t i = (size_t)(pool - buf) + len; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0x5a, "byte %zu past the pool's end written", i - (size_t)(pool - buf) - len);
}

/* A stale block whose neighbour before it was free when the arena was reset: its `prev` points at that neighbour
 * (no tag), whose old header still says free and still ends at the block. Freeing it must not free it again. */
Test(compact, stale_block_after_a_free_neighbour_is_refused_after_reset, .disabled = HAK_CFG_INVALID_FREE_ABORT)
{
    record_errors();
    hak_arena_t *a = unsync(HAK_POLICY_FAST);
    void        *p = hak_alloc(a, 100), *n = hak_alloc(a, 100), *q = hak_alloc(a, 100), *r = hak_alloc(a, 100);
    (void)p, (void)r;
    hak_free(n); /* q's header now points at n's free block */
    hak_arena_reset(a);
    cr_assert_eq(hak_usable_size(q), 0, "a block of before the reset is live");
    cr_assert_null(hak_arena_of(q));
    hak_free(q);
    cr_assert_eq(reported.count, 1, "a block freed by the reset was freed again unseen");
    check(a);
    void *big = hak_alloc(a, 1000); /* the region's first block: over n and q */
    cr_assert_not_null(big);
    check(a);
    hak_arena_destroy(a);

    static _Alignas(16384) unsigned char pool[256 << 10]; /* likewise into a new arena on a destroyed one's pool */
    hak_arena_t *old, *young;
    cr_assert_eq(hak_arena_create(&old, &(hak_arena_config_t){.pool = pool, .pool_size = sizeof pool}), 0);
    p = hak_alloc(old, 100), n = hak_alloc(old, 100), q = hak_alloc(old, 100), r = hak_alloc(old, 100);
    hak_free(n);
    hak_arena_destroy(old);
    cr_assert_eq(hak_arena_create(&young, &(hak_arena_config_t){.pool = pool, .pool_size = sizeof pool}), 0);
    cr_assert_not_null(hak_alloc(young, 16));
    hak_free(q);
    cr_assert_eq(reported.count, 2, "a block of the destroyed arena was freed into the new one");
    check(young);
    hak_arena_destroy(young);
}
