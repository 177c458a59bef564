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
#include "include/newsys/ipc.h"
#include "kernel/core/ipc.h"
#include "kernel/core/sched.h"
#include "kernel/core/syscall.h"
#include "kernel/core/thread.h"
#include "memobj/memobj.h"

/* A fault the kernel does not resolve goes to the thread's fault handler
 * as a message (ipc.c). With no handler the thread stops and the event is
 * logged; the rest of the system goes on. */
static uint64_t fault_kind(unsigned long scause)
{
    switch (scause) {
    case EXC_LOAD_PAGE_FAULT:
        return NS_FAULT_READ;
    case EXC_STORE_PAGE_FAULT:
        return NS_FAULT_WRITE;
    case EXC_INST_PAGE_FAULT:
        return NS_FAULT_EXEC;
    case EXC_ILLEGAL_INST:
        return NS_FAULT_ILLEGAL;
    case EXC_INST_MISALIGNED:
    case EXC_LOAD_MISALIGNED:
    case EXC_STORE_MISALIGNED:
        return NS_FAULT_MISALIGNED;
    case EXC_BREAKPOINT:
        return NS_FAULT_BREAKPOINT;
    default:
        return NS_FAULT_ACCESS;
    }
}

static void thread_fault(struct hart *h, struct thread *t, unsigned long scause,
                         unsigned long stval)
{
    if (ipc_deliver_fault(h, t, fault_kind(scause), stval, scause))
        return;
    kprintf("thread %s: %s at pc %#lx, address %#lx, no fault handler\n", t->name,
            trap_cause_name(scause), t->ctx.sepc, stval);
    thread_stop(t, "unhandled fault");
}

_Noreturn void user_trap(struct user_context *ctx, unsigned long scause, unsigned long stval)
{
    struct hart *h = ctx->hart;
    struct thread *t = thread_of_ctx(ctx);
    bool smp = sched_smp;
    if (smp) {
        /* Still from here on: another hart may now change t (sched_still). */
        __atomic_store_n(&h->user_thread, NULL, __ATOMIC_RELEASE);
        kernel_lock_smp(h);
    }

    if (scause & SCAUSE_INTERRUPT) {
        switch (scause & ~SCAUSE_INTERRUPT) {
        case IRQ_S_TIMER:
            timer_interrupt(h);
            break;
        case IRQ_S_EXT:
            plic_dispatch(h);
            break;
        case IRQ_S_SOFT: /* another hart: look at the run queue */
            csr_clear(sip, SIE_SSIE);
            break;
        default:
            break;
        }
    } else if (smp && (sched_of(h)->current != t || !thread_can_run(t))) {
        /* Suspended, stopped or destroyed from another hart while it ran
         * or waited for the lock: the exception is not handled (a system
         * call is taken again when the thread resumes - sepc did not move
         * on). Its address or capability space may have gone meanwhile,
         * too: then it stops here, before anything follows its pointers. */
        if (sched_of(h)->current == t)
            thread_stop(t, "its address space or capability space is gone");
    } else {
        switch (scause) {
        case EXC_ECALL_U:
            ctx->sepc += 4;
            if (ctx->regs[17] == NS_SYS_CALL)
                ipc_fastpath_call(h, t);
            else if (ctx->regs[17] == NS_SYS_REPLY_RECV)
                ipc_fastpath_reply_recv(h, t);
            syscall_dispatch(h, t);
            break;
        case EXC_ILLEGAL_INST:
            if (fpu_trap(h, t))
                break;
            thread_fault(h, t, scause, stval);
            break;
        case EXC_LOAD_PAGE_FAULT:
        case EXC_STORE_PAGE_FAULT:
        case EXC_INST_PAGE_FAULT: {
            /* Memory objects first: a mapped page may just not be here yet. */
            enum fault_access acc = scause == EXC_LOAD_PAGE_FAULT    ? ACCESS_READ
                                    : scause == EXC_STORE_PAGE_FAULT ? ACCESS_WRITE
                                                                     : ACCESS_EXEC;
            uint64_t aux = 0;
            int kind = memobj_fault(h, t, stval, acc, &aux);
            if (kind < 0)
                thread_fault(h, t, scause, stval);
            else if (kind > 0)
                ipc_fault_or_stop(h, t, (uint64_t)kind, stval, aux);
            break;
        }
        default:
            thread_fault(h, t, scause, stval);
            break;
        }
    }
    sched_run(h);
}
