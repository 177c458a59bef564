/* Per-object page cache and reverse map (see page_cache.h for the contract).
 *
 * Why a radix tree: the index maps object page numbers of up to 52 bits, and
 * the kernel needs three things from it - a short, allocation-free lookup on
 * the minor-fault path, an in-order walk of a range (unmap, protect, truncate,
 * write-back) that costs the resident pages rather than the size of the range,
 * and bounded memory for very sparse objects. A radix tree keyed directly by
 * the page number gives all three without rebalancing, and since pages never
 * move, records keep their addresses for the caller's LRU links. A hash table
 * would lose the ordered walk; a balanced tree costs a compare and a pointer
 * chase per level on a path ~4x deeper than 64-way radix levels.
 *
 * Shape: 64-way nodes (6 bits of page number per level): a level-1 node (leaf)
 * holds 64 record pointers, a level-L node covers 64^L pages. The tree is only
 * as tall as the highest cached page needs - one node for an object whose
 * cached pages are all below 64, at most PC_MAX_HEIGHT (9) for page 2^52 - 1 -
 * grows by stacking new roots over slot 0 and shrinks back when the root only
 * has slot 0 left. A node exists only while something below it is cached, so
 * every node is non-empty; that invariant is what makes the "leftmost page
 * under this node" descent in find_first always succeed.
 *
 * Each node carries a 64-bit occupancy bitmap beside its slots, so emptiness
 * is one compare and "next occupied slot at or after i" is a mask and a
 * count-trailing-zeros. That makes a node 520 bytes (7 per 4 KiB slab page).
 *
 * Memory: a record (struct cache_page) is 64 bytes per resident page, an rmap
 * entry 24 bytes per PTE mapping it; a dense object adds ~8 bytes of leaf per
 * page (plus 1/64 of that per further level). The worst case is a lone page at
 * a huge index: one node per level, 9 x 520 bytes at 2^52 - 1.
 *
 * Failure atomicity: insert computes how many nodes it needs, allocates them
 * and the record up front, and only then links anything, so a failed
 * allocation at any point leaves the cache untouched. Removal only frees.
 *
 * Callbacks: range visitors may modify the cache freely (the walk re-finds its
 * place from the root whenever the generation counter shows the tree changed,
 * and otherwise continues inside the current leaf); destroy callbacks must not
 * call back into the cache (it is half freed); rmap_clear detaches the list
 * before its first callback, so its callbacks see a consistent page.
 *
 * The count-trailing-zeros is written out (six steps) because RV64IMAC has no
 * ctz instruction and the kernel does not want libgcc's.
 */
#include "memobj/page_cache.h"

#include <stddef.h>
#include <string.h>

#define PC_FANOUT_BITS 6u
#define PC_FANOUT      (1u << PC_FANOUT_BITS)
#define PC_SLOT_MASK   ((uint64_t)PC_FANOUT - 1)
#define PC_MAX_HEIGHT  ((PC_PAGE_BITS + PC_FANOUT_BITS - 1) / PC_FANOUT_BITS)

struct pc_node {
    uint64_t used; /* bit i: slot[i] is non-NULL */
    void *slot[PC_FANOUT];
};

static const char *const pc_err_names[PC_ERR_COUNT] = {
    [PC_OK] = "ok",
    [PC_ERR_EXISTS] = "page already cached",
    [PC_ERR_NOT_FOUND] = "not found",
    [PC_ERR_NO_MEMORY] = "out of memory",
    [PC_ERR_RANGE] = "page out of range",
    [PC_ERR_BUSY] = "page mapped, pinned or busy",
};

const char *pc_strerror(enum pc_err err)
{
    if ((unsigned)err >= PC_ERR_COUNT)
        return "unknown page cache error";
    return pc_err_names[err];
}

/* x != 0. */
static unsigned ctz64(uint64_t x)
{
    unsigned n = 0;
    for (unsigned shift = 32; shift; shift >>= 1)
        if (!(x & (((uint64_t)1 << shift) - 1))) {
            x >>= shift;
            n += shift;
        }
    return n;
}

/* Shift of the page-number bits that index a level-L node. */
static unsigned level_shift(unsigned level)
{
    return (level - 1) * PC_FANOUT_BITS;
}

