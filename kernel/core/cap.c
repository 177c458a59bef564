/* Capabilities, capability spaces and the capability derivation tree.
 *
 * The CDT is kept as explicit links in the slots: each slot has a parent,
 * a first child and its siblings in a doubly linked list. Every capability
 * in one tree names the same object (copy and mint derive from a live
 * source, delete re-parents, move keeps the place), so a tree is also the
 * set of all capabilities to one life of one object.
 *
 * New children go at the head of the parent's list (O(1)). Deleting a slot
 * splices its children, in order, into its own place among its siblings, so
 * a revoke of any ancestor still reaches them; a deleted root's children
 * become roots that stay linked to each other as parentless siblings, which
 * every walk here handles like any sibling list. Delete and move cost one
 * step per direct child (the children's parent links change); everything
 * else is O(1) except revoke, which visits the subtree once, without
 * recursion, by always removing a leaf and climbing back to its parent.
 *
 * Staleness is decided by generation (see kobj.h): a capability whose
 * object has died since it was made is dropped without touching the
 * object's count, because that memory may already hold another object.
 * Tombstones (revoked = true, type = NULL) answer REVOKED to lookups and
 * count as empty for anything that writes a new capability.
 *
 * Every operation that can drop a reference runs inside a destruction
 * bracket (kobj_defer_begin/end): the destroy hooks it triggers run after
 * the operation has finished touching slots, so a hook that clears and
 * frees a capability space cannot pull slots out from under a walk. */
#include "kernel/core/cap.h"

#include <string.h>

void cspace_init(struct cspace *cs, struct cap_slot *slots, uint32_t nslots)
{
    cs->slots = slots;
    cs->nslots = nslots;
    if (nslots)
        memset(slots, 0, (size_t)nslots * sizeof(*slots));
}

static bool slot_empty(const struct cap_slot *s)
{
    return s->type == NS_CAP_NULL && !s->revoked;
}


static void slot_clear(struct cap_slot *s, bool tombstone)
{
    memset(s, 0, sizeof(*s));
    s->revoked = tombstone;
}

static struct cap_slot *slot_at(const struct cspace *cs, uint32_t idx)
{
    if (idx >= cs->nslots)
        return NULL;
    return &cs->slots[idx];
}

enum ns_error cap_lookup_any(const struct cspace *cs, uint32_t slot, struct cap_slot **out)
{
    struct cap_slot *s = slot_at(cs, slot);

    if (!s)
        return NS_ERR_INVALID_SLOT;
    if (slot_empty(s))
        return NS_ERR_EMPTY_SLOT;
    if (cap_slot_stale(s))
        return NS_ERR_REVOKED;
    *out = s;
    return NS_OK;
}

enum ns_error cap_lookup(const struct cspace *cs, uint32_t slot, enum ns_cap_type type,
                         uint32_t rights, struct cap_slot **out)
{
    struct cap_slot *s;
    enum ns_error err = cap_lookup_any(cs, slot, &s);

    if (err != NS_OK)
        return err;
    if (s->type != type)
        return NS_ERR_WRONG_TYPE;
    if (rights & ~(uint32_t)s->rights)
        return NS_ERR_NO_RIGHTS;
    *out = s;
    return NS_OK;
}

enum ns_error cap_lookup_empty(const struct cspace *cs, uint32_t slot, struct cap_slot **out)
{
    struct cap_slot *s = slot_at(cs, slot);

    if (!s)
        return NS_ERR_INVALID_SLOT;
    if (s->type != NS_CAP_NULL)
        return NS_ERR_SLOT_OCCUPIED;
    *out = s;
    return NS_OK;
}

/* Drop the reference a capability held. Only a current-generation
 * capability is counted; the destruction it may start is queued (callers
 * hold a bracket). */
static void drop_ref(struct kobj *obj, bool stale)
{
    if (stale || !obj)
        return;
    if (obj->caps > 0 && --obj->caps == 0)
        kobj_destroy(obj);
}

static void cdt_add_child(struct cap_slot *parent, struct cap_slot *child)
{
    child->cdt_parent = parent;
    child->cdt_prev = NULL;
    child->cdt_next = parent->cdt_child;
    child->cdt_child = NULL;
    if (parent->cdt_child)
        parent->cdt_child->cdt_prev = child;
    parent->cdt_child = child;
}

/* Take `s` out of the tree, putting its children in its place. */
static void cdt_remove(struct cap_slot *s)
{
    struct cap_slot *parent = s->cdt_parent;
    struct cap_slot *first = s->cdt_child;
    struct cap_slot *prev = s->cdt_prev, *next = s->cdt_next;
    struct cap_slot *head = first ? first : next;

    if (first) {
        struct cap_slot *last = first;
        for (struct cap_slot *c = first; c; c = c->cdt_next) {
            c->cdt_parent = parent;
            last = c;
        }
        first->cdt_prev = prev;
        last->cdt_next = next;
        if (next)
            next->cdt_prev = last;
    } else if (next) {
        next->cdt_prev = prev;
    }
    if (prev)
        prev->cdt_next = head;
    else if (parent)
        parent->cdt_child = head;

    s->cdt_parent = s->cdt_child = s->cdt_prev = s->cdt_next = NULL;
}

void cap_install(struct cap_slot *dst, struct kobj *obj, uint32_t rights, uint64_t badge)
{
    slot_clear(dst, false);
    dst->type = obj->type;
    dst->rights = (uint16_t)(rights & NS_RIGHTS_ALL);
    dst->gen = obj->gen;
    dst->obj = obj;
    dst->badge = badge;
    obj->caps++;
}

