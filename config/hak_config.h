/*
 * The bridge between Kconfig and the code: every build knob is defined here, once, with its default, as an
 * always-defined HAK_CFG_* value. Kconfig's generated header (CONFIG_HAK_*) is included when the build has one
 * (HAK_HAVE_AUTOCONF); a plain `cc -D...` build without Kconfig gets the defaults below. Code tests knobs with
 * ordinary `if (HAK_CFG_X)` so the compiler folds the branch, not with #ifdef forests.
 */
#ifndef HAK_CONFIG_H
#define HAK_CONFIG_H

#ifdef HAK_HAVE_AUTOCONF
#include "autoconf.h"
#endif

/* Platform: 0 = Linux (mmap/madvise), 1 = freestanding (static pools, no OS, no libc). */
#if defined(CONFIG_HAK_PLATFORM_FREESTANDING)
#define HAK_CFG_FREESTANDING 1
#else
#define HAK_CFG_FREESTANDING 0
#endif

/* Geometry. Linux: SuperSlabs of 512 KiB .. 2 MiB (default chosen here, arenas may pick another) cut into
 * 16 KiB slices. Freestanding: one SuperSlab size for the whole build, 16 KiB .. 2 MiB, and a slice size, so
 * that pools of a few hundred KiB are useful; the smaller the slice, the less a half-used page wastes, the more
 * the SuperSlab header (about 50 bytes per slice on 32-bit targets) costs. */
#if HAK_CFG_FREESTANDING
#ifdef CONFIG_HAK_FS_SLAB_KIB
#define HAK_CFG_SLAB_SIZE ((unsigned)CONFIG_HAK_FS_SLAB_KIB * 1024u)
#else
#define HAK_CFG_SLAB_SIZE (64u * 1024u)
#endif
#define HAK_CFG_SLAB_MIN HAK_CFG_SLAB_SIZE
#define HAK_CFG_SLAB_MAX HAK_CFG_SLAB_SIZE
#ifdef CONFIG_HAK_FS_SLICE_SHIFT
#define HAK_CFG_SLICE_SHIFT CONFIG_HAK_FS_SLICE_SHIFT
#else
#define HAK_CFG_SLICE_SHIFT 10
#endif
#else /* Linux */
#if defined(CONFIG_HAK_SLAB_512K)
#define HAK_CFG_SLAB_SIZE (512u * 1024u)
#elif defined(CONFIG_HAK_SLAB_2M)
#define HAK_CFG_SLAB_SIZE (2048u * 1024u)
#else
#define HAK_CFG_SLAB_SIZE (1024u * 1024u)
#endif
#define HAK_CFG_SLAB_MIN    (512u * 1024u)
#define HAK_CFG_SLAB_MAX    (2048u * 1024u)
#define HAK_CFG_SLICE_SHIFT 14
#endif

/* Freestanding: bytes of the static pool in .bss that arenas without a pool of their own draw from (0: none;
 * the firmware adds regions with hak_platform_add_region), the address bits memory may have (the registry's
 * span: 32 on microcontrollers), and how many regions may be added. */
#ifdef CONFIG_HAK_STATIC_POOL_SIZE
#define HAK_CFG_STATIC_POOL_SIZE CONFIG_HAK_STATIC_POOL_SIZE
#else
#define HAK_CFG_STATIC_POOL_SIZE (256u * 1024u)
#endif
/* Freestanding: the smallest page in KiB (0: the fewest slices that fit; larger pages take the slow paths less
 * often, at the cost of more memory in half-used pages). */
#ifdef CONFIG_HAK_FS_PAGE_MIN_KIB
#define HAK_CFG_FS_PAGE_MIN_KIB CONFIG_HAK_FS_PAGE_MIN_KIB
#else
#define HAK_CFG_FS_PAGE_MIN_KIB 0
#endif
#ifdef CONFIG_HAK_FS_ADDR_BITS
#define HAK_CFG_ADDR_BITS CONFIG_HAK_FS_ADDR_BITS
#else
#define HAK_CFG_ADDR_BITS 32
#endif
#ifdef CONFIG_HAK_MAX_REGIONS
#define HAK_CFG_MAX_REGIONS CONFIG_HAK_MAX_REGIONS
#else
#define HAK_CFG_MAX_REGIONS 4
#endif

/* Freestanding: the compact layout (arena/compact.c) instead of size classes in SuperSlabs: each chunk of an
 * arena is one best-fit heap, for pools of a few hundred KiB (more of the pool usable, a fraction of the code). */
#if HAK_CFG_FREESTANDING && defined(CONFIG_HAK_COMPACT)
#define HAK_CFG_COMPACT 1
#else
#define HAK_CFG_COMPACT 0
#endif

/* Compact layout: blocks below 2^N bytes (each power of two is a row of free lists in every arena). */
#ifdef CONFIG_HAK_COMPACT_MAX_SHIFT
#define HAK_CFG_COMPACT_MAX_SHIFT CONFIG_HAK_COMPACT_MAX_SHIFT
#else
#define HAK_CFG_COMPACT_MAX_SHIFT 32
#endif

