/* The kernel lock: one ticket spinlock over all kernel state, the first
 * step of SMP (docs/smp.md). A hart takes it on every way into the kernel
 * and lets go on the way out, so kernel code stays as it is - run to
 * completion, interrupts off - while user code runs on every hart at
 * once. Tickets make it fair: harts get it in the order they asked, so no
 * hart's trap waits behind a stream of others.
 *
 * Portable C over the compiler's atomics (the host tests hammer it with
 * threads); `holder` is for assertions and the panic path, not for the
 * protocol. */
#ifndef NEWSYS_CORE_KLOCK_H
#define NEWSYS_CORE_KLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define KLOCK_NOBODY (-1)

struct klock {
    uint32_t next;      /* the ticket the next asker draws */
    uint32_t owner;     /* the ticket now served */
    int holder;         /* who holds it (a hart index), KLOCK_NOBODY */
    uint64_t contended; /* acquisitions that had to wait */
};

#define KLOCK_INIT                                                                                 \
    {                                                                                              \
        0, 0, KLOCK_NOBODY, 0                                                                      \
    }

/* Out of line: the wait for a ticket not yet served. */
void klock_wait(struct klock *l, uint32_t ticket);

static inline void klock_acquire(struct klock *l, int who)
{
    uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
        klock_wait(l, ticket);
    l->holder = who;
}

static inline void klock_release(struct klock *l, int who)
{
    (void)who;
    l->holder = KLOCK_NOBODY;
    /* Only the holder writes owner: a plain increment, published with
     * release order so everything done under the lock is seen first. */
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

/* false (and nothing taken) if someone holds it now. */
bool klock_try_acquire(struct klock *l, int who);
bool klock_held_by(const struct klock *l, int who);

#endif
