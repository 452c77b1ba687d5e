/*
 * The worst hak_alloc of a lean arena that holds many free small blocks, when its own page-tail trim comes due:
 * 8,000,000 blocks of 64 bytes (500 MiB), 90% of them freed at random, then (after HAK_LEAN_TRIM_MS) 200,000
 * allocations of another class, each timed. Before the trims went in bounded steps the one allocation that
 * began a round walked every free list under the lock.
 *   cc -O2 -Iinclude bench/probes/trim_latency.c build/libhakmem.a -pthread -o build/trim_latency
 *   ./build/trim_latency [blocks=8000000] [size=64]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hakmem.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t       n = argc > 1 ? strtoul(argv[1], NULL, 0) : 8000000, size = argc > 2 ? strtoul(argv[2], NULL, 0) : 64;
    hak_arena_t *a;
    if (hak_arena_create(&a, &(hak_arena_config_t){.policy = HAK_POLICY_LEAN, .flags = HAK_ARENA_UNSYNCHRONIZED}))
        return 1;
    void **v = malloc(n * sizeof *v);
    if (!v)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = hak_alloc(a, size)))
            return 1;
    uint64_t r = 88172645463325252u;
    for (size_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        if (r % 10)
            hak_free(v[i]);
    }
    nanosleep(&(struct timespec){.tv_sec = 1, .tv_nsec = 200000000}, NULL); /* > HAK_LEAN_TRIM_MS (1000) */
    double worst = 0, total = 0;
    for (int i = 0; i < 200000; i++) {
        double t = now();
        void  *p = hak_alloc(a, size + 256);
        double d = now() - t;
        total += d;
        worst = d > worst ? d : worst;
        if (!p)
            return 1;
    }
    hak_arena_stats_t s;
    hak_arena_stats(a, &s);
    printf("%zu blocks of %zu B, 90%% freed: worst hak_alloc %.3f ms, mean %.0f ns; committed %zu MiB\n", n, size,
           worst * 1e3, total / 200000 * 1e9, s.committed >> 20);
    hak_arena_destroy(a);
    free(v);
    return 0;
}
