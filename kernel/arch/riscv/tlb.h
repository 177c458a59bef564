/* TLB shootdown: forget a translation on every hart that may hold it.
 *
 * An address space records which harts it has run on (a mask of hart
 * indices, set when a hart switches to it); a change that takes a right
 * away - unmap, write-protect, the clock clearing an accessed bit, a space
 * dying - must reach each of them before the frame or the right can be
 * given to anyone else. This hart flushes with sfence.vma; the others
 * through SBI RFENCE (remote sfence.vma with the space's ASID), which
 * OpenSBI completes on every target before it returns, so the caller may
 * reuse the frame at once. A space without an ASID (0) is flushed on the
 * others by address over all ASIDs.
 *
 * Masks hold only the harts that ever ran the space, so while threads run
 * on the boot hart alone nothing leaves it and the cost is a test of the
 * mask. */
#ifndef NEWSYS_ARCH_RISCV_TLB_H
#define NEWSYS_ARCH_RISCV_TLB_H

#include <stdint.h>

#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/layout.h"

/* The bit of the hart running this code in such a mask. */
static inline uint64_t tlb_this_hart(void)
{
    return 1ull << hart_self()->index;
}

/* This hart switches to a space whose mask is *harts: note it there, and
 * among the harts that run user spaces at all. */
void tlb_enter(uint64_t *harts);

/* SBI RFENCE calls made (sched_report prints it). */
extern uint64_t tlb_remote_calls;

/* The harts of `others` (this one not among them), through SBI. */
void tlb_remote(uint64_t others, uint16_t asid, uint64_t start, uint64_t size);

/* This hart's entry for one page of `asid`. */
static inline void tlb_local_page(uint16_t asid, uint64_t va)
{
    asm volatile("sfence.vma %0, %1" ::"r"(va), "r"((unsigned long)asid) : "memory");
}

/* One page of `asid` on the harts of `harts`: inline, as every unmap and
 * write-protect takes it, and it seldom leaves this hart. */
static inline void tlb_flush_page(uint64_t harts, uint16_t asid, uint64_t va)
{
    uint64_t self = tlb_this_hart();
    if (harts & self)
        tlb_local_page(asid, va);
    if (harts & ~self)
        tlb_remote(harts & ~self, asid, va, PAGE_SIZE);
}

/* [va, va + size) of `asid` on the harts of `harts`: one remote call for
 * the range, and this hart's entries page by page (or the whole ASID for a
 * long range). */
void tlb_flush_range(uint64_t harts, uint16_t asid, uint64_t va, uint64_t size);
/* All of `asid` on the harts of `harts`. */
void tlb_flush_asid(uint64_t harts, uint16_t asid);
/* Everything, on every hart that has run a user space. */
void tlb_flush_everywhere(void);

/* The clock cleared accessed bits: this hart's TLB is flushed now, the
 * other harts' at their next tick (tlb_tick), without an IPI. Hardware
 * that sets A does so only when it walks, so until then a page used
 * through a stale entry looks unused - ageing is the worse for at most a
 * tick, nothing more: every right taken away is shot down at once. */
void tlb_age_flush(void);
/* Each hart's tick: the flush tlb_age_flush left to it, if one is due. */
void tlb_tick(struct hart *h);

#endif
