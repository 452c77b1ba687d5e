/* Caps, the on_limit callback, run-time limits, the process budget and its environment variable, stats output. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

/* Skips the rest of a test of what lean arenas give back by themselves within a few MiB of frees: with batches above
 * 1 MiB (Kconfig HAK_LEAN_BATCH_KIB) none of it is due to go back yet. */
#define SMALL_LEAN_BATCHES()                                                                                \
    do {                                                                                                    \
        if (HAK_CFG_LEAN_BATCH_KIB > 1024)                                                                  \
            cr_skip_test("lean batches of %d KiB", HAK_CFG_LEAN_BATCH_KIB);                                 \
    } while (0)

/* Random alloc/free/realloc near the cap; committed <= limit after every single operation. */
static void run_near_cap(hak_policy_t policy, unsigned flags, uint64_t seed)
{
    size_t       limit = (2u << 20) + (size_t)(seed % 7) * 300000;
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.limit = limit, .policy = policy, .flags = flags,
                                                            .slab_size = SLAB_MIN}), 0);
    void    *slot[512] = {0};
    uint64_t rng = seed;
    long     failures = 0;
    for (int op = 0; op < 20000; op++) {
        unsigned k = (unsigned)(test_rand(&rng) % 512);
        uint64_t r = test_rand(&rng) % 100;
        size_t   n = r < 80 ? test_rand(&rng) % 2048 : r < 97 ? test_rand(&rng) % 100000 : test_rand(&rng) % 600000;
        if (slot[k] && r < 50) {
            hak_free(slot[k]);
            slot[k] = NULL;
        } else if (slot[k]) {
            void *q = hak_realloc(a, slot[k], n);
            if (q)
                slot[k] = q;
            else
                failures++;
        } else if (!(slot[k] = hak_alloc(a, n))) {
            cr_assert_eq(errno, ENOMEM);
            failures++;
        }
        cr_assert_leq(committed_of(a), limit, "op %d: committed over the cap", op);
    }
    cr_assert_gt(failures, 0, "the run did reach the cap");
    cr_assert_eq(hak_arena_check(a), 0);
    for (int k = 0; k < 512; k++)
        hak_free(slot[k]);
    hak_arena_destroy(a);
}

Test(limits, random_runs_near_the_cap_fast)
{
    for (uint64_t seed = 1; seed <= 4; seed++)
        run_near_cap(HAK_POLICY_FAST, 0, seed * 7919);
}

Test(limits, random_runs_near_the_cap_lean)
{
    for (uint64_t seed = 1; seed <= 4; seed++)
        run_near_cap(HAK_POLICY_LEAN, HAK_ARENA_UNSYNCHRONIZED, seed * 104729);
}

struct cache {
    void *items[4096];
    int   n, calls;
    size_t last_wanted;
};

static void shed(hak_arena_t *a, size_t wanted, void *arg)
{
    struct cache *c = arg;
    c->calls++;
    c->last_wanted = wanted;
    for (int i = 0; i < c->n / 2; i++) { /* drop the older half, through the arena, from inside the callback */
        cr_assert_eq(hak_arena_of(c->items[i]), a);
        hak_free(c->items[i]);
    }
    memmove(c->items, c->items + c->n / 2, (size_t)(c->n - c->n / 2) * sizeof *c->items);
    c->n -= c->n / 2;
}

Test(limits, on_limit_lets_the_subsystem_shed_and_retry)
{
    static struct cache c;
    for (unsigned flags = 0; flags <= HAK_ARENA_UNSYNCHRONIZED; flags++) {
        memset(&c, 0, sizeof c);
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.limit = 1u << 20, .on_limit = shed,
                                                                .on_limit_arg = &c, .flags = flags}), 0);
        for (int i = 0; i < 20000; i++) {
            void *p = hak_alloc(a, 1000);
            cr_assert_not_null(p, "with a shedding callback, allocation %d succeeds", i);
            cr_assert_lt(c.n, 4096);
            c.items[c.n++] = p;
            cr_assert_leq(committed_of(a), 1u << 20);
        }
        cr_assert_gt(c.calls, 0);
        cr_assert_gt(c.last_wanted, 0);
        cr_assert_eq(hak_arena_check(a), 0);
        hak_arena_destroy(a);
    }
}

/* A small cap makes small pages: a cache of 64..4096-byte objects under a 4 MiB cap, evicting its oldest entry
 * whenever an insert fails, holds most of the cap in live objects (44% when every class took 64 KiB pages). */
Test(limits, small_cap_is_filled_by_live_blocks)
{
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = (hak_policy_t)p, .limit = 4u << 20}), 0);
        static void *entry[8192];
        size_t       oldest = 0, newest = 0, least = SIZE_MAX;
        uint64_t     rng = 7;
        for (int i = 0; i < 4000; i++) {
            size_t size = 64 + test_rand(&rng) % 4033;
            void  *q;
            while (!(q = hak_alloc(a, size))) {
                cr_assert_eq(errno, ENOMEM);
                cr_assert_lt(oldest, newest, "an empty cache fits a block");
                hak_free(entry[oldest++ % 8192]);
            }
            memset(q, 1, size);
            entry[newest++ % 8192] = q;
            hak_arena_stats_t s;
            hak_arena_stats(a, &s);
            cr_assert_leq(s.committed, s.limit);
            if (oldest && i >= 2000 && s.in_use < least) /* once evictions run */
                least = s.in_use;
        }
        cr_assert_geq(least, (4u << 20) * 6 / 10, "policy %d: at least 60%% of the cap in live blocks (%zu)", p, least);
        cr_assert_eq(hak_arena_check(a), 0);
        hak_arena_destroy(a);
    }
}

/* At its cap, an arena reset after every request reuses its free, still committed slices as they are: no purge,
 * no unmapping and mapping again (a request arena at the process budget used to unmap its SuperSlab and map
 * a new one on every request: 18,000 syscalls in examples/capped_container, and page-table churn that the
 * kernel charged to the container). */
Test(limits, reset_arena_at_its_cap_reuses_its_memory)
{
    LINUX_ONLY("platform calls are syscalls");
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = (hak_policy_t)p, .limit = 1u << 20,
                                                                .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
        int n = 0;
        while (hak_alloc(a, 1000 + (n % 4) * 300))
            n++;
        cr_assert_gt(n, 300, "the cap holds blocks");
        hak_arena_reset(a);
        for (int i = 0; i < n; i++) /* the same request again: the cap is reached, not passed */
            cr_assert_not_null(hak_alloc(a, 1000 + (i % 4) * 300), "block %d of %d", i, n);
        hak_arena_reset(a);
        hak_arena_stats_t s0, s1;
        hak_arena_stats(a, &s0);
        for (int r = 0; r < 50; r++) {
            for (int i = 0; i < n; i++)
                cr_assert_not_null(hak_alloc(a, 1000 + (i % 4) * 300));
            hak_arena_reset(a);
        }
        hak_arena_stats(a, &s1);
        cr_assert_leq(s1.platform_calls - s0.platform_calls, 2, "policy %d: %llu platform calls in 50 requests", p,
                      (unsigned long long)(s1.platform_calls - s0.platform_calls));
        cr_assert_leq(s1.peak_committed, 1u << 20);
        hak_arena_destroy(a);
    }
}

Test(limits, set_limit_at_run_time)
{
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, NULL), 0);
    void *b[3000];
    for (int i = 0; i < 3000; i++)
        b[i] = hak_alloc(a, 1500);
    size_t before = committed_of(a);
    /* a block that needs new memory: larger than a SuperSlab's free tail (freestanding SuperSlabs of 128 KiB+) */
    size_t big = ON_LINUX || SLAB_MIN < 100000 ? 100000 : 2 * SLAB_MIN;
    cr_assert_eq(hak_arena_set_limit(a, before / 2), 0);
    errno = 0;
    cr_assert_null(hak_alloc(a, big), "growth fails while usage is above the new cap");
    cr_assert_eq(errno, ENOMEM);
    for (int i = 0; i < 3000; i++)
        hak_free(b[i]);
    cr_assert_not_null(hak_alloc(a, big), "growth works again once usage dropped");
    cr_assert_leq(committed_of(a), before / 2);
    cr_assert_eq(hak_arena_set_limit(a, 0), 0);
    cr_assert_eq(hak_arena_set_limit(NULL, 0), HAK_EINVAL);
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
}

