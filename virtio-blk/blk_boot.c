/* Starting the block devices at boot, and their boot self-tests.
 *
 *   selftest=blk       every disk: refused requests are refused; a disk
 *                      the harness prepared (tests/qemu/boot_tests.py) has
 *                      per-sector markers in its first half, read back and
 *                      checked through many requests in flight; a scratch
 *                      region in its second half is written, flushed, read
 *                      back with other request shapes and checked.
 *   selftest=blkerr    vda has errors injected (QEMU blkdebug): every
 *                      failed request is reported as such, the rest are
 *                      checked, and at least one read and one write must fail.
 *   selftest=blkbench  raw sequential read throughput of vda at queue
 *                      depth 1 and 32 (blkbench_mib=N, default 8):
 *                      wall-clock and noisy, printed, never judged. Give
 *                      it an image with data in it: holes in a sparse file
 *                      cost the host nothing and inflate the figures.
 *
 * The on-disk marker, shared with the test harness: sector s of a disk
 * with tag T holds "NSBLKPAT", T (le32), s (le64), then byte i (20..511)
 * is (i + s + T) mod 256. */
#include "virtio-blk/blk_boot.h"

#include <string.h>

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"
#include "kernel/core/kmem.h"
#include "kernel/lib/cmdline.h"
#include "virtio-blk/blk.h"
#include "virtio-blk/ramdisk.h"
#include "virtio-blk/virtio_blk.h"

static uint64_t timebase_hz;
static const char *bootargs = "";

static bool parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    unsigned shift = 0;
    if (*s == 'K' || *s == 'k')
        shift = 10;
    else if (*s == 'M' || *s == 'm')
        shift = 20;
    else if (*s == 'G' || *s == 'g')
        shift = 30;
    if (shift)
        s++;
    if (*s || v > (UINT64_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}

void blk_init(struct hart *h, const struct platform *p)
{
    timebase_hz = p->timebase_hz;
    bootargs = p->bootargs;
    virtio_blk_probe(h, p);
    char arg[32];
    uint64_t bytes;
    if (cmdline_get(p->bootargs, "ramdisk", arg, sizeof(arg))) {
        if (parse_size(arg, &bytes))
            ramdisk_create(bytes);
        else
            kprintf("ramdisk: cannot read size \"%s\"\n", arg);
    }
    kprintf("blk: %u disks\n", blk_count());
}

/* ---- a small request engine -------------------------------------------- */

#define MAX_DEPTH     64
#define MAX_REQ_PAGES 16

struct slot {
    struct blk_request rq;
    struct blk_seg segs[MAX_REQ_PAGES];
    uint8_t *va[MAX_REQ_PAGES]; /* of segs[i] */
    volatile bool done;
    bool busy;
};

struct run;
typedef void (*fill_fn)(const struct run *r, uint8_t *sector_buf, uint64_t sector);
typedef bool (*check_fn)(const struct run *r, const uint8_t *sector_buf, uint64_t sector);

struct run {
    struct blk_device *d;
    enum blk_op op;
    uint64_t first, nsect;
    uint32_t spr; /* sectors per request */
    unsigned depth;
    bool scatter; /* pages of a request in descending address order */
    fill_fn fill;
    check_fn check;
    uint64_t seed;
    uint32_t tag;
    bool report_errors;
    /* results */
    unsigned requests, failed, bad_sectors;
    uint64_t first_bad;
    bool timed_out;
};

static volatile unsigned completions;

static void slot_done(struct blk_request *rq)
{
    ((struct slot *)rq->ctx)->done = true;
    completions++;
}

/* Sleep until `completions` reaches target, or give up after 10 s. */
static bool wait_completions(unsigned target)
{
    uint64_t start = timer_now(), limit = 10 * timebase_hz;
    irq_disable_local();
    while (completions < target && timer_now() - start < limit) {
        /* wfi wakes for a pending interrupt even with interrupts off, so
         * one arriving between the test and the wfi is not missed. */
        asm volatile("wfi");
        irq_enable_local();
        irq_disable_local();
    }
    irq_enable_local();
    return completions >= target;
}

static uint8_t *sector_ptr(struct slot *s, uint32_t k)
{
    uint32_t off = k * BLK_SECTOR_SIZE;
    return s->va[off / PAGE_SIZE] + off % PAGE_SIZE;
}

static void free_slots(struct slot *slots, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned p = 0; p < MAX_REQ_PAGES; p++)
            if (slots[i].va[p])
                kmem_page_free(slots[i].va[p]);
}

