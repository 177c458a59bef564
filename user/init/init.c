/* init: the first user program. It reports what the kernel gave it, starts
 * the zero-fill manager (managers/zero) from resident memory, then a few
 * programs from the initrd with ns_spawn, each in its own sub-bank and with
 * all of its data, BSS, stack and heap from memory objects the zero-fill
 * manager serves (its text straight from the initrd's object); it waits for
 * each, checks that it exited with status 0 and that destroying its bank
 * gives the root bank back exactly what the child took, shows one object
 * shared by several processes, and - when the machine has a disk - the
 * persistent demo (a boot log on the disk, or on its NewSys data partition,
 * through the disk manager), and shuts the machine down. */
#include <stdio.h>
#include <string.h>

#include "managers/disk/disk_client.h"
#include "managers/zero/zero.h"
#include "user/init/gpt.h"
#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define CHILD_TIMEOUT_US 10000000

static unsigned long zero_ep; /* the zero-fill manager: every child's pager */

/* Start `name`, wait for it, report, destroy it. False on any failure. */
static bool run_child(const char *name, uint64_t arg)
{
    uint64_t root_before, root_after, child_used;
    long e = ns_bank_info(NS_SLOT_ROOT_BANK, NULL, &root_before);
    if (e != NS_OK) {
        printf("init: root bank: %s\n", ns_strerror(e));
        return false;
    }
    struct ns_spawn_opts opts = {.arg = arg, .pager = zero_ep};
    struct ns_process p;
    e = ns_spawn(name, &opts, &p);
    if (e != NS_OK) {
        printf("init: cannot spawn %s: %s\n", name, ns_strerror(e));
        return false;
    }
    printf("init: spawned %s (argument %lu)\n", name, (unsigned long)arg);
    long waited = ns_process_wait(&p, CHILD_TIMEOUT_US);
    if (waited == NS_OK && p.exited)
        printf("init: %s exited with status %d\n", name, p.exit_status);
    else if (waited == NS_OK)
        printf("init: %s stopped without exiting (a fault)\n", name);
    else
        printf("init: %s did not stop: %s (thread state %lu); destroying it\n", name,
               ns_strerror(waited), p.state);
    e = ns_process_bank_used(&p, &child_used);
    if (e == NS_OK)
        printf("init: %s's bank used %lu bytes (%lu pages)\n", name, (unsigned long)child_used,
               (unsigned long)((child_used + 4095) / 4096));
    else
        printf("init: %s's bank: %s\n", name, ns_strerror(e));
    long destroyed = ns_process_destroy(&p);
    if (destroyed != NS_OK) {
        printf("init: cannot destroy %s: %s\n", name, ns_strerror(destroyed));
        return false;
    }
    e = ns_bank_info(NS_SLOT_ROOT_BANK, NULL, &root_after);
    if (e != NS_OK) {
        printf("init: root bank: %s\n", ns_strerror(e));
        return false;
    }
    bool same = root_after == root_before;
    printf("init: destroyed %s: %lu bytes reclaimed; root bank used %lu bytes before, %lu "
           "after: %s\n",
           name, (unsigned long)p.reclaimed_bytes, (unsigned long)root_before,
           (unsigned long)root_after, same ? "bank usage came back" : "LEAKED");
    return waited == NS_OK && p.exited && p.exit_status == 0 && same;
}

/* The zero-fill manager, resident (it must never wait on a manager), with
 * room in its capability space for all the objects it may serve. The
 * statistics call returns once it serves. */
static bool start_zero(struct ns_process *zero)
{
    struct ns_spawn_cap c = {.src = zero_ep, .dst = NS_SLOT_FIRST_GIVEN, .rights = NS_RIGHTS_ALL};
    struct ns_spawn_opts o = {
        .ncaps = 1, .caps = &c, .bank_pages = 512, .free_slots = ZERO_FREE_SLOTS};
    long e = ns_spawn("zero", &o, zero);
    struct ns_msg m = {.info = NS_MSG_INFO(ZERO_STATS, 0, 0)};
    if (e == NS_OK)
        e = ns_call(zero_ep, &m);
    if (e != NS_OK) {
        printf("init: cannot start the zero-fill manager: %s\n", ns_strerror(e));
        return false;
    }
    printf("init: the zero-fill manager runs (resident); it serves every program from now on\n");
    return true;
}

