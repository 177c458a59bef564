/* The kernel lock (see klock.h). */
#include "kernel/core/klock.h"

#ifdef NEWSYS_HOST
#include <sched.h>
/* Host threads playing harts may outnumber the cores: a waiter gives its
 * core up, or the ticket's holder may not get one for a whole time slice. */
static inline void relax(void)
{
    sched_yield();
}
#else
static inline void relax(void)
{
    asm volatile("" ::: "memory");
}
#endif

void klock_wait(struct klock *l, uint32_t ticket)
{
    __atomic_fetch_add(&l->contended, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
        relax();
}

bool klock_try_acquire(struct klock *l, int who)
{
    uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE);
    uint32_t expect = owner;
    /* Draw a ticket only if it would be served at once. */
    if (!__atomic_compare_exchange_n(&l->next, &expect, owner + 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return false;
    l->holder = who;
    return true;
}

bool klock_held_by(const struct klock *l, int who)
{
    return __atomic_load_n(&l->holder, __ATOMIC_RELAXED) == who &&
           __atomic_load_n(&l->owner, __ATOMIC_RELAXED) !=
               __atomic_load_n(&l->next, __ATOMIC_RELAXED);
}