static struct slot slots[MAX_DEPTH];

static bool alloc_slots(unsigned depth, unsigned pages, bool scatter)
{
    memset(slots, 0, sizeof(slots));
    for (unsigned i = 0; i < depth; i++) {
        for (unsigned p = 0; p < pages; p++) {
            uint64_t pa;
            slots[i].va[p] = kmem_page_alloc(&pa);
            if (!slots[i].va[p]) {
                free_slots(slots, depth);
                return false;
            }
            slots[i].segs[p].pa = pa;
        }
        if (scatter) /* descending addresses: no two pages can be merged */
            for (unsigned a = 0; a < pages; a++)
                for (unsigned b = a + 1; b < pages; b++)
                    if (slots[i].segs[b].pa > slots[i].segs[a].pa) {
                        struct blk_seg t = slots[i].segs[a];
                        uint8_t *tv = slots[i].va[a];
                        slots[i].segs[a] = slots[i].segs[b];
                        slots[i].va[a] = slots[i].va[b];
                        slots[i].segs[b] = t;
                        slots[i].va[b] = tv;
                    }
        for (unsigned p = 0; p < pages; p++)
            slots[i].va[p] = pa_to_va(slots[i].segs[p].pa);
    }
    return true;
}

static const char *op_name(enum blk_op op)
{
    return op == BLK_OP_READ ? "read" : op == BLK_OP_WRITE ? "write" : "flush";
}

static void finish_slot(struct run *r, struct slot *s)
{
    s->busy = false;
    s->done = false;
    if (s->rq.status != BLK_OK) {
        r->failed++;
        if (r->report_errors)
            kprintf("blk selftest: %s: %s of sectors %lu-%lu: %s\n", r->d->name, op_name(r->op),
                    (unsigned long)s->rq.sector, (unsigned long)(s->rq.sector + s->rq.count - 1),
                    blk_strerror(s->rq.status));
        return;
    }
    if (r->op == BLK_OP_READ && r->check)
        for (uint32_t k = 0; k < s->rq.count; k++)
            if (!r->check(r, sector_ptr(s, k), s->rq.sector + k)) {
                if (!r->bad_sectors)
                    r->first_bad = s->rq.sector + k;
                r->bad_sectors++;
            }
}

/* Move [first, first + nsect) through requests of spr sectors, depth at a
 * time. Returns false on a timeout or a refused submit. */
static bool run_io(struct run *r)
{
    unsigned pages = (r->spr * BLK_SECTOR_SIZE + PAGE_SIZE - 1) / PAGE_SIZE;
    if (r->depth > MAX_DEPTH || pages > MAX_REQ_PAGES ||
        !alloc_slots(r->depth, pages, r->scatter)) {
        kprintf("blk selftest: cannot set up %u requests of %u sectors\n", r->depth, r->spr);
        return false;
    }
    uint64_t next = r->first, end = r->first + r->nsect;
    unsigned busy = 0;
    bool ok = true;
    completions = 0;
    unsigned reaped = 0;
    while (ok && (next < end || busy)) {
        /* Submit a whole burst before reaping any of it: with completions
         * held off, the depth the queue reaches is the driver's (up to the
         * run's depth or the ring's room), not a race against the device. */
        unsigned long irq = irq_save_local();
        for (unsigned i = 0; i < r->depth && next < end; i++) {
            struct slot *s = &slots[i];
            if (s->busy)
                continue;
            uint32_t count = end - next < r->spr ? (uint32_t)(end - next) : r->spr;
            uint32_t bytes = count * BLK_SECTOR_SIZE;
            s->rq = (struct blk_request){.op = r->op,
                                         .sector = next,
                                         .count = count,
                                         .segs = s->segs,
                                         .done = slot_done,
                                         .ctx = s};
            unsigned n = 0;
            while (bytes) {
                s->segs[n].len = bytes < PAGE_SIZE ? bytes : PAGE_SIZE;
                bytes -= s->segs[n].len;
                n++;
            }
            s->rq.nsegs = n;
            if (r->op == BLK_OP_WRITE)
                for (uint32_t k = 0; k < count; k++)
                    r->fill(r, sector_ptr(s, k), next + k);
            s->busy = true;
            s->done = false;
            enum blk_status st = blk_submit(r->d, &s->rq);
            if (st != BLK_OK) {
                kprintf("blk selftest: %s: submit refused: %s\n", r->d->name, blk_strerror(st));
                s->busy = false;
                ok = false;
                break;
            }
            busy++;
            r->requests++;
            next += count;
        }
        irq_restore_local(irq);
        if (!ok)
            break;
        /* Wait for one more completion than we have reaped (one may have
         * landed after the last scan), then reap whatever is done. */
        if (!wait_completions(reaped + 1)) {
            r->timed_out = true;
            ok = false;
            break;
        }
        for (unsigned i = 0; i < r->depth; i++)
            if (slots[i].busy && slots[i].done) {
                finish_slot(r, &slots[i]);
                busy--;
                reaped++;
            }
    }
    if (r->timed_out) {
        kprintf("blk selftest: %s: timed out with %u requests outstanding\n", r->d->name, busy);
        virtio_blk_dump(r->d);
    } else
        free_slots(slots, r->depth); /* on a timeout the device may still own them */
    return ok;
}

