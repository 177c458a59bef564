/* Object frames: small kernel objects holding OBJFRAME_SLOTS capability
 * slots (a KeyKOS node). They are the only kernel objects that hold
 * capabilities outside capability spaces, and the building blocks of
 * storage maps (storage_map.h). A frame is never mappable (it has no
 * frame capability type, so every map call refuses it) and never paged
 * out: it is kernel memory charged to the bank it was bought from.
 *
 * The slots are ordinary capability slots: a capability stored in a frame
 * is a derivation-tree child of the one it was copied from, so revoking
 * that one (or destroying its object) reaches the copy in the frame as it
 * reaches copies in capability spaces. Capabilities keep objects alive, so
 * frames that hold capabilities to each other (or to themselves) stay
 * until one of those is revoked or their bank is destroyed - bounded, like
 * everything else, by the bank.
 *
 * This file is portable (host-tested): slot operations on a frame the
 * caller owns. Creation, destruction and the system calls are in
 * kernel/core/objframe_obj.c. */
#ifndef NEWSYS_FRAMES_OBJFRAME_H
#define NEWSYS_FRAMES_OBJFRAME_H

#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/cap.h"
#include "kernel/core/kobj.h"

#define OBJFRAME_SLOTS 16

struct objframe {
    struct kobj obj;
    struct cap_slot slot[OBJFRAME_SLOTS];
};

/* All slots empty. */
void objframe_init(struct objframe *f);

/* Copy the live capability `src` into slot `index` with at most
 * `rights_mask` of its rights. Errors: INVALID_ARG (index, unknown rights
 * bits), SLOT_OCCUPIED, REVOKED / EMPTY_SLOT (src). Nothing changes on
 * error. */
enum ns_error objframe_store(struct objframe *f, uint64_t index, struct cap_slot *src,
                             uint32_t rights_mask);

/* Copy slot `index` into the empty slot `dst` with at most `rights_mask`
 * of its rights. Errors: INVALID_ARG, EMPTY_SLOT, REVOKED, SLOT_OCCUPIED. */
enum ns_error objframe_load(struct objframe *f, uint64_t index, struct cap_slot *dst,
                            uint32_t rights_mask);

/* Delete slot `index` (a no-op when it is empty). Errors: INVALID_ARG. */
enum ns_error objframe_clear(struct objframe *f, uint64_t index);

/* Delete every slot (the frame is being destroyed). */
void objframe_clear_all(struct objframe *f);

#endif