Test(limits, process_budget_spans_arenas)
{
    hak_set_memory_limit(6u << 20);
    cr_assert_eq(hak_memory_limit(), 6u << 20);
    hak_arena_t *x, *y;
    cr_assert_eq(hak_arena_create(&x, NULL), 0);
    cr_assert_eq(hak_arena_create(&y, &(hak_arena_config_t){.policy = HAK_POLICY_LEAN}), 0);
    void *bx[8000];
    int   nx = 0;
    while (nx < 8000 && (bx[nx] = hak_alloc(x, 1000)))
        nx++;
    cr_assert_lt(nx, 8000, "the budget stops one arena");
    hak_arena_stats_t t;
    cr_assert_eq(hak_stats_total(&t), 0);
    cr_assert_leq(t.committed, (6u << 20) + (256u << 10), "the budget holds (within one chunk)");
    cr_assert_eq(t.limit, 6u << 20);
    errno = 0;
    cr_assert_null(hak_alloc(y, 100000), "the other arena is out of budget too");
    cr_assert_eq(errno, ENOMEM);
    for (int i = 0; i < nx; i++)
        hak_free(bx[i]); /* x keeps its empty memory (fast) ... */
    void *py = hak_alloc(y, 3u << 20); /* ... until y needs it: the budget purges x */
    cr_assert_not_null(py, "y gets memory that x held but did not use");
    hak_free(py);
    hak_set_memory_limit(0);
    cr_assert_not_null(hak_alloc(y, 8u << 20), "no budget: no limit");
    cr_assert_eq(hak_arena_check(x), 0);
    cr_assert_eq(hak_arena_check(y), 0);
    hak_arena_destroy(x);
    hak_arena_destroy(y);
}

/* SuperSlabs that destroyed arenas left in the process-wide cache count against the budget, and go first when it
 * is short: no arena uses them. */
Test(limits, the_budget_releases_cached_superslabs, .disabled = HAK_CFG_SLAB_CACHE == 0) /* (no cache) */
{
    LINUX_ONLY("the SuperSlab cache keeps memory committed only on an OS");
    hak_arena_t *x, *y;
    cr_assert_eq(hak_arena_create(&x, &(hak_arena_config_t){.policy = HAK_POLICY_FAST, .slab_size = 1u << 20}), 0);
    for (int i = 0; i < 16; i++)
        cr_assert_not_null(hak_alloc(x, 400u << 10)); /* large blocks over a few SuperSlabs */
    hak_arena_destroy(x); /* its SuperSlabs go to the cache, committed */
    hak_arena_stats_t t;
    hak_stats_total(&t);
    cr_assert_geq(t.committed, 2u << 20, "the cache holds committed SuperSlabs");
    hak_set_memory_limit(t.committed + (4u << 20));
    cr_assert_eq(hak_arena_create(&y, NULL), 0);
    void *h1 = hak_alloc(y, 3u << 20), *h2 = hak_alloc(y, 3u << 20); /* huge blocks never use cached SuperSlabs */
    cr_assert(h1 && h2, "the second 3 MiB block fits once the cache is released (%p %p)", h1, h2);
    hak_stats_total(&t);
    cr_assert_leq(t.committed, hak_memory_limit());
    hak_set_memory_limit(0);
    hak_arena_destroy(y);
}

/* A capped arena that adopts a cached SuperSlab first gives back its own empty memory, as it does before mapping a
 * fresh one (here the huge spare a fast arena keeps). */
Test(limits, a_capped_arena_adopting_a_cached_superslab_purges_itself_first)
{
    LINUX_ONLY("huge spares and the SuperSlab cache are Linux's");
    hak_arena_t *x, *y;
    cr_assert_eq(hak_arena_create(&x, &(hak_arena_config_t){.policy = HAK_POLICY_FAST, .slab_size = 1u << 20}), 0);
    cr_assert_not_null(hak_alloc(x, 400u << 10));
    hak_arena_destroy(x); /* one SuperSlab in the cache */
    cr_assert_eq(hak_arena_create(&y, &(hak_arena_config_t){.policy = HAK_POLICY_FAST, .slab_size = 1u << 20,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    hak_free(hak_alloc(y, 700u << 10)); /* kept committed as a spare */
    size_t spare = committed_of(y);
    cr_assert_geq(spare, 700u << 10);
    cr_assert_eq(hak_arena_set_limit(y, spare + (120u << 10)), 0);
    errno = 0;
    void *p = hak_alloc(y, 100u << 10); /* a SuperSlab header and 7 slices: more than the cap leaves */
    cr_assert_not_null(p, "errno %d: the spare should have gone back first", errno);
    cr_assert_leq(committed_of(y), spare + (120u << 10));
    cr_assert_eq(hak_arena_check(y), 0);
    hak_arena_destroy(y);
}

/* An aligned run needs room for its alignment in a new SuperSlab, but commits only itself: the cap is checked
 * against that. */
Test(limits, aligned_runs_under_a_cap_count_what_they_commit)
{
    LINUX_ONLY("slice runs of 256 KiB alignment are Linux's (freestanding: a dedicated chunk)");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_FAST, .limit = 300u << 10,
                                                            .slab_size = 1u << 20, .flags = HAK_ARENA_UNSYNCHRONIZED}),
                 0);
    errno = 0;
    void *p = hak_aligned_alloc(a, 256u << 10, 200u << 10); /* commits 16 KiB of header and 208 KiB */
    cr_assert_not_null(p, "errno %d", errno);
    cr_assert_eq((uintptr_t)p % (256u << 10), 0);
    cr_assert_leq(committed_of(a), 300u << 10);
    hak_free(p);
    hak_arena_destroy(a);
}

/* A lean arena reset after every request, sleeping between requests, gives back what the requests no longer use
 * (reset used to forget which free slices had aged through a purge, so they never went back). */
Test(limits, lean_arena_reset_per_request_gives_back_what_it_no_longer_uses)
{
    LINUX_ONLY("decommit is an OS call");
    SMALL_LEAN_BATCHES();
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_LEAN,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    for (int i = 0; i < 40; i++)
        cr_assert_not_null(hak_alloc(a, 200u << 10)); /* one big request: 8 MiB */
    hak_arena_reset(a);
    struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
    for (int r = 0; r < 30; r++) { /* then small ones, 800 KiB each */
        for (int i = 0; i < 8; i++)
            cr_assert_not_null(hak_alloc(a, 100u << 10));
        hak_arena_reset(a);
        nanosleep(&pause, NULL);
    }
    cr_assert_lt(committed_of(a), 2u << 20, "committed %zu after 30 small requests", committed_of(a));
    hak_arena_destroy(a);
}

/* A shrinking realloc does not fail for want of room to move to: at the cap the block stays where it is, and a
 * large one gives back its tail. */
Test(limits, shrinking_realloc_at_the_cap_keeps_the_block)
{
    SIZE_CLASSES_ONLY("a cap reached by pages");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_FAST,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    size_t big = SMALL_MAX * 5 / 2 < SLAB_MIN / 2 ? SMALL_MAX * 5 / 2 : SLAB_MIN / 2; /* a large block */
    unsigned char *p = hak_alloc(a, big);
    cr_assert_not_null(p);
    for (size_t i = 0; i < big; i++)
        p[i] = (unsigned char)(i * 7);
    size_t at_cap = committed_of(a);
    cr_assert_eq(hak_arena_set_limit(a, at_cap), 0); /* no room for any new page */
    cr_assert_null(hak_alloc(a, 1000), "at the cap: no room for a new page");
    errno = 0;
    unsigned char *q0 = hak_realloc(a, p, SMALL_MAX / 2); /* a small class: its page would need new memory */
    cr_assert_eq(q0, p, "the first shrink stays (%p, errno %d)", (void *)q0, errno);
    void *other = hak_alloc(a, 1000);
    cr_assert_not_null(other, "the slices the large block gave back hold a new page");
    size_t sizes[] = {SMALL_MAX / 3, 100, 0};
    for (int k = 0; k < 3; k++) {
        errno = 0;
        unsigned char *q = hak_realloc(a, p, sizes[k]); /* in place, or moved into room the last shrink made */
        cr_assert_not_null(q, "shrink to %zu failed (errno %d)", sizes[k], errno);
        for (size_t i = 0; i < sizes[k]; i++)
            cr_assert_eq(q[i], (unsigned char)(i * 7));
        cr_assert_geq(hak_usable_size(q), sizes[k]);
        p = q;
        cr_assert_leq(committed_of(a), at_cap);
        cr_assert_eq(hak_arena_check(a), 0);
    }
    hak_free(p);
    hak_free(other);
    hak_arena_destroy(a);
}

static char env_message[200]; /* the first HAK_ERR_BAD_ENV message (in the child) */

static void count_env_reports(int code, const char *message, void *ptr, void *arg)
{
    (void)ptr;
    if (code == HAK_ERR_BAD_ENV && !(*(int *)arg)++)
        snprintf(env_message, sizeof env_message, "%s", message);
}

/* In a new process with environment variable `name` set to `value` (unset for NULL): the process budget after
 * creating an arena, that arena's stats as JSON, and how often HAK_ERR_BAD_ENV was reported (the variables are
 * read once; a second arena must not report again). */
typedef struct {
    size_t limit;
    int    env_reports;
    char   json[512];
    char   message[200]; /* the first report's */
} env_answer_t;

