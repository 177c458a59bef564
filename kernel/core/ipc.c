/* Endpoints, replies, notifications and fault messages (see ipc.h). */
#include "kernel/core/ipc.h"

#include "kernel/console/console.h"
#include "kernel/core/disk_obj.h"

#include <string.h>

#include "include/newsys/ipc.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"
#include "kernel/core/notification.h"
#include "kernel/core/thread.h"
#include "kernel/core/waitq.h"
#include "memobj/memobj.h"

static struct kcache endpoint_cache = KCACHE_INIT("endpoint", struct endpoint);

enum { R_A0 = 10, R_A1 = 11, R_A2 = 12, R_A6 = 16 };

/* ---- blocking and waking ---- */

void ipc_block(struct hart *h, struct thread *t, enum ipc_op op, void *obj)
{
    sched_unready(sched_of(h), t);
    t->state = THREAD_BLOCKED;
    t->ipc_op = (uint8_t)op;
    t->ipc_obj = obj;
}

void ipc_wake(struct hart *h, struct thread *t)
{
    t->ipc_op = IPC_NONE;
    t->ipc_obj = NULL;
    t->ipc_fault = false;
    if (t->home && t->home != h)
        sched_make_runnable(t); /* on its own hart's queue: that hart is told */
    else
        sched_wake(sched_of(h), t);
}

/* Wake with an error as the result of its system call - or, for a thread
 * whose message was a fault, stop it: nobody will ever handle the fault. */
void ipc_wake_error(struct hart *h, struct thread *t, enum ns_error e)
{
    if (t->ipc_fault) {
        t->ipc_op = IPC_NONE;
        t->ipc_obj = NULL;
        t->ipc_fault = false;
        thread_stop(t, "its fault handler is gone");
        return;
    }
    t->ctx.regs[R_A0] = (unsigned long)e;
    ipc_wake(h, t);
}

/* ---- message transfer ---- */

static struct ns_ipc_buffer *ipc_buffer(struct thread *t, bool write)
{
    /* A thread whose spaces are gone (it waits to be stopped when picked)
     * has no buffer and no capabilities: its space pointers may already
     * name reused memory. */
    if (!t->ipc_buffer || !thread_can_run(t))
        return NULL;
    return aspace_user_page(t->as, t->ipc_buffer, write);
}

/* Move the message `from` holds to `to`'s registers (and IPC buffer and
 * capability space), as the result of `to`'s system call. Words or
 * capabilities `to` has no room for are dropped; the info word it receives
 * says how many arrived. */
static void transfer(struct thread *from, struct thread *to, uint64_t badge, bool grant)
{
    uint64_t info = from->ipc_msg[0];
    unsigned len = (unsigned)NS_MSG_LEN(info), ncaps = (unsigned)NS_MSG_CAPS(info);
    unsigned words = len < NS_MSG_REG_WORDS ? len : NS_MSG_REG_WORDS, caps = 0;
    struct ns_ipc_buffer *src = NULL, *dst = NULL;

    if (!from->ipc_fault && (len > NS_MSG_REG_WORDS || ncaps)) {
        src = ipc_buffer(from, false);
        dst = ipc_buffer(to, true);
    }
    if (len > NS_MSG_REG_WORDS && src && dst) {
        memcpy(&dst->mr[NS_MSG_REG_WORDS], &src->mr[NS_MSG_REG_WORDS],
               (len - NS_MSG_REG_WORDS) * sizeof(uint64_t));
        words = len;
    }
    if (ncaps && grant && src && dst) {
        uint64_t room = dst->recv_count < NS_MSG_MAX_CAPS ? dst->recv_count : NS_MSG_MAX_CAPS;
        for (unsigned i = 0; i < ncaps && i < room; i++) {
            struct cap_slot *s, *d;
            if (src->send_caps[i] >= from->cs->cs.nslots || dst->recv_slots[i] >= to->cs->cs.nslots)
                break;
            if (cap_lookup_any(&from->cs->cs, (uint32_t)src->send_caps[i], &s) != NS_OK)
                break;
            if (cap_lookup_empty(&to->cs->cs, (uint32_t)dst->recv_slots[i], &d) != NS_OK)
                break;
            cap_slot_derive(s, d, s->rights, s->badge);
            caps++;
        }
    }
    unsigned long *r = to->ctx.regs;
    r[R_A0] = NS_OK;
    r[R_A1] = NS_MSG_INFO(NS_MSG_LABEL(info), words, caps);
    for (unsigned i = 0; i < NS_MSG_REG_WORDS; i++)
        r[R_A2 + i] = i < words ? from->ipc_msg[1 + i] : 0;
    r[R_A6] = badge;
}

