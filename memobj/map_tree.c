/* The mappings of one address space (see map_tree.h for the contract).
 *
 * Why an AVL tree: lookups (every page fault) far outnumber changes (map,
 * unmap, protect), and AVL keeps the tree at most ~1.44 log2(n) deep against
 * red-black's 2 log2(n), so the fault path walks fewer nodes. Rebalancing
 * after a change is one walk up the parent links, so no operation recurses
 * and the stack use is constant. The key is va_start; since mappings never
 * overlap, va_end is ordered the same way, which is what lets
 * map_tree_find_from search on va_end.
 *
 * Splits: removing the head or tail of a mapping (unmap, remap) changes the
 * node's own va_start or va_end in place; it cannot pass a neighbour, so the
 * order holds, and cutting the head advances obj_page by as many pages. A
 * new node is needed only when both sides of a cut stay mapped: the hole an
 * unmap or remap punches inside one mapping (one node), and each edge of a
 * protect that falls inside a mapping whose rights change (up to two). The
 * existing node keeps the lower part, the new one takes the upper part and
 * is linked after it. Each operation first walks the affected range without
 * changing anything, counts exactly the nodes it will need (plus one for the
 * mapping an insert adds) and allocates them all up front, so
 * MAP_ERR_NO_MEMORY, like every other error, leaves the tree untouched.
 *
 * Callbacks: each removed or re-protected piece is reported once, in address
 * order, with the object page of its first page, just before the node
 * changes. Callbacks run mid-operation and must not use the tree; a node is
 * handed to ops->free only after its piece has been reported.
 */
#include "memobj/map_tree.h"

#include <stddef.h>

#include "newsys/caps.h"

#define PAGE_MASK (MAP_PAGE_SIZE - 1)

static const char *const map_err_names[MAP_ERR_COUNT] = {
    [MAP_OK] = "ok",
    [MAP_ERR_MISALIGNED] = "address not page aligned",
    [MAP_ERR_RANGE] = "empty, wrapping or out-of-range mapping",
    [MAP_ERR_OVERLAP] = "overlaps an existing mapping",
    [MAP_ERR_NOT_MAPPED] = "range not mapped",
    [MAP_ERR_NO_MEMORY] = "out of memory for mapping nodes",
    [MAP_ERR_RIGHTS] = "rights not allowed",
};

const char *map_strerror(enum map_err err)
{
    if ((unsigned)err >= MAP_ERR_COUNT)
        return "unknown mapping error";
    return map_err_names[err];
}

/* ---- AVL mechanics ---- */

static int32_t height(const struct mapping *m)
{
    return m ? m->height : 0;
}

static void update_height(struct mapping *m)
{
    int32_t l = height(m->left), r = height(m->right);
    m->height = (l > r ? l : r) + 1;
}

/* Points whatever pointed at old (parent link or root) at new. */
static void replace_child(struct map_tree *t, struct mapping *parent, struct mapping *old,
                          struct mapping *new)
{
    if (!parent)
        t->root = new;
    else if (parent->left == old)
        parent->left = new;
    else
        parent->right = new;
    if (new)
        new->parent = parent;
}

/* x's right child y takes x's place; x becomes y's left child. */
static struct mapping *rotate_left(struct map_tree *t, struct mapping *x)
{
    struct mapping *y = x->right;
    replace_child(t, x->parent, x, y);
    x->right = y->left;
    if (x->right)
        x->right->parent = x;
    y->left = x;
    x->parent = y;
    update_height(x);
    update_height(y);
    return y;
}

static struct mapping *rotate_right(struct map_tree *t, struct mapping *x)
{
    struct mapping *y = x->left;
    replace_child(t, x->parent, x, y);
    x->left = y->right;
    if (x->left)
        x->left->parent = x;
    y->right = x;
    x->parent = y;
    update_height(x);
    update_height(y);
    return y;
}

/* Restores heights and balance from m up to the root. Going all the way up
 * (rather than stopping once a height is unchanged) costs O(log n), which
 * every caller pays anyway, and keeps one rule for insert and delete. */
