/* Trap entry and exit.
 *
 * One vector for both worlds. sscratch is zero while the hart is in the
 * kernel and points at the running thread's struct user_context while it
 * is in user mode, so the first instruction swaps it with t6 and branches.
 *
 * From user mode: all registers go into the thread's context, sp becomes
 * the top of the hart's kernel stack (one stack per hart: the kernel never
 * sleeps on a stack, a blocked thread is just a state), and user_trap()
 * runs; it leaves through user_return() for whichever thread runs next.
 *
 * From the kernel: every register is saved in a struct trap_frame on the current kernel
 * stack, then trap_handler() runs. If the stack pointer would drop below the
 * current stack's limit (the guard page under every kernel stack), the frame
 * goes on the hart's emergency stack instead, so an overflow ends in a panic
 * that says so rather than a silent recursive fault. tp always points at the
 * hart's struct hart while in the kernel. */
#include "kernel/arch/riscv/context.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/trap.h"

#define SAVE(r, i)    sd r, (i * 8)(sp)
#define RESTORE(r, i) ld r, (i * 8)(sp)

    .text
    .balign 4
    .globl trap_entry
trap_entry:
    csrrw   t6, sscratch, t6
    bnez    t6, user_trap_entry
    csrrw   t6, sscratch, t6            /* kernel trap: put t6 back, sscratch = 0 */
    sd      t0, HART_OFF_SCRATCH0(tp)
    sd      sp, HART_OFF_SCRATCH1(tp)
    addi    sp, sp, -TF_SIZE
    ld      t0, HART_OFF_STACK_LIMIT(tp)
    bgeu    sp, t0, 1f
    ld      sp, HART_OFF_EMERGENCY_SP(tp)
    addi    sp, sp, -TF_SIZE
1:
    SAVE(ra, 1)
    SAVE(gp, 3)
    SAVE(tp, 4)
    SAVE(t1, 6)
    SAVE(t2, 7)
    SAVE(s0, 8)
    SAVE(s1, 9)
    SAVE(a0, 10)
    SAVE(a1, 11)
    SAVE(a2, 12)
    SAVE(a3, 13)
    SAVE(a4, 14)
    SAVE(a5, 15)
    SAVE(a6, 16)
    SAVE(a7, 17)
    SAVE(s2, 18)
    SAVE(s3, 19)
    SAVE(s4, 20)
    SAVE(s5, 21)
    SAVE(s6, 22)
    SAVE(s7, 23)
    SAVE(s8, 24)
    SAVE(s9, 25)
    SAVE(s10, 26)
    SAVE(s11, 27)
    SAVE(t3, 28)
    SAVE(t4, 29)
    SAVE(t5, 30)
    SAVE(t6, 31)
    ld      t0, HART_OFF_SCRATCH0(tp)
    SAVE(t0, 5)
    ld      t0, HART_OFF_SCRATCH1(tp)
    SAVE(t0, 2)
    csrr    t0, sepc
    sd      t0, TF_SEPC(sp)
    csrr    t0, sstatus
    sd      t0, TF_SSTATUS(sp)
    csrr    t0, scause
    sd      t0, TF_SCAUSE(sp)
    csrr    t0, stval
    sd      t0, TF_STVAL(sp)

    mv      a0, sp
    call    trap_handler

    ld      t0, TF_SEPC(sp)
    csrw    sepc, t0
    ld      t0, TF_SSTATUS(sp)
    csrw    sstatus, t0
    RESTORE(ra, 1)
    RESTORE(gp, 3)
    RESTORE(tp, 4)
    RESTORE(t0, 5)
    RESTORE(t1, 6)
    RESTORE(t2, 7)
    RESTORE(s0, 8)
    RESTORE(s1, 9)
    RESTORE(a0, 10)
    RESTORE(a1, 11)
    RESTORE(a2, 12)
    RESTORE(a3, 13)
    RESTORE(a4, 14)
    RESTORE(a5, 15)
    RESTORE(a6, 16)
    RESTORE(a7, 17)
    RESTORE(s2, 18)
    RESTORE(s3, 19)
    RESTORE(s4, 20)
    RESTORE(s5, 21)
    RESTORE(s6, 22)
    RESTORE(s7, 23)
    RESTORE(s8, 24)
    RESTORE(s9, 25)
    RESTORE(s10, 26)
    RESTORE(s11, 27)
    RESTORE(t3, 28)
    RESTORE(t4, 29)
    RESTORE(t5, 30)
    RESTORE(t6, 31)
    RESTORE(sp, 2)
    sret

