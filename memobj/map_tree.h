/* The mappings of one address space: an ordered set of non-overlapping,
 * page-aligned virtual ranges, each naming a run of pages of a memory object
 * with the effective rights of the mapping.
 *
 * Contract:
 *   - Portable, no globals, not thread-safe: the caller serialises every call
 *     on one tree (the kernel holds the address space's lock).
 *   - Nodes are intrusive and allocated by the caller through
 *     struct map_tree_ops, so the kernel can charge them to a space bank and
 *     embed a struct mapping in a larger node (container_of). The tree never
 *     allocates anything else.
 *   - Every operation checks its arguments first (alignment, empty ranges,
 *     wrap-around, the user top given at init) and allocates every node it
 *     will need before it changes anything: an error, MAP_ERR_NO_MEMORY
 *     included, leaves the tree exactly as it was and calls no callback.
 *   - Neighbouring mappings are never merged, even when they continue the
 *     same object with the same rights: every node a caller sees keeps
 *     meaning "one map call, or what is left of one".
 *   - Callbacks (removed, changed, ops->free, ops->clone) run while the
 *     operation is in progress: they must not call into the same tree. They
 *     are all optional (NULL). Pieces are reported in address order (except
 *     by map_tree_destroy), each page at most once per call.
 *   - Lookup, insert, and finding the range of an unmap or protect are
 *     O(log n); unmap, remap and protect then cost O(log n) per mapping they
 *     touch.
 */
#ifndef NEWSYS_MEMOBJ_MAP_TREE_H
#define NEWSYS_MEMOBJ_MAP_TREE_H

#include <stdbool.h>
#include <stdint.h>

#define MAP_PAGE_SHIFT 12
#define MAP_PAGE_SIZE  ((uint64_t)1 << MAP_PAGE_SHIFT)

enum map_err {
    MAP_OK = 0,
    MAP_ERR_MISALIGNED, /* a virtual address not page aligned */
    MAP_ERR_RANGE,      /* empty, wraps (va or object page), or ends above the user top */
    MAP_ERR_OVERLAP,    /* insert without replace over an existing mapping */
    MAP_ERR_NOT_MAPPED, /* unmap of a range with no mapping; protect of a range with a hole */
    MAP_ERR_NO_MEMORY,  /* ops->alloc failed; nothing changed */
    MAP_ERR_RIGHTS,     /* map_effective_rights: unknown bits, nothing left, or strict narrowing */
    MAP_ERR_COUNT
};

/* Never NULL; an out-of-range value gives "unknown mapping error". */
const char *map_strerror(enum map_err err);

/* One mapping: virtual pages [va_start, va_end) show object pages
 * [obj_page, obj_page + (va_end - va_start) / MAP_PAGE_SIZE) of obj. */
struct mapping {
    /* Tree links: private to map_tree.c. */
    struct mapping *left, *right, *parent;
    int32_t height; /* of the subtree rooted here; a leaf is 1 */
    uint32_t flags; /* free for the caller; copied to the other half on a split */
    uint64_t va_start, va_end;
    void *obj;         /* opaque to the tree: the memory object */
    uint64_t obj_page; /* object page shown at va_start */
    uint32_t rights;   /* effective NS_RIGHT_READ/WRITE/EXEC; not interpreted here */
};

struct map_tree_ops {
    /* A fresh node, or NULL when out of memory. Its contents do not matter:
     * the tree sets every field of struct mapping before linking it. */
    struct mapping *(*alloc)(void *ctx);
    /* Gives back a node that has left the tree, after its removed callback.
     * It may also get a node straight from alloc that was never linked, when
     * a later allocation of the same operation failed. */
    void (*free)(struct mapping *m, void *ctx);
    /* Optional: a split made dst, the upper part of src. The tree has set
     * dst's struct mapping fields already (flags copied) and src ends where
     * dst begins (an unmap making a hole trims src further right after).
     * dst is linked right after the call. Lets the caller copy or link the
     * fields of an embedding node. Must not fail. */
    void (*clone)(struct mapping *dst, const struct mapping *src, void *ctx);
    void *ctx;
};

