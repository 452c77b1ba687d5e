/*
 * Fault injection and bad input. The platform is told to fail its n-th memory request, for every n over a whole
 * workload: every call must fail cleanly (NULL with ENOMEM, or an error code), every arena must stay consistent,
 * and once the faults stop everything must work again with nothing leaked. Then a table of bad inputs, each with
 * the outcome it must have.
 */
#include "model.h"
#include "platform/platform.h"

/* (hak_platform_inject_faults is built only with Kconfig HAK_FAULT_INJECTION, which the firmware leaves out) */
#if HAK_CFG_FAULT_INJECTION
#define ARENAS 3

static void check_all(hak_arena_t **a)
{
    for (int i = 0; i < ARENAS; i++)
        if (a[i])
            cr_assert_eq(hak_arena_check(a[i]), 0, "arena %d inconsistent after a fault: %s", i, reported.last_message);
}

static void expect_ok_or_enomem(void *p, const char *what)
{
    if (!p)
        cr_assert_eq(errno, ENOMEM, "%s failed without ENOMEM", what);
}

/* Returns the number of calls that failed. */
static int workload(void)
{
    hak_arena_config_t cfg[ARENAS] = {
        {.name = "default"},
        {.name = "lean", .policy = HAK_POLICY_LEAN, .flags = HAK_ARENA_UNSYNCHRONIZED},
        {.name = "capped", .slab_size = SLAB_MIN, .limit = 32u << 20},
    };
    hak_arena_t *a[ARENAS] = {0};
    int          failed = 0;
    for (int i = 0; i < ARENAS; i++) {
        int rc = hak_arena_create(&a[i], &cfg[i]);
        cr_assert(rc == 0 || rc == HAK_ENOMEM, "create returned %d", rc);
        if (rc) {
            cr_assert_null(a[i]);
            failed++;
        }
    }
    static const size_t sizes[] = {16, 200, 1000, 5000, 40000, 300000, 3u << 20};
    void *blocks[ARENAS][8] = {{0}};
    for (int i = 0; i < ARENAS; i++) {
        if (!a[i])
            continue;
        for (int k = 0; k < 7; k++) {
            errno = 0;
            blocks[i][k] = k % 2 ? hak_calloc(a[i], 1, sizes[k]) : hak_alloc(a[i], sizes[k]);
            expect_ok_or_enomem(blocks[i][k], "alloc");
            failed += !blocks[i][k];
            if (blocks[i][k])
                memset(blocks[i][k], k, sizes[k] < 4096 ? sizes[k] : 4096);
            check_all(a);
        }
        errno = 0;
        blocks[i][7] = hak_aligned_alloc(a[i], 65536, 1000);
        expect_ok_or_enomem(blocks[i][7], "aligned_alloc");
        failed += !blocks[i][7];
        for (int k = 0; k < 7; k++) {
            if (!blocks[i][k])
                continue;
            errno = 0;
            void *q = hak_realloc(a[i], blocks[i][k], sizes[k] * 3 + 100);
            expect_ok_or_enomem(q, "realloc");
            if (q) {
                cr_assert_eq(((unsigned char *)q)[0], (unsigned char)k, "realloc lost the contents");
                blocks[i][k] = q;
            } else {
                failed++;
                cr_assert_eq(hak_arena_of(blocks[i][k]), a[i], "a failed realloc keeps the block");
            }
            check_all(a);
        }
    }
    for (int i = 0; i < ARENAS; i++) {
        if (!a[i])
            continue;
        for (int k = 0; k < 8; k++)
            hak_free(blocks[i][k]);
        hak_arena_stats_t s;
        cr_assert_eq(hak_arena_stats(a[i], &s), 0);
        cr_assert_eq(s.in_use, 0, "arena %d leaks %zu bytes", i, s.in_use);
        hak_arena_trim(a[i]);
        check_all(a);
        hak_arena_destroy(a[i]);
        a[i] = NULL;
    }
    return failed;
}

