/*
 * static_pool — two measurements of hakmem's freestanding platform (issue 6), run on the host.
 *
 *   static_pool utilisation [seed=1] [runs=20]
 *       How much of a small static pool a fragmenting program can actually use. Each run gives a 256 KiB
 *       static buffer to an unsynchronized arena as its pool and grows a random working set of blocks of
 *       16..1024 bytes until the first allocation fails, then reports live requested bytes / pool size.
 *       Variant "growth" only allocates; variant "churn" allocates with probability 3/4 and otherwise frees a
 *       random live block, which fragments. At the failure it also prints the arena's own view
 *       (hak_arena_stats: bytes in live blocks and committed bytes) to show where the rest of the pool went,
 *       and checks the arena (hak_arena_check) before destroying it. min/median/max over `runs` seeds.
 *
 *   static_pool maxinsn [ops=7000] [seed=1] [pool_kib=0]
 *       That every hak_alloc / hak_free / hak_realloc call runs in bounded time, as exact counts of the
 *       user-space instructions each call executes. The workload is fragmentation-heavy on the platform's
 *       static pool (an unsynchronized arena without a pool of its own): 2,000 slots, each op picks one; an
 *       empty slot gets a block (80% 16..1024 bytes, 15% 1..16 KiB, 5% 16..200 KiB), an occupied one is
 *       reallocated to a new random size (20%) or freed (80%); first and last bytes are written. 20,000
 *       unmeasured warm-up ops run first, so that the measured ones meet a fragmented pool. With pool_kib, the
 *       firmware-sized variant: the arena gets a pool of that many KiB (at most 1024) of its own, 150 slots and
 *       blocks of 80% 16..1024 B, 15% 1..4 KiB, 5% 4..16 KiB; allocations that fail (the pool is full) are
 *       counted, and measured like the others.
 *       No performance counters are needed: the program forks; the child (PTRACE_TRACEME) runs the workload
 *       and brackets each measured call with two `int3` instructions, the first carrying the call type and
 *       sizes in rax/rdx/rcx. The parent lets the child run freely up to a first marker, then single-steps
 *       it (PTRACE_SINGLESTEP), counting one per instruction, until the next instruction is the closing int3,
 *       which it skips. A repeated string instruction (rep movsb in memcpy) is counted as one instruction, as
 *       the CPU retires it, and run at full speed instead of one step per iteration; the bytes it moves are
 *       reported beside the counts. The count of an empty bracket (calibration) is subtracted.
 *       Compiled with -DUSE_GLIBC, the same workload measures glibc's malloc/free/realloc for comparison.
 *
 * Build against a freestanding-platform library built for the host (maxinsn needs x86-64 Linux and ptrace):
 *   make BUILD=B CONFIG_SRC=config/freestanding_host_defconfig
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/static_pool/static_pool.c B/libhakmem.a -o static_pool
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -DUSE_GLIBC bench/static_pool/static_pool.c -o static_pool_glibc
 * A single step costs some 20 us on a virtual machine: the default maxinsn run takes 20-50 s by geometry.
 */
#define _GNU_SOURCE /* ptrace, struct user_regs_struct, siginfo codes, sched_setaffinity */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef USE_GLIBC
#include "hakmem.h"
#endif

#define NOINLINE __attribute__((noinline))
#define INLINE   static inline __attribute__((always_inline))
#define KIB      ((size_t)1024)

/* ---- common helpers ------------------------------------------------------------------------------------------ */

static _Noreturn void die(const char *msg)
{
    fprintf(stderr, "static_pool: %s\n", msg);
    exit(2);
}

/* splitmix64: small, seedable, good enough for workload choices. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static size_t random_in(uint64_t *state, size_t lo, size_t hi)
{
    return lo + (size_t)(next_random(state) % (hi - lo + 1));
}

static long arg_long(int argc, char **argv, int i, long fallback)
{
    if (argc <= i)
        return fallback;
    char *end;
    long  v = strtol(argv[i], &end, 0);
    if (*end || v <= 0)
        die("arguments are positive integers");
    return v;
}

#ifndef USE_GLIBC
static unsigned long g_reported; /* invalid frees and corruption the library reported */

static void on_error(int code, const char *message, void *ptr, void *arg)
{
    (void)arg;
    g_reported++;
    fprintf(stderr, "static_pool: hakmem error %d: %s (%p)\n", code, message, ptr);
}
#endif