static env_answer_t env_in_child(const char *name, const char *value)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (value)
            setenv(name, value, 1);
        else
            unsetenv(name);
        env_answer_t ans = {0};
        hak_set_error_handler(count_env_reports, &ans.env_reports);
        hak_arena_t *a, *b;
        if (hak_arena_create(&a, NULL) || hak_arena_create(&b, NULL) ||
            hak_arena_stats_json(a, ans.json, sizeof ans.json) <= 0)
            _exit(2);
        ans.limit = hak_memory_limit();
        memcpy(ans.message, env_message, sizeof ans.message);
        hak_arena_destroy(a);
        hak_arena_destroy(b);
        _exit(write(fd[1], &ans, sizeof ans) == sizeof ans ? 0 : 1);
    }
    env_answer_t ans;
    cr_assert_eq(read(fd[0], &ans, sizeof ans), (ssize_t)sizeof ans, "%s=%s: no answer", name, value);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    close(fd[0]);
    close(fd[1]);
    return ans;
}

/* A report quotes the value it could not read (cut at 48 characters). */
Test(limits, environment_reports_quote_the_value)
{
    LINUX_ONLY("no environment without an OS");
    env_answer_t ans = env_in_child("HAKMEM_LIMIT", "12 parsecs");
    cr_assert_str_eq(ans.message, "HAKMEM_LIMIT=\"12 parsecs\" is no size, percentage (0-100%) or off: ignored");
    ans = env_in_child("HAKMEM_POLICY", "speedy");
    cr_assert_str_eq(ans.message, "HAKMEM_POLICY=\"speedy\" is neither fast nor lean: ignored");
    ans = env_in_child("HAKMEM_POLICY", "fast lean fast lean fast lean fast lean fast lea...lean");
    cr_assert_str_eq(ans.message, "HAKMEM_POLICY=\"fast lean fast lean fast lean fast lean fast lea...\" is "
                                  "neither fast nor lean: ignored");
    ans = env_in_child("HAKMEM_POLICY", "lean\nfast\x1b[2J"); /* the report stays one line */
    cr_assert_str_eq(ans.message, "HAKMEM_POLICY=\"lean?fast?[2J\" is neither fast nor lean: ignored");
}

static size_t limit_in_child(const char *value, int *reports)
{
    env_answer_t ans = env_in_child("HAKMEM_LIMIT", value);
    *reports = ans.env_reports;
    return ans.limit;
}

Test(limits, hakmem_limit_environment_variable)
{
    LINUX_ONLY("no environment without an OS");
    int    reports;
    size_t dflt = limit_in_child(NULL, &reports); /* what a value that cannot be read leaves: the cgroup's share */
    cr_assert_eq(reports, 0);
    static const struct { const char *value; uint64_t bytes; bool unreadable; } cases[] = {
        {"12MiB", 12u << 20, false}, {"12m", 12u << 20, false}, {"3GiB", (uint64_t)3 << 30, false},
        {"8GiB", (uint64_t)8 << 30, false}, {"4294967296", (uint64_t)1 << 32, false},
        {"65536", 65536, false}, {"64KiB", 64u << 10, false}, {"off", 0, false}, {"OFF", 0, false},
        {" 512MiB\n", 512u << 20, false}, {"2tb", (uint64_t)2 << 40, false}, {"0", 0, false},
        {"18446744073709551615", UINT64_MAX, false}, {"18446744073709551616", 0, true}, {"1.5GiB", 0, true},
        {"150%", 0, true}, {"12 parsecs", 0, true}, {"", 0, true}, {"%", 0, true}, {"offf", 0, true},
        {"16EiB", 0, true}, {"20000000TiB", 0, true}, {"512 MiB", 512u << 20, false}, {" 1 k ", 1024, false},
        {"2\tG\r", (uint64_t)2 << 30, false}, {"12 MiB x", 0, true}, {"1 2MiB", 0, true}, {"MiB", 0, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t got = limit_in_child(cases[i].value, &reports); /* (beyond size_t, e.g. 3GiB+ on -m32: SIZE_MAX) */
        bool   readable = !cases[i].unreadable;
        size_t bytes = cases[i].bytes > SIZE_MAX ? SIZE_MAX : (size_t)cases[i].bytes;
        cr_assert_eq(got, readable ? bytes : dflt, "HAKMEM_LIMIT=\"%s\": %zu", cases[i].value, got);
        cr_assert_eq(reports, !readable, "HAKMEM_LIMIT=\"%s\": reported %d times", cases[i].value, reports);
    }
}

Test(limits, hakmem_policy_environment_variable)
{
    LINUX_ONLY("no environment without an OS");
    static const struct { const char *value, *policy; int reports; } cases[] = {
        {"lean", "\"policy\":\"lean\"", 0}, {"fast", "\"policy\":\"fast\"", 0},
        {"Lean", "\"policy\":\"lean\"", 0}, {" FAST\n", "\"policy\":\"fast\"", 0}, {"lean!", NULL, 1},
        {"lean\r\n", "\"policy\":\"lean\"", 0}, {"\r fast", "\"policy\":\"fast\"", 0}, /* (as HAKMEM_LIMIT) */
        {"slow", NULL, 1}, {"", NULL, 1}, {"le an", NULL, 1}, {NULL, NULL, 0},
    };
    env_answer_t unset = env_in_child("HAKMEM_POLICY", NULL); /* the build's default policy */
    const char  *dflt = strstr(unset.json, "\"policy\":\"lean\"") ? "\"policy\":\"lean\"" : "\"policy\":\"fast\"";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        env_answer_t ans = env_in_child("HAKMEM_POLICY", cases[i].value);
        const char  *want = cases[i].policy ? cases[i].policy : dflt;
        cr_assert(strstr(ans.json, want), "HAKMEM_POLICY=%s: %s", cases[i].value, ans.json);
        cr_assert_eq(ans.env_reports, cases[i].reports, "HAKMEM_POLICY=%s: reported %d times", cases[i].value,
                     ans.env_reports);
    }
}

static void collect(const char *line, void *arg)
{
    strncat(arg, line, 511);
}

Test(limits, stats_as_json_and_text)
{
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.name = "json\"test", .limit = 123456789}), 0);
    void *p = hak_alloc(a, 100);
    char  buf[1024];
    size_t n = hak_arena_stats_json(a, buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    cr_assert(strstr(buf, "\"name\":\"json\\\"test\""), "%s", buf);
    cr_assert(strstr(buf, "\"limit\":123456789"), "%s", buf);
    char json_in_use[32], text_in_use[32]; /* (112 bytes with size classes) */
    snprintf(json_in_use, sizeof json_in_use, "\"in_use\":%zu", hak_usable_size(p));
    snprintf(text_in_use, sizeof text_in_use, "in_use=%zu", hak_usable_size(p));
    cr_assert(strstr(buf, json_in_use), "%s", buf);
    cr_assert_eq(buf[0], '{');
    cr_assert_eq(buf[n - 1], '}');
    char small[10];
    cr_assert_eq(hak_arena_stats_json(a, small, sizeof small), n, "the needed length, even when truncated");
    cr_assert_eq(strlen(small), sizeof small - 1);
    static char text[512];
    cr_assert_eq(hak_arena_report(a, collect, text), 0);
    cr_assert(strstr(text, "arena json\"test policy=") && strstr(text, text_in_use), "%s", text);
    cr_assert_eq(hak_arena_report(a, NULL, NULL), HAK_EINVAL);
    hak_free(p);
    hak_arena_destroy(a);
    cr_assert_eq(hak_arena_stats_json(NULL, buf, sizeof buf), 0);
    cr_assert_eq(buf[0], 0);
}

/* Lean batches give back what stayed free for a whole batch, not what the working set takes again. Each round
 * allocates 40,000-byte blocks (four to a 160 KiB page) and frees them: the pages it empties are a quarter more
 * than a batch (HAK_LEAN_BATCH_KIB). Giving back every batch made two madvise calls per round; with slices aged
 * by one batch only what a round leaves idle goes back, every few rounds. hak_arena_trim still gets everything. */
