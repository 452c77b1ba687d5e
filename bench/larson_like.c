/*
 * larson_like (../shared/BENCHMARKS.md, workload 6): 2 threads, each with its own heap (hakmem: its own default
 * arena, since the other thread frees into it), run random_mixed-style ops over `ws` slots of 16..512 bytes.
 * Every 1,000 ops a thread frees the blocks the other thread handed it since last time, then hands the other
 * thread 10 of its live blocks. At the end both threads stop, free what is left and destroy their heaps.
 * An op is one slot operation (handed-over frees are extra); the time runs until both threads have finished.
 *   larson_like VARIANT [ops_per_thread=10000000] [ws=1000] [seed=1]
 */
#include "alloc.h"

#include <pthread.h>

#define HANDOFF_EVERY 1000
#define HANDOFF_COUNT 10

typedef struct {
    pthread_mutex_t lock;
    void          **item;
    size_t          n, cap;
} inbox_t;

static struct {
    const char        *variant;
    long               ops, ws;
    uint64_t           seed;
    inbox_t            inbox[2];
    pthread_barrier_t  barrier;
    double             t0, t1;
    long long          calls[2], committed[2];
} l;

static void drain(heap_t *h, inbox_t *in)
{
    pthread_mutex_lock(&in->lock);
    for (size_t i = 0; i < in->n; i++)
        heap_free(h, in->item[i]);
    in->n = 0;
    pthread_mutex_unlock(&in->lock);
}

static void *worker(void *arg)
{
    int     me = (int)(intptr_t)arg;
    inbox_t *mine = &l.inbox[me], *other = &l.inbox[1 - me];
    heap_t   h;
    heap_new(&h, l.variant);
    void **slot = calloc((size_t)l.ws, sizeof *slot);
    if (!slot)
        die("out of memory");
    uint64_t  rng = l.seed + (uint64_t)me * 0x9e3779b97f4a7c15u;
    long long calls0 = heap_calls(&h);
    pthread_barrier_wait(&l.barrier);
    if (me == 0)
        l.t0 = now_sec();
    for (long i = 0; i < l.ops; i++) {
        uint64_t r = xorshift64(&rng);
        size_t   k = (size_t)(r % (uint64_t)l.ws);
        if (slot[k]) {
            heap_free(&h, slot[k]);
            slot[k] = NULL;
        } else {
            size_t         n = size_in(r, 16, 512);
            unsigned char *p = heap_alloc(&h, n);
            p[0] = (unsigned char)i;
            p[n - 1] = (unsigned char)i;
            slot[k] = p;
        }
        if ((i + 1) % HANDOFF_EVERY == 0) {
            drain(&h, mine);
            pthread_mutex_lock(&other->lock);
            for (size_t j = 0, k2 = (size_t)(xorshift64(&rng) % (uint64_t)l.ws), given = 0;
                 j < (size_t)l.ws && given < HANDOFF_COUNT && other->n < other->cap; j++, k2 = (k2 + 1) % (size_t)l.ws)
                if (slot[k2]) {
                    other->item[other->n++] = slot[k2];
                    slot[k2] = NULL;
                    given++;
                }
            pthread_mutex_unlock(&other->lock);
        }
    }
    pthread_barrier_wait(&l.barrier); /* both done: nothing more arrives in the inboxes */
    if (me == 0)
        l.t1 = now_sec();
    drain(&h, mine);
    for (long k = 0; k < l.ws; k++)
        if (slot[k])
            heap_free(&h, slot[k]);
    heap_thread_done();
    pthread_barrier_wait(&l.barrier); /* no block of either heap is left anywhere */
    long long calls = heap_calls(&h);
    l.calls[me] = calls < 0 ? -1 : calls - calls0;
    l.committed[me] = heap_committed(&h);
    heap_destroy(&h);
    free(slot);
    return NULL;
}

int wl_larson_like(int argc, char **argv)
{
    l.variant = check_variant(argc, argv, "default lean heap arena arena-tcache malloc");
    l.ops = arg_long(argc, argv, 2, 10000000, 1);
    l.ws = arg_long(argc, argv, 3, 1000, 1);
    l.seed = (uint64_t)arg_long(argc, argv, 4, 1, 1);
    for (int t = 0; t < 2; t++) {
        inbox_t *in = &l.inbox[t];
        in->cap = (size_t)(l.ops / HANDOFF_EVERY + 1) * HANDOFF_COUNT; /* even if the owner never drains */
        if (!(in->item = calloc(in->cap, sizeof *in->item)) || pthread_mutex_init(&in->lock, NULL))
            die("out of memory");
    }
    if (pthread_barrier_init(&l.barrier, NULL, 2))
        die("pthread_barrier_init failed");
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t))
            die("pthread_create failed");
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    long long calls = l.calls[0] < 0 ? -1 : l.calls[0] + l.calls[1];
    long long committed = l.committed[0] < 0 ? -1 : l.committed[0] + l.committed[1];
    report(argv[0], ALLOC_NAME, l.variant, 2.0 * (double)l.ops, l.t1 - l.t0, committed, calls);
    for (int t = 0; t < 2; t++)
        free(l.inbox[t].item);
    return 0;
}
