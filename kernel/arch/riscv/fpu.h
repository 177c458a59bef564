/* Lazy floating-point switching through sstatus.FS.
 *
 * A thread starts with FS = Off. Its first FP instruction traps (illegal
 * instruction); fpu_trap() then loads its F/D state into the registers,
 * makes it the hart's FP owner and lets the instruction run again. On a
 * switch only the owner gets FS on; others run with FS = Off and trap on
 * first use, at which point the owner's registers are saved if it dirtied
 * them. The kernel itself never touches FP, so the registers stay the
 * owner's across kernel entries. */
#ifndef NEWSYS_ARCH_RISCV_FPU_H
#define NEWSYS_ARCH_RISCV_FPU_H

#include <stdbool.h>

struct hart;
struct thread;

/* Set the FS field of `t`, about to run on `h`. */
void fpu_switch_in(struct hart *h, struct thread *t);
/* An illegal-instruction trap from `t`: true if it was a first FP use and
 * has been handled (the instruction should be retried). */
bool fpu_trap(struct hart *h, struct thread *t);
/* May `t`, not running, move away from hart `h`? Not while its FP state
 * is live and modified in h's registers alone. */
bool fpu_movable(const struct hart *h, const struct thread *t);
/* It moves: h's registers are no longer its. */
void fpu_let_go(struct hart *h, struct thread *t);
/* `t` is being destroyed: forget it as owner. */
void fpu_forget(struct hart *h, struct thread *t);

#endif
