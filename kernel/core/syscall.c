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
#include "kernel/core/disk_obj.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank_obj.h"
#include "kernel/core/frame_obj.h"
#include "kernel/core/ipc.h"
#include "kernel/core/notification.h"
#include "kernel/core/objframe_obj.h"
#include "kernel/core/pin_obj.h"
#include "kernel/core/kobj.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"
#include "kernel/core/thread.h"
#include "memobj/memobj.h"

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

/* A handler's return value when it has set the caller's registers (or
 * blocked it) itself. */
#define RESULT_WRITTEN NS_ERR_COUNT

static enum ns_error sys_shutdown(struct hart *h, struct thread *t, uint64_t slot,
                                  uint64_t reason)
{
    struct cap_slot *c;
    enum ns_error e = obj_lookup(t, slot, NS_CAP_MACHINE, NS_RIGHT_WRITE, &c);
    if (e != NS_OK)
        return e;
    if (reason > 1)
        return NS_ERR_INVALID_ARG;
    /* A clean shutdown loses nothing: dirty pages of disk-backed objects
     * are written and flushed first, the caller waiting, its call re-run. */
    if (reason == 0 && memobj_shutdown_writeback(h, t)) {
        t->ctx.sepc -= 4;
        return RESULT_WRITTEN;
    }
    sched_report();
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

static enum ns_error sys_cap_transfer(struct thread *t, uint64_t src, uint64_t cspace, uint64_t dst,
                                      uint64_t mask)
{
    struct cap_slot *cs;
    enum ns_error e = obj_lookup(t, cspace, NS_CAP_CSPACE, NS_RIGHT_WRITE, &cs);
    if (e != NS_OK)
        return e;
    struct cspace *target = &((struct cspace_obj *)cs->obj)->cs;
    if (src >= t->cs->cs.nslots || dst >= target->nslots)
        return NS_ERR_INVALID_SLOT;
    if (mask & ~(uint64_t)NS_RIGHTS_ALL)
        return NS_ERR_INVALID_ARG;
    return cap_copy(&t->cs->cs, (uint32_t)src, target, (uint32_t)dst, (uint32_t)mask);
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

/* The dispatch table: one entry per system call, each reading its
 * arguments from a0..a5 (r[10..15]) and writing results to a1..a5. */
struct args {
    struct hart *h;
    struct thread *t;
    unsigned long *r;
};
typedef enum ns_error (*syscall_fn)(struct args *a);

#define A0 (a->r[10])
#define A1 (a->r[11])
#define A2 (a->r[12])
#define A3 (a->r[13])
#define A4 (a->r[14])

static enum ns_error do_debug_write(struct args *a)
{
    return sys_debug_write(A0, A1);
}
static enum ns_error do_shutdown(struct args *a)
{
    return sys_shutdown(a->h, a->t, A0, A1);
}
static enum ns_error do_nop(struct args *a)
{
    (void)a;
    return NS_OK;
}

static enum ns_error do_yield(struct args *a)
{
    sched_yield(sched_of(a->h));
    return NS_OK;
}

static enum ns_error do_sleep(struct args *a)
{
    uint64_t us = A0;
    if (us > 1000000ull * 3600 * 24 * 365)
        return NS_ERR_INVALID_ARG;
    uint64_t ticks = (uint64_t)((unsigned __int128)us * timebase_hz / 1000000);
    sched_sleep(sched_of(a->h), a->t, read_time() + ticks);
    return NS_OK;
}

static enum ns_error do_clock(struct args *a)
{
    A1 = (uint64_t)((unsigned __int128)read_time() * 1000000 / timebase_hz);
    A2 = sched_of(a->h)->idle_instret;
    return NS_OK;
}

static enum ns_error do_thread_exit(struct args *a)
{
    thread_stop(a->t, "exited");
    return NS_OK;
}

static enum ns_error do_cap_copy(struct args *a)
{
    return sys_cap_copy(a->t, A0, A1, A2);
}
static enum ns_error do_cap_mint(struct args *a)
{
    return sys_cap_mint(a->t, A0, A1, A2, A3);
}
static enum ns_error do_cap_move(struct args *a)
{
    return sys_cap_move(a->t, A0, A1);
}
static enum ns_error do_cap_delete(struct args *a)
{
    return sys_cap_delete(a->t, A0);
}
static enum ns_error do_cap_revoke(struct args *a)
{
    return sys_cap_revoke(a->t, A0);
}
static enum ns_error do_cap_identify(struct args *a)
{
    return sys_cap_identify(a->t, A0, a->r);
}
static enum ns_error do_cap_transfer(struct args *a)
{
    return sys_cap_transfer(a->t, A0, A1, A2, A3);
}

static enum ns_error do_bank_create(struct args *a)
{
    return sys_bank_create(a->t, A0, A1, A2);
}
static enum ns_error do_bank_info(struct args *a)
{
    uint64_t limit, used;
    enum ns_error e = sys_bank_info(a->t, A0, &limit, &used);
    if (e == NS_OK)
        A1 = limit, A2 = used;
    return e;
}
static enum ns_error do_bank_destroy(struct args *a)
{
    return sys_bank_destroy(a->t, A0);
}

static enum ns_error do_aspace_create(struct args *a)
{
    return sys_aspace_create(a->t, A0, A1);
}
static enum ns_error do_cspace_create(struct args *a)
{
    return sys_cspace_create(a->t, A0, A1, A2);
}
static enum ns_error do_frame_alloc(struct args *a)
{
    return sys_frame_alloc(a->t, A0, A1);
}
static enum ns_error do_map_frame(struct args *a)
{
    uint64_t eff = 0;
    enum ns_error e = sys_map_frame(a->t, A0, A1, A2, A3, &eff);
    if (e == NS_OK)
        A1 = eff;
    return e;
}
static enum ns_error do_unmap(struct args *a)
{
    return sys_unmap(a->t, A0);
}

static enum ns_error do_thread_create(struct args *a)
{
    return sys_thread_create(a->t, A0, A1, A2, A3);
}
static enum ns_error do_thread_start(struct args *a)
{
    return sys_thread_start(a->t, A0, A1, A2, A3);
}
static enum ns_error do_thread_suspend(struct args *a)
{
    return sys_thread_suspend(a->t, A0);
}
static enum ns_error do_thread_resume(struct args *a)
{
    return sys_thread_resume(a->t, A0);
}
static enum ns_error do_thread_set_prio(struct args *a)
{
    return sys_thread_set_prio(a->t, A0, A1);
}
static enum ns_error do_thread_set_regs(struct args *a)
{
    return sys_thread_set_regs(a->t, A0, A1, A2, A3);
}
static enum ns_error do_thread_info(struct args *a)
{
    uint64_t state, prio, hart;
    enum ns_error e = sys_thread_info(a->t, A0, &state, &prio, &hart);
    if (e == NS_OK)
        A1 = state, A2 = prio, A3 = hart;
    return e;
}
static enum ns_error do_thread_set_hart(struct args *a)
{
    return sys_thread_set_hart(a->t, A0, A1);
}

/* IPC calls write their own results: at once, or when the thread is woken
 * (a blocked thread's a0 must not be touched now). */

static enum ns_error do_send(struct args *a)
{
    sys_send(a->h, a->t, false);
    return RESULT_WRITTEN;
}
static enum ns_error do_call(struct args *a)
{
    sys_send(a->h, a->t, true);
    return RESULT_WRITTEN;
}
static enum ns_error do_recv(struct args *a)
{
    sys_recv(a->h, a->t);
    return RESULT_WRITTEN;
}
static enum ns_error do_reply(struct args *a)
{
    sys_reply(a->h, a->t, false);
    return RESULT_WRITTEN;
}
static enum ns_error do_reply_recv(struct args *a)
{
    sys_reply(a->h, a->t, true);
    return RESULT_WRITTEN;
}
static enum ns_error do_signal(struct args *a)
{
    sys_signal(a->h, a->t);
    return RESULT_WRITTEN;
}
static enum ns_error do_wait(struct args *a)
{
    sys_wait(a->h, a->t, true);
    return RESULT_WRITTEN;
}
static enum ns_error do_poll(struct args *a)
{
    sys_wait(a->h, a->t, false);
    return RESULT_WRITTEN;
}
static enum ns_error do_diskrange_read(struct args *a)
{
    sys_diskrange_read(a->h, a->t);
    return RESULT_WRITTEN;
}
static enum ns_error do_diskrange_write(struct args *a)
{
    sys_diskrange_write(a->h, a->t);
    return RESULT_WRITTEN;
}
static enum ns_error do_diskrange_flush(struct args *a)
{
    sys_diskrange_flush(a->h, a->t);
    return RESULT_WRITTEN;
}
static enum ns_error do_endpoint_create(struct args *a)
{
    return sys_endpoint_create(a->t, A0, A1);
}
static enum ns_error do_notification_create(struct args *a)
{
    return sys_notification_create(a->t, A0, A1);
}
static enum ns_error do_set_ipc_buffer(struct args *a)
{
    return sys_thread_set_ipc_buffer(a->t, A0, A1);
}
static enum ns_error do_set_fault_handler(struct args *a)
{
    return sys_thread_set_fault_handler(a->t, A0, A1);
}

static enum ns_error do_read_regs(struct args *a)
{
    return sys_thread_read_regs(a->t, A0, A1);
}
static enum ns_error do_write_regs(struct args *a)
{
    return sys_thread_write_regs(a->t, A0, A1);
}

static enum ns_error do_memobj_create(struct args *a)
{
    return sys_memobj_create(a->t, A0, A1, A2, A3);
}
static enum ns_error do_memobj_map(struct args *a)
{
    uint64_t eff = 0;
    enum ns_error e = sys_memobj_map(a->t, A0, A1, A2, A3, a->r[14], a->r[15], &eff);
    if (e == NS_OK)
        A1 = eff;
    return e;
}
static enum ns_error do_memobj_unmap(struct args *a)
{
    return sys_memobj_unmap(a->t, A0, A1, A2);
}
static enum ns_error do_memobj_protect(struct args *a)
{
    return sys_memobj_protect(a->t, A0, A1, A2, A3);
}
static enum ns_error do_memobj_requests(struct args *a)
{
    uint64_t n = 0;
    enum ns_error e = sys_memobj_requests(a->t, A0, A1, A2, &n);
    if (e == NS_OK)
        A1 = n;
    return e;
}
/* Supply, then (a4 names a notification) wait on it as NS_SYS_WAIT does:
 * a manager's answer and its wait for more work in one call. The
 * notification is checked first, so a bad one supplies nothing. */
static enum ns_error do_memobj_supply(struct args *a)
{
    struct cap_slot *n;
    uint64_t ntfn = a->r[14];
    enum ns_error e =
        ntfn ? obj_lookup(a->t, ntfn, NS_CAP_NOTIFICATION, NS_RIGHT_READ, &n) : NS_OK;
    if (e == NS_OK)
        e = sys_memobj_supply(a->h, a->t, A0, A1, A2, A3);
    if (e != NS_OK || !ntfn)
        return e;
    A0 = ntfn;
    sys_wait(a->h, a->t, true);
    return RESULT_WRITTEN;
}
static enum ns_error do_memobj_fail(struct args *a)
{
    return sys_memobj_fail(a->h, a->t, A0, A1, A2, A3);
}
static enum ns_error do_memobj_set_length(struct args *a)
{
    return sys_memobj_set_length(a->h, a->t, A0, A1);
}
static enum ns_error do_memobj_info(struct args *a)
{
    uint64_t len, res, req;
    enum ns_error e = sys_memobj_info(a->t, A0, &len, &res, &req);
    if (e == NS_OK)
        A1 = len, A2 = res, A3 = req;
    return e;
}

static enum ns_error do_memobj_set_cluster(struct args *a)
{
    return sys_memobj_set_cluster(a->t, A0, A1);
}

static enum ns_error do_memobj_set_deadline(struct args *a)
{
    return sys_memobj_set_deadline(a->t, A0, A1);
}

static enum ns_error do_memobj_set_map(struct args *a)
{
    return sys_memobj_set_map(a->t, A0, A1, A2);
}
static enum ns_error do_memobj_control(struct args *a)
{
    uint64_t out = 0;
    enum ns_error e = sys_memobj_control(a->t, A0, A1, A2, &out);
    if (e == NS_OK)
        A1 = out;
    return e;
}
static enum ns_error do_memobj_sync(struct args *a)
{
    sys_memobj_sync(a->h, a->t);
    return RESULT_WRITTEN;
}
static enum ns_error do_memobj_stats(struct args *a)
{
    return sys_memobj_stats(a->t, A0, A1);
}
static enum ns_error do_pin_account_create(struct args *a)
{
    return sys_pin_account_create(a->t, A0, A1, A2, A3, A4);
}
static enum ns_error do_frame_pin(struct args *a)
{
    return sys_frame_pin(a->t, A0, A1, A2);
}
static enum ns_error do_frame_info(struct args *a)
{
    uint64_t pa = 0;
    enum ns_error e = sys_frame_info(a->t, A0, &pa);
    if (e == NS_OK)
        A1 = pa;
    return e;
}
static enum ns_error do_frame_unpin(struct args *a)
{
    return sys_frame_unpin(a->t, A0);
}
static enum ns_error do_objframe_create(struct args *a)
{
    return sys_objframe_create(a->t, A0, A1);
}
static enum ns_error do_objframe_store(struct args *a)
{
    return sys_objframe_store(a->t, A0, A1, A2, A3);
}
static enum ns_error do_objframe_load(struct args *a)
{
    return sys_objframe_load(a->t, A0, A1, A2, A3);
}
static enum ns_error do_objframe_clear(struct args *a)
{
    return sys_objframe_clear(a->t, A0, A1);
}
static enum ns_error do_diskrange_derive(struct args *a)
{
    return sys_diskrange_derive(a->t, A0, A1, A2, A3, a->r[14]);
}
static enum ns_error do_diskrange_info(struct args *a)
{
    uint64_t disk, first, sectors;
    enum ns_error e = sys_diskrange_info(a->t, A0, &disk, &first, &sectors);
    if (e == NS_OK)
        A1 = disk, A2 = first, A3 = sectors;
    return e;
}

static enum ns_error do_memobj_preload(struct args *a)
{
    return sys_memobj_preload(a->h, a->t, A0, A1, A2, A3);
}

static const syscall_fn syscalls[NS_SYS_COUNT] = {
    [NS_SYS_PIN_ACCOUNT_CREATE] = do_pin_account_create,
    [NS_SYS_FRAME_PIN] = do_frame_pin,
    [NS_SYS_FRAME_INFO] = do_frame_info,
    [NS_SYS_FRAME_UNPIN] = do_frame_unpin,
    [NS_SYS_OBJFRAME_CREATE] = do_objframe_create,
    [NS_SYS_OBJFRAME_STORE] = do_objframe_store,
    [NS_SYS_OBJFRAME_LOAD] = do_objframe_load,
    [NS_SYS_OBJFRAME_CLEAR] = do_objframe_clear,
    [NS_SYS_DISKRANGE_DERIVE] = do_diskrange_derive,
    [NS_SYS_DISKRANGE_INFO] = do_diskrange_info,
    [NS_SYS_DISKRANGE_READ] = do_diskrange_read,
    [NS_SYS_MEMOBJ_SET_MAP] = do_memobj_set_map,
    [NS_SYS_MEMOBJ_CONTROL] = do_memobj_control,
    [NS_SYS_MEMOBJ_STATS] = do_memobj_stats,
    [NS_SYS_MEMOBJ_SYNC] = do_memobj_sync,
    [NS_SYS_DISKRANGE_WRITE] = do_diskrange_write,
    [NS_SYS_DISKRANGE_FLUSH] = do_diskrange_flush,
    [NS_SYS_THREAD_SET_HART] = do_thread_set_hart,
    [NS_SYS_MEMOBJ_PRELOAD] = do_memobj_preload,
    [NS_SYS_MEMOBJ_SET_DEADLINE] = do_memobj_set_deadline,
    [NS_SYS_MEMOBJ_SET_CLUSTER] = do_memobj_set_cluster,
    [NS_SYS_MEMOBJ_CREATE] = do_memobj_create,
    [NS_SYS_MEMOBJ_MAP] = do_memobj_map,
    [NS_SYS_MEMOBJ_UNMAP] = do_memobj_unmap,
    [NS_SYS_MEMOBJ_PROTECT] = do_memobj_protect,
    [NS_SYS_MEMOBJ_REQUESTS] = do_memobj_requests,
    [NS_SYS_MEMOBJ_SUPPLY] = do_memobj_supply,
    [NS_SYS_MEMOBJ_FAIL] = do_memobj_fail,
    [NS_SYS_MEMOBJ_SET_LENGTH] = do_memobj_set_length,
    [NS_SYS_MEMOBJ_INFO] = do_memobj_info,
    [NS_SYS_THREAD_READ_REGS] = do_read_regs,
    [NS_SYS_THREAD_WRITE_REGS] = do_write_regs,
    [NS_SYS_ENDPOINT_CREATE] = do_endpoint_create,
    [NS_SYS_NOTIFICATION_CREATE] = do_notification_create,
    [NS_SYS_SEND] = do_send,
    [NS_SYS_RECV] = do_recv,
    [NS_SYS_CALL] = do_call,
    [NS_SYS_REPLY] = do_reply,
    [NS_SYS_REPLY_RECV] = do_reply_recv,
    [NS_SYS_SIGNAL] = do_signal,
    [NS_SYS_WAIT] = do_wait,
    [NS_SYS_POLL] = do_poll,
    [NS_SYS_THREAD_SET_IPC_BUFFER] = do_set_ipc_buffer,
    [NS_SYS_THREAD_SET_FAULT_HANDLER] = do_set_fault_handler,
    [NS_SYS_DEBUG_WRITE] = do_debug_write,
    [NS_SYS_SHUTDOWN] = do_shutdown,
    [NS_SYS_YIELD] = do_yield,
    [NS_SYS_SLEEP] = do_sleep,
    [NS_SYS_CLOCK] = do_clock,
    [NS_SYS_THREAD_EXIT] = do_thread_exit,
    [NS_SYS_CAP_COPY] = do_cap_copy,
    [NS_SYS_CAP_MINT] = do_cap_mint,
    [NS_SYS_CAP_MOVE] = do_cap_move,
    [NS_SYS_CAP_DELETE] = do_cap_delete,
    [NS_SYS_CAP_REVOKE] = do_cap_revoke,
    [NS_SYS_CAP_IDENTIFY] = do_cap_identify,
    [NS_SYS_BANK_CREATE] = do_bank_create,
    [NS_SYS_BANK_INFO] = do_bank_info,
    [NS_SYS_BANK_DESTROY] = do_bank_destroy,
    [NS_SYS_ASPACE_CREATE] = do_aspace_create,
    [NS_SYS_CSPACE_CREATE] = do_cspace_create,
    [NS_SYS_FRAME_ALLOC] = do_frame_alloc,
    [NS_SYS_THREAD_CREATE] = do_thread_create,
    [NS_SYS_MAP_FRAME] = do_map_frame,
    [NS_SYS_UNMAP] = do_unmap,
    [NS_SYS_THREAD_START] = do_thread_start,
    [NS_SYS_THREAD_SUSPEND] = do_thread_suspend,
    [NS_SYS_THREAD_RESUME] = do_thread_resume,
    [NS_SYS_THREAD_SET_PRIO] = do_thread_set_prio,
    [NS_SYS_THREAD_SET_REGS] = do_thread_set_regs,
    [NS_SYS_THREAD_INFO] = do_thread_info,
    [NS_SYS_NOP] = do_nop,
    [NS_SYS_CAP_TRANSFER] = do_cap_transfer,
};

void syscall_dispatch(struct hart *h, struct thread *t)
{
    struct args a = {h, t, t->ctx.regs};
    unsigned long nr = a.r[17];
    enum ns_error e = NS_ERR_INVALID_SYSCALL;

    /* Destruction a call triggers runs when the call is done with its own
     * pointers (kobj.h). */
    kobj_defer_begin();
    if (nr < NS_SYS_COUNT && syscalls[nr])
        e = syscalls[nr](&a);
    if (e != RESULT_WRITTEN)
        a.r[10] = (unsigned long)e;
    kobj_defer_end();
}