/* The memory-object demo: the zero-fill manager serves one 16-page object
 * (charged to a bank of its own, whose destruction ends it); two processes write it through
 * read-write capabilities, a third reads it through a read-only one (asking for read-write: it gets
 * read-only); then the manager says how many pages it supplied for it - each page once, however
 * many processes touched it. */
static bool run_with_cap(const char *name, uint64_t arg, unsigned long cap, unsigned long rights)
{
    struct ns_spawn_cap c = {.src = cap, .dst = NS_SLOT_FIRST_GIVEN, .rights = rights};
    struct ns_spawn_opts o = {.arg = arg, .ncaps = 1, .caps = &c, .pager = zero_ep};
    struct ns_process p;
    long e = ns_spawn(name, &o, &p);
    if (e == NS_OK)
        e = ns_process_wait(&p, CHILD_TIMEOUT_US);
    if (e != NS_OK)
        printf("init: %s %lu: %s\n", name, (unsigned long)arg, ns_strerror(e));
    else if (!p.exited || p.exit_status)
        printf("init: %s %lu failed\n", name, (unsigned long)arg);
    ns_process_destroy(&p);
    return e == NS_OK && p.exited && p.exit_status == 0;
}

static bool memory_object_demo(void)
{
    unsigned long obj, bank;
    if (ns_slot_alloc(&obj) || ns_slot_alloc(&bank) || ns_bank_create(NS_SLOT_ROOT_BANK, bank, 32))
        return false;
    struct ns_ipc_buffer *buf = ns_ipc_buffer();
    buf->send_caps[0] = bank;
    buf->recv_slots[0] = obj;
    buf->recv_count = 1;
    struct ns_msg m = {.info = NS_MSG_INFO(ZERO_CREATE, 1, 1), .w = {16 * 4096}};
    long e = ns_call(zero_ep, &m);
    bool ok = e == NS_OK && NS_MSG_LABEL(m.info) == 0 && NS_MSG_CAPS(m.info) == 1;
    uint64_t index = m.w[0];
    printf("init: the zero-fill manager made object %lu (%s)\n", (unsigned long)index,
           ok ? "capability received" : "FAILED");
    if (ok) {
        ok = run_with_cap("demo", 0, obj, NS_RIGHT_READ | NS_RIGHT_WRITE);
        ok = run_with_cap("demo", 1, obj, NS_RIGHT_READ | NS_RIGHT_WRITE) && ok;
        ok = run_with_cap("demo", 2, obj, NS_RIGHT_READ) && ok;
        m = (struct ns_msg){.info = NS_MSG_INFO(ZERO_OBJECT_STATS, 1, 0), .w = {index}};
        e = ns_call(zero_ep, &m);
        if (e == NS_OK && NS_MSG_LABEL(m.info) == 0)
            printf("init: the zero-fill manager supplied %lu pages for the shared object\n",
                   (unsigned long)m.w[0]);
        ok = ok && e == NS_OK && m.w[0] == 16;
    }
    ns_bank_destroy(bank); /* the object goes with it */
    ns_slot_free(bank);
    ns_slot_free(obj);
    return ok;
}

/* ---- the persistent demo (a disk on the machine) ----
 *
 * The disk manager (managers/disk) on the first disk, and `guestbook`,
 * which adds a line to a log kept in a disk object and syncs it. Which part
 * of the disk: the whole of it when it holds no partition table (a bare
 * image, `scripts/run --disk`), or NewSys's data partition when it is a GPT
 * disk (an SD-card image from scripts/mkimage, booted through U-Boot): the
 * manager then gets a key for that partition only and never sees the boot
 * partition U-Boot loaded us from. The manager formats its range only when
 * it is blank: a first sector of zeros (a fresh image from truncate; the
 * start of mkimage's data partition). Anything else that is not a NewSys
 * object table - another system's data, a test pattern, a GPT disk without
 * our partition or with a damaged table - is left alone, and the demo is
 * skipped (not a failure). */

