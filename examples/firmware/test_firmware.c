/*
 * hakmem on a Cortex-M target: a subset of the API exercised inside QEMU (mps2-an385), with no OS and no libc.
 *
 * The host test suite proves the allocator's logic; this program proves that a freestanding build of it works
 * where it is meant to run: 32-bit pointers, Thumb code, memory from static pools and from a region handed over
 * at start-up, no errno, no stdio. It uses only the public API of hakmem.h (plus hak_platform_add_region of the
 * freestanding section) and prints one TAP-style line per check ("ok N - ..." / "not ok N - ...") through ARM
 * semihosting, then "1..N" and a summary. main() returns 0 only if every check passed; startup.c turns that into
 * QEMU's exit status.
 *
 * What is checked:
 *  - arenas: three over static pools (default, unsynchronized, lean) and one drawing from the platform's regions
 *    (the static pool of the build plus the RAM block the linker script leaves, added with add_region);
 *  - a random run (xorshift PRNG) of allocs, callocs, reallocs (some into another arena) and frees over a table
 *    of up to 256 live blocks, each filled with a byte pattern derived from its slot and generation and verified
 *    whenever it is touched; hak_arena_check() of every arena each 1,000 operations;
 *  - an arena emptied by the random run still serves a 16 KiB block; hak_arena_trim's accounting;
 *  - hak_aligned_alloc for alignments 16..4096, hak_calloc zeroing dirty memory and refusing overflow;
 *  - limits: hak_arena_set_limit and cfg.limit make allocation fail at the cap and work again after frees;
 *    at the process budget (hak_set_memory_limit) another arena's empty memory makes room;
 *  - hak_arena_reset and hak_arena_destroy followed by reuse of the same pool; hak_arena_stats consistency;
 *  - invalid frees (a static array, an interior pointer, a double free, a block of a destroyed arena) reach the
 *    error handler installed with hak_set_error_handler and change nothing.
 *
 * The test's own code uses no C library function: copies, fills and comparisons are explicit loops (the build
 * also passes -fno-tree-loop-distribute-patterns so they are not turned into memset/memcpy calls).
 *
 * Build knobs (-D...): FW_POOL_SIZE (bytes per static pool, a multiple of 16 KiB; default 256 KiB, must be at
 * least hak_pool_size_min(0) of the build), FW_RANDOM_OPS (20000), FW_SEED, FW_MAX_OOM_PERCENT (5).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakmem.h"
#include "semihost.h"
#include "startup.h"

/* Declared in hakmem.h's freestanding section; repeated here so the test states what it relies on. */
int hak_platform_add_region(void *base, size_t size);

#ifndef FW_POOL_SIZE
#define FW_POOL_SIZE (256u * 1024u)
#endif
#ifndef FW_RANDOM_OPS
#define FW_RANDOM_OPS 20000u
#endif
#ifndef FW_SEED
#define FW_SEED 0x2545f491u
#endif
#ifndef FW_MAX_OOM_PERCENT
#define FW_MAX_OOM_PERCENT 5u
#endif

#define FW_POOL_ALIGN   (16u * 1024u) /* the freestanding registry granule: a pool aligned to it wastes nothing */
#define FW_POOLS        3u
#define FW_ARENAS       (FW_POOLS + 1u) /* the pools' arenas, then the region arena */
#define FW_REGION_ARENA FW_POOLS
#define FW_SLOTS        256u
#define FW_CHECK_EVERY  1000u
#define FW_LIMIT_BLOCK  512u
#define FW_LIMIT_MAX    2048u /* bound on blocks under a cap: far more than the caps tested here allow */
#define FW_LIMIT_EXTRA  64u   /* blocks allocated past the old cap once it is lifted (32 KiB) */

_Static_assert(FW_POOL_SIZE % FW_POOL_ALIGN == 0, "FW_POOL_SIZE must be a multiple of 16 KiB");

/* The RAM block mps2_an385.ld leaves after .bss and the stack for hak_platform_add_region. */
extern unsigned char __hak_region_start[], __hak_region_end[];

/* The arenas' pools: zero-initialised static arrays, placed in PSRAM by the linker script (.hak_pool). */
static _Alignas(FW_POOL_ALIGN) unsigned char pools[FW_POOLS][FW_POOL_SIZE] __attribute__((section(".hak_pool")));

static hak_arena_t *arenas[FW_ARENAS];
static const char  *const arena_names[FW_ARENAS] = {"pool0", "pool1-unsync", "pool2-lean", "region"};