/* Check a message the caller is about to send; NS_OK or why not. */
static enum ns_error check_message(struct thread *t, uint64_t info, bool grant)
{
    unsigned len = (unsigned)NS_MSG_LEN(info), ncaps = (unsigned)NS_MSG_CAPS(info);
    if (len > NS_MSG_MAX_WORDS)
        return NS_ERR_INVALID_ARG;
    if (ncaps > NS_MSG_MAX_CAPS)
        return NS_ERR_TOO_MANY_CAPS;
    if (ncaps && !grant)
        return NS_ERR_NO_RIGHTS;
    if ((len > NS_MSG_REG_WORDS || ncaps) && !ipc_buffer(t, false))
        return NS_ERR_BAD_ADDRESS;
    return NS_OK;
}

static void save_message(struct thread *t)
{
    t->ipc_msg[0] = t->ctx.regs[R_A1];
    for (unsigned i = 0; i < NS_MSG_REG_WORDS; i++)
        t->ipc_msg[1 + i] = t->ctx.regs[R_A2 + i];
}

/* `server` now owes `caller` a reply. A reply it still owed an earlier
 * caller can never be sent any more: that caller learns so. */
static void link_reply(struct hart *h, struct thread *server, struct thread *caller)
{
    struct thread *old = server->reply_to;
    if (old && old->obj.gen == server->reply_gen && old->ipc_op == IPC_REPLY_WAIT &&
        old->replier == server) {
        old->replier = NULL;
        ipc_wake_error(h, old, NS_ERR_DEAD_OBJECT);
    }
    server->reply_to = caller;
    server->reply_gen = caller->obj.gen;
    caller->replier = server;
    caller->ipc_op = IPC_REPLY_WAIT;
    caller->ipc_obj = NULL;
    caller->state = THREAD_BLOCKED;
}

/* The sending half of send, call and fault delivery; the message is in
 * t->ipc_msg. */
static void do_send(struct hart *h, struct thread *t, struct endpoint *ep, bool call)
{
    if (ep->receivers && ep->head) {
        struct thread *recv = waitq_pop(&ep->head, &ep->tail);
        transfer(t, recv, t->ipc_badge, t->ipc_grant);
        if (call) {
            sched_unready(sched_of(h), t);
            link_reply(h, recv, t);
        } else {
            t->ctx.regs[R_A0] = NS_OK;
        }
        ipc_wake(h, recv);
        return;
    }
    ipc_block(h, t, call ? IPC_CALL : IPC_SEND, ep);
    if (!ep->head)
        ep->receivers = false;
    waitq_push(&ep->head, &ep->tail, t);
}

void sys_send(struct hart *h, struct thread *t, bool call)
{
    unsigned long *r = t->ctx.regs;
    struct cap_slot *c;
    enum ns_error e = obj_lookup(t, r[R_A0], NS_CAP_ENDPOINT, NS_RIGHT_WRITE, &c);
    if (e == NS_OK)
        e = check_message(t, r[R_A1], c->rights & NS_RIGHT_GRANT);
    if (e != NS_OK) {
        r[R_A0] = (unsigned long)e;
        return;
    }
    save_message(t);
    t->ipc_badge = c->badge;
    t->ipc_grant = (c->rights & NS_RIGHT_GRANT) != 0;
    t->ipc_fault = false;
    do_send(h, t, (struct endpoint *)c->obj, call);
}

static void do_recv(struct hart *h, struct thread *t, struct endpoint *ep)
{
    if (!ep->receivers && ep->head) {
        struct thread *sender = waitq_pop(&ep->head, &ep->tail);
        transfer(sender, t, sender->ipc_badge, sender->ipc_grant);
        if (sender->ipc_op == IPC_CALL) {
            link_reply(h, t, sender);
        } else {
            sender->ctx.regs[R_A0] = NS_OK;
            ipc_wake(h, sender);
        }
        return;
    }
    ipc_block(h, t, IPC_RECV, ep);
    if (!ep->head)
        ep->receivers = true;
    waitq_push(&ep->head, &ep->tail, t);
}

