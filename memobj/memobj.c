/* Memory objects: creation, mapping, the fault path and the manager's
 * operations (see memobj.h and docs/memory-objects.md).
 *
 * Memory: an object's page-cache nodes, page records, reverse-map entries
 * and frames are charged to the object's bank (the manager's); mapping
 * nodes to the address space's bank. All come from type-stable slab caches
 * (kmem.h), so accounting is exact and a failed allocation is a typed
 * error with nothing changed. */
#include "memobj/memobj.h"

#include "memobj/clock.h"

#include <string.h>

#include "include/newsys/caps.h"
#include "include/newsys/ipc.h"
#include "include/newsys/syscall.h"
#include "frames/storage_map.h"
#include "include/newsys/bootinfo.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/pte.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/core/aspace.h"
#include "kernel/console/console.h"
#include "kernel/core/bank.h"
#include "kernel/core/ipc.h"
#include "kernel/core/kmem.h"
#include "kernel/core/notification.h"
#include "kernel/core/waitq.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"
#include "kernel/core/thread.h"
#include "virtio-blk/blk.h"

#define SUPPLY_MAX_PAGES 64 /* per call: bounds the work and the kernel stack */

static struct kcache memobj_cache = KCACHE_INIT("memobj", struct memobj);
static struct kcache request_cache = KCACHE_INIT("page_request", struct page_request);
static struct kcache mapping_cache = KCACHE_INIT("mapping", struct mapping);

/* Size classes for the page cache's nodes and records: reverse-map
 * entries (24 bytes), page records (64), nodes (576). */
static struct kcache small_caches[] = {
    {.name = "pc32", .size = 32},
    {.name = "pc64", .size = 64},
    {.name = "pc128", .size = 128},
    {.name = "pc576", .size = 576},
};

static struct kcache *small_cache(size_t size)
{
    if (size <= 32) /* the reverse-map entry of every minor fault first */
        return &small_caches[0];
    for (unsigned i = 1; i < sizeof(small_caches) / sizeof(small_caches[0]); i++)
        if (size <= small_caches[i].size)
            return &small_caches[i];
    return NULL;
}

/* Objects with outstanding requests sit on this list, which the timer tick
 * walks to fail requests past their deadline and those of dead managers. */
static struct memobj *pending_list;
static uint64_t timebase_hz = 10000000;

#define DEFAULT_DEADLINE_US 1000000

void memobj_set_timebase(uint64_t hz)
{
    timebase_hz = hz;
}

static uint64_t us_to_ticks(uint64_t us)
{
    return (uint64_t)((unsigned __int128)us * timebase_hz / 1000000);
}

static void pending_track(struct memobj *mo)
{
    if (mo->on_pending_list)
        return;
    mo->pending_prev = NULL;
    mo->pending_next = pending_list;
    if (pending_list)
        pending_list->pending_prev = mo;
    pending_list = mo;
    mo->on_pending_list = true;
}

static void pending_untrack(struct memobj *mo)
{
    if (!mo->on_pending_list)
        return;
    if (mo->pending_prev)
        mo->pending_prev->pending_next = mo->pending_next;
    else
        pending_list = mo->pending_next;
    if (mo->pending_next)
        mo->pending_next->pending_prev = mo->pending_prev;
    mo->on_pending_list = false;
}

static uint64_t pages_of(uint64_t bytes)
{
    return (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
}

/* ---- page cache memory, charged to the object's bank ---- */

static void *pc_alloc(size_t size, void *ctx)
{
    struct memobj *mo = ctx;
    struct kcache *c = small_cache(size);
    if (!c || bank_charge(mo->obj.bank, c->size) != NS_OK)
        return NULL;
    /* page_cache.c initialises all it uses: no clearing here. */
    void *p = kcache_alloc_uninit(c);
    if (!p)
        bank_uncharge(mo->obj.bank, c->size);
    return p;
}

static void pc_free(void *p, size_t size, void *ctx)
{
    struct memobj *mo = ctx;
    struct kcache *c = small_cache(size);
    kcache_free(c, p);
    bank_uncharge(mo->obj.bank, c->size);
}

/* ---- mapping nodes, charged to the address space's bank ---- */

static struct mapping *map_alloc(void *ctx)
{
    struct aspace *as = ctx;
    if (bank_charge(as->obj.bank, mapping_cache.size) != NS_OK)
        return NULL;
    struct mapping *m = kcache_alloc_uninit(&mapping_cache); /* the tree sets every field */
    if (!m)
        bank_uncharge(as->obj.bank, mapping_cache.size);
    else
        m->obj = NULL; /* a spare the tree may give back unused */
    return m;
}

static void memobj_release_memory(struct memobj *mo);

/* Nodes, not removed pieces, are what name an object: a removal that only
 * trims a node leaves it naming the object. So the count drops here. */
static void map_free(struct mapping *m, void *ctx)
{
    struct aspace *as = ctx;
    struct memobj *mo = m->obj;
    kcache_free(&mapping_cache, m);
    bank_uncharge(as->obj.bank, mapping_cache.size);
    if (mo && --mo->mappings == 0 && !mo->obj.live && mo->io_inflight == 0)
        memobj_release_memory(mo);
}

/* A split made a second node naming the object. */
static void map_clone(struct mapping *dst, const struct mapping *src, void *ctx)
{
    (void)dst;
    (void)ctx;
    ((struct memobj *)src->obj)->mappings++;
}

static void memobj_release_memory(struct memobj *mo)
{
    obj_free(&memobj_cache, &mo->obj);
}

struct unmap_ctx {
    struct aspace *as;
    uint64_t obj_page, va;
    uint64_t lo, hi; /* the PTEs cleared, [lo, hi): flushed once at the end */
};

static bool unmap_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct unmap_ctx *u = ctx;
    uint64_t va = u->va + (page - u->obj_page) * PAGE_SIZE;
    if (page_cache_rmap_remove(pc, cp, u->as, va) == PC_OK &&
        aspace_unmap_page_noflush(u->as, va) == NS_OK) {
        if (u->lo == u->hi)
            u->lo = va;
        u->hi = va + PAGE_SIZE;
    }
    return true;
}

/* The PTEs of [obj_page, +npages) of a mapping at va go, with one TLB
 * flush for the lot (one remote call per hart, not one per page): no frame
 * is freed here, so the stale entries only live until the flush. */
static void unmap_range(struct memobj *mo, struct aspace *as, uint64_t obj_page, uint64_t va,
                        uint64_t npages)
{
    struct unmap_ctx u = {as, obj_page, va, 0, 0};
    if (!mo->obj.live)
        return;
    page_cache_range(&mo->cache, obj_page, obj_page + npages, unmap_visit, &u);
    aspace_flush_range(as, u.lo, (u.hi - u.lo) / PAGE_SIZE);
}

/* A range of a mapping left the tree (unmap, remap, teardown): drop the
 * PTEs and reverse-map entries of its resident pages. */
static void map_removed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages, uint32_t rights,
                        void *ctx)
{
    (void)rights;
    unmap_range(obj, ctx, obj_page, va, npages);
}

/* Protect narrowed a range: drop its PTEs; the next access maps again with
 * the new rights. */
static void map_changed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                        uint32_t old_rights, uint32_t new_rights, void *ctx)
{
    (void)old_rights;
    (void)new_rights;
    unmap_range(obj, ctx, obj_page, va, npages);
}

static const struct map_tree_ops map_ops_template = {
    .alloc = map_alloc, .free = map_free, .clone = map_clone};

void memobj_aspace_init(struct aspace *as)
{
    as->map_ops = map_ops_template;
    as->map_ops.ctx = as;
    map_tree_init(&as->maps, USER_TOP, &as->map_ops);
}

void memobj_aspace_teardown(struct aspace *as)
{
    map_tree_destroy(&as->maps, map_removed, as);
}

/* ---- requests and waiters ---- */

static void unlink_request(struct memobj *mo, struct page_request *r)
{
    for (struct page_request **pp = &mo->requests; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    kcache_free(&request_cache, r);
    bank_uncharge(mo->obj.bank, request_cache.size);
}

/* A waiter leaves (suspended or destroyed). A request nobody waits for any
 * more that the manager has not read yet is dropped: asking for it would
 * be work for nobody, and a thread faulting and being cancelled over and
 * over must not grow the queue. One the manager has read stays until it is
 * answered or its deadline passes. */
void memobj_cancel_wait(struct thread *t)
{
    struct page_request *r = t->ipc_obj;
    waitq_remove(&r->head, &r->tail, t);
    if (!r->head && !r->handed_out)
        unlink_request(r->obj, r);
}

/* Bit i: page r->first_page + i. */
static uint64_t request_bits(const struct page_request *r, uint64_t first, uint64_t pages)
{
    uint64_t lo = r->first_page > first ? r->first_page : first;
    uint64_t end = r->first_page + r->pages, hi = end < first + pages ? end : first + pages;
    if (lo >= hi)
        return 0;
    uint64_t n = hi - lo;
    return (n == 64 ? ~0ull : ((1ull << n) - 1)) << (lo - r->first_page);
}

/* The request still waiting for `page`, if any. */
static struct page_request *find_request(struct memobj *mo, uint64_t page)
{
    for (struct page_request *r = mo->requests; r; r = r->next)
        if (page >= r->first_page && page - r->first_page < r->pages &&
            (r->pending >> (page - r->first_page) & 1))
            return r;
    return NULL;
}

static const uint32_t access_right[] = {NS_RIGHT_READ, NS_RIGHT_WRITE, NS_RIGHT_EXEC};

static int map_cached(struct memobj *mo, struct cache_page *cp, struct aspace *as, uint64_t vpage,
                      uint32_t rights, enum fault_access access, uint64_t *aux);

/* A waiter's page has arrived: map it into the waiter's space now, as its
 * retried access would, so it resumes without taking that minor fault.
 * Anything unusual (its mapping changed while it slept, a page table that
 * cannot be charged) is left to the retry, which sees it as a fault would. */
static void map_for_waiter(struct memobj *mo, struct thread *t)
{
    if (!thread_can_run(t))
        return;
    struct mapping *m = map_tree_lookup(&t->as->maps, t->fault_va);
    if (!m || m->obj != mo || !(m->rights & access_right[t->fault_access]))
        return;
    uint64_t vpage = t->fault_va & ~(uint64_t)(PAGE_SIZE - 1);
    struct cache_page *cp =
        page_cache_lookup(&mo->cache, m->obj_page + (vpage - m->va_start) / PAGE_SIZE);
    uint64_t aux;
    if (cp)
        (void)map_cached(mo, cp, t->as, vpage, m->rights, t->fault_access, &aux);
}

/* Pages `done` (bits, as request_bits) of `r` are settled: with kind == 0
 * they arrived, and each thread waiting for one of them goes on with its
 * page mapped; with kind != 0 each receives the fault `kind` (aux: the
 * fault message's last word). Threads waiting for the request's other
 * pages keep waiting. A request with nothing pending is forgotten. */
static void settle(struct hart *h, struct memobj *mo, struct page_request *r, uint64_t done,
                   int kind, uint64_t aux)
{
    r->pending &= ~done;
    for (struct thread *t = r->head, *next; t; t = next) {
        next = t->q_next;
        if (!(done >> (t->fault_page - r->first_page) & 1))
            continue;
        waitq_remove(&r->head, &r->tail, t);
        if (kind) {
            t->ipc_op = IPC_NONE;
            t->ipc_obj = NULL;
            ipc_fault_or_stop(h, t, (uint64_t)kind, t->fault_va, aux);
        } else {
            map_for_waiter(mo, t);
            ipc_wake(h, t);
        }
    }
    if (!r->pending)
        unlink_request(mo, r);
}

/* Settle the pages of [first, first + pages) in every request. */
static void settle_run(struct hart *h, struct memobj *mo, uint64_t first, uint64_t pages, int kind,
                       uint64_t aux)
{
    for (struct page_request *r = mo->requests, *next; r; r = next) {
        next = r->next;
        uint64_t bits = request_bits(r, first, pages) & r->pending;
        if (bits)
            settle(h, mo, r, bits, kind, aux);
    }
}

/* Is the manager still there to be asked? Its notification is the mark:
 * it dies with the manager's bank (or a revoke by the manager). */
static bool manager_alive(const struct memobj *mo)
{
    return mo->notify.type == NS_CAP_NOTIFICATION && !cap_slot_stale(&mo->notify);
}

static void notify_manager(struct memobj *mo)
{
    notification_signal(sched_this_hart(), mo->notify.obj, mo->notify.badge ? mo->notify.badge : 1);
}

/* The one request for `page` and the missing pages after it: at most the
 * object's cluster size, stopping at the object's end and at the first
 * page that is resident or already requested. Charged to the object's
 * bank, like everything else kept for the object. */
static struct page_request *new_request(struct memobj *mo, uint64_t page, uint32_t flags,
                                        enum ns_error *err)
{
    if (bank_charge(mo->obj.bank, request_cache.size) != NS_OK) {
        *err = NS_ERR_NO_QUOTA;
        return NULL;
    }
    struct page_request *r = kcache_alloc_uninit(&request_cache);
    if (!r) {
        bank_uncharge(mo->obj.bank, request_cache.size);
        *err = NS_ERR_NO_MEMORY;
        return NULL;
    }
    _Static_assert(SUPPLY_MAX_PAGES <= 64, "a request's pages fit its pending bits");
    uint64_t n = 1, end = pages_of(mo->length);
    while (n < mo->cluster_pages && page + n < end && !page_cache_lookup(&mo->cache, page + n) &&
           !find_request(mo, page + n))
        n++;
    r->obj = mo;
    r->first_page = page;
    r->pages = (uint32_t)n;
    r->pending = n == 64 ? ~0ull : (1ull << n) - 1;
    r->handed_out = false;
    r->flags = flags;
    r->kernel_io = false;
    r->reading = 0;
    r->deadline = mo->deadline_ticks ? timer_now() + mo->deadline_ticks : 0;
    r->head = r->tail = NULL;
    r->next = mo->requests;
    mo->requests = r;
    mo->requests_made++;
    pending_track(mo);
    notify_manager(mo);
    return r;
}

/* ---- the storage map: pages the kernel reads and writes itself ----
 *
 * A fault on a page the object's storage map covers never reaches the
 * manager. The kernel walks the map (frames/storage_map.c checks every key
 * on the way), takes fresh frames charged to the object's bank, and reads
 * the page - and up to readahead_pages - 1 missing pages after it under the
 * same key, contiguous on disk - by DMA straight into them, in one block
 * request. A kernel request (kernel_io) stands for the read in the request
 * list, so later faults on those pages wait on it as on a manager's; the
 * manager never sees it. The frames belong to the transfer until it
 * completes: they are in no cache and no page table, so nothing can evict,
 * map or free them meanwhile. The completion (the disk's interrupt, or
 * inside the submission for the RAM disk) enters them into the cache,
 * zeroes the bytes past the length, and settles the waiters - or, when the
 * device failed, frees them and delivers NS_FAULT_IO to every waiter.
 *
 * A page the map does not serve (an empty slot, a key failing its check,
 * no map at all) goes to the manager as before, the request flagged
 * NS_PAGE_REQ_NO_MAP or NS_PAGE_REQ_BAD_MAP so it can rebuild the map; a
 * new map makes the kernel read every still-pending page it covers
 * (map_redrive), so the manager need not supply them.
 *
 * Maps are discardable: the kernel drops the map's frames (destroying
 * them, so they go back to their banks) on NS_MEMOBJ_CTL_DISCARD_MAP or
 * under memory pressure. Transfers in flight hold no reference to the
 * map - the walk's answer (disk and sector) is in the block request - so a
 * discard loses nothing. */

#define MAP_IO_MAX_PAGES  64
#define DEFAULT_READAHEAD 16

struct map_io {
    struct blk_request rq;
    struct blk_seg segs[MAP_IO_MAX_PAGES];
    struct memobj *mo;
    uint64_t first_page;
    uint32_t pages;
    uint64_t charge; /* bytes charged to mo's bank for it (0 once the object died) */
    struct disk *disk;
    struct map_io *next, *prev;
};

static struct kcache map_io_cache = KCACHE_INIT("map_io", struct map_io);

static void clock_track(struct memobj *mo, struct cache_page *cp);
static bool page_leaving(struct memobj *mo, struct cache_page *cp);
static void mark_dirty(struct memobj *mo, struct cache_page *cp);
static void rmap_unmap(struct cache_page *cp, void *aspace, uint64_t va, void *ctx);
static void sync_abort_all(struct memobj *mo);
static uint64_t memobj_evict(struct memobj *mo);
static uint64_t reclaim_pages(uint64_t want);
static uint64_t reclaim_more(uint64_t want);
static bool reclaim_light;      /* one bounded scan: no second lap, no map discard */
static bool reclaim_clean_only; /* the sweep frees clean pages and starts no writes */
static bool bank_tight(const struct bank *b, uint64_t bytes);
static void writebacks_free(struct memobj *mo);
static bool clock_referenced(struct cache_page *cp, void *ctx);
static bool ask_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx);
static bool wait_for_memory(struct hart *h, struct thread *t);
static void map_around(struct memobj *mo, uint64_t first, uint64_t kept);
static enum ns_error lookup_memobj(struct thread *t, uint64_t slot, uint32_t rights,
                                   struct memobj **out);

