/* The kernel's address space: the direct map and the final kernel page
 * table (see layout.h for the layout and early.c for the boot tables). */
#ifndef NEWSYS_ARCH_RISCV_VM_H
#define NEWSYS_ARCH_RISCV_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/arch/riscv/layout.h"

struct platform;
struct frame_allocator;

static inline void *pa_to_va(uint64_t pa)
{
    return (void *)(uintptr_t)(pa + DIRECT_MAP_BASE);
}
static inline uint64_t direct_va_to_pa(const void *va)
{
    return (uintptr_t)va - DIRECT_MAP_BASE;
}

/* The image's own symbols (kernel.ld). */
extern char _start[], _text_end[], _rodata_end[], _data_end[], _bss_start[], _bss_end[];
extern char _stack_guard[], _boot_stack_bottom[], _boot_stack_top[], _kernel_end[];

struct vm_stats {
    uint64_t root_pa;
    unsigned tables;        /* page-table pages allocated */
    unsigned direct_ranges; /* pieces of the direct map */
    uint64_t direct_bytes;
    unsigned device_ranges;
};

/* Build the W^X kernel page table from the platform description and switch
 * to it. `extra_ro` names a range (the DTB) that must stay readable even if
 * it lies outside RAM. Panics only if the page tables cannot be allocated. */
void vm_init(const struct platform *p, struct frame_allocator *fa, uint64_t load_pa,
             uint64_t dtb_pa, uint64_t dtb_size, struct vm_stats *stats);

uint64_t vm_kernel_root(void);

/* Translate a kernel virtual address through the current table. */
bool vm_kernel_lookup(uint64_t va, uint64_t *pa, uint64_t *flags);

#endif
