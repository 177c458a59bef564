/* Scheduler (see sched.h). Run queues are doubly linked lists per priority
 * with a bitmap of non-empty priorities, so picking the next thread is a
 * few bit scans. */
#include "kernel/core/sched.h"

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/fpu.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/boot/panic.h"
#include "kernel/console/console.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/arch/riscv/tlb.h"
#include "kernel/core/aspace.h"
#include "kernel/core/klock.h"
#include "kernel/core/waitq.h"
#include "sbi/sbi.h"

void sched_init(struct sched *s)
{
    *s = (struct sched){0};
}

static struct klock kernel_klock = KLOCK_INIT;
bool sched_smp;

void kernel_lock_smp(struct hart *h)
{
    klock_acquire(&kernel_klock, (int)h->index);
}

void kernel_unlock_smp(struct hart *h)
{
    klock_release(&kernel_klock, (int)h->index);
}

void sched_go_smp(struct hart *boot)
{
    if (smp_online() < 2)
        return;
    sched_smp = true;
    /* IPIs from now on mean "look at your queue" here too: without SSIE a
     * remote wake-up would wait for the next tick (and wfi for nothing). */
    csr_set(sie, SIE_SSIE);
    klock_acquire(&kernel_klock, (int)boot->index);
    smp_release();
}

void sched_place(struct thread *t)
{
    if (t->home)
        return;
    struct hart *best = NULL;
    for (unsigned i = 0; i < smp_online(); i++) {
        struct hart *h = smp_hart(i);
        if (h->sched && (!best || h->threads < best->threads))
            best = h;
    }
    sched_set_home(t, best ? best : hart_self());
}

void sched_set_home(struct thread *t, struct hart *h)
{
    t->home = h;
    h->threads++;
    sched_of(h)->placed++;
}

struct sched *sched_home(struct thread *t)
{
    return sched_of(t->home ? t->home : hart_self());
}

void sched_kick(struct hart *h)
{
    if (h != hart_self())
        sbi_send_ipi(1, h->hartid);
}

/* An idle hart other than `busy` and this one (which is about to pick
 * anyway), or NULL. */
static struct hart *idle_hart(const struct hart *busy)
{
    struct hart *self = hart_self();
    for (unsigned i = 0; i < smp_online(); i++) {
        struct hart *h = smp_hart(i);
        if (h != busy && h != self && h->sched && !h->sched->current && !h->sched->handoff)
            return h;
    }
    return NULL;
}

void sched_make_runnable(struct thread *t)
{
    struct sched *s = sched_home(t);
    sched_ready(s, t);
    /* Tell its hart when that is idle or runs something less urgent; else
     * it picks t when its thread blocks or its slice ends - or an idle hart
     * takes it, told now. (We hold the lock, so that hart is in user mode,
     * waiting for the lock - it picks again when it has it - or idle.) */
    if (!t->home)
        return;
    if (!s->current || s->current->prio < t->prio) {
        sched_kick(t->home);
    } else if (!t->pinned && smp_online() > 1) {
        struct hart *idle = idle_hart(t->home);
        if (idle)
            sched_kick(idle);
    }
}

static void q_remove(struct sched *s, struct thread *t);

static bool can_move(const struct hart *from, const struct thread *t)
{
    return !t->pinned && thread_can_run(t) && fpu_movable(from, t);
}

/* Nothing to run on `h`: the most urgent thread another, busy hart has
 * waiting that may move (sched.h), now h's - or NULL. */
static struct thread *steal(struct hart *h)
{
    struct thread *best = NULL;
    struct sched *from = NULL;
    for (unsigned i = 0; i < smp_online(); i++) {
        struct hart *o = smp_hart(i);
        struct sched *os = o->sched;
        if (o == h || !os || !os->current || !os->ready_words)
            continue;
        for (int p = THREAD_PRIO_COUNT - 1; p >= 0 && (!best || p > best->prio); p--) {
            if (!(os->ready_bits[p / 64] >> (p % 64) & 1))
                continue;
            struct thread *t = os->head[p];
            while (t && !can_move(o, t))
                t = t->q_next;
            if (t) {
                best = t;
                from = os;
                break;
            }
        }
    }
    if (!best)
        return NULL;
    q_remove(from, best);
    fpu_let_go(best->home, best);
    best->home->threads--;
    best->home = h;
    h->threads++;
    h->sched->stolen++;
    return best;
}

void sched_report(void)
{
    kprintf("sched:");
    for (unsigned i = 0; i < smp_online(); i++) {
        struct hart *h = smp_hart(i);
        if (h->sched)
            kprintf(" hart %lu: %lu threads placed, %lu taken, %lu switches;",
                    (unsigned long)h->hartid, (unsigned long)h->sched->placed,
                    (unsigned long)h->sched->stolen, (unsigned long)h->sched->switches);
    }
    kprintf(" lock waited %lu times (%lu parked); %lu remote TLB shootdowns\n",
            (unsigned long)kernel_klock.contended, (unsigned long)kernel_klock.parks,
            (unsigned long)tlb_remote_calls);
}

void sched_still(struct thread *t)
{
    struct hart *h = t->home;
    if (!h || h == hart_self() || __atomic_load_n(&h->user_thread, __ATOMIC_ACQUIRE) != t)
        return;
    sbi_send_ipi(1, h->hartid);
    /* It clears user_thread before it asks for the lock we hold. */
    while (__atomic_load_n(&h->user_thread, __ATOMIC_ACQUIRE) == t)
        ;
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
    s->ready_words |= 1ull << (p / 64);
}

