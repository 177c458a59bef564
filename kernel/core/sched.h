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
    uint64_t ready_words; /* bit w: ready_bits[w] != 0 */
    struct thread *sleepers; /* sorted by wake_time */
    struct thread *handoff;  /* runnable, not queued: runs next if it can (sched_wake) */
    uint64_t switches, idle_entries;
    uint64_t idle_instret; /* instructions counted while waiting in wfi (icount: the wait) */
};

void sched_init(struct sched *s);
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
