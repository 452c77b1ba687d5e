/*
 * A small "service" with one arena per subsystem:
 *   net    — network buffers, 2 KiB..16 KiB, churned by two I/O threads (a default, thread-safe arena);
 *   cache  — objects of 64..4096 bytes, capped at 4 MiB: inserts evict the oldest entry on ENOMEM;
 *   parse  — per-request scratch, never freed one by one: the arena is reset after each request (fast policy:
 *            the same pages serve every request, with no syscall).
 * At the end it prints one stats line per arena.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hakmem.h"

static hak_arena_t *net, *cache, *parse;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void *io_thread(void *arg)
{
    uint64_t rng = (uintptr_t)arg;
    void    *ring[64] = {0};
    for (int i = 0; i < 200000; i++) {
        unsigned k = (unsigned)(next_rand(&rng) % 64);
        hak_free(ring[k]); /* NULL is fine */
        size_t n = 2048 + (size_t)(next_rand(&rng) % (14 * 1024));
        ring[k] = hak_alloc(net, n);
        if (!ring[k])
            return (void *)1;
        memset(ring[k], 0xab, 64);
    }
    for (unsigned k = 0; k < 64; k++)
        hak_free(ring[k]);
    return NULL;
}

#define CACHE_SLOTS 8192
static void  *entries[CACHE_SLOTS];
static size_t oldest, newest, evictions;

static int cache_insert(size_t size)
{
    void *p;
    while (!(p = hak_alloc(cache, size))) {
        if (errno != ENOMEM || oldest == newest)
            return -1;
        hak_free(entries[oldest++ % CACHE_SLOTS]); /* at the cap: evict the oldest and retry */
        evictions++;
    }
    memset(p, 0x5a, size);
    if (newest - oldest == CACHE_SLOTS)
        hak_free(entries[oldest++ % CACHE_SLOTS]);
    entries[newest++ % CACHE_SLOTS] = p;
    return 0;
}

static void print_stats(const char *name, hak_arena_t *a)
{
    hak_arena_stats_t s;
    if (hak_arena_stats(a, &s) != 0)
        return;
    printf("%-6s %10zu %10zu %10zu %10zu %8zu %10llu %10llu %7llu %6llu\n", name, s.in_use, s.committed,
           s.peak_committed, s.limit, s.superslabs, (unsigned long long)s.allocs, (unsigned long long)s.frees,
           (unsigned long long)s.failed_allocs, (unsigned long long)s.platform_calls);
}

int main(void)
{
    if (hak_arena_create(&net, &(hak_arena_config_t){.name = "net"}) ||
        hak_arena_create(&cache, &(hak_arena_config_t){.name = "cache", .limit = 4u << 20}) ||
        hak_arena_create(&parse, &(hak_arena_config_t){.name = "parse", .flags = HAK_ARENA_UNSYNCHRONIZED,
                                                        .policy = HAK_POLICY_FAST})) {
        fprintf(stderr, "cannot create arenas\n");
        return 1;
    }

    pthread_t io[2];
    for (uintptr_t t = 0; t < 2; t++)
        pthread_create(&io[t], NULL, io_thread, (void *)(t + 88172645463325252u));

    uint64_t rng = 1;
    size_t   requests = 0;
    for (; requests < 2000; requests++) {
        for (int i = 0; i < 50; i++) { /* parse: scratch that dies with the request */
            char *tok = hak_alloc(parse, 16 + next_rand(&rng) % 512);
            if (!tok)
                return 1;
            tok[0] = 'x';
        }
        if (cache_insert(64 + next_rand(&rng) % 4032))
            return 1;
        hak_arena_reset(parse);
    }

    int failed = 0;
    for (int t = 0; t < 2; t++) {
        void *r;
        pthread_join(io[t], &r);
        failed |= r != NULL;
    }
    hak_arena_stats_t cs;
    hak_arena_stats(cache, &cs);
    printf("hakmem %d.%d.%d per-subsystem demo: %zu requests, %zu cache evictions at the %zu KiB cap\n\n",
           HAKMEM_VERSION_MAJOR, HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH, requests, evictions, cs.limit >> 10);
    printf("%-6s %10s %10s %10s %10s %8s %10s %10s %7s %6s\n", "arena", "in_use", "committed", "peak", "limit",
           "slabs", "allocs", "frees", "failed", "calls");
    print_stats("net", net);
    print_stats("cache", cache);
    print_stats("parse", parse);
    for (hak_arena_t **a = (hak_arena_t *[]){net, cache, parse, NULL}; *a; a++)
        if (hak_arena_check(*a) != 0)
            failed = 1;
    /* The I/O threads are done, so the net arena's memory is all free: trim gives it back to the OS. The cache
     * is full of live entries, so it has little or nothing to give. Neither touches the other's memory. */
    size_t net_back = hak_arena_trim(net), cache_back = hak_arena_trim(cache);
    printf("\nhak_arena_trim: net gave back %zu KiB (its threads are done), cache %zu KiB (its entries are live)\n",
           net_back >> 10, cache_back >> 10);
    hak_arena_destroy(net);
    hak_arena_destroy(cache);
    hak_arena_destroy(parse);
    return failed;
}
