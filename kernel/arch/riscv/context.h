/* User register context: where the trap entry saves a user thread's
 * registers and from where user_return() restores them. It lives inside the
 * thread object; while the thread runs in user mode, sscratch points at it
 * (and is zero whenever the hart is in the kernel, which is how the trap
 * entry tells the two cases apart). Layout shared with trap_entry.S. */
#ifndef NEWSYS_ARCH_RISCV_CONTEXT_H
#define NEWSYS_ARCH_RISCV_CONTEXT_H

#define CTX_REGS    0 /* x0..x31, slot 0 unused */
#define CTX_SEPC    (32 * 8)
#define CTX_SSTATUS (33 * 8)
#define CTX_HART    (34 * 8)
#define CTX_SIZE    (35 * 8)

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

struct hart;

struct user_context {
    unsigned long regs[32];
    unsigned long sepc;
    unsigned long sstatus;
    struct hart *hart; /* set when the thread is switched in */
};

/* F/D state, saved lazily (see fpu.c). */
struct fpu_context {
    uint64_t f[32];
    uint32_t fcsr;
};

_Static_assert(offsetof(struct user_context, sepc) == CTX_SEPC, "context layout");
_Static_assert(offsetof(struct user_context, sstatus) == CTX_SSTATUS, "context layout");
_Static_assert(offsetof(struct user_context, hart) == CTX_HART, "context layout");
_Static_assert(sizeof(struct user_context) == CTX_SIZE, "context layout");

/* Restore `ctx` and enter user mode; never returns. Interrupts must be off. */
_Noreturn void user_return(struct user_context *ctx);

void fpu_save(struct fpu_context *f);
void fpu_restore(const struct fpu_context *f);

/* Called by the trap entry for every trap from user mode, on the hart's
 * kernel stack; never returns (it ends in user_return). */
_Noreturn void user_trap(struct user_context *ctx, unsigned long scause, unsigned long stval);

enum {
    REG_RA_ = 1,
    REG_SP_ = 2,
    REG_A0_ = 10,
    REG_A1_ = 11,
    REG_A2_ = 12,
    REG_A3_ = 13,
    REG_A4_ = 14,
    REG_A5_ = 15,
    REG_A6_ = 16,
    REG_A7_ = 17
};
#endif

#endif
