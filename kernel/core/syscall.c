/* System calls.
 *
 * Each call first checks every argument and capability (nothing changes if
 * any check fails, and each failure has its own error code), then acts.
 * Arguments come from the saved user registers a0..a5, the number from a7;
 * a0 returns the error and a1..a5 any results. */
#include "kernel/core/syscall.h"

#include "include/newsys/errors.h"
#include "include/newsys/syscall.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/boot/panic.h"
#include "kernel/console/console.h"
#include "kernel/core/cap.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank_obj.h"
#include "kernel/core/frame_obj.h"
#include "kernel/core/kobj.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"
#include "kernel/core/thread.h"

#define DEBUG_WRITE_MAX 4096

static uint64_t timebase_hz = 10000000;
static struct kobj machine;

struct kobj *machine_object(void)
{
    if (!machine.live)
        kobj_init(&machine, NS_CAP_MACHINE);
    return &machine;
}

void syscall_set_timebase(uint64_t hz);
void syscall_set_timebase(uint64_t hz)
{
    timebase_hz = hz;
}

static enum ns_error sys_debug_write(uint64_t ubuf, uint64_t len)
{
    char buf[128];
    if (len > DEBUG_WRITE_MAX)
        return NS_ERR_INVALID_ARG;
    if (!user_range_ok(ubuf, len))
        return NS_ERR_BAD_ADDRESS;
    /* Copy everything first so a bad page mid-buffer prints nothing. */
    for (uint64_t off = 0; off < len; off += sizeof(buf)) {
        uint64_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
        if (copy_from_user(buf, ubuf + off, n))
            return NS_ERR_BAD_ADDRESS;
    }
    for (uint64_t off = 0; off < len; off += sizeof(buf)) {
        uint64_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
        copy_from_user(buf, ubuf + off, n);
        console_write(buf, n);
    }
    return NS_OK;
}

static enum ns_error sys_shutdown(struct thread *t, uint64_t slot, uint64_t reason)
{
    struct cap_slot *c;
    enum ns_error e = obj_lookup(t, slot, NS_CAP_MACHINE, NS_RIGHT_WRITE, &c);
    if (e != NS_OK)
        return e;
    if (reason > 1)
        return NS_ERR_INVALID_ARG;
    machine_shutdown(reason ? SHUTDOWN_FAILURE : SHUTDOWN_OK);
}

/* Capability operations take 64-bit slot numbers; cap.c works on the
 * 32-bit range a space can have. */
static bool slots_ok(const struct thread *t, uint64_t a, uint64_t b)
{
    return a < t->cs->cs.nslots && b < t->cs->cs.nslots;
}

static enum ns_error sys_cap_copy(struct thread *t, uint64_t src, uint64_t dst, uint64_t mask)
{
    if (!slots_ok(t, src, dst))
        return NS_ERR_INVALID_SLOT;
    if (mask & ~(uint64_t)NS_RIGHTS_ALL)
        return NS_ERR_INVALID_ARG;
    return cap_copy(&t->cs->cs, (uint32_t)src, &t->cs->cs, (uint32_t)dst, (uint32_t)mask);
}

static enum ns_error sys_cap_mint(struct thread *t, uint64_t src, uint64_t dst, uint64_t mask,
                                  uint64_t badge)
{
    if (!slots_ok(t, src, dst))
        return NS_ERR_INVALID_SLOT;
    if (mask & ~(uint64_t)NS_RIGHTS_ALL)
        return NS_ERR_INVALID_ARG;
    return cap_mint(&t->cs->cs, (uint32_t)src, &t->cs->cs, (uint32_t)dst, (uint32_t)mask, badge);
}

static enum ns_error sys_cap_move(struct thread *t, uint64_t src, uint64_t dst)
{
    if (!slots_ok(t, src, dst))
        return NS_ERR_INVALID_SLOT;
    return cap_move(&t->cs->cs, (uint32_t)src, &t->cs->cs, (uint32_t)dst);
}

static enum ns_error sys_cap_delete(struct thread *t, uint64_t slot)
{
    if (!slots_ok(t, slot, slot))
        return NS_ERR_INVALID_SLOT;
    return cap_delete(&t->cs->cs, (uint32_t)slot);
}

static enum ns_error sys_cap_revoke(struct thread *t, uint64_t slot)
{
    if (!slots_ok(t, slot, slot))
        return NS_ERR_INVALID_SLOT;
    return cap_revoke(&t->cs->cs, (uint32_t)slot);
}

