/* What the shim's two files share (shim/malloc.c, and shim/preload.c in libhakmem-malloc.so only). */
#ifndef HAK_SHIM_H
#define HAK_SHIM_H

void _hak_shim_atfork(void); /* registers the shim's fork handlers, once */

#endif /* HAK_SHIM_H */
