/* The NewSys user runtime: system-call stubs and the few helpers every
 * program wants. Include this, write main(), and link with the runtime
 * (see user/CMakeLists.txt: newsys_program()). printf and the rest of the C
 * library come from picolibc; stdout goes to the kernel's debug console. */
#ifndef NEWSYS_USER_H
#define NEWSYS_USER_H

#include <stddef.h>
#include <stdint.h>

#include "include/newsys/bootinfo.h"
#include "include/newsys/caps.h"
#include "include/newsys/errors.h"
#include "include/newsys/ipc.h"
#include "include/newsys/syscall.h"

/* A call's error (a0) and its results (a1..a3). */
struct ns_ret {
    long err;
    unsigned long v1, v2, v3;
};

static inline struct ns_ret ns_syscall(unsigned long nr, unsigned long a0, unsigned long a1,
                                       unsigned long a2, unsigned long a3, unsigned long a4,
                                       unsigned long a5)
{
    register unsigned long r0 asm("a0") = a0;
    register unsigned long r1 asm("a1") = a1;
    register unsigned long r2 asm("a2") = a2;
    register unsigned long r3 asm("a3") = a3;
    register unsigned long r4 asm("a4") = a4;
    register unsigned long r5 asm("a5") = a5;
    register unsigned long r7 asm("a7") = nr;
    asm volatile("ecall"
                 : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5)
                 : "r"(r7)
                 : "memory");
    return (struct ns_ret){(long)r0, r1, r2, r3};
}

static inline long ns_debug_write(const char *buf, size_t len)
{
    return ns_syscall(NS_SYS_DEBUG_WRITE, (unsigned long)buf, len, 0, 0, 0, 0).err;
}
static inline long ns_shutdown(unsigned long machine_slot, unsigned long reason)
{
    return ns_syscall(NS_SYS_SHUTDOWN, machine_slot, reason, 0, 0, 0, 0).err;
}
static inline long ns_yield(void)
{
    return ns_syscall(NS_SYS_YIELD, 0, 0, 0, 0, 0, 0).err;
}
static inline long ns_sleep_us(uint64_t us)
{
    return ns_syscall(NS_SYS_SLEEP, us, 0, 0, 0, 0, 0).err;
}
static inline uint64_t ns_clock_us(void)
{
    return ns_syscall(NS_SYS_CLOCK, 0, 0, 0, 0, 0, 0).v1;
}
/* Instructions this hart has counted while idle (benchmarks subtract the
 * device's wait from a window with it: under -icount the counter runs on
 * while the hart waits). */
static inline uint64_t ns_idle_instret(void)
{
    return ns_syscall(NS_SYS_CLOCK, 0, 0, 0, 0, 0, 0).v2;
}
static inline void ns_thread_exit(void)
{
    ns_syscall(NS_SYS_THREAD_EXIT, 0, 0, 0, 0, 0, 0);
}

static inline struct ns_ret ns_sys(unsigned long nr, unsigned long a0, unsigned long a1,
                                   unsigned long a2, unsigned long a3)
{
    return ns_syscall(nr, a0, a1, a2, a3, 0, 0);
}

/* Capabilities. */
static inline long ns_cap_copy(unsigned long src, unsigned long dst, unsigned long rights)
{
    return ns_sys(NS_SYS_CAP_COPY, src, dst, rights, 0).err;
}
static inline long ns_nop(void)
{
    return ns_syscall(NS_SYS_NOP, 0, 0, 0, 0, 0, 0).err;
}
static inline long ns_cap_transfer(unsigned long src, unsigned long cspace, unsigned long dst,
                                   unsigned long rights)
{
    return ns_sys(NS_SYS_CAP_TRANSFER, src, cspace, dst, rights).err;
}
static inline long ns_cap_mint(unsigned long src, unsigned long dst, unsigned long rights,
                               uint64_t badge)
{
    return ns_sys(NS_SYS_CAP_MINT, src, dst, rights, badge).err;
}
static inline long ns_cap_move(unsigned long src, unsigned long dst)
{
    return ns_sys(NS_SYS_CAP_MOVE, src, dst, 0, 0).err;
}
static inline long ns_cap_delete(unsigned long slot)
{
    return ns_sys(NS_SYS_CAP_DELETE, slot, 0, 0, 0).err;
}
static inline long ns_cap_revoke(unsigned long slot)
{
    return ns_sys(NS_SYS_CAP_REVOKE, slot, 0, 0, 0).err;
}
struct ns_cap_info {
    unsigned long type, rights;
    uint64_t badge;
};
static inline long ns_cap_identify(unsigned long slot, struct ns_cap_info *info)
{
    struct ns_ret r = ns_syscall(NS_SYS_CAP_IDENTIFY, slot, 0, 0, 0, 0, 0);
    if (info) { /* always written: zeros on error */
        info->type = r.err ? 0 : r.v1;
        info->rights = r.err ? 0 : r.v2;
        info->badge = r.err ? 0 : r.v3;
    }
    return r.err;
}

