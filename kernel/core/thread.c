/* Thread objects and their system calls. Each call decodes (looks up and
 * checks every capability and argument) before it changes anything. */
#include "kernel/core/thread.h"

#include <string.h>

#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/fpu.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/console/console.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/ipc.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"

static struct kcache thread_cache = KCACHE_INIT("thread", struct thread);
static unsigned thread_serial;

void thread_stop(struct thread *t, const char *why)
{
    sched_still(t);
    sched_unready(sched_home(t), t);
    t->state = THREAD_STOPPED;
    kprintf("thread %s: stopped: %s\n", t->name, why);
}

static void thread_destroy(struct kobj *obj)
{
    struct thread *t = (struct thread *)obj;
    sched_still(t);
    ipc_cancel(t, NS_ERR_DEAD_OBJECT, true);
    sched_unready(sched_home(t), t);
    fpu_forget(t->home ? t->home : hart_self(), t);
    if (t->home)
        t->home->threads--;
    cap_slot_delete(&t->fault_cap);
    cap_slot_delete(&t->as_cap);
    cap_slot_delete(&t->cs_cap);
    obj_retire(&thread_cache, obj);
}

void thread_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = thread_destroy};
    kobj_register_type(NS_CAP_THREAD, &ops);
}

static enum ns_error lookup_thread(struct thread *self, uint64_t slot, uint32_t rights,
                                   struct thread **out)
{
    struct cap_slot *c;
    enum ns_error e = obj_lookup(self, slot, NS_CAP_THREAD, rights, &c);
    if (e == NS_OK)
        *out = (struct thread *)c->obj;
    return e;
}

enum ns_error sys_thread_create(struct thread *self, uint64_t bank, uint64_t dst, uint64_t cspace,
                                uint64_t aspace)
{
    struct obj_create c;
    struct cap_slot *cs, *as;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e == NS_OK)
        e = obj_lookup(self, cspace, NS_CAP_CSPACE, NS_RIGHT_WRITE, &cs);
    if (e == NS_OK)
        e = obj_lookup(self, aspace, NS_CAP_ASPACE, NS_RIGHT_WRITE, &as);
    if (e != NS_OK)
        return e;

    struct thread *t;
    e = obj_create_alloc(&c, &thread_cache, NS_CAP_THREAD, (void **)&t);
    if (e != NS_OK)
        return e;
    cap_slot_derive(cs, &t->cs_cap, cs->rights, cs->badge);
    cap_slot_derive(as, &t->as_cap, as->rights, as->badge);
    t->cs = (struct cspace_obj *)cs->obj;
    t->as = (struct aspace *)as->obj;
    t->prio = self->prio;
    t->state = THREAD_INACTIVE;
    t->ctx.sstatus = SSTATUS_SPIE;
    /* Names are for logs only: "t" and a serial number. */
    unsigned n = ++thread_serial;
    char *p = t->name;
    *p++ = 't';
    char digits[10];
    int k = 0;
    do
        digits[k++] = (char)('0' + n % 10);
    while ((n /= 10) && k < 9);
    while (k)
        *p++ = digits[--k];
    *p = '\0';
    obj_create_install(&c, t, NS_RIGHTS_ALL);
    return NS_OK;
}

/* Decode for start and set-registers: the thread (WRITE right), a user
 * pc (not page 0, 2-byte aligned) and a 16-byte aligned user stack. */
static enum ns_error decode_entry(struct thread *self, uint64_t slot, uint64_t pc, uint64_t sp,
                                  struct thread **out)
{
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_WRITE, out);
    if (e != NS_OK)
        return e;
    if (pc < PAGE_SIZE || pc >= USER_TOP || (pc & 1) || sp > USER_TOP || (sp & 15))
        return NS_ERR_BAD_ADDRESS;
    return NS_OK;
}

static void set_entry(struct thread *t, uint64_t pc, uint64_t sp, uint64_t a0)
{
    t->ctx.sepc = pc;
    t->ctx.regs[2] = sp;
    t->ctx.regs[10] = a0;
}

enum ns_error sys_thread_start(struct thread *self, uint64_t slot, uint64_t pc, uint64_t sp,
                               uint64_t a0)
{
    struct thread *t;
    enum ns_error e = decode_entry(self, slot, pc, sp, &t);
    if (e != NS_OK)
        return e;
    if (t->state != THREAD_INACTIVE)
        return NS_ERR_BAD_STATE;
    set_entry(t, pc, sp, a0);
    sched_place(t);
    sched_make_runnable(t);
    return NS_OK;
}

enum ns_error sys_thread_suspend(struct thread *self, uint64_t slot)
{
    struct thread *t;
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_WRITE, &t);
    if (e != NS_OK)
        return e;
    switch (t->state) {
    case THREAD_SUSPENDED:
        return NS_OK;
    case THREAD_RUNNABLE:
    case THREAD_RUNNING:
    case THREAD_SLEEPING:
        sched_still(t);
        sched_unready(sched_home(t), t);
        t->state = THREAD_SUSPENDED;
        return NS_OK;
    case THREAD_BLOCKED:
        /* Its IPC is cancelled: the call returns NS_ERR_BAD_STATE when the
         * thread runs again. */
        ipc_cancel(t, NS_ERR_BAD_STATE, false);
        t->state = THREAD_SUSPENDED;
        return NS_OK;
    default:
        return NS_ERR_BAD_STATE;
    }
}

