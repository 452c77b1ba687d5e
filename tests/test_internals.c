/* Arithmetic the core's fast paths rely on, checked exhaustively where a proof would be easy to get wrong. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "arena/internal.h"

/* hak_free's block-start test (internal.h, HAK_RECIP_SHIFT): one multiply and a compare must say exactly whether an
 * offset is a multiple of the block size, for every class and every offset a small page can have. Large pages use
 * recip 1, which only offset 0 passes. */
Test(internals, block_start_test_is_exact)
{
    const uint64_t page_max = UINT64_C(1) << 18; /* small pages: at most 16 slices of at most 16 KiB */
    for (unsigned cls = 0; cls < HAK_NUM_CLASSES; cls++) {
        uint32_t bsize = _hak_class_size[cls], recip = hak_recip(bsize);
        for (uint64_t off = 0; off < page_max; off++)
            if (hak_offset_is_block(off, recip) != (off % bsize == 0))
                cr_assert_fail("class %u (%u bytes): offset %llu misjudged", cls, bsize, (unsigned long long)off);
    }
    for (uint64_t off = 0; off < page_max; off++)
        cr_assert_eq(hak_offset_is_block(off, 1), off == 0);
}

/* The same reciprocal rounds a small page's bytes down to whole blocks (its end_off), up to 2^18 inclusive. */
Test(internals, whole_blocks_of_a_page_are_exact)
{
    for (unsigned cls = 0; cls < HAK_NUM_CLASSES; cls++) {
        uint32_t bsize = _hak_class_size[cls], recip = hak_recip(bsize);
        for (uint32_t bytes = 0; bytes <= UINT32_C(1) << 18; bytes++)
            if (hak_whole_blocks(bytes, bsize, recip) != bytes / bsize * bsize)
                cr_assert_fail("class %u (%u bytes): %u bytes misjudged", cls, bsize, bytes);
    }
}

static hak_page_t *page_of(const void *p)
{
    hak_superslab_t *ss = (hak_superslab_t *)_hak_registry_find(p);
    cr_assert_not_null(ss);
    return ss->slice_page[((uintptr_t)p - (uintptr_t)ss) >> HAK_SLICE_SHIFT];
}

/* A young arena reads no clock until it has touched TRIM_YOUNG_TOUCHES 4 KiB pages of new memory for small blocks:
 * counted in pages, so that blocks of 16 KiB count four each (they counted one, and hardened builds' batches of 16
 * blocks one per batch). */
