/*
 * Drops the only pointer to blocks of live arenas; `make test-valgrind` runs it under memcheck with
 * --leak-check=full and requires these four blocks, and only them, to be reported definitely lost: a small
 * block of a default arena (through the thread cache), one of an unsynchronized arena (the first of its page,
 * so its page header points at it), a large block and a huge one (their headers point at them too). One more
 * block stays referenced from a global and must not be reported lost (memcheck counts it still reachable).
 */
#include <stdio.h>
#include <string.h>

#include "hakmem.h"

void *kept; /* not static: the compiler must keep the store */

/* Allocates and forgets; noinline so that no copy of the pointer outlives the call in main's frame. */
static __attribute__((noinline)) void lose(hak_arena_t *a, size_t size)
{
    void *p = hak_alloc(a, size);
    if (!p)
        return;
    memset(p, 0x5a, size < 4096 ? size : 4096);
    __asm__ volatile("" : : "r"(p) : "memory"); /* the stores above are not dead */
}

int main(void)
{
    hak_arena_t *shared, *solo;
    if (hak_arena_create(&shared, NULL) || hak_arena_create(&solo, &(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED}))
        return 1;
    kept = hak_alloc(shared, 48);
    lose(shared, 64);
    lose(solo, 1000);
    lose(solo, 100000);
    lose(shared, 3u << 20);
    puts("leak: done"); /* the arenas stay alive: their blocks are the program's until exit */
    return 0;
}
