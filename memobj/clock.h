/* The page clock: second-chance replacement over resident object pages.
 *
 * Pages the kernel can page out (those of objects backed by a storage
 * map) sit on one ring, linked through cache_page.lru_prev/lru_next. The
 * hand sweeps the ring: a page used since the hand last passed (the
 * caller's `referenced`, which reads and clears the PTE accessed bits) is
 * passed over, which is its second chance; one not used is offered to the
 * caller's `reclaim`, which drops it (clean), starts writing it back
 * (dirty: it stays on the ring until the write completes and a later pass
 * finds it clean), or refuses (busy, pinned). New pages enter just behind
 * the hand, so they are looked at last.
 *
 * Portable (host-tested): no allocation, no globals; the caller serialises
 * calls on one clock and removes pages from it (clock_remove) whenever
 * they leave the cache, including from inside its own callbacks. */
#ifndef NEWSYS_MEMOBJ_CLOCK_H
#define NEWSYS_MEMOBJ_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "memobj/page_cache.h"

struct clock {
    struct cache_page *hand; /* next to look at; NULL when the ring is empty */
    uint64_t pages;
};

enum clock_action {
    CLOCK_FREED,   /* the page is gone (reclaim called clock_remove) */
    CLOCK_WRITING, /* dirty: its writeback started; it stays */
    CLOCK_SKIP,    /* cannot go now (I/O in flight, pinned) */
};

struct clock_ops {
    /* Used since last asked? Clears the evidence. */
    bool (*referenced)(struct cache_page *cp, void *ctx);
    /* `*pages` comes set to 1: a reclaim that takes a run with cp (written
     * or dropped together) says how many pages it covers, and the scan
     * counts them all toward `want`. */
    enum clock_action (*reclaim)(struct cache_page *cp, void *ctx, uint64_t *pages);
    void *ctx;
};

struct clock_result {
    uint64_t scanned, referenced, skipped; /* pages looked at, and what became of them */
    uint64_t freed, writing;               /* pages freed, or being written, counting runs */
};

void clock_init(struct clock *c);
/* cp must not be on a ring. */
void clock_insert(struct clock *c, struct cache_page *cp);
/* cp must be on this ring. */
void clock_remove(struct clock *c, struct cache_page *cp);
/* Sweep until `want` pages are freed or started writing, or `max_scan`
 * pages were looked at (bounds the work of one call: a full ring of
 * referenced pages takes two sweeps). */
void clock_scan(struct clock *c, uint64_t want, uint64_t max_scan, const struct clock_ops *ops,
                struct clock_result *out);

#endif
