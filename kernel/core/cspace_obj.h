/* Capability spaces as kernel objects: a struct cspace over slot pages
 * charged to the creator's bank. */
#ifndef NEWSYS_CORE_CSPACE_OBJ_H
#define NEWSYS_CORE_CSPACE_OBJ_H

#include "kernel/core/cap.h"
#include "kernel/core/kobj.h"

#define CSPACE_MAX_SLOTS 4096

struct cspace_obj {
    struct kobj obj;
    struct cspace cs;
    uint64_t slot_pages;
};

/* Allocate `nslots` slots (charged to obj.bank, which must be set). */
enum ns_error cspace_obj_init(struct cspace_obj *c, uint32_t nslots);
void cspace_obj_release(struct cspace_obj *c);

struct thread;
void cspace_types_init(void);
enum ns_error sys_cspace_create(struct thread *self, uint64_t bank, uint64_t dst, uint64_t slots);

#endif