void sys_recv(struct hart *h, struct thread *t)
{
    unsigned long *r = t->ctx.regs;
    struct cap_slot *c;
    enum ns_error e = obj_lookup(t, r[R_A0], NS_CAP_ENDPOINT, NS_RIGHT_READ, &c);
    if (e != NS_OK) {
        r[R_A0] = (unsigned long)e;
        return;
    }
    do_recv(h, t, (struct endpoint *)c->obj);
}

/* Resume or stop a thread whose fault was handled, as the reply says. */
static void finish_fault(struct hart *h, struct thread *caller, struct thread *server)
{
    uint64_t info = server->ipc_msg[0];
    caller->replier = NULL;
    if (NS_MSG_LABEL(info) != NS_FAULT_RESUME) {
        caller->ipc_op = IPC_NONE;
        caller->ipc_fault = false;
        thread_stop(caller, "stopped by its fault handler");
        return;
    }
    unsigned len = (unsigned)NS_MSG_LEN(info);
    if (len >= 1 && server->ipc_msg[1] >= PAGE_SIZE && server->ipc_msg[1] < USER_TOP)
        caller->ctx.sepc = server->ipc_msg[1];
    if (len >= 2 && server->ipc_msg[2] <= USER_TOP && !(server->ipc_msg[2] & 15))
        caller->ctx.regs[2] = server->ipc_msg[2];
    ipc_wake(h, caller);
}

/* Reply to the caller `t` owes; the result for `t` itself. */
static enum ns_error do_reply(struct hart *h, struct thread *t)
{
    struct thread *caller = t->reply_to;
    if (!caller)
        return NS_ERR_REPLY_USED;
    t->reply_to = NULL; /* one shot, whatever happens next */
    if (caller->obj.gen != t->reply_gen || caller->ipc_op != IPC_REPLY_WAIT || caller->replier != t)
        return NS_ERR_DEAD_OBJECT;
    save_message(t);
    if (caller->ipc_fault) {
        finish_fault(h, caller, t);
        return NS_OK;
    }
    caller->replier = NULL;
    transfer(t, caller, 0, true);
    ipc_wake(h, caller);
    return NS_OK;
}

void sys_reply(struct hart *h, struct thread *t, bool then_recv)
{
    unsigned long *r = t->ctx.regs;
    struct cap_slot *c = NULL;
    enum ns_error e = NS_OK;
    if (then_recv)
        e = obj_lookup(t, r[R_A0], NS_CAP_ENDPOINT, NS_RIGHT_READ, &c);
    if (e == NS_OK)
        e = check_message(t, r[R_A1], true);
    if (e != NS_OK) {
        r[R_A0] = (unsigned long)e;
        return;
    }
    e = do_reply(h, t);
    if (!then_recv) {
        r[R_A0] = (unsigned long)e;
        return;
    }
    /* A server goes on receiving even if its last client is gone. */
    do_recv(h, t, (struct endpoint *)c->obj);
}

bool ipc_deliver_fault(struct hart *h, struct thread *t, uint64_t kind, uint64_t addr,
                       uint64_t scause)
{
    if (t->fault_cap.type != NS_CAP_ENDPOINT || cap_slot_stale(&t->fault_cap))
        return false;
    t->ipc_msg[0] = NS_MSG_INFO(NS_LABEL_FAULT, 4, 0);
    t->ipc_msg[1] = kind;
    t->ipc_msg[2] = t->ctx.sepc;
    t->ipc_msg[3] = addr;
    t->ipc_msg[4] = scause;
    t->ipc_badge = t->fault_cap.badge;
    t->ipc_grant = false;
    t->ipc_fault = true;
    do_send(h, t, (struct endpoint *)t->fault_cap.obj, true);
    return true;
}

