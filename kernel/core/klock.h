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

void klock_acquire(struct klock *l, int who);
/* false (and nothing taken) if someone holds it now. */
bool klock_try_acquire(struct klock *l, int who);
void klock_release(struct klock *l, int who);
bool klock_held_by(const struct klock *l, int who);

#endif
