/*
 * What the tests need to know about the build they test: the SuperSlab sizes it accepts and the largest
 * size-class block (Linux: 512 KiB .. 2 MiB and 64 KiB; a freestanding build has one SuperSlab size and smaller
 * classes), and whether the platform is Linux (environment variables, per-thread caches, memory given back to
 * an OS). The same suite then runs against both platforms.
 */
#ifndef HAK_TEST_GEOMETRY_H
#define HAK_TEST_GEOMETRY_H

#include "config/hak_config.h"

#define SLAB_MIN  ((size_t)HAK_CFG_SLAB_MIN)
#define SLAB_MAX  ((size_t)HAK_CFG_SLAB_MAX)
#define SMALL_MAX ((size_t)(HAK_CFG_FREESTANDING && SLAB_MIN / 16 < 65536 ? SLAB_MIN / 16 : 65536))
#define ON_LINUX  (!HAK_CFG_FREESTANDING)
/* Linux: a class's first page since create or reset is one 16 KiB slice for blocks up to 256 bytes (it holds 64
 * blocks at least); later pages are 64 KiB. */
#define FIRST_PAGE ((size_t)16 << 10)

/* Skips the rest of a test that checks something only the Linux platform has. */
#define LINUX_ONLY(why)                                                                                     \
    do {                                                                                                    \
        if (!ON_LINUX)                                                                                      \
            cr_skip_test("Linux platform only: %s", why);                                                  \
    } while (0)

/* Skips the rest of a test of the size-class layout's pages and slices, which the compact layout (Kconfig
 * HAK_COMPACT) does not have; test_compact.c holds its counterparts. */
#define SIZE_CLASSES_ONLY(why)                                                                              \
    do {                                                                                                    \
        if (HAK_CFG_COMPACT)                                                                                \
            cr_skip_test("size-class layout only: %s", why);                                                \
    } while (0)

#endif /* HAK_TEST_GEOMETRY_H */
