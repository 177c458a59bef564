/* Split-virtqueue bookkeeping: see virtq.h for the contract and for what
 * is checked of the device. Section numbers are virtio 1.2's. */
#include "virtio-blk/virtq.h"

#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "virtqueue fields are little-endian and are accessed natively here");

/* Ordering between our ring writes and the device's view of them. The
 * rings live in ordinary memory, so a plain fence orders them; the MMIO
 * notify that follows a publish is ordered by the transport. */
static inline void fence_full(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#define NO_NEXT 0xffffu

bool virtq_init(struct virtq *q, unsigned size, void *desc, void *avail, void *used)
{
    if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
        return false;
    if (!desc || !avail || !used || ((uintptr_t)desc & 15) || ((uintptr_t)avail & 1) ||
        ((uintptr_t)used & 3))
        return false;
    memset(q, 0, sizeof(*q));
    q->size = (uint16_t)size;
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    memset(desc, 0, virtq_desc_bytes(size));
    memset(avail, 0, virtq_avail_bytes(size));
    memset(used, 0, virtq_used_bytes(size));
    /* §2.7.4.1 leaves the free-descriptor bookkeeping to the driver: one
     * singly linked list threaded through the shadow next[] array. */
    for (unsigned i = 0; i < size; i++)
        q->next[i] = i + 1 < size ? (uint16_t)(i + 1) : NO_NEXT;
    q->free_head = 0;
    q->nfree = (uint16_t)size;
    return true;
}

enum virtq_err virtq_add(struct virtq *q, const struct virtq_buf *bufs, unsigned n, void *token,
                         uint16_t *id)
{
    if (q->broken)
        return VIRTQ_BROKEN;
    if (n == 0 || n > q->size)
        return VIRTQ_INVALID;
    uint64_t writable = 0;
    for (unsigned i = 0; i < n; i++) {
        if (bufs[i].len == 0)
            return VIRTQ_INVALID;
        if (bufs[i].device_writes)
            writable += bufs[i].len;
    }
    /* used.len is 32 bits: a chain the device could fill beyond that could
     * not be checked. */
    if (writable > UINT32_MAX)
        return VIRTQ_INVALID;
    if (n > q->nfree)
        return VIRTQ_FULL;

    /* §2.7.13.1: fill one descriptor per buffer, each pointing at the next
     * through `next` with F_NEXT set, the last one without. */
    uint16_t head = q->free_head, d = head;
    for (unsigned i = 0; i < n; i++) {
        uint16_t nx = q->next[d];
        volatile struct virtq_desc *vd = &q->desc[d];
        vd->addr = bufs[i].addr;
        vd->len = bufs[i].len;
        vd->flags = (uint16_t)((bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
                               (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        vd->next = i + 1 < n ? nx : 0;
        if (i + 1 < n)
            d = nx;
        else
            q->free_head = nx;
    }
    q->nfree = (uint16_t)(q->nfree - n);
    q->head[head].token = token;
    q->head[head].writable = (uint32_t)writable;
    q->head[head].ndesc = (uint16_t)n;
    q->head[head].published = false;

    /* §2.7.13.2: the head goes in the next avail-ring slot; the ring is
     * indexed modulo the queue size while idx itself runs freely to 65535
     * and wraps. The shadow copy is what virtq_publish reads back. */
    uint16_t slot = q->avail_idx & (uint16_t)(q->size - 1);
    q->avail->ring[slot] = head;
    q->avail_shadow[slot] = head;
    q->avail_idx++;
    *id = head;
    return VIRTQ_OK;
}

bool virtq_publish(struct virtq *q)
{
    if (q->avail_idx == q->published)
        return false;
    for (uint16_t i = q->published; i != q->avail_idx; i++) {
        uint16_t h = q->avail_shadow[i & (uint16_t)(q->size - 1)];
        q->head[h].published = true;
        q->inflight++;
    }
    if (q->inflight > q->max_inflight)
        q->max_inflight = q->inflight;
    /* §2.7.13.3: the ring entries must be visible before the index that
     * covers them; §2.7.13.4: and the index before we look at whether the
     * device wants a notification. */
    fence_full();
    q->avail->idx = q->avail_idx;
    q->published = q->avail_idx;
    fence_full();
    return !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
}

static void free_chain(struct virtq *q, uint16_t head)
{
    /* Walk our own links, not the descriptor table: the device could have
     * rewritten `next` fields there. */
    uint16_t d = head, n = q->head[head].ndesc;
    for (uint16_t i = 1; i < n; i++)
        d = q->next[d];
    q->next[d] = q->free_head;
    q->free_head = head;
    q->nfree = (uint16_t)(q->nfree + n);
    q->head[head].ndesc = 0;
    q->head[head].published = false;
    q->head[head].token = NULL;
}

void virtq_set_broken(struct virtq *q, enum virtq_lie why)
{
    if (!q->broken) {
        q->broken = true;
        q->lie = why;
    }
}

enum virtq_err virtq_get(struct virtq *q, void **token, uint16_t *id, uint32_t *len)
{
    if (q->broken)
        return VIRTQ_BROKEN;
    /* §2.7.14: used.idx says how far the device has filled the used ring.
     * Read it once; the device may be moving it as we look. */
    uint16_t used_idx = q->used->idx;
    uint16_t pending = (uint16_t)(used_idx - q->last_used);
    if (pending == 0)
        return VIRTQ_EMPTY;
    /* An honest device never has more completions outstanding than chains
     * we published; this also catches an idx that jumped by more than the
     * queue size, which would otherwise make us re-read stale entries. */
    if (pending > q->inflight) {
        virtq_set_broken(q, VIRTQ_LIE_USED_IDX);
        return VIRTQ_BROKEN;
    }
    /* The element must be read after the index that covers it. */
    fence_full();
    volatile struct virtq_used_elem *e = &q->used->ring[q->last_used & (uint16_t)(q->size - 1)];
    uint32_t eid = e->id, elen = e->len;
    if (eid >= q->size) {
        virtq_set_broken(q, VIRTQ_LIE_ID_RANGE);
        return VIRTQ_BROKEN;
    }
    if (q->head[eid].ndesc == 0 || !q->head[eid].published) {
        virtq_set_broken(q, VIRTQ_LIE_ID_IDLE);
        return VIRTQ_BROKEN;
    }
    q->last_used++;
    q->inflight--;
    uint32_t writable = q->head[eid].writable;
    *token = q->head[eid].token;
    *id = (uint16_t)eid;
    free_chain(q, (uint16_t)eid);
    if (elen > writable) {
        *len = writable;
        return VIRTQ_BAD_LEN;
    }
    *len = elen;
    return VIRTQ_OK;
}

bool virtq_cancel(struct virtq *q, void **token, uint16_t *id)
{
    for (unsigned h = 0; h < q->size; h++) {
        if (!q->head[h].ndesc)
            continue;
        if (q->head[h].published)
            q->inflight--;
        *token = q->head[h].token;
        *id = (uint16_t)h;
        free_chain(q, (uint16_t)h);
        return true;
    }
    return false;
}

const char *virtq_lie_str(enum virtq_lie lie)
{
    switch (lie) {
    case VIRTQ_LIE_NONE:
        return "none";
    case VIRTQ_LIE_USED_IDX:
        return "used index ran ahead of the requests in flight";
    case VIRTQ_LIE_ID_RANGE:
        return "completed an id outside the queue";
    case VIRTQ_LIE_ID_IDLE:
        return "completed an id that was not in flight";
    }
    return "?";
}