static uint8_t sector0[512] __attribute__((aligned(512)));

static bool disk_blank(unsigned long key)
{
    if (ns_diskrange_read(key, 0, 1, sector0) != NS_OK)
        return false;
    for (unsigned i = 0; i < sizeof(sector0); i++)
        if (sector0[i])
            return false;
    return true;
}

static bool read_disk0(void *ctx, uint64_t lba, unsigned count, void *buf)
{
    (void)ctx;
    return ns_diskrange_read(NS_SLOT_DISK0, lba, count, buf) == NS_OK;
}

/* The key the demo runs on, in *key: NS_SLOT_DISK0 itself, or one for the
 * data partition derived into `slot`. False when the disk is to be left
 * alone. */
static bool demo_range(unsigned long slot, unsigned long *key)
{
    struct gpt_part part;
    enum gpt_result r = gpt_find(gpt_newsys_data_type, ns_bootinfo->disks[0].sectors, read_disk0,
                                 NULL, sector0, &part);
    if (r == GPT_NONE) {
        *key = NS_SLOT_DISK0;
        return true;
    }
    if (r == GPT_IO) {
        printf("init: disk 0: a read failed while looking for a partition table: left alone, "
               "no persistent demo\n");
        return false;
    }
    if (r != GPT_FOUND) {
        printf("init: disk 0 holds %s: left alone, no persistent demo\n", gpt_result_str(r));
        return false;
    }
    long e = ns_diskrange_derive(NS_SLOT_DISK0, slot, part.first, part.sectors,
                                 NS_RIGHT_READ | NS_RIGHT_WRITE);
    if (e != NS_OK) {
        printf("init: disk 0: no key for partition %u: %s\n", part.index, ns_strerror(e));
        return false;
    }
    printf("init: disk 0 is a GPT disk: partition %u \"%s\", sectors %lu+%lu, is the data "
           "partition\n",
           part.index, part.name, (unsigned long)part.first, (unsigned long)part.sectors);
    *key = slot;
    return true;
}

/* The host's time for the log, from `date=SECONDS` (scripts/run adds it
 * when it boots the default init with a disk); 0 when not given. */
