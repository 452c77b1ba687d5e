/*
 * The malloc shim against glibc's manual pages (malloc(3), posix_memalign(3), malloc_usable_size(3)), linked
 * in from build/libhakmem-malloc.a so that this program's malloc — and Criterion's — is hakmem's. Every block
 * the tests get is also checked to belong to a hakmem arena, which proves the shim is the allocator in use.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"

/* glibc's own allocator, the next definition of malloc and free after this program's (the shim's): a source of
 * foreign blocks. */
static void *glibc_malloc(size_t size)
{
    void *(*next)(size_t) = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    cr_assert_not_null(next);
    return next(size);
}

static void glibc_free(void *p)
{
    void (*next)(void *) = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    cr_assert_not_null(next);
    next(p);
}

/* Sizes the compiler cannot see, so that it neither folds the calls nor warns about the huge ones. */
static size_t opaque(size_t v)
{
    volatile size_t x = v;
    return x;
}
#define HUGE_SIZE   opaque(SIZE_MAX)
#define OVER_PTRDIFF opaque((size_t)PTRDIFF_MAX + 1)

static void assert_ours(void *p, size_t at_least)
{
    cr_assert_not_null(p);
    cr_assert_not_null(hak_arena_of(p), "%p is not a hakmem block: the shim is not in use", p);
    cr_assert_geq(malloc_usable_size(p), at_least);
}

static bool aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed + i * 7);
}

static void expect_filled(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(b[i], (unsigned char)(seed + i * 7), "byte %zu of %zu differs", i, n);
}

/* Runs fn with stderr redirected to a temporary file; returns how many bytes it wrote there. */
static long stderr_bytes_of(void (*fn)(void *), void *arg)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn(arg);
    dup2(saved, 2);
    close(saved);
    long n = lseek(fileno(tmp), 0, SEEK_END);
    fclose(tmp);
    return n;
}

static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 1024, 1025, 4096, 32768, 32769, 100000, 600000, 3000000};

/* ---- malloc ---- */

Test(malloc, zero_gives_unique_freeable_blocks)
{
    void *a = malloc(0), *b = malloc(0);
    assert_ours(a, 0);
    assert_ours(b, 0);
    cr_assert_neq(a, b);
    free(a);
    free(b);
}

Test(malloc, every_size_is_ours_aligned_and_writable)
{
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = malloc(sizes[i]);
        assert_ours(p, sizes[i]);
        cr_assert(aligned(p, 16), "malloc(%zu) = %p is not 16-byte aligned", sizes[i], p);
        size_t usable = malloc_usable_size(p);
        fill(p, usable, (unsigned)i); /* all of the usable size may be used */
        expect_filled(p, usable, (unsigned)i);
        free(p);
    }
    cr_assert_eq(hak_arena_check(hak_arena_of(malloc(1))), 0);
}

Test(malloc, more_than_ptrdiff_max_fails_with_enomem)
{
    errno = 0;
    cr_assert_null(malloc(OVER_PTRDIFF));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(malloc(HUGE_SIZE));
    cr_assert_eq(errno, ENOMEM);
}

Test(malloc, success_leaves_errno_alone)
{
    errno = 1234;
    void *p = malloc(10), *q = malloc(5u << 20);
    cr_assert_eq(errno, 1234);
    free(p);
    free(q);
}

/* ---- free ---- */

Test(free, null_is_a_no_op)
{
    errno = 77;
    free(NULL);
    cr_assert_eq(errno, 77);
}

Test(free, preserves_errno)
{
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = malloc(sizes[i]);
        errno = 4321;
        free(p); /* huge blocks are unmapped here */
        cr_assert_eq(errno, 4321, "free of a %zu-byte block changed errno", sizes[i]);
    }
}

Test(free, the_block_is_released)
{
    void     *p = malloc(200);
    uintptr_t addr = (uintptr_t)p;
    free(p);
    cr_assert_null(hak_arena_of((void *)addr), "a freed block is still live");
}

static char static_block[64];