/* Arena configurations and the scratch for hak_arena_stats are static: their unset fields are zero without a
 * struct initializer, which the compiler may turn into a call to memset. */
static hak_arena_config_t configs[FW_ARENAS];
static hak_arena_stats_t  st;

/* ---- reporting ------------------------------------------------------------------------------------------ */

static unsigned checks_run, checks_failed;

static void say(const char *s)
{
    semihost_puts(s);
}

static void say_num(const char *label, uint64_t v)
{
    say(label);
    semihost_put_udec(v);
}

/* Records one check and prints the start of its TAP line: "ok N - what" or "not ok N - what". */
static void record(bool ok, const char *what)
{
    checks_run++;
    if (!ok)
        checks_failed++;
    say(ok ? "ok " : "not ok ");
    semihost_put_udec(checks_run);
    say(" - ");
    say(what);
}

/* One check; returns ok so callers can skip what depends on it. */
static bool check(bool ok, const char *what)
{
    record(ok, what);
    say("\n");
    return ok;
}

/* A check whose line also shows a number as [label=value] (a count, a size), useful on success and failure. */
static bool check_n(bool ok, const char *what, const char *label, uint64_t value)
{
    record(ok, what);
    say(" [");
    say(label);
    say_num("=", value);
    say("]\n");
    return ok;
}

static void note(const char *what)
{
    say("# ");
    say(what);
    say("\n");
}

static void note_n(const char *what, uint64_t value)
{
    say("# ");
    say(what);
    say_num(": ", value);
    say("\n");
}

/* ---- the error handler: counts reports and keeps the last one (each is also echoed as a comment line) ------ */

struct error_log {
    unsigned calls;
    int      last_code;
    void    *last_ptr;
};

static struct error_log errors;

static void on_error(int code, const char *message, void *ptr, void *arg)
{
    struct error_log *log = arg;
    log->calls++;
    log->last_code = code;
    log->last_ptr = ptr;
    say("#   error handler: ");
    say(message ? message : "(no message)");
    say("\n");
}

/* ---- random numbers and byte patterns --------------------------------------------------------------------- */

static uint32_t rng_state = FW_SEED;

static uint32_t rnd(void) /* xorshift32 */
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static uint32_t rnd_below(uint32_t n)
{
    return rnd() % n;
}

/* Mostly small sizes, some up to 2 KiB, a few up to 16 KiB. */
static size_t random_size(void)
{
    uint32_t r = rnd_below(100);
    if (r < 60)
        return 1 + rnd_below(128);
    if (r < 95)
        return 1 + rnd_below(2048);
    return 2049 + rnd_below(16384 - 2048);
}

/* Byte i of a block carrying `tag`; different tags give different sequences, so a block mixed up with
 * another (or with its own earlier contents) is caught. */
static uint8_t pattern_byte(uint32_t tag, size_t i)
{
    uint32_t x = tag * 2654435761u + (uint32_t)i * 40503u;
    return (uint8_t)(x ^ (x >> 13) ^ (x >> 24));
}

static void fill(unsigned char *p, size_t n, uint32_t tag)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern_byte(tag, i);
}

