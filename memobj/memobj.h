/* Memory objects in the kernel: the object (length, page cache, requests,
 * manager notification), the mappings of objects into address spaces, and
 * the fault path between them. docs/memory-objects.md tells the story; the
 * portable pieces are map_tree.c (an address space's mappings) and
 * page_cache.c (an object's resident pages and their reverse map).
 *
 * A fault on a mapped page the object does not hold creates at most one
 * request per object page, however many threads fault on it: the request
 * list is per object, and a thread whose page is already requested joins
 * that request's wait queue. The faulting thread blocks (a state, not a
 * kernel wait); the manager, told through its notification, reads the
 * requests, and its supply or fail wakes every waiter, which retries the
 * access (then a minor fault) or receives the failure as a fault message. */
#ifndef NEWSYS_MEMOBJ_MEMOBJ_H
#define NEWSYS_MEMOBJ_MEMOBJ_H

#include <stdbool.h>
#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/cap.h"
#include "kernel/core/kobj.h"
#include "memobj/map_tree.h"
#include "memobj/page_cache.h"

struct thread;
struct hart;
struct aspace;
struct bank;
struct map_io;
struct memobj_sync;

/* One request: a run of at most 64 pages asked for in one message. Pages
 * leave `pending` as they arrive, fail or fall past a shrunk length; the
 * request goes when none is left. Each waiter waits for one of its
 * pending pages (thread.fault_page). */
struct page_request {
    struct memobj *obj;
    uint64_t first_page;
    uint32_t pages;
    bool handed_out;            /* the manager has read it (or the kernel reads it: io) */
    uint32_t flags;             /* NS_PAGE_REQ_*: why the storage map did not serve it */
    bool kernel_io;             /* the kernel reads it through the storage map */
    uint64_t reading;           /* bit i: a map read for page first_page + i is in flight */
    uint64_t pending;           /* bit i: page first_page + i still awaited */
    uint64_t deadline;          /* timer value; 0: none */
    struct thread *head, *tail; /* waiting threads */
    struct page_request *next;
};

struct memobj {
    struct kobj obj;
    uint64_t length; /* bytes */
    struct page_cache cache;
    struct page_request *requests;
    struct cap_slot notify; /* the manager's notification */
    uint64_t requests_made;
    /* The manager's thread - the last one that drained the requests: if it
     * faults on this object it would wait for itself, so that fault fails
     * at once. (Before anyone drains, the deadline bounds such a wait.) */
    struct thread *manager;
    uint32_t manager_gen;
    uint64_t deadline_ticks;                    /* per request; 0: wait forever */
    uint32_t cluster_pages;                     /* pages a request may cover (1..64) */
    struct memobj *pending_next, *pending_prev; /* on the list of objects with requests */
    bool on_pending_list;
    /* The storage map: a copy of the manager's root-frame capability (empty
     * or stale: no map) and its height; map reads in flight; counters. */
    struct cap_slot map;
    uint32_t map_height;
    bool track_dirty;         /* backed by a map (now or once): clean pages are mapped read-only */
    uint32_t readahead_pages; /* 1..64 */
    uint32_t io_inflight;     /* map transfers not yet completed */
    struct map_io *io_list;   /* those transfers */
    uint64_t dirty;           /* pages marked PC_DIRTY */
    uint32_t writes_inflight; /* of io_inflight, writebacks */
    uint8_t unflushed;        /* bit d: disk d took writes since its last flush */
    bool sync_running, sync_again;
    struct memobj_sync *syncs; /* NS_SYS_MEMOBJ_SYNC calls in progress */
    bool manager_writeback;    /* NS_MEMOBJ_CTL_WRITEBACK: dirty pages go back to the manager */
    struct page_request *writebacks;          /* NS_PAGE_REQ_WRITEBACK requests, one page each */
    struct memobj *mapped_next, *mapped_prev; /* on the list of objects with a map */
    bool on_mapped_list;
    uint64_t map_reads, map_pages_read, map_writes, map_pages_written, io_errors, map_discards;
    uint64_t accessed_faults; /* map_cached gave an aged PTE its accessed bit back */
    /* Mapping nodes naming this object. A destroyed object's memory stays
     * allocated (dead) until the last of them is gone, so a mapping never
     * points at memory reused by another object. */
    uint64_t mappings;
};

enum fault_access { ACCESS_READ, ACCESS_WRITE, ACCESS_EXEC };

void memobj_types_init(void);

/* Resolve a page fault of `t` at `va` through its space's mappings.
 * Returns 0 when dealt with (the page is mapped and the thread retries, or
 * it waits for the manager), -1 when no mapping allows the access (the
 * caller delivers an ordinary fault), or an NS_FAULT_* kind to deliver
 * (with *aux for the fault message's last word). */
int memobj_fault(struct hart *h, struct thread *t, uint64_t va, enum fault_access access,
                 uint64_t *aux);
/* A copy to or from user memory by the kernel (a system call's buffer)
 * faulted at `va` in `as`: map the page if the object has it and the
 * mapping allows the access - the first store to a clean disk-backed page,
 * a cached page this space has not touched yet - and say so, so the copy
 * is run again. False when that would need the manager, the disk or a
 * wait (the kernel cannot block in the middle of a copy): the call then
 * fails with NS_ERR_BAD_ADDRESS as before. */
bool memobj_fault_resident(struct aspace *as, uint64_t va, enum fault_access access);

/* `t` waits on a page request and is being suspended or destroyed. */
void memobj_cancel_wait(struct thread *t);

/* An address space is going away: drop its mappings (reverse-map entries
 * and mapping nodes; its page tables go with it). */
void memobj_aspace_teardown(struct aspace *as);

