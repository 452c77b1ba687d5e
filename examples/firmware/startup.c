/*
 * Minimal start-up for the hakmem firmware test on QEMU's mps2-an385 (Cortex-M3): no vendor code, no libc.
 *
 * A Cortex-M core boots by reading two words at address 0: the initial stack pointer and the address of the
 * reset handler. This file provides that vector table and everything a C program expects before main():
 * .data copied from its load image in flash, .bss and the arena pools (.hak_pool) zeroed, a thread-local
 * storage block for the single thread (should the library use _Thread_local variables), and constructors
 * run. main()'s return value becomes QEMU's exit status through semihosting, so `make` can tell a passing
 * run from a failing one.
 *
 * Every other exception (NMI, HardFault, MemManage, BusFault, UsageFault, and any interrupt, none of which the
 * test enables) is fatal: the handler prints which one, the faulting PC and the fault status registers, and
 * exits with FW_EXIT_FAULT. The symbols used here come from mps2_an385.ld.
 */
#include <stdint.h>

#include "semihost.h"
#include "startup.h"

/* QEMU exit status of a run that died in an exception (0 = tests passed, 1 = a test failed). */
#define FW_EXIT_FAULT 3

/* Number of external interrupts on AN385 (QEMU's mps2.c: num-irq 32). */
#define FW_NUM_IRQS 32

/* Word painted over the unused stack, to measure its high-water mark. */
#define STACK_PAINT 0x5afe57acu

int main(void);

/* ---- symbols from the linker script ---- */
extern uint32_t __stack_bottom[], __stack_top[];
extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __pool_start[], __pool_end[];
extern uint32_t __tdata_load[], __tdata_size[], __tbss_size[];
extern uint32_t __tls_tp[], __tls_block[];

typedef void (*fw_func_t)(void);
extern const fw_func_t __init_array_start[], __init_array_end[];

_Noreturn void Reset_Handler(void);
void            fw_fault_entry(void);
_Noreturn void fw_fault_report(const uint32_t *frame);
extern uint32_t fw_fault_stack[128];
void           *__aeabi_read_tp(void);

/* ---- the vector table (placed at address 0 by the linker script) ---- */
__attribute__((section(".vectors"), used)) static const fw_func_t vectors[16 + FW_NUM_IRQS] = {
    [0] = (fw_func_t)(uintptr_t)__stack_top, /* initial SP, not a function */
    [1] = Reset_Handler,
    [2] = fw_fault_entry, /* NMI */
    [3] = fw_fault_entry, /* HardFault */
    [4] = fw_fault_entry, /* MemManage */
    [5] = fw_fault_entry, /* BusFault */
    [6] = fw_fault_entry, /* UsageFault */
    [11] = fw_fault_entry, /* SVCall */
    [12] = fw_fault_entry, /* DebugMonitor */
    [14] = fw_fault_entry, /* PendSV */
    [15] = fw_fault_entry, /* SysTick */
    [16 ... 16 + FW_NUM_IRQS - 1] = fw_fault_entry, /* external interrupts: none is enabled */
};

/* ---- memory initialisation: word loops through volatile pointers, so the compiler cannot turn them into
 * calls to memcpy/memset (which the image may not have, and which would run before .data exists) ---- */

static void copy_words(volatile uint32_t *dst, const volatile uint32_t *src, size_t bytes)
{
    for (size_t i = 0; i < bytes / 4; i++)
        dst[i] = src[i];
}

static void fill_words(volatile uint32_t *dst, uint32_t value, size_t bytes)
{
    for (size_t i = 0; i < bytes / 4; i++)
        dst[i] = value;
}

static size_t span(const uint32_t *start, const uint32_t *end)
{
    return (size_t)((uintptr_t)end - (uintptr_t)start);
}

/* Paints the stack below the caller's frame (keeping a margin for this function's own frame). */
static void paint_stack(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    uintptr_t limit = (sp - 64) & ~(uintptr_t)3;
    fill_words(__stack_bottom, STACK_PAINT, limit - (uintptr_t)__stack_bottom);
}

size_t fw_stack_size(void)
{
    return span(__stack_bottom, __stack_top);
}

size_t fw_stack_used(void)
{
    const volatile uint32_t *w = __stack_bottom;
    size_t                   words = fw_stack_size() / 4, i = 0;
    while (i < words && w[i] == STACK_PAINT)
        i++;
    return (words - i) * 4;
}

