/*
 * hakmem behind the standard malloc interface: libhakmem-malloc.so for LD_PRELOAD, libhakmem-malloc.a to link
 * in. Every function below is served by one default (synchronized) arena, named "malloc".
 *
 * Start-up. The arena is created on the first call into the shim, which may come from ld.so or from libc's
 * own initialisation before any constructor has run. hak_arena_create needs only mmap, getenv and the cgroup
 * files (open/read on stack buffers): no malloc, no dlsym, no TLS of its own, so it cannot recurse into us.
 * Should it ever recurse anyway (an interposed mmap or getenv, say), the initialising thread is recognised by
 * its thread id and served from a small static bootstrap buffer instead of deadlocking; blocks from that buffer
 * are never freed. Other threads arriving during the initialisation wait for it.
 *
 * Foreign pointers. Memory that hakmem did not hand out reaches free/realloc too: blocks ld.so's minimal
 * malloc returned before the shim took over, blocks of libraries calling glibc's allocator directly. A pointer
 * is ours iff the address registry knows its chunk and the chunk has a live arena (one O(1) lookup, no lock).
 * free() of a foreign pointer does nothing (the block is leaked, never passed to hak_free, so nothing is
 * printed); realloc() moves it into a new block, copying as many bytes as the next allocator in the link
 * order (glibc's malloc_usable_size, looked up with dlsym only on that rare path) says it holds, and leaves
 * the foreign block alone; malloc_usable_size() returns 0 for it.
 *
 * Semantics follow glibc's manual pages: sizes above PTRDIFF_MAX fail with ENOMEM; malloc(0) and calloc(0, n)
 * return unique blocks; realloc(p, 0) frees p and returns NULL without touching errno; free preserves errno;
 * posix_memalign reports EINVAL/ENOMEM through its result only and leaves *memptr and errno alone on failure;
 * aligned_alloc requires a power-of-two alignment (EINVAL otherwise, as C17 and glibc >= 2.38), while the
 * obsolete memalign rounds other alignments up to a power of two as glibc does.
 *
 * Fork. The arena's lock and the core's global lock are spinlocks that a fork could copy in the held state
 * into the child; a pthread_atfork handler takes both (arena first, then global: the core's lock order)
 * before the fork and releases them on both sides. The arena's per-thread caches (arena/tcache.c) go back at
 * thread exit through the core's own hook; in a forked child, the caches of threads that do not exist there
 * are lost (leaked, never corrupted).
 *
 * Environment: HAKMEM_POLICY=fast|lean and HAKMEM_LIMIT are read by the core when the arena is created;
 * HAKMEM_STATS=1 prints one line of the arena's statistics to stderr when the process exits normally.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena/internal.h"

#define SHIM_API __attribute__((visibility("default")))

static _Atomic(hak_arena_t *) g_arena;
static atomic_int             g_init_state; /* INIT_NONE, INIT_BUSY, INIT_DONE */
static atomic_long            g_init_tid;   /* the thread creating the arena while INIT_BUSY */

enum { INIT_NONE, INIT_BUSY, INIT_DONE };

/* ---- bootstrap buffer: only for a recursive call made while the arena is being created ---- */

#define BOOT_SIZE ((size_t)64 * 1024)
#define BOOT_HDR  ((size_t)16) /* each block is preceded by its size, so realloc knows what to copy */

static _Alignas(64) uint8_t g_boot[BOOT_SIZE];
static atomic_size_t        g_boot_used;

static bool in_boot(const void *p)
{
    return (const uint8_t *)p >= g_boot && (const uint8_t *)p < g_boot + BOOT_SIZE;
}

static size_t boot_size(const void *p)
{
    return *(const size_t *)((const uint8_t *)p - BOOT_HDR);
}

static void *boot_alloc(size_t size, size_t align)
{
    if (align < BOOT_HDR)
        align = BOOT_HDR;
    if (size > BOOT_SIZE || align > BOOT_SIZE / 4) {
        errno = ENOMEM;
        return NULL;
    }
    size_t used = atomic_load_explicit(&g_boot_used, memory_order_relaxed), start, end;
    do {
        start = ((uintptr_t)g_boot + used + BOOT_HDR + align - 1) & ~(uintptr_t)(align - 1);
        start -= (uintptr_t)g_boot;
        end = start + ((size + 15) & ~(size_t)15);
        if (end > BOOT_SIZE) {
            errno = ENOMEM;
            return NULL;
        }
    } while (!atomic_compare_exchange_weak_explicit(&g_boot_used, &used, end, memory_order_relaxed,
                                                    memory_order_relaxed));
    *(size_t *)(g_boot + start - BOOT_HDR) = size;
    return g_boot + start; /* static storage: already zero */
}

