/*
 * The POSIX shim that lets the host test suite run against the freestanding platform: the platform's weak hooks
 * are given their Linux meaning (errno, stderr, abort, sched_yield) so the same Criterion tests check the same
 * contracts. Linked into the test binary only, never into the library: firmware has none of this.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hak_platform_set_errno(int err);
void hak_platform_error_output(const char *message, const void *ptr);
void hak_platform_yield(void);
_Noreturn void hak_platform_abort(void);
void hak_platform_lock(void);
void hak_platform_unlock(void);

void hak_platform_set_errno(int err)
{
    errno = err;
}

void hak_platform_error_output(const char *message, const void *ptr)
{
    char line[256];
    int  n = ptr ? snprintf(line, sizeof line, "hakmem: %s (%p)\n", message, ptr)
                 : snprintf(line, sizeof line, "hakmem: %s\n", message);
    (void)!write(STDERR_FILENO, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}

void hak_platform_yield(void)
{
    sched_yield();
}

_Noreturn void hak_platform_abort(void)
{
    abort();
}

/* The critical-section hooks count their nesting per thread, as a firmware's must, and stop the test at once if
 * the allocator leaves a critical section it did not enter, or exits with one still open. */
static _Thread_local int t_depth;

void hak_platform_lock(void)
{
    t_depth++;
}

void hak_platform_unlock(void)
{
    if (--t_depth < 0) {
        hak_platform_error_output("posix_shim: hak_platform_unlock without a matching hak_platform_lock", NULL);
        abort();
    }
}

__attribute__((destructor)) static void critical_sections_closed(void)
{
    if (t_depth != 0) {
        hak_platform_error_output("posix_shim: the process exits inside hak_platform_lock", NULL);
        abort();
    }
}
