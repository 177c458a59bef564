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

/* Accessed and dirty bits (privileged spec §4.3.1, "Svade"/"Svadu"):
 * hardware either sets them itself (QEMU) or raises a page fault when an
 * access finds A clear or a store finds D clear (SiFive U74). NewSys enters
 * every user PTE with A and D already set and tracks dirtiness by write
 * permission, so only A ever changes: the page clock clears it, and on the
 * faulting kind of hardware the next access faults and the kernel sets it
 * back - from the user fault path (memobj.c) or, for a kernel access to
 * user memory, from the kernel trap handler.
 *
 * QEMU 7.2 cannot be told to fault instead, so the kernel can emulate that
 * hardware (`ad=fault` on its command line) to run the second path: an
 * aged PTE is then also made invalid, with PTE_AGED - one of the two bits
 * the spec leaves to software - saying that the kernel still holds it. Such
 * an entry reads, through pte_logical(), as valid with A clear: what a U74
 * would have in memory, and faults on, exactly. */
#define PTE_AGED (1u << 8)

/* The kernel holds this leaf: valid, or aged under emulation. */
static inline int pte_present(pte_t e)
{
    return (e & (PTE_V | PTE_AGED)) != 0;
}

/* The entry as hardware that faults for A would hold it. */
static inline pte_t pte_logical(pte_t e)
{
    return e & PTE_AGED ? (e & ~(pte_t)PTE_AGED) | PTE_V : e;
}

/* Clear the accessed bit; when emulating, hide the entry from the walker
 * too, so that the next access faults as it would on a U74. */
static inline pte_t pte_age(pte_t e, int emulate)
{
    e &= ~(pte_t)PTE_A;
    return emulate ? (e & ~(pte_t)PTE_V) | PTE_AGED : e;
}

/* Does this access to a present user entry fault only for want of the
 * accessed (or, for a store, dirty) bit? Rights are not widened: an
 * access the entry forbids is not fixable. */
static inline int pte_faults_for_ad(pte_t e, int write)
{
    pte_t l = pte_logical(e);
    if (!(l & PTE_V) || !(l & PTE_U) || !(l & (write ? PTE_W : PTE_R)))
        return 0;
    return (e & PTE_AGED) || !(l & PTE_A) || (write && !(l & PTE_D));
}

/* The entry after hardware of the first kind would have set the bits. */
static inline pte_t pte_mark_accessed(pte_t e, int write)
{
    return pte_logical(e) | PTE_A | (write ? PTE_D : 0);
}

#endif