Test(internals, young_arenas_count_the_4_kib_pages_they_touch)
{
    if (HAK_CFG_FREESTANDING)
        cr_skip_test("Linux platform only: page-tail trims");
    hak_arena_t *a;
    hak_arena_config_t c = {.trim_ms = 10000, /* (its own: an arena that never trims counts nothing, and */
                            .flags = HAK_ARENA_UNSYNCHRONIZED}; /* HAK_FAST_TRIM_MS may be 0, never) */
    cr_assert_eq(hak_arena_create(&a, &c), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_not_null(hak_alloc(a, 16384));
    if (HAK_CFG_RANDOM_ORDER) /* (a batch reaches past the blocks handed out so far) */
        cr_assert_geq(a->trim_touches, 12, "three 16 KiB blocks: %u pages", a->trim_touches);
    else
        cr_assert_eq(a->trim_touches, 12, "three 16 KiB blocks: %u pages", a->trim_touches);
    hak_arena_destroy(a);
}

/* A pool that runs out of slices takes back the ones its pages never used: a page of 576-byte blocks spans
 * several slices and has used one (two below 1 KiB slices, more where random order handed out 16 blocks at once);
 * a fill with another class until the pool is full shrinks it to those. */
Test(internals, a_full_pool_takes_back_slices_pages_never_used)
{
    size_t size = 4u << 20;
    void  *pool = aligned_alloc(64, size);
    cr_assert_not_null(pool);
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.pool = pool, .pool_size = size,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    char       *odd = hak_alloc(a, 576);
    hak_page_t *page = page_of(odd);
    cr_assert_not_null(odd);
    unsigned used = (unsigned)(((size_t)(hak_bump(page) - page->start) + HAK_SLICE - 1) >> HAK_SLICE_SHIFT);
    if (HAK_CFG_FREESTANDING && page->nslices == used) /* (4 KiB slices and no HAK_FS_PAGE_MIN_KIB, say) */
        cr_skip_test("the 576-byte class's page has no slice it did not use in this geometry");
    cr_assert_gt(page->nslices, used, "the 576-byte class's page spans more slices than it used");
    memset(odd, 0x6c, 576);
    size_t n = 0;
    while (hak_alloc(a, 64))
        n++;
    cr_assert_gt(n, size / 64 / 2);
    cr_assert_eq(page->nslices, used, "the page kept only the slices it used (%u)", page->nslices);
    for (int i = 0; i < 576; i++)
        cr_assert_eq(odd[i], 0x6c);
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
    free(pool);
}

/* A destroyed arena's struct is reused by the next hak_arena_create, while a thread that cached blocks of the
 * old arena may be dropping that cache: tcache.c locks the struct to read its generation. The new arena must be
 * built under that lock, after the holder lets go, and never wipe it from under the holder. */
static hak_arena_t *held_arena;
static atomic_int   held_step;

static void *hold_lock_a_while(void *arg)
{
    (void)arg;
    hak_lock(&held_arena->lock); /* as a stale cache slot's flush does */
    atomic_store(&held_step, 1);
    struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    atomic_store(&held_step, 2);
    hak_unlock(&held_arena->lock);
    return NULL;
}

Test(internals, a_reused_arena_struct_waits_for_a_stale_lock_holder)
{
    if (!HAK_CFG_THREADS)
        cr_skip_test("no threads in this build");
    hak_arena_t *a, *b;
    cr_assert_eq(hak_arena_create(&a, NULL), 0);
    hak_arena_destroy(a);
    held_arena = a;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, hold_lock_a_while, NULL), 0);
    while (atomic_load(&held_step) == 0)
        ;
    cr_assert_eq(hak_arena_create(&b, NULL), 0);
    cr_assert_eq(b, a, "the struct is reused (the premise of this test)");
    cr_assert_eq(atomic_load(&held_step), 2, "hak_arena_create went on while another thread held the struct's lock");
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&b->lock.held), 0, "the lock is free again");
    void *p = hak_alloc(b, 100);
    cr_assert_not_null(p);
    hak_free(p);
    hak_arena_destroy(b);
}

/* hak_arena_check reports an overwritten link in a header instead of following it (on firmware, following one
 * is a hard fault inside the validator): a bin's page list, a bin's head, the SuperSlab list, the huge list. */
static void count_corrupt(int code, const char *message, void *ptr, void *arg)
{
    (void)message, (void)ptr;
    *(int *)arg += code == HAK_ERR_CORRUPT;
}

Test(internals, check_reports_overwritten_header_links)
{
    int corrupt = 0;
    hak_set_error_handler(count_corrupt, &corrupt);
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    for (size_t size = 16; size <= 1024; size += 16)
        cr_assert_not_null(hak_alloc(a, size)); /* pages in many bins */
    void *huge = hak_alloc(a, HAK_SMALL_MAX * 64);
    void *huge2 = hak_alloc(a, HAK_SMALL_MAX * 64);
    cr_assert(huge && huge2);
    cr_assert_eq(hak_arena_check(a), 0);
    void       *wild = (void *)(uintptr_t)0x1000;
    hak_page_t *page = a->bins[hak_size_class(64)].page;
    void      **links[] = {(void **)&page->next, (void **)&a->bins[hak_size_class(64)].page, (void **)&a->slabs->next,
                           (void **)&a->huge->next};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        void *saved = *links[i];
        *links[i] = wild;
        corrupt = 0;
        cr_assert_eq(hak_arena_check(a), HAK_ERR_CORRUPT, "link %zu", i);
        cr_assert_eq(corrupt, 1, "link %zu: reported once", i);
        *links[i] = saved;
        cr_assert_eq(hak_arena_check(a), 0, "link %zu restored", i);
    }
    hak_arena_destroy(a);
}
