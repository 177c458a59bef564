/* Kernel objects: the type-hook registry and the destruction queue.
 *
 * Destruction is the one place where a user controls how deep the kernel
 * would recurse: a capability space holding the last capability to another
 * space, and so on, or a bank tree 10,000 levels deep. So no destroy hook
 * ever calls another hook directly. kobj_destroy only appends to a FIFO
 * queue; the outermost caller (the one that finds no destruction bracket
 * open) drains it in a loop. Everything in cap.c and bank.c runs inside a
 * bracket (kobj_defer_begin/end), so a CDT or bank-tree walk never has the
 * memory it is walking freed under it by a hook; the queued work runs when
 * the walk is over.
 *
 * The only hook run out of queue order is through kobj_destroy_sync, which
 * bank teardown uses to empty a bank before it returns; the hooks it runs
 * only queue further work, so the stack stays bounded there too.
 *
 * State is global (one queue, one nesting depth): the kernel serialises
 * callers with its lock, and the host tests are single-threaded per test. */
#include "kernel/core/kobj.h"

#include "kernel/core/bank.h"

static const struct kobj_type_ops *type_ops[NS_CAP_TYPE_COUNT];

struct kobj_defer kobj_defer;

void kobj_register_type(enum ns_cap_type type, const struct kobj_type_ops *ops)
{
    if ((unsigned)type < NS_CAP_TYPE_COUNT)
        type_ops[type] = ops;
}

void kobj_init(struct kobj *obj, enum ns_cap_type type)
{
    obj->type = (uint8_t)type;
    obj->live = true;
    /* obj->gen deliberately kept: see the header. */
    obj->caps = 0;
    obj->bank = NULL;
    obj->bank_prev = NULL;
    obj->bank_next = NULL;
    obj->charge = 0;
    obj->destroy_prev = NULL;
    obj->destroy_next = NULL;
    obj->destroy_queued = false;
    obj->destroying = false;
}

static void queue_unlink(struct kobj *obj)
{
    if (obj->destroy_prev)
        obj->destroy_prev->destroy_next = obj->destroy_next;
    else
        kobj_defer.head = obj->destroy_next;
    if (obj->destroy_next)
        obj->destroy_next->destroy_prev = obj->destroy_prev;
    else
        kobj_defer.tail = obj->destroy_prev;
    obj->destroy_prev = NULL;
    obj->destroy_next = NULL;
}

/* On the queue, as opposed to queued and already popped for its hook. */
static bool on_queue(const struct kobj *obj)
{
    return obj->destroy_queued && !obj->destroying;
}

void kobj_kill(struct kobj *obj)
{
    if (on_queue(obj))
        queue_unlink(obj);
    obj->live = false;
    obj->gen++;
    obj->caps = 0;
    obj->destroy_queued = false;
    obj->destroying = false;
}

/* Called with a bracket open; `obj` is live and not on the queue. After the
 * hook the object may be freed: it is not touched again. */
static void run_hook(struct kobj *obj)
{
    const struct kobj_type_ops *ops = obj->type < NS_CAP_TYPE_COUNT ? type_ops[obj->type] : NULL;

    obj->destroy_queued = true;
    obj->destroying = true;
    if (ops && ops->destroy) {
        ops->destroy(obj);
    } else {
        bank_uncharge_object(obj);
        kobj_kill(obj);
    }
}

static void drain(void)
{
    while (kobj_defer.head) {
        struct kobj *obj = kobj_defer.head;
        queue_unlink(obj);
        run_hook(obj);
    }
}

/* The outermost bracket closes with work queued: keep the bracket open
 * while draining so that hooks only queue, then close it. */
void kobj_defer_drain(void)
{
    drain();
    kobj_defer.depth = 0;
}

void kobj_destroy(struct kobj *obj)
{
    if (!obj->live || obj->destroy_queued)
        return;
    obj->destroy_queued = true;
    obj->destroy_next = NULL;
    obj->destroy_prev = kobj_defer.tail;
    if (kobj_defer.tail)
        kobj_defer.tail->destroy_next = obj;
    else
        kobj_defer.head = obj;
    kobj_defer.tail = obj;

    kobj_defer_begin();
    kobj_defer_end();
}

void kobj_destroy_sync(struct kobj *obj)
{
    if (!obj->live || obj->destroying)
        return;
    if (on_queue(obj))
        queue_unlink(obj);
    kobj_defer_begin();
    run_hook(obj);
    kobj_defer_end();
}
