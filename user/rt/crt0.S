/* User program entry: the kernel sets sp and a0 (the boot-info page for
 * init); set up the global pointer and enter the C runtime. */
    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    lla     gp, __global_pointer$
    .option pop
    call    __ns_start
1:  j       1b

/* Entry of threads started with ns_thread_start_fn(): the function and its
 * argument are on the new stack; set up gp (the kernel starts threads with
 * only pc, sp and a0), call, and end the thread when it returns. */
    .text
    .globl __ns_thread_entry
__ns_thread_entry:
    .option push
    .option norelax
    lla     gp, __global_pointer$
    .option pop
    ld      t0, 0(sp)
    ld      a0, 8(sp)
    addi    sp, sp, 16
    jalr    t0
    call    __ns_thread_return
1:  j       1b
