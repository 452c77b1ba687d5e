/*
 * ARM semihosting calls and a tiny number formatter (see semihost.h for why the test talks through this).
 *
 * Protocol (Arm "Semihosting for AArch32 and AArch64"): on M-profile cores the trap is the Thumb instruction
 * `bkpt 0xAB`; r0 holds the operation, r1 its argument (a value or a pointer to a parameter block), and the
 * host's result comes back in r0. The operations used here:
 *   SYS_WRITE0 (0x04)        r1 = NUL-terminated string.
 *   SYS_EXIT (0x18)          r1 = a reason code; on 32-bit Arm it carries no exit status, the host only
 *                            knows ADP_Stopped_ApplicationExit (status 0) from everything else (status 1).
 *   SYS_EXIT_EXTENDED (0x20) r1 = {reason, subcode}; with reason ADP_Stopped_ApplicationExit the subcode is the
 *                            process exit status (QEMU passes it to exit(), so the host sees it modulo 256).
 */
#include "semihost.h"

#include <stdbool.h>

enum {
    SYS_WRITE0        = 0x04,
    SYS_EXIT          = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
};

enum {
    ADP_Stopped_RunTimeErrorUnknown = 0x20023,
    ADP_Stopped_ApplicationExit     = 0x20026,
};

/* One semihosting trap. The host may read (and for some calls write) memory through `arg`, hence the clobber. */
static uintptr_t semihost_call(uintptr_t op, uintptr_t arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register uintptr_t r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_puts(const char *s)
{
    semihost_call(SYS_WRITE0, (uintptr_t)s);
}

/* Powers of ten from 10^19 (the largest below 2^64) down to 1, for division-free decimal conversion. */
static const uint64_t k_pow10[20] = {
    10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull, 10000000000000000ull,
    1000000000000000ull,     100000000000000ull,     10000000000000ull,     1000000000000ull,
    100000000000ull,         10000000000ull,         1000000000ull,         100000000ull,
    10000000ull,             1000000ull,             100000ull,             10000ull,
    1000ull,                 100ull,                 10ull,                 1ull,
};

/* Writes v in decimal into buf (at least 21 bytes), NUL-terminated. Each digit is found by subtracting its
 * power of ten at most nine times, so the target needs no 64-bit division routine. */
static void format_udec(uint64_t v, char *buf)
{
    size_t n = 0;
    bool   started = false;
    for (size_t i = 0; i < 20; i++) {
        char digit = '0';
        while (v >= k_pow10[i]) {
            v -= k_pow10[i];
            digit++;
        }
        if (digit != '0' || started || i == 19) {
            buf[n++] = digit;
            started = true;
        }
    }
    buf[n] = '\0';
}

void semihost_put_udec(uint64_t v)
{
    char buf[21];
    format_udec(v, buf);
    semihost_puts(buf);
}

void semihost_put_dec(int64_t v)
{
    char buf[22];
    if (v < 0) {
        buf[0] = '-';
        format_udec((uint64_t)0 - (uint64_t)v, buf + 1); /* well defined for INT64_MIN too */
    } else {
        format_udec((uint64_t)v, buf);
    }
    semihost_puts(buf);
}

void semihost_put_hex(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[11];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; i++)
        buf[2 + i] = digits[(v >> (28 - 4 * i)) & 0xfu];
    buf[10] = '\0';
    semihost_puts(buf);
}

_Noreturn void semihost_exit(int status)
{
    if (status != 0 && (status & 0xff) == 0)
        status = 1; /* the host keeps only the low 8 bits: never let a failure read as 0 */
    uintptr_t block[2] = {ADP_Stopped_ApplicationExit, (uintptr_t)status};
    semihost_call(SYS_EXIT_EXTENDED, (uintptr_t)block);
    /* Only reached if the host lacks SYS_EXIT_EXTENDED: plain SYS_EXIT still tells success from failure. */
    semihost_call(SYS_EXIT, status == 0 ? ADP_Stopped_ApplicationExit : ADP_Stopped_RunTimeErrorUnknown);
    for (;;) /* no host listening at all: park the core */
        __asm__ volatile("wfi");
}
