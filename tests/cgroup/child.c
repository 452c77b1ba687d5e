/*
 * Runs inside a memory cgroup (scripts/test_cgroup.sh puts it there): reports the process budget hakmem derived
 * from the cgroup, then allocates and touches memory in two arenas until hakmem says ENOMEM. Prints
 * "budget=<bytes> allocated=<bytes> committed=<bytes> rss=<KiB> errno=<name>" and exits 0. Being OOM-killed
 * instead (the thing hakmem must prevent) shows as a signal exit in the test.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hakmem.h"
#include "../rss.h"

int main(void)
{
    hak_arena_t *big, *small;
    if (hak_arena_create(&big, &(hak_arena_config_t){.name = "big"}) ||
        hak_arena_create(&small, &(hak_arena_config_t){.name = "small", .policy = HAK_POLICY_LEAN}))
        return 2;
    size_t budget = hak_memory_limit(), allocated = 0;
    int    err = 0;
    for (unsigned i = 0;; i++) {
        size_t size = i % 4 == 0 ? 3u << 20 : 1000 + i % 3000; /* huge blocks and small ones */
        char  *p = hak_alloc(i % 4 == 0 ? big : small, size);
        if (!p) {
            err = errno;
            break;
        }
        memset(p, 0xa5, size); /* really resident */
        allocated += size;
        if (allocated > ((size_t)8 << 30))
            break; /* no budget at all: stop anyway */
    }
    hak_arena_stats_t t;
    hak_stats_total(&t);
    printf("budget=%zu allocated=%zu committed=%zu rss=%ld errno=%s\n", budget, allocated, t.committed, rss_kib(),
           err == ENOMEM ? "ENOMEM" : err ? strerror(err) : "none");
    return 0;
}
