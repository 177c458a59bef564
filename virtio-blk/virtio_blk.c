/* virtio-blk over virtio-mmio: the kernel's disk driver.
 *
 * Design. Every virtio-mmio slot of the device tree is probed at boot; an
 * empty slot (device id 0) is skipped, a legacy (version 1) device is
 * refused, anything but a block device is left alone. Each disk gets one
 * request queue (no VIRTIO_BLK_F_MQ) of min(QueueNumMax, 256) entries and
 * three pages from the frame allocator: the descriptor table; the avail
 * ring, used ring and per-request status bytes; and the per-request
 * headers. Data moves by DMA straight to and from the caller's physical
 * pages. A request is a chain of header (device reads), data segments
 * (physically adjacent ones merged) and status byte (device writes), so a
 * 256-entry queue holds up to 85 single-segment requests at once; more
 * wait in a FIFO here and start as completions free descriptors.
 * Completion comes by PLIC interrupt.
 *
 * Features taken (the rest of what the device offers is declined):
 *   VERSION_1   required: the modern interface; a device without it is
 *               refused.
 *   FLUSH       to make writes durable on request; without it the device
 *               is writethrough and a flush completes at once (blk.c).
 *   RO          to refuse writes ourselves rather than have them fail.
 *   BLK_SIZE    to report the preferred I/O unit (addressing stays in
 *               512-byte sectors, as the protocol always is).
 *   SEG_MAX, SIZE_MAX   limits on a request's segments, which we obey.
 * Declined: INDIRECT_DESC and EVENT_IDX (fewer shared structures for the
 * device to lie through; QEMU's cost is per notify, not per descriptor),
 * MQ (one hart), DISCARD / WRITE_ZEROES / TOPOLOGY / GEOMETRY / CONFIG_WCE
 * (nothing uses them yet), ACCESS_PLATFORM (no IOMMU: addresses are
 * physical) and RING_PACKED.
 *
 * The device is not trusted (virtq.h for the ring). Here: the status byte
 * is set to a value no device writes before each request and must read
 * back as OK, IOERR or UNSUPP; the length the device reports must cover
 * exactly the bytes it was to write (data and status for a read, the
 * status alone otherwise): the spec promises nothing past `len` (§2.7.8),
 * so a short count is an error too. A lie fails that request with
 * BLK_ERR_IO. A lie about the ring, or a device asking for a reset, makes
 * the disk broken: the device is reset first - so it stops touching the
 * pages - and then every request in flight or waiting fails with
 * BLK_ERR_BROKEN, as does every later one.
 *
 * Locking: one hart; the queue is touched with interrupts off. */
#include "virtio-blk/virtio_blk.h"

#include <string.h>

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"
#include "kernel/core/kmem.h"
#include "virtio-blk/blk.h"
#include "virtio-blk/vblk_req.h"
#include "virtio-blk/virtio_mmio.h"
#include "virtio-blk/virtq.h"

/* Block-device feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

/* Offsets in the configuration space (struct virtio_blk_config, §5.2.4). */
#define CFG_CAPACITY 0x00 /* le64, 512-byte sectors */
#define CFG_SIZE_MAX 0x08
#define CFG_SEG_MAX  0x0c
#define CFG_BLK_SIZE 0x14

/* Where things sit in the ring page. */
#define RING_AVAIL_OFF  0
#define RING_USED_OFF   1024
#define RING_STATUS_OFF 3584
_Static_assert(RING_AVAIL_OFF + 6 + 2 * VIRTQ_MAX_SIZE <= RING_USED_OFF, "avail ring fits");
_Static_assert(RING_USED_OFF + 6 + 8 * VIRTQ_MAX_SIZE <= RING_STATUS_OFF, "used ring fits");
_Static_assert(RING_STATUS_OFF + VIRTQ_MAX_SIZE <= PAGE_SIZE, "status bytes fit");
_Static_assert(16 * VIRTQ_MAX_SIZE <= PAGE_SIZE, "descriptors and headers fit a page");

struct vblk {
    struct blk_device dev;
    uintptr_t regs;
    uint64_t base;
    uint32_t irq;
    uint64_t offered, features;
    struct virtq q;
    struct virtio_blk_req_hdr *hdr; /* [q.size], indexed by tag */
    uint64_t hdr_pa;
    volatile uint8_t *status; /* [q.size], indexed by tag */
    uint64_t status_pa;
    /* Tags name a request's header and status byte; there are as many as
     * queue entries, more than requests can be in flight. */
    uint16_t free_tags[VIRTQ_MAX_SIZE];
    uint16_t ntags;
    struct blk_request *wait_head, *wait_tail;
    struct hart *hart;
};

