/* Shutdown and panic.
 *
 * On QEMU the sifive,test finisher ends the emulator with an exit status we
 * choose (PASS, or FAIL with a code), which is how scripts/run and the tests
 * learn why the kernel stopped. Without it we ask SBI SRST for a shutdown
 * (reason "system failure" when it is one), then a reboot (QEMU's sifive_u
 * has only a reset line, and tests run it with -no-reboot), and if
 * everything is refused we park the hart with interrupts off. */
#include <stdarg.h>

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/trap.h"
#include "kernel/boot/panic.h"
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"
#include "sbi/sbi.h"

#define FINISHER_FAIL 0x3333
#define FINISHER_PASS 0x5555

static volatile uint32_t *finisher;
static int panicking;

void power_init(const struct platform *p, unsigned long finisher_va)
{
    if (p->test_finisher.present)
        finisher = (volatile uint32_t *)finisher_va;
}

static void halt(void)
{
    csr_clear(sstatus, SSTATUS_SIE);
    for (;;)
        asm volatile("wfi");
}

_Noreturn void machine_shutdown(enum shutdown_reason reason)
{
    static const unsigned status[] = {EXIT_STATUS_OK, EXIT_STATUS_FAILURE, EXIT_STATUS_PANIC};
    unsigned code = status[reason];
    csr_clear(sstatus, SSTATUS_SIE);
    kprintf("NewSys: shutdown (%s, exit status %u)\n",
            reason == SHUTDOWN_OK      ? "ok"
            : reason == SHUTDOWN_PANIC ? "panic"
                                       : "failure",
            code);
    if (finisher)
        *finisher = code ? (code << 16) | FINISHER_FAIL : FINISHER_PASS;
    sbi_system_reset(SBI_RESET_SHUTDOWN, code ? SBI_REASON_FAILURE : SBI_REASON_NONE);
    sbi_system_reset(SBI_RESET_COLD, code ? SBI_REASON_FAILURE : SBI_REASON_NONE);
    kprintf("NewSys: firmware refused to power off; halting\n");
    halt();
    __builtin_unreachable();
}

void backtrace_from(unsigned long fp)
{
    struct hart *h = hart_self();
    /* Frames are only followed while they stay inside the current kernel
     * stack and move upwards, so a corrupt chain ends the walk instead of
     * faulting inside the panic. */
    for (int depth = 0; depth < 32; depth++) {
        if (fp & 7 || fp - 16 < h->stack_limit || fp > h->stack_top)
            break;
        unsigned long ra = ((unsigned long *)fp)[-1];
        unsigned long next = ((unsigned long *)fp)[-2];
        kprintf("  bt #%d: %016lx\n", depth, ra);
        if (next <= fp)
            break;
        fp = next;
    }
}

_Noreturn void panic(const char *fmt, ...)
{
    csr_clear(sstatus, SSTATUS_SIE);
    if (panicking++)
        halt();
    va_list ap;
    va_start(ap, fmt);
    kprintf("\nPANIC: ");
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    backtrace_from((unsigned long)__builtin_frame_address(0));
    machine_shutdown(SHUTDOWN_PANIC);
}

_Noreturn void panic_trap(const struct trap_frame *tf, const char *what)
{
    csr_clear(sstatus, SSTATUS_SIE);
    if (panicking++)
        halt();
    static const char *const regname[32] = {"zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2",
                                            "s0",   "s1", "a0",  "a1",  "a2", "a3", "a4", "a5",
                                            "a6",   "a7", "s2",  "s3",  "s4", "s5", "s6", "s7",
                                            "s8",   "s9", "s10", "s11", "t3", "t4", "t5", "t6"};
    kprintf("\nPANIC: %s: %s\n", what, trap_cause_name(tf->scause));
    kprintf("  scause %016lx sepc %016lx stval %016lx sstatus %016lx\n", tf->scause, tf->sepc,
            tf->stval, tf->sstatus);
    for (int i = 1; i < 32; i++)
        kprintf("  %-4s %016lx%s", regname[i], tf->regs[i], i % 4 == 3 ? "\n" : "");
    kprintf("\n  bt #-: %016lx (sepc)\n", tf->sepc);
    backtrace_from(tf->regs[REG_S0]);
    machine_shutdown(SHUTDOWN_PANIC);
}
