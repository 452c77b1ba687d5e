/* Arithmetic the core's fast paths rely on, checked exhaustively where a proof would be easy to get wrong. */
#include <criterion/criterion.h>

#include "arena/internal.h"

/* hak_free's block-start test (internal.h, HAK_RECIP_SHIFT): one multiply and a compare must say exactly whether an
 * offset is a multiple of the block size, for every class and every offset a small page can have. Large pages use
 * recip 1, which only offset 0 passes. */
Test(internals, block_start_test_is_exact)
{
    const uint64_t page_max = UINT64_C(1) << 18; /* small pages: at most 16 slices of at most 16 KiB */
    for (unsigned cls = 0; cls < HAK_NUM_CLASSES; cls++) {
        uint32_t bsize = _hak_class_size[cls], recip = hak_recip(bsize);
        for (uint64_t off = 0; off < page_max; off++)
            if (hak_offset_is_block(off, recip) != (off % bsize == 0))
                cr_assert_fail("class %u (%u bytes): offset %llu misjudged", cls, bsize, (unsigned long long)off);
    }
    for (uint64_t off = 0; off < page_max; off++)
        cr_assert_eq(hak_offset_is_block(off, 1), off == 0);
}