static unsigned slot_of(uint64_t page, unsigned level)
{
    return (unsigned)((page >> level_shift(level)) & PC_SLOT_MASK);
}

/* Does a tree of this height cover page? (height 0 covers nothing.) */
static bool covers(unsigned height, uint64_t page)
{
    return height && (page >> (height * PC_FANOUT_BITS)) == 0;
}

/* Smallest height that covers page (page < PC_PAGE_LIMIT). */
static unsigned height_for(uint64_t page)
{
    unsigned h = 1;
    while (!covers(h, page))
        h++;
    return h;
}

static void *pc_alloc(struct page_cache *pc, size_t size)
{
    return pc->ops.alloc(size, pc->ops.ctx);
}

static void pc_free(struct page_cache *pc, void *p, size_t size)
{
    pc->ops.free(p, size, pc->ops.ctx);
}

void page_cache_init(struct page_cache *pc, const struct page_cache_ops *ops)
{
    memset(pc, 0, sizeof *pc);
    pc->ops = *ops;
}

struct cache_page *page_cache_lookup(const struct page_cache *pc, uint64_t page)
{
    if (page >= PC_PAGE_LIMIT || !covers(pc->height, page))
        return NULL;
    const struct pc_node *node = pc->root;
    for (unsigned level = pc->height; level > 1; level--) {
        node = node->slot[slot_of(page, level)];
        if (!node)
            return NULL;
    }
    return node->slot[page & PC_SLOT_MASK];
}

/* Nodes insert must create for page, given the tree's height will become
 * new_height. */
static unsigned nodes_missing(const struct page_cache *pc, uint64_t page, unsigned new_height)
{
    if (!pc->height)
        return new_height;
    if (new_height > pc->height) {
        /* The new roots, plus a fresh path under the top one: page is above
         * everything the old root covers, so its top-level slot is not 0. */
        return (new_height - pc->height) + (new_height - 1);
    }
    const struct pc_node *node = pc->root;
    for (unsigned level = pc->height; level > 1; level--) {
        const struct pc_node *child = node->slot[slot_of(page, level)];
        if (!child)
            return level - 1;
        node = child;
    }
    return 0;
}

enum pc_err page_cache_insert(struct page_cache *pc, uint64_t page, uint64_t pa, uint32_t flags,
                              struct cache_page **out)
{
    if (page >= PC_PAGE_LIMIT)
        return PC_ERR_RANGE;
    struct cache_page *old = page_cache_lookup(pc, page);
    if (old) {
        if (out)
            *out = old;
        return PC_ERR_EXISTS;
    }

    unsigned need = height_for(page);
    unsigned new_height = need > pc->height ? need : pc->height;
    unsigned missing = nodes_missing(pc, page, new_height);
    struct pc_node *fresh[2 * PC_MAX_HEIGHT];

    struct cache_page *cp = pc_alloc(pc, sizeof *cp);
    if (!cp)
        return PC_ERR_NO_MEMORY;
    for (unsigned i = 0; i < missing; i++) {
        fresh[i] = pc_alloc(pc, sizeof(struct pc_node));
        if (!fresh[i]) {
            while (i--)
                pc_free(pc, fresh[i], sizeof(struct pc_node));
            pc_free(pc, cp, sizeof *cp);
            return PC_ERR_NO_MEMORY;
        }
        memset(fresh[i], 0, sizeof(struct pc_node));
    }

    /* Nothing can fail from here on. */
    unsigned used = 0;
    if (!pc->height) {
        pc->root = fresh[used++];
        pc->height = new_height;
    }
    while (pc->height < new_height) {
        struct pc_node *top = fresh[used++];
        top->slot[0] = pc->root;
        top->used = 1;
        pc->root = top;
        pc->height++;
    }
    struct pc_node *node = pc->root;
    for (unsigned level = pc->height; level > 1; level--) {
        unsigned s = slot_of(page, level);
        if (!node->slot[s]) {
            node->slot[s] = fresh[used++];
            node->used |= (uint64_t)1 << s;
        }
        node = node->slot[s];
    }

    memset(cp, 0, sizeof *cp);
    cp->pa = pa;
    cp->flags = flags;
    cp->page = page;
    unsigned s = (unsigned)(page & PC_SLOT_MASK);
    node->slot[s] = cp;
    node->used |= (uint64_t)1 << s;

