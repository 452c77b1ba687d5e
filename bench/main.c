/*
 * The benchmark driver: one binary per allocator (bench_hakmem, bench_glibc, bench_mimalloc, bench_jemalloc,
 * bench_tcmalloc), the allocator chosen at compile time (alloc.h), the workload by the first argument:
 *   bench_ALLOC WORKLOAD VARIANT [workload arguments]     prints one RESULT line (see report() in bench.h)
 *   bench_ALLOC version                                   prints the allocator's version
 * Workloads are those of ../shared/BENCHMARKS.md; each source file's header gives its arguments.
 */
#include "alloc.h"

static const struct {
    const char  *name;
    workload_fn *fn;
} workloads[] = {
    {"random_mixed", wl_random_mixed}, {"random_mixed_large", wl_random_mixed_large},
    {"arena_lifecycle", wl_arena_lifecycle}, {"realloc_grow", wl_realloc_grow},
    {"xthread", wl_xthread}, {"larson_like", wl_larson_like}, {"soak", wl_soak},
};

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "version") == 0) {
        puts(alloc_version());
        return 0;
    }
    for (size_t i = 0; argc > 2 && i < sizeof workloads / sizeof workloads[0]; i++)
        if (strcmp(argv[1], workloads[i].name) == 0)
            return workloads[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "usage: %s WORKLOAD VARIANT [args...] | version\n  workloads:", argv[0]);
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        fprintf(stderr, " %s", workloads[i].name);
    fprintf(stderr, "\n  variants of %s: %s\n", ALLOC_NAME, VARIANTS);
    return 2;
}