enum ns_error sys_thread_resume(struct thread *self, uint64_t slot)
{
    struct thread *t;
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_WRITE, &t);
    if (e != NS_OK)
        return e;
    if (t->state != THREAD_SUSPENDED)
        return NS_ERR_BAD_STATE;
    sched_make_runnable(t);
    return NS_OK;
}

enum ns_error sys_thread_set_prio(struct thread *self, uint64_t slot, uint64_t prio)
{
    struct thread *t;
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_WRITE, &t);
    if (e != NS_OK)
        return e;
    if (prio >= THREAD_PRIO_COUNT)
        return NS_ERR_INVALID_ARG;
    if (prio > self->prio)
        return NS_ERR_NO_RIGHTS; /* no raising anyone above yourself */
    struct sched *s = sched_home(t);
    if (t->state == THREAD_RUNNABLE) {
        sched_unready(s, t);
        t->prio = (uint8_t)prio;
        sched_ready(s, t);
    } else {
        t->prio = (uint8_t)prio;
    }
    return NS_OK;
}

enum ns_error sys_thread_set_regs(struct thread *self, uint64_t slot, uint64_t pc, uint64_t sp,
                                  uint64_t a0)
{
    struct thread *t;
    enum ns_error e = decode_entry(self, slot, pc, sp, &t);
    if (e != NS_OK)
        return e;
    if (t->state != THREAD_SUSPENDED && t->state != THREAD_INACTIVE)
        return NS_ERR_BAD_STATE;
    set_entry(t, pc, sp, a0);
    return NS_OK;
}

/* Registers may be read or written only while the thread cannot be
 * running: not started, suspended, stopped, or waiting for its fault
 * handler (which is the usual reason to want them). */
static bool regs_accessible(const struct thread *t)
{
    return t->state == THREAD_INACTIVE || t->state == THREAD_SUSPENDED ||
           t->state == THREAD_STOPPED ||
           (t->state == THREAD_BLOCKED && t->ipc_fault && t->ipc_op == IPC_REPLY_WAIT);
}

enum ns_error sys_thread_read_regs(struct thread *self, uint64_t slot, uint64_t uptr)
{
    struct thread *t;
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_READ, &t);
    if (e != NS_OK)
        return e;
    if ((uptr & 7) || !user_range_ok(uptr, sizeof(struct ns_regs)))
        return NS_ERR_BAD_ADDRESS;
    if (!regs_accessible(t))
        return NS_ERR_BAD_STATE;
    struct ns_regs r;
    r.pc = t->ctx.sepc;
    r.x[0] = 0;
    for (unsigned i = 1; i < 32; i++)
        r.x[i] = t->ctx.regs[i];
    return copy_to_user(uptr, &r, sizeof(r)) ? NS_ERR_BAD_ADDRESS : NS_OK;
}

enum ns_error sys_thread_write_regs(struct thread *self, uint64_t slot, uint64_t uptr)
{
    struct thread *t;
    struct ns_regs r;
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_WRITE, &t);
    if (e != NS_OK)
        return e;
    if ((uptr & 7) || copy_from_user(&r, uptr, sizeof(r)))
        return NS_ERR_BAD_ADDRESS;
    if (r.pc < PAGE_SIZE || r.pc >= USER_TOP || (r.pc & 1))
        return NS_ERR_BAD_ADDRESS;
    if (!regs_accessible(t))
        return NS_ERR_BAD_STATE;
    t->ctx.sepc = r.pc;
    for (unsigned i = 1; i < 32; i++)
        t->ctx.regs[i] = r.x[i];
    return NS_OK;
}

enum ns_error sys_thread_info(struct thread *self, uint64_t slot, uint64_t *state, uint64_t *prio,
                              uint64_t *hart)
{
    struct thread *t;
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_READ, &t);
    if (e != NS_OK)
        return e;
    *state = t->state;
    *prio = t->prio;
    *hart = (uint64_t)-1;
    for (unsigned i = 0; t->home && i < smp_online(); i++)
        if (smp_hart(i) == t->home)
            *hart = i;
    return NS_OK;
}

enum ns_error sys_thread_set_hart(struct thread *self, uint64_t slot, uint64_t index)
{
    struct thread *t;
    enum ns_error e = lookup_thread(self, slot, NS_RIGHT_WRITE, &t);
    if (e != NS_OK)
        return e;
    if (index == NS_HART_ANY) {
        t->pinned = false; /* the balancer may move it from now on */
        return NS_OK;
    }
    if (index >= smp_online())
        return NS_ERR_RANGE;
    struct hart *h = smp_hart((unsigned)index);
    if (!h->sched)
        return NS_ERR_BAD_STATE; /* not scheduling yet (the boot is not over) */
    /* Pinned where it is, or placed before it starts: the kernel does not
     * move a running thread to another hart on request (its FP state may
     * be live in its hart's registers). */
    if (t->home != h && (t->state != THREAD_INACTIVE || t->home))
        return NS_ERR_BAD_STATE;
    if (!t->home)
        sched_set_home(t, h);
    t->pinned = true;
    return NS_OK;
}