static void free_foreign(void *arg)
{
    (void)arg;
    void *glibc = glibc_malloc(100);
    cr_assert_not_null(glibc);
    memset(glibc, 0x5a, 100);
    free(glibc); /* not ours: left alone */
    free(static_block);
    free(static_block + 3);
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    free(m);
    cr_assert_eq(((unsigned char *)glibc)[99], 0x5a, "the foreign block was touched");
    glibc_free(glibc); /* still a valid glibc block */
    munmap(m, 4096);
}

Test(free, foreign_pointers_are_ignored_silently)
{
    cr_assert_eq(stderr_bytes_of(free_foreign, NULL), 0, "free of a foreign pointer printed something");
}

/* ---- calloc ---- */

Test(calloc, zeroes_reused_memory)
{
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        for (int round = 0; round < 3; round++) {
            unsigned char *dirty = malloc(n);
            memset(dirty, 0xee, n);
            free(dirty);
            unsigned char *p = calloc(1, n);
            assert_ours(p, n);
            for (size_t k = 0; k < n; k++)
                cr_assert_eq(p[k], 0, "calloc(1, %zu) byte %zu not zero", n, k);
            free(p);
        }
    }
}

Test(calloc, counts_times_sizes)
{
    unsigned *p = calloc(1000, sizeof *p);
    assert_ours(p, 4000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(p[i], 0u);
    free(p);
}

Test(calloc, zero_gives_unique_blocks)
{
    void *a = calloc(0, 5), *b = calloc(5, 0), *c = calloc(0, 0);
    assert_ours(a, 0);
    assert_ours(b, 0);
    assert_ours(c, 0);
    cr_assert(a != b && b != c && a != c);
    free(a), free(b), free(c);
}

Test(calloc, overflow_fails_with_enomem)
{
    errno = 0;
    cr_assert_null(calloc(opaque(SIZE_MAX / 2), 3));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(calloc(opaque((size_t)1 << 32), opaque((size_t)1 << 32)));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(calloc(1, OVER_PTRDIFF));
    cr_assert_eq(errno, ENOMEM);
}

/* ---- realloc ---- */

Test(realloc, null_is_malloc)
{
    void *p = realloc(NULL, 100);
    assert_ours(p, 100);
    free(p);
    void *z = realloc(NULL, 0);
    assert_ours(z, 0); /* "equivalent to malloc(size), for all values of size" */
    free(z);
}

Test(realloc, zero_frees_and_returns_null_without_error)
{
    void     *p = malloc(100);
    uintptr_t addr = (uintptr_t)p;
    errno = 55;
    cr_assert_null(realloc(p, 0));
    cr_assert_eq(errno, 55, "realloc(p, 0) is not an error");
    cr_assert_null(hak_arena_of((void *)addr), "realloc(p, 0) did not free p");
}

Test(realloc, keeps_contents_across_every_size)
{
    /* small -> large -> huge -> small, each step checking the bytes that must survive */
    size_t steps[] = {1, 24, 200, 1500, 20000, 40000, 300000, 2500000, 9000000, 700000, 5000, 64, 3};
    size_t n = 8;
    char  *p = malloc(n);
    fill(p, n, 3);
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        char *q = realloc(p, steps[i]);
        assert_ours(q, steps[i]);
        size_t kept = n < steps[i] ? n : steps[i];
        expect_filled(q, kept, 3);
        fill(q, steps[i], 3);
        p = q, n = steps[i];
    }
    free(p);
}

Test(realloc, failure_leaves_the_block_untouched)
{
    char *p = malloc(300);
    fill(p, 300, 9);
    errno = 0;
    cr_assert_null(realloc(p, HUGE_SIZE));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(realloc(p, OVER_PTRDIFF));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_not_null(hak_arena_of(p), "a failed realloc freed the block");
    expect_filled(p, 300, 9);
    free(p);
}

/* A shrink that finds no room for the smaller block (the arena at its cap) keeps the block: a success, so errno
 * stays as it was, as glibc leaves it. */