/* ---- the default arena ---- */

static HAK_NOINLINE hak_arena_t *arena_init(void)
{
    long me = (long)gettid();
    for (;;) {
        int state = INIT_NONE;
        if (atomic_compare_exchange_strong_explicit(&g_init_state, &state, INIT_BUSY, memory_order_acquire,
                                                    memory_order_acquire)) {
            atomic_store_explicit(&g_init_tid, me, memory_order_relaxed);
            int          saved = errno; /* reading the cgroup files may set it; a successful malloc must not */
            hak_arena_t *a = NULL;
            int          rc = hak_arena_create(&a, &(hak_arena_config_t){.name = "malloc"});
            atomic_store_explicit(&g_init_tid, 0, memory_order_relaxed);
            if (rc) {
                atomic_store_explicit(&g_init_state, INIT_NONE, memory_order_release);
                errno = ENOMEM;
                return NULL;
            }
            errno = saved;
            atomic_store_explicit(&g_arena, a, memory_order_release);
            atomic_store_explicit(&g_init_state, INIT_DONE, memory_order_release);
            return a;
        }
        if (state == INIT_DONE)
            return atomic_load_explicit(&g_arena, memory_order_acquire);
        if (atomic_load_explicit(&g_init_tid, memory_order_relaxed) == me)
            return NULL; /* recursion from inside hak_arena_create: the caller uses the bootstrap buffer */
        sched_yield();
    }
}

/* The arena, or NULL when this call must be served from the bootstrap buffer (or creation failed: ENOMEM). */
HAK_INLINE hak_arena_t *arena(void)
{
    hak_arena_t *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    return HAK_LIKELY(a != NULL) ? a : arena_init();
}

/* True iff the live-arena registry covers p: p came from hakmem (any arena). */
HAK_INLINE bool ours(const void *p)
{
    hak_chunk_t *c = _hak_registry_find(p);
    return c && c->arena;
}

static bool too_big(size_t size)
{
    if (HAK_LIKELY(size <= PTRDIFF_MAX))
        return false;
    errno = ENOMEM;
    return true;
}

/* Allocation with alignment `align` (a power of two, or 0 for the default). */
static void *alloc_aligned(size_t align, size_t size)
{
    if (too_big(size))
        return NULL;
    hak_arena_t *a = arena();
    if (HAK_UNLIKELY(!a))
        return atomic_load_explicit(&g_init_state, memory_order_relaxed) == INIT_BUSY ? boot_alloc(size, align)
                                                                                     : NULL;
    if (align <= HAK_MIN_ALIGN)
        return hak_alloc(a, size);
    /* At least one minimal block: the core's huge path (alignments above 256 KiB) writes a block's free
     * marker, which for size 0 would fall just past the end of the mapping. */
    return hak_aligned_alloc(a, align, size < HAK_MIN_ALIGN ? HAK_MIN_ALIGN : size);
}

/* ---- foreign blocks ---- */

typedef size_t usable_fn(void *);
static _Atomic(usable_fn *) g_next_usable;

/* Bytes a block of another allocator holds, as that allocator reports them. */
static size_t foreign_size(void *p)
{
    if (in_boot(p))
        return boot_size(p);
    usable_fn *fn = atomic_load_explicit(&g_next_usable, memory_order_acquire);
    if (!fn) {
        fn = (usable_fn *)dlsym(RTLD_NEXT, "malloc_usable_size");
        if (!fn)
            return 0;
        atomic_store_explicit(&g_next_usable, fn, memory_order_release);
    }
    return fn(p);
}

static HAK_NOINLINE void *realloc_foreign(void *p, size_t size)
{
    size_t old = foreign_size(p);
    void  *q = alloc_aligned(0, size);
    if (q)
        memcpy(q, p, old < size ? old : size);
    return q; /* the foreign block stays where it is: we cannot free it */
}

/* ---- the malloc interface ---- */

SHIM_API void *malloc(size_t size)
{
    hak_arena_t *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    if (HAK_LIKELY(a != NULL) && HAK_LIKELY(size <= PTRDIFF_MAX))
        return hak_alloc(a, size);
    return alloc_aligned(0, size);
}

SHIM_API void free(void *p)
{
    /* NULL or memory of another allocator is left alone; errno too (the platform restores it around the
     * syscalls a free can make) */
    _hak_free_quiet(p);
}