/* ==== mode 1: utilisation of a 256 KiB static pool ============================================================ */

#ifndef USE_GLIBC
#define POOL_SIZE  (256 * KIB)
#define MAX_BLOCKS (POOL_SIZE / 16)

_Alignas(16384) static unsigned char pool[POOL_SIZE];

typedef struct {
    void  *ptr;
    size_t size;
} block_t;

/* One run's state and its outcome at the first failed allocation. */
typedef struct {
    block_t           live[MAX_BLOCKS];
    size_t            nlive, requested;
    size_t            fail_size; /* the request that failed */
    hak_arena_stats_t at_fail;
} fill_t;

static hak_arena_t *pool_arena(void)
{
    hak_arena_t *a;
    hak_arena_config_t cfg = {.name = "static_pool", .pool = pool, .pool_size = sizeof pool,
                              .flags = HAK_ARENA_UNSYNCHRONIZED};
    if (hak_arena_create(&a, &cfg))
        die("hak_arena_create with the 256 KiB pool failed");
    return a;
}

/* Allocates one block; false once the arena refuses. */
static int fill_alloc(fill_t *f, hak_arena_t *a, uint64_t *rng)
{
    size_t         n = random_in(rng, 16, 1024);
    unsigned char *p = hak_alloc(a, n);
    if (!p) {
        f->fail_size = n;
        return 0;
    }
    if (f->nlive == MAX_BLOCKS)
        die("more live blocks than a 256 KiB pool can hold");
    p[0] = p[n - 1] = (unsigned char)n;
    f->live[f->nlive++] = (block_t){p, n};
    f->requested += n;
    return 1;
}

static void fill_free_random(fill_t *f, uint64_t *rng)
{
    size_t   k = (size_t)(next_random(rng) % f->nlive);
    block_t *b = &f->live[k];
    if (((unsigned char *)b->ptr)[0] != (unsigned char)b->size)
        die("a live block was overwritten");
    hak_free(b->ptr);
    f->requested -= b->size;
    *b = f->live[--f->nlive];
}