/* Objects with a storage map, for memory pressure to drop. */
static struct memobj *mapped_list;

static bool has_map(const struct memobj *mo)
{
    return mo->map.type == NS_CAP_OBJFRAME && !cap_slot_stale(&mo->map);
}

static enum smap_result map_resolve(struct memobj *mo, uint64_t page, uint32_t need,
                                    struct smap_where *w)
{
    return smap_resolve((const struct objframe *)mo->map.obj, mo->map_height, page, need, w);
}

/* What a read charges at its start: the record, the frames, and room for
 * the page-cache records and nodes its completion adds (given back just
 * before the inserts charge them), so a bank that filled up meanwhile
 * cannot make the completion throw the data away. */
#define IO_CACHE_RESERVE(pages) ((uint64_t)(pages)*64 + 2 * 576)

static uint64_t io_bytes(uint32_t pages)
{
    return sizeof(struct map_io) + (uint64_t)pages * PAGE_SIZE + IO_CACHE_RESERVE(pages);
}

static void map_read_done(struct blk_request *rq);

static void io_link(struct memobj *mo, struct map_io *io)
{
    io->prev = NULL;
    io->next = mo->io_list;
    if (mo->io_list)
        mo->io_list->prev = io;
    mo->io_list = io;
    mo->io_inflight++;
}

/* The block request of a map transfer of pages [first, first + n), its
 * segments already set, where `w` says; linked as in flight. */
static void io_fill(struct map_io *io, struct memobj *mo, enum blk_op op,
                    void (*done)(struct blk_request *), uint64_t first, uint32_t n,
                    const struct smap_where *w, uint64_t charge)
{
    io->rq.op = op;
    io->rq.sector = w->sector;
    io->rq.count = n * DISK_SECTORS_PER_PAGE;
    io->rq.segs = io->segs;
    io->rq.nsegs = n;
    io->rq.done = done;
    io->rq.ctx = io;
    io->mo = mo;
    io->first_page = first;
    io->pages = n;
    io->charge = charge;
    io->disk = w->disk;
    io_link(mo, io);
}

static void io_unlink(struct memobj *mo, struct map_io *io)
{
    if (io->prev)
        io->prev->next = io->next;
    else
        mo->io_list = io->next;
    if (io->next)
        io->next->prev = io->prev;
    mo->io_inflight--;
}

/* A read of [page, page + n) from where `w` says, ready to submit: frames
 * and record charged to the object's bank. NULL with *err when they cannot
 * be had. */
static struct map_io *map_io_prepare(struct memobj *mo, uint64_t page, uint32_t n,
                                     const struct smap_where *w, enum ns_error *err)
{
    if (bank_charge(mo->obj.bank, io_bytes(n)) != NS_OK) {
        *err = NS_ERR_NO_QUOTA;
        return NULL;
    }
    struct map_io *io = kcache_alloc_uninit(&map_io_cache);
    uint32_t got = 0;
    for (; io && got < n; got++) {
        uint64_t pa;
        /* Not cleared: the device writes every byte, or the frame is
         * freed unseen. */
        if (!kmem_page_alloc_dirty(&pa))
            break;
        io->segs[got].pa = pa;
        io->segs[got].len = PAGE_SIZE;
    }
    if (!io || got < n) {
        for (uint32_t i = 0; io && i < got; i++)
            kmem_page_free(pa_to_va(io->segs[i].pa));
        if (io)
            kcache_free(&map_io_cache, io);
        bank_uncharge(mo->obj.bank, io_bytes(n));
        *err = NS_ERR_NO_MEMORY;
        return NULL;
    }
    io_fill(io, mo, BLK_OP_READ, map_read_done, page, n, w, io_bytes(n));
    mo->map_reads++;
    return io;
}

static void map_io_submit(struct map_io *io)
{
    enum blk_status s = blk_submit(io->disk->dev, &io->rq);
    if (s != BLK_OK) { /* refused: done() will not run, so run it here */
        io->rq.status = s;
        io->rq.done(&io->rq);
    }
}

static void map_read_done(struct blk_request *rq)
{
    struct map_io *io = rq->ctx;
    struct memobj *mo = io->mo;
    struct hart *h = sched_this_hart();
    io_unlink(mo, io);
    uint64_t kept = 0, here = 0;
    bool ok = rq->status == BLK_OK;
    if (io->charge) /* the room the inserts below take */
        bank_uncharge(mo->obj.bank, IO_CACHE_RESERVE(io->pages));
    if (mo->obj.live && ok) {
        uint64_t end = pages_of(mo->length), tail = mo->length % PAGE_SIZE;
        for (uint32_t i = 0; i < io->pages; i++) {
            uint64_t p = io->first_page + i;
            if (p >= end)
                continue; /* shrunk meanwhile: its waiters were told */
            if (page_cache_lookup(&mo->cache, p)) {
                here |= 1ull << i; /* supplied meanwhile: keep what mappings see */
                continue;
            }
            if (p == end - 1 && tail)
                memset((char *)pa_to_va(io->segs[i].pa) + tail, 0, PAGE_SIZE - tail);
            struct cache_page *cp;
            if (page_cache_insert(&mo->cache, p, io->segs[i].pa, 0, &cp) == PC_OK) {
                kept |= 1ull << i;
                clock_track(mo, cp);
            }
        }
        mo->map_pages_read += (uint64_t)__builtin_popcountll(kept);
    }
    uint64_t back = sizeof(struct map_io);
    for (uint32_t i = 0; i < io->pages; i++)
        if (!(kept >> i & 1)) {
            kmem_page_free(pa_to_va(io->segs[i].pa));
            back += PAGE_SIZE;
        }
    if (io->charge)
        bank_uncharge(mo->obj.bank, back);
    uint64_t first = io->first_page;
    uint32_t n = io->pages;
    kcache_free(&map_io_cache, io);
    if (!mo->obj.live) {
        if (mo->io_inflight == 0 && mo->mappings == 0)
            memobj_release_memory(mo);
        return;
    }
    for (struct page_request *r = mo->requests; r; r = r->next)
        r->reading &= ~request_bits(r, first, n);
    if (!ok) {
        mo->io_errors++;
        settle_run(h, mo, first, n, NS_FAULT_IO, NS_ERR_IO);
        return;
    }
    map_around(mo, first, kept);
    /* Every page that is resident now goes on; one the cache could not
     * take (its bank is full) fails as a supply would. */
    uint64_t in = kept | here;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        bool yes = in >> i & 1;
        while (j < n && ((in >> j & 1) != 0) == yes)
            j++;
        if (yes)
            settle_run(h, mo, first + i, j - i, 0, 0);
        else if (first + i < pages_of(mo->length))
            settle_run(h, mo, first + i, j - i, NS_FAULT_MANAGER, NS_ERR_NO_QUOTA);
        i = j;
    }
}

/* Fault-around: the thread that faulted (the first waiter on the read)
 * is most likely reading on, so the other pages of the read go into its
 * mapping now, as its next faults would put them (read-only while clean),
 * and it takes no minor fault for each. Best effort: a page that cannot
 * be mapped (a full bank, a PTE already there) is left to its fault. */
static void map_around(struct memobj *mo, uint64_t first, uint64_t kept)
{
    struct page_request *r =
        kept ? find_request(mo, first + (uint64_t)__builtin_ctzll(kept)) : NULL;
    struct thread *t = r ? r->head : NULL;
    if (!t || !thread_can_run(t))
        return;
    struct mapping *m = map_tree_lookup(&t->as->maps, t->fault_va);
    if (!m || m->obj != mo || !(m->rights & NS_RIGHT_READ))
        return;
    uint64_t m_pages = (m->va_end - m->va_start) / PAGE_SIZE;
    for (uint64_t bits = kept; bits; bits &= bits - 1) {
        uint64_t page = first + (uint64_t)__builtin_ctzll(bits), aux;
        if (page == t->fault_page || page < m->obj_page || page - m->obj_page >= m_pages)
            continue;
        struct cache_page *cp = page_cache_lookup(&mo->cache, page);
        uint64_t va = m->va_start + (page - m->obj_page) * PAGE_SIZE;
        if (cp && cp->mapcount == 0 &&
            map_cached(mo, cp, t->as, va, m->rights, ACCESS_READ, &aux) != 0)
            break;
    }
}

