/*
 * Arena lifecycle, limits, accounting and error reporting.
 *
 * An arena struct comes from the caller's pool (pool arenas) or from a process-wide free list refilled in metadata
 * chunks (64 KiB; 1 KiB on freestanding builds); structs of destroyed arenas go back on that list and are never
 * unmapped, so creating and destroying arenas costs no syscall in steady state. The byte counters (`committed`,
 * `reserved`, `dirty`) change only on slow paths, under the arena's lock; `committed` through _hak_commit_add/_sub,
 * which keep the process total (budget.c) in step. The cap (`limit`) is checked before any new memory is
 * committed, after first giving back the arena's own empty memory.
 *
 * Chunks (SuperSlabs and huge blocks) come from the platform, or for pool arenas from the pool's free-extent
 * list (address-ordered, first fit, coalescing; small, since a pool holds few chunks).
 *
 * The global lock guards the registry writes (registry.c), the SuperSlab cache (superslab.c), the list of live
 * arenas (budget.c), the free lists of arena structs and of thread caches (tcache.c), the metadata carver, the
 * secrets' seed and the error handler. It is taken after an arena lock, never before one, except that budget.c
 * try-locks arenas while holding it (never waiting for them).
 */
#include "arena/internal.h"

#define SPINS_BEFORE_YIELD 256

HAK_INLINE void hak_spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__ARM_ARCH) && __ARM_ARCH >= 7)
    __asm__ volatile("yield");
#endif
}

static hak_lock_t    g_lock;
static hak_arena_t  *g_free_arenas;
static uint8_t      *g_meta_cur, *g_meta_end;
static hak_error_fn *g_handler;
static void         *g_handler_arg;
static uint64_t      g_seed; /* under g_lock */
static bool          g_seeded;
static uint64_t      g_key[2];     /* hardened: the process's secret key (under g_lock, from g_seeded on) */
static uint64_t      g_secret_ctr; /* hardened: secrets drawn so far (under g_lock) */
static atomic_int    g_env_policy = -1; /* -1: not read yet; 0: unset; else a hak_policy_t */
static atomic_uint   g_env_bad;         /* HAK_ENV_BAD_* bits: variables found unreadable, not reported yet */
#if HAK_CFG_VALGRIND
atomic_bool _hak_vg_running; /* see internal.h */
#endif

#if HAK_FORK_LOCKS
_Thread_local bool _hak_t_forking __attribute__((tls_model("initial-exec")));
static hak_lock_t *g_fork_held[2]; /* written by the forking thread only, and read by it only */

bool _hak_fork_holds(const hak_lock_t *l)
{
    return l == g_fork_held[0] || l == g_fork_held[1];
}
#endif

/* Spins with the processor's pause hint (lock holders keep it for a few microseconds at most), then yields. */
void _hak_lock_contended(hak_lock_t *l)
{
#if HAK_FORK_LOCKS
    if (_hak_t_forking && _hak_fork_holds(l))
        return; /* held by this thread for the fork under way */
#endif
    do {
        for (unsigned spins = 0; atomic_load_explicit(&l->held, memory_order_relaxed); spins++) {
            if (spins < SPINS_BEFORE_YIELD)
                hak_spin_pause();
            else
                hak_platform_yield();
        }
    } while (atomic_exchange_explicit(&l->held, 1, memory_order_acquire));
}

void _hak_global_lock(void)
{
    hak_lock(&g_lock);
}

void _hak_global_unlock(void)
{
    hak_unlock(&g_lock);
}

/* pthread_atfork's prepare handler runs before the handlers registered earlier, which may allocate: glibc takes
 * its own malloc locks inside fork() after every handler, a preloaded malloc can only take them in its handler. */
void _hak_fork_hold(hak_lock_t *arena_lock)
{
    if (arena_lock)
        hak_lock(arena_lock);
    hak_lock(&g_lock);
#if HAK_FORK_LOCKS
    g_fork_held[0] = arena_lock;
    g_fork_held[1] = &g_lock;
    _hak_t_forking = true;
#endif
}