/* Grows the working set until the first allocation fails; churn frees a random block on a quarter of the steps. */
static void fill_run(fill_t *f, uint64_t seed, int churn)
{
    hak_arena_t *a = pool_arena();
    uint64_t     rng = seed;
    f->nlive = f->requested = 0;
    for (;;) {
        if (churn && f->nlive && next_random(&rng) % 4 == 0)
            fill_free_random(f, &rng);
        else if (!fill_alloc(f, a, &rng))
            break;
    }
    hak_arena_stats(a, &f->at_fail);
    if (hak_arena_check(a) != 0)
        die("hak_arena_check failed after the run");
    hak_arena_destroy(a);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(size_t part, size_t whole)
{
    return 100.0 * (double)part / (double)whole;
}

static void print_breakdown(const fill_t *f)
{
    const hak_arena_stats_t *s = &f->at_fail;
    printf("    at the failure (median run): %zu live blocks, failing request %zu B, %zu SuperSlab(s)\n", f->nlive,
           f->fail_size, s->superslabs);
    printf("      requested by the program %7zu B  %5.1f%%\n", f->requested, pct(f->requested, POOL_SIZE));
    printf("      rounding                 %7zu B  %5.1f%%   (in_use %zu = usable sizes of live blocks)\n",
           s->in_use - f->requested, pct(s->in_use - f->requested, POOL_SIZE), s->in_use);
    printf("      committed, not in blocks %7zu B  %5.1f%%   (committed %zu: headers, free blocks, free slices)\n",
           s->committed - s->in_use, pct(s->committed - s->in_use, POOL_SIZE), s->committed);
    printf("      never committed          %7zu B  %5.1f%%   (arena struct, a tail no SuperSlab could use)\n",
           POOL_SIZE - s->committed, pct(POOL_SIZE - s->committed, POOL_SIZE));
}

/* `runs` seeds of one variant: min/median/max utilisation and the breakdown of the median run. */
static void utilisation_variant(const char *name, int churn, uint64_t seed, long runs)
{
    static fill_t f;
    double       *util = malloc((size_t)runs * sizeof *util), *sorted = malloc((size_t)runs * sizeof *sorted);
    if (!util || !sorted)
        die("out of memory");
    for (long r = 0; r < runs; r++) {
        fill_run(&f, seed + (uint64_t)r, churn);
        util[r] = sorted[r] = (double)f.requested / (double)POOL_SIZE;
    }
    qsort(sorted, (size_t)runs, sizeof *sorted, cmp_double);
    double median = sorted[runs / 2];
    printf("  %-8s %3ld runs  utilisation min %5.1f%%  median %5.1f%%  max %5.1f%%\n", name, runs, 100 * sorted[0],
           100 * median, 100 * sorted[runs - 1]);
    for (long r = 0; r < runs; r++) /* rerun the median seed for its breakdown */
        if (util[r] == median) {
            fill_run(&f, seed + (uint64_t)r, churn);
            print_breakdown(&f);
            break;
        }
    free(util);
    free(sorted);
}

static int mode_utilisation(uint64_t seed, long runs)
{
    hak_set_error_handler(on_error, NULL);
    printf("utilisation of a %zu KiB static pool (sizes 16..1024 B, until the first allocation fails; seeds "
           "%" PRIu64 "..%" PRIu64 ")\n", POOL_SIZE / KIB, seed, seed + (uint64_t)runs - 1);
    utilisation_variant("growth", 0, seed, runs);
    utilisation_variant("churn", 1, seed, runs);
    if (g_reported)
        die("the library reported errors");
    return 0;
}
#endif /* !USE_GLIBC */

/* ==== mode 2: instructions per call, by single-stepping a traced child ======================================== */

static long g_pool_kib; /* 0: the platform's static pool; else the arena's own pool of this size */

#if defined(__x86_64__) && defined(__linux__)

enum { T_EMPTY, T_ALLOC, T_FREE, T_REALLOC, T_COUNT };
static const char *const type_name[T_COUNT] = {"empty", "alloc", "free", "realloc"};

#define SLOTS      2000
#define POOL_SLOTS 150
#define CALIBRATE  200   /* empty brackets measured */
#define WARMUP     20000 /* unmeasured ops first */
#define START_MARK(type, size, old)                                                                         \
    __asm__ volatile("int3" : : "a"((unsigned long)(type)), "d"((unsigned long)(size)), "c"((unsigned long)(old)) \
                     : "memory")
#define END_MARK() __asm__ volatile("int3" : : : "memory")

/* ---- the allocator under test, as three calls on a heap handle ---- */
#ifdef USE_GLIBC
#define HEAP_NAME "glibc malloc/free/realloc"
typedef void *heap_t;
static heap_t heap_open(void) { return NULL; }
INLINE void  *heap_alloc(heap_t h, size_t n) { (void)h; return malloc(n); }
INLINE void   heap_free(heap_t h, void *p) { (void)h; free(p); }
INLINE void  *heap_realloc(heap_t h, void *p, size_t n) { (void)h; return realloc(p, n); }
static void   heap_describe(heap_t h) { (void)h; }
static int    heap_close(heap_t h) { (void)h; return 0; }
#else
#define HEAP_NAME "hakmem hak_alloc/hak_free/hak_realloc, unsynchronized arena on the platform's static pool"
typedef hak_arena_t *heap_t;
static heap_t heap_open(void)
{
    hak_arena_t *a;
    static _Alignas(16384) unsigned char own_pool[1024 * KIB];
    hak_set_error_handler(on_error, NULL);
    hak_arena_config_t cfg = {.name = "maxinsn", .flags = HAK_ARENA_UNSYNCHRONIZED};
    if (g_pool_kib) {
        cfg.pool = own_pool;
        cfg.pool_size = (size_t)g_pool_kib * KIB;
    }
    if (hak_arena_create(&a, &cfg))
        die("hak_arena_create failed");
    return a;
}
INLINE void *heap_alloc(heap_t h, size_t n) { return hak_alloc(h, n); }
INLINE void  heap_free(heap_t h, void *p) { (void)h; hak_free(p); }
INLINE void *heap_realloc(heap_t h, void *p, size_t n) { return hak_realloc(h, p, n); }
/* What the measured calls had to search through: SuperSlabs and committed bytes of the arena. */
static void heap_describe(heap_t h)
{
    hak_arena_stats_t s;
    if (hak_arena_stats(h, &s) == 0)
        printf("  arena after the measured ops: %zu SuperSlabs, %zu KiB committed, %zu KiB in live blocks\n",
               s.superslabs, s.committed / KIB, s.in_use / KIB);
    fflush(stdout);
}

static int   heap_close(heap_t h)
{
    int rc = hak_arena_check(h);
    hak_arena_destroy(h);
    return rc != 0 || g_reported != 0;
}
#endif

/* ---- the measured calls: markers tight around the call, nothing else between them ---- */

static NOINLINE void measured_empty(void)
{
    START_MARK(T_EMPTY, 0, 0);
    END_MARK();
}

static NOINLINE void *measured_alloc(heap_t h, size_t n)
{
    START_MARK(T_ALLOC, n, 0);
    void *p = heap_alloc(h, n);
    END_MARK();
    return p;
}

static NOINLINE void measured_free(heap_t h, void *p, size_t n)
{
    START_MARK(T_FREE, n, 0);
    heap_free(h, p);
    END_MARK();
}

static NOINLINE void *measured_realloc(heap_t h, void *p, size_t n, size_t old)
{
    START_MARK(T_REALLOC, n, old);
    void *q = heap_realloc(h, p, n);
    END_MARK();
    return q;
}

/* ---- the workload (child) ---- */

typedef struct {
    heap_t         heap;
    unsigned char *ptr[SLOTS];
    size_t         size[SLOTS];
    uint64_t       rng;
    unsigned long  failed;
} work_t;

/* 80% 16..1024 B, 15% 1..16 KiB, 5% 16..200 KiB; in a pool of its own 1..4 KiB and 4..16 KiB instead. */
static size_t work_size(uint64_t *rng)
{
    unsigned r = (unsigned)(next_random(rng) % 100);
    if (r < 80)
        return random_in(rng, 16, 1024);
    if (r < 95)
        return random_in(rng, 1 * KIB, (g_pool_kib ? 4 : 16) * KIB);
    return g_pool_kib ? random_in(rng, 4 * KIB, 16 * KIB) : random_in(rng, 16 * KIB, 200 * KIB);
}

static size_t work_slots(void)
{
    return g_pool_kib ? POOL_SLOTS : SLOTS;
}

static void work_store(work_t *w, size_t k, unsigned char *p, size_t n)
{
    if (!p) {
        w->failed++;
        return;
    }
    p[0] = p[n - 1] = (unsigned char)k;
    w->ptr[k] = p;
    w->size[k] = n;
}

/* One op on a random slot; through the measured wrappers when `measure`. */
static void work_op(work_t *w, int measure)
{
    size_t k = (size_t)(next_random(&w->rng) % work_slots());
    unsigned char *p = w->ptr[k];
    if (!p) {
        size_t n = work_size(&w->rng);
        work_store(w, k, measure ? measured_alloc(w->heap, n) : heap_alloc(w->heap, n), n);
    } else if (next_random(&w->rng) % 5 == 0) {
        size_t n = work_size(&w->rng), old = w->size[k];
        unsigned char *q = measure ? measured_realloc(w->heap, p, n, old) : heap_realloc(w->heap, p, n);
        if (q && q[0] != (unsigned char)k)
            die("realloc lost the block's contents");
        if (q)
            work_store(w, k, q, n);
        else
            w->failed++; /* p stays valid and in its slot */
    } else {
        if (p[w->size[k] - 1] != (unsigned char)k)
            die("a live block was overwritten");
        if (measure)
            measured_free(w->heap, p, w->size[k]);
        else
            heap_free(w->heap, p);
        w->ptr[k] = NULL;
    }
}

static _Noreturn void child_run(long ops, uint64_t seed)
{
    static work_t w;
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
        die("PTRACE_TRACEME failed");
    raise(SIGSTOP);
    w.heap = heap_open();
    w.rng = seed;
    for (long i = 0; i < WARMUP; i++) /* the working set and the pool's layout reach steady state */
        work_op(&w, 0);
    for (int i = 0; i < CALIBRATE; i++)
        measured_empty();
    for (long i = 0; i < ops; i++)
        work_op(&w, 1);
    heap_describe(w.heap);
    for (size_t k = 0; k < SLOTS; k++)
        heap_free(w.heap, w.ptr[k]);
    int bad = heap_close(w.heap);
    if (w.failed)
        fprintf(stderr, "static_pool: %lu allocations failed in the workload%s\n", w.failed,
                g_pool_kib ? " (the pool was full: expected)" : "");
    _exit(bad || (w.failed && !g_pool_kib) ? 3 : 0);
}

/* ---- the tracer (parent) ---- */

typedef struct {
    uint64_t insns;     /* instructions between the markers, calibration not yet subtracted */
    uint64_t rep_bytes; /* bytes moved or stored by repeated string instructions */
    uint64_t size, old; /* the call's size argument, and realloc's old size */
    int      type;
} sample_t;

typedef struct {
    pid_t     pid;
    sample_t *s;
    size_t    n, cap;
    uint64_t  steps; /* single steps taken */
} tracer_t;

static void trace_wait_trap(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP)
        die("the traced child did not stop with SIGTRAP");
}

