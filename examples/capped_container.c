/*
 * A service inside a memory-capped container: a cache arena that sheds entries when memory runs short (its
 * on_limit callback) and a request arena reset after every request, both under the process budget hakmem
 * derives from the container's cgroup limit (or HAKMEM_LIMIT, or 48 MiB when neither is set). The cache tries to
 * grow without bound; the budget makes it shed instead of the kernel killing the process.
 * `make run-capped` runs it inside a 64 MiB cgroup when one can be made.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

#define SLOTS 200000

static void  *cache[SLOTS];
static size_t head, tail, shed_entries, shed_calls;

/* Called by hakmem when the budget refuses memory: drop the oldest quarter of the cache. */
static void shed(hak_arena_t *arena, size_t wanted, void *arg)
{
    (void)arena, (void)wanted, (void)arg;
    size_t n = (head - tail) / 4 + 1;
    for (; n && tail < head; n--, shed_entries++)
        hak_free(cache[tail++ % SLOTS]);
    shed_calls++;
}

static void print(const char *line, void *arg)
{
    (void)arg;
    printf("  %s\n", line);
}

int main(void)
{
    if (!hak_memory_limit() && !getenv("HAKMEM_LIMIT"))
        hak_set_memory_limit((size_t)48 << 20); /* not in a capped container: pretend to be (HAKMEM_LIMIT=off: not) */
    hak_arena_t *cache_arena, *request;
    if (hak_arena_create(&cache_arena, &(hak_arena_config_t){.name = "cache", .on_limit = shed}) ||
        hak_arena_create(&request, &(hak_arena_config_t){.name = "request", .flags = HAK_ARENA_UNSYNCHRONIZED}))
        return 1;
    printf("process budget: %zu MiB\n", hak_memory_limit() >> 20);

    uint64_t rng = 42;
    size_t   failed = 0;
    for (int r = 0; r < 100000; r++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        for (int i = 0; i < 20; i++) { /* request scratch */
            char *s = hak_alloc(request, 32 + rng % 2048);
            if (!s) {
                failed++;
                break;
            }
            s[0] = 1;
        }
        size_t size = 256 + (rng >> 20) % 8192; /* the cache keeps everything it can */
        char  *e = hak_alloc(cache_arena, size);
        if (!e) {
            failed++;
        } else {
            memset(e, 0x3c, size);
            if (head - tail == SLOTS)
                hak_free(cache[tail++ % SLOTS]);
            cache[head++ % SLOTS] = e;
        }
        hak_arena_reset(request);
    }
    hak_arena_stats_t total;
    hak_stats_total(&total);
    printf("100000 requests: %zu cache entries live, %zu shed in %zu on_limit calls, %zu allocations failed\n",
           head - tail, shed_entries, shed_calls, failed);
    printf("process committed %zu KiB (peak %zu KiB) of a %zu KiB budget\n", total.committed >> 10,
           total.peak_committed >> 10, total.limit >> 10);
    hak_arena_report(cache_arena, print, NULL);
    hak_arena_report(request, print, NULL);
    int bad = total.peak_committed > total.limit + (1u << 20) || hak_arena_check(cache_arena) != 0;
    hak_arena_destroy(cache_arena);
    hak_arena_destroy(request);
    return bad;
}
