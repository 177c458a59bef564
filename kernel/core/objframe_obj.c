/* Object frames and disk-range keys: the kernel-object side (see
 * objframe_obj.h). An object frame is charged to the bank it is created
 * from and lives until its last capability goes (or its bank is
 * destroyed); destroying it deletes the capabilities in its slots, which
 * may destroy what they named in turn (through the deferred queue, so a
 * deep tree of frames never recurses). */
#include "kernel/core/objframe_obj.h"

#include "frames/diskrange.h"
#include "frames/objframe.h"
#include "kernel/core/bank.h"
#include "kernel/core/object.h"
#include "kernel/core/thread.h"

static struct kcache objframe_cache = KCACHE_INIT("objframe", struct objframe);

static void objframe_destroy(struct kobj *obj)
{
    objframe_clear_all((struct objframe *)obj);
    obj_retire(&objframe_cache, obj);
}

void objframe_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = objframe_destroy};
    kobj_register_type(NS_CAP_OBJFRAME, &ops);
}

enum ns_error sys_objframe_create(struct thread *self, uint64_t bank, uint64_t dst)
{
    struct obj_create c;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e != NS_OK)
        return e;
    struct objframe *f;
    e = obj_create_alloc(&c, &objframe_cache, NS_CAP_OBJFRAME, (void **)&f);
    if (e != NS_OK)
        return e;
    objframe_init(f);
    obj_create_install(&c, f, NS_RIGHT_READ | NS_RIGHT_WRITE);
    return NS_OK;
}

static enum ns_error frame_and_slot(struct thread *t, uint64_t frame, uint32_t rights,
                                    uint64_t slot, struct objframe **f, struct cap_slot **s)
{
    struct cap_slot *fc;
    enum ns_error e = obj_lookup(t, frame, NS_CAP_OBJFRAME, rights, &fc);
    if (e != NS_OK)
        return e;
    if (slot >= t->cs->cs.nslots)
        return NS_ERR_INVALID_SLOT;
    *f = (struct objframe *)fc->obj;
    *s = &t->cs->cs.slots[slot];
    return NS_OK;
}

enum ns_error sys_objframe_store(struct thread *self, uint64_t frame, uint64_t index, uint64_t src,
                                 uint64_t rights_mask)
{
    struct objframe *f;
    struct cap_slot *s;
    enum ns_error e = frame_and_slot(self, frame, NS_RIGHT_WRITE, src, &f, &s);
    if (e != NS_OK)
        return e;
    if (rights_mask > NS_RIGHTS_ALL)
        return NS_ERR_INVALID_ARG;
    return objframe_store(f, index, s, (uint32_t)rights_mask);
}

enum ns_error sys_objframe_load(struct thread *self, uint64_t frame, uint64_t index, uint64_t dst,
                                uint64_t rights_mask)
{
    struct objframe *f;
    struct cap_slot *d;
    enum ns_error e = frame_and_slot(self, frame, NS_RIGHT_READ, dst, &f, &d);
    if (e != NS_OK)
        return e;
    if (rights_mask > NS_RIGHTS_ALL)
        return NS_ERR_INVALID_ARG;
    return objframe_load(f, index, d, (uint32_t)rights_mask);
}

enum ns_error sys_objframe_clear(struct thread *self, uint64_t frame, uint64_t index)
{
    struct cap_slot *fc;
    enum ns_error e = obj_lookup(self, frame, NS_CAP_OBJFRAME, NS_RIGHT_WRITE, &fc);
    if (e != NS_OK)
        return e;
    return objframe_clear((struct objframe *)fc->obj, index);
}

enum ns_error sys_diskrange_derive(struct thread *self, uint64_t src, uint64_t dst, uint64_t offset,
                                   uint64_t sectors, uint64_t rights_mask)
{
    const struct cspace *cs = &self->cs->cs;
    if (src >= cs->nslots || dst >= cs->nslots)
        return NS_ERR_INVALID_SLOT;
    if (rights_mask > NS_RIGHTS_ALL)
        return NS_ERR_INVALID_ARG;
    return diskrange_derive(&cs->slots[src], &cs->slots[dst], offset, sectors,
                            (uint32_t)rights_mask);
}

enum ns_error sys_diskrange_info(struct thread *self, uint64_t key, uint64_t *disk,
                                 uint64_t *first, uint64_t *sectors)
{
    struct cap_slot *k;
    enum ns_error e = obj_lookup(self, key, NS_CAP_DISKRANGE, 0, &k);
    if (e != NS_OK)
        return e;
    *disk = ((struct disk *)k->obj)->index;
    *first = k->badge;
    *sectors = k->extent;
    return NS_OK;
}
