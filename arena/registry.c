/*
 * The address registry: which chunk covers a given address, in O(1) and without a lock.
 *
 * A two-level radix table over the address space in HAK_GRANULE (512 KiB) steps: a static root of leaf
 * pointers, and leaves mapped from the platform when a chunk first lands in their range. Leaves are never
 * freed (they are metadata proportional to the address space ever used, like a page table). Readers load the
 * leaf and the entry with acquire; writers hold the global lock. Chunks are granule-aligned, so a granule
 * never holds parts of two chunks, and an entry is set for every granule a chunk covers, so any address
 * inside a chunk finds its header.
 */
#include "arena/internal.h"

#if UINTPTR_MAX > 0xffffffffu
#define REG_ADDR_BITS 48
#else
#define REG_ADDR_BITS 32
#endif
#define REG_INDEX_BITS (REG_ADDR_BITS - HAK_GRANULE_SHIFT)
#define REG_LEAF_BITS  (REG_INDEX_BITS < 14 ? REG_INDEX_BITS : 14)
#define REG_ROOT_BITS  (REG_INDEX_BITS - REG_LEAF_BITS)
#define REG_LEAF_LEN   ((size_t)1 << REG_LEAF_BITS)

typedef _Atomic(hak_chunk_t *) reg_entry_t;
static _Atomic(reg_entry_t *) reg_root[(size_t)1 << REG_ROOT_BITS];

HAK_INLINE bool reg_in_range(uintptr_t x)
{
#if REG_ADDR_BITS < 64 && UINTPTR_MAX > 0xffffffffu
    return (x >> REG_ADDR_BITS) == 0;
#else
    (void)x;
    return true;
#endif
}

hak_chunk_t *_hak_registry_find(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    if (!reg_in_range(x))
        return NULL;
    size_t       index = x >> HAK_GRANULE_SHIFT;
    reg_entry_t *leaf = atomic_load_explicit(&reg_root[index >> REG_LEAF_BITS], memory_order_acquire);
    if (!leaf)
        return NULL;
    return atomic_load_explicit(&leaf[index & (REG_LEAF_LEN - 1)], memory_order_acquire);
}

bool _hak_registry_set(void *base, size_t size, hak_chunk_t *chunk)
{
    uintptr_t x = (uintptr_t)base;
    if (!reg_in_range(x) || !reg_in_range(x + size - 1))
        return false;
    size_t first = x >> HAK_GRANULE_SHIFT, last = (x + size - 1) >> HAK_GRANULE_SHIFT;
    for (size_t i = first; i <= last; i++) {
        reg_entry_t *leaf = atomic_load_explicit(&reg_root[i >> REG_LEAF_BITS], memory_order_relaxed);
        if (!leaf) {
            if (!chunk)
                continue;
            unsigned calls = 0;
            size_t bytes = REG_LEAF_LEN * sizeof(reg_entry_t);
            leaf = hak_platform_map(bytes, hak_platform_page_size(), &calls);
            if (leaf && !hak_platform_commit(leaf, bytes, &calls)) {
                hak_platform_unmap(leaf, bytes, &calls);
                leaf = NULL;
            }
            if (!leaf)
                return false; /* entries set so far are cleared by the caller's undo */
            for (size_t j = 0; j < REG_LEAF_LEN && !hak_platform_map_zeroed; j++)
                atomic_init(&leaf[j], NULL);
            atomic_store_explicit(&reg_root[i >> REG_LEAF_BITS], leaf, memory_order_release);
        }
        atomic_store_explicit(&leaf[i & (REG_LEAF_LEN - 1)], chunk, memory_order_release);
    }
    return true;
}
