/* Host tests for the virtqueue bookkeeping (virtio-blk/virtq.c), the
 * virtio-blk request chains and answer checks (vblk_req.c) and the block
 * interface's request checks (blk.c).
 *
 * The device is a fake written here: it reads the avail ring and the
 * descriptor table the way a device would (addresses are host pointers),
 * serves block requests against an in-memory disk, and writes used-ring
 * entries. It can also lie - move used.idx too far, complete ids that are
 * out of range, idle or already completed, claim more bytes than a chain
 * holds, leave bad status bytes, scribble over the descriptor table - and
 * every test checks that each lie turns into an error for the request it
 * touches (or a broken queue that hands every request back), with ASan and
 * UBSan watching for the memory corruption that must never happen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "virtio-blk/blk.h"
#include "virtio-blk/vblk_req.h"
#include "virtio-blk/virtq.h"

#define QSIZE        16
#define DISK_SECTORS 256

static uint64_t pa_of(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}
static void *va_of(uint64_t pa)
{
    return (void *)(uintptr_t)pa;
}

/* ---- the fake device ----------------------------------------------------- */

struct fake {
    struct virtq q;
    _Alignas(16) uint8_t desc[16 * VIRTQ_MAX_SIZE];
    _Alignas(4) uint8_t avail[6 + 2 * VIRTQ_MAX_SIZE];
    _Alignas(4) uint8_t used[6 + 8 * VIRTQ_MAX_SIZE];
    uint16_t last_avail; /* the device's own position in the avail ring */
    uint16_t used_idx;
    uint8_t disk[DISK_SECTORS * BLK_SECTOR_SIZE];
};

static struct fake *fake_new(unsigned size)
{
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_true(virtq_init(&f->q, size, f->desc, f->avail, f->used));
    for (unsigned i = 0; i < sizeof(f->disk); i++)
        f->disk[i] = (uint8_t)(i * 7 + i / 512);
    return f;
}

static volatile struct virtq_avail *avail(struct fake *f)
{
    return (volatile struct virtq_avail *)f->avail;
}
static volatile struct virtq_used *used(struct fake *f)
{
    return (volatile struct virtq_used *)f->used;
}
static volatile struct virtq_desc *desc(struct fake *f)
{
    return (volatile struct virtq_desc *)f->desc;
}

/* The next chain the driver made available, or -1. */
static int dev_pop(struct fake *f)
{
    if (f->last_avail == avail(f)->idx)
        return -1;
    return avail(f)->ring[f->last_avail++ % f->q.size];
}

static void dev_push(struct fake *f, uint32_t id, uint32_t len)
{
    volatile struct virtq_used_elem *e = &used(f)->ring[f->used_idx % f->q.size];
    e->id = id;
    e->len = len;
    f->used_idx++;
    used(f)->idx = f->used_idx;
}

/* Serve one chain as a virtio-blk device: header, data, status. Returns
 * the bytes written into the chain; *status_at is where the status went. */
static uint32_t dev_serve_blk(struct fake *f, uint16_t head, uint8_t status, uint8_t **status_at)
{
    struct virtq_desc d[VBLK_MAX_BUFS];
    unsigned n = 0;
    uint16_t i = head;
    for (;;) {
        assert_true(n < VBLK_MAX_BUFS);
        d[n].addr = desc(f)[i].addr;
        d[n].len = desc(f)[i].len;
        d[n].flags = desc(f)[i].flags;
        d[n].next = desc(f)[i].next;
        n++;
        if (!(d[n - 1].flags & VIRTQ_DESC_F_NEXT))
            break;
        i = d[n - 1].next;
        assert_true(i < f->q.size);
    }
    assert_true(n >= 2);
    assert_int_equal(d[0].len, sizeof(struct virtio_blk_req_hdr));
    assert_false(d[0].flags & VIRTQ_DESC_F_WRITE);
    assert_int_equal(d[n - 1].len, 1);
    assert_true(d[n - 1].flags & VIRTQ_DESC_F_WRITE);
    const struct virtio_blk_req_hdr *h = va_of(d[0].addr);
    uint64_t off = h->sector * BLK_SECTOR_SIZE;
    uint32_t written = 1;
    for (unsigned k = 1; k + 1 < n; k++) {
        assert_true(off + d[k].len <= sizeof(f->disk));
        if (h->type == VIRTIO_BLK_T_IN) {
            assert_true(d[k].flags & VIRTQ_DESC_F_WRITE);
            memcpy(va_of(d[k].addr), f->disk + off, d[k].len);
            written += d[k].len;
        } else {
            assert_int_equal(h->type, VIRTIO_BLK_T_OUT);
            assert_false(d[k].flags & VIRTQ_DESC_F_WRITE);
            memcpy(f->disk + off, va_of(d[k].addr), d[k].len);
        }
        off += d[k].len;
    }
    *status_at = va_of(d[n - 1].addr);
    **status_at = status;
    return written;
}

/* ---- a miniature driver over virtq + vblk_req (what virtio_blk.c does) -- */

struct drv {
    struct fake *f;
    struct virtio_blk_req_hdr hdr[VIRTQ_MAX_SIZE];
    uint8_t status[VIRTQ_MAX_SIZE];
    unsigned next_tag;
    unsigned done_count;
};

