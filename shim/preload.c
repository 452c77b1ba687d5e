/*
 * Only in libhakmem-malloc.so (LD_PRELOAD). glibc runs fork's prepare handlers in the reverse order of their
 * registration, and the shim's must run last (see _hak_shim_atfork in malloc.c), so it must be registered first.
 * It is registered when the default arena is created, at the first allocation; a library whose constructor
 * registers fork handlers before anything allocates (glibc's pthread_atfork calls __register_atfork, which this
 * file interposes) gets the shim's registered just before its own. A program linked with libhakmem-malloc.a
 * cannot interpose it (libc.a defines it too).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>

#include "shim/shim.h"

typedef int register_fn(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso);

__attribute__((visibility("default"))) register_fn __register_atfork;

int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso)
{
    static register_fn *next;
    _hak_shim_atfork(); /* (which comes back here once, with its own handlers) */
    if (!next)
        next = (register_fn *)dlsym(RTLD_NEXT, "__register_atfork");
    return next ? next(prepare, parent, child, dso) : ENOMEM;
}
