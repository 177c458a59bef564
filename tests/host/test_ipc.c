/* Host tests for kernel/core/ipc.c.
 *
 * The real IPC code runs with the real capability, object and bank code
 * behind the fake kernel of fake_kernel.c (scheduler, kcache, thread and
 * space objects). Every test drives the entry points the way user space
 * and the trap code do - a0 = slot, a1 = info, a2..a5 = words in the
 * calling thread's saved registers, then sys_send/sys_recv/... - and reads
 * the results back from the registers (a0 = error, a1 = info, a2..a5 =
 * words, a6 = badge), from the thread states and from the run queue the
 * fake records.
 *
 * Tests of bugs found in ipc.c and not fixed yet call KNOWN_BUG first:
 * they are skipped unless NEWSYS_KNOWN_BUGS=1 is set, so the suite stays
 * green while the failing case stays written down and runnable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_kernel.h"
#include "kernel/arch/riscv/layout.h"

enum { A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14, A5 = 15, A6 = 16, SP = 2 };

#define H          (fk_hart())
#define MSG(lb, n) NS_MSG_INFO((lb), (n), 0)

#define KNOWN_BUG(why)                                                                             \
    do {                                                                                           \
        if (!getenv("NEWSYS_KNOWN_BUGS")) {                                                        \
            print_message("[  SKIPPED ] known bug: %s\n", why);                                    \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- world ------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    fk_init();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsigned errors = fk_errors();
    if (errors)
        print_error("fake kernel: %s\n", fk_first_error());
    uint64_t leaked = fk_fini();
    assert_int_equal(errors, 0);
    assert_int_equal(leaked, 0);
    return 0;
}

/* ---- system calls as user space makes them ------------------------------ */

static unsigned long reg(const struct thread *t, int r)
{
    return t->ctx.regs[r];
}

static void put(struct thread *t, uint64_t slot, uint64_t info, uint64_t w0, uint64_t w1,
                uint64_t w2, uint64_t w3)
{
    t->ctx.regs[A0] = slot;
    t->ctx.regs[A1] = info;
    t->ctx.regs[A2] = w0;
    t->ctx.regs[A3] = w1;
    t->ctx.regs[A4] = w2;
    t->ctx.regs[A5] = w3;
}

static void u_send(struct thread *t, uint64_t slot, uint64_t info, uint64_t w0, uint64_t w1,
                   uint64_t w2, uint64_t w3)
{
    put(t, slot, info, w0, w1, w2, w3);
    sys_send(H, t, false);
}

static void u_call(struct thread *t, uint64_t slot, uint64_t info, uint64_t w0, uint64_t w1,
                   uint64_t w2, uint64_t w3)
{
    put(t, slot, info, w0, w1, w2, w3);
    sys_send(H, t, true);
}

static void u_recv(struct thread *t, uint64_t slot)
{
    t->ctx.regs[A0] = slot;
    sys_recv(H, t);
}

static void u_reply(struct thread *t, uint64_t info, uint64_t w0, uint64_t w1, uint64_t w2,
                    uint64_t w3)
{
    put(t, 0, info, w0, w1, w2, w3);
    sys_reply(H, t, false);
}

static void u_reply_recv(struct thread *t, uint64_t slot, uint64_t info, uint64_t w0, uint64_t w1,
                         uint64_t w2, uint64_t w3)
{
    put(t, slot, info, w0, w1, w2, w3);
    sys_reply(H, t, true);
}

static void u_signal(struct thread *t, uint64_t slot)
{
    t->ctx.regs[A0] = slot;
    sys_signal(H, t);
}

static void u_wait(struct thread *t, uint64_t slot, bool block)
{
    t->ctx.regs[A0] = slot;
    sys_wait(H, t, block);
}

/* The trap code's order for NS_SYS_CALL and NS_SYS_REPLY_RECV: the fast
 * path first; true if it switched (the general path must then not run). */
static bool fast_call(struct thread *t)
{
    fk_set_current(t);
    if (setjmp(*fk_switch_env()) == 0) {
        ipc_fastpath_call(H, t);
        fk_set_current(NULL);
        return false;
    }
    return true;
}

static bool fast_reply_recv(struct thread *t)
{
    fk_set_current(t);
    if (setjmp(*fk_switch_env()) == 0) {
        ipc_fastpath_reply_recv(H, t);
        fk_set_current(NULL);
        return false;
    }
    return true;
}

/* ---- checks --------------------------------------------------------------- */

static void assert_runnable(const struct thread *t)
{
    assert_int_equal(t->state, THREAD_RUNNABLE);
    assert_int_equal(t->ipc_op, IPC_NONE);
    assert_null(t->ipc_obj);
    assert_null(t->q_next);
    assert_null(t->q_prev);
    assert_int_equal(fk_on_runq(t), 1);
}

static void assert_blocked(const struct thread *t, enum ipc_op op, const void *obj)
{
    assert_int_equal(t->state, THREAD_BLOCKED);
    assert_int_equal(t->ipc_op, op);
    assert_ptr_equal(t->ipc_obj, obj);
    assert_int_equal(fk_on_runq(t), 0);
}

static void assert_reply_wait(const struct thread *caller, const struct thread *server)
{
    assert_blocked(caller, IPC_REPLY_WAIT, NULL);
    assert_ptr_equal(caller->replier, server);
    assert_ptr_equal(server->reply_to, caller);
    assert_int_equal(server->reply_gen, caller->obj.gen);
}

/* The thread's system call completed with this message. */
static void assert_got(const struct thread *t, uint64_t info, uint64_t w0, uint64_t w1, uint64_t w2,
                       uint64_t w3, uint64_t badge)
{
    assert_int_equal(reg(t, A0), NS_OK);
    assert_int_equal(reg(t, A1), info);
    assert_int_equal(reg(t, A2), w0);
    assert_int_equal(reg(t, A3), w1);
    assert_int_equal(reg(t, A4), w2);
    assert_int_equal(reg(t, A5), w3);
    assert_int_equal(reg(t, A6), badge);
}

static void assert_queue_(const struct endpoint *ep, bool receivers, struct thread *const *want,
                          size_t n)
{
    const struct thread *prev = NULL, *t = ep->head;
    for (size_t i = 0; i < n; i++, prev = t, t = t->q_next) {
        assert_ptr_equal(t, want[i]);
        assert_ptr_equal(t->q_prev, prev);
        assert_ptr_equal(t->ipc_obj, ep);
    }
    assert_null(t);
    assert_ptr_equal(ep->tail, prev);
    if (n)
        assert_int_equal(ep->receivers, receivers);
}
#define assert_queue(ep, recv, ...)                                                                \
    assert_queue_((ep), (recv), (struct thread *const[]){__VA_ARGS__},                             \
                  sizeof((struct thread *const[]){__VA_ARGS__}) / sizeof(struct thread *))
#define assert_queue_empty(ep)                                                                     \
    do {                                                                                           \
        assert_null((ep)->head);                                                                   \
        assert_null((ep)->tail);                                                                   \
    } while (0)

static struct cap_slot *slot_of(struct thread *t, uint32_t i)
{
    return &t->cs->cs.slots[i];
}

/* ---- a server and a client ------------------------------------------------ */

enum { EP = 1 };   /* the endpoint slot in both */
#define BADGE 0x55 /* the client's badge */

static struct thread *S, *C;

static void pair(void)
{
    S = fk_thread("server", 32, true);
    C = fk_thread("client", 32, true);
    assert_int_equal(fk_endpoint(S, EP), NS_OK);
    assert_int_equal(fk_give(S, EP, C, EP, NS_RIGHT_WRITE | NS_RIGHT_GRANT, BADGE), NS_OK);
}

/* A client with its own copy of S's endpoint. */
static struct thread *client(const char *name, uint64_t badge)
{
    struct thread *t = fk_thread(name, 32, true);
    assert_int_equal(fk_give(S, EP, t, EP, NS_RIGHTS_ALL, badge), NS_OK);
    return t;
}

/* ---- a thread whose faults S handles ------------------------------------- */

static struct thread *F;
enum { FSLOT = 6 }; /* S's badged copy of its endpoint, for faults */
#define FBADGE 0x99

/* A thread whose faults go to S's endpoint (S holds a capability to it in
 * `tslot`), with recognisable registers. */
static struct thread *faulter(const char *name, uint32_t tslot)
{
    struct thread *f = fk_thread(name, 8, true);
    fk_give_thread_cap(S, tslot, f);
    assert_int_equal(sys_thread_set_fault_handler(S, tslot, FSLOT), NS_OK);
    assert_int_equal(f->fault_cap.type, NS_CAP_ENDPOINT);
    assert_int_equal(f->fault_cap.badge, FBADGE);
    for (int i = 1; i < 32; i++)
        f->ctx.regs[i] = 0xf000 + (uint64_t)i;
    f->ctx.sepc = 0x4000;
    return f;
}

static void fault_world(void)
{
    pair();
    assert_int_equal(fk_give(S, EP, S, FSLOT, NS_RIGHT_WRITE, FBADGE), NS_OK);
    F = faulter("faulter", 5);
}

/* f's registers are what faulter() set, but for pc and sp. */
static void assert_regs(const struct thread *f, uint64_t pc, uint64_t sp)
{
    assert_int_equal(f->ctx.sepc, pc);
    for (int i = 1; i < 32; i++)
        assert_int_equal(f->ctx.regs[i], i == SP ? sp : 0xf000 + (uint64_t)i);
}
#define assert_f_regs(pc, sp) assert_regs(F, (pc), (sp))

/* ---- rendezvous ------------------------------------------------------------ */

static void test_rendezvous_receiver_first(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    u_recv(S, EP);
    assert_blocked(S, IPC_RECV, ep);
    assert_queue(ep, true, S);

    u_send(C, EP, MSG(7, 3), 11, 22, 33, 44);
    assert_int_equal(reg(C, A0), NS_OK);
    assert_runnable(C);
    assert_runnable(S);
    assert_got(S, MSG(7, 3), 11, 22, 33, 0, BADGE); /* word 3 was not sent */
    assert_queue_empty(ep);
    assert_null(S->reply_to); /* a send leaves no reply to owe */
}