void _hak_fork_release(hak_lock_t *arena_lock)
{
#if HAK_FORK_LOCKS
    _hak_t_forking = false;
    g_fork_held[0] = g_fork_held[1] = NULL;
#endif
    hak_unlock(&g_lock);
    if (arena_lock)
        hak_unlock(arena_lock);
}

/* ---- errors ---- */

static char *append(char *out, char *end, const char *s)
{
    while (*s && out < end)
        *out++ = *s++;
    return out;
}

static void default_handler(int code, const char *message, void *ptr, void *arg)
{
    (void)code, (void)arg;
    hak_platform_error_output(message, ptr);
}

void hak_set_error_handler(hak_error_fn *fn, void *arg)
{
    hak_lock(&g_lock);
    g_handler = fn;
    g_handler_arg = fn ? arg : NULL;
    hak_unlock(&g_lock);
}

void _hak_env_bad(unsigned which)
{
    atomic_fetch_or_explicit(&g_env_bad, which, memory_order_relaxed);
}

/* "NAME="value" what", the value cut at 48 characters and its control characters shown as '?' (the report is one
 * line). */
static void report_env(const char *name, const char *what)
{
    char        msg[160], *o = msg, *end = msg + sizeof msg - 1;
    const char *v = hak_platform_getenv(name);
    size_t      n = 0;
    while (v && v[n] && n <= 48)
        n++;
    o = append(o, end, name);
    o = append(o, end, "=\"");
    char *value = o;
    o = append(o, o + 48 < end ? o + 48 : end, v ? v : "");
    for (char *c = value; c < o; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    o = append(o, end, n > 48 ? "...\" " : "\" ");
    o = append(o, end, what);
    *o = 0;
    _hak_report(HAK_ERR_BAD_ENV, msg, NULL);
}

/* Variables are read under locks the error handler may need, so what was found is reported here, after them. */
void _hak_env_report(void)
{
    if (HAK_CFG_FREESTANDING || HAK_LIKELY(!atomic_load_explicit(&g_env_bad, memory_order_relaxed)))
        return;
    unsigned bad = atomic_exchange_explicit(&g_env_bad, 0, memory_order_relaxed);
    if (bad & HAK_ENV_BAD_POLICY)
        report_env("HAKMEM_POLICY", "is neither fast nor lean: ignored");
    if (bad & HAK_ENV_BAD_LIMIT)
        report_env("HAKMEM_LIMIT", "is no size, percentage (0-100%) or off: ignored");
    if (bad & HAK_ENV_BAD_STATS)
        report_env("HAKMEM_STATS", "is neither 1, yes, true, on nor 0, no, false, off: ignored");
}

void _hak_report(int code, const char *msg, const void *ptr)
{
    hak_lock(&g_lock);
    hak_error_fn *fn = g_handler ? g_handler : default_handler;
    void         *arg = g_handler_arg;
    hak_unlock(&g_lock);
    fn(code, msg, (void *)ptr, arg);
    if (HAK_CFG_INVALID_FREE_ABORT && code != HAK_ERR_CORRUPT && code != HAK_ERR_BAD_ENV)
        hak_platform_abort();
}

_Noreturn void _hak_corrupt(const void *ptr)
{
    _hak_report(HAK_ERR_CORRUPT, "free list overwritten (heap overflow or write after free); stopping", ptr);
    hak_platform_abort();
}

/* An invalid free or realloc (code HAK_ERR_DOUBLE_FREE, _FOREIGN_PTR or _INTERIOR_PTR), reported as such. */
HAK_NOINLINE void _hak_report_bad(int code, const void *p, bool realloc)
{
    _Static_assert(HAK_ERR_INTERIOR_PTR == HAK_ERR_FOREIGN_PTR + 1 && HAK_ERR_DOUBLE_FREE == HAK_ERR_FOREIGN_PTR + 2,
                   "the codes index the table");
    static const char *const part[] = {"free of ",      "realloc of ", "a pointer hakmem does not own",
                                       "a pointer into a block", "a freed block", ": ignored", ": refused"};
    const char *s[3] = {part[realloc], part[2 + code - HAK_ERR_FOREIGN_PTR], part[5 + realloc]};
    char        msg[64], *o = msg;
    for (int i = 0; i < 3; i++)
        o = append(o, msg + sizeof msg - 1, s[i]);
    *o = 0;
    _hak_report(code, msg, p);
}

/* An internal invariant broken (debug builds), most likely by the program writing over hakmem's memory: reported
 * as corruption through the error handler, then the process stops. */
void _hak_assert_fail(const char *what, const char *file, int line)
{
    char  msg[200], num[12], *o = msg, *end = msg + sizeof msg - 1, *d = num + sizeof num - 1;
    *d = 0;
    do
        *--d = (char)('0' + line % 10);
    while ((line /= 10) > 0);
    o = append(o, end, "internal assertion failed: ");
    o = append(o, end, what);
    o = append(o, end, " at ");
    o = append(o, end, file);
    o = append(o, end, ":");
    o = append(o, end, d);
    *o = 0;
    hak_error_fn *fn = default_handler; /* (the failed check may have run under the global lock: never wait) */
    void         *arg = NULL;
    if (hak_trylock(&g_lock)) {
        fn = g_handler ? g_handler : fn;
        arg = g_handler_arg;
        hak_unlock(&g_lock);
    }
    fn(HAK_ERR_CORRUPT, msg, NULL, arg);
    hak_platform_abort();
}

/* ---- accounting and limits ---- */

void _hak_commit_add(hak_arena_t *a, size_t bytes)
{
    a->committed += bytes;
    if (a->committed > a->peak_committed)
        a->peak_committed = a->committed;
    if (!a->pool)
        _hak_global_committed(bytes, 0);
}

void _hak_commit_sub(hak_arena_t *a, size_t bytes)
{
    HAK_ASSERT(a->committed >= bytes);
    a->committed -= bytes;
    if (!a->pool)
        _hak_global_committed(0, bytes);
}

/* After the cap or the budget refused memory (and the arena's own empty memory was already given back): the
 * blocks in the calling thread's cache go back to their pages (they count as used, so pages holding only such
 * blocks could not be given back), then the arena's on_limit callback runs without the lock, so it may free
 * blocks of the arena (unless it is running already: in this thread, that is the callback's own allocation
 * refused, which would recurse without end). Says whether to retry once: also when the failed attempt itself
 * gave memory back (the arena held `before` bytes when it began), since a search after that may find room the
 * first one did not. Entered and left with the lock held (if any). */
bool _hak_limit_callback(hak_arena_t *a, size_t before)
{
    size_t wanted = a->limit_wanted;
    a->limit_wanted = 0;
    if (!wanted)
        return false;
    bool retry = _hak_tcache_flush_locked(a) || a->committed < before;
    if (!a->on_limit || a->in_on_limit) /* not re-entered: an allocation the callback makes at the cap fails */
        return retry;
    a->in_on_limit = true;
    hak_arena_unlock(a);
    a->on_limit(a, wanted, a->on_limit_arg);
    hak_arena_lock(a);
    a->in_on_limit = false;
    _hak_tcache_flush_locked(a); /* what the callback freed went to this thread's cache */
    return true;
}

/* ---- chunks: from the platform or from the caller's pool ---- */

/* The largest chunk with this alignment the arena could take now: from its pool, or from the platform (SuperSlabs
 * and regions take what is left when that is less than their size). */
size_t _hak_chunk_room(const hak_arena_t *a, size_t align)
{
    return a->pool ? _hak_extent_largest(a->pool_free, align) : hak_platform_largest(align);
}

static void *chunk_take(hak_arena_t *a, size_t size, size_t align)
{
    if (a->pool)
        return _hak_extent_take(&a->pool_free, size, align, false);
    unsigned calls = 0;
    void    *p = hak_platform_map(size, align, &calls);
    _hak_count_calls(a, calls);
    if (p)
        _hak_global_reserved(size, 0);
    return p;
}

/* Room for a chunk aligned to HAK_CHUNK_ALIGN that aligning costs nothing to speak of: on Linux address space is
 * never short; a pool or static memory must have room for 32 such chunks, else the gaps aligning leaves would be
 * a loss (a 256 KiB firmware pool keeps granule alignment, and loses only the masked free path). (64 would deny it
 * to a static pool of 64 SuperSlabs as soon as its first metadata took a page from the top.) */
static size_t aligned_room(const hak_arena_t *a)
{
    size_t room = _hak_chunk_room(a, HAK_CHUNK_ALIGN);
    return room >= 32 * HAK_CHUNK_ALIGN ? room : 0;
}

/* Callers hold no SuperSlab or empty page across this call: when memory is short it releases both. */
void *_hak_chunk_get(hak_arena_t *a, size_t size, size_t align)
{
    if (align < HAK_GRANULE)
        align = HAK_GRANULE;
    if (!HAK_CFG_COMPACT && align < HAK_CHUNK_ALIGN && aligned_room(a) >= size)
        align = HAK_CHUNK_ALIGN; /* the fast free path's alignment (internal.h) */
    void *p = chunk_take(a, size, align);
    if (!p && _hak_release_empty(a))
        p = chunk_take(a, size, align);
    return p;
}

void _hak_chunk_put(hak_arena_t *a, void *base, size_t size)
{
    HAK_VG_HEADER_GONE(base, size); /* valgrind builds: memory the allocator may write anywhere again */
    HAK_VG_UNDEFINED(base, size);
    if (a->pool) {
        _hak_extent_give(&a->pool_free, base, size);
        return;
    }
    unsigned calls = 0;
    hak_platform_unmap(base, size, &calls);
    _hak_count_calls(a, calls);
    _hak_global_reserved(0, size);
}

/* ---- arena structs ---- */

#define ARENA_STRUCT_SIZE ((sizeof(hak_arena_t) + 63) & ~(size_t)63)
#define META_CHUNK        ((size_t)(HAK_CFG_FREESTANDING ? 1024 : 64 * 1024))

/* `bytes` of committed memory from the platform for process metadata, page-aligned, or NULL. */
void *_hak_meta_map(size_t bytes)
{
    unsigned calls = 0;
    void    *m = hak_platform_map(bytes, hak_platform_page_size(), &calls);
    if (m && !hak_platform_commit(m, bytes, &calls)) {
        hak_platform_unmap(m, bytes, &calls);
        m = NULL;
    }
    return m;
}

/* Carves process metadata from chunks of META_CHUNK; what it hands out is recycled by its users, never unmapped. */
void *_hak_meta_alloc(size_t size)
{
    size = (size + 63) & ~(size_t)63;
    void *p = NULL;
    hak_lock(&g_lock);
    if ((size_t)(g_meta_end - g_meta_cur) < size) {
        size_t   chunk = size > META_CHUNK ? size : META_CHUNK;
        uint8_t *m = _hak_meta_map(chunk);
        if (m)
            g_meta_cur = m, g_meta_end = m + chunk;
    }
    if ((size_t)(g_meta_end - g_meta_cur) >= size) {
        p = g_meta_cur;
        g_meta_cur += size;
    }
    hak_unlock(&g_lock);
    return p;
}

/* SipHash-2-4 of one 64-bit word under a 128-bit key (Aumasson and Bernstein): a pseudo-random function, so its
 * outputs reveal nothing of the key or of one another. */
static uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t siphash(const uint64_t key[2], uint64_t m)
{
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575u, key[1] ^ 0x646f72616e646f6du, key[0] ^ 0x6c7967656e657261u,
                     key[1] ^ 0x7465646279746573u};
    uint64_t words[2] = {m, (uint64_t)8 << 56}; /* the message, then its length in the last block */
    for (int w = 0; w < 2 + 1; w++) {
        int rounds = w < 2 ? 2 : 4;
        if (w < 2)
            v[3] ^= words[w];
        else
            v[2] ^= 0xff;
        for (int r = 0; r < rounds; r++) {
            v[0] += v[1], v[1] = rotl64(v[1], 13), v[1] ^= v[0], v[0] = rotl64(v[0], 32);
            v[2] += v[3], v[3] = rotl64(v[3], 16), v[3] ^= v[2];
            v[0] += v[3], v[3] = rotl64(v[3], 21), v[3] ^= v[0];
            v[2] += v[1], v[1] = rotl64(v[1], 17), v[1] ^= v[2], v[2] = rotl64(v[2], 32);
        }
        if (w < 2)
            v[0] ^= words[w];
    }
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The arena's secrets: the free-marker key (which tells a free block from a live one), and in hardened builds
 * the link key and the random-order generator. Hardened builds take each from a keyed pseudo-random function
 * (SipHash-2-4 of a counter under a process key drawn from the platform's entropy), so that one secret read
 * from memory (a marker is the cookie xor the block's address) reveals neither the key nor any other secret,
 * and creating an arena costs no system call; other builds take steps of a splitmix64 sequence seeded once per
 * process, which only has to differ per arena. (The compact layout has no free markers: no secrets.) */
static void arena_secrets(hak_arena_t *a)
{
    if (HAK_CFG_HARDENED) {
        hak_lock(&g_lock);
        if (!g_seeded) {
            g_key[0] = hak_platform_entropy();
            g_key[1] = hak_platform_entropy();
            g_seeded = true;
        }
        uint64_t n = g_secret_ctr;
        g_secret_ctr += 3;
        hak_unlock(&g_lock);
        a->cookie = (uintptr_t)siphash(g_key, n) | 1;
        a->link_key = (uintptr_t)siphash(g_key, n + 1);
        a->rng = siphash(g_key, n + 2) | 1; /* xorshift state: never 0 */
    } else {
        hak_lock(&g_lock);
        if (!g_seeded) {
            g_seed = hak_platform_entropy();
            g_seeded = true;
        }
        uint64_t z = (g_seed += 0x9e3779b97f4a7c15u) ^ (uint64_t)(uintptr_t)a;
        hak_unlock(&g_lock);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        a->cookie = (uintptr_t)(z ^ (z >> 31)) | 1;
        a->link_key = 0; /* (unused: links are plain) */
        a->rng = 1;
    }
}

/* A struct a destroyed arena left (*reused), or a new one. */
static hak_arena_t *arena_struct_get(bool *reused)
{
    hak_lock(&g_lock);
    hak_arena_t *a = g_free_arenas;
    if (a)
        g_free_arenas = a->next_free;
    hak_unlock(&g_lock);
    *reused = a != NULL;
    return a ? a : _hak_meta_alloc(ARENA_STRUCT_SIZE);
}

static void arena_struct_put(hak_arena_t *a)
{
    hak_lock(&g_lock);
    a->next_free = g_free_arenas;
    g_free_arenas = a;
    hak_unlock(&g_lock);
}

bool _hak_env_is(const char *s, const char *word)
{
    while (_hak_env_space(*s))
        s++;
    while (*word && (*s | 0x20) == *word)
        s++, word++;
    while (_hak_env_space(*s))
        s++;
    return !*word && !*s;
}

static hak_policy_t default_policy(void)
{
    if (HAK_CFG_FREESTANDING) /* (no environment) */
        return (hak_policy_t)HAK_CFG_POLICY;
    int p = atomic_load_explicit(&g_env_policy, memory_order_relaxed);
    if (p < 0) {
        const char *s = hak_platform_getenv("HAKMEM_POLICY");
        p = !s ? 0 : _hak_env_is(s, "fast") ? HAK_POLICY_FAST : _hak_env_is(s, "lean") ? HAK_POLICY_LEAN : 0;
        int unread = -1; /* threads reading it at once: only the one that stores it reports a bad value */
        if (atomic_compare_exchange_strong_explicit(&g_env_policy, &unread, p, memory_order_relaxed,
                                                    memory_order_relaxed) && s && !p)
            _hak_env_bad(HAK_ENV_BAD_POLICY);
    }
    return p ? (hak_policy_t)p : (hak_policy_t)HAK_CFG_POLICY;
}

/* Bytes of chunk area a pool needs: a whole SuperSlab on Linux; on freestanding, whose pools are small, a header
 * and one slice (SuperSlabs in pools are as large as what is left); in the compact layout a region with room for
 * a few small blocks. */
static size_t pool_chunks_min(size_t slab_size)
{
    return HAK_CFG_COMPACT ? 256 : HAK_CFG_FREESTANDING ? HAK_SLAB_HDR + HAK_SLICE : slab_size;
}

static bool valid_slab_size(size_t s)
{
    return s >= HAK_CFG_SLAB_MIN && s <= HAK_CFG_SLAB_MAX && (s & (s - 1)) == 0;
}

size_t hak_pool_size_min(size_t slab_size)
{
    if (!slab_size)
        slab_size = HAK_CFG_SLAB_SIZE;
    if (!valid_slab_size(slab_size))
        return 0;
    return ARENA_STRUCT_SIZE + 64 + HAK_GRANULE + pool_chunks_min(slab_size);
}

int hak_arena_create(hak_arena_t **out, const hak_arena_config_t *cfg)
{
    HAK_VG_START();
    if (!out)
        return HAK_EINVAL;
    *out = NULL;
    hak_arena_config_t c = {0};
    if (cfg)
        c = *cfg;
    if (!c.slab_size)
        c.slab_size = HAK_CFG_SLAB_SIZE;
    if (!valid_slab_size(c.slab_size) || (unsigned)c.policy > HAK_POLICY_LEAN ||
        (c.flags & ~HAK_ARENA_UNSYNCHRONIZED) || (!c.pool && c.pool_size))
        return HAK_EINVAL;

    hak_arena_t *a;
    uint8_t     *chunks = NULL;
    size_t       chunk_bytes = 0;
    bool         reused = false;
    hak_pool_claim_t claim;
    if (c.pool) {
        /* Chunks start on a granule boundary; the arena struct goes in the gap before it if it fits there, else
         * at the very end of the pool, where the last SuperSlab stops short of it. */
        uintptr_t base = (uintptr_t)c.pool, end = base + c.pool_size;
        if ((base & (HAK_MIN_ALIGN - 1)) || c.pool_size < ARENA_STRUCT_SIZE || end < base ||
            base > UINTPTR_MAX - (HAK_GRANULE - 1)) /* (rounding up to the granule would wrap) */
            return HAK_EINVAL;
        uintptr_t first = (base + HAK_GRANULE - 1) & ~(uintptr_t)(HAK_GRANULE - 1), last;
        if (first >= base + ARENA_STRUCT_SIZE) {
            a = (hak_arena_t *)base;
            last = end & ~(uintptr_t)63; /* (extents, like the chunks taken from them, are multiples of 64) */
        } else {
            a = (hak_arena_t *)((end - ARENA_STRUCT_SIZE) & ~(uintptr_t)63);
            last = (uintptr_t)a;
        }
        /* (and a pool in memory hakmem manages, a block of another arena: its chunks would take over the registry
         * entries through which that arena finds its blocks; or another pool arena's memory, which that arena may
         * not have placed a chunk on yet; or the platform's memory, used or not. Without an OS every block is in
         * one of the last two, which _hak_pool_claim checks whole, so the registry need not be asked.) */
        if (last <= first || last - first < pool_chunks_min(c.slab_size) ||
            (!HAK_CFG_FREESTANDING && _hak_registry_lookup((void *)first)) ||
            !_hak_pool_claim(base, end, &claim)) /* (nothing fails after the claim: the arena lists it) */
            return HAK_EINVAL;
        chunks = (uint8_t *)first;
        chunk_bytes = last - first;
    } else if (!(a = arena_struct_get(&reused))) {
        return HAK_ENOMEM;
    }

    /* The struct is built under its own lock. A reused one's may still be held for a moment by a thread dropping
     * a stale cache slot of the arena that had it (tcache.c reads the generation under the lock): that thread is
     * waited for, and the lock is never wiped from under it. */
    if (!reused)
        atomic_init(&a->lock.held, 0);
    hak_lock(&a->lock);
    size_t lock_at = offsetof(hak_arena_t, lock), lock_end = lock_at + sizeof a->lock;
    memset(a, 0, lock_at);
    memset((uint8_t *)a + lock_end, 0, sizeof *a - lock_end);
    a->birth = _hak_new_generation();
    atomic_store_explicit(&a->gen, a->birth, memory_order_relaxed);
    a->sync = HAK_CFG_THREADS && !(c.flags & HAK_ARENA_UNSYNCHRONIZED);
    a->flags = c.flags;
    a->policy = (uint8_t)(c.policy ? c.policy : default_policy());
    a->slab_size = c.slab_size;
    a->limit = c.limit;
    a->on_limit = c.on_limit;
    a->on_limit_arg = c.on_limit_arg;
    _hak_layout_init(a, &c);
    if (c.pool) {
        a->pool = c.pool;
        a->pool_size = c.pool_size;
        a->pool_free = (hak_extent_t *)chunks;
        a->pool_free->next = NULL;
        a->pool_free->size = chunk_bytes;
    }
    if (c.name) {
        size_t n = 0;
        while (c.name[n] && n < HAK_NAME_MAX - 1)
            a->name[n] = c.name[n], n++;
    }
    if (!HAK_CFG_COMPACT)
        arena_secrets(a);
    a->magic = HAK_ARENA_MAGIC;
    _hak_arena_list_add(a);
    hak_unlock(&a->lock);
    _hak_env_report();
    *out = a;
    return 0;
}

void hak_arena_destroy(hak_arena_t *a)
{
    if (!a)
        return;
    if (a->magic != HAK_ARENA_MAGIC) {
        _hak_report(HAK_ERR_BAD_ARENA, "hak_arena_destroy: not a live arena", a);
        return;
    }
    _hak_arena_list_remove(a);
    hak_lock(&a->lock);
    atomic_store_explicit(&a->gen, _hak_new_generation(), memory_order_relaxed); /* thread caches go stale */
    _hak_layout_drop(a);
    a->magic = 0;
    hak_unlock(&a->lock);
    if (!a->pool)
        arena_struct_put(a);
}

void hak_arena_reset(hak_arena_t *a)
{
    if (!a || a->magic != HAK_ARENA_MAGIC)
        return;
    hak_lock(&a->lock);
    _hak_tcache_flush_locked(a); /* (its stats count; the blocks go with everything else) */
    atomic_store_explicit(&a->gen, _hak_new_generation(), memory_order_relaxed); /* thread caches go stale */
    _hak_layout_reset(a);
    hak_unlock(&a->lock);
}

int _hak_arena_enter(const hak_arena_t *ca)
{
    if (!ca)
        return HAK_EINVAL;
    if (ca->magic != HAK_ARENA_MAGIC)
        return HAK_ERR_BAD_ARENA;
    hak_arena_t *a = (hak_arena_t *)ca; /* the lock and the thread cache are state, not content */
    hak_lock(&a->lock);
    _hak_tcache_flush_locked(a);
    return 0;
}

size_t hak_arena_trim(hak_arena_t *a)
{
    if (!a || a->magic != HAK_ARENA_MAGIC)
        return 0;
    hak_lock(&a->lock);
    size_t before = a->committed; /* read before this thread's cache goes back: that may purge a lean batch */
    _hak_tcache_flush_locked(a);
    _hak_layout_trim(a);
    size_t released = before - a->committed;
    hak_unlock(&a->lock);
    return released;
}

int hak_arena_set_limit(hak_arena_t *a, size_t bytes)
{
    int rc = _hak_arena_enter(a);
    if (rc)
        return rc;
    a->limit = bytes;
    if (bytes && a->committed > bytes) /* give back what can be given; growth fails until usage drops */
        _hak_release_empty(a);
    hak_unlock(&a->lock);
    return 0;
}

int hak_arena_check(hak_arena_t *a)
{
    int rc = _hak_arena_enter(a);
    if (rc)
        return rc;
    hak_check_fail_t f;
    rc = _hak_check_locked(a, &f);
    hak_unlock(&a->lock);
    if (rc)
        _hak_report(HAK_ERR_CORRUPT, f.what, f.obj); /* without the lock: the handler may use other arenas */
    return rc;
}