struct io {
    struct blk_request rq;
    struct blk_seg seg[4];
    uint8_t *buf;
    unsigned completions;
};

static void io_done(struct blk_request *rq)
{
    ((struct io *)rq->ctx)->completions++;
}

static enum virtq_err drv_submit(struct drv *d, struct io *io)
{
    struct virtq_buf bufs[VBLK_MAX_BUFS];
    unsigned tag = d->next_tag++ % d->f->q.size;
    int n = vblk_build(&io->rq, &d->hdr[tag], pa_of(&d->hdr[tag]), pa_of(&d->status[tag]), 0,
                       BLK_MAX_SEGS, bufs);
    assert_true(n > 0);
    d->status[tag] = VBLK_STATUS_UNSET;
    io->rq.slot = (uint16_t)tag;
    uint16_t id;
    enum virtq_err e = virtq_add(&d->f->q, bufs, (unsigned)n, &io->rq, &id);
    if (e == VIRTQ_OK)
        virtq_publish(&d->f->q);
    return e;
}

/* Harvest every completion; a broken queue hands back everything. */
static enum virtq_err drv_harvest(struct drv *d, unsigned *lies)
{
    for (;;) {
        void *token;
        uint16_t id;
        uint32_t len;
        enum virtq_err e = virtq_get(&d->f->q, &token, &id, &len);
        if (e == VIRTQ_EMPTY)
            return e;
        if (e == VIRTQ_BROKEN) {
            while (virtq_cancel(&d->f->q, &token, &id)) {
                struct blk_request *rq = token;
                rq->status = BLK_ERR_BROKEN;
                rq->done(rq);
            }
            return e;
        }
        struct blk_request *rq = token;
        bool lie;
        rq->status = vblk_judge(rq, e, len, d->status[rq->slot], &lie);
        *lies += lie;
        rq->done(rq);
        d->done_count++;
    }
}

static struct io *io_new(enum blk_op op, uint64_t sector, uint32_t count)
{
    struct io *io = calloc(1, sizeof(*io));
    assert_non_null(io);
    io->buf = calloc(1, count ? count * BLK_SECTOR_SIZE : 1);
    io->seg[0] = (struct blk_seg){pa_of(io->buf), count * BLK_SECTOR_SIZE};
    io->rq = (struct blk_request){.op = op,
                                  .sector = sector,
                                  .count = count,
                                  .segs = io->seg,
                                  .nsegs = op == BLK_OP_FLUSH ? 0 : 1,
                                  .done = io_done,
                                  .ctx = io};
    return io;
}

static void io_free(struct io *io)
{
    free(io->buf);
    free(io);
}

/* ---- virtq: the honest device ------------------------------------------ */

static void test_init_checks(void **state)
{
    (void)state;
    struct fake *f = fake_new(QSIZE);
    struct virtq q;
    assert_false(virtq_init(&q, 0, f->desc, f->avail, f->used));
    assert_false(virtq_init(&q, 12, f->desc, f->avail, f->used));
    assert_false(virtq_init(&q, 512, f->desc, f->avail, f->used));
    assert_false(virtq_init(&q, 8, f->desc + 8, f->avail, f->used));
    assert_false(virtq_init(&q, 8, f->desc, f->avail + 1, f->used));
    assert_false(virtq_init(&q, 8, f->desc, f->avail, f->used + 2));
    assert_true(virtq_init(&q, 1, f->desc, f->avail, f->used));
    free(f);
}

static void test_add_get_one(void **state)
{
    (void)state;
    struct fake *f = fake_new(QSIZE);
    uint8_t a[8], b[32];
    struct virtq_buf bufs[2] = {{pa_of(a), sizeof(a), false}, {pa_of(b), sizeof(b), true}};
    uint16_t id;
    int token;
    assert_int_equal(virtq_add(&f->q, bufs, 2, &token, &id), VIRTQ_OK);
    assert_int_equal(f->q.nfree, QSIZE - 2);
    /* Not visible until published. */
    assert_int_equal(dev_pop(f), -1);
    assert_true(virtq_publish(&f->q));
    int head = dev_pop(f);
    assert_int_equal(head, id);
    assert_int_equal(desc(f)[head].addr, pa_of(a));
    assert_int_equal(desc(f)[head].flags, VIRTQ_DESC_F_NEXT);
    uint16_t second = desc(f)[head].next;
    assert_int_equal(desc(f)[second].addr, pa_of(b));
    assert_int_equal(desc(f)[second].flags, VIRTQ_DESC_F_WRITE);

    void *tok;
    uint16_t gid;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &gid, &len), VIRTQ_EMPTY);
    dev_push(f, id, 20);
    assert_int_equal(virtq_get(&f->q, &tok, &gid, &len), VIRTQ_OK);
    assert_ptr_equal(tok, &token);
    assert_int_equal(gid, id);
    assert_int_equal(len, 20);
    assert_int_equal(f->q.nfree, QSIZE);
    assert_int_equal(virtq_get(&f->q, &tok, &gid, &len), VIRTQ_EMPTY);
    free(f);
}

