/* Notifications: asynchronous bit sets. Signalling ORs the capability's
 * badge (1 for an unbadged capability) into the word and wakes the first
 * waiter with the bits, which are then cleared; waiting returns the bits at
 * once if any are set, else blocks; polling never blocks. The kernel
 * signals them too (a memory object's manager is told of requests so). */
#ifndef NEWSYS_CORE_NOTIFICATION_H
#define NEWSYS_CORE_NOTIFICATION_H

#include <stdbool.h>
#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/kobj.h"

struct hart;
struct thread;

struct notification {
    struct kobj obj;
    uint64_t bits;
    struct thread *head, *tail; /* waiters */
};

void notification_types_init(void);
enum ns_error sys_notification_create(struct thread *self, uint64_t bank, uint64_t dst);
void sys_signal(struct hart *h, struct thread *t);
void sys_wait(struct hart *h, struct thread *t, bool block_if_none);
/* Signal from the kernel, as a capability with badge `bits` would. */
void notification_signal(struct hart *h, struct kobj *notification, uint64_t bits);

#endif