/* ---- patterns ----------------------------------------------------------- */

static const char marker[8] = {'N', 'S', 'B', 'L', 'K', 'P', 'A', 'T'};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool check_marker(const struct run *r, const uint8_t *b, uint64_t s)
{
    if (memcmp(b, marker, 8) || (uint32_t)le64(b + 8) != r->tag || le64(b + 12) != s)
        return false;
    for (unsigned i = 20; i < BLK_SECTOR_SIZE; i++)
        if (b[i] != (uint8_t)(i + s + r->tag))
            return false;
    return true;
}

/* The scratch pattern: sector number and seed up front, then bytes that
 * depend on both, so a sector landing in the wrong place shows. */
static void fill_scratch(const struct run *r, uint8_t *b, uint64_t s)
{
    uint64_t x = s ^ r->seed;
    memcpy(b, &s, 8);
    memcpy(b + 8, &r->seed, 8);
    for (unsigned i = 16; i < BLK_SECTOR_SIZE; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        b[i] = (uint8_t)(x >> 56);
    }
}

static bool check_scratch(const struct run *r, const uint8_t *b, uint64_t s)
{
    uint8_t want[BLK_SECTOR_SIZE];
    fill_scratch(r, want, s);
    return !memcmp(b, want, sizeof(want));
}

/* One synchronous request of one page. */
static enum blk_status sync_io(struct blk_device *d, enum blk_op op, uint64_t sector,
                               uint32_t count, uint64_t pa, uint32_t len)
{
    static struct slot one;
    struct blk_seg seg = {pa, len};
    one.done = false;
    one.rq = (struct blk_request){.op = op,
                                  .sector = sector,
                                  .count = count,
                                  .segs = &seg,
                                  .nsegs = op == BLK_OP_FLUSH ? 0 : 1,
                                  .done = slot_done,
                                  .ctx = &one};
    completions = 0;
    enum blk_status st = blk_submit(d, &one.rq);
    if (st != BLK_OK)
        return st;
    if (!wait_completions(1)) {
        kprintf("blk selftest: %s: %s timed out\n", d->name, op_name(op));
        return BLK_ERR_IO;
    }
    return one.rq.status;
}

static bool expect_refused(struct blk_device *d, const char *what, struct blk_request *rq,
                           enum blk_status want)
{
    completions = 0;
    enum blk_status got = blk_submit(d, rq);
    bool ok = got == want && completions == 0;
    kprintf("blk selftest: %s: %s: %s (%s)\n", d->name, what, blk_strerror(got),
            ok ? "good" : "BAD");
    return ok;
}

static bool refusals(struct blk_device *d, uint64_t pa)
{
    struct blk_seg seg = {pa, BLK_SECTOR_SIZE}, odd = {pa, 100};
    struct blk_request rq = {.op = BLK_OP_READ,
                             .sector = d->sectors,
                             .count = 1,
                             .segs = &seg,
                             .nsegs = 1,
                             .done = slot_done};
    bool ok = expect_refused(d, "read past the end", &rq, BLK_ERR_RANGE);
    rq.sector = 0;
    rq.segs = &odd;
    ok &= expect_refused(d, "segment of 100 bytes", &rq, BLK_ERR_INVALID);
    rq.segs = &seg;
    rq.count = 2;
    ok &= expect_refused(d, "2 sectors into 512 bytes", &rq, BLK_ERR_INVALID);
    return ok;
}

