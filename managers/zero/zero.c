/* zero: the zero-fill manager - anonymous memory for whoever asks.
 *
 * Protocol in zero.h. Each object is charged to the bank its client sends
 * with ZERO_CREATE, so a process's anonymous memory (its heap, stack, data
 * and BSS when ns_spawn was given this manager as its pager) is charged to
 * the process's own bank and goes when that bank is destroyed.
 *
 * Objects live in a table of ZERO_MAX_OBJECTS entries. An object is
 * created with one of 64 badged copies of the manager's notification,
 * badge 1 << (index % 64), so one wait tells which groups of objects have
 * page requests; the pager thread then drains each live object of those
 * groups and supplies zero pages (a supply with no buffer: the kernel
 * clears the frames). Every page is asked for once, however many
 * processes touch it (the kernel coalesces), and served once.
 *
 * Objects die without telling their manager (their bank is destroyed):
 * the pager finds out when draining one fails with NS_ERR_REVOKED, and the
 * main thread sweeps the table for stale capabilities when it is full or
 * reports statistics; either frees the entry and its slot for reuse.
 *
 * It runs from resident memory (ns_spawn without a pager) and touches all
 * of it before serving anyone: nothing of its own then ever faults, and
 * its own bank's use stays the same while it serves. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "managers/zero/zero.h"
#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define SLOT_EP     NS_SLOT_FIRST_GIVEN
#define GROUPS      64
#define PAGER_STACK 16384

struct object {
    unsigned long slot; /* the manager capability; 0: entry free */
    uint64_t pages, supplied;
};

static struct object objects[ZERO_MAX_OBJECTS];
static unsigned long ntfn, group_ntfn[GROUPS];
static uint64_t supplied, preloaded, made;
static volatile int table_lock;

static struct ns_page_request req[32];
static uint8_t pager_stack[PAGER_STACK] __attribute__((aligned(4096)));

/* The pager and the main thread share the table. Neither blocks while
 * holding the lock, so a waiter only has to let the holder run. */
static void lock(void)
{
    while (__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE))
        ns_yield();
}

static void unlock(void)
{
    __atomic_store_n(&table_lock, 0, __ATOMIC_RELEASE);
}

/* Under the lock. */
static void forget(struct object *o)
{
    ns_slot_free(o->slot);
    o->slot = 0;
}

static void sweep(void)
{
    for (unsigned i = 0; i < ZERO_MAX_OBJECTS; i++) {
        struct ns_cap_info info;
        if (objects[i].slot && ns_cap_identify(objects[i].slot, &info) != NS_OK)
            forget(&objects[i]);
    }
}

/* Under the lock: serve every request of one object. */
static void serve(struct object *o)
{
    unsigned long n;
    long e;
    while ((e = ns_memobj_requests(o->slot, req, 32, &n)) == NS_OK && n) {
        for (unsigned long k = 0; k < n; k++) {
            for (uint64_t p = req[k].first_page; p < req[k].first_page + req[k].pages; p++) {
                /* No buffer: the kernel clears a fresh frame (no copy). */
                long s = ns_memobj_supply(o->slot, p, 1, NULL);
                if (s == NS_OK) {
                    supplied++;
                    o->supplied++;
                } else if (s != NS_ERR_INVALID_ARG) {
                    /* NS_ERR_NO_QUOTA above all: the client's bank is
                     * full. Its faulting thread gets the error rather
                     * than waiting for the deadline. (INVALID_ARG: the
                     * request is gone already.) */
                    ns_memobj_fail(o->slot, p, 1, s);
                }
            }
        }
    }
    if (e == NS_ERR_REVOKED)
        forget(o); /* its bank was destroyed */
}

static void pager(unsigned long unused)
{
    (void)unused;
    for (;;) {
        uint64_t bits;
        if (ns_wait(ntfn, &bits) != NS_OK)
            continue;
        lock();
        for (unsigned g = 0; g < GROUPS; g++)
            if (bits & (1ull << g))
                for (unsigned i = g; i < ZERO_MAX_OBJECTS; i += GROUPS)
                    if (objects[i].slot)
                        serve(&objects[i]);
        unlock();
    }
}

