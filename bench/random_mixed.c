/*
 * random_mixed (../shared/BENCHMARKS.md, workload 1): `ops` operations over `ws` slots; each picks a slot
 * uniformly, frees it if occupied, else allocates 16..1024 bytes and writes the first and last byte.
 * One binary per allocator (each peer replaces malloc process-wide). Prints one line:
 *   <allocator> <variant> <ops/s> <peak RSS KiB> <committed bytes or -> <platform calls per op or ->
 * Usage: random_mixed_<alloc> [variant] [ops] [ws] [seed]; hakmem variants: unsync, default, lean, lean-unsync.
 */
#include "bench.h"

#include <string.h>

#if defined(BENCH_HAKMEM)
#include "hakmem.h"
static hak_arena_t *arena;
#define ALLOC(n) hak_alloc(arena, n)
#define FREE(p)  hak_free(p)
#define NAME     "hakmem"
#elif defined(BENCH_MIMALLOC)
#include <mimalloc.h>
static mi_heap_t *heap;
#define ALLOC(n) mi_heap_malloc(heap, n)
#define FREE(p)  mi_free(p)
#define NAME     "mimalloc"
#else
#define ALLOC(n) malloc(n)
#define FREE(p)  free(p)
#define NAME     "glibc"
#endif

int main(int argc, char **argv)
{
    const char *variant = argc > 1 ? argv[1] : "default";
    long        ops = argc > 2 ? atol(argv[2]) : 20000000;
    long        ws = argc > 3 ? atol(argv[3]) : 400;
    uint64_t    seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    if (ops <= 0 || ws <= 0 || seed == 0) {
        fprintf(stderr, "usage: %s [variant] [ops>0] [ws>0] [seed!=0]\n", argv[0]);
        return 2;
    }
#if defined(BENCH_HAKMEM)
    hak_arena_config_t cfg = {.name = "bench"};
    if (strstr(variant, "unsync"))
        cfg.flags = HAK_ARENA_UNSYNCHRONIZED;
    if (strstr(variant, "lean"))
        cfg.policy = HAK_POLICY_LEAN;
    else if (strstr(variant, "fast"))
        cfg.policy = HAK_POLICY_FAST;
    if (hak_arena_create(&arena, &cfg)) {
        fprintf(stderr, "hak_arena_create failed\n");
        return 1;
    }
#elif defined(BENCH_MIMALLOC)
    heap = mi_heap_new();
#endif
    void **slot = calloc((size_t)ws, sizeof *slot);
    if (!slot)
        return 1;
    uint64_t rng = seed;
#if defined(BENCH_HAKMEM)
    hak_arena_stats_t st0;
    hak_arena_stats(arena, &st0);
#endif
    double t0 = now_sec();
    for (long i = 0; i < ops; i++) {
        uint64_t r = xorshift64(&rng);
        size_t   k = (size_t)(r % (uint64_t)ws);
        if (slot[k]) {
            FREE(slot[k]);
            slot[k] = NULL;
        } else {
            size_t         n = 16 + (size_t)((r >> 32) % 1009);
            unsigned char *p = ALLOC(n);
            if (!p) {
                fprintf(stderr, "allocation failed\n");
                return 1;
            }
            p[0] = (unsigned char)i;
            p[n - 1] = (unsigned char)i;
            slot[k] = p;
        }
    }
    double dt = now_sec() - t0;
    char   committed[32] = "-", calls[32] = "-";
#if defined(BENCH_HAKMEM)
    hak_arena_stats_t st;
    hak_arena_stats(arena, &st);
    snprintf(committed, sizeof committed, "%zu", st.peak_committed);
    snprintf(calls, sizeof calls, "%.3g", (double)(st.platform_calls - st0.platform_calls) / (double)ops);
#endif
    for (long k = 0; k < ws; k++)
        FREE(slot[k]);
    printf("%s %s %.0f %ld %s %s\n", NAME, variant, (double)ops / dt, peak_rss_kb(), committed, calls);
    free(slot);
    return 0;
}
