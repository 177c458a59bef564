/* The kernel lock (see klock.h). */
#include "kernel/core/klock.h"

#include <stdbool.h>

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

/* Spins before parking: on a U74 at 1.5 GHz some tens of microseconds,
 * longer than the kernel holds the lock but for a sweep. */
unsigned klock_spin_limit = 4096;

static bool is_served(struct klock *l, uint32_t ticket)
{
    return __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) == ticket;
}

void klock_wait(struct klock *l, uint32_t ticket, int who)
{
    __atomic_fetch_add(&l->contended, 1, __ATOMIC_RELAXED);
    uint64_t bit = 1ull << who;
    for (;;) {
        for (unsigned i = 0; i < klock_spin_limit; i++) {
            if (is_served(l, ticket))
                return;
            relax();
        }
        /* Old wake-ups gone, the ticket, then the bit, then a last look
         * (klock.h). */
        klock_park_prepare(who);
        __atomic_store_n(&l->parked_ticket[who], ticket, __ATOMIC_RELAXED);
        __atomic_fetch_or(&l->parked, bit, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&l->owner, __ATOMIC_SEQ_CST) != ticket) {
            __atomic_fetch_add(&l->parks, 1, __ATOMIC_RELAXED);
            klock_park(who);
        }
        __atomic_fetch_and(&l->parked, ~bit, __ATOMIC_SEQ_CST);
    }
}

void klock_wake(struct klock *l, uint32_t ticket)
{
    uint64_t sleepers = __atomic_load_n(&l->parked, __ATOMIC_SEQ_CST);
    for (int who = 0; sleepers; who++, sleepers >>= 1)
        if ((sleepers & 1) && __atomic_load_n(&l->parked_ticket[who], __ATOMIC_RELAXED) == ticket)
            klock_unpark(who);
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