Test(realloc, a_shrink_that_cannot_move_leaves_errno_alone)
{
    char *p = malloc(200000);
    fill(p, 200000, 4);
    hak_arena_t      *a = hak_arena_of(p);
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_eq(hak_arena_set_limit(a, st.committed), 0);
    static void *taken[1024];
    int          n = 0;
    while (n < 1024 && (taken[n] = malloc(40000))) /* the room left for blocks of that class, used up */
        n++;
    cr_assert_lt(n, 1024);
    errno = 0;
    char *q = realloc(p, 40000);
    int   err = errno;
    cr_assert_eq(hak_arena_set_limit(a, 0), 0);
    while (n--)
        free(taken[n]);
    cr_assert_eq(q, p, "the block stays where it is");
    cr_assert_eq(err, 0, "errno %d after a successful realloc", err);
    expect_filled(q, 40000, 4);
    free(q);
}

Test(realloc, shrinking_keeps_the_prefix)
{
    char *p = malloc(100000);
    fill(p, 100000, 1);
    p = realloc(p, 70000);
    assert_ours(p, 70000);
    expect_filled(p, 70000, 1);
    p = realloc(p, 10);
    expect_filled(p, 10, 1);
    free(p);
}

static void realloc_foreign_block(void *arg)
{
    (void)arg;
    char *glibc = glibc_malloc(5000);
    fill(glibc, 5000, 4);
    char *p = realloc(glibc, 8000);
    assert_ours(p, 8000);
    expect_filled(p, 5000, 4); /* everything the foreign block held was copied */
    expect_filled(glibc, 5000, 4); /* and the foreign block was left alone */
    char *q = realloc(glibc, 100);
    assert_ours(q, 100);
    expect_filled(q, 100, 4);
    cr_assert_eq(malloc_usable_size(glibc), 0, "a foreign block has no usable size for the shim");
    free(p), free(q);
    glibc_free(glibc);
}

Test(realloc, foreign_block_is_copied_not_freed)
{
    cr_assert_eq(stderr_bytes_of(realloc_foreign_block, NULL), 0);
}

/* ---- reallocarray ---- */

Test(reallocarray, grows_like_realloc)
{
    int *p = reallocarray(NULL, 10, sizeof *p);
    assert_ours(p, 40);
    for (int i = 0; i < 10; i++)
        p[i] = i;
    p = reallocarray(p, 100000, sizeof *p);
    assert_ours(p, 400000);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(p[i], i);
    free(p);
}

Test(reallocarray, overflow_fails_and_keeps_the_block)
{
    char *p = malloc(50);
    fill(p, 50, 2);
    errno = 0;
    cr_assert_null(reallocarray(p, opaque(SIZE_MAX / 2), 4));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_not_null(hak_arena_of(p));
    expect_filled(p, 50, 2);
    free(p);
}

Test(reallocarray, zero_frees)
{
    void     *p = malloc(10);
    uintptr_t addr = (uintptr_t)p;
    cr_assert_null(reallocarray(p, 0, 8));
    cr_assert_null(hak_arena_of((void *)addr));
}

/* ---- posix_memalign ---- */

Test(posix_memalign, every_valid_alignment)
{
    for (size_t align = sizeof(void *); align <= ((size_t)4 << 20); align <<= 1)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            void *p = NULL;
            cr_assert_eq(posix_memalign(&p, align, sizes[i]), 0);
            assert_ours(p, sizes[i]);
            cr_assert(aligned(p, align), "posix_memalign(%zu, %zu) = %p", align, sizes[i], p);
            fill(p, sizes[i], 1);
            free(p);
        }
}

Test(posix_memalign, bad_alignment_is_einval_without_side_effects)
{
    size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 48, 1000, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        void *p = (void *)0x1234;
        errno = 99;
        cr_assert_eq(posix_memalign(&p, bad[i], 10), EINVAL, "alignment %zu", bad[i]);
        cr_assert_eq(p, (void *)0x1234, "*memptr changed on failure");
        cr_assert_eq(errno, 99, "posix_memalign set errno");
    }
}

