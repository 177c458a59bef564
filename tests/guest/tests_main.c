/* The in-guest test suite: `scripts/run --init tests`. One test per system
 * call and per error the kernel promises (see the core issue), run from the
 * root process with its initial capabilities. */
#include <stdint.h>
#include <string.h>

#include "managers/zero/zero.h"
#include "tests/guest/ktest.h"
#include "tests/guest/mprobe.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

int ktest_failures;

uint64_t ktest_cmdline_u64(const char *key, uint64_t dflt)
{
    const char *p = strstr(ns_bootinfo->cmdline, key);
    if (!p)
        return dflt;
    uint64_t v = 0;
    for (p += strlen(key); *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

/* Slots the tests use; everything from NS_SLOT_FIRST_FREE on is free. */
enum {
    S_A = 20,
    S_B,
    S_C,
    S_D,
    S_E,
    S_F,
    S_G,
    S_H,
    S_BANK = 40,
    S_BANK2,
    S_FRAME = 50,
    S_FRAME2,
    S_FRAME3,
    S_THREAD = 60,
    S_ASPACE = 70,
    S_CSPACE = 80,
    S_SCRATCH = 100,
};

#define SCRATCH_VA 0x20000000ull
#define NOT_A_SLOT 0x100000000ull

static void clear_slots(void)
{
    for (unsigned s = NS_SLOT_FIRST_FREE; s < 200; s++)
        ns_cap_delete(s);
}

/* ---- debug write and bad user pointers ---- */

static void test_debug_write(void)
{
    CHECK_OK(ns_debug_write("    (debug write works)\n", 24));
    CHECK_OK(ns_debug_write(NULL, 0));
    CHECK_ERR(ns_debug_write((const char *)0xffffffc000000000ull, 8), NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_debug_write((const char *)0x1000, 8), NS_ERR_BAD_ADDRESS); /* unmapped */
    CHECK_ERR(ns_debug_write((const char *)0x3ffffffff8ull, 16),
              NS_ERR_BAD_ADDRESS); /* crosses top */
    CHECK_ERR(ns_debug_write((const char *)0x10000, UINT64_MAX), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_debug_write((const char *)0x10000, 4097), NS_ERR_INVALID_ARG);
}

static void test_invalid_syscall(void)
{
    CHECK_ERR(ns_syscall(NS_SYS_COUNT, 0, 0, 0, 0, 0, 0).err, NS_ERR_INVALID_SYSCALL);
    CHECK_ERR(ns_syscall(~0ul, 0, 0, 0, 0, 0, 0).err, NS_ERR_INVALID_SYSCALL);
}

/* ---- capabilities ---- */

static void test_identify_root_caps(void)
{
    struct ns_cap_info i;
    CHECK_OK(ns_cap_identify(NS_SLOT_SELF_THREAD, &i));
    CHECK(i.type == NS_CAP_THREAD && i.rights == NS_RIGHTS_ALL);
    CHECK_OK(ns_cap_identify(NS_SLOT_SELF_ASPACE, &i));
    CHECK(i.type == NS_CAP_ASPACE);
    CHECK_OK(ns_cap_identify(NS_SLOT_SELF_CSPACE, &i));
    CHECK(i.type == NS_CAP_CSPACE);
    CHECK_OK(ns_cap_identify(NS_SLOT_ROOT_BANK, &i));
    CHECK(i.type == NS_CAP_BANK);
    CHECK_OK(ns_cap_identify(NS_SLOT_MACHINE, &i));
    CHECK(i.type == NS_CAP_MACHINE);
    CHECK_ERR(ns_cap_identify(S_A, &i), NS_ERR_EMPTY_SLOT);
    CHECK_ERR(ns_cap_identify(NOT_A_SLOT, &i), NS_ERR_INVALID_SLOT);
    CHECK_ERR(ns_cap_identify(ns_bootinfo->cspace_slots, &i), NS_ERR_INVALID_SLOT);
}

static void test_cap_copy_diminish(void)
{
    struct ns_cap_info i;
    CHECK_OK(ns_cap_copy(NS_SLOT_ROOT_BANK, S_A, NS_RIGHT_READ));
    CHECK_OK(ns_cap_identify(S_A, &i));
    CHECK(i.type == NS_CAP_BANK && i.rights == NS_RIGHT_READ);
    /* Rights never grow back along a derivation. */
    CHECK_OK(ns_cap_copy(S_A, S_B, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_identify(S_B, &i));
    CHECK(i.rights == NS_RIGHT_READ);
    CHECK_ERR(ns_cap_copy(S_A, S_B, NS_RIGHTS_ALL), NS_ERR_SLOT_OCCUPIED);
    CHECK_ERR(ns_cap_copy(S_C, S_D, NS_RIGHTS_ALL), NS_ERR_EMPTY_SLOT);
    CHECK_ERR(ns_cap_copy(NOT_A_SLOT, S_D, NS_RIGHTS_ALL), NS_ERR_INVALID_SLOT);
    CHECK_ERR(ns_cap_copy(S_A, NOT_A_SLOT, NS_RIGHTS_ALL), NS_ERR_INVALID_SLOT);
    CHECK_ERR(ns_cap_copy(S_A, S_A, NS_RIGHTS_ALL), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_cap_copy(S_A, S_E, 1ull << 32), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_cap_mint(S_A, S_E, 0x20, 0), NS_ERR_INVALID_ARG);
    /* A READ-only bank cannot be spent from: missing right. */
    CHECK_ERR(ns_frame_alloc(S_A, S_C), NS_ERR_NO_RIGHTS);
    clear_slots();
}

static void test_cap_transfer(void)
{
    struct ns_cap_info i;
    CHECK_OK(ns_cspace_create(NS_SLOT_ROOT_BANK, S_CSPACE, 8));
    CHECK_OK(ns_cap_transfer(NS_SLOT_ROOT_BANK, S_CSPACE, 3, NS_RIGHT_READ));
    CHECK_ERR(ns_cap_transfer(NS_SLOT_ROOT_BANK, S_CSPACE, 3, NS_RIGHT_READ), NS_ERR_SLOT_OCCUPIED);
    CHECK_ERR(ns_cap_transfer(NS_SLOT_ROOT_BANK, S_CSPACE, 8, NS_RIGHT_READ), NS_ERR_INVALID_SLOT);
    CHECK_ERR(ns_cap_transfer(NS_SLOT_ROOT_BANK, NS_SLOT_ROOT_BANK, 3, NS_RIGHT_READ),
              NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_cap_transfer(S_A, S_CSPACE, 4, NS_RIGHT_READ), NS_ERR_EMPTY_SLOT);
    /* The copy is derived from ours: revoking ours reaches into the other space. */
    CHECK_OK(ns_cap_copy(NS_SLOT_ROOT_BANK, S_A, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_transfer(S_A, S_CSPACE, 4, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_copy(S_CSPACE, S_B, NS_RIGHT_READ));
    CHECK_ERR(ns_cap_transfer(S_A, S_B, 5, NS_RIGHTS_ALL), NS_ERR_NO_RIGHTS);
    CHECK_OK(ns_cap_revoke(S_A));
    CHECK_OK(ns_cap_identify(S_A, &i));
    clear_slots();
}

static void test_null_syscall(void)
{
    CHECK_OK(ns_nop());
}

static void test_cap_mint(void)
{
    /* Badges go on endpoints and notifications only. */
    CHECK_ERR(ns_cap_mint(NS_SLOT_ROOT_BANK, S_A, NS_RIGHTS_ALL, 7), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_cap_mint(NS_SLOT_ROOT_BANK, S_A, NS_RIGHT_READ, 0));
    struct ns_cap_info i;
    CHECK_OK(ns_cap_identify(S_A, &i));
    CHECK(i.rights == NS_RIGHT_READ && i.badge == 0);
    clear_slots();
}

static void test_cap_move_delete(void)
{
    struct ns_cap_info i;
    CHECK_OK(ns_cap_copy(NS_SLOT_ROOT_BANK, S_A, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_move(S_A, S_B));
    CHECK_ERR(ns_cap_identify(S_A, &i), NS_ERR_EMPTY_SLOT);
    CHECK_OK(ns_cap_identify(S_B, &i));
    CHECK(i.type == NS_CAP_BANK);
    CHECK_ERR(ns_cap_move(S_A, S_C), NS_ERR_EMPTY_SLOT);
    CHECK_ERR(ns_cap_move(S_B, NS_SLOT_ROOT_BANK), NS_ERR_SLOT_OCCUPIED);
    CHECK_OK(ns_cap_delete(S_B));
    CHECK_ERR(ns_cap_delete(S_B), NS_ERR_EMPTY_SLOT);
    CHECK_ERR(ns_cap_delete(NOT_A_SLOT), NS_ERR_INVALID_SLOT);
    clear_slots();
}

static void test_cap_revoke(void)
{
    struct ns_cap_info i;
    CHECK_OK(ns_cap_copy(NS_SLOT_ROOT_BANK, S_A, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_copy(S_A, S_B, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_copy(S_B, S_C, NS_RIGHT_READ));
    CHECK_OK(ns_cap_move(S_C, S_D)); /* a moved child is still a child */
    CHECK_OK(ns_cap_revoke(S_A));
    CHECK_OK(ns_cap_identify(S_A, &i));
    CHECK_ERR(ns_cap_identify(S_B, &i), NS_ERR_REVOKED);
    CHECK_ERR(ns_cap_identify(S_D, &i), NS_ERR_REVOKED);
    CHECK_ERR(ns_frame_alloc(S_B, S_E), NS_ERR_REVOKED);
    /* A revoked slot can be reused. */
    CHECK_OK(ns_cap_copy(S_A, S_B, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_identify(S_B, &i));
    CHECK_ERR(ns_cap_revoke(S_E), NS_ERR_EMPTY_SLOT);
    clear_slots();
}

/* ---- space banks ---- */

static void test_bank_quota(void)
{
    uint64_t limit, used;
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 4));
    CHECK_OK(ns_bank_info(S_BANK, &limit, &used));
    CHECK(limit == 4 && used == 0);
    /* Each frame costs its page plus its descriptor: three fit in 4 pages. */
    unsigned got = 0;
    long e;
    while ((e = ns_frame_alloc(S_BANK, S_FRAME + got)) == NS_OK)
        got++;
    CHECK_ERR(e, NS_ERR_NO_QUOTA);
    CHECK(got == 3);
    CHECK_OK(ns_bank_info(S_BANK, &limit, &used));
    CHECK(used > 3 * 4096 && used <= 4 * 4096);
    /* Freeing a frame gives its quota back. */
    CHECK_OK(ns_cap_delete(S_FRAME));
    CHECK_OK(ns_frame_alloc(S_BANK, S_FRAME));
    clear_slots();
}

static void test_bank_nested_limits(void)
{
    uint64_t used;
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 3));
    /* A sub-bank may name a larger limit than its parent; the parent's
     * limit still binds. */
    CHECK_OK(ns_bank_create(S_BANK, S_BANK2, 100));
    unsigned got = 0;
    while (ns_frame_alloc(S_BANK2, S_FRAME + got) == NS_OK)
        got++;
    /* Two frames (page + descriptor each) and the sub-bank's own
     * descriptor, all charged to the 3-page parent: a third frame does not fit. */
    CHECK(got == 2);
    CHECK_OK(ns_bank_info(S_BANK, NULL, &used));
    CHECK(used <= 3 * 4096);
    clear_slots();
}

static void test_bank_destroy(void)
{
    struct ns_cap_info i;
    uint64_t used_before, used_after;
    CHECK_OK(ns_bank_info(NS_SLOT_ROOT_BANK, NULL, &used_before));
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 64));
    CHECK_OK(ns_bank_create(S_BANK, S_BANK2, 32));
    CHECK_OK(ns_frame_alloc(S_BANK, S_FRAME));
    CHECK_OK(ns_frame_alloc(S_BANK2, S_FRAME2));
    CHECK_OK(ns_aspace_create(S_BANK2, S_ASPACE));
    CHECK_OK(ns_cspace_create(S_BANK2, S_CSPACE, 64));
    CHECK_OK(ns_bank_destroy(S_BANK));
    /* Everything allocated from it, sub-banks included, is gone. */
    CHECK_ERR(ns_cap_identify(S_FRAME, &i), NS_ERR_REVOKED);
    CHECK_ERR(ns_cap_identify(S_FRAME2, &i), NS_ERR_REVOKED);
    CHECK_ERR(ns_cap_identify(S_BANK2, &i), NS_ERR_REVOKED);
    CHECK_ERR(ns_cap_identify(S_ASPACE, &i), NS_ERR_REVOKED);
    CHECK_ERR(ns_cap_identify(S_CSPACE, &i), NS_ERR_REVOKED);
    CHECK_ERR(ns_frame_alloc(S_BANK, S_FRAME3), NS_ERR_REVOKED);
    clear_slots();
    CHECK_OK(ns_bank_info(NS_SLOT_ROOT_BANK, NULL, &used_after));
    CHECK(used_after == used_before);
    CHECK_ERR(ns_bank_destroy(NS_SLOT_ROOT_BANK), NS_ERR_BAD_STATE);
    CHECK_ERR(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, UINT64_MAX), NS_ERR_INVALID_ARG);
}

static void test_wrong_type(void)
{
    CHECK_ERR(ns_frame_alloc(NS_SLOT_MACHINE, S_A), NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_bank_info(NS_SLOT_SELF_THREAD, NULL, NULL), NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_thread_suspend(NS_SLOT_ROOT_BANK), NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_shutdown(NS_SLOT_ROOT_BANK, 0), NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_frame_alloc(NS_SLOT_ROOT_BANK, NS_SLOT_MACHINE), NS_ERR_SLOT_OCCUPIED);
}

/* ---- frames and mapping ---- */

static void test_frame_map(void)
{
    unsigned long eff;
    volatile uint64_t *p = (volatile uint64_t *)SCRATCH_VA;
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME));
    CHECK_OK(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, SCRATCH_VA, NS_RIGHT_READ | NS_RIGHT_WRITE,
                          &eff));
    CHECK(eff == (NS_RIGHT_READ | NS_RIGHT_WRITE));
    CHECK(p[0] == 0 && p[511] == 0); /* frames come zeroed */
    p[0] = 0x1234;
    CHECK(p[0] == 0x1234);
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, SCRATCH_VA + 4096, NS_RIGHT_READ, NULL),
              NS_ERR_BAD_STATE); /* one mapping per frame */
    CHECK_OK(ns_unmap(S_FRAME));
    CHECK_ERR(ns_unmap(S_FRAME), NS_ERR_BAD_STATE);
    /* Permissions are subtractive: a read-only capability maps read-only. */
    CHECK_OK(ns_cap_copy(S_FRAME, S_FRAME2, NS_RIGHT_READ));
    CHECK_OK(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME2, SCRATCH_VA, NS_RIGHT_READ | NS_RIGHT_WRITE,
                          &eff));
    CHECK(eff == NS_RIGHT_READ);
    CHECK(p[0] == 0x1234); /* same page, same data */
    CHECK_OK(ns_unmap(S_FRAME2));
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME2, SCRATCH_VA, NS_RIGHT_WRITE, NULL),
              NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, SCRATCH_VA + 1, NS_RIGHT_READ, NULL),
              NS_ERR_BAD_ADDRESS);
    CHECK_ERR(
        ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, 0xffffffc000000000ull, NS_RIGHT_READ, NULL),
        NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, 0, NS_RIGHT_READ, NULL),
              NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, SCRATCH_VA, 0x80, NULL),
              NS_ERR_INVALID_ARG);
    /* Deleting the frame's last capability unmaps and frees it. */
    CHECK_OK(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, SCRATCH_VA, NS_RIGHT_READ, NULL));
    CHECK_OK(ns_cap_delete(S_FRAME2));
    CHECK_OK(ns_cap_delete(S_FRAME));
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME));
    CHECK_OK(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, SCRATCH_VA, NS_RIGHT_READ, NULL));
    clear_slots();
}