static uint32_t read_tag(struct blk_device *d, uint8_t *page, uint64_t pa, bool *has)
{
    *has = false;
    if (sync_io(d, BLK_OP_READ, 0, 1, pa, BLK_SECTOR_SIZE) != BLK_OK)
        return 0;
    struct run probe = {.tag = (uint32_t)le64(page + 8)};
    *has = check_marker(&probe, page, 0);
    return probe.tag;
}

static bool report(const struct run *r, const char *what)
{
    bool ok = !r->timed_out && !r->failed && !r->bad_sectors;
    kprintf("blk selftest: %s: %s: %lu sectors in %u requests of %u, depth %u: %s", r->d->name,
            what, (unsigned long)r->nsect, r->requests, r->spr, r->depth, ok ? "ok" : "FAILED");
    if (r->failed)
        kprintf(", %u failed", r->failed);
    if (r->bad_sectors)
        kprintf(", %u sectors wrong (first %lu)", r->bad_sectors, (unsigned long)r->first_bad);
    kprintf("\n");
    return ok;
}

static bool test_disk(struct blk_device *d)
{
    uint64_t pa;
    uint8_t *page = kmem_page_alloc(&pa);
    if (!page)
        return false;
    kprintf("blk selftest: %s: %lu sectors, block %u%s%s\n", d->name, (unsigned long)d->sectors,
            d->block_size, d->read_only ? ", read-only" : "", d->can_flush ? ", flush" : "");
    bool ok = refusals(d, pa), has;
    uint32_t tag = read_tag(d, page, pa, &has);
    kmem_page_free(page);
    uint64_t half = d->sectors / 2;

    if (has) {
        /* The harness's markers: 8 KiB requests, each two pages in
         * descending order, so every chain has two data descriptors. */
        struct run r = {.d = d,
                        .op = BLK_OP_READ,
                        .first = 0,
                        .nsect = half < 8192 ? half : 8192,
                        .spr = 16,
                        .depth = MAX_DEPTH,
                        .scatter = true,
                        .check = check_marker,
                        .tag = tag};
        ok &= run_io(&r);
        kprintf("blk selftest: %s: pattern tag %u\n", d->name, tag);
        ok &= report(&r, "pattern read");
    } else {
        kprintf("blk selftest: %s: no pattern\n", d->name);
    }

    if (d->read_only) {
        kprintf("blk selftest: %s: read-only, no write test\n", d->name);
        return ok;
    }
    /* The scratch region: up to 1 MiB at the start of the second half. */
    struct run w = {.d = d,
                    .op = BLK_OP_WRITE,
                    .first = half,
                    .nsect = d->sectors - half < 2048 ? d->sectors - half : 2048,
                    .spr = 8,
                    .depth = MAX_DEPTH,
                    .fill = fill_scratch,
                    .seed = timer_now() | 1};
    if (w.nsect == 0)
        return ok;
    ok &= run_io(&w);
    ok &= report(&w, "scratch write");
    uint64_t fpa;
    void *fpage = kmem_page_alloc(&fpa);
    enum blk_status fs = fpage ? sync_io(d, BLK_OP_FLUSH, 0, 0, fpa, 0) : BLK_ERR_IO;
    if (fpage)
        kmem_page_free(fpage);
    kprintf("blk selftest: %s: flush: %s\n", d->name, blk_strerror(fs));
    ok &= fs == BLK_OK;
    /* Read back in two other shapes: single sectors, and 64 KiB requests
     * of 16 scattered pages. */
    struct run r1 = w, r2 = w;
    r1.op = r2.op = BLK_OP_READ;
    r1.check = r2.check = check_scratch;
    r1.spr = 1;
    r1.requests = r2.requests = 0;
    r2.spr = 128;
    r2.depth = 32; /* 18 descriptors each: more than the queue holds, so some wait */
    r2.scatter = true;
    ok &= run_io(&r1);
    ok &= report(&r1, "scratch read-back");
    ok &= run_io(&r2);
    ok &= report(&r2, "scratch read-back");
    kprintf("blk selftest: %s: %lu requests, %lu errors, %lu device lies, up to %u in flight, "
            "%lu waited for room\n",
            d->name, (unsigned long)d->stats.completed, (unsigned long)d->stats.errors,
            (unsigned long)d->stats.lies, d->stats.max_inflight, (unsigned long)d->stats.waited);
    ok &= d->stats.errors == 0 && d->stats.lies == 0;
    return ok;
}

