/*
 * hakmem — an allocator of explicit arenas.
 *
 * A program creates one arena per subsystem (network buffers, a cache, request parsing, ...). Each arena owns
 * its own SuperSlabs (512 KiB .. 2 MiB regions obtained from the platform), so one subsystem's memory can be
 * capped, measured, trimmed, reset or destroyed without touching another's. hak_free() finds the owning arena
 * from the address alone, so a block may be freed by code that never saw its arena.
 *
 * Conventions that hold for every function below unless its comment says otherwise:
 *  - Blocks are aligned to at least HAK_MIN_ALIGN (16) bytes and are not zeroed (hak_calloc zeroes).
 *  - Failure of a pointer-returning function: NULL, and on hosted platforms errno is set to ENOMEM (no memory,
 *    the arena's limit reached, size overflow) or EINVAL (a bad argument). HAK_ENOMEM and HAK_EINVAL carry the
 *    same values for callers without <errno.h>.
 *  - Functions returning int return 0 on success or one of HAK_EINVAL, HAK_ENOMEM, HAK_ERR_*.
 *  - Thread safety: a default arena may be used from any number of threads at once. Each thread keeps a small
 *    cache of free blocks per arena it uses (32 KiB of blocks per size class, at least 4 blocks: up to 4 MiB per
 *    arena, 2.7 MiB of it in the classes above 8 KiB; on Linux at debug levels below 2, for arenas without a
 *    caller's pool, and not near the arena's cap or the budget: see `limit`; the others take their lock on every
 *    call), so allocation and free rarely take the arena's lock; a block freed by any thread goes to that
 *    thread's cache *of the block's arena*, so a block of arena A is only ever handed out by A. A thread's caches
 *    go back to their arenas when it exits or calls hak_thread_flush. An arena created with
 *    HAK_ARENA_UNSYNCHRONIZED takes no locks, uses no atomics and no cache: only one thread at a time may allocate
 *    from it or free into it (the caller provides the hand-over).
 *    hak_arena_create/destroy of different arenas may run concurrently; destroy and reset of an arena must not
 *    race with a call in progress on that same arena in another thread (idle threads may still cache its blocks:
 *    see hak_arena_destroy). fork() in a multi-threaded program: the malloc shim's arena is safe to use in the
 *    child (its fork handlers hold its lock across the fork); any other arena may have been locked by a thread
 *    the child does not have, so the child must not use it (as with any lock), unless the program's own
 *    pthread_atfork handlers make sure no thread is inside a call on it.
 *  - The library never prints. Invalid frees and detected corruption are passed to the error handler (see
 *    hak_set_error_handler), whose default writes one line to stderr (or the platform's error output).
 *  - The compact layout (Kconfig HAK_COMPACT, freestanding builds) replaces size classes with one best-fit heap per
 *    SuperSlab: every block costs two words of header and rounding to 16 bytes, every call is O(1) but for
 *    realloc's copy, and freed blocks merge with their free neighbours. Where a comment below speaks of size
 *    classes, slices, pages or huge blocks, the compact layout has blocks only: a block larger than a SuperSlab
 *    gets one of its own, given back when it is freed; a shrinking realloc stays in place (giving back the tail)
 *    unless the block has a SuperSlab of its own and is more than twice too big; a growing one takes the free
 *    block behind it when that suffices; any alignment is served from the heap. Invalid frees are recognised from
 *    the header in O(1) (foreign pointers always; a pointer into a block would have to find a tag of its own
 *    address before it, keyed anew by every create and reset), and a double free is reported as such until the
 *    block's memory is handed out again. No SuperSlab is cached across arenas (destroy gives each back to its pool
 *    or the platform), a lean arena keeps the SuperSlab that emptied last, and hak_arena_stats is O(1).
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#else
#define HAK_API
#endif

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0

/* Error numbers. On Linux they equal errno's ENOMEM and EINVAL (checked at build time). */
#define HAK_ENOMEM 12
#define HAK_EINVAL 22

