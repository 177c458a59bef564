/* Traps from user mode: system calls, interrupts, first FP use, faults.
 * Whatever happened, the hart leaves through sched_run(), which returns to
 * the same thread or switches. */
#include "kernel/arch/riscv/context.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/fpu.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/trap.h"
#include "kernel/console/console.h"
#include "kernel/core/sched.h"
#include "kernel/core/syscall.h"
#include "kernel/core/thread.h"

/* A fault nobody resolves. Until fault handlers exist, the thread stops and
 * the event is logged; the rest of the system goes on. */
static void thread_fault(struct hart *h, struct thread *t, unsigned long scause,
                         unsigned long stval)
{
    kprintf("thread %s: %s at pc %#lx, address %#lx: stopped\n", t->name, trap_cause_name(scause),
            t->ctx.sepc, stval);
    sched_unready(sched_of(h), t);
    t->state = THREAD_STOPPED;
}

_Noreturn void user_trap(struct user_context *ctx, unsigned long scause, unsigned long stval)
{
    struct hart *h = ctx->hart;
    struct thread *t = thread_of_ctx(ctx);

    if (scause & SCAUSE_INTERRUPT) {
        switch (scause & ~SCAUSE_INTERRUPT) {
        case IRQ_S_TIMER:
            timer_interrupt(h);
            break;
        case IRQ_S_EXT:
            plic_dispatch(h);
            break;
        default:
            break;
        }
    } else {
        switch (scause) {
        case EXC_ECALL_U:
            ctx->sepc += 4;
            syscall_dispatch(h, t);
            break;
        case EXC_ILLEGAL_INST:
            if (fpu_trap(h, t))
                break;
            thread_fault(h, t, scause, stval);
            break;
        default:
            thread_fault(h, t, scause, stval);
            break;
        }
    }
    sched_run(h);
}
