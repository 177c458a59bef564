/* TLB shootdown (see tlb.h). */
#include "kernel/arch/riscv/tlb.h"

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/boot/panic.h"
#include "kernel/boot/platform.h"
#include "sbi/sbi.h"

_Static_assert(PLATFORM_MAX_HARTS <= 64, "a hart mask is one word");

static uint64_t user_harts; /* harts that ever ran a user space */

void tlb_enter(uint64_t *harts)
{
    uint64_t bit = tlb_this_hart();
    *harts |= bit;
    user_harts |= bit;
}

static void local_asid(uint16_t asid)
{
    asm volatile("sfence.vma zero, %0" ::"r"((unsigned long)asid) : "memory");
}

/* The other harts of `harts`, one RFENCE call each (hart ids need not be
 * contiguous, and a mask relative to a base covers only 64 of them). A
 * failure would leave a stale translation somewhere: there is no safe way
 * on from that. */
void tlb_remote(uint64_t harts, uint16_t asid, uint64_t start, uint64_t size)
{
    harts &= ~tlb_this_hart();
    for (unsigned i = 0; harts; i++) {
        struct hart *h = smp_hart(i);
        if (!h)
            break;
        uint64_t bit = 1ull << h->index;
        if (!(harts & bit))
            continue;
        harts &= ~bit;
        long e = asid ? sbi_remote_sfence_vma_asid(1, h->hartid, start, size, asid)
                      : sbi_remote_sfence_vma(1, h->hartid, start, size);
        if (e)
            panic("tlb: remote sfence.vma on hart %lu failed: %s", (unsigned long)h->hartid,
                  sbi_strerror(e));
    }
}

#define RANGE_PAGES_LOCAL 32 /* longer: flush the ASID rather than page by page */

void tlb_flush_range(uint64_t harts, uint16_t asid, uint64_t va, uint64_t size)
{
    uint64_t self = tlb_this_hart();
    if (harts & self) {
        if (size > RANGE_PAGES_LOCAL * PAGE_SIZE && asid)
            local_asid(asid);
        else if (size > RANGE_PAGES_LOCAL * PAGE_SIZE)
            sfence_vma_all();
        else
            for (uint64_t off = 0; off < size; off += PAGE_SIZE)
                tlb_local_page(asid, va + off);
    }
    if (harts & ~self)
        tlb_remote(harts & ~self, asid, va, size);
}

void tlb_flush_asid(uint64_t harts, uint16_t asid)
{
    if (harts & tlb_this_hart())
        local_asid(asid);
    if (harts & ~tlb_this_hart())
        tlb_remote(harts, asid, 0, (uint64_t)-1);
}

void tlb_flush_everywhere(void)
{
    sfence_vma_all();
    if (user_harts & ~tlb_this_hart())
        tlb_remote(user_harts, 0, 0, (uint64_t)-1);
}
