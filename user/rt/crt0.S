/* User program entry: set up the global pointer and call main(). The stack
 * pointer comes from the kernel. If main returns we spin (there is no exit
 * system call yet). */
    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    lla     gp, __global_pointer$
    .option pop
    call    main
1:  j       1b
