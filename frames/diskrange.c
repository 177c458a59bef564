/* Disk-range keys (see diskrange.h). */
#include "frames/diskrange.h"

void diskrange_install(struct cap_slot *dst, struct disk *d, uint32_t rights)
{
    cap_install(dst, &d->obj, rights & (NS_RIGHT_READ | NS_RIGHT_WRITE), 0);
    dst->extent = d->sectors;
}

static enum ns_error live_key(const struct cap_slot *s)
{
    if (s->revoked)
        return NS_ERR_REVOKED;
    if (s->type == NS_CAP_NULL)
        return NS_ERR_EMPTY_SLOT;
    if (s->type != NS_CAP_DISKRANGE)
        return NS_ERR_WRONG_TYPE;
    return cap_slot_stale(s) ? NS_ERR_REVOKED : NS_OK;
}

/* [offset, offset + count) inside a range of `extent` sectors, without
 * wrapping. */
static bool inside(uint64_t offset, uint64_t count, uint64_t extent)
{
    return offset <= extent && count <= extent - offset;
}

enum ns_error diskrange_derive(struct cap_slot *src, struct cap_slot *dst, uint64_t offset,
                               uint64_t count, uint32_t rights_mask)
{
    enum ns_error e = live_key(src);
    if (e != NS_OK)
        return e;
    if (count == 0 || (rights_mask & ~(uint32_t)NS_RIGHTS_ALL))
        return NS_ERR_INVALID_ARG;
    if (!inside(offset, count, src->extent))
        return NS_ERR_RANGE;
    if (dst->type != NS_CAP_NULL)
        return NS_ERR_SLOT_OCCUPIED;
    if (src->obj->caps == UINT32_MAX)
        return NS_ERR_NO_MEMORY; /* unreachable with real memory sizes */
    cap_slot_derive(src, dst, src->rights & rights_mask, src->badge + offset);
    dst->extent = count;
    return NS_OK;
}

enum ns_error diskrange_check(const struct cap_slot *key, uint32_t need, uint64_t offset,
                              uint64_t count, struct disk **disk, uint64_t *sector)
{
    enum ns_error e = live_key(key);
    if (e != NS_OK)
        return e;
    if (need & ~(uint32_t)key->rights)
        return NS_ERR_NO_RIGHTS;
    const struct disk *d = (const struct disk *)key->obj;
    /* Derivation keeps keys inside their device; checked again because a
     * map is walked long after it was built, and a slip here would read
     * or write another manager's blocks. */
    if (!inside(offset, count, key->extent) || !inside(key->badge, key->extent, d->sectors))
        return NS_ERR_RANGE;
    *disk = (struct disk *)key->obj;
    *sector = key->badge + offset;
    return NS_OK;
}