/* How many pages from `page` one read may take: the readahead, the keys'
 * contiguous run, the object's end, the device's segments, stopping at a
 * page that is resident or already asked for. */
static uint32_t read_run(struct memobj *mo, uint64_t page, const struct smap_where *w)
{
    struct blk_device *dev = w->disk->dev;
    uint64_t max = mo->readahead_pages, end = pages_of(mo->length);
    /* Past the key's span into the next slots while their keys (each
     * checked by the walk) go on where it ends on the same disk: objects
     * laid out in one run read ahead across slot boundaries. */
    uint64_t run = w->run;
    while (run < max && page + run < end) {
        struct smap_where next;
        if (map_resolve(mo, page + run, NS_RIGHT_READ, &next) != SMAP_MAPPED ||
            next.disk != w->disk || next.sector != w->sector + run * DISK_SECTORS_PER_PAGE)
            break;
        run += next.run;
    }
    if (max > run)
        max = run;
    if (max > end - page)
        max = end - page;
    if (dev->max_segs && max > dev->max_segs)
        max = dev->max_segs;
    if (dev->max_seg_bytes && dev->max_seg_bytes < PAGE_SIZE)
        max = 0; /* a page needs several segments: not worth the care */
    uint32_t n = 1;
    while (n < max && !page_cache_lookup(&mo->cache, page + n) && !find_request(mo, page + n))
        n++;
    return n;
}

/* A fault on `page` with no request for it: read it through the map if the
 * map covers it. Returns the kernel request (with *io to submit once the
 * thread waits), or NULL: with *flags == 0 when the map covers the page but
 * the read cannot be had (*err), else with *flags saying why the manager
 * must be asked. */
static struct page_request *map_fault(struct memobj *mo, uint64_t page, uint32_t *flags,
                                      struct map_io **io, enum ns_error *err)
{
    struct smap_where w;
    switch (map_resolve(mo, page, NS_RIGHT_READ, &w)) {
    case SMAP_HOLE:
        *flags = NS_PAGE_REQ_NO_MAP;
        return NULL;
    case SMAP_BAD:
        *flags = NS_PAGE_REQ_BAD_MAP | (uint32_t)w.why << NS_PAGE_REQ_WHY_SHIFT;
        return NULL;
    default:
        break;
    }
    *flags = 0;
    uint32_t n = read_run(mo, page, &w);
    if (n == 0) {
        *flags = NS_PAGE_REQ_BAD_MAP | (uint32_t)NS_ERR_INVALID_ARG << NS_PAGE_REQ_WHY_SHIFT;
        return NULL;
    }
    if (bank_charge(mo->obj.bank, request_cache.size) != NS_OK) {
        *err = NS_ERR_NO_QUOTA;
        return NULL;
    }
    struct page_request *r = kcache_alloc_uninit(&request_cache);
    if (!r) {
        bank_uncharge(mo->obj.bank, request_cache.size);
        *err = NS_ERR_NO_MEMORY;
        return NULL;
    }
    *io = map_io_prepare(mo, page, n, &w, err);
    if (!*io && mo->track_dirty) {
        /* The bank (or the machine) is full: page out - of this object,
         * most likely, whose pages the clock holds - and try again. The
         * sweep may drop the map itself: then the manager is asked. */
        reclaim_more(n > 64 ? n : 64);
        if (!has_map(mo) || map_resolve(mo, page, NS_RIGHT_READ, &w) != SMAP_MAPPED) {
            kcache_free(&request_cache, r);
            bank_uncharge(mo->obj.bank, request_cache.size);
            *flags = NS_PAGE_REQ_NO_MAP;
            return NULL;
        }
        if (n > w.run)
            n = (uint32_t)w.run;
        *io = map_io_prepare(mo, page, n, &w, err);
    }
    if (!*io) {
        kcache_free(&request_cache, r);
        bank_uncharge(mo->obj.bank, request_cache.size);
        return NULL;
    }
    r->obj = mo;
    r->first_page = page;
    r->pages = n;
    r->pending = r->reading = n == 64 ? ~0ull : (1ull << n) - 1;
    r->handed_out = true; /* never the manager's to read */
    r->kernel_io = true;
    r->flags = 0;
    r->deadline = 0;
    r->head = r->tail = NULL;
    r->next = mo->requests;
    mo->requests = r;
    pending_track(mo);
    return r;
}

/* A new map: read in every page the manager was asked for that the map
 * now covers, in runs under one key. The manager's requests stay (its
 * answer to them, if it still gives one, finds the pages resident); one
 * it has not fetched yet and that the kernel now reads whole is no longer
 * handed out - seen at --smp 4, where the manager fetched, after its own
 * rebuild, requests for pages the kernel was reading, marked as if the
 * map covered nothing. */
static void map_redrive(struct memobj *mo)
{
    for (struct page_request *r = mo->requests; r; r = r->next) {
        if (r->kernel_io)
            continue;
        uint64_t todo = r->pending & ~r->reading;
        for (uint32_t i = 0; i < r->pages && todo; i++) {
            if (!(todo >> i & 1))
                continue;
            struct smap_where w;
            uint64_t page = r->first_page + i;
            if (map_resolve(mo, page, NS_RIGHT_READ, &w) != SMAP_MAPPED)
                continue;
            uint32_t n = 1;
            uint64_t lim = w.run < r->pages - i ? w.run : r->pages - i;
            while (n < lim && n < mo->readahead_pages && (todo >> (i + n) & 1))
                n++;
            enum ns_error e;
            struct map_io *io = map_io_prepare(mo, page, n, &w, &e);
            if (!io)
                return; /* the manager's requests stay: it may supply them */
            uint64_t bits = (n == 64 ? ~0ull : (1ull << n) - 1) << i;
            r->reading |= bits;
            todo &= ~bits;
            /* Not yet fetched and now all the kernel's to read: the
             * manager is not asked (it would be asked to supply pages the
             * map serves). Partly: the rest is still beyond the map, and
             * the request says so (NO_MAP) as before. */
            if (!(r->pending & ~r->reading))
                r->handed_out = true;
            map_io_submit(io);
            /* The submission may have completed and settled `r`, and
             * freed it: start again from the list. */
            map_redrive(mo);
            return;
        }
    }
}

static void mapped_track(struct memobj *mo, bool on)
{
    if (mo->on_mapped_list == on)
        return;
    if (on) {
        mo->mapped_prev = NULL;
        mo->mapped_next = mapped_list;
        if (mapped_list)
            mapped_list->mapped_prev = mo;
        mapped_list = mo;
    } else {
        if (mo->mapped_prev)
            mo->mapped_prev->mapped_next = mo->mapped_next;
        else
            mapped_list = mo->mapped_next;
        if (mo->mapped_next)
            mo->mapped_next->mapped_prev = mo->mapped_prev;
    }
    mo->on_mapped_list = on;
}

/* Drop the map: destroy its frames (every one reachable from the root,
 * each once: a frame already queued for destruction is not walked again,
 * so a map whose frames share or contain each other costs one visit per
 * frame), which hands them back to their banks and makes the manager's
 * capabilities to them stale. Destruction is deferred to the end of the
 * bracket, so the walk reads frames that are still whole. */
static void map_discard(struct memobj *mo)
{
    if (mo->map.type == NS_CAP_NULL)
        return;
    kobj_defer_begin();
    if (has_map(mo)) {
        struct objframe *stack[SMAP_MAX_HEIGHT];
        unsigned next[SMAP_MAX_HEIGHT], depth = 0;
        stack[0] = (struct objframe *)mo->map.obj;
        next[0] = 0;
        kobj_destroy(&stack[0]->obj);
        depth = 1;
        while (depth) {
            struct objframe *f = stack[depth - 1];
            unsigned i = next[depth - 1]++;
            if (i == OBJFRAME_SLOTS) {
                depth--;
                continue;
            }
            struct cap_slot *s = &f->slot[i];
            if (s->type != NS_CAP_OBJFRAME || cap_slot_stale(s))
                continue;
            struct objframe *c = (struct objframe *)s->obj;
            if (c->obj.destroy_queued || !c->obj.live || depth == SMAP_MAX_HEIGHT)
                continue;
            kobj_destroy(&c->obj);
            stack[depth] = c;
            next[depth] = 0;
            depth++;
        }
        mo->map_discards++;
    }
    cap_slot_delete(&mo->map);
    mo->map_height = 0;
    mapped_track(mo, false);
    kobj_defer_end();
}

uint64_t memobj_discard_all_maps(void)
{
    uint64_t n = 0;
    while (mapped_list) {
        map_discard(mapped_list);
        n++;
    }
    return n;
}

/* ---- writeback, sync and pageout ----
 *
 * Dirty pages. An object with a storage map tracks which of its pages
 * differ from the disk (map_cached: a clean page is mapped read-only and
 * the first store marks it PC_DIRTY). A writeback takes a run of dirty
 * pages contiguous under one key, clears their PC_DIRTY, takes their
 * write permission away and marks them PC_BUSY, and writes them by DMA
 * straight from their frames. A store during the write marks the page
 * dirty again (the disk may then hold a mix, which the next writeback
 * replaces); a failed write marks it dirty again, so nothing written is
 * ever forgotten: it is retried by the next sync or pageout. A busy page
 * stays in the cache; if it is truncated or its object dies meanwhile,
 * the frame leaves the cache but is freed only by the write's completion,
 * which finds it no longer there.
 *
 * Sync (NS_SYS_MEMOBJ_SYNC). The caller blocks while the object's dirty
 * pages are written, in at most SYNC_PASSES passes (a pass waits for
 * every write of the object in flight, including the clock's; the next
 * one writes what those left dirty - failed writes, pages that were busy,
 * stores meanwhile), then every disk the object wrote to is flushed. It
 * returns NS_OK once the data is durable, NS_ERR_IO when the device failed
 * a write of the last pass or a flush, NS_ERR_BAD_STATE when dirty pages
 * are not covered by the map (they stay dirty; the manager owns them).
 *
 * Pageout. The clock (clock.c) ages the pages of objects with a storage
 * map; when free frames fall below the low watermark, the fault path (and
 * the timer tick) sweep it until the high watermark is in sight: clean
 * pages are unmapped and freed at once, dirty ones are written back
 * (MEMOBJ_PAGE_RECLAIM) and freed by the write's completion if still
 * clean and unused. A fault that finds no frame while writebacks are in
 * flight waits for them (IPC_MEMORY_WAIT) instead of failing; when
 * nothing can be paged out, the storage maps are discarded (their frames
 * are memory too). */

#define SYNC_PASSES 3

struct memobj_sync {
    struct memobj *mo;
    struct thread *waiter; /* NULL once it left */
    struct bank *bank;     /* the caller's, charged `charge` bytes while it waits */
    uint64_t charge;
    enum ns_error err; /* of the latest pass's writes, or of a flush */
    bool uncovered;    /* dirty pages no map covers */
    bool flushing;
    bool restart;  /* the waiter re-runs its system call when woken (shutdown) */
    bool progress; /* the latest pass started writes */
    uint32_t passes;
    uint32_t flushes; /* flushes in flight, +1 while they are being issued */
    struct blk_request flush[NS_MAX_BOOT_DISKS];
    struct memobj_sync *next;
};

static struct kcache sync_cache = KCACHE_INIT("memobj_sync", struct memobj_sync);
static struct disk *written_disks[NS_MAX_BOOT_DISKS]; /* by disk index: disks never go */
static struct clock page_clock;
static struct thread *memory_waiters_head, *memory_waiters_tail;
static uint64_t pageout_writes_inflight;

static void sync_progress(struct memobj *mo);
static void wake_memory_waiters(void);

static void mark_dirty(struct memobj *mo, struct cache_page *cp)
{
    if (!(cp->flags & PC_DIRTY)) {
        cp->flags |= PC_DIRTY;
        mo->dirty++;
    }
}

static void clock_track(struct memobj *mo, struct cache_page *cp)
{
    if (!mo->track_dirty || cp->lru_next || (cp->flags & MEMOBJ_PAGE_BORROWED))
        return;
    cp->owner = mo;
    clock_insert(&page_clock, cp);
}

/* A page leaves the cache: off the clock, out of the dirty count. Its
 * frame is the caller's to free - unless a write is reading it (busy),
 * in which case the write's completion frees it. Returns whether the
 * caller frees it. */
