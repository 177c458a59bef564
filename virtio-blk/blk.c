/* The block-device interface: request checks and the device registry
 * (see blk.h). Portable: the host tests link it. */
#include "virtio-blk/blk.h"

#include <string.h>

static struct blk_device *devices[BLK_MAX_DEVICES];
static unsigned ndevices;

enum blk_status blk_check(const struct blk_device *dev, const struct blk_request *rq)
{
    if (!rq->done)
        return BLK_ERR_INVALID;
    if (rq->op == BLK_OP_FLUSH)
        return rq->count == 0 && rq->nsegs == 0 ? BLK_OK : BLK_ERR_INVALID;
    if (rq->op != BLK_OP_READ && rq->op != BLK_OP_WRITE)
        return BLK_ERR_INVALID;
    if (rq->count == 0 || !rq->segs || rq->nsegs == 0 || rq->nsegs > BLK_MAX_SEGS)
        return BLK_ERR_INVALID;
    if (rq->sector >= dev->sectors || rq->count > dev->sectors - rq->sector)
        return BLK_ERR_RANGE;
    if (rq->op == BLK_OP_WRITE && dev->read_only)
        return BLK_ERR_READ_ONLY;
    uint64_t total = 0;
    for (unsigned i = 0; i < rq->nsegs; i++) {
        const struct blk_seg *s = &rq->segs[i];
        if (s->len == 0 || s->len % BLK_SECTOR_SIZE || s->pa + s->len < s->pa)
            return BLK_ERR_INVALID;
        total += s->len;
    }
    if (total != (uint64_t)rq->count * BLK_SECTOR_SIZE)
        return BLK_ERR_INVALID;
    return BLK_OK;
}

enum blk_status blk_submit(struct blk_device *dev, struct blk_request *rq)
{
    enum blk_status s = blk_check(dev, rq);
    if (s == BLK_OK && dev->broken)
        s = BLK_ERR_BROKEN;
    if (s != BLK_OK)
        return s;
    if (rq->op == BLK_OP_FLUSH && !dev->can_flush) {
        /* No write cache to flush (virtio 1.2 §5.2.5.1: without FLUSH and
         * CONFIG_WCE the cache is writethrough): done at once. */
        dev->stats.submitted++;
        dev->stats.completed++;
        rq->status = BLK_OK;
        rq->done(rq);
        return BLK_OK;
    }
    return dev->ops->submit(dev, rq);
}

bool blk_register(struct blk_device *dev)
{
    if (ndevices == BLK_MAX_DEVICES)
        return false;
    devices[ndevices++] = dev;
    return true;
}

unsigned blk_count(void)
{
    return ndevices;
}

struct blk_device *blk_get(unsigned i)
{
    return i < ndevices ? devices[i] : NULL;
}

struct blk_device *blk_find(const char *name)
{
    for (unsigned i = 0; i < ndevices; i++)
        if (!strcmp(devices[i]->name, name))
            return devices[i];
    return NULL;
}

const char *blk_strerror(enum blk_status s)
{
    static const char *const names[BLK_ERR_COUNT] = {
        [BLK_OK] = "ok",
        [BLK_ERR_IO] = "I/O error",
        [BLK_ERR_UNSUPPORTED] = "operation not supported",
        [BLK_ERR_RANGE] = "sector range past the end of the device",
        [BLK_ERR_INVALID] = "malformed request",
        [BLK_ERR_READ_ONLY] = "device is read-only",
        [BLK_ERR_BROKEN] = "device is broken",
    };
    return (unsigned)s < BLK_ERR_COUNT ? names[s] : "?";
}
