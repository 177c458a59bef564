/* Per-object page cache: the resident pages of one memory object, indexed by
 * object page number, each with a reverse map to the PTEs that map it.
 *
 * Contract:
 *   - The state lives in a caller-owned struct page_cache; the module has no
 *     globals and no locking: the caller serialises every call on one cache
 *     (the kernel holds the object's lock).
 *   - Every byte of memory (tree nodes, struct cache_page records, struct
 *     rmap_entry records) comes from the caller's ops->alloc and goes back
 *     through ops->free with the same size. Any allocation may fail: the call
 *     then returns PC_ERR_NO_MEMORY and the cache is exactly as before.
 *     Removals never allocate, so they never fail for lack of memory.
 *   - Object pages are 0 .. PC_PAGE_LIMIT - 1 (2^52 pages: a 2^64-byte
 *     object). A page outside that is PC_ERR_RANGE.
 *   - A struct cache_page pointer stays valid (same address) from insert until
 *     the page is removed or the cache destroyed; the tree never moves
 *     records, so callers may link them into their own lists (LRU).
 *   - The reverse map has one entry per (aspace, va) pair a PTE maps the page
 *     at; mapcount is the number of entries. rmap_add does not look for a
 *     duplicate pair (the fault path only installs a PTE where none was, so a
 *     duplicate is a caller bug; keeping add O(1) keeps minor faults short).
 *   - The module never interprets pa, aspace or va and never touches a PTE:
 *     the callbacks are where the caller unmaps.
 */
#ifndef NEWSYS_MEMOBJ_PAGE_CACHE_H
#define NEWSYS_MEMOBJ_PAGE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PC_PAGE_BITS  52
#define PC_PAGE_LIMIT ((uint64_t)1 << PC_PAGE_BITS)

/* cache_page.flags. Bits 0-7 are the module's (it only reads PINNED and BUSY,
 * in page_cache_remove; it never changes flags after insert); bits 8-31
 * (PC_FLAGS_USER) are free for the caller. */
#define PC_DIRTY           (1u << 0) /* differs from the backing store */
#define PC_PINNED          (1u << 1) /* pinned (I/O pin, resident page): not removable */
#define PC_BUSY            (1u << 2) /* I/O in flight on the frame: not removable */
#define PC_FLAGS_USER      0xffffff00u
#define PC_FLAG_USER_SHIFT 8

enum pc_err {
    PC_OK = 0,
    PC_ERR_EXISTS,    /* insert: the page is already cached */
    PC_ERR_NOT_FOUND, /* remove: page not cached; rmap_remove: no such pair */
    PC_ERR_NO_MEMORY, /* ops->alloc failed; nothing changed */
    PC_ERR_RANGE,     /* page >= PC_PAGE_LIMIT, or first > last in a range */
    PC_ERR_BUSY,      /* remove without PC_REMOVE_FORCE: mapped, pinned or busy */
    PC_ERR_COUNT
};

/* Never NULL; an out-of-range value gives "unknown page cache error". */
const char *pc_strerror(enum pc_err err);

struct page_cache_ops {
    /* Returns size bytes aligned for any object (8 is enough), or NULL. */
    void *(*alloc)(size_t size, void *ctx);
    void (*free)(void *p, size_t size, void *ctx);
    void *ctx;
};

struct rmap_entry {
    void *aspace; /* opaque: the caller's address space */
    uint64_t va;
    struct rmap_entry *next;
};

/* One resident page. 64 bytes. The module owns page, pa, mapcount and rmap
 * (read them, do not write them); flags bits 0-7 are set at insert and then
 * the caller's to change (e.g. set PC_DIRTY, take PC_PINNED); everything
 * from age on is never touched by the module (zeroed at insert). */
struct cache_page {
    uint64_t pa;       /* physical frame */
    uint32_t flags;    /* PC_DIRTY | PC_PINNED | PC_BUSY | user bits */
    uint32_t mapcount; /* entries in rmap */
    struct rmap_entry *rmap;
    uint64_t page; /* object page number (so an LRU walker can find the slot) */
    /* Caller's room. */
    uint32_t age;
    uint32_t user32;
    void *owner; /* e.g. the memory object, for a global LRU */
    struct cache_page *lru_prev, *lru_next;
};

/* Internal: read through the functions below. */
struct page_cache {
    void *root;      /* top node, NULL when empty */
    unsigned height; /* levels of nodes; 0 when empty */
    uint64_t count;  /* cached pages */
    uint64_t nodes;  /* tree nodes allocated */
    uint64_t gen;    /* bumped on every structural change (range walks) */
    struct page_cache_ops ops;
};

