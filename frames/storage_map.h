/* Storage maps: where each page of a memory object lives on disk, as a tree
 * of object frames (a KeyKOS segment) that the object's manager builds and
 * hands the kernel, so the kernel can read and write the object's pages by
 * itself.
 *
 * A map has a height h >= 1 and covers object pages [0, 16^h). The root
 * frame is at level h - 1 and a frame at level l has 16 slots, each
 * spanning 16^l pages. A slot holds
 *   - nothing: these pages have no map; the manager is asked for them;
 *   - another frame (only above level 0): the subtree for its span, one
 *     level down;
 *   - a disk-range key covering its whole span: span * 8 sectors or more,
 *     page k of the span at the key's sector 8k.
 * So a contiguous object needs one frame (a key per slot, or one key in a
 * slot of a taller map), a fragmented one more. Anything else in a slot (a
 * capability of another type, a frame at level 0, a stale or revoked key,
 * a key too short for its span or without the rights the transfer needs)
 * makes that part of the map unusable: the walk says why, and the caller
 * falls back to the manager (memobj/). The walk is bounded by the height,
 * so a frame that contains itself cannot make it loop.
 *
 * Portable (host-tested); no allocation, no side effects. */
#ifndef NEWSYS_FRAMES_STORAGE_MAP_H
#define NEWSYS_FRAMES_STORAGE_MAP_H

#include <stdint.h>

#include "frames/diskrange.h"
#include "frames/objframe.h"

/* 16^13 = 2^52 pages: every page an object can have (page_cache.h). */
#define SMAP_MAX_HEIGHT 13
#define SMAP_FANOUT_BITS 4

/* Pages a slot at `level` spans (level < SMAP_MAX_HEIGHT). */
static inline uint64_t smap_span(unsigned level)
{
    return (uint64_t)1 << (SMAP_FANOUT_BITS * level);
}

/* Pages a map of `height` covers. */
static inline uint64_t smap_pages(unsigned height)
{
    return smap_span(height);
}

enum smap_result {
    SMAP_MAPPED, /* the page is on disk where *where says */
    SMAP_HOLE,   /* an empty slot (or a page past the map): ask the manager */
    SMAP_BAD,    /* the map is unusable there; where->why says how */
};

struct smap_where {
    struct disk *disk;
    uint64_t sector; /* the page's first sector on the disk */
    uint64_t run;    /* pages from this one to the end of its key's span, all
                        contiguous on disk under the same key: readahead bound */
    unsigned level;  /* level of the slot where the walk stopped */
    enum ns_error why; /* SMAP_BAD: WRONG_TYPE (not a frame or key; a frame at
                          level 0), REVOKED, NO_RIGHTS, RANGE (key too short) */
};

/* Where is page `page` of the object whose map is `root` with `height`,
 * for a transfer needing the key rights `need` (NS_RIGHT_READ to read it
 * in, NS_RIGHT_WRITE to write it back)? */
enum smap_result smap_resolve(const struct objframe *root, unsigned height, uint64_t page,
                              uint32_t need, struct smap_where *where);

#endif