Test(posix_memalign, no_memory_is_enomem_without_side_effects)
{
    void *p = (void *)0x1234;
    errno = 99;
    cr_assert_eq(posix_memalign(&p, 64, HUGE_SIZE), ENOMEM);
    cr_assert_eq(posix_memalign(&p, 64, OVER_PTRDIFF), ENOMEM);
    cr_assert_eq(posix_memalign(&p, opaque((size_t)1 << 62), 10), ENOMEM);
    cr_assert_eq(p, (void *)0x1234);
    cr_assert_eq(errno, 99);
}

Test(posix_memalign, size_zero_gives_a_freeable_block)
{
    void *p = NULL;
    cr_assert_eq(posix_memalign(&p, 256, 0), 0);
    cr_assert_not_null(p);
    cr_assert(aligned(p, 256));
    free(p);
}

/* ---- aligned_alloc, memalign, valloc, pvalloc ---- */

Test(aligned_alloc, power_of_two_alignments)
{
    for (size_t align = 1; align <= ((size_t)2 << 20); align <<= 1) {
        void *p = aligned_alloc(align, align * 2);
        assert_ours(p, align * 2);
        cr_assert(aligned(p, align));
        free(p);
    }
}

Test(aligned_alloc, bad_alignment_is_einval)
{
    size_t bad[] = {0, 3, 24, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        errno = 0;
        cr_assert_null(aligned_alloc(opaque(bad[i]), 64));
        cr_assert_eq(errno, EINVAL, "alignment %zu", bad[i]);
    }
}

Test(aligned_alloc, impossible_requests_are_enomem)
{
    errno = 0;
    cr_assert_null(aligned_alloc(opaque((size_t)1 << 63), 10));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(aligned_alloc(64, HUGE_SIZE));
    cr_assert_eq(errno, ENOMEM);
}

Test(memalign, rounds_alignment_up_like_glibc)
{
    struct { size_t asked, got; } cases[] = {{0, 1}, {1, 1}, {3, 4}, {48, 64}, {100, 128}, {5000, 8192}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        void *p = memalign(opaque(cases[i].asked), 33);
        assert_ours(p, 33);
        cr_assert(aligned(p, cases[i].got), "memalign(%zu) = %p", cases[i].asked, p);
        free(p);
    }
}

Test(memalign, errors)
{
    errno = 0;
    cr_assert_null(memalign(opaque(((size_t)1 << 63) + 1), 10));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(memalign(4096, HUGE_SIZE));
    cr_assert_eq(errno, ENOMEM);
}

Test(valloc, page_aligned)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = valloc(sizes[i]);
        assert_ours(p, sizes[i]);
        cr_assert(aligned(p, page));
        free(p);
    }
    errno = 0;
    cr_assert_null(valloc(HUGE_SIZE));
    cr_assert_eq(errno, ENOMEM);
}

Test(pvalloc, rounds_size_to_pages)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t cases[][2] = {{0, page}, {1, page}, {page, page}, {page + 1, 2 * page}, {100000, 25 * page}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        void *p = pvalloc(cases[i][0]);
        assert_ours(p, cases[i][1]);
        cr_assert(aligned(p, page));
        fill(p, cases[i][1], 5);
        free(p);
    }
    errno = 0;
    cr_assert_null(pvalloc(HUGE_SIZE));
    cr_assert_eq(errno, ENOMEM);
}

/* ---- malloc_usable_size ---- */

Test(malloc_usable_size, null_and_foreign_are_zero)
{
    cr_assert_eq(malloc_usable_size(NULL), 0);
    cr_assert_eq(malloc_usable_size(static_block), 0);
    void *glibc = glibc_malloc(64);
    cr_assert_eq(malloc_usable_size(glibc), 0);
    glibc_free(glibc);
}

Test(malloc_usable_size, covers_the_request_without_much_waste)
{
    for (size_t n = 1; n < 40000; n = n * 3 / 2 + 1) {
        void  *p = malloc(n);
        size_t u = malloc_usable_size(p);
        cr_assert_geq(u, n);
        if (n > 128 && n <= 32768)
            cr_assert_leq(u, n + n / 8, "usable %zu for %zu: more than 12.5%% waste", u, n);
        free(p);
    }
}

/* ---- threads and fork ---- */

#define THREADS 4
#define SLOTS   512
static _Atomic(uintptr_t) exchange[SLOTS];

