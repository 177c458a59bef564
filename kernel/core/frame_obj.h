/* Frame objects: one 4 KiB page of physical memory, charged (with its
 * descriptor) to a bank, mappable at one place at a time. The first way
 * programs get memory of their own; memory objects build on it later. */
#ifndef NEWSYS_CORE_FRAME_OBJ_H
#define NEWSYS_CORE_FRAME_OBJ_H

#include <stdint.h>

#include "frames/iopin.h"
#include "include/newsys/errors.h"
#include "kernel/core/kobj.h"
#include "kernel/core/object.h"

struct thread;
struct aspace;
struct pin_account_obj;

struct frame_obj {
    struct kobj obj;
    uint64_t pa;
    struct aspace *map_as; /* where it is mapped, if map_gen still matches */
    uint32_t map_gen;
    uint64_t map_va;
    /* Pinned for DMA (kernel/core/pin_obj.c): the account it counts
     * against, NULL for an ordinary frame. */
    struct pin_account_obj *pin_account;
    struct pin pin;
};

void frame_types_init(void);
/* A zeroed frame charged to c's bank, not yet installed (pin_obj.c pins it
 * first). */
enum ns_error frame_create(struct obj_create *c, struct frame_obj **out);
void frame_create_abort(struct obj_create *c, struct frame_obj *f);
void frame_unmap(struct frame_obj *f);
/* Give a pinned frame's page back and the object's memory (the quarantine
 * is over, or there was none). */
void frame_release(struct frame_obj *f);
enum ns_error sys_frame_alloc(struct thread *self, uint64_t bank, uint64_t dst);
enum ns_error sys_map_frame(struct thread *self, uint64_t aspace, uint64_t frame, uint64_t va,
                            uint64_t rights, uint64_t *effective);
enum ns_error sys_unmap(struct thread *self, uint64_t frame);

#endif
