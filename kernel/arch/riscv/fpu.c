/* Lazy FPU switching (see fpu.h). */
#include "kernel/arch/riscv/fpu.h"

#include <string.h>

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/core/thread.h"

#define FS_OFF   (0ul << 13)
#define FS_CLEAN (2ul << 13)
#define FS_DIRTY (3ul << 13)

void fpu_switch_in(struct hart *h, struct thread *t)
{
    unsigned long fs = t->ctx.sstatus & SSTATUS_FS;
    if (h->fpu_owner != t)
        fs = FS_OFF;
    else if (fs == FS_OFF)
        fs = FS_CLEAN;
    /* The owner keeps Dirty if it was: its registers are not saved yet. */
    t->ctx.sstatus = (t->ctx.sstatus & ~SSTATUS_FS) | fs;
}

bool fpu_trap(struct hart *h, struct thread *t)
{
    if ((t->ctx.sstatus & SSTATUS_FS) != FS_OFF)
        return false; /* FP was on: a genuine illegal instruction */
    struct thread *owner = h->fpu_owner;
    if (owner && owner != t && (owner->ctx.sstatus & SSTATUS_FS) == FS_DIRTY) {
        fpu_save(&owner->fpu);
        owner->fpu_valid = true;
        owner->ctx.sstatus = (owner->ctx.sstatus & ~SSTATUS_FS) | FS_CLEAN;
    }
    if (!t->fpu_valid) {
        memset(&t->fpu, 0, sizeof(t->fpu));
        t->fpu_valid = true;
    }
    fpu_restore(&t->fpu);
    csr_clear(sstatus, SSTATUS_FS); /* the kernel goes on without FP */
    h->fpu_owner = t;
    t->ctx.sstatus = (t->ctx.sstatus & ~SSTATUS_FS) | FS_CLEAN;
    return true;
}

bool fpu_movable(const struct hart *h, const struct thread *t)
{
    /* Dirty: only h's registers hold it. Clean: t->fpu holds the same. */
    return h->fpu_owner != t || (t->ctx.sstatus & SSTATUS_FS) != FS_DIRTY;
}

void fpu_let_go(struct hart *h, struct thread *t)
{
    if (h->fpu_owner == t)
        h->fpu_owner = NULL;
}

void fpu_forget(struct hart *h, struct thread *t)
{
    if (h->fpu_owner == t)
        h->fpu_owner = NULL;
}
