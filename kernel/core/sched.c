/* Scheduler (see sched.h). Run queues are doubly linked lists per priority
 * with a bitmap of non-empty priorities, so picking the next thread is a
 * few bit scans. */
#include "kernel/core/sched.h"

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/fpu.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/boot/panic.h"
#include "kernel/core/aspace.h"
#include "kernel/core/waitq.h"

void sched_init(struct sched *s)
{
    *s = (struct sched){0};
}

struct sched *sched_of(struct hart *h)
{
    return h->sched;
}

struct hart *sched_this_hart(void)
{
    return hart_self();
}

static void q_append(struct sched *s, struct thread *t)
{
    unsigned p = t->prio;
    waitq_push(&s->head[p], &s->tail[p], t);
    s->ready_bits[p / 64] |= 1ull << (p % 64);
}

static void q_remove(struct sched *s, struct thread *t)
{
    unsigned p = t->prio;
    waitq_remove(&s->head[p], &s->tail[p], t);
    if (!s->head[p])
        s->ready_bits[p / 64] &= ~(1ull << (p % 64));
}

void sched_ready(struct sched *s, struct thread *t)
{
    t->state = THREAD_RUNNABLE;
    q_append(s, t);
}

static void sleep_remove(struct sched *s, struct thread *t)
{
    for (struct thread **pp = &s->sleepers; *pp; pp = &(*pp)->q_next)
        if (*pp == t) {
            *pp = t->q_next;
            t->q_next = NULL;
            return;
        }
}

void sched_unready(struct sched *s, struct thread *t)
{
    if (s->handoff == t)
        s->handoff = NULL;
    else if (t->state == THREAD_RUNNABLE)
        q_remove(s, t);
    else if (t->state == THREAD_SLEEPING)
        sleep_remove(s, t);
    if (s->current == t)
        s->current = NULL;
}

void sched_yield(struct sched *s)
{
    if (s->current)
        s->current->slice = 0;
}

void sched_sleep(struct sched *s, struct thread *t, uint64_t until)
{
    if (s->current == t)
        s->current = NULL;
    t->state = THREAD_SLEEPING;
    t->wake_time = until;
    struct thread **pp = &s->sleepers;
    while (*pp && (*pp)->wake_time <= until)
        pp = &(*pp)->q_next;
    t->q_next = *pp;
    *pp = t;
}

void sched_tick(struct sched *s, uint64_t now)
{
    while (s->sleepers && s->sleepers->wake_time <= now) {
        struct thread *t = s->sleepers;
        s->sleepers = t->q_next;
        sched_ready(s, t);
    }
    if (s->current && s->current->slice)
        s->current->slice--;
}

/* Index of the highest set bit (x != 0). RV64GC has no clz instruction
 * and libgcc's is a loop; this is six steps. */
static unsigned msb64(uint64_t x)
{
    unsigned n = 0;
    for (unsigned shift = 32; shift; shift >>= 1)
        if (x >> shift) {
            x >>= shift;
            n += shift;
        }
    return n;
}

static int highest_ready(const struct sched *s)
{
    for (int w = THREAD_PRIO_COUNT / 64 - 1; w >= 0; w--)
        if (s->ready_bits[w])
            return w * 64 + (int)msb64(s->ready_bits[w]);
    return -1;
}

/* Is a thread of priority above `prio` (or equal, if `or_equal`) ready?
 * The common question, answered without finding which. */
static bool ready_above(const struct sched *s, unsigned prio, bool or_equal)
{
    unsigned w = prio / 64, b = prio % 64;
    uint64_t mask = or_equal ? ~0ull << b : (b == 63 ? 0 : ~0ull << (b + 1));
    if (s->ready_bits[w] & mask)
        return true;
    for (unsigned i = w + 1; i < THREAD_PRIO_COUNT / 64; i++)
        if (s->ready_bits[i])
            return true;
    return false;
}

void sched_wake(struct sched *s, struct thread *t)
{
    if (s->handoff)
        sched_ready(s, s->handoff);
    t->state = THREAD_RUNNABLE;
    s->handoff = t;
}

/* Decide who runs. The current thread keeps the hart unless its slice ran
 * out or someone of higher priority is ready (an expired thread goes to the
 * back of its priority). A thread just woken by IPC (the handoff) runs next
 * without a trip through the run queue when the waker blocked and nobody
 * more urgent is ready - the usual case of a call or a reply - or when it
 * outranks the waker. */
static struct thread *pick(struct sched *s)
{
    struct thread *cur = s->current, *hand = s->handoff;
    s->handoff = NULL;
    if (cur && cur->state == THREAD_RUNNING) {
        if (hand) {
            if (hand->prio > cur->prio && !ready_above(s, hand->prio, false)) {
                sched_ready(s, cur);
                return hand;
            }
            sched_ready(s, hand);
        }
        if (!ready_above(s, cur->prio, cur->slice == 0))
            return cur;
        cur->slice = THREAD_SLICE_TICKS;
        sched_ready(s, cur);
    } else if (hand) {
        if (!ready_above(s, hand->prio, false))
            return hand;
        sched_ready(s, hand);
    }
    int best = highest_ready(s);
    if (best < 0)
        return NULL;
    struct thread *t = s->head[best];
    q_remove(s, t);
    return t;
}

static inline __attribute__((always_inline, noreturn)) void
switch_to(struct hart *h, struct sched *s, struct thread *t)
{
    if (t != s->current) {
        s->switches++;
        s->current = t;
        aspace_activate(t->as);
    }
    t->state = THREAD_RUNNING;
    if (!t->slice)
        t->slice = THREAD_SLICE_TICKS;
    t->ctx.hart = h;
    fpu_switch_in(h, t);
    user_return(&t->ctx);
}

_Noreturn void sched_switch_to(struct hart *h, struct thread *t)
{
    switch_to(h, sched_of(h), t);
}

bool sched_ready_above(struct sched *s, unsigned prio)
{
    return ready_above(s, prio, false);
}

_Noreturn void sched_run(struct hart *h)
{
    struct sched *s = sched_of(h);
    for (;;) {
        irq_disable_local();
        struct thread *t = pick(s);
        if (t && !thread_can_run(t)) {
            /* Its address or capability space was destroyed or revoked. */
            s->current = NULL;
            thread_stop(t, "its address space or capability space is gone");
            continue;
        }
        if (t)
            switch_to(h, s, t);
        /* Nothing to run. wfi with interrupts masked still wakes on a
         * pending one, so no wake-up is lost between the check above and
         * the wait; unmasking then lets the handler (timer, PLIC) run and
         * make threads runnable before we pick again. */
        s->current = NULL;
        s->idle_entries++;
        asm volatile("wfi");
        irq_enable_local();
    }
}
