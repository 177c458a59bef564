/* disk: the disk manager - persistent memory objects on a range of a disk.
 *
 * It owns the sectors of one disk-range key and keeps on them a small
 * object table (disk_table.h: object id -> length and runs of sectors, two
 * CRC'd copies so a torn update falls back to the previous one). Clients
 * create, open, delete, stat and list objects by id (protocol in
 * disk_client.h); create and delete are acknowledged only once the table
 * (and, for create, the zeroed sectors before it) is flushed to the device,
 * so what a client was told survives a crash or reboot.
 *
 * Each object opened is a memory object this manager manages, with a
 * storage map (frames/storage_map.h) built from the object's runs: a tree
 * of object frames whose slots hold keys derived from the manager's own,
 * each covering its slot's whole span (dt_map_build plans it). With the
 * map installed the kernel reads the object's pages from the disk itself,
 * so a mapped page costs the manager nothing - it counts the requests it
 * does serve, and DISK_STATS shows them. The kernel may drop a map (memory
 * pressure, or DISK_DISCARD_MAP); the next fault then reaches the manager
 * flagged NO_MAP and the manager rebuilds and reinstalls the map, after
 * which the kernel reads the waiting pages itself. A request flagged
 * BAD_MAP (a key failed its check) is answered with data the manager reads
 * through its key, and the map is rebuilt. A page past the length is
 * failed as out of range (the kernel should not ask).
 *
 * Map frames and keys live only in the map: the manager deletes its own
 * capabilities to them once stored, so when the kernel drops the map (or
 * the object goes) the frames go back to the bank. The keys are derived
 * from one key per object covering its runs, which the manager keeps:
 * revoking it when the object is deleted leaves no key to its sectors
 * anywhere, before they are given to another object.
 *
 * Two threads, like the zero-fill manager: the main thread serves the
 * endpoint, the pager thread waits on the objects' notifications (64
 * badged groups) and serves page requests; a lock keeps the table, the
 * object list and the slot allocator to one of them at a time. The
 * manager runs from resident memory and touches all of it first. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "managers/disk/disk_client.h"
#include "managers/disk/disk_table.h"
#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define GROUPS      64
#define PAGER_STACK 16384
#define MAX_FRAMES  256 /* frames one map build may make */
#define READAHEAD   16  /* pages per kernel read through the map */

/* An object with a memory object now (opened or created this boot). */
struct live {
    uint64_t id;
    unsigned long mgr; /* the MANAGE capability; 0: entry free */
    /* A key of our own for the hull of the object's runs (0 for an empty
     * object): the map's keys are derived from it, so revoking it takes
     * every key of every map of the object at once. */
    unsigned long key;
    uint64_t key_first;
    uint64_t length;
    uint64_t requests, maps;
};

static struct dt_table table, work;
static uint8_t scratch[DT_TABLE_BYTES] __attribute__((aligned(4096)));
static uint8_t pagebuf[DT_PAGE_SIZE] __attribute__((aligned(4096)));
static struct live live[DT_MAX_OBJECTS];
static struct ns_page_request req[32];
static uint8_t pager_stack[PAGER_STACK] __attribute__((aligned(4096)));

static unsigned long ntfn, group_ntfn[GROUPS], bank = NS_SLOT_ROOT_BANK;
static uint64_t key_sectors;
static enum dt_error mount_result = DT_ERR_NO_TABLE;
static bool formatted;
static uint64_t served, supplied, maps_built;
static volatile int lock_word;

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        ns_yield();
}

static void unlock(void)
{
    __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

/* ---- the disk through the key ---- */

static int key_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    (void)ctx;
    for (uint32_t done = 0; done < count;) {
        uint32_t n = count - done < NS_DISK_IO_MAX_SECTORS ? count - done : NS_DISK_IO_MAX_SECTORS;
        if (ns_diskrange_read(DISK_SLOT_KEY, sector + done, n, (uint8_t *)buf + done * 512u))
            return -1;
        done += n;
    }
    return 0;
}

static int key_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    (void)ctx;
    for (uint32_t done = 0; done < count;) {
        uint32_t n = count - done < NS_DISK_IO_MAX_SECTORS ? count - done : NS_DISK_IO_MAX_SECTORS;
        if (ns_diskrange_write(DISK_SLOT_KEY, sector + done, n, (const uint8_t *)buf + done * 512u))
            return -1;
        done += n;
    }
    return 0;
}

