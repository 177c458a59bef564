/* Trap entry and exit for traps taken in the kernel.
 *
 * Every register is saved in a struct trap_frame on the current kernel
 * stack, then trap_handler() runs. If the stack pointer would drop below the
 * current stack's limit (the guard page under every kernel stack), the frame
 * goes on the hart's emergency stack instead, so an overflow ends in a panic
 * that says so rather than a silent recursive fault. tp always points at the
 * hart's struct hart while in the kernel. */
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/trap.h"

#define SAVE(r, i)    sd r, (i * 8)(sp)
#define RESTORE(r, i) ld r, (i * 8)(sp)

    .text
    .balign 4
    .globl trap_entry
trap_entry:
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
