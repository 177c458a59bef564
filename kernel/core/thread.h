/* Threads: a user register context plus what the kernel needs to schedule
 * it. The kernel has one stack per hart, not per thread: a thread that
 * blocks is only a state and a queue position, and resumes in user mode
 * (through user_return) when woken - the kernel never sleeps mid-call. */
#ifndef NEWSYS_CORE_THREAD_H
#define NEWSYS_CORE_THREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "include/newsys/errors.h"
#include "include/newsys/syscall.h"
#include "kernel/arch/riscv/context.h"
#include "kernel/core/cap.h"
#include "kernel/core/kobj.h"

struct aspace;
struct cspace_obj;

/* The states are the ABI's (NS_SYS_THREAD_INFO reports them). */
enum thread_state {
    THREAD_INACTIVE = NS_THREAD_INACTIVE, /* created, not started */
    THREAD_RUNNABLE = NS_THREAD_RUNNABLE, /* on a run queue */
    THREAD_RUNNING = NS_THREAD_RUNNING,   /* current on some hart */
    THREAD_SLEEPING = NS_THREAD_SLEEPING, /* on a sleep queue until wake_time */
    THREAD_BLOCKED = NS_THREAD_BLOCKED,   /* waiting on an IPC object */
    THREAD_SUSPENDED = NS_THREAD_SUSPENDED,
    THREAD_STOPPED = NS_THREAD_STOPPED, /* faulted with no handler, or exited */
};

#define THREAD_PRIO_COUNT  256
#define THREAD_SLICE_TICKS 5

struct thread {
    struct kobj obj;
    struct user_context ctx;
    struct fpu_context fpu;
    bool fpu_valid; /* fpu holds this thread's state (else: zeroes) */
    uint8_t prio;
    uint8_t state;
    uint8_t slice;
    struct thread *q_next, *q_prev; /* run queue or wait queue */
    uint64_t wake_time;             /* THREAD_SLEEPING: absolute timer value */
    /* The spaces the thread runs in, held as capabilities of the thread's
     * own (derived from the ones given at creation), so they stay alive
     * while the thread uses them and a revoke or bank destruction that
     * takes them away is seen (thread_can_run). */
    struct cap_slot as_cap, cs_cap;
    struct aspace *as;
    struct cspace_obj *cs;
    struct hart *home; /* whose run queue it is on: from its start; the balancer may move it */
    bool pinned;       /* its hart was chosen (NS_SYS_THREAD_SET_HART): it never moves */
    char name[16];

    /* IPC (ipc.c). A thread blocked in IPC sits on one endpoint's or
     * notification's queue through q_next/q_prev. Its outgoing message is
     * kept here (info, words 0..3) so a kernel-made message - a fault - and
     * a user's look the same to the transfer code. */
    uint8_t ipc_op;       /* enum ipc_op */
    bool ipc_grant;       /* the sending capability had GRANT */
    bool ipc_fault;       /* ipc_msg is a fault message; the reply resumes or stops */
    uint8_t fault_access; /* IPC_PAGE_WAIT: enum fault_access of the access that faulted */
    void *ipc_obj;        /* endpoint or notification waited on */
    uint64_t ipc_badge;   /* badge of the capability used to send */
    uint64_t ipc_msg[1 + 4];
    uint64_t ipc_buffer;       /* user VA of the IPC buffer page, 0 if none */
    struct thread *reply_to;   /* the caller this thread owes a reply */
    uint32_t reply_gen;        /* ...while its generation still matches */
    struct thread *replier;    /* IPC_REPLY_WAIT: who owes us the reply */
    struct cap_slot fault_cap; /* fault handler endpoint, or empty */
    uint64_t fault_va;         /* IPC_PAGE_WAIT: the address that faulted */
    uint64_t fault_page;       /* IPC_PAGE_WAIT: the object page it waits for */
};

/* False if the thread's address space or capability space is gone. */
static inline bool thread_can_run(const struct thread *t)
{
    return t->as_cap.type == NS_CAP_ASPACE && !cap_slot_stale(&t->as_cap) &&
           t->cs_cap.type == NS_CAP_CSPACE && !cap_slot_stale(&t->cs_cap);
}
/* Stop a thread for good (it faulted with no handler, exited, or lost its
 * spaces), logging why. */
void thread_stop(struct thread *t, const char *why);

void thread_types_init(void);
enum ns_error sys_thread_create(struct thread *self, uint64_t bank, uint64_t dst, uint64_t cspace,
                                uint64_t aspace);
enum ns_error sys_thread_start(struct thread *self, uint64_t slot, uint64_t pc, uint64_t sp,
                               uint64_t a0);
enum ns_error sys_thread_suspend(struct thread *self, uint64_t slot);
enum ns_error sys_thread_resume(struct thread *self, uint64_t slot);
enum ns_error sys_thread_set_prio(struct thread *self, uint64_t slot, uint64_t prio);
enum ns_error sys_thread_set_regs(struct thread *self, uint64_t slot, uint64_t pc, uint64_t sp,
                                  uint64_t a0);
enum ns_error sys_thread_read_regs(struct thread *self, uint64_t slot, uint64_t uptr);
enum ns_error sys_thread_write_regs(struct thread *self, uint64_t slot, uint64_t uptr);
enum ns_error sys_thread_info(struct thread *self, uint64_t slot, uint64_t *state, uint64_t *prio,
                              uint64_t *hart);
/* The hart a thread not yet started will run on (docs/smp.md). */
enum ns_error sys_thread_set_hart(struct thread *self, uint64_t slot, uint64_t index);

static inline struct thread *thread_of_ctx(struct user_context *ctx)
{
    return (struct thread *)((char *)ctx - __builtin_offsetof(struct thread, ctx));
}

#endif
