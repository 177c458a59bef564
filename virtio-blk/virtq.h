/* Split-virtqueue bookkeeping (virtio 1.2 §2.7), portable and host-tested.
 *
 * This module owns the three rings a driver shares with a device - the
 * descriptor table, the available ring and the used ring - plus the
 * driver's private view of them: which descriptors are free, how each
 * in-flight chain is linked, what the caller asked to be told when it
 * completes, and how many bytes the device may write into it. It knows
 * nothing about MMIO, interrupts or block devices (virtio_blk.c does).
 *
 * The device is not trusted. The driver never reads back anything it
 * wrote for the device (descriptors, avail ring): the free list, the chain
 * links and lengths live in the shadow arrays below, so a device that
 * scribbles over the descriptor table changes nothing we rely on. Of what
 * the device writes (the used ring) each field is read once and checked:
 *   - used.idx may advance by at most the number of chains in flight;
 *   - an element's id must name the head of a chain that is in flight;
 *   - its length may not exceed the bytes the chain lets the device write.
 * A length lie is charged to that one chain (VIRTQ_BAD_LEN). A bad index
 * or id cannot be charged to anyone, so the queue turns broken: nothing
 * more is taken from it, and the owner resets the device and takes every
 * in-flight chain back with virtq_cancel() to fail it.
 *
 * Ring memory is little-endian by the spec; both our targets (RV64 and the
 * x86-64/arm64 test hosts) are, and virtq.c asserts it at compile time.
 * Not thread-safe: the owner serialises calls (interrupts off). */
#ifndef NEWSYS_VIRTIO_BLK_VIRTQ_H
#define NEWSYS_VIRTIO_BLK_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest queue we drive. 256 descriptors fit one 4 KiB page and are
 * QEMU's default; a device offering more gets 256. */
#define VIRTQ_MAX_SIZE 256

#define VIRTQ_DESC_F_NEXT  1u
#define VIRTQ_DESC_F_WRITE 2u /* the device writes this buffer */

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u

/* The shared layouts, exactly as §2.7 lays them out. */
struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[]; /* size entries, then used_event (unused: no EVENT_IDX) */
};
struct virtq_used_elem {
    uint32_t id;  /* head of the completed chain (32 bits by the spec) */
    uint32_t len; /* bytes the device wrote into the chain */
};
struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[]; /* size entries, then avail_event */
};

_Static_assert(sizeof(struct virtq_desc) == 16, "virtio 1.2 2.7.5");
_Static_assert(sizeof(struct virtq_avail) == 4, "virtio 1.2 2.7.6");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtio 1.2 2.7.8");
_Static_assert(sizeof(struct virtq_used) == 4, "virtio 1.2 2.7.8");

/* Bytes each part needs for a queue of `size` entries; alignments are
 * 16 (descriptors), 2 (avail) and 4 (used). */
static inline size_t virtq_desc_bytes(unsigned size)
{
    return 16u * size;
}
static inline size_t virtq_avail_bytes(unsigned size)
{
    return 6u + 2u * size;
}
static inline size_t virtq_used_bytes(unsigned size)
{
    return 6u + 8u * size;
}

/* One buffer of a chain, as the caller describes it. */
struct virtq_buf {
    uint64_t addr; /* device (physical) address */
    uint32_t len;
    bool device_writes;
};

enum virtq_err {
    VIRTQ_OK = 0,
    VIRTQ_EMPTY,   /* virtq_get: nothing completed */
    VIRTQ_BAD_LEN, /* virtq_get: completed, but the device claims to have
                    * written more than the chain holds (or len overflows) */
    VIRTQ_BROKEN,  /* the device lied about the ring itself; see above */
    VIRTQ_FULL,    /* virtq_add: not enough free descriptors right now */
    VIRTQ_INVALID, /* virtq_add: empty chain, zero-length buffer, a chain
                    * longer than the queue, or writable bytes over 4 GiB */
};

/* Why a queue broke (for the console). */
enum virtq_lie {
    VIRTQ_LIE_NONE = 0,
    VIRTQ_LIE_USED_IDX, /* used.idx ran ahead of the chains in flight */
    VIRTQ_LIE_ID_RANGE, /* an id >= the queue size */
    VIRTQ_LIE_ID_IDLE,  /* an id that is not an in-flight head (a repeat) */
};

struct virtq {
    uint16_t size; /* a power of two, <= VIRTQ_MAX_SIZE */
    uint16_t nfree;
    uint16_t free_head;
    uint16_t avail_idx; /* next avail.idx we will publish */
    uint16_t published; /* the last avail.idx we published */
    uint16_t last_used; /* the used.idx up to which we have consumed */
    uint16_t inflight;  /* chains made available and not yet completed */
    uint16_t max_inflight;
    bool broken;
    enum virtq_lie lie;
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
    /* Shadow state, never shared with the device. */
    uint16_t next[VIRTQ_MAX_SIZE];         /* free-list and chain links */
    uint16_t avail_shadow[VIRTQ_MAX_SIZE]; /* what we put in the avail ring */
    /* A chain is live from virtq_add until it completes or is cancelled,
     * and published once the device may see it: only a live, published
     * head may be completed. */
    struct {
        void *token;       /* the caller's, returned on completion */
        uint32_t writable; /* bytes the device may write into the chain */
        uint16_t ndesc;    /* descriptors in the chain, 0 if not live */
        bool published;
    } head[VIRTQ_MAX_SIZE];
};

/* Take over the three ring areas (zeroed here) for a queue of `size`
 * entries. False if size is not a power of two in 1..VIRTQ_MAX_SIZE or a
 * pointer is misaligned. */
bool virtq_init(struct virtq *q, unsigned size, void *desc, void *avail, void *used);

/* Put a chain of n buffers in the descriptor table and in the avail ring
 * (not yet visible to the device: see virtq_publish). Device-readable
 * buffers should precede device-writable ones (§2.7.4.2); that order is
 * the caller's business. On VIRTQ_OK, *id is the chain's head: the
 * request id the device will complete. */
enum virtq_err virtq_add(struct virtq *q, const struct virtq_buf *bufs, unsigned n, void *token,
                         uint16_t *id);

/* Make every chain added so far visible to the device. Returns whether
 * the device wants to be notified (it has not set NO_NOTIFY). */
bool virtq_publish(struct virtq *q);

/* Take one completion. VIRTQ_OK / VIRTQ_BAD_LEN: *token and *id name the
 * completed chain (its descriptors are free again), *len is what the
 * device reported (clamped to the chain's writable bytes on BAD_LEN).
 * VIRTQ_EMPTY: nothing more. VIRTQ_BROKEN: the queue is broken (now or
 * earlier); nothing is returned. */
enum virtq_err virtq_get(struct virtq *q, void **token, uint16_t *id, uint32_t *len);

/* Once the device has been stopped (reset), take back one in-flight chain
 * - in no particular order - and return its token, or false when none is
 * left. For a broken queue, or a device being shut down. */
bool virtq_cancel(struct virtq *q, void **token, uint16_t *id);

/* Mark the queue broken by the owner's own finding (the device asked for
 * a reset, say). */
void virtq_set_broken(struct virtq *q, enum virtq_lie why);

const char *virtq_lie_str(enum virtq_lie lie);

#endif