    pc->nodes += used;
    pc->count++;
    pc->gen++;
    if (out)
        *out = cp;
    return PC_OK;
}

static void free_rmap_list(struct page_cache *pc, struct rmap_entry *e)
{
    while (e) {
        struct rmap_entry *next = e->next;
        pc_free(pc, e, sizeof *e);
        e = next;
    }
}

enum pc_err page_cache_remove(struct page_cache *pc, uint64_t page, unsigned how, uint64_t *out_pa)
{
    if (page >= PC_PAGE_LIMIT)
        return PC_ERR_RANGE;
    if (!covers(pc->height, page))
        return PC_ERR_NOT_FOUND;

    /* path[level] is the level-L node on the way to page. */
    struct pc_node *path[PC_MAX_HEIGHT + 1];
    struct pc_node *node = pc->root;
    for (unsigned level = pc->height; level > 1; level--) {
        path[level] = node;
        node = node->slot[slot_of(page, level)];
        if (!node)
            return PC_ERR_NOT_FOUND;
    }
    path[1] = node;
    struct cache_page *cp = node->slot[page & PC_SLOT_MASK];
    if (!cp)
        return PC_ERR_NOT_FOUND;
    if (!(how & PC_REMOVE_FORCE) && (cp->mapcount || (cp->flags & (PC_PINNED | PC_BUSY))))
        return PC_ERR_BUSY;

    if (out_pa)
        *out_pa = cp->pa;
    free_rmap_list(pc, cp->rmap);
    pc_free(pc, cp, sizeof *cp);

    /* Clear the slot, then free every node the removal emptied. */
    for (unsigned level = 1; level <= pc->height; level++) {
        struct pc_node *n = path[level];
        n->slot[slot_of(page, level)] = NULL;
        n->used &= ~((uint64_t)1 << slot_of(page, level));
        if (n->used)
            break;
        pc_free(pc, n, sizeof *n);
        pc->nodes--;
        if (level == pc->height) {
            pc->root = NULL;
            pc->height = 0;
            break;
        }
    }
    /* Shrink: a root with only slot 0 is a taller copy of its child. */
    while (pc->height > 1 && ((struct pc_node *)pc->root)->used == 1) {
        struct pc_node *top = pc->root;
        pc->root = top->slot[0];
        pc_free(pc, top, sizeof *top);
        pc->nodes--;
        pc->height--;
    }

    pc->count--;
    pc->gen++;
    return PC_OK;
}

/* The cached page with the lowest number >= from: its record, number and
 * leaf. One root-to-leaf pass: follow from's path, remembering the deepest
 * level that had an occupied slot after from's; if the path dies, the answer
 * is the leftmost page under that slot (every node is non-empty). */
static struct cache_page *find_first(const struct page_cache *pc, uint64_t from, uint64_t *page_out,
                                     struct pc_node **leaf_out)
{
    if (!covers(pc->height, from))
        return NULL;

    struct pc_node *alt = NULL;
    unsigned alt_level = 0, alt_slot = 0;
    uint64_t alt_base = 0;

    struct pc_node *node = pc->root;
    uint64_t base = 0; /* first page the node covers */
    for (unsigned level = pc->height;; level--) {
        unsigned s = slot_of(from, level);
        uint64_t after = node->used & (~(uint64_t)1 << s);
        if (after) {
            alt = node;
            alt_level = level;
            alt_slot = ctz64(after);
            alt_base = base;
        }
        if (!(node->used & ((uint64_t)1 << s)))
            break;
        if (level == 1) {
            *page_out = base + s;
            *leaf_out = node;
            return node->slot[s];
        }
        base += (uint64_t)s << level_shift(level);
        node = node->slot[s];
    }

    if (!alt)
        return NULL;
    node = alt;
    unsigned s = alt_slot;
    base = alt_base;
    for (unsigned level = alt_level; level > 1; level--) {
        base += (uint64_t)s << level_shift(level);
        node = node->slot[s];
        s = ctz64(node->used);
    }
    *page_out = base + s;
    *leaf_out = node;
    return node->slot[s];
}