/* Codes passed to the error handler and returned by hak_arena_check(). */
enum hak_error_code {
    HAK_ERR_FOREIGN_PTR  = 1001, /* hak_free/realloc of a pointer hakmem never handed out (or already unmapped) */
    HAK_ERR_INTERIOR_PTR = 1002, /* pointer into a hakmem region that is not the start of a live block */
    HAK_ERR_DOUBLE_FREE  = 1003, /* the block is already free (blocks of size classes, up to 64 KiB on Linux, and
                                    compact blocks whose SuperSlab the arena still holds: a block whose memory went
                                    back when it was freed is reported as 1002 or 1001 when freed again) */
    HAK_ERR_CORRUPT      = 1004, /* hak_arena_check found an inconsistent structure */
    HAK_ERR_BAD_ARENA    = 1005, /* a handle that is not a live arena (destroyed, or never created) */
    HAK_ERR_BAD_ENV      = 1006  /* HAKMEM_POLICY or HAKMEM_LIMIT (or the malloc shim's HAKMEM_STATS) holds a
                                    value hakmem cannot read: ignored, the default applies (reported once, by the
                                    call that first reads it) */
};

#define HAK_MIN_ALIGN      16u
#define HAK_SLAB_SIZE_MIN  ((size_t)512 * 1024)
#define HAK_SLAB_SIZE_MAX  ((size_t)2 * 1024 * 1024)

typedef struct hak_arena hak_arena_t; /* opaque; defined only inside the library */

typedef enum {
    HAK_POLICY_DEFAULT = 0, /* the build's default (Kconfig HAK_POLICY_*), or $HAKMEM_POLICY=fast|lean (any other
                               value is reported as HAK_ERR_BAD_ENV and ignored) */
    HAK_POLICY_FAST,        /* emptied pages and SuperSlabs stay committed for reuse: no syscalls in steady state;
                               up to two freed huge blocks of up to 32 MiB are kept (a third
                               freed while both are kept is unmapped) for huge blocks they fit */
    HAK_POLICY_LEAN         /* emptied pages go back to the platform in batches (while the arena churns, at most
                               one per Kconfig HAK_LEAN_INTERVAL_MS); spare SuperSlabs are released; on Linux a
                               size class about to touch new memory may hand out a resident free block of one of
                               the next four classes instead (hak_usable_size then says up to 41% more) */
} hak_policy_t;
/* In both policies (Linux), the free memory above a small-block page's highest live block goes back in rounds
 * (see trim_ms below), so that a size class whose live blocks peaked once does not keep its peak resident. A round
 * begins only when the arena touches new memory for small blocks, once it has touched 256 KiB of it, and goes in
 * bounded steps, one per such allocation. */

#define HAK_TRIM_NEVER 0xffffffffu /* trim_ms: page tails go back only at hak_arena_trim */

#define HAK_ARENA_UNSYNCHRONIZED (1u << 0) /* single-thread arena: no locks, no atomics */

typedef struct hak_arena_config {
    const char  *name;      /* label for stats and error reports; copied (at most 31 bytes kept); may be NULL */
    size_t       slab_size; /* SuperSlab size: power of two in [512 KiB, 2 MiB] (freestanding: the build's);
                               0 = default */
    size_t       limit;     /* hard cap on `committed` (bytes held from the platform); 0 = none. Under a cap
                               of less than 16 MiB, pages of small blocks are 1/256 of it (a slice at least).
                               Any value is accepted; the first block needs a SuperSlab's header and a page,
                               so a cap below that refuses every allocation. Once the arena's pages pass 7/8 of
                               the cap, its threads stop caching its blocks (each call takes its lock) until they
                               drop below it: each at its next call that refills or overflows its cache, so a
                               thread whose burst reached the mark keeps nothing from the others, but one that
                               filled its cache below the mark and went idle keeps it (up to 4 MiB) until it calls
                               again, exits or calls hak_thread_flush */
    hak_policy_t policy;    /* HAK_POLICY_DEFAULT = build default */
    unsigned     trim_ms;   /* at most one round of page-tail trims begins per this many ms; 0 = the build's
                               default for the policy (Kconfig HAK_LEAN_TRIM_MS, 1 s; HAK_FAST_TRIM_MS, 10 s),
                               HAK_TRIM_NEVER = none. Linux only: freestanding builds never trim by themselves */
    unsigned     flags;     /* HAK_ARENA_* */
    void        *pool;      /* optional caller-owned region to draw all memory from instead of the platform... */
    size_t       pool_size; /* ...and its size. See hak_arena_create for its requirements. */
    /* Called when the cap or the process budget refuses memory, after the arena gave back its own empty memory
     * (and other arenas theirs): a chance to drop caches. It runs in the allocating thread without the arena's
     * lock, so it may hak_free blocks of this arena (and must not destroy it); the allocation is then retried
     * once and fails with ENOMEM if memory is still short. It is never re-entered: while it runs, refusals in
     * this arena (of the callback's own allocations, or in other threads) fail without calling it. `wanted` is
     * the memory the arena asked for and was refused, in bytes: a SuperSlab, a page, or a huge block with its
     * header and rounding (at least the request, often more). NULL = none. */
    void (*on_limit)(hak_arena_t *arena, size_t wanted, void *arg);
    void *on_limit_arg;
} hak_arena_config_t;

