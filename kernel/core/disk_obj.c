/* Disks as kernel objects (see disk_obj.h).
 *
 * A disk object lives as long as the kernel: the kernel keeps the root key
 * of each disk, so no revoke or bank can destroy it, and every key anyone
 * holds is derived from that root.
 *
 * Transfers through a key. The kernel never waits, so a program's read or
 * write is a state: the calling thread blocks (IPC_IO_WAIT) and the
 * completion, from the disk's interrupt (or at once, for the RAM disk),
 * writes its result and wakes it. The data goes through kernel bounce
 * pages charged to the caller's bank, not by DMA into the program's own
 * pages: those may be unmapped and reused while the device writes, and a
 * program's buffer is not worth pinning (the fault path, which matters,
 * reads straight into page-cache frames - memobj.c). A read's data is
 * copied out at completion through the thread's page tables, checked then:
 * a buffer unmapped meanwhile gets NS_ERR_BAD_ADDRESS, never a stray
 * write. A thread suspended or destroyed mid-transfer is detached from it
 * (its bank charge returned at once); the transfer completes without it. */
#include "kernel/core/disk_obj.h"

#include <string.h>

#include "frames/diskrange.h"
#include "include/newsys/bootinfo.h"
#include "include/newsys/caps.h"
#include "include/newsys/syscall.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank.h"
#include "kernel/core/ipc.h"
#include "kernel/core/kmem.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"
#include "kernel/core/thread.h"
#include "virtio-blk/blk.h"

enum { R_A0 = 10, R_A1 = 11, R_A2 = 12, R_A3 = 13 }; /* argument registers */

static struct disk disks[NS_MAX_BOOT_DISKS];
static struct cap_slot disk_roots[NS_MAX_BOOT_DISKS];
static unsigned disk_count;

void disk_objects_init(void)
{
    unsigned n = blk_count();
    for (unsigned i = 0; i < n && disk_count < NS_MAX_BOOT_DISKS; i++) {
        struct blk_device *dev = blk_get(i);
        struct disk *d = &disks[disk_count];
        kobj_init(&d->obj, NS_CAP_DISKRANGE);
        d->sectors = dev->sectors;
        d->index = disk_count;
        d->dev = dev;
        uint32_t rights = NS_RIGHT_READ | (dev->read_only ? 0 : NS_RIGHT_WRITE);
        diskrange_install(&disk_roots[disk_count], d, rights);
        disk_count++;
    }
}

void disk_objects_give(struct cap_slot *slots, struct ns_bootinfo *bi)
{
    _Static_assert(NS_SLOT_DISK0 + NS_MAX_BOOT_DISKS <= NS_SLOT_FIRST_FREE,
                   "the disk keys fit below init's first free slot");
    for (unsigned i = 0; i < disk_count; i++) {
        cap_slot_derive(&disk_roots[i], &slots[NS_SLOT_DISK0 + i], NS_RIGHTS_ALL, 0);
        struct blk_device *dev = disks[i].dev;
        bi->disks[i].sectors = disks[i].sectors;
        memcpy(bi->disks[i].name, dev->name, sizeof(bi->disks[i].name) - 1);
    }
    bi->disk_count = disk_count;
}

enum ns_error disk_error(enum blk_status s)
{
    switch (s) {
    case BLK_OK:
        return NS_OK;
    case BLK_ERR_RANGE:
        return NS_ERR_RANGE;
    case BLK_ERR_INVALID:
        return NS_ERR_INVALID_ARG;
    case BLK_ERR_READ_ONLY:
        return NS_ERR_NO_RIGHTS;
    default: /* IO, UNSUPPORTED, BROKEN */
        return NS_ERR_IO;
    }
}

/* ---- transfers through a key ---- */

#define IO_PAGES (NS_DISK_IO_MAX_SECTORS * DISK_SECTOR_SIZE / PAGE_SIZE)

struct disk_io {
    struct blk_request rq;
    struct blk_seg segs[IO_PAGES];
    void *pages[IO_PAGES];
    unsigned npages;
    struct thread *waiter; /* NULL once detached */
    struct bank *bank;     /* charged IO_PAGES... while the waiter is there */
    uint64_t charged;      /* bytes charged to `bank` */
    uint64_t buf;          /* the reader's buffer */
    uint64_t bytes;
};

static struct kcache io_cache = KCACHE_INIT("disk_io", struct disk_io);

static void io_release(struct disk_io *io)
{
    for (unsigned i = 0; i < io->npages; i++)
        kmem_page_free(io->pages[i]);
    if (io->charged)
        bank_uncharge(io->bank, io->charged);
    kcache_free(&io_cache, io);
}

/* Copy a finished read out to the reader's buffer through its page tables
 * as they are now. */
static enum ns_error copy_out(struct thread *t, struct disk_io *io)
{
    for (uint64_t done = 0; done < io->bytes;) {
        uint64_t va = io->buf + done, off = va & (PAGE_SIZE - 1);
        uint64_t n = PAGE_SIZE - off;
        if (n > io->bytes - done)
            n = io->bytes - done;
        char *dst = aspace_user_page(t->as, va, true);
        if (!dst)
            return NS_ERR_BAD_ADDRESS;
        for (uint64_t k = 0; k < n;) { /* the bounce pages are not contiguous */
            uint64_t src = done + k, in = PAGE_SIZE - (src & (PAGE_SIZE - 1));
            uint64_t m = n - k < in ? n - k : in;
            memcpy(dst + off + k, (char *)io->pages[src / PAGE_SIZE] + (src & (PAGE_SIZE - 1)), m);
            k += m;
        }
        done += n;
    }
    return NS_OK;
}