static int key_flush(void *ctx)
{
    (void)ctx;
    return ns_diskrange_flush(DISK_SLOT_KEY) ? -1 : 0;
}

static const struct dt_io io = {NULL, key_read, key_write, key_flush};

/* Zero an object's sectors (they may hold a deleted object's data) and
 * flush, so the table that will point at them never does so first. */
static long zero_runs(const struct dt_object *o)
{
    memset(scratch, 0, sizeof(scratch));
    for (uint32_t r = 0; r < o->nruns; r++)
        for (uint64_t s = 0; s < o->run[r].sectors; s += DT_TABLE_SECTORS) {
            uint64_t n = o->run[r].sectors - s;
            if (key_write(NULL, o->run[r].start + s,
                          (uint32_t)(n < DT_TABLE_SECTORS ? n : DT_TABLE_SECTORS), scratch))
                return NS_ERR_IO;
        }
    return key_flush(NULL) ? NS_ERR_IO : NS_OK;
}

/* ---- storage maps ---- */

struct build {
    unsigned long frames[MAX_FRAMES];
    unsigned nframes;
    unsigned long key; /* the object's key, covering sectors from key_first */
    uint64_t key_first;
};

static long b_frame(void *ctx, unsigned level, uint64_t *handle)
{
    (void)level;
    struct build *b = ctx;
    unsigned long s;
    long e;
    if (b->nframes == MAX_FRAMES)
        return NS_ERR_NO_QUOTA;
    if ((e = ns_slot_alloc(&s)) != NS_OK)
        return e;
    if ((e = ns_objframe_create(bank, s)) != NS_OK) {
        ns_slot_free(s);
        return e;
    }
    b->frames[b->nframes++] = s;
    *handle = s;
    return NS_OK;
}

static long b_key(void *ctx, uint64_t parent, unsigned slot, uint64_t sector, uint64_t sectors)
{
    struct build *b = ctx;
    unsigned long s;
    long e = ns_slot_alloc(&s);
    if (e != NS_OK)
        return e;
    e = ns_diskrange_derive(b->key, s, sector - b->key_first, sectors,
                            NS_RIGHT_READ | NS_RIGHT_WRITE);
    if (e == NS_OK)
        e = ns_objframe_store(parent, slot, s, NS_RIGHT_READ | NS_RIGHT_WRITE);
    ns_slot_free(s); /* the frame's copy stays (a derivation child of ours) */
    return e;
}

static long b_child(void *ctx, uint64_t parent, unsigned slot, uint64_t child)
{
    (void)ctx;
    return ns_objframe_store(parent, slot, child, NS_RIGHTS_ALL);
}

/* Build the map of `o` and install it on `mgr`, with keys derived from
 * `key` (which starts at sector `key_first`). Only the map holds its frames
 * afterwards. */
static long install_map(const struct dt_object *o, unsigned long mgr, unsigned long key,
                        uint64_t key_first)
{
    static struct build b;
    b.nframes = 0;
    b.key = key;
    b.key_first = key_first;
    const struct dt_map_ops ops = {&b, b_frame, b_key, b_child};
    uint64_t root = 0;
    unsigned height;
    long e = dt_map_build(o, &ops, &root, &height);
    if (e == NS_OK && height)
        e = ns_memobj_set_map(mgr, root, height);
    /* Every frame is stored in its parent or (the root) in the kernel's
     * map now, or the build failed: either way our capabilities go. */
    for (unsigned i = 0; i < b.nframes; i++)
        ns_slot_free(b.frames[i]);
    if (e == NS_OK)
        maps_built++;
    return e;
}

/* ---- objects ---- */

static struct live *find_live(uint64_t id)
{
    for (unsigned i = 0; i < DT_MAX_OBJECTS; i++)
        if (live[i].mgr && live[i].id == id)
            return &live[i];
    return NULL;
}

static void forget(struct live *l)
{
    ns_cap_revoke(l->mgr); /* every client's copy */
    ns_slot_free(l->mgr);  /* and the object, with its map and pages */
    if (l->key) {
        ns_cap_revoke(l->key); /* no key to these sectors stays anywhere */
        ns_slot_free(l->key);
    }
    *l = (struct live){0};
}

