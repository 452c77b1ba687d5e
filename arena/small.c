/*
 * Size classes, small pages and bins.
 *
 * Classes: 16..128 in steps of 16, then eight classes per doubling (step = 1/8 of the power of two) up to
 * 64 KiB, so a block wastes at most 12.5% above 128 bytes; every class size is a multiple of 16, so every
 * block is 16-byte aligned, and powers of two are classes, so a power-of-two class in a slice-aligned page
 * gives naturally aligned blocks (hak_aligned_alloc relies on it). Sizes up to 1 KiB find their class in one
 * table load; larger ones with a count-leading-zeros.
 *
 * A small page spans max(64 KiB, 8 blocks; 4 above 32 KiB) of slices on Linux (a class's first page since create
 * or reset only the slices 64 blocks need, when that is less), fewer on freestanding pools. It
 * is born empty with bump = start and never threads its free list up front: blocks are taken from `bump` only
 * when the free list is dry, so a page's untouched tail never becomes resident. The memory a page holds is
 * therefore its high-water mark, and two paths lower it: an arena's own trim rounds (lean every second, fast every
 * ten, in bounded steps) and hak_arena_trim move `bump` back over the free blocks at a page's end and decommit
 * what lies above (Linux), and a pool out of slices takes back the slices past each page's `bump`. A lean class
 * about to raise its mark borrows a resident free block of a slightly larger class instead (alloc_larger). The
 * fast paths (alloc.c) touch only bin->page, page->free/used and the block; all list surgery happens here, under
 * the arena's lock.
 */
#include "arena/internal.h"

const uint8_t _hak_class_of_small[1024 / 16 + 1] = {
    0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 16, 17, 17, 18,
    18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26,
    26, 27, 27, 27, 27, 28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31};

const uint32_t _hak_class_size[80] = {
    16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480,
    512, 576, 640, 704, 768, 832, 896, 960, 1024, 1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048, 2304, 2560,
    2816, 3072, 3328, 3584, 3840, 4096, 4608, 5120, 5632, 6144, 6656, 7168, 7680, 8192, 9216, 10240, 11264,
    12288, 13312, 14336, 15360, 16384, 18432, 20480, 22528, 24576, 26624, 28672, 30720, 32768, 36864, 40960,
    45056, 49152, 53248, 57344, 61440, 65536};

_Static_assert(HAK_NUM_CLASSES <= 80, "the class table covers every class up to HAK_SMALL_MAX");

/* Sentinels, never written. A bin with no page points at _hak_empty_page, whose free == NULL and bump == end send
 * allocation to _hak_alloc_slow; every free slice at _hak_free_slice. Both have start and bump NULL: no block
 * handed out, so a free into either fails the block-start test. */
hak_page_t _hak_empty_page = {.kind = HAK_PAGE_SMALL, .bsize = 16};
hak_page_t _hak_free_slice = {.kind = HAK_PAGE_FREE, .bsize = 16};

/* Linux: 64 KiB, or 8 blocks (4 above 32 KiB): at most 256 KiB, the bound of HAK_RECIP_SHIFT's exactness. A
 * class's first page since the arena's create or reset is smaller where 64 blocks fit in less: the fewest slices
 * that hold 64 blocks and lose at most 1/8 of themselves past the last whole block (one slice up to 256-byte
 * blocks). An arena using a few blocks of many classes then holds a slice per class, not a 64 KiB page each:
 * `committed` counts whole pages, touched or not, and caps and the budget judge by it (random_mixed commits 1.0
 * MiB instead of 2.1, arena_lifecycle 0.5 instead of 1.6). 64 blocks, not fewer: a class that outgrows its first
 * page moves on to a second, and the first, once empty, stays resident in a fast arena (with 32 blocks, a
 * default arena's 1 KiB classes, thread caches included, did so: 100 KiB more anonymous memory).
 * Freestanding pools are small and a half-used page is what they lose most to, so there a page is the fewest
 * slices (at least HAK_FS_PAGE_MIN_KIB, 0 by default) that lose at most 1/16 of themselves past the last whole
 * block (blocks are at most a sixteenth of a SuperSlab, so 16 slices always qualify). Under a cap, the 64 KiB (or
 * HAK_FS_PAGE_MIN_KIB) floor is at most 1/256 of the cap: the ~40 classes from 64 B to 4 KiB, a page or two each,
 * would otherwise hold most of a small cap in free blocks (a 4 MiB-capped cache of such objects kept 44% of its
 * cap live with 64 KiB pages, 76% with 16 KiB ones). */