static void test_add_rejects(void **state)
{
    (void)state;
    struct fake *f = fake_new(4);
    uint8_t x[4];
    struct virtq_buf bufs[5];
    for (int i = 0; i < 5; i++)
        bufs[i] = (struct virtq_buf){pa_of(x), sizeof(x), false};
    uint16_t id;
    assert_int_equal(virtq_add(&f->q, bufs, 0, NULL, &id), VIRTQ_INVALID);
    assert_int_equal(virtq_add(&f->q, bufs, 5, NULL, &id), VIRTQ_INVALID);
    bufs[1].len = 0;
    assert_int_equal(virtq_add(&f->q, bufs, 2, NULL, &id), VIRTQ_INVALID);
    bufs[1].len = 4;
    /* Writable bytes over 4 GiB cannot be checked against a 32-bit len. */
    struct virtq_buf big[2] = {{0x1000, 0xffffffffu, true}, {0x2000, 2, true}};
    assert_int_equal(virtq_add(&f->q, big, 2, NULL, &id), VIRTQ_INVALID);
    assert_int_equal(virtq_add(&f->q, bufs, 3, NULL, &id), VIRTQ_OK);
    assert_int_equal(virtq_add(&f->q, bufs, 2, NULL, &id), VIRTQ_FULL);
    assert_int_equal(virtq_add(&f->q, bufs, 1, NULL, &id), VIRTQ_OK);
    assert_int_equal(f->q.nfree, 0);
    free(f);
}

/* The whole queue in flight, completed in reverse order: every token comes
 * back once and every descriptor is free again. */
static void test_full_queue_out_of_order(void **state)
{
    (void)state;
    struct fake *f = fake_new(QSIZE);
    uint8_t buf[QSIZE];
    int tokens[QSIZE];
    uint16_t ids[QSIZE];
    for (int i = 0; i < QSIZE; i++) {
        struct virtq_buf b = {pa_of(&buf[i]), 1, true};
        assert_int_equal(virtq_add(&f->q, &b, 1, &tokens[i], &ids[i]), VIRTQ_OK);
    }
    struct virtq_buf b = {pa_of(buf), 1, true};
    uint16_t id;
    assert_int_equal(virtq_add(&f->q, &b, 1, NULL, &id), VIRTQ_FULL);
    virtq_publish(&f->q);
    assert_int_equal(f->q.inflight, QSIZE);
    for (int i = 0; i < QSIZE; i++)
        assert_int_equal(dev_pop(f), ids[i]);
    for (int i = QSIZE - 1; i >= 0; i--)
        dev_push(f, ids[i], 1);
    bool seen[QSIZE] = {0};
    for (int i = 0; i < QSIZE; i++) {
        void *tok;
        uint16_t gid;
        uint32_t len;
        assert_int_equal(virtq_get(&f->q, &tok, &gid, &len), VIRTQ_OK);
        int k = (int)((int *)tok - tokens);
        assert_true(k >= 0 && k < QSIZE);
        assert_false(seen[k]);
        seen[k] = true;
        assert_int_equal(k, QSIZE - 1 - i);
    }
    assert_int_equal(f->q.nfree, QSIZE);
    assert_int_equal(f->q.inflight, 0);
    assert_int_equal(f->q.max_inflight, QSIZE);
    free(f);
}

/* 16-bit ring indices wrap: 70,000 requests through a queue of 8. */
static void test_index_wrap(void **state)
{
    (void)state;
    struct fake *f = fake_new(8);
    uint8_t hdr[4], data[8];
    for (unsigned round = 0; round < 70000; round++) {
        struct virtq_buf b[2] = {{pa_of(hdr), 4, false}, {pa_of(data), 8, true}};
        uint16_t id, gid;
        assert_int_equal(virtq_add(&f->q, b, 2, (void *)(uintptr_t)(round + 1), &id), VIRTQ_OK);
        if (round % 3 == 0) {
            uint16_t id2;
            assert_int_equal(virtq_add(&f->q, b, 2, (void *)(uintptr_t)(round + 100000), &id2),
                             VIRTQ_OK);
            virtq_publish(&f->q);
            assert_int_equal(dev_pop(f), id);
            assert_int_equal(dev_pop(f), id2);
            dev_push(f, id2, 8);
            dev_push(f, id, 3);
            void *tok;
            uint32_t len;
            assert_int_equal(virtq_get(&f->q, &tok, &gid, &len), VIRTQ_OK);
            assert_int_equal((uintptr_t)tok, round + 100000);
            assert_int_equal(virtq_get(&f->q, &tok, &gid, &len), VIRTQ_OK);
            assert_int_equal((uintptr_t)tok, round + 1);
            assert_int_equal(len, 3);
        } else {
            virtq_publish(&f->q);
            assert_int_equal(dev_pop(f), id);
            dev_push(f, id, 8);
            void *tok;
            uint32_t len;
            assert_int_equal(virtq_get(&f->q, &tok, &gid, &len), VIRTQ_OK);
            assert_int_equal((uintptr_t)tok, round + 1);
        }
        assert_int_equal(f->q.nfree, 8);
    }
    free(f);
}

