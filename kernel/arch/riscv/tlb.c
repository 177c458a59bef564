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
uint64_t tlb_remote_calls;

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

#define RANGE_PAGES_LOCAL 32 /* longer: flush the ASID rather than page by page */

/* The other harts of `harts` through SBI RFENCE, one call for each group
 * of harts whose ids lie within 64 of the group's lowest (hart ids need
 * not be contiguous; on the boards and QEMU one group holds them all), so
 * OpenSBI interrupts the targets together and waits for them together. A
 * failure would leave a stale translation somewhere: there is no safe way
 * on from that. */
void tlb_remote(uint64_t harts, uint16_t asid, uint64_t start, uint64_t size)
{
    harts &= ~tlb_this_hart();
    /* A long range as a whole-ASID flush, as here: OpenSBI flushes a range
     * page by page on every target, and a batch's range over a streamed
     * object spans up to its whole mapping. */
    if (size > RANGE_PAGES_LOCAL * PAGE_SIZE) {
        start = 0;
        size = (uint64_t)-1;
    }
    while (harts) {
        uint64_t base = UINT64_MAX;
        for (unsigned i = 0; i < smp_online(); i++)
            if ((harts >> smp_hart(i)->index) & 1 && smp_hart(i)->hartid < base)
                base = smp_hart(i)->hartid;
        if (base == UINT64_MAX)
            break; /* bits of harts that are not online: nobody to flush */
        unsigned long mask = 0;
        for (unsigned i = 0; i < smp_online(); i++) {
            struct hart *h = smp_hart(i);
            if ((harts >> h->index) & 1 && h->hartid - base < 64) {
                mask |= 1ul << (h->hartid - base);
                harts &= ~(1ull << h->index);
            }
        }
        tlb_remote_calls++;
        long e = asid ? sbi_remote_sfence_vma_asid(mask, base, start, size, asid)
                      : sbi_remote_sfence_vma(mask, base, start, size);
        if (e)
            panic("tlb: remote sfence.vma on harts %#lx from %lu failed: %s", mask,
                  (unsigned long)base, sbi_strerror(e));
    }
}

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

static uint64_t age_generation; /* sweeps whose accessed bits were cleared */

void tlb_age_flush(void)
{
    sfence_vma_all();
    struct hart *h = hart_self();
    h->age_seen = __atomic_add_fetch(&age_generation, 1, __ATOMIC_RELEASE);
}

void tlb_tick(struct hart *h)
{
    uint64_t g = __atomic_load_n(&age_generation, __ATOMIC_ACQUIRE);
    if (h->age_seen != g) {
        h->age_seen = g;
        sfence_vma_all();
    }
}