static void rebalance_up(struct map_tree *t, struct mapping *m)
{
    while (m) {
        int32_t bal = height(m->left) - height(m->right);
        if (bal > 1) {
            if (height(m->left->left) < height(m->left->right))
                rotate_left(t, m->left);
            m = rotate_right(t, m);
        } else if (bal < -1) {
            if (height(m->right->right) < height(m->right->left))
                rotate_right(t, m->right);
            m = rotate_left(t, m);
        } else {
            update_height(m);
        }
        m = m->parent;
    }
}

/* Links n (va fields set, not overlapping anything) into the tree. */
static void link_node(struct map_tree *t, struct mapping *n)
{
    struct mapping *parent = NULL, **slot = &t->root;
    while (*slot) {
        parent = *slot;
        slot = n->va_start < parent->va_start ? &parent->left : &parent->right;
    }
    n->left = n->right = NULL;
    n->parent = parent;
    n->height = 1;
    *slot = n;
    t->count++;
    rebalance_up(t, parent);
}

static struct mapping *leftmost(struct mapping *m)
{
    while (m->left)
        m = m->left;
    return m;
}

static void unlink_node(struct map_tree *t, struct mapping *n)
{
    struct mapping *fix; /* lowest node whose subtree changed */
    if (n->left && n->right) {
        /* The successor s (leftmost of the right subtree, no left child)
         * takes n's place structurally: nodes are intrusive, so they move
         * instead of their contents. */
        struct mapping *s = leftmost(n->right);
        if (s->parent == n) {
            fix = s;
        } else {
            fix = s->parent;
            fix->left = s->right;
            if (s->right)
                s->right->parent = fix;
            s->right = n->right;
            s->right->parent = s;
        }
        s->left = n->left;
        s->left->parent = s;
        s->height = n->height;
        replace_child(t, n->parent, n, s);
    } else {
        struct mapping *child = n->left ? n->left : n->right;
        fix = n->parent;
        replace_child(t, n->parent, n, child);
    }
    t->count--;
    rebalance_up(t, fix);
}

/* ---- queries ---- */

struct mapping *map_tree_find_from(const struct map_tree *t, uint64_t va)
{
    struct mapping *m = t->root, *best = NULL;
    while (m) {
        if (m->va_end > va) {
            best = m;
            m = m->left;
        } else {
            m = m->right;
        }
    }
    return best;
}

struct mapping *map_tree_lookup(const struct map_tree *t, uint64_t va)
{
    struct mapping *m = t->root;
    while (m) {
        if (va < m->va_start)
            m = m->left;
        else if (va >= m->va_end)
            m = m->right;
        else
            return m;
    }
    return NULL;
}

struct mapping *map_tree_first(const struct map_tree *t)
{
    return t->root ? leftmost(t->root) : NULL;
}

struct mapping *map_tree_next(const struct mapping *m)
{
    if (m->right)
        return leftmost(m->right);
    while (m->parent && m->parent->right == m)
        m = m->parent;
    return m->parent;
}

/* ---- checks and node supply ---- */

void map_tree_init(struct map_tree *t, uint64_t user_top, const struct map_tree_ops *ops)
{
    t->root = NULL;
    t->count = 0;
    t->user_top = user_top & ~PAGE_MASK;
    t->ops = ops;
}

/* Checks [va, va + npages pages) and returns its end in *end. */
static enum map_err check_range(const struct map_tree *t, uint64_t va, uint64_t npages,
                                uint64_t *end)
{
    if (va & PAGE_MASK)
        return MAP_ERR_MISALIGNED;
    if (npages == 0 || npages > (UINT64_MAX >> MAP_PAGE_SHIFT))
        return MAP_ERR_RANGE;
    uint64_t len = npages << MAP_PAGE_SHIFT;
    if (len > UINT64_MAX - va || va + len > t->user_top)
        return MAP_ERR_RANGE;
    *end = va + len;
    return MAP_OK;
}