static void get_regs(pid_t pid, struct user_regs_struct *r)
{
    if (ptrace(PTRACE_GETREGS, pid, NULL, r) != 0)
        die("PTRACE_GETREGS failed");
}

static void set_regs(pid_t pid, const struct user_regs_struct *r)
{
    if (ptrace(PTRACE_SETREGS, pid, NULL, (void *)r) != 0)
        die("PTRACE_SETREGS failed");
}

static uint64_t peek(pid_t pid, uint64_t addr)
{
    errno = 0;
    long w = ptrace(PTRACE_PEEKTEXT, pid, (void *)addr, NULL);
    if (errno)
        die("PTRACE_PEEKTEXT failed");
    return (uint64_t)w;
}

static void poke(pid_t pid, uint64_t addr, uint64_t word)
{
    if (ptrace(PTRACE_POKETEXT, pid, (void *)addr, (void *)word) != 0)
        die("PTRACE_POKETEXT failed");
}

/* A rep/repne-prefixed string instruction (movs, cmps, stos, lods, scas), decoded from its first bytes. */
typedef struct {
    unsigned len;    /* bytes of the instruction; 0: not one */
    unsigned elem;   /* bytes per iteration */
    int      writes; /* movs or stos: rcx * elem bytes written */
} rep_insn_t;

