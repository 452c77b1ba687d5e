/*
 * A minimal bare-metal program over the freestanding library: proves that a target build links with nothing but
 * libgcc (no C library, no start files), and — linked with --gc-sections — shows how much code the allocator
 * adds to a firmware that uses the common calls (the `make test-targets` size line). It is linked, not run: the
 * Cortex-M firmware in examples/firmware/ is what runs under QEMU.
 */
#include <stddef.h>
#include <stdint.h>

#include "hakmem.h"

void _start(void);

static _Alignas(16384) unsigned char pool[64 * 1024];

void _start(void)
{
    hak_arena_t *a;
    volatile uintptr_t sink = 0;
    if (hak_arena_create(&a, &(hak_arena_config_t){.pool = pool, .pool_size = sizeof pool}) == 0) {
        void *p = hak_alloc(a, 100);
        p = hak_realloc(a, p, 300);
        void *q = hak_calloc(a, 4, 50);
        sink = (uintptr_t)p ^ (uintptr_t)q;
        hak_free(q);
        hak_free(p);
        hak_arena_destroy(a);
    }
    for (;;)
        sink++;
}