static enum ns_error sys_cap_identify(struct thread *t, uint64_t slot, unsigned long *r)
{
    struct cap_info info;
    if (!slots_ok(t, slot, slot))
        return NS_ERR_INVALID_SLOT;
    enum ns_error e = cap_identify(&t->cs->cs, (uint32_t)slot, &info);
    if (e == NS_OK) {
        r[11] = info.type;
        r[12] = info.rights;
        r[13] = info.badge;
    }
    return e;
}

void syscall_dispatch(struct hart *h, struct thread *t)
{
    unsigned long *r = t->ctx.regs;
    struct sched *s = sched_of(h);
    enum ns_error e;

    /* Destruction a call triggers runs when the call is done with its own
     * pointers (kobj.h). */
    kobj_defer_begin();
    switch (r[17]) {
    case NS_SYS_DEBUG_WRITE:
        e = sys_debug_write(r[10], r[11]);
        break;
    case NS_SYS_SHUTDOWN:
        e = sys_shutdown(t, r[10], r[11]);
        break;
    case NS_SYS_YIELD:
        sched_yield(s);
        e = NS_OK;
        break;
    case NS_SYS_SLEEP: {
        uint64_t us = r[10];
        if (us > 1000000ull * 3600 * 24 * 365) {
            e = NS_ERR_INVALID_ARG;
            break;
        }
        sched_sleep(s, t, read_time() + (uint64_t)((unsigned __int128)us * timebase_hz / 1000000));
        e = NS_OK;
        break;
    }
    case NS_SYS_CLOCK:
        r[11] = (uint64_t)((unsigned __int128)read_time() * 1000000 / timebase_hz);
        e = NS_OK;
        break;
    case NS_SYS_THREAD_EXIT:
        thread_stop(t, "exited");
        e = NS_OK;
        break;
    case NS_SYS_CAP_COPY:
        e = sys_cap_copy(t, r[10], r[11], r[12]);
        break;
    case NS_SYS_CAP_MINT:
        e = sys_cap_mint(t, r[10], r[11], r[12], r[13]);
        break;
    case NS_SYS_CAP_MOVE:
        e = sys_cap_move(t, r[10], r[11]);
        break;
    case NS_SYS_CAP_DELETE:
        e = sys_cap_delete(t, r[10]);
        break;
    case NS_SYS_CAP_REVOKE:
        e = sys_cap_revoke(t, r[10]);
        break;
    case NS_SYS_CAP_IDENTIFY:
        e = sys_cap_identify(t, r[10], r);
        break;
    case NS_SYS_BANK_CREATE:
        e = sys_bank_create(t, r[10], r[11], r[12]);
        break;
    case NS_SYS_BANK_INFO: {
        uint64_t limit, used;
        e = sys_bank_info(t, r[10], &limit, &used);
        if (e == NS_OK)
            r[11] = limit, r[12] = used;
        break;
    }
    case NS_SYS_BANK_DESTROY:
        e = sys_bank_destroy(t, r[10]);
        break;
    case NS_SYS_ASPACE_CREATE:
        e = sys_aspace_create(t, r[10], r[11]);
        break;
    case NS_SYS_CSPACE_CREATE:
        e = sys_cspace_create(t, r[10], r[11], r[12]);
        break;
    case NS_SYS_FRAME_ALLOC:
        e = sys_frame_alloc(t, r[10], r[11]);
        break;
    case NS_SYS_THREAD_CREATE:
        e = sys_thread_create(t, r[10], r[11], r[12], r[13]);
        break;
    case NS_SYS_MAP_FRAME: {
        uint64_t eff = 0;
        e = sys_map_frame(t, r[10], r[11], r[12], r[13], &eff);
        if (e == NS_OK)
            r[11] = eff;
        break;
    }
    case NS_SYS_UNMAP:
        e = sys_unmap(t, r[10]);
        break;
    case NS_SYS_THREAD_START:
        e = sys_thread_start(t, r[10], r[11], r[12], r[13]);
        break;
    case NS_SYS_THREAD_SUSPEND:
        e = sys_thread_suspend(t, r[10]);
        break;
    case NS_SYS_THREAD_RESUME:
        e = sys_thread_resume(t, r[10]);
        break;
    case NS_SYS_THREAD_SET_PRIO:
        e = sys_thread_set_prio(t, r[10], r[11]);
        break;
    case NS_SYS_THREAD_SET_REGS:
        e = sys_thread_set_regs(t, r[10], r[11], r[12], r[13]);
        break;
    case NS_SYS_THREAD_INFO: {
        uint64_t state, prio;
        e = sys_thread_info(t, r[10], &state, &prio);
        if (e == NS_OK)
            r[11] = state, r[12] = prio;
        break;
    }
    default:
        e = NS_ERR_INVALID_SYSCALL;
        break;
    }
    r[10] = (unsigned long)e;
    kobj_defer_end();
}