static void test_map_over_existing_mapping(void)
{
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME));
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME2));
    CHECK_OK(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, SCRATCH_VA, NS_RIGHT_READ, NULL));
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME2, SCRATCH_VA, NS_RIGHT_READ, NULL),
              NS_ERR_RANGE);
    /* Our own program's pages are not frames we hold, but are mapped. */
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME2, 0x10000, NS_RIGHT_READ, NULL),
              NS_ERR_RANGE);
    clear_slots();
}

static void test_object_create_args(void)
{
    CHECK_ERR(ns_cspace_create(NS_SLOT_ROOT_BANK, S_CSPACE, 0), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_cspace_create(NS_SLOT_ROOT_BANK, S_CSPACE, 1u << 20), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_cspace_create(NS_SLOT_ROOT_BANK, S_CSPACE, 16));
    CHECK_OK(ns_aspace_create(NS_SLOT_ROOT_BANK, S_ASPACE));
    CHECK_ERR(ns_aspace_create(NS_SLOT_ROOT_BANK, S_ASPACE), NS_ERR_SLOT_OCCUPIED);
    CHECK_ERR(ns_aspace_create(NS_SLOT_ROOT_BANK, NOT_A_SLOT), NS_ERR_INVALID_SLOT);
    clear_slots();
}

/* ---- threads ---- */

static volatile unsigned long counter;

static void worker(unsigned long n)
{
    counter += n;
    ns_thread_exit();
}

static void spinner(unsigned long n)
{
    (void)n;
    for (;;)
        counter++;
}

static uint64_t stack_va(unsigned i)
{
    return SCRATCH_VA + 0x100000 + i * 0x10000;
}

/* A stack page for a child thread, mapped in our space. */
static uint64_t make_stack(unsigned i)
{
    ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME3 + i);
    ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME3 + i, stack_va(i), NS_RIGHT_READ | NS_RIGHT_WRITE,
                 NULL);
    return stack_va(i) + 4096;
}

/* ns_thread_start_fn on our own hart (see start_thread_on). */
/* Put thread `slot` (not started) on hart `hart`, -1 meaning ours. */
static long place_thread(unsigned long slot, long hart)
{
    long e = hart < 0 ? ns_thread_hart(NS_SLOT_SELF_THREAD, &hart) : NS_OK;
    return e == NS_OK ? ns_thread_set_hart(slot, (unsigned long)hart) : e;
}

static long start_fn_here(unsigned long slot, void (*fn)(unsigned long), uint64_t sp,
                          unsigned long arg)
{
    long e = place_thread(slot, -1);
    if (e != NS_OK && e != NS_ERR_BAD_STATE) /* BAD_STATE: started already - start says so */
        return e;
    return ns_thread_start_fn(slot, fn, sp, arg);
}

static void test_thread_lifecycle(void)
{
    unsigned long state, prio;
    counter = 0;
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_info(S_THREAD, &state, &prio));
    CHECK(state == NS_THREAD_INACTIVE);
    CHECK_ERR(ns_thread_resume(S_THREAD), NS_ERR_BAD_STATE);
    CHECK_ERR(ns_thread_start(S_THREAD, 0, make_stack(0), 5), NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_thread_start(S_THREAD, (uint64_t)worker, 0xffffffc000000000ull, 5),
              NS_ERR_BAD_ADDRESS);
    CHECK_OK(start_fn_here(S_THREAD, worker, make_stack(0), 5));
    CHECK_ERR(start_fn_here(S_THREAD, worker, make_stack(0), 5), NS_ERR_BAD_STATE);
    /* On one hart a yield lets it run; on several it may run elsewhere. */
    for (int i = 0; i < 3000 && counter != 5; i++)
        i < 100 ? ns_yield() : ns_sleep_us(1000);
    CHECK(counter == 5);
    CHECK_OK(ns_thread_info(S_THREAD, &state, NULL));
    CHECK(state == NS_THREAD_STOPPED);
    clear_slots();
}

static void test_thread_suspend_resume(void)
{
    unsigned long state;
    counter = 0;
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(start_fn_here(S_THREAD, spinner, make_stack(0), 0));
    ns_sleep_us(30000); /* the spinner runs while we sleep */
    CHECK(counter > 0);
    CHECK_OK(ns_thread_suspend(S_THREAD));
    CHECK_OK(ns_thread_info(S_THREAD, &state, NULL));
    CHECK(state == NS_THREAD_SUSPENDED);
    unsigned long c = counter;
    ns_sleep_us(30000);
    CHECK(counter == c); /* suspended means not running */
    uint64_t *sp = (uint64_t *)(stack_va(0) + 4096 - 16);
    sp[0] = (uint64_t)worker, sp[1] = 1000;
    CHECK_OK(ns_thread_set_regs(S_THREAD, (uint64_t)__ns_thread_entry, (uint64_t)sp, 0));
    CHECK_OK(ns_thread_resume(S_THREAD));
    ns_sleep_us(30000);
    CHECK(counter == c + 1000);
    CHECK_ERR(ns_thread_set_regs(S_THREAD, (uint64_t)worker, 0, 0), NS_ERR_BAD_STATE);
    clear_slots();
}

static void test_thread_priority(void)
{
    unsigned long prio, my_prio;
    CHECK_OK(ns_thread_info(NS_SLOT_SELF_THREAD, NULL, &my_prio));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_ERR(ns_thread_set_prio(S_THREAD, my_prio + 1), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_thread_set_prio(S_THREAD, 256), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_thread_set_prio(S_THREAD, my_prio - 1));
    CHECK_OK(ns_thread_info(S_THREAD, NULL, &prio));
    CHECK(prio == my_prio - 1);
    /* A lower-priority thread of our hart does not run while we are
     * runnable (priorities order each hart's queue, docs/smp.md). */
    counter = 0;
    CHECK_OK(start_fn_here(S_THREAD, worker, make_stack(0), 1));
    for (int i = 0; i < 10; i++)
        ns_yield();
    CHECK(counter == 0);
    ns_sleep_us(20000); /* now it may */
    CHECK(counter == 1);
    CHECK_OK(ns_cap_copy(S_THREAD, S_A, NS_RIGHT_READ));
    CHECK_ERR(ns_thread_set_prio(S_A, 1), NS_ERR_NO_RIGHTS);
    clear_slots();
}

static void test_thread_fault_without_handler(void)
{
    unsigned long state;
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    /* Jump to an unmapped page: the thread is stopped, we go on. */
    CHECK_OK(ns_thread_start(S_THREAD, 0x7000000, make_stack(0), 0));
    ns_sleep_us(20000);
    CHECK_OK(ns_thread_info(S_THREAD, &state, NULL));
    CHECK(state == NS_THREAD_STOPPED);
    clear_slots();
}

static void test_thread_loses_aspace(void)
{
    unsigned long state;
    /* A thread in a space whose bank is destroyed stops when next picked. */
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 64));
    CHECK_OK(ns_aspace_create(S_BANK, S_ASPACE));
    CHECK_OK(ns_thread_create(NS_SLOT_ROOT_BANK, S_THREAD, NS_SLOT_SELF_CSPACE, S_ASPACE));
    CHECK_OK(ns_bank_destroy(S_BANK));
    CHECK_OK(ns_thread_start(S_THREAD, 0x10000, 0x20000, 0));
    ns_sleep_us(20000);
    CHECK_OK(ns_thread_info(S_THREAD, &state, NULL));
    CHECK(state == NS_THREAD_STOPPED);
    clear_slots();
}

static void test_sleep_and_clock(void)
{
    uint64_t t0 = ns_clock_us();
    CHECK_OK(ns_sleep_us(15000));
    uint64_t dt = ns_clock_us() - t0;
    CHECK(dt >= 15000 && dt < 200000);
    CHECK_ERR(ns_sleep_us(UINT64_MAX), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_yield());
}

static void test_floating_point(void)
{
    volatile double a = 1.25, b = 3.0;
    CHECK((int)(a * b * 100) == 375);
}

static void test_quota_thread_create(void)
{
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 0));
    CHECK_ERR(ns_thread_create(S_BANK, S_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE),
              NS_ERR_NO_QUOTA);
    CHECK_ERR(ns_aspace_create(S_BANK, S_ASPACE), NS_ERR_NO_QUOTA);
    CHECK_ERR(ns_cspace_create(S_BANK, S_CSPACE, 8), NS_ERR_NO_QUOTA);
    clear_slots();
}

/* ---- IPC ---- */

enum { S_EP = 110, S_EP2, S_NTFN, S_SERVER, S_CLIENT, S_RECV = 120, S_IPCBUF = 130, S_IPCBUF2 };

#define IPCBUF_VA  (SCRATCH_VA + 0x800000)
#define IPCBUF2_VA (SCRATCH_VA + 0x801000)

/* The runtime registered an IPC buffer for the main thread (ns_spawn with
 * a pager needs it to be that one). */
static struct ns_ipc_buffer *my_ipc_buffer(void)
{
    return ns_ipc_buffer();
}

static void drop_ipc_buffer(void)
{
    ns_thread_set_ipc_buffer(NS_SLOT_SELF_THREAD, (uint64_t)(uintptr_t)ns_ipc_buffer());
}

