/* Space banks as kernel objects: their destroy hook and system calls. The
 * accounting itself is portable (bank.c). */
#include "include/newsys/caps.h"
#include "kernel/core/bank.h"
#include "kernel/core/bank_obj.h"
#include "kernel/core/kmem.h"
#include "kernel/core/object.h"
#include "kernel/core/thread.h"

static struct kcache bank_cache = KCACHE_INIT("bank", struct bank);

static void bank_destroy(struct kobj *obj)
{
    struct bank *b = (struct bank *)obj;
    bank_teardown(b);
    bank_uncharge_object(obj);
    kobj_kill(obj);
    if (b != root_bank_get())
        obj_free(&bank_cache, obj);
}

void bank_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = bank_destroy};
    kobj_register_type(NS_CAP_BANK, &ops);
}

enum ns_error sys_bank_create(struct thread *self, uint64_t parent, uint64_t dst,
                              uint64_t limit_pages)
{
    struct obj_create c;
    enum ns_error e = obj_create_decode(self, parent, dst, &c);
    if (e != NS_OK)
        return e;
    if (limit_pages > UINT64_MAX / BANK_PAGE_SIZE)
        return NS_ERR_INVALID_ARG;
    struct bank *b;
    e = obj_create_alloc(&c, &bank_cache, NS_CAP_BANK, (void **)&b);
    if (e != NS_OK)
        return e;
    bank_init_child(b, c.bank, limit_pages * BANK_PAGE_SIZE);
    obj_create_install(&c, b, NS_RIGHTS_ALL);
    return NS_OK;
}

enum ns_error sys_bank_info(struct thread *self, uint64_t slot, uint64_t *limit_pages,
                            uint64_t *used_bytes)
{
    struct cap_slot *c;
    enum ns_error e = obj_lookup(self, slot, NS_CAP_BANK, NS_RIGHT_READ, &c);
    if (e != NS_OK)
        return e;
    struct bank *b = (struct bank *)c->obj;
    *limit_pages = bank_limit_pages(b);
    *used_bytes = bank_used_bytes(b);
    return NS_OK;
}

enum ns_error sys_bank_destroy(struct thread *self, uint64_t slot)
{
    struct cap_slot *c;
    enum ns_error e = obj_lookup(self, slot, NS_CAP_BANK, NS_RIGHT_WRITE, &c);
    if (e != NS_OK)
        return e;
    struct bank *b = (struct bank *)c->obj;
    if (b == root_bank_get())
        return NS_ERR_BAD_STATE; /* everything lives in it */
    kobj_destroy(&b->obj);
    return NS_OK;
}