Test(limits, lean_batches_spare_memory_that_is_reused)
{
    LINUX_ONLY("platform calls are syscalls");
    SMALL_LEAN_BATCHES();
    if (!HAK_CFG_LEAN_INTERVAL_MS) /* (then each round's frees, which halve the memory in use, all go back at once) */
        cr_skip_test("HAK_LEAN_INTERVAL_MS is 0 in this build");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.slab_size = 1u << 20, .policy = HAK_POLICY_LEAN,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    size_t            page = 160u << 10, batch = (size_t)HAK_CFG_LEAN_BATCH_KIB << 10;
    int               n = 4 * (int)((batch + batch / 4 + page - 1) / page + 1); /* + the page the bin keeps */
    void             *b[64];
    hak_arena_stats_t s0 = {0}, s1;
    cr_assert_leq(n, 64);
    for (int round = 0; round < 2000; round++) {
        for (int i = 0; i < n; i++)
            cr_assert_not_null(b[i] = hak_alloc(a, 40000));
        for (int i = 0; i < n; i++)
            memset(b[i], round, 64);
        if (round == 10)
            hak_arena_stats(a, &s0);
        for (int i = 0; i < n; i++)
            hak_free(b[i]);
    }
    hak_arena_stats(a, &s1);
    cr_assert_lt(s1.platform_calls - s0.platform_calls, 1000, "%llu platform calls in 1,990 rounds",
                 (unsigned long long)(s1.platform_calls - s0.platform_calls));
    cr_assert_gt(hak_arena_trim(a), batch, "trim gives back the last round's pages");
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A lean arena under random churn of mid-size blocks (pages empty and are taken again all the time) purges at most
 * once per HAK_LEAN_INTERVAL_MS: its platform calls are bounded by the time it ran, not by its operations (each
 * purge here makes a few calls, one per run of idle slices; without the interval it was thousands). */
Test(limits, lean_churn_purges_at_most_once_per_interval)
{
    LINUX_ONLY("a clock paces the purges");
    if (!HAK_CFG_LEAN_INTERVAL_MS)
        cr_skip_test("HAK_LEAN_INTERVAL_MS is 0 in this build");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_LEAN,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    void             *slot[128] = {0};
    uint64_t          rng = 5;
    hak_arena_stats_t s0, s1;
    hak_arena_stats(a, &s0);
    double t0 = now_ms(), ms = 0;
    long   ops = 0;
    for (; ops < 200000 || ms < 50; ops++) {
        unsigned k = (unsigned)(test_rand(&rng) % 128);
        if (slot[k]) {
            hak_free(slot[k]);
            slot[k] = NULL;
        } else {
            size_t n = 1024 + test_rand(&rng) % 65536;
            cr_assert_not_null(slot[k] = hak_alloc(a, n));
            memset(slot[k], 7, 64);
        }
        if (ops % 1024 == 0)
            ms = now_ms() - t0;
    }
    ms = now_ms() - t0;
    hak_arena_stats(a, &s1);
    unsigned long long calls = s1.platform_calls - s0.platform_calls;
    /* (a double divisor: this line is compiled in a build with the interval 0 too, where the test skips) */
    cr_assert_leq(calls, 64 * (unsigned long long)(ms / (double)HAK_CFG_LEAN_INTERVAL_MS + 2),
                  "%llu platform calls in %.0f ms (%ld ops)", calls, ms, ops);
    for (int k = 0; k < 128; k++)
        hak_free(slot[k]);
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
}

/* Resident OS pages among those that lie wholly in [from, to). */
static size_t resident_pages(const void *from, const void *to)
{
    size_t        page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t     lo = ((uintptr_t)from + page - 1) & ~(uintptr_t)(page - 1), hi = (uintptr_t)to & ~(page - 1);
    unsigned char vec[1024];
    size_t        n = hi > lo ? (hi - lo) / page : 0, count = 0;
    cr_assert_leq(n, sizeof vec);
    cr_assert_eq(mincore((void *)lo, n * page, vec), 0);
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    return count;
}

/* hak_arena_trim gives back the OS pages inside free blocks of 8 KiB and more (past their first 16 bytes), not
 * only page tails: a working set of 40 KB buffers that halved keeps its free blocks, not their memory. */
Test(limits, trim_gives_back_the_inside_of_free_mid_size_blocks)
{
    LINUX_ONLY("resident memory");
    enum { N = 64, SIZE = 40000 };
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = (hak_policy_t)p,
                                                                .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
        unsigned char *b[N];
        for (int i = 0; i < N; i++) {
            cr_assert_not_null(b[i] = hak_alloc(a, SIZE));
            memset(b[i], i, SIZE);
        }
        for (int i = 0; i < N - 1; i += 2) /* every other one: the pages stay, their tails are live */
            hak_free(b[i]);
        hak_arena_trim(a);
        size_t left = 0;
        for (int i = 0; i < N - 1; i += 2)
            left += resident_pages(b[i] + 4096, b[i] + SIZE - 4096);
        cr_assert_eq(left, 0, "policy %d: %zu OS pages inside free blocks stay resident", p, left);
        for (int i = 1; i < N; i += 2)
            for (int k = 0; k < SIZE; k += 997)
                cr_assert_eq(b[i][k], (unsigned char)i, "live blocks keep their contents");
        for (int i = 0; i < N - 1; i += 2) { /* the free blocks are handed out again, whole */
            cr_assert_not_null(b[i] = hak_alloc(a, SIZE));
            memset(b[i], 7, SIZE);
        }
        cr_assert_eq(hak_arena_check(a), 0);
        hak_arena_destroy(a);
    }
}

/* A huge block shrunk by moving its pages (mremap) keeps no resident page past its new end: `committed` stops
 * counting them, so they would be memory over the cap that no stats show. */
Test(limits, a_huge_block_shrunk_by_a_move_leaves_no_pages_behind)
{
    LINUX_ONLY("resident pages (mincore)");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.limit = 4u << 20}), 0);
    char *p = hak_alloc(a, 1900u << 10);
    cr_assert_not_null(p);
    memset(p, 1, 1900u << 10);
    char *q = hak_realloc(a, p, 600u << 10);
    cr_assert_not_null(q);
    cr_assert_eq(q[0], 1);
    cr_assert_eq(q[(600u << 10) - 1], 1);
    const char *end = (const char *)(((uintptr_t)q & ~(uintptr_t)((1u << 20) - 1)) + (1u << 20));
    size_t      left = resident_pages(q + hak_usable_size(q), end);
    cr_assert_eq(left, 0, "%zu pages past the block's end still resident", left);
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
}

/* The automatic trim tests give their arenas a short trim interval (the builds' are 1 and 10 s) and wait it out.
 * An arena reads no clock for its trims until it has touched 256 KiB of new memory for small blocks, so these
 * arenas first take and free 4 MiB of 4 KiB blocks (hardened builds count a page's random refills, not its
 * blocks): their clock starts there. */
#define TEST_TRIM_MS 200

static hak_arena_t *trimming_arena(hak_policy_t policy, unsigned trim_ms)
{
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = policy, .trim_ms = trim_ms,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    static void *grown[1024];
    for (int i = 0; i < 1024; i++) {
        cr_assert_not_null(grown[i] = hak_alloc(a, 4096));
        memset(grown[i], 3, 4096);
    }
    for (int i = 0; i < 1024; i++)
        hak_free(grown[i]);
    return a;
}

static void wait_trim_interval(void)
{
    nanosleep(&(struct timespec){.tv_nsec = (TEST_TRIM_MS + 50) * 1000000L}, NULL);
}

enum { TAIL_BLOCKS = 1000, TAIL_KEPT = 10 }; /* 64-byte blocks: one 64 KiB page */

static int by_address(const void *x, const void *y)
{
    uintptr_t p = (uintptr_t) * (void *const *)x, q = (uintptr_t) * (void *const *)y;
    return (p > q) - (p < q);
}

/* An arena holding a few blocks of many classes commits a slice per class, not a 64 KiB page each: caps and the
 * budget judge by `committed` (100 request arenas with a block of each of ten classes committed 67 MiB for 2.4 MiB
 * live, and a 32 MiB budget refused the 47th). */
Test(limits, a_few_blocks_per_class_commit_a_slice_each)
{
    LINUX_ONLY("the Linux page sizes");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, NULL), 0);
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    size_t empty = st.committed;
    for (size_t size = 16; size <= 256; size += 16)
        for (int i = 0; i < 3; i++)
            cr_assert_not_null(hak_alloc(a, size));
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_leq(st.committed - empty, 16 * FIRST_PAGE + (64u << 10), "16 classes: %zu KiB committed",
                  (st.committed - empty) >> 10);
    hak_arena_reset(a); /* first pages again */
    for (size_t size = 16; size <= 256; size += 16)
        cr_assert_not_null(hak_alloc(a, size));
    cr_assert_eq(hak_arena_check(a), 0);
    for (int i = 0; i < 5000; i++) /* a class that outgrows its first page goes on in 64 KiB pages */
        cr_assert_not_null(hak_alloc(a, 64));
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
}

/* Fills the first page of a class of up to 256-byte blocks (one slice), so that the blocks of `size` allocated
 * next come from a 64 KiB page. */
static void fill_first_page(hak_arena_t *a, size_t size)
{
    for (size_t i = 0; i < FIRST_PAGE / size; i++)
        cr_assert_not_null(hak_alloc(a, size));
}

/* Fills most of a page with 64-byte blocks (b[] sorted by address: hardened builds hand them out in random order)
 * and frees all but the lowest TAIL_KEPT + 1: the page's high-water mark stays at the highest block. */
static void make_tail(hak_arena_t *a, unsigned char **b)
{
    fill_first_page(a, 64);
    for (int i = 0; i < TAIL_BLOCKS; i++)
        cr_assert_not_null(b[i] = hak_alloc(a, 64));
    qsort(b, TAIL_BLOCKS, sizeof *b, by_address);
    cr_assert_lt(b[TAIL_BLOCKS - 1] - b[0], 64 << 10, "one page");
    for (int i = 0; i < TAIL_BLOCKS; i++)
        memset(b[i], i & 0xff, 64);
    for (int i = TAIL_KEPT + 1; i < TAIL_BLOCKS; i++)
        hak_free(b[i]);
}