/* A thread of ours on hart `hart` (-1: ours). Most tests here order
 * their threads by time - "it runs while we sleep 10 ms" - which holds on
 * one hart whatever the machine, not across harts on a loaded host; the
 * tests of true concurrency place their threads on every hart and wait
 * for conditions instead. */
static long start_thread_on(unsigned long slot, void (*fn)(unsigned long), unsigned long arg,
                            unsigned stack, long hart)
{
    long e = ns_thread_create(NS_SLOT_ROOT_BANK, slot, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE);
    if (e == NS_OK)
        e = place_thread(slot, hart);
    if (e == NS_OK)
        e = ns_thread_start_fn(slot, fn, make_stack(stack), arg);
    return e;
}

static long start_thread(unsigned long slot, void (*fn)(unsigned long), unsigned long arg,
                         unsigned stack)
{
    return start_thread_on(slot, fn, arg, stack, -1);
}

/* Hart i of ours, round the harts there are. */
static long hart_nr(unsigned i)
{
    return (long)(i % ns_bootinfo->hart_count);
}

/* An echo server: replies with the words it got, each plus one, and the
 * badge in the label. */
static void echo_server(unsigned long ep)
{
    struct ns_msg m = {0};
    long e = ns_recv(ep, &m);
    while (e == NS_OK) {
        uint64_t len = NS_MSG_LEN(m.info);
        for (unsigned i = 0; i < NS_MSG_REG_WORDS; i++)
            m.w[i] += 1;
        m.info = NS_MSG_INFO(m.badge, len < 4 ? len : 4, 0);
        e = ns_reply_recv(ep, &m);
    }
    ns_thread_exit();
}

static void test_ipc_call_reply(void)
{
    struct ns_msg m = {0};
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    CHECK_OK(ns_cap_mint(S_EP, S_EP2, NS_RIGHT_WRITE, 42));
    CHECK_OK(start_thread(S_SERVER, echo_server, S_EP, 1));
    m.info = NS_MSG_INFO(7, 4, 0);
    m.w[0] = 10, m.w[1] = 20, m.w[2] = 30, m.w[3] = 40;
    CHECK_OK(ns_call(S_EP2, &m));
    CHECK(NS_MSG_LABEL(m.info) == 42); /* the server saw our badge */
    CHECK(NS_MSG_LEN(m.info) == 4);
    CHECK(m.w[0] == 11 && m.w[1] == 21 && m.w[2] == 31 && m.w[3] == 41);
    /* 0-word call, repeated: the reply right is one-shot but renewed by each call. */
    for (int i = 0; i < 100; i++) {
        m.info = NS_MSG_INFO(0, 0, 0);
        CHECK_OK(ns_call(S_EP2, &m));
    }
    CHECK(NS_MSG_LEN(m.info) == 0);
    /* The badged capability lacks READ: it cannot receive. */
    CHECK_ERR(ns_recv(S_EP2, &m), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_call(S_NTFN, &m), NS_ERR_EMPTY_SLOT);
    m.info = NS_MSG_INFO(0, 65, 0);
    CHECK_ERR(ns_call(S_EP2, &m), NS_ERR_INVALID_ARG);
    m.info = NS_MSG_INFO(0, 0, 5);
    CHECK_ERR(ns_call(S_EP2, &m), NS_ERR_TOO_MANY_CAPS);
    m.info = NS_MSG_INFO(0, 0, 1);
    CHECK_ERR(ns_call(S_EP2, &m), NS_ERR_NO_RIGHTS); /* no GRANT right */
    m.info = NS_MSG_INFO(0, 8, 0);
    CHECK_OK(ns_thread_set_ipc_buffer(NS_SLOT_SELF_THREAD, 0));
    CHECK_ERR(ns_call(S_EP, &m), NS_ERR_BAD_ADDRESS); /* long message, no IPC buffer */
    drop_ipc_buffer();
    clear_slots();
}

static volatile uint64_t received[8];
static volatile unsigned long received_count;

static void long_receiver(unsigned long ep)
{
    ns_frame_alloc(NS_SLOT_ROOT_BANK, S_IPCBUF2);
    ns_map_frame(NS_SLOT_SELF_ASPACE, S_IPCBUF2, IPCBUF2_VA, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
    /* Threads share the capability space here, so a thread capability to
     * ourselves is not at hand: the test sets our IPC buffer for us. */
    struct ns_ipc_buffer *buf = (struct ns_ipc_buffer *)IPCBUF2_VA;
    buf->recv_slots[0] = S_RECV;
    buf->recv_slots[1] = S_RECV + 1;
    buf->recv_count = 2;
    struct ns_msg m = {0};
    if (ns_recv(ep, &m) == NS_OK) {
        received_count = NS_MSG_LEN(m.info) | NS_MSG_CAPS(m.info) << 8;
        received[0] = m.w[0];
        for (unsigned i = 4; i < 8; i++)
            received[i] = buf->mr[i];
    }
    ns_thread_exit();
}

static void test_ipc_long_message_and_caps(void)
{
    struct ns_msg m = {0};
    struct ns_ipc_buffer *buf = my_ipc_buffer();
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    received_count = 0;
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_SERVER, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_set_ipc_buffer(S_SERVER, IPCBUF2_VA));
    CHECK_OK(start_fn_here(S_SERVER, long_receiver, make_stack(1), S_EP));
    ns_sleep_us(10000); /* let it block in recv */
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME));
    buf->send_caps[0] = S_FRAME;
    for (unsigned i = 4; i < 8; i++)
        buf->mr[i] = 100 + i;
    m.info = NS_MSG_INFO(1, 8, 1);
    m.w[0] = 99;
    CHECK_OK(ns_send(S_EP, &m));
    ns_sleep_us(10000);
    CHECK(received_count == (8 | 1 << 8));
    CHECK(received[0] == 99 && received[4] == 104 && received[7] == 107);
    struct ns_cap_info i;
    CHECK_OK(ns_cap_identify(S_RECV, &i)); /* the frame arrived */
    CHECK(i.type == NS_CAP_FRAME);
    drop_ipc_buffer();
    clear_slots();
}

static void replier_twice(unsigned long ep)
{
    struct ns_msg m = {0};
    ns_recv(ep, &m);
    m.info = 0;
    received[0] = (uint64_t)ns_reply(&m);
    received[1] = (uint64_t)ns_reply(&m);
    ns_thread_exit();
}

static void test_ipc_reply_twice(void)
{
    struct ns_msg m = {0};
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    received[0] = received[1] = 99;
    CHECK_OK(start_thread(S_SERVER, replier_twice, S_EP, 1));
    CHECK_OK(ns_call(S_EP, &m));
    ns_sleep_us(10000);
    CHECK(received[0] == NS_OK);
    CHECK(received[1] == NS_ERR_REPLY_USED);
    CHECK_ERR(ns_reply(&m), NS_ERR_REPLY_USED); /* we owe nobody */
    clear_slots();
}

static void blocked_receiver(unsigned long ep)
{
    struct ns_msg m = {0};
    received[0] = (uint64_t)ns_recv(ep, &m);
    ns_thread_exit();
}

static void silent_server(unsigned long ep)
{
    struct ns_msg m = {0};
    ns_recv(ep, &m);
    for (;;)
        ns_sleep_us(1000000); /* never replies */
}

static void test_ipc_dead_endpoint(void)
{
    struct ns_msg m = {0};
    struct ns_cap_info i;
    /* A receiver blocked on an endpoint that is destroyed wakes with DEAD_OBJECT. */
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 16));
    CHECK_OK(ns_endpoint_create(S_BANK, S_EP));
    received[0] = 99;
    CHECK_OK(start_thread(S_SERVER, blocked_receiver, S_EP, 1));
    ns_sleep_us(10000);
    CHECK_OK(ns_bank_destroy(S_BANK));
    ns_sleep_us(10000);
    CHECK(received[0] == NS_ERR_DEAD_OBJECT);
    CHECK_ERR(ns_call(S_EP, &m), NS_ERR_REVOKED); /* IPC through a dead endpoint's cap */
    CHECK_ERR(ns_cap_identify(S_EP, &i), NS_ERR_REVOKED);
    clear_slots();
}

static volatile long caller_result;

static void caller_thread(unsigned long ep)
{
    struct ns_msg m = {0};
    caller_result = ns_call(ep, &m);
    ns_thread_exit();
}

static void test_ipc_server_dies(void)
{
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    CHECK_OK(start_thread(S_SERVER, silent_server, S_EP, 1));
    ns_sleep_us(10000);
    caller_result = 99;
    CHECK_OK(start_thread(S_CLIENT, caller_thread, S_EP, 2));
    ns_sleep_us(10000);
    CHECK(caller_result == 99);        /* waiting for the reply */
    CHECK_OK(ns_cap_delete(S_SERVER)); /* last capability: the server is destroyed */
    ns_sleep_us(10000);
    CHECK(caller_result == NS_ERR_DEAD_OBJECT);
    clear_slots();
}

static void test_suspend_cancels_ipc(void)
{
    unsigned long state;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    received[0] = 99;
    CHECK_OK(start_thread(S_SERVER, blocked_receiver, S_EP, 1));
    ns_sleep_us(10000);
    CHECK_OK(ns_thread_info(S_SERVER, &state, NULL));
    CHECK(state == NS_THREAD_BLOCKED);
    CHECK_OK(ns_thread_suspend(S_SERVER));
    CHECK_OK(ns_thread_resume(S_SERVER));
    ns_sleep_us(10000);
    CHECK(received[0] == NS_ERR_BAD_STATE); /* its receive was cancelled */
    clear_slots();
}

static void test_notifications(void)
{
    uint64_t bits;
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, S_NTFN));
    CHECK_OK(ns_poll(S_NTFN, &bits));
    CHECK(bits == 0);
    CHECK_OK(ns_cap_mint(S_NTFN, S_A, NS_RIGHT_WRITE, 0x4));
    CHECK_OK(ns_cap_mint(S_NTFN, S_B, NS_RIGHT_WRITE, 0x10));
    CHECK_OK(ns_signal(S_A));
    CHECK_OK(ns_signal(S_B));
    CHECK_OK(ns_signal(S_A));
    CHECK_OK(ns_wait(S_NTFN, &bits));
    CHECK(bits == 0x14);
    CHECK_OK(ns_poll(S_NTFN, &bits));
    CHECK(bits == 0);
    CHECK_ERR(ns_wait(S_A, &bits), NS_ERR_NO_RIGHTS); /* signal-only capability */
    CHECK_ERR(ns_signal(NS_SLOT_ROOT_BANK), NS_ERR_WRONG_TYPE);
    clear_slots();
}

static void signaller(unsigned long ntfn)
{
    ns_sleep_us(5000);
    ns_signal(ntfn);
    ns_thread_exit();
}

static void test_notification_wakes_waiter(void)
{
    uint64_t bits = 0;
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, S_NTFN));
    CHECK_OK(start_thread(S_CLIENT, signaller, S_NTFN, 1));
    CHECK_OK(ns_wait(S_NTFN, &bits)); /* blocks until the other thread signals */
    CHECK(bits == 1);
    clear_slots();
}

/* ---- faults to handlers ---- */

#define FAULT_VA (SCRATCH_VA + 0x900000)

static volatile unsigned long fault_done;

static void faulter(unsigned long n)
{
    volatile uint64_t *p = (volatile uint64_t *)FAULT_VA;
    *p = n; /* unmapped until the handler maps it */
    fault_done = *p + 1;
    ns_thread_exit();
}

static void test_fault_handler_resumes(void)
{
    struct ns_msg m = {0};
    fault_done = 0;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    CHECK_OK(ns_cap_mint(S_EP, S_EP2, NS_RIGHT_WRITE, 77));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_CLIENT, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_set_fault_handler(S_CLIENT, S_EP2));
    CHECK_OK(start_fn_here(S_CLIENT, faulter, make_stack(1), 5));
    CHECK_OK(ns_recv(S_EP, &m));
    CHECK(NS_MSG_LABEL(m.info) == NS_LABEL_FAULT && m.badge == 77);
    CHECK(m.w[0] == NS_FAULT_WRITE && m.w[2] == FAULT_VA);
    /* Resolve it: map a page there, then resume the thread. */
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME));
    CHECK_OK(
        ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, FAULT_VA, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
    m.info = NS_MSG_INFO(NS_FAULT_RESUME, 0, 0);
    CHECK_OK(ns_reply(&m));
    ns_sleep_us(10000);
    CHECK(fault_done == 6);
    clear_slots();
}