static bool page_leaving(struct memobj *mo, struct cache_page *cp)
{
    if (cp->lru_next)
        clock_remove(&page_clock, cp);
    if (cp->flags & PC_DIRTY)
        mo->dirty--;
    return !(cp->flags & (PC_BUSY | MEMOBJ_PAGE_BORROWED));
}

static bool rmap_write_protect(struct cache_page *cp, void *aspace, uint64_t va, void *ctx)
{
    (void)cp;
    (void)ctx;
    aspace_write_protect(aspace, va);
    return true;
}

static void map_write_done(struct blk_request *rq);

/* A write of `n` dirty pages `cps` (object pages first..) to where `w`
 * says. Returns false when the record cannot be had (the pages stay
 * dirty). */
static bool write_run(struct memobj *mo, uint64_t first, struct cache_page **cps, uint32_t n,
                      const struct smap_where *w, bool reclaim)
{
    if (bank_charge(mo->obj.bank, sizeof(struct map_io)) != NS_OK) {
        /* The object's cache has filled its bank: clean pages make room
         * for the record (never from inside a sweep, which writes too). */
        reclaim_clean_only = true; /* its caller is gathering dirty pages */
        reclaim_pages(16);
        reclaim_clean_only = false;
        if (bank_charge(mo->obj.bank, sizeof(struct map_io)) != NS_OK)
            return false;
    }
    struct map_io *io = kcache_alloc_uninit(&map_io_cache);
    if (!io) {
        bank_uncharge(mo->obj.bank, sizeof(struct map_io));
        return false;
    }
    /* The run's PTEs lose their write right everywhere before the device
     * reads the pages: one shootdown per space for the run, done when the
     * batch ends - a store through a stale entry after the DMA read would
     * be lost. */
    aspace_batch_begin();
    for (uint32_t i = 0; i < n; i++) {
        struct cache_page *cp = cps[i];
        cp->flags &= ~PC_DIRTY;
        cp->flags |= PC_BUSY | (reclaim ? MEMOBJ_PAGE_RECLAIM : 0);
        mo->dirty--;
        page_cache_rmap_walk(cp, rmap_write_protect, NULL);
        io->segs[i].pa = cp->pa;
        io->segs[i].len = PAGE_SIZE;
    }
    aspace_batch_end();
    io_fill(io, mo, BLK_OP_WRITE, map_write_done, first, n, w, sizeof(struct map_io));
    mo->writes_inflight++;
    mo->map_writes++;
    pageout_writes_inflight++;
    map_io_submit(io);
    return true;
}

static void map_write_done(struct blk_request *rq)
{
    struct map_io *io = rq->ctx;
    struct memobj *mo = io->mo;
    bool ok = rq->status == BLK_OK;
    io_unlink(mo, io);
    mo->writes_inflight--;
    pageout_writes_inflight--;
    uint64_t freed = 0;
    aspace_batch_begin(); /* the run's pages unmapped, one shootdown, then freed */
    for (uint32_t i = 0; i < io->pages; i++) {
        uint64_t pa = io->segs[i].pa;
        struct cache_page *cp =
            mo->obj.live ? page_cache_lookup(&mo->cache, io->first_page + i) : NULL;
        if (!cp || cp->pa != pa || !(cp->flags & PC_BUSY)) {
            kmem_page_free(pa_to_va(pa)); /* it left the cache meanwhile: ours now */
            freed++;
            continue;
        }
        cp->flags &= ~PC_BUSY;
        if (!ok) {
            mark_dirty(mo, cp);
        } else if ((cp->flags & MEMOBJ_PAGE_RECLAIM) && !(cp->flags & PC_DIRTY)) {
            /* Paged out: clean now; unmapped and freed unless it was used
             * again while it was being written. */
            if (!clock_referenced(cp, NULL)) {
                uint64_t page = io->first_page + i;
                page_cache_rmap_clear(&mo->cache, cp, rmap_unmap, NULL);
                if (page_leaving(mo, cp) && page_cache_remove(&mo->cache, page, 0, NULL) == PC_OK) {
                    aspace_free_after_flush(pa);
                    bank_uncharge(mo->obj.bank, PAGE_SIZE);
                    freed++;
                }
                continue;
            }
        }
        cp->flags &= ~MEMOBJ_PAGE_RECLAIM;
    }
    aspace_batch_end();
    if (io->charge)
        bank_uncharge(mo->obj.bank, io->charge);
    uint32_t n = io->pages;
    struct disk *d = io->disk;
    kcache_free(&map_io_cache, io);
    if (freed || pageout_writes_inflight == 0)
        wake_memory_waiters();
    if (!mo->obj.live) {
        if (mo->io_inflight == 0 && mo->mappings == 0)
            memobj_release_memory(mo);
        return;
    }
    if (ok) {
        mo->map_pages_written += n;
        if (d->index < NS_MAX_BOOT_DISKS) {
            written_disks[d->index] = d;
            mo->unflushed |= (uint8_t)(1u << d->index);
        }
    } else {
        mo->io_errors++;
        for (struct memobj_sync *s = mo->syncs; s; s = s->next)
            if (!s->flushing)
                s->err = NS_ERR_IO;
    }
    sync_progress(mo);
}

/* Where dirty page `page` goes, if the map says (and the key allows
 * writing). */
static bool write_where(struct memobj *mo, uint64_t page, struct smap_where *w)
{
    return has_map(mo) && map_resolve(mo, page, NS_RIGHT_WRITE, w) == SMAP_MAPPED;
}

struct write_ctx {
    struct memobj *mo;
    struct cache_page *cps[MAP_IO_MAX_PAGES];
    uint64_t first;
    uint32_t n, limit;
    struct smap_where w;
    bool reclaim;
    uint64_t uncovered, started, failed;
};

static void write_flush_run(struct write_ctx *c)
{
    if (c->n) {
        if (write_run(c->mo, c->first, c->cps, c->n, &c->w, c->reclaim))
            c->started += c->n;
        else
            c->failed += c->n;
    }
    c->n = 0;
}

/* Gather dirty, idle pages into runs under one key. */
static bool write_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)pc;
    struct write_ctx *c = ctx;
    if (!(cp->flags & PC_DIRTY) || (cp->flags & PC_BUSY))
        return true;
    if (c->n && page == c->first + c->n && c->n < c->limit) {
        c->cps[c->n++] = cp;
        return true;
    }
    write_flush_run(c);
    struct smap_where w;
    if (!write_where(c->mo, page, &w)) {
        c->uncovered++;
        return true;
    }
    struct blk_device *dev = w.disk->dev;
    uint64_t lim = w.run < MAP_IO_MAX_PAGES ? w.run : MAP_IO_MAX_PAGES;
    if (dev->max_segs && lim > dev->max_segs)
        lim = dev->max_segs;
    if (dev->max_seg_bytes && dev->max_seg_bytes < PAGE_SIZE) {
        c->uncovered++; /* as read_run: a page must be one segment */
        return true;
    }
    c->w = w;
    c->first = page;
    c->cps[0] = cp;
    c->n = 1;
    c->limit = (uint32_t)lim;
    return true;
}

/* Start writing the dirty pages of [first, end) (all idle ones). */
static void write_dirty(struct memobj *mo, uint64_t first, uint64_t end, bool reclaim,
                        struct write_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->mo = mo;
    c->reclaim = reclaim;
    page_cache_range(&mo->cache, first, end, write_visit, c);
    write_flush_run(c);
}

/* ---- sync ---- */

static void sync_finish(struct hart *h, struct memobj_sync *s)
{
    struct memobj *mo = s->mo;
    if (mo->obj.live)
        for (struct memobj_sync **pp = &mo->syncs; *pp; pp = &(*pp)->next)
            if (*pp == s) {
                *pp = s->next;
                break;
            }
    if (s->waiter) {
        struct thread *t = s->waiter;
        t->ipc_obj = NULL;
        enum ns_error e = s->err != NS_OK ? s->err : s->uncovered ? NS_ERR_BAD_STATE : NS_OK;
        if (s->restart)
            ipc_wake(h, t); /* its registers still hold the call */
        else
            ipc_wake_error(h, t, e);
    }
    if (s->charge)
        bank_uncharge(s->bank, s->charge);
    kcache_free(&sync_cache, s);
}

static void sync_flush_done(struct blk_request *rq)
{
    struct memobj_sync *s = rq->ctx;
    struct memobj *mo = s->mo;
    mo->io_inflight--;
    if (rq->status != BLK_OK) {
        s->err = NS_ERR_IO;
        if (mo->obj.live) /* its writes are not known durable: the next sync flushes again */
            mo->unflushed |= (uint8_t)(1u << (rq - s->flush));
    }
    if (--s->flushes == 0)
        sync_finish(sched_this_hart(), s);
    if (!mo->obj.live && mo->io_inflight == 0 && mo->mappings == 0)
        memobj_release_memory(mo);
}

static void sync_start_flush(struct memobj_sync *s)
{
    struct memobj *mo = s->mo;
    uint8_t mask = mo->unflushed;
    mo->unflushed = 0; /* writes completing from now on need another flush */
    s->flushing = true;
    s->flushes = 1; /* held while issuing: a RAM disk completes inside blk_submit */
    for (unsigned d = 0; d < NS_MAX_BOOT_DISKS; d++) {
        if (!(mask >> d & 1) || !written_disks[d])
            continue;
        struct blk_request *rq = &s->flush[d];
        memset(rq, 0, sizeof(*rq));
        rq->op = BLK_OP_FLUSH;
        rq->done = sync_flush_done;
        rq->ctx = s;
        s->flushes++;
        mo->io_inflight++;
        enum blk_status st = blk_submit(written_disks[d]->dev, rq);
        if (st != BLK_OK) {
            rq->status = st;
            sync_flush_done(rq);
        }
    }
    if (--s->flushes == 0)
        sync_finish(sched_this_hart(), s);
}

/* Move every sync of `mo` on as far as it can go now: syncs wait for the
 * object's writes, not their own, so one pass serves them all. Writes and
 * flushes may complete inside their submission (RAM disk) and call back
 * here: such calls only ask for another round. */
static void sync_progress(struct memobj *mo)
{
    if (mo->sync_running) {
        mo->sync_again = true;
        return;
    }
    mo->sync_running = true;
    do {
        mo->sync_again = false;
        for (struct memobj_sync *s = mo->syncs; s; s = s->next) {
            if (s->flushing || mo->writes_inflight)
                continue;
            /* Another pass after a failed one (up to SYNC_PASSES), and
             * for as long as passes short of records still write some. */
            bool again = mo->dirty > 0 && s->err != NS_OK &&
                         (s->passes < SYNC_PASSES || (s->err == NS_ERR_NO_QUOTA && s->progress));
            if (s->passes == 0 || again) {
                struct write_ctx c;
                s->passes++;
                s->err = NS_OK;
                write_dirty(mo, 0, UINT64_MAX, false, &c);
                s->uncovered = c.uncovered != 0;
                s->progress = c.started != 0;
                if (c.failed)
                    s->err = NS_ERR_NO_QUOTA;
            } else {
                sync_start_flush(s);
            }
            mo->sync_again = true; /* the list may have changed under us */
            break;
        }
    } while (mo->sync_again);
    mo->sync_running = false;
}

/* `t` waits for a sync of `mo`; the error when it cannot. */
static enum ns_error sync_begin(struct hart *h, struct thread *t, struct memobj *mo, bool restart)
{
    struct bank *bank = t->obj.bank;
    if (bank_charge(bank, sync_cache.size) != NS_OK)
        return NS_ERR_NO_QUOTA;
    struct memobj_sync *s = kcache_alloc(&sync_cache);
    if (!s) {
        bank_uncharge(bank, sync_cache.size);
        return NS_ERR_NO_MEMORY;
    }
    s->mo = mo;
    s->waiter = t;
    s->bank = bank;
    s->charge = sync_cache.size;
    s->err = NS_OK;
    s->restart = restart;
    s->next = mo->syncs;
    mo->syncs = s;
    ipc_block(h, t, IPC_SYNC_WAIT, s);
    sync_progress(mo);
    return NS_OK;
}

static bool needs_sync(const struct memobj *mo)
{
    return mo->track_dirty && (mo->dirty || mo->writes_inflight || mo->unflushed);
}

void sys_memobj_sync(struct hart *h, struct thread *t)
{
    unsigned long *r = t->ctx.regs;
    struct memobj *mo;
    enum ns_error e = lookup_memobj(t, r[10], NS_RIGHT_WRITE, &mo);
    if (e == NS_OK && needs_sync(mo))
        e = sync_begin(h, t, mo, false);
    else if (e == NS_OK) /* nothing the kernel holds is newer than the disk */
        r[10] = NS_OK;
    if (e != NS_OK)
        r[10] = (unsigned long)e;
}

