/* Trap dispatch for traps taken in the kernel: interrupts go to the timer
 * and the PLIC, exceptions with an exception-table fixup resume there, and
 * anything else is a broken kernel invariant and panics. (Traps from user
 * mode arrive with the user runtime, in the core issue.) */
#include "kernel/arch/riscv/trap.h"

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/boot/panic.h"
#include "kernel/core/aspace.h"
#include "kernel/core/sched.h"
#include "memobj/memobj.h"

extern const struct extable_entry __ex_table_start[], __ex_table_end[];

static const char *const exception_names[] = {
    [EXC_INST_MISALIGNED] = "instruction address misaligned",
    [EXC_INST_ACCESS] = "instruction access fault",
    [EXC_ILLEGAL_INST] = "illegal instruction",
    [EXC_BREAKPOINT] = "breakpoint",
    [EXC_LOAD_MISALIGNED] = "load address misaligned",
    [EXC_LOAD_ACCESS] = "load access fault",
    [EXC_STORE_MISALIGNED] = "store/AMO address misaligned",
    [EXC_STORE_ACCESS] = "store/AMO access fault",
    [EXC_ECALL_U] = "environment call from U-mode",
    [EXC_ECALL_S] = "environment call from S-mode",
    [EXC_INST_PAGE_FAULT] = "instruction page fault",
    [EXC_LOAD_PAGE_FAULT] = "load page fault",
    [EXC_STORE_PAGE_FAULT] = "store/AMO page fault",
};

const char *trap_cause_name(unsigned long scause)
{
    unsigned long code = scause & ~SCAUSE_INTERRUPT;
    if (scause & SCAUSE_INTERRUPT) {
        switch (code) {
        case IRQ_S_SOFT:
            return "supervisor software interrupt";
        case IRQ_S_TIMER:
            return "supervisor timer interrupt";
        case IRQ_S_EXT:
            return "supervisor external interrupt";
        default:
            return "unknown interrupt";
        }
    }
    if (code < sizeof(exception_names) / sizeof(exception_names[0]) && exception_names[code])
        return exception_names[code];
    return "unknown exception";
}

static unsigned long extable_fixup(unsigned long pc)
{
    for (const struct extable_entry *e = __ex_table_start; e < __ex_table_end; e++)
        if (e->insn == pc)
            return e->fixup;
    return 0;
}

/* A copy to or from user memory faulted. On hardware that faults rather
 * than set a PTE's accessed or dirty bit (pte.h), a page the clock has
 * aged does so on the kernel's access as on the program's: set the bit
 * and run the access again instead of failing the system call. So too for
 * a page its memory object has but this space has not mapped yet, or maps
 * read-only to see the first store (a clean disk-backed page). */
static bool user_access_retry(struct hart *h, const struct trap_frame *tf)
{
    bool write;
    switch (tf->scause) {
    case EXC_LOAD_PAGE_FAULT:
        write = false;
        break;
    case EXC_STORE_PAGE_FAULT:
        write = true;
        break;
    default:
        return false;
    }
    struct thread *t = h->sched ? h->sched->current : NULL;
    return t && (aspace_fix_ad(t->as, tf->stval, write) ||
                 memobj_fault_resident(t->as, tf->stval, write ? ACCESS_WRITE : ACCESS_READ));
}

void trap_init(void)
{
    extern char trap_entry[];
    csr_write(stvec, (unsigned long)trap_entry);
}

void trap_handler(struct trap_frame *tf)
{
    struct hart *h = hart_self();

    if (tf->scause & SCAUSE_INTERRUPT) {
        switch (tf->scause & ~SCAUSE_INTERRUPT) {
        case IRQ_S_TIMER:
            timer_interrupt(h);
            return;
        case IRQ_S_EXT:
            plic_dispatch(h);
            return;
        case IRQ_S_SOFT: /* another hart: the idle loop looks at its queue */
            csr_clear(sip, SIE_SSIE);
            return;
        default:
            panic_trap(tf, "unexpected interrupt");
        }
    }

    unsigned long fixup = extable_fixup(tf->sepc);
    if (fixup && user_access_retry(h, tf))
        return;
    if (fixup) {
        tf->sepc = fixup;
        return;
    }
    if (tf->regs[REG_SP] < h->stack_limit)
        panic_trap(tf, "kernel stack overflow");
    panic_trap(tf, "unexpected kernel trap");
}
