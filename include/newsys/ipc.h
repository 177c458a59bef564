/* NewSys ABI: messages, IPC buffers and fault messages.
 *
 * A message is a 64-bit info word (label, length, capability count) and up
 * to NS_MSG_MAX_WORDS words. The first NS_MSG_REG_WORDS words travel in
 * registers (a2..a5 on send, a2..a5 on receive, info in a1, badge in a6);
 * the rest, and the capability slots to send and to receive into, live in
 * the thread's IPC buffer, a page of its own address space registered with
 * NS_SYS_THREAD_SET_IPC_BUFFER. */
#ifndef NEWSYS_ABI_IPC_H
#define NEWSYS_ABI_IPC_H

#include <stdint.h>

#define NS_MSG_REG_WORDS 4
#define NS_MSG_MAX_WORDS 64
#define NS_MSG_MAX_CAPS  4

/* info word: length (bits 0..6), capabilities (bits 7..9), label (12..63) */
#define NS_MSG_INFO(label, len, caps)                                                              \
    (((uint64_t)(label) << 12) | ((uint64_t)(caps) << 7) | (uint64_t)(len))
#define NS_MSG_LEN(info)   ((info)&0x7f)
#define NS_MSG_CAPS(info)  (((info) >> 7) & 0x7)
#define NS_MSG_LABEL(info) ((info) >> 12)

struct ns_ipc_buffer {
    uint64_t mr[NS_MSG_MAX_WORDS];        /* words 0..3 are unused: they go in registers */
    uint64_t send_caps[NS_MSG_MAX_CAPS];  /* slots of the capabilities to send */
    uint64_t recv_slots[NS_MSG_MAX_CAPS]; /* empty slots to receive capabilities into */
    uint64_t recv_count;                  /* how many recv_slots are valid */
};

_Static_assert(sizeof(struct ns_ipc_buffer) <= 4096, "an IPC buffer fits one page");

/* Fault messages: what a thread's fault handler receives (label
 * NS_LABEL_FAULT, words: kind, pc, address, scause), and what it replies. */
#define NS_LABEL_FAULT 0xfa017

enum ns_fault_kind {
    NS_FAULT_READ = 1,       /* load from an unmapped or unreadable address */
    NS_FAULT_WRITE = 2,      /* store to an unmapped or read-only address */
    NS_FAULT_EXEC = 3,       /* fetch from an unmapped or non-executable address */
    NS_FAULT_ILLEGAL = 4,    /* illegal instruction */
    NS_FAULT_MISALIGNED = 5, /* misaligned access the hart does not handle */
    NS_FAULT_BREAKPOINT = 6, /* ebreak */
    NS_FAULT_ACCESS = 7,     /* access fault (physical protection) */
    NS_FAULT_RANGE = 8,      /* a memory-object page wholly past the object's length */
    NS_FAULT_MANAGER = 9,    /* the manager failed the page; word 3 holds its error code */
    NS_FAULT_DEAD = 10,      /* the memory object was destroyed */
    NS_FAULT_IO = 11,        /* the disk failed reading the page; word 3 holds the error */
};

/* Reply labels for a fault: resume (optionally with a new pc in word 0 and
 * sp in word 1, when the reply has those words) or stop the thread. */
#define NS_FAULT_RESUME 0
#define NS_FAULT_STOP   1

#endif
