/*
 * xthread (../shared/BENCHMARKS.md, workload 5): a producer thread allocates `blocks` blocks of 16..256 bytes
 * (first byte written) and passes them through a bounded single-producer/single-consumer ring to a consumer
 * thread that checks and frees them. One heap, created and destroyed by the main thread, which starts both (hakmem:
 * one default arena shared by both threads); a heap that only its creating thread may allocate from
 * (HEAP_THREAD_OWNED: mimalloc's) is created by each producer instead, before its clock starts, and destroyed by
 * it once the consumer is done. An op is one block (allocated and freed); the time runs from the
 * producer's first allocation to the consumer's last free. A first, untimed pair of threads moves 10,000 blocks so
 * that thread stacks and per-thread allocator state exist; then the process's RSS is read, the timed pair runs, and
 * once both threads have ended (before the heap is destroyed) RSS is read again: "XTHREAD_RSS start_kb=… end_kb=…"
 * (issue 4: a lean arena gives the memory of finished traffic back by itself).
 *   xthread VARIANT [blocks=10000000] [ring=4096] [seed=1]
 */
#include "alloc.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define SPINS_BEFORE_YIELD 64
#define WARMUP_BLOCKS      10000

static struct {
    heap_t          heap;
    const char     *variant;
    long            blocks;
    uint64_t        seed;
    size_t          mask; /* ring size - 1 */
    void          **ring;
    _Alignas(64) atomic_size_t head; /* next slot the consumer reads */
    _Alignas(64) atomic_size_t tail; /* next slot the producer writes */
    _Alignas(64) atomic_int consumer_done;
    double          t0, t1;
    long long       calls, committed;
    long            rss_start, rss_end;
} x;

static void *producer(void *arg)
{
    (void)arg;
    if (HEAP_THREAD_OWNED) /* (a heap only its creator may allocate from: the producer's own, made untimed) */
        heap_new(&x.heap, x.variant);
    long long calls0 = heap_calls(&x.heap);
    uint64_t  rng = x.seed;
    size_t    tail = 0, head = 0;
    x.t0 = now_sec();
    for (long i = 0; i < x.blocks; i++) {
        unsigned char *p = heap_alloc(&x.heap, size_in(xorshift64(&rng), 16, 256));
        p[0] = (unsigned char)i;
        for (int spins = 0; tail - head > x.mask; spins++) {
            if (spins >= SPINS_BEFORE_YIELD)
                sched_yield();
            head = atomic_load_explicit(&x.head, memory_order_acquire);
        }
        x.ring[tail & x.mask] = p;
        atomic_store_explicit(&x.tail, ++tail, memory_order_release);
    }
    while (!atomic_load_explicit(&x.consumer_done, memory_order_acquire))
        sched_yield();
    long long calls = heap_calls(&x.heap);
    x.calls = calls < 0 ? -1 : calls - calls0;
    x.committed = heap_committed(&x.heap);
    if (HEAP_THREAD_OWNED) /* every block was freed by the consumer */
        heap_destroy(&x.heap);
    heap_thread_done();
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    size_t head = 0, tail = 0;
    for (long i = 0; i < x.blocks; i++) {
        for (int spins = 0; head == tail; spins++) {
            if (spins >= SPINS_BEFORE_YIELD)
                sched_yield();
            tail = atomic_load_explicit(&x.tail, memory_order_acquire);
        }
        unsigned char *p = x.ring[head & x.mask];
        if (p[0] != (unsigned char)i)
            die("xthread: block %ld arrived corrupted", i);
        heap_free(&x.heap, p);
        atomic_store_explicit(&x.head, ++head, memory_order_release);
    }
    x.t1 = now_sec();
    heap_thread_done();
    atomic_store_explicit(&x.consumer_done, 1, memory_order_release);
    return NULL;
}

/* One producer/consumer run of `blocks` blocks. */
static void run_pair(long blocks)
{
    x.blocks = blocks;
    atomic_store(&x.head, 0);
    atomic_store(&x.tail, 0);
    atomic_store(&x.consumer_done, 0);
    pthread_t tp, tc;
    if (pthread_create(&tp, NULL, producer, NULL) || pthread_create(&tc, NULL, consumer, NULL))
        die("pthread_create failed");
    pthread_join(tc, NULL);
    pthread_join(tp, NULL);
}

int wl_xthread(int argc, char **argv)
{
    x.variant = check_variant(argc, argv, "default lean heap arena arena-tcache malloc");
    long blocks = arg_long(argc, argv, 2, 10000000, 1);
    long ring = arg_long(argc, argv, 3, 4096, 2);
    x.seed = (uint64_t)arg_long(argc, argv, 4, 1, 1);
    if (ring & (ring - 1))
        die("xthread: the ring size must be a power of two");
    x.mask = (size_t)ring - 1;
    if (!(x.ring = calloc((size_t)ring, sizeof *x.ring)))
        die("out of memory");
    if (!HEAP_THREAD_OWNED)
        heap_new(&x.heap, x.variant); /* one heap shared by both threads, warm from the warm-up run */
    run_pair(WARMUP_BLOCKS); /* thread stacks and per-thread allocator state exist before the start is read */
    x.rss_start = rss_kb();
    run_pair(blocks);
    x.rss_end = rss_kb();
    if (!HEAP_THREAD_OWNED)
        heap_destroy(&x.heap);
    report(argv[0], ALLOC_NAME, x.variant, (double)x.blocks, x.t1 - x.t0, x.committed, x.calls);
    printf("XTHREAD_RSS start_kb=%ld end_kb=%ld\n", x.rss_start, x.rss_end);
    free(x.ring);
    return 0;
}
