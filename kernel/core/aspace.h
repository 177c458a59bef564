/* Address spaces: one Sv39 table per process. The kernel half (root
 * entries 256..511) is shared with the kernel's own table; the user half
 * is private. Page-table pages are charged to the space's bank. ASIDs are
 * used when the hart has them (probed at boot). */
#ifndef NEWSYS_CORE_ASPACE_H
#define NEWSYS_CORE_ASPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/kobj.h"
#include "memobj/map_tree.h"

struct aspace {
    struct kobj obj;
    uint64_t root_pa;
    uint16_t asid; /* 0: none, flush on every switch */
    uint64_t table_pages;
    uint64_t mapped_pages;
    uint64_t harts; /* the harts it ran on: a TLB may hold its entries (tlb.h) */
    /* Harts that were left out of a shootdown because they were not on
     * this space's table: each flushes the ASID when it comes back. */
    uint64_t flush_on_entry;
    /* Inside a shootdown batch: the range [owed_lo, owed_hi) whose remote
     * flush is owed, and the next space owing one (owed_hi 0: none). */
    uint64_t owed_lo, owed_hi;
    struct aspace *owed_next;
    /* Memory-object mappings (memobj.c): an ordered tree of ranges. */
    struct map_tree maps;
    struct map_tree_ops map_ops;
};

void memobj_aspace_init(struct aspace *as);

/* User mapping permissions (NS_RIGHT_READ/WRITE/EXEC from caps.h). */
enum ns_error aspace_init(struct aspace *as);
void aspace_destroy_tables(struct aspace *as);
enum ns_error aspace_map_page(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights);
/* aspace_map_page without the address checks, for a caller that knows va
 * is a page-aligned user address above page 0 (the fault path: it comes
 * from a mapping) and rights hold READ or EXEC. NS_ERR_RANGE when a PTE is
 * there already, NS_ERR_NO_QUOTA when a page table cannot be charged. */
enum ns_error aspace_enter(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights);
enum ns_error aspace_unmap_page(struct aspace *as, uint64_t va, uint64_t *pa);
/* aspace_unmap_page without the TLB flush, for a caller that unmaps a
 * range and then flushes it once (aspace_flush_range) before any frame
 * of it can be reused. */
enum ns_error aspace_unmap_page_noflush(struct aspace *as, uint64_t va);
void aspace_flush_range(struct aspace *as, uint64_t va, uint64_t npages);
/* Forget this hart's TLB entry for va in as (a stale one faulted: an entry
 * with fewer rights than the PTE, which another hart's grant left here). */
void aspace_flush_page(struct aspace *as, uint64_t va);
/* The present PTE for `va`, naming `pa`, now gives `rights` and has its
 * accessed and dirty bits (a first store to a clean page, an aged page
 * used again). Rewritten in place and flushed on this hart only when no
 * right is taken away: another hart's stale entry then has fewer rights,
 * and an access through it merely faults there once more
 * (aspace_flush_page). NS_ERR_RANGE when no such PTE is there. */
enum ns_error aspace_grant(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights);
void aspace_activate(struct aspace *as);
/* The kernel address of the user page holding `va` in `as`, if it is
 * mapped for user access (and writable when `write`); NULL otherwise. Lets
 * the kernel reach any space's memory whatever satp holds. */
void *aspace_user_page(struct aspace *as, uint64_t va, bool write);
/* The PTE for `va` in `as`: true with its frame and flags if one exists. */
bool aspace_lookup(struct aspace *as, uint64_t va, uint64_t *pa, uint64_t *flags);
/* Take write permission away from the PTE for `va` (a page about to be
 * written back: the next store faults and marks it dirty again). */
void aspace_write_protect(struct aspace *as, uint64_t va);
/* Was the page at `va` used since the last call? Reads and clears the
 * PTE's accessed bit. The TLB may still hold the entry with the bit set:
 * the caller flushes once after a batch (aspace_flush_all), so hardware
 * that sets the bit walks again; hardware that faults instead gets it
 * back in memobj.c. */
bool aspace_test_clear_accessed(struct aspace *as, uint64_t va);
/* A kernel access to user memory (copy_to_user and friends) faulted at
 * `va`: if only for want of the accessed or dirty bit (hardware that
 * faults rather than set them, or its emulation), set it and say so -
 * the access is retried. False for a fault no bit explains. */
bool aspace_fix_ad(struct aspace *as, uint64_t va, bool write);
/* Emulate, on hardware that sets A itself, hardware that faults for it
 * (`ad=fault`, pte.h): the clock's aged entries are then made invalid. */
void aspace_set_ad_emulation(bool on);
bool aspace_ad_emulation(void);
/* The hart goes idle: off any user table, and dead roots no hart holds
 * any more are freed. */
struct hart;
void aspace_idle(struct hart *h);
/* Forget every TLB entry on every hart that ran a user space, now. */
void aspace_flush_all(void);
/* The accessed bits of a sweep were cleared: this hart forgets its entries
 * now, the others at their next tick (tlb_age_flush). A stale entry only
 * makes a used page look unused for that long; every change that takes a
 * right away is still shot down before it counts. */
void aspace_age_flush(void);

/* Shootdown batches. Pageout unmaps (or write-protects) page after page,
 * each in every space that maps it; flushed one by one, a page of a space
 * that ran on other harts costs an SBI RFENCE per page - milliseconds each
 * when the target harts are busy, and a 512 MiB stream through 128 MiB of
 * memory at --smp 4 made no visible progress for it. Between begin and
 * end, the remote part of such a flush is owed instead: the space widens
 * the range it owes and joins the batch's list, and a frame unmapped in it
 * is handed to aspace_free_after_flush, which keeps it until the flush.
 * Every end (batches nest) is a flush point: each owing space is flushed
 * once over its range, then the frames are freed - the order that makes a
 * stale translation on another hart harmless. A caller that needs the
 * flush before it goes on (a write about to read the pages by DMA) ends
 * its own batch there. Spaces that ran on this hart alone are flushed at
 * once as before, and then nothing is owed and nothing waits. */
void aspace_batch_begin(void);
void aspace_batch_end(void);
/* Free frame `pa` once no TLB can hold a translation to it: at once if
 * nothing is owed, else at the batch's next flush point. */
void aspace_free_after_flush(uint64_t pa);
/* Frames waiting for the batch's flush (counted as free by a caller that
 * measures what a reclaim gave). */
uint64_t aspace_frees_owed(void);

struct thread;
void aspace_types_init(void);
enum ns_error sys_aspace_create(struct thread *self, uint64_t bank, uint64_t dst);

void asid_probe(void);
unsigned asid_bits(void);

#endif