static struct vblk disks[PLATFORM_MAX_VIRTIO];
static unsigned ndisks;

static uint32_t rd(const struct vblk *v, unsigned off)
{
    return *(volatile uint32_t *)(v->regs + off);
}
static void wr(const struct vblk *v, unsigned off, uint32_t val)
{
    *(volatile uint32_t *)(v->regs + off) = val;
}
/* Orders memory accesses against device (MMIO) accesses both ways. */
static inline void io_fence(void)
{
    asm volatile("fence iorw, iorw" ::: "memory");
}

/* ---- requests ----------------------------------------------------------- */

/* Put one request on the ring (not yet published). false: no room now. */
static bool start(struct vblk *v, struct blk_request *rq)
{
    if (v->ntags == 0)
        return false;
    struct virtq_buf bufs[VBLK_MAX_BUFS];
    uint16_t tag = v->free_tags[v->ntags - 1];
    /* Sized at submit: it fits. */
    int n = vblk_build(rq, &v->hdr[tag], v->hdr_pa + tag * sizeof(v->hdr[0]), v->status_pa + tag,
                       v->dev.max_seg_bytes, v->dev.max_segs, bufs);
    if (n < 0)
        return false;
    v->status[tag] = VBLK_STATUS_UNSET;
    uint16_t id;
    enum virtq_err e = virtq_add(&v->q, bufs, (unsigned)n, rq, &id);
    if (e != VIRTQ_OK)
        return false; /* FULL; BROKEN cannot happen (broken disks take nothing) */
    v->ntags--;
    rq->slot = tag;
    return true;
}