bool memobj_shutdown_writeback(struct hart *h, struct thread *t)
{
    /* One object at a time; each completed sync re-runs the shutdown,
     * which finds the next. A disk that keeps failing cannot hold the
     * machine up for ever: after enough rounds the rest is reported. */
    static unsigned rounds;
    uint64_t left = 0;
    for (struct memobj *mo = mapped_list; mo; mo = mo->mapped_next) {
        if (!needs_sync(mo))
            continue;
        if (rounds < 64) {
            rounds++;
            return sync_begin(h, t, mo, true) == NS_OK;
        }
        left += mo->dirty;
    }
    if (left)
        kprintf("memobj: shutdown: %lu dirty pages could not be written\n", (unsigned long)left);
    return false;
}

void memobj_sync_cancel(struct thread *t)
{
    struct memobj_sync *s = t->ipc_obj;
    s->waiter = NULL;
    t->ipc_obj = NULL;
    if (s->charge) { /* the thread's bank may go before the disk answers */
        bank_uncharge(s->bank, s->charge);
        s->charge = 0;
    }
    if (!s->flushing) /* nothing of the device refers to it yet */
        sync_finish(sched_this_hart(), s);
}

/* The object dies: its syncs end with it (a flush in flight finishes on
 * its own and frees its record). */
static void sync_abort_all(struct memobj *mo)
{
    struct hart *h = sched_this_hart();
    while (mo->syncs) {
        struct memobj_sync *s = mo->syncs;
        mo->syncs = s->next;
        if (s->waiter) {
            s->waiter->ipc_obj = NULL;
            ipc_wake_error(h, s->waiter, NS_ERR_DEAD_OBJECT);
            s->waiter = NULL;
        }
        if (s->charge) {
            bank_uncharge(s->bank, s->charge);
            s->charge = 0;
        }
        if (!s->flushing)
            kcache_free(&sync_cache, s);
    }
}

/* ---- eviction and the clock ---- */

/* Drop clean, idle page `cp` (object page `page`): unmap it everywhere and
 * free its frame. */
static bool drop_clean(struct memobj *mo, uint64_t page, struct cache_page *cp)
{
    if (cp->flags & (PC_DIRTY | PC_BUSY | PC_PINNED | MEMOBJ_PAGE_BORROWED))
        return false;
    page_cache_rmap_clear(&mo->cache, cp, rmap_unmap, NULL);
    uint64_t pa = cp->pa;
    page_leaving(mo, cp);
    if (page_cache_remove(&mo->cache, page, 0, NULL) != PC_OK)
        return false;
    aspace_free_after_flush(pa);
    bank_uncharge(mo->obj.bank, PAGE_SIZE);
    return true;
}

static bool evict_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)pc;
    struct memobj *mo = ((struct write_ctx *)ctx)->mo;
    if (drop_clean(mo, page, cp))
        ((struct write_ctx *)ctx)->started++;
    return true;
}

/* NS_MEMOBJ_CTL_EVICT: every clean page that no I/O holds leaves now;
 * dirty ones are written back first when the map covers them (they stay
 * until the write completes: sync, then evict, drops everything). */
static uint64_t memobj_evict(struct memobj *mo)
{
    struct write_ctx c;
    if (!mo->track_dirty)
        return 0;
    if (has_map(mo))
        write_dirty(mo, 0, UINT64_MAX, false, &c);
    else if (mo->manager_writeback)
        page_cache_range(&mo->cache, 0, UINT64_MAX, ask_visit, mo);
    memset(&c, 0, sizeof(c));
    c.mo = mo;
    page_cache_range(&mo->cache, 0, UINT64_MAX, evict_visit, &c);
    return c.started;
}

/* A dirty page of an object without a map, whose manager takes pages
 * back: ask it to store the page (one request per page, until it confirms
 * with NS_MEMOBJ_CTL_CLEAN). Its PTEs lose their write right, so a store
 * meanwhile is seen (WB_STALE) and the confirmation does not clean it. */
static bool ask_writeback(struct memobj *mo, struct cache_page *cp)
{
    if ((cp->flags & MEMOBJ_PAGE_WB_ASKED) || !manager_alive(mo))
        return false;
    if (bank_charge(mo->obj.bank, request_cache.size) != NS_OK)
        return false;
    struct page_request *r = kcache_alloc(&request_cache);
    if (!r) {
        bank_uncharge(mo->obj.bank, request_cache.size);
        return false;
    }
    r->obj = mo;
    r->first_page = cp->page;
    r->pages = 1;
    r->flags = NS_PAGE_REQ_WRITEBACK;
    r->handed_out = false;
    r->next = mo->writebacks;
    mo->writebacks = r;
    cp->flags = (cp->flags | MEMOBJ_PAGE_WB_ASKED) & ~MEMOBJ_PAGE_WB_STALE;
    page_cache_rmap_walk(cp, rmap_write_protect, NULL);
    notify_manager(mo);
    return true;
}

static bool ask_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)pc;
    (void)page;
    if ((cp->flags & PC_DIRTY) && !(cp->flags & PC_BUSY))
        ask_writeback(ctx, cp);
    return true;
}

/* NS_MEMOBJ_CTL_CLEAN: the manager stored `page` as it was when asked. */
static enum ns_error writeback_done(struct memobj *mo, uint64_t page, uint64_t *clean)
{
    struct page_request **pp = &mo->writebacks;
    while (*pp && (*pp)->first_page != page)
        pp = &(*pp)->next;
    if (!*pp)
        return NS_ERR_INVALID_ARG; /* nothing asked for that page */
    struct page_request *r = *pp;
    *pp = r->next;
    kcache_free(&request_cache, r);
    bank_uncharge(mo->obj.bank, request_cache.size);
    struct cache_page *cp = page_cache_lookup(&mo->cache, page);
    *clean = 1; /* a page gone since is no longer the kernel's to keep */
    if (cp && (cp->flags & MEMOBJ_PAGE_WB_ASKED)) {
        if (!(cp->flags & MEMOBJ_PAGE_WB_STALE) && (cp->flags & PC_DIRTY)) {
            cp->flags &= ~PC_DIRTY;
            mo->dirty--;
        }
        cp->flags &= ~(MEMOBJ_PAGE_WB_ASKED | MEMOBJ_PAGE_WB_STALE);
    }
    if (cp)
        *clean = !(cp->flags & PC_DIRTY);
    return NS_OK;
}

static void writebacks_free(struct memobj *mo)
{
    while (mo->writebacks) {
        struct page_request *r = mo->writebacks;
        mo->writebacks = r->next;
        kcache_free(&request_cache, r);
        bank_uncharge(mo->obj.bank, request_cache.size);
    }
}

static bool clock_referenced(struct cache_page *cp, void *ctx)
{
    (void)ctx;
    bool used = false;
    for (struct rmap_entry *e = cp->rmap; e; e = e->next)
        used |= aspace_test_clear_accessed(e->aspace, e->va);
    return used;
}

static bool age_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)pc;
    (void)page;
    *(uint64_t *)ctx += clock_referenced(cp, NULL);
    return true;
}

static enum clock_action clock_reclaim(struct cache_page *cp, void *ctx, uint64_t *pages)
{
    (void)ctx;
    struct memobj *mo = cp->owner;
    if (cp->flags & (PC_BUSY | PC_PINNED))
        return CLOCK_SKIP;
    if (!(cp->flags & PC_DIRTY))
        return drop_clean(mo, cp->page, cp) ? CLOCK_FREED : CLOCK_SKIP;
    if (reclaim_clean_only)
        return CLOCK_SKIP;
    if (!has_map(mo)) /* the manager's to store, if it takes pages back */
        return mo->manager_writeback && ask_writeback(mo, cp) ? CLOCK_WRITING : CLOCK_SKIP;
    /* Dirty: write it back with the dirty pages around it under the same
     * key (pageout writes in runs, as the fault path reads). */
    struct write_ctx c;
    /* Frames a batch holds until its flush count as freed. */
    uint64_t page = cp->page, free_before = kmem_free_pages() + aspace_frees_owed();
    uint64_t lo = page > MAP_IO_MAX_PAGES / 2 ? page - MAP_IO_MAX_PAGES / 2 : 0;
    write_dirty(mo, lo, lo + MAP_IO_MAX_PAGES, true, &c);
    /* The whole run counts toward what the sweep wants, or it would write
     * out up to 64 times what it needs: with a RAM disk, which completes
     * the write (and frees the pages) inside its submission, that was the
     * whole cache in one sweep and a sleeper woken 2.3 s late. Then cp is
     * gone, not to be touched, and what was freed is known already. (With
     * writes in flight, counting runs and counting victims measured the
     * same: pageout_write_mbps 97-107 either way.) */
    if (page_cache_lookup(&mo->cache, page) != cp) {
        /* the run's records may have taken a page */
        uint64_t now = kmem_free_pages() + aspace_frees_owed();
        *pages = now > free_before ? now - free_before : 1;
        return CLOCK_FREED;
    }
    if (!(cp->flags & PC_BUSY))
        return CLOCK_SKIP;
    *pages = c.started ? c.started : 1;
    return CLOCK_WRITING;
}

static uint64_t low_water, high_water;

static void watermarks(void)
{
    if (high_water)
        return;
    uint64_t total = kmem_total_pages();
    low_water = total / 32 > 256 ? total / 32 : 256;
    high_water = 2 * low_water;
}

/* Would charging `bytes` to `b` take it (or a bank above it) past its
 * limit? */
static bool bank_tight(const struct bank *b, uint64_t bytes)
{
    for (; b; b = b->parent)
        if (b->limit_bytes != UINT64_MAX && b->used_bytes + bytes > b->limit_bytes)
            return true;
    return false;
}

/* Sweep the clock for `want` pages (freed now or being written). */
static uint64_t reclaim_pages(uint64_t want)
{
    static const struct clock_ops ops = {.referenced = clock_referenced, .reclaim = clock_reclaim};
    static bool sweeping; /* a sweep's writebacks may want room too: no second sweep */
    if (sweeping)
        return 0;
    sweeping = true;
    /* Evictions of the sweep are shot down together (aspace.h). */
    aspace_batch_begin();
    struct clock_result r;
    /* Bounded work per call (interrupts are off): a few pages looked at
     * per page wanted, the next fault or tick going on from there - unless
     * that finds nothing. */
    clock_scan(&page_clock, want, 8 * want + 64, &ops, &r);
    /* Nothing found. With pageout writes in flight, memory is on its way
     * (and a fault that finds none waits for it): the next call goes on
     * from here. Otherwise sweep on, up to twice round - which, done at
     * once, takes the second chance from every page, so it is the last
     * resort and not the rule while a stream of dirty pages goes out. */
    if (r.freed + r.writing == 0 && pageout_writes_inflight == 0 && !reclaim_light) {
        struct clock_result more;
        clock_scan(&page_clock, want, 2 * page_clock.pages + 1, &ops, &more);
        r.freed += more.freed;
        r.writing += more.writing;
        r.referenced += more.referenced;
    }
    if (r.scanned)
        aspace_age_flush(); /* the accessed bits cleared: other harts at their tick */
    /* The batch's shootdowns and frees first: discarding maps destroys
     * their object frames, whose slots may hold the last capability to a
     * frame or a memory object still mapped on another hart - its destroy
     * frees pages straight after unmapping them. */
    aspace_batch_end();
    /* Nothing on the clock could go (not merely used lately) and nothing
     * is on its way out: the maps' own frames are what is left to give. */
    if (r.freed == 0 && r.writing == 0 && r.referenced == 0 && pageout_writes_inflight == 0 &&
        !reclaim_light)
        memobj_discard_all_maps();
    sweeping = false;
    return r.freed;
}

/* Pages the pageout writes in flight are expected to give back. */
static uint64_t pageout_coming(void)
{
    return pageout_writes_inflight * MAP_IO_MAX_PAGES / 2;
}

/* `want` more pages, over what pageout is already writing out. A fault
 * waiting for memory is retried at every write completion, with no use
 * of its pages in between: sweeping again each time would take the
 * second chance from every page (the clock would go round with nobody
 * using anything) - a hot set among a stream of dirty pages was seen to
 * go that way. */
static uint64_t reclaim_more(uint64_t want)
{
    uint64_t coming = pageout_coming();
    return coming >= want ? 0 : reclaim_pages(want - coming);
}

/* For a system call short of room in a bank: one bounded scan of the
 * clock, never the whole-clock last resort nor the map discard - the bank
 * may be full of what pageout cannot give (the review of the SMP work: a
 * full bank made every map call sweep the clock twice and drop every
 * storage map in the system). */
