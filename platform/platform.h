/*
 * The platform contract: everything the core (arena/) needs from the world outside it. Exactly one
 * implementation is linked (platform/linux/ or platform/freestanding/), chosen by Kconfig in the Makefile.
 *
 * Memory comes in chunks. A chunk is reserved by hak_platform_map and given back whole by hak_platform_unmap.
 * Within a chunk the core tells the platform which parts it is about to use (commit) and which it no longer
 * needs (decommit). The core assumes nothing else:
 *  - map returns memory aligned to the requested power of two; its contents are unspecified unless
 *    hak_platform_map_zeroed says otherwise (Linux: fresh mappings read as zero);
 *  - the parts of a fresh mapping count as decommitted: the core commits before first use;
 *  - after decommit the contents are lost; after commit they are unspecified;
 *  - commit and decommit may be no-ops (a static pool cannot give memory back), in which case they report
 *    0 calls. Linux maps read-write with lazy backing, so commit is free and decommit is madvise(DONTNEED).
 * Every memory function reports how many calls it made to the OS through *calls (may be 0), so arenas can
 * count their syscalls. None of them prints or changes errno (so hak_free, and the shim's free, leave it alone).
 */
#ifndef HAK_PLATFORM_H
#define HAK_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Size of the unit the platform maps and decommits in (Linux: the OS page size, 4 KiB or more). */
size_t hak_platform_page_size(void);

/* Reserves `size` bytes (a multiple of the page size) aligned to `align` (a power of two >= the page size).
 * Returns NULL when no memory is available. */
void *hak_platform_map(size_t size, size_t align, unsigned *calls);

/* The largest chunk hak_platform_map could return now with alignment `align`, or SIZE_MAX where that is not
 * bounded (an OS). Freestanding SuperSlabs take what is left when it is less than their size. */
size_t hak_platform_largest(size_t align);

/* Whether [lo, hi) overlaps memory the platform hands out or was given to hand out, in use or not (freestanding:
 * the static pool and the added regions; an OS: none, since a caller owns no part of its mappings but blocks
 * hakmem gave it, which the registry finds). hak_arena_create refuses such memory as a pool. Called under the
 * global lock. */
bool hak_platform_owns(uintptr_t lo, uintptr_t hi);

/* Freestanding only: hak_platform_add_region (include/hakmem.h) once the core has checked that the region
 * overlaps no arena's pool (under the global lock, where pools are claimed): the same results otherwise. */
int hak_platform_region_add(void *base, size_t size);

/* Makes [p, p+size) (page aligned, inside a chunk) inaccessible until the chunk is unmapped: a guard. Returns
 * false where that cannot be done (no MMU). */
bool hak_platform_protect(void *p, size_t size, unsigned *calls);

/* Moves the pages of chunk [from, from+size) into chunk [to, to+new_size) (both from hak_platform_map; new_size may
 * be larger or smaller), replacing `to`'s memory: the first min(size, new_size) bytes keep their contents, the
 * rest of `to` reads as zero, and `from` is gone as if unmapped. No copying where the OS can move page mappings
 * (Linux: mremap). Returns false where it cannot (nothing changes; the core then copies). */
bool hak_platform_move(void *from, size_t size, void *to, size_t new_size, unsigned *calls);

/* Gives back a whole chunk returned by hak_platform_map, with the same size. */
void hak_platform_unmap(void *base, size_t size, unsigned *calls);

/* Makes [p, p+size) usable (page aligned). Returns false if the memory cannot be provided. */
bool hak_platform_commit(void *p, size_t size, unsigned *calls);

/* Tells the platform [p, p+size) (slice aligned) is unused; its contents may be dropped. A platform whose pages are
 * larger than a slice drops only the pages wholly inside the range (its neighbours may be in use). */
void hak_platform_decommit(void *p, size_t size, unsigned *calls);

/* True if freshly mapped memory reads as zero (lets calloc skip clearing it). */
extern const bool hak_platform_map_zeroed;

/* Lets another thread run (called while spinning on a contended lock). */
void hak_platform_yield(void);

/* Milliseconds from a monotonic clock that may be coarse (a few ms), or always 0 where there is none. Paces lean
 * purges (at most one per HAK_LEAN_INTERVAL_MS while an arena churns); without a clock they are paced by freed
 * bytes alone. On Linux it also paces the arenas' rounds of page-tail trims (small.c: at most one per trim_ms;
 * none without a clock). Linux: CLOCK_MONOTONIC_COARSE; freestanding: a weak default returning 0, which a
 * firmware with a tick counter may override. Must not allocate. */
uint64_t hak_platform_clock_ms(void);

/* Freestanding builds with threads only: enter and leave the firmware's critical section around every lock
 * the core and the platform take (they nest: arena locks, the global lock, the region lock). Weak no-ops by
 * default; see include/hakmem.h. */
void hak_platform_lock(void);
void hak_platform_unlock(void);

/* Arranges for fn(arg) to run when the calling thread exits (the core registers one function per thread, the
 * same function every time). Returns false where there are no threads or it cannot be arranged; the core then
 * does without per-thread caches for that thread. */
bool hak_platform_at_thread_exit(void (*fn)(void *), void *arg);

/* Writes one error report to the platform's error output: the message and, when ptr is not NULL, the address it
 * concerns (used only by the default error handler; how it is shown is the platform's choice). */
void hak_platform_error_output(const char *message, const void *ptr);

/* Ends the process after a fatal error (failed internal assertion, or HAK_INVALID_FREE_ABORT). */
_Noreturn void hak_platform_abort(void);

/* Records an error number for the caller (errno on Linux). */
void hak_platform_set_errno(int err);

/* 64 unpredictable bits, read once per process (twice in hardened builds) when the first arena is made (its
 * secrets derive from them). Linux: getrandom(); freestanding: a weak default mixing addresses, which a firmware
 * with a hardware random number generator should override. Must not allocate. */
uint64_t hak_platform_entropy(void);

/* Value of a configuration variable from the environment, or NULL (always NULL without an OS). */
const char *hak_platform_getenv(const char *name);

/* The memory limit of the container (cgroup) the process runs in, in bytes; 0 if none or unknown. Called
 * once, lazily, possibly from inside malloc: implementations must not allocate. */
size_t hak_platform_memory_limit(void);

/* Fault injection, for tests: the next `after` map/commit requests succeed, then the following `count` fail
 * (as if the OS had no memory), then requests succeed again. count 0 turns it off. Returns the number of
 * requests failed so far by injection. Requests are counted atomically; configuring is not meant to race. Built
 * only with Kconfig HAK_FAULT_INJECTION (on by default; the firmware defconfigs turn it off). */
unsigned long hak_platform_inject_faults(unsigned long after, unsigned long count);

/* Total OS memory calls made so far by the process (for tests and benchmarks to cross-check). */
unsigned long long hak_platform_os_calls(void);

#endif /* HAK_PLATFORM_H */
