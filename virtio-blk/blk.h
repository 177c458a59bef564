/* Block devices as the rest of the kernel sees them.
 *
 * A block device is a run of 512-byte sectors with a name. Requests read
 * or write a sector range into physical memory described as segments
 * (DMA: the device reaches the pages by physical address, so they must
 * stay allocated until completion), or flush the device's write cache.
 * Two back ends implement it: virtio-mmio disks (virtio_blk.c) and a RAM
 * disk (ramdisk.c).
 *
 * The contract:
 *   - blk_submit() checks the request (range, segments, rights) and either
 *     refuses it - returning the error, never calling done() - or accepts
 *     it, after which done() is called exactly once with rq->status set.
 *   - done() may run before blk_submit() returns (the RAM disk completes
 *     at once) or later from an interrupt handler, with interrupts off: it
 *     must not block, and it may submit more requests.
 *   - Requests are started in submission order, and may complete in any
 *     order. A flush makes durable every write that had completed before
 *     the flush was submitted (virtio's rule); nothing else is ordered.
 *   - Requests a device cannot take at once (its queue is full) wait in
 *     the driver: submission never fails for lack of queue space.
 *   - An I/O error or a device that misbehaves fails the requests it
 *     touches with BLK_ERR_IO; a device found lying about its queue is
 *     marked broken and every request on it fails with BLK_ERR_BROKEN.
 * The caller owns the request and the segment array until done(). */
#ifndef NEWSYS_VIRTIO_BLK_BLK_H
#define NEWSYS_VIRTIO_BLK_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define BLK_SECTOR_SIZE 512u
/* Segments one request may carry (after merging physically adjacent
 * ones): 256 KiB of scattered pages. */
#define BLK_MAX_SEGS    64u
#define BLK_MAX_DEVICES 16u

enum blk_op { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH };

enum blk_status {
    BLK_OK = 0,
    BLK_ERR_IO,          /* the device failed the request, or answered it wrongly */
    BLK_ERR_UNSUPPORTED, /* the device does not do this operation */
    BLK_ERR_RANGE,       /* sectors past the end of the device */
    BLK_ERR_INVALID,     /* malformed request: segments, counts, sizes */
    BLK_ERR_READ_ONLY,   /* write to a read-only device */
    BLK_ERR_BROKEN,      /* the device was declared broken */
    BLK_ERR_COUNT
};

struct blk_seg {
    uint64_t pa;  /* physical address */
    uint32_t len; /* bytes; a multiple of BLK_SECTOR_SIZE */
};

struct blk_request {
    enum blk_op op;
    uint64_t sector;            /* first sector (not used by flush) */
    uint32_t count;             /* sectors; 0 for a flush */
    const struct blk_seg *segs; /* total length count * BLK_SECTOR_SIZE */
    unsigned nsegs;
    void (*done)(struct blk_request *rq);
    void *ctx;              /* the caller's */
    enum blk_status status; /* set before done() */
    /* Driver-private from submit to done(). */
    struct blk_request *next;
    uint16_t slot;
};

struct blk_device;

struct blk_ops {
    /* Called by blk_submit() once the common checks have passed. */
    enum blk_status (*submit)(struct blk_device *dev, struct blk_request *rq);
};

struct blk_stats {
    uint64_t submitted, completed, errors;
    uint64_t lies;   /* device answers that failed a check */
    uint64_t waited; /* requests that found the queue full and waited */
    unsigned max_inflight;
};

struct blk_device {
    char name[16];
    uint64_t sectors;    /* capacity in 512-byte sectors */
    uint32_t block_size; /* the device's preferred unit (advisory), >= 512 */
    bool read_only;
    bool can_flush; /* false: writes are durable on completion */
    bool broken;
    uint32_t max_segs;      /* per request, <= BLK_MAX_SEGS */
    uint32_t max_seg_bytes; /* per segment, 0 if unlimited */
    const struct blk_ops *ops;
    void *priv;
    struct blk_stats stats;
};

/* Check rq against dev and hand it to the back end (see the contract). */
enum blk_status blk_submit(struct blk_device *dev, struct blk_request *rq);

/* The common checks alone, for back ends and tests. */
enum blk_status blk_check(const struct blk_device *dev, const struct blk_request *rq);

/* The device registry: back ends register at boot; users look up. */
bool blk_register(struct blk_device *dev);
unsigned blk_count(void);
struct blk_device *blk_get(unsigned i);
struct blk_device *blk_find(const char *name);

const char *blk_strerror(enum blk_status s);

/* Start every back end the platform has (kernel only): virtio-mmio disks
 * from the device tree, and a RAM disk if the command line asks for one. */
struct hart;
struct platform;
void blk_init(struct hart *h, const struct platform *p);

#endif