/* A lean class that would touch new memory takes free blocks of a slightly larger class, already resident, instead
 * (up to four class steps up, blocks as aligned as its own): 48-byte requests are served from the free 64-byte
 * blocks of a page that once held 1,000. A fast arena gives them a page of their own. */
Test(limits, lean_classes_borrow_resident_blocks)
{
    LINUX_ONLY("static memory is not resident or not: lean arenas there borrow nothing");
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t   *a = trimming_arena((hak_policy_t)p, HAK_TRIM_NEVER);
        unsigned char *b[TAIL_BLOCKS], *small[TAIL_BLOCKS - TAIL_KEPT - 1];
        make_tail(a, b);
        int borrowed = 0;
        for (int i = 0; i < TAIL_BLOCKS - TAIL_KEPT - 1; i++) {
            cr_assert_not_null(small[i] = hak_alloc(a, 48));
            memset(small[i], 0x5a, 48);
            bool in_page = small[i] >= b[0] && small[i] <= b[TAIL_BLOCKS - 1];
            cr_assert_eq(hak_usable_size(small[i]), in_page ? 64u : 48u);
            borrowed += in_page;
        }
        if (p == HAK_POLICY_LEAN)
            cr_assert_eq(borrowed, TAIL_BLOCKS - TAIL_KEPT - 1, "lean: every block borrowed (%d)", borrowed);
        else
            cr_assert_eq(borrowed, 0, "fast: none borrowed (%d)", borrowed);
        for (int i = 0; i <= TAIL_KEPT; i++)
            cr_assert_eq(b[i][63], i & 0xff, "the 64-byte blocks keep their contents");
        cr_assert_eq(hak_arena_check(a), 0);
        for (int i = 0; i < TAIL_BLOCKS - TAIL_KEPT - 1; i++)
            hak_free(small[i]);
        cr_assert_not_null(b[TAIL_KEPT + 1] = hak_alloc(a, 64)); /* the lent blocks are the class's own again */
        cr_assert(b[TAIL_KEPT + 1] >= b[0] && b[TAIL_KEPT + 1] <= b[TAIL_BLOCKS - 1]);
        cr_assert_eq(hak_arena_check(a), 0);
        hak_arena_destroy(a);
    }
}

/* hak_arena_trim gives back the OS pages above a page's highest live block (both policies); the blocks there are
 * handed out again, the live ones keep their contents, and a free of an old pointer above is reported. */
Test(limits, trim_gives_back_page_tails_above_live_blocks)
{
    LINUX_ONLY("giving memory back to an OS");
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = (hak_policy_t)p,
                                                                .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
        unsigned char *b[TAIL_BLOCKS];
        make_tail(a, b);
        unsigned char *top = b[TAIL_KEPT] + 64, *end = b[TAIL_BLOCKS - 1] + 64;
        size_t         before = resident_pages(top, end);
        cr_assert_geq(before, 14, "the freed blocks' pages are resident (%zu)", before);
        hak_arena_trim(a);
        cr_assert_eq(resident_pages(top, end), 0, "policy %d: the tail went back", p);
        cr_assert_eq(hak_arena_check(a), 0);
        record_errors();
        if (!HAK_CFG_INVALID_FREE_ABORT) { /* (a bad free aborts there) */
            hak_free(b[500]);
            cr_assert_eq(reported.count, 1, "an old pointer into the tail is no block any more");
        }
        hak_set_error_handler(NULL, NULL);
        for (int i = 0; i <= TAIL_KEPT; i++)
            for (int j = 0; j < 64; j++)
                cr_assert_eq(b[i][j], i & 0xff, "live blocks keep their contents");
        for (int i = TAIL_KEPT + 1; i < TAIL_BLOCKS; i++) {
            cr_assert_not_null(b[i] = hak_alloc(a, 64));
            cr_assert(b[i] > b[TAIL_KEPT] || b[i] < b[0], "no live block is handed out twice");
            memset(b[i], 0x5a, 64);
        }
        cr_assert_eq(hak_arena_check(a), 0);
        for (int i = 0; i < TAIL_BLOCKS; i++)
            hak_free(b[i]);
        cr_assert_eq(hak_arena_check(a), 0);
        hak_arena_destroy(a);
    }
}

/* An arena trims page tails by itself, at most once per its trim_ms, when it touches new memory for small blocks:
 * lean and fast ones alike. With HAK_TRIM_NEVER, before its interval has passed (a fast arena's default is 10 s),
 * or while it is young (it touched less than 256 KiB of new memory since its creation or its last reset), an arena
 * keeps them until hak_arena_trim. */
