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
    t->q_next = NULL;
    t->q_prev = s->tail[p];
    if (s->tail[p])
        s->tail[p]->q_next = t;
    else
        s->head[p] = t;
    s->tail[p] = t;
    s->ready_bits[p / 64] |= 1ull << (p % 64);
}

static void q_remove(struct sched *s, struct thread *t)
{
    unsigned p = t->prio;
    if (t->q_prev)
        t->q_prev->q_next = t->q_next;
    else
        s->head[p] = t->q_next;
    if (t->q_next)
        t->q_next->q_prev = t->q_prev;
    else
        s->tail[p] = t->q_prev;
    t->q_next = t->q_prev = NULL;
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
    if (t->state == THREAD_RUNNABLE)
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

static int highest_ready(const struct sched *s)
{
    for (int w = THREAD_PRIO_COUNT / 64 - 1; w >= 0; w--)
        if (s->ready_bits[w])
            return w * 64 + 63 - __builtin_clzll(s->ready_bits[w]);
    return -1;
}

/* Decide who runs: the current thread keeps the hart unless its slice ran
 * out or someone of higher priority is ready; an expired thread goes to the
 * back of its priority. */
static struct thread *pick(struct sched *s)
{
    struct thread *cur = s->current;
    int best = highest_ready(s);
    if (cur && cur->state == THREAD_RUNNING) {
        if (best < cur->prio || (best == cur->prio && cur->slice))
            return cur;
        cur->slice = THREAD_SLICE_TICKS;
        sched_ready(s, cur);
        best = highest_ready(s);
    }
    if (best < 0)
        return NULL;
    struct thread *t = s->head[best];
    q_remove(s, t);
    return t;
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
        if (t) {
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