static rep_insn_t decode_rep_string(uint64_t code)
{
    rep_insn_t in = {0};
    unsigned   i = 0, rep = 0, opsize16 = 0, rex_w = 0, b = 0;
    for (; i < 6; i++) { /* legacy prefixes */
        b = (unsigned)(code >> (8 * i)) & 0xff;
        if (b == 0xf2 || b == 0xf3)
            rep = 1;
        else if (b == 0x66)
            opsize16 = 1;
        else if (b != 0x67 && b != 0x2e && b != 0x3e && b != 0x26 && b != 0x64 && b != 0x65 && b != 0x36)
            break;
    }
    if (i < 6 && (b & 0xf0) == 0x40) { /* REX */
        rex_w = (b >> 3) & 1;
        b = (unsigned)(code >> (8 * ++i)) & 0xff;
    }
    if (!rep || i >= 6 || b < 0xa4 || b > 0xaf || b == 0xa8 || b == 0xa9) /* a8/a9: test, not a string op */
        return in;
    in.len = i + 1;
    in.elem = (b & 1) ? (rex_w ? 8 : opsize16 ? 2 : 4) : 1;
    in.writes = (b | 1) == 0xa5 || (b | 1) == 0xab;
    return in;
}

/* Runs the string instruction at rip (length len) to completion at full speed: a temporary int3 after it. */
static void run_past(pid_t pid, struct user_regs_struct *r, unsigned len)
{
    uint64_t at = r->rip + len, orig = peek(pid, at);
    poke(pid, at, (orig & ~(uint64_t)0xff) | 0xcc);
    if (ptrace(PTRACE_CONT, pid, NULL, NULL) != 0)
        die("PTRACE_CONT failed");
    trace_wait_trap(pid);
    poke(pid, at, orig);
    get_regs(pid, r);
    if (r->rip != at + 1)
        die("a string instruction did not end where expected");
    r->rip = at;
    set_regs(pid, r);
}