static void test_rendezvous_sender_first(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    u_send(C, EP, MSG(0x123456789, 4), 1, 2, 3, 4);
    assert_blocked(C, IPC_SEND, ep);
    assert_queue(ep, false, C);

    u_recv(S, EP);
    assert_runnable(S); /* never blocked */
    assert_got(S, MSG(0x123456789, 4), 1, 2, 3, 4, BADGE);
    assert_runnable(C);
    assert_int_equal(reg(C, A0), NS_OK);
    assert_queue_empty(ep);
}

static void test_fifo_senders(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    struct thread *c1 = client("c1", 1), *c2 = client("c2", 2), *c3 = client("c3", 3);
    u_send(c1, EP, MSG(1, 1), 101, 0, 0, 0);
    u_call(c2, EP, MSG(2, 1), 102, 0, 0, 0);
    u_send(c3, EP, MSG(3, 1), 103, 0, 0, 0);
    assert_queue(ep, false, c1, c2, c3);
    assert_blocked(c2, IPC_CALL, ep);

    u_recv(S, EP);
    assert_got(S, MSG(1, 1), 101, 0, 0, 0, 1);
    assert_runnable(c1);
    assert_queue(ep, false, c2, c3);
    u_recv(S, EP);
    assert_got(S, MSG(2, 1), 102, 0, 0, 0, 2);
    assert_reply_wait(c2, S);
    assert_queue(ep, false, c3);
    u_recv(S, EP);
    assert_got(S, MSG(3, 1), 103, 0, 0, 0, 3);
    assert_runnable(c3);
    assert_queue_empty(ep);
    /* The receive of c3's send did not cancel the reply S owes c2. */
    assert_reply_wait(c2, S);
}

static void test_fifo_receivers(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    struct thread *r1 = client("r1", 0), *r2 = client("r2", 0), *r3 = client("r3", 0);
    u_recv(r1, EP);
    u_recv(r2, EP);
    u_recv(r3, EP);
    assert_queue(ep, true, r1, r2, r3);
    size_t before = fk_runq_len();

    u_send(C, EP, MSG(0, 1), 1, 0, 0, 0);
    u_send(C, EP, MSG(0, 1), 2, 0, 0, 0);
    assert_queue(ep, true, r3);
    u_send(C, EP, MSG(0, 1), 3, 0, 0, 0);
    assert_queue_empty(ep);
    assert_got(r1, MSG(0, 1), 1, 0, 0, 0, BADGE);
    assert_got(r2, MSG(0, 1), 2, 0, 0, 0, BADGE);
    assert_got(r3, MSG(0, 1), 3, 0, 0, 0, BADGE);
    /* Woken in that order. */
    assert_int_equal(fk_runq_len(), before + 3);
    assert_ptr_equal(fk_runq_at(before), r1);
    assert_ptr_equal(fk_runq_at(before + 1), r2);
    assert_ptr_equal(fk_runq_at(before + 2), r3);
}

/* ---- call and reply ------------------------------------------------------- */

static void test_call_reply_receiver_first(void **state)
{
    (void)state;
    pair();
    u_recv(S, EP);
    u_call(C, EP, MSG(9, 2), 5, 6, 0, 0);
    assert_reply_wait(C, S);
    assert_runnable(S);
    assert_got(S, MSG(9, 2), 5, 6, 0, 0, BADGE);

    u_reply(S, MSG(1, 2), 7, 8, 0, 0);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_runnable(C);
    assert_got(C, MSG(1, 2), 7, 8, 0, 0, 0); /* a reply carries no badge */
    assert_null(S->reply_to);
    assert_null(C->replier);

    /* The reply right was one-shot. */
    u_reply(S, MSG(2, 1), 9, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_REPLY_USED);
    assert_got(C, MSG(1, 2), 7, 8, 0, 0, 0);
    assert_runnable(C);
}

static void test_call_reply_sender_first(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    u_call(C, EP, MSG(9, 1), 5, 0, 0, 0);
    assert_blocked(C, IPC_CALL, ep);
    assert_null(S->reply_to);
    u_recv(S, EP);
    assert_got(S, MSG(9, 1), 5, 0, 0, 0, BADGE);
    assert_reply_wait(C, S);
    assert_queue_empty(ep);

    u_reply(S, MSG(3, 4), 1, 2, 3, 4);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_got(C, MSG(3, 4), 1, 2, 3, 4, 0);
    assert_runnable(C);
}

static void test_reply_without_caller(void **state)
{
    (void)state;
    pair();
    u_reply(S, MSG(0, 0), 0, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_REPLY_USED);
    assert_runnable(S);
}

static void test_reply_recv(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    struct thread *c2 = client("c2", 2);
    u_recv(S, EP);
    u_call(C, EP, MSG(1, 1), 10, 0, 0, 0);
    u_call(c2, EP, MSG(2, 1), 20, 0, 0, 0);
    assert_reply_wait(C, S);
    assert_queue(ep, false, c2);

    /* Reply to C, and find c2 queued: no blocking. */
    u_reply_recv(S, EP, MSG(11, 1), 100, 0, 0, 0);
    assert_got(C, MSG(11, 1), 100, 0, 0, 0, 0);
    assert_runnable(C);
    assert_runnable(S);
    assert_got(S, MSG(2, 1), 20, 0, 0, 0, 2);
    assert_reply_wait(c2, S);

    /* Reply to c2 with nobody queued: S waits. */
    u_reply_recv(S, EP, MSG(12, 0), 0, 0, 0, 0);
    assert_got(c2, MSG(12, 0), 0, 0, 0, 0, 0);
    assert_blocked(S, IPC_RECV, ep);
    assert_queue(ep, true, S);
    assert_null(S->reply_to);

    /* A server with nobody to reply to still receives. */
    u_send(C, EP, MSG(5, 1), 55, 0, 0, 0);
    assert_got(S, MSG(5, 1), 55, 0, 0, 0, BADGE);
    u_reply_recv(S, EP, MSG(0, 0), 0, 0, 0, 0);
    assert_blocked(S, IPC_RECV, ep);
}

/* ---- long messages ------------------------------------------------------- */

static void fill(struct ns_ipc_buffer *b, uint64_t base)
{
    for (unsigned i = 0; i < NS_MSG_MAX_WORDS; i++)
        b->mr[i] = base + i;
}

static void test_long_message(void **state)
{
    (void)state;
    pair();
    struct ns_ipc_buffer *cb = fk_ipc_buffer(C), *sb = fk_ipc_buffer(S);
    assert_non_null(cb);
    fill(cb, 1000);
    memset(sb, 0xaa, sizeof(*sb));

    u_recv(S, EP);
    u_send(C, EP, MSG(3, 64), 1, 2, 3, 4);
    assert_got(S, MSG(3, 64), 1, 2, 3, 4, BADGE);
    for (unsigned i = 0; i < NS_MSG_REG_WORDS; i++)
        assert_int_equal(sb->mr[i], 0xaaaaaaaaaaaaaaaaull); /* register words only */
    for (unsigned i = NS_MSG_REG_WORDS; i < NS_MSG_MAX_WORDS; i++)
        assert_int_equal(sb->mr[i], 1000 + i);

    /* Exactly five words: word 4 and nothing after it. */
    memset(sb, 0xaa, sizeof(*sb));
    u_send(C, EP, MSG(4, 5), 1, 2, 3, 4);
    u_recv(S, EP);
    assert_got(S, MSG(4, 5), 1, 2, 3, 4, BADGE);
    assert_int_equal(sb->mr[4], 1004);
    assert_int_equal(sb->mr[5], 0xaaaaaaaaaaaaaaaaull);

    /* A receiver without a buffer gets the register words and is told so. */
    struct thread *nob = fk_thread("nobuf", 8, false);
    assert_int_equal(fk_give(S, EP, nob, EP, NS_RIGHT_READ, 0), NS_OK);
    u_recv(nob, EP);
    u_send(C, EP, MSG(5, 40), 1, 2, 3, 4);
    assert_got(nob, MSG(5, 4), 1, 2, 3, 4, BADGE);

    /* A receiver whose buffer page is read-only gets the same. */
    struct thread *ro = fk_thread("robuf", 8, false);
    struct ns_ipc_buffer *rb = fk_map(ro, FK_IPC_VA, false);
    ro->ipc_buffer = FK_IPC_VA;
    assert_int_equal(fk_give(S, EP, ro, EP, NS_RIGHT_READ, 0), NS_OK);
    u_recv(ro, EP);
    u_send(C, EP, MSG(6, 10), 1, 2, 3, 4);
    assert_got(ro, MSG(6, 4), 1, 2, 3, 4, BADGE);
    assert_int_equal(rb->mr[4], 0);

    /* Long replies go through the buffers too. */
    fill(sb, 5000);
    memset(cb, 0, sizeof(*cb));
    u_recv(S, EP);
    u_call(C, EP, MSG(1, 0), 0, 0, 0, 0);
    u_reply(S, MSG(2, 10), 9, 8, 7, 6);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_got(C, MSG(2, 10), 9, 8, 7, 6, 0);
    for (unsigned i = 4; i < 10; i++)
        assert_int_equal(cb->mr[i], 5000 + i);
    assert_int_equal(cb->mr[10], 0);
}

static void test_set_ipc_buffer(void **state)
{
    (void)state;
    pair();
    fk_give_thread_cap(S, 5, C);
    assert_int_equal(sys_thread_set_ipc_buffer(S, 5, 0x20000008), NS_ERR_BAD_ADDRESS);
    assert_int_equal(sys_thread_set_ipc_buffer(S, 5, 0), NS_OK); /* none */
    assert_int_equal(C->ipc_buffer, 0);
    assert_int_equal(sys_thread_set_ipc_buffer(S, 5, USER_TOP), NS_ERR_BAD_ADDRESS);
    assert_int_equal(sys_thread_set_ipc_buffer(S, 5, USER_TOP - PAGE_SIZE), NS_OK);
    assert_int_equal(sys_thread_set_ipc_buffer(S, EP, 0x20000000), NS_ERR_WRONG_TYPE);

    /* Registered but not mapped: a long message cannot be sent. */
    assert_int_equal(sys_thread_set_ipc_buffer(S, 5, 0x20000000), NS_OK);
    assert_int_equal(C->ipc_buffer, 0x20000000);
    u_send(C, EP, MSG(0, 5), 0, 0, 0, 0);
    assert_int_equal(reg(C, A0), NS_ERR_BAD_ADDRESS);
    assert_runnable(C);
    fk_map(C, 0x20000000, true);
    u_recv(S, EP);
    u_send(C, EP, MSG(0, 5), 0, 0, 0, 0);
    assert_int_equal(reg(C, A0), NS_OK);
    assert_int_equal(NS_MSG_LEN(reg(S, A1)), 5);
}