static void test_no_notify(void **state)
{
    (void)state;
    struct fake *f = fake_new(QSIZE);
    uint8_t x;
    struct virtq_buf b = {pa_of(&x), 1, true};
    uint16_t id;
    assert_false(virtq_publish(&f->q)); /* nothing new */
    used(f)->flags = VIRTQ_USED_F_NO_NOTIFY;
    assert_int_equal(virtq_add(&f->q, &b, 1, NULL, &id), VIRTQ_OK);
    assert_false(virtq_publish(&f->q));
    used(f)->flags = 0;
    assert_int_equal(virtq_add(&f->q, &b, 1, NULL, &id), VIRTQ_OK);
    assert_true(virtq_publish(&f->q));
    free(f);
}

/* ---- virtq: the lying device --------------------------------------------- */

/* n one-buffer chains in flight, tokens[i] = &marks[i]. */
static struct fake *with_inflight(unsigned size, unsigned n, int *marks, uint16_t *ids)
{
    struct fake *f = fake_new(size);
    static uint8_t buf[64];
    for (unsigned i = 0; i < n; i++) {
        struct virtq_buf b = {pa_of(buf), sizeof(buf), true};
        assert_int_equal(virtq_add(&f->q, &b, 1, &marks[i], &ids[i]), VIRTQ_OK);
    }
    virtq_publish(&f->q);
    return f;
}

/* After a break: nothing more comes out of the ring, and cancel hands back
 * each in-flight token exactly once and frees every descriptor. */
static void expect_broken_then_cancel(struct fake *f, unsigned n, int *marks, enum virtq_lie lie)
{
    void *tok;
    uint16_t id;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_BROKEN);
    assert_true(f->q.broken);
    assert_int_equal(f->q.lie, lie);
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_BROKEN);
    struct virtq_buf b = {0x1000, 1, true};
    assert_int_equal(virtq_add(&f->q, &b, 1, NULL, &id), VIRTQ_BROKEN);
    unsigned got = 0, want = 0;
    for (unsigned k = 0; k < n; k++)
        want += marks[k] == 0;
    while (virtq_cancel(&f->q, &tok, &id)) {
        int k = (int)((int *)tok - marks);
        assert_true(k >= 0 && (unsigned)k < n);
        assert_int_equal(marks[k], 0);
        marks[k] = 1;
        got++;
    }
    assert_int_equal(got, want);
    assert_int_equal(f->q.nfree, f->q.size);
    assert_int_equal(f->q.inflight, 0);
}

static void test_lie_used_idx_beyond_queue(void **state)
{
    (void)state;
    int marks[4] = {0};
    uint16_t ids[4];
    struct fake *f = with_inflight(QSIZE, 4, marks, ids);
    used(f)->idx = QSIZE + 3; /* more than the queue size ahead */
    expect_broken_then_cancel(f, 4, marks, VIRTQ_LIE_USED_IDX);
    free(f);
}

static void test_lie_used_idx_beyond_inflight(void **state)
{
    (void)state;
    int marks[4] = {0};
    uint16_t ids[4];
    struct fake *f = with_inflight(QSIZE, 4, marks, ids);
    /* One honest completion, then an index claiming 4 more with 3 left. */
    dev_push(f, ids[2], 5);
    void *tok;
    uint16_t id;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_OK);
    assert_ptr_equal(tok, &marks[2]);
    marks[2] = 1;
    used(f)->idx = (uint16_t)(f->used_idx + 4);
    expect_broken_then_cancel(f, 4, marks, VIRTQ_LIE_USED_IDX);
    free(f);
}

static void test_lie_used_idx_backwards(void **state)
{
    (void)state;
    int marks[2] = {0};
    uint16_t ids[2];
    struct fake *f = with_inflight(QSIZE, 2, marks, ids);
    used(f)->idx = 0xffff; /* "behind": looks like 65535 ahead */
    expect_broken_then_cancel(f, 2, marks, VIRTQ_LIE_USED_IDX);
    free(f);
}

static void test_lie_id_out_of_range(void **state)
{
    (void)state;
    int marks[3] = {0};
    uint16_t ids[3];
    struct fake *f = with_inflight(QSIZE, 3, marks, ids);
    dev_push(f, QSIZE, 1);
    expect_broken_then_cancel(f, 3, marks, VIRTQ_LIE_ID_RANGE);
    free(f);
    f = with_inflight(QSIZE, 3, (int[3]){0}, ids);
    dev_push(f, 0xffffffffu, 1);
    void *tok;
    uint16_t id;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_BROKEN);
    assert_int_equal(f->q.lie, VIRTQ_LIE_ID_RANGE);
    free(f);
}