/* Counts instructions from the stop after an opening marker to the closing one, which it skips. */
static void count_to_end_marker(tracer_t *t, sample_t *s)
{
    struct user_regs_struct r;
    for (;;) {
        get_regs(t->pid, &r);
        uint64_t code = peek(t->pid, r.rip);
        if ((code & 0xff) == 0xcc) { /* the closing marker: step over it without trapping */
            r.rip++;
            set_regs(t->pid, &r);
            return;
        }
        s->insns++;
        rep_insn_t rep = decode_rep_string(code);
        if (rep.len) {
            s->rep_bytes += rep.writes ? r.rcx * rep.elem : 0;
            run_past(t->pid, &r, rep.len);
            continue;
        }
        if (ptrace(PTRACE_SINGLESTEP, t->pid, NULL, NULL) != 0)
            die("PTRACE_SINGLESTEP failed");
        trace_wait_trap(t->pid);
        t->steps++;
    }
}

static void record(tracer_t *t, const sample_t *s)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4096;
        if (!(t->s = realloc(t->s, t->cap * sizeof *t->s)))
            die("out of memory");
    }
    t->s[t->n++] = *s;
}

/* Handles one stop of the child; returns 0 once it has exited (its status in *status). */
static int trace_stop(tracer_t *t, int *status)
{
    int st;
    if (waitpid(t->pid, &st, 0) != t->pid)
        die("waitpid failed");
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
        *status = st;
        return 0;
    }
    int sig = WSTOPSIG(st);
    siginfo_t si;
    if (sig == SIGTRAP && ptrace(PTRACE_GETSIGINFO, t->pid, NULL, &si) == 0 && si.si_code == SI_KERNEL) {
        struct user_regs_struct r;
        get_regs(t->pid, &r);
        sample_t s = {.type = (int)r.rax, .size = r.rdx, .old = r.rcx};
        if (s.type < 0 || s.type >= T_COUNT)
            die("a marker without a known call type");
        count_to_end_marker(t, &s);
        record(t, &s);
        sig = 0;
    }
    if (ptrace(PTRACE_CONT, t->pid, NULL, (void *)(long)sig) != 0)
        die("PTRACE_CONT failed");
    return 1;
}

/* ---- the report ---- */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    size_t   calls;
    double   mean;
    uint64_t p999, max, max_rep;
    const sample_t *worst;
} summary_t;

/* Summary of the samples of one type whose size lies in [lo, hi], calibration subtracted. */
static summary_t summarise(const tracer_t *t, int type, uint64_t lo, uint64_t hi, uint64_t base)
{
    summary_t sum = {0};
    uint64_t *v = malloc((t->n + 1) * sizeof *v), total = 0;
    if (!v)
        die("out of memory");
    for (size_t i = 0; i < t->n; i++) {
        const sample_t *s = &t->s[i];
        if (s->type != type || s->size < lo || s->size > hi)
            continue;
        uint64_t x = s->insns > base ? s->insns - base : 0;
        v[sum.calls++] = x;
        total += x;
        if (!sum.worst || x > sum.max)
            sum.max = x, sum.worst = s;
        if (s->rep_bytes > sum.max_rep)
            sum.max_rep = s->rep_bytes;
    }
    if (sum.calls) {
        qsort(v, sum.calls, sizeof *v, cmp_u64);
        size_t k = (sum.calls * 999 + 999) / 1000; /* ceil(0.999 n) */
        sum.p999 = v[k - 1];
        sum.mean = (double)total / (double)sum.calls;
    }
    free(v);
    return sum;
}

static void print_row(const char *label, const summary_t *s)
{
    if (!s->calls)
        return;
    printf("  %-22s %7zu %9.1f %9" PRIu64 " %9" PRIu64 "   size %7" PRIu64, label, s->calls, s->mean, s->p999,
           s->max, s->worst->size);
    if (s->worst->type == T_REALLOC)
        printf(" (from %" PRIu64 ")", s->worst->old);
    if (s->max_rep)
        printf("   rep-string bytes max %" PRIu64, s->max_rep);
    printf("\n");
}

static uint64_t calibration(const tracer_t *t)
{
    uint64_t base = UINT64_MAX;
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i].type == T_EMPTY && t->s[i].insns < base)
            base = t->s[i].insns;
    return base == UINT64_MAX ? 0 : base;
}