Test(faults, every_memory_request_can_fail)
{
    record_errors();
    cr_assert_eq(workload(), 0, "no fault, no failure");
    hak_arena_stats_t base;
    hak_stats_total(&base);
    int swept = 0;
    for (unsigned long n = 0; n < 400; n++) {
        unsigned long before = hak_platform_inject_faults(n, 1);
        int           failed = workload();
        unsigned long injected = hak_platform_inject_faults(0, 0) - before;
        if (!injected)
            break; /* n is past the last request the workload makes */
        cr_assert_geq(failed, 0);
        cr_assert_eq(workload(), 0, "after the fault at request %lu, everything works again", n);
        swept++;
    }
    cr_assert_gt(swept, 5, "the sweep reached the workload's requests");
    /* Runs of consecutive failures too. */
    for (unsigned long n = 0; n < 40; n += 3) {
        hak_platform_inject_faults(n, 1000);
        workload();
        hak_platform_inject_faults(0, 0);
        cr_assert_eq(workload(), 0, "recovery after a run of faults from request %lu", n);
    }
    hak_arena_stats_t end;
    hak_stats_total(&end);
    cr_assert_leq(end.reserved, base.reserved + (size_t)HAK_SLAB_SIZE_MAX * 8, "memory leaked across the sweep");
    cr_assert_eq(reported.count, 0, "faults are not invalid frees");
}
#endif /* HAK_CFG_FAULT_INJECTION */

/* ---- bad input, counted: each case and the outcome it must have ---- */

enum outcome { NULL_ENOMEM, NULL_EINVAL, REPORTED };

static hak_arena_t *bad_arena;
static void        *small_block, *large_block, *huge_block;

static void *do_foreign(void) { static int x; hak_free(&x); return NULL; }
static void *do_interior(void) { hak_free((char *)small_block + 16); return NULL; }
static void *do_double_small(void) { void *p = hak_alloc(bad_arena, 40); hak_free(p); hak_free(p); return NULL; }
static void *do_double_large(void) { void *p = hak_alloc(bad_arena, SLAB_MIN / 4); hak_free(p); hak_free(p); return NULL; }
static void *do_double_huge(void) { void *p = hak_alloc(bad_arena, 3u << 20); hak_free(p); hak_free(p); return NULL; }
static void *do_destroyed(void)
{
    hak_arena_t *t;
    hak_arena_create(&t, NULL);
    void *p = hak_alloc(t, 100);
    hak_arena_destroy(t);
    hak_free(p);
    return NULL;
}
static void *do_size_max(void) { return hak_alloc(bad_arena, SIZE_MAX); }
static void *do_size_half(void) { return hak_alloc(bad_arena, SIZE_MAX / 2); }
static void *do_calloc_overflow(void) { return hak_calloc(bad_arena, SIZE_MAX / 16, 17); }
static void *do_align_zero(void) { return hak_aligned_alloc(bad_arena, 0, 64); }
static void *do_align_odd(void) { return hak_aligned_alloc(bad_arena, 24, 64); }
static void *do_align_huge(void) { return hak_aligned_alloc(bad_arena, (size_t)1 << (sizeof(size_t) * 8 - 1), 64); }
static void *do_null_arena(void) { return hak_alloc(NULL, 64); }
static void *do_realloc_foreign(void) { static int y; return hak_realloc(bad_arena, &y, 64); }
static void *do_realloc_freed(void) { void *p = hak_alloc(bad_arena, 64); hak_free(p); return hak_realloc(bad_arena, p, 128); }