enum ns_error sys_memobj_create(struct thread *self, uint64_t bank, uint64_t dst, uint64_t length,
                                uint64_t notification);
enum ns_error sys_memobj_map(struct thread *self, uint64_t aspace, uint64_t memobj, uint64_t va,
                             uint64_t first_page, uint64_t pages, uint64_t rights,
                             uint64_t *effective);
enum ns_error sys_memobj_unmap(struct thread *self, uint64_t aspace, uint64_t va, uint64_t pages);
enum ns_error sys_memobj_protect(struct thread *self, uint64_t aspace, uint64_t va, uint64_t pages,
                                 uint64_t rights);
enum ns_error sys_memobj_requests(struct thread *self, uint64_t memobj, uint64_t buf, uint64_t max,
                                  uint64_t *count);
enum ns_error sys_memobj_supply(struct hart *h, struct thread *self, uint64_t memobj,
                                uint64_t first, uint64_t pages, uint64_t buf);
enum ns_error sys_memobj_fail(struct hart *h, struct thread *self, uint64_t memobj, uint64_t first,
                              uint64_t pages, uint64_t error);
enum ns_error sys_memobj_set_length(struct hart *h, struct thread *self, uint64_t memobj,
                                    uint64_t length);
enum ns_error sys_memobj_set_deadline(struct thread *self, uint64_t memobj, uint64_t us);
enum ns_error sys_memobj_set_cluster(struct thread *self, uint64_t memobj, uint64_t pages);
/* Timer tick: fail requests whose deadline has passed. */
void memobj_tick(struct hart *h, uint64_t now);
void memobj_set_timebase(uint64_t hz);

/* Storage maps (NS_SYS_MEMOBJ_SET_MAP, CONTROL, STATS). */
enum ns_error sys_memobj_set_map(struct thread *self, uint64_t memobj, uint64_t frame,
                                 uint64_t height);
enum ns_error sys_memobj_control(struct thread *self, uint64_t memobj, uint64_t op, uint64_t arg,
                                 uint64_t *out);
enum ns_error sys_memobj_stats(struct thread *self, uint64_t memobj, uint64_t buf);
/* Memory pressure: drop every storage map (their frames go back to their
 * banks; managers rebuild them on demand). Returns maps dropped. */
uint64_t memobj_discard_all_maps(void);
/* NS_SYS_MEMOBJ_SYNC: the caller blocks until every dirty page the map
 * covers is written and the devices flushed (or returns at once). */
void sys_memobj_sync(struct hart *h, struct thread *t);
/* A clean shutdown by `t`: true when `t` now waits for an object's dirty
 * pages to be written and flushed, and re-runs its system call once they
 * are; false when nothing is left to write. */
bool memobj_shutdown_writeback(struct hart *h, struct thread *t);
/* `t` waits in a sync and is being suspended or destroyed. */
void memobj_sync_cancel(struct thread *t);
/* `t` waits for memory to be paged out and is being suspended or
 * destroyed. */
void memobj_memory_wait_cancel(struct thread *t);
/* Memory pressure: age and page out until the free frames reach the high
 * watermark (or nothing more can go now). Returns pages freed. */
uint64_t memobj_reclaim(void);

enum ns_error sys_memobj_info(struct thread *self, uint64_t memobj, uint64_t *length,
                              uint64_t *resident, uint64_t *requests);

/* Enter pages into the cache without a request (NS_SYS_MEMOBJ_PRELOAD):
 * `buf` is the manager's buffer, or 0 for zero pages. */
enum ns_error sys_memobj_preload(struct hart *h, struct thread *self, uint64_t memobj,
                                 uint64_t first, uint64_t pages, uint64_t buf);

/* A cache page whose frame the kernel lent (the initrd's own memory): it is
 * neither freed nor uncharged when it leaves the cache. */
#define MEMOBJ_PAGE_BORROWED (1u << PC_FLAG_USER_SHIFT)
/* The clock chose the page: free it once its writeback leaves it clean. */
#define MEMOBJ_PAGE_RECLAIM (2u << PC_FLAG_USER_SHIFT)
/* A writeback request for the page is with the manager; STALE: the page
 * was written since, so the manager's confirmation does not clean it. */
#define MEMOBJ_PAGE_WB_ASKED (4u << PC_FLAG_USER_SHIFT)
#define MEMOBJ_PAGE_WB_STALE (8u << PC_FLAG_USER_SHIFT)

/* Objects the kernel itself makes at boot (init's image and the initrd):
 * no manager and no notification, every page entered before anyone maps
 * them, so nothing ever asks for a page. */

/* A new object of `length` bytes charged to `bank`, its first capability
 * (all rights) installed in the empty slot `dst`. */
enum ns_error memobj_kernel_create(struct bank *bank, uint64_t length, struct cap_slot *dst,
                                   struct memobj **out);
/* Enter `page` as a fresh zeroed frame charged to the object's bank;
 * *kva gets its kernel address so the caller can fill it. */
enum ns_error memobj_kernel_fill(struct memobj *mo, uint64_t page, void **kva);
/* Enter `page` as the frame at `pa`, lent by the kernel for good
 * (MEMOBJ_PAGE_BORROWED): not charged, never freed. */
enum ns_error memobj_kernel_lend(struct memobj *mo, uint64_t page, uint64_t pa);
/* Map [first, first + pages) of the object at `va` in `as` with `rights`
 * and install the PTEs of its resident pages now, so the kernel can reach
 * that memory (IPC buffers, system-call buffers) before the owner touches
 * it. */
enum ns_error memobj_kernel_map(struct aspace *as, struct memobj *mo, uint64_t va, uint64_t first,
                                uint64_t pages, uint32_t rights);

#endif
