/* Wait queues of threads: a doubly linked FIFO through the threads'
 * q_next/q_prev links, named by its head and tail pointers. A thread is on
 * at most one queue at a time (run queue, endpoint, notification or page
 * request), which is what lets every queue share the links. */
#ifndef NEWSYS_CORE_WAITQ_H
#define NEWSYS_CORE_WAITQ_H

#include <stddef.h>

#include "kernel/core/thread.h"

static inline void waitq_push(struct thread **head, struct thread **tail, struct thread *t)
{
    t->q_next = NULL;
    t->q_prev = *tail;
    if (*tail)
        (*tail)->q_next = t;
    else
        *head = t;
    *tail = t;
}

static inline void waitq_remove(struct thread **head, struct thread **tail, struct thread *t)
{
    if (t->q_prev)
        t->q_prev->q_next = t->q_next;
    else
        *head = t->q_next;
    if (t->q_next)
        t->q_next->q_prev = t->q_prev;
    else
        *tail = t->q_prev;
    t->q_next = t->q_prev = NULL;
}

static inline struct thread *waitq_pop(struct thread **head, struct thread **tail)
{
    struct thread *t = *head;
    if (t)
        waitq_remove(head, tail, t);
    return t;
}

#endif
