/* Fault-tolerant copies to and from user memory (see uaccess.h). Eight
 * words a step while source, destination and length are 8-byte aligned
 * and 64 bytes or more are left (whole pages, in supply), then a word at a
 * time, and byte at a time when anything is misaligned. Every load and
 * store that touches user memory has an exception-table entry that ends
 * the copy with -1. */
    .text

    /* One access that may fault: its address goes in the exception table. */
    .macro UACC insn, reg, off, base
99: \insn   \reg, \off(\base)
    .pushsection __ex_table, "a"
    .balign 8
    .dword  99b, 4f
    .popsection
    .endm

    .macro UCOPY name
    .globl \name
\name:
    .option push
    .option norvc
    li      t1, (1 << 18)       /* sstatus.SUM: S-mode may touch U pages */
    csrs    sstatus, t1
    beqz    a2, 3f
    or      t2, a0, a1
    or      t2, t2, a2
    andi    t2, t2, 7
    bnez    t2, 2f
    li      t3, 64
    bltu    a2, t3, 1f
5:  UACC    ld, t0, 0, a1
    UACC    ld, t2, 8, a1
    UACC    ld, t4, 16, a1
    UACC    ld, t5, 24, a1
    UACC    sd, t0, 0, a0
    UACC    sd, t2, 8, a0
    UACC    sd, t4, 16, a0
    UACC    sd, t5, 24, a0
    UACC    ld, t0, 32, a1
    UACC    ld, t2, 40, a1
    UACC    ld, t4, 48, a1
    UACC    ld, t5, 56, a1
    UACC    sd, t0, 32, a0
    UACC    sd, t2, 40, a0
    UACC    sd, t4, 48, a0
    UACC    sd, t5, 56, a0
    addi    a0, a0, 64
    addi    a1, a1, 64
    addi    a2, a2, -64
    bgeu    a2, t3, 5b
    beqz    a2, 3f
1:  UACC    ld, t0, 0, a1
    UACC    sd, t0, 0, a0
    addi    a0, a0, 8
    addi    a1, a1, 8
    addi    a2, a2, -8
    bnez    a2, 1b
    j       3f
2:  UACC    lbu, t0, 0, a1
    UACC    sb, t0, 0, a0
    addi    a0, a0, 1
    addi    a1, a1, 1
    addi    a2, a2, -1
    bnez    a2, 2b
3:  csrc    sstatus, t1
    li      a0, 0
    ret
4:  csrc    sstatus, t1
    li      a0, -1
    ret
    .option pop
    .endm

    UCOPY arch_copy_from_user
    UCOPY arch_copy_to_user
