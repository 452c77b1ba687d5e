/*
 * Uses blocks after they were given back, in each way hakmem gives them back; `make test-valgrind` runs it under
 * memcheck and requires exactly these four errors (one invalid access each), so a build that stops telling
 * memcheck about blocks fails the test. The accesses stay clear of a free block's first 16 bytes (its link and
 * free marker), so hakmem's lists survive them and the program ends normally.
 *   1. a write into a small block freed into the thread's cache (a default arena);
 *   2. a read of a small block freed to its page (an unsynchronized arena);
 *   3. a write into a large block (a run of slices) after its free;
 *   4. a write into a block of an arena that was reset since.
 */
#include <stdio.h>

#include "hakmem.h"

static volatile unsigned char sink;

int main(void)
{
    hak_arena_t *shared, *solo;
    if (hak_arena_create(&shared, NULL) || hak_arena_create(&solo, &(hak_arena_config_t){.flags = HAK_ARENA_UNSYNCHRONIZED}))
        return 1;

    unsigned char *cached = hak_alloc(shared, 64);
    hak_free(cached);
    cached[32] = 1; /* error 1 */

    unsigned char *paged = hak_alloc(solo, 100);
    paged[40] = 7;
    hak_free(paged);
    sink = paged[40]; /* error 2 */

    unsigned char *large = hak_alloc(solo, 200000);
    hak_free(large);
    large[1000] = 1; /* error 3 */

    unsigned char *scratch = hak_alloc(shared, 300);
    hak_arena_reset(shared);
    scratch[16] = 1; /* error 4 */

    hak_arena_destroy(solo);
    hak_arena_destroy(shared);
    puts("use_after_free: done");
    return 0;
}