static bool selftest_blk(void)
{
    bool ok = true;
    if (!blk_count())
        kprintf("blk selftest: no disks\n");
    for (unsigned i = 0; i < blk_count(); i++)
        ok &= test_disk(blk_get(i));
    return ok;
}

/* ---- injected errors ---------------------------------------------------- */

static bool selftest_blkerr(void)
{
    struct blk_device *d = blk_find("vda");
    if (!d) {
        kprintf("blk selftest: no vda\n");
        return false;
    }
    uint64_t pa;
    uint8_t *page = kmem_page_alloc(&pa);
    bool has;
    uint32_t tag = page ? read_tag(d, page, pa, &has) : 0;
    if (page)
        kmem_page_free(page);
    if (!page || !has) {
        kprintf("blk selftest: vda has no pattern\n");
        return false;
    }
    uint64_t half = d->sectors / 2;
    struct run r = {.d = d,
                    .op = BLK_OP_READ,
                    .first = 0,
                    .nsect = half < 2048 ? half : 2048,
                    .spr = 8,
                    .depth = 32,
                    .check = check_marker,
                    .tag = tag,
                    .report_errors = true};
    bool ok = run_io(&r);
    kprintf("blk selftest: vda: reads: %u of %u failed, %u sectors wrong\n", r.failed, r.requests,
            r.bad_sectors);
    ok &= r.failed > 0 && r.bad_sectors == 0;
    struct run w = {.d = d,
                    .op = BLK_OP_WRITE,
                    .first = half,
                    .nsect = 512,
                    .spr = 8,
                    .depth = 32,
                    .fill = fill_scratch,
                    .seed = 7,
                    .report_errors = true};
    ok &= run_io(&w);
    kprintf("blk selftest: vda: writes: %u of %u failed\n", w.failed, w.requests);
    ok &= w.failed > 0;
    /* The disk still works after its errors. */
    struct run again = r;
    again.requests = again.failed = again.bad_sectors = 0;
    again.nsect = 64;
    again.report_errors = false;
    ok &= run_io(&again);
    kprintf("blk selftest: vda: after the errors, %u of %u reads failed\n", again.failed,
            again.requests);
    ok &= again.failed == 0 && again.bad_sectors == 0;
    return ok;
}

/* ---- throughput --------------------------------------------------------- */

static void bench_one(struct blk_device *d, uint64_t bytes, uint32_t spr, unsigned depth)
{
    uint64_t nsect = bytes / BLK_SECTOR_SIZE;
    if (nsect > d->sectors)
        nsect = d->sectors - d->sectors % spr;
    struct run r = {
        .d = d, .op = BLK_OP_READ, .first = 0, .nsect = nsect, .spr = spr, .depth = depth};
    uint64_t t0 = timer_now();
    bool ok = run_io(&r);
    uint64_t us = (timer_now() - t0) * 1000000 / timebase_hz;
    if (!us)
        us = 1;
    uint64_t b = nsect * BLK_SECTOR_SIZE, tenths = b * 10 / us; /* bytes/us = MB/s */
    kprintf("blkbench: %s: %u KiB reads, depth %u: %lu KiB in %lu us, %lu.%lu MB/s%s\n", d->name,
            spr / 2, depth, (unsigned long)(b >> 10), (unsigned long)us,
            (unsigned long)(tenths / 10), (unsigned long)(tenths % 10),
            ok && !r.failed ? "" : " (with errors)");
}

static bool selftest_blkbench(void)
{
    struct blk_device *d = blk_find("vda");
    if (!d) {
        kprintf("blkbench: no vda\n");
        return false;
    }
    char arg[16];
    uint64_t mib = 8;
    if (cmdline_get(bootargs, "blkbench_mib", arg, sizeof(arg)) && !parse_size(arg, &mib))
        mib = 8;
    uint64_t bytes = mib << 20;
    bench_one(d, bytes, 8, 1);
    bench_one(d, bytes, 8, 32);
    bench_one(d, bytes, 128, 1);
    bench_one(d, bytes, 128, 32);
    return true;
}

bool blk_selftest(const char *name)
{
    if (!strcmp(name, "blk"))
        return selftest_blk();
    if (!strcmp(name, "blkerr"))
        return selftest_blkerr();
    if (!strcmp(name, "blkbench"))
        return selftest_blkbench();
    kprintf("selftest: unknown test \"%s\"\n", name);
    return false;
}
