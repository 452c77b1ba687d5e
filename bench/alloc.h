/*
 * The allocator under test, chosen at compile time (-DBENCH_HAKMEM, _MIMALLOC, _JEMALLOC, _TCMALLOC, else glibc).
 * Every workload talks to it through one small interface:
 *
 *   heap_new(&h, variant)   a heap/arena for the calling thread to allocate from (peers without one: a no-op)
 *   heap_alloc(&h, n)       never returns NULL: a failed allocation ends the benchmark with an error
 *   heap_realloc(&h, p, n)  likewise
 *   heap_free(&h, p)        from any thread (for hakmem only with a thread-safe variant)
 *   heap_destroy(&h)        gives the heap back; with HEAP_DISCARDS its live blocks go with it
 *   heap_thread_done()      before a thread's blocks' heap is destroyed elsewhere (jemalloc: flush the tcache)
 *   heap_committed/calls    hakmem's peak committed bytes and platform calls so far; -1 for peers
 *   HEAP_THREAD_OWNED       1 when only the thread that created a heap may allocate from it (mimalloc's heaps):
 *                           workloads that allocate in a thread of their own create its heap in that thread
 *
 * Variants (the first argument after the workload) are listed in VARIANTS; an unknown one is a usage error.
 */
#ifndef HAK_BENCH_ALLOC_H
#define HAK_BENCH_ALLOC_H
#include "bench.h"

#if defined(BENCH_HAKMEM)
#include "hakmem.h"
#define ALLOC_NAME    "hakmem"
#define VARIANTS      "unsync default lean lean-unsync"
#define HEAP_DISCARDS 1
typedef struct { hak_arena_t *a; } heap_t;

static inline void heap_new(heap_t *h, const char *variant)
{
    hak_arena_config_t cfg = {.name = "bench"};
    if (strstr(variant, "unsync"))
        cfg.flags = HAK_ARENA_UNSYNCHRONIZED;
    if (strstr(variant, "lean"))
        cfg.policy = HAK_POLICY_LEAN;
    if (hak_arena_create(&h->a, &cfg))
        die("hak_arena_create failed");
}
#define RAW_ALLOC(h, n)      hak_alloc((h)->a, n)
#define RAW_REALLOC(h, p, n) hak_realloc((h)->a, p, n)
#define RAW_FREE(h, p)       ((void)(h), hak_free(p))
static inline void heap_destroy(heap_t *h) { hak_arena_destroy(h->a); }
static inline void heap_thread_done(void) {}
static inline long long heap_stat(const heap_t *h, int calls)
{
    hak_arena_stats_t st;
    if (hak_arena_stats(h->a, &st))
        die("hak_arena_stats failed");
    return calls ? (long long)st.platform_calls : (long long)st.peak_committed;
}
static inline const char *alloc_version(void) { return "hakmem (this tree)"; }

#elif defined(BENCH_MIMALLOC)
#include <mimalloc.h>
#define ALLOC_NAME    "mimalloc"
#define VARIANTS      "heap"
#define HEAP_DISCARDS 1
#define HEAP_THREAD_OWNED 1 /* "can only allocate from the same thread that created it" (mimalloc.h) */
typedef struct { mi_heap_t *mh; } heap_t;

static inline void heap_new(heap_t *h, const char *variant)
{
    (void)variant;
    if (!(h->mh = mi_heap_new()))
        die("mi_heap_new failed");
}
#define RAW_ALLOC(h, n)      mi_heap_malloc((h)->mh, n)
#define RAW_REALLOC(h, p, n) mi_heap_realloc((h)->mh, p, n)
#define RAW_FREE(h, p)       ((void)(h), mi_free(p))
static inline void heap_destroy(heap_t *h) { mi_heap_destroy(h->mh); }
static inline void heap_thread_done(void) {}
static inline const char *alloc_version(void)
{
    static char v[32];
    int  n = mi_version(); /* e.g. 209 for 2.0.9 */
    snprintf(v, sizeof v, "mimalloc %d.%d.%d", n / 100, n / 10 % 10, n % 10);
    return v;
}

