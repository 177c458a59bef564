/* Disk-range keys: capabilities naming a run of 512-byte sectors of one
 * block device, with READ and/or WRITE rights. A key's slot names the disk
 * object (struct disk), its first sector in the slot's badge and its
 * sector count in the slot's extent (cap.h). The kernel makes one key per
 * disk covering the whole device and gives it to init; anyone holding a key
 * derives keys for sub-ranges with equal or fewer rights, and nothing
 * widens one - so a manager can only ever name the sectors it was given,
 * and a storage map built by it can reach no other manager's blocks.
 * Derived keys are derivation-tree children of their source: revoking a
 * key revokes every key derived from it, wherever it is stored.
 *
 * Portable (host-tested); the system calls are in kernel/core/diskrange_obj.c. */
#ifndef NEWSYS_FRAMES_DISKRANGE_H
#define NEWSYS_FRAMES_DISKRANGE_H

#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/cap.h"
#include "kernel/core/kobj.h"

#define DISK_SECTOR_SIZE      512
#define DISK_SECTORS_PER_PAGE 8

/* One block device as the capability system sees it. The kernel makes one
 * per disk at boot and never destroys it. */
struct disk {
    struct kobj obj;
    uint64_t sectors; /* capacity */
    uint32_t index;   /* discovery order, as init is told */
    void *dev;        /* the driver's device (virtio-blk/, RAM disk): opaque here */
};

/* A key to the whole disk in the empty slot `dst` (the root of its
 * derivation tree). */
void diskrange_install(struct cap_slot *dst, struct disk *d, uint32_t rights);

/* Into the empty slot `dst`: the key for sectors [offset, offset + count)
 * of `src`'s range, with src's rights & rights_mask. Errors: WRONG_TYPE,
 * REVOKED, EMPTY_SLOT (src), SLOT_OCCUPIED (dst), INVALID_ARG (count 0,
 * unknown rights bits), RANGE (not inside src's range). */
enum ns_error diskrange_derive(struct cap_slot *src, struct cap_slot *dst, uint64_t offset,
                               uint64_t count, uint32_t rights_mask);

/* Everything the kernel checks before a transfer through `key`: it is a
 * live disk-range key with the rights `need`, and sectors [offset, offset +
 * count) of its range lie inside it and inside the device. On NS_OK,
 * *disk and *sector (absolute) say where the transfer goes. Errors:
 * EMPTY_SLOT, WRONG_TYPE, REVOKED, NO_RIGHTS, RANGE. */
enum ns_error diskrange_check(const struct cap_slot *key, uint32_t need, uint64_t offset,
                              uint64_t count, struct disk **disk, uint64_t *sector);

#endif
