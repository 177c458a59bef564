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

void klock_acquire(struct klock *l, int who)
{
    uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket) {
        __atomic_fetch_add(&l->contended, 1, __ATOMIC_RELAXED);
        while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
            relax();
    }
    l->holder = who;
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

void klock_release(struct klock *l, int who)
{
    (void)who;
    l->holder = KLOCK_NOBODY;
    /* Only the holder writes owner: a plain increment, published with
     * release order so everything done under the lock is seen first. */
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

bool klock_held_by(const struct klock *l, int who)
{
    return __atomic_load_n(&l->holder, __ATOMIC_RELAXED) == who &&
           __atomic_load_n(&l->owner, __ATOMIC_RELAXED) !=
               __atomic_load_n(&l->next, __ATOMIC_RELAXED);
}
