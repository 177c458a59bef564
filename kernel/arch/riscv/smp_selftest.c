/* selftest=tlb (smp.h): does a remote shootdown reach another hart's TLB?
 *
 * A throwaway page table - the kernel's upper half, and one page at
 * TEST_VA - under an ASID no space uses. A secondary hart switches to it
 * and reads TEST_VA, so its TLB holds the translation; the boot hart then
 * points the PTE at another frame and calls tlb_flush_page() for that
 * hart: its next read must see the new frame. In between, a change made
 * without a flush shows whether the hart really caches (QEMU's TLB does:
 * the stale value comes back), which says the test can tell the two
 * apart. */
#include <string.h>

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/pte.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/arch/riscv/tlb.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/console/console.h"
#include "kernel/core/aspace.h"
#include "kernel/core/kmem.h"

#define TEST_VA 0x40000000ull /* level-2 slot 1, level-1 and level-0 slot 0 */

struct tlb_test {
    uint64_t satp, back;
    uint64_t seen;
};

static void read_through(struct hart *h, void *arg)
{
    (void)h;
    struct tlb_test *t = arg;
    if (csr_read(satp) != t->satp)
        csr_write(satp, t->satp); /* stays: the next call reads through its TLB */
    t->seen = *(volatile uint64_t *)TEST_VA;
}

static void switch_back(struct hart *h, void *arg)
{
    (void)h;
    struct tlb_test *t = arg;
    csr_write(satp, t->back);
    sfence_vma_all();
}

bool smp_selftest_tlb(void)
{
    struct hart *other = smp_hart(1);
    if (!other) {
        kprintf("selftest tlb: needs a second hart (--smp 2 or more)\n");
        return false;
    }
    unsigned bits = asid_bits();
    uint16_t asid = bits ? (uint16_t)((1u << bits) - 1) : 0; /* the last: never handed out first */
    uint64_t root_pa, mid_pa, leaf_pa, pa[3];
    pte_t *root = kmem_page_alloc(&root_pa), *mid = kmem_page_alloc(&mid_pa),
          *leaf = kmem_page_alloc(&leaf_pa);
    uint64_t *page[3];
    for (int i = 0; i < 3; i++) {
        page[i] = kmem_page_alloc(&pa[i]);
        if (!page[i])
            return false;
        page[i][0] = 0x7e57000000000000ull + (uint64_t)i;
    }
    if (!root || !mid || !leaf)
        return false;
    memset(root, 0, PAGE_SIZE);
    memset(mid, 0, PAGE_SIZE);
    memset(leaf, 0, PAGE_SIZE);
    memcpy(&root[256], &((pte_t *)pa_to_va(vm_kernel_root()))[256], 256 * sizeof(pte_t));
    root[PTE_INDEX(TEST_VA, 2)] = pte_make(mid_pa, PTE_V);
    mid[PTE_INDEX(TEST_VA, 1)] = pte_make(leaf_pa, PTE_V);
    const uint64_t rw = PTE_V | PTE_R | PTE_W | PTE_A | PTE_D; /* a supervisor page */
    pte_t *e = &leaf[PTE_INDEX(TEST_VA, 0)];
    *e = pte_make(pa[0], rw);
    asm volatile("fence rw, rw" ::: "memory");

    struct tlb_test t = {.satp = SATP_MODE_SV39 | ((uint64_t)asid << 44) | (root_pa >> 12),
                         .back = csr_read(satp)};
    uint64_t mask = 1ull << other->index;
    bool ok = smp_call(other, read_through, &t) && t.seen == page[0][0];
    kprintf("selftest tlb: hart %lu reads %#lx through ASID %u\n", (unsigned long)other->hartid,
            (unsigned long)t.seen, asid);
    /* Without a flush: the hart may go on with what it cached. */
    *e = pte_make(pa[1], rw);
    asm volatile("fence rw, rw" ::: "memory");
    ok &= smp_call(other, read_through, &t);
    bool stale = t.seen == page[0][0];
    kprintf("selftest tlb: PTE changed, no flush: it reads %#lx (%s)\n", (unsigned long)t.seen,
            stale ? "its TLB's, stale" : "the new one: this hart does not cache it");
    /* With the shootdown: it must see the change. */
    *e = pte_make(pa[2], rw);
    asm volatile("fence rw, rw" ::: "memory");
    tlb_flush_page(mask, asid, TEST_VA);
    ok &= smp_call(other, read_through, &t);
    bool seen_new = t.seen == page[2][0];
    kprintf("selftest tlb: PTE changed, tlb_flush_page: it reads %#lx (%s)\n",
            (unsigned long)t.seen, seen_new ? "the new frame" : "STALE");
    ok &= seen_new;
    ok &= smp_call(other, switch_back, &t);
    tlb_flush_asid(mask, asid);
    for (int i = 0; i < 3; i++)
        kmem_page_free(page[i]);
    kmem_page_free(leaf);
    kmem_page_free(mid);
    kmem_page_free(root);
    return ok;
}
