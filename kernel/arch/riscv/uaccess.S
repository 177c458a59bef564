/* Fault-tolerant copies to and from user memory (see uaccess.h). The loop
 * is bytewise: syscall arguments are small; bulk data moves by mapping. */
    .text
    .macro UCOPY name
    .globl \name
\name:
    li      t1, (1 << 18)       /* sstatus.SUM: S-mode may touch U pages */
    csrs    sstatus, t1
    beqz    a2, 2f
1:  lbu     t0, 0(a1)
    sb      t0, 0(a0)
    addi    a0, a0, 1
    addi    a1, a1, 1
    addi    a2, a2, -1
    bnez    a2, 1b
2:  csrc    sstatus, t1
    li      a0, 0
    ret
3:  csrc    sstatus, t1
    li      a0, -1
    ret
    .pushsection __ex_table, "a"
    .balign 8
    .dword  1b, 3b
    .dword  1b + 4, 3b
    .popsection
    .endm

    UCOPY arch_copy_from_user
    UCOPY arch_copy_to_user
