/* Trap frames and the trap dispatcher. */
#ifndef NEWSYS_ARCH_RISCV_TRAP_H
#define NEWSYS_ARCH_RISCV_TRAP_H

#define TF_REGS    0 /* x0..x31; slot 0 is unused */
#define TF_SEPC    (32 * 8)
#define TF_SSTATUS (33 * 8)
#define TF_SCAUSE  (34 * 8)
#define TF_STVAL   (35 * 8)
#define TF_SIZE    (36 * 8)

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stddef.h>

struct trap_frame {
    unsigned long regs[32];
    unsigned long sepc, sstatus, scause, stval;
};

_Static_assert(offsetof(struct trap_frame, sepc) == TF_SEPC, "trap frame layout");
_Static_assert(offsetof(struct trap_frame, stval) == TF_STVAL, "trap frame layout");
_Static_assert(sizeof(struct trap_frame) == TF_SIZE, "trap frame layout");
_Static_assert(TF_SIZE % 16 == 0, "stack stays 16-byte aligned");

enum { REG_RA = 1, REG_SP = 2, REG_GP = 3, REG_TP = 4, REG_S0 = 8, REG_A0 = 10 };

void trap_init(void);
void trap_handler(struct trap_frame *tf);
const char *trap_cause_name(unsigned long scause);

/* Exception fixups: a faulting instruction listed in the __ex_table section
 * resumes at its fixup address instead of panicking. Used by the probes
 * below and, later, by the user-memory copy helpers. */
struct extable_entry {
    unsigned long insn, fixup;
};
bool arch_probe_write8(volatile void *addr, unsigned char val);
bool arch_probe_read8(const volatile void *addr, unsigned char *val);
#endif

#endif
