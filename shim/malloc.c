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
 * into the child; a fork handler takes both before the fork (arena first, then global: the core's lock order;
 * both after glibc's lock of the list of FILEs, as glibc's malloc does) and releases them on both sides. It is
 * registered before any other library's fork handlers, so that it runs after them (see _hak_shim_atfork). The
 * arena's per-thread caches (arena/tcache.c) go back at thread exit through the core's own hook; in a forked
 * child, the caches of threads that do not exist there are lost (leaked, never corrupted).
 *
 * Environment: HAKMEM_POLICY=fast|lean and HAKMEM_LIMIT are read by the core when the arena is created;
 * HAKMEM_STATS=1 (or yes, true, on) prints one line of the arena's statistics to stderr when the process exits
 * normally.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena/internal.h"
#include "shim/shim.h"

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

/* ---- fork ---- */

static hak_arena_t *arena(void);
static void         stats_fork_child(void);

/* glibc's lock of its list of FILEs (exported, in no header). Threads allocate while they hold a FILE's lock
 * (getline growing its line, a first write allocating the buffer), and fflush(NULL) or exit() holds the list's lock
 * while it waits for every FILE's: fork() takes the list's lock after the prepare handlers, and glibc's own malloc
 * locks after that. Ours must come after it too, or the fork, the flush and the allocation wait for each other. */
void _IO_list_lock(void);
void _IO_list_unlock(void);

static bool g_fork_single; /* the fork is a single-threaded process's: fork() neither takes nor resets that lock */

static void fork_prepare(void)
{
    g_fork_single = __libc_single_threaded;
    _IO_list_lock(); /* (a recursive lock: fork() takes it once more) */
    hak_arena_t *a = arena();
    _hak_fork_hold(a ? &a->lock : NULL);
}

static void fork_release(void)
{
    hak_arena_t *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    _hak_fork_release(a ? &a->lock : NULL);
}

static void fork_parent(void)
{
    fork_release();
    _IO_list_unlock();
}

static void fork_child(void)
{
    fork_release();
    if (g_fork_single)
        _IO_list_unlock(); /* (else fork() has reset it) */
    stats_fork_child();
}

/* Registers the fork handlers, once: when the arena is created, or (libhakmem-malloc.so, shim/preload.c) when
 * another library registers fork handlers first, just before theirs. Prepare handlers run in the reverse order of
 * registration, so ours runs after every other: the locks other handlers take (which their threads may hold while
 * they allocate) are taken before the arena's, never after, or the fork would wait for them forever. (A program
 * linked with libhakmem-malloc.a may still have handlers registered before ours, by shared libraries'
 * constructors: those run inside the hold and may allocate, see _hak_fork_hold.) They are registered for no object
 * (what pthread_atfork passes is this object's handle): exit() unregisters an object's handlers when it finalizes it,
 * while other threads may still fork, even between our prepare and parent handlers, which left the locks held. */
int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso);

