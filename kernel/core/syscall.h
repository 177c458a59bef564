/* System call dispatch: decode the number and arguments from the caller's
 * saved registers, run the call, write the result registers. */
#ifndef NEWSYS_CORE_SYSCALL_H
#define NEWSYS_CORE_SYSCALL_H

struct hart;
struct thread;

void syscall_dispatch(struct hart *h, struct thread *t);

/* The machine capability's object (one per system). */
struct kobj *machine_object(void);

#endif
