/*
 * A randomized run of 1,000,000 operations (alloc, calloc, realloc, aligned_alloc, free, reset) over several
 * arenas of different configurations, against a reference model: the model knows every live block's arena,
 * size and contents, and checks them on every free and realloc; hak_arena_check runs on every arena after
 * every 1,000 operations.
 */
#include "model.h"

#define SLOTS   3000
#define ARENAS  4
#define OPS     1000000
#define EDGE    256 /* bytes checked at each end of a big block (all of a small one) */

struct slot {
    unsigned char *p;
    size_t         size;
    int            arena;
    unsigned char  seed;
};

static struct slot   slots[SLOTS];
static hak_arena_t  *arenas[ARENAS];
static const size_t  limit_of[ARENAS] = {0, 0, 8u << 20, 0};

static unsigned char byte_at(const struct slot *s, size_t i)
{
    return (unsigned char)(s->seed + i * 131);
}

static void fill(struct slot *s)
{
    if (s->size <= 2 * EDGE) {
        for (size_t i = 0; i < s->size; i++)
            s->p[i] = byte_at(s, i);
        return;
    }
    for (size_t i = 0; i < EDGE; i++) {
        s->p[i] = byte_at(s, i);
        s->p[s->size - 1 - i] = byte_at(s, s->size - 1 - i);
    }
}

/* Checks the bytes fill() wrote that lie below `upto`, and the block's owner and size. */
static void verify(const struct slot *s, size_t upto)
{
    for (size_t i = 0; i < s->size && i < upto; i++) {
        if (s->size > 2 * EDGE && i == EDGE)
            i = s->size - EDGE; /* fill() skipped the middle */
        if (i >= upto)
            break;
        cr_assert_eq(s->p[i], byte_at(s, i), "block %p (size %zu) byte %zu corrupted", (void *)s->p, s->size, i);
    }
    cr_assert_eq(hak_arena_of(s->p), arenas[s->arena]);
    cr_assert_geq(hak_usable_size(s->p), upto < s->size ? upto : s->size);
}

static size_t random_size(uint64_t *rng)
{
    uint64_t r = test_rand(rng) % 1000;
    if (r < 700)
        return test_rand(rng) % 1025;
    if (r < 950)
        return test_rand(rng) % 33000;
    if (r < 998)
        return test_rand(rng) % 600000;
    return 1 + test_rand(rng) % (3u << 20);
}

/* Checks and frees the live blocks of the first n slots. */
static void free_slots(int n)
{
    for (int i = 0; i < n; i++)
        if (slots[i].p) {
            verify(&slots[i], slots[i].size);
            hak_free(slots[i].p);
        }
}

/* Whether slot i holds a live block of arena a. */
static bool slots_in(int i, int a)
{
    return slots[i].p && slots[i].arena == a;
}

static void on_failure(struct slot *s, size_t size)
{
    cr_assert_eq(errno, ENOMEM);
    hak_arena_stats_t st;
    hak_arena_stats(arenas[s->arena], &st);
    cr_assert(limit_of[s->arena] != 0, "only the capped arena may fail (size %zu)", size);
}

Test(random, million_ops_against_a_model)
{
    hak_arena_config_t cfg[ARENAS] = {
        {.name = "fast"},
        {.name = "lean-unsync", .policy = HAK_POLICY_LEAN, .flags = HAK_ARENA_UNSYNCHRONIZED},
        {.name = "capped-small", .slab_size = SLAB_MIN, .limit = limit_of[2]},
        {.name = "big-slabs", .slab_size = SLAB_MAX},
    };
    for (int i = 0; i < ARENAS; i++)
        cr_assert_eq(hak_arena_create(&arenas[i], &cfg[i]), 0);
    record_errors();
    uint64_t rng = 0x2545f4914f6cdd1du;
    for (long op = 1; op <= OPS; op++) {
        struct slot *s = &slots[test_rand(&rng) % SLOTS];
        uint64_t     what = test_rand(&rng) % 1000;
        if (what < 2) { /* reset a whole arena */
            int a = (int)(test_rand(&rng) % ARENAS);
            hak_arena_reset(arenas[a]);
            for (int i = 0; i < SLOTS; i++)
                if (slots[i].p && slots[i].arena == a)
                    slots[i].p = NULL;
        } else if (s->p && what < 600) { /* free */
            verify(s, s->size);
            hak_free(s->p);
            s->p = NULL;
        } else if (s->p) { /* realloc, possibly into another arena */
            int    to = what < 650 ? (int)(test_rand(&rng) % ARENAS) : s->arena;
            size_t size = random_size(&rng);
            errno = 0;
            unsigned char *q = hak_realloc(arenas[to], s->p, size);
            if (!q) {
                struct slot t = {.arena = to};
                on_failure(&t, size);
                verify(s, s->size); /* the old block is intact */
                continue;
            }
            struct slot old = *s;
            s->p = q, s->arena = to;
            verify(&(struct slot){.p = q, .size = old.size, .arena = to, .seed = old.seed}, size);
            s->size = size, s->seed = (unsigned char)test_rand(&rng);
            fill(s);
        } else { /* allocate */
            s->arena = (int)(test_rand(&rng) % ARENAS);
            s->size = random_size(&rng);
            s->seed = (unsigned char)test_rand(&rng);
            hak_arena_t *a = arenas[s->arena];
            errno = 0;
            if (what < 700) {
                s->p = hak_calloc(a, 1, s->size);
                for (size_t i = 0; s->p && i < s->size; i += 97)
                    cr_assert_eq(s->p[i], 0, "calloc block not zeroed");
            } else if (what < 800) {
                size_t align = (size_t)1 << (test_rand(&rng) % 14);
                s->p = hak_aligned_alloc(a, align, s->size);
                if (s->p)
                    cr_assert_eq((uintptr_t)s->p % align, 0);
            } else {
                s->p = hak_alloc(a, s->size);
            }
            if (!s->p) {
                on_failure(s, s->size);
                continue;
            }
            cr_assert_eq((uintptr_t)s->p % HAK_MIN_ALIGN, 0);
            fill(s);
        }
        if (op % 1000 == 0)
            for (int i = 0; i < ARENAS; i++) {
                cr_assert_eq(hak_arena_check(arenas[i]), 0, "check failed for arena %d after op %ld", i, op);
                if (limit_of[i]) {
                    hak_arena_stats_t st;
                    hak_arena_stats(arenas[i], &st);
                    cr_assert_leq(st.committed, limit_of[i]);
                }
            }
    }
    cr_assert_eq(reported.count, 0, "a valid run reports no error");
    free_slots(SLOTS);
    for (int i = 0; i < ARENAS; i++) {
        hak_arena_stats_t st;
        hak_arena_stats(arenas[i], &st);
        cr_assert_eq(st.in_use, 0, "arena %d leaks %zu bytes", i, st.in_use);
        cr_assert_eq(hak_arena_check(arenas[i]), 0);
        hak_arena_destroy(arenas[i]);
    }
}

