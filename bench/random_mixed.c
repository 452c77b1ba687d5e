/*
 * random_mixed, random_mixed_large and soak (../shared/BENCHMARKS.md, workloads 1, 2 and 8).
 * Each op picks one of `ws` slots uniformly: an occupied slot is freed, an empty one gets a block of a size uniform
 * in [lo, hi] whose first and last byte are written.
 *   random_mixed       VARIANT [ops=20000000] [ws=400] [seed=1]      sizes 16..1024
 *   random_mixed_large VARIANT [ops=2000000]  [ws=400] [seed=1]      sizes 1 KiB..64 KiB
 *   soak               VARIANT [seconds=600]  [epoch=5] [ws=400] [seed=1]
 *       random_mixed without end; after every epoch prints "EPOCH n ops_per_s rss_kib" (current VmRSS).
 */
#include "alloc.h"

typedef struct {
    heap_t   heap;
    void   **slot;
    size_t   ws, lo, hi;
    uint64_t rng;
    long     done; /* ops so far, also the byte written */
} mixed_t;

static void mixed_init(mixed_t *m, const char *variant, long ws, long seed, size_t lo, size_t hi)
{
    heap_new(&m->heap, variant);
    m->slot = calloc((size_t)ws, sizeof *m->slot);
    if (!m->slot)
        die("out of memory for %ld slots", ws);
    m->ws = (size_t)ws;
    m->lo = lo;
    m->hi = hi;
    m->rng = (uint64_t)seed;
    m->done = 0;
}

/* Copies the state into locals: the byte stores through `p` may alias anything, so the compiler would otherwise
 * reload the struct on every op. */
static void mixed_run(mixed_t *m, long ops)
{
    heap_t        *h = &m->heap;
    void         **slot = m->slot;
    const uint64_t ws = m->ws;
    const size_t   lo = m->lo, hi = m->hi;
    uint64_t       rng = m->rng;
    for (long i = m->done, end = m->done + ops; i < end; i++) {
        uint64_t r = xorshift64(&rng);
        size_t   k = (size_t)(r % ws);
        if (slot[k]) {
            heap_free(h, slot[k]);
            slot[k] = NULL;
        } else {
            size_t         n = size_in(r, lo, hi);
            unsigned char *p = heap_alloc(h, n);
            p[0] = (unsigned char)i;
            p[n - 1] = (unsigned char)i;
            slot[k] = p;
        }
    }
    m->rng = rng;
    m->done += ops;
}

static void mixed_finish(mixed_t *m)
{
    for (size_t k = 0; k < m->ws; k++)
        if (m->slot[k])
            heap_free(&m->heap, m->slot[k]);
    heap_destroy(&m->heap);
    free(m->slot);
}

static int random_mixed(int argc, char **argv, long def_ops, size_t lo, size_t hi)
{
    const char *variant = check_variant(argc, argv, NULL);
    long        ops = arg_long(argc, argv, 2, def_ops, 1);
    long        ws = arg_long(argc, argv, 3, 400, 1);
    long        seed = arg_long(argc, argv, 4, 1, 1);
    mixed_t     m;
    mixed_init(&m, variant, ws, seed, lo, hi);
    /* The timed loop in two parts, so that hakmem's platform calls are also known for the steady state: the
     * calls made after the first 1% of ops (the clock stops while the counter is read). */
    long      warm = ops / 100;
    long long calls0 = heap_calls(&m.heap);
    double    t0 = now_sec();
    mixed_run(&m, warm);
    double    sec = now_sec() - t0;
    long long calls1 = heap_calls(&m.heap);
    t0 = now_sec();
    mixed_run(&m, ops - warm);
    sec += now_sec() - t0;
    long long calls = heap_calls(&m.heap);
    report(argv[0], ALLOC_NAME, variant, (double)ops, sec, heap_committed(&m.heap), calls < 0 ? -1 : calls - calls0);
    if (calls >= 0)
        printf("STEADY ops=%ld calls=%lld\n", ops - warm, calls - calls1);
    mixed_finish(&m);
    return 0;
}

int wl_random_mixed(int argc, char **argv) { return random_mixed(argc, argv, 20000000, 16, 1024); }
int wl_random_mixed_large(int argc, char **argv) { return random_mixed(argc, argv, 2000000, 1024, 65536); }

int wl_soak(int argc, char **argv)
{
    const char *variant = check_variant(argc, argv, NULL);
    long        seconds = arg_long(argc, argv, 2, 600, 1);
    long        epoch = arg_long(argc, argv, 3, 5, 1);
    long        ws = arg_long(argc, argv, 4, 400, 1);
    long        seed = arg_long(argc, argv, 5, 1, 1);
    mixed_t     m;
    mixed_init(&m, variant, ws, seed, 16, 1024);
    const long chunk = 1 << 16; /* ops between clock reads */
    double     start = now_sec(), t0 = start;
    long       ops0 = 0;
    for (long n = 1; n * epoch <= seconds; n++) {
        double t;
        do {
            mixed_run(&m, chunk);
        } while ((t = now_sec()) < start + (double)(n * epoch));
        printf("EPOCH %ld %.0f %ld\n", n, (double)(m.done - ops0) / (t - t0), rss_kb());
        fflush(stdout);
        t0 = t;
        ops0 = m.done;
    }
    long long calls = heap_calls(&m.heap);
    report(argv[0], ALLOC_NAME, variant, (double)m.done, now_sec() - start, heap_committed(&m.heap), calls);
    mixed_finish(&m);
    return 0;
}