/* Up to two spare nodes taken before an operation changes anything. */
struct spares {
    struct mapping *node[2];
    unsigned n;
};

static enum map_err spares_get(const struct map_tree *t, struct spares *sp, unsigned need)
{
    sp->n = 0;
    while (sp->n < need) {
        struct mapping *m = t->ops->alloc(t->ops->ctx);
        if (!m) {
            while (sp->n)
                t->ops->free(sp->node[--sp->n], t->ops->ctx);
            return MAP_ERR_NO_MEMORY;
        }
        sp->node[sp->n++] = m;
    }
    return MAP_OK;
}

static struct mapping *spares_take(struct spares *sp)
{
    /* The counting pass allocated exactly what the changes take; NULL here
     * would be a broken invariant, and faults at once in split(). */
    return sp->n ? sp->node[--sp->n] : NULL;
}

static uint64_t pages(uint64_t bytes)
{
    return bytes >> MAP_PAGE_SHIFT;
}

/* Cuts m at `at` (m->va_start < at < m->va_end): m keeps [va_start, at), the
 * spare n gets [at, va_end) and is linked. Returns n. */
static struct mapping *split(struct map_tree *t, struct mapping *m, uint64_t at, struct mapping *n)
{
    n->va_start = at;
    n->va_end = m->va_end;
    n->obj = m->obj;
    n->obj_page = m->obj_page + pages(at - m->va_start);
    n->rights = m->rights;
    n->flags = m->flags;
    m->va_end = at;
    if (t->ops->clone)
        t->ops->clone(n, m, t->ops->ctx);
    link_node(t, n);
    return n;
}

/* Nodes an unmap of [va, end) needs: one if a single mapping sticks out on
 * both sides, else none. first = map_tree_find_from(t, va). */
static unsigned carve_needs(const struct mapping *first, uint64_t va, uint64_t end)
{
    return first && first->va_start < va && first->va_end > end;
}

/* Removes [va, end) from every mapping; never fails given carve_needs()
 * spares. */
static void carve(struct map_tree *t, uint64_t va, uint64_t end, struct spares *sp,
                  map_removed_fn removed, void *ctx)
{
    struct mapping *m = map_tree_find_from(t, va);
    while (m && m->va_start < end) {
        struct mapping *next = map_tree_next(m);
        uint64_t lo = m->va_start > va ? m->va_start : va;
        uint64_t hi = m->va_end < end ? m->va_end : end;
        if (removed)
            removed(m->obj, m->obj_page + pages(lo - m->va_start), lo, pages(hi - lo), m->rights,
                    ctx);
        if (m->va_start < va && m->va_end > end) {
            /* A hole in the middle: the upper part becomes its own node. */
            split(t, m, end, spares_take(sp));
            m->va_end = va;
            break;
        } else if (m->va_start < va) {
            m->va_end = va;
        } else if (m->va_end > end) {
            m->obj_page += pages(end - m->va_start);
            m->va_start = end;
        } else {
            unlink_node(t, m);
            t->ops->free(m, t->ops->ctx);
        }
        m = next;
    }
}

/* ---- operations ---- */

enum map_err map_tree_insert(struct map_tree *t, uint64_t va, uint64_t npages, void *obj,
                             uint64_t obj_page, uint32_t rights, bool replace,
                             map_removed_fn removed, void *cb_ctx, struct mapping **out)
{
    uint64_t end;
    enum map_err e = check_range(t, va, npages, &end);
    if (e != MAP_OK)
        return e;
    if (npages > UINT64_MAX - obj_page)
        return MAP_ERR_RANGE;
    struct mapping *first = map_tree_find_from(t, va);
    bool overlaps = first && first->va_start < end;
    if (overlaps && !replace)
        return MAP_ERR_OVERLAP;
    struct spares sp;
    e = spares_get(t, &sp, 1 + carve_needs(first, va, end));
    if (e != MAP_OK)
        return e;
    struct mapping *n = spares_take(&sp);
    if (overlaps)
        carve(t, va, end, &sp, removed, cb_ctx);
    n->va_start = va;
    n->va_end = end;
    n->obj = obj;
    n->obj_page = obj_page;
    n->rights = rights;
    n->flags = 0;
    link_node(t, n);
    if (out)
        *out = n;
    return MAP_OK;
}

