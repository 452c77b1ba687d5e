/*
 * libFuzzer target: the input is decoded into a sequence of API calls over up to three arenas (create with a
 * config taken from the input, alloc, calloc, realloc across arenas, aligned_alloc, free, an interior free,
 * reset, trim, set_limit, destroy), checked against a model of every live block (owner, size, contents), with
 * hak_arena_check on every arena after every step. Valid calls must never reach the error handler; the one
 * invalid call (an interior free) must reach it exactly once. Build and run: make fuzz [FUZZ_SECONDS=60].
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/hak_config.h"
#include "hakmem.h"

#define ARENAS 3
#define SLOTS  64

struct slot {
    unsigned char *p;
    size_t         size;
    int            arena;
    unsigned char  seed;
};

static hak_arena_t *arenas[ARENAS];
static size_t       limits[ARENAS];
static struct slot  slots[SLOTS];
static int          reports, last_code;

static void handler(int code, const char *msg, void *ptr, void *arg)
{
    (void)msg, (void)ptr, (void)arg;
    reports++;
    last_code = code;
}

#define REQUIRE(c)                                                                                          \
    do {                                                                                                    \
        if (!(c)) {                                                                                         \
            fprintf(stderr, "fuzz: requirement failed: %s (line %d)\n", #c, __LINE__);                      \
            abort();                                                                                        \
        }                                                                                                   \
    } while (0)

struct input {
    const uint8_t *data;
    size_t         len;
};

static unsigned take(struct input *in)
{
    if (!in->len)
        return 0;
    in->len--;
    return *in->data++;
}

static size_t take_size(struct input *in)
{
    unsigned kind = take(in), v = take(in) | take(in) << 8;
    switch (kind % 8) {
    case 0: return v % 17;                   /* tiny, including 0 */
    case 1: case 2: case 3: return v % 1025; /* small classes */
    case 4: case 5: return v % 33000;        /* medium */
    case 6: return (size_t)v * 9;            /* large slice runs */
    default: return (size_t)v * 48 + 600000; /* huge */
    }
}

static void fill(struct slot *s)
{
    size_t n = s->size < 512 ? s->size : 512; /* the head and the last byte */
    for (size_t i = 0; i < n; i++)
        s->p[i] = (unsigned char)(s->seed + i);
    if (s->size)
        s->p[s->size - 1] = s->seed;
}

static void verify(const struct slot *s, size_t upto)
{
    size_t n = s->size < 512 ? s->size : 512;
    for (size_t i = 0; i < n && i < upto; i++)
        REQUIRE(s->p[i] == (unsigned char)(s->seed + i) || (i == s->size - 1 && s->p[i] == s->seed));
    if (s->size && s->size - 1 < upto)
        REQUIRE(s->p[s->size - 1] == s->seed);
}

static void drop_arena_blocks(int a)
{
    for (int k = 0; k < SLOTS; k++)
        if (slots[k].p && slots[k].arena == a)
            slots[k].p = NULL;
}

static void check_arenas(void)
{
    for (int i = 0; i < ARENAS; i++)
        if (arenas[i]) {
            REQUIRE(hak_arena_check(arenas[i]) == 0);
            hak_arena_stats_t s;
            REQUIRE(hak_arena_stats(arenas[i], &s) == 0);
            REQUIRE(!limits[i] || s.committed <= limits[i]);
        }
}