static void test_lie_id_not_in_flight(void **state)
{
    (void)state;
    int marks[2] = {0};
    uint16_t ids[2];
    struct fake *f = with_inflight(QSIZE, 2, marks, ids);
    /* A descriptor that is free (never used). */
    uint16_t idle = (uint16_t)(QSIZE - 1);
    assert_true(idle != ids[0] && idle != ids[1]);
    dev_push(f, idle, 1);
    expect_broken_then_cancel(f, 2, marks, VIRTQ_LIE_ID_IDLE);
    free(f);

    /* The second descriptor of a chain, not its head. */
    f = fake_new(QSIZE);
    uint8_t a[4], b[4];
    struct virtq_buf bufs[2] = {{pa_of(a), 4, false}, {pa_of(b), 4, true}};
    uint16_t id;
    int mark = 0;
    assert_int_equal(virtq_add(&f->q, bufs, 2, &mark, &id), VIRTQ_OK);
    virtq_publish(&f->q);
    dev_push(f, f->q.next[id], 4);
    expect_broken_then_cancel(f, 1, &mark, VIRTQ_LIE_ID_IDLE);
    free(f);
}

static void test_lie_completed_twice(void **state)
{
    (void)state;
    int marks[3] = {0};
    uint16_t ids[3];
    struct fake *f = with_inflight(QSIZE, 3, marks, ids);
    dev_push(f, ids[1], 2);
    dev_push(f, ids[1], 2);
    void *tok;
    uint16_t id;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_OK);
    assert_ptr_equal(tok, &marks[1]);
    marks[1] = 1;
    expect_broken_then_cancel(f, 3, marks, VIRTQ_LIE_ID_IDLE);
    free(f);
}

static void test_lie_unpublished(void **state)
{
    (void)state;
    struct fake *f = fake_new(QSIZE);
    uint8_t x;
    struct virtq_buf b = {pa_of(&x), 1, true};
    uint16_t id;
    int mark = 0;
    assert_int_equal(virtq_add(&f->q, &b, 1, &mark, &id), VIRTQ_OK);
    /* The device read ahead of avail.idx and completed it. */
    dev_push(f, id, 1);
    void *tok;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_BROKEN);
    free(f);
}

static void test_lie_length(void **state)
{
    (void)state;
    int marks[3] = {0};
    uint16_t ids[3];
    struct fake *f = with_inflight(QSIZE, 3, marks, ids);
    dev_push(f, ids[0], 65); /* the chain holds 64 */
    dev_push(f, ids[1], 0xffffffffu);
    dev_push(f, ids[2], 64);
    void *tok;
    uint16_t id;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_BAD_LEN);
    assert_ptr_equal(tok, &marks[0]);
    assert_int_equal(len, 64);
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_BAD_LEN);
    assert_ptr_equal(tok, &marks[1]);
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_OK);
    assert_ptr_equal(tok, &marks[2]);
    assert_false(f->q.broken);
    assert_int_equal(f->q.nfree, QSIZE);
    free(f);
}

/* The device rewrites descriptors it should only read: our free list and
 * chain links do not depend on them. */
static void test_lie_scribbled_descriptors(void **state)
{
    (void)state;
    struct fake *f = fake_new(8);
    uint8_t a[4];
    struct virtq_buf bufs[3] = {{pa_of(a), 4, false}, {pa_of(a), 4, false}, {pa_of(a), 1, true}};
    uint16_t id1, id2;
    int m1, m2;
    assert_int_equal(virtq_add(&f->q, bufs, 3, &m1, &id1), VIRTQ_OK);
    assert_int_equal(virtq_add(&f->q, bufs, 3, &m2, &id2), VIRTQ_OK);
    virtq_publish(&f->q);
    for (unsigned i = 0; i < 8; i++) {
        desc(f)[i].next = (uint16_t)(i * 5 + 1000);
        desc(f)[i].flags = 0xffff;
        desc(f)[i].len = 0;
    }
    dev_push(f, id2, 1);
    dev_push(f, id1, 1);
    void *tok;
    uint16_t id;
    uint32_t len;
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_OK);
    assert_int_equal(virtq_get(&f->q, &tok, &id, &len), VIRTQ_OK);
    assert_int_equal(f->q.nfree, 8);
    /* Every descriptor can be handed out again, each once. */
    struct virtq_buf one = {pa_of(a), 1, true};
    bool seen[8] = {0};
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(virtq_add(&f->q, &one, 1, NULL, &id), VIRTQ_OK);
        assert_true(id < 8);
        assert_false(seen[id]);
        seen[id] = true;
        assert_int_equal(desc(f)[id].flags, VIRTQ_DESC_F_WRITE);
    }
    free(f);
}

/* Random traffic with random lies: whatever the device does, no token
 * comes back twice, none is lost, and the sanitizers see nothing. */