Test(limits, arenas_trim_page_tails_by_themselves)
{
    LINUX_ONLY("a clock paces the trims");
    enum { ARENAS = 6 };
    enum age { WARM, NEW, RESET }; /* past its first 256 KiB of new memory (trimming_arena); new; warm, then reset */
    static const struct {
        hak_policy_t policy;
        unsigned     trim_ms;
        enum age     age;
        bool         trims;
    } cases[ARENAS] = {
        {HAK_POLICY_LEAN, TEST_TRIM_MS, WARM, true},
        {HAK_POLICY_FAST, TEST_TRIM_MS, WARM, true},
        {HAK_POLICY_FAST, 0, WARM, HAK_CFG_FAST_TRIM_MS && HAK_CFG_FAST_TRIM_MS <= TEST_TRIM_MS}, /* (0: never) */
        {HAK_POLICY_LEAN, HAK_TRIM_NEVER, WARM, false},
        {HAK_POLICY_LEAN, TEST_TRIM_MS, NEW, false}, /* the tail and the 512-byte blocks: 24 pages of new memory */
        {HAK_POLICY_FAST, TEST_TRIM_MS, RESET, false},
    };
    hak_arena_t   *a[ARENAS];
    unsigned char *b[ARENAS][TAIL_BLOCKS], *more[ARENAS][64];
    for (int k = 0; k < ARENAS; k++) {
        if (cases[k].age == NEW)
            cr_assert_eq(hak_arena_create(&a[k], &(hak_arena_config_t){.policy = cases[k].policy,
                                                                       .trim_ms = cases[k].trim_ms,
                                                                       .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
        else
            a[k] = trimming_arena(cases[k].policy, cases[k].trim_ms);
        if (cases[k].age == RESET)
            hak_arena_reset(a[k]);
        make_tail(a[k], b[k]);
    }
    wait_trim_interval();
    for (int k = 0; k < ARENAS; k++) {
        for (int i = 0; i < 64; i++) { /* 32 KiB of another class: new memory */
            cr_assert_not_null(more[k][i] = hak_alloc(a[k], 512));
            memset(more[k][i], 1, 512);
        }
        size_t left = resident_pages(b[k][TAIL_KEPT] + 64, b[k][TAIL_BLOCKS - 1] + 64);
        if (cases[k].trims)
            cr_assert_eq(left, 0, "arena %d: the tail went back (%zu pages left)", k, left);
        else
            cr_assert_geq(left, 14, "arena %d: the tail stays (%zu pages)", k, left);
        cr_assert_eq(hak_arena_check(a[k]), 0);
        hak_arena_destroy(a[k]);
    }
}

/* A lean arena's own trims walk a bounded number of free blocks per allocation: 40 pages of 64-byte blocks, each
 * with one live block at its start and 1,023 free above it, go back over several allocations that touch new
 * memory, not all at the first. */
Test(limits, lean_trims_page_tails_in_steps)
{
    LINUX_ONLY("a clock paces the trims");
    enum { PAGES = 40, PER_PAGE = 1024 }; /* 64 KiB pages of 64-byte blocks */
    hak_arena_t *a = trimming_arena(HAK_POLICY_LEAN, TEST_TRIM_MS);
    static unsigned char *b[PAGES * PER_PAGE];
    fill_first_page(a, 64);
    for (int i = 0; i < PAGES * PER_PAGE; i++) {
        cr_assert_not_null(b[i] = hak_alloc(a, 64));
        memset(b[i], 1, 64);
    }
    qsort(b, PAGES * PER_PAGE, sizeof *b, by_address);
    for (int i = 0; i < PAGES * PER_PAGE; i++)
        if (i % PER_PAGE) /* every page keeps its lowest block */
            hak_free(b[i]);
    wait_trim_interval();
    int gone[2] = {0, 0};
    for (int step = 0; step < 2; step++) {
        /* the first call: a new page of another class; then 4 KiB more of it, i.e. new memory again and again */
        for (int i = 0; i < (step ? 4 * PAGES : 1); i++)
            memset(hak_alloc(a, 1024), 2, 1024);
        for (int p = 0; p < PAGES; p++) {
            unsigned char *page = b[p * PER_PAGE];
            gone[step] += resident_pages(page + 4096, page + PER_PAGE * 64 - 4096) == 0;
            cr_assert_eq(page[0], 1, "the live block keeps its contents");
        }
    }
    cr_assert_gt(gone[0], 0, "the first allocation into new memory trims some tails");
    cr_assert_lt(gone[0], PAGES / 2, "but not all at once (%d of %d)", gone[0], PAGES);
    cr_assert_eq(gone[1], PAGES, "later ones trim the rest (%d of %d)", gone[1], PAGES);
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
}

/* A round of trims under way while pages fill up, empty and leave their bins (its cursor page among them): every
 * structure stays consistent and every live block keeps its contents. */
Test(limits, lean_trim_rounds_survive_page_churn)
{
    LINUX_ONLY("a clock paces the trims");
    enum { N = 60000 };
    hak_arena_t *a = trimming_arena(HAK_POLICY_LEAN, TEST_TRIM_MS);
    static unsigned char *b[N];
    static size_t         len[N];
    for (int i = 0; i < N; i++) { /* 235 pages of 256-byte blocks, then 90% of the blocks freed: long free lists */
        len[i] = 256;
        cr_assert_not_null(b[i] = hak_alloc(a, len[i]));
        memset(b[i], (int)(i & 0xff), len[i]);
    }
    for (int i = 0; i < N; i++)
        if (i % 10) {
            hak_free(b[i]);
            b[i] = NULL;
        }
    wait_trim_interval();
    uint64_t rng = 5;
    /* A 9000-byte block starts a new page: the round's first step, which stops some 18 pages into the class.
     * Then every page of the first blocks empties and leaves its bin, the page the round was to go on with among
     * them, and more 9000-byte blocks take their slices (in pages of another length, so the old page headers are
     * stale) and more steps: a step that went on at the old page would decommit some of them. */
    enum { BIG = 300, BIG_SIZE = 9000 };
    static unsigned char *kb[BIG];
    cr_assert_not_null(kb[0] = hak_alloc(a, BIG_SIZE));
    memset(kb[0], 0, BIG_SIZE);
    for (int i = 0; i < N; i++)
        if (b[i]) {
            hak_free(b[i]);
            b[i] = NULL;
        }
    for (int i = 1; i < BIG; i++) {
        cr_assert_not_null(kb[i] = hak_alloc(a, BIG_SIZE));
        memset(kb[i], i & 0xff, BIG_SIZE);
    }
    for (int i = 0; i < BIG; i++) {
        for (int j = 0; j < BIG_SIZE; j += 512)
            cr_assert_eq(kb[i][j], (unsigned char)(i & 0xff), "block %d keeps its contents", i);
        hak_free(kb[i]);
    }
    cr_assert_eq(hak_arena_check(a), 0);
    for (int op = 1; op <= 400000; op++) { /* then random traffic of 16..1024 bytes */
        size_t k = test_rand(&rng) % N;
        if (b[k]) {
            for (size_t j = 0; j < len[k]; j += 61)
                cr_assert_eq(b[k][j], (unsigned char)(k & 0xff));
            hak_free(b[k]);
            b[k] = NULL;
        } else {
            len[k] = 16 + test_rand(&rng) % 1009;
            cr_assert_not_null(b[k] = hak_alloc(a, len[k]));
            memset(b[k], (int)(k & 0xff), len[k]);
        }
        if (op % 50000 == 0)
            cr_assert_eq(hak_arena_check(a), 0, "after %d operations", op);
    }
    hak_arena_destroy(a);
}

/* A lean arena whose working set goes away right after it churned gives it back as it is freed: the frees were
 * taken for more churn (the takes before them counted), their batches deferred, and an arena that then went idle
 * kept its whole working set. */
Test(limits, lean_gives_back_a_working_set_freed_right_after_churn)
{
    LINUX_ONLY("a clock paces the purges");
    SMALL_LEAN_BATCHES();
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_LEAN,
                                                            .flags = HAK_ARENA_UNSYNCHRONIZED}), 0);
    static void *slot[400];
    uint64_t     rng = 7;
    for (int op = 0; op < 400000; op++) { /* random_mixed_large: 1..64 KiB */
        int k = (int)(test_rand(&rng) % 400);
        if (slot[k]) {
            hak_free(slot[k]);
            slot[k] = NULL;
        } else {
            size_t size = 1024 + test_rand(&rng) % (63 * 1024);
            cr_assert_not_null(slot[k] = hak_alloc(a, size));
            memset(slot[k], 1, 64);
        }
    }
    for (int k = 0; k < 400; k++)
        hak_free(slot[k]);
    hak_arena_stats_t s;
    cr_assert_eq(hak_arena_stats(a, &s), 0);
    cr_assert_lt(s.committed, s.in_use + (2u << 20), "committed %zu, live %zu", s.committed, s.in_use);
    hak_arena_destroy(a);
}

/* hak_arena_trim returns by how much `committed` fell during the call, including what the calling thread's cache
 * gave back first (a lean batch that the blocks it held had kept back). */
Test(limits, trim_counts_what_the_callers_cache_gave_back)
{
    LINUX_ONLY("giving memory back to an OS");
    if (!HAK_CFG_TCACHE)
        cr_skip_test("no per-thread caches in this build");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_LEAN}), 0);
    static void *b[60000];
    uint64_t     rng = 3;
    for (int i = 0; i < 60000; i++)
        cr_assert_not_null(b[i] = hak_alloc(a, 16 + test_rand(&rng) % 1024));
    for (int i = 59999; i > 0; i--) { /* a random order: the blocks the cache keeps pin pages */
        int   j = (int)(test_rand(&rng) % (uint64_t)(i + 1));
        void *t = b[i];
        b[i] = b[j], b[j] = t;
    }
    for (int i = 0; i < 60000; i++)
        hak_free(b[i]);
    hak_arena_stats_t before, after;
    cr_assert_eq(hak_stats_total(&before), 0); /* (does not take back the caller's cache) */
    size_t released = hak_arena_trim(a);
    cr_assert_eq(hak_stats_total(&after), 0);
    cr_assert_eq(released, before.committed - after.committed, "trim says %zu, committed fell by %zu", released,
                 before.committed - after.committed);
    hak_arena_destroy(a);
}

/* Lean gives a freed burst back by itself (in batches); fast keeps it until hak_arena_trim. */
Test(limits, burst_of_256_mib_is_given_back)
{
    LINUX_ONLY("giving memory back to an OS");
    SMALL_LEAN_BATCHES();
    for (int p = HAK_POLICY_FAST; p <= HAK_POLICY_LEAN; p++) {
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = (hak_policy_t)p}), 0);
        static void *live[1000], *burst[200000];
        for (int i = 0; i < 1000; i++)
            live[i] = hak_alloc(a, 1000);
        size_t   total = 0;
        int      n = 0;
        uint64_t rng = 99;
        while (total < (256u << 20)) {
            size_t size = 16 + test_rand(&rng) % (test_rand(&rng) % 8 ? 4096 : 200000);
            burst[n] = hak_alloc(a, size);
            cr_assert_not_null(burst[n]);
            memset(burst[n], 1, size < 64 ? size : 64);
            total += size, n++;
        }
        for (int i = 0; i < n; i++)
            hak_free(burst[i]);
        hak_arena_stats_t s;
        hak_arena_stats(a, &s);
        if (p == HAK_POLICY_LEAN)
            cr_assert_lt(s.committed, s.in_use + (2u << 20), "lean: committed %zu, live %zu", s.committed, s.in_use);
        else
            cr_assert_gt(s.committed, 128u << 20, "fast keeps the burst's memory for reuse");
        hak_arena_trim(a);
        hak_arena_stats(a, &s);
        cr_assert_lt(s.committed, s.in_use + (2u << 20), "after trim: committed %zu, live %zu", s.committed,
                     s.in_use);
        cr_assert_eq(hak_arena_check(a), 0);
        for (int i = 0; i < 1000; i++)
            hak_free(live[i]);
        hak_arena_destroy(a);
    }
}

#if !HAK_CFG_FREESTANDING
#include <sys/stat.h>

#include "platform/linux/cgroup.h"

/* Writes `text` to dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* The limit _hak_cgroup_limit finds for the cgroup file dir/cgroup_file and the mount table dir/mountinfo. */
static size_t limit_in(const char *dir, const char *cgroup_file)
{
    char cg[512], mounts[512];
    snprintf(cg, sizeof cg, "%s/%s", dir, cgroup_file);
    snprintf(mounts, sizeof mounts, "%s/mountinfo", dir);
    return _hak_cgroup_limit(cg, mounts);
}