void ipc_cancel(struct thread *t, enum ns_error reason, bool dying)
{
    struct hart *h = sched_this_hart();
    if (t->state == THREAD_BLOCKED) {
        switch (t->ipc_op) {
        case IPC_SEND:
        case IPC_CALL:
        case IPC_RECV: {
            struct endpoint *ep = t->ipc_obj;
            waitq_remove(&ep->head, &ep->tail, t);
            break;
        }
        case IPC_NTFN_WAIT: {
            struct notification *n = t->ipc_obj;
            waitq_remove(&n->head, &n->tail, t);
            break;
        }
        case IPC_PAGE_WAIT:
            memobj_cancel_wait(t);
            break;
        case IPC_IO_WAIT:
            disk_io_cancel(t);
            break;
        case IPC_SYNC_WAIT:
            memobj_sync_cancel(t);
            break;
        case IPC_MEMORY_WAIT:
            memobj_memory_wait_cancel(t);
            break;
        case IPC_REPLY_WAIT:
            /* The server keeps its reply right: using it finds us gone
             * (generation or state) and reports NS_ERR_DEAD_OBJECT. */
            t->replier = NULL;
            break;
        default:
            break;
        }
        /* A thread stopped in a fault was not in a system call: its
         * registers are its own and stay as they are. */
        if (!t->ipc_fault)
            t->ctx.regs[R_A0] = (unsigned long)reason;
        t->ipc_op = IPC_NONE;
        t->ipc_obj = NULL;
        t->ipc_fault = false;
    }
    if (!dying)
        return;
    /* A reply this thread owes will never come: tell the caller. */
    struct thread *caller = t->reply_to;
    t->reply_to = NULL;
    if (caller && caller->obj.gen == t->reply_gen && caller->ipc_op == IPC_REPLY_WAIT &&
        caller->replier == t) {
        caller->replier = NULL;
        ipc_wake_error(h, caller, NS_ERR_DEAD_OBJECT);
    }
}

/* ---- faults from outside IPC ---- */

void ipc_fault_or_stop(struct hart *h, struct thread *t, uint64_t kind, uint64_t addr, uint64_t aux)
{
    if (!ipc_deliver_fault(h, t, kind, addr, aux)) {
        kprintf("thread %s: memory-object fault %lu at %#lx (error %lu), no fault handler\n",
                t->name, (unsigned long)kind, (unsigned long)addr, (unsigned long)aux);
        thread_stop(t, "unhandled memory-object fault");
    }
}

/* ---- objects ---- */

static void endpoint_destroy(struct kobj *obj)
{
    struct endpoint *ep = (struct endpoint *)obj;
    struct thread *t;
    while ((t = waitq_pop(&ep->head, &ep->tail)) != NULL)
        ipc_wake_error(sched_this_hart(), t, NS_ERR_DEAD_OBJECT);
    obj_retire(&endpoint_cache, obj);
}

void ipc_types_init(void)
{
    static const struct kobj_type_ops ep_ops = {.destroy = endpoint_destroy};
    kobj_register_type(NS_CAP_ENDPOINT, &ep_ops);
    notification_types_init();
}

enum ns_error sys_endpoint_create(struct thread *self, uint64_t bank, uint64_t dst)
{
    struct obj_create c;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e != NS_OK)
        return e;
    struct endpoint *ep;
    e = obj_create_alloc(&c, &endpoint_cache, NS_CAP_ENDPOINT, (void **)&ep);
    if (e != NS_OK)
        return e;
    ep->head = ep->tail = NULL;
    ep->receivers = false;
    obj_create_install(&c, ep, NS_RIGHTS_ALL);
    return NS_OK;
}

enum ns_error sys_thread_set_ipc_buffer(struct thread *self, uint64_t slot, uint64_t va)
{
    struct cap_slot *c;
    enum ns_error e = obj_lookup(self, slot, NS_CAP_THREAD, NS_RIGHT_WRITE, &c);
    if (e != NS_OK)
        return e;
    if (va && ((va & (PAGE_SIZE - 1)) || va < PAGE_SIZE || !user_range_ok(va, PAGE_SIZE)))
        return NS_ERR_BAD_ADDRESS;
    ((struct thread *)c->obj)->ipc_buffer = va;
    return NS_OK;
}

enum ns_error sys_thread_set_fault_handler(struct thread *self, uint64_t slot, uint64_t ep)
{
    struct cap_slot *c, *epc = NULL;
    enum ns_error e = obj_lookup(self, slot, NS_CAP_THREAD, NS_RIGHT_WRITE, &c);
    if (e == NS_OK && ep)
        e = obj_lookup(self, ep, NS_CAP_ENDPOINT, NS_RIGHT_WRITE, &epc);
    if (e != NS_OK)
        return e;
    struct thread *t = (struct thread *)c->obj;
    cap_slot_delete(&t->fault_cap);
    if (epc)
        cap_slot_derive(epc, &t->fault_cap, epc->rights, epc->badge);
    return NS_OK;
}

