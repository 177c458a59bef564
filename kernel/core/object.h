/* Helpers shared by the system calls that create and name kernel objects:
 * capability lookup in the calling thread's space with 64-bit slot
 * arguments, and the decode/charge/install steps of object creation, so
 * every creating call checks the same things in the same order:
 * bank (type, WRITE right), destination slot (valid, empty), then quota. */
#ifndef NEWSYS_CORE_OBJECT_H
#define NEWSYS_CORE_OBJECT_H

#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/cap.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/kmem.h"
#include "kernel/core/thread.h"

struct bank;

/* The capability at `slot` of t's space, of `type` with at least `rights`.
 * Every system call names its objects through this, so the usual case (a
 * live capability of the right type and rights) is checked inline and
 * only a failing lookup takes the call that finds which error it is. */
enum ns_error obj_lookup_error(struct thread *t, uint64_t slot, enum ns_cap_type type,
                               uint32_t rights, struct cap_slot **out);

static inline enum ns_error obj_lookup(struct thread *t, uint64_t slot, enum ns_cap_type type,
                                       uint32_t rights, struct cap_slot **out)
{
    const struct cspace *cs = &t->cs->cs;
    if (slot < cs->nslots) {
        /* A tombstone or an empty slot has type NS_CAP_NULL, never asked for. */
        struct cap_slot *s = &cs->slots[slot];
        if (s->type == type && !(rights & ~(uint32_t)s->rights) && s->gen == s->obj->gen) {
            *out = s;
            return NS_OK;
        }
    }
    return obj_lookup_error(t, slot, type, rights, out);
}
enum ns_error obj_lookup_any(struct thread *t, uint64_t slot, struct cap_slot **out);

struct obj_create {
    struct bank *bank;
    struct cap_slot *dst;
};

/* Decode: the bank capability and an empty destination slot. */
enum ns_error obj_create_decode(struct thread *t, uint64_t bank_slot, uint64_t dst_slot,
                                struct obj_create *c);
/* Allocate from `cache` and charge the object's size to the bank. The
 * object comes back initialised as a live kobj of `type`, charged, with no
 * capability yet. */
enum ns_error obj_create_alloc(struct obj_create *c, struct kcache *cache, enum ns_cap_type type,
                               void **out);
/* Undo obj_create_alloc when a later step fails. */
void obj_create_abort(struct kcache *cache, void *obj);
/* The end of every destroy hook: uncharge the object from its bank, mark
 * it dead (its capabilities turn stale), give back its memory. */
void obj_retire(struct kcache *cache, struct kobj *obj);
/* Return a dead object's memory to its cache - unless its generation
 * counter is used up, in which case the memory is retired for good, since
 * a stale capability with a wrapped generation would look valid. */
void obj_free(struct kcache *cache, struct kobj *obj);
/* Put the first capability in the destination slot. */
void obj_create_install(struct obj_create *c, void *obj, uint32_t rights);

#endif