static void failed_alloc(int a)
{
    REQUIRE(errno == ENOMEM);
    REQUIRE(limits[a] != 0); /* only a capped arena may run out here */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct input in = {data, len};
    hak_set_error_handler(handler, NULL);
    reports = 0;
    while (in.len) {
        unsigned op = take(&in) % 12, a = take(&in) % ARENAS, k = take(&in) % SLOTS;
        struct slot *s = &slots[k];
        if (op != 0 && !arenas[a])
            op = 0;
        if (getenv("FUZZ_TRACE"))
            fprintf(stderr, "op %u arena %u slot %u\n", op, a, k);
        switch (op) {
        case 0: { /* create */
            if (arenas[a])
                break;
            unsigned c = take(&in);
            static const size_t slab[] = {0, 512 * 1024, 1024 * 1024, 2048 * 1024};
            limits[a] = c & 0x40 ? (size_t)(1 + (c & 7)) << 20 : 0;
            hak_arena_config_t cfg = {.slab_size = HAK_CFG_FREESTANDING ? 0 : slab[c & 3], /* (one size there) */
                                      .policy = (hak_policy_t)((c >> 2) % 3),
                                      .flags = (c & 0x20) ? HAK_ARENA_UNSYNCHRONIZED : 0,
                                      .limit = limits[a]};
            REQUIRE(hak_arena_create(&arenas[a], &cfg) == 0);
            break;
        }
        case 1: case 2: case 3: { /* alloc / calloc / aligned_alloc into an empty slot */
            if (s->p)
                break;
            size_t size = take_size(&in);
            size_t align = (size_t)1 << (take(&in) % 17);
            errno = 0;
            s->p = op == 1 ? hak_alloc(arenas[a], size)
                 : op == 2 ? hak_calloc(arenas[a], 1, size)
                           : hak_aligned_alloc(arenas[a], align, size);
            if (!s->p) {
                failed_alloc((int)a);
                break;
            }
            REQUIRE((uintptr_t)s->p % (op == 3 && align > 16 ? align : 16) == 0);
            REQUIRE(hak_usable_size(s->p) >= size && hak_arena_of(s->p) == arenas[a]);
            if (op == 2)
                for (size_t i = 0; i < size; i += 61)
                    REQUIRE(s->p[i] == 0);
            s->size = size, s->arena = (int)a, s->seed = (unsigned char)take(&in);
            fill(s);
            break;
        }
        case 4: { /* realloc, maybe into another arena */
            if (!s->p)
                break;
            size_t size = take_size(&in);
            errno = 0;
            unsigned char *q = hak_realloc(arenas[a], s->p, size);
            if (!q) {
                failed_alloc((int)a);
                verify(s, s->size);
                break;
            }
            s->p = q;
            verify(s, size);
            s->size = size, s->arena = (int)a;
            fill(s);
            break;
        }
        case 5: case 6: /* free */
            if (s->p) {
                verify(s, s->size);
                REQUIRE(hak_arena_of(s->p) == arenas[s->arena]);
                hak_free(s->p);
                s->p = NULL;
            }
            break;
        case 7: /* an interior pointer must be reported, and change nothing */
            if (s->p && s->size > 16) {
                int before = reports;
                hak_free(s->p + 16);
                REQUIRE(reports == before + 1 && last_code == HAK_ERR_INTERIOR_PTR);
                reports = before;
            }
            break;
        case 8: /* reset */
            hak_arena_reset(arenas[a]);
            drop_arena_blocks((int)a);
            break;
        case 9:
            hak_arena_trim(arenas[a]);
            break;
        case 10: { /* set_limit: only upwards, so live data always fits */
            size_t more = (size_t)(take(&in) % 8 + 1) << 20;
            hak_arena_stats_t st;
            hak_arena_stats(arenas[a], &st);
            limits[a] = st.committed + more;
            REQUIRE(hak_arena_set_limit(arenas[a], limits[a]) == 0);
            break;
        }
        case 11: /* destroy */
            hak_arena_destroy(arenas[a]);
            arenas[a] = NULL;
            limits[a] = 0;
            drop_arena_blocks((int)a);
            break;
        }
        REQUIRE(reports == 0);
        check_arenas();
    }
    for (int k = 0; k < SLOTS; k++)
        if (slots[k].p) {
            verify(&slots[k], slots[k].size);
            hak_free(slots[k].p);
            slots[k].p = NULL;
        }
    for (int i = 0; i < ARENAS; i++)
        if (arenas[i]) {
            hak_arena_stats_t st;
            REQUIRE(hak_arena_stats(arenas[i], &st) == 0);
            if (st.in_use)
                fprintf(stderr, "fuzz: arena %d keeps %zu bytes in use after every block was freed\n", i, st.in_use);
            REQUIRE(st.in_use == 0);
            hak_arena_destroy(arenas[i]);
            arenas[i] = NULL;
        }
    REQUIRE(reports == 0);
    return 0;
}