static void test_lie_random(void **state)
{
    (void)state;
    srand(12345);
    for (unsigned trial = 0; trial < 300; trial++) {
        unsigned size = 1u << (rand() % 6);
        struct fake *f = fake_new(size);
        enum { N = 64 };
        int state_of[N] = {0}; /* 0 idle, 1 in flight, 2 done */
        uint8_t buf[16];
        for (unsigned step = 0; step < 200 && !f->q.broken; step++) {
            int k = rand() % N;
            if (state_of[k] == 0 && rand() % 2) {
                unsigned n = 1 + (unsigned)rand() % 3;
                struct virtq_buf b[3];
                for (unsigned i = 0; i < n; i++)
                    b[i] = (struct virtq_buf){pa_of(buf), 1 + (uint32_t)rand() % 16, rand() % 2};
                uint16_t id;
                enum virtq_err e = virtq_add(&f->q, b, n, &state_of[k], &id);
                assert_true(e == VIRTQ_OK || e == VIRTQ_FULL || e == VIRTQ_INVALID);
                if (e == VIRTQ_OK)
                    state_of[k] = 1;
                if (rand() % 2)
                    virtq_publish(&f->q);
            }
            /* The device: an honest completion, or a random lie. */
            int head = rand() % 4 ? dev_pop(f) : -1;
            uint32_t id = head >= 0 ? (uint32_t)head : (uint32_t)rand() % (2 * size + 1);
            if (head >= 0 || rand() % 8 == 0)
                dev_push(f, id, (uint32_t)rand() % 40);
            if (rand() % 16 == 0)
                used(f)->idx = (uint16_t)rand();
            for (;;) {
                void *tok;
                uint16_t gid;
                uint32_t len;
                enum virtq_err e = virtq_get(&f->q, &tok, &gid, &len);
                if (e == VIRTQ_EMPTY || e == VIRTQ_BROKEN)
                    break;
                int *s = tok;
                assert_int_equal(*s, 1);
                *s = 2;
            }
        }
        void *tok;
        uint16_t gid;
        while (virtq_cancel(&f->q, &tok, &gid)) {
            int *s = tok;
            assert_int_equal(*s, 1);
            *s = 2;
        }
        for (int k = 0; k < N; k++)
            assert_true(state_of[k] != 1);
        assert_int_equal(f->q.nfree, size);
        free(f);
    }
}

/* ---- virtio-blk requests over the fake device --------------------------- */

static void test_blk_read_write_flush(void **state)
{
    (void)state;
    struct drv d = {.f = fake_new(QSIZE)};
    unsigned lies = 0;
    struct io *w = io_new(BLK_OP_WRITE, 10, 2);
    memset(w->buf, 0x5a, 1024);
    assert_int_equal(drv_submit(&d, w), VIRTQ_OK);
    struct io *fl = io_new(BLK_OP_FLUSH, 0, 0);
    assert_int_equal(drv_submit(&d, fl), VIRTQ_OK);
    struct io *r = io_new(BLK_OP_READ, 9, 4);
    assert_int_equal(drv_submit(&d, r), VIRTQ_OK);
    int h;
    while ((h = dev_pop(d.f)) >= 0) {
        uint8_t *st;
        uint32_t n = dev_serve_blk(d.f, (uint16_t)h, VIRTIO_BLK_S_OK, &st);
        dev_push(d.f, (uint32_t)h, n);
    }
    assert_int_equal(drv_harvest(&d, &lies), VIRTQ_EMPTY);
    assert_int_equal(lies, 0);
    assert_int_equal(w->completions, 1);
    assert_int_equal(fl->completions, 1);
    assert_int_equal(r->completions, 1);
    assert_int_equal(w->rq.status, BLK_OK);
    assert_int_equal(fl->rq.status, BLK_OK);
    assert_int_equal(r->rq.status, BLK_OK);
    assert_memory_equal(r->buf + 512, w->buf, 1024);
    assert_memory_equal(r->buf, d.f->disk + 9 * 512, 512);
    assert_int_equal(d.hdr[1].type, VIRTIO_BLK_T_FLUSH);
    assert_int_equal(d.hdr[1].sector, 0);
    io_free(w);
    io_free(fl);
    io_free(r);
    free(d.f);
}

static void test_blk_status_and_length_lies(void **state)
{
    (void)state;
    struct drv d = {.f = fake_new(32)};
    unsigned lies = 0;
    enum { N = 7 };
    struct io *io[N];
    for (int i = 0; i < N; i++) {
        io[i] = io_new(BLK_OP_READ, (uint64_t)i, 1);
        assert_int_equal(drv_submit(&d, io[i]), VIRTQ_OK);
    }
    /* 0 ok; 1 IOERR; 2 UNSUPP; 3 a bad status byte; 4 status never
     * written; 5 a short length; 6 a length over the chain. */
    for (int i = 0; i < N; i++) {
        int h = dev_pop(d.f);
        assert_true(h >= 0);
        uint8_t *st;
        static const uint8_t status[N] = {0, 1, 2, 0x7f, 0, 0, 0};
        uint32_t n = dev_serve_blk(d.f, (uint16_t)h, status[i], &st);
        if (i == 4)
            *st = VBLK_STATUS_UNSET;
        if (i == 5)
            n = 100;
        if (i == 6)
            n = 2000;
        dev_push(d.f, (uint32_t)h, n);
    }
    assert_int_equal(drv_harvest(&d, &lies), VIRTQ_EMPTY);
    static const enum blk_status want[N] = {BLK_OK,     BLK_ERR_IO, BLK_ERR_UNSUPPORTED, BLK_ERR_IO,
                                            BLK_ERR_IO, BLK_ERR_IO, BLK_ERR_IO};
    for (int i = 0; i < N; i++) {
        assert_int_equal(io[i]->completions, 1);
        assert_int_equal(io[i]->rq.status, want[i]);
        io_free(io[i]);
    }
    assert_int_equal(lies, 4);
    assert_false(d.f->q.broken);
    free(d.f);
}