static const struct {
    const char  *what;
    void      *(*run)(void);
    enum outcome expect;
    int          code; /* handler code for REPORTED */
} bad_inputs[] = {
    {"free of a foreign pointer", do_foreign, REPORTED, HAK_ERR_FOREIGN_PTR},
    {"free of an interior pointer", do_interior, REPORTED, HAK_ERR_INTERIOR_PTR},
    {"double free of a small block", do_double_small, REPORTED, HAK_ERR_DOUBLE_FREE},
    /* (a large block's slices went back to the SuperSlab; a compact block keeps its header, flagged free) */
    {"double free of a large block", do_double_large, REPORTED, HAK_CFG_COMPACT ? HAK_ERR_DOUBLE_FREE : HAK_ERR_INTERIOR_PTR},
    {"double free of a huge block", do_double_huge, REPORTED, HAK_ERR_FOREIGN_PTR},
    {"free into a destroyed arena", do_destroyed, REPORTED, HAK_ERR_FOREIGN_PTR},
    {"realloc of a foreign pointer", do_realloc_foreign, REPORTED, HAK_ERR_FOREIGN_PTR},
    {"realloc of a freed block", do_realloc_freed, REPORTED, HAK_ERR_DOUBLE_FREE},
    {"alloc SIZE_MAX", do_size_max, NULL_ENOMEM, 0},
    {"alloc SIZE_MAX/2", do_size_half, NULL_ENOMEM, 0},
    {"calloc overflow", do_calloc_overflow, NULL_ENOMEM, 0},
    {"aligned_alloc alignment 0", do_align_zero, NULL_EINVAL, 0},
    {"aligned_alloc alignment 24", do_align_odd, NULL_EINVAL, 0},
    {"aligned_alloc alignment 2^63", do_align_huge, NULL_ENOMEM, 0},
    {"alloc from a NULL arena", do_null_arena, NULL_EINVAL, 0},
};

Test(bad_input, every_case_has_its_outcome, .disabled = HAK_CFG_INVALID_FREE_ABORT) /* (bad frees abort) */
{
    cr_assert_eq(hak_arena_create(&bad_arena, NULL), 0);
    small_block = hak_alloc(bad_arena, 64);
    large_block = hak_alloc(bad_arena, SLAB_MIN / 4); /* a run of slices: above the classes, below half a slab */
    huge_block = hak_alloc(bad_arena, 3u << 20);
    for (size_t i = 0; i < sizeof bad_inputs / sizeof *bad_inputs; i++) {
        record_errors();
        errno = 0;
        void *r = bad_inputs[i].run();
        switch (bad_inputs[i].expect) {
        case NULL_ENOMEM:
        case NULL_EINVAL:
            cr_assert_null(r, "%s: returned a block", bad_inputs[i].what);
            cr_assert_eq(errno, bad_inputs[i].expect == NULL_ENOMEM ? ENOMEM : EINVAL, "%s: errno %d",
                         bad_inputs[i].what, errno);
            cr_assert_eq(reported.count, 0, "%s: reported", bad_inputs[i].what);
            break;
        case REPORTED:
            cr_assert_null(r);
            cr_assert_eq(reported.count, 1, "%s: reported %d times", bad_inputs[i].what, reported.count);
            cr_assert_eq(reported.last_code, bad_inputs[i].code, "%s: code %d", bad_inputs[i].what,
                         reported.last_code);
            break;
        }
        cr_assert_eq(hak_arena_check(bad_arena), 0, "%s: arena corrupted", bad_inputs[i].what);
    }
    /* and the arena still works, with the blocks made before intact */
    cr_assert_eq(hak_arena_of(small_block), bad_arena);
    cr_assert_eq(hak_arena_of(large_block), bad_arena);
    cr_assert_eq(hak_arena_of(huge_block), bad_arena);
    hak_free(small_block);
    hak_free(large_block);
    hak_free(huge_block);
    hak_arena_destroy(bad_arena);
}

Test(bad_input, bad_configs_are_rejected)
{
    static _Alignas(16) char pool[64];
    const hak_arena_config_t bad[] = {
        {.slab_size = 3}, {.slab_size = SLAB_MIN / 2}, {.slab_size = SLAB_MAX * 2}, {.flags = 2}, {.policy = (hak_policy_t)3},
        {.pool_size = 1}, {.pool = pool, .pool_size = sizeof pool}, {.pool = pool + 1, .pool_size = 8u << 20},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hak_arena_t *a = (hak_arena_t *)&a;
        cr_assert_eq(hak_arena_create(&a, &bad[i]), HAK_EINVAL, "config %zu", i);
        cr_assert_null(a);
    }
}