/* The fewest slices from n on that lose at most 1/2^waste_shift of themselves past their last whole block. */
static size_t fit_slices(size_t n, size_t bsize, unsigned waste_shift)
{
    while (((n << HAK_SLICE_SHIFT) % bsize) << waste_shift > (n << HAK_SLICE_SHIFT))
        n++;
    return n;
}

static size_t page_slices(const hak_arena_t *a, unsigned cls)
{
    size_t bsize = _hak_class_size[cls];
    size_t min_bytes = HAK_CFG_FREESTANDING ? (size_t)HAK_CFG_FS_PAGE_MIN_KIB << 10 : (size_t)64 << 10;
    if (a->limit && a->limit >> 8 < min_bytes)
        min_bytes = a->limit >> 8;
    size_t least = min_bytes >> HAK_SLICE_SHIFT; /* may be 0 */
    if (HAK_CFG_FREESTANDING) {
        size_t n = (bsize + HAK_SLICE - 1) >> HAK_SLICE_SHIFT;
        if (n < least && bsize * 2 <= (least << HAK_SLICE_SHIFT)) /* a floor on page size, for speed over fit */
            n = least;
        return fit_slices(n, bsize, 4);
    }
    size_t n = (bsize * (bsize > 32 * 1024 ? 4 : 8) + HAK_SLICE - 1) >> HAK_SLICE_SHIFT;
    n = n < least ? least : n;
    if (!(a->paged[cls >> 6] >> (cls & 63) & 1)) { /* the first page */
        size_t first = fit_slices((bsize * 64 + HAK_SLICE - 1) >> HAK_SLICE_SHIFT, bsize, 3);
        return first < n ? first : n;
    }
    return n;
}

static void bin_unlink(hak_arena_t *a, hak_bin_t *bin, hak_page_t *page)
{
    if (!HAK_CFG_FREESTANDING && a->trim_next == page) /* a round of tail trims was to go on here (Linux): */
        a->trim_next = page->next ? page->next : &_hak_empty_page; /* it goes on with the next */
    if (page->prev)
        page->prev->next = page->next;
    else
        bin->page = page->next ? page->next : &_hak_empty_page;
    if (page->next)
        page->next->prev = page->prev;
    page->next = page->prev = NULL;
    page->in_bin = false;
}

/* Links at the head (the page allocation serves from) or right behind it. */
static void bin_link(hak_bin_t *bin, hak_page_t *page, bool as_head)
{
    hak_page_t *head = bin->page == &_hak_empty_page ? NULL : bin->page;
    page->in_bin = true;
    if (as_head || !head) {
        page->prev = NULL;
        page->next = head;
        if (head)
            head->prev = page;
        bin->page = page;
    } else {
        page->prev = head;
        page->next = head->next;
        if (head->next)
            head->next->prev = page;
        head->next = page;
    }
}

/* HAK_RANDOM_ORDER: up to the next 16 never-used blocks go onto the page's free list at once, in an order shuffled
 * (Fisher-Yates) by the arena's xorshift generator. They count as handed out from then on, like any free block. */
