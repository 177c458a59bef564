/* Kernel objects: the common header of everything a capability can name.
 *
 * Every object is charged to a space bank and sits on that bank's object
 * list, so destroying the bank can find and destroy it. Object memory is
 * type-stable (the allocator reuses an object's memory only for an object of
 * the same type), and every destruction bumps `gen`; a capability remembers
 * the generation it was made for, so a capability to a destroyed object is
 * detected as revoked without finding and clearing every copy (the EROS
 * "allocation count" idea). `caps` counts the live (same-generation)
 * capabilities naming the object: when the last goes, the object is
 * destroyed. Portable: no allocation here. */
#ifndef NEWSYS_CORE_KOBJ_H
#define NEWSYS_CORE_KOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/newsys/caps.h"

struct bank;

struct kobj {
    uint8_t type;  /* enum ns_cap_type */
    bool live;     /* between kobj_init and kobj_kill */
    uint32_t gen;  /* bumped when the object dies */
    uint32_t caps; /* live capabilities naming this object */
    struct bank *bank;
    struct kobj *bank_prev, *bank_next;       /* the bank's object list */
    uint64_t charge;                          /* bytes charged to `bank` */
    struct kobj *destroy_prev, *destroy_next; /* on the pending-destruction queue */
    bool destroy_queued;                      /* set from kobj_destroy until kobj_kill */
    bool destroying;                          /* its destroy hook is running */
};

/* Per-type hooks the kernel registers (host tests register fakes). `destroy`
 * releases the object's resources, calls bank_uncharge_object() (and undoes
 * any loose bank_charge() of its own), then kobj_kill(); only after that may
 * it give the memory back to the (type-stable) allocator. It is called when
 * the last capability goes or the bank is destroyed, never twice for one
 * life of the object. A type without a hook is just uncharged and killed. */
struct kobj_type_ops {
    void (*destroy)(struct kobj *obj);
};
void kobj_register_type(enum ns_cap_type type, const struct kobj_type_ops *ops);

/* Start a new life of `obj`: everything is reset except `gen`, which a
 * reused (type-stable) memory keeps, so capabilities to the previous
 * object stay stale. Because stale capabilities still read `gen` through
 * their object pointer, object memory must stay type-stable for as long as
 * any capability may name it: never hand it to another type. */
void kobj_init(struct kobj *obj, enum ns_cap_type type);
/* Destroy the object: queue it and, unless a destruction is already being
 * processed further up the stack or a bracket (below) is open, run destroy
 * hooks until the queue is empty (FIFO). Destruction cascades (a dying capability space drops the
 * last capability to another object, a dying bank destroys its objects) go through this queue, so
 * kernel stack depth never depends on how deep a user made its structures. No-op for a dead or
 * already queued object. */
void kobj_destroy(struct kobj *obj);
/* Mark dead: bump the generation so all capabilities to it become stale.
 * Also takes the object off the pending queue if it is still on it. */
void kobj_kill(struct kobj *obj);

/* Bracket an operation that may drop capabilities or destroy objects (all
 * of cap.c and bank.c do): destructions requested inside the bracket are
 * only queued, and run when the outermost bracket closes. This keeps a walk
 * over CDT links or a bank tree safe from hooks that would free the memory
 * it is walking, and keeps the stack flat. Brackets nest. The queue and the
 * nesting depth are global: callers serialise (the kernel lock). */
struct kobj_defer {
    unsigned depth;
    struct kobj *head, *tail; /* the pending-destruction queue */
};
extern struct kobj_defer kobj_defer; /* kobj.c's; read here for the inline fast paths */
void kobj_defer_drain(void);

/* Every system call opens and closes a bracket, and almost none queues a
 * destruction: closing with an empty queue is a decrement. */
static inline void kobj_defer_begin(void)
{
    kobj_defer.depth++;
}

static inline void kobj_defer_end(void)
{
    if (kobj_defer.depth > 1 || !kobj_defer.head)
        kobj_defer.depth--;
    else
        kobj_defer_drain();
}
/* Run `obj`'s destroy hook now (taking it off the queue if it was queued),
 * whatever the nesting; for bank teardown, which must empty a bank before
 * it returns. No-op for a dead object or one whose hook is already running.
 * Destructions the hook requests are queued as usual. */
void kobj_destroy_sync(struct kobj *obj);

/* A generation counter that has reached its top value must not start
 * another life: the allocator retires such memory instead of reusing it, so
 * a 32-bit wrap can never make an old capability valid again. */
static inline bool kobj_gen_exhausted(const struct kobj *obj)
{
    return obj->gen == UINT32_MAX;
}

#endif