struct map_tree {
    struct mapping *root;
    uint64_t count;    /* nodes in the tree */
    uint64_t user_top; /* every mapping ends at or below this (page aligned) */
    const struct map_tree_ops *ops;
};

/* Pages [va, va + npages * MAP_PAGE_SIZE) left a mapping: they showed object
 * pages [obj_page, obj_page + npages) of obj with the given rights. */
typedef void (*map_removed_fn)(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                               uint32_t rights, void *ctx);
/* Pages [va, va + npages * MAP_PAGE_SIZE) of one mapping changed rights. */
typedef void (*map_changed_fn)(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                               uint32_t old_rights, uint32_t new_rights, void *ctx);

/* An empty tree whose mappings must end at or below user_top (rounded down
 * to a page). ops must outlive the tree. */
void map_tree_init(struct map_tree *t, uint64_t user_top, const struct map_tree_ops *ops);

/* The mapping containing va, or NULL. */
struct mapping *map_tree_lookup(const struct map_tree *t, uint64_t va);

/* The lowest mapping that ends above va (the one containing va, else the
 * next one up), or NULL: where to start walking a range. */
struct mapping *map_tree_find_from(const struct map_tree *t, uint64_t va);

/* In address order; NULL at the end. */
struct mapping *map_tree_first(const struct map_tree *t);
struct mapping *map_tree_next(const struct mapping *m);

/* Maps [va, va + npages pages) to obj from obj_page on with the given rights
 * (stored as given, flags 0). Without replace, touching any existing mapping
 * is MAP_ERR_OVERLAP. With replace, the overlapped parts of existing mappings
 * are first removed as by map_tree_unmap (reported to removed, splitting a
 * mapping that sticks out on both sides): this is the remap. On success *out
 * (if not NULL) is the new node. */
enum map_err map_tree_insert(struct map_tree *t, uint64_t va, uint64_t npages, void *obj,
                             uint64_t obj_page, uint32_t rights, bool replace,
                             map_removed_fn removed, void *cb_ctx, struct mapping **out);

/* Removes [va, va + npages pages) from every mapping it touches: a mapping
 * inside the range goes (ops->free), one sticking out is trimmed, one
 * sticking out on both sides becomes two. removed gets each piece. A range
 * touching no mapping is MAP_ERR_NOT_MAPPED; a partly mapped one unmaps
 * what is there and returns MAP_OK. */
enum map_err map_tree_unmap(struct map_tree *t, uint64_t va, uint64_t npages,
                            map_removed_fn removed, void *cb_ctx);

/* Sets the rights of [va, va + npages pages), which must be mapped without a
 * hole (else MAP_ERR_NOT_MAPPED, nothing changed). Mappings whose rights
 * already equal new_rights are left alone (not split, not reported); the
 * others are split at the range's edges and changed gets each piece. Any
 * value is accepted: whether protect may only narrow is the caller's rule. */
enum map_err map_tree_protect(struct map_tree *t, uint64_t va, uint64_t npages, uint32_t new_rights,
                              map_changed_fn changed, void *cb_ctx);

/* Removes every mapping, reporting each to removed (in no particular order)
 * before ops->free. The tree is empty and usable afterwards. O(n). */
void map_tree_destroy(struct map_tree *t, map_removed_fn removed, void *cb_ctx);

/* Effective rights of a map call: permissions are subtractive, so the result
 * is cap_rights & requested, restricted to READ|WRITE|EXEC (other cap bits,
 * e.g. GRANT, are ignored).
 *
 * Write without read: a RISC-V PTE cannot be write-only (R=0 W=1 is a
 * reserved encoding), and adding READ could exceed the capability, so WRITE
 * without READ is dropped -- a narrowing like any other, which the caller
 * sees in the returned rights (the same rule as mapping a frame).
 *
 * MAP_ERR_RIGHTS (and 0) when requested has bits other than READ, WRITE and
 * EXEC, when nothing is left (no READ and no EXEC: such a mapping could never
 * be touched), or when strict and the result differs from requested. err may
 * be NULL. */
uint32_t map_effective_rights(uint32_t cap_rights, uint32_t requested, bool strict,
                              enum map_err *err);

#endif