/* A handler that emulates: the faulting load's destination register gets a
 * value, and the thread goes on after the instruction. */
static volatile uint64_t emulated;

static void loads_from_nowhere(unsigned long unused)
{
    (void)unused;
    uint64_t v;
    asm volatile(".option push\n.option norvc\nld %0, 0(%1)\n.option pop"
                 : "=r"(v)
                 : "r"(0x7100000ull));
    emulated = v;
    ns_thread_exit();
}

static void test_fault_handler_edits_registers(void)
{
    struct ns_msg m = {0};
    struct ns_regs r;
    emulated = 0;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_CLIENT, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_ERR(ns_thread_read_regs(S_CLIENT, &r), NS_OK); /* inactive: allowed */
    CHECK_OK(ns_thread_set_fault_handler(S_CLIENT, S_EP));
    CHECK_OK(start_fn_here(S_CLIENT, loads_from_nowhere, make_stack(1), 0));
    CHECK_OK(ns_recv(S_EP, &m));
    CHECK(m.w[0] == NS_FAULT_READ && m.w[2] == 0x7100000);
    CHECK_OK(ns_thread_read_regs(S_CLIENT, &r));
    CHECK(r.pc == m.w[1]);
    /* Decode the faulting ld's destination register and emulate it. */
    uint32_t insn = *(const uint32_t *)(uintptr_t)r.pc;
    unsigned rd = (insn >> 7) & 31;
    r.x[rd] = 0xabcd;
    r.pc += 4;
    CHECK_OK(ns_thread_write_regs(S_CLIENT, &r));
    m.info = NS_MSG_INFO(NS_FAULT_RESUME, 0, 0);
    CHECK_OK(ns_reply(&m));
    ns_sleep_us(10000);
    CHECK(emulated == 0xabcd);
    /* A running (or here: stopped, then restarted) thread's registers. */
    CHECK_ERR(ns_thread_read_regs(S_CLIENT, (struct ns_regs *)0xffffffc000000000ull),
              NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_thread_read_regs(S_CLIENT, (struct ns_regs *)0x3fffffff00ull), NS_ERR_BAD_ADDRESS);
    r.pc = 0;
    CHECK_ERR(ns_thread_write_regs(S_CLIENT, &r), NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_thread_read_regs(NS_SLOT_SELF_THREAD, &r), NS_ERR_BAD_STATE); /* running */
    clear_slots();
}

static void test_fault_handler_stops(void)
{
    struct ns_msg m = {0};
    unsigned long state;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_CLIENT, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_set_fault_handler(S_CLIENT, S_EP));
    CHECK_OK(ns_thread_start(S_CLIENT, 0x7000000, make_stack(1), 0)); /* exec fault */
    CHECK_OK(ns_recv(S_EP, &m));
    CHECK(m.w[0] == NS_FAULT_EXEC && m.w[1] == 0x7000000);
    m.info = NS_MSG_INFO(NS_FAULT_STOP, 0, 0);
    CHECK_OK(ns_reply(&m));
    CHECK_OK(ns_thread_info(S_CLIENT, &state, NULL));
    CHECK(state == NS_THREAD_STOPPED);
    CHECK_ERR(ns_thread_set_fault_handler(S_CLIENT, NS_SLOT_ROOT_BANK), NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_thread_set_ipc_buffer(S_CLIENT, 0x1234), NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_thread_set_ipc_buffer(S_CLIENT, 0xffffffc000000000ull), NS_ERR_BAD_ADDRESS);
    clear_slots();
}

/* ---- starting programs from user mode (user/rt/spawn.h) ---- */

#define SPAWN_TIMEOUT_US 5000000

static uint64_t root_used(void)
{
    uint64_t used = 0;
    CHECK_OK(ns_bank_info(NS_SLOT_ROOT_BANK, NULL, &used));
    return used;
}

static void test_spawn_hello(void)
{
    struct ns_process p;
    struct ns_cap_info i;
    unsigned long free_before = ns_slot_count_free();
    uint64_t before = root_used(), child_used = 0;
    struct ns_spawn_opts o = {.arg = 7};
    CHECK_OK(ns_spawn("hello", &o, &p));
    /* The parent keeps two slots for a child, whatever its size. */
    CHECK(ns_slot_count_free() == free_before - 2);
    CHECK_OK(ns_cap_identify(p.thread, &i));
    CHECK(i.type == NS_CAP_THREAD);
    CHECK_OK(ns_cap_copy(p.thread, S_A, NS_RIGHT_READ));
    CHECK_OK(ns_process_wait(&p, SPAWN_TIMEOUT_US));
    CHECK(p.state == NS_THREAD_STOPPED);
    CHECK_OK(ns_process_bank_used(&p, &child_used));
    CHECK(child_used > 8 * 4096);
    CHECK(root_used() > before);
    CHECK_OK(ns_process_destroy(&p));
    CHECK(p.reclaimed_bytes > child_used); /* the bank's own descriptor too */
    CHECK(root_used() == before);
    CHECK(ns_slot_count_free() == free_before);
    CHECK_ERR(ns_cap_identify(S_A, &i), NS_ERR_REVOKED); /* the thread went with the bank */
    clear_slots();
}

static void test_spawn_bank_too_small(void)
{
    struct ns_process p;
    unsigned long free_before = ns_slot_count_free();
    uint64_t before = root_used();
    /* Every limit below what hello needs (about 15 pages, resident) fails
     * at some step - capability space, address space, thread, notification,
     * an object, a preload, the image writes - and each is undone whole. */
    uint64_t limit = 1;
    long e;
    for (; limit <= 64; limit++) {
        struct ns_spawn_opts o = {.bank_pages = limit};
        if ((e = ns_spawn("hello", &o, &p)) != NS_ERR_NO_QUOTA)
            break;
        CHECK(root_used() == before);
        CHECK(ns_slot_count_free() == free_before);
    }
    CHECK_OK(e);
    CHECK(limit > 8 && limit <= 64);
    if (e == NS_OK) {
        CHECK_OK(ns_process_wait(&p, SPAWN_TIMEOUT_US));
        CHECK_OK(ns_process_destroy(&p));
    }
    CHECK(root_used() == before);
    /* The caller's bank is the limit too. */
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 6));
    struct ns_spawn_opts o = {.parent_bank = S_BANK};
    CHECK_ERR(ns_spawn("hello", &o, &p), NS_ERR_NO_QUOTA);
    clear_slots();
    CHECK(root_used() == before);
}

static void test_spawn_not_in_initrd(void)
{
    struct ns_process p;
    unsigned long free_before = ns_slot_count_free();
    uint64_t before = root_used();
    CHECK_ERR(ns_spawn("no-such-program", NULL, &p), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_spawn("", NULL, &p), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_spawn(NULL, NULL, &p), NS_ERR_INVALID_ARG);
    char longname[NS_SPAWN_NAME_MAX + 1];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_ERR(ns_spawn(longname, NULL, &p), NS_ERR_INVALID_ARG);
    CHECK(root_used() == before);
    CHECK(ns_slot_count_free() == free_before);
}

static void test_spawn_bad_options(void)
{
    struct ns_process p;
    uint64_t before = root_used();
    struct ns_spawn_cap caps[NS_SPAWN_MAX_CAPS + 1];
    for (unsigned k = 0; k <= NS_SPAWN_MAX_CAPS; k++)
        caps[k] = (struct ns_spawn_cap){NS_SLOT_ROOT_BANK, NS_SLOT_FIRST_GIVEN + k, NS_RIGHT_READ};
    struct ns_spawn_opts o = {.caps = caps, .ncaps = NS_SPAWN_MAX_CAPS + 1};
    CHECK_ERR(ns_spawn("hello", &o, &p), NS_ERR_TOO_MANY_CAPS);
    o.ncaps = 1;
    caps[0].dst = NS_SLOT_ROOT_BANK; /* the child's own bank goes there */
    CHECK_ERR(ns_spawn("hello", &o, &p), NS_ERR_INVALID_SLOT);
    caps[0].dst = caps[1].dst;
    o.ncaps = 2;
    CHECK_ERR(ns_spawn("hello", &o, &p), NS_ERR_SLOT_OCCUPIED);
    /* A source we do not hold fails in the kernel, after the child was
     * half built: it is undone all the same. */
    caps[0] = (struct ns_spawn_cap){S_A, NS_SLOT_FIRST_GIVEN, NS_RIGHTS_ALL};
    o.ncaps = 1;
    CHECK_ERR(ns_spawn("hello", &o, &p), NS_ERR_EMPTY_SLOT);
    CHECK(root_used() == before);
    /* Higher than our own priority: refused by the kernel, undone. */
    unsigned long prio;
    CHECK_OK(ns_thread_info(NS_SLOT_SELF_THREAD, NULL, &prio));
    struct ns_spawn_opts hi = {.priority = (unsigned)prio + 1};
    CHECK_ERR(ns_spawn("hello", &hi, &p), NS_ERR_NO_RIGHTS);
    struct ns_spawn_opts big = {.stack_pages = NS_SPAWN_MAX_STACK_PAGES + 1};
    CHECK_ERR(ns_spawn("hello", &big, &p), NS_ERR_INVALID_ARG);
    CHECK(root_used() == before);
    /* A valid capability arrives and the child runs. */
    caps[0] = (struct ns_spawn_cap){NS_SLOT_ROOT_BANK, NS_SLOT_FIRST_GIVEN, NS_RIGHT_READ};
    CHECK_OK(ns_spawn("hello", &o, &p));
    CHECK_OK(ns_process_wait(&p, SPAWN_TIMEOUT_US));
    CHECK_OK(ns_process_destroy(&p));
    CHECK(root_used() == before);
}

static void test_spawn_destroy_running(void)
{
    struct ns_process p;
    struct ns_cap_info i;
    unsigned long state;
    uint64_t before = root_used();
    struct ns_spawn_opts o = {.arg = 100000}; /* counts far longer than we wait */
    CHECK_OK(ns_spawn("counter", &o, &p));
    CHECK_OK(ns_cap_copy(p.thread, S_A, NS_RIGHT_READ));
    ns_sleep_us(20000); /* both threads are counting */
    CHECK_ERR(ns_process_wait(&p, 0), NS_ERR_WOULD_BLOCK);
    CHECK_OK(ns_thread_info(S_A, &state, NULL));
    CHECK(state != NS_THREAD_STOPPED && state != NS_THREAD_INACTIVE);
    CHECK_OK(ns_process_destroy(&p));
    /* Its threads (the second one too: it was charged to the child's bank)
     * are gone with everything else, and the accounting is back. */
    CHECK_ERR(ns_thread_info(S_A, &state, NULL), NS_ERR_REVOKED);
    CHECK_ERR(ns_cap_identify(S_A, &i), NS_ERR_REVOKED);
    CHECK(root_used() == before);
    ns_sleep_us(20000); /* nothing of it runs any more: the kernel stays sane */
    CHECK(root_used() == before);
    clear_slots();
}

/* ---- memory objects ---- */

enum { S_MO = 140, S_MO_RO, S_MGR_NTFN, S_MGR_THREAD, S_MO_EP, S_BUF = 150 };

#define MO_VA      0x30000000ull
#define MGR_BUF_VA 0x31000000ull

/* A manager thread of our own: waits on its notification, reads the
 * requests and supplies each page filled with its page number, or fails
 * them when `fail_with` is set. */
static volatile long fail_with;
static volatile bool supply_zero;  /* answer with zero pages (no buffer) */
static volatile bool hold_answers; /* wait before reading requests while set */
static volatile unsigned long supplied;

static void mgr_thread(unsigned long unused)
{
    (void)unused;
    uint64_t *buf = (uint64_t *)MGR_BUF_VA;
    struct ns_page_request req[16];
    for (;;) {
        uint64_t bits;
        if (ns_wait(S_MGR_NTFN, &bits) != NS_OK)
            return;
        unsigned long n;
        while (hold_answers)
            ns_sleep_us(1000);
        while (ns_memobj_requests(S_MO, req, 16, &n) == NS_OK && n) {
            for (unsigned long i = 0; i < n; i++) {
                if (fail_with) {
                    ns_memobj_fail(S_MO, req[i].first_page, req[i].pages, fail_with);
                    continue;
                }
                /* Page by page: a request for a cluster is answered in
                 * several supplies, each waking the waiters. */
                for (uint64_t p = req[i].first_page; p < req[i].first_page + req[i].pages; p++) {
                    for (unsigned w = 0; w < 512 && !supply_zero; w++)
                        buf[w] = p * 1000 + w;
                    if (ns_memobj_supply(S_MO, p, 1, supply_zero ? NULL : buf) == NS_OK)
                        supplied++;
                }
            }
        }
    }
}