enum map_err map_tree_unmap(struct map_tree *t, uint64_t va, uint64_t npages,
                            map_removed_fn removed, void *cb_ctx)
{
    uint64_t end;
    enum map_err e = check_range(t, va, npages, &end);
    if (e != MAP_OK)
        return e;
    struct mapping *first = map_tree_find_from(t, va);
    if (!first || first->va_start >= end)
        return MAP_ERR_NOT_MAPPED;
    struct spares sp;
    e = spares_get(t, &sp, carve_needs(first, va, end));
    if (e != MAP_OK)
        return e;
    carve(t, va, end, &sp, removed, cb_ctx);
    return MAP_OK;
}

enum map_err map_tree_protect(struct map_tree *t, uint64_t va, uint64_t npages, uint32_t new_rights,
                              map_changed_fn changed, void *cb_ctx)
{
    uint64_t end;
    enum map_err e = check_range(t, va, npages, &end);
    if (e != MAP_OK)
        return e;
    /* Counting pass: the range must be covered without a hole; each
     * mapping that changes and sticks out of the range needs a node per
     * side it sticks out of. */
    struct mapping *first = map_tree_lookup(t, va);
    if (!first)
        return MAP_ERR_NOT_MAPPED;
    unsigned need = 0;
    for (struct mapping *m = first;;) {
        if (m->rights != new_rights)
            need += (m->va_start < va) + (m->va_end > end);
        if (m->va_end >= end)
            break;
        struct mapping *next = map_tree_next(m);
        if (!next || next->va_start != m->va_end)
            return MAP_ERR_NOT_MAPPED;
        m = next;
    }
    struct spares sp;
    e = spares_get(t, &sp, need);
    if (e != MAP_OK)
        return e;
    struct mapping *m = first;
    while (m && m->va_start < end) {
        struct mapping *next = map_tree_next(m);
        if (m->rights != new_rights) {
            if (m->va_start < va)
                m = split(t, m, va, spares_take(&sp));
            if (m->va_end > end)
                split(t, m, end, spares_take(&sp));
            if (changed)
                changed(m->obj, m->obj_page, m->va_start, pages(m->va_end - m->va_start), m->rights,
                        new_rights, cb_ctx);
            m->rights = new_rights;
        }
        m = next;
    }
    return MAP_OK;
}

void map_tree_destroy(struct map_tree *t, map_removed_fn removed, void *cb_ctx)
{
    /* Post-order teardown: leaves first, no rebalancing, O(n). */
    struct mapping *m = t->root;
    while (m) {
        if (m->left) {
            m = m->left;
        } else if (m->right) {
            m = m->right;
        } else {
            struct mapping *parent = m->parent;
            if (parent) {
                if (parent->left == m)
                    parent->left = NULL;
                else
                    parent->right = NULL;
            }
            if (removed)
                removed(m->obj, m->obj_page, m->va_start, pages(m->va_end - m->va_start), m->rights,
                        cb_ctx);
            t->ops->free(m, t->ops->ctx);
            m = parent;
        }
    }
    t->root = NULL;
    t->count = 0;
}

uint32_t map_effective_rights(uint32_t cap_rights, uint32_t requested, bool strict,
                              enum map_err *err)
{
    const uint32_t rwx = NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC;
    uint32_t eff = cap_rights & requested & rwx;
    if ((eff & NS_RIGHT_WRITE) && !(eff & NS_RIGHT_READ))
        eff &= ~NS_RIGHT_WRITE;
    enum map_err e = MAP_OK;
    if ((requested & ~rwx) || eff == 0 || (strict && eff != requested))
        e = MAP_ERR_RIGHTS;
    if (err)
        *err = e;
    return e == MAP_OK ? eff : 0;
}