/* ---- capability transfer ------------------------------------------------- */

/* C holds in slots 2..5: a notification, an endpoint, a badged copy of
 * the notification, and a read-only copy of the endpoint. */
static void cap_world(void)
{
    pair();
    assert_int_equal(fk_notification(C, 2), NS_OK);
    assert_int_equal(fk_endpoint(C, 3), NS_OK);
    assert_int_equal(fk_give(C, 2, C, 4, NS_RIGHT_WRITE, 0x7), NS_OK);
    assert_int_equal(fk_give(C, 3, C, 5, NS_RIGHT_READ, 0), NS_OK);
    struct ns_ipc_buffer *cb = fk_ipc_buffer(C), *sb = fk_ipc_buffer(S);
    for (unsigned i = 0; i < NS_MSG_MAX_CAPS; i++) {
        cb->send_caps[i] = 2 + i;
        sb->recv_slots[i] = 10 + i;
    }
    sb->recv_count = NS_MSG_MAX_CAPS;
}

static void assert_derived(struct thread *to, uint32_t d, struct thread *from, uint32_t s)
{
    struct cap_slot *ds = slot_of(to, d), *ss = slot_of(from, s);
    assert_int_equal(ds->type, ss->type);
    assert_ptr_equal(ds->obj, ss->obj);
    assert_int_equal(ds->rights, ss->rights);
    assert_int_equal(ds->badge, ss->badge);
    assert_ptr_equal(ds->cdt_parent, ss); /* derived: a revoke of the source reaches it */
}

static void test_cap_transfer(void **state)
{
    (void)state;
    cap_world();
    uint32_t ntfn_caps = slot_of(C, 2)->obj->caps;
    u_recv(S, EP);
    u_send(C, EP, NS_MSG_INFO(1, 0, 4), 0, 0, 0, 0);
    assert_int_equal(reg(C, A0), NS_OK);
    assert_got(S, NS_MSG_INFO(1, 0, 4), 0, 0, 0, 0, BADGE);
    for (unsigned i = 0; i < 4; i++)
        assert_derived(S, 10 + i, C, 2 + i);
    assert_int_equal(slot_of(C, 2)->obj->caps, ntfn_caps + 2);
    assert_int_equal(slot_of(S, 12)->badge, 0x7);
    assert_int_equal(slot_of(S, 13)->rights, NS_RIGHT_READ);
    /* The sender keeps its capabilities. */
    assert_int_equal(slot_of(C, 2)->type, NS_CAP_NOTIFICATION);

    /* The receiver can use them. */
    u_signal(S, 12);
    assert_int_equal(reg(S, A0), NS_OK);
    u_wait(C, 2, false);
    assert_int_equal(reg(C, A1), 0x7);

    /* Revoking the sender's notification reaches both copies S got. */
    assert_int_equal(cap_revoke(&C->cs->cs, 2), NS_OK);
    assert_true(slot_of(S, 10)->revoked);
    assert_true(slot_of(S, 12)->revoked);
    assert_int_equal(slot_of(S, 11)->type, NS_CAP_ENDPOINT);
}

static void test_cap_transfer_limits(void **state)
{
    (void)state;
    cap_world();
    struct endpoint *ep = fk_ep(S, EP);
    struct ns_ipc_buffer *sb = fk_ipc_buffer(S), *cb = fk_ipc_buffer(C);

    /* More than four: refused before anything moves. */
    u_recv(S, EP);
    u_send(C, EP, NS_MSG_INFO(1, 0, 5), 0, 0, 0, 0);
    assert_int_equal(reg(C, A0), NS_ERR_TOO_MANY_CAPS);
    u_send(C, EP, NS_MSG_INFO(1, 0, 7), 0, 0, 0, 0);
    assert_int_equal(reg(C, A0), NS_ERR_TOO_MANY_CAPS);
    assert_queue(ep, true, S);

    /* Fewer receive slots: fewer capabilities, and the info says so. */
    sb->recv_count = 1;
    u_send(C, EP, NS_MSG_INFO(1, 2, 3), 8, 9, 0, 0);
    assert_int_equal(reg(C, A0), NS_OK);
    assert_got(S, NS_MSG_INFO(1, 2, 1), 8, 9, 0, 0, BADGE);
    assert_derived(S, 10, C, 2);
    assert_int_equal(slot_of(S, 11)->type, NS_CAP_NULL);

    /* An occupied receive slot stops the transfer there. */
    sb->recv_count = 4;
    sb->recv_slots[0] = 20;
    sb->recv_slots[1] = 11;
    sb->recv_slots[2] = 10; /* occupied by the capability received above */
    sb->recv_slots[3] = 21;
    u_recv(S, EP);
    u_send(C, EP, NS_MSG_INFO(1, 0, 4), 0, 0, 0, 0);
    assert_got(S, NS_MSG_INFO(1, 0, 2), 0, 0, 0, 0, BADGE);
    assert_derived(S, 20, C, 2);
    assert_derived(S, 11, C, 3);
    assert_int_equal(slot_of(S, 21)->type, NS_CAP_NULL);

    /* So does an empty or out-of-range send slot, or a receive slot
     * outside the receiver's space. */
    cb->send_caps[0] = 3;
    cb->send_caps[1] = 30; /* empty */
    sb->recv_slots[0] = 22;
    sb->recv_slots[1] = 23;
    u_recv(S, EP);
    u_send(C, EP, NS_MSG_INFO(1, 0, 2), 0, 0, 0, 0);
    assert_got(S, NS_MSG_INFO(1, 0, 1), 0, 0, 0, 0, BADGE);
    assert_int_equal(slot_of(S, 23)->type, NS_CAP_NULL);
    cb->send_caps[0] = 1000;
    u_recv(S, EP);
    u_send(C, EP, NS_MSG_INFO(1, 0, 1), 0, 0, 0, 0);
    assert_got(S, NS_MSG_INFO(1, 0, 0), 0, 0, 0, 0, BADGE);
    cb->send_caps[0] = 3;
    sb->recv_slots[0] = 1000;
    u_recv(S, EP);
    u_send(C, EP, NS_MSG_INFO(1, 0, 1), 0, 0, 0, 0);
    assert_got(S, NS_MSG_INFO(1, 0, 0), 0, 0, 0, 0, BADGE);

    /* A receiver without a buffer gets none. */
    struct thread *nob = fk_thread("nobuf", 8, false);
    assert_int_equal(fk_give(S, EP, nob, EP, NS_RIGHT_READ, 0), NS_OK);
    u_recv(nob, EP);
    u_send(C, EP, NS_MSG_INFO(1, 1, 2), 4, 0, 0, 0);
    assert_got(nob, NS_MSG_INFO(1, 1, 0), 4, 0, 0, 0, BADGE);
    for (unsigned i = 1; i < 8; i++)
        assert_int_equal(slot_of(nob, i)->type, i == EP ? NS_CAP_ENDPOINT : NS_CAP_NULL);
}

static void test_cap_transfer_needs_grant(void **state)
{
    (void)state;
    cap_world();
    /* Slot 6: the endpoint without GRANT. */
    assert_int_equal(fk_give(C, EP, C, 6, NS_RIGHT_WRITE, 0), NS_OK);
    u_recv(S, EP);
    u_send(C, 6, NS_MSG_INFO(1, 0, 1), 0, 0, 0, 0);
    assert_int_equal(reg(C, A0), NS_ERR_NO_RIGHTS);
    assert_runnable(C);
    /* Without capabilities that capability is fine. */
    u_send(C, 6, NS_MSG_INFO(1, 0, 0), 0, 0, 0, 0);
    assert_int_equal(reg(C, A0), NS_OK);
    assert_got(S, NS_MSG_INFO(1, 0, 0), 0, 0, 0, 0, BADGE);
}