/* The memory object for table object `o`, made now if need be. */
static long instantiate(const struct dt_object *o, struct live **out)
{
    struct live *l = find_live(o->id);
    struct ns_cap_info ci;
    if (l && ns_cap_identify(l->mgr, &ci) == NS_OK) {
        *out = l;
        return NS_OK;
    }
    /* Gone without us (the bank it was charged to was destroyed): it is
     * made again from the table. */
    if (l)
        forget(l);
    unsigned i = 0;
    while (i < DT_MAX_OBJECTS && live[i].mgr)
        i++;
    if (i == DT_MAX_OBJECTS)
        return NS_ERR_NO_QUOTA; /* cannot be: one entry per table object */
    unsigned g = i % GROUPS;
    long e;
    if (!group_ntfn[g]) {
        unsigned long s;
        if ((e = ns_slot_alloc(&s)) != NS_OK)
            return e;
        if ((e = ns_cap_mint(ntfn, s, NS_RIGHT_WRITE, 1ull << g)) != NS_OK) {
            ns_slot_free(s);
            return e;
        }
        group_ntfn[g] = s;
    }
    unsigned long mgr, key = 0;
    uint64_t first = UINT64_MAX, end = 0;
    for (uint32_t r = 0; r < o->nruns; r++) {
        first = o->run[r].start < first ? o->run[r].start : first;
        end = o->run[r].start + o->run[r].sectors > end ? o->run[r].start + o->run[r].sectors : end;
    }
    if ((e = ns_slot_alloc(&mgr)) != NS_OK)
        return e;
    if (o->nruns && (e = ns_slot_alloc(&key)) == NS_OK &&
        (e = ns_diskrange_derive(DISK_SLOT_KEY, key, first, end - first,
                                 NS_RIGHT_READ | NS_RIGHT_WRITE)) != NS_OK) {
        ns_slot_free(key);
        key = 0;
    }
    if (e == NS_OK && (e = ns_memobj_create(bank, mgr, o->length, group_ntfn[g])) == NS_OK &&
        (e = ns_memobj_control(mgr, NS_MEMOBJ_CTL_READAHEAD, READAHEAD, NULL)) == NS_OK)
        e = install_map(o, mgr, key, first);
    if (e != NS_OK) {
        ns_slot_free(mgr); /* the last capability: the object goes */
        if (key)
            ns_slot_free(key);
        return e;
    }
    live[i] =
        (struct live){.id = o->id, .mgr = mgr, .key = key, .key_first = first, .length = o->length};
    *out = &live[i];
    return NS_OK;
}

/* Read page `page` of `o` through the key and supply it. */
static long supply_from_disk(const struct dt_object *o, unsigned long mgr, uint64_t page)
{
    uint64_t sector, contig;
    long e;
    if (dt_locate(o, page, &sector, &contig) != DT_OK) {
        e = ns_memobj_supply(mgr, page, 1, NULL); /* unallocated: zeros */
    } else if (ns_diskrange_read(DISK_SLOT_KEY, sector, DT_SECTORS_PER_PAGE, pagebuf)) {
        return ns_memobj_fail(mgr, page, 1, NS_ERR_IO);
    } else {
        e = ns_memobj_supply(mgr, page, 1, pagebuf);
    }
    if (e == NS_OK)
        supplied++;
    return e;
}

/* Under the lock: every pending request of one object. */
static void serve(struct live *l)
{
    const struct dt_object *o = dt_find(&table, l->id);
    unsigned long n;
    bool rebuilt = false;
    while (ns_memobj_requests(l->mgr, req, 32, &n) == NS_OK && n) {
        for (unsigned long k = 0; k < n; k++) {
            served++;
            l->requests++;
            uint64_t first = req[k].first_page, pages = req[k].pages;
            uint64_t end = dt_pages(l->length);
            if (!o || first >= end || pages > end - first) {
                ns_memobj_fail(l->mgr, first, pages, NS_ERR_RANGE);
                continue;
            }
            if (req[k].flags & NS_PAGE_REQ_BAD_MAP)
                for (uint64_t p = first; p < first + pages; p++)
                    supply_from_disk(o, l->mgr, p);
            if (rebuilt)
                continue; /* the new map serves what is still waiting */
            /* The map is gone or broken: rebuild it; installing it makes
             * the kernel read every page still asked for. */
            if (install_map(o, l->mgr, l->key, l->key_first) == NS_OK) {
                rebuilt = true;
                l->maps++;
            } else {
                for (uint64_t p = first; p < first + pages; p++)
                    supply_from_disk(o, l->mgr, p);
            }
        }
    }
}

