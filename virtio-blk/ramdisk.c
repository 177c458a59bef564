/* The RAM disk: the block interface over a run of memory.
 *
 * Where the memory comes from: `ramdisk=SIZE` on the kernel command line
 * (blk_init) makes one disk of SIZE bytes from physically contiguous frames
 * the kernel takes from its frame allocator at boot, zero-filled. That
 * works on every board whatever its loader (no reserved-memory node or
 * second image to arrange), and the frames are ordinary RAM the allocator
 * simply never hands to anyone else. Its content lasts until reset, so it
 * is scratch space: good for tests and for boards with no disk, not for
 * anything that must persist.
 *
 * A request is a copy between the disk's frames and the caller's pages
 * through the direct map, done inside blk_submit(): the completion
 * callback runs before submit returns (allowed by blk.h). Flush has
 * nothing to do (can_flush is false, so blk.c completes it). */
#include "virtio-blk/ramdisk.h"

#include <string.h>

#include "frames/frame_alloc.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/console/console.h"
#include "kernel/core/kmem.h"
#include "virtio-blk/blk.h"

static struct blk_device ram0;
static uint8_t *ram0_base;

static enum blk_status ram_submit(struct blk_device *dev, struct blk_request *rq)
{
    /* blk_check has bounded the range and the segments' total. */
    uint8_t *p = ram0_base + rq->sector * BLK_SECTOR_SIZE;
    for (unsigned i = 0; i < rq->nsegs; i++) {
        void *buf = pa_to_va(rq->segs[i].pa);
        if (rq->op == BLK_OP_READ)
            memcpy(buf, p, rq->segs[i].len);
        else
            memcpy(p, buf, rq->segs[i].len);
        p += rq->segs[i].len;
    }
    dev->stats.submitted++;
    dev->stats.completed++;
    if (dev->stats.max_inflight == 0)
        dev->stats.max_inflight = 1;
    rq->status = BLK_OK;
    rq->done(rq);
    return BLK_OK;
}

static const struct blk_ops ram_ops = {.submit = ram_submit};

bool ramdisk_create(uint64_t bytes)
{
    if (ram0_base) {
        kprintf("ramdisk: only one RAM disk\n");
        return false;
    }
    uint64_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE, pa;
    if (pages == 0 || pages > DIRECT_MAP_SIZE / PAGE_SIZE) {
        kprintf("ramdisk: bad size %lu\n", (unsigned long)bytes);
        return false;
    }
    if (frame_alloc_contig(kmem_frames(), pages, 1, &pa) != FRAME_OK) {
        kprintf("ramdisk: no %lu contiguous free pages\n", (unsigned long)pages);
        return false;
    }
    ram0_base = pa_to_va(pa);
    memset(ram0_base, 0, pages * PAGE_SIZE);
    memcpy(ram0.name, "ram0", 5);
    ram0.sectors = pages * (PAGE_SIZE / BLK_SECTOR_SIZE);
    ram0.block_size = BLK_SECTOR_SIZE;
    ram0.max_segs = BLK_MAX_SEGS;
    ram0.ops = &ram_ops;
    if (!blk_register(&ram0)) {
        frame_free_contig(kmem_frames(), pa, pages);
        ram0_base = NULL;
        kprintf("ramdisk: too many block devices\n");
        return false;
    }
    kprintf("ramdisk: ram0: %lu sectors (%lu KiB) at %#lx\n", (unsigned long)ram0.sectors,
            (unsigned long)(pages * 4), (unsigned long)pa);
    return true;
}
