/*
 * arena_lifecycle (../shared/BENCHMARKS.md, workload 3): per-request arenas. Each cycle creates a heap, makes
 * `allocs` allocations of 16..512 bytes (first byte written) and destroys the heap without freeing them; allocators
 * without heaps (glibc, tcmalloc) free each block instead. An op is one allocation; the create/destroy cost is
 * spread over the cycle's allocations.
 *   arena_lifecycle VARIANT [cycles=200000] [allocs=100] [seed=1]
 * The platform calls of an arena that is destroyed cannot be read from its stats: hakmem reports `calls` as -1
 * here; run.py's strace column counts them.
 */
#include "alloc.h"

int wl_arena_lifecycle(int argc, char **argv)
{
    const char *variant = check_variant(argc, argv, NULL);
    long        cycles = arg_long(argc, argv, 2, 200000, 1);
    long        allocs = arg_long(argc, argv, 3, 100, 1);
    uint64_t    rng = (uint64_t)arg_long(argc, argv, 4, 1, 1);
    void      **blk = calloc((size_t)allocs, sizeof *blk);
    long long   committed = -1;
    if (!blk)
        die("out of memory");
    double t0 = now_sec();
    for (long c = 0; c < cycles; c++) {
        heap_t h;
        heap_new(&h, variant);
        for (long i = 0; i < allocs; i++) {
            unsigned char *p = heap_alloc(&h, size_in(xorshift64(&rng), 16, 512));
            p[0] = (unsigned char)i;
            blk[i] = p;
        }
        if (c == cycles - 1)
            committed = heap_committed(&h); /* one arena's peak: they all look alike */
        if (!HEAP_DISCARDS)
            for (long i = 0; i < allocs; i++)
                heap_free(&h, blk[i]);
        heap_destroy(&h);
    }
    double sec = now_sec() - t0;
    report(argv[0], ALLOC_NAME, variant, (double)cycles * (double)allocs, sec, committed, -1);
    free(blk);
    return 0;
}