static void pager(unsigned long unused)
{
    (void)unused;
    for (;;) {
        uint64_t bits;
        if (ns_wait(ntfn, &bits) != NS_OK)
            continue;
        lock();
        for (unsigned g = 0; g < GROUPS; g++)
            if (bits & (1ull << g))
                for (unsigned i = g; i < DT_MAX_OBJECTS; i += GROUPS)
                    if (live[i].mgr)
                        serve(&live[i]);
        unlock();
    }
}

/* ---- requests on the endpoint ---- */

static long dt_to_ns(enum dt_error e)
{
    switch (e) {
    case DT_OK:
        return NS_OK;
    case DT_ERR_EXISTS:
        return NS_ERR_SLOT_OCCUPIED;
    case DT_ERR_FULL:
    case DT_ERR_NO_SPACE:
    case DT_ERR_FRAGMENTED:
        return NS_ERR_NO_QUOTA;
    case DT_ERR_IO:
        return NS_ERR_IO;
    default:
        return NS_ERR_INVALID_ARG;
    }
}

/* Reply helpers: set the message for the reply. */
static int reply_err(struct ns_msg *m, long e, enum dt_error dt)
{
    m->info = NS_MSG_INFO(e, 1, 0);
    m->w[0] = dt;
    return 0;
}

/* A client copy of `l` into a fresh slot, to go with the reply. */
static long give(struct live *l, struct ns_msg *m, unsigned long *client)
{
    long e = ns_slot_alloc(client);
    if (e == NS_OK && (e = ns_cap_copy(l->mgr, *client, NS_RIGHT_READ | NS_RIGHT_WRITE))) {
        ns_slot_free(*client);
        *client = 0;
    }
    if (e != NS_OK)
        return e;
    ns_ipc_buffer()->send_caps[0] = *client;
    m->info = NS_MSG_INFO(0, 1, 1);
    m->w[0] = l->length;
    return NS_OK;
}

static int op_create(struct ns_msg *m, unsigned long *client)
{
    uint64_t id = m->w[0], length = m->w[1];
    uint64_t tag = NS_MSG_LEN(m->info) >= 3 ? m->w[2] : 0;
    uint32_t flags = NS_MSG_LEN(m->info) >= 4 ? (uint32_t)m->w[3] : 0;
    if (NS_MSG_LEN(m->info) < 2 || (NS_MSG_LEN(m->info) >= 4 && m->w[3] > DT_OBJ_FLAGS))
        return reply_err(m, NS_ERR_INVALID_ARG, DT_ERR_ARG);
    work = table;
    struct dt_object *o;
    enum dt_error dt = dt_create(&work, id, length, flags, tag, &o);
    long e = dt_to_ns(dt);
    if (e == NS_OK && (e = zero_runs(o)) != NS_OK)
        dt = DT_ERR_IO;
    if (e == NS_OK && (dt = dt_commit(&io, &work, scratch)) != DT_OK)
        e = dt_to_ns(dt);
    if (e != NS_OK)
        return reply_err(m, e, dt);
    table = work;
    struct live *l;
    if ((e = instantiate(dt_find(&table, id), &l)) != NS_OK || (e = give(l, m, client)) != NS_OK)
        return reply_err(m, e, DT_OK); /* on disk, but no memory object now */
    return 0;
}

static int op_open(struct ns_msg *m, unsigned long *client)
{
    const struct dt_object *o = NS_MSG_LEN(m->info) >= 1 ? dt_find(&table, m->w[0]) : NULL;
    struct live *l;
    long e;
    if (!o)
        return reply_err(m, NS_ERR_INVALID_ARG, DT_ERR_NOT_FOUND);
    if ((e = instantiate(o, &l)) != NS_OK || (e = give(l, m, client)) != NS_OK)
        return reply_err(m, e, DT_OK);
    return 0;
}