static void test_blk_broken_fails_everything(void **state)
{
    (void)state;
    struct drv d = {.f = fake_new(QSIZE)};
    unsigned lies = 0;
    struct io *io[5];
    for (int i = 0; i < 5; i++) {
        io[i] = io_new(BLK_OP_READ, (uint64_t)i, 1);
        assert_int_equal(drv_submit(&d, io[i]), VIRTQ_OK);
    }
    /* Two served honestly, then the device completes one of them again. */
    for (int i = 0; i < 2; i++) {
        int h = dev_pop(d.f);
        uint8_t *st;
        dev_push(d.f, (uint32_t)h, dev_serve_blk(d.f, (uint16_t)h, 0, &st));
        if (i == 1)
            dev_push(d.f, (uint32_t)h, 513);
    }
    assert_int_equal(drv_harvest(&d, &lies), VIRTQ_BROKEN);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(io[i]->completions, 1);
        assert_int_equal(io[i]->rq.status, i < 2 ? BLK_OK : BLK_ERR_BROKEN);
        io_free(io[i]);
    }
    free(d.f);
}

/* Chains: adjacent segments merge, scattered ones do not, size_max
 * splits, and too many buffers is refused. */
static void test_blk_chain_building(void **state)
{
    (void)state;
    static _Alignas(4096) uint8_t mem[8 * 4096];
    struct blk_seg segs[4] = {{pa_of(mem), 4096},
                              {pa_of(mem + 4096), 4096},
                              {pa_of(mem + 3 * 4096), 4096},
                              {pa_of(mem + 2 * 4096), 4096}};
    struct blk_request rq = {
        .op = BLK_OP_READ, .sector = 8, .count = 32, .segs = segs, .nsegs = 4, .done = io_done};
    struct virtio_blk_req_hdr hdr;
    struct virtq_buf bufs[VBLK_MAX_BUFS];
    int n = vblk_build(&rq, &hdr, 0x100, 0x200, 0, BLK_MAX_SEGS, bufs);
    assert_int_equal(n, 5); /* header, [0+1], [3], [2], status */
    assert_int_equal(hdr.type, VIRTIO_BLK_T_IN);
    assert_int_equal(hdr.sector, 8);
    assert_int_equal(bufs[0].addr, 0x100);
    assert_false(bufs[0].device_writes);
    assert_int_equal(bufs[1].len, 8192);
    assert_true(bufs[1].device_writes);
    assert_int_equal(bufs[2].addr, pa_of(mem + 3 * 4096));
    assert_int_equal(bufs[4].addr, 0x200);
    assert_int_equal(bufs[4].len, 1);
    assert_true(bufs[4].device_writes);
    /* size_max of 3000 bytes: 3000 3000 2192 | 3000 1096 | 3000 1096. */
    n = vblk_build(&rq, &hdr, 0x100, 0x200, 3000, BLK_MAX_SEGS, bufs);
    assert_int_equal(n, 2 + 7);
    uint64_t total = 0;
    for (int i = 1; i < n - 1; i++) {
        assert_true(bufs[i].len <= 3000);
        total += bufs[i].len;
    }
    assert_int_equal(total, 4 * 4096);
    /* Only two data buffers allowed: refused. */
    assert_int_equal(vblk_build(&rq, &hdr, 0x100, 0x200, 0, 2, bufs), -1);
    /* Writes: the data is for the device to read. */
    rq.op = BLK_OP_WRITE;
    n = vblk_build(&rq, &hdr, 0x100, 0x200, 0, BLK_MAX_SEGS, bufs);
    assert_int_equal(hdr.type, VIRTIO_BLK_T_OUT);
    assert_false(bufs[1].device_writes);
}

static void test_blk_judge(void **state)
{
    (void)state;
    struct blk_request rd = {.op = BLK_OP_READ, .count = 2};
    struct blk_request wr = {.op = BLK_OP_WRITE, .count = 2};
    bool lie;
    assert_int_equal(vblk_judge(&rd, VIRTQ_OK, 1025, 0, &lie), BLK_OK);
    assert_false(lie);
    assert_int_equal(vblk_judge(&rd, VIRTQ_OK, 1024, 0, &lie), BLK_ERR_IO);
    assert_true(lie);
    assert_int_equal(vblk_judge(&wr, VIRTQ_OK, 1, 0, &lie), BLK_OK);
    assert_int_equal(vblk_judge(&wr, VIRTQ_OK, 1025, 0, &lie), BLK_ERR_IO);
    assert_true(lie);
    assert_int_equal(vblk_judge(&wr, VIRTQ_OK, 0, 0, &lie), BLK_ERR_IO);
    assert_int_equal(vblk_judge(&wr, VIRTQ_BAD_LEN, 1, 0, &lie), BLK_ERR_IO);
    assert_true(lie);
    assert_int_equal(vblk_judge(&wr, VIRTQ_OK, 1, 1, &lie), BLK_ERR_IO);
    assert_false(lie);
    assert_int_equal(vblk_judge(&wr, VIRTQ_OK, 1, 2, &lie), BLK_ERR_UNSUPPORTED);
    assert_int_equal(vblk_judge(&wr, VIRTQ_OK, 1, 3, &lie), BLK_ERR_IO);
    assert_true(lie);
    assert_int_equal(vblk_judge(&wr, VIRTQ_OK, 1, VBLK_STATUS_UNSET, &lie), BLK_ERR_IO);
    assert_true(lie);
}

