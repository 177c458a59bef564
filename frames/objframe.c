/* Object frame slot operations (see objframe.h). */
#include "frames/objframe.h"

#include <string.h>

void objframe_init(struct objframe *f)
{
    memset(f->slot, 0, sizeof(f->slot));
}

static enum ns_error usable(const struct cap_slot *s)
{
    if (s->revoked || (s->type != NS_CAP_NULL && cap_slot_stale(s)))
        return NS_ERR_REVOKED;
    return s->type == NS_CAP_NULL ? NS_ERR_EMPTY_SLOT : NS_OK;
}

/* A stale capability in a destination is dropped first: it names nothing. */
static enum ns_error take_empty(struct cap_slot *d)
{
    if (d->type != NS_CAP_NULL && cap_slot_stale(d))
        cap_slot_delete(d);
    return d->type == NS_CAP_NULL ? NS_OK : NS_ERR_SLOT_OCCUPIED;
}

enum ns_error objframe_store(struct objframe *f, uint64_t index, struct cap_slot *src,
                             uint32_t rights_mask)
{
    if (index >= OBJFRAME_SLOTS || (rights_mask & ~(uint32_t)NS_RIGHTS_ALL))
        return NS_ERR_INVALID_ARG;
    enum ns_error e = usable(src);
    if (e == NS_OK)
        e = take_empty(&f->slot[index]);
    if (e != NS_OK)
        return e;
    if (src->obj->caps == UINT32_MAX)
        return NS_ERR_NO_MEMORY; /* unreachable with real memory sizes */
    cap_slot_derive(src, &f->slot[index], src->rights & rights_mask, src->badge);
    return NS_OK;
}

enum ns_error objframe_load(struct objframe *f, uint64_t index, struct cap_slot *dst,
                            uint32_t rights_mask)
{
    if (index >= OBJFRAME_SLOTS || (rights_mask & ~(uint32_t)NS_RIGHTS_ALL))
        return NS_ERR_INVALID_ARG;
    struct cap_slot *s = &f->slot[index];
    enum ns_error e = usable(s);
    if (e != NS_OK)
        return e;
    if (dst->type != NS_CAP_NULL)
        return NS_ERR_SLOT_OCCUPIED;
    if (s->obj->caps == UINT32_MAX)
        return NS_ERR_NO_MEMORY;
    cap_slot_derive(s, dst, s->rights & rights_mask, s->badge);
    return NS_OK;
}

enum ns_error objframe_clear(struct objframe *f, uint64_t index)
{
    if (index >= OBJFRAME_SLOTS)
        return NS_ERR_INVALID_ARG;
    cap_slot_delete(&f->slot[index]);
    return NS_OK;
}

void objframe_clear_all(struct objframe *f)
{
    kobj_defer_begin();
    for (unsigned i = 0; i < OBJFRAME_SLOTS; i++)
        cap_slot_delete(&f->slot[i]);
    kobj_defer_end();
}
