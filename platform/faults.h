/*
 * Fault injection for the platforms' map and commit (the contract is in platform.h): the next `after` requests
 * succeed, the following `count` fail, then requests succeed again. Included by exactly one file per platform.
 * Only with Kconfig HAK_FAULT_INJECTION (the firmware defconfigs leave it out).
 */
#ifndef HAK_PLATFORM_FAULTS_H
#define HAK_PLATFORM_FAULTS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config/hak_config.h"
#include "platform/platform.h"

#if HAK_CFG_FAULT_INJECTION
static atomic_ulong fault_after, fault_count, faults_done;

unsigned long hak_platform_inject_faults(unsigned long after, unsigned long count)
{
    atomic_store(&fault_count, 0);
    atomic_store(&fault_after, after);
    atomic_store(&fault_count, count);
    return atomic_load(&faults_done);
}

/* True if this request is one that fault injection makes fail. */
static inline bool injected_fault(void)
{
    if (!atomic_load_explicit(&fault_count, memory_order_relaxed))
        return false;
    unsigned long after = atomic_load(&fault_after);
    while (after) /* still in the successful stretch: count it down */
        if (atomic_compare_exchange_weak(&fault_after, &after, after - 1))
            return false;
    unsigned long left = atomic_load(&fault_count);
    while (left)
        if (atomic_compare_exchange_weak(&fault_count, &left, left - 1)) {
            atomic_fetch_add(&faults_done, 1);
            return true;
        }
    return false;
}
#else
static inline bool injected_fault(void)
{
    return false;
}
#endif

#endif /* HAK_PLATFORM_FAULTS_H */