/* Callbacks.
 *
 * page_cache_visit_fn (page_cache_range): return true to go on, false to stop.
 * It may call any page_cache function on this cache except init and destroy:
 * remove the visited page or any other, insert pages, add or clear rmaps. The
 * walk resumes after the visited page, so pages inserted above it inside the
 * range are visited too, and removed ones are not.
 *
 * page_cache_destroy_fn: sees each page once, in order, with its rmap still
 * attached (walk it to unmap the PTEs, free the frame, unlink it from the
 * LRU). It must not call page_cache functions on this cache.
 *
 * page_cache_rmap_fn (rmap_walk): return true to go on, false to stop; it
 * must not add or remove reverse-map entries of this page.
 *
 * page_cache_rmap_clear_fn: called once per entry; the page's list is already
 * detached (cp->rmap == NULL, cp->mapcount == 0) when it runs, so it may do
 * anything, including adding a fresh entry to the page. */
typedef bool (*page_cache_visit_fn)(struct page_cache *pc, uint64_t page, struct cache_page *cp,
                                    void *ctx);
typedef void (*page_cache_destroy_fn)(uint64_t page, struct cache_page *cp, void *ctx);
typedef bool (*page_cache_rmap_fn)(struct cache_page *cp, void *aspace, uint64_t va, void *ctx);
typedef void (*page_cache_rmap_clear_fn)(struct cache_page *cp, void *aspace, uint64_t va,
                                         void *ctx);

/* An empty cache that will allocate through ops (copied). Allocates nothing. */
void page_cache_init(struct page_cache *pc, const struct page_cache_ops *ops);

/* The record of page, or NULL when it is not cached (or out of range). */
struct cache_page *page_cache_lookup(const struct page_cache *pc, uint64_t page);

/* Caches page at frame pa with flags; mapcount 0, empty rmap, user fields
 * zero. *out (if out is not NULL) gets the new record; on PC_ERR_EXISTS it
 * gets the existing one. Errors: EXISTS, RANGE, NO_MEMORY. */
enum pc_err page_cache_insert(struct page_cache *pc, uint64_t page, uint64_t pa, uint32_t flags,
                              struct cache_page **out);

/* page_cache_remove how. */
#define PC_REMOVE_FORCE (1u << 0)

/* Drops page from the cache and frees its record; *out_pa (if not NULL)
 * gets its frame, which the caller now owns. Without PC_REMOVE_FORCE a page
 * with mapcount > 0, PC_PINNED or PC_BUSY is refused with PC_ERR_BUSY (the
 * safe order is rmap_clear, wait for I/O, unpin, remove). PC_REMOVE_FORCE
 * removes it anyway and frees its remaining rmap entries WITHOUT a callback:
 * only for a caller that already made those PTEs unreachable (the address
 * spaces themselves are being torn down) or that owns the I/O by other
 * means. Errors: RANGE, NOT_FOUND, BUSY. */
enum pc_err page_cache_remove(struct page_cache *pc, uint64_t page, unsigned how, uint64_t *out_pa);

/* Visits the cached pages in [first, last_exclusive) in increasing order.
 * last_exclusive is clamped to PC_PAGE_LIMIT, so UINT64_MAX means "to the
 * end" (truncation: drop every page >= n). Errors: RANGE (first >
 * last_exclusive). */
enum pc_err page_cache_range(struct page_cache *pc, uint64_t first, uint64_t last_exclusive,
                             page_cache_visit_fn cb, void *ctx);

/* Number of cached pages. */
uint64_t page_cache_count(const struct page_cache *pc);

/* Bytes of tree nodes the cache holds now (records not included). */
size_t page_cache_node_bytes(const struct page_cache *pc);

/* Calls cb (if not NULL) for every page in order, then frees every rmap
 * entry, record and node. The cache is left empty and usable, as after
 * page_cache_init with the same ops. */
void page_cache_destroy(struct page_cache *pc, page_cache_destroy_fn cb, void *ctx);

/* Reverse map. cp must be a live record of pc. */

/* Adds (aspace, va); mapcount++. Errors: NO_MEMORY. */
enum pc_err page_cache_rmap_add(struct page_cache *pc, struct cache_page *cp, void *aspace,
                                uint64_t va);

/* Removes one (aspace, va) entry; mapcount--. Errors: NOT_FOUND. */
enum pc_err page_cache_rmap_remove(struct page_cache *pc, struct cache_page *cp, void *aspace,
                                   uint64_t va);

/* Calls cb for each entry, most recently added first, until it returns false.
 * Returns the number of calls. */
uint32_t page_cache_rmap_walk(struct cache_page *cp, page_cache_rmap_fn cb, void *ctx);

/* Detaches the whole list (mapcount becomes 0), then calls cb (if not NULL)
 * for each entry, most recently added first, and frees it. Returns the
 * number of entries cleared. */
uint32_t page_cache_rmap_clear(struct page_cache *pc, struct cache_page *cp,
                               page_cache_rmap_clear_fn cb, void *ctx);

#endif