static uint64_t host_date(void)
{
    const char *c = ns_bootinfo->cmdline, *p = c;
    uint64_t v = 0;
    while ((p = strstr(p, "date=")) && p != c && p[-1] != ' ')
        p++;
    if (p)
        for (p += 5; *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static bool disk_demo(void)
{
    unsigned long ep, bank, part, key;
    if (ns_slot_alloc(&part)) {
        printf("init: disk demo: no room to start\n");
        return false;
    }
    if (!demo_range(part, &key)) {
        ns_slot_free(part);
        return true;
    }
    bool blank = disk_blank(key);
    if (ns_slot_alloc(&ep) || ns_slot_alloc(&bank) || ns_endpoint_create(NS_SLOT_ROOT_BANK, ep) ||
        ns_bank_create(NS_SLOT_ROOT_BANK, bank, 4096)) {
        printf("init: disk demo: no room to start\n");
        return false;
    }
    /* Resident (no pager): a manager must never wait on a manager. Its
     * objects, their pages and map frames are charged to `bank`. */
    struct ns_spawn_cap caps[3] = {
        {ep, DISK_SLOT_EP, NS_RIGHTS_ALL},
        {key, DISK_SLOT_KEY, NS_RIGHT_READ | NS_RIGHT_WRITE},
        {bank, DISK_SLOT_BANK, NS_RIGHTS_ALL},
    };
    struct ns_spawn_opts o = {.arg = blank ? DISK_ARG_FORMAT : 0,
                              .ncaps = 3,
                              .caps = caps,
                              .bank_pages = 512,
                              .free_slots = DISK_FREE_SLOTS};
    struct ns_process mgr;
    struct disk_stats st;
    long e = ns_spawn("disk", &o, &mgr);
    if (e == NS_OK)
        e = disk_stats(ep, &st); /* returns once it serves */
    bool ok = e == NS_OK;
    if (!ok) {
        printf("init: cannot start the disk manager: %s\n", ns_strerror(e));
    } else if (st.mount != DT_OK) {
        printf("init: disk 0 is not blank and holds no NewSys object table: left alone, no "
               "persistent demo (scripts/mkdisk create makes one, or give a new file)\n");
    } else {
        printf("init: the disk manager %s disk 0 (%lu objects); the guest book follows\n",
               st.formatted ? "formatted" : "mounted", (unsigned long)st.objects);
        ok = run_with_cap("guestbook", host_date(), ep, NS_RIGHTS_ALL);
        printf("init: persistent demo %s\n",
               ok ? "done (run again: the counter goes on)" : "FAILED");
    }
    /* The guest book synced its object: nothing of it is only in memory. */
    ns_process_destroy(&mgr);
    ns_bank_destroy(bank);
    ns_slot_free(bank);
    ns_slot_free(ep);
    ns_slot_free(part);
    return ok;
}

int main(void)
{
    const struct ns_bootinfo *bi = ns_bootinfo;
    if (!bi) {
        printf("init: no boot info\n");
        return 1;
    }
    printf("init: hello from user mode; %lu harts, timebase %lu Hz, initrd %lu bytes at %#lx\n",
           (unsigned long)bi->hart_count, (unsigned long)bi->timebase_hz,
           (unsigned long)bi->initrd_size, (unsigned long)bi->initrd_va);
    /* The initrd is a memory object mapped read-only: show its first bytes
     * are the cpio magic, and what the object holds. */
    printf("init: initrd magic %.6s\n", (const char *)bi->initrd_va);
    uint64_t length, resident, requests;
    if (ns_memobj_info(NS_SLOT_INITRD, &length, &resident, &requests) == NS_OK)
        printf("init: initrd object: %lu bytes, %lu pages resident, %lu requests\n",
               (unsigned long)length, (unsigned long)resident, (unsigned long)requests);

    uint64_t t0 = ns_clock_us();
    ns_sleep_us(20000);
    uint64_t slept = ns_clock_us() - t0;
    printf("init: slept %lu us (asked 20000)\n", (unsigned long)slept);

    volatile double x = 1.5;
    printf("init: floating point works: %d\n", (int)(x * 4.0));

    struct ns_process zero;
    bool ok = ns_slot_alloc(&zero_ep) == NS_OK &&
              ns_endpoint_create(NS_SLOT_ROOT_BANK, zero_ep) == NS_OK && start_zero(&zero);
    if (ok) {
        ok = run_child("hello", 10);
        ok = run_child("hello", 42) && ok;
        ok = run_child("counter", 4) && ok;
        bool demo = memory_object_demo();
        printf("init: memory-object demo %s\n", demo ? "done" : "FAILED");
        ok = ok && demo;
        if (bi->disk_count > 0)
            ok = disk_demo() && ok;
        struct ns_msg m = {.info = NS_MSG_INFO(ZERO_STATS, 0, 0)};
        if (ns_call(zero_ep, &m) == NS_OK)
            printf("init: the zero-fill manager supplied %lu pages in all, entered %lu at "
                   "creation, for %lu objects (%lu live)\n",
                   (unsigned long)m.w[0], (unsigned long)m.w[3], (unsigned long)m.w[2],
                   (unsigned long)m.w[1]);
        ns_process_destroy(&zero);
    }
    printf("init: %s\n", ok ? "all programs ran and were reclaimed" : "some programs failed");

    long e = ns_shutdown(NS_SLOT_MACHINE, ok ? 0 : 1);
    printf("init: shutdown returned %ld (%s)\n", e, ns_strerror(e));
    return 1;
}
