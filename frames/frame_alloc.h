/* Physical page-frame allocator: 4 KiB frames of the RAM the device tree
 * describes, minus everything reserved.
 *
 * Contract:
 *   - The allocator state lives in a caller-owned struct frame_allocator; the
 *     module has no globals. It is not thread-safe: the caller serialises
 *     every call on one allocator (the kernel holds its frame lock).
 *   - It never dereferences a physical address itself. Its only memory, the
 *     per-zone bitmaps, sits in free RAM picked at init and is reached through
 *     the caller's phys_to_virt hook, called on every operation (so the hook
 *     may change what it returns, e.g. when the kernel moves from its boot
 *     mapping to the direct map, as long as it keeps every bitmap contiguous
 *     and 8-byte aligned in virtual memory). Bitmap pages are reserved frames.
 *   - Frames are handed out as physical addresses, lowest address first (zones
 *     in address order, first fit), so the same inputs give the same sequence
 *     of addresses. Allocated and freed frames are NOT zeroed: the caller
 *     decides whether a frame needs clearing (page tables do, a frame about to
 *     be filled by DMA does not).
 *   - A frame is in one of: free, allocated (handed out, freeable), reserved
 *     (never handed out, never freeable: firmware, kernel image, DTB, initrd,
 *     the allocator's own bitmaps, frame_reserve). A frame reserved with
 *     frame_reserve while allocated stays with its owner; freeing it then
 *     succeeds but the frame stays reserved.
 *   - Errors are typed and leave the allocator unchanged.
 */
#ifndef NEWSYS_FRAMES_FRAME_ALLOC_H
#define NEWSYS_FRAMES_FRAME_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

#define FRAME_SHIFT     12
#define FRAME_SIZE      ((uint64_t)1 << FRAME_SHIFT)
#define FRAME_MAX_ZONES 16

enum frame_err {
    FRAME_OK = 0,
    FRAME_ERR_NO_MEMORY,
    FRAME_ERR_BAD_RANGE,         /* unaligned, overflowing, outside managed RAM */
    FRAME_ERR_TOO_MANY_ZONES,    /* more than FRAME_MAX_ZONES non-empty RAM ranges */
    FRAME_ERR_NOT_ALLOCATED,     /* double free / free of a never-allocated or reserved frame */
    FRAME_ERR_NO_METADATA_SPACE, /* no free run of frames large enough for a zone's bitmap */
    FRAME_ERR_COUNT
};

/* Never NULL; an out-of-range value gives "unknown frame error". */
const char *frame_strerror(enum frame_err err);

/* A physical range [base, end). */
struct frame_range {
    uint64_t base, end;
};

enum frame_state {
    FRAME_STATE_UNMANAGED = 0, /* not inside any zone */
    FRAME_STATE_FREE,
    FRAME_STATE_ALLOCATED, /* includes allocated frames reserved later */
    FRAME_STATE_RESERVED,
};

/* One RAM range. Internal: read it through the functions below. */
struct frame_zone {
    uint64_t base_pfn; /* first frame number */
    uint64_t npages;
    uint64_t meta_pa;    /* bitmap: pairs {allocated, reserved} per 64 frames */
    uint64_t meta_pages; /* 0: zone wholly reserved, no bitmap */
    uint64_t nfree;
    uint64_t hint; /* every bitmap word pair below this index is full */
};

struct frame_allocator {
    struct frame_zone zones[FRAME_MAX_ZONES]; /* sorted by address, disjoint */
    unsigned nzones;
    void *(*phys_to_virt)(uint64_t pa, void *ctx);
    void *ctx;
};

/* RAM ranges are rounded inward to whole frames (ranges smaller than a frame
 * after rounding are ignored), must not overlap each other, and may come in
 * any order; each non-empty one becomes a zone. Reserved ranges are rounded
 * outward and may overlap each other and RAM in any way. Errors: BAD_RANGE
 * (end < base, overlapping RAM, NULL array with a non-zero count),
 * TOO_MANY_ZONES, NO_METADATA_SPACE, NO_MEMORY (no frame left to allocate).
 * *fa is fully written on success and unspecified on error. */
enum frame_err frame_alloc_init(struct frame_allocator *fa, const struct frame_range *ram,
                                unsigned n_ram, const struct frame_range *reserved,
                                unsigned n_reserved, void *(*phys_to_virt)(uint64_t pa, void *ctx),
                                void *ctx);

/* One frame. NO_MEMORY when none is free. */
enum frame_err frame_alloc(struct frame_allocator *fa, uint64_t *pa);

/* npages physically contiguous frames (always within one zone) whose first
 * frame number is a multiple of align_pages. npages == 0 or align_pages not a
 * power of two: BAD_RANGE. No such run: NO_MEMORY. */
enum frame_err frame_alloc_contig(struct frame_allocator *fa, uint64_t npages, uint64_t align_pages,
                                  uint64_t *pa);

/* pa must be frame aligned and inside a zone (else BAD_RANGE) and allocated
 * (else NOT_ALLOCATED). */
enum frame_err frame_free(struct frame_allocator *fa, uint64_t pa);

/* All npages frames from pa must be allocated and inside one zone; on any
 * error nothing is freed. The run need not come from a single
 * frame_alloc_contig call. */
enum frame_err frame_free_contig(struct frame_allocator *fa, uint64_t pa, uint64_t npages);

/* Reserve [base, end) rounded outward after init. Parts outside every zone
 * are ignored (they are never handed out anyway); free frames become reserved;
 * allocated frames stay with their owner and become reserved when freed.
 * end < base: BAD_RANGE. */
enum frame_err frame_reserve(struct frame_allocator *fa, uint64_t base, uint64_t end);

uint64_t frame_count_free(const struct frame_allocator *fa);
/* Every frame inside a zone, whatever its state. */
uint64_t frame_count_total(const struct frame_allocator *fa);
/* True iff the frame holding pa is handed out (so frame_free would accept it). */
bool frame_is_allocated(const struct frame_allocator *fa, uint64_t pa);
enum frame_state frame_state(const struct frame_allocator *fa, uint64_t pa);

unsigned frame_zone_count(const struct frame_allocator *fa);
/* Zone i's frame-aligned range [*base, *end) and free frame count; any output
 * pointer may be NULL. i >= frame_zone_count: BAD_RANGE. */
enum frame_err frame_zone_info(const struct frame_allocator *fa, unsigned i, uint64_t *base,
                               uint64_t *end, uint64_t *free_frames);

#endif
