/*
 * realloc_grow (../shared/BENCHMARKS.md, workload 4): `buffers` buffers of 16 bytes, grown interleaved (one step
 * of every unfinished buffer per round) by realloc to size * 1.5 + 1..64 bytes, capped at `max` bytes, then freed.
 * After every step the buffer's first byte (its tag, written at allocation) is checked and its last byte written.
 * An op is one allocation, realloc or free.
 *   realloc_grow VARIANT [buffers=10000] [max=262144] [seed=1]
 */
#include "alloc.h"

int wl_realloc_grow(int argc, char **argv)
{
    const char *variant = check_variant(argc, argv, NULL);
    long        buffers = arg_long(argc, argv, 2, 10000, 1);
    size_t      max = (size_t)arg_long(argc, argv, 3, 262144, 16);
    uint64_t    rng = (uint64_t)arg_long(argc, argv, 4, 1, 1);
    unsigned char **buf = calloc((size_t)buffers, sizeof *buf);
    size_t         *size = calloc((size_t)buffers, sizeof *size);
    if (!buf || !size)
        die("out of memory");
    heap_t h;
    heap_new(&h, variant);
    long long calls0 = heap_calls(&h);
    double    ops = 0, t0 = now_sec();
    for (long b = 0; b < buffers; b++) {
        buf[b] = heap_alloc(&h, 16);
        buf[b][0] = (unsigned char)b;
        buf[b][15] = 1;
        size[b] = 16;
    }
    ops += (double)buffers;
    for (long unfinished = buffers; unfinished > 0;) {
        unfinished = 0;
        for (long b = 0; b < buffers; b++) {
            if (size[b] == max)
                continue;
            size_t n = size[b] + size[b] / 2 + size_in(xorshift64(&rng), 1, 64);
            if (n > max)
                n = max;
            buf[b] = heap_realloc(&h, buf[b], n);
            if (buf[b][0] != (unsigned char)b)
                die("realloc lost the contents of buffer %ld", b);
            buf[b][n - 1] = 1;
            size[b] = n;
            ops++;
            unfinished += n < max;
        }
    }
    for (long b = 0; b < buffers; b++)
        heap_free(&h, buf[b]);
    ops += (double)buffers;
    double    sec = now_sec() - t0;
    long long calls = heap_calls(&h);
    report(argv[0], ALLOC_NAME, variant, ops, sec, heap_committed(&h), calls < 0 ? -1 : calls - calls0);
    heap_destroy(&h);
    free(buf);
    free(size);
    return 0;
}