/*
 * Creates an arena. `cfg` may be NULL (all defaults). On success stores the handle in *out and returns 0.
 * Returns HAK_EINVAL (and stores NULL) iff: out is NULL; slab_size is not 0 and not a power of two in
 * [HAK_SLAB_SIZE_MIN, HAK_SLAB_SIZE_MAX] (freestanding builds: not the build's one SuperSlab size); policy is not
 * a hak_policy_t; flags has an unknown bit; pool is set but not 16-byte aligned, or pool_size is too small to
 * hold the arena and one SuperSlab (freestanding: a SuperSlab header and one slice; compact layout: 256 bytes) once
 * the pool is aligned to the registry granule (Linux 512 KiB, freestanding 16 KiB; see hak_pool_size_min()), or
 * lies in memory hakmem manages (a block of another arena: arenas do not nest) or overlaps the pool of a live
 * arena (or of one being created at the same time: of two such creates exactly one succeeds) or, freestanding,
 * memory the platform was given (the static pool or an added region, in use or not); pool_size is set without
 * pool.
 * Pools aligned to the granule waste nothing: the arena struct then goes at the pool's end.
 * Returns HAK_ENOMEM (and stores NULL) iff the platform cannot supply the arena's few KiB of metadata.
 * Cost: O(1), and for a pool arena O(live arenas); no SuperSlab is mapped until the first allocation (nothing is
 * prefaulted). Thread-safe.
 * A pool arena takes all its memory, metadata included, from [pool, pool+pool_size); the caller keeps the pool
 * alive until hak_arena_destroy returns. The one platform memory a pool can cause is process-wide and shared: the
 * address registry's index of the pool's address range, made the first time any chunk lands in that range
 * (Linux: 128 KiB of address space per 8 GiB range, resident only where used). Freestanding builds keep their
 * first index static, so a firmware with no static pool and no region can run on pools alone.
 */
HAK_API int hak_arena_create(hak_arena_t **out, const hak_arena_config_t *cfg);

/* A pool_size that hak_arena_create accepts for a pool at any 16-byte-aligned address (the worst alignment needs
 * this much; a pool aligned to the registry granule may be smaller). 0 for a slab_size create would refuse.
 * It guarantees the creation (a SuperSlab header and one slice; compact layout: 256 bytes of region), not room
 * for any particular block. */
HAK_API size_t hak_pool_size_min(size_t slab_size);