static void reclaim_lightly(uint64_t want)
{
    reclaim_light = true;
    reclaim_more(want);
    reclaim_light = false;
}

uint64_t memobj_reclaim(void)
{
    watermarks();
    uint64_t free_now = kmem_free_pages();
    if (free_now >= low_water)
        return 0;
    /* Writes already on their way count toward the target. */
    return reclaim_more(high_water - free_now);
}

/* The fault found no frame for a read: if pageout is writing pages out,
 * wait for it (the fault is retried when woken); else it fails. */
static bool wait_for_memory(struct hart *h, struct thread *t)
{
    if (pageout_writes_inflight == 0)
        return false;
    ipc_block(h, t, IPC_MEMORY_WAIT, NULL);
    waitq_push(&memory_waiters_head, &memory_waiters_tail, t);
    return true;
}

static void wake_memory_waiters(void)
{
    struct hart *h = sched_this_hart();
    while (memory_waiters_head) {
        struct thread *t = memory_waiters_head;
        waitq_remove(&memory_waiters_head, &memory_waiters_tail, t);
        ipc_wake(h, t);
    }
}

void memobj_memory_wait_cancel(struct thread *t)
{
    waitq_remove(&memory_waiters_head, &memory_waiters_tail, t);
}

/* ---- the fault path ---- */

/* Put cached page `cp` at `vpage` of `as` with `rights` and note it in the
 * reverse map: all a minor fault does once the page is found. 0 when mapped
 * (or mapped already: a stale TLB entry, now flushed); -1 when a PTE of
 * another frame is there (a frame mapped over the range by hand, which
 * forbids the access: an ordinary fault, never a retry loop); or
 * NS_FAULT_MANAGER with *aux = NS_ERR_NO_QUOTA when the space's bank cannot
 * hold a page table or the reverse-map entry.
 *
 * Dirty tracking, for objects backed by a storage map (track_dirty): a
 * clean page is mapped without write permission whatever the mapping
 * allows, and the first store to it faults here, marks it dirty and
 * gives the PTE its write right. So the kernel knows what to write back
 * without reading PTE dirty bits - which the U74 does not set by itself -
 * and a page is made clean again by unmapping its PTEs before its write
 * starts. Objects without a map skip this (no write fault after a read). */
static int map_cached(struct memobj *mo, struct cache_page *cp, struct aspace *as, uint64_t vpage,
                      uint32_t rights, enum fault_access access, uint64_t *aux)
{
    if (mo->track_dirty && (rights & NS_RIGHT_WRITE)) {
        if (access == ACCESS_WRITE) {
            mark_dirty(mo, cp);
            if (cp->flags & MEMOBJ_PAGE_WB_ASKED) /* the manager's copy is old now */
                cp->flags |= MEMOBJ_PAGE_WB_STALE;
        } else if (!(cp->flags & PC_DIRTY))
            rights &= ~NS_RIGHT_WRITE;
    }
    enum ns_error e = aspace_enter(as, vpage, cp->pa, rights);
    if (e == NS_OK) {
        if (page_cache_rmap_add(&mo->cache, cp, as, vpage) == PC_OK)
            return 0;
        aspace_unmap_page(as, vpage, NULL);
    } else if (e == NS_ERR_RANGE) {
        uint64_t pa, flags;
        if (!aspace_lookup(as, vpage, &pa, &flags) || (pa & ~(uint64_t)(PAGE_SIZE - 1)) != cp->pa)
            return -1;
        bool first_store = access == ACCESS_WRITE && (rights & NS_RIGHT_WRITE) && !(flags & PTE_W);
        if (first_store || !(flags & PTE_A)) {
            /* The first store to a clean page: now it may write; or a page
             * the clock aged, on hardware that faults rather than set the
             * accessed bit. The reverse-map entry stays; only the PTE
             * changes, in place and without a shootdown (aspace_grant). */
            if (!first_store)
                mo->accessed_faults++;
            aspace_grant(as, vpage, cp->pa, rights);
            return 0;
        }
        aspace_flush_page(as, vpage);
        return 0;
    }
    *aux = NS_ERR_NO_QUOTA;
    return NS_FAULT_MANAGER;
}

/* Major fault: the object has no frame for the page. Join the request that
 * covers it or make the one request, and sleep on it. */
static __attribute__((noinline)) int fault_missing(struct hart *h, struct thread *t,
                                                   struct memobj *mo, uint64_t page, uint64_t va,
                                                   enum fault_access access, uint64_t *aux)
{
    /* A frame mapped over the range by hand may hold the PTE, and this was
     * an access its rights forbid: the page is asked for all the same
     * (rare, and not worth a page-table walk on every major fault), and
     * the retry after it arrives is the ordinary fault (map_cached). */
    struct page_request *r = find_request(mo, page);
    struct map_io *io = NULL;
    if (!r) {
        enum ns_error e = NS_ERR_DEAD_OBJECT;
        uint32_t flags = NS_PAGE_REQ_NO_MAP;
        memobj_reclaim(); /* before it takes frames: nothing when memory is plenty */
        if (mo->track_dirty && bank_tight(mo->obj.bank, (mo->readahead_pages + 64) * PAGE_SIZE))
            reclaim_more(mo->readahead_pages + 64); /* its bank is nearly full: make room */
        if (has_map(mo)) {
            r = map_fault(mo, page, &flags, &io, &e);
            if (!r && flags == 0) { /* the map covers it, but no memory to read it into */
                if ((e == NS_ERR_NO_MEMORY || e == NS_ERR_NO_QUOTA) && wait_for_memory(h, t))
                    return 0;
                *aux = e;
                return NS_FAULT_MANAGER;
            }
        }
        /* The manager itself would wait for its own answer (a read
         * through the map needs no manager, so that was fine). */
        if (!r && mo->manager == t && t->obj.gen == mo->manager_gen) {
            *aux = NS_ERR_BAD_STATE;
            return NS_FAULT_MANAGER;
        }
        if (!r && (!manager_alive(mo) || !(r = new_request(mo, page, flags, &e)))) {
            *aux = e;
            return NS_FAULT_MANAGER;
        }
    } else if (!r->kernel_io && mo->manager == t && t->obj.gen == mo->manager_gen) {
        *aux = NS_ERR_BAD_STATE;
        return NS_FAULT_MANAGER;
    }
    t->fault_va = va;
    t->fault_page = page;
    t->fault_access = (uint8_t)access;
    ipc_block(h, t, IPC_PAGE_WAIT, r);
    waitq_push(&r->head, &r->tail, t);
    /* Submitted once the thread waits on the request: a RAM disk completes
     * inside the submission. */
    if (io)
        map_io_submit(io);
    return 0;
}

bool memobj_fault_resident(struct aspace *as, uint64_t va, enum fault_access access)
{
    struct mapping *m = as ? map_tree_lookup(&as->maps, va) : NULL;
    if (!m || !(m->rights & access_right[access]) || !((struct memobj *)m->obj)->obj.live)
        return false;
    struct memobj *mo = m->obj;
    uint64_t vpage = va & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t page = m->obj_page + (vpage - m->va_start) / PAGE_SIZE;
    if (page >= pages_of(mo->length))
        return false;
    struct cache_page *cp = page_cache_lookup(&mo->cache, page);
    uint64_t aux = 0;
    return cp && map_cached(mo, cp, as, vpage, m->rights, access, &aux) == 0;
}

int memobj_fault(struct hart *h, struct thread *t, uint64_t va, enum fault_access access,
                 uint64_t *aux)
{
    struct aspace *as = t->as;
    struct mapping *m = map_tree_lookup(&as->maps, va);
    if (!m || !(m->rights & access_right[access]))
        return -1;
    struct memobj *mo = m->obj;
    if (!mo->obj.live)
        return NS_FAULT_DEAD;
    uint64_t vpage = va & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t page = m->obj_page + (vpage - m->va_start) / PAGE_SIZE;
    if (page >= pages_of(mo->length))
        return NS_FAULT_RANGE;
    /* Minor fault: the object has the page; map it here too. */
    struct cache_page *cp = page_cache_lookup(&mo->cache, page);
    if (cp) {
        int k = map_cached(mo, cp, as, vpage, m->rights, access, aux);
        if (k == NS_FAULT_MANAGER && mo->track_dirty) {
            /* A full bank (a page table, a reverse-map entry): page out
             * and try once more - never this page, pinned meanwhile. */
            uint32_t pinned = cp->flags & PC_PINNED;
            cp->flags |= PC_PINNED;
            reclaim_more(64);
            cp->flags = (cp->flags & ~PC_PINNED) | pinned;
            k = map_cached(mo, cp, as, vpage, m->rights, access, aux);
            /* The sweep only started writes: wait for them, as a major
             * fault does, rather than fail the thread for want of room
             * that is on its way. */
            if (k == NS_FAULT_MANAGER && *aux == NS_ERR_NO_QUOTA && wait_for_memory(h, t))
                return 0;
        }
        return k;
    }
    return fault_missing(h, t, mo, page, va, access, aux);
}

/* ---- the object ---- */

static void drop_page_visit(uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)page;
    struct memobj *mo = ctx;
    bool ours = page_leaving(mo, cp);
    if (cp->flags & MEMOBJ_PAGE_BORROWED)
        return; /* lent by the kernel (the initrd), never ours to free */
    if (ours)   /* else a writeback reads it: its completion frees it */
        kmem_page_free(pa_to_va(cp->pa));
    bank_uncharge(mo->obj.bank, PAGE_SIZE);
}

static void rmap_unmap(struct cache_page *cp, void *aspace, uint64_t va, void *ctx)
{
    (void)cp;
    (void)ctx;
    aspace_unmap_page(aspace, va, NULL);
}

static bool clear_mappings_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp,
                                 void *ctx)
{
    (void)page;
    (void)ctx;
    page_cache_rmap_clear(pc, cp, rmap_unmap, NULL);
    return true;
}

static void memobj_destroy(struct kobj *obj)
{
    struct memobj *mo = (struct memobj *)obj;
    struct hart *h = sched_this_hart();
    page_cache_range(&mo->cache, 0, UINT64_MAX, clear_mappings_visit, NULL);
    page_cache_destroy(&mo->cache, drop_page_visit, mo);
    while (mo->requests)
        settle(h, mo, mo->requests, mo->requests->pending, NS_FAULT_DEAD, 0);
    pending_untrack(mo);
    /* Transfers in flight finish without the object: their charges go back
     * now, with everything else of the object's (its bank may go next). */
    for (struct map_io *io = mo->io_list; io; io = io->next)
        if (io->charge) {
            bank_uncharge(mo->obj.bank, io->charge);
            io->charge = 0;
        }
    sync_abort_all(mo);
    writebacks_free(mo);
    cap_slot_delete(&mo->map); /* the manager's frames are the manager's */
    mapped_track(mo, false);
    cap_slot_delete(&mo->notify);
    bank_uncharge_object(obj);
    kobj_kill(obj);
    if (mo->mappings == 0 && mo->io_inflight == 0)
        memobj_release_memory(mo);
}

void memobj_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = memobj_destroy};
    kobj_register_type(NS_CAP_MEMOBJ, &ops);
}

static enum ns_error lookup_memobj(struct thread *t, uint64_t slot, uint32_t rights,
                                   struct memobj **out)
{
    struct cap_slot *c;
    enum ns_error e = obj_lookup(t, slot, NS_CAP_MEMOBJ, rights, &c);
    if (e == NS_OK)
        *out = (struct memobj *)c->obj;
    return e;
}

enum ns_error sys_memobj_create(struct thread *self, uint64_t bank, uint64_t dst, uint64_t length,
                                uint64_t notification)
{
    struct obj_create c;
    struct cap_slot *n;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e == NS_OK)
        e = obj_lookup(self, notification, NS_CAP_NOTIFICATION, NS_RIGHT_WRITE, &n);
    if (e != NS_OK)
        return e;
    if (pages_of(length) >= PC_PAGE_LIMIT || length > UINT64_MAX - PAGE_SIZE)
        return NS_ERR_INVALID_ARG;
    struct memobj *mo;
    e = obj_create_alloc(&c, &memobj_cache, NS_CAP_MEMOBJ, (void **)&mo);
    if (e != NS_OK)
        return e;
    mo->length = length;
    mo->requests = NULL;
    mo->requests_made = 0;
    mo->mappings = 0;
    mo->manager = NULL; /* known once a thread drains the requests */
    mo->deadline_ticks = us_to_ticks(DEFAULT_DEADLINE_US);
    mo->cluster_pages = 1;
    mo->readahead_pages = DEFAULT_READAHEAD;
    mo->on_pending_list = false;
    static const struct page_cache_ops pc_ops_template = {.alloc = pc_alloc, .free = pc_free};
    struct page_cache_ops ops = pc_ops_template;
    ops.ctx = mo;
    page_cache_init(&mo->cache, &ops);
    memset(&mo->notify, 0, sizeof(mo->notify));
    cap_slot_derive(n, &mo->notify, NS_RIGHT_WRITE, n->badge);
    obj_create_install(&c, mo, NS_RIGHTS_ALL);
    return NS_OK;
}

