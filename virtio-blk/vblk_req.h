/* virtio-blk requests as descriptor chains, and the checks on the device's
 * answer (virtio 1.2 §5.2.6). Portable: virtio_blk.c uses it over MMIO and
 * the host tests over a fake device. */
#ifndef NEWSYS_VIRTIO_BLK_VBLK_REQ_H
#define NEWSYS_VIRTIO_BLK_VBLK_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio-blk/blk.h"
#include "virtio-blk/virtq.h"

#define VIRTIO_BLK_T_IN     0u
#define VIRTIO_BLK_T_OUT    1u
#define VIRTIO_BLK_T_FLUSH  4u
#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u
/* Written to the status byte before a request goes out: no device writes
 * it, so a status that was never written is seen as the lie it is. */
#define VBLK_STATUS_UNSET 0xa5u

struct virtio_blk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "virtio 1.2 5.2.6");

/* The most buffers one request's chain can have. */
#define VBLK_MAX_BUFS (BLK_MAX_SEGS + 2)

/* Lay a read or write's data segments out as buffers: physically adjacent
 * segments are merged, and pieces longer than max_seg_bytes (0: no limit)
 * split. Returns the count, or -1 if more than `max` would be needed. */
int vblk_data_bufs(const struct blk_request *rq, uint32_t max_seg_bytes, struct virtq_buf *out,
                   unsigned max);

/* Fill *hdr for rq and write its whole chain into bufs[VBLK_MAX_BUFS]:
 * the header (device-readable, at hdr_pa), the data (device-writable for
 * a read), the status byte (device-writable, at status_pa). Returns the
 * count, or -1 if the data needs more than max_data buffers. */
int vblk_build(const struct blk_request *rq, struct virtio_blk_req_hdr *hdr, uint64_t hdr_pa,
               uint64_t status_pa, uint32_t max_seg_bytes, unsigned max_data,
               struct virtq_buf *bufs);

/* What the device's answer means: e and len from virtq_get, status the
 * byte it left. A length that does not cover exactly what the device was
 * to write (data and status for a read, the status alone otherwise; the
 * spec promises nothing past len), or a status byte that is not one of
 * OK, IOERR, UNSUPP, is a lie: BLK_ERR_IO with *lie set. */
enum blk_status vblk_judge(const struct blk_request *rq, enum virtq_err e, uint32_t len,
                           uint8_t status, bool *lie);

#endif