/* Space banks. */
static inline long ns_bank_create(unsigned long bank, unsigned long dst, uint64_t limit_pages)
{
    return ns_sys(NS_SYS_BANK_CREATE, bank, dst, limit_pages, 0).err;
}
static inline long ns_bank_info(unsigned long bank, uint64_t *limit_pages, uint64_t *used_bytes)
{
    struct ns_ret r = ns_syscall(NS_SYS_BANK_INFO, bank, 0, 0, 0, 0, 0);
    if (limit_pages)
        *limit_pages = r.err ? 0 : r.v1;
    if (used_bytes)
        *used_bytes = r.err ? 0 : r.v2;
    return r.err;
}
static inline long ns_bank_destroy(unsigned long bank)
{
    return ns_sys(NS_SYS_BANK_DESTROY, bank, 0, 0, 0).err;
}

/* Objects. */
static inline long ns_aspace_create(unsigned long bank, unsigned long dst)
{
    return ns_sys(NS_SYS_ASPACE_CREATE, bank, dst, 0, 0).err;
}
static inline long ns_cspace_create(unsigned long bank, unsigned long dst, unsigned long slots)
{
    return ns_sys(NS_SYS_CSPACE_CREATE, bank, dst, slots, 0).err;
}
static inline long ns_frame_alloc(unsigned long bank, unsigned long dst)
{
    return ns_sys(NS_SYS_FRAME_ALLOC, bank, dst, 0, 0).err;
}
/* I/O-pinned frames (docs/object-server.md): an account of `pins` pins
 * held at most `lease_us` each, made with the pin authority. */
static inline long ns_pin_account_create(unsigned long authority, unsigned long bank,
                                         unsigned long dst, unsigned long pins, uint64_t lease_us)
{
    return ns_syscall(NS_SYS_PIN_ACCOUNT_CREATE, authority, bank, dst, pins, lease_us, 0).err;
}
static inline long ns_frame_pin(unsigned long account, unsigned long bank, unsigned long dst)
{
    return ns_sys(NS_SYS_FRAME_PIN, account, bank, dst, 0).err;
}
/* A pinned frame's physical address, while its lease lasts. */
static inline long ns_frame_info(unsigned long frame, uint64_t *pa)
{
    struct ns_ret r = ns_sys(NS_SYS_FRAME_INFO, frame, 0, 0, 0);
    if (pa)
        *pa = r.err ? 0 : r.v1;
    return r.err;
}
static inline long ns_frame_unpin(unsigned long frame)
{
    return ns_sys(NS_SYS_FRAME_UNPIN, frame, 0, 0, 0).err;
}
static inline long ns_map_frame(unsigned long aspace, unsigned long frame, uint64_t va,
                                unsigned long rights, unsigned long *effective)
{
    struct ns_ret r = ns_sys(NS_SYS_MAP_FRAME, aspace, frame, va, rights);
    if (effective)
        *effective = r.err ? 0 : r.v1;
    return r.err;
}
static inline long ns_unmap(unsigned long frame)
{
    return ns_sys(NS_SYS_UNMAP, frame, 0, 0, 0).err;
}

