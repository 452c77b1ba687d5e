/* Helpers shared by the Criterion suites: an error handler that records what it is told. */
#ifndef HAK_TEST_MODEL_H
#define HAK_TEST_MODEL_H
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "geometry.h"

struct reported {
    int   count;
    int   last_code;
    void *last_ptr;
    char  last_message[256];
};
extern struct reported reported;

void record_errors(void); /* installs the recording handler and clears `reported` */

static inline void check(hak_arena_t *a)
{
    cr_assert_eq(hak_arena_check(a), 0, "hak_arena_check failed");
}

static inline size_t committed_of(hak_arena_t *a)
{
    hak_arena_stats_t s;
    cr_assert_eq(hak_arena_stats(a, &s), 0);
    return s.committed;
}

static inline uint64_t test_rand(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}
#endif