/* A scratch directory `dir` (a mkdtemp template) with a mount table being written: the caller closes it. */
static FILE *scratch_mountinfo(char *dir)
{
    char path[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/mountinfo", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    return f;
}

static void make_dirs(const char *dir, const char *const *names, size_t n)
{
    char path[512];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
    }
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A host's mountinfo can run to thousands of lines; the cgroup mount may come last, after lines longer than any
 * path. The limit is the smallest over the cgroup and its ancestors, "max" and v1's unlimited sentinel aside. */
Test(limits, cgroup_limit_is_found_behind_long_mount_tables)
{
    char  dir[] = "/tmp/hakmem-cgroup-XXXXXX";
    FILE *f = scratch_mountinfo(dir);
    for (int i = 0; i < 3000; i++)
        fprintf(f, "%d 1 0:%d / /mnt/filler%d rw,relatime - tmpfs tmpfs rw\n", 100 + i, i, i);
    fprintf(f, "99 1 0:7 / /mnt/");
    for (int i = 0; i < 5000; i++)
        fputc('x', f);
    fprintf(f, " rw - cgroup2 cgroup2 rw\n"); /* longer than any path: skipped whole */
    fprintf(f, "30 25 0:26 / %s/v2 rw,nosuid - cgroup2 cgroup2 rw\n", dir);
    fprintf(f, "40 25 0:30 /docker %s/v1 rw - cgroup cgroup rw,memory", dir); /* the last line has no newline */
    fclose(f);
    const char *made[] = {"v2", "v2/svc", "v2/svc/worker", "v1", "v1/c1"};
    make_dirs(dir, made, sizeof made / sizeof made[0]);
    put(dir, "cgroup2", "0::/svc/worker\n");
    put(dir, "v2/svc/worker/memory.max", "max\n");
    put(dir, "v2/svc/memory.max", "123456789\n");
    cr_assert_eq(limit_in(dir, "cgroup2"), 123456789);
    /* A cgroup outside this namespace's view ("/.." in the path): unknown, not the limit of a directory above. */
    put(dir, "v2/memory.max", "8000000\n");
    put(dir, "cgroup2-outside", "0::/../sibling\n");
    cr_assert_eq(limit_in(dir, "cgroup2-outside"), 0);
    /* A directory whose name only starts with ".." is an ordinary cgroup. */
    const char *dotted[] = {"v2/svc/..b"};
    make_dirs(dir, dotted, 1);
    put(dir, "v2/svc/..b/memory.max", "max\n");
    put(dir, "cgroup2-dotted", "0::/svc/..b\n");
    cr_assert_eq(limit_in(dir, "cgroup2-dotted"), 8000000);
    /* v1: the memory controller's line wins over the unified one, and the mount's root is cut from the path. */
    put(dir, "cgroup1", "5:cpu,cpuacct:/docker/c1\n4:memory:/docker/c1\n0::/\n");
    put(dir, "v1/c1/memory.limit_in_bytes", "9223372036854771712\n");
    put(dir, "v1/memory.limit_in_bytes", "1048576000\n");
    cr_assert_eq(limit_in(dir, "cgroup1"), 1048576000);
    /* No memory limit anywhere, or no cgroup at all: 0. */
    put(dir, "v1/memory.limit_in_bytes", "9223372036854771712\n");
    cr_assert_eq(limit_in(dir, "cgroup1"), 0);
    cr_assert_eq(limit_in(dir, "nothing"), 0);
    remove_tree(dir);
}
/* Only a mount whose root is "/" or an ancestor of the cgroup shows the cgroup's directory. Passed over: a mount
 * made outside this process's cgroup namespace (root "/../.."; the same path below it is another cgroup), a bind of
 * another subtree, and a root that is a prefix of the path but not of its components ("/a" for "/ab/c"). Mount
 * points are unescaped (mountinfo writes a space as \040). */
Test(limits, cgroup_mounts_that_do_not_show_the_cgroup_are_passed_over)
{
    char  dir[] = "/tmp/hakmem-cgroup-XXXXXX";
    FILE *f = scratch_mountinfo(dir);
    fprintf(f, "31 25 0:26 /../.. %s/host rw - cgroup2 cgroup2 rw\n", dir);
    fprintf(f, "32 25 0:26 /monitoring %s/agent ro - cgroup2 cgroup2 rw\n", dir);
    fprintf(f, "33 25 0:26 /a %s/prefix rw - cgroup2 cgroup2 rw\n", dir);
    fprintf(f, "34 25 0:26 / %s/my\\040cg rw - cgroup2 cgroup2 rw\n", dir);
    fclose(f);
    const char *made[] = {"host", "host/ab", "host/ab/c", "agent", "agent/ab", "agent/ab/c", "prefix", "prefix/b",
                          "prefix/b/c", "my cg", "my cg/ab", "my cg/ab/c"};
    make_dirs(dir, made, sizeof made / sizeof made[0]);
    put(dir, "cgroup", "0::/ab/c\n");
    put(dir, "host/ab/c/memory.max", "16000000\n");
    put(dir, "agent/ab/c/memory.max", "17000000\n");
    put(dir, "prefix/b/c/memory.max", "18000000\n");
    put(dir, "my cg/ab/c/memory.max", "300000000\n");
    put(dir, "my cg/ab/memory.max", "max\n");
    cr_assert_eq(limit_in(dir, "cgroup"), 300000000);
    remove_tree(dir);
}
#endif

/* At its cap, a synchronized arena first takes back the free blocks its calling thread's cache holds (they count
 * as used, so the pages holding them could not be given back): after everything was freed, as many large blocks
 * fit as in an unsynchronized arena with the same history, and none more after a stats call flushes the cache. */
static size_t large_blocks_after_churn(unsigned flags, size_t *after_flush)
{
    static void        *blocks[8192];
    static const size_t sizes[] = {1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384};
    hak_arena_t        *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.flags = flags, .limit = 4u << 20}), 0);
    size_t n = 0;
    while (n < 8192 && (blocks[n] = hak_alloc(a, sizes[n % 9])))
        n++;
    cr_assert(n > 100 && n < 8192, "%zu blocks under a 4 MiB cap", n);
    for (size_t i = 0; i < n; i++)
        hak_free(blocks[i]);
    size_t big = 0;
    while (hak_alloc(a, 200u << 10))
        big++;
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0); /* flushes the calling thread's cache */
    *after_flush = 0;
    while (hak_alloc(a, 200u << 10))
        ++*after_flush;
    hak_arena_destroy(a);
    return big;
}

Test(limits, a_capped_arena_takes_back_its_thread_cache)
{
    size_t flushed, unsync_flushed;
    size_t sync = large_blocks_after_churn(0, &flushed);
    size_t unsync = large_blocks_after_churn(HAK_ARENA_UNSYNCHRONIZED, &unsync_flushed);
    cr_assert_eq(flushed, 0, "%zu large blocks fit only after the cache was flushed", flushed);
    cr_assert_eq(sync, unsync, "synchronized %zu, unsynchronized %zu", sync, unsync);
}

/* Arena names reach JSON as valid UTF-8: well-formed characters as they are, a stray byte or a character the
 * 31-byte name limit cut in two as '?'. */
Test(limits, stats_json_is_valid_utf8)
{
    static const struct { const char *name, *want; } cases[] = {
        {"caf\xc3\xa9 \xff!", "\"name\":\"caf\xc3\xa9 ?!\""},
        {"012345678901234567890123456789\xc3\xa9", "\"name\":\"012345678901234567890123456789?\""},
        {"\xe2\x82\xac \xed\xa0\x80 \xf0\x9f\x98\x80", "\"name\":\"\xe2\x82\xac ??? \xf0\x9f\x98\x80\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hak_arena_t *a;
        char         buf[512];
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.name = cases[i].name}), 0);
        cr_assert_gt(hak_arena_stats_json(a, buf, sizeof buf), 0);
        cr_assert(strstr(buf, cases[i].want), "case %zu: %s", i, buf);
        hak_arena_destroy(a);
    }
}

/* A huge block aligned beyond a page leaves the pages between its chunk's header and itself untouched: they do not
 * count as committed, so they use up neither the cap nor the budget. */
Test(limits, aligned_huge_blocks_count_only_their_pages)
{
    LINUX_ONLY("committed on demand");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.limit = 16u << 20}), 0);
    void *p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = hak_aligned_alloc(a, 4u << 20, 16);
        cr_assert_not_null(p[i], "block %d of 16 bytes aligned to 4 MiB under a 16 MiB cap: errno %d", i, errno);
        cr_assert_eq((uintptr_t)p[i] & ((4u << 20) - 1), 0);
        memset(p[i], 1, 16);
    }
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_lt(st.committed, (size_t)1 << 20, "committed %zu", st.committed);
    cr_assert_eq(hak_arena_check(a), 0);
    for (int i = 0; i < 8; i++)
        hak_free(p[i]);
    cr_assert_eq(hak_arena_check(a), 0);
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_lt(st.committed, (size_t)1 << 20, "committed %zu after the frees", st.committed);
    hak_arena_destroy(a);
}

/* The arena is within its cap and consistent; then destroyed. */
static void end_within_cap(hak_arena_t *a)
{
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_leq(st.committed, st.limit);
    cr_assert_eq(hak_arena_check(a), 0);
    hak_arena_destroy(a);
}