/* ---- fast paths ----
 *
 * The two calls a client-server exchange is made of - a client's call that
 * finds the server waiting, and the server's reply-and-receive that finds
 * no other client queued - move a register-only message (at most 4 words,
 * no capabilities) and switch straight to the partner, without the general
 * decode, the destruction bracket or the scheduler's queues. Anything else
 * - a longer message, capabilities, a fault reply, a partner that cannot run
 * or must not run yet - returns here and takes the general path, which
 * gives the same results. */

static bool fast_message(uint64_t info)
{
    return NS_MSG_LEN(info) <= NS_MSG_REG_WORDS && NS_MSG_CAPS(info) == 0;
}

static void fast_transfer(const unsigned long *from, unsigned long *to, uint64_t badge)
{
    uint64_t info = from[R_A1];
    unsigned len = (unsigned)NS_MSG_LEN(info);
    to[R_A0] = NS_OK;
    to[R_A1] = NS_MSG_INFO(NS_MSG_LABEL(info), len, 0);
    for (unsigned i = 0; i < NS_MSG_REG_WORDS; i++)
        to[R_A2 + i] = i < len ? from[R_A2 + i] : 0;
    to[R_A6] = badge;
}

static struct cap_slot *fast_cap(struct thread *t, uint64_t slot, uint32_t rights)
{
    if (slot >= t->cs->cs.nslots)
        return NULL;
    struct cap_slot *c = &t->cs->cs.slots[slot];
    if (c->type != NS_CAP_ENDPOINT || (c->rights & rights) != rights || cap_slot_stale(c))
        return NULL;
    return c;
}

void ipc_fastpath_call(struct hart *h, struct thread *t)
{
    unsigned long *r = t->ctx.regs;
    if (!fast_message(r[R_A1]))
        return;
    struct cap_slot *c = fast_cap(t, r[R_A0], NS_RIGHT_WRITE);
    if (!c)
        return;
    struct endpoint *ep = (struct endpoint *)c->obj;
    struct thread *recv = ep->head;
    /* The server must be waiting, owe nobody a reply, be allowed to run,
     * and not rank below us (then the scheduler would have to choose). */
    if (!recv || !ep->receivers || recv->reply_to || recv->prio < t->prio || recv->home != h ||
        !thread_can_run(recv))
        return;

    waitq_remove(&ep->head, &ep->tail, recv);
    fast_transfer(r, recv->ctx.regs, c->badge);
    recv->ipc_op = IPC_NONE;
    recv->ipc_obj = NULL;
    recv->reply_to = t;
    recv->reply_gen = t->obj.gen;
    t->replier = recv;
    t->ipc_op = IPC_REPLY_WAIT;
    t->ipc_obj = NULL;
    t->ipc_fault = false;
    t->state = THREAD_BLOCKED;
    sched_switch_to(h, recv);
}

void ipc_fastpath_reply_recv(struct hart *h, struct thread *t)
{
    unsigned long *r = t->ctx.regs;
    struct thread *caller = t->reply_to;
    /* Cheapest refusals first: a slow case should lose little here. */
    if (!caller || !fast_message(r[R_A1]) || caller->obj.gen != t->reply_gen ||
        caller->ipc_op != IPC_REPLY_WAIT || caller->replier != t)
        return;
    /* A fault reply: only a plain resume is fast (no new pc or sp). */
    if (caller->ipc_fault && (NS_MSG_LABEL(r[R_A1]) != NS_FAULT_RESUME || NS_MSG_LEN(r[R_A1]) != 0))
        return;
    struct cap_slot *c = fast_cap(t, r[R_A0], NS_RIGHT_READ);
    if (!c)
        return;
    struct endpoint *ep = (struct endpoint *)c->obj;
    /* We must be about to block (no client queued), and the caller must be
     * the most urgent thing to run once we do, and able to run. */
    if ((ep->head && !ep->receivers) || caller->home != h ||
        sched_ready_above(sched_of(h), caller->prio) || !thread_can_run(caller))
        return;

    t->reply_to = NULL;
    if (caller->ipc_fault)
        caller->ipc_fault = false; /* resumes where it faulted, registers untouched */
    else
        fast_transfer(r, caller->ctx.regs, 0);
    caller->replier = NULL;
    caller->ipc_op = IPC_NONE;
    t->state = THREAD_BLOCKED;
    t->ipc_op = IPC_RECV;
    t->ipc_obj = ep;
    if (!ep->head)
        ep->receivers = true;
    waitq_push(&ep->head, &ep->tail, t);
    sched_switch_to(h, caller);
}