static void io_done(struct blk_request *rq)
{
    struct disk_io *io = rq->ctx;
    struct thread *t = io->waiter;
    if (t) {
        enum ns_error e = disk_error(rq->status);
        if (e == NS_OK && rq->op == BLK_OP_READ)
            e = copy_out(t, io);
        t->ipc_obj = NULL;
        ipc_wake_error(sched_this_hart(), t, e);
    }
    io_release(io);
}

void disk_io_cancel(struct thread *t)
{
    struct disk_io *io = t->ipc_obj;
    io->waiter = NULL;
    if (io->charged) { /* the thread's bank may go before the device answers */
        bank_uncharge(io->bank, io->charged);
        io->charged = 0;
    }
}

/* Decode a keyed transfer: the key, its rights and range, the buffer. */
static enum ns_error io_decode(struct thread *t, enum blk_op op, struct disk **d, uint64_t *sector,
                               uint64_t *count)
{
    unsigned long *r = t->ctx.regs;
    struct cap_slot *k;
    uint32_t need = op == BLK_OP_READ ? NS_RIGHT_READ : NS_RIGHT_WRITE;
    enum ns_error e = obj_lookup(t, r[R_A0], NS_CAP_DISKRANGE, need, &k);
    if (e != NS_OK)
        return e;
    if (op == BLK_OP_FLUSH) {
        *d = (struct disk *)k->obj;
        *count = 0;
        return NS_OK;
    }
    uint64_t offset = r[R_A1], n = r[R_A2], buf = r[R_A3];
    if (n == 0 || n > NS_DISK_IO_MAX_SECTORS)
        return NS_ERR_INVALID_ARG;
    if (!user_range_ok(buf, n * DISK_SECTOR_SIZE))
        return NS_ERR_BAD_ADDRESS;
    *count = n;
    return diskrange_check(k, need, offset, n, d, sector);
}

static void start_io(struct hart *h, struct thread *t, enum blk_op op)
{
    unsigned long *r = t->ctx.regs;
    struct disk *d;
    uint64_t sector = 0, count = 0;
    enum ns_error e = io_decode(t, op, &d, &sector, &count);
    if (e != NS_OK) {
        r[R_A0] = (unsigned long)e;
        return;
    }
    uint64_t bytes = count * DISK_SECTOR_SIZE;
    unsigned npages = (unsigned)((bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    struct bank *bank = t->obj.bank;
    if (bank_charge(bank, sizeof(struct disk_io) + npages * PAGE_SIZE) != NS_OK) {
        r[R_A0] = NS_ERR_NO_QUOTA;
        return;
    }
    struct disk_io *io = kcache_alloc(&io_cache);
    e = io ? NS_OK : NS_ERR_NO_MEMORY;
    for (unsigned i = 0; io && i < npages && e == NS_OK; i++) {
        uint64_t pa;
        io->pages[i] = kmem_page_alloc_dirty(&pa);
        if (!io->pages[i]) {
            e = NS_ERR_NO_MEMORY;
            break;
        }
        io->npages = i + 1;
        io->segs[i].pa = pa;
        io->segs[i].len = (uint32_t)(bytes - (uint64_t)i * PAGE_SIZE < PAGE_SIZE
                                         ? bytes - (uint64_t)i * PAGE_SIZE
                                         : PAGE_SIZE);
        if (op == BLK_OP_WRITE &&
            copy_from_user(io->pages[i], r[R_A3] + (uint64_t)i * PAGE_SIZE, io->segs[i].len))
            e = NS_ERR_BAD_ADDRESS;
    }
    if (e != NS_OK) {
        if (io)
            io_release(io);
        bank_uncharge(bank, sizeof(struct disk_io) + npages * PAGE_SIZE);
        r[R_A0] = (unsigned long)e;
        return;
    }
    io->bank = bank;
    io->charged = sizeof(struct disk_io) + npages * PAGE_SIZE;
    io->waiter = t;
    io->buf = r[R_A3];
    io->bytes = bytes;
    io->rq.op = op;
    io->rq.sector = sector;
    io->rq.count = (uint32_t)count;
    io->rq.segs = io->segs;
    io->rq.nsegs = npages;
    io->rq.done = io_done;
    io->rq.ctx = io;
    /* Blocked before the submission: the RAM disk completes inside it. */
    ipc_block(h, t, IPC_IO_WAIT, io);
    enum blk_status s = blk_submit(d->dev, &io->rq);
    if (s != BLK_OK) { /* refused: done() will never run */
        io->waiter = NULL;
        t->ipc_obj = NULL;
        ipc_wake_error(h, t, disk_error(s));
        io_release(io);
    }
}

void sys_diskrange_read(struct hart *h, struct thread *t)
{
    start_io(h, t, BLK_OP_READ);
}

void sys_diskrange_write(struct hart *h, struct thread *t)
{
    start_io(h, t, BLK_OP_WRITE);
}

void sys_diskrange_flush(struct hart *h, struct thread *t)
{
    start_io(h, t, BLK_OP_FLUSH);
}
