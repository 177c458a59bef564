/* The scheduler: preemptive, fixed priorities (0..255, higher runs first),
 * round-robin within a priority on timer ticks. Each hart has its own run
 * queues and sleep queue (passed explicitly as struct sched). The kernel is
 * not preemptible: a system call or trap runs to completion with interrupts
 * off, then sched_run() picks who returns to user mode. */
#ifndef NEWSYS_CORE_SCHED_H
#define NEWSYS_CORE_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/core/thread.h"

struct hart;

struct sched {
    struct thread *current;
    struct thread *head[THREAD_PRIO_COUNT], *tail[THREAD_PRIO_COUNT];
    uint64_t ready_bits[THREAD_PRIO_COUNT / 64];
    uint64_t ready_words;    /* bit w: ready_bits[w] != 0 */
    struct thread *sleepers; /* sorted by wake_time */
    struct thread *handoff;  /* runnable, not queued: runs next if it can (sched_wake) */
    uint64_t switches, idle_entries;
    uint64_t placed;       /* threads given this hart as home */
    uint64_t stolen;       /* threads this hart took from a busy one when idle */
    uint64_t idle_instret; /* instructions counted while waiting in wfi (icount: the wait) */
};

void sched_init(struct sched *s);

/* The kernel lock (docs/smp.md): taken on every way into the kernel, let
 * go on every way out - once a second hart schedules threads; until then
 * (and on a machine of one hart) nobody could contend, and the two
 * atomics are left out of every system call and fault. */
extern bool sched_smp;
void kernel_lock_smp(struct hart *h);
void kernel_unlock_smp(struct hart *h);

static inline void kernel_lock(struct hart *h)
{
    if (sched_smp)
        kernel_lock_smp(h);
}

static inline void kernel_unlock(struct hart *h)
{
    if (sched_smp)
        kernel_unlock_smp(h);
}

/* The boot hart, holding nothing yet, lets the others schedule: from now
 * on everyone takes the lock (the caller has it when this returns). */
void sched_go_smp(struct hart *boot);

/* Give a thread that is about to start a home hart: the online hart with
 * the fewest threads (the boot hart on a tie). */
void sched_place(struct thread *t);
/* Make `h` the home of `t`, which has none yet. */
void sched_set_home(struct thread *t, struct hart *h);
/* The run queues a thread belongs to: its home's. */
struct sched *sched_home(struct thread *t);
/* Make `t` runnable on its home, and tell that hart if it is another. */
void sched_make_runnable(struct thread *t);
/* If `t` runs in user mode on another hart, have it trap and wait until
 * it has: then its registers are in its context and it waits for the
 * kernel lock, so `t` may be changed (suspended, stopped, destroyed). */
void sched_still(struct thread *t);
/* Balancing. A hart about to idle takes a queued thread from a hart that
 * is busy: the most urgent one that is not pinned and whose FP state is
 * not live in its hart's registers (lazy FP: a thread that used FP since
 * it last ran stays). It becomes the thread's home. A thread made runnable
 * on a busy home kicks an idle hart to come and take it. */
/* `h` should look at its run queue (an IPI if it is another hart). */
void sched_kick(struct hart *h);
/* One console line: per hart, threads placed there and switches made. */
void sched_report(void);
struct sched *sched_of(struct hart *h);
/* The hart running this code, for paths that are not handed one (object
 * destroy hooks). Out of line so portable code needs no arch header. */
struct hart *sched_this_hart(void);

/* Make `t` runnable at the tail of its priority. */
void sched_ready(struct sched *s, struct thread *t);
/* Make `t` runnable, to run next if nothing more urgent is ready (an IPC
 * partner: see pick() in sched.c). */
void sched_wake(struct sched *s, struct thread *t);
/* Take `t` off whatever scheduler queue it is on. */
void sched_unready(struct sched *s, struct thread *t);
/* The current thread gives up the rest of its slice. */
void sched_yield(struct sched *s);
/* Put the current thread to sleep until the absolute time `until`. */
void sched_sleep(struct sched *s, struct thread *t, uint64_t until);
/* Timer tick: wake sleepers whose time has come, charge the slice. */
void sched_tick(struct sched *s, uint64_t now);

/* Leave the kernel: run the best runnable thread, or idle until there is
 * one. Never returns. */
_Noreturn void sched_run(struct hart *h);

/* Run `t` now (it must be able to run and be on no queue): the IPC fast
 * path's direct switch. Never returns. */
_Noreturn void sched_switch_to(struct hart *h, struct thread *t);
/* Is a thread of priority above `prio` ready? */
bool sched_ready_above(struct sched *s, unsigned prio);

#endif