static void report(const tracer_t *t)
{
    static const struct { const char *name; uint64_t lo, hi; } band[] = {
        {"", 0, UINT64_MAX}, {"  <= 1 KiB", 0, 1024}, {"  1..16 KiB", 1025, 16384}, {"  16..200 KiB", 16385, UINT64_MAX}};
    uint64_t base = calibration(t);
    printf("  calibration: an empty bracket counts %" PRIu64 " instruction(s), subtracted from every call\n", base);
    printf("  %-22s %7s %9s %9s %9s   %s\n", "call (size band)", "calls", "mean", "p99.9", "max", "the max call");
    for (int type = T_ALLOC; type < T_COUNT; type++)
        for (size_t b = 0; b < sizeof band / sizeof band[0]; b++) {
            char label[64];
            snprintf(label, sizeof label, "%s%s", b ? "" : type_name[type], band[b].name);
            summary_t s = summarise(t, type, band[b].lo, band[b].hi, base);
            print_row(label, &s);
        }
}

static void pin_to_one_cpu(void)
{
    /* Tracer and child on one CPU: every step is a hand-over between them, and cross-CPU wake-ups cost more. */
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set)) {
                CPU_ZERO(&set);
                CPU_SET(c, &set);
                sched_setaffinity(0, sizeof set, &set);
                break;
            }
}

static int mode_maxinsn(long ops, uint64_t seed)
{
    printf("maxinsn: %s\n  %zu slots, %d warm-up ops then %ld measured ops, seed %" PRIu64 "%s\n", HEAP_NAME,
           work_slots(), WARMUP, ops, seed, g_pool_kib ? ", in the arena's own pool" : "");
    if (g_pool_kib)
        printf("  pool of %ld KiB; blocks 80%% 16..1024 B, 15%% 1..4 KiB, 5%% 4..16 KiB\n", g_pool_kib);
    fflush(stdout);
    pin_to_one_cpu();
    double   t0 = now_seconds();
    tracer_t t = {.pid = fork()};
    if (t.pid < 0)
        die("fork failed");
    if (t.pid == 0)
        child_run(ops, seed);
    int st;
    if (waitpid(t.pid, &st, 0) != t.pid || !WIFSTOPPED(st))
        die("the child did not stop after PTRACE_TRACEME");
    ptrace(PTRACE_SETOPTIONS, t.pid, NULL, (void *)(long)PTRACE_O_EXITKILL);
    if (ptrace(PTRACE_CONT, t.pid, NULL, NULL) != 0)
        die("PTRACE_CONT failed");
    while (trace_stop(&t, &st))
        ;
    double secs = now_seconds() - t0;
    report(&t);
    printf("  rep-prefixed string instructions count as one instruction; the bytes they moved are shown\n");
    printf("  %" PRIu64 " single steps over %zu brackets in %.1f s (%.1f us per step)\n", t.steps, t.n, secs,
           1e6 * secs / (double)(t.steps ? t.steps : 1));
    free(t.s);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "static_pool: the workload child failed (status 0x%x)\n", st);
        return 1;
    }
    printf("  workload: %s, %s\n", g_pool_kib ? "failures only where the pool was full" : "no allocation failed",
#ifdef USE_GLIBC
           "glibc"
#else
           "hak_arena_check == 0 at the end"
#endif
    );
    return 0;
}
#else
static int mode_maxinsn(long ops, uint64_t seed)
{
    (void)ops, (void)seed;
    fprintf(stderr, "static_pool: maxinsn needs x86-64 Linux (ptrace single-stepping)\n");
    return 2;
}
#endif /* x86-64 Linux */

/* ==== main ==================================================================================================== */

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "maxinsn") == 0)
    {
        g_pool_kib = arg_long(argc, argv, 4, 0);
        if (g_pool_kib < 0 || g_pool_kib > 1024)
            die("pool_kib is 0..1024");
        return mode_maxinsn(arg_long(argc, argv, 2, 7000), (uint64_t)arg_long(argc, argv, 3, 1));
    }
    if (argc >= 2 && strcmp(argv[1], "utilisation") == 0) {
#ifdef USE_GLIBC
        die("utilisation measures hakmem's pool arenas: build without -DUSE_GLIBC");
#else
        return mode_utilisation((uint64_t)arg_long(argc, argv, 2, 1), arg_long(argc, argv, 3, 20));
#endif
    }
    fprintf(stderr, "usage: %s utilisation [seed=1] [runs=20]\n       %s maxinsn [ops=7000] [seed=1] [pool_kib=0]\n", argv[0],
            argv[0]);
    return 2;
}