static bool verify(const unsigned char *p, size_t n, uint32_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern_byte(tag, i))
            return false;
    return true;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static bool aligned_to(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

static bool inside(const void *p, const void *base, size_t size)
{
    return (uintptr_t)p >= (uintptr_t)base && (uintptr_t)p < (uintptr_t)base + size;
}

/* A live block as the allocator should see it: aligned, big enough, owned by `arena`. */
static bool block_ok(const void *p, size_t size, const hak_arena_t *arena)
{
    return aligned_to(p, HAK_MIN_ALIGN) && hak_usable_size(p) >= size && hak_arena_of(p) == arena;
}

static bool all_arenas_consistent(void)
{
    for (unsigned i = 0; i < FW_ARENAS; i++)
        if (arenas[i] && hak_arena_check(arenas[i]) != 0)
            return false;
    return true;
}

/* ---- set-up ----------------------------------------------------------------------------------------------- */

static void test_setup(void)
{
    size_t region = (size_t)(__hak_region_end - __hak_region_start);
    note_n("pool size (bytes)", FW_POOL_SIZE);
    note_n("hak_pool_size_min(0)", hak_pool_size_min(0));
    note_n("region size (bytes)", region);

    hak_set_error_handler(on_error, &errors);
    check(hak_platform_add_region(NULL, 4096) == HAK_EINVAL, "add_region(NULL) is refused");
    check(hak_platform_add_region(__hak_region_start, region) == 0, "add_region(linker region) accepted");
    check(hak_platform_add_region(__hak_region_start, region) == HAK_EINVAL, "the same region twice is refused");
    check(hak_platform_add_region(__hak_region_start + region / 2, region) == HAK_EINVAL,
          "a region overlapping one given before is refused");

    check_n(FW_POOL_SIZE >= hak_pool_size_min(0), "pools are at least hak_pool_size_min(0)", "needed",
            hak_pool_size_min(0));

    static const unsigned     flags[FW_POOLS] = {0, HAK_ARENA_UNSYNCHRONIZED, 0};
    static const hak_policy_t policy[FW_POOLS] = {HAK_POLICY_DEFAULT, HAK_POLICY_DEFAULT, HAK_POLICY_LEAN};
    for (unsigned i = 0; i < FW_POOLS; i++) {
        hak_arena_config_t *cfg = &configs[i];
        cfg->name = arena_names[i];
        cfg->flags = flags[i];
        cfg->policy = policy[i];
        cfg->pool = pools[i];
        cfg->pool_size = FW_POOL_SIZE;
        int rc = hak_arena_create(&arenas[i], cfg);
        check_n(rc == 0 && arenas[i], "arena over a static pool created", "pool", i);
        if (arenas[i])
            check(inside(arenas[i], pools[i], FW_POOL_SIZE), "pool arena's own struct lies in its pool");
    }
    static hak_arena_config_t in_region; /* (static: a zeroed local would need memset) */
    hak_arena_t              *other = NULL;
    in_region.pool = __hak_region_start, in_region.pool_size = region;
    check(hak_arena_create(&other, &in_region) == HAK_EINVAL && !other,
          "a pool in an added region (unused yet) is refused");
    check(hak_platform_add_region(pools[0] + FW_POOL_SIZE / 2, FW_POOL_SIZE) == HAK_EINVAL,
          "a region overlapping a live arena's pool is refused");
    configs[FW_REGION_ARENA].name = arena_names[FW_REGION_ARENA];
    int rc = hak_arena_create(&arenas[FW_REGION_ARENA], &configs[FW_REGION_ARENA]);
    check(rc == 0 && arenas[FW_REGION_ARENA], "arena without a pool (platform regions) created");
}

static bool arenas_ready(void)
{
    for (unsigned i = 0; i < FW_ARENAS; i++)
        if (!arenas[i])
            return false;
    return true;
}

/* ---- the random run --------------------------------------------------------------------------------------- */

struct slot {
    unsigned char *p;
    size_t         size;
    uint32_t       tag;
    unsigned       arena;
};

struct run_counts {
    unsigned allocs, alloc_tries, frees, reallocs, moved, oom, bad_contents, bad_block, bad_zero, checks,
        bad_checks, region_blocks;
    unsigned served[FW_ARENAS];
};

static struct slot       slots[FW_SLOTS];
static struct run_counts run;
static uint32_t          generation;

static uint32_t new_tag(unsigned slot_index)
{
    return (++generation << 8) ^ slot_index;
}

static void note_new_block(struct slot *s, unsigned char *p, size_t size, unsigned arena, unsigned index)
{
    if (!block_ok(p, size, arenas[arena]))
        run.bad_block++;
    if (arena == FW_REGION_ARENA && inside(p, __hak_region_start, (size_t)(__hak_region_end - __hak_region_start)))
        run.region_blocks++;
    run.served[arena]++;
    s->p = p;
    s->size = size;
    s->arena = arena;
    s->tag = new_tag(index);
    fill(p, size, s->tag);
}

static void op_alloc(struct slot *s, unsigned index)
{
    unsigned arena = rnd_below(FW_ARENAS);
    size_t   size = random_size();
    bool     zeroed = rnd_below(10) == 0;
    run.alloc_tries++;
    unsigned char *p = zeroed ? hak_calloc(arenas[arena], 1, size) : hak_alloc(arenas[arena], size);
    if (!p) {
        run.oom++;
        return;
    }
    run.allocs++;
    if (zeroed && !all_zero(p, size))
        run.bad_zero++;
    note_new_block(s, p, size, arena, index);
}

static void op_free(struct slot *s)
{
    if (!verify(s->p, s->size, s->tag))
        run.bad_contents++;
    hak_free(s->p);
    s->p = NULL;
    run.frees++;
}

/* Resizes, now and then into another arena (the block must then move there). */
static void op_realloc(struct slot *s, unsigned index)
{
    unsigned target = rnd_below(100) < 15 ? rnd_below(FW_ARENAS) : s->arena;
    size_t   size = random_size();
    run.alloc_tries++;
    unsigned char *q = hak_realloc(arenas[target], s->p, size);
    if (!q) { /* the old block must be untouched and still valid */
        run.oom++;
        if (!verify(s->p, s->size, s->tag) || !block_ok(s->p, s->size, arenas[s->arena]))
            run.bad_contents++;
        return;
    }
    run.reallocs++;
    if (q != s->p)
        run.moved++;
    if (!verify(q, size < s->size ? size : s->size, s->tag))
        run.bad_contents++;
    note_new_block(s, q, size, target, index);
}

static void op_inspect(const struct slot *s)
{
    if (!verify(s->p, s->size, s->tag))
        run.bad_contents++;
    if (!block_ok(s->p, s->size, arenas[s->arena]))
        run.bad_block++;
}

static void random_run(void)
{
    for (unsigned op = 1; op <= FW_RANDOM_OPS; op++) {
        unsigned     index = rnd_below(FW_SLOTS);
        struct slot *s = &slots[index];
        if (!s->p) {
            op_alloc(s, index);
        } else {
            uint32_t r = rnd_below(100);
            if (r < 45)
                op_free(s);
            else if (r < 85)
                op_realloc(s, index);
            else
                op_inspect(s);
        }
        if (op % FW_CHECK_EVERY == 0) {
            run.checks++;
            if (!all_arenas_consistent())
                run.bad_checks++;
        }
    }
}

static void test_random(void)
{
    unsigned errors_before = errors.calls;
    random_run();
    note_n("random: allocations", run.allocs);
    note_n("random: reallocations", run.reallocs);
    note_n("random: moved by realloc", run.moved);
    note_n("random: frees", run.frees);
    note_n("random: region-arena blocks inside the added region", run.region_blocks);
    check_n(run.bad_contents == 0, "random: every block kept its contents (incl. across realloc)", "bad",
            run.bad_contents);
    check_n(run.bad_block == 0, "random: blocks 16-byte aligned, usable size >= request, right arena", "bad",
            run.bad_block);
    check_n(run.bad_zero == 0, "random: hak_calloc blocks read as zero", "bad", run.bad_zero);
    check_n(run.bad_checks == 0 && run.checks == FW_RANDOM_OPS / FW_CHECK_EVERY,
            "random: hak_arena_check() == 0 for every arena every 1,000 ops", "rounds", run.checks);
    check_n(run.oom * 100u <= run.alloc_tries * FW_MAX_OOM_PERCENT, "random: allocation failures rare",
            "failed", run.oom);
    bool every_arena = true;
    for (unsigned i = 0; i < FW_ARENAS; i++)
        every_arena = every_arena && run.served[i] > 0;
    check(every_arena, "random: every arena served allocations");
    check_n(errors.calls == errors_before, "random: no error reports during valid use", "reports",
            errors.calls - errors_before);
}

/* Stats with the random run's blocks still live, then after freeing them all. */
static void test_stats_live_then_freed(void)
{
    for (unsigned a = 0; a < FW_ARENAS; a++) {
        size_t   requested = 0;
        unsigned live = 0;
        for (unsigned i = 0; i < FW_SLOTS; i++)
            if (slots[i].p && slots[i].arena == a) {
                requested += slots[i].size;
                live++;
            }
        bool ok = hak_arena_stats(arenas[a], &st) == 0;
        ok = ok && (live == 0 || st.in_use > 0) && st.in_use >= requested && st.committed >= st.in_use &&
             st.peak_committed >= st.committed && st.reserved >= st.committed && st.limit == 0 &&
             st.frees <= st.allocs;
        check_n(ok, "stats: in_use >= live requests, committed >= in_use, peak/reserved >= committed", "in_use",
                st.in_use);
    }
    for (unsigned i = 0; i < FW_SLOTS; i++)
        if (slots[i].p)
            op_free(&slots[i]);
    check_n(run.bad_contents == 0, "free all: contents intact to the end", "bad", run.bad_contents);
    bool zero = true;
    for (unsigned a = 0; a < FW_ARENAS; a++)
        zero = zero && hak_arena_stats(arenas[a], &st) == 0 && st.in_use == 0;
    check(zero, "stats: in_use == 0 in every arena once all blocks are freed");
    check(all_arenas_consistent(), "hak_arena_check() == 0 after freeing everything");
}

/*
 * After the random run every arena is empty but keeps what it committed (fast arenas keep emptied pages, or in
 * the compact layout SuperSlabs, for reuse, and a pool cannot grow). A block of a size the arena has no free page
 * for must still be served: once
 * the pool or the platform is exhausted the arena has to reuse its own empty memory. Then every arena is
 * trimmed, so the feature tests that follow start from the same state whatever the random run left.
 */
static void test_reuse_then_trim(void)
{
    for (unsigned a = 0; a < FW_ARENAS; a++) {
        unsigned char *p = hak_alloc(arenas[a], 16384);
        check_n(p && block_ok(p, 16384, arenas[a]),
                "an emptied arena still serves 16 KiB (reuses its empty pages when out of memory)", "arena", a);
        hak_free(p);
    }
    bool ok = true;
    for (unsigned a = 0; a < FW_ARENAS; a++) {
        ok = ok && hak_arena_stats(arenas[a], &st) == 0;
        size_t before = st.committed, given = hak_arena_trim(arenas[a]);
        ok = ok && hak_arena_stats(arenas[a], &st) == 0 && given <= before && st.committed == before - given &&
             hak_arena_check(arenas[a]) == 0;
    }
    check(ok && hak_arena_trim(NULL) == 0, "hak_arena_trim: committed falls by what it returns, arenas consistent");
}

/* ---- aligned allocation ----------------------------------------------------------------------------------- */

static void test_aligned(hak_arena_t *arena)
{
    for (size_t align = 16; align <= 4096; align *= 2) {
        const size_t   sizes[3] = {8, align, 2 * align + 24};
        unsigned char *p[3];
        bool           ok = true;
        for (unsigned i = 0; i < 3; i++) {
            p[i] = hak_aligned_alloc(arena, align, sizes[i]);
            ok = ok && p[i] && aligned_to(p[i], align) && block_ok(p[i], sizes[i], arena);
            if (p[i])
                fill(p[i], sizes[i], (uint32_t)(align + i));
        }
        for (unsigned i = 0; i < 3; i++)
            if (p[i]) {
                ok = ok && verify(p[i], sizes[i], (uint32_t)(align + i));
                hak_free(p[i]);
            }
        check_n(ok, "hak_aligned_alloc: aligned, usable, contents kept (3 sizes)", "alignment", align);
    }
    check(!hak_aligned_alloc(arena, 0, 64) && !hak_aligned_alloc(arena, 24, 64),
          "hak_aligned_alloc: alignment 0 and 24 refused");
    check(hak_arena_check(arena) == 0, "hak_arena_check() == 0 after aligned allocations");
}

/* ---- calloc ----------------------------------------------------------------------------------------------- */

/* Dirties memory of the same size first, so a calloc that skipped clearing reused memory would be caught. */
static bool calloc_zeroes(hak_arena_t *arena, size_t count, size_t size)
{
    size_t         bytes = count * size;
    unsigned char *dirty = hak_alloc(arena, bytes);
    if (dirty) {
        fill(dirty, bytes, 0xa5u);
        hak_free(dirty);
    }
    unsigned char *p = hak_calloc(arena, count, size);
    bool           ok = p && all_zero(p, bytes) && block_ok(p, bytes, arena);
    hak_free(p);
    return ok;
}

static void test_calloc(hak_arena_t *arena)
{
    static const size_t cases[][2] = {{1, 1}, {16, 64}, {3, 1000}, {100, 100}, {1, 16384}};
    bool                ok = true;
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ok = ok && calloc_zeroes(arena, cases[i][0], cases[i][1]);
    check(ok, "hak_calloc: zeroed blocks, also where freed dirty memory is reused");
    check(!hak_calloc(arena, SIZE_MAX / 2 + 1, 2) && !hak_calloc(arena, 2, SIZE_MAX / 2 + 1),
          "hak_calloc: count*size overflow refused");
    void *empty = hak_calloc(arena, 0, 5);
    check(empty != NULL, "hak_calloc: zero bytes gives a block");
    hak_free(empty);
}

/* ---- limits ----------------------------------------------------------------------------------------------- */

static unsigned char *limit_blocks[FW_LIMIT_MAX], *extra_blocks[FW_LIMIT_MAX];

/* Fresh committed bytes of an arena holding one FW_LIMIT_BLOCK block, which stays allocated (limit_blocks[0]). */
static size_t committed_with_one_block(hak_arena_t *arena)
{
    limit_blocks[0] = hak_alloc(arena, FW_LIMIT_BLOCK);
    if (!limit_blocks[0] || hak_arena_stats(arena, &st) != 0)
        return 0;
    fill(limit_blocks[0], FW_LIMIT_BLOCK, 0);
    return st.committed;
}

/* With the arena's cap `limit` in place and limit_blocks[0] allocated: allocation fails at the cap, never
 * commits past it, works again once blocks are freed, and goes further once the cap is lifted. */
static void exercise_limit(hak_arena_t *arena, size_t limit, const char *how)
{
    note(how);
    unsigned n = 1;
    while (n < FW_LIMIT_MAX && (limit_blocks[n] = hak_alloc(arena, FW_LIMIT_BLOCK)) != NULL) {
        fill(limit_blocks[n], FW_LIMIT_BLOCK, n);
        n++;
    }
    bool have = hak_arena_stats(arena, &st) == 0;
    check_n(n < FW_LIMIT_MAX, "limit: allocation returns NULL at the cap", "blocks", n);
    check_n(have && st.limit == limit && st.committed <= limit, "limit: stats.limit set, committed <= limit",
            "committed", have ? st.committed : 0);
    if (have && st.allocs)
        check(st.failed_allocs > 0, "limit: the refusal is counted in failed_allocs");

    bool intact = verify(limit_blocks[0], FW_LIMIT_BLOCK, 0);
    for (unsigned i = 1; i < n; i++)
        intact = intact && verify(limit_blocks[i], FW_LIMIT_BLOCK, i);
    check(intact, "limit: blocks allocated under the cap intact");

    for (unsigned i = 1; i < n; i += 2) { /* free every other block */
        hak_free(limit_blocks[i]);
        limit_blocks[i] = NULL;
    }
    unsigned char *again = hak_alloc(arena, FW_LIMIT_BLOCK);
    check(again != NULL, "limit: allocation works again after frees");
    hak_free(again);

    /* Lifted: enough blocks to refill the holes and then need memory beyond the old cap. */
    check(hak_arena_set_limit(arena, 0) == 0, "limit: hak_arena_set_limit(arena, 0) lifts the cap");
    unsigned extra = n / 2 + FW_LIMIT_EXTRA, got = 0;
    while (got < extra && (extra_blocks[got] = hak_alloc(arena, FW_LIMIT_BLOCK)) != NULL)
        got++;
    have = hak_arena_stats(arena, &st) == 0;
    check_n(got == extra && have && st.committed > limit, "limit: without the cap the arena grows past it",
            "committed", have ? st.committed : 0);
    for (unsigned i = 0; i < got; i++)
        hak_free(extra_blocks[i]);
    for (unsigned i = 0; i < n; i++)
        hak_free(limit_blocks[i]);
    check(hak_arena_check(arena) == 0, "limit: hak_arena_check() == 0 afterwards");
}

static void test_set_limit(hak_arena_t *arena)
{
    hak_arena_trim(arena); /* start from a known committed size: no empty pages kept */
    size_t limit = committed_with_one_block(arena);
    if (!check_n(limit > 0, "limit: an arena with one block has committed memory", "committed", limit))
        return;
    check(hak_arena_set_limit(arena, limit) == 0, "limit: hak_arena_set_limit(arena, committed) accepted");
    exercise_limit(arena, limit, "limit set with hak_arena_set_limit at the committed size");
    check(hak_arena_set_limit(NULL, 1) == HAK_EINVAL, "limit: hak_arena_set_limit(NULL) refused");
}

/* ---- reset, destroy and re-create ------------------------------------------------------------------------- */

#define FW_BATCH 64u

/* Allocates a batch of blocks of the given sizes and fills them; returns how many succeeded. */
static unsigned alloc_batch(hak_arena_t *arena, unsigned char **p, const size_t *size)
{
    unsigned ok = 0;
    for (unsigned i = 0; i < FW_BATCH; i++) {
        p[i] = hak_alloc(arena, size[i]);
        if (p[i] && block_ok(p[i], size[i], arena)) {
            fill(p[i], size[i], 1000u + i);
            ok++;
        }
    }
    return ok;
}

static bool verify_batch(unsigned char *const *p, const size_t *size)
{
    for (unsigned i = 0; i < FW_BATCH; i++)
        if (!p[i] || !verify(p[i], size[i], 1000u + i))
            return false;
    return true;
}

static void test_reset(hak_arena_t *arena)
{
    static unsigned char *p[FW_BATCH];
    static size_t         size[FW_BATCH];

    for (unsigned i = 0; i < FW_BATCH; i++)
        size[i] = 1 + rnd_below(2048);
    check_n(alloc_batch(arena, p, size) == FW_BATCH, "reset: a batch allocated before", "blocks", FW_BATCH);
    check(hak_arena_stats(arena, &st) == 0 && st.in_use > 0, "reset: stats show live bytes before");
    hak_arena_reset(arena);
    check(hak_arena_stats(arena, &st) == 0 && st.in_use == 0, "reset: in_use == 0 after hak_arena_reset");
    check(hak_arena_check(arena) == 0, "reset: hak_arena_check() == 0 after reset");
    check_n(alloc_batch(arena, p, size) == FW_BATCH, "reset: the same batch fits again", "blocks", FW_BATCH);
    check(verify_batch(p, size), "reset: new blocks keep their contents");
    check(hak_arena_stats(arena, &st) == 0 && st.in_use > 0, "reset: stats show live bytes again");
    for (unsigned i = 0; i < FW_BATCH; i++)
        hak_free(p[i]);
    check(hak_arena_stats(arena, &st) == 0 && st.in_use == 0, "reset: in_use == 0 after freeing them");
}

/* The process budget: a fast arena keeps its emptied memory committed; when another arena needs memory past the
 * budget, that empty memory is given back to make room (budget.c's walk without threads). */
static void test_budget_purges_other_arenas(void)
{
    static hak_arena_config_t keeper_cfg, taker_cfg; /* static: the fields not set here are zero */
    static unsigned char     *p[FW_BATCH];
    hak_arena_t              *keeper = NULL, *taker = NULL;
    keeper_cfg.name = "keeper", keeper_cfg.policy = HAK_POLICY_FAST;
    taker_cfg.name = "taker";
    if (!check(hak_arena_create(&keeper, &keeper_cfg) == 0 && hak_arena_create(&taker, &taker_cfg) == 0,
               "budget: two arenas without pools created"))
        goto out;
    for (unsigned i = 0; i < FW_BATCH; i++)
        p[i] = hak_alloc(keeper, 2048);
    for (unsigned i = 0; i < FW_BATCH; i++)
        hak_free(p[i]);
    size_t kept = hak_arena_stats(keeper, &st) == 0 && st.in_use == 0 ? st.committed : 0;
    if (!check_n(kept > 0, "budget: the fast arena keeps its emptied memory", "committed", kept))
        goto out;
    hak_arena_trim(arenas[FW_REGION_ARENA]); /* (lean: its empty memory would go first) */
    hak_arena_stats_t total;
    check(hak_stats_total(&total) == 0, "budget: hak_stats_total");
    hak_set_memory_limit(total.committed); /* no room: the taker's first block needs the keeper's memory */
    unsigned char *q = hak_alloc(taker, 4096);
    check(q && block_ok(q, 4096, taker), "budget: an allocation past the budget is served");
    check_n(hak_arena_stats(keeper, &st) == 0 && st.committed < kept, "budget: by the other arena's empty memory",
            "committed", st.committed);
    check(hak_stats_total(&total) == 0 && total.committed <= total.limit, "budget: committed stays within it");
    hak_set_memory_limit(0);
    hak_free(q);
out:
    hak_set_memory_limit(0);
    hak_arena_destroy(taker);
    hak_arena_destroy(keeper);
}

/* Destroys the arena of pool `i` with a block still live, then re-creates it over the same pool, this time
 * with cfg.limit set to what the old arena had committed for one block. */
static void test_destroy_recreate(unsigned i)
{
    hak_arena_t *arena = arenas[i];
    hak_arena_trim(arena);
    size_t limit = committed_with_one_block(arena); /* leaves limit_blocks[0] live */
    if (!check_n(limit > 0, "destroy: arena holds a live block", "committed", limit))
        return;
    unsigned char *stale = limit_blocks[0];

    hak_arena_destroy(arena);
    arenas[i] = NULL;
    unsigned before = errors.calls;
    hak_free(stale);
    check(errors.calls == before + 1 &&
              (errors.last_code == HAK_ERR_FOREIGN_PTR || errors.last_code == HAK_ERR_INTERIOR_PTR),
          "destroy: freeing a block of the destroyed arena is reported");

    static hak_arena_config_t cfg; /* static: the fields not set here are zero */
    cfg.name = "pool1-again";
    cfg.flags = HAK_ARENA_UNSYNCHRONIZED;
    cfg.limit = limit;
    cfg.pool = pools[i];
    cfg.pool_size = FW_POOL_SIZE;
    int rc = hak_arena_create(&arenas[i], &cfg);
    if (!check(rc == 0 && arenas[i], "destroy: a new arena is created over the same pool"))
        return;
    arena = arenas[i];
    check(hak_arena_stats(arena, &st) == 0 && st.limit == limit && st.in_use == 0,
          "destroy: the new arena starts empty, with cfg.limit as its limit");

    bool got = committed_with_one_block(arena) > 0;
    if (!check(got && inside(limit_blocks[0], pools[i], FW_POOL_SIZE) && block_ok(limit_blocks[0], 1, arena),
               "destroy: the new arena allocates from its pool"))
        return;
    exercise_limit(arena, limit, "limit given as cfg.limit at creation");
}

/* ---- invalid frees ---------------------------------------------------------------------------------------- */

static _Alignas(16) unsigned char not_ours[256];

static bool reported(unsigned before, int code, const void *ptr)
{
    return errors.calls == before + 1 && errors.last_code == code && errors.last_ptr == ptr;
}

static void test_invalid_frees(hak_arena_t *arena)
{
    fill(not_ours, sizeof not_ours, 77);
    unsigned before = errors.calls;
    hak_free(not_ours + 100);
    check(errors.calls == before + 1 && errors.last_ptr == not_ours + 100 &&
              (errors.last_code == HAK_ERR_FOREIGN_PTR || errors.last_code == HAK_ERR_INTERIOR_PTR),
          "invalid free: a pointer into a static array reaches the error handler");
    check(verify(not_ours, sizeof not_ours, 77), "invalid free: the static array is untouched");

    before = errors.calls;
    check(hak_realloc(arena, not_ours + 100, 10) == NULL && errors.calls == before + 1,
          "invalid realloc: refused and reported");
    check(hak_usable_size(not_ours) == 0 && hak_arena_of(not_ours) == NULL,
          "foreign pointer: usable size 0, no arena");

    unsigned char *p = hak_alloc(arena, 64);
    if (!check(p != NULL, "invalid free: a block to abuse"))
        return;
    fill(p, 64, 5);
    before = errors.calls;
    hak_free(p + 16);
    check(reported(before, HAK_ERR_INTERIOR_PTR, p + 16), "invalid free: interior pointer reported");
    check(verify(p, 64, 5) && block_ok(p, 64, arena), "invalid free: the block stays live and intact");
    hak_free(p);
    before = errors.calls;
    hak_free(p);
    check(reported(before, HAK_ERR_DOUBLE_FREE, p), "invalid free: double free reported");
    check(all_arenas_consistent(), "hak_arena_check() == 0 after the invalid frees");
}

/* ---- final report ----------------------------------------------------------------------------------------- */

static void print_line(const char *line, void *arg)
{
    (void)arg;
    say("# ");
    say(line);
    say("\n");
}

static void test_reports_and_teardown(void)
{
    static char json[512];
    bool        ok = true;
    for (unsigned i = 0; i < FW_ARENAS; i++) {
        if (!arenas[i])
            continue;
        ok = ok && hak_arena_report(arenas[i], print_line, NULL) == 0;
        size_t len = hak_arena_stats_json(arenas[i], json, sizeof json);
        ok = ok && len > 0 && len < sizeof json && json[0] == '{' && json[len - 1] == '}';
    }
    check(ok, "hak_arena_report and hak_arena_stats_json work");
    for (unsigned i = 0; i < FW_ARENAS; i++) {
        hak_arena_destroy(arenas[i]);
        arenas[i] = NULL;
    }
    check(hak_stats_total(&st) == 0 && st.in_use == 0, "all arenas destroyed: no bytes in use");
}

int main(void)
{
    say("# hakmem firmware test (mps2-an385, Cortex-M, freestanding)\n");
    test_setup();
    if (arenas_ready()) {
        test_random();
        test_stats_live_then_freed();
        test_reuse_then_trim();
        test_aligned(arenas[0]);
        test_aligned(arenas[FW_REGION_ARENA]);
        test_calloc(arenas[0]);
        test_calloc(arenas[FW_REGION_ARENA]);
        test_set_limit(arenas[2]);
        test_reset(arenas[0]);
        test_reset(arenas[FW_REGION_ARENA]);
        test_budget_purges_other_arenas();
        test_destroy_recreate(1);
        test_invalid_frees(arenas[0]);
        test_reports_and_teardown();
    } else {
        note("arenas could not be created: skipping the rest");
    }
    say_num("1..", checks_run);
    say("\n");
    say_num("# stack used (bytes): ", fw_stack_used());
    say_num(" of ", fw_stack_size());
    say("\n");
    say_num("# hakmem firmware test: ", checks_run);
    say_num(" checks, ", checks_failed);
    say(checks_failed ? " FAILED\n" : " failed: PASS\n");
    return checks_failed ? 1 : 0;
}
