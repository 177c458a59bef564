/* Notifications (see notification.h). */
#include "kernel/core/notification.h"

#include "kernel/core/bank.h"
#include "kernel/core/ipc.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"
#include "kernel/core/thread.h"
#include "kernel/core/waitq.h"

static struct kcache notification_cache = KCACHE_INIT("notification", struct notification);

enum { R_A0 = 10, R_A1 = 11 };

void notification_signal(struct hart *h, struct kobj *obj, uint64_t bits)
{
    struct notification *n = (struct notification *)obj;
    n->bits |= bits;
    struct thread *w = waitq_pop(&n->head, &n->tail);
    if (w) {
        w->ctx.regs[R_A0] = NS_OK;
        w->ctx.regs[R_A1] = n->bits;
        n->bits = 0;
        ipc_wake(h, w);
    }
}

void sys_signal(struct hart *h, struct thread *t)
{
    unsigned long *r = t->ctx.regs;
    struct cap_slot *c;
    enum ns_error e = obj_lookup(t, r[R_A0], NS_CAP_NOTIFICATION, NS_RIGHT_WRITE, &c);
    r[R_A0] = (unsigned long)e;
    if (e != NS_OK)
        return;
    notification_signal(h, c->obj, c->badge ? c->badge : 1);
}

void sys_wait(struct hart *h, struct thread *t, bool block_if_none)
{
    unsigned long *r = t->ctx.regs;
    struct cap_slot *c;
    enum ns_error e = obj_lookup(t, r[R_A0], NS_CAP_NOTIFICATION, NS_RIGHT_READ, &c);
    if (e != NS_OK) {
        r[R_A0] = (unsigned long)e;
        return;
    }
    struct notification *n = (struct notification *)c->obj;
    if (n->bits || !block_if_none) {
        r[R_A0] = NS_OK;
        r[R_A1] = n->bits;
        n->bits = 0;
        return;
    }
    ipc_block(h, t, IPC_NTFN_WAIT, n);
    waitq_push(&n->head, &n->tail, t);
}

static void notification_destroy(struct kobj *obj)
{
    struct notification *n = (struct notification *)obj;
    struct thread *t;
    while ((t = waitq_pop(&n->head, &n->tail)) != NULL)
        ipc_wake_error(sched_this_hart(), t, NS_ERR_DEAD_OBJECT);
    obj_retire(&notification_cache, obj);
}

enum ns_error sys_notification_create(struct thread *self, uint64_t bank, uint64_t dst)
{
    struct obj_create c;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e != NS_OK)
        return e;
    struct notification *n;
    e = obj_create_alloc(&c, &notification_cache, NS_CAP_NOTIFICATION, (void **)&n);
    if (e != NS_OK)
        return e;
    n->bits = 0;
    n->head = n->tail = NULL;
    obj_create_install(&c, n, NS_RIGHT_READ | NS_RIGHT_WRITE);
    return NS_OK;
}

void notification_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = notification_destroy};
    kobj_register_type(NS_CAP_NOTIFICATION, &ops);
}
