/* Kernel entry.
 *
 * The image starts with the RISC-V Linux image header so that U-Boot's
 * `booti` (and anything else that boots Linux images) accepts it. OpenSBI or
 * the boot loader enters at the first byte in S-mode with a0 = hart id and
 * a1 = physical address of the device tree, paging off, at whatever
 * physical address the image was put.
 *
 * Until paging is on, everything here and in early.c runs at that physical
 * address and may only use PC-relative addressing (medany code model, no
 * absolute pointers in data). early_map() builds page tables that map the
 * image at KERNEL_VBASE, all physical memory at DIRECT_MAP_BASE, and the
 * image's own gigabyte 1:1 so the instruction after the satp write can still
 * be fetched; we then jump to the linked (virtual) address and never look
 * back. */
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/hart.h"

    .section .head.text, "ax"
    .option push
    .option norvc
    .globl _start
_start:
    j       _start_kernel           /* code0 */
    .word   0                       /* code1 */
    .dword  0x200000                /* text_offset: where to place us in RAM */
    .dword  _kernel_image_size      /* image_size, BSS and boot stack included */
    .dword  0                       /* flags: little-endian */
    .word   2                       /* version 0.2 */
    .word   0                       /* res1 */
    .dword  0                       /* res2 */
    .ascii  "RISCV\0\0\0"           /* magic (deprecated, still checked by some) */
    .ascii  "RSC\x05"               /* magic2 */
    .word   0                       /* res3 */
    .option pop

_start_kernel:
    csrw    sie, zero
    csrw    sip, zero
    /* No FPU in the kernel: any stray FP instruction traps. */
    li      t0, (3 << 13)
    csrc    sstatus, t0

    /* Only one hart runs the boot path. OpenSBI starts just the boot hart,
     * but other loaders may release every hart at once. */
    lla     t0, boot_lottery
    li      t1, 1
    amoadd.w t1, t1, (t0)
    bnez    t1, park

    mv      s0, a0                  /* hart id */
    mv      s1, a1                  /* DTB physical address */
    lla     s2, _start              /* where we were loaded */

    lla     t0, early_trap
    csrw    stvec, t0

    lla     sp, _boot_stack_top

    lla     t0, _bss_start
    lla     t1, _bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:
    mv      a0, s2
    call    early_map               /* returns the satp value */

    ld      t0, .Lhigh
    sfence.vma
    csrw    satp, a0
    sfence.vma
    jr      t0

    .balign 8
.Lhigh:
    .dword  high_entry

    /* Secondary harts (smp.c): SBI HSM starts one here in S-mode with
     * paging off, a0 = its hart id and a1 = the kernel address of its
     * struct hart. It turns on the kernel's final page table, which does
     * not map this physical address: the next fetch faults, and stvec -
     * already the linked address of secondary_high - takes it there. */
    .globl secondary_start
secondary_start:
    csrw    sie, zero
    csrw    sip, zero
    li      t0, (3 << 13)
    csrc    sstatus, t0
    ld      t0, .Lsecondary_high
    csrw    stvec, t0
    lla     t1, smp_boot_satp
    ld      t1, 0(t1)
    sfence.vma
    csrw    satp, t1
    sfence.vma
1:  j       1b                      /* not reached: the fetch above faults */
    .balign 8
.Lsecondary_high:
    .dword  secondary_high

    /* A trap this early has no console to report on: stop the hart. */
    .balign 4
early_trap:
park:
    wfi
    j       park

    .text
high_entry:
    /* Now at the linked address: move sp into the kernel mapping too. */
    ld      t0, .Lstart_va
    sub     t0, t0, s2              /* t0 = va - pa of the image */
    add     sp, sp, t0
    lla     tp, boot_hart
    lla     t1, trap_entry
    csrw    stvec, t1
    csrw    sscratch, zero
    mv      a0, s0
    mv      a1, s1
    mv      a2, s2
    call    kmain
    j       park

    .balign 4
secondary_high:
    mv      tp, a1
    ld      sp, HART_OFF_KSTACK_TOP(tp)
    lla     t1, trap_entry
    csrw    stvec, t1
    csrw    sscratch, zero
    mv      a0, tp
    call    secondary_main
    j       park

    .balign 8
.Lstart_va:
    .dword  _start

    .data
    .balign 4
boot_lottery:
    .word   0