SHIM_API void *calloc(size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    if (too_big(bytes))
        return NULL;
    hak_arena_t *a = arena();
    if (HAK_UNLIKELY(!a))
        return atomic_load_explicit(&g_init_state, memory_order_relaxed) == INIT_BUSY ? boot_alloc(bytes, 0)
                                                                                     : NULL;
    return hak_calloc(a, 1, bytes);
}

SHIM_API void *realloc(void *p, size_t size)
{
    if (!p)
        return alloc_aligned(0, size);
    if (size == 0) { /* glibc: frees p and returns NULL, which is not an error */
        free(p);
        return NULL;
    }
    if (too_big(size))
        return NULL;
    if (HAK_UNLIKELY(!ours(p)))
        return realloc_foreign(p, size);
    hak_arena_t *a = arena();
    if (HAK_UNLIKELY(!a))
        return NULL;
    return hak_realloc(a, p, size);
}

SHIM_API void *reallocarray(void *p, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, bytes);
}

static bool power_of_two(size_t x)
{
    return x && !(x & (x - 1));
}

SHIM_API int posix_memalign(void **memptr, size_t align, size_t size)
{
    if (!power_of_two(align) || align % sizeof(void *))
        return EINVAL;
    int   saved = errno;
    void *p = alloc_aligned(align, size);
    errno = saved;
    if (!p)
        return ENOMEM;
    *memptr = p;
    return 0;
}

SHIM_API void *aligned_alloc(size_t align, size_t size)
{
    if (!power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(align, size);
}

SHIM_API void *memalign(size_t align, size_t size)
{
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!power_of_two(align)) /* glibc rounds up to the next power of two (0 and 1 mean no constraint) */
        align = align <= 1 ? 1 : (size_t)1 << (8 * sizeof(size_t) - (size_t)__builtin_clzl(align));
    return alloc_aligned(align, size);
}

SHIM_API void *valloc(size_t size)
{
    return alloc_aligned(hak_platform_page_size(), size);
}

SHIM_API void *pvalloc(size_t size)
{
    size_t page = hak_platform_page_size(), rounded;
    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(page - 1);
    return alloc_aligned(page, rounded ? rounded : page);
}

SHIM_API size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (ours(p))
        return hak_usable_size(p);
    return in_boot(p) ? boot_size(p) : 0;
}

/* ---- fork, and the statistics line at exit ---- */

/* The arena's and the global lock are held across fork, so the child gets them in a consistent state; fork
 * handlers other libraries registered before the shim run inside that hold and may allocate (arena.c). */
/* Where HAKMEM_STATS=1 writes: a copy of stderr taken at start-up, so the line still gets out of programs that
 * close their stderr at exit (coreutils do, before the destructors run). -1: not asked for. */
static int g_stats_fd = -1;

static bool stats_wanted(void)
{
    const char *env = getenv("HAKMEM_STATS");
    return env && env[0] == '1' && !env[1];
}

static void fork_prepare(void)
{
    hak_arena_t *a = arena();
    _hak_fork_hold(a ? &a->lock : NULL);
}

static void fork_release(void)
{
    hak_arena_t *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    _hak_fork_release(a ? &a->lock : NULL);
}

__attribute__((constructor)) static void shim_start(void)
{
    arena(); /* the handlers lock it, so it must exist before the first fork */
    pthread_atfork(fork_prepare, fork_release, fork_release);
    if (stats_wanted()) {
        int saved = errno;
        g_stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 64); /* (high: out of the way of fds the program reuses) */
        errno = saved;
    }
}

static void write_all(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(g_stats_fd, s, n);
        if (w <= 0)
            return;
        s += w, n -= (size_t)w;
    }
}

static void stats_line(const char *line, void *arg)
{
    (void)arg;
    char pid[24], *d = pid + sizeof pid;
    long v = (long)getpid();
    do
        *--d = (char)('0' + v % 10);
    while (v /= 10);
    write_all("hakmem-stats pid=", 17);
    write_all(d, (size_t)(pid + sizeof pid - d));
    write_all(" ", 1);
    write_all(line, strlen(line));
    write_all("\n", 1);
}

__attribute__((destructor)) static void shim_stop(void)
{
    hak_arena_t *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    if (a && g_stats_fd >= 0) {
        int saved = errno;
        hak_arena_report(a, stats_line, NULL); /* the arena itself stays: later destructors may still free */
        errno = saved;
    }
}