static void page_extend_random(hak_arena_t *a, hak_page_t *page)
{
    uint8_t *bump = hak_bump(page);
    size_t   n = (size_t)(page->start + page->end_off - bump) / page->bsize;
    uint8_t  order[16];
    n = n < 16 ? n : 16;
    for (unsigned i = 0; i < n; i++)
        order[i] = (uint8_t)i;
    for (unsigned i = (unsigned)n - 1; i > 0; i--) {
        a->rng ^= a->rng << 13, a->rng ^= a->rng >> 7, a->rng ^= a->rng << 17;
        unsigned j = (unsigned)((a->rng >> 32) % (i + 1));
        uint8_t  t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (unsigned i = 0; i < n; i++) {
        hak_block_t *b = (hak_block_t *)(bump + (size_t)order[i] * page->bsize);
        hak_set_next(a, b, page->free);
        hak_mark_free(a, b);
        page->free = b;
    }
    hak_set_bump(page, bump + n * page->bsize);
}

/* ---- page tails (Linux) ----
 * A page hands out blocks from `bump` only when its free list is dry, so the memory it holds is its high-water
 * mark: random traffic over many classes raises each class's mark a little for minutes (the soak's slow RSS
 * creep), and a burst leaves it high for good. Lowering `bump` walks a page's free list once, finds the highest
 * block that is not on it (live, or in a thread's cache, which counts as live), takes the free blocks above that
 * block off the list and moves `bump` down to it: those blocks are handed out again from `bump`, as if never
 * used, and a free of an old pointer above the new `bump` fails the block-start test and is reported. A trim
 * then decommits the whole OS pages from the new `bump` to the page's end. */
#if !HAK_CFG_FREESTANDING
#define TRIM_MAX_BLOCKS 4096 /* a small page holds at most 64 KiB of 16-byte blocks, or 8 larger ones */

static uint8_t *page_lower_bump(hak_arena_t *a, hak_page_t *page)
{
    uint8_t *bump = hak_bump(page);
    size_t   handed = (size_t)(bump - page->start) / page->bsize, listed = handed - page->used;
    uint64_t on_list[TRIM_MAX_BLOCKS / 64] = {0};
    if (!page->free || handed > TRIM_MAX_BLOCKS || page->used > handed)
        return bump;
    size_t n = listed;
    for (hak_block_t *f = page->free; f && n; f = hak_next(a, f), n--) {
        size_t i = (size_t)((uint8_t *)f - page->start) / page->bsize;
        if (!hak_is_block_start(page, f))
            return bump; /* a corrupted list: left for hak_arena_check to report */
        on_list[i / 64] |= UINT64_C(1) << (i % 64);
    }
    size_t keep = handed;
    while (keep && (on_list[(keep - 1) / 64] >> ((keep - 1) % 64) & 1))
        keep--;
    if (keep == handed)
        return bump;
    uint8_t     *low = page->start + keep * page->bsize;
    hak_block_t *kept = NULL;
    n = listed;
    for (hak_block_t *f = page->free, *next; f && n; f = next, n--) {
        next = hak_next(a, f);
        if ((uint8_t *)f < low) {
            hak_set_next(a, f, kept);
            kept = f;
        }
    }
    page->free = kept;
    hak_set_bump(page, low);
    return low;
}

static void page_trim_tail(hak_arena_t *a, hak_page_t *page)
{
    size_t    os_page = hak_platform_page_size();
    uintptr_t old = ((uintptr_t)hak_bump(page) + os_page - 1) & ~(uintptr_t)(os_page - 1);
    uintptr_t from = ((uintptr_t)page_lower_bump(a, page) + os_page - 1) & ~(uintptr_t)(os_page - 1);
    uintptr_t to = ((uintptr_t)page->start + ((size_t)page->nslices << HAK_SLICE_SHIFT)) & ~(uintptr_t)(os_page - 1);
    if (from >= old || from >= to)
        return; /* no whole OS page of free tail below the old bump (OS pages may be larger than slices) */
    unsigned calls = 0;
    hak_platform_decommit((void *)from, to - from, &calls);
    _hak_count_calls(a, calls);
}

/* The whole OS pages inside the free blocks of a page whose blocks span two OS pages or more, past each block's
 * link and free marker (which stay): a working set of mid-size buffers that shrank keeps its free blocks, not
 * their memory. One platform call per such block; the list is walked once (as long as the page says it is). */
static void page_trim_free_blocks(hak_arena_t *a, hak_page_t *page)
{
    size_t os_page = hak_platform_page_size();
    if (page->bsize < 2 * os_page)
        return;
    size_t listed = (size_t)(hak_bump(page) - page->start) / page->bsize - page->used;
    for (hak_block_t *f = page->free; f && listed && hak_is_block_start(page, f); f = hak_next(a, f), listed--) {
        uintptr_t from = ((uintptr_t)f + 2 * sizeof(void *) + os_page - 1) & ~(uintptr_t)(os_page - 1);
        uintptr_t to = ((uintptr_t)f + page->bsize) & ~(uintptr_t)(os_page - 1);
        if (from < to) {
            unsigned calls = 0;
            hak_platform_decommit((void *)from, to - from, &calls);
            _hak_count_calls(a, calls);
        }
    }
}

void _hak_bins_trim_tails(hak_arena_t *a)
{
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++)
        for (hak_page_t *page = a->bins[i].page; page != &_hak_empty_page && page; page = page->next) {
            page_trim_tail(a, page);
            page_trim_free_blocks(a, page);
        }
}

