/* Object naming and creation helpers (see object.h). */
#include "kernel/core/object.h"

#include "kernel/core/bank.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/thread.h"

enum ns_error obj_lookup_error(struct thread *t, uint64_t slot, enum ns_cap_type type,
                               uint32_t rights, struct cap_slot **out)
{
    if (slot >= t->cs->cs.nslots)
        return NS_ERR_INVALID_SLOT;
    return cap_lookup(&t->cs->cs, (uint32_t)slot, type, rights, out);
}

enum ns_error obj_lookup_any(struct thread *t, uint64_t slot, struct cap_slot **out)
{
    if (slot >= t->cs->cs.nslots)
        return NS_ERR_INVALID_SLOT;
    return cap_lookup_any(&t->cs->cs, (uint32_t)slot, out);
}

enum ns_error obj_create_decode(struct thread *t, uint64_t bank_slot, uint64_t dst_slot,
                                struct obj_create *c)
{
    struct cap_slot *b;
    enum ns_error e = obj_lookup(t, bank_slot, NS_CAP_BANK, NS_RIGHT_WRITE, &b);
    if (e != NS_OK)
        return e;
    if (dst_slot >= t->cs->cs.nslots)
        return NS_ERR_INVALID_SLOT;
    e = cap_lookup_empty(&t->cs->cs, (uint32_t)dst_slot, &c->dst);
    if (e != NS_OK)
        return e;
    c->bank = (struct bank *)b->obj;
    if (c->bank->dying)
        return NS_ERR_REVOKED;
    return NS_OK;
}

enum ns_error obj_create_alloc(struct obj_create *c, struct kcache *cache, enum ns_cap_type type,
                               void **out)
{
    struct kobj *obj = kcache_alloc(cache);
    if (!obj)
        return NS_ERR_NO_MEMORY;
    kobj_init(obj, type);
    enum ns_error e = bank_charge_object(c->bank, obj, cache->size);
    if (e != NS_OK) {
        kobj_kill(obj);
        obj_free(cache, obj);
        return e;
    }
    *out = obj;
    return NS_OK;
}

void obj_create_abort(struct kcache *cache, void *obj)
{
    obj_retire(cache, obj);
}

void obj_retire(struct kcache *cache, struct kobj *obj)
{
    bank_uncharge_object(obj);
    kobj_kill(obj);
    obj_free(cache, obj);
}

void obj_free(struct kcache *cache, struct kobj *obj)
{
    if (!kobj_gen_exhausted(obj))
        kcache_free(cache, obj);
}

void obj_create_install(struct obj_create *c, void *obj, uint32_t rights)
{
    cap_install(c->dst, obj, rights, 0);
}
