/* The disk manager's protocol (managers/disk/disk.c) and inline calls for
 * its clients. The manager serves one endpoint; a reply's label is 0 or an
 * NS_ERR_* code, and on error word 0 holds the on-disk table's own reason
 * (enum dt_error, disk_table.h) when there is one, else 0:
 *   DT_ERR_EXISTS     -> NS_ERR_SLOT_OCCUPIED     (create: the id is taken)
 *   DT_ERR_NOT_FOUND  -> NS_ERR_INVALID_ARG       (no object with that id)
 *   DT_ERR_FULL, DT_ERR_NO_SPACE, DT_ERR_FRAGMENTED -> NS_ERR_NO_QUOTA
 *   DT_ERR_IO         -> NS_ERR_IO                (the table could not be written)
 *   not mounted       -> NS_ERR_BAD_STATE
 *
 *   DISK_CREATE   w0 id, w1 length in bytes, [w2 tag, w3 flags: DT_OBJ_PATTERN
 *                 only - a mark for scripts/mkdisk check --data]. The object's
 *                 sectors are zeroed and the table is durable before the reply.
 *                 Reply: one capability (the object, READ|WRITE), w0 length.
 *   DISK_OPEN     w0 id. Reply: one capability (the same object as every other
 *                 open of it, READ|WRITE), w0 length.
 *   DISK_DELETE   w0 id. Every capability to the object is revoked; the table
 *                 is durable without it before the reply.
 *   DISK_STAT     w0 id. Reply w0 length, w1 pages, w2 runs, w3 flags; words
 *                 4 tag, 5 page requests served for it, 6 maps built for it,
 *                 7 live (a memory object exists now), 8.. the runs as
 *                 (first sector, sectors) pairs relative to the manager's key.
 *   DISK_LIST     w0 first index. Reply w0 objects in all, w1 n returned (at
 *                 most DISK_LIST_MAX), then n (id, length) pairs from word 2.
 *   DISK_STATS    Reply w0 page requests served, w1 pages the manager supplied
 *                 itself, w2 maps built, w3 mount result (enum dt_error; 0:
 *                 mounted), words 4 table generation, 5 objects, 6 free
 *                 sectors, 7 sectors of the range, 8 live objects, 9 1 if it
 *                 formatted the range at start.
 *   DISK_DISCARD_MAP  w0 id: drop the object's storage map now, as memory
 *                 pressure would (tests: the next fault must rebuild it).
 *                 Reply w0 1 if there was a map. With w1 = 1, break it
 *                 instead: every key in it is revoked, so the next faults
 *                 reach the manager flagged BAD_MAP (it supplies them and
 *                 rebuilds the map).
 *
 * Starting it (ns_spawn, resident - no pager - with DISK_FREE_SLOTS free
 * slots): slot DISK_SLOT_EP the endpoint it serves, DISK_SLOT_KEY a
 * disk-range key (READ|WRITE) for the range it owns, DISK_SLOT_BANK
 * (optional) the bank its objects, their pages and map frames are charged
 * to (else its own). Argument word: DISK_ARG_FORMAT formats the range if it
 * holds no superblock. The first DISK_STATS call returns once it serves. */
#ifndef NEWSYS_MANAGERS_DISK_CLIENT_H
#define NEWSYS_MANAGERS_DISK_CLIENT_H

#include "managers/disk/disk_table.h"
#include "user/rt/newsys.h"

#define DISK_CREATE      1
#define DISK_OPEN        2
#define DISK_DELETE      3
#define DISK_STAT        4
#define DISK_LIST        5
#define DISK_STATS       6
#define DISK_DISCARD_MAP 7

#define DISK_SLOT_EP   5 /* NS_SLOT_FIRST_GIVEN */
#define DISK_SLOT_KEY  6
#define DISK_SLOT_BANK 7

#define DISK_ARG_FORMAT 1u

#define DISK_LIST_MAX   31
#define DISK_FREE_SLOTS (DT_MAX_OBJECTS + 64 + 64)

struct disk_stat {
    uint64_t length, pages, nruns, flags, tag, requests, maps, live;
    struct dt_run run[DT_MAX_RUNS];
};

struct disk_stats {
    uint64_t requests, supplied, maps, mount, generation, objects, free_sectors, sectors, live,
        formatted;
};

/* Receive one capability into `dst` for the call: returns the call's error
 * or the reply's label; *dt the table's reason on error, if asked. */
static inline long disk_call_cap(unsigned long ep, struct ns_msg *m, unsigned long dst)
{
    struct ns_ipc_buffer *b = ns_ipc_buffer();
    uint64_t saved_slot = b->recv_slots[0], saved_count = b->recv_count;
    b->recv_slots[0] = dst;
    b->recv_count = dst ? 1 : 0;
    long e = ns_call(ep, m);
    b->recv_slots[0] = saved_slot;
    b->recv_count = saved_count;
    if (e == NS_OK && NS_MSG_LABEL(m->info))
        e = NS_MSG_LABEL(m->info) < NS_ERR_COUNT ? (long)NS_MSG_LABEL(m->info) : NS_ERR_INVALID_ARG;
    else if (e == NS_OK && dst && NS_MSG_CAPS(m->info) != 1)
        e = NS_ERR_INVALID_ARG; /* a manager's reply is not to be trusted */
    return e;
}