/*
 * Frees every block of the arena at once and gives its memory back: SuperSlabs are unmapped or kept in a small
 * process-wide cache for the next arena (lean arenas decommit all but a few warm ones first), large blocks are
 * unmapped. NULL is ignored. Cost: O(SuperSlabs + large blocks), not O(blocks). The caller guarantees that no other
 * thread is inside a call on the arena and that nobody uses its blocks afterwards. A later hak_free of one of them
 * is reported as an invalid free (HAK_ERR_FOREIGN_PTR or HAK_ERR_INTERIOR_PTR; HAK_ERR_DOUBLE_FREE where a free
 * block of the arena, after a reset, starts at the same address) and ignored only while its memory is unused:
 * SuperSlabs go to a process-wide cache that later arenas draw from, and once a block there is handed out again,
 * the stale pointer is that block's (freeing it is the caller's use-after-free). Blocks of the
 * arena still sitting in other threads' caches are dropped by those threads unseen (each arena has a
 * generation, renewed by destroy and reset), so a later arena — even one reusing the same handle — never
 * receives them. The handle itself is dead until hak_arena_create reuses it: hak_arena_stats, _check and
 * _set_limit return HAK_ERR_BAD_ARENA for it, _trim 0, _reset does nothing and _destroy reports it; the allocation
 * calls do not check (it would cost every call a test), so allocating from a destroyed arena is the caller's bug.
 */
HAK_API void hak_arena_destroy(hak_arena_t *arena);

/*
 * Frees every block at once; the arena stays usable and keeps its SuperSlabs. Fast arenas keep them committed;
 * lean arenas give the memory back as they do any freed memory, in paced batches (Kconfig HAK_LEAN_BATCH_KIB and
 * HAK_LEAN_INTERVAL_MS: a request arena reset many times a second does not decommit and fault its pages in again
 * every time), or at once with hak_arena_trim. Blocks larger than half a SuperSlab are unmapped, except the two
 * spares a fast arena keeps (see hak_alloc). NULL is ignored. Cost: O(SuperSlabs + large blocks). Same
 * concurrency rule as hak_arena_destroy.
 */
HAK_API void hak_arena_reset(hak_arena_t *arena);

/*
 * Returns every empty page and empty SuperSlab of the arena to the platform (decommit/unmap), whatever the
 * policy, and on Linux the OS pages above the highest live block of each page of small blocks and those inside
 * its free blocks of 8 KiB and more, past their first 16 bytes (they stay counted in `committed`; the blocks are
 * handed out again later). Returns the number of bytes by which `committed`
 * fell. NULL returns 0. Cost: O(SuperSlabs + free small blocks); one platform call per contiguous empty run, per
 * trimmed page and per free block of 8 KiB or more. Thread-safe.
 */
HAK_API size_t hak_arena_trim(hak_arena_t *arena);

/*
 * Gives the calling thread's cached free blocks, of every arena, back to their arenas, as thread exit does, and
 * lets lean arenas give back the memory that is empty now. For a thread about to wait a long time (a pool worker
 * going idle): until it calls again or exits, its caches keep up to 4 MiB per arena that other threads cannot
 * reuse, trim cannot give back and the stats count as in use. The thread's next call on an arena starts a new
 * cache. Does nothing in builds without thread caches. Thread-safe; not from an error handler that reports
 * with a lock held (see hak_set_error_handler).
 */
HAK_API void hak_thread_flush(void);

/*
 * Changes the arena's cap (0 = none) at run time. Lowering it below `committed` gives back the arena's empty
 * memory at once; what is still above the cap stays, and further growth fails until usage drops below it (memory
 * freed later goes back when the arena next needs more, or at hak_arena_trim; a lean arena's batches too).
 * Returns 0, HAK_EINVAL for NULL, HAK_ERR_BAD_ARENA for a dead handle. Thread-safe.
 */
HAK_API int hak_arena_set_limit(hak_arena_t *arena, size_t bytes);

/*
 * The process budget: the bytes all arenas together (pool arenas excepted) may hold from the platform. Its
 * default, read when the first arena is created, is HAK_CGROUP_LIMIT_PERCENT (Kconfig, 90) of the memory limit
 * of the container's cgroup (v2 memory.max or v1 memory.limit_in_bytes, smallest over the ancestors it can see:
 * not those above its cgroup namespace's root; none = no budget); the environment variable HAKMEM_LIMIT
 * overrides it with bytes ("512MiB", "2g", "1048576"), a percentage of the cgroup limit ("75%") or "off" (or 0:
 * no budget); a value it cannot read is reported (HAK_ERR_BAD_ENV) and ignored. At the budget an arena gives back
 * its own empty memory, then the SuperSlabs destroyed arenas left cached for reuse, then other arenas' empty
 * memory (lean ones first; only synchronized arenas that are not busy), calls its on_limit, and then fails with
 * ENOMEM. Allocations racing in different arenas may overshoot it by one chunk each. Once the process's memory
 * passes 7/8 of the budget, threads stop caching blocks (as near an arena's cap: see `limit`).
 * hak_set_memory_limit(0) removes the budget. Thread-safe.
 */