/* An arena's own trims go in rounds: at most one round begins per trim_ms (Kconfig HAK_LEAN_TRIM_MS or
 * HAK_FAST_TRIM_MS, by policy), and a round walks the
 * bins' pages once, class by class, in steps of about TRIM_STEP_BLOCKS free-list entries (the page a step ends in
 * is finished), one step each time the arena touches new memory for small blocks. So no allocation walks more
 * than a step, however many free blocks the arena holds (a whole walk of 500 MiB of 64-byte blocks, 90% free,
 * took 42 ms under the lock). Between steps the round waits at trim_next: NULL to begin bin trim_cls at its head,
 * a page of that bin to go on with (bin_unlink moves it on when the page leaves the bin), or the empty page when
 * the bin is done. Pages linked in behind the cursor meanwhile wait for the next round.
 * A young arena reads no clock: the clock starts once the arena has touched TRIM_YOUNG_TOUCHES 4 KiB pages of new
 * memory for small blocks (256 KiB) since its creation or last reset, so an arena made or reset per request pays
 * nothing for trims it would never need (a clock read on every touch cost arena_lifecycle 1.7%). */
#define TRIM_STEP_BLOCKS   4096
#define TRIM_YOUNG_TOUCHES 64

static void trim_step(hak_arena_t *a)
{
    size_t      budget = TRIM_STEP_BLOCKS;
    hak_page_t *page = a->trim_next ? a->trim_next : a->bins[a->trim_cls].page;
    while (a->trim_cls < HAK_NUM_CLASSES) {
        if (page == &_hak_empty_page || !page) {
            if (++a->trim_cls < HAK_NUM_CLASSES)
                page = a->bins[a->trim_cls].page;
            continue;
        }
        size_t listed = (size_t)(hak_bump(page) - page->start) / page->bsize - page->used;
        page_trim_tail(a, page);
        page = page->next;
        if (listed >= budget)
            break;
        budget -= listed;
    }
    a->trim_next = a->trim_cls >= HAK_NUM_CLASSES ? NULL : page ? page : &_hak_empty_page;
}

static HAK_NOINLINE void maybe_trim(hak_arena_t *a, unsigned touched)
{
    if (a->trim_touches < TRIM_YOUNG_TOUCHES) {
        a->trim_touches += touched;
        return;
    }
    if (a->trim_cls >= HAK_NUM_CLASSES) {
        uint64_t now = hak_platform_clock_ms(); /* 0: no clock */
        if (!a->trimmed_ms)
            a->trimmed_ms = now; /* the clock starts */
        if (!now || now - a->trimmed_ms < a->trim_ms)
            return;
        a->trimmed_ms = now;
        a->trim_cls = 0;
        a->trim_next = NULL;
    }
    trim_step(a);
}
#else
void _hak_bins_trim_tails(hak_arena_t *a)
{
    (void)a;
}
#endif

/* Whether a block taken from `bump` reaches into a 4 KiB page the page never touched. */
HAK_INLINE bool bump_is_fresh(const hak_page_t *page)
{
    uintptr_t b = (uintptr_t)hak_bump(page);
    return ((b - 1) ^ (b + page->bsize - 1)) >> 12;
}

/* Debug level 3: the page is checked whole before and after every change (the check's own message, if it fails). */
HAK_INLINE void debug_check_page(hak_arena_t *a, hak_page_t *page)
{
    hak_check_fail_t f;
    if (HAK_CFG_DEBUG >= 3 && _hak_check_page(a, hak_page_slab(page), page, &f))
        _hak_assert_fail(f.what, __FILE__, __LINE__);
}