static void *churn(void *arg)
{
    uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 7;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = 16 + x % (i % 64 == 0 ? 200000 : 600);
        char  *p = (x >> 40) % 8 == 0 ? calloc(1, n) : malloc(n);
        if (!p)
            return (void *)1;
        p[0] = (char)n, p[n - 1] = (char)(n >> 3);
        uintptr_t old = atomic_exchange(&exchange[(x >> 20) % SLOTS], (uintptr_t)p);
        if (old) {
            char  *q = (char *)old;
            size_t m = malloc_usable_size(q);
            if (m == 0)
                return (void *)2;
            if ((x >> 50) % 4 == 0)
                q = realloc(q, m + 100), q ? free(q) : (void)0;
            else
                free(q); /* usually another thread's block */
        }
    }
    return NULL;
}

Test(threads, cross_thread_frees_keep_the_arena_consistent)
{
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        cr_assert_null(rc, "thread %d failed (%p)", i, rc);
    }
    void *p = malloc(1);
    cr_assert_eq(hak_arena_check(hak_arena_of(p)), 0);
    for (int i = 0; i < SLOTS; i++)
        free((void *)atomic_exchange(&exchange[i], 0));
    free(p);
}

static atomic_bool stop;

static void *allocate_until_stopped(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        void *p = malloc(16 + i % 3000);
        void *q = malloc(40000 + i % 50000);
        free(p);
        free(q);
    }
    return NULL;
}

/* Forks `rounds` times while threads running first and second work until `stop`; each child exits with
 * child_ok's verdict. A fork or a child that waits for a lock hangs, and Criterion's timeout fires. */
static void fork_while_running(void *(*first)(void *), void *(*second)(void *), int rounds, bool (*child_ok)(int))
{
    pthread_t t[2];
    cr_assert_eq(pthread_create(&t[0], NULL, first, NULL), 0);
    cr_assert_eq(pthread_create(&t[1], NULL, second, NULL), 0);
    for (int round = 0; round < rounds; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            _exit(child_ok(round) ? 0 : 1);
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child of round %d failed", round);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

static bool child_allocates(int round)
{
    (void)round;
    void *p = malloc(100), *q = malloc(1 << 20);
    char *s = strdup("child");
    bool  ok = p && q && s && hak_arena_check(hak_arena_of(p)) == 0;
    free(p), free(q), free(s);
    return ok;
}

Test(fork, child_can_allocate_while_other_threads_were_allocating, .timeout = 60)
{
    fork_while_running(allocate_until_stopped, allocate_until_stopped, 200, child_allocates);
}

/* Another library's fork handlers, registered before the shim's (a constructor that runs first, as a library
 * the program links does): its prepare handler runs after the shim's has taken the allocator's locks, and
 * allocates. glibc's malloc takes its locks inside fork() after every handler; the shim must not deadlock. */
static atomic_int handler_blocks;

static void handler_allocates(void)
{
    void *p = malloc(64), *q = malloc(1 << 20);
    if (p && q)
        atomic_fetch_add(&handler_blocks, 1);
    free(p);
    free(q);
}

__attribute__((constructor(101))) static void register_before_the_shim(void)
{
    pthread_atfork(handler_allocates, handler_allocates, handler_allocates);
}

Test(fork, handlers_registered_before_the_shim_may_allocate, .timeout = 30)
{
    free(malloc(10));
    atomic_store(&handler_blocks, 0);
    pid_t pid = fork(); /* hangs in the prepare handler if the shim's locks are not passable */
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(atomic_load(&handler_blocks) == 2 && malloc(100) ? 0 : 1); /* prepare and child handlers ran */
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(atomic_load(&handler_blocks), 2, "prepare and parent handlers allocated");
}

/* One thread grows getline's line (reallocs of large blocks, under the arena's lock) while it holds its FILE's
 * lock; another runs fflush(NULL), which holds the lock of glibc's list of FILEs while it waits for every FILE's.
 * fork() takes that list's lock after the prepare handlers: the shim's handler must not hold the arena's lock
 * while it waits there, or the three threads wait for each other (before the fix: within 50 forks). */
static char  *long_lines;
static size_t long_lines_size = (size_t)2 << 20;

static void *read_long_lines(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        FILE  *f = fmemopen(long_lines, long_lines_size, "r");
        char  *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) > 0) {
            free(line);
            line = NULL, cap = 0;
        }
        free(line);
        if (f)
            fclose(f);
    }
    return NULL;
}