static void memobj_setup(uint64_t length)
{
    fail_with = 0;
    supply_zero = false;
    hold_answers = false;
    supplied = 0;
    ns_notification_create(NS_SLOT_ROOT_BANK, S_MGR_NTFN);
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, length, S_MGR_NTFN));
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_BUF));
    CHECK_OK(
        ns_map_frame(NS_SLOT_SELF_ASPACE, S_BUF, MGR_BUF_VA, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
    CHECK_OK(start_thread(S_MGR_THREAD, mgr_thread, 0, 3));
}

static void memobj_teardown(void)
{
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, 64);
    clear_slots();
}

/* Until the manager thread has made `n` supplies, or a second went by. */
static void wait_supplied(unsigned long n)
{
    for (int i = 0; i < 1000 && supplied < n; i++)
        ns_sleep_us(1000);
}

static void test_memobj_fault_and_supply(void)
{
    unsigned long eff;
    uint64_t requests;
    memobj_setup(3 * 4096 + 100); /* a short last page */
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ | NS_RIGHT_WRITE,
                           &eff));
    CHECK(eff == (NS_RIGHT_READ | NS_RIGHT_WRITE));
    volatile uint64_t *p = (volatile uint64_t *)MO_VA;
    CHECK(p[0] == 0 && p[7] == 7); /* faulted in through the manager */
    CHECK(p[512 + 3] == 1003);     /* page 1 */
    p[1] = 42;                     /* writable */
    CHECK(p[1] == 42);
    volatile uint8_t *last = (volatile uint8_t *)(MO_VA + 3 * 4096);
    CHECK(((volatile uint64_t *)last)[0] == 3000); /* bytes below the length: data */
    CHECK(last[100] == 0 && last[4095] == 0);      /* past the length: zero */
    wait_supplied(3);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 3 && supplied == 3);
    /* Touching it again costs no request (minor fault after unmap too). */
    CHECK_OK(ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, 4));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ, &eff));
    CHECK(p[1] == 42);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 3);
    memobj_teardown();
}

static unsigned long toucher_sum;

static void toucher(unsigned long pages)
{
    for (unsigned long i = 0; i < pages; i++)
        __atomic_fetch_add(&toucher_sum, *(volatile uint64_t *)(MO_VA + i * 4096),
                           __ATOMIC_RELAXED); /* the touchers may run on several harts */
    ns_thread_exit();
}

/* Until the touchers in S_THREAD.. have exited (stopped), or 20 s went by:
 * on several harts under emulation, every hop of the request path is an
 * IPI and a lock hand-over, and 50 ms was seen not to be enough. */
static void wait_touchers(unsigned n)
{
    for (int k = 0; k < 20000; k++) {
        unsigned done = 0;
        for (unsigned i = 0; i < n; i++) {
            unsigned long st, pr;
            done += ns_thread_info(S_THREAD + i, &st, &pr) == NS_OK && st == NS_THREAD_STOPPED;
        }
        if (done == n)
            return;
        ns_sleep_us(1000);
    }
}

static void test_memobj_one_request_per_page(void)
{
    uint64_t requests;
    memobj_setup(8 * 4096);
    toucher_sum = 0;
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 8, NS_RIGHT_READ, NULL));
    for (unsigned i = 0; i < 4; i++) /* one on each hart there is */
        CHECK_OK(start_thread_on(S_THREAD + i, toucher, 8, 4 + i, hart_nr(i)));
    wait_touchers(4);
    CHECK(__atomic_load_n(&toucher_sum, __ATOMIC_RELAXED) ==
          4 * (0 + 1000 + 2000 + 3000 + 4000 + 5000 + 6000 + 7000));
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    if (requests != 8)
        printf("    %lu requests for 8 pages\n", (unsigned long)requests);
    CHECK(requests == 8); /* 4 threads x 8 pages, one request per page */
    memobj_teardown();
}

/* ---- I/O-pinned frames ---- */

/* An account of two pins with a 200 ms lease: pins within the quota give
 * their physical address, the third is refused; unpinned, a frame's
 * address is no longer told; past the lease every use fails (and the
 * frame cannot be mapped again), the quota stays taken for one more lease
 * (quarantine), then frees; a pinned frame deleted mid-lease waits out the
 * quarantine too. Ordinary frames never tell their address, and nothing
 * but the pin authority makes accounts. */
static void test_frame_pin(void)
{
    enum { ACC = S_SCRATCH, F0 = S_SCRATCH + 1, F1, F2, PLAIN = S_SCRATCH + 8 };
    uint64_t pa = 1, pa1 = 0;
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, PLAIN));
    CHECK_ERR(ns_frame_info(PLAIN, &pa), NS_ERR_NO_RIGHTS);
    CHECK(pa == 0);
    CHECK_ERR(ns_frame_unpin(PLAIN), NS_ERR_BAD_STATE);
    CHECK_ERR(ns_pin_account_create(NS_SLOT_ROOT_BANK, NS_SLOT_ROOT_BANK, ACC, 2, 200000),
              NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_pin_account_create(NS_SLOT_PIN_AUTHORITY, NS_SLOT_ROOT_BANK, ACC, 0, 200000),
              NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_pin_account_create(NS_SLOT_PIN_AUTHORITY, NS_SLOT_ROOT_BANK, ACC, 2, 0),
              NS_ERR_INVALID_ARG);
    CHECK_OK(ns_pin_account_create(NS_SLOT_PIN_AUTHORITY, NS_SLOT_ROOT_BANK, ACC, 2, 200000));
    uint64_t t0 = ns_clock_us();
    CHECK_OK(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F0));
    CHECK_OK(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F1));
    CHECK_ERR(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2), NS_ERR_NO_QUOTA);
    CHECK_OK(ns_frame_info(F0, &pa));
    CHECK_OK(ns_frame_info(F1, &pa1));
    CHECK(pa && !(pa & 4095) && pa1 && !(pa1 & 4095) && pa != pa1);
    /* Mapped and used like any frame: it was cleared. */
    volatile uint64_t *w = (volatile uint64_t *)(SCRATCH_VA + 0x4000);
    CHECK_OK(
        ns_map_frame(NS_SLOT_SELF_ASPACE, F0, (uint64_t)w, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
    CHECK(w[0] == 0 && w[511] == 0);
    w[3] = 0xd3a;
    CHECK(w[3] == 0xd3a);
    /* Unpinned: an ordinary frame, the quota back. */
    CHECK_OK(ns_frame_unpin(F1));
    CHECK_ERR(ns_frame_info(F1, &pa1), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_frame_unpin(F1), NS_ERR_BAD_STATE);
    CHECK_OK(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2));
    /* F2 deleted mid-lease (a driver dying mid-transfer): its pin waits a
     * lease from now, still counted. */
    CHECK_OK(ns_cap_delete(F2));
    CHECK_ERR(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2), NS_ERR_NO_QUOTA);
    /* Past F0's lease (the tick expires it, or the use finds it over);
     * F2's quarantine is over by then. */
    while (ns_clock_us() - t0 < 260000)
        ns_sleep_us(10000);
    CHECK_ERR(ns_frame_info(F0, &pa), NS_ERR_TIMEOUT);
    CHECK_ERR(ns_frame_unpin(F0), NS_ERR_TIMEOUT);
    CHECK_ERR(ns_unmap(F0), NS_ERR_BAD_STATE); /* taken away: no longer mapped */
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, F0, (uint64_t)w, NS_RIGHT_READ, NULL),
              NS_ERR_TIMEOUT);
    /* F0, quarantined, still counts: one pin free, not two. */
    CHECK_OK(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2));
    CHECK_ERR(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2 + 1), NS_ERR_NO_QUOTA);
    CHECK_OK(ns_frame_unpin(F2)); /* within its own lease */
    CHECK_OK(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2 + 1));
    CHECK_ERR(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2 + 2), NS_ERR_NO_QUOTA);
    CHECK_OK(ns_frame_unpin(F2 + 1));
    /* A lease after its expiry F0 is an ordinary frame, its pin free. */
    while (ns_clock_us() - t0 < 560000)
        ns_sleep_us(10000);
    CHECK_ERR(ns_frame_info(F0, &pa), NS_ERR_NO_RIGHTS);
    CHECK_OK(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2 + 2));
    CHECK_OK(ns_frame_pin(ACC, NS_SLOT_ROOT_BANK, F2 + 3)); /* both pins free again */
    CHECK_OK(ns_frame_unpin(F2 + 2));
    /* Another process, given a frame but not the authority: no address
     * from the frame, no account and no pin from any slot of its own. */
    {
        enum { EP = PLAIN + 1 };
        struct ns_process kid;
        CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, EP));
        struct ns_spawn_cap c[2] = {
            {.src = PLAIN, .dst = NS_SLOT_FIRST_GIVEN, .rights = NS_RIGHT_READ},
            {.src = EP, .dst = NS_SLOT_FIRST_GIVEN + 1, .rights = NS_RIGHT_WRITE},
        };
        struct ns_spawn_opts o = {.arg = MPROBE_ARG_PIN, .ncaps = 2, .caps = c};
        CHECK_OK(ns_spawn("mprobe", &o, &kid));
        struct ns_msg m = {0};
        CHECK_OK(ns_recv(EP, &m));
        CHECK(NS_MSG_LABEL(m.info) == MPROBE_PIN && m.w[0] == NS_ERR_NO_RIGHTS && m.w[1] == 0);
        CHECK_OK(ns_process_wait(&kid, 5000000));
        ns_process_destroy(&kid);
    }
    /* A copy of the authority without WRITE makes nothing. */
    CHECK_OK(ns_cap_copy(NS_SLOT_PIN_AUTHORITY, F1 + 10, NS_RIGHT_READ));
    CHECK_ERR(ns_pin_account_create(F1 + 10, NS_SLOT_ROOT_BANK, F1 + 11, 1, 1000),
              NS_ERR_NO_RIGHTS);
    clear_slots();
}

/* ---- harts: pinning and balancing ---- */

static volatile bool spin_stop;
static volatile uint64_t spin_count[4];

static void busy_spinner(unsigned long i)
{
    while (!spin_stop)
        spin_count[i]++;
    ns_thread_exit();
}

static unsigned distinct_harts(unsigned n)
{
    uint64_t seen = 0;
    for (unsigned i = 0; i < n; i++) {
        long h = -1;
        if (ns_thread_hart(S_THREAD + i, &h) == NS_OK && h >= 0)
            seen |= 1ull << h;
    }
    return (unsigned)__builtin_popcountll(seen);
}

/* Busy threads pinned to our hart stay there while the other harts idle;
 * unpinned (NS_HART_ANY), the idle harts take them until each hart has
 * one. NS_SYS_THREAD_SET_HART's errors: no such hart, another hart for a
 * thread that runs. */
static void test_thread_pin_and_balance(void)
{
    unsigned n = (unsigned)ns_bootinfo->hart_count;
    if (n > 4)
        n = 4;
    long here = -1;
    CHECK_OK(ns_thread_hart(NS_SLOT_SELF_THREAD, &here));
    spin_stop = false;
    for (unsigned i = 0; i < n; i++) {
        spin_count[i] = 0;
        CHECK_OK(start_thread_on(S_THREAD + i, busy_spinner, i, 4 + i, here));
    }
    CHECK_ERR(ns_thread_set_hart(S_THREAD, ns_bootinfo->hart_count), NS_ERR_RANGE);
    CHECK_OK(ns_thread_set_hart(S_THREAD, (unsigned long)here)); /* where it runs: fine */
    if (n > 1)
        CHECK_ERR(ns_thread_set_hart(S_THREAD, (unsigned long)((here + 1) % n)), NS_ERR_BAD_STATE);
    ns_sleep_us(50000);
    CHECK(distinct_harts(n) == 1); /* pinned: nobody took them */
    for (unsigned i = 0; i < n; i++)
        CHECK_OK(ns_thread_set_hart(S_THREAD + i, NS_HART_ANY));
    unsigned spread = 1;
    for (int k = 0; k < 2000 && spread < n; k++) {
        ns_sleep_us(1000);
        spread = distinct_harts(n);
    }
    if (spread < n)
        printf("    %u busy threads on %u of %u harts\n", n, spread, n);
    CHECK(spread == n);
    spin_stop = true;
    wait_touchers(n);
    for (unsigned i = 0; i < n; i++) {
        CHECK(spin_count[i] > 0);
        ns_cap_delete(S_THREAD + i);
    }
    clear_slots();
}