static void *page_take(hak_arena_t *a, hak_page_t *page)
{
    debug_check_page(a, page);
    hak_block_t *b = page->free;
    uintptr_t    from = (uintptr_t)hak_bump(page);
    if (HAK_CFG_RANDOM_ORDER && !b) {
        page_extend_random(a, page);
        b = page->free;
    }
    if (b) {
        hak_check_popped_from(a, page, b);
        page->free = hak_next(a, b);
    } else {
        HAK_ASSERT(hak_bump(page) < page->start + page->end_off);
        b = (hak_block_t *)hak_bump(page);
        hak_set_bump(page, (uint8_t *)b + page->bsize);
    }
    hak_mark_live(b);
    page->used++;
#if !HAK_CFG_FREESTANDING
    /* the 4 KiB pages of memory the page never used before that `bump` (or a random-order batch) reached */
    unsigned fresh = (unsigned)((((uintptr_t)hak_bump(page) - 1) >> 12) - ((from - 1) >> 12));
    if (fresh && a->trim_ms)
        maybe_trim(a, fresh);
#endif
    (void)from;
    return b;
}

/* A block of a larger class, cls + 1 .. `last`, whose blocks are aligned at least as well (the lowest set bit of
 * the class size divides theirs), from its bin's head page: any block it can give, or with `resident` only one of
 * its free list (memory the page has touched before). Looks at bin heads only: O(classes). Used where a class
 * cannot or should not grow its own pages:
 * - out of slices, so that a full pool still serves requests its partly used pages can hold;
 * - lean arenas on Linux, when a class's next block would touch memory its page never used: alone, each class
 *   keeps resident the most live blocks it ever had at once, and with random traffic the sum of the classes'
 *   peaks is far above the peak of their sum (random_mixed: 32 classes, ~10 live blocks each on average, ~30 at
 *   their peaks). Classes that lend each other free blocks keep closer to the peak of their sum, for blocks up
 *   to BORROW_CLASSES class steps (41% above 128 bytes) larger, and for a slower allocation while a class is at
 *   its peak (each one comes here). random_mixed's anonymous RSS lending across 0 / 2 / 4 / 6 classes: 474 /
 *   396 / 365 / 338 KiB (glibc: 340), throughput 1 / 0.995 / 0.984 / 0.96. */
#define BORROW_CLASSES 4

static void *alloc_larger(hak_arena_t *a, unsigned cls, unsigned last, bool resident)
{
    uint32_t align = _hak_class_size[cls] & (0u - _hak_class_size[cls]);
    for (unsigned c = cls + 1; c <= last && c < HAK_NUM_CLASSES; c++) {
        hak_page_t *page = a->bins[c].page;
        bool        room = page->free || (!resident && page != &_hak_empty_page &&
                                       hak_bump(page) < page->start + page->end_off);
        if (room && !(_hak_class_size[c] & (align - 1)))
            return page_take(a, page);
    }
    return NULL;
}

/* The class's bin has no page with room: a lean class borrows first, then a new page. Out of line, so that the
 * bump allocations above need no stack frame of this size. */
static HAK_NOINLINE void *alloc_new_page(hak_arena_t *a, unsigned cls, bool lean)
{
    hak_bin_t  *bin = &a->bins[cls];
    hak_page_t *page;
    void       *b;
    if (lean && (b = alloc_larger(a, cls, cls + BORROW_CLASSES, true)))
        return b;
    uint32_t bsize = _hak_class_size[cls];
    size_t   n = page_slices(a, cls), least = (bsize + HAK_SLICE - 1) >> HAK_SLICE_SHIFT;
    page = _hak_slices_alloc(a, n, 1);
    if (!page && least < n) /* short of slices: a page with more waste at its end beats no page */
        page = _hak_slices_alloc(a, n = least, 1);
    if (!page)
        return alloc_larger(a, cls, HAK_NUM_CLASSES - 1, false);
    page->kind = HAK_PAGE_SMALL;
    page->cls = (uint8_t)cls;
    page->bsize = bsize;
    page->recip = hak_recip(bsize);
    page->free = NULL;
    page->used = 0;
    hak_set_bump(page, page->start);
    page->end_off = hak_whole_blocks((uint32_t)(n << HAK_SLICE_SHIFT), bsize, page->recip);
    if (!HAK_CFG_FREESTANDING) /* (pools size every page alike) */
        a->paged[cls >> 6] |= (uint64_t)1 << (cls & 63);
    bin_link(bin, page, true);
    return page_take(a, page);
}

