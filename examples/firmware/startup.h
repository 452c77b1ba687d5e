/*
 * What startup.c offers the firmware test beyond booting it: how much stack the run has used.
 *
 * The reset handler fills the unused stack with a known word before main() runs; the deepest word that no
 * longer holds it marks how far the stack grew. This tells firmware authors how much stack hakmem's calls
 * need on a Cortex-M, which matters because the stack there is a fixed, small block of RAM.
 */
#ifndef HAK_FW_STARTUP_H
#define HAK_FW_STARTUP_H

#include <stddef.h>

/* Bytes of stack used so far (high-water mark), and the stack's total size. */
size_t fw_stack_used(void);
size_t fw_stack_size(void);

#endif /* HAK_FW_STARTUP_H */
