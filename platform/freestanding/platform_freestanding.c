/*
 * The freestanding platform: no OS, no libc. Memory comes from regions — the static pool in .bss
 * (HAK_STATIC_POOL_SIZE bytes, chosen in Kconfig; 0 for none), which joins on first use, and whatever the
 * firmware adds with hak_platform_add_region(), at start-up or later. The free parts of all regions form one
 * address-ordered extent list kept inside the free memory itself (platform/extents.h): chunks (SuperSlabs, huge
 * blocks) are taken first-fit from the bottom, granule-aligned; the core's small metadata (arena structs,
 * registry leaves) from the top, so it never splits the room SuperSlabs need. The list holds at most one extent
 * more than the chunks handed out, and chunks are at least 16 KiB apart, so every walk is bounded by the memory
 * configured (a 256 KiB pool: at most 17 steps), never by the number of blocks.
 *
 * Memory cannot be given back to anyone, so commit and decommit are no-ops that report no calls, and a freed
 * chunk is simply free again. There is no errno: errors reach callers as return values (NULL, error codes) and
 * through the error handler. What a firmware may want to change is a weak function it overrides by defining its
 * own: hak_platform_lock/unlock (critical section around every lock the allocator takes: interrupts off, or an
 * RTOS scheduler lock; nestable), hak_platform_yield, hak_platform_error_output (default: nowhere),
 * hak_platform_abort (default: a trap instruction), hak_platform_set_errno (default: nothing),
 * hak_platform_entropy (default: not random at all; a firmware with a hardware RNG should supply it),
 * hak_platform_clock_ms (default: no clock, 0).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/hak_config.h"
#include "hakmem.h"
#include "platform/extents.h"
#include "platform/faults.h"
#include "platform/platform.h"

#define HAK_WEAK __attribute__((weak))
#define UNIT     ((size_t)64) /* the platform's page: what map rounds to and aligns to at least */

static hak_extent_t *free_list;   /* under region_lock */
/* The regions given so far, the static pool first (it takes none of the firmware's HAK_MAX_REGIONS). */
#define REGIONS_MAX (HAK_CFG_MAX_REGIONS + (HAK_CFG_STATIC_POOL_SIZE > 0))
static struct { uintptr_t base, end; } region[REGIONS_MAX];
static unsigned regions;
static atomic_flag   region_lock = ATOMIC_FLAG_INIT;

#if HAK_CFG_STATIC_POOL_SIZE > 0
static _Alignas(UNIT) uint8_t static_pool[HAK_CFG_STATIC_POOL_SIZE];
static bool                   static_added;
#endif

static void lock_regions(void)
{
    if (HAK_CFG_THREADS)
        hak_platform_lock();
    while (atomic_flag_test_and_set_explicit(&region_lock, memory_order_acquire))
        hak_platform_yield();
}

static void unlock_regions(void)
{
    atomic_flag_clear_explicit(&region_lock, memory_order_release);
    if (HAK_CFG_THREADS)
        hak_platform_unlock();
}

/* Whether [lo, hi) overlaps a region given so far; region_lock held. */
static bool in_regions_locked(uintptr_t lo, uintptr_t hi)
{
    unsigned i = 0;
    while (i < regions && !(lo < region[i].end && region[i].base < hi))
        i++;
    return i < regions;
}

/* Adds a region; region_lock held. */
static int add_region_locked(void *base, size_t size)
{
    uintptr_t b = ((uintptr_t)base + UNIT - 1) & ~(uintptr_t)(UNIT - 1);
    uintptr_t e = ((uintptr_t)base + size) & ~(uintptr_t)(UNIT - 1);
    if (!base || (uintptr_t)base + size < (uintptr_t)base || b < (uintptr_t)base || e <= b) /* (b < base: the
                                                                             round-up wrapped) */
        return HAK_EINVAL;
    if (in_regions_locked(b, e))
        return HAK_EINVAL; /* memory given before: handing it out twice would corrupt the heap */
    if (regions >= REGIONS_MAX)
        return HAK_ENOMEM;
    region[regions].base = b, region[regions].end = e;
    regions++;
    _hak_extent_give(&free_list, (void *)b, e - b);
    return 0;
}

