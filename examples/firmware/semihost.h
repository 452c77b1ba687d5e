/*
 * ARM semihosting for the hakmem firmware test: the only channel the on-target test has to the host.
 *
 * Semihosting lets code on a Cortex-M core ask the debugger (here QEMU with -semihosting-config enable=on) to
 * do I/O for it: the core executes `bkpt 0xAB` with an operation number in r0 and an argument in r1, and the
 * host performs the operation. We need two things from it: printing text (SYS_WRITE0, which QEMU writes to its
 * stderr unless a semihosting chardev is configured) and ending the run with a status the host's shell can
 * see (SYS_EXIT_EXTENDED, so QEMU's own exit status is the test's result).
 *
 * Nothing here uses libc: numbers are formatted by hand into small buffers, and each call prints one piece of
 * text with a single trap so that output is reasonably fast under emulation.
 */
#ifndef HAK_FW_SEMIHOST_H
#define HAK_FW_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Writes a NUL-terminated string to the host's console. */
void semihost_puts(const char *s);

/* Writes an unsigned number in decimal (64-bit, without any 64-bit division: no libgcc needed). */
void semihost_put_udec(uint64_t v);

/* Writes a signed number in decimal. */
void semihost_put_dec(int64_t v);

/* Writes a 32-bit value as 0x followed by 8 hexadecimal digits. */
void semihost_put_hex(uint32_t v);

/*
 * Ends the run: QEMU exits with `status` as its process exit status. Statuses the host would truncate to 0
 * (multiples of 256) are turned into 1, so a failure never reads as success. If the host does not implement
 * SYS_EXIT_EXTENDED, falls back to SYS_EXIT, which can only tell success (0) from failure (1).
 */
_Noreturn void semihost_exit(int status);

#endif /* HAK_FW_SEMIHOST_H */