static void *flush_every_file(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        fflush(NULL);
    return NULL;
}

static bool child_uses_stdio(int round)
{
    char *s = NULL;
    bool  ok = asprintf(&s, "child %d", round) > 0 && fflush(NULL) == 0;
    free(s);
    return ok;
}

Test(fork, while_one_thread_flushes_every_file_and_another_reads_lines, .timeout = 60)
{
    long_lines = malloc(long_lines_size);
    cr_assert_not_null(long_lines);
    for (size_t i = 0; i < long_lines_size; i++)
        long_lines[i] = i % 600000 == 599999 ? '\n' : 'a';
    fork_while_running(read_long_lines, flush_every_file, 300, child_uses_stdio);
    free(long_lines);
}

/* ---- the C library's own allocations go through the shim too ---- */

Test(libc, strdup_and_stdio_use_hakmem)
{
    char *s = strdup("hakmem");
    assert_ours(s, 7);
    free(s);
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    for (int i = 0; i < 10000; i++)
        fprintf(f, "%d,", i);
    fclose(f);
    assert_ours(buf, len);
    cr_assert_eq(strncmp(buf, "0,1,2,", 6), 0);
    free(buf);
}

/* ---- glibc's extensions act on the shim's arena, not on glibc's empty heap ---- */

Test(extensions, mallinfo2_and_malloc_trim_see_the_arena)
{
    enum { N = 4096 };
    static void *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(1000);
    struct mallinfo2 full = mallinfo2();
    cr_assert_geq(full.uordblks, (size_t)N * 1000, "in use %zu", full.uordblks);
    cr_assert_geq(full.arena, full.uordblks);
    cr_assert_eq(full.arena, full.uordblks + full.fordblks);
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    struct mallinfo2 freed = mallinfo2();
    cr_assert_lt(freed.uordblks, full.uordblks);
    cr_assert_eq(malloc_trim(0), 1, "4 MB of empty pages to give back");
    struct mallinfo2 trimmed = mallinfo2();
    cr_assert_lt(trimmed.arena, freed.arena, "held %zu -> %zu", freed.arena, trimmed.arena);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* (mallinfo: old programs still call it) */
    cr_assert_eq(mallinfo().uordblks, (int)mallinfo2().uordblks);
#pragma GCC diagnostic pop
}

Test(extensions, malloc_info_mallopt_and_stats)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    cr_assert_eq(malloc_info(0, f), 0);
    fclose(f);
    cr_assert_not_null(strstr(buf, "<malloc version="), "%s", buf);
    free(buf);
    errno = 0;
    cr_assert_eq(malloc_info(1, stdout), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(mallopt(M_TRIM_THRESHOLD, 1 << 20), 1);
}

/* Old binaries and some libraries call glibc's internal names: the same allocator under them. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void  __libc_free(void *p);
extern void  cfree(void *p);

static void count_reports(int code, const char *message, void *ptr, void *arg)
{
    (void)code, (void)message, (void)ptr;
    ++*(int *)arg;
}

Test(extensions, glibc_internal_names_are_the_shim)
{
    int reports = 0;
    hak_set_error_handler(count_reports, &reports);
    void *p = __libc_malloc(100);
    assert_ours(p, 100);
    p = __libc_realloc(p, 5000);
    assert_ours(p, 5000);
    __libc_free(p);
    char *z = __libc_calloc(10, 10);
    assert_ours(z, 100);
    cr_assert_eq(z[99], 0);
    cfree(z);
    void *a = __libc_memalign(4096, 10);
    assert_ours(a, 10);
    cr_assert_eq((uintptr_t)a % 4096, 0);
    free(a);
    cr_assert_eq(reports, 0, "a block freed under glibc's names was reported");
}
