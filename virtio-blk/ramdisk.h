/* A RAM disk behind the block interface (blk.h), for boards without
 * virtio and for tests. Kernel only. */
#ifndef NEWSYS_VIRTIO_BLK_RAMDISK_H
#define NEWSYS_VIRTIO_BLK_RAMDISK_H

#include <stdbool.h>
#include <stdint.h>

/* Register "ram0" of `bytes` (rounded up to pages), zero-filled, backed by
 * contiguous frames taken from the kernel's frame allocator. False (with
 * a console line) if the memory is not there. */
bool ramdisk_create(uint64_t bytes);

#endif