static void faulter_at_mo(unsigned long unused)
{
    (void)unused;
    *(volatile uint64_t *)MO_VA = 1;
    ns_thread_exit();
}

static void test_memobj_rights_and_range(void)
{
    unsigned long eff, state;
    memobj_setup(2 * 4096);
    CHECK_OK(ns_cap_copy(S_MO, S_MO_RO, NS_RIGHT_READ));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO_RO, MO_VA, 0, 4,
                           NS_RIGHT_READ | NS_RIGHT_WRITE, &eff));
    CHECK(eff == NS_RIGHT_READ); /* subtractive */
    CHECK_ERR(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO_RO, MO_VA, 0, 4,
                            NS_RIGHT_READ | NS_RIGHT_WRITE | NS_MAP_STRICT, &eff),
              NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA + 1, 0, 1, NS_RIGHT_READ, NULL),
              NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, ~0ull, 2, NS_RIGHT_READ, NULL),
              NS_ERR_RANGE);
    CHECK_ERR(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 0, NS_RIGHT_READ, NULL),
              NS_ERR_RANGE);
    CHECK_ERR(ns_memobj_supply(S_MO_RO, 0, 1, (void *)MGR_BUF_VA), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_memobj_supply(S_MO, 5, 1, (void *)MGR_BUF_VA), NS_ERR_RANGE);
    CHECK_ERR(ns_memobj_supply(S_MO, 0, 1, (void *)MGR_BUF_VA), NS_ERR_INVALID_ARG); /* unasked */
    /* A write through the read-only mapping: a typed fault, the thread stops. */
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_CLIENT, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(start_fn_here(S_CLIENT, faulter_at_mo, make_stack(1), 0));
    ns_sleep_us(20000);
    CHECK_OK(ns_thread_info(S_CLIENT, &state, NULL));
    CHECK(state == NS_THREAD_STOPPED);
    memobj_teardown();
}

static void catch_memobj_fault(unsigned long (*fn)(void), uint64_t *kind, uint64_t *aux)
{
    struct ns_msg m = {0};
    *kind = *aux = 0;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_MO_EP));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_CLIENT, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_set_fault_handler(S_CLIENT, S_MO_EP));
    CHECK_OK(start_fn_here(S_CLIENT, (void (*)(unsigned long))(void *)fn, make_stack(1), 0));
    if (ns_recv(S_MO_EP, &m) == NS_OK) {
        *kind = m.w[0];
        *aux = m.w[3];
        m.info = NS_MSG_INFO(NS_FAULT_STOP, 0, 0);
        ns_reply(&m);
    }
}

static unsigned long read_page0(void)
{
    return *(volatile uint64_t *)MO_VA;
}
static unsigned long read_page3(void)
{
    return *(volatile uint64_t *)(MO_VA + 3 * 4096);
}

static void test_memobj_faults(void)
{
    uint64_t kind, aux, requests;
    /* A page wholly past the length: a typed fault, and no request. */
    memobj_setup(2 * 4096);
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ, NULL));
    catch_memobj_fault(read_page3, &kind, &aux);
    CHECK(kind == NS_FAULT_RANGE);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 0);
    memobj_teardown();
    /* The manager fails the page: the waiter gets its error. */
    memobj_setup(2 * 4096);
    fail_with = NS_ERR_NO_MEMORY;
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 2, NS_RIGHT_READ, NULL));
    catch_memobj_fault(read_page0, &kind, &aux);
    CHECK(kind == NS_FAULT_MANAGER && aux == NS_ERR_NO_MEMORY);
    memobj_teardown();
    /* A manager that never answers: the deadline fails the request. */
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, S_MGR_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, 4096, S_MGR_NTFN));
    CHECK_OK(ns_memobj_set_deadline(S_MO, 30000));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 1, NS_RIGHT_READ, NULL));
    catch_memobj_fault(read_page0, &kind, &aux);
    CHECK(kind == NS_FAULT_MANAGER && aux == NS_ERR_TIMEOUT);
    memobj_teardown();
}

static void writer_to_mo(unsigned long unused)
{
    (void)unused;
    *(volatile uint64_t *)MO_VA = 5;
    ns_thread_exit();
}

static void test_memobj_protect(void)
{
    unsigned long state;
    memobj_setup(4 * 4096);
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ | NS_RIGHT_WRITE,
                           NULL));
    *(volatile uint64_t *)MO_VA = 7; /* writable now */
    /* Narrow the first two pages to read-only: a write there faults, the
     * data stays, the rest of the mapping is untouched. */
    CHECK_OK(ns_memobj_protect(NS_SLOT_SELF_ASPACE, MO_VA, 2, NS_RIGHT_READ));
    CHECK(*(volatile uint64_t *)MO_VA == 7);
    *(volatile uint64_t *)(MO_VA + 2 * 4096) = 9;
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_CLIENT, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(start_fn_here(S_CLIENT, writer_to_mo, make_stack(1), 0));
    ns_sleep_us(20000);
    CHECK_OK(ns_thread_info(S_CLIENT, &state, NULL));
    CHECK(state == NS_THREAD_STOPPED);
    CHECK(*(volatile uint64_t *)MO_VA == 7);
    /* Protect never widens: asking for RW again leaves it read-only. */
    CHECK_OK(ns_memobj_protect(NS_SLOT_SELF_ASPACE, MO_VA, 2, NS_RIGHT_READ | NS_RIGHT_WRITE));
    CHECK_ERR(ns_memobj_protect(NS_SLOT_SELF_ASPACE, MO_VA + 8 * 4096, 1, NS_RIGHT_READ),
              NS_ERR_BAD_STATE); /* nothing mapped there */
    CHECK_ERR(ns_memobj_protect(NS_SLOT_SELF_ASPACE, MO_VA, 1, 0x80), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA + 8 * 4096, 1), NS_ERR_BAD_STATE);
    memobj_teardown();
}

/* Eight processes map the same 256-page object from the zero-fill manager
 * and touch every page at once: the manager is asked for each page once. */
static void test_memobj_shared_by_8_processes(void)
{
    struct ns_process zero, kids[8];
    struct ns_ipc_buffer *buf = my_ipc_buffer();
    unsigned long state;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    struct ns_spawn_cap c = {.src = S_EP, .dst = NS_SLOT_FIRST_GIVEN, .rights = NS_RIGHTS_ALL};
    struct ns_spawn_opts o = {.ncaps = 1, .caps = &c, .bank_pages = 1024};
    CHECK_OK(ns_spawn("zero", &o, &zero));
    buf->recv_slots[0] = S_MO;
    buf->recv_count = 1;
    buf->send_caps[0] = NS_SLOT_ROOT_BANK;
    struct ns_msg m = {.info = NS_MSG_INFO(ZERO_CREATE, 1, 1), .w = {256 * 4096}};
    CHECK_OK(ns_call(S_EP, &m));
    CHECK(NS_MSG_CAPS(m.info) == 1);
    struct ns_spawn_cap oc = {.src = S_MO, .dst = NS_SLOT_FIRST_GIVEN, .rights = NS_RIGHT_READ};
    struct ns_spawn_opts ko = {.arg = 3 | (256 << 8), .ncaps = 1, .caps = &oc};
    for (unsigned i = 0; i < 8; i++)
        CHECK_OK(ns_spawn("demo", &ko, &kids[i]));
    for (unsigned i = 0; i < 8; i++) {
        CHECK_OK(ns_process_wait(&kids[i], 20000000));
        CHECK_OK(ns_thread_info(kids[i].thread, &state, NULL));
        ns_process_destroy(&kids[i]);
    }
    m = (struct ns_msg){.info = NS_MSG_INFO(ZERO_STATS, 0, 0)};
    CHECK_OK(ns_call(S_EP, &m));
    CHECK(m.w[0] == 256); /* each page supplied once for 8 x 256 touches */
    ns_process_destroy(&zero);
    drop_ipc_buffer();
    clear_slots();
}

/* The manager's bank (and so the object) is destroyed while a thread waits
 * for a page: the waiter gets a typed fault, nothing hangs. */
static void test_memobj_manager_dies(void)
{
    struct ns_msg m = {0};
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 64));
    CHECK_OK(ns_notification_create(S_BANK, S_MGR_NTFN));
    CHECK_OK(ns_memobj_create(S_BANK, S_MO, 4 * 4096, S_MGR_NTFN));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ, NULL));
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_MO_EP));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, S_CLIENT, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_set_fault_handler(S_CLIENT, S_MO_EP));
    CHECK_OK(
        start_fn_here(S_CLIENT, (void (*)(unsigned long))(void *)read_page0, make_stack(1), 0));
    ns_sleep_us(10000); /* it waits for the page */
    CHECK_OK(ns_bank_destroy(S_BANK));
    CHECK_OK(ns_recv(S_MO_EP, &m));
    CHECK(m.w[0] == NS_FAULT_DEAD);
    m.info = NS_MSG_INFO(NS_FAULT_STOP, 0, 0);
    CHECK_OK(ns_reply(&m));
    ns_cap_delete(S_MO_EP);
    ns_cap_delete(S_CLIENT);
    /* Later touches of the dead object's mapping fail at once too. */
    uint64_t kind, aux;
    catch_memobj_fault(read_page3, &kind, &aux);
    CHECK(kind == NS_FAULT_DEAD);
    memobj_teardown();
}

/* A destroyed object stays dead for a mapping that still names it, even
 * after a partial unmap trimmed that mapping and new objects were made. */
static void test_memobj_dead_mapping(void)
{
    uint64_t kind, aux;
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, S_MGR_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, 4 * 4096, S_MGR_NTFN));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ, NULL));
    CHECK_OK(ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, 1)); /* trims the node */
    CHECK_OK(ns_cap_delete(S_MO));                            /* the object dies */
    for (unsigned i = 0; i < 4; i++)                          /* reuse its memory, if free */
        CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, S_RECV + i, 4 * 4096, S_MGR_NTFN));
    catch_memobj_fault(read_page3, &kind, &aux);
    CHECK(kind == NS_FAULT_DEAD);
    memobj_teardown();
}

static void test_memobj_shrink(void)
{
    uint64_t kind, aux, resident;
    memobj_setup(4 * 4096);
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ, NULL));
    CHECK(read_page3() == 3000);
    CHECK_OK(ns_memobj_set_length(S_MO, 2 * 4096));
    CHECK_OK(ns_memobj_requests_made(S_MO, &resident, NULL));
    CHECK(resident == 0 || resident <= 2);
    catch_memobj_fault(read_page3, &kind, &aux); /* unmapped everywhere */
    CHECK(kind == NS_FAULT_RANGE);
    CHECK_ERR(ns_memobj_set_length(S_MO_RO, 4096), NS_ERR_EMPTY_SLOT);
    memobj_teardown();
}

/* A cluster: one fault asks for the run of missing pages after it, and
 * the run's pages, supplied one at a time, serve every later touch. */
static void test_memobj_cluster(void)
{
    uint64_t requests;
    memobj_setup(8 * 4096);
    CHECK_ERR(ns_memobj_set_cluster(S_MO, 0), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_memobj_set_cluster(S_MO, 65), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_memobj_set_cluster(S_MO, 4));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 8, NS_RIGHT_READ, NULL));
    volatile uint64_t *p = (volatile uint64_t *)MO_VA;
    CHECK(p[2 * 512 + 5] == 2005); /* asks for pages 2-5 */
    wait_supplied(4);              /* the manager may still be supplying, on another hart */
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 1 && supplied == 4);
    for (unsigned i = 2; i < 6; i++)
        CHECK(p[i * 512] == i * 1000);
    CHECK(p[7 * 512] == 7000); /* page 7 alone: the object ends there */
    CHECK(p[0] == 0);          /* pages 0-1: up to the resident page 2 */
    CHECK(p[6 * 512] == 6000); /* page 6 alone: page 7 is resident */
    wait_supplied(8);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 4 && supplied == 8);
    memobj_teardown();
    /* Eight threads on eight pages of a cluster-8 object: at most one
     * request per page, all served. */
    memobj_setup(8 * 4096);
    toucher_sum = 0;
    CHECK_OK(ns_memobj_set_cluster(S_MO, 8));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 8, NS_RIGHT_READ, NULL));
    for (unsigned i = 0; i < 4; i++) /* one on each hart there is */
        CHECK_OK(start_thread_on(S_THREAD + i, toucher, 8, 4 + i, hart_nr(i)));
    wait_touchers(4);
    CHECK(__atomic_load_n(&toucher_sum, __ATOMIC_RELAXED) == 4 * 28000);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests >= 1 && requests <= 8 && supplied == 8);
    memobj_teardown();
}

