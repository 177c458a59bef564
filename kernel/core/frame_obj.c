/* Frame objects and mapping them (see frame_obj.h). */
#include "kernel/core/frame_obj.h"

#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank.h"
#include "kernel/core/object.h"
#include "kernel/core/pin_obj.h"
#include "kernel/core/thread.h"

static struct kcache frame_cache = KCACHE_INIT("frame", struct frame_obj);

static bool frame_mapped(const struct frame_obj *f)
{
    return f->map_as && f->map_as->obj.live && f->map_as->obj.gen == f->map_gen;
}

void frame_unmap(struct frame_obj *f)
{
    if (frame_mapped(f))
        aspace_unmap_page(f->map_as, f->map_va, NULL);
    f->map_as = NULL;
}

void frame_release(struct frame_obj *f)
{
    kmem_page_free(pa_to_va(f->pa));
    obj_free(&frame_cache, &f->obj);
}

static void frame_destroy(struct kobj *obj)
{
    struct frame_obj *f = (struct frame_obj *)obj;
    frame_unmap(f);
    bank_uncharge(obj->bank, PAGE_SIZE);
    bank_uncharge_object(obj);
    kobj_kill(obj);
    /* A pinned frame's page may still be a device's target (its driver
     * died mid-transfer): it waits out a lease first (pin_obj.c). */
    if (!pin_frame_gone(f))
        frame_release(f);
}

void frame_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = frame_destroy};
    kobj_register_type(NS_CAP_FRAME, &ops);
}

enum ns_error frame_create(struct obj_create *c, struct frame_obj **out)
{
    struct frame_obj *f;
    enum ns_error e = obj_create_alloc(c, &frame_cache, NS_CAP_FRAME, (void **)&f);
    if (e != NS_OK)
        return e;
    e = bank_charge(c->bank, PAGE_SIZE);
    if (e != NS_OK) {
        obj_create_abort(&frame_cache, f);
        return e;
    }
    if (!kmem_page_alloc(&f->pa)) {
        bank_uncharge(c->bank, PAGE_SIZE);
        obj_create_abort(&frame_cache, f);
        return NS_ERR_NO_MEMORY;
    }
    f->map_as = NULL;
    f->pin_account = NULL;
    f->pin = (struct pin){0};
    *out = f;
    return NS_OK;
}

void frame_create_abort(struct obj_create *c, struct frame_obj *f)
{
    kmem_page_free(pa_to_va(f->pa));
    bank_uncharge(c->bank, PAGE_SIZE);
    obj_create_abort(&frame_cache, f);
}

enum ns_error sys_frame_alloc(struct thread *self, uint64_t bank, uint64_t dst)
{
    struct obj_create c;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e != NS_OK)
        return e;
    struct frame_obj *f;
    if ((e = frame_create(&c, &f)) != NS_OK)
        return e;
    obj_create_install(&c, f, NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC);
    return NS_OK;
}

enum ns_error sys_map_frame(struct thread *self, uint64_t aspace, uint64_t frame, uint64_t va,
                            uint64_t rights, uint64_t *effective)
{
    struct cap_slot *ac, *fc;
    enum ns_error e = obj_lookup(self, aspace, NS_CAP_ASPACE, NS_RIGHT_WRITE, &ac);
    if (e == NS_OK)
        e = obj_lookup(self, frame, NS_CAP_FRAME, 0, &fc);
    if (e != NS_OK)
        return e;
    if (rights & ~(uint64_t)(NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC))
        return NS_ERR_INVALID_ARG;
    if ((va & (PAGE_SIZE - 1)) || va < PAGE_SIZE || !user_range_ok(va, PAGE_SIZE))
        return NS_ERR_BAD_ADDRESS;
    /* Permissions are subtractive: what the capability allows and what was
     * asked for. A page cannot be write-only, so W needs R as well. */
    uint32_t eff = (uint32_t)rights & fc->rights;
    if ((eff & NS_RIGHT_WRITE) && !(eff & NS_RIGHT_READ))
        eff &= ~NS_RIGHT_WRITE;
    if (!(eff & (NS_RIGHT_READ | NS_RIGHT_EXEC)))
        return NS_ERR_NO_RIGHTS;
    struct frame_obj *f = (struct frame_obj *)fc->obj;
    struct aspace *as = (struct aspace *)ac->obj;
    if (frame_mapped(f))
        return NS_ERR_BAD_STATE;
    if (f->pin_account && f->pin.state == PIN_EXPIRED)
        return NS_ERR_TIMEOUT; /* its lease is over: the driver lost it */
    if (map_tree_lookup(&as->maps, va))
        return NS_ERR_RANGE; /* a memory object is mapped there */
    e = aspace_map_page(as, va, f->pa, eff);
    if (e != NS_OK)
        return e;
    f->map_as = as;
    f->map_gen = as->obj.gen;
    f->map_va = va;
    *effective = eff;
    return NS_OK;
}

enum ns_error sys_unmap(struct thread *self, uint64_t frame)
{
    struct cap_slot *fc;
    enum ns_error e = obj_lookup(self, frame, NS_CAP_FRAME, 0, &fc);
    if (e != NS_OK)
        return e;
    struct frame_obj *f = (struct frame_obj *)fc->obj;
    if (!frame_mapped(f))
        return NS_ERR_BAD_STATE;
    frame_unmap(f);
    return NS_OK;
}