/* A capped arena out of free slices: the free slices its pages' unused tails give back (the shrink) are given back
 * to the cap as well before the run that needs new memory is refused (the same call used to fail once, then pass). */
Test(limits, a_capped_arena_out_of_slices_gives_back_before_refusing)
{
    LINUX_ONLY("2 MiB SuperSlabs of 16 KiB slices");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.trim_ms = HAK_TRIM_NEVER, .slab_size = 2u << 20,
                                                           .flags = HAK_ARENA_UNSYNCHRONIZED,
                                                           .policy = HAK_POLICY_FAST}), 0);
    size_t k = 1024;
    void  *page_a = hak_alloc(a, 8192), *l5 = hak_alloc(a, 5 * 16 * k), *page_b = hak_alloc(a, 16384);
    void  *l64 = hak_alloc(a, 64 * 16 * k), *l46 = hak_alloc(a, (46 - HAK_CFG_GUARD_PAGES) * 16 * k); /* full */
    cr_assert(page_a && l5 && page_b && l64 && l46);
    hak_free(l5);
    hak_arena_trim(a); /* five slices free and decommitted */
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_eq(hak_arena_set_limit(a, st.committed + 64 * k), 0);
    void *p = hak_alloc(a, 8 * 16 * k); /* eight slices: the pages' unused tails and five decommitted ones */
    if (!HAK_CFG_RANDOM_ORDER) /* (blocks at random places in their pages leave tails that may not be free) */
        cr_assert_not_null(p, "errno %d", errno);
    else if (!p)
        cr_assert_null(p = hak_alloc(a, 8 * 16 * k), "the same call succeeded right after ENOMEM");
    end_within_cap(a);
}

/* A large block that can grow in place at its cap once the arena gives back its own empty memory does: realloc
 * gave it back only for the move it tried next (which needs the whole new size and failed), so the same call
 * succeeded in place when made a second time. */
Test(limits, growing_in_place_at_the_cap_first_gives_back_empty_memory)
{
    LINUX_ONLY("16 KiB slices: x and b are runs of 5 and 7 slices, side by side");
    hak_arena_t *a;
    cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_FAST}), 0);
    void *x = hak_alloc(a, 80 << 10), *b = hak_alloc(a, 100 << 10);
    cr_assert(x && b);
    memset(b, 0x5a, 100 << 10);
    hak_free(x); /* fast: its slices stay committed, empty */
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(a, &st), 0);
    cr_assert_eq(hak_arena_set_limit(a, st.committed), 0);
    errno = 0;
    char *r = hak_realloc(a, b, 150 << 10); /* 3 more slices: they fit once x's are decommitted */
    cr_assert_eq(r, b, "realloc at the cap: %p (errno %d)", (void *)r, errno);
    cr_assert_eq(r[(100 << 10) - 1], 0x5a);
    end_within_cap(a);
}

/* At the process budget, the empty memory of every other arena counts, the oldest's too: the purge went through
 * the newest 32 arenas of each policy and stopped. */
Test(limits, the_budget_reaches_the_oldest_arenas_empty_memory)
{
    LINUX_ONLY("a process budget over fast arenas that keep empty memory");
    hak_arena_t *old, *others[40], *me;
    void        *p[64];
    cr_assert_eq(hak_arena_create(&old, &(hak_arena_config_t){.policy = HAK_POLICY_FAST}), 0);
    for (int i = 0; i < 64; i++)
        cr_assert_not_null(p[i] = hak_alloc(old, 100 << 10));
    for (int i = 0; i < 64; i++)
        hak_free(p[i]); /* ~7 MiB, empty and committed */
    for (int i = 0; i < 40; i++)
        cr_assert_eq(hak_arena_create(&others[i], &(hak_arena_config_t){.policy = HAK_POLICY_FAST}), 0);
    cr_assert_eq(hak_arena_create(&me, &(hak_arena_config_t){.policy = HAK_POLICY_FAST}), 0);
    hak_arena_stats_t total;
    cr_assert_eq(hak_stats_total(&total), 0);
    hak_set_memory_limit(total.committed + (1u << 20));
    void *q = hak_alloc(me, 4u << 20);
    hak_arena_stats_t st;
    cr_assert_eq(hak_arena_stats(old, &st), 0);
    hak_set_memory_limit(0);
    cr_assert_not_null(q, "4 MiB refused while the oldest arena held %zu empty bytes", st.committed);
    hak_free(q);
    for (int i = 0; i < 40; i++)
        hak_arena_destroy(others[i]);
    hak_arena_destroy(me);
    hak_arena_destroy(old);
}

/* An on_limit callback that allocates from its own full arena is not called again from inside itself (it recursed
 * until the stack overflowed); the allocation it makes there fails, and the arena keeps working. */
static int cb_depth, cb_max_depth, cb_calls;
static void allocating_callback(hak_arena_t *a, size_t wanted, void *arg)
{
    (void)wanted, (void)arg;
    cb_calls++;
    if (++cb_depth > cb_max_depth)
        cb_max_depth = cb_depth;
    hak_free(hak_alloc(a, 64));
    cb_depth--;
}

Test(limits, an_on_limit_callback_that_allocates_is_not_reentered)
{
    for (int sync = 0; sync < 2; sync++) {
        cb_depth = cb_max_depth = cb_calls = 0;
        hak_arena_t *a;
        cr_assert_eq(hak_arena_create(&a, &(hak_arena_config_t){.limit = 1u << 20, .on_limit = allocating_callback,
                                                                .flags = sync ? 0 : HAK_ARENA_UNSYNCHRONIZED}), 0);
        int n = 0;
        while (n < 1000000 && hak_alloc(a, 64))
            n++;
        cr_assert(n > 0 && n < 1000000);
        cr_assert_geq(cb_calls, 1);
        cr_assert_eq(cb_max_depth, 1, "callback nested %d deep", cb_max_depth);
        cr_assert_eq(hak_arena_check(a), 0);
        hak_arena_destroy(a);
    }
}

/* An arena refused by its own cap leaves other arenas and the process-wide SuperSlab cache alone (they cannot help
 * it): neither another arena's free memory nor the cached SuperSlabs are given back on its account. */
Test(limits, an_arena_at_its_own_cap_leaves_other_memory_alone)
{
    LINUX_ONLY("a process budget and a SuperSlab cache");
    hak_set_memory_limit((size_t)1 << 30); /* far away */
    hak_arena_t *other, *gone, *capped;
    cr_assert_eq(hak_arena_create(&other, &(hak_arena_config_t){.policy = HAK_POLICY_FAST}), 0);
    cr_assert_eq(hak_arena_create(&gone, NULL), 0);
    void *p[32];
    for (int i = 0; i < 32; i++)
        cr_assert_not_null(p[i] = hak_alloc(other, 200 * 1024));
    for (int i = 0; i < 32; i++)
        hak_free(p[i]); /* fast: the slices stay committed for reuse */
    cr_assert_not_null(hak_alloc(gone, 100));
    hak_arena_destroy(gone); /* its SuperSlab goes to the process cache */
    hak_arena_stats_t before, total_before, after, total_after;
    cr_assert_eq(hak_arena_stats(other, &before), 0);
    hak_stats_total(&total_before);
    cr_assert_eq(hak_arena_create(&capped, &(hak_arena_config_t){.limit = 1u << 20}), 0);
    int n = 0;
    while (n < 100 && hak_alloc(capped, 100 * 1024))
        n++;
    cr_assert(n > 0 && n < 100, "%d blocks under a 1 MiB cap", n);
    cr_assert_eq(hak_arena_stats(other, &after), 0);
    hak_stats_total(&total_after);
    cr_assert_eq(after.committed, before.committed, "the other arena gave back %zu bytes",
                 before.committed - after.committed);
    cr_assert_geq(total_after.reserved, total_before.reserved, "the cache was dropped");
    hak_arena_destroy(capped);
    hak_arena_destroy(other);
    hak_set_memory_limit(0);
}

/* Refusals by an arena's own cap do not unmap the SuperSlabs destroyed arenas left in the process-wide cache. */
Test(limits, refusals_at_a_cap_keep_the_superslab_cache)
{
    LINUX_ONLY("the process-wide SuperSlab cache");
    hak_set_memory_limit(0);
    hak_arena_t *c[4], *capped;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(hak_arena_create(&c[i], NULL), 0);
        cr_assert_not_null(hak_alloc(c[i], 100));
    }
    for (int i = 0; i < 4; i++)
        hak_arena_destroy(c[i]);
    hak_arena_stats_t before, after;
    hak_stats_total(&before);
    cr_assert_eq(hak_arena_create(&capped, &(hak_arena_config_t){.limit = 64u << 10}), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_null(hak_alloc(capped, 100 * 1024));
    hak_stats_total(&after);
    cr_assert_geq(after.reserved, before.reserved, "reserved %zu -> %zu", before.reserved, after.reserved);
    hak_arena_destroy(capped);
}