/*
 * Thread-local storage for the one thread. Arm uses TLS "variant 1": the thread pointer (what __aeabi_read_tp
 * returns) points at an 8-byte thread control block, and the TLS block follows it; the linker script reserves
 * both and gives the initial image (.tdata, then .tbss zeroes). Weak, so a platform layer may supply its own.
 */
static void tls_init(void)
{
    /* Byte by byte: the TLS sizes need not be multiples of 4, and the block is a few bytes at most. */
    volatile uint8_t *block = (volatile uint8_t *)__tls_block;
    const uint8_t    *image = (const uint8_t *)__tdata_load;
    size_t            tdata = (size_t)(uintptr_t)__tdata_size, tbss = (size_t)(uintptr_t)__tbss_size;
    for (size_t i = 0; i < tdata; i++)
        block[i] = image[i];
    for (size_t i = 0; i < tbss; i++)
        block[tdata + i] = 0;
}

__attribute__((weak, naked)) void *__aeabi_read_tp(void)
{
    /* The run-time ABI lets this helper change r0 only, so it is written without a C frame. */
    __asm__ volatile("ldr r0, =__tls_tp\n\t"
                     "bx lr\n\t"
                     ".ltorg");
}

static void run_constructors(void)
{
    for (const fw_func_t *f = __init_array_start; f < __init_array_end; f++)
        (*f)();
}

_Noreturn void Reset_Handler(void)
{
    copy_words(__data_start, __data_load, span(__data_start, __data_end));
    fill_words(__bss_start, 0, span(__bss_start, __bss_end));
    fill_words(__pool_start, 0, span(__pool_start, __pool_end));
    tls_init();
    paint_stack();
    run_constructors();
    semihost_exit(main());
}

/* ---- fatal exceptions ---- */

/* System control block registers (Armv7-M ARM, B3.2): the fault status and address registers. */
#define SCB_CFSR  (*(volatile const uint32_t *)0xE000ED28u) /* configurable fault status (MMFSR|BFSR|UFSR) */
#define SCB_HFSR  (*(volatile const uint32_t *)0xE000ED2Cu) /* hard fault status */
#define SCB_MMFAR (*(volatile const uint32_t *)0xE000ED34u) /* MemManage fault address */
#define SCB_BFAR  (*(volatile const uint32_t *)0xE000ED38u) /* bus fault address */

static const char *exception_name(uint32_t n)
{
    switch (n) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage fault";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 11: return "SVCall";
    case 12: return "DebugMonitor";
    case 14: return "PendSV";
    case 15: return "SysTick";
    default: return "unexpected interrupt";
    }
}

static void report_reg(const char *name, uint32_t value)
{
    semihost_puts(name);
    semihost_put_hex(value);
}

/* A stack of its own for the fault report, so that neither a blown main stack nor the report's own calls can
 * disturb it, and the frame stacked by the core stays intact while it is printed. */
uint32_t fw_fault_stack[128] __attribute__((aligned(8)));

/*
 * Entry for every fatal exception: finds the frame the core stacked (on MSP or PSP, per EXC_RETURN bit 2),
 * switches to fw_fault_stack and calls fw_fault_report with the frame's address.
 */
__attribute__((naked)) void fw_fault_entry(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "ldr r1, =fw_fault_stack + 512\n\t"
                     "mov sp, r1\n\t"
                     "b fw_fault_report\n\t"
                     ".ltorg");
}

/* frame: r0, r1, r2, r3, r12, lr, pc, xpsr as stacked on exception entry. */
_Noreturn void fw_fault_report(const uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1ffu;
    semihost_puts("\n*** FATAL: ");
    semihost_puts(exception_name(ipsr));
    semihost_puts(" (exception ");
    semihost_put_udec(ipsr);
    semihost_puts(")\n");
    report_reg("    pc=", frame[6]);
    report_reg(" lr=", frame[5]);
    report_reg(" sp=", (uint32_t)(uintptr_t)(frame + 8));
    report_reg(" xpsr=", frame[7]);
    semihost_puts("\n");
    report_reg("    cfsr=", SCB_CFSR);
    report_reg(" hfsr=", SCB_HFSR);
    report_reg(" mmfar=", SCB_MMFAR);
    report_reg(" bfar=", SCB_BFAR);
    semihost_puts("\n");
    semihost_exit(FW_EXIT_FAULT);
}
