/* Capabilities and capability spaces.
 *
 * A capability space is an array of slots. A slot holds a capability (type,
 * object, generation, rights, badge) and its links in the capability
 * derivation tree (CDT): every copy or mint is a child of its source, so
 * revoke can delete everything derived from a capability, in any space.
 *
 * Contract of the operations (all portable and allocation-free; O(1) except
 * delete and move, one step per direct CDT child whose parent link changes,
 * revoke, one step per descendant, and the destruction they may trigger):
 *   - lookup checks, in this order: slot index (INVALID_SLOT), emptiness
 *     (EMPTY_SLOT), staleness - revoked tombstone or object generation
 *     changed (REVOKED), type (WRONG_TYPE), rights (NO_RIGHTS);
 *   - copy/mint/move: the source must pass cap_lookup_any; destination index
 *     (INVALID_SLOT); destination the source slot itself (INVALID_ARG);
 *     destination must be empty or a tombstone (SLOT_OCCUPIED); new rights
 *     are source rights & mask - rights never grow; a mask with bits outside
 *     NS_RIGHTS_ALL is INVALID_ARG; copy keeps the badge; mint with badge 0
 *     is a copy, and may set a non-zero badge only on an unbadged endpoint
 *     or notification capability (INVALID_ARG else);
 *   - move keeps the capability's place in the CDT;
 *   - delete empties the slot (EMPTY_SLOT if already empty; a tombstone or
 *     stale capability is simply cleared); its CDT children take its place,
 *     in order, under its parent; if it was the last live capability to the
 *     object, the object is destroyed (kobj_destroy); a stale capability
 *     never touches the count of whatever lives in that memory now;
 *   - revoke deletes every CDT descendant of the slot (not the slot itself)
 *     and leaves each of their slots as a revoked tombstone: lookups there
 *     say REVOKED until the slot is deleted or overwritten.
 * A failed call changes nothing. */
#ifndef NEWSYS_CORE_CAP_H
#define NEWSYS_CORE_CAP_H

#include <stdbool.h>
#include <stdint.h>

#include "include/newsys/caps.h"
#include "include/newsys/errors.h"
#include "kernel/core/kobj.h"

struct cap_slot {
    uint8_t type;    /* enum ns_cap_type; NS_CAP_NULL when empty */
    bool revoked;    /* tombstone left by revoke (type is NS_CAP_NULL) */
    uint16_t rights; /* NS_RIGHT_* */
    uint32_t gen;    /* object generation this capability was made for */
    struct kobj *obj;
    /* Per type: an endpoint's or notification's badge; a disk-range key's
     * first sector (badge) and sector count (extent). Both are copied by
     * every derivation, which may only narrow them (diskrange.h). */
    uint64_t badge;
    uint64_t extent;
    struct cap_slot *cdt_parent, *cdt_child, *cdt_prev, *cdt_next;
};
_Static_assert(sizeof(struct cap_slot) == 64, "a capability slot is one cache line");

struct cspace {
    struct cap_slot *slots;
    uint32_t nslots;
};

/* What identify reports. */
struct cap_info {
    enum ns_cap_type type;
    uint32_t rights;
    uint64_t badge;
};

void cspace_init(struct cspace *cs, struct cap_slot *slots, uint32_t nslots);

enum ns_error cap_lookup(const struct cspace *cs, uint32_t slot, enum ns_cap_type type,
                         uint32_t rights, struct cap_slot **out);
/* Like cap_lookup for any type (type check skipped). */
enum ns_error cap_lookup_any(const struct cspace *cs, uint32_t slot, struct cap_slot **out);
/* A slot that must be empty (tombstones count as empty) for a new cap. */
enum ns_error cap_lookup_empty(const struct cspace *cs, uint32_t slot, struct cap_slot **out);

/* Put the first capability to a freshly created object in `dst` (a CDT
 * root), counting it in obj->caps. `dst` must be empty. */
void cap_install(struct cap_slot *dst, struct kobj *obj, uint32_t rights, uint64_t badge);

enum ns_error cap_copy(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs, uint32_t dst,
                       uint32_t rights_mask);
enum ns_error cap_mint(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs, uint32_t dst,
                       uint32_t rights_mask, uint64_t badge);
enum ns_error cap_move(struct cspace *src_cs, uint32_t src, struct cspace *dst_cs, uint32_t dst);
enum ns_error cap_delete(struct cspace *cs, uint32_t slot);
enum ns_error cap_revoke(struct cspace *cs, uint32_t slot);
enum ns_error cap_identify(const struct cspace *cs, uint32_t slot, struct cap_info *info);

/* Slot-level forms used inside the kernel (IPC transfer, teardown); the
 * caller has done the checks: `src` live, `dst` empty or a tombstone.
 * derive never gives more rights than `src` has. */
void cap_slot_derive(struct cap_slot *src, struct cap_slot *dst, uint32_t rights, uint64_t badge);
void cap_slot_delete(struct cap_slot *slot);
/* Revoked (a tombstone) or naming a destroyed object. Inline: the IPC fast
 * path asks it three times per message. */
static inline bool cap_slot_stale(const struct cap_slot *slot)
{
    if (slot->revoked)
        return true;
    if (slot->type == NS_CAP_NULL)
        return false;
    return slot->gen != slot->obj->gen;
}

/* Delete every slot of a space (when the space itself is destroyed). */
void cspace_clear(struct cspace *cs);

#endif
