/* Fault-tolerant copies to and from user memory (see uaccess.h). Word at a
 * time when source, destination and length are all 8-byte aligned (whole
 * pages, in supply), byte at a time otherwise. Every load and store that
 * touches user memory has an exception-table entry that ends the copy with
 * -1. */
    .text
    .macro UCOPY name
    .globl \name
\name:
    li      t1, (1 << 18)       /* sstatus.SUM: S-mode may touch U pages */
    csrs    sstatus, t1
    beqz    a2, 3f
    or      t2, a0, a1
    or      t2, t2, a2
    andi    t2, t2, 7
    bnez    t2, 2f
    .option push
    .option norvc
1:  ld      t0, 0(a1)
    sd      t0, 0(a0)
    .option pop
    addi    a0, a0, 8
    addi    a1, a1, 8
    addi    a2, a2, -8
    bnez    a2, 1b
    j       3f
    .option push
    .option norvc
2:  lbu     t0, 0(a1)
    sb      t0, 0(a0)
    .option pop
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
    .pushsection __ex_table, "a"
    .balign 8
    .dword  1b, 4b
    .dword  1b + 4, 4b
    .dword  2b, 4b
    .dword  2b + 4, 4b
    .popsection
    .endm

    UCOPY arch_copy_from_user
    UCOPY arch_copy_to_user
