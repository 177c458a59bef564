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