static void notify(struct vblk *v)
{
    if (virtq_publish(&v->q)) {
        /* §4.2.3.3: the ring writes must reach memory before the doorbell. */
        io_fence();
        wr(v, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    }
    if (v->q.max_inflight > v->dev.stats.max_inflight)
        v->dev.stats.max_inflight = v->q.max_inflight;
}

/* Start waiting requests while there is room. */
static void start_waiting(struct vblk *v)
{
    while (v->wait_head && start(v, v->wait_head)) {
        v->wait_head = v->wait_head->next;
        if (!v->wait_head)
            v->wait_tail = NULL;
    }
}

static void finish(struct vblk *v, struct blk_request *rq, enum blk_status s)
{
    v->dev.stats.completed++;
    if (s != BLK_OK)
        v->dev.stats.errors++;
    rq->status = s;
    rq->done(rq);
}

/* The device lied about its queue or asked for a reset: stop it, then
 * give every request back failed. */
static void break_disk(struct vblk *v, const char *why)
{
    if (v->dev.broken)
        return;
    v->dev.broken = true;
    v->dev.stats.lies++;
    kprintf("virtio-blk: %s: device broken (%s): reset, failing every request\n", v->dev.name, why);
    /* §2.4: writing 0 resets the device; after that it no longer uses the
     * rings or the buffers they point at, so the pages can go back. */
    wr(v, VIRTIO_MMIO_STATUS, 0);
    for (int i = 0; i < 1000000 && rd(v, VIRTIO_MMIO_STATUS) != 0; i++)
        ;
    io_fence();
    void *token;
    uint16_t id;
    while (virtq_cancel(&v->q, &token, &id)) {
        struct blk_request *rq = token;
        v->free_tags[v->ntags++] = rq->slot;
        finish(v, rq, BLK_ERR_BROKEN);
    }
    while (v->wait_head) {
        struct blk_request *rq = v->wait_head;
        v->wait_head = rq->next;
        finish(v, rq, BLK_ERR_BROKEN);
    }
    v->wait_tail = NULL;
}

static enum blk_status vblk_submit(struct blk_device *dev, struct blk_request *rq)
{
    struct vblk *v = dev->priv;
    if (rq->op != BLK_OP_FLUSH) {
        struct virtq_buf tmp[BLK_MAX_SEGS];
        if (vblk_data_bufs(rq, v->dev.max_seg_bytes, tmp, v->dev.max_segs) < 0)
            return BLK_ERR_INVALID;
    }
    unsigned long s = irq_save_local();
    if (v->dev.broken) {
        irq_restore_local(s);
        return BLK_ERR_BROKEN;
    }
    dev->stats.submitted++;
    rq->next = NULL;
    /* Behind anything already waiting, so requests start in order. */
    if (v->wait_head || !start(v, rq)) {
        dev->stats.waited++;
        if (v->wait_tail)
            v->wait_tail->next = rq;
        else
            v->wait_head = rq;
        v->wait_tail = rq;
    }
    notify(v);
    irq_restore_local(s);
    return BLK_OK;
}

static void vblk_irq(uint32_t irq, void *ctx)
{
    (void)irq;
    struct vblk *v = ctx;
    /* §4.2.3.4: read why, acknowledge exactly that, then look at the ring
     * (the fence keeps the ring reads after the status read). */
    uint32_t why = rd(v, VIRTIO_MMIO_INTERRUPT_STATUS);
    wr(v, VIRTIO_MMIO_INTERRUPT_ACK, why);
    io_fence();
    if (v->dev.broken)
        return;
    if ((why & VIRTIO_MMIO_INT_CONFIG) &&
        (rd(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
        break_disk(v, "it asked for a reset");
        return;
    }
    for (;;) {
        void *token;
        uint16_t id;
        uint32_t len;
        enum virtq_err e = virtq_get(&v->q, &token, &id, &len);
        if (e == VIRTQ_EMPTY)
            break;
        if (e == VIRTQ_BROKEN) {
            break_disk(v, virtq_lie_str(v->q.lie));
            return;
        }
        struct blk_request *rq = token;
        bool lie;
        enum blk_status s = vblk_judge(rq, e, len, v->status[rq->slot], &lie);
        v->dev.stats.lies += lie;
        v->free_tags[v->ntags++] = rq->slot;
        finish(v, rq, s);
        if (v->dev.broken) /* a callback's submit can find it broken */
            return;
    }
    start_waiting(v);
    notify(v);
}

static const struct blk_ops vblk_ops = {.submit = vblk_submit};

/* ---- probe -------------------------------------------------------------- */

/* Device configuration reads, retried until the generation counter says
 * no change happened in between (§4.2.2.2). */
static uint32_t cfg32(const struct vblk *v, unsigned off)
{
    return rd(v, VIRTIO_MMIO_CONFIG + off);
}

static void read_config(struct vblk *v, uint64_t *capacity, uint32_t *blk_size, uint32_t *seg_max,
                        uint32_t *size_max)
{
    uint32_t gen;
    do {
        gen = rd(v, VIRTIO_MMIO_CONFIG_GENERATION);
        *capacity = cfg32(v, CFG_CAPACITY) | (uint64_t)cfg32(v, CFG_CAPACITY + 4) << 32;
        *blk_size = v->features & (1ull << VIRTIO_BLK_F_BLK_SIZE) ? cfg32(v, CFG_BLK_SIZE) : 512;
        *seg_max = v->features & (1ull << VIRTIO_BLK_F_SEG_MAX) ? cfg32(v, CFG_SEG_MAX) : 0;
        *size_max = v->features & (1ull << VIRTIO_BLK_F_SIZE_MAX) ? cfg32(v, CFG_SIZE_MAX) : 0;
    } while (rd(v, VIRTIO_MMIO_CONFIG_GENERATION) != gen);
}

static void fail(struct vblk *v, const char *fmt_why, uint64_t arg)
{
    kprintf("virtio-blk: virtio-mmio@%#lx: ", (unsigned long)v->base);
    kprintf(fmt_why, (unsigned long)arg);
    kprintf(": refused\n");
    /* §3.1.1: give up on the device with FAILED. */
    wr(v, VIRTIO_MMIO_STATUS, rd(v, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_FAILED);
}

static void print_features(uint64_t f)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{VIRTIO_F_VERSION_1, "version_1"}, {VIRTIO_BLK_F_FLUSH, "flush"},
                 {VIRTIO_BLK_F_RO, "ro"},           {VIRTIO_BLK_F_BLK_SIZE, "blk_size"},
                 {VIRTIO_BLK_F_SEG_MAX, "seg_max"}, {VIRTIO_BLK_F_SIZE_MAX, "size_max"}};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (f & (1ull << names[i].bit))
            kprintf(" %s", names[i].name);
}

static bool setup_queue(struct vblk *v)
{
    /* §4.2.3.2: select queue 0, check it is not in use, read its maximum
     * size, give it our rings and mark it ready. */
    wr(v, VIRTIO_MMIO_QUEUE_SEL, 0);
    if (rd(v, VIRTIO_MMIO_QUEUE_READY)) {
        fail(v, "queue 0 already in use", 0);
        return false;
    }
    uint32_t max = rd(v, VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max == 0) {
        fail(v, "no queue 0", 0);
        return false;
    }
    /* A split ring's size is a power of two (§2.7). */
    unsigned size = 1;
    while (size * 2 <= max && size * 2 <= VIRTQ_MAX_SIZE)
        size *= 2;
    if (size < 4) {
        fail(v, "queue of %lu entries is too small for one request", max);
        return false;
    }
    uint64_t desc_pa, ring_pa;
    void *desc = kmem_page_alloc(&desc_pa);
    char *ring = kmem_page_alloc(&ring_pa);
    v->hdr = kmem_page_alloc(&v->hdr_pa);
    if (!desc || !ring || !v->hdr) {
        fail(v, "out of memory for its queue", 0);
        return false;
    }
    v->status = (volatile uint8_t *)(ring + RING_STATUS_OFF);
    v->status_pa = ring_pa + RING_STATUS_OFF;
    if (!virtq_init(&v->q, size, desc, ring + RING_AVAIL_OFF, ring + RING_USED_OFF)) {
        fail(v, "queue set-up", 0);
        return false;
    }
    for (unsigned i = 0; i < size; i++)
        v->free_tags[i] = (uint16_t)(size - 1 - i);
    v->ntags = (uint16_t)size;
    io_fence();
    wr(v, VIRTIO_MMIO_QUEUE_NUM, size);
    uint64_t avail_pa = ring_pa + RING_AVAIL_OFF, used_pa = ring_pa + RING_USED_OFF;
    wr(v, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc_pa);
    wr(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc_pa >> 32));
    wr(v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail_pa);
    wr(v, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail_pa >> 32));
    wr(v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used_pa);
    wr(v, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used_pa >> 32));
    wr(v, VIRTIO_MMIO_QUEUE_READY, 1);
    return true;
}