HAK_API void   hak_set_memory_limit(size_t bytes);
HAK_API size_t hak_memory_limit(void);

/*
 * Allocates a block of at least `size` bytes (size 0 gives a unique minimal block). Returns NULL with
 * ENOMEM iff the platform has no memory, the arena's limit or the process budget would be exceeded even after
 * giving back empty memory, or size is too large to represent; NULL with EINVAL iff arena is NULL.
 * Cost: O(1) on the fast path; may call the platform when a new SuperSlab or a large block is needed.
 * Sizes up to 64 KiB come from size classes (internal waste <= 12.5% above 128 bytes), larger ones from
 * runs of 16 KiB slices of a SuperSlab, and blocks larger than half a SuperSlab from their own mapping,
 * unmapped when freed (a fast arena on Linux keeps up to two freed, of up to 32 MiB, as spares for the next
 * such blocks that fit them).
 */
HAK_API void *hak_alloc(hak_arena_t *arena, size_t size);

/* As hak_alloc for count*size bytes, zeroed. NULL with ENOMEM also iff count*size overflows (EINVAL for a NULL
 * arena, whatever the sizes). */
HAK_API void *hak_calloc(hak_arena_t *arena, size_t count, size_t size);

/*
 * Resizes: ptr NULL behaves as hak_alloc(arena, size). Otherwise returns a block of at least `size` bytes
 * holding the first min(size, old usable size) bytes of ptr's contents, and ptr is freed if the block moved.
 * The result always belongs to `arena`: a block of another arena is moved. The block stays in place when it
 * already fits and is at most twice too big; a large block (above the size classes, 64 KiB on Linux, up to half
 * a SuperSlab) that stays large also grows in place when the slices after it are free, and shrinks in place by
 * freeing its tail. Otherwise the contents are copied, O(size); a block that moves to grow into a large size
 * gets room for more growth where memory is plentiful (Linux, not a pool, the cap and the budget leaving a
 * SuperSlab to spare): its slices are rounded up to a power of two, so hak_usable_size reports up to twice `size`
 * and the next steps of a growing buffer often stay in place. size 0 returns a minimal block (ptr is freed).
 * A shrink in the same arena never fails for want of memory: with no room to move to (a cap, a full pool), the
 * block stays where it is (errno may then hold the ENOMEM of the attempt to move it), and a large one gives back
 * its slices past the new size. On failure returns NULL and leaves ptr untouched and valid: ENOMEM as hak_alloc;
 * EINVAL iff arena is NULL
 * or ptr is not a live hakmem block (which is also reported to the error handler).
 */
HAK_API void *hak_realloc(hak_arena_t *arena, void *ptr, size_t size);

/*
 * Allocates `size` bytes aligned to `alignment`. Returns NULL with EINVAL iff alignment is 0 or not a power of
 * two (or arena is NULL); ENOMEM as hak_alloc. Alignments up to half the registry granule (Linux 256 KiB,
 * freestanding 8 KiB) are served from size classes and slice runs (sizes up to half a SuperSlab); larger ones
 * from a dedicated mapping. Freed with hak_free like any block.
 */
HAK_API void *hak_aligned_alloc(hak_arena_t *arena, size_t alignment, size_t size);

/*
 * Frees a block of any arena, from any thread for default arenas (only the owning thread for unsynchronized
 * ones). NULL is ignored. A pointer hakmem did not hand out, a pointer into the middle of a block and a block
 * that is already free are detected, reported to the error handler and otherwise ignored: nothing is
 * corrupted. Release builds detect them in O(1) (a double free is confirmed by a walk of the block's page only
 * when its free marker matches); debug builds (HAK_DEBUG_LEVEL >= 2) also walk on every free. Cost: O(1).
 */