/* Threads. */
static inline long ns_thread_create(unsigned long bank, unsigned long dst, unsigned long cspace,
                                    unsigned long aspace)
{
    return ns_sys(NS_SYS_THREAD_CREATE, bank, dst, cspace, aspace).err;
}
static inline long ns_thread_start(unsigned long t, uint64_t pc, uint64_t sp, uint64_t a0)
{
    return ns_sys(NS_SYS_THREAD_START, t, pc, sp, a0).err;
}
static inline long ns_thread_suspend(unsigned long t)
{
    return ns_sys(NS_SYS_THREAD_SUSPEND, t, 0, 0, 0).err;
}
static inline long ns_thread_resume(unsigned long t)
{
    return ns_sys(NS_SYS_THREAD_RESUME, t, 0, 0, 0).err;
}
static inline long ns_thread_set_prio(unsigned long t, unsigned long prio)
{
    return ns_sys(NS_SYS_THREAD_SET_PRIO, t, prio, 0, 0).err;
}
static inline long ns_thread_set_regs(unsigned long t, uint64_t pc, uint64_t sp, uint64_t a0)
{
    return ns_sys(NS_SYS_THREAD_SET_REGS, t, pc, sp, a0).err;
}
static inline long ns_thread_info(unsigned long t, unsigned long *state, unsigned long *prio)
{
    struct ns_ret r = ns_syscall(NS_SYS_THREAD_INFO, t, 0, 0, 0, 0, 0);
    if (state)
        *state = r.err ? 0 : r.v1;
    if (prio)
        *prio = r.err ? 0 : r.v2;
    return r.err;
}
/* The hart index (0 .. ns_bootinfo->hart_count - 1) a thread runs on,
 * -1 before it starts. */
static inline long ns_thread_hart(unsigned long t, long *hart)
{
    struct ns_ret r = ns_syscall(NS_SYS_THREAD_INFO, t, 0, 0, 0, 0, 0);
    if (hart)
        *hart = r.err ? -1 : (long)r.v3;
    return r.err;
}
/* Pin the thread to hart `index` (before it starts, or the hart it runs
 * on); NS_HART_ANY lets the kernel's balancer move it again. */
static inline long ns_thread_set_hart(unsigned long t, unsigned long index)
{
    return ns_syscall(NS_SYS_THREAD_SET_HART, t, index, 0, 0, 0, 0).err;
}

/* IPC. A message: the info word, the four register words, and (on
 * receive) the badge of the capability it was sent through. Longer
 * messages and capabilities go through the IPC buffer (ipc.h). */
struct ns_msg {
    uint64_t info;
    uint64_t w[NS_MSG_REG_WORDS];
    uint64_t badge;
};

static inline long ns_ipc(unsigned long nr, unsigned long ep, struct ns_msg *m)
{
    register unsigned long r0 asm("a0") = ep;
    register unsigned long r1 asm("a1") = m->info;
    register unsigned long r2 asm("a2") = m->w[0];
    register unsigned long r3 asm("a3") = m->w[1];
    register unsigned long r4 asm("a4") = m->w[2];
    register unsigned long r5 asm("a5") = m->w[3];
    register unsigned long r6 asm("a6") = 0;
    register unsigned long r7 asm("a7") = nr;
    asm volatile("ecall"
                 : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6)
                 : "r"(r7)
                 : "memory");
    m->info = r1;
    m->w[0] = r2;
    m->w[1] = r3;
    m->w[2] = r4;
    m->w[3] = r5;
    m->badge = r6;
    return (long)r0;
}