static int op_delete(struct ns_msg *m)
{
    if (NS_MSG_LEN(m->info) < 1 || !dt_find(&table, m->w[0]))
        return reply_err(m, NS_ERR_INVALID_ARG, DT_ERR_NOT_FOUND);
    uint64_t id = m->w[0];
    work = table;
    dt_delete(&work, id);
    enum dt_error dt = dt_commit(&io, &work, scratch);
    if (dt != DT_OK)
        return reply_err(m, dt_to_ns(dt), dt);
    table = work;
    /* Only now that the table no longer names its sectors (and before any
     * create may reuse them: creates run on this thread) the object goes. */
    struct live *l = find_live(id);
    if (l)
        forget(l);
    m->info = NS_MSG_INFO(0, 0, 0);
    return 0;
}

static int op_stat(struct ns_msg *m)
{
    const struct dt_object *o = NS_MSG_LEN(m->info) >= 1 ? dt_find(&table, m->w[0]) : NULL;
    if (!o)
        return reply_err(m, NS_ERR_INVALID_ARG, DT_ERR_NOT_FOUND);
    const struct live *l = find_live(o->id);
    uint64_t *mr = ns_ipc_buffer()->mr;
    m->w[0] = o->length;
    m->w[1] = dt_pages(o->length);
    m->w[2] = o->nruns;
    m->w[3] = o->flags;
    mr[4] = o->tag;
    mr[5] = l ? l->requests : 0;
    mr[6] = l ? l->maps : 0;
    mr[7] = l != NULL;
    for (uint32_t r = 0; r < o->nruns; r++) {
        mr[8 + 2 * r] = o->run[r].start;
        mr[9 + 2 * r] = o->run[r].sectors;
    }
    m->info = NS_MSG_INFO(0, 8 + 2 * o->nruns, 0);
    return 0;
}

static int op_list(struct ns_msg *m)
{
    uint64_t first = NS_MSG_LEN(m->info) >= 1 ? m->w[0] : 0, n = 0;
    uint64_t *mr = ns_ipc_buffer()->mr;
    for (uint64_t i = first; i < table.count && n < DISK_LIST_MAX; i++, n++) {
        uint64_t *id = n ? &mr[2 + 2 * n] : &m->w[2], *len = n ? &mr[3 + 2 * n] : &m->w[3];
        *id = table.obj[i].id;
        *len = table.obj[i].length;
    }
    m->w[0] = table.count;
    m->w[1] = n;
    m->info = NS_MSG_INFO(0, 2 + 2 * n, 0);
    return 0;
}

static int op_stats(struct ns_msg *m)
{
    uint64_t *mr = ns_ipc_buffer()->mr, nlive = 0;
    for (unsigned i = 0; i < DT_MAX_OBJECTS; i++)
        nlive += live[i].mgr != 0;
    m->w[0] = served;
    m->w[1] = supplied;
    m->w[2] = maps_built;
    m->w[3] = mount_result;
    mr[4] = table.generation;
    mr[5] = table.count;
    mr[6] = mount_result == DT_OK ? dt_free_sectors(&table) : 0;
    mr[7] = key_sectors;
    mr[8] = nlive;
    mr[9] = formatted;
    m->info = NS_MSG_INFO(0, 10, 0);
    return 0;
}

static int op_discard(struct ns_msg *m)
{
    struct live *l = NS_MSG_LEN(m->info) >= 1 ? find_live(m->w[0]) : NULL;
    uint64_t had = 0;
    long e = NS_ERR_INVALID_ARG;
    if (l && NS_MSG_LEN(m->info) >= 2 && m->w[1] == 1) {
        /* Break the map instead: its keys are revoked, the frames stay. */
        e = l->key ? ns_cap_revoke(l->key) : NS_ERR_BAD_STATE;
        had = 1;
    } else if (l) {
        e = ns_memobj_control(l->mgr, NS_MEMOBJ_CTL_DISCARD_MAP, 0, &had);
    }
    if (e != NS_OK)
        return reply_err(m, e, l ? DT_OK : DT_ERR_NOT_FOUND);
    m->info = NS_MSG_INFO(0, 1, 0);
    m->w[0] = had;
    return 0;
}

