/*
 * The Linux platform: chunks from mmap (right below the previous chunk when the kernel grants that address, else
 * over-mapped and trimmed to the requested alignment), decommit with
 * madvise(MADV_DONTNEED) so RSS really drops (MADV_FREE would leave the pages counted in RSS until the kernel
 * is short of memory, which is what a container's limit judges). Commit is free: mappings are read-write and
 * backed on first touch. Every syscall is counted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hakmem.h"
#include "platform/faults.h"
#include "platform/platform.h"

_Static_assert(HAK_ENOMEM == ENOMEM && HAK_EINVAL == EINVAL, "hakmem's error numbers must equal errno's");

static atomic_ullong os_calls;

static void count(unsigned *calls, unsigned n)
{
    atomic_fetch_add_explicit(&os_calls, n, memory_order_relaxed);
    if (calls)
        *calls += n;
}

bool hak_platform_owns(uintptr_t lo, uintptr_t hi)
{
    (void)lo, (void)hi;
    return false;
}

size_t hak_platform_largest(size_t align)
{
    (void)align;
    return SIZE_MAX; /* address space is not the limit; the budget and the OS are */
}

/* getpagesize rather than sysconf: the same value (the kernel's, from the auxiliary vector), and glibc keeps it
 * next to open/read/close, which every program's start-up runs, where sysconf would fault in 64 KiB of libc
 * that nothing else needs (random_mixed's peak RSS). */
size_t hak_platform_page_size(void)
{
    static size_t page;
    if (!page)
        page = (size_t)getpagesize();
    return page;
}

static _Atomic uintptr_t next_hint; /* where the next chunk would sit right below the last one */