static inline long ns_send(unsigned long ep, struct ns_msg *m)
{
    return ns_ipc(NS_SYS_SEND, ep, m);
}
static inline long ns_recv(unsigned long ep, struct ns_msg *m)
{
    return ns_ipc(NS_SYS_RECV, ep, m);
}
static inline long ns_call(unsigned long ep, struct ns_msg *m)
{
    return ns_ipc(NS_SYS_CALL, ep, m);
}
static inline long ns_reply(struct ns_msg *m)
{
    return ns_ipc(NS_SYS_REPLY, 0, m);
}
static inline long ns_reply_recv(unsigned long ep, struct ns_msg *m)
{
    return ns_ipc(NS_SYS_REPLY_RECV, ep, m);
}
static inline long ns_endpoint_create(unsigned long bank, unsigned long dst)
{
    return ns_sys(NS_SYS_ENDPOINT_CREATE, bank, dst, 0, 0).err;
}
static inline long ns_notification_create(unsigned long bank, unsigned long dst)
{
    return ns_sys(NS_SYS_NOTIFICATION_CREATE, bank, dst, 0, 0).err;
}
static inline long ns_signal(unsigned long ntfn)
{
    return ns_sys(NS_SYS_SIGNAL, ntfn, 0, 0, 0).err;
}
static inline long ns_wait(unsigned long ntfn, uint64_t *bits)
{
    struct ns_ret r = ns_sys(NS_SYS_WAIT, ntfn, 0, 0, 0);
    if (bits)
        *bits = r.err ? 0 : r.v1;
    return r.err;
}
static inline long ns_poll(unsigned long ntfn, uint64_t *bits)
{
    struct ns_ret r = ns_sys(NS_SYS_POLL, ntfn, 0, 0, 0);
    if (bits)
        *bits = r.err ? 0 : r.v1;
    return r.err;
}
static inline long ns_thread_set_ipc_buffer(unsigned long t, uint64_t va)
{
    return ns_sys(NS_SYS_THREAD_SET_IPC_BUFFER, t, va, 0, 0).err;
}
static inline long ns_thread_set_fault_handler(unsigned long t, unsigned long ep)
{
    return ns_sys(NS_SYS_THREAD_SET_FAULT_HANDLER, t, ep, 0, 0).err;
}

static inline long ns_thread_read_regs(unsigned long t, struct ns_regs *out)
{
    return ns_sys(NS_SYS_THREAD_READ_REGS, t, (unsigned long)out, 0, 0).err;
}
static inline long ns_thread_write_regs(unsigned long t, const struct ns_regs *in)
{
    return ns_sys(NS_SYS_THREAD_WRITE_REGS, t, (unsigned long)in, 0, 0).err;
}

/* Memory objects. */
static inline long ns_memobj_create(unsigned long bank, unsigned long dst, uint64_t length,
                                    unsigned long notification)
{
    return ns_sys(NS_SYS_MEMOBJ_CREATE, bank, dst, length, notification).err;
}
static inline long ns_memobj_map(unsigned long aspace, unsigned long memobj, uint64_t va,
                                 uint64_t first_page, uint64_t pages, unsigned long rights,
                                 unsigned long *effective)
{
    struct ns_ret r = ns_syscall(NS_SYS_MEMOBJ_MAP, aspace, memobj, va, first_page, pages, rights);
    if (effective)
        *effective = r.err ? 0 : r.v1;
    return r.err;
}
static inline long ns_memobj_unmap(unsigned long aspace, uint64_t va, uint64_t pages)
{
    return ns_sys(NS_SYS_MEMOBJ_UNMAP, aspace, va, pages, 0).err;
}
static inline long ns_memobj_protect(unsigned long aspace, uint64_t va, uint64_t pages,
                                     unsigned long rights)
{
    return ns_sys(NS_SYS_MEMOBJ_PROTECT, aspace, va, pages, rights).err;
}
static inline long ns_memobj_requests(unsigned long memobj, struct ns_page_request *buf,
                                      unsigned long max, unsigned long *count)
{
    struct ns_ret r = ns_sys(NS_SYS_MEMOBJ_REQUESTS, memobj, (unsigned long)buf, max, 0);
    if (count)
        *count = r.err ? 0 : r.v1;
    return r.err;
}
/* buf NULL: zero pages. */
static inline long ns_memobj_supply(unsigned long memobj, uint64_t first, uint64_t pages,
                                    const void *buf)
{
    return ns_sys(NS_SYS_MEMOBJ_SUPPLY, memobj, first, pages, (unsigned long)buf).err;
}

/* Supply, then wait on the notification `ntfn` (as ns_wait): a manager's
 * answer and its wait for the next request in one system call. */
static inline long ns_memobj_supply_wait(unsigned long memobj, uint64_t first, uint64_t pages,
                                         const void *buf, unsigned long ntfn, uint64_t *bits)
{
    struct ns_ret r =
        ns_syscall(NS_SYS_MEMOBJ_SUPPLY, memobj, first, pages, (unsigned long)buf, ntfn, 0);
    if (bits)
        *bits = r.err ? 0 : r.v1;
    return r.err;
}
/* Enter pages without a request (resident memory): from `buf` (page
 * aligned, `pages` pages; see ns_touch) or, with buf NULL, zero pages. */