void cap_slot_derive(struct cap_slot *src, struct cap_slot *dst, uint32_t rights, uint64_t badge)
{
    slot_clear(dst, false);
    dst->type = src->type;
    dst->rights = (uint16_t)(rights & src->rights & NS_RIGHTS_ALL);
    dst->gen = src->gen;
    dst->obj = src->obj;
    dst->badge = badge;
    dst->extent = src->extent;
    cdt_add_child(src, dst);
    src->obj->caps++;
}

void cap_slot_delete(struct cap_slot *slot)
{
    struct kobj *obj;
    bool stale;

    if (slot->type == NS_CAP_NULL) {
        slot->revoked = false; /* empty or tombstone: nothing is linked */
        return;
    }
    kobj_defer_begin();
    obj = slot->obj;
    stale = cap_slot_stale(slot);
    cdt_remove(slot);
    slot_clear(slot, false);
    drop_ref(obj, stale);
    kobj_defer_end();
}

/* Checks shared by copy, mint and move: a usable source, a destination
 * index, not the same slot, and an empty (or tombstoned) destination. */
static enum ns_error src_dst(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs,
                             uint32_t dst, struct cap_slot **s_out, struct cap_slot **d_out)
{
    struct cap_slot *s, *d;
    enum ns_error err = cap_lookup_any(src_cs, src, &s);

    if (err != NS_OK)
        return err;
    d = slot_at(dst_cs, dst);
    if (!d)
        return NS_ERR_INVALID_SLOT;
    if (d == s)
        return NS_ERR_INVALID_ARG;
    if (d->type != NS_CAP_NULL)
        return NS_ERR_SLOT_OCCUPIED;
    *s_out = s;
    *d_out = d;
    return NS_OK;
}

static enum ns_error derive(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs,
                            uint32_t dst, uint32_t rights_mask, bool mint, uint64_t badge)
{
    struct cap_slot *s, *d;
    enum ns_error err = src_dst(src_cs, src, dst_cs, dst, &s, &d);
    uint64_t new_badge;

    if (err != NS_OK)
        return err;
    /* Unknown right bits are refused rather than ignored, so a right added
     * later cannot silently change what an old caller asked for. */
    if (rights_mask & ~(uint32_t)NS_RIGHTS_ALL)
        return NS_ERR_INVALID_ARG;
    new_badge = s->badge;
    if (mint && badge != 0) {
        if (s->type != NS_CAP_ENDPOINT && s->type != NS_CAP_NOTIFICATION)
            return NS_ERR_INVALID_ARG;
        if (s->badge != 0)
            return NS_ERR_INVALID_ARG;
        new_badge = badge;
    }
    if (s->obj->caps == UINT32_MAX)
        return NS_ERR_NO_MEMORY; /* unreachable with real memory sizes */
    cap_slot_derive(s, d, s->rights & rights_mask, new_badge);
    return NS_OK;
}

enum ns_error cap_copy(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs, uint32_t dst,
                       uint32_t rights_mask)
{
    return derive(src_cs, src, dst_cs, dst, rights_mask, false, 0);
}

enum ns_error cap_mint(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs, uint32_t dst,
                       uint32_t rights_mask, uint64_t badge)
{
    return derive(src_cs, src, dst_cs, dst, rights_mask, true, badge);
}

enum ns_error cap_move(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs, uint32_t dst)
{
    struct cap_slot *s, *d;
    enum ns_error err = src_dst(src_cs, src, dst_cs, dst, &s, &d);

    if (err != NS_OK)
        return err;
    *d = *s;
    d->revoked = false;
    if (d->cdt_prev)
        d->cdt_prev->cdt_next = d;
    else if (d->cdt_parent)
        d->cdt_parent->cdt_child = d;
    if (d->cdt_next)
        d->cdt_next->cdt_prev = d;
    for (struct cap_slot *c = d->cdt_child; c; c = c->cdt_next)
        c->cdt_parent = d;
    slot_clear(s, false);
    return NS_OK;
}

enum ns_error cap_delete(struct cspace *cs, uint32_t slot)
{
    struct cap_slot *s = slot_at(cs, slot);

    if (!s)
        return NS_ERR_INVALID_SLOT;
    if (slot_empty(s))
        return NS_ERR_EMPTY_SLOT;
    cap_slot_delete(s);
    return NS_OK;
}

enum ns_error cap_revoke(struct cspace *cs, uint32_t slot)
{
    struct cap_slot *root, *n;
    enum ns_error err = cap_lookup_any(cs, slot, &root);

    if (err != NS_OK)
        return err;
    kobj_defer_begin();
    n = root;
    for (;;) {
        struct cap_slot *parent;
        struct kobj *obj;
        bool stale;

        while (n->cdt_child)
            n = n->cdt_child;
        if (n == root)
            break;
        /* n is a leaf and its parent's first child. */
        parent = n->cdt_parent;
        parent->cdt_child = n->cdt_next;
        if (n->cdt_next)
            n->cdt_next->cdt_prev = NULL;
        obj = n->obj;
        stale = cap_slot_stale(n);
        slot_clear(n, true);
        drop_ref(obj, stale);
        n = parent;
    }
    kobj_defer_end();
    return NS_OK;
}

enum ns_error cap_identify(const struct cspace *cs, uint32_t slot, struct cap_info *info)
{
    struct cap_slot *s;
    enum ns_error err = cap_lookup_any(cs, slot, &s);

    if (err != NS_OK)
        return err;
    info->type = (enum ns_cap_type)s->type;
    info->rights = s->rights;
    info->badge = s->badge;
    return NS_OK;
}

void cspace_clear(struct cspace *cs)
{
    kobj_defer_begin();
    for (uint32_t i = 0; i < cs->nslots; i++)
        cap_slot_delete(&cs->slots[i]);
    kobj_defer_end();
}