#elif defined(BENCH_FLOOR)
/* Not a peer: the least work any size-class allocator can do per op, as a floor for the benchmark loop's own
 * cost. 16-byte classes up to 1 KiB, each in its own 64 MiB region, so a block's class is its address shifted;
 * alloc pops the class's free list or bumps, free pushes. No metadata, no checks, no thread safety, no reuse
 * across classes; sizes above 1 KiB are refused. */
#include <sys/mman.h>
#define ALLOC_NAME    "floor"
#define VARIANTS      "classes"
#define HEAP_DISCARDS 1
#define FLOOR_SHIFT   26
typedef struct {
    unsigned char *base;
    void          *head[65];
    unsigned char *bump[65];
} heap_t;

static inline void heap_new(heap_t *h, const char *variant)
{
    (void)variant;
    h->base = mmap(NULL, (size_t)65 << FLOOR_SHIFT, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (h->base == MAP_FAILED)
        die("mmap failed");
    for (int c = 0; c < 65; c++)
        h->head[c] = NULL, h->bump[c] = h->base + ((size_t)c << FLOOR_SHIFT);
}
__attribute__((noinline)) static void *floor_alloc(heap_t *h, size_t n)
{
    if (n > 1024)
        return NULL;
    size_t c = (n + 15) >> 4;
    void  *p = h->head[c];
    if (__builtin_expect(p != NULL, 1)) {
        h->head[c] = *(void **)p;
        return p;
    }
    p = h->bump[c];
    h->bump[c] += c << 4;
    return p;
}
__attribute__((noinline)) static void floor_free(heap_t *h, void *p)
{
    size_t c = (size_t)((unsigned char *)p - h->base) >> FLOOR_SHIFT;
    *(void **)p = h->head[c];
    h->head[c] = p;
}
#define RAW_ALLOC(h, n)      floor_alloc(h, n)
#define RAW_REALLOC(h, p, n) ((void)(h), (void)(p), (void)(n), (void *)NULL)
#define RAW_FREE(h, p)       floor_free(h, p)
static inline void heap_destroy(heap_t *h) { munmap(h->base, (size_t)65 << FLOOR_SHIFT); }
static inline void heap_thread_done(void) {}
static inline const char *alloc_version(void) { return "floor"; }

#elif defined(BENCH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define ALLOC_NAME    "jemalloc"
#define VARIANTS      "arena arena-tcache"
#define HEAP_DISCARDS 1
/* An explicit arena; "arena" bypasses the thread cache (the only way mallocx honours the arena for sure),
 * "arena-tcache" keeps it (a cache hit may return a block of another arena: jemalloc#1535). */
typedef struct {
    unsigned arena;
    int      flags, free_flags;
} heap_t;

static inline void heap_new(heap_t *h, const char *variant)
{
    size_t sz = sizeof h->arena;
    if (mallctl("arenas.create", &h->arena, &sz, NULL, 0))
        die("mallctl(arenas.create) failed");
    h->free_flags = strcmp(variant, "arena-tcache") ? MALLOCX_TCACHE_NONE : 0;
    h->flags = (int)MALLOCX_ARENA(h->arena) | h->free_flags;
}
#define RAW_ALLOC(h, n)      mallocx(n, (h)->flags)
#define RAW_REALLOC(h, p, n) ((p) ? rallocx(p, n, (h)->flags) : mallocx(n, (h)->flags))
#define RAW_FREE(h, p)       dallocx(p, (h)->free_flags)
static inline void heap_thread_done(void)
{
    if (mallctl("thread.tcache.flush", NULL, NULL, NULL, 0))
        die("mallctl(thread.tcache.flush) failed");
}
static inline void heap_destroy(heap_t *h)
{
    char name[64];
    heap_thread_done(); /* arena.<i>.destroy needs every cache holding its blocks flushed */
    snprintf(name, sizeof name, "arena.%u.destroy", h->arena);
    if (mallctl(name, NULL, NULL, NULL, 0))
        die("mallctl(%s) failed", name);
}
static inline const char *alloc_version(void)
{
    static char v[80];
    const char *s = "?";
    size_t      sz = sizeof s;
    mallctl("version", &s, &sz, NULL, 0);
    snprintf(v, sizeof v, "jemalloc %.60s", s);
    return v;
}

#else /* glibc or tcmalloc: plain malloc, the peer being whatever the binary links */
#if defined(BENCH_TCMALLOC)
#include <gperftools/tcmalloc.h>
#define ALLOC_NAME "tcmalloc"
static inline const char *alloc_version(void) { return tc_version(NULL, NULL, NULL); }
#else
#include <gnu/libc-version.h>
#define ALLOC_NAME "glibc"
static inline const char *alloc_version(void)
{
    static char v[32];
    snprintf(v, sizeof v, "glibc %s", gnu_get_libc_version());
    return v;
}
#endif
#define VARIANTS      "malloc"
#define HEAP_DISCARDS 0
typedef struct { char unused; } heap_t;
static inline void heap_new(heap_t *h, const char *variant) { (void)h, (void)variant; }
#define RAW_ALLOC(h, n)      ((void)(h), malloc(n))
#define RAW_REALLOC(h, p, n) ((void)(h), realloc(p, n))
#define RAW_FREE(h, p)       ((void)(h), free(p))
static inline void heap_destroy(heap_t *h) { (void)h; }
static inline void heap_thread_done(void) {}
#endif

#if !defined(BENCH_HAKMEM)
static inline long long heap_stat(const heap_t *h, int calls) { return (void)h, (void)calls, -1; }
#endif
#define heap_committed(h) heap_stat(h, 0)
#define heap_calls(h)     heap_stat(h, 1)

__attribute__((noreturn, cold)) static inline void alloc_failed(size_t n)
{
    die("%s: allocation of %zu bytes failed", ALLOC_NAME, n);
}

static inline void *heap_alloc(heap_t *h, size_t n)
{
    void *p = RAW_ALLOC(h, n);
    if (__builtin_expect(!p, 0))
        alloc_failed(n);
    return p;
}

static inline void *heap_realloc(heap_t *h, void *p, size_t n)
{
    void *q = RAW_REALLOC(h, p, n);
    if (__builtin_expect(!q, 0))
        alloc_failed(n);
    return q;
}

static inline void heap_free(heap_t *h, void *p) { RAW_FREE(h, p); }

/* Exits with a usage error unless `variant` is one of VARIANTS (optionally restricted to those in `allowed`,
 * for workloads where only some make sense, e.g. no unsynchronized arena when two threads share it). */
static inline const char *check_variant(int argc, char **argv, const char *allowed)
{
    const char *v = argc > 1 ? argv[1] : "";
    size_t      n = strlen(v);
    const char *lists[2] = {VARIANTS, allowed};
    for (int i = 0; i < 2; i++) {
        const char *s = lists[i];
        if (!s)
            continue;
        const char *hit = NULL;
        for (const char *q = s; n && (q = strstr(q, v)); q += n)
            if ((q == s || q[-1] == ' ') && (q[n] == ' ' || q[n] == '\0')) {
                hit = q;
                break;
            }
        if (!hit) {
            fprintf(stderr, "bench %s: variant '%s' not supported by %s here (variants: %s)\n", argv[0], v,
                    ALLOC_NAME, allowed ? allowed : VARIANTS);
            exit(2);
        }
    }
    return v;
}
#ifndef HEAP_THREAD_OWNED
#define HEAP_THREAD_OWNED 0
#endif

#endif
