/* mprobe: a second process for the multi-process memory-object tests
 * (tests_main.c). It is given a capability to an object at slot
 * NS_SLOT_FIRST_GIVEN and a report endpoint at the slot after it; its
 * argument is the number of pages to map.
 *
 *   1. map the object read-only and read the first word of every page;
 *      send (label MPROBE_TOUCHED, word 0 = sum of those words);
 *   2. wait until the object is shorter than those pages (the test
 *      shrinks it);
 *   3. read the last page again from a second thread whose fault handler
 *      is this one, and send (label MPROBE_FAULT, word 0 = the fault kind
 *      it took, word 1 = its last word; 0 if it read without a fault).
 *
 * With argument MPROBE_ARG_PIN it probes instead that a process that was
 * not given the pin authority learns no physical address: the frame it is
 * given tells none, and no slot of its own makes a pin account or pins a
 * frame (MPROBE_PIN). */
#include <stdio.h>

#include "tests/guest/mprobe.h"
#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define SLOT_OBJ    NS_SLOT_FIRST_GIVEN
#define SLOT_REPORT (NS_SLOT_FIRST_GIVEN + 1)
#define OBJ_VA      0x50000000ull
#define STACK_VA    0x60000000ull

static volatile uint64_t last_page_va, last_word;

static void reader(unsigned long unused)
{
    (void)unused;
    last_word = *(volatile uint64_t *)(uintptr_t)last_page_va;
    ns_thread_exit();
}

static long report(uint64_t label, uint64_t w0, uint64_t w1)
{
    struct ns_msg m = {.info = NS_MSG_INFO(label, 2, 0), .w = {w0, w1}};
    return ns_send(SLOT_REPORT, &m);
}

static int probe_pins(const struct ns_procinfo *pi)
{
    uint64_t pa = 0, made = 0;
    long info = ns_frame_info(SLOT_OBJ, &pa);
    unsigned long dst;
    if (ns_slot_alloc(&dst))
        return 1;
    for (unsigned long s = 0; s < pi->cspace_slots; s++) {
        made += ns_pin_account_create(s, NS_SLOT_ROOT_BANK, dst, 1, 1000) == NS_OK;
        ns_cap_delete(dst);
        made += ns_frame_pin(s, NS_SLOT_ROOT_BANK, dst) == NS_OK;
        ns_cap_delete(dst);
    }
    return report(MPROBE_PIN, (uint64_t)info, made + (pa != 0)) == NS_OK ? 0 : 1;
}

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (!pi || pi->arg == 0)
        return 1;
    if (pi->arg == MPROBE_ARG_PIN)
        return probe_pins(pi);
    uint64_t pages = pi->arg, sum = 0;
    if (ns_memobj_map(NS_SLOT_SELF_ASPACE, SLOT_OBJ, OBJ_VA, 0, pages, NS_RIGHT_READ, NULL) !=
        NS_OK)
        return 1;
    for (uint64_t p = 0; p < pages; p++)
        sum += *(volatile uint64_t *)(uintptr_t)(OBJ_VA + p * 4096);
    if (report(MPROBE_TOUCHED, sum, 0) != NS_OK)
        return 1;

    uint64_t length = pages * 4096;
    while (length >= pages * 4096) {
        struct ns_ret info = ns_syscall(NS_SYS_MEMOBJ_INFO, SLOT_OBJ, 0, 0, 0, 0, 0);
        if (info.err != NS_OK)
            return 1;
        length = info.v1;
        ns_sleep_us(1000);
    }

    unsigned long ep, thread, stack;
    if (ns_slot_alloc(&ep) || ns_slot_alloc(&thread) || ns_slot_alloc(&stack) ||
        ns_endpoint_create(NS_SLOT_ROOT_BANK, ep) || ns_frame_alloc(NS_SLOT_ROOT_BANK, stack) ||
        ns_map_frame(NS_SLOT_SELF_ASPACE, stack, STACK_VA, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL) ||
        ns_thread_create(NS_SLOT_ROOT_BANK, thread, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE) ||
        ns_thread_set_fault_handler(thread, ep))
        return 1;
    last_page_va = OBJ_VA + (pages - 1) * 4096;
    if (ns_thread_start_fn(thread, reader, STACK_VA + 4096, 0) != NS_OK)
        return 1;
    /* Either a fault message arrives, or the reader finishes first. */
    struct ns_msg m = {0};
    uint64_t kind = 0;
    for (int i = 0; i < 1000; i++) {
        unsigned long state = 0;
        if (ns_thread_info(thread, &state, NULL) == NS_OK && state == NS_THREAD_STOPPED)
            break;
        if (state == NS_THREAD_BLOCKED && ns_recv(ep, &m) == NS_OK) {
            kind = m.w[0];
            m.info = NS_MSG_INFO(NS_FAULT_STOP, 0, 0);
            ns_reply(&m);
            break;
        }
        ns_sleep_us(1000);
    }
    return report(MPROBE_FAULT, kind, last_word) == NS_OK ? 0 : 1;
}
