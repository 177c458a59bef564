/* Space banks: byte quotas over a tree of banks.
 *
 * A charge is checked against every bank from `b` to the root before any
 * of them is changed, so it is all-or-nothing, and one with a path over
 * its limit, overflowing, or touching a bank being torn down leaves every
 * count as it was. Uncharges walk the same path.
 *
 * Teardown is a loop over the bank tree, never a recursion: go down first
 * children to a bank with no sub-banks, empty its object list by running
 * each object's hook at once (kobj_destroy_sync; each hook uncharges its
 * object), detach it, run its own hook (which finds it empty), climb to the
 * parent, and repeat until `b` itself is empty. The whole teardown runs in
 * one destruction bracket: hooks that drop the last capability to some
 * other object only queue it, so a chain of banks each holding the last
 * capability to the next is also unwound by the kobj queue, not the stack.
 * An object that another hook queued meanwhile is taken off the queue when
 * the walk reaches it. A hook that breaks its contract and leaves its
 * object on the list is unlinked here, so the walk always ends. */
#include "kernel/core/bank.h"

#include <stddef.h>

static void bank_init_common(struct bank *b, struct bank *parent, uint64_t limit_bytes)
{
    b->parent = parent;
    b->child = NULL;
    b->sibling_prev = NULL;
    b->sibling_next = NULL;
    b->limit_bytes = limit_bytes;
    b->used_bytes = 0;
    b->objects = NULL;
    b->nobjects = 0;
    b->dying = false;
}

void bank_init_root(struct bank *root, uint64_t limit_bytes)
{
    kobj_init(&root->obj, NS_CAP_BANK);
    bank_init_common(root, NULL, limit_bytes);
}

void bank_init_child(struct bank *b, struct bank *parent, uint64_t limit_bytes)
{
    bank_init_common(b, parent, limit_bytes);
    b->sibling_next = parent->child;
    if (parent->child)
        parent->child->sibling_prev = b;
    parent->child = b;
}

enum ns_error bank_set_limit_pages(struct bank *b, uint64_t pages)
{
    if (pages == UINT64_MAX) {
        b->limit_bytes = UINT64_MAX;
        return NS_OK;
    }
    if (pages > UINT64_MAX / BANK_PAGE_SIZE)
        return NS_ERR_INVALID_ARG;
    b->limit_bytes = pages * BANK_PAGE_SIZE;
    return NS_OK;
}

enum ns_error bank_charge(struct bank *b, uint64_t bytes)
{
    for (struct bank *a = b; a; a = a->parent) {
        if (a->dying)
            return NS_ERR_BAD_STATE;
        /* used may exceed a lowered limit; the subtraction must not wrap. */
        if (a->used_bytes > a->limit_bytes || bytes > a->limit_bytes - a->used_bytes)
            return NS_ERR_NO_QUOTA;
    }
    for (struct bank *a = b; a; a = a->parent)
        a->used_bytes += bytes;
    return NS_OK;
}

void bank_uncharge(struct bank *b, uint64_t bytes)
{
    /* Every ancestor uses at least what b uses, so clamping at b keeps
     * the whole path consistent even after a caller bug. */
    if (bytes > b->used_bytes)
        bytes = b->used_bytes;
    for (struct bank *a = b; a; a = a->parent)
        a->used_bytes -= bytes;
}

enum ns_error bank_charge_object(struct bank *b, struct kobj *obj, uint64_t bytes)
{
    enum ns_error err;

    if (!obj->live)
        return NS_ERR_INVALID_ARG;
    if (obj->bank)
        return NS_ERR_BAD_STATE;
    err = bank_charge(b, bytes);
    if (err != NS_OK)
        return err;
    obj->bank = b;
    obj->charge = bytes;
    obj->bank_prev = NULL;
    obj->bank_next = b->objects;
    if (b->objects)
        b->objects->bank_prev = obj;
    b->objects = obj;
    b->nobjects++;
    return NS_OK;
}

void bank_uncharge_object(struct kobj *obj)
{
    struct bank *b = obj->bank;

    if (!b)
        return;
    bank_uncharge(b, obj->charge);
    if (obj->bank_prev)
        obj->bank_prev->bank_next = obj->bank_next;
    else
        b->objects = obj->bank_next;
    if (obj->bank_next)
        obj->bank_next->bank_prev = obj->bank_prev;
    b->nobjects--;
    obj->bank = NULL;
    obj->bank_prev = NULL;
    obj->bank_next = NULL;
    obj->charge = 0;
}

/* `b` has no sub-banks and no objects left: give back what is still
 * charged loose and take it off its parent's tree. Its struct stays on the
 * parent's object list until its hook uncharges it. */
static void bank_detach(struct bank *b)
{
    struct bank *p = b->parent;

    if (b->used_bytes)
        bank_uncharge(b, b->used_bytes);
    if (!p)
        return;
    if (b->sibling_prev)
        b->sibling_prev->sibling_next = b->sibling_next;
    else
        p->child = b->sibling_next;
    if (b->sibling_next)
        b->sibling_next->sibling_prev = b->sibling_prev;
    b->parent = NULL;
    b->sibling_prev = NULL;
    b->sibling_next = NULL;
}

static void bank_empty_objects(struct bank *b)
{
    while (b->objects) {
        struct kobj *obj = b->objects;
        kobj_destroy_sync(obj);
        /* Only the pointer is compared: the hook may have freed obj. */
        if (b->objects == obj)
            bank_uncharge_object(obj);
    }
}

void bank_teardown(struct bank *b)
{
    struct bank *cur = b;

    kobj_defer_begin();
    b->dying = true;
    for (;;) {
        struct bank *parent;

        while (cur->child) {
            cur = cur->child;
            cur->dying = true;
        }
        bank_empty_objects(cur);
        if (cur == b)
            break;
        parent = cur->parent;
        bank_detach(cur);
        kobj_destroy_sync(&cur->obj);
        cur = parent;
    }
    bank_detach(b);
    kobj_destroy(&b->obj); /* no-op when called from b's own hook */
    kobj_defer_end();
}

uint64_t bank_limit_pages(const struct bank *b)
{
    if (b->limit_bytes == UINT64_MAX)
        return UINT64_MAX;
    return b->limit_bytes / BANK_PAGE_SIZE;
}

uint64_t bank_used_bytes(const struct bank *b)
{
    return b->used_bytes;
}

uint64_t bank_used_pages(const struct bank *b)
{
    return b->used_bytes / BANK_PAGE_SIZE + (b->used_bytes % BANK_PAGE_SIZE != 0);
}
