/* Per-hart state. `tp` holds a pointer to the running hart's `struct hart`
 * whenever the hart is in the kernel; code that needs per-hart state gets it
 * passed explicitly or through hart_self(). The first fields are used by the
 * trap entry code, so their offsets are shared with assembly. */
#ifndef NEWSYS_ARCH_RISCV_HART_H
#define NEWSYS_ARCH_RISCV_HART_H

#define HART_OFF_SCRATCH0     0
#define HART_OFF_SCRATCH1     8
#define HART_OFF_STACK_LIMIT  16
#define HART_OFF_EMERGENCY_SP 24
#define HART_OFF_KSTACK_TOP   32

#define EMERGENCY_STACK_SIZE 8192

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

struct sched;
struct thread;

struct hart {
    unsigned long scratch[2];   /* trap entry's spill slots */
    unsigned long stack_limit;  /* lowest valid address of the current kernel stack */
    unsigned long emergency_sp; /* top of the stack used when that one overflows */
    unsigned long kstack_top;   /* the hart's kernel stack; every user trap starts here */
    unsigned long stack_top;    /* for backtraces: highest address of the current stack */
    uint64_t hartid;
    unsigned index; /* position in the platform's hart table */
    int plic_context;
    uint64_t ticks;
    uint64_t next_tick;
    struct sched *sched;      /* this hart's run queues */
    struct thread *fpu_owner; /* whose state the FP registers hold */
    /* The thread in user mode here, or NULL: set before the kernel lock
     * is let go on the way out, cleared before it is taken on the way in,
     * so another hart can wait for it to be still (docs/smp.md). */
    struct thread *user_thread;
    unsigned threads;   /* threads whose home this hart is */
    uint64_t satp_root; /* the page-table root in satp (aspace.c) */
    uint64_t age_seen;  /* the last ageing flush done here (tlb_tick) */
};

_Static_assert(offsetof(struct hart, scratch) == HART_OFF_SCRATCH0, "trap entry layout");
_Static_assert(offsetof(struct hart, scratch) + 8 == HART_OFF_SCRATCH1, "trap entry layout");
_Static_assert(offsetof(struct hart, stack_limit) == HART_OFF_STACK_LIMIT, "trap entry layout");
_Static_assert(offsetof(struct hart, emergency_sp) == HART_OFF_EMERGENCY_SP, "trap entry layout");
_Static_assert(offsetof(struct hart, kstack_top) == HART_OFF_KSTACK_TOP, "trap entry layout");

static inline struct hart *hart_self(void)
{
    struct hart *h;
    asm("mv %0, tp" : "=r"(h));
    return h;
}
#endif

#endif
