/* Access to user memory from the kernel. Every user pointer the kernel
 * follows goes through these: the range is checked against the user half
 * (no kernel address, no wrap, no crossing USER_TOP), then the copy runs
 * with sstatus.SUM set and an exception-table fixup, so an unmapped or
 * protected page yields an error instead of a kernel fault. */
#ifndef NEWSYS_ARCH_RISCV_UACCESS_H
#define NEWSYS_ARCH_RISCV_UACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/arch/riscv/layout.h"

static inline bool user_range_ok(uint64_t uaddr, uint64_t len)
{
    return uaddr < USER_TOP && len <= USER_TOP - uaddr;
}

/* Return 0 on success, -1 if any byte faulted. Callers check the range
 * first (copy_from_user/copy_to_user do). */
int arch_copy_from_user(void *dst, const void *usrc, size_t n);
int arch_copy_to_user(void *udst, const void *src, size_t n);

static inline int copy_from_user(void *dst, uint64_t usrc, size_t n)
{
    if (!user_range_ok(usrc, n))
        return -1;
    return arch_copy_from_user(dst, (const void *)(uintptr_t)usrc, n);
}

static inline int copy_to_user(uint64_t udst, const void *src, size_t n)
{
    if (!user_range_ok(udst, n))
        return -1;
    return arch_copy_to_user((void *)(uintptr_t)udst, src, n);
}

#endif