/* Create object `id` of `length` bytes; its capability into `dst`. */
static inline long disk_create(unsigned long ep, uint64_t id, uint64_t length, uint64_t tag,
                               uint32_t flags, unsigned long dst, uint32_t *dt)
{
    struct ns_msg m = {.info = NS_MSG_INFO(DISK_CREATE, 4, 0), .w = {id, length, tag, flags}};
    long e = disk_call_cap(ep, &m, dst);
    if (dt)
        *dt = e == NS_OK ? 0 : (uint32_t)m.w[0];
    return e;
}

static inline long disk_open(unsigned long ep, uint64_t id, unsigned long dst, uint64_t *length,
                             uint32_t *dt)
{
    struct ns_msg m = {.info = NS_MSG_INFO(DISK_OPEN, 1, 0), .w = {id}};
    long e = disk_call_cap(ep, &m, dst);
    if (length)
        *length = e == NS_OK ? m.w[0] : 0;
    if (dt)
        *dt = e == NS_OK ? 0 : (uint32_t)m.w[0];
    return e;
}

static inline long disk_delete(unsigned long ep, uint64_t id, uint32_t *dt)
{
    struct ns_msg m = {.info = NS_MSG_INFO(DISK_DELETE, 1, 0), .w = {id}};
    long e = disk_call_cap(ep, &m, 0);
    if (dt)
        *dt = e == NS_OK ? 0 : (uint32_t)m.w[0];
    return e;
}

static inline long disk_stat(unsigned long ep, uint64_t id, struct disk_stat *st)
{
    struct ns_msg m = {.info = NS_MSG_INFO(DISK_STAT, 1, 0), .w = {id}};
    *st = (struct disk_stat){0}; /* always written: zeros on error */
    long e = disk_call_cap(ep, &m, 0);
    if (e != NS_OK)
        return e;
    const uint64_t *mr = ns_ipc_buffer()->mr;
    *st = (struct disk_stat){.length = m.w[0],
                             .pages = m.w[1],
                             .nruns = m.w[2],
                             .flags = m.w[3],
                             .tag = mr[4],
                             .requests = mr[5],
                             .maps = mr[6],
                             .live = mr[7]};
    if (st->nruns > DT_MAX_RUNS || NS_MSG_LEN(m.info) < 8 + 2 * st->nruns)
        return NS_ERR_INVALID_ARG;
    for (uint64_t r = 0; r < st->nruns; r++)
        st->run[r] = (struct dt_run){mr[8 + 2 * r], mr[9 + 2 * r]};
    return NS_OK;
}

/* Up to `max` (id, length) pairs from index `first`; *total objects in all. */
static inline long disk_list(unsigned long ep, uint64_t first, uint64_t *ids, uint64_t *lengths,
                             unsigned max, unsigned *n, uint64_t *total)
{
    struct ns_msg m = {.info = NS_MSG_INFO(DISK_LIST, 1, 0), .w = {first}};
    *n = 0;
    *total = 0;
    long e = disk_call_cap(ep, &m, 0);
    if (e != NS_OK)
        return e;
    const uint64_t *mr = ns_ipc_buffer()->mr;
    *total = m.w[0];
    uint64_t got = m.w[1];
    if (got > DISK_LIST_MAX || NS_MSG_LEN(m.info) < 2 + 2 * got)
        return NS_ERR_INVALID_ARG;
    for (uint64_t k = 0; k < got && k < max; k++) {
        ids[k] = k < 1 ? m.w[2] : mr[2 + 2 * k];
        lengths[k] = k < 1 ? m.w[3] : mr[3 + 2 * k];
        (*n)++;
    }
    return NS_OK;
}

static inline long disk_stats(unsigned long ep, struct disk_stats *s)
{
    struct ns_msg m = {.info = NS_MSG_INFO(DISK_STATS, 0, 0)};
    *s = (struct disk_stats){0}; /* always written: zeros on error */
    long e = disk_call_cap(ep, &m, 0);
    if (e != NS_OK)
        return e;
    const uint64_t *mr = ns_ipc_buffer()->mr;
    *s = (struct disk_stats){m.w[0], m.w[1], m.w[2], m.w[3], mr[4],
                             mr[5],  mr[6],  mr[7],  mr[8],  mr[9]};
    return NS_OK;
}

static inline long disk_discard_map(unsigned long ep, uint64_t id, int revoke_keys, uint64_t *had)
{
    struct ns_msg m = {.info = NS_MSG_INFO(DISK_DISCARD_MAP, 2, 0),
                       .w = {id, revoke_keys ? 1u : 0u}};
    long e = disk_call_cap(ep, &m, 0);
    if (had)
        *had = e == NS_OK ? m.w[0] : 0;
    return e;
}

#endif