/* Default policy: 1 = fast, 2 = lean (values of hak_policy_t). */
#if defined(CONFIG_HAK_POLICY_LEAN)
#define HAK_CFG_POLICY 2
#endif
#ifndef HAK_CFG_POLICY
#define HAK_CFG_POLICY 1
#endif

/* Thread-safe default arenas (locks); 0 makes every arena unsynchronized. */
#ifndef HAK_CFG_THREADS
#if defined(CONFIG_HAK_THREADS) || !defined(HAK_HAVE_AUTOCONF)
#define HAK_CFG_THREADS 1
#else
#define HAK_CFG_THREADS 0
#endif
#endif

/* Per-thread caches (tcache.c) need thread-local storage and thread-exit hooks: Linux only. Freestanding
 * threads (an RTOS, interrupt handlers) share each synchronized arena through its lock. Debug level 2 and up has
 * none either: its exact double-free check and its poisoning see every free block only in the pages (a block in
 * another thread's cache is on no list the freeing thread could search). */
#define HAK_CFG_TCACHE (HAK_CFG_THREADS && !HAK_CFG_FREESTANDING && HAK_CFG_DEBUG < 2)

/* Per-arena alloc/free/failure counters. */
#ifndef HAK_CFG_STATS
#if defined(CONFIG_HAK_STATS) || !defined(HAK_HAVE_AUTOCONF)
#define HAK_CFG_STATS 1
#else
#define HAK_CFG_STATS 0
#endif
#endif

/* Debug level: 0 = the O(1) checks only; 1 = internal asserts; 2 = + exact double-free walk and poisoning of
 * freed blocks; 3 = + full validation of a page whenever it is refilled or changes state. */
#ifndef HAK_CFG_DEBUG
#ifdef CONFIG_HAK_DEBUG_LEVEL
#define HAK_CFG_DEBUG CONFIG_HAK_DEBUG_LEVEL
#else
#define HAK_CFG_DEBUG 0
#endif
#endif

/* hak_platform_inject_faults (platform/faults.h): the test suite's way to make map/commit fail. */
#ifndef HAK_CFG_FAULT_INJECTION
#if defined(CONFIG_HAK_FAULT_INJECTION) || !defined(HAK_HAVE_AUTOCONF)
#define HAK_CFG_FAULT_INJECTION 1
#else
#define HAK_CFG_FAULT_INJECTION 0
#endif
#endif

/* After an invalid free has been reported: 0 = ignore it and go on, 1 = abort. */
#ifndef HAK_CFG_INVALID_FREE_ABORT
#if defined(CONFIG_HAK_INVALID_FREE_ABORT)
#define HAK_CFG_INVALID_FREE_ABORT 1
#else
#define HAK_CFG_INVALID_FREE_ABORT 0
#endif
#endif

/* Hardened mode: free-list links encoded with a per-arena key, and every block leaving a free list must carry
 * its free marker, else the process stops (a heap overflow cannot forge a link unnoticed). */
#ifndef HAK_CFG_HARDENED
#if defined(CONFIG_HAK_HARDENED)
#define HAK_CFG_HARDENED 1
#else
#define HAK_CFG_HARDENED 0
#endif
#endif
#if HAK_CFG_HARDENED && HAK_CFG_COMPACT /* (Kconfig drops the option silently: say it here) */
#error "HAK_HARDENED needs the size-class layout: it cannot be combined with HAK_COMPACT"
#endif

/* Hardened builds: a page's never-used blocks go onto its free list 16 at a time, in a random order. */
#ifndef HAK_CFG_RANDOM_ORDER
#if defined(CONFIG_HAK_RANDOM_ORDER)
#define HAK_CFG_RANDOM_ORDER 1
#else
#define HAK_CFG_RANDOM_ORDER 0
#endif
#endif

/* Guard pages (Linux): the last slice of every SuperSlab an arena maps is made inaccessible, so a linear overflow
 * off the end of a SuperSlab faults instead of running into the next mapping. */
#ifndef HAK_CFG_GUARD_PAGES
#if defined(CONFIG_HAK_GUARD_PAGES) && !HAK_CFG_FREESTANDING
#define HAK_CFG_GUARD_PAGES 1
#else
#define HAK_CFG_GUARD_PAGES 0
#endif
#endif

/* Valgrind memcheck client requests (arena/internal.h): memcheck sees every block the program holds as a heap
 * block, and everything else in a SuperSlab as no-access. Needs <valgrind/memcheck.h>. */
#ifndef HAK_CFG_VALGRIND
#if defined(CONFIG_HAK_VALGRIND)
#define HAK_CFG_VALGRIND 1
#else
#define HAK_CFG_VALGRIND 0
#endif
#endif

/* Lean policy: decommit emptied pages once this many KiB of them have gathered in an arena (batching keeps
 * the syscall rate low). */
#ifndef HAK_CFG_LEAN_BATCH_KIB
#ifdef CONFIG_HAK_LEAN_BATCH_KIB
#define HAK_CFG_LEAN_BATCH_KIB CONFIG_HAK_LEAN_BATCH_KIB
#else
#define HAK_CFG_LEAN_BATCH_KIB 512
#endif
#endif

