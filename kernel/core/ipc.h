/* Synchronous IPC through endpoints, one-shot replies, notifications, and
 * faults delivered as messages.
 *
 * An endpoint is a rendezvous: a sender blocks until a receiver arrives and
 * vice versa; the message moves directly from the sender's saved registers
 * (and IPC buffer) to the receiver's - there is no kernel buffer to fill or
 * overflow. A call additionally leaves the receiver owing the caller a
 * reply: the receiver holds an implicit one-shot reply right (reply_to),
 * used by NS_SYS_REPLY or NS_SYS_REPLY_RECV, after which it is gone
 * (replying again is NS_ERR_REPLY_USED). The caller meanwhile waits in
 * IPC_REPLY_WAIT; if either side dies, the other gets NS_ERR_DEAD_OBJECT.
 *
 * A fault the kernel does not resolve becomes a call from the faulting
 * thread to its fault handler endpoint, with a kernel-made message (kind,
 * pc, address, scause; ipc.h in the ABI). The handler's reply resumes the
 * thread (optionally at a new pc and sp) or stops it.
 *
 * Nothing here ever blocks the kernel: blocking is a thread state and a
 * queue position, and every operation completes before the system call
 * returns. */
#ifndef NEWSYS_CORE_IPC_H
#define NEWSYS_CORE_IPC_H

#include <stdbool.h>
#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/kobj.h"

struct thread;
struct hart;

enum ipc_op {
    IPC_NONE = 0,
    IPC_SEND,       /* queued sender */
    IPC_CALL,       /* queued caller: becomes IPC_REPLY_WAIT when received */
    IPC_RECV,       /* queued receiver */
    IPC_REPLY_WAIT, /* called, waiting for the reply */
    IPC_NTFN_WAIT,  /* waiting on a notification */
    IPC_PAGE_WAIT,  /* waiting for a memory-object page (memobj.c) */
    IPC_IO_WAIT,    /* waiting for a transfer through a disk key (disk_obj.c) */
    IPC_SYNC_WAIT,  /* waiting for a memory object's sync (memobj.c) */
    IPC_MEMORY_WAIT, /* a fault waiting for pageout to free memory (memobj.c) */
};

struct endpoint {
    struct kobj obj;
    struct thread *head, *tail; /* all senders/callers, or all receivers */
    bool receivers;             /* what the queue holds */
};

void ipc_types_init(void);

enum ns_error sys_endpoint_create(struct thread *self, uint64_t bank, uint64_t dst);

/* System calls; each reads its arguments from the caller's registers and
 * writes the results there (immediately or when the thread is woken). */
void sys_send(struct hart *h, struct thread *t, bool call);
void sys_recv(struct hart *h, struct thread *t);
void sys_reply(struct hart *h, struct thread *t, bool then_recv);
void sys_signal(struct hart *h, struct thread *t);
void sys_wait(struct hart *h, struct thread *t, bool block);
enum ns_error sys_thread_set_ipc_buffer(struct thread *self, uint64_t slot, uint64_t va);
enum ns_error sys_thread_set_fault_handler(struct thread *self, uint64_t slot, uint64_t ep);

/* Fast paths for NS_SYS_CALL and NS_SYS_REPLY_RECV: switch to the partner
 * and never return, or return at once, having changed nothing, when the
 * general path is needed. */
void ipc_fastpath_call(struct hart *h, struct thread *t);
void ipc_fastpath_reply_recv(struct hart *h, struct thread *t);

/* Deliver a fault of `t` to its handler; false if it has none (the caller
 * then stops the thread). */
bool ipc_deliver_fault(struct hart *h, struct thread *t, uint64_t kind, uint64_t addr,
                       uint64_t scause);

/* Deliver a fault to `t`'s handler (the message's last word is `aux`), or
 * stop `t` if it has none. */
void ipc_fault_or_stop(struct hart *h, struct thread *t, uint64_t kind, uint64_t addr,
                       uint64_t aux);
/* Blocking and waking for every kind of kernel wait (endpoints,
 * notifications, page requests): `t` becomes BLOCKED on `obj` for `op`;
 * waking makes it runnable (handed the hart next if it can), with
 * ipc_wake_error also setting its call's result - or stopping it when what
 * it waited in was a fault delivery. */
void ipc_block(struct hart *h, struct thread *t, enum ipc_op op, void *obj);
void ipc_wake(struct hart *h, struct thread *t);
void ipc_wake_error(struct hart *h, struct thread *t, enum ns_error e);

/* Take `t` out of any IPC it is blocked in (it is being suspended or
 * destroyed); its system call returns `reason`. When `dying`, a reply it
 * owes a caller is failed too (the caller gets NS_ERR_DEAD_OBJECT). */
void ipc_cancel(struct thread *t, enum ns_error reason, bool dying);

#endif