enum ns_error sys_memobj_map(struct thread *self, uint64_t aspace, uint64_t memobj, uint64_t va,
                             uint64_t first_page, uint64_t pages, uint64_t rights,
                             uint64_t *effective)
{
    struct cap_slot *ac, *mc;
    enum ns_error e = obj_lookup(self, aspace, NS_CAP_ASPACE, NS_RIGHT_WRITE, &ac);
    if (e == NS_OK)
        e = obj_lookup(self, memobj, NS_CAP_MEMOBJ, 0, &mc);
    if (e != NS_OK)
        return e;
    const uint64_t rwx = NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC;
    bool strict = rights & NS_MAP_STRICT;
    if (rights & ~(rwx | NS_MAP_STRICT))
        return NS_ERR_INVALID_ARG;
    if ((va & (PAGE_SIZE - 1)) || va < PAGE_SIZE)
        return NS_ERR_BAD_ADDRESS;
    if (pages == 0 || pages > USER_TOP / PAGE_SIZE || !user_range_ok(va, pages * PAGE_SIZE))
        return NS_ERR_RANGE;
    if (first_page >= PC_PAGE_LIMIT || pages > PC_PAGE_LIMIT - first_page)
        return NS_ERR_RANGE;
    enum map_err me;
    uint32_t eff = map_effective_rights(mc->rights, (uint32_t)(rights & rwx), strict, &me);
    if (me != MAP_OK)
        return NS_ERR_NO_RIGHTS;
    struct aspace *as = (struct aspace *)ac->obj;
    struct memobj *mo = (struct memobj *)mc->obj;
    /* A bank full of the cache (pageout follows free memory, not each
     * bank) would fail the mapping's records: page out first, as a fault
     * and a supply do (the SMP stress test saw a map fail NO_QUOTA). A
     * split takes up to three. */
    if (bank_tight(as->obj.bank, 3 * mapping_cache.size))
        reclaim_lightly(16);
    /* Counted before the insert: a remap over the object's own mapping
     * frees nodes naming it, which must not see the count hit zero. */
    mo->mappings++;
    me = map_tree_insert(&as->maps, va, pages, mo, first_page, eff, true, map_removed, as, NULL);
    if (me != MAP_OK) {
        mo->mappings--;
        return me == MAP_ERR_NO_MEMORY ? NS_ERR_NO_QUOTA : NS_ERR_RANGE;
    }
    *effective = eff;
    return NS_OK;
}

enum ns_error sys_memobj_unmap(struct thread *self, uint64_t aspace, uint64_t va, uint64_t pages)
{
    struct cap_slot *ac;
    enum ns_error e = obj_lookup(self, aspace, NS_CAP_ASPACE, NS_RIGHT_WRITE, &ac);
    if (e != NS_OK)
        return e;
    if (va & (PAGE_SIZE - 1))
        return NS_ERR_BAD_ADDRESS;
    if (pages == 0 || pages > USER_TOP / PAGE_SIZE || !user_range_ok(va, pages * PAGE_SIZE))
        return NS_ERR_RANGE;
    struct aspace *as = (struct aspace *)ac->obj;
    switch (map_tree_unmap(&as->maps, va, pages, map_removed, as)) {
    case MAP_OK:
        return NS_OK;
    case MAP_ERR_NO_MEMORY:
        return NS_ERR_NO_QUOTA;
    case MAP_ERR_NOT_MAPPED:
        return NS_ERR_BAD_STATE;
    default:
        return NS_ERR_RANGE;
    }
}

struct protect_ctx {
    struct aspace *as;
    uint32_t mask;
};

enum ns_error sys_memobj_protect(struct thread *self, uint64_t aspace, uint64_t va, uint64_t pages,
                                 uint64_t rights)
{
    struct cap_slot *ac;
    enum ns_error e = obj_lookup(self, aspace, NS_CAP_ASPACE, NS_RIGHT_WRITE, &ac);
    if (e != NS_OK)
        return e;
    const uint64_t rwx = NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC;
    if (rights & ~rwx)
        return NS_ERR_INVALID_ARG;
    if (va & (PAGE_SIZE - 1))
        return NS_ERR_BAD_ADDRESS;
    if (pages == 0 || pages > USER_TOP / PAGE_SIZE || !user_range_ok(va, pages * PAGE_SIZE))
        return NS_ERR_RANGE;
    struct aspace *as = (struct aspace *)ac->obj;
    /* The whole range must be mapped: check before changing anything. */
    uint64_t end = va + pages * PAGE_SIZE;
    for (uint64_t a = va; a < end;) {
        struct mapping *m = map_tree_lookup(&as->maps, a);
        if (!m)
            return NS_ERR_BAD_STATE;
        a = m->va_end;
    }
    /* Protect only narrows: each mapping keeps what it had and `rights`
     * allows, so the range is narrowed mapping by mapping. */
    for (uint64_t a = va; a < end;) {
        struct mapping *m = map_tree_lookup(&as->maps, a);
        uint64_t stop = m->va_end < end ? m->va_end : end;
        uint32_t nr = m->rights & (uint32_t)rights;
        if ((nr & NS_RIGHT_WRITE) && !(nr & NS_RIGHT_READ))
            nr &= ~NS_RIGHT_WRITE;
        enum map_err me =
            map_tree_protect(&as->maps, a, (stop - a) / PAGE_SIZE, nr, map_changed, as);
        if (me != MAP_OK) /* only NO_MEMORY for a split: earlier pieces stay narrowed */
            return NS_ERR_NO_QUOTA;
        a = stop;
    }
    return NS_OK;
}

enum ns_error sys_memobj_requests(struct thread *self, uint64_t memobj, uint64_t buf, uint64_t max,
                                  uint64_t *count)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    if (max > 4096 / sizeof(struct ns_page_request))
        return NS_ERR_INVALID_ARG;
    if ((buf & 7) || !user_range_ok(buf, max * sizeof(struct ns_page_request)))
        return NS_ERR_BAD_ADDRESS;
    mo->manager = self;
    mo->manager_gen = self->obj.gen;
    uint64_t n = 0;
    for (struct page_request *r = mo->requests; r && n < max; r = r->next) {
        if (r->handed_out)
            continue;
        struct ns_page_request out = {r->first_page, r->pages, r->flags};
        if (copy_to_user(buf + n * sizeof(out), &out, sizeof(out)))
            return NS_ERR_BAD_ADDRESS;
        r->handed_out = true;
        n++;
    }
    for (struct page_request *r = mo->writebacks; r && n < max; r = r->next) {
        if (r->handed_out)
            continue;
        struct ns_page_request out = {r->first_page, 1, NS_PAGE_REQ_WRITEBACK};
        if (copy_to_user(buf + n * sizeof(out), &out, sizeof(out)))
            return NS_ERR_BAD_ADDRESS;
        r->handed_out = true;
        n++;
    }
    *count = n;
    return NS_OK;
}

static enum ns_error check_run(struct memobj *mo, uint64_t first, uint64_t pages)
{
    if (pages == 0 || first >= pages_of(mo->length) || pages > pages_of(mo->length) - first)
        return NS_ERR_RANGE;
    return NS_OK;
}

/* Is any page of [first, first + pages) still asked for? */
static bool requested(struct memobj *mo, uint64_t first, uint64_t pages)
{
    for (struct page_request *r = mo->requests; r; r = r->next)
        if (request_bits(r, first, pages) & r->pending)
            return true;
    return false;
}

/* Fresh frames for the pages of [first, first + pages) the object lacks,
 * filled from the manager's buffer at `buf` (or zeroed when buf is 0), the
 * tail past the length zeroed, entered in the page cache. All or nothing:
 * a bad buffer page or a full bank fails the call with nothing changed. */
static enum ns_error fill_pages(struct memobj *mo, uint64_t first, uint64_t pages, uint64_t buf)
{
    _Static_assert(SUPPLY_MAX_PAGES <= 64, "one bit of `fresh` per page");
    void *frames[SUPPLY_MAX_PAGES];
    uint64_t fresh = 0; /* bit i: frames[i] holds a new frame */
    bool retried = false;
    uint64_t last_page = pages_of(mo->length) - 1, tail = mo->length % PAGE_SIZE;
    enum ns_error e = NS_OK;
    for (uint64_t i = 0; i < pages && e == NS_OK; i++) {
        if (page_cache_lookup(&mo->cache, first + i))
            continue; /* already resident: keep what mappings see */
        if (bank_charge(mo->obj.bank, PAGE_SIZE) != NS_OK) {
            /* The bank is full - of the cache, most likely (pageout
             * follows free memory, not each bank): page out, as a fault
             * does, and try once more. Seen in the SMP stress test: a
             * supply failed with NO_QUOTA while the clock held plenty. */
            if (!retried) {
                retried = true;
                reclaim_lightly(pages - i + 16);
            }
            if (bank_charge(mo->obj.bank, PAGE_SIZE) != NS_OK) {
                e = NS_ERR_NO_QUOTA;
                break;
            }
        }
        frames[i] = buf ? kmem_page_alloc_dirty(NULL) : kmem_page_alloc(NULL);
        if (!frames[i]) {
            bank_uncharge(mo->obj.bank, PAGE_SIZE);
            e = NS_ERR_NO_MEMORY;
            break;
        }
        fresh |= 1ull << i;
        if (buf && copy_from_user(frames[i], buf + i * PAGE_SIZE, PAGE_SIZE))
            e = NS_ERR_BAD_ADDRESS;
        else if (buf && first + i == last_page && tail) /* past the length reads as zero */
            memset((char *)frames[i] + tail, 0, PAGE_SIZE - tail);
    }
    uint64_t inserted = 0;
    for (uint64_t i = 0; i < pages && e == NS_OK; i++) {
        if (!(fresh >> i & 1))
            continue;
        struct cache_page *cp;
        if (page_cache_insert(&mo->cache, first + i, direct_va_to_pa(frames[i]), 0, &cp) != PC_OK) {
            e = NS_ERR_NO_QUOTA;
            break;
        }
        inserted |= 1ull << i;
        clock_track(mo, cp);
    }
    if (e != NS_OK) {
        /* Undo: the pages inserted are not mapped anywhere yet. */
        for (uint64_t i = 0; i < pages; i++) {
            if (inserted >> i & 1) {
                page_leaving(mo, page_cache_lookup(&mo->cache, first + i));
                page_cache_remove(&mo->cache, first + i, PC_REMOVE_FORCE, NULL);
            }
            if (fresh >> i & 1) {
                kmem_page_free(frames[i]);
                bank_uncharge(mo->obj.bank, PAGE_SIZE);
            }
        }
        return e;
    }
    return NS_OK;
}

/* Supply and preload: decode (every check), then fill and settle. Pages
 * nobody asked for are a supply's error and the point of a preload. */
static enum ns_error enter_pages(struct hart *h, struct thread *self, uint64_t memobj,
                                 uint64_t first, uint64_t pages, uint64_t buf, bool asked)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    if ((e = check_run(mo, first, pages)) != NS_OK)
        return e;
    if (pages > SUPPLY_MAX_PAGES)
        return NS_ERR_INVALID_ARG;
    /* buf 0 asks for zero pages (page 0 is never mapped, so it cannot be
     * a buffer): what a zero-fill manager answers, with no copy. */
    if (buf && ((buf & (PAGE_SIZE - 1)) || !user_range_ok(buf, pages * PAGE_SIZE)))
        return NS_ERR_BAD_ADDRESS;
    /* A supply answers a request (with readahead around it allowed): pages
     * nobody asked for at all are refused. */
    if (asked && !requested(mo, first, pages))
        return NS_ERR_INVALID_ARG;
    if ((e = fill_pages(mo, first, pages, buf)) != NS_OK)
        return e;
    /* Every page of the run is resident now (fill_pages kept those that
     * were): its waiters go on. */
    settle_run(h, mo, first, pages, 0, 0);
    return NS_OK;
}

enum ns_error sys_memobj_supply(struct hart *h, struct thread *self, uint64_t memobj,
                                uint64_t first, uint64_t pages, uint64_t buf)
{
    return enter_pages(h, self, memobj, first, pages, buf, true);
}