static void test_cap_transfer_in_reply(void **state)
{
    (void)state;
    cap_world();
    /* S replies with its own endpoint capability; C receives into 10. */
    struct ns_ipc_buffer *sb = fk_ipc_buffer(S), *cb = fk_ipc_buffer(C);
    sb->send_caps[0] = EP;
    cb->recv_slots[0] = 10;
    cb->recv_count = 1;
    u_recv(S, EP);
    u_call(C, EP, MSG(1, 0), 0, 0, 0, 0);
    u_reply(S, NS_MSG_INFO(2, 0, 1), 0, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_got(C, NS_MSG_INFO(2, 0, 1), 0, 0, 0, 0, 0);
    assert_derived(C, 10, S, EP);
    assert_int_equal(slot_of(C, 10)->rights, NS_RIGHTS_ALL);
}

/* ---- errors of the sending and receiving side ----------------------------- */

static void test_send_errors(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    assert_int_equal(fk_notification(C, 3), NS_OK);
    assert_int_equal(fk_give(S, EP, C, 4, NS_RIGHT_READ | NS_RIGHT_GRANT, 0), NS_OK);
    assert_int_equal(fk_give(S, EP, C, 5, NS_RIGHT_WRITE, 0), NS_OK);
    assert_int_equal(fk_give(S, EP, C, 6, NS_RIGHT_WRITE, 0), NS_OK);
    assert_int_equal(fk_give(C, 6, C, 7, NS_RIGHT_WRITE, 0), NS_OK);
    assert_int_equal(cap_revoke(&C->cs->cs, 6), NS_OK); /* 7 is a tombstone now */

    static const struct {
        uint64_t slot, info;
        enum ns_error want;
    } cases[] = {
        {2, MSG(0, 0), NS_ERR_EMPTY_SLOT},
        {32, MSG(0, 0), NS_ERR_INVALID_SLOT},
        {UINT64_MAX, MSG(0, 0), NS_ERR_INVALID_SLOT},
        {(1ull << 32) + EP, MSG(0, 0), NS_ERR_INVALID_SLOT}, /* no truncation to 32 bits */
        {3, MSG(0, 0), NS_ERR_WRONG_TYPE},
        {FK_SLOT_BANK, MSG(0, 0), NS_ERR_WRONG_TYPE},
        {4, MSG(0, 0), NS_ERR_NO_RIGHTS},
        {7, MSG(0, 0), NS_ERR_REVOKED},
        {EP, MSG(0, 65), NS_ERR_INVALID_ARG},
        {EP, MSG(0, 127), NS_ERR_INVALID_ARG},
        {EP, NS_MSG_INFO(0, 0, 5), NS_ERR_TOO_MANY_CAPS},
        {5, NS_MSG_INFO(0, 0, 1), NS_ERR_NO_RIGHTS}, /* capabilities need GRANT */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int call = 0; call < 2; call++) {
            put(C, cases[i].slot, cases[i].info, 1, 2, 3, 4);
            sys_send(H, C, call);
            assert_int_equal(reg(C, A0), cases[i].want);
            assert_runnable(C);
            assert_queue_empty(ep);
            assert_null(C->replier);
        }
    }

    /* Long messages and capabilities need an IPC buffer. */
    struct thread *nob = fk_thread("nobuf", 8, false);
    assert_int_equal(fk_give(S, EP, nob, EP, NS_RIGHTS_ALL, 0), NS_OK);
    u_send(nob, EP, MSG(0, 5), 0, 0, 0, 0);
    assert_int_equal(reg(nob, A0), NS_ERR_BAD_ADDRESS);
    u_call(nob, EP, NS_MSG_INFO(0, 0, 1), 0, 0, 0, 0);
    assert_int_equal(reg(nob, A0), NS_ERR_BAD_ADDRESS);
    u_send(nob, EP, MSG(0, 4), 0, 0, 0, 0); /* four words need none */
    assert_blocked(nob, IPC_SEND, ep);
}

static void test_recv_errors(void **state)
{
    (void)state;
    pair();
    assert_int_equal(fk_notification(C, 3), NS_OK);
    static const struct {
        uint64_t slot;
        enum ns_error want;
    } cases[] = {
        {2, NS_ERR_EMPTY_SLOT},
        {32, NS_ERR_INVALID_SLOT},
        {3, NS_ERR_WRONG_TYPE},
        {EP, NS_ERR_NO_RIGHTS}, /* C's copy is WRITE|GRANT */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        u_recv(C, cases[i].slot);
        assert_int_equal(reg(C, A0), cases[i].want);
        assert_runnable(C);
        /* reply-and-receive checks the receive slot before replying */
        put(C, cases[i].slot, MSG(0, 0), 0, 0, 0, 0);
        sys_reply(H, C, true);
        assert_int_equal(reg(C, A0), cases[i].want);
        assert_runnable(C);
    }
    assert_queue_empty(fk_ep(S, EP));
}