void *_hak_alloc_slow(hak_arena_t *a, unsigned cls)
{
    hak_bin_t  *bin = &a->bins[cls];
    hak_page_t *page;
    void       *b;
    bool        lean = !HAK_CFG_FREESTANDING && a->policy == HAK_POLICY_LEAN; /* static memory has no RSS */
    while ((page = bin->page) != &_hak_empty_page) {
        if (page->free)
            return page_take(a, page);
        if (hak_bump(page) < page->start + page->end_off) {
            if (lean && bump_is_fresh(page) && (b = alloc_larger(a, cls, cls + BORROW_CLASSES, true)))
                return b;
            return page_take(a, page);
        }
        bin_unlink(a, bin, page); /* full: the next free into it links it again */
    }
    return alloc_new_page(a, cls, lean);
}

void _hak_page_after_free(hak_arena_t *a, hak_page_t *page)
{
    hak_bin_t *bin = &a->bins[page->cls];
    debug_check_page(a, page);
    if (!page->in_bin)
        bin_link(bin, page, false);
    if (page->used == 0 && bin->page != page) {
        bin_unlink(a, bin, page);
        _hak_slices_release(a, hak_page_slab(page), page);
        _hak_lean_maybe_purge(a);
    } else if (page->used == 0 && a->policy == HAK_POLICY_LEAN) {
        a->idle += (size_t)page->nslices << HAK_SLICE_SHIFT; /* the head page stays for reuse, until a batch */
        _hak_lean_maybe_purge(a);
    }
}

bool _hak_page_has_free(const hak_arena_t *a, hak_page_t *page, const hak_block_t *b)
{
    size_t limit = page->end_off / page->bsize;
    for (hak_block_t *f = page->free; f && limit && hak_is_block_start(page, f); f = hak_next(a, f), limit--)
        if (f == b) /* (a link that leads out of the page ends the walk: hak_arena_check reports it) */
            return true;
    return false;
}

void _hak_bins_clear(hak_arena_t *a)
{
    a->trim_cls = HAK_NUM_CLASSES; /* a round of tail trims under way ends with its pages */
    a->trim_next = NULL;
    a->trim_touches = 0; /* young again: an arena reset per request reads no clock */
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++)
        a->bins[i].page = &_hak_empty_page;
    if (!HAK_CFG_FREESTANDING)
        memset(a->paged, 0, sizeof a->paged);
}

/* Out of slices: pages in bins give back the slices past the one their `bump` is in, which they never used
 * (a page of an odd class size spans several slices and may have handed out only a few blocks), so the class
 * that needs memory can make a page of them. O(pages in bins), only when the arena has no free run left.
 * (Lowering `bump` over free blocks first, as the Linux trim does, gained 0.1 point of a 256 KiB pool's
 * utilisation under churn and doubled the worst allocation's instructions: not done.) */
size_t _hak_bins_shrink(hak_arena_t *a)
{
    size_t released = 0;
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++)
        for (hak_page_t *page = a->bins[i].page; page != &_hak_empty_page && page; page = page->next) {
            size_t used = ((size_t)(hak_bump(page) - page->start) + HAK_SLICE - 1) >> HAK_SLICE_SHIFT;
            size_t spare = page->nslices - used;
            if (used && spare && _hak_slices_resize(a, hak_page_slab(page), page, used)) {
                released += spare;
                page->end_off = hak_whole_blocks((uint32_t)(used << HAK_SLICE_SHIFT), page->bsize, page->recip);
            }
        }
    return released;
}

/* Bytes of the emptied head pages bins keep for reuse (lean: they wait for a batch). O(classes). */
size_t _hak_bins_empty_heads(const hak_arena_t *a)
{
    size_t bytes = 0;
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++) {
        const hak_page_t *page = a->bins[i].page;
        if (page != &_hak_empty_page && page->used == 0)
            bytes += (size_t)page->nslices << HAK_SLICE_SHIFT;
    }
    return bytes;
}

size_t _hak_bins_release_empty(hak_arena_t *a)
{
    size_t released = 0;
    for (unsigned i = 0; i < HAK_NUM_CLASSES; i++) {
        hak_page_t *page = a->bins[i].page, *next;
        for (; page != &_hak_empty_page && page; page = next) {
            next = page->next;
            if (page->used == 0) {
                bin_unlink(a, &a->bins[i], page);
                _hak_slices_release(a, hak_page_slab(page), page);
                released++;
            }
        }
    }
    return released;
}
