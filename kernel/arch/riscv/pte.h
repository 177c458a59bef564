/* Sv39 page-table entries (privileged spec §4.4). Portable: used by the
 * kernel and by the host tests of the page-table code. */
#ifndef NEWSYS_ARCH_RISCV_PTE_H
#define NEWSYS_ARCH_RISCV_PTE_H

#include <stdint.h>

typedef uint64_t pte_t;

#define PTE_V (1u << 0)
#define PTE_R (1u << 1)
#define PTE_W (1u << 2)
#define PTE_X (1u << 3)
#define PTE_U (1u << 4)
#define PTE_G (1u << 5)
#define PTE_A (1u << 6)
#define PTE_D (1u << 7)

#define PTE_PPN_SHIFT 10
#define PTE_PPN_MASK  0x003ffffffffffc00ull

/* Index of `va` in the table of `level` (2 = root, 0 = leaf tables). */
#define PTE_INDEX(va, level) ((((uint64_t)(va)) >> (12 + 9 * (level))) & 511)
#define LEVEL_SIZE(level)    (1ull << (12 + 9 * (level)))

static inline pte_t pte_make(uint64_t pa, uint64_t flags)
{
    return ((pa >> 12) << PTE_PPN_SHIFT) | flags;
}
static inline uint64_t pte_pa(pte_t pte)
{
    return ((pte & PTE_PPN_MASK) >> PTE_PPN_SHIFT) << 12;
}
static inline int pte_is_leaf(pte_t pte)
{
    return (pte & (PTE_R | PTE_W | PTE_X)) != 0;
}

#endif