static void q_remove(struct sched *s, struct thread *t)
{
    unsigned p = t->prio;
    waitq_remove(&s->head[p], &s->tail[p], t);
    if (!s->head[p]) {
        s->ready_bits[p / 64] &= ~(1ull << (p % 64));
        if (!s->ready_bits[p / 64])
            s->ready_words &= ~(1ull << (p / 64));
    }
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
    if (!s->ready_words)
        return -1;
    unsigned w = msb64(s->ready_words);
    return (int)(w * 64 + msb64(s->ready_bits[w]));
}

/* Is a thread of priority above `prio` (or equal, if `or_equal`) ready?
 * The common question, answered without finding which: asked at the end of
 * every system call. */
static inline bool ready_above(const struct sched *s, unsigned prio, bool or_equal)
{
    _Static_assert(THREAD_PRIO_COUNT / 64 < 64, "ready_words has a bit per word");
    unsigned w = prio / 64;
    uint64_t mask = ~0ull << (prio % 64);
    if (!or_equal)
        mask <<= 1;
    return (s->ready_bits[w] & mask) || (s->ready_words >> w >> 1);
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
 * back of its priority). A thread just woken by IPC or a page supply (the
 * handoff) runs next without a trip through the run queue when the waker
 * blocked and nobody more urgent is ready - the usual case of a call or a
 * reply - or when it outranks the waker; woken by a peer that goes on, it
 * waits as the handoff for the waker to block. */
static struct thread *pick(struct sched *s)
{
    struct thread *cur = s->current, *hand = s->handoff;
    if (cur && cur->state == THREAD_RUNNING) {
        if (hand && hand->prio >= cur->prio && !ready_above(s, hand->prio, false)) {
            if (hand->prio == cur->prio && cur->slice) {
                /* A peer woke it and goes on: it stays the handoff, to
                 * run as soon as the waker blocks (a manager's supply
                 * then its wait, a server's reply then its receive)
                 * without a trip through the run queue - or when the
                 * waker's slice ends. */
                return cur;
            }
            s->handoff = NULL;
            if (!cur->slice)
                cur->slice = THREAD_SLICE_TICKS;
            sched_ready(s, cur);
            return hand;
        }
        s->handoff = NULL;
        if (hand)
            sched_ready(s, hand);
        if (!ready_above(s, cur->prio, cur->slice == 0))
            return cur;
        cur->slice = THREAD_SLICE_TICKS;
        sched_ready(s, cur);
    } else if (hand) {
        s->handoff = NULL;
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
    if (sched_smp) {
        __atomic_store_n(&h->user_thread, t, __ATOMIC_RELEASE);
        kernel_unlock_smp(h);
    }
    user_return(&t->ctx);
}

_Noreturn void sched_switch_to(struct hart *h, struct thread *t)
{
    switch_to(h, sched_of(h), t);
}

bool sched_ready_above(struct sched *s, unsigned prio)
{
    /* A pending handoff (pick) is ready too, though not queued. */
    return ready_above(s, prio, false) || (s->handoff && s->handoff->prio > prio);
}

/* Picks and switches: every case but the fast one in sched_run. */
static _Noreturn __attribute__((noinline)) void sched_pick_and_run(struct hart *h, struct sched *s)
{
    for (;;) {
        irq_disable_local();
        struct thread *t = pick(s);
        if (t && !thread_can_run(t)) {
            /* Its address or capability space was destroyed or revoked. */
            s->current = NULL;
            thread_stop(t, "its address space or capability space is gone");
            continue;
        }
        if (!t && smp_online() > 1)
            t = steal(h);
        if (t)
            switch_to(h, s, t);
        /* Nothing to run. wfi with interrupts masked still wakes on a
         * pending one, so no wake-up is lost between the check above and
         * the wait; unmasking then lets the handler (timer, PLIC) run and
         * make threads runnable before we pick again. */
        s->current = NULL;
        s->idle_entries++;
        /* Off the last space's table while waiting: a dying space's root
         * page can go once no hart's satp names it (aspace.c). */
        aspace_idle(h);
        kernel_unlock(h);
        uint64_t before, after;
        asm volatile("rdinstret %0\n"
                     "wfi\n"
                     "rdinstret %1"
                     : "=r"(before), "=r"(after));
        kernel_lock(h);
        s->idle_instret += after - before;
        irq_enable_local();
    }
}

_Noreturn void sched_run(struct hart *h)
{
    struct sched *s = sched_of(h);
    /* The common end of a system call or a resolved fault: the thread that
     * trapped goes on, nobody was woken and nobody outranks it. switch_to
     * would change nothing (same space, state, slice and hart; the FPU
     * owner cannot change while a thread is in its own trap), so return
     * straight away. */
    struct thread *cur = s->current;
    if (cur && cur->state == THREAD_RUNNING && !s->handoff && cur->slice &&
        !ready_above(s, cur->prio, false)) {
        if (sched_smp) {
            __atomic_store_n(&h->user_thread, cur, __ATOMIC_RELEASE);
            kernel_unlock_smp(h);
        }
        user_return(&cur->ctx);
    }
    sched_pick_and_run(h, s);
}