#define USAVE(r, i)    sd r, (i * 8)(t6)
#define URESTORE(r, i) ld r, (i * 8)(t6)

user_trap_entry:
    USAVE(ra, 1)
    USAVE(sp, 2)
    USAVE(gp, 3)
    USAVE(tp, 4)
    USAVE(t0, 5)
    USAVE(t1, 6)
    USAVE(t2, 7)
    USAVE(s0, 8)
    USAVE(s1, 9)
    USAVE(a0, 10)
    USAVE(a1, 11)
    USAVE(a2, 12)
    USAVE(a3, 13)
    USAVE(a4, 14)
    USAVE(a5, 15)
    USAVE(a6, 16)
    USAVE(a7, 17)
    USAVE(s2, 18)
    USAVE(s3, 19)
    USAVE(s4, 20)
    USAVE(s5, 21)
    USAVE(s6, 22)
    USAVE(s7, 23)
    USAVE(s8, 24)
    USAVE(s9, 25)
    USAVE(s10, 26)
    USAVE(s11, 27)
    USAVE(t3, 28)
    USAVE(t4, 29)
    USAVE(t5, 30)
    csrrw   t5, sscratch, zero          /* user t6; sscratch = 0: now in the kernel */
    USAVE(t5, 31)
    csrr    t5, sepc
    sd      t5, CTX_SEPC(t6)
    csrr    t5, sstatus
    sd      t5, CTX_SSTATUS(t6)
    ld      tp, CTX_HART(t6)
    ld      sp, HART_OFF_KSTACK_TOP(tp)
    mv      s0, zero                    /* ends backtraces here */
    mv      a0, t6
    csrr    a1, scause
    csrr    a2, stval
    call    user_trap
1:  j       1b                          /* user_trap does not return */

/* _Noreturn void user_return(struct user_context *ctx) */
    .globl user_return
user_return:
    mv      t6, a0
    ld      t0, CTX_SEPC(t6)
    csrw    sepc, t0
    ld      t0, CTX_SSTATUS(t6)
    csrw    sstatus, t0
    csrw    sscratch, t6
    URESTORE(ra, 1)
    URESTORE(sp, 2)
    URESTORE(gp, 3)
    URESTORE(tp, 4)
    URESTORE(t0, 5)
    URESTORE(t1, 6)
    URESTORE(t2, 7)
    URESTORE(s0, 8)
    URESTORE(s1, 9)
    URESTORE(a0, 10)
    URESTORE(a1, 11)
    URESTORE(a2, 12)
    URESTORE(a3, 13)
    URESTORE(a4, 14)
    URESTORE(a5, 15)
    URESTORE(a6, 16)
    URESTORE(a7, 17)
    URESTORE(s2, 18)
    URESTORE(s3, 19)
    URESTORE(s4, 20)
    URESTORE(s5, 21)
    URESTORE(s6, 22)
    URESTORE(s7, 23)
    URESTORE(s8, 24)
    URESTORE(s9, 25)
    URESTORE(s10, 26)
    URESTORE(s11, 27)
    URESTORE(t3, 28)
    URESTORE(t4, 29)
    URESTORE(t5, 30)
    URESTORE(t6, 31)
    sret

/* bool arch_probe_write8(volatile void *addr, unsigned char val):
 * store one byte; false if the store faulted. */
    .globl arch_probe_write8
arch_probe_write8:
1:  sb      a1, 0(a0)
    li      a0, 1
    ret
2:  li      a0, 0
    ret
    .pushsection __ex_table, "a"
    .balign 8
    .dword  1b, 2b
    .popsection

/* bool arch_probe_read8(const volatile void *addr, unsigned char *val) */
    .globl arch_probe_read8
arch_probe_read8:
1:  lbu     t0, 0(a0)
    sb      t0, 0(a1)
    li      a0, 1
    ret
2:  li      a0, 0
    ret
    .pushsection __ex_table, "a"
    .balign 8
    .dword  1b, 2b
    .popsection