void _hak_shim_atfork(void)
{
    static atomic_bool done;
    if (!atomic_exchange_explicit(&done, true, memory_order_acq_rel))
        __register_atfork(fork_prepare, fork_parent, fork_child, NULL);
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
            atomic_store_explicit(&g_arena, a, memory_order_release);
            atomic_store_explicit(&g_init_state, INIT_DONE, memory_order_release);
            _hak_shim_atfork();
            errno = saved;
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
#if !HAK_CFG_VALGRIND /* (memcheck is told about blocks in hak_alloc) */
    if (HAK_LIKELY(a != NULL) && HAK_LIKELY(size <= 1024)) { /* the arena is synchronized: its cache first */
        void *b = hak_cache_pop(a, hak_size_class(size));
        return HAK_LIKELY(b != NULL) ? b : hak_alloc(a, size);
    }
#endif
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
    int   saved = errno; /* a shrink that finds no room to move keeps the block: a success, after a failed try */
    void *q = hak_realloc(a, p, size);
    if (q)
        errno = saved;
    return q;
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

/* ---- glibc's extensions: programs call them, and glibc's own would act on its empty heap ---- */

/* Gives back what the arena can (hak_arena_trim); 1 if that took any platform call, i.e. released memory. */
SHIM_API int malloc_trim(size_t pad)
{
    (void)pad;
    hak_arena_t      *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    hak_arena_stats_t before, after;
    if (!a || hak_arena_stats(a, &before))
        return 0;
    int saved = errno;
    hak_arena_trim(a);
    hak_arena_stats(a, &after);
    errno = saved;
    return after.platform_calls != before.platform_calls;
}

/* The fields glibc's tools read: arena = bytes held from the OS, uordblks = in use, fordblks = held but free. */
SHIM_API struct mallinfo2 mallinfo2(void)
{
    struct mallinfo2  mi = {0};
    hak_arena_t      *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    hak_arena_stats_t st;
    if (a && hak_arena_stats(a, &st) == 0) {
        mi.arena = st.committed;
        mi.uordblks = st.in_use;
        mi.fordblks = st.committed - st.in_use;
        mi.usmblks = st.peak_committed;
    }
    return mi;
}

SHIM_API struct mallinfo mallinfo(void) /* (int fields: glibc's old interface truncates them the same way) */
{
    struct mallinfo2 m = mallinfo2();
    return (struct mallinfo){.arena = (int)m.arena, .uordblks = (int)m.uordblks, .fordblks = (int)m.fordblks,
                             .usmblks = (int)m.usmblks};
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w, n -= (size_t)w;
    }
}

static void write_number(int fd, unsigned long long v)
{
    char digits[24], *d = digits + sizeof digits;
    do
        *--d = (char)('0' + v % 10);
    while (v /= 10);
    write_all(fd, d, (size_t)(digits + sizeof digits - d));
}

/* A report line to the file descriptor *arg: "hakmem-stats pid=PID LINE budget=BYTES" (budget: the process
 * budget, HAKMEM_LIMIT's or the cgroup's share; 0 = none; the line's limit= is the arena's own cap). */
static void stats_line(const char *line, void *arg)
{
    int fd = *(const int *)arg;
    write_all(fd, "hakmem-stats pid=", 17);
    write_number(fd, (unsigned long long)getpid());
    write_all(fd, " ", 1);
    write_all(fd, line, strlen(line));
    write_all(fd, " budget=", 8);
    write_number(fd, hak_memory_limit());
    write_all(fd, "\n", 1);
}

SHIM_API void malloc_stats(void) /* (glibc's prints to stderr too) */
{
    hak_arena_t *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    int          saved = errno, fd = STDERR_FILENO;
    if (a)
        hak_arena_report(a, stats_line, &fd);
    errno = saved;
}

SHIM_API int malloc_info(int options, FILE *out)
{
    if (options) {
        errno = EINVAL;
        return -1;
    }
    struct mallinfo2 m = mallinfo2();
    fprintf(out, "<malloc version=\"hakmem-1\">\n<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
                 "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n</malloc>\n",
            m.fordblks, m.arena, m.usmblks);
    return 0;
}

SHIM_API int mallopt(int param, int value) /* glibc's tunables mean nothing here: accepted, ignored */
{
    (void)param, (void)value;
    return 1;
}

/* glibc's internal names, which old binaries and some libraries call directly. (GCC wants the target's
 * attributes copied onto an alias; clang knows no `copy` and needs none.) */