static void test_reply_errors_keep_the_reply(void **state)
{
    (void)state;
    pair();
    assert_int_equal(fk_notification(S, 3), NS_OK);
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    u_reply(S, MSG(0, 65), 0, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_INVALID_ARG);
    u_reply(S, NS_MSG_INFO(0, 0, 5), 0, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_TOO_MANY_CAPS);
    u_reply_recv(S, 3, MSG(0, 0), 0, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_WRONG_TYPE);
    u_reply_recv(S, 2, MSG(0, 0), 0, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_EMPTY_SLOT);
    assert_reply_wait(C, S);
    u_reply(S, MSG(4, 1), 44, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_got(C, MSG(4, 1), 44, 0, 0, 0, 0);
}

/* ---- destruction ---------------------------------------------------------- */

static void test_endpoint_destroyed_wakes_receivers(void **state)
{
    (void)state;
    pair();
    struct thread *r2 = client("r2", 0);
    u_recv(S, EP);
    u_recv(r2, EP);
    assert_int_equal(fk_cache_allocated("endpoint"), 1);
    assert_int_equal(cap_delete(&C->cs->cs, EP), NS_OK);
    assert_int_equal(cap_delete(&r2->cs->cs, EP), NS_OK);
    assert_blocked(S, IPC_RECV, fk_ep(S, EP)); /* S's capability keeps it */
    assert_int_equal(cap_delete(&S->cs->cs, EP), NS_OK);
    assert_int_equal(fk_cache_allocated("endpoint"), 0);
    assert_runnable(S);
    assert_runnable(r2);
    assert_int_equal(reg(S, A0), NS_ERR_DEAD_OBJECT);
    assert_int_equal(reg(r2, A0), NS_ERR_DEAD_OBJECT);
}

static void test_endpoint_destroyed_wakes_senders_stops_faults(void **state)
{
    (void)state;
    pair();
    struct thread *c2 = client("c2", 2);
    struct thread *f = fk_thread("faulter", 8, true);
    fk_give_thread_cap(S, 6, f);
    assert_int_equal(sys_thread_set_fault_handler(S, 6, EP), NS_OK);
    f->ctx.regs[A0] = 0xa0a0;

    u_send(C, EP, MSG(0, 0), 0, 0, 0, 0);
    u_call(c2, EP, MSG(0, 0), 0, 0, 0, 0);
    assert_true(ipc_deliver_fault(H, f, NS_FAULT_READ, 0x1000, 13));
    struct endpoint *ep = fk_ep(S, EP);
    assert_queue(ep, false, C, c2, f);
    assert_blocked(f, IPC_CALL, ep);

    /* Revoke takes every copy (the fault handler's too); then the last
     * capability goes. */
    assert_int_equal(cap_revoke(&S->cs->cs, EP), NS_OK);
    assert_int_equal(f->fault_cap.type, NS_CAP_NULL);
    assert_queue(ep, false, C, c2, f);
    unsigned stops = fk_stop_count();
    assert_int_equal(cap_delete(&S->cs->cs, EP), NS_OK);
    assert_int_equal(fk_cache_allocated("endpoint"), 0);
    assert_runnable(C);
    assert_runnable(c2);
    assert_int_equal(reg(C, A0), NS_ERR_DEAD_OBJECT);
    assert_int_equal(reg(c2, A0), NS_ERR_DEAD_OBJECT);
    assert_null(c2->replier);
    /* Nobody will ever handle that fault: the thread is stopped, with its
     * registers as they were. */
    assert_int_equal(fk_stop_count(), stops + 1);
    assert_ptr_equal(fk_last_stopped(), f);
    assert_int_equal(f->state, THREAD_STOPPED);
    assert_int_equal(fk_on_runq(f), 0);
    assert_int_equal(f->ipc_op, IPC_NONE);
    assert_false(f->ipc_fault);
    assert_int_equal(reg(f, A0), 0xa0a0);
}

static void test_server_destroyed_fails_caller(void **state)
{
    (void)state;
    pair();
    struct thread *c2 = client("c2", 2);
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    u_call(c2, EP, MSG(0, 0), 0, 0, 0, 0); /* queued: C and c2 keep the endpoint */
    assert_reply_wait(C, S);
    fk_thread_destroy(S);
    assert_runnable(C);
    assert_int_equal(reg(C, A0), NS_ERR_DEAD_OBJECT);
    assert_null(C->replier);
    assert_blocked(c2, IPC_CALL, fk_ep(c2, EP));
}

static void test_handler_destroyed_stops_faulter(void **state)
{
    (void)state;
    fault_world();
    struct thread *h2 = client("h2", 0); /* another thread serving S's endpoint */
    u_recv(h2, EP);
    assert_true(ipc_deliver_fault(H, F, NS_FAULT_EXEC, 0x3000, 12));
    assert_reply_wait(F, h2);
    unsigned stops = fk_stop_count();
    fk_thread_destroy(h2);
    assert_int_equal(fk_stop_count(), stops + 1);
    assert_ptr_equal(fk_last_stopped(), F);
    assert_int_equal(F->state, THREAD_STOPPED);
    assert_int_equal(F->ipc_op, IPC_NONE);
    assert_null(F->replier);
    assert_f_regs(0x4000, 0xf002);
}

static void test_queued_thread_destroyed(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    struct thread *c2 = client("c2", 2), *c3 = client("c3", 3);
    u_send(C, EP, MSG(0, 1), 1, 0, 0, 0);
    u_call(c2, EP, MSG(0, 1), 2, 0, 0, 0);
    u_send(c3, EP, MSG(0, 1), 3, 0, 0, 0);
    fk_thread_destroy(c2);
    assert_queue(ep, false, C, c3);
    u_recv(S, EP);
    assert_got(S, MSG(0, 1), 1, 0, 0, 0, BADGE);
    u_recv(S, EP);
    assert_got(S, MSG(0, 1), 3, 0, 0, 0, 3);
    u_recv(S, EP);
    assert_queue(ep, true, S);
    fk_thread_destroy(S); /* the queued receiver */
    assert_queue_empty(ep);
}

/* Bug: ipc_cancel()'s IPC_REPLY_WAIT case ("t->replier->reply_to =
 * NULL"), run by the destroy hook of a caller waiting for its reply,
 * clears the server's reply right; the server's reply then fails with
 * NS_ERR_REPLY_USED (do_reply's "if (!caller)"), not NS_ERR_DEAD_OBJECT as
 * ipc.h promises ("if either side dies, the other gets
 * NS_ERR_DEAD_OBJECT"). do_reply's own generation check would have said
 * so had the link been left alone. (A suspended caller gets the same:
 * test_cancel_reply_wait only asserts "not NS_OK".) */
static void test_caller_destroyed_reply_dead(void **state)
{
    (void)state;
    pair();
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    fk_thread_destroy(C);
    u_reply(S, MSG(0, 1), 1, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_DEAD_OBJECT);
    u_reply(S, MSG(0, 1), 1, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_ERR_REPLY_USED);
}

/* Whatever the error, a reply to a dead caller must not reach a new
 * thread that took its (type-stable) memory. */
static void test_caller_destroyed_memory_reused(void **state)
{
    (void)state;
    pair();
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    struct thread *old = C;
    fk_thread_destroy(C);
    struct thread *n = fk_thread("new", 8, true);
    assert_ptr_equal(n, old); /* the same memory, a new generation */
    n->ctx.regs[A0] = 0x1234;
    n->ctx.regs[A2] = 0x5678;
    u_reply(S, MSG(0, 1), 1, 0, 0, 0);
    assert_int_not_equal(reg(S, A0), NS_OK);
    assert_int_equal(reg(n, A0), 0x1234);
    assert_int_equal(reg(n, A2), 0x5678);
    assert_runnable(n);
    assert_null(n->replier);

    /* The same for a caller that dies while queued and is reborn before
     * the server receives. */
    struct thread *c2 = client("c2", 2);
    u_call(c2, EP, MSG(0, 0), 0, 0, 0, 0);
    fk_thread_destroy(c2);
    struct thread *m = fk_thread("m", 8, true);
    u_recv(S, EP);
    assert_blocked(S, IPC_RECV, fk_ep(S, EP));
    assert_runnable(m);
}

static void test_new_call_fails_owed_reply(void **state)
{
    (void)state;
    pair();
    struct thread *c2 = client("c2", 2), *c3 = client("c3", 3), *c4 = client("c4", 4);
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    assert_reply_wait(C, S);

    /* A plain send does not disturb the reply S owes. */
    u_recv(S, EP);
    u_send(c3, EP, MSG(0, 1), 3, 0, 0, 0);
    assert_got(S, MSG(0, 1), 3, 0, 0, 0, 3);
    assert_reply_wait(C, S);

    /* A new call (receiver first) does: C learns its reply is gone. */
    u_recv(S, EP);
    u_call(c2, EP, MSG(0, 1), 2, 0, 0, 0);
    assert_runnable(C);
    assert_int_equal(reg(C, A0), NS_ERR_DEAD_OBJECT);
    assert_null(C->replier);
    assert_reply_wait(c2, S);

    /* And sender first. */
    u_call(c4, EP, MSG(0, 1), 4, 0, 0, 0);
    u_recv(S, EP);
    assert_runnable(c2);
    assert_int_equal(reg(c2, A0), NS_ERR_DEAD_OBJECT);
    assert_reply_wait(c4, S);
    u_reply(S, MSG(0, 0), 0, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_runnable(c4);
}

/* ---- cancel (suspend) ----------------------------------------------------- */

static void assert_cancelled(const struct thread *t)
{
    assert_int_equal(t->state, THREAD_SUSPENDED);
    assert_int_equal(t->ipc_op, IPC_NONE);
    assert_null(t->ipc_obj);
    assert_null(t->q_next);
    assert_null(t->q_prev);
    assert_int_equal(reg(t, A0), NS_ERR_BAD_STATE);
    assert_int_equal(fk_on_runq(t), 0);
}

static void test_cancel_queued(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    struct thread *c2 = client("c2", 2), *c3 = client("c3", 3);
    u_send(C, EP, MSG(0, 1), 1, 0, 0, 0);
    u_call(c2, EP, MSG(0, 1), 2, 0, 0, 0);
    u_send(c3, EP, MSG(0, 1), 3, 0, 0, 0);

    fk_suspend(c2); /* the middle */
    assert_cancelled(c2);
    assert_queue(ep, false, C, c3);
    fk_suspend(c3); /* the tail */
    assert_queue(ep, false, C);
    fk_suspend(C); /* the last */
    assert_queue_empty(ep);
    u_recv(S, EP);
    assert_queue(ep, true, S);
    fk_resume(c2);
    assert_runnable(c2);
    assert_int_equal(reg(c2, A0), NS_ERR_BAD_STATE);

    /* Receivers, head first. */
    struct thread *r2 = client("r2", 0);
    u_recv(r2, EP);
    fk_suspend(S);
    assert_cancelled(S);
    assert_queue(ep, true, r2);
    struct thread *c5 = client("c5", 5);
    u_send(c5, EP, MSG(0, 1), 5, 0, 0, 0);
    assert_got(r2, MSG(0, 1), 5, 0, 0, 0, 5);
    assert_cancelled(S);
}

static void test_cancel_keeps_owed_reply(void **state)
{
    (void)state;
    pair();
    struct endpoint *ep = fk_ep(S, EP);
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    u_recv(S, EP); /* waits again, still owing C */
    fk_suspend(S);
    assert_cancelled(S);
    assert_queue_empty(ep);
    assert_reply_wait(C, S);
    fk_resume(S);
    u_reply(S, MSG(1, 1), 9, 0, 0, 0);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_got(C, MSG(1, 1), 9, 0, 0, 0, 0);
}

static void test_cancel_reply_wait(void **state)
{
    (void)state;
    pair();
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    fk_suspend(C);
    assert_cancelled(C);
    assert_null(C->replier);
    u_reply(S, MSG(1, 1), 9, 0, 0, 0);
    assert_int_not_equal(reg(S, A0), NS_OK);
    /* The suspended caller is not touched by the late reply. */
    assert_cancelled(C);
}

/* ---- notifications ------------------------------------------------------- */

enum { NT = 2 };

static void test_notification_bits(void **state)
{
    (void)state;
    pair();
    struct thread *c2 = client("c2", 0), *c3 = client("c3", 0);
    assert_int_equal(fk_notification(S, NT), NS_OK);
    assert_int_equal(fk_give(S, NT, C, NT, NS_RIGHT_WRITE, 0x1), NS_OK);
    assert_int_equal(fk_give(S, NT, c2, NT, NS_RIGHT_WRITE, 0x4), NS_OK);
    assert_int_equal(fk_give(S, NT, c3, NT, NS_RIGHT_WRITE, 0), NS_OK);

    /* Poll with nothing pending: 0 at once. */
    u_wait(S, NT, false);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_int_equal(reg(S, A1), 0);
    assert_runnable(S);

    u_signal(C, NT);
    assert_int_equal(reg(C, A0), NS_OK);
    u_signal(c2, NT);
    u_signal(C, NT);
    u_wait(S, NT, true); /* pending: no blocking */
    assert_runnable(S);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_int_equal(reg(S, A1), 0x5);
    u_wait(S, NT, false);
    assert_int_equal(reg(S, A1), 0);

    u_signal(c3, NT); /* unbadged: bit 0 */
    u_wait(S, NT, false);
    assert_int_equal(reg(S, A1), 1);
    u_signal(S, NT); /* the original capability is unbadged too */
    u_wait(S, NT, false);
    assert_int_equal(reg(S, A1), 1);
}

static void test_notification_wait_blocks(void **state)
{
    (void)state;
    pair();
    struct thread *w2 = client("w2", 0);
    assert_int_equal(fk_notification(S, NT), NS_OK);
    assert_int_equal(fk_give(S, NT, C, NT, NS_RIGHT_WRITE, 0x10), NS_OK);
    assert_int_equal(fk_give(S, NT, w2, NT, NS_RIGHT_READ, 0), NS_OK);
    struct notification *n = fk_ntfn(S, NT);

    u_wait(S, NT, true);
    assert_blocked(S, IPC_NTFN_WAIT, n);
    u_wait(w2, NT, true);
    assert_ptr_equal(n->head, S);
    assert_ptr_equal(n->tail, w2);

    u_signal(C, NT);
    assert_runnable(S);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_int_equal(reg(S, A1), 0x10);
    assert_int_equal(n->bits, 0);
    assert_blocked(w2, IPC_NTFN_WAIT, n);
    u_signal(C, NT);
    assert_runnable(w2);
    assert_int_equal(reg(w2, A1), 0x10);
    assert_null(n->head);

    /* A suspended waiter leaves the queue; the signal stays pending. */
    u_wait(w2, NT, true);
    fk_suspend(w2);
    assert_cancelled(w2);
    assert_null(n->head);
    u_signal(C, NT);
    assert_int_equal(n->bits, 0x10);
}

static void test_notification_errors_and_death(void **state)
{
    (void)state;
    pair();
    assert_int_equal(fk_notification(S, NT), NS_OK);
    assert_int_equal(fk_give(S, NT, C, NT, NS_RIGHT_READ, 0), NS_OK);
    assert_int_equal(fk_give(S, NT, C, 3, NS_RIGHT_WRITE, 0), NS_OK);
    u_signal(C, NT);
    assert_int_equal(reg(C, A0), NS_ERR_NO_RIGHTS);
    u_wait(C, 3, true);
    assert_int_equal(reg(C, A0), NS_ERR_NO_RIGHTS);
    u_wait(C, 3, false);
    assert_int_equal(reg(C, A0), NS_ERR_NO_RIGHTS);
    u_signal(C, EP);
    assert_int_equal(reg(C, A0), NS_ERR_WRONG_TYPE);
    u_wait(S, EP, true);
    assert_int_equal(reg(S, A0), NS_ERR_WRONG_TYPE);
    u_signal(C, 9);
    assert_int_equal(reg(C, A0), NS_ERR_EMPTY_SLOT);
    u_wait(C, 99, true);
    assert_int_equal(reg(C, A0), NS_ERR_INVALID_SLOT);
    assert_runnable(C);
    assert_int_equal(fk_ntfn(S, NT)->bits, 0);

    /* Destroyed with a waiter. */
    u_wait(C, NT, true);
    assert_int_equal(cap_delete(&S->cs->cs, NT), NS_OK);
    assert_int_equal(cap_delete(&C->cs->cs, 3), NS_OK);
    assert_int_equal(C->state, THREAD_BLOCKED);
    assert_int_equal(cap_delete(&C->cs->cs, NT), NS_OK);
    assert_runnable(C);
    assert_int_equal(reg(C, A0), NS_ERR_DEAD_OBJECT);
    assert_int_equal(fk_cache_allocated("notification"), 0);
}

/* ---- faults ---------------------------------------------------------------- */

static void test_fault_delivery_and_resume(void **state)
{
    (void)state;
    fault_world();
    u_recv(S, EP);
    assert_true(ipc_deliver_fault(H, F, NS_FAULT_WRITE, 0xdead0, 15));
    assert_reply_wait(F, S);
    assert_true(F->ipc_fault);
    assert_f_regs(0x4000, 0xf002);
    assert_got(S, MSG(NS_LABEL_FAULT, 4), NS_FAULT_WRITE, 0x4000, 0xdead0, 15, FBADGE);

    u_reply(S, MSG(NS_FAULT_RESUME, 2), 0x5000, 0x7000, 0, 0);
    assert_int_equal(reg(S, A0), NS_OK);
    assert_runnable(F);
    assert_false(F->ipc_fault);
    assert_f_regs(0x5000, 0x7000);

    /* Handler not waiting yet: the fault queues like a call. */
    assert_true(ipc_deliver_fault(H, F, NS_FAULT_ILLEGAL, 0, 2));
    assert_blocked(F, IPC_CALL, fk_ep(S, EP));
    u_recv(S, EP);
    assert_got(S, MSG(NS_LABEL_FAULT, 4), NS_FAULT_ILLEGAL, 0x5000, 0, 2, FBADGE);
    /* Resume without words: same pc and sp. */
    u_reply(S, MSG(NS_FAULT_RESUME, 0), 0x9000, 0x9000, 0, 0);
    assert_runnable(F);
    assert_f_regs(0x5000, 0x7000);

    /* A pc or sp outside user space, or a misaligned sp, is ignored. */
    static const uint64_t bad[][2] = {
        {0, 0x7008}, {PAGE_SIZE - 4, 0x7001}, {USER_TOP, USER_TOP + 16}, {~0ull, ~0ull - 15}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        u_recv(S, EP);
        assert_true(ipc_deliver_fault(H, F, NS_FAULT_READ, 8, 13));
        u_reply(S, MSG(NS_FAULT_RESUME, 2), bad[i][0], bad[i][1], 0, 0);
        assert_runnable(F);
        assert_f_regs(0x5000, 0x7000);
    }
    /* The edges that are allowed. */
    u_recv(S, EP);
    assert_true(ipc_deliver_fault(H, F, NS_FAULT_READ, 8, 13));
    u_reply(S, MSG(NS_FAULT_RESUME, 2), PAGE_SIZE, USER_TOP, 0, 0);
    assert_f_regs(PAGE_SIZE, USER_TOP);
}

static void test_fault_stop(void **state)
{
    (void)state;
    fault_world();
    struct thread *g = faulter("g", 7);
    /* NS_FAULT_STOP, and any label but NS_FAULT_RESUME, stop the thread. */
    struct thread *const who[] = {F, g};
    const uint64_t label[] = {NS_FAULT_STOP, 7};
    for (int k = 0; k < 2; k++) {
        u_recv(S, EP);
        assert_true(ipc_deliver_fault(H, who[k], NS_FAULT_BREAKPOINT, 0x4000, 3));
        unsigned stops = fk_stop_count();
        u_reply(S, MSG(label[k], 2), 0x5000, 0x7000, 0, 0);
        assert_int_equal(reg(S, A0), NS_OK);
        assert_int_equal(fk_stop_count(), stops + 1);
        assert_ptr_equal(fk_last_stopped(), who[k]);
        assert_int_equal(who[k]->state, THREAD_STOPPED);
        assert_int_equal(who[k]->ipc_op, IPC_NONE);
        assert_false(who[k]->ipc_fault);
        assert_null(who[k]->replier);
        assert_null(S->reply_to);
        assert_int_equal(fk_on_runq(who[k]), 0);
        assert_regs(who[k], 0x4000, 0xf002);
    }
}

static void test_fault_without_handler(void **state)
{
    (void)state;
    fault_world();
    struct thread *g = fk_thread("nohandler", 8, true);
    assert_false(ipc_deliver_fault(H, g, NS_FAULT_READ, 0, 13));
    assert_runnable(g);

    /* Handler removed through the system call. */
    assert_int_equal(sys_thread_set_fault_handler(S, 5, 0), NS_OK);
    assert_int_equal(F->fault_cap.type, NS_CAP_NULL);
    assert_false(ipc_deliver_fault(H, F, NS_FAULT_READ, 0, 13));
    assert_runnable(F);

    /* Handler capability revoked: a tombstone is no handler. */
    assert_int_equal(sys_thread_set_fault_handler(S, 5, 6), NS_OK);
    assert_int_equal(cap_revoke(&S->cs->cs, EP), NS_OK);
    assert_false(ipc_deliver_fault(H, F, NS_FAULT_READ, 0, 13));
    assert_runnable(F);
    assert_f_regs(0x4000, 0xf002);

    /* Setting a handler needs an endpoint with WRITE. */
    assert_int_equal(fk_endpoint(S, 7), NS_OK);
    assert_int_equal(fk_give(S, 7, S, 8, NS_RIGHT_READ, 0), NS_OK);
    assert_int_equal(sys_thread_set_fault_handler(S, 5, 8), NS_ERR_NO_RIGHTS);
    assert_int_equal(sys_thread_set_fault_handler(S, 5, 9), NS_ERR_EMPTY_SLOT);
    assert_int_equal(sys_thread_set_fault_handler(S, 7, 7), NS_ERR_WRONG_TYPE);
}

/* Bug: ipc_cancel() writes the cancel reason into a0 ("t->ctx.regs[R_A0]
 * = reason") of every thread it takes out of IPC, including one whose IPC
 * is a fault message (t->ipc_fault, queued or waiting for the handler's
 * reply): that thread was not in a system call, a0 is its own register,
 * and after sys_thread_resume it re-runs the faulting instruction with
 * a0 = NS_ERR_BAD_STATE. (Handlers may read and write the registers of a
 * thread waiting on them, so the corruption is visible there too.) */
static void test_fault_cancel_keeps_registers(void **state)
{
    (void)state;
    fault_world();
    /* Queued. */
    assert_true(ipc_deliver_fault(H, F, NS_FAULT_READ, 0, 13));
    fk_suspend(F);
    assert_int_equal(F->state, THREAD_SUSPENDED);
    assert_queue_empty(fk_ep(S, EP));
    assert_f_regs(0x4000, 0xf002);
    /* Waiting for the reply. */
    fk_resume(F);
    u_recv(S, EP);
    assert_true(ipc_deliver_fault(H, F, NS_FAULT_READ, 0, 13));
    fk_suspend(F);
    assert_f_regs(0x4000, 0xf002);
}

/* ---- fast paths ------------------------------------------------------------ */

static void test_fastpath_call(void **state)
{
    (void)state;
    pair();
    u_recv(S, EP);
    put(C, EP, MSG(9, 3), 5, 6, 7, 8);
    assert_true(fast_call(C));
    assert_ptr_equal(fk_switched_to(), S);
    /* The general path's results. */
    assert_reply_wait(C, S);
    assert_false(C->ipc_fault);
    assert_runnable(S);
    assert_got(S, MSG(9, 3), 5, 6, 7, 0, BADGE);
    assert_queue_empty(fk_ep(S, EP));

    /* Reply-and-receive with nobody queued: switch back to C. */
    put(S, EP, MSG(1, 2), 10, 11, 12, 13);
    assert_true(fast_reply_recv(S));
    assert_ptr_equal(fk_switched_to(), C);
    assert_runnable(C);
    assert_got(C, MSG(1, 2), 10, 11, 0, 0, 0);
    assert_null(C->replier);
    assert_null(S->reply_to);
    assert_blocked(S, IPC_RECV, fk_ep(S, EP));
    assert_queue(fk_ep(S, EP), true, S);
}

/* Cases the fast path must leave alone, changing nothing. */
static void assert_no_fast_call(struct thread *t)
{
    static struct thread t_before, s_before;
    struct endpoint ep_before;
    memcpy(&ep_before, fk_ep(S, EP), sizeof(ep_before));
    memcpy(&t_before, t, sizeof(*t));
    memcpy(&s_before, S, sizeof(*S));
    size_t runq = fk_runq_len();
    assert_false(fast_call(t));
    assert_memory_equal(&t_before, t, sizeof(*t));
    assert_memory_equal(&s_before, S, sizeof(*S));
    assert_memory_equal(&ep_before, fk_ep(S, EP), sizeof(ep_before));
    assert_int_equal(fk_runq_len(), runq);
}

static void test_fastpath_call_declines(void **state)
{
    (void)state;
    pair();
    /* Server not waiting. */
    put(C, EP, MSG(1, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    u_recv(S, EP);
    /* Long message, capabilities, bad slot, no WRITE. */
    put(C, EP, MSG(1, 5), 1, 0, 0, 0);
    assert_no_fast_call(C);
    put(C, EP, NS_MSG_INFO(1, 0, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    put(C, 3, MSG(1, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    put(C, 99, MSG(1, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    assert_int_equal(fk_give(S, EP, C, 4, NS_RIGHT_READ, 0), NS_OK);
    put(C, 4, MSG(1, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    /* Server of lower priority. */
    S->prio = 50;
    put(C, EP, MSG(1, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    S->prio = 100;
    /* Server owing a reply. */
    struct thread *c2 = client("c2", 2);
    fk_suspend(S);
    fk_resume(S);
    u_recv(S, EP);
    u_call(c2, EP, MSG(0, 0), 0, 0, 0, 0);
    u_recv(S, EP);
    put(C, EP, MSG(1, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    /* ... and the general path then fails c2, as it should. */
    sys_send(H, C, true);
    assert_int_equal(reg(c2, A0), NS_ERR_DEAD_OBJECT);
    assert_reply_wait(C, S);
}

static void assert_no_fast_reply_recv(struct thread *t, struct thread *caller)
{
    static struct thread t_before, c_before;
    struct endpoint ep_before;
    memcpy(&ep_before, fk_ep(S, EP), sizeof(ep_before));
    memcpy(&t_before, t, sizeof(*t));
    memcpy(&c_before, caller, sizeof(*caller));
    size_t runq = fk_runq_len();
    assert_false(fast_reply_recv(t));
    assert_memory_equal(&t_before, t, sizeof(*t));
    assert_memory_equal(&c_before, caller, sizeof(*caller));
    assert_memory_equal(&ep_before, fk_ep(S, EP), sizeof(ep_before));
    assert_int_equal(fk_runq_len(), runq);
}

static void test_fastpath_reply_recv_declines(void **state)
{
    (void)state;
    pair();
    struct thread *c2 = client("c2", 2);
    /* No caller. */
    put(S, EP, MSG(0, 0), 0, 0, 0, 0);
    assert_no_fast_reply_recv(S, C);
    u_recv(S, EP);
    u_call(C, EP, MSG(0, 0), 0, 0, 0, 0);
    /* Long reply, capabilities, bad slot. */
    put(S, EP, MSG(0, 5), 0, 0, 0, 0);
    assert_no_fast_reply_recv(S, C);
    put(S, EP, NS_MSG_INFO(0, 0, 1), 0, 0, 0, 0);
    assert_no_fast_reply_recv(S, C);
    put(S, 9, MSG(0, 0), 0, 0, 0, 0);
    assert_no_fast_reply_recv(S, C);
    /* Someone more urgent than the caller is ready. */
    c2->prio = 200;
    put(S, EP, MSG(0, 0), 0, 0, 0, 0);
    assert_no_fast_reply_recv(S, C);
    c2->prio = 100;
    /* A client queued: the server would not block. */
    u_send(c2, EP, MSG(0, 0), 0, 0, 0, 0);
    assert_no_fast_reply_recv(S, C);
    /* The general path: reply, then c2's message. */
    sys_reply(H, S, true);
    assert_runnable(C);
    assert_int_equal(reg(C, A0), NS_OK);
    assert_runnable(S);
    assert_int_equal(reg(S, A6), 2);
}

/* A partner that cannot run (its address space is gone): no fast switch to
 * it. The general path still delivers, and the scheduler stops it when it
 * picks it. */
static void test_fastpath_partner_cannot_run(void **state)
{
    (void)state;
    pair();
    u_recv(S, EP);
    cap_slot_delete(&S->as_cap);
    assert_false(thread_can_run(S));
    put(C, EP, MSG(1, 1), 1, 0, 0, 0);
    assert_no_fast_call(C);
    sys_send(H, C, true);
    assert_reply_wait(C, S);
    assert_runnable(S);

    struct thread *c2 = client("c2", 2), *s2 = client("s2", 0);
    u_recv(s2, EP);
    u_call(c2, EP, MSG(1, 1), 1, 0, 0, 0);
    assert_reply_wait(c2, s2);
    cap_slot_delete(&c2->as_cap);
    put(s2, EP, MSG(0, 0), 0, 0, 0, 0);
    S = s2; /* assert_no_fast_reply_recv looks at S's endpoint */
    assert_no_fast_reply_recv(s2, c2);
}

static void test_fastpath_fault_resume(void **state)
{
    (void)state;
    fault_world();
    u_recv(S, EP);
    assert_true(ipc_deliver_fault(H, F, NS_FAULT_WRITE, 0xdead0, 15));
    /* A resume with a new pc is not fast. */
    put(S, EP, MSG(NS_FAULT_RESUME, 1), 0x8000, 0, 0, 0);
    assert_no_fast_reply_recv(S, F);
    put(S, EP, MSG(NS_FAULT_STOP, 0), 0, 0, 0, 0);
    assert_no_fast_reply_recv(S, F);
    /* A plain resume is, and leaves F's registers alone. */
    put(S, EP, MSG(NS_FAULT_RESUME, 0), 0, 0, 0, 0);
    assert_true(fast_reply_recv(S));
    assert_ptr_equal(fk_switched_to(), F);
    assert_runnable(F);
    assert_false(F->ipc_fault);
    assert_null(F->replier);
    assert_f_regs(0x4000, 0xf002);
    assert_blocked(S, IPC_RECV, fk_ep(S, EP));
}

/* ---- randomized, against a model ------------------------------------------ */

#define RT_THREADS 8
#define RT_EPS     3
#define RT_STEPS   15000

enum m_state { M_RUN, M_SEND, M_CALL, M_RECV, M_REPLY, M_SUSP };

struct m_msg {
    uint64_t id, label, badge;
    unsigned len;
    bool reply;
    uint64_t w[6];
};

struct m_thread {
    enum m_state st;
    int ep;      /* M_SEND/M_CALL/M_RECV */
    int owes;    /* caller index, or -1 */
    int replier; /* M_REPLY: server index */
    struct m_msg out;
};

struct m_ep {
    int q[RT_THREADS];
    int n;
    bool receivers;
};

struct m_expect {
    int who;
    enum ns_error a0;
    bool msg;
    struct m_msg m;
};

static struct {
    uint64_t rng;
    struct thread *t[RT_THREADS];
    struct endpoint *ep[RT_EPS];
    struct m_thread m[RT_THREADS];
    struct m_ep q[RT_EPS];
    struct m_expect ex[RT_THREADS * 2];
    int nex;
    uint64_t next_id;
    uint8_t *delivered;
    uint64_t sent, got, got_replies, cancelled, fast;
} R;

static uint64_t rnd(void)
{
    /* xorshift64*: fixed seeds make every failure reproducible. */
    R.rng ^= R.rng >> 12;
    R.rng ^= R.rng << 25;
    R.rng ^= R.rng >> 27;
    return R.rng * 0x2545f4914f6cdd1dull;
}

static unsigned rndn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static uint64_t m_badge(int i, int e)
{
    return i == 0 ? 0 : ((uint64_t)i << 8) | (uint64_t)(e + 1);
}

static void m_expect(int who, enum ns_error a0, const struct m_msg *m)
{
    for (int k = 0; k < R.nex; k++)
        assert_int_not_equal(R.ex[k].who, who); /* one result per step */
    R.ex[R.nex].who = who;
    R.ex[R.nex].a0 = a0;
    R.ex[R.nex].msg = m != NULL;
    if (m)
        R.ex[R.nex].m = *m;
    R.nex++;
}

static void m_deliver(int to, const struct m_msg *m, uint64_t badge)
{
    struct m_msg d = *m;
    d.badge = badge;
    m_expect(to, NS_OK, &d);
}

static int m_pop(struct m_ep *q)
{
    int t = q->q[0];
    memmove(q->q, q->q + 1, (size_t)(q->n - 1) * sizeof(int));
    q->n--;
    return t;
}

static void m_remove(struct m_ep *q, int t)
{
    for (int k = 0; k < q->n; k++) {
        if (q->q[k] == t) {
            memmove(q->q + k, q->q + k + 1, (size_t)(q->n - k - 1) * sizeof(int));
            q->n--;
            return;
        }
    }
    fail_msg("model: thread %d not on its queue", t);
}

static void m_link_reply(int server, int caller)
{
    int old = R.m[server].owes;
    if (old >= 0 && R.m[old].st == M_REPLY && R.m[old].replier == server) {
        R.m[old].st = M_RUN;
        R.m[old].replier = -1;
        m_expect(old, NS_ERR_DEAD_OBJECT, NULL);
    }
    R.m[server].owes = caller;
    R.m[caller].st = M_REPLY;
    R.m[caller].replier = server;
}

static void m_send(int i, int e, bool call, const struct m_msg *msg)
{
    struct m_ep *q = &R.q[e];
    R.sent++;
    if (q->receivers && q->n) {
        int r = m_pop(q);
        m_deliver(r, msg, m_badge(i, e));
        if (call)
            m_link_reply(r, i);
        else
            m_expect(i, NS_OK, NULL);
        R.m[r].st = M_RUN;
        return;
    }
    if (!q->n)
        q->receivers = false;
    q->q[q->n++] = i;
    R.m[i].st = call ? M_CALL : M_SEND;
    R.m[i].ep = e;
    R.m[i].out = *msg;
}

static void m_recv(int i, int e)
{
    struct m_ep *q = &R.q[e];
    if (!q->receivers && q->n) {
        int s = m_pop(q);
        m_deliver(i, &R.m[s].out, m_badge(s, e));
        if (R.m[s].st == M_CALL) {
            m_link_reply(i, s);
        } else {
            R.m[s].st = M_RUN;
            m_expect(s, NS_OK, NULL);
        }
        return;
    }
    if (!q->n)
        q->receivers = true;
    q->q[q->n++] = i;
    R.m[i].st = M_RECV;
    R.m[i].ep = e;
}

static enum ns_error m_reply(int i, const struct m_msg *msg)
{
    int c = R.m[i].owes;
    if (c < 0)
        return NS_ERR_REPLY_USED;
    R.m[i].owes = -1;
    if (R.m[c].st != M_REPLY || R.m[c].replier != i)
        return NS_ERR_DEAD_OBJECT;
    R.m[c].st = M_RUN;
    R.m[c].replier = -1;
    m_deliver(c, msg, 0);
    return NS_OK;
}

/* What ipc_cancel does to the model (a cancelled caller: the server keeps
 * its reply right, and using it finds the caller gone: DEAD_OBJECT). */
static void m_cancel(int j)
{
    struct m_thread *m = &R.m[j];
    if (m->st == M_SEND || m->st == M_CALL || m->st == M_RECV) {
        m_remove(&R.q[m->ep], j);
        if (m->st != M_RECV)
            R.cancelled++;
    } else if (m->st == M_REPLY) {
        m->replier = -1;
    }
    m->st = M_SUSP;
    m_expect(j, NS_ERR_BAD_STATE, NULL);
}

/* A fresh message from thread i: id in word 0, sender in word 1, the
 * rest random; up to 6 words, so some go through the IPC buffers. */
static struct m_msg m_new(int i, bool reply)
{
    struct m_msg m = {.id = ++R.next_id, .len = 2 + rndn(5), .reply = reply};
    m.label = m.id & 0xfffff;
    m.w[0] = m.id;
    m.w[1] = (uint64_t)i;
    for (unsigned k = 2; k < 6; k++)
        m.w[k] = rnd();
    return m;
}

static void load(struct thread *t, uint64_t slot, const struct m_msg *m)
{
    put(t, slot, MSG(m->label, m->len), m->w[0], m->w[1], m->w[2], m->w[3]);
    struct ns_ipc_buffer *b = fk_ipc_buffer(t);
    for (unsigned k = 4; k < m->len; k++)
        b->mr[k] = m->w[k];
}

static void check_expectations(void)
{
    for (int k = 0; k < R.nex; k++) {
        const struct m_expect *x = &R.ex[k];
        const struct thread *t = R.t[x->who];
        assert_int_equal(reg(t, A0), x->a0);
        if (!x->msg)
            continue;
        const struct m_msg *m = &x->m;
        uint64_t w[4] = {0};
        for (unsigned i = 0; i < 4 && i < m->len; i++)
            w[i] = m->w[i];
        assert_got(t, MSG(m->label, m->len), w[0], w[1], w[2], w[3], m->badge);
        const struct ns_ipc_buffer *b = fk_ipc_buffer(R.t[x->who]);
        for (unsigned i = 4; i < m->len; i++)
            assert_int_equal(b->mr[i], m->w[i]);
        assert_true(m->id <= R.next_id);
        assert_int_equal(R.delivered[m->id], 0); /* never twice */
        R.delivered[m->id] = 1;
        if (m->reply)
            R.got_replies++;
        else
            R.got++;
    }
    R.nex = 0;
}

static int index_of(const struct thread *t)
{
    for (int i = 0; i < RT_THREADS; i++)
        if (R.t[i] == t)
            return i;
    fail_msg("unknown thread %p on a queue", (const void *)t);
    return -1;
}

static void check_invariants(void)
{
    int seen[RT_THREADS] = {0};
    size_t running = 0;
    for (int e = 0; e < RT_EPS; e++) {
        const struct endpoint *ep = R.ep[e];
        const struct thread *prev = NULL;
        int k = 0;
        for (const struct thread *t = ep->head; t; prev = t, t = t->q_next, k++) {
            int i = index_of(t);
            assert_int_equal(++seen[i], 1); /* on one queue, once */
            assert_true(k < R.q[e].n);
            assert_int_equal(i, R.q[e].q[k]);
            assert_ptr_equal(t->q_prev, prev);
        }
        assert_int_equal(k, R.q[e].n);
        assert_ptr_equal(ep->tail, prev);
        if (k)
            assert_int_equal(ep->receivers, R.q[e].receivers);
    }
    for (int i = 0; i < RT_THREADS; i++) {
        const struct thread *t = R.t[i];
        const struct m_thread *m = &R.m[i];
        static const uint8_t op[] = {[M_SEND] = IPC_SEND, [M_CALL] = IPC_CALL, [M_RECV] = IPC_RECV};
        switch (m->st) {
        case M_RUN:
            assert_int_equal(t->state, THREAD_RUNNABLE);
            assert_int_equal(t->ipc_op, IPC_NONE);
            assert_int_equal(fk_on_runq(t), 1);
            running++;
            break;
        case M_SEND:
        case M_CALL:
        case M_RECV:
            assert_blocked(t, op[m->st], R.ep[m->ep]);
            break;
        case M_REPLY:
            assert_blocked(t, IPC_REPLY_WAIT, NULL);
            assert_ptr_equal(t->replier, R.t[m->replier]);
            assert_int_equal(R.m[m->replier].owes, i);
            break;
        case M_SUSP:
            assert_int_equal(t->state, THREAD_SUSPENDED);
            assert_int_equal(t->ipc_op, IPC_NONE);
            assert_int_equal(fk_on_runq(t), 0);
            break;
        }
        if (m->st != M_SEND && m->st != M_CALL && m->st != M_RECV) {
            assert_int_equal(seen[i], 0);
            assert_null(t->ipc_obj);
        }
        if (m->st != M_REPLY)
            assert_null(t->replier);
        assert_ptr_equal(t->reply_to, m->owes >= 0 ? R.t[m->owes] : NULL);
        if (m->owes >= 0)
            assert_int_equal(t->reply_gen, R.t[m->owes]->obj.gen);
        assert_false(t->ipc_fault);
    }
    assert_int_equal(fk_runq_len(), running);
    assert_int_equal(fk_errors(), 0);
}

static void random_step(void)
{
    int run[RT_THREADS], nrun = 0;
    for (int k = 0; k < RT_THREADS; k++)
        if (R.m[k].st == M_RUN)
            run[nrun++] = k;
    /* Mostly a running thread makes a call; sometimes any thread is
     * suspended (cancelling its IPC) or resumed. */
    if (!nrun || rndn(10) == 0) {
        int j = (int)rndn(RT_THREADS);
        if (R.m[j].st == M_SUSP) {
            fk_resume(R.t[j]);
            R.m[j].st = M_RUN;
        } else if (R.m[j].st != M_RUN) {
            m_cancel(j);
            fk_suspend(R.t[j]);
        } else if (rndn(4) == 0) {
            fk_suspend(R.t[j]); /* not in IPC: only its state changes */
            R.m[j].st = M_SUSP;
        }
        return;
    }
    int i = run[rndn((unsigned)nrun)];
    struct thread *t = R.t[i];
    int e = (int)rndn(RT_EPS);
    uint64_t slot = 1 + (uint64_t)e;
    /* A thread that owes a reply mostly replies. */
    unsigned op = R.m[i].owes >= 0 && rndn(2) ? 62 + rndn(38) : rndn(100);
    if (op < 20) {
        struct m_msg msg = m_new(i, false);
        m_send(i, e, false, &msg);
        load(t, slot, &msg);
        sys_send(H, t, false);
    } else if (op < 42) {
        struct m_msg msg = m_new(i, false);
        m_send(i, e, true, &msg);
        load(t, slot, &msg);
        /* Half the calls try the fast path first, as the trap code does;
         * it must decline or give the general path's results. */
        if (!(rndn(2) && fast_call(t)))
            sys_send(H, t, true);
        else
            R.fast++;
    } else if (op < 62) {
        m_recv(i, e);
        u_recv(t, slot);
    } else if (op < 74) {
        struct m_msg msg = m_new(i, true);
        enum ns_error want = m_reply(i, &msg);
        m_expect(i, want, NULL);
        load(t, 0, &msg);
        sys_reply(H, t, false);
    } else {
        struct m_msg msg = m_new(i, true); /* owed or not */
        m_reply(i, &msg);
        m_recv(i, e);
        load(t, slot, &msg);
        if (!(rndn(2) && fast_reply_recv(t)))
            sys_reply(H, t, true);
        else
            R.fast++;
    }
}

static void random_run(uint64_t seed)
{
    memset(&R, 0, sizeof(R));
    R.rng = seed;
    R.delivered = calloc(RT_STEPS * 2 + 16, 1);
    assert_non_null(R.delivered);
    for (int i = 0; i < RT_THREADS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "rt%d", i);
        R.t[i] = fk_thread(name, 8, true);
        R.t[i]->prio = (uint8_t)(99 + rndn(3));
        R.m[i].owes = R.m[i].replier = -1;
    }
    for (int e = 0; e < RT_EPS; e++) {
        assert_int_equal(fk_endpoint(R.t[0], 1 + (uint32_t)e), NS_OK);
        R.ep[e] = fk_ep(R.t[0], 1 + (uint32_t)e);
        for (int i = 1; i < RT_THREADS; i++)
            assert_int_equal(fk_give(R.t[0], 1 + (uint32_t)e, R.t[i], 1 + (uint32_t)e,
                                     NS_RIGHTS_ALL, m_badge(i, e)),
                             NS_OK);
    }
    for (int step = 0; step < RT_STEPS; step++) {
        random_step();
        check_expectations();
        check_invariants();
    }
    /* Every request sent was delivered once (check_expectations saw to
     * "once"), is still queued, or its sender was cancelled while queued. */
    uint64_t queued = 0;
    for (int e = 0; e < RT_EPS; e++)
        for (int k = 0; k < R.q[e].n; k++)
            queued += R.m[R.q[e].q[k]].st != M_RECV;
    assert_int_equal(R.sent, R.got + queued + R.cancelled);
    print_message("seed %#llx: %llu requests: %llu delivered, %llu queued, %llu cancelled; "
                  "%llu replies; %llu fast paths taken\n",
                  (unsigned long long)seed, (unsigned long long)R.sent, (unsigned long long)R.got,
                  (unsigned long long)queued, (unsigned long long)R.cancelled,
                  (unsigned long long)R.got_replies, (unsigned long long)R.fast);
    free(R.delivered);
    R.delivered = NULL;
}

static void test_random_against_model(void **state)
{
    (void)state;
    static const uint64_t seeds[] = {0x5eed0001, 0x5eed0002, 0x5eed0003};
    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        if (s) {
            assert_int_equal(fk_fini(), 0);
            fk_init();
        }
        random_run(seeds[s]);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rendezvous_receiver_first),
        T(test_rendezvous_sender_first),
        T(test_fifo_senders),
        T(test_fifo_receivers),
        T(test_call_reply_receiver_first),
        T(test_call_reply_sender_first),
        T(test_reply_without_caller),
        T(test_reply_recv),
        T(test_long_message),
        T(test_set_ipc_buffer),
        T(test_cap_transfer),
        T(test_cap_transfer_limits),
        T(test_cap_transfer_needs_grant),
        T(test_cap_transfer_in_reply),
        T(test_send_errors),
        T(test_recv_errors),
        T(test_reply_errors_keep_the_reply),
        T(test_endpoint_destroyed_wakes_receivers),
        T(test_endpoint_destroyed_wakes_senders_stops_faults),
        T(test_server_destroyed_fails_caller),
        T(test_handler_destroyed_stops_faulter),
        T(test_queued_thread_destroyed),
        T(test_caller_destroyed_reply_dead),
        T(test_caller_destroyed_memory_reused),
        T(test_new_call_fails_owed_reply),
        T(test_cancel_queued),
        T(test_cancel_keeps_owed_reply),
        T(test_cancel_reply_wait),
        T(test_notification_bits),
        T(test_notification_wait_blocks),
        T(test_notification_errors_and_death),
        T(test_fault_delivery_and_resume),
        T(test_fault_stop),
        T(test_fault_without_handler),
        T(test_fault_cancel_keeps_registers),
        T(test_fastpath_call),
        T(test_fastpath_call_declines),
        T(test_fastpath_reply_recv_declines),
        T(test_fastpath_partner_cannot_run),
        T(test_fastpath_fault_resume),
        T(test_random_against_model),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
