/*
 * The address registry: which chunk covers a given address, in O(1) and without a lock.
 *
 * A two-level radix table over the address space in HAK_GRANULE steps (512 KiB on Linux, 16 KiB freestanding): a static
 * root of leaf pointers, and leaves mapped from the platform when a chunk first lands in their range. Leaves are never
 * freed (they are metadata proportional to the address space ever used, like a page table). Freestanding builds keep
 * their first leaf static (2 KiB on a 32-bit MCU): a firmware whose arenas all live in pools of their own has no
 * platform memory to map one from. Readers load the leaf and the entry with acquire; writers hold the global lock.
 * Chunks are granule-aligned, so a granule never holds parts of two chunks, and an entry is set for every granule a
 * chunk covers, so any address inside a chunk finds its header.
 */
#include "arena/internal.h"

_Atomic(hak_reg_entry_t *) _hak_reg_root[(size_t)1 << HAK_REG_ROOT_BITS];

HAK_INLINE bool reg_in_range(uintptr_t x)
{
#if HAK_REG_BOUNDED
    return (x >> HAK_REG_ADDR_BITS) == 0;
#else
    (void)x;
    return true;
#endif
}

/* A zeroed leaf, or NULL when the platform has no memory for one. */
static hak_reg_entry_t *leaf_new(void)
{
#if HAK_CFG_FREESTANDING
    static hak_reg_entry_t first[HAK_REG_LEAF_LEN];
    static bool            first_taken; /* under the global lock */
    if (!first_taken) {
        first_taken = true;
        return first;
    }
#endif
    hak_reg_entry_t *leaf = _hak_meta_map(HAK_REG_LEAF_LEN * sizeof(hak_reg_entry_t));
    for (size_t j = 0; leaf && j < HAK_REG_LEAF_LEN && !hak_platform_map_zeroed; j++)
        atomic_init(&leaf[j], NULL);
    return leaf;
}

hak_chunk_t *_hak_registry_lookup(const void *p)
{
    return _hak_registry_find(p);
}

bool _hak_registry_set(void *base, size_t size, hak_chunk_t *chunk)
{
    uintptr_t x = (uintptr_t)base;
    if (!reg_in_range(x) || !reg_in_range(x + size - 1))
        return false;
    size_t first = x >> HAK_GRANULE_SHIFT, last = (x + size - 1) >> HAK_GRANULE_SHIFT;
    for (size_t i = first; i <= last; i++) {
        hak_reg_entry_t *leaf = atomic_load_explicit(&_hak_reg_root[i >> HAK_REG_LEAF_BITS], memory_order_relaxed);
        if (!leaf) {
            if (!chunk)
                continue;
            if (!(leaf = leaf_new()))
                return false; /* entries set so far are cleared by the caller's undo */
            atomic_store_explicit(&_hak_reg_root[i >> HAK_REG_LEAF_BITS], leaf, memory_order_release);
        }
        atomic_store_explicit(&leaf[i & (HAK_REG_LEAF_LEN - 1)], chunk, memory_order_release);
    }
    return true;
}

bool _hak_registry_claim(void *base, size_t size, hak_chunk_t *chunk)
{
    _hak_global_lock();
    bool ok = _hak_registry_set(base, size, chunk);
    if (!ok)
        _hak_registry_set(base, size, NULL); /* the entries set before a leaf could not be mapped */
    _hak_global_unlock();
    return ok;
}