static inline long ns_memobj_preload(unsigned long memobj, uint64_t first, uint64_t pages,
                                     const void *buf)
{
    return ns_sys(NS_SYS_MEMOBJ_PRELOAD, memobj, first, pages, (unsigned long)buf).err;
}
static inline long ns_memobj_fail(unsigned long memobj, uint64_t first, uint64_t pages, long error)
{
    return ns_sys(NS_SYS_MEMOBJ_FAIL, memobj, first, pages, (unsigned long)error).err;
}
static inline long ns_memobj_set_length(unsigned long memobj, uint64_t length)
{
    return ns_sys(NS_SYS_MEMOBJ_SET_LENGTH, memobj, length, 0, 0).err;
}
static inline long ns_memobj_set_deadline(unsigned long memobj, uint64_t us)
{
    return ns_sys(NS_SYS_MEMOBJ_SET_DEADLINE, memobj, us, 0, 0).err;
}

/* Let a fault ask for up to `pages` adjacent missing pages in one request. */
static inline long ns_memobj_set_cluster(unsigned long memobj, uint64_t pages)
{
    return ns_sys(NS_SYS_MEMOBJ_SET_CLUSTER, memobj, pages, 0, 0).err;
}
/* Object frames: 16 capability slots (frames/objframe.h). */
static inline long ns_objframe_create(unsigned long bank, unsigned long dst)
{
    return ns_sys(NS_SYS_OBJFRAME_CREATE, bank, dst, 0, 0).err;
}
static inline long ns_objframe_store(unsigned long frame, uint64_t index, unsigned long src,
                                     unsigned long rights_mask)
{
    return ns_sys(NS_SYS_OBJFRAME_STORE, frame, index, src, rights_mask).err;
}
static inline long ns_objframe_load(unsigned long frame, uint64_t index, unsigned long dst,
                                    unsigned long rights_mask)
{
    return ns_sys(NS_SYS_OBJFRAME_LOAD, frame, index, dst, rights_mask).err;
}
static inline long ns_objframe_clear(unsigned long frame, uint64_t index)
{
    return ns_sys(NS_SYS_OBJFRAME_CLEAR, frame, index, 0, 0).err;
}

/* Disk-range keys (frames/diskrange.h): sectors are 512 bytes. */
static inline long ns_diskrange_derive(unsigned long key, unsigned long dst, uint64_t offset,
                                       uint64_t sectors, unsigned long rights_mask)
{
    return ns_syscall(NS_SYS_DISKRANGE_DERIVE, key, dst, offset, sectors, rights_mask, 0).err;
}
static inline long ns_diskrange_info(unsigned long key, uint64_t *disk, uint64_t *first,
                                     uint64_t *sectors)
{
    struct ns_ret r = ns_syscall(NS_SYS_DISKRANGE_INFO, key, 0, 0, 0, 0, 0);
    if (disk)
        *disk = r.err ? 0 : r.v1;
    if (first)
        *first = r.err ? 0 : r.v2;
    if (sectors)
        *sectors = r.err ? 0 : r.v3;
    return r.err;
}

/* The kernel's own disk I/O through a key (blocking; at most
 * NS_DISK_IO_MAX_SECTORS per call; the buffer must be touched first, see
 * ns_touch). Offsets are sectors from the key's first sector. */
static inline long ns_diskrange_read(unsigned long key, uint64_t offset, uint64_t sectors,
                                     void *buf)
{
    return ns_syscall(NS_SYS_DISKRANGE_READ, key, offset, sectors, (unsigned long)buf, 0, 0).err;
}
static inline long ns_diskrange_write(unsigned long key, uint64_t offset, uint64_t sectors,
                                      const void *buf)
{
    return ns_syscall(NS_SYS_DISKRANGE_WRITE, key, offset, sectors, (unsigned long)buf, 0, 0).err;
}
static inline long ns_diskrange_flush(unsigned long key)
{
    return ns_syscall(NS_SYS_DISKRANGE_FLUSH, key, 0, 0, 0, 0, 0).err;
}