HAK_API void hak_free(void *ptr);

/* Usable size of a live block (>= the size requested); 0 for NULL or a pointer hakmem does not own. O(1). */
HAK_API size_t hak_usable_size(const void *ptr);

/* The arena owning the live block ptr, or NULL if ptr is NULL or not the start of a live hakmem block. O(1). */
HAK_API hak_arena_t *hak_arena_of(const void *ptr);

typedef struct hak_arena_stats {
    size_t   in_use;         /* bytes in live blocks (block sizes, not requests) */
    size_t   committed;      /* bytes currently held from the platform and possibly resident (incl. metadata) */
    size_t   reserved;       /* address space held (>= committed) */
    size_t   peak_committed;
    size_t   limit;          /* the arena's cap, 0 = none */
    size_t   superslabs;     /* SuperSlabs owned now */
    uint64_t allocs, frees, failed_allocs; /* counted when stats are on (Kconfig HAK_STATS), else 0; since
                                              creation: hak_arena_reset frees blocks without counting them;
                                              failed_allocs counts the allocations and reallocs of the arena
                                              refused for want of memory (ENOMEM), not bad arguments */
    uint64_t platform_calls; /* map/unmap/commit/decommit calls made to the platform (syscalls on Linux; 0 on
                                freestanding platforms, which make none) */
} hak_arena_stats_t;

/* Fills *out. Returns HAK_EINVAL iff arena or out is NULL, HAK_ERR_BAD_ARENA for a dead handle.
 * Cost: O(SuperSlabs x slices) (in_use is summed from page headers, so the fast paths pay nothing for it; compact
 * layout: O(1)).
 * The calling thread's cache of the arena is given back first; blocks in other threads' caches count as in use,
 * and those threads' alloc/free counts reach the arena when their caches next refill or overflow. */
HAK_API int hak_arena_stats(const hak_arena_t *arena, hak_arena_stats_t *out);

/* The arena's stats as one JSON object ({"name":…,"policy":…,"in_use":…,…}) in buf, NUL-terminated and
 * truncated to len bytes; returns the length the whole text needs (so a result >= len means truncated: the
 * truncated text is a prefix, not valid JSON; call again with a buffer of the result + 1), or 0 for a NULL or
 * dead arena. */
HAK_API size_t hak_arena_stats_json(const hak_arena_t *arena, char *buf, size_t len);

/* Writes a one-line text report of the arena's stats through write(line, arg) (the core has no stdio).
 * Returns 0, or HAK_EINVAL / HAK_ERR_BAD_ARENA. */
HAK_API int hak_arena_report(const hak_arena_t *arena, void (*write)(const char *line, void *arg), void *arg);

/* Process-wide totals: committed, peak_committed and reserved cover every chunk hakmem holds from the platform
 * (including SuperSlabs cached for reuse) but not its small metadata, which neither the budget nor the caps count:
 * arena structs (~1.3 KiB each; compact layout 1.8 KiB on a 32-bit target, 3.5 KiB on 64-bit: its list heads,
 * 1,072 B on a 32-bit target with Kconfig HAK_COMPACT_MAX_SHIFT=20)
 * and per-thread caches (~5 KiB per thread that used a synchronized arena) are never given back (they are
 * reused), and each 8 GiB of address space hakmem has used costs a 128 KiB registry leaf (Linux, 64-bit). limit
 * is the process budget, platform_calls every OS call made;
 * in_use, superslabs and the counters sum the synchronized arenas that are not busy at that moment (one whose
 * lock another thread holds is skipped, not waited for; an unsynchronized arena's belong to its thread: ask it
 * with hak_arena_stats). Returns 0, or HAK_EINVAL for NULL. */
HAK_API int hak_stats_total(hak_arena_stats_t *out);

/*
 * Walks every structure of the arena: SuperSlab headers, slice maps, every page's free list (bounds,
 * alignment, cycles, counts), size-class bins, large blocks, the address registry and the byte counters.
 * Returns 0 if all are consistent; HAK_ERR_CORRUPT (after reporting which check failed to the error handler)
 * if not; HAK_EINVAL for NULL; HAK_ERR_BAD_ARENA for a dead handle. Cost: O(memory held). Thread-safe.
 */
