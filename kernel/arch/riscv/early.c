/* Early page tables, built before paging is on.
 *
 * This file runs at the physical address the image was loaded at, so it must
 * not use absolute addresses: it is compiled with the medany code model (all
 * symbol references are auipc-relative) and without jump tables, it calls
 * nothing, and it keeps no pointers in initialised data.
 *
 * The tables it builds live in BSS and serve only until kmain() has read the
 * device tree and built the final, W^X tables (see vm.c):
 *   - all of [0, DIRECT_MAP_SIZE) at DIRECT_MAP_BASE with 1 GiB pages, RW;
 *   - the image at KERNEL_VBASE with 4 KiB pages, RWX;
 *   - the gigabyte(s) holding the image 1:1, so the fetch right after the
 *     satp write still works. */
#include <stdint.h>

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/pte.h"

#define EARLY_L0_TABLES (KERNEL_MAX_IMAGE / (2u << 20))

extern char _start[], _kernel_end[];

static pte_t early_root[512] __attribute__((aligned(PAGE_SIZE)));
static pte_t early_l1[512] __attribute__((aligned(PAGE_SIZE)));
static pte_t early_l0[EARLY_L0_TABLES][512] __attribute__((aligned(PAGE_SIZE)));

#define KERNEL_FLAGS (PTE_V | PTE_A | PTE_D | PTE_G)

uint64_t early_map(uint64_t load_pa);

uint64_t early_map(uint64_t load_pa)
{
    uint64_t size = (uint64_t)(_kernel_end - _start);

    /* A too-big image cannot be mapped; stop here rather than run with a
     * partial mapping (there is no console yet to say more). */
    if (size > KERNEL_MAX_IMAGE)
        for (;;)
            asm volatile("wfi");

    for (uint64_t gb = 0; gb < DIRECT_MAP_SIZE >> 30; gb++)
        early_root[PTE_INDEX(DIRECT_MAP_BASE, 2) + gb] =
            pte_make(gb << 30, KERNEL_FLAGS | PTE_R | PTE_W);

    for (uint64_t pa = load_pa & ~((1ull << 30) - 1); pa < load_pa + size; pa += 1ull << 30)
        early_root[PTE_INDEX(pa, 2)] = pte_make(pa, KERNEL_FLAGS | PTE_R | PTE_W | PTE_X);

    early_root[PTE_INDEX(KERNEL_VBASE, 2)] = pte_make((uint64_t)early_l1, PTE_V);
    for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
        uint64_t va = KERNEL_VBASE + off;
        pte_t *l0 = early_l0[off >> 21];
        early_l1[PTE_INDEX(va, 1)] = pte_make((uint64_t)l0, PTE_V);
        l0[PTE_INDEX(va, 0)] = pte_make(load_pa + off, KERNEL_FLAGS | PTE_R | PTE_W | PTE_X);
    }
    return SATP_MODE_SV39 | ((uint64_t)early_root >> PAGE_SHIFT);
}
