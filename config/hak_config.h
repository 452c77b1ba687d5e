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

/* Default SuperSlab size in bytes (power of two, 512 KiB .. 2 MiB). */
#if defined(CONFIG_HAK_SLAB_512K)
#define HAK_CFG_SLAB_SIZE (512u * 1024u)
#elif defined(CONFIG_HAK_SLAB_2M)
#define HAK_CFG_SLAB_SIZE (2048u * 1024u)
#elif defined(CONFIG_HAK_SLAB_1M)
#define HAK_CFG_SLAB_SIZE (1024u * 1024u)
#endif
#ifndef HAK_CFG_SLAB_SIZE
#define HAK_CFG_SLAB_SIZE (1024u * 1024u)
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

/* Lean policy: decommit emptied pages once this many KiB of them have gathered in an arena (batching keeps
 * the syscall rate low). */
#ifndef HAK_CFG_LEAN_BATCH_KIB
#ifdef CONFIG_HAK_LEAN_BATCH_KIB
#define HAK_CFG_LEAN_BATCH_KIB CONFIG_HAK_LEAN_BATCH_KIB
#else
#define HAK_CFG_LEAN_BATCH_KIB 512
#endif
#endif

/* Empty SuperSlabs kept process-wide for new arenas after their arena is destroyed. */
#ifndef HAK_CFG_SLAB_CACHE
#ifdef CONFIG_HAK_SLAB_CACHE
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
_Static_assert(HAK_CFG_SLAB_SIZE >= 512u * 1024u && HAK_CFG_SLAB_SIZE <= 2048u * 1024u, "slab size range");
_Static_assert(HAK_CFG_POLICY == 1 || HAK_CFG_POLICY == 2, "policy is fast (1) or lean (2)");
_Static_assert(HAK_CFG_DEBUG >= 0 && HAK_CFG_DEBUG <= 3, "debug level is 0..3");
_Static_assert(HAK_CFG_LEAN_BATCH_KIB >= 16, "lean batch is at least one slice");
_Static_assert(HAK_CFG_SLAB_CACHE >= 0 && HAK_CFG_SLAB_CACHE <= 64, "slab cache is 0..64");

#endif /* HAK_CONFIG_H */
