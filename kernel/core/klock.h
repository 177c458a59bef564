/* The kernel lock: one ticket spinlock over all kernel state, the first
 * step of SMP (docs/smp.md). A hart takes it on every way into the kernel
 * and lets go on the way out, so kernel code stays as it is - run to
 * completion, interrupts off - while user code runs on every hart at
 * once. Tickets make it fair: harts get it in the order they asked, so no
 * hart's trap waits behind a stream of others.
 *
 * A waiter spins a while, then parks: it says which ticket it waits for
 * and sleeps (wfi) until the release that serves that ticket wakes it
 * (an IPI). Spinning alone, a waiter keeps its core busy; on a virtual
 * machine of more harts than host cores (QEMU's TCG threads) that core is
 * the one the holder - or the next in line, which everyone waits for -
 * needed, and four writers streaming through pageout at --smp 4 on two
 * host cores went at a few hundred lock handovers a second. Parking costs
 * the releaser an IPI only when someone sleeps.
 *
 * Portable C over the compiler's atomics (the host tests hammer it with
 * threads); `holder` is for assertions and the panic path, not for the
 * protocol. The arch (or the host test) supplies klock_park/klock_unpark. */
#ifndef NEWSYS_CORE_KLOCK_H
#define NEWSYS_CORE_KLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define KLOCK_NOBODY  (-1)
#define KLOCK_MAX_WHO 64 /* `who` is below this: a bit of the parked mask */

struct klock {
    uint32_t next;                         /* the ticket the next asker draws */
    uint32_t owner;                        /* the ticket now served */
    int holder;                            /* who holds it (a hart index), KLOCK_NOBODY */
    uint64_t contended;                    /* acquisitions that had to wait */
    uint64_t parks;                        /* times a waiter went to sleep */
    uint64_t parked;                       /* who sleeps now (bits) */
    uint32_t parked_ticket[KLOCK_MAX_WHO]; /* the ticket each sleeper waits for */
};

#define KLOCK_INIT                                                                                 \
    {                                                                                              \
        .holder = KLOCK_NOBODY                                                                     \
    }

/* Spins before a waiter parks (a variable for the host tests). */
extern unsigned klock_spin_limit;

/* Supplied by the arch. klock_park_prepare forgets wake-ups already sent
 * to `who` (called before the waiter publishes that it sleeps, so none
 * meant for this wait is lost); klock_park sleeps until klock_unpark(who)
 * since then, or any other wake-up (spurious returns are fine). */
void klock_park_prepare(int who);
void klock_park(int who);
void klock_unpark(int who);

/* Out of line: the wait for a ticket not yet served, and the release that
 * finds a sleeper. */
void klock_wait(struct klock *l, uint32_t ticket, int who);
void klock_wake(struct klock *l, uint32_t served);

static inline void klock_acquire(struct klock *l, int who)
{
    uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
        klock_wait(l, ticket, who);
    l->holder = who;
}

static inline void klock_release(struct klock *l, int who)
{
    (void)who;
    l->holder = KLOCK_NOBODY;
    /* Only the holder writes owner: a plain increment, published so that
     * everything done under the lock is seen first. Sequentially
     * consistent with the load of `parked` after it, as a parking waiter
     * publishes its bit before it looks at owner again: one of the two
     * sees the other, so no sleeper is left asleep on its turn. */
    uint32_t served = l->owner + 1;
    __atomic_store_n(&l->owner, served, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&l->parked, __ATOMIC_SEQ_CST))
        klock_wake(l, served);
}

/* false (and nothing taken) if someone holds it now. */
bool klock_try_acquire(struct klock *l, int who);
bool klock_held_by(const struct klock *l, int who);

#endif