static void probe_one(struct hart *h, const struct platform_virtio *pv)
{
    struct vblk *v = &disks[ndisks];
    memset(v, 0, sizeof(*v));
    v->regs = (uintptr_t)pa_to_va(pv->base);
    v->base = pv->base;
    v->irq = pv->irq;
    v->hart = h;

    /* §4.2.3.1: check magic and version, then the device id: 0 means the
     * slot is empty. */
    if (pv->size < VIRTIO_MMIO_CONFIG + 0x18) {
        kprintf("virtio-blk: virtio-mmio@%#lx: register block too small\n", (unsigned long)v->base);
        return;
    }
    if (rd(v, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC) {
        kprintf("virtio-blk: virtio-mmio@%#lx: no virtio magic\n", (unsigned long)v->base);
        return;
    }
    uint32_t version = rd(v, VIRTIO_MMIO_VERSION), id = rd(v, VIRTIO_MMIO_DEVICE_ID);
    if (id == 0)
        return;
    if (id != VIRTIO_DEVICE_ID_BLOCK) {
        kprintf("virtio-blk: virtio-mmio@%#lx: device type %u, not a disk: left alone\n",
                (unsigned long)v->base, id);
        return;
    }
    if (version == 1) {
        kprintf("virtio-blk: virtio-mmio@%#lx: legacy virtio-mmio (version 1) device: refused "
                "(only the virtio 1.x interface is driven; QEMU: -global "
                "virtio-mmio.force-legacy=false)\n",
                (unsigned long)v->base);
        return;
    }
    if (version != 2) {
        kprintf("virtio-blk: virtio-mmio@%#lx: unknown virtio-mmio version %u: refused\n",
                (unsigned long)v->base, version);
        return;
    }

    /* §3.1.1, steps 1-3: reset, wait until the reset is done, then tell
     * the device we have seen it and know how to drive it. */
    wr(v, VIRTIO_MMIO_STATUS, 0);
    for (int i = 0; rd(v, VIRTIO_MMIO_STATUS) != 0; i++)
        if (i == 1000000) {
            kprintf("virtio-blk: virtio-mmio@%#lx: reset never finished: refused\n",
                    (unsigned long)v->base);
            return;
        }
    wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

    /* Step 4: read the 64 feature bits, 32 at a time, and write back the
     * subset we understand. */
    wr(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t offered = rd(v, VIRTIO_MMIO_DEVICE_FEATURES);
    wr(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    offered |= (uint64_t)rd(v, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
    v->offered = offered;
    if (!(offered & (1ull << VIRTIO_F_VERSION_1))) {
        fail(v, "does not offer VIRTIO_F_VERSION_1 (features %#lx)", offered);
        return;
    }
    const uint64_t wanted = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BLK_F_FLUSH |
                            1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_BLK_F_BLK_SIZE |
                            1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_SIZE_MAX;
    v->features = offered & wanted;
    wr(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)v->features);
    wr(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(v->features >> 32));

    /* Steps 5-6: FEATURES_OK, and read it back: a device that cannot work
     * with our subset clears it. */
    uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    wr(v, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_FEATURES_OK);
    if (!(rd(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
        fail(v, "did not accept our features %#lx", v->features);
        return;
    }
    st |= VIRTIO_STATUS_FEATURES_OK;

    /* Step 7: device-specific set-up - the configuration and the queue. */
    uint64_t capacity;
    uint32_t blk_size, seg_max, size_max;
    read_config(v, &capacity, &blk_size, &seg_max, &size_max);
    if (blk_size < BLK_SECTOR_SIZE || blk_size % BLK_SECTOR_SIZE || blk_size > (1u << 20)) {
        kprintf("virtio-blk: virtio-mmio@%#lx: odd block size %u, using 512\n",
                (unsigned long)v->base, blk_size);
        blk_size = BLK_SECTOR_SIZE;
    }
    if (!setup_queue(v))
        return;
    struct blk_device *d = &v->dev;
    d->name[0] = 'v';
    d->name[1] = 'd';
    d->name[2] = (char)('a' + ndisks);
    d->sectors = capacity;
    d->block_size = blk_size;
    d->read_only = v->features & (1ull << VIRTIO_BLK_F_RO);
    d->can_flush = v->features & (1ull << VIRTIO_BLK_F_FLUSH);
    /* Two descriptors of every chain are the header and the status. */
    d->max_segs = v->q.size - 2u < BLK_MAX_SEGS ? v->q.size - 2u : BLK_MAX_SEGS;
    if (seg_max && seg_max < d->max_segs)
        d->max_segs = seg_max;
    d->max_seg_bytes = size_max;
    d->ops = &vblk_ops;
    d->priv = v;

    enum irq_err ie = irq_register(h, v->irq, vblk_irq, v);
    if (ie != IRQ_OK) {
        fail(v, "cannot take its interrupt (error %lu)", (uint64_t)ie);
        return;
    }
    /* Step 8: the driver is ready; the device may now use the queue. */
    io_fence();
    wr(v, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    if (!blk_register(d)) {
        fail(v, "too many block devices", 0);
        irq_unregister(h, v->irq);
        return;
    }
    ndisks++;
    kprintf("virtio-blk: %s: virtio-mmio@%#lx irq %u: %lu sectors (%lu MiB), block %u, queue %u, "
            "features offered %#lx, taken:",
            d->name, (unsigned long)v->base, v->irq, (unsigned long)capacity,
            (unsigned long)(capacity >> 11), blk_size, v->q.size, (unsigned long)offered);
    print_features(v->features);
    kprintf("\n");
}

unsigned virtio_blk_probe(struct hart *h, const struct platform *p)
{
    for (unsigned i = 0; i < p->virtio_count && ndisks < PLATFORM_MAX_VIRTIO; i++)
        probe_one(h, &p->virtio[i]);
    return ndisks;
}

unsigned virtio_blk_queue_size(const struct blk_device *d)
{
    return d->ops == &vblk_ops ? ((const struct vblk *)d->priv)->q.size : 0;
}

void virtio_blk_dump(const struct blk_device *d)
{
    if (d->ops != &vblk_ops)
        return;
    const struct vblk *v = d->priv;
    kprintf("virtio-blk: %s: avail idx %u (published %u), used idx %u, consumed %u, %u in flight, "
            "%u free descriptors, interrupt status %#x, device status %#x, %lu interrupts\n",
            d->name, v->q.avail_idx, v->q.published, v->q.used->idx, v->q.last_used, v->q.inflight,
            v->q.nfree, rd(v, VIRTIO_MMIO_INTERRUPT_STATUS), rd(v, VIRTIO_MMIO_STATUS),
            (unsigned long)irq_count(v->irq));
}