enum pc_err page_cache_range(struct page_cache *pc, uint64_t first, uint64_t last_exclusive,
                             page_cache_visit_fn cb, void *ctx)
{
    if (first > last_exclusive)
        return PC_ERR_RANGE;
    uint64_t last = last_exclusive < PC_PAGE_LIMIT ? last_exclusive : PC_PAGE_LIMIT;

    uint64_t pos = first;
    while (pos < last) {
        uint64_t page;
        struct pc_node *leaf;
        struct cache_page *cp = find_first(pc, pos, &page, &leaf);
        if (!cp || page >= last)
            break;
        for (;;) {
            uint64_t gen = pc->gen;
            if (!cb(pc, page, cp, ctx))
                return PC_OK;
            pos = page + 1;
            if (pc->gen != gen)
                break; /* the tree changed under us: find our place again */
            uint64_t after = leaf->used & (~(uint64_t)1 << (page & PC_SLOT_MASK));
            if (!after)
                break;
            page = (page & ~PC_SLOT_MASK) + ctz64(after);
            if (page >= last)
                return PC_OK;
            cp = leaf->slot[page & PC_SLOT_MASK];
        }
    }
    return PC_OK;
}

uint64_t page_cache_count(const struct page_cache *pc)
{
    return pc->count;
}

size_t page_cache_node_bytes(const struct page_cache *pc)
{
    return (size_t)pc->nodes * sizeof(struct pc_node);
}

/* Depth is bounded by PC_MAX_HEIGHT. */
static void destroy_node(struct page_cache *pc, struct pc_node *node, unsigned level, uint64_t base,
                         page_cache_destroy_fn cb, void *ctx)
{
    for (uint64_t m = node->used; m; m &= m - 1) {
        unsigned s = ctz64(m);
        uint64_t child_base = base + ((uint64_t)s << level_shift(level));
        if (level > 1) {
            destroy_node(pc, node->slot[s], level - 1, child_base, cb, ctx);
            continue;
        }
        struct cache_page *cp = node->slot[s];
        if (cb)
            cb(child_base, cp, ctx);
        free_rmap_list(pc, cp->rmap);
        pc_free(pc, cp, sizeof *cp);
    }
    pc_free(pc, node, sizeof *node);
}

void page_cache_destroy(struct page_cache *pc, page_cache_destroy_fn cb, void *ctx)
{
    if (pc->root)
        destroy_node(pc, pc->root, pc->height, 0, cb, ctx);
    pc->root = NULL;
    pc->height = 0;
    pc->count = 0;
    pc->nodes = 0;
    pc->gen++;
}

enum pc_err page_cache_rmap_add(struct page_cache *pc, struct cache_page *cp, void *aspace,
                                uint64_t va)
{
    struct rmap_entry *e = pc_alloc(pc, sizeof *e);
    if (!e)
        return PC_ERR_NO_MEMORY;
    e->aspace = aspace;
    e->va = va;
    e->next = cp->rmap;
    cp->rmap = e;
    cp->mapcount++;
    return PC_OK;
}

enum pc_err page_cache_rmap_remove(struct page_cache *pc, struct cache_page *cp, void *aspace,
                                   uint64_t va)
{
    for (struct rmap_entry **link = &cp->rmap; *link; link = &(*link)->next) {
        struct rmap_entry *e = *link;
        if (e->aspace == aspace && e->va == va) {
            *link = e->next;
            pc_free(pc, e, sizeof *e);
            cp->mapcount--;
            return PC_OK;
        }
    }
    return PC_ERR_NOT_FOUND;
}

uint32_t page_cache_rmap_walk(struct cache_page *cp, page_cache_rmap_fn cb, void *ctx)
{
    uint32_t calls = 0;
    for (struct rmap_entry *e = cp->rmap; e; e = e->next) {
        calls++;
        if (!cb(cp, e->aspace, e->va, ctx))
            break;
    }
    return calls;
}

uint32_t page_cache_rmap_clear(struct page_cache *pc, struct cache_page *cp,
                               page_cache_rmap_clear_fn cb, void *ctx)
{
    struct rmap_entry *e = cp->rmap;
    cp->rmap = NULL;
    cp->mapcount = 0;
    uint32_t n = 0;
    while (e) {
        struct rmap_entry *next = e->next;
        if (cb)
            cb(cp, e->aspace, e->va, ctx);
        pc_free(pc, e, sizeof *e);
        e = next;
        n++;
    }
    return n;
}
