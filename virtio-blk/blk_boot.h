/* Block devices at boot: starting them (blk_init, declared in blk.h) and
 * their self-tests (selftest=blk|blkerr|blkbench; see blk_boot.c). Kernel
 * only. */
#ifndef NEWSYS_VIRTIO_BLK_BLK_BOOT_H
#define NEWSYS_VIRTIO_BLK_BLK_BOOT_H

#include <stdbool.h>

/* Run the named block self-test; false if it failed or is unknown. */
bool blk_selftest(const char *name);

#endif