enum ns_error sys_memobj_fail(struct hart *h, struct thread *self, uint64_t memobj, uint64_t first,
                              uint64_t pages, uint64_t error)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    if ((e = check_run(mo, first, pages)) != NS_OK)
        return e;
    if (error == NS_OK || error >= NS_ERR_COUNT || !requested(mo, first, pages))
        return NS_ERR_INVALID_ARG;
    /* Only the threads waiting for the failed pages get the error; the
     * rest of a cluster stays asked for. */
    settle_run(h, mo, first, pages, NS_FAULT_MANAGER, error);
    return NS_OK;
}

struct truncate_ctx {
    struct memobj *mo;
};

static bool truncate_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct memobj *mo = ((struct truncate_ctx *)ctx)->mo;
    uint64_t pa;
    page_cache_rmap_clear(pc, cp, rmap_unmap, NULL);
    bool borrowed = cp->flags & MEMOBJ_PAGE_BORROWED;
    bool ours = page_leaving(mo, cp); /* a busy frame is its writeback's to free */
    if (page_cache_remove(pc, page, PC_REMOVE_FORCE, &pa) == PC_OK && !borrowed) {
        if (ours)
            kmem_page_free(pa_to_va(pa));
        bank_uncharge(mo->obj.bank, PAGE_SIZE);
    }
    return true;
}

enum ns_error sys_memobj_set_length(struct hart *h, struct thread *self, uint64_t memobj,
                                    uint64_t length)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    if (length > UINT64_MAX - PAGE_SIZE || pages_of(length) >= PC_PAGE_LIMIT)
        return NS_ERR_INVALID_ARG;
    uint64_t keep = pages_of(length);
    if (length < mo->length) {
        /* Shrink: pages past the end leave every mapping and the cache;
         * requests for them fail as out of range. */
        struct truncate_ctx c = {mo};
        page_cache_range(&mo->cache, keep, UINT64_MAX, truncate_visit, &c);
        settle_run(h, mo, keep, PC_PAGE_LIMIT - keep, NS_FAULT_RANGE, 0);
        /* The new last page keeps its bytes past the length: zero them. */
        struct cache_page *cp = keep ? page_cache_lookup(&mo->cache, keep - 1) : NULL;
        if (cp && length % PAGE_SIZE)
            memset((char *)pa_to_va(cp->pa) + length % PAGE_SIZE, 0,
                   PAGE_SIZE - length % PAGE_SIZE);
    }
    mo->length = length;
    return NS_OK;
}

enum ns_error sys_memobj_info(struct thread *self, uint64_t memobj, uint64_t *length,
                              uint64_t *resident, uint64_t *requests)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, 0, &mo);
    if (e != NS_OK)
        return e;
    *length = mo->length;
    *resident = page_cache_count(&mo->cache);
    *requests = mo->requests_made;
    return NS_OK;
}

/* ---- storage-map system calls ---- */

static bool track_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)page;
    (void)ctx;
    struct memobj *mo = (struct memobj *)((char *)pc - offsetof(struct memobj, cache));
    if (!(cp->flags & MEMOBJ_PAGE_BORROWED)) {
        mark_dirty(mo, cp);
        clock_track(mo, cp);
    }
    return true;
}

/* From now on the kernel knows which pages differ from their backing
 * store; of those already here it cannot tell: all are dirty. */
static void start_tracking(struct memobj *mo)
{
    if (mo->track_dirty)
        return;
    mo->track_dirty = true;
    page_cache_range(&mo->cache, 0, UINT64_MAX, track_visit, NULL);
}

enum ns_error sys_memobj_set_map(struct thread *self, uint64_t memobj, uint64_t frame,
                                 uint64_t height)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    if (frame == 0) {
        cap_slot_delete(&mo->map);
        mo->map_height = 0;
        mapped_track(mo, false);
        return NS_OK;
    }
    struct cap_slot *fc;
    if ((e = obj_lookup(self, frame, NS_CAP_OBJFRAME, NS_RIGHT_READ, &fc)) != NS_OK)
        return e;
    if (height == 0 || height > SMAP_MAX_HEIGHT)
        return NS_ERR_INVALID_ARG;
    /* The old map is the manager's to keep or destroy: only the kernel's
     * copy of its root goes. */
    cap_slot_delete(&mo->map);
    cap_slot_derive(fc, &mo->map, NS_RIGHT_READ, 0);
    mo->map_height = (uint32_t)height;
    mapped_track(mo, true);
    start_tracking(mo);
    map_redrive(mo);
    return NS_OK;
}

enum ns_error sys_memobj_control(struct thread *self, uint64_t memobj, uint64_t op, uint64_t arg,
                                 uint64_t *out)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    *out = 0;
    switch (op) {
    case NS_MEMOBJ_CTL_DISCARD_MAP:
        *out = has_map(mo);
        map_discard(mo);
        return NS_OK;
    case NS_MEMOBJ_CTL_READAHEAD:
        if (arg == 0 || arg > MAP_IO_MAX_PAGES)
            return NS_ERR_INVALID_ARG;
        mo->readahead_pages = (uint32_t)arg;
        return NS_OK;
    case NS_MEMOBJ_CTL_EVICT:
        *out = memobj_evict(mo);
        return NS_OK;
    case NS_MEMOBJ_CTL_WRITEBACK:
        if (arg != 1)
            return NS_ERR_INVALID_ARG; /* once on, for good: the pages' state depends on it */
        mo->manager_writeback = true;
        start_tracking(mo);
        return NS_OK;
    case NS_MEMOBJ_CTL_CLEAN:
        return writeback_done(mo, arg, out);
    case NS_MEMOBJ_CTL_AGE:
        if (arg != 0)
            return NS_ERR_INVALID_ARG;
        *out = 0;
        page_cache_range(&mo->cache, 0, UINT64_MAX, age_visit, out);
        aspace_flush_all(); /* as after a sweep: hardware walks again for the bit */
        return NS_OK;
    default:
        return NS_ERR_INVALID_ARG;
    }
}

enum ns_error sys_memobj_stats(struct thread *self, uint64_t memobj, uint64_t buf)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, 0, &mo);
    if (e != NS_OK)
        return e;
    struct ns_memobj_stats s = {
        .length = mo->length,
        .resident = page_cache_count(&mo->cache),
        .dirty = mo->dirty,
        .requests_made = mo->requests_made,
        .map_reads = mo->map_reads,
        .map_pages_read = mo->map_pages_read,
        .map_writes = mo->map_writes,
        .map_pages_written = mo->map_pages_written,
        .io_errors = mo->io_errors,
        .map_discards = mo->map_discards,
        .has_map = has_map(mo),
        .io_inflight = mo->io_inflight,
        .accessed_faults = mo->accessed_faults,
    };
    if ((buf & 7) || copy_to_user(buf, &s, sizeof(s)))
        return NS_ERR_BAD_ADDRESS;
    return NS_OK;
}

enum ns_error sys_memobj_set_deadline(struct thread *self, uint64_t memobj, uint64_t us)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    if (us > 1000000ull * 3600 * 24)
        return NS_ERR_INVALID_ARG;
    mo->deadline_ticks = us_to_ticks(us); /* for requests made from now on */
    return NS_OK;
}

enum ns_error sys_memobj_set_cluster(struct thread *self, uint64_t memobj, uint64_t pages)
{
    struct memobj *mo;
    enum ns_error e = lookup_memobj(self, memobj, NS_RIGHT_MANAGE, &mo);
    if (e != NS_OK)
        return e;
    if (pages == 0 || pages > SUPPLY_MAX_PAGES)
        return NS_ERR_INVALID_ARG;
    mo->cluster_pages = (uint32_t)pages;
    return NS_OK;
}

void memobj_tick(struct hart *h, uint64_t now)
{
    memobj_reclaim();
    for (struct memobj *mo = pending_list, *next; mo; mo = next) {
        next = mo->pending_next;
        bool dead = !manager_alive(mo);
        for (struct page_request *r = mo->requests, *rn; r; r = rn) {
            rn = r->next;
            if (r->kernel_io)
                continue; /* the disk answers it, not the manager */
            if (dead)
                settle(h, mo, r, r->pending & ~r->reading, NS_FAULT_MANAGER, NS_ERR_DEAD_OBJECT);
            else if (r->deadline && r->deadline <= now)
                settle(h, mo, r, r->pending & ~r->reading, NS_FAULT_MANAGER, NS_ERR_TIMEOUT);
        }
        if (!mo->requests)
            pending_untrack(mo);
    }
}

/* ---- preload: pages nobody asked for, for resident memory ---- */

/* Like supply, but the pages need no request: a manager fills the objects
 * it runs from (or builds a program from) before anyone touches them, so
 * none of its own memory ever waits on a manager (DESIGN.md §1). Pages
 * already resident keep what mappings see; requests the run covers whole
 * complete as a supply would complete them. buf == 0 enters zero pages. */
enum ns_error sys_memobj_preload(struct hart *h, struct thread *self, uint64_t memobj,
                                 uint64_t first, uint64_t pages, uint64_t buf)
{
    return enter_pages(h, self, memobj, first, pages, buf, false);
}

/* ---- objects the kernel makes at boot (memobj.h) ---- */

enum ns_error memobj_kernel_create(struct bank *bank, uint64_t length, struct cap_slot *dst,
                                   struct memobj **out)
{
    if (pages_of(length) >= PC_PAGE_LIMIT || length > UINT64_MAX - PAGE_SIZE)
        return NS_ERR_INVALID_ARG;
    struct obj_create c = {.bank = bank, .dst = dst};
    struct memobj *mo;
    enum ns_error e = obj_create_alloc(&c, &memobj_cache, NS_CAP_MEMOBJ, (void **)&mo);
    if (e != NS_OK)
        return e;
    /* kcache_alloc cleared the rest: no requests, manager, notification
     * or deadline - nothing will ever be asked for. */
    mo->length = length;
    mo->readahead_pages = DEFAULT_READAHEAD;
    static const struct page_cache_ops ops_template = {.alloc = pc_alloc, .free = pc_free};
    struct page_cache_ops ops = ops_template;
    ops.ctx = mo;
    page_cache_init(&mo->cache, &ops);
    obj_create_install(&c, mo, NS_RIGHTS_ALL);
    *out = mo;
    return NS_OK;
}

enum ns_error memobj_kernel_fill(struct memobj *mo, uint64_t page, void **kva)
{
    uint64_t pa;
    if (bank_charge(mo->obj.bank, PAGE_SIZE) != NS_OK)
        return NS_ERR_NO_QUOTA;
    void *frame = kmem_page_alloc(&pa);
    if (!frame) {
        bank_uncharge(mo->obj.bank, PAGE_SIZE);
        return NS_ERR_NO_MEMORY;
    }
    if (page_cache_insert(&mo->cache, page, pa, 0, NULL) != PC_OK) {
        kmem_page_free(frame);
        bank_uncharge(mo->obj.bank, PAGE_SIZE);
        return NS_ERR_NO_QUOTA;
    }
    *kva = frame;
    return NS_OK;
}

enum ns_error memobj_kernel_lend(struct memobj *mo, uint64_t page, uint64_t pa)
{
    return page_cache_insert(&mo->cache, page, pa, MEMOBJ_PAGE_BORROWED, NULL) == PC_OK
               ? NS_OK
               : NS_ERR_NO_QUOTA;
}

struct populate_ctx {
    struct aspace *as;
    uint64_t first, va;
    uint32_t rights;
    enum ns_error err;
};

static bool populate_visit(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct populate_ctx *p = ctx;
    uint64_t va = p->va + (page - p->first) * PAGE_SIZE;
    p->err = aspace_map_page(p->as, va, cp->pa, p->rights);
    if (p->err == NS_OK && page_cache_rmap_add(pc, cp, p->as, va) != PC_OK) {
        aspace_unmap_page(p->as, va, NULL);
        p->err = NS_ERR_NO_QUOTA;
    }
    return p->err == NS_OK;
}

enum ns_error memobj_kernel_map(struct aspace *as, struct memobj *mo, uint64_t va, uint64_t first,
                                uint64_t pages, uint32_t rights)
{
    mo->mappings++;
    enum map_err me =
        map_tree_insert(&as->maps, va, pages, mo, first, rights, true, map_removed, as, NULL);
    if (me != MAP_OK) {
        mo->mappings--;
        return me == MAP_ERR_NO_MEMORY ? NS_ERR_NO_QUOTA : NS_ERR_RANGE;
    }
    struct populate_ctx p = {as, first, va, rights, NS_OK};
    page_cache_range(&mo->cache, first, first + pages, populate_visit, &p);
    return p.err;
}