/* Storage maps (frames/storage_map.h). frame 0 drops the map. */
static inline long ns_memobj_set_map(unsigned long memobj, unsigned long frame, unsigned height)
{
    return ns_syscall(NS_SYS_MEMOBJ_SET_MAP, memobj, frame, height, 0, 0, 0).err;
}
static inline long ns_memobj_sync(unsigned long memobj)
{
    return ns_syscall(NS_SYS_MEMOBJ_SYNC, memobj, 0, 0, 0, 0, 0).err;
}
static inline long ns_memobj_control(unsigned long memobj, unsigned op, uint64_t arg, uint64_t *out)
{
    struct ns_ret r = ns_syscall(NS_SYS_MEMOBJ_CONTROL, memobj, op, arg, 0, 0, 0);
    if (out)
        *out = r.err ? 0 : r.v1;
    return r.err;
}
static inline long ns_memobj_stats(unsigned long memobj, struct ns_memobj_stats *out)
{
    return ns_syscall(NS_SYS_MEMOBJ_STATS, memobj, (unsigned long)out, 0, 0, 0, 0).err;
}

static inline long ns_memobj_info(unsigned long memobj, uint64_t *length, uint64_t *resident,
                                  uint64_t *requests)
{
    struct ns_ret r = ns_syscall(NS_SYS_MEMOBJ_INFO, memobj, 0, 0, 0, 0, 0);
    if (length)
        *length = r.err ? 0 : r.v1;
    if (resident)
        *resident = r.err ? 0 : r.v2;
    if (requests)
        *requests = r.err ? 0 : r.v3;
    return r.err;
}
static inline long ns_memobj_requests_made(unsigned long memobj, uint64_t *resident,
                                           uint64_t *requests)
{
    struct ns_ret r = ns_syscall(NS_SYS_MEMOBJ_INFO, memobj, 0, 0, 0, 0, 0);
    if (resident)
        *resident = r.err ? 0 : r.v2;
    if (requests)
        *requests = r.err ? 0 : r.v3;
    return r.err;
}

/* The kernel reads and writes a program's memory only through page-table
 * entries that are already there (it never waits for a manager inside a
 * system call), and a memory object's page gets its entry when the program
 * first touches it. So a buffer the kernel is to read or write - an IPC
 * buffer, a supply or preload source, a requests or registers destination -
 * must have been touched first: code that wrote it already did; ns_touch
 * does it otherwise (a read, or with `write` a store of what is there, one
 * per page). Only for memory the program has mapped: an unmapped address
 * faults here instead of returning NS_ERR_BAD_ADDRESS. */
static inline void ns_touch(const void *buf, size_t len, int write)
{
    if (!len)
        return;
    uintptr_t p = (uintptr_t)buf & ~(uintptr_t)4095, end = (uintptr_t)buf + len;
    for (; p < end; p += 4096) {
        volatile char *c = (volatile char *)(p < (uintptr_t)buf ? (uintptr_t)buf : p);
        char v = *c;
        if (write)
            *c = v;
    }
}

/* Start thread `t` (in this address space) running fn(arg) on the stack
 * ending at `stack_top` (mapped, 16-byte aligned); when fn returns the
 * thread exits. */
void __ns_thread_entry(void);
static inline long ns_thread_start_fn(unsigned long t, void (*fn)(unsigned long),
                                      uint64_t stack_top, unsigned long arg)
{
    uint64_t *sp = (uint64_t *)(uintptr_t)(stack_top - 16);
    sp[0] = (uint64_t)(uintptr_t)fn;
    sp[1] = arg;
    return ns_thread_start(t, (uint64_t)(uintptr_t)__ns_thread_entry, (uint64_t)(uintptr_t)sp, 0);
}

/* Name of an error code, for messages. */
const char *ns_strerror(long err);

/* What init got from the kernel (NULL in programs started by others). */
extern const struct ns_bootinfo *ns_bootinfo;

/* The main thread's IPC buffer, which the runtime registers (touched) at
 * start-up; other threads need their own. */
struct ns_ipc_buffer *ns_ipc_buffer(void);

#endif
