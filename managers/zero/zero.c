/* zero: the zero-fill manager - anonymous memory for whoever asks.
 *
 * Protocol, on the endpoint its parent gives it (slot NS_SLOT_FIRST_GIVEN):
 *   label ZERO_CREATE, word 0 = length in bytes: reply carries one capability,
 *       a client capability (read, write, execute; no MANAGE) to a new memory
 *       object of that length; word 0 of the reply is the object's index;
 *   label ZERO_STATS: reply word 0 = pages supplied so far, word 1 = objects.
 * Each object is created with its own badged copy of the manager's
 * notification (badge = 1 << index), so one wait tells which objects have
 * page requests. A second thread drains them and supplies zero pages from a
 * zeroed buffer: every page of every object is asked for once, however many
 * processes touch it (the kernel coalesces), and served once. */
#include <stdio.h>
#include <string.h>

#include "managers/zero/zero.h"
#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define SLOT_EP     NS_SLOT_FIRST_GIVEN
#define MAX_OBJECTS 64
#define IPCBUF_VA   0x40000000ull
#define ZERO_VA     0x40001000ull
#define PAGER_STACK 0x40010000ull

static unsigned long ntfn, objects[MAX_OBJECTS];
static volatile unsigned nobjects;
static volatile uint64_t supplied;

static long map_new_frame(uint64_t va)
{
    unsigned long f;
    long e = ns_slot_alloc(&f);
    if (e == NS_OK)
        e = ns_frame_alloc(NS_SLOT_ROOT_BANK, f);
    if (e == NS_OK)
        e = ns_map_frame(NS_SLOT_SELF_ASPACE, f, va, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
    return e;
}

static void pager(unsigned long unused)
{
    (void)unused;
    struct ns_page_request req[32];
    for (;;) {
        uint64_t bits;
        if (ns_wait(ntfn, &bits) != NS_OK)
            continue;
        for (unsigned i = 0; i < nobjects; i++) {
            if (!(bits & (1ull << i)))
                continue;
            unsigned long n;
            while (ns_memobj_requests(objects[i], req, 32, &n) == NS_OK && n)
                for (unsigned long k = 0; k < n; k++)
                    for (uint64_t p = 0; p < req[k].pages; p++)
                        if (ns_memobj_supply(objects[i], req[k].first_page + p, 1,
                                             (const void *)ZERO_VA) == NS_OK)
                            supplied++;
        }
    }
}

static long create(uint64_t length, unsigned long *client)
{
    unsigned i = nobjects;
    unsigned long badged;
    if (i >= MAX_OBJECTS)
        return NS_ERR_NO_QUOTA;
    long e = ns_slot_alloc(&badged);
    if (e == NS_OK)
        e = ns_cap_mint(ntfn, badged, NS_RIGHT_WRITE, 1ull << i);
    if (e == NS_OK)
        e = ns_slot_alloc(&objects[i]);
    if (e == NS_OK)
        e = ns_memobj_create(NS_SLOT_ROOT_BANK, objects[i], length, badged);
    if (e == NS_OK)
        e = ns_slot_alloc(client);
    if (e == NS_OK)
        e = ns_cap_copy(objects[i], *client, NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC);
    if (e == NS_OK)
        nobjects = i + 1;
    return e;
}

int main(void)
{
    unsigned long pager_thread;
    if (map_new_frame(IPCBUF_VA) || map_new_frame(ZERO_VA) || map_new_frame(PAGER_STACK) ||
        ns_thread_set_ipc_buffer(NS_SLOT_SELF_THREAD, IPCBUF_VA) || ns_slot_alloc(&ntfn) ||
        ns_notification_create(NS_SLOT_ROOT_BANK, ntfn) || ns_slot_alloc(&pager_thread) ||
        ns_thread_create(NS_SLOT_ROOT_BANK, pager_thread, NS_SLOT_SELF_CSPACE,
                         NS_SLOT_SELF_ASPACE) ||
        ns_thread_start_fn(pager_thread, pager, PAGER_STACK + 4096, 0)) {
        printf("zero: cannot start\n");
        return 1;
    }
    struct ns_ipc_buffer *buf = (struct ns_ipc_buffer *)IPCBUF_VA;
    struct ns_msg m = {0};
    long e = ns_recv(SLOT_EP, &m);
    for (;;) {
        if (e != NS_OK) {
            e = ns_recv(SLOT_EP, &m);
            continue;
        }
        unsigned long client = 0;
        switch (NS_MSG_LABEL(m.info)) {
        case ZERO_CREATE:
            e = create(m.w[0], &client);
            if (e == NS_OK) {
                buf->send_caps[0] = client;
                m.info = NS_MSG_INFO(0, 1, 1);
                m.w[0] = nobjects - 1;
            } else {
                m.info = NS_MSG_INFO(e, 0, 0);
            }
            break;
        case ZERO_STATS:
            m.info = NS_MSG_INFO(0, 2, 0);
            m.w[0] = supplied;
            m.w[1] = nobjects;
            break;
        default:
            m.info = NS_MSG_INFO(NS_ERR_INVALID_ARG, 0, 0);
            break;
        }
        e = ns_reply_recv(SLOT_EP, &m);
        if (client)
            ns_slot_free(client); /* the client has its copy now */
    }
}