/* Supply with no buffer gives zero pages; the tail rule holds for them. */
static void test_memobj_supply_zero(void)
{
    memobj_setup(2 * 4096 + 8);
    supply_zero = true;
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 3, NS_RIGHT_READ | NS_RIGHT_WRITE,
                           NULL));
    volatile uint64_t *p = (volatile uint64_t *)MO_VA;
    CHECK(p[0] == 0 && p[511] == 0 && p[1024] == 0);
    p[1024] = 77; /* below the length */
    CHECK(p[1024] == 77);
    wait_supplied(2);
    CHECK(supplied == 2);
    /* Supply-and-wait checks its notification before supplying anything. */
    uint64_t bits = 1;
    CHECK_ERR(ns_memobj_supply_wait(S_MO, 0, 1, NULL, S_MO, &bits), NS_ERR_WRONG_TYPE);
    CHECK(bits == 0);
    memobj_teardown();
}

static void read_page0_thread(unsigned long unused)
{
    (void)unused;
    (void)*(volatile uint64_t *)MO_VA;
    ns_thread_exit();
}

/* Start `n` threads that read page 0 with S_MO_EP as their fault handler;
 * stacks 4.. (1 is catch_memobj_fault's, 3 the manager's). */
static void start_page0_readers(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        CHECK_OK(ns_thread_create(NS_SLOT_ROOT_BANK, S_THREAD + i, NS_SLOT_SELF_CSPACE,
                                  NS_SLOT_SELF_ASPACE));
        CHECK_OK(ns_thread_set_fault_handler(S_THREAD + i, S_MO_EP));
        CHECK_OK(start_fn_here(S_THREAD + i, read_page0_thread, make_stack(4 + i), 0));
    }
}

/* Receive `n` fault messages on S_MO_EP, stopping each thread; count those
 * of `kind` with last word `aux`. */
static unsigned collect_faults(unsigned n, uint64_t kind, uint64_t aux)
{
    unsigned matched = 0;
    for (unsigned i = 0; i < n; i++) {
        struct ns_msg m = {0};
        if (ns_recv(S_MO_EP, &m) != NS_OK)
            break;
        if (m.w[0] != kind || m.w[3] != aux)
            printf("    fault %u: kind %lu aux %lu\n", i, (unsigned long)m.w[0],
                   (unsigned long)m.w[3]);
        matched += m.w[0] == kind && m.w[3] == aux;
        m.info = NS_MSG_INFO(NS_FAULT_STOP, 0, 0);
        ns_reply(&m);
    }
    return matched;
}

/* The manager fails a page three threads wait for: each of them gets the
 * manager's error as a fault it can handle. */
static void test_memobj_fail_every_waiter(void)
{
    uint64_t requests;
    memobj_setup(2 * 4096);
    fail_with = NS_ERR_BAD_STATE;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_MO_EP));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 2, NS_RIGHT_READ, NULL));
    hold_answers = true; /* let all three wait first */
    start_page0_readers(3);
    ns_sleep_us(10000);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 1);
    hold_answers = false;
    CHECK(collect_faults(3, NS_FAULT_MANAGER, NS_ERR_BAD_STATE) == 3);
    memobj_teardown();
}

/* The manager goes away (its notification dies with its bank) while
 * threads wait and no deadline would end the wait: the waiters get a typed
 * fault at the next tick, and later faults fail at once. */
static void test_memobj_manager_gone(void)
{
    uint64_t kind, aux;
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 16));
    CHECK_OK(ns_notification_create(S_BANK, S_MGR_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, 4 * 4096, S_MGR_NTFN));
    CHECK_OK(ns_memobj_set_deadline(S_MO, 0));
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_MO_EP));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ, NULL));
    start_page0_readers(2);
    ns_sleep_us(10000);
    CHECK_OK(ns_bank_destroy(S_BANK));
    CHECK(collect_faults(2, NS_FAULT_MANAGER, NS_ERR_DEAD_OBJECT) == 2);
    ns_cap_delete(S_MO_EP);
    catch_memobj_fault(read_page3, &kind, &aux);
    CHECK(kind == NS_FAULT_MANAGER && aux == NS_ERR_DEAD_OBJECT);
    memobj_teardown();
}

/* Two other processes map the object and touch every page; shrinking it
 * unmaps the pages past the new end in both (and here): each takes a
 * range fault on its next touch, and the object holds only what is left. */
static void test_memobj_shrink_every_process(void)
{
    struct ns_process kids[2];
    uint64_t kind, aux, resident;
    memobj_setup(4 * 4096);
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 4, NS_RIGHT_READ, NULL));
    CHECK(read_page3() == 3000);
    struct ns_spawn_cap c[2] = {
        {.src = S_MO, .dst = NS_SLOT_FIRST_GIVEN, .rights = NS_RIGHT_READ},
        {.src = S_EP, .dst = NS_SLOT_FIRST_GIVEN + 1, .rights = NS_RIGHT_WRITE},
    };
    struct ns_spawn_opts o = {.arg = 4, .ncaps = 2, .caps = c};
    for (unsigned i = 0; i < 2; i++)
        CHECK_OK(ns_spawn("mprobe", &o, &kids[i]));
    for (unsigned i = 0; i < 2; i++) {
        struct ns_msg m = {0};
        CHECK_OK(ns_recv(S_EP, &m));
        CHECK(NS_MSG_LABEL(m.info) == MPROBE_TOUCHED && m.w[0] == 6000);
    }
    CHECK_OK(ns_memobj_set_length(S_MO, 2 * 4096));
    CHECK_OK(ns_memobj_requests_made(S_MO, &resident, NULL));
    CHECK(resident == 2);
    for (unsigned i = 0; i < 2; i++) {
        struct ns_msg m = {0};
        CHECK_OK(ns_recv(S_EP, &m));
        CHECK(NS_MSG_LABEL(m.info) == MPROBE_FAULT && m.w[0] == NS_FAULT_RANGE);
    }
    catch_memobj_fault(read_page3, &kind, &aux);
    CHECK(kind == NS_FAULT_RANGE);
    for (unsigned i = 0; i < 2; i++) {
        CHECK_OK(ns_process_wait(&kids[i], 5000000));
        ns_process_destroy(&kids[i]);
    }
    memobj_teardown();
}

/* Object frames hold capabilities in 16 slots: store, load, clear, with
 * rights only shrinking; they are never mappable; a revoke reaches the
 * copies they hold; destroying one gives its bank back everything. */
static void test_objframe(void)
{
    struct ns_cap_info i;
    uint64_t before = root_used();
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, S_A));
    CHECK_OK(ns_cap_identify(S_A, &i));
    CHECK(i.type == NS_CAP_OBJFRAME);
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_B));
    CHECK_OK(ns_objframe_store(S_A, 0, S_B, NS_RIGHT_WRITE));
    CHECK_ERR(ns_objframe_store(S_A, 0, S_B, NS_RIGHTS_ALL), NS_ERR_SLOT_OCCUPIED);
    CHECK_ERR(ns_objframe_store(S_A, 16, S_B, NS_RIGHTS_ALL), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_objframe_store(S_A, 1, S_H, NS_RIGHTS_ALL), NS_ERR_EMPTY_SLOT);
    CHECK_ERR(ns_objframe_store(S_B, 1, S_B, NS_RIGHTS_ALL), NS_ERR_WRONG_TYPE);
    CHECK_OK(ns_objframe_load(S_A, 0, S_C, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_identify(S_C, &i));
    CHECK(i.type == NS_CAP_ENDPOINT && i.rights == NS_RIGHT_WRITE);
    CHECK_ERR(ns_objframe_load(S_A, 0, S_C, NS_RIGHTS_ALL), NS_ERR_SLOT_OCCUPIED);
    CHECK_ERR(ns_objframe_load(S_A, 5, S_D, NS_RIGHTS_ALL), NS_ERR_EMPTY_SLOT);
    /* Rights on the frame itself: a read-only copy loads, never stores. */
    CHECK_OK(ns_cap_copy(S_A, S_E, NS_RIGHT_READ));
    CHECK_ERR(ns_objframe_store(S_E, 1, S_B, NS_RIGHTS_ALL), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_objframe_clear(S_E, 0), NS_ERR_NO_RIGHTS);
    CHECK_OK(ns_objframe_load(S_E, 0, S_D, NS_RIGHTS_ALL));
    /* Never mappable. */
    CHECK_ERR(ns_map_frame(NS_SLOT_SELF_ASPACE, S_A, SCRATCH_VA, NS_RIGHT_READ, NULL),
              NS_ERR_WRONG_TYPE);
    CHECK_ERR(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_A, SCRATCH_VA, 0, 1, NS_RIGHT_READ, NULL),
              NS_ERR_WRONG_TYPE);
    /* A frame in a frame; a revoke of the endpoint reaches its copy inside. */
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, S_F));
    CHECK_OK(ns_objframe_store(S_A, 1, S_F, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_delete(S_F)); /* the outer frame keeps it alive */
    CHECK_OK(ns_cap_revoke(S_B));
    CHECK_OK(ns_cap_delete(S_D));
    CHECK_ERR(ns_objframe_load(S_A, 0, S_D, NS_RIGHTS_ALL), NS_ERR_REVOKED); /* a tombstone */
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, S_G));
    CHECK_OK(ns_objframe_store(S_A, 0, S_G, NS_RIGHT_READ)); /* which a store replaces */
    CHECK_OK(ns_objframe_load(S_A, 1, S_F, NS_RIGHTS_ALL));
    CHECK_OK(ns_objframe_clear(S_A, 1));
    CHECK_OK(ns_objframe_clear(S_A, 1)); /* empty already */
    CHECK_OK(ns_cap_identify(S_F, &i));  /* still ours */
    /* Destroying everything gives the bank back every byte. */
    clear_slots();
    CHECK(root_used() == before);
    /* A frame holding a capability to itself lives until that one is
     * revoked: capabilities keep objects alive, cycles included. */
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, S_A));
    CHECK_OK(ns_objframe_store(S_A, 0, S_A, NS_RIGHT_READ));
    CHECK_OK(ns_cap_revoke(S_A));
    clear_slots();
    CHECK(root_used() == before);
}

static volatile uint64_t preload_seen;

static void read_page5(unsigned long unused)
{
    (void)unused;
    preload_seen = *(volatile uint64_t *)(MO_VA + 5 * 4096);
    ns_thread_exit();
}

/* Preload enters pages nobody asked for (a plain supply of those is an
 * error), zero or from a buffer, keeps resident pages, completes the
 * requests it covers, and changes nothing when it fails. */
