/* The kernel's virtual address layout (Sv39).
 *
 *   0x0000000000000000 .. 0x0000003fffffffff  user half (256 GiB)
 *   0xffffffc000000000 .. +DIRECT_MAP_SIZE    direct map of physical memory:
 *                                             va = pa + DIRECT_MAP_BASE
 *   0xffffffff80000000 .. (image end)         the kernel image, linked here
 *                                             whatever physical address it
 *                                             was loaded at
 *
 * Shared with assembly and the linker script, so plain constants only. */
#ifndef NEWSYS_ARCH_RISCV_LAYOUT_H
#define NEWSYS_ARCH_RISCV_LAYOUT_H

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096

#define KERNEL_VBASE    0xffffffff80000000
#define DIRECT_MAP_BASE 0xffffffc000000000
/* 128 GiB of physical address space: root-table slots 256..383. */
#define DIRECT_MAP_SIZE 0x2000000000
#define USER_TOP        0x4000000000

/* Kernel image at most this big (early boot maps it with a fixed pool of
 * page tables). */
#define KERNEL_MAX_IMAGE (16 * 1024 * 1024)

#define BOOT_STACK_SIZE (16 * 1024)

#endif
