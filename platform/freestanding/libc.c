/*
 * The few C library functions a freestanding build needs: the core calls memset and memcpy, and compilers emit
 * calls to memset/memcpy/memmove for struct copies and clearing loops even under -ffreestanding. Weak, so that a
 * firmware linking a real C library (newlib, picolibc) uses its optimised ones. Written byte by byte on purpose:
 * -fno-builtin keeps the compiler from turning these loops back into calls to themselves.
 */
#include <stddef.h>
#include <stdint.h>

#define HAK_WEAK __attribute__((weak))

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);

HAK_WEAK void *memset(void *dst, int c, size_t n)
{
    volatile uint8_t *d = dst; /* volatile: never recognised as a memset idiom */
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

HAK_WEAK void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    volatile uint8_t *d = dst;
    const uint8_t    *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

HAK_WEAK void *memmove(void *dst, const void *src, size_t n)
{
    volatile uint8_t *d = dst;
    const uint8_t    *s = src;
    if (d < s || d >= s + n) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}