static int handle(struct ns_msg *m, unsigned long *client)
{
    uint64_t label = NS_MSG_LABEL(m->info);
    if (label == DISK_STATS)
        return op_stats(m);
    if (mount_result != DT_OK)
        return reply_err(m, NS_ERR_BAD_STATE, mount_result);
    switch (label) {
    case DISK_CREATE:
        return op_create(m, client);
    case DISK_OPEN:
        return op_open(m, client);
    case DISK_DELETE:
        return op_delete(m);
    case DISK_STAT:
        return op_stat(m);
    case DISK_LIST:
        return op_list(m);
    case DISK_DISCARD_MAP:
        return op_discard(m);
    default:
        return reply_err(m, NS_ERR_INVALID_ARG, DT_OK);
    }
}

/* ---- start-up ---- */

extern char __ns_data_start[], __ns_end[];

static void touch_everything(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    ns_touch(__ns_data_start, (size_t)(__ns_end - __ns_data_start), 1);
    if (pi)
        ns_touch((void *)(uintptr_t)(pi->stack_top - pi->stack_pages * 4096),
                 pi->stack_pages * 4096, 1);
}

static void mount(void)
{
    uint64_t disk, first;
    if (ns_diskrange_info(DISK_SLOT_KEY, &disk, &first, &key_sectors) != NS_OK) {
        printf("disk: no disk-range key\n");
        mount_result = DT_ERR_ARG;
        return;
    }
    struct dt_mount_report rep;
    mount_result = dt_mount(&io, key_sectors, scratch, &table, &rep);
    const struct ns_procinfo *pi = ns_procinfo();
    if (mount_result == DT_ERR_MAGIC && pi && (pi->arg & DISK_ARG_FORMAT)) {
        mount_result = dt_format(&io, key_sectors, scratch, &table);
        formatted = mount_result == DT_OK;
    }
    if (mount_result == DT_OK) {
        printf("disk: disk %lu sectors %lu+%lu: %s, generation %lu, %u objects, %lu sectors "
               "free\n",
               (unsigned long)disk, (unsigned long)first, (unsigned long)key_sectors,
               formatted ? "formatted" : "mounted", (unsigned long)table.generation,
               (unsigned)table.count, (unsigned long)dt_free_sectors(&table));
        /* A bad copy is what a crash during an update leaves: say so. */
        for (int c = 0; c < 2 && !formatted; c++)
            if (rep.copy[c] != DT_OK)
                printf("disk: table copy %d: %s; mounted copy %d\n", c, dt_strerror(rep.copy[c]),
                       rep.chosen);
    } else
        printf("disk: disk %lu sectors %lu+%lu: not mounted: %s (superblock %s, copies %s, %s)\n",
               (unsigned long)disk, (unsigned long)first, (unsigned long)key_sectors,
               dt_strerror(mount_result), dt_strerror(rep.super), dt_strerror(rep.copy[0]),
               dt_strerror(rep.copy[1]));
}

int main(void)
{
    touch_everything();
    struct ns_cap_info ci;
    if (ns_cap_identify(DISK_SLOT_BANK, &ci) == NS_OK && ci.type == NS_CAP_BANK)
        bank = DISK_SLOT_BANK;
    mount();
    unsigned long pager_thread;
    if (ns_slot_alloc(&ntfn) || ns_notification_create(NS_SLOT_ROOT_BANK, ntfn) ||
        ns_slot_alloc(&pager_thread) ||
        ns_thread_create(NS_SLOT_ROOT_BANK, pager_thread, NS_SLOT_SELF_CSPACE,
                         NS_SLOT_SELF_ASPACE) ||
        ns_thread_start_fn(pager_thread, pager, (uint64_t)(uintptr_t)(pager_stack + PAGER_STACK),
                           0)) {
        printf("disk: cannot start\n");
        return 1;
    }
    struct ns_msg m = {0};
    unsigned long client = 0;
    long e = ns_recv(DISK_SLOT_EP, &m);
    for (;;) {
        lock();
        /* The last client has its copy now. (Under the lock: the pager
         * allocates slots too.) */
        if (client)
            ns_slot_free(client);
        client = 0;
        if (e == NS_OK)
            handle(&m, &client);
        unlock();
        e = e == NS_OK ? ns_reply_recv(DISK_SLOT_EP, &m) : ns_recv(DISK_SLOT_EP, &m);
    }
}
