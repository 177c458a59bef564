/* Capability-space objects (see cspace_obj.h). */
#include "kernel/core/cspace_obj.h"

#include <string.h>

#include "frames/frame_alloc.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/core/bank.h"
#include "kernel/core/kmem.h"
#include "kernel/core/object.h"

enum ns_error cspace_obj_init(struct cspace_obj *c, uint32_t nslots)
{
    if (nslots == 0 || nslots > CSPACE_MAX_SLOTS)
        return NS_ERR_INVALID_ARG;
    uint64_t pages = ((uint64_t)nslots * sizeof(struct cap_slot) + PAGE_SIZE - 1) / PAGE_SIZE;
    enum ns_error e = bank_charge(c->obj.bank, pages * PAGE_SIZE);
    if (e != NS_OK)
        return e;
    uint64_t pa;
    if (frame_alloc_contig(kmem_frames(), pages, 1, &pa) != FRAME_OK) {
        bank_uncharge(c->obj.bank, pages * PAGE_SIZE);
        return NS_ERR_NO_MEMORY;
    }
    memset(pa_to_va(pa), 0, pages * PAGE_SIZE);
    c->slot_pages = pages;
    cspace_init(&c->cs, pa_to_va(pa), nslots);
    return NS_OK;
}

void cspace_obj_release(struct cspace_obj *c)
{
    if (!c->slot_pages)
        return;
    cspace_clear(&c->cs);
    frame_free_contig(kmem_frames(), direct_va_to_pa(c->cs.slots), c->slot_pages);
    bank_uncharge(c->obj.bank, c->slot_pages * PAGE_SIZE);
    c->slot_pages = 0;
}

static struct kcache cspace_cache = KCACHE_INIT("cspace", struct cspace_obj);

static void cspace_destroy(struct kobj *obj)
{
    struct cspace_obj *c = (struct cspace_obj *)obj;
    cspace_obj_release(c);
    obj_retire(&cspace_cache, obj);
}

void cspace_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = cspace_destroy};
    kobj_register_type(NS_CAP_CSPACE, &ops);
}

enum ns_error sys_cspace_create(struct thread *self, uint64_t bank, uint64_t dst, uint64_t slots)
{
    struct obj_create c;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e != NS_OK)
        return e;
    if (slots == 0 || slots > CSPACE_MAX_SLOTS)
        return NS_ERR_INVALID_ARG;
    struct cspace_obj *cs;
    e = obj_create_alloc(&c, &cspace_cache, NS_CAP_CSPACE, (void **)&cs);
    if (e != NS_OK)
        return e;
    e = cspace_obj_init(cs, (uint32_t)slots);
    if (e != NS_OK) {
        obj_create_abort(&cspace_cache, cs);
        return e;
    }
    obj_create_install(&c, cs, NS_RIGHTS_ALL);
    return NS_OK;
}
