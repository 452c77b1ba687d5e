/*
 * Shared by the benchmark driver (../shared/BENCHMARKS.md): the RNG, a clock, memory readings, argument parsing,
 * the one-line result format, and the workload entry points. The allocator under test is chosen at compile time
 * in alloc.h (one binary per allocator: each peer replaces malloc process-wide).
 */
#ifndef HAK_BENCH_H
#define HAK_BENCH_H
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* A size uniform in [lo, hi] drawn from the high half of r (the low half usually picks a slot). */
static inline size_t size_in(uint64_t r, size_t lo, size_t hi)
{
    return lo + (size_t)((r >> 32) % (uint64_t)(hi - lo + 1));
}

static inline double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A field of /proc/self/status in KiB ("VmHWM", "VmRSS"), or -1. */
static inline long proc_status_kb(const char *field)
{
    FILE  *f = fopen("/proc/self/status", "r");
    char   line[256];
    size_t n = strlen(field);
    long   kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

/* Peak RSS of this process image in KiB. VmHWM rather than getrusage's ru_maxrss: Linux carries ru_maxrss over
 * exec, so a benchmark started by a big parent (python) would report the parent's peak. */
static inline long peak_rss_kb(void)
{
    long kb = proc_status_kb("VmHWM");
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb;
}

static inline long rss_kb(void) { return proc_status_kb("VmRSS"); }

__attribute__((noreturn, format(printf, 1, 2))) static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Positional numeric argument i of a workload (argv[0] is the workload, argv[1] the variant), or `def`.
 * Anything but a number >= min is a usage error. */
static inline long arg_long(int argc, char **argv, int i, long def, long min)
{
    if (i >= argc)
        return def;
    char *end;
    long  v = strtol(argv[i], &end, 10);
    if (*argv[i] == '\0' || *end != '\0' || v < min) {
        fprintf(stderr, "bench %s: argument %d must be an integer >= %ld, got '%s'\n", argv[0], i - 1, min,
                argv[i]);
        exit(2);
    }
    return v;
}

/*
 * One result line, parsed by run.py:
 *   RESULT workload=W alloc=A variant=V ops=N sec=S peak_rss_kb=K anon_kb=K committed=B calls=C
 * `ops` is what the workload counts as an operation, `sec` the timed loop's wall time, `anon_kb` the process's
 * anonymous resident memory when it reports (RssAnon: the heap and stacks, without the file-backed pages of the
 * program and its libraries that peak_rss_kb includes), `committed` hakmem's peak
 * committed bytes and `calls` the platform (OS) calls hakmem made during the timed loop; both are -1 for peers.
 * random_mixed adds, for hakmem, `STEADY ops=N calls=C`: the calls of the loop's last N ops (all but the first 1%).
 * With BENCH_SMAPS=FILE in the environment, /proc/self/smaps is copied to FILE first (for every allocator alike).
 */
static inline void report(const char *workload, const char *alloc, const char *variant, double ops, double sec,
                          long long committed, long long calls)
{
    const char *smaps = getenv("BENCH_SMAPS"); /* a copy of /proc/self/smaps: what the peak RSS is made of */
    if (smaps) {
        FILE *in = fopen("/proc/self/smaps", "r"), *out = fopen(smaps, "w");
        char  line[512];
        while (in && out && fgets(line, sizeof line, in))
            fputs(line, out);
        if (in)
            fclose(in);
        if (out)
            fclose(out);
    }
    printf("RESULT workload=%s alloc=%s variant=%s ops=%.0f sec=%.6f peak_rss_kb=%ld anon_kb=%ld committed=%lld "
           "calls=%lld\n", workload, alloc, variant, ops, sec, peak_rss_kb(), proc_status_kb("RssAnon"), committed,
           calls);
    fflush(stdout);
}

/* Workload entry points (one source each); argv[0] is the workload name, argv[1] the variant. */
typedef int workload_fn(int argc, char **argv);
workload_fn wl_random_mixed, wl_random_mixed_large, wl_soak, wl_arena_lifecycle, wl_realloc_grow, wl_xthread,
    wl_larson_like;
#endif
