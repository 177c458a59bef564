/* Save and restore the F/D register file (lazy FPU switching, fpu.c).
 * Assembled for rv64gc although the kernel itself is built without FP. */
    .option push
    .option arch, +d
    .text
    .globl fpu_save
fpu_save:
    li      t1, (1 << 13)           /* sstatus.FS = Initial: allow access */
    csrs    sstatus, t1
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fsd     f\n, (\n * 8)(a0)
    .endr
    frcsr   t0
    sw      t0, (32 * 8)(a0)
    ret

    .globl fpu_restore
fpu_restore:
    li      t1, (1 << 13)
    csrs    sstatus, t1
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fld     f\n, (\n * 8)(a0)
    .endr
    lw      t0, (32 * 8)(a0)
    fscsr   t0
    ret
    .option pop