/* Under the lock. */
static long create(unsigned long bank, uint64_t length, uint64_t preload, unsigned long *client,
                   unsigned *index)
{
    unsigned i = 0;
    while (i < ZERO_MAX_OBJECTS && objects[i].slot)
        i++;
    if (i == ZERO_MAX_OBJECTS) {
        sweep();
        for (i = 0; i < ZERO_MAX_OBJECTS && objects[i].slot;)
            i++;
        if (i == ZERO_MAX_OBJECTS)
            return NS_ERR_NO_QUOTA;
    }
    uint64_t pages = (length + 4095) / 4096;
    if (preload > pages)
        return NS_ERR_INVALID_ARG;
    unsigned g = i % GROUPS;
    long e = NS_OK;
    if (!group_ntfn[g]) {
        unsigned long s;
        if ((e = ns_slot_alloc(&s)) != NS_OK)
            return e;
        if ((e = ns_cap_mint(ntfn, s, NS_RIGHT_WRITE, 1ull << g)) != NS_OK) {
            ns_slot_free(s);
            return e;
        }
        group_ntfn[g] = s;
    }
    unsigned long obj;
    if ((e = ns_slot_alloc(&obj)) != NS_OK)
        return e;
    e = ns_memobj_create(bank, obj, length, group_ntfn[g]);
    for (uint64_t p = 0; e == NS_OK && p < preload; p += 64)
        e = ns_memobj_preload(obj, p, preload - p < 64 ? preload - p : 64, NULL);
    if (e == NS_OK)
        e = ns_slot_alloc(client);
    if (e == NS_OK &&
        (e = ns_cap_copy(obj, *client, NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC)) != NS_OK)
        ns_slot_free(*client);
    if (e != NS_OK) {
        ns_slot_free(obj); /* the last capability: the object goes */
        return e;
    }
    objects[i] = (struct object){.slot = obj, .pages = pages};
    preloaded += preload;
    made++;
    *index = i;
    return NS_OK;
}

/* All of the program's memory, touched once so that it is mapped before
 * anyone depends on it (see the top of the file). */
extern char __ns_data_start[], __ns_end[];

static void touch_everything(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    ns_touch(__ns_data_start, (size_t)(__ns_end - __ns_data_start), 1);
    if (pi)
        ns_touch((void *)(uintptr_t)(pi->stack_top - pi->stack_pages * 4096),
                 pi->stack_pages * 4096, 1);
}

int main(void)
{
    touch_everything();
    unsigned long pager_thread;
    struct ns_ipc_buffer *buf = ns_ipc_buffer();
    unsigned long recv_bank;
    if (ns_slot_alloc(&ntfn) || ns_notification_create(NS_SLOT_ROOT_BANK, ntfn) ||
        ns_slot_alloc(&recv_bank) || ns_slot_alloc(&pager_thread) ||
        ns_thread_create(NS_SLOT_ROOT_BANK, pager_thread, NS_SLOT_SELF_CSPACE,
                         NS_SLOT_SELF_ASPACE) ||
        ns_thread_start_fn(pager_thread, pager, (uint64_t)(uintptr_t)(pager_stack + PAGER_STACK),
                           0)) {
        printf("zero: cannot start\n");
        return 1;
    }
    struct ns_msg m = {0};
    buf->recv_slots[0] = recv_bank;
    buf->recv_count = 1;
    long e = ns_recv(SLOT_EP, &m);
    for (;;) {
        if (e != NS_OK) {
            ns_cap_delete(recv_bank);
            e = ns_recv(SLOT_EP, &m);
            continue;
        }
        unsigned long client = 0;
        unsigned index;
        lock();
        switch (NS_MSG_LABEL(m.info)) {
        case ZERO_CREATE:
            e = NS_MSG_CAPS(m.info) == 1 && NS_MSG_LEN(m.info) >= 1
                    ? create(recv_bank, m.w[0], NS_MSG_LEN(m.info) >= 2 ? m.w[1] : 0, &client,
                             &index)
                    : NS_ERR_INVALID_ARG;
            if (e == NS_OK) {
                buf->send_caps[0] = client;
                m.info = NS_MSG_INFO(0, 1, 1);
                m.w[0] = index;
            } else {
                m.info = NS_MSG_INFO(e, 0, 0);
            }
            break;
        case ZERO_STATS: {
            sweep();
            uint64_t live = 0;
            for (unsigned i = 0; i < ZERO_MAX_OBJECTS; i++)
                live += objects[i].slot != 0;
            m.info = NS_MSG_INFO(0, 4, 0);
            m.w[0] = supplied;
            m.w[1] = live;
            m.w[2] = made;
            m.w[3] = preloaded;
            break;
        }
        case ZERO_OBJECT_STATS:
            if (NS_MSG_LEN(m.info) >= 1 && m.w[0] < ZERO_MAX_OBJECTS && objects[m.w[0]].slot) {
                m.info = NS_MSG_INFO(0, 1, 0);
                m.w[0] = objects[m.w[0]].supplied;
            } else {
                m.info = NS_MSG_INFO(NS_ERR_INVALID_ARG, 0, 0);
            }
            break;
        default:
            m.info = NS_MSG_INFO(NS_ERR_INVALID_ARG, 0, 0);
            break;
        }
        unlock();
        /* The object keeps its bank; the slot must be empty for the next
         * message's capability. */
        ns_cap_delete(recv_bank);
        e = ns_reply_recv(SLOT_EP, &m);
        if (client)
            ns_slot_free(client); /* the client has its copy now */
    }
}
