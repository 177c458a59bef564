/* virtio-blk request chains and answer checks (see vblk_req.h). */
#include "virtio-blk/vblk_req.h"

int vblk_data_bufs(const struct blk_request *rq, uint32_t max_seg_bytes, struct virtq_buf *out,
                   unsigned max)
{
    uint32_t limit = max_seg_bytes ? max_seg_bytes : UINT32_MAX;
    bool writes = rq->op == BLK_OP_READ;
    unsigned n = 0;
    for (unsigned i = 0; i < rq->nsegs; i++) {
        uint64_t pa = rq->segs[i].pa, left = rq->segs[i].len;
        while (left) {
            struct virtq_buf *last = n ? &out[n - 1] : NULL;
            if (last && last->addr + last->len == pa && last->len < limit) {
                uint64_t room = limit - last->len, take = room < left ? room : left;
                last->len += (uint32_t)take;
                pa += take;
                left -= take;
                continue;
            }
            if (n == max)
                return -1;
            uint64_t take = left < limit ? left : limit;
            out[n++] = (struct virtq_buf){pa, (uint32_t)take, writes};
            pa += take;
            left -= take;
        }
    }
    return (int)n;
}

int vblk_build(const struct blk_request *rq, struct virtio_blk_req_hdr *hdr, uint64_t hdr_pa,
               uint64_t status_pa, uint32_t max_seg_bytes, unsigned max_data,
               struct virtq_buf *bufs)
{
    if (max_data > BLK_MAX_SEGS)
        max_data = BLK_MAX_SEGS;
    /* §5.2.6: type and sector first, for the device to read; a flush
     * names no sector. */
    hdr->type = rq->op == BLK_OP_READ    ? VIRTIO_BLK_T_IN
                : rq->op == BLK_OP_WRITE ? VIRTIO_BLK_T_OUT
                                         : VIRTIO_BLK_T_FLUSH;
    hdr->reserved = 0;
    hdr->sector = rq->op == BLK_OP_FLUSH ? 0 : rq->sector;
    unsigned n = 0;
    bufs[n++] = (struct virtq_buf){hdr_pa, sizeof(*hdr), false};
    if (rq->op != BLK_OP_FLUSH) {
        int nd = vblk_data_bufs(rq, max_seg_bytes, &bufs[n], max_data);
        if (nd < 0)
            return -1;
        n += (unsigned)nd;
    }
    /* Then the one status byte the device writes last. */
    bufs[n++] = (struct virtq_buf){status_pa, 1, true};
    return (int)n;
}

enum blk_status vblk_judge(const struct blk_request *rq, enum virtq_err e, uint32_t len,
                           uint8_t status, bool *lie)
{
    uint64_t want = 1 + (rq->op == BLK_OP_READ ? (uint64_t)rq->count * BLK_SECTOR_SIZE : 0);
    *lie = false;
    if (e != VIRTQ_OK || len != want) {
        *lie = true;
        return BLK_ERR_IO;
    }
    switch (status) {
    case VIRTIO_BLK_S_OK:
        return BLK_OK;
    case VIRTIO_BLK_S_IOERR:
        return BLK_ERR_IO;
    case VIRTIO_BLK_S_UNSUPP:
        return BLK_ERR_UNSUPPORTED;
    default:
        *lie = true;
        return BLK_ERR_IO;
    }
}
