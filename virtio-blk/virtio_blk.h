/* The virtio-mmio block driver's entry points (the design is at the top of
 * virtio_blk.c; disks are used through blk.h). Kernel only. */
#ifndef NEWSYS_VIRTIO_BLK_VIRTIO_BLK_H
#define NEWSYS_VIRTIO_BLK_VIRTIO_BLK_H

struct blk_device;
struct hart;
struct platform;

/* Probe every virtio-mmio slot of the platform, start each block device
 * found and register it as vda, vdb, ... in slot order. Prints one line per
 * disk, and one per device it refuses. Needs the PLIC and kmem. Returns the
 * number of disks started. */
unsigned virtio_blk_probe(struct hart *h, const struct platform *p);

/* The queue size of a virtio disk, 0 for another kind of device. */
unsigned virtio_blk_queue_size(const struct blk_device *d);

/* One line of queue and device state, for a request that never came back. */
void virtio_blk_dump(const struct blk_device *d);

#endif