#if defined(__has_attribute) && __has_attribute(copy)
#define SHIM_ALIAS(f) __attribute__((alias(#f), copy(f)))
#else
#define SHIM_ALIAS(f) __attribute__((alias(#f)))
#endif
SHIM_API void *__libc_malloc(size_t size) SHIM_ALIAS(malloc);
SHIM_API void  __libc_free(void *p) SHIM_ALIAS(free);
SHIM_API void  cfree(void *p) SHIM_ALIAS(free);
SHIM_API void *__libc_calloc(size_t count, size_t size) SHIM_ALIAS(calloc);
SHIM_API void *__libc_realloc(void *p, size_t size) SHIM_ALIAS(realloc);
SHIM_API void *__libc_memalign(size_t align, size_t size) SHIM_ALIAS(memalign);
SHIM_API void *__libc_valloc(size_t size) SHIM_ALIAS(valloc);
SHIM_API void *__libc_pvalloc(size_t size) SHIM_ALIAS(pvalloc);

/* ---- the statistics line at exit ---- */

/* Where the HAKMEM_STATS line goes: a copy of stderr taken at start-up, so the line still gets out of programs that
 * close their stderr at exit (coreutils do, before the destructors run); -1: not asked for. The program may have
 * closed that copy and opened a file of its own under its number: the line goes out only where it still leads
 * to the file stderr was (the copy, else stderr itself), never into the program's data. */
static bool        g_stats;         /* HAKMEM_STATS asked for the line */
static int         g_stats_fd = -1;
static struct stat g_stats_file; /* what it was at start-up: st_dev, st_ino */

/* HAKMEM_STATS: 1, yes, true or on asks for the line; unset, empty, 0, no, false or off not (any case, spaces
 * around); any other value is reported (HAK_ERR_BAD_ENV, as HAKMEM_POLICY's and HAKMEM_LIMIT's) and ignored. */
static bool stats_wanted(void)
{
    static const char *const words[] = {"1", "yes", "true", "on", "0", "no", "false", "off", ""};
    const char              *env = secure_getenv("HAKMEM_STATS"); /* (not in setuid programs, as hak_platform_getenv) */
    for (size_t i = 0; env && i < sizeof words / sizeof *words; i++)
        if (_hak_env_is(env, words[i]))
            return i < 4;
    if (env) {
        _hak_env_bad(HAK_ENV_BAD_STATS);
        _hak_env_report();
    }
    return false;
}

static bool is_stats_file(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == g_stats_file.st_dev && st.st_ino == g_stats_file.st_ino;
}

/* A forked child does not keep the copy: a daemon that closes its stdin, stdout and stderr would hold its caller's
 * pipe open with it (a command substitution waiting for its end would wait for the daemon). The child's line goes to
 * its stderr, if that is still the file it was. The descriptor is closed only while it still looks like the copy
 * (that file, close-on-exec): the program may have put a descriptor of its own under that number. */
static void stats_fork_child(void)
{
    int flags = is_stats_file(g_stats_fd) ? fcntl(g_stats_fd, F_GETFD) : -1;
    if (flags >= 0 && (flags & FD_CLOEXEC))
        close(g_stats_fd);
    g_stats_fd = -1;
}

__attribute__((constructor)) static void shim_start(void)
{
    arena(); /* created (with the fork handlers) before the first fork, if nothing allocated yet */
    if ((g_stats = stats_wanted())) {
        int saved = errno;
        g_stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 64); /* (high: out of the way of fds the program reuses) */
        if (g_stats_fd >= 0 && fstat(g_stats_fd, &g_stats_file) != 0) {
            close(g_stats_fd);
            g_stats_fd = -1;
        }
        errno = saved;
    }
}

__attribute__((destructor)) static void shim_stop(void)
{
    hak_arena_t *a = atomic_load_explicit(&g_arena, memory_order_acquire);
    if (!a || !g_stats)
        return;
    int saved = errno;
    int fd = is_stats_file(g_stats_fd) ? g_stats_fd : is_stats_file(STDERR_FILENO) ? STDERR_FILENO : -1;
    if (fd >= 0)
        hak_arena_report(a, stats_line, &fd); /* the arena itself stays: later destructors may still free */
    errno = saved;
}