/* Lean policy: at most one purge per this many milliseconds while an arena churns (takes slices again about as
 * fast as it frees them); 0: no limit; platforms without a clock have none. */
#ifndef HAK_CFG_LEAN_INTERVAL_MS
#ifdef CONFIG_HAK_LEAN_INTERVAL_MS
#define HAK_CFG_LEAN_INTERVAL_MS CONFIG_HAK_LEAN_INTERVAL_MS
#else
#define HAK_CFG_LEAN_INTERVAL_MS 10
#endif
#endif

/* Lean policy: page tails above the highest live block go back at most once per this many milliseconds. */
#ifndef HAK_CFG_LEAN_TRIM_MS
#ifdef CONFIG_HAK_LEAN_TRIM_MS
#define HAK_CFG_LEAN_TRIM_MS CONFIG_HAK_LEAN_TRIM_MS
#else
#define HAK_CFG_LEAN_TRIM_MS 1000
#endif
#endif

/* Fast policy: the same, at most once per this many milliseconds (the RSS creep of a class's high-water mark is
 * bounded; a fast arena whose marks do not rise makes no syscall). */
#ifndef HAK_CFG_FAST_TRIM_MS
#ifdef CONFIG_HAK_FAST_TRIM_MS
#define HAK_CFG_FAST_TRIM_MS CONFIG_HAK_FAST_TRIM_MS
#else
#define HAK_CFG_FAST_TRIM_MS 10000
#endif
#endif

/* Empty SuperSlabs kept process-wide for new arenas after their arena is destroyed. */
#ifndef HAK_CFG_SLAB_CACHE
#if HAK_CFG_FREESTANDING
#define HAK_CFG_SLAB_CACHE 0 /* a destroyed arena's memory goes back to the regions, for any arena */
#elif defined(CONFIG_HAK_SLAB_CACHE)
#define HAK_CFG_SLAB_CACHE CONFIG_HAK_SLAB_CACHE
#else
#define HAK_CFG_SLAB_CACHE 4
#endif
#endif

/* Default process budget: this percentage of the container's cgroup memory limit (HAKMEM_LIMIT overrides). */
#ifndef HAK_CFG_CGROUP_LIMIT_PERCENT
#ifdef CONFIG_HAK_CGROUP_LIMIT_PERCENT
#define HAK_CFG_CGROUP_LIMIT_PERCENT CONFIG_HAK_CGROUP_LIMIT_PERCENT
#else
#define HAK_CFG_CGROUP_LIMIT_PERCENT 90
#endif
#endif

_Static_assert(HAK_CFG_CGROUP_LIMIT_PERCENT >= 0 && HAK_CFG_CGROUP_LIMIT_PERCENT <= 100, "a percentage");
_Static_assert((HAK_CFG_SLAB_SIZE & (HAK_CFG_SLAB_SIZE - 1)) == 0, "slab size must be a power of two");
_Static_assert(HAK_CFG_SLAB_SIZE >= HAK_CFG_SLAB_MIN && HAK_CFG_SLAB_SIZE <= HAK_CFG_SLAB_MAX, "slab size range");
_Static_assert(HAK_CFG_SLAB_MIN >= 16u * 1024u && HAK_CFG_SLAB_MAX <= 2048u * 1024u, "SuperSlabs are 16 KiB .. 2 MiB");
_Static_assert(HAK_CFG_SLICE_SHIFT >= 9 && HAK_CFG_SLICE_SHIFT <= 14, "slices are 512 B .. 16 KiB");
_Static_assert((HAK_CFG_SLAB_MIN >> HAK_CFG_SLICE_SHIFT) >= 16, "a SuperSlab has at least 16 slices");
_Static_assert((HAK_CFG_SLAB_MAX >> HAK_CFG_SLICE_SHIFT) <= 1024, "a SuperSlab has at most 1024 slices");
_Static_assert(HAK_CFG_MAX_REGIONS >= 1 && HAK_CFG_MAX_REGIONS <= 64, "1..64 regions");
_Static_assert(HAK_CFG_ADDR_BITS >= 20 && HAK_CFG_ADDR_BITS <= 48, "20..48 address bits (the registry's span)");
_Static_assert(HAK_CFG_FS_PAGE_MIN_KIB * 2048u <= HAK_CFG_SLAB_SIZE || !HAK_CFG_FREESTANDING,
               "the smallest page is at most half a SuperSlab");
_Static_assert(HAK_CFG_POLICY == 1 || HAK_CFG_POLICY == 2, "policy is fast (1) or lean (2)");
_Static_assert(HAK_CFG_DEBUG >= 0 && HAK_CFG_DEBUG <= 3, "debug level is 0..3");
_Static_assert(HAK_CFG_LEAN_BATCH_KIB >= 16, "lean batch is at least one slice");
_Static_assert(HAK_CFG_SLAB_CACHE >= 0 && HAK_CFG_SLAB_CACHE <= 64, "slab cache is 0..64");
_Static_assert(HAK_CFG_VALGRIND == 0 || HAK_CFG_VALGRIND == 1, "valgrind support is 0 or 1");

#endif /* HAK_CONFIG_H */