/* The stats against what the arena really holds: in_use is the sum of its live blocks' usable sizes, and
 * committed lies between in_use and reserved. */
static void check_accounting(int a, int nslots)
{
    hak_arena_stats_t st;
    size_t            live = 0;
    cr_assert_eq(hak_arena_check(arenas[a]), 0);
    cr_assert_eq(hak_arena_stats(arenas[a], &st), 0);
    for (int i = 0; i < nslots; i++)
        if (slots_in(i, a))
            live += hak_usable_size(slots[i].p);
    cr_assert_eq(st.in_use, live, "arena %d: in_use %zu, its live blocks %zu", a, st.in_use, live);
    cr_assert(st.in_use <= st.committed && st.committed <= st.reserved, "arena %d: in_use %zu committed %zu "
              "reserved %zu", a, st.in_use, st.committed, st.reserved);
}

/* Purges, trims (hak_arena_trim, and the arenas' own page-tail rounds every millisecond), resets, reallocs across
 * the small/large/huge boundaries and lean borrowing, with every structure and the accounting checked after every
 * step, calloc's blocks checked zero whole (they may reuse purged or trimmed memory and spares), and every block's
 * contents on each free and realloc. */
Test(random, trims_and_purges_keep_contents_and_accounting)
{
    enum { STEPS = 20000, FEW = 300 };
    hak_arena_config_t cfg[ARENAS] = {
        {.name = "fast", .policy = HAK_POLICY_FAST, .trim_ms = 1},
        {.name = "lean", .policy = HAK_POLICY_LEAN, .trim_ms = 1},
        {.name = "capped-lean", .policy = HAK_POLICY_LEAN, .slab_size = SLAB_MIN, .limit = limit_of[2]},
        {.name = "lean-unsync", .policy = HAK_POLICY_LEAN, .flags = HAK_ARENA_UNSYNCHRONIZED, .trim_ms = 1},
    };
    for (int i = 0; i < ARENAS; i++)
        cr_assert_eq(hak_arena_create(&arenas[i], &cfg[i]), 0);
    record_errors();
    uint64_t rng = 0x9e3779b97f4a7c15u;
    for (int step = 0; step < STEPS; step++) {
        struct slot *s = &slots[test_rand(&rng) % FEW];
        uint64_t     what = test_rand(&rng) % 1000;
        int          a = (int)(test_rand(&rng) % ARENAS);
        if (what < 3) {
            hak_arena_reset(arenas[a]);
            for (int i = 0; i < FEW; i++)
                if (slots_in(i, a))
                    slots[i].p = NULL;
        } else if (what < 15) {
            hak_arena_trim(arenas[a]);
        } else if (s->p && what < 500) {
            verify(s, s->size);
            hak_free(s->p);
            s->p = NULL;
        } else if (s->p) {
            size_t         size = random_size(&rng);
            unsigned char *q = hak_realloc(arenas[a], s->p, size);
            if (!q) {
                on_failure(&(struct slot){.arena = a}, size);
                verify(s, s->size);
                continue;
            }
            verify(&(struct slot){.p = q, .size = s->size, .arena = a, .seed = s->seed}, size);
            *s = (struct slot){.p = q, .size = size, .arena = a, .seed = (unsigned char)test_rand(&rng)};
            fill(s);
        } else {
            *s = (struct slot){.size = random_size(&rng), .arena = a, .seed = (unsigned char)test_rand(&rng)};
            s->p = what < 750 ? hak_calloc(arenas[a], 1, s->size) : hak_alloc(arenas[a], s->size);
            if (!s->p) {
                on_failure(s, s->size);
                continue;
            }
            size_t zero = 0;
            while (what < 750 && zero < s->size && !s->p[zero])
                zero++;
            cr_assert(what >= 750 || zero == s->size, "calloc block %p of %zu bytes: byte %zu not zero", (void *)s->p,
                      s->size, zero);
            fill(s);
        }
        check_accounting(a, FEW);
    }
    cr_assert_eq(reported.count, 0, "a valid run reports no error");
    free_slots(FEW);
    for (int i = 0; i < ARENAS; i++) {
        check_accounting(i, 0);
        hak_arena_trim(arenas[i]);
        cr_assert_eq(committed_of(arenas[i]), 0, "arena %d keeps memory with no block live", i);
        hak_arena_destroy(arenas[i]);
    }
}