static void *map_at(void *hint, size_t size, unsigned *calls)
{
    count(calls, 1);
    /* No MAP_NORESERVE: the kernel's overcommit policy applies as it does to glibc's mappings, so a request no
     * machine could back (malloc(1 << 46)) fails with ENOMEM here instead of succeeding and meeting the OOM
     * killer when touched. */
    void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Maps `size` bytes aligned to `align`. First exactly `size` bytes right below the last chunk (the kernel hands out
 * addresses top-down, so that spot is usually free and aligned, and the two mappings merge into one VMA); else
 * over-map by align - page and trim both ends (one mmap, at most two munmaps). */
static void *map_aligned(size_t size, size_t align, unsigned *calls)
{
    size_t page = hak_platform_page_size();
    if (size > SIZE_MAX - align)
        return NULL;
    uintptr_t hint = atomic_load_explicit(&next_hint, memory_order_relaxed);
    void     *p = hint > size ? map_at((void *)((hint - size) & ~(uintptr_t)(align - 1)), size, calls) : NULL;
    if (p && ((uintptr_t)p & (align - 1)) == 0) {
        atomic_store_explicit(&next_hint, (uintptr_t)p, memory_order_relaxed);
        return p;
    }
    if (p) {
        count(calls, 1);
        munmap(p, size);
    }
    size_t span = size + align - page;
    if (!(p = map_at(NULL, span, calls)))
        return NULL;
    uintptr_t base = (uintptr_t)p, aligned = (base + align - 1) & ~(uintptr_t)(align - 1);
    if (aligned > base) {
        count(calls, 1);
        munmap(p, aligned - base);
    }
    size_t tail = (base + span) - (aligned + size);
    if (tail) {
        count(calls, 1);
        munmap((void *)(aligned + size), tail);
    }
    atomic_store_explicit(&next_hint, aligned, memory_order_relaxed);
    return (void *)aligned;
}

/* One mapping per chunk: the kernel places new mappings in the holes old ones left, and neighbouring chunks merge
 * into one VMA, so the number of VMAs stays small (realloc_grow maps 3,300 chunks: mapping them exactly and side
 * by side instead of over-mapping and trimming each took its run from 3.1-4.6 s to 2.3 s). With transparent huge
 * pages set to "always", merged runs may be backed by 2 MiB pages (more RSS); Debian's default is "madvise".
 * (Carving chunks out of large reservations saved syscalls but left holes the kernel never refilled, until the
 * process hit vm.max_map_count and munmap itself began to fail.) */
void *hak_platform_map(size_t size, size_t align, unsigned *calls)
{
    size_t page = hak_platform_page_size();
    if (align < page)
        align = page;
    if (injected_fault())
        return NULL;
    int   saved = errno; /* a first attempt that failed must not leave ENOMEM behind a call that succeeds */
    void *p = map_aligned(size, align, calls);
    errno = saved;
    return p;
}

void hak_platform_unmap(void *base, size_t size, unsigned *calls)
{
    int saved = errno; /* free() must leave errno alone, and frees end here */
    count(calls, 1);
    if (munmap(base, size) != 0) { /* e.g. splitting a mapping beyond vm.max_map_count: at least drop the pages */
        count(calls, 1);
        madvise(base, size, MADV_DONTNEED);
    }
    errno = saved;
}

bool hak_platform_move(void *from, size_t size, void *to, size_t new_size, unsigned *calls)
{
    if (injected_fault())
        return false;
    int saved = errno;
    count(calls, 1);
    /* Fails (EFAULT) if `from` spans two VMAs, e.g. next to a guard page: then the caller copies. */
    void *p = mremap(from, size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    errno = saved;
    return p == to;
}

bool hak_platform_protect(void *p, size_t size, unsigned *calls)
{
    int saved = errno;
    count(calls, 1);
    bool ok = mprotect(p, size, PROT_NONE) == 0;
    errno = saved;
    return ok;
}

bool hak_platform_commit(void *p, size_t size, unsigned *calls)
{
    (void)p, (void)size, (void)calls; /* lazily backed: nothing to do */
    return !injected_fault();
}

/* Only the OS pages wholly inside [p, p+size): with 64 KiB pages (some arm64 and ppc64 kernels) a run of 16 KiB
 * slices may share an OS page with blocks in use, and madvise would round the length up over them. */
void hak_platform_decommit(void *p, size_t size, unsigned *calls)
{
    uintptr_t page = hak_platform_page_size();
    uintptr_t from = ((uintptr_t)p + page - 1) & ~(page - 1), to = ((uintptr_t)p + size) & ~(page - 1);
    if (from >= to)
        return;
    int saved = errno;
    count(calls, 1);
    madvise((void *)from, to - from, MADV_DONTNEED);
    errno = saved;
}

const bool hak_platform_map_zeroed = true;

void hak_platform_yield(void)
{
    sched_yield();
}

uint64_t hak_platform_clock_ms(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &t) != 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static pthread_key_t  exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static _Atomic(void (*)(void *)) exit_fn;
static bool           exit_ok;

static void exit_key_create(void)
{
    exit_ok = pthread_key_create(&exit_key, atomic_load(&exit_fn)) == 0;
}

bool hak_platform_at_thread_exit(void (*fn)(void *), void *arg)
{
    atomic_store(&exit_fn, fn); /* always the same function; stored before the once-only key creation reads it */
    pthread_once(&exit_once, exit_key_create);
    return exit_ok && pthread_setspecific(exit_key, arg) == 0;
}

/* "hakmem: MESSAGE (0xADDRESS)" and a newline, in one write (so that reports of threads do not interleave); no
 * stdio, which may allocate: the shim's malloc would be entered again. */
void hak_platform_error_output(const char *message, const void *ptr)
{
    char  line[192], *o = line, *end = line + sizeof line - 1;
    int   saved = errno;
    for (const char *s = "hakmem: "; *s;)
        *o++ = *s++;
    while (*message && o < end - 24) /* (room for the address) */
        *o++ = *message++;
    if (ptr) {
        char     *a = o + 4 + 2 * sizeof(uintptr_t), *d = a;
        uintptr_t v = (uintptr_t)ptr;
        do
            *--d = "0123456789abcdef"[v & 15];
        while (v >>= 4);
        memmove(o + 4, d, (size_t)(a - d));
        memcpy(o, " (0x", 4);
        o += 4 + (a - d);
        *o++ = ')';
    }
    *o++ = '\n';
    for (const char *s = line; s < o;) {
        ssize_t w = write(STDERR_FILENO, s, (size_t)(o - s));
        if (w <= 0)
            break;
        s += w;
    }
    errno = saved;
}

_Noreturn void hak_platform_abort(void)
{
    abort();
}

void hak_platform_set_errno(int err)
{
    errno = err;
}

uint64_t hak_platform_entropy(void)
{
    int      saved = errno;
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) { /* no entropy yet (early boot): mix */
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        v = ((uint64_t)t.tv_sec << 32) ^ (uint64_t)t.tv_nsec ^ ((uint64_t)getpid() << 16) ^ (uintptr_t)&t;
    }
    errno = saved;
    return v;
}

const char *hak_platform_getenv(const char *name)
{
    return secure_getenv(name); /* none in setuid programs: their callers must not choose the caps they run under */
}

unsigned long long hak_platform_os_calls(void)
{
    return atomic_load_explicit(&os_calls, memory_order_relaxed);
}
