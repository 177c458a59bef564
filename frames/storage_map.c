/* Storage-map walking and checking (see storage_map.h). */
#include "frames/storage_map.h"

enum smap_result smap_resolve(const struct objframe *root, unsigned height, uint64_t page,
                              uint32_t need, struct smap_where *where)
{
    where->disk = NULL;
    where->sector = where->run = 0;
    where->why = NS_OK;
    where->level = height ? height - 1 : 0;
    if (!root || height == 0 || height > SMAP_MAX_HEIGHT || page >= smap_pages(height))
        return SMAP_HOLE;
    const struct objframe *f = root;
    for (unsigned level = height; level-- > 0;) {
        uint64_t span = smap_span(level);
        const struct cap_slot *s = &f->slot[(page >> (SMAP_FANOUT_BITS * level)) & 15];
        where->level = level;
        if (s->type == NS_CAP_NULL && !s->revoked)
            return SMAP_HOLE;
        if (s->type == NS_CAP_OBJFRAME && level > 0 && !cap_slot_stale(s)) {
            f = (const struct objframe *)s->obj;
            continue;
        }
        if (s->type != NS_CAP_DISKRANGE) {
            where->why = s->revoked || (s->type == NS_CAP_OBJFRAME && cap_slot_stale(s))
                             ? NS_ERR_REVOKED
                             : NS_ERR_WRONG_TYPE;
            return SMAP_BAD;
        }
        /* A key covers the slot's whole span: check all of it, so one
         * answer holds for every page of the span. */
        uint64_t in_span = page & (span - 1);
        struct disk *d;
        uint64_t first;
        enum ns_error e = diskrange_check(s, need, 0, span * DISK_SECTORS_PER_PAGE, &d, &first);
        if (e != NS_OK) {
            where->why = e;
            return SMAP_BAD;
        }
        where->disk = d;
        where->sector = first + in_span * DISK_SECTORS_PER_PAGE;
        where->run = span - in_span;
        return SMAP_MAPPED;
    }
    return SMAP_HOLE; /* not reached: level 0 always ends the walk */
}