static void test_memobj_preload(void)
{
    uint64_t resident, requests;
    uint64_t *buf = (uint64_t *)MGR_BUF_VA;
    /* No manager thread: nothing but preload brings pages in. */
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, S_MGR_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, 100 * 4096, S_MGR_NTFN));
    CHECK_OK(ns_cap_copy(S_MO, S_MO_RO, NS_RIGHT_READ | NS_RIGHT_WRITE));
    CHECK_OK(ns_frame_alloc(NS_SLOT_ROOT_BANK, S_BUF));
    CHECK_OK(
        ns_map_frame(NS_SLOT_SELF_ASPACE, S_BUF, MGR_BUF_VA, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
    CHECK_ERR(ns_memobj_preload(S_MO_RO, 0, 1, NULL), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_memobj_preload(S_MO, 100, 1, NULL), NS_ERR_RANGE);
    CHECK_ERR(ns_memobj_preload(S_MO, 98, 3, NULL), NS_ERR_RANGE);
    CHECK_ERR(ns_memobj_preload(S_MO, 0, 0, NULL), NS_ERR_RANGE);
    CHECK_ERR(ns_memobj_preload(S_MO, 0, 65, NULL), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_memobj_preload(S_MO, 0, 1, buf + 1), NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_memobj_preload(S_MO, 0, 1, (void *)0xffffffc000000000ull), NS_ERR_BAD_ADDRESS);
    /* The buffer's second page is not mapped: the first is not entered either. */
    CHECK_ERR(ns_memobj_preload(S_MO, 0, 2, buf), NS_ERR_BAD_ADDRESS);
    CHECK_OK(ns_memobj_requests_made(S_MO, &resident, NULL));
    CHECK(resident == 0);
    CHECK_ERR(ns_memobj_supply(S_MO, 0, 1, buf), NS_ERR_INVALID_ARG); /* unasked */

    CHECK_OK(ns_memobj_preload(S_MO, 0, 64, NULL));
    for (unsigned w = 0; w < 512; w++)
        buf[w] = 0x5000 + w;
    CHECK_OK(ns_memobj_preload(S_MO, 64, 1, buf));
    buf[0] = 1;
    CHECK_OK(ns_memobj_preload(S_MO, 63, 2, buf)); /* both resident: kept as they were */
    CHECK_OK(ns_memobj_requests_made(S_MO, &resident, &requests));
    CHECK(resident == 65 && requests == 0);
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 100, NS_RIGHT_READ | NS_RIGHT_WRITE,
                           NULL));
    volatile uint64_t *p = (volatile uint64_t *)MO_VA;
    CHECK(p[0] == 0 && p[63 * 512 + 7] == 0);
    CHECK(p[64 * 512] == 0x5000 && p[64 * 512 + 511] == 0x5000 + 511);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 0); /* every touch was a minor fault */

    /* A thread waits for page 5 of a fresh object; preloading pages 4-6
     * completes its request. */
    CHECK_OK(ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, 100));
    CHECK_OK(ns_cap_delete(S_MO_RO));
    CHECK_OK(ns_cap_delete(S_MO));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, 8 * 4096, S_MGR_NTFN));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 8, NS_RIGHT_READ, NULL));
    preload_seen = 1234;
    CHECK_OK(start_thread(S_CLIENT, read_page5, 0, 1));
    ns_sleep_us(10000);
    CHECK_OK(ns_memobj_requests_made(S_MO, NULL, &requests));
    CHECK(requests == 1 && preload_seen == 1234);
    CHECK_OK(ns_memobj_preload(S_MO, 4, 3, NULL));
    ns_sleep_us(10000);
    CHECK(preload_seen == 0);
    memobj_teardown();

    /* Out of quota: nothing entered, nothing charged. */
    uint64_t used_before, used_after;
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, 8));
    CHECK_OK(ns_notification_create(S_BANK, S_MGR_NTFN));
    CHECK_OK(ns_memobj_create(S_BANK, S_MO, 64 * 4096, S_MGR_NTFN));
    CHECK_OK(ns_bank_info(S_BANK, NULL, &used_before));
    CHECK_ERR(ns_memobj_preload(S_MO, 0, 16, NULL), NS_ERR_NO_QUOTA);
    CHECK_OK(ns_bank_info(S_BANK, NULL, &used_after));
    CHECK_OK(ns_memobj_requests_made(S_MO, &resident, NULL));
    CHECK(used_after == used_before && resident == 0);
    CHECK_OK(ns_memobj_preload(S_MO, 0, 2, NULL));
    CHECK_OK(ns_bank_destroy(S_BANK));
    clear_slots();
}

/* The page clock's view of use (NS_MEMOBJ_CTL_AGE), whichever way the
 * kernel runs accessed bits: set by the hardware, or - booted with ad=fault
 * - the emulation of hardware that faults for them (SiFive U74), where the
 * first touch of an aged page is a fault that only gives the bit back, and
 * a system call writing into an aged page still succeeds. */
static void test_memobj_accessed_bits(void)
{
    bool emulated = strstr(ns_bootinfo->cmdline, "ad=fault") != NULL;
    uint64_t used;
    struct ns_memobj_stats st;
    memobj_setup(8 * 4096);
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, 8, NS_RIGHT_READ | NS_RIGHT_WRITE,
                           NULL));
    volatile uint64_t *p = (volatile uint64_t *)MO_VA;
    for (unsigned i = 0; i < 8; i++)
        CHECK(p[i * 512 + 1] == i * 1000 + 1);
    CHECK_ERR(ns_memobj_control(S_MO, NS_MEMOBJ_CTL_AGE, 1, NULL), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_memobj_control(S_MO, NS_MEMOBJ_CTL_AGE, 0, &used));
    CHECK(used == 8);
    CHECK_OK(ns_memobj_control(S_MO, NS_MEMOBJ_CTL_AGE, 0, &used));
    CHECK(used == 0);
    /* A load and a store, each to an aged page. */
    CHECK(p[2 * 512 + 7] == 2007);
    p[5 * 512 + 9] = 55;
    CHECK_OK(ns_memobj_stats(S_MO, &st));
    CHECK(st.accessed_faults == (emulated ? 2u : 0u));
    CHECK_OK(ns_memobj_control(S_MO, NS_MEMOBJ_CTL_AGE, 0, &used));
    CHECK(used == 2);
    /* The kernel writes into aged page 3 (the stats, by copy_to_user). */
    struct ns_memobj_stats *in_page3 = (struct ns_memobj_stats *)(MO_VA + 3 * 4096);
    CHECK_OK(ns_memobj_stats(S_MO, in_page3));
    CHECK(in_page3->length == 8 * 4096 && in_page3->resident == 8);
    CHECK_OK(ns_memobj_control(S_MO, NS_MEMOBJ_CTL_AGE, 0, &used));
    CHECK(used == 1);
    CHECK(p[5 * 512 + 9] == 55 && p[6 * 512 + 1] == 6001);
    CHECK_OK(ns_memobj_stats(S_MO, &st));
    CHECK(st.accessed_faults == (emulated ? 4u : 0u));
    memobj_teardown();
}

/* A process whose heap and stack are all zero-fill memory runs a real
 * workload: user/sort sorts 16 MiB of malloc'd memory. Every heap page it
 * touches comes from the zero-fill manager (started resident here),
 * charged to the child's own bank; destroying that bank gives everything
 * back and the manager counts the dead objects out. */
static void test_sort_16mib_on_zero_fill(void)
{
    struct ns_process zero, sort;
    uint64_t before = root_used(), used = 0;
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    struct ns_spawn_cap c = {.src = S_EP, .dst = NS_SLOT_FIRST_GIVEN, .rights = NS_RIGHTS_ALL};
    struct ns_spawn_opts zo = {
        .ncaps = 1, .caps = &c, .bank_pages = 512, .free_slots = ZERO_FREE_SLOTS};
    CHECK_OK(ns_spawn("zero", &zo, &zero));
    struct ns_msg m = {.info = NS_MSG_INFO(ZERO_STATS, 0, 0)};
    CHECK_OK(ns_call(S_EP, &m));
    uint64_t supplied0 = m.w[0], live0 = m.w[1];
    uint64_t with_zero = root_used();

    struct ns_spawn_opts so = {.arg = 12345, .pager = S_EP, .bank_pages = 5120};
    CHECK_OK(ns_spawn("sort", &so, &sort));
    CHECK_OK(ns_process_wait(&sort, 60000000));
    CHECK(sort.exited && sort.exit_status == 0);
    CHECK_OK(ns_process_bank_used(&sort, &used));
    CHECK(used >= 16u << 20); /* the heap pages are charged to the child */
    m = (struct ns_msg){.info = NS_MSG_INFO(ZERO_STATS, 0, 0)};
    CHECK_OK(ns_call(S_EP, &m));
    CHECK(m.w[0] - supplied0 >= (16u << 20) / 4096); /* from the manager, page by page */
    CHECK(m.w[1] == live0 + 3);                      /* its image, stack and heap */
    CHECK_OK(ns_process_destroy(&sort));
    CHECK(root_used() == with_zero);
    m = (struct ns_msg){.info = NS_MSG_INFO(ZERO_STATS, 0, 0)};
    CHECK_OK(ns_call(S_EP, &m));
    CHECK(m.w[1] == live0); /* the manager saw them die */
    CHECK_OK(ns_process_destroy(&zero));
    clear_slots();
    CHECK(root_used() == before);
}

static const struct ktest tests[] = {
    {"debug_write", test_debug_write},
    {"invalid_syscall", test_invalid_syscall},
    {"identify_root_caps", test_identify_root_caps},
    {"cap_copy_diminish", test_cap_copy_diminish},
    {"cap_mint", test_cap_mint},
    {"cap_transfer", test_cap_transfer},
    {"null_syscall", test_null_syscall},
    {"cap_move_delete", test_cap_move_delete},
    {"cap_revoke", test_cap_revoke},
    {"bank_quota", test_bank_quota},
    {"bank_nested_limits", test_bank_nested_limits},
    {"bank_destroy", test_bank_destroy},
    {"wrong_type", test_wrong_type},
    {"frame_map", test_frame_map},
    {"object_create_args", test_object_create_args},
    {"map_over_existing_mapping", test_map_over_existing_mapping},
    {"thread_lifecycle", test_thread_lifecycle},
    {"thread_suspend_resume", test_thread_suspend_resume},
    {"thread_priority", test_thread_priority},
    {"thread_fault_without_handler", test_thread_fault_without_handler},
    {"thread_loses_aspace", test_thread_loses_aspace},
    {"sleep_and_clock", test_sleep_and_clock},
    {"floating_point", test_floating_point},
    {"quota_thread_create", test_quota_thread_create},
    {"ipc_call_reply", test_ipc_call_reply},
    {"ipc_long_message_and_caps", test_ipc_long_message_and_caps},
    {"ipc_reply_twice", test_ipc_reply_twice},
    {"ipc_dead_endpoint", test_ipc_dead_endpoint},
    {"ipc_server_dies", test_ipc_server_dies},
    {"suspend_cancels_ipc", test_suspend_cancels_ipc},
    {"notifications", test_notifications},
    {"notification_wakes_waiter", test_notification_wakes_waiter},
    {"fault_handler_resumes", test_fault_handler_resumes},
    {"fault_handler_stops", test_fault_handler_stops},
    {"fault_handler_edits_registers", test_fault_handler_edits_registers},
    {"memobj_fault_and_supply", test_memobj_fault_and_supply},
    {"memobj_one_request_per_page", test_memobj_one_request_per_page},
    {"thread_pin_and_balance", test_thread_pin_and_balance},
    {"frame_pin", test_frame_pin},
    {"memobj_rights_and_range", test_memobj_rights_and_range},
    {"memobj_faults", test_memobj_faults},
    {"memobj_protect", test_memobj_protect},
    {"memobj_shrink", test_memobj_shrink},
    {"memobj_dead_mapping", test_memobj_dead_mapping},
    {"memobj_shared_by_8_processes", test_memobj_shared_by_8_processes},
    {"memobj_manager_dies", test_memobj_manager_dies},
    {"memobj_cluster", test_memobj_cluster},
    {"objframe", test_objframe},
    {"memobj_supply_zero", test_memobj_supply_zero},
    {"memobj_fail_every_waiter", test_memobj_fail_every_waiter},
    {"memobj_manager_gone", test_memobj_manager_gone},
    {"memobj_shrink_every_process", test_memobj_shrink_every_process},
    {"memobj_preload", test_memobj_preload},
    {"memobj_accessed_bits", test_memobj_accessed_bits},
    {"spawn_hello", test_spawn_hello},
    {"spawn_bank_too_small", test_spawn_bank_too_small},
    {"spawn_not_in_initrd", test_spawn_not_in_initrd},
    {"spawn_bad_options", test_spawn_bad_options},
    {"spawn_destroy_running", test_spawn_destroy_running},
    {"sort_16mib_on_zero_fill", test_sort_16mib_on_zero_fill},
};

int main(void)
{
    if (!ns_bootinfo) {
        printf("tests: must run as the first program (--init tests)\n");
        return 1;
    }
    unsigned passed = 0, failed = 0;
    const struct {
        const struct ktest *t;
        unsigned n;
    } suites[] = {{tests, sizeof(tests) / sizeof(tests[0])},
                  {storage_tests, storage_test_count},
                  {crash_tests, crash_test_count},
                  {stress_tests, stress_test_count}};
    printf("tests: %u kernel tests\n",
           (unsigned)(suites[0].n + suites[1].n + suites[2].n + suites[3].n));
    for (unsigned s = 0; s < sizeof(suites) / sizeof(suites[0]); s++)
        for (unsigned i = 0; i < suites[s].n; i++) {
            /* only=NAME on the command line runs that test alone. */
            const char *only = strstr(ns_bootinfo->cmdline, "only=");
            if (only && (strncmp(only + 5, suites[s].t[i].name, strlen(suites[s].t[i].name)) ||
                         (only[5 + strlen(suites[s].t[i].name)] &&
                          only[5 + strlen(suites[s].t[i].name)] != ' ')))
                continue;
            ktest_failures = 0;
            suites[s].t[i].fn();
            if (ktest_failures)
                failed++;
            else
                passed++;
            printf("%s %s\n", ktest_failures ? "FAIL" : "PASS", suites[s].t[i].name);
        }
    printf("%u passed, %u failed\n", passed, failed);
    ns_shutdown(NS_SLOT_MACHINE, failed ? 1 : 0);
    return 1;
}