/* ---- the block interface's checks --------------------------------------- */

static unsigned dummy_submits;
static enum blk_status dummy_submit(struct blk_device *dev, struct blk_request *rq)
{
    (void)dev;
    (void)rq;
    dummy_submits++;
    return BLK_OK;
}

static void test_blk_check(void **state)
{
    (void)state;
    static const struct blk_ops ops = {.submit = dummy_submit};
    struct blk_device dev = {.name = "t0", .sectors = 100, .ops = &ops};
    struct blk_seg seg = {0x10000, 1024}, segs[2] = {{0x10000, 512}, {0x20000, 512}};
    struct blk_request rq = {
        .op = BLK_OP_READ, .sector = 98, .count = 2, .segs = &seg, .nsegs = 1, .done = io_done};
    assert_int_equal(blk_submit(&dev, &rq), BLK_OK);
    assert_int_equal(dummy_submits, 1);
    rq.sector = 99;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_RANGE);
    rq.sector = UINT64_MAX;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_RANGE);
    rq.sector = 0;
    rq.count = 3;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_INVALID);
    rq.count = 2;
    rq.segs = segs;
    rq.nsegs = 2;
    assert_int_equal(blk_check(&dev, &rq), BLK_OK);
    segs[1].len = 100;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_INVALID);
    segs[1] = (struct blk_seg){UINT64_MAX - 511, 512};
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_INVALID);
    segs[1] = (struct blk_seg){0x20000, 512};
    rq.count = 0;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_INVALID);
    rq.count = 2;
    rq.nsegs = BLK_MAX_SEGS + 1;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_INVALID);
    rq.nsegs = 2;
    rq.done = NULL;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_INVALID);
    rq.done = io_done;
    rq.op = BLK_OP_WRITE;
    dev.read_only = true;
    assert_int_equal(blk_check(&dev, &rq), BLK_ERR_READ_ONLY);
    dev.read_only = false;
    dev.broken = true;
    assert_int_equal(blk_submit(&dev, &rq), BLK_ERR_BROKEN);
    dev.broken = false;
    /* A flush on a device without a cache completes at once, in submit. */
    struct io *io = io_new(BLK_OP_FLUSH, 0, 0);
    unsigned before = dummy_submits;
    assert_int_equal(blk_submit(&dev, &io->rq), BLK_OK);
    assert_int_equal(io->completions, 1);
    assert_int_equal(io->rq.status, BLK_OK);
    assert_int_equal(dummy_submits, before);
    dev.can_flush = true;
    io->rq.count = 1;
    assert_int_equal(blk_submit(&dev, &io->rq), BLK_ERR_INVALID);
    io->rq.count = 0;
    assert_int_equal(blk_submit(&dev, &io->rq), BLK_OK);
    assert_int_equal(dummy_submits, before + 1);
    io_free(io);
}

static void test_blk_registry(void **state)
{
    (void)state;
    static struct blk_device devs[BLK_MAX_DEVICES + 1];
    for (unsigned i = 0; i <= BLK_MAX_DEVICES; i++) {
        snprintf(devs[i].name, sizeof(devs[i].name), "d%u", i);
        assert_int_equal(blk_register(&devs[i]), i < BLK_MAX_DEVICES);
    }
    assert_int_equal(blk_count(), BLK_MAX_DEVICES);
    assert_ptr_equal(blk_find("d3"), &devs[3]);
    assert_null(blk_find("d16"));
    assert_ptr_equal(blk_get(0), &devs[0]);
    assert_null(blk_get(BLK_MAX_DEVICES));
    assert_string_equal(blk_strerror(BLK_ERR_IO), "I/O error");
    assert_string_equal(blk_strerror((enum blk_status)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_add_get_one),
        cmocka_unit_test(test_add_rejects),
        cmocka_unit_test(test_full_queue_out_of_order),
        cmocka_unit_test(test_index_wrap),
        cmocka_unit_test(test_no_notify),
        cmocka_unit_test(test_lie_used_idx_beyond_queue),
        cmocka_unit_test(test_lie_used_idx_beyond_inflight),
        cmocka_unit_test(test_lie_used_idx_backwards),
        cmocka_unit_test(test_lie_id_out_of_range),
        cmocka_unit_test(test_lie_id_not_in_flight),
        cmocka_unit_test(test_lie_completed_twice),
        cmocka_unit_test(test_lie_unpublished),
        cmocka_unit_test(test_lie_length),
        cmocka_unit_test(test_lie_scribbled_descriptors),
        cmocka_unit_test(test_lie_random),
        cmocka_unit_test(test_blk_read_write_flush),
        cmocka_unit_test(test_blk_status_and_length_lies),
        cmocka_unit_test(test_blk_broken_fails_everything),
        cmocka_unit_test(test_blk_chain_building),
        cmocka_unit_test(test_blk_judge),
        cmocka_unit_test(test_blk_check),
        cmocka_unit_test(test_blk_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