HAK_API int hak_arena_check(hak_arena_t *arena);

/*
 * Error handler: called with a HAK_ERR_* code, a one-line message, the offending pointer (or NULL) and `arg`.
 * It is called from the thread that made the bad call, possibly with the arena's lock held (a corrupted
 * thread-cache list found while giving blocks back, and the corruption that hardened and debug builds report just
 * before they stop the process; hak_arena_check reports after releasing it): it must not call back into hakmem for
 * that arena. Other arenas it may use, as long as two threads' handlers do not each use the
 * other's reported arena (each would wait for the lock the other holds). Passing fn = NULL restores the default
 * handler, which writes one line to the platform's error output. If the build is configured with
 * HAK_INVALID_FREE_ABORT, the process aborts after the handler returns from an invalid or double free (or
 * realloc) or a dead arena handle (HAK_ERR_BAD_ARENA; not from HAK_ERR_CORRUPT or HAK_ERR_BAD_ENV). Thread-safe.
 */
typedef void hak_error_fn(int code, const char *message, void *ptr, void *arg);
HAK_API void hak_set_error_handler(hak_error_fn *fn, void *arg);

/* ---- freestanding builds only (platform/freestanding; not present in Linux builds) ----
 *
 * Arenas without a pool of their own draw from the platform's regions: the static pool (Kconfig
 * HAK_STATIC_POOL_SIZE, in .bss) and those added here. hak_platform_add_region gives [base, base+size) to the
 * allocator for good (regions may be added at any time; aligning base to 16 KiB wastes nothing). Returns 0,
 * HAK_EINVAL for a NULL or wrapping region, one with less than 64 bytes left once base is rounded up and the
 * end down to 64 bytes, one overlapping a region given before (the static pool included) or the pool of a live
 * arena (or of one being created), HAK_ENOMEM when HAK_MAX_REGIONS regions were added already (the static pool
 * is not one of them). Cost: O(regions + live arenas). Regions that touch (one ends where the next begins,
 * the static pool included) merge, so one chunk may span both: add only memory that is contiguous RAM there.
 *
 * With HAK_THREADS=y arenas take a spinlock; hak_platform_lock()/hak_platform_unlock() are called around every
 * such lock and are weak no-ops: a firmware that allocates from interrupt handlers defines them to mask
 * interrupts, an RTOS to suspend its scheduler. Calls nest, and deeper than the usual two (an arena's lock, then
 * the global one): the platform's region lock comes third, and a purge under the process budget holds several
 * arenas' locks at once. So the hooks count: the first lock saves the previous state and enters, the matching
 * last unlock restores it (tests/freestanding/posix_shim.c checks that every call is matched).
 * Other weak hooks a firmware may define (declared below; none may allocate): hak_platform_error_output (where
 * the default error handler sends each report: its message and the pointer it concerns, or NULL; default
 * nowhere), hak_platform_abort (default: trap),
 * hak_platform_yield (called while spinning on a busy lock), hak_platform_clock_ms (a monotonic millisecond tick,
 * may be coarse; default 0, no clock: lean purges are then paced by freed bytes alone) and hak_platform_entropy: 64
 * random bits, read once (twice in hardened builds, for a 128-bit key) when the first arena is made, from which
 * every arena's secrets derive (free markers, hardened link keys, random allocation order). The default is not
 * random; a firmware with a hardware random number generator should supply it. */
HAK_API int      hak_platform_add_region(void *base, size_t size);
HAK_API void     hak_platform_lock(void);
HAK_API void     hak_platform_unlock(void);
/* (The hooks below exist in Linux builds too, inside the library: declared without HAK_API so that they stay
 * internal there.) */
void     hak_platform_error_output(const char *message, const void *ptr);
void     hak_platform_abort(void); /* must not return */
void     hak_platform_yield(void);
uint64_t hak_platform_clock_ms(void);
uint64_t hak_platform_entropy(void);

#ifdef __cplusplus
}
#endif
#endif /* HAKMEM_H */