/* The static pool joins the free list on first use (a constructor would need start-up code to run it). */
static void static_pool_join_locked(void)
{
#if HAK_CFG_STATIC_POOL_SIZE > 0
    if (!static_added) {
        static_added = true;
        add_region_locked(static_pool, sizeof static_pool);
    }
#endif
}

int hak_platform_region_add(void *base, size_t size)
{
    lock_regions();
    static_pool_join_locked();
    int rc = add_region_locked(base, size);
    unlock_regions();
    return rc;
}

bool hak_platform_owns(uintptr_t lo, uintptr_t hi)
{
    lock_regions();
    static_pool_join_locked(); /* (the static pool counts before its first use) */
    bool owns = in_regions_locked(lo, hi);
    unlock_regions();
    return owns;
}

size_t hak_platform_page_size(void)
{
    return UNIT;
}

void *hak_platform_map(size_t size, size_t align, unsigned *calls)
{
    (void)calls;
    if (injected_fault())
        return NULL;
    size = (size + UNIT - 1) & ~(UNIT - 1);
    if (align < UNIT)
        align = UNIT;
    lock_regions();
    static_pool_join_locked();
    /* Metadata asks for page alignment only: it comes from the top, chunks (granule-aligned) from the bottom. */
    void *p = size ? _hak_extent_take(&free_list, size, align, align == UNIT) : NULL;
    unlock_regions();
    return p;
}

size_t hak_platform_largest(size_t align)
{
    lock_regions();
    static_pool_join_locked();
    size_t n = _hak_extent_largest(free_list, align < UNIT ? UNIT : align);
    unlock_regions();
    return n;
}

void hak_platform_unmap(void *base, size_t size, unsigned *calls)
{
    (void)calls;
    lock_regions();
    _hak_extent_give(&free_list, base, (size + UNIT - 1) & ~(UNIT - 1));
    unlock_regions();
}

bool hak_platform_protect(void *p, size_t size, unsigned *calls)
{
    (void)p, (void)size, (void)calls;
    return false; /* no MMU assumed */
}

bool hak_platform_commit(void *p, size_t size, unsigned *calls)
{
    (void)p, (void)size, (void)calls;
    return !injected_fault();
}

void hak_platform_decommit(void *p, size_t size, unsigned *calls)
{
    (void)p, (void)size, (void)calls;
}

const bool hak_platform_map_zeroed = false; /* freed chunks are handed out again as they are */

bool hak_platform_at_thread_exit(void (*fn)(void *), void *arg)
{
    (void)fn, (void)arg;
    return false; /* no thread-exit hook: there are no per-thread caches here */
}

const char *hak_platform_getenv(const char *name)
{
    (void)name;
    return NULL;
}

size_t hak_platform_memory_limit(void)
{
    return 0;
}

unsigned long long hak_platform_os_calls(void)
{
    return 0;
}

/* ---- hooks the firmware may override ---- */

bool hak_platform_move(void *from, size_t size, void *to, size_t new_size, unsigned *calls)
{
    (void)from, (void)size, (void)to, (void)new_size, (void)calls;
    return false; /* no page tables to rewrite: the core copies */
}

/* Without a hardware source nothing here is unpredictable: the secrets then only differ per arena (what the
 * free-marker check needs); a firmware with a TRNG defines its own to make them secret. */
HAK_WEAK uint64_t hak_platform_entropy(void)
{
    static uint64_t calls;
    return ((uint64_t)(uintptr_t)&calls << 17) ^ (uint64_t)(uintptr_t)free_list ^ 0x9e3779b97f4a7c15u ^ ++calls;
}

HAK_WEAK void hak_platform_lock(void) {}
HAK_WEAK void hak_platform_unlock(void) {}
HAK_WEAK void hak_platform_yield(void) {}
HAK_WEAK uint64_t hak_platform_clock_ms(void) { return 0; }
HAK_WEAK void hak_platform_error_output(const char *message, const void *ptr) { (void)message, (void)ptr; }
HAK_WEAK void hak_platform_set_errno(int err) { (void)err; }

HAK_WEAK _Noreturn void hak_platform_abort(void)
{
    for (;;)
        __builtin_trap();
}
