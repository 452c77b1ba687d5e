/*
 * A request's big buffer: allocate SIZE bytes (default 1 MiB), fill a quarter of it, free it; 2,000 times. With
 * -DHK on an unsynchronized fast hakmem arena, else through the process's malloc (glibc, or mimalloc linked in).
 *   cc -O2 -DHK -Iinclude bench/probes/huge_reuse.c build/libhakmem.a -pthread -o build/huge_reuse
 *   cc -O2 bench/probes/huge_reuse.c -o build/huge_reuse_glibc
 *   cc -O2 bench/probes/huge_reuse.c -lmimalloc -o build/huge_reuse_mimalloc
 *   ./build/huge_reuse [size]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HK
#include "hakmem.h"
static hak_arena_t *arena;
#define ALLOC(n) hak_alloc(arena, n)
#define FREE(p)  hak_free(p)
#else
#define ALLOC(n) malloc(n)
#define FREE(p)  free(p)
#endif

enum { REQUESTS = 2000 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : (size_t)1 << 20;
#ifdef HK
    if (hak_arena_create(&arena, &(hak_arena_config_t){.policy = HAK_POLICY_FAST, .flags = HAK_ARENA_UNSYNCHRONIZED}))
        return 1;
#endif
    double t = now();
    for (int i = 0; i < REQUESTS; i++) {
        char *p = ALLOC(size);
        if (!p)
            return 1;
        memset(p, i, size / 4);
        __asm__ volatile("" : : "r"(p) : "memory"); /* the compiler may not drop the pair */
        FREE(p);
    }
    double per = (now() - t) / REQUESTS * 1e6;
#ifdef HK
    hak_arena_stats_t s;
    hak_arena_stats(arena, &s);
    printf("hakmem: %zu-byte buffers, %.1f us per request, %llu platform calls\n", size, per,
           (unsigned long long)s.platform_calls);
#else
    printf("malloc: %zu-byte buffers, %.1f us per request\n", size, per);
#endif
    return 0;
}
