/* In-guest tests of the disk manager (managers/disk), on disk images made
 * by scripts/mkdisk (tests/qemu/boot_tests.py makes them). Run as init:
 * `--init disktest --append disktest=MODE`, MODE one of
 *   read      the image holds pattern objects made on the host: the
 *             manager mounts it, a client maps them and reads every byte
 *             through faults against the pattern with no manager message;
 *             a map discarded mid-read is rebuilt by the manager; create,
 *             delete and the errors;
 *   persist1  a blank disk: the manager formats a sub-range, an object is
 *             created and its data written through a disk key, another
 *             written through a mapping and synced (the kernel writes it
 *             back through the manager's map), one created and deleted;
 *             then a clean shutdown;
 *   persist2  the same disk, booted again: the objects and the data are
 *             there (and the host checks the image with mkdisk).
 * Ends with "N passed, N failed" like the kernel suite. */
#include <stdbool.h>
#include <string.h>

#include "managers/disk/disk_client.h"
#include "tests/guest/ktest.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

int ktest_failures;

enum {
    S_EP = 20,
    S_OBJBANK,
    S_KEY,
    S_OBJ,
    S_OBJ2,
    S_OBJ3,
    S_OBJ4,
};

#define OBJ_VA 0x40000000ull
/* persist1/2: the manager owns the disk from this sector on. */
#define SUB_FIRST 4096u

static struct ns_process mgr;
static bool mgr_up;
static uint8_t iobuf[DT_PAGE_SIZE] __attribute__((aligned(4096)));
static bool mapped; /* something is mapped at OBJ_VA */

static long start_manager(unsigned long key, unsigned flags)
{
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP));
    CHECK_OK(ns_bank_create(NS_SLOT_ROOT_BANK, S_OBJBANK, 16384));
    struct ns_spawn_cap caps[3] = {
        {S_EP, DISK_SLOT_EP, NS_RIGHTS_ALL},
        {key, DISK_SLOT_KEY, NS_RIGHT_READ | NS_RIGHT_WRITE},
        {S_OBJBANK, DISK_SLOT_BANK, NS_RIGHTS_ALL},
    };
    struct ns_spawn_opts o = {
        .arg = flags, .ncaps = 3, .caps = caps, .bank_pages = 512, .free_slots = DISK_FREE_SLOTS};
    long e = ns_spawn("disk", &o, &mgr);
    CHECK_OK(e);
    struct disk_stats st;
    if (e == NS_OK)
        CHECK_OK(e = disk_stats(S_EP, &st));
    mgr_up = e == NS_OK;
    return e;
}

/* Byte-exact expectation for word `w` of page `p` of a pattern object. */
static uint64_t want_word(uint64_t seed, uint64_t length, uint64_t p, unsigned w)
{
    uint64_t at = p * DT_PAGE_SIZE + w * 8u;
    if (at >= length)
        return 0;
    uint64_t v = dt_pattern_word(seed, p, w);
    if (length - at < 8)
        v &= ~0ull >> (64 - 8 * (length - at));
    return v;
}

/* Read pages [first, end) of the object mapped at OBJ_VA through faults. */
static bool pages_match(uint64_t seed, uint64_t length, uint64_t first, uint64_t end)
{
    if (!mapped)
        return false;
    for (uint64_t p = first; p < end; p++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(OBJ_VA + p * DT_PAGE_SIZE);
        for (unsigned k = 0; k < DT_PAGE_SIZE / 8; k++)
            if (w[k] != want_word(seed, length, p, k)) {
                printf("    page %lu word %u: %#lx, want %#lx\n", (unsigned long)p, k,
                       (unsigned long)w[k], (unsigned long)want_word(seed, length, p, k));
                return false;
            }
    }
    return true;
}

/* Map `obj` at OBJ_VA; pages_match() reads only after a map that worked
 * (else a read would fault with no handler and hang the test). */
static long map_object(unsigned long obj, uint64_t length)
{
    long e = ns_memobj_map(NS_SLOT_SELF_ASPACE, obj, OBJ_VA, 0, dt_pages(length),
                           NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
    mapped = e == NS_OK;
    return e;
}

static void unmap_object(uint64_t length)
{
    mapped = false;
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, OBJ_VA, dt_pages(length));
}

/* Open `id`, map it and read it all against pattern `seed`: no request
 * may reach the manager. */
static void read_pattern_object(uint64_t id, uint64_t seed, uint64_t want_length)
{
    struct disk_stats before, after;
    CHECK_OK(disk_stats(S_EP, &before));
    uint64_t length = 0;
    uint32_t dt = 0;
    CHECK_OK(disk_open(S_EP, id, S_OBJ, &length, &dt));
    CHECK(length == want_length);
    struct disk_stat st;
    CHECK_OK(disk_stat(S_EP, id, &st));
    CHECK(st.length == want_length && st.live == 1 && st.tag == seed);
    CHECK_OK(map_object(S_OBJ, length));
    CHECK(pages_match(seed, length, 0, dt_pages(length)));
    struct ns_memobj_stats ms;
    CHECK_OK(ns_memobj_stats(S_OBJ, &ms));
    CHECK(ms.requests_made == 0 && ms.has_map == 1);
    CHECK(ms.map_pages_read == dt_pages(length) && ms.io_errors == 0);
    CHECK_OK(disk_stats(S_EP, &after));
    CHECK(after.requests == before.requests); /* zero manager messages */
    printf("    object %lu: %lu pages in %lu runs, %lu kernel reads, %lu manager requests\n",
           (unsigned long)id, (unsigned long)dt_pages(length), (unsigned long)st.nruns,
           (unsigned long)ms.map_reads, (unsigned long)(after.requests - before.requests));
    unmap_object(length);
    ns_cap_delete(S_OBJ);
}

/* ---- read: an image made on the host ---- */

static void test_mount_image(void)
{
    struct disk_stats st;
    CHECK_OK(disk_stats(S_EP, &st));
    CHECK(st.mount == DT_OK && st.formatted == 0 && st.objects == 5);
    CHECK(st.sectors == ns_bootinfo->disks[0].sectors);
    uint64_t ids[8], lengths[8], total = 0;
    unsigned n = 0;
    CHECK_OK(disk_list(S_EP, 0, ids, lengths, 8, &n, &total));
    CHECK(n == 5 && total == 5);
    bool have7 = false, have9 = false;
    for (unsigned i = 0; i < n; i++) {
        have7 |= ids[i] == 7 && lengths[i] == 300000;
        have9 |= ids[i] == 9 && lengths[i] == 70 * 4096 - 1000;
    }
    CHECK(have7 && have9);
    CHECK_OK(disk_list(S_EP, 3, ids, lengths, 8, &n, &total));
    CHECK(n == 2);
}

static void test_read_pattern(void)
{
    read_pattern_object(7, 42, 300000);
    read_pattern_object(3, 3, 5000);
}

/* Object 9 is in two runs (mkdisk made holes first): a multi-level map.
 * Half-way through, the map is discarded: the next fault reaches the
 * manager flagged NO_MAP, it rebuilds the map, the kernel reads on. */
static void test_fragmented_and_rebuild(void)
{
    const uint64_t length = 70 * 4096 - 1000, seed = 9;
    struct disk_stat st;
    CHECK_OK(disk_stat(S_EP, 9, &st));
    CHECK(st.nruns == 2);
    uint64_t got = 0;
    CHECK_OK(disk_open(S_EP, 9, S_OBJ, &got, NULL));
    CHECK_OK(map_object(S_OBJ, length));
    CHECK(pages_match(seed, length, 0, 30));
    struct disk_stats before, after;
    CHECK_OK(disk_stats(S_EP, &before));
    uint64_t had = 0;
    CHECK_OK(disk_discard_map(S_EP, 9, 0, &had));
    CHECK(had == 1);
    CHECK(pages_match(seed, length, 0, 70)); /* 0..29 resident, the rest after a rebuild */
    CHECK_OK(disk_stats(S_EP, &after));
    CHECK(after.requests > before.requests && after.maps > before.maps);
    CHECK(after.supplied == before.supplied); /* the kernel read the pages, not the manager */
    struct ns_memobj_stats ms;
    CHECK_OK(ns_memobj_stats(S_OBJ, &ms));
    CHECK(ms.map_discards == 1 && ms.has_map == 1 && ms.requests_made >= 1);
    CHECK(ms.map_pages_read == 70);
    printf("    after the discard: %lu manager requests, %lu maps rebuilt\n",
           (unsigned long)(after.requests - before.requests),
           (unsigned long)(after.maps - before.maps));
    /* A second open gives the same object (its pages stay resident). */
    CHECK_OK(disk_open(S_EP, 9, S_OBJ2, &got, NULL));
    struct ns_memobj_stats ms2;
    CHECK_OK(ns_memobj_stats(S_OBJ2, &ms2));
    CHECK(ms2.resident == 70);
    unmap_object(length);
    ns_cap_delete(S_OBJ);
    ns_cap_delete(S_OBJ2);
}

/* Object 53 (735 pages) has a map of height 3. Its keys are revoked
 * half-way: the next fault reaches the manager flagged BAD_MAP, which
 * supplies that page itself and rebuilds the map; the kernel reads on. */
static void test_tall_map_and_bad_keys(void)
{
    const uint64_t length = 735 * 4096, seed = 53, pages = 735;
    uint64_t got = 0;
    CHECK_OK(disk_open(S_EP, 53, S_OBJ, &got, NULL));
    CHECK(got == length);
    CHECK_OK(map_object(S_OBJ, length));
    CHECK(pages_match(seed, length, 0, 300));
    struct disk_stats before, after;
    CHECK_OK(disk_stats(S_EP, &before));
    uint64_t had = 0;
    CHECK_OK(disk_discard_map(S_EP, 53, 1, &had));
    CHECK(pages_match(seed, length, 300, pages));
    CHECK_OK(disk_stats(S_EP, &after));
    CHECK(after.requests > before.requests && after.maps > before.maps);
    CHECK(after.supplied > before.supplied); /* the manager read the BAD_MAP pages */
    struct ns_memobj_stats ms;
    CHECK_OK(ns_memobj_stats(S_OBJ, &ms));
    CHECK(ms.has_map == 1 && ms.resident == pages);
    CHECK(ms.map_pages_read + (after.supplied - before.supplied) == pages);
    printf("    bad keys: %lu manager requests, %lu pages it supplied, %lu maps rebuilt\n",
           (unsigned long)(after.requests - before.requests),
           (unsigned long)(after.supplied - before.supplied),
           (unsigned long)(after.maps - before.maps));
    unmap_object(length);
    ns_cap_delete(S_OBJ);
}

static void test_create_delete(void)
{
    struct disk_stats before, after;
    CHECK_OK(disk_stats(S_EP, &before));
    uint64_t bank_before = 0, bank_after = 1, bank_during = 0;
    CHECK_OK(ns_bank_info(S_OBJBANK, NULL, &bank_before));
    /* A new object reads as zeros, from the disk. */
    CHECK_OK(disk_create(S_EP, 500, 3 * 4096 + 10, 0, 0, S_OBJ, NULL));
    CHECK_OK(map_object(S_OBJ, 3 * 4096 + 10));
    CHECK(pages_match(0, 0, 0, 4));
    struct ns_memobj_stats ms;
    CHECK_OK(ns_memobj_stats(S_OBJ, &ms));
    CHECK(ms.requests_made == 0 && ms.map_pages_read == 4);
    CHECK_OK(disk_stats(S_EP, &after));
    CHECK(after.objects == before.objects + 1 && after.generation == before.generation + 1);
    CHECK(after.free_sectors == before.free_sectors - 32);
    unmap_object(3 * 4096 + 10);
    CHECK_OK(ns_bank_info(S_OBJBANK, NULL, &bank_during));
    CHECK(bank_during > bank_before); /* the object, its pages, its map */
    /* Delete revokes the client's capability and frees the sectors, and
     * the object, its pages and its map frames leave the bank. */
    CHECK_OK(disk_delete(S_EP, 500, NULL));
    CHECK_OK(ns_bank_info(S_OBJBANK, NULL, &bank_after));
    CHECK(bank_after == bank_before);
    struct ns_cap_info ci;
    CHECK_ERR(ns_cap_identify(S_OBJ, &ci), NS_ERR_REVOKED);
    ns_cap_delete(S_OBJ);
    CHECK_OK(disk_stats(S_EP, &after));
    CHECK(after.objects == before.objects && after.free_sectors == before.free_sectors);
    uint32_t dt = 0;
    CHECK_ERR(disk_open(S_EP, 500, S_OBJ, NULL, &dt), NS_ERR_INVALID_ARG);
    CHECK(dt == DT_ERR_NOT_FOUND);
}

static void test_errors(void)
{
    uint32_t dt = 0;
    CHECK_ERR(disk_create(S_EP, 7, 4096, 0, 0, S_OBJ, &dt), NS_ERR_SLOT_OCCUPIED);
    CHECK(dt == DT_ERR_EXISTS);
    CHECK_ERR(disk_create(S_EP, 600, 1ull << 40, 0, 0, S_OBJ, &dt), NS_ERR_NO_QUOTA);
    CHECK(dt == DT_ERR_NO_SPACE);
    CHECK_ERR(disk_create(S_EP, 600, 4096, 0, 0x80, S_OBJ, &dt), NS_ERR_INVALID_ARG);
    CHECK_ERR(disk_delete(S_EP, 12345, &dt), NS_ERR_INVALID_ARG);
    CHECK(dt == DT_ERR_NOT_FOUND);
    struct disk_stat st;
    CHECK_ERR(disk_stat(S_EP, 12345, &st), NS_ERR_INVALID_ARG);
    CHECK_ERR(disk_discard_map(S_EP, 12345, 0, NULL), NS_ERR_INVALID_ARG);
    struct ns_msg m = {.info = NS_MSG_INFO(99, 0, 0)};
    CHECK_OK(ns_call(S_EP, &m));
    CHECK(NS_MSG_LABEL(m.info) == NS_ERR_INVALID_ARG);
    struct ns_cap_info ci;
    CHECK_ERR(ns_cap_identify(S_OBJ, &ci), NS_ERR_EMPTY_SLOT);
}

/* ---- persist1 / persist2: a sub-range, formatted, across a reboot ---- */

#define P_ID     77
#define P_LENGTH 200000u
#define P_SEED   77
/* Written through a mapping and synced: the kernel writes back through the
 * manager's map. */
#define W_ID     80
#define W_LENGTH (40u * 4096 + 123)

static void test_format_and_create(void)
{
    struct disk_stats st;
    CHECK_OK(disk_stats(S_EP, &st));
    CHECK(st.mount == DT_OK && st.formatted == 1 && st.objects == 0);
    CHECK(st.sectors == ns_bootinfo->disks[0].sectors - SUB_FIRST);
    CHECK_OK(disk_create(S_EP, P_ID, P_LENGTH, P_SEED, DT_OBJ_PATTERN, S_OBJ, NULL));
    struct disk_stat ds;
    CHECK_OK(disk_stat(S_EP, P_ID, &ds));
    CHECK(ds.pages == dt_pages(P_LENGTH) && ds.nruns >= 1);
    /* The data, through the whole-disk key (the runs are relative to the
     * manager's range). */
    uint64_t page = 0;
    for (uint64_t r = 0; r < ds.nruns; r++)
        for (uint64_t s = 0; s < ds.run[r].sectors; s += DT_SECTORS_PER_PAGE, page++) {
            uint64_t *w = (uint64_t *)iobuf;
            for (unsigned k = 0; k < DT_PAGE_SIZE / 8; k++)
                w[k] = want_word(P_SEED, P_LENGTH, page, k);
            CHECK_OK(ns_diskrange_write(NS_SLOT_DISK0, SUB_FIRST + ds.run[r].start + s,
                                        DT_SECTORS_PER_PAGE, iobuf));
        }
    CHECK_OK(ns_diskrange_flush(NS_SLOT_DISK0));
    /* Mapped now, it reads what was written. */
    CHECK_OK(map_object(S_OBJ, P_LENGTH));
    CHECK(pages_match(P_SEED, P_LENGTH, 0, dt_pages(P_LENGTH)));
    unmap_object(P_LENGTH);
    /* One created and deleted, one empty. */
    CHECK_OK(disk_create(S_EP, 78, 4096, 0, 0, S_OBJ2, NULL));
    CHECK_OK(disk_delete(S_EP, 78, NULL));
    CHECK_OK(disk_create(S_EP, 79, 0, 0, 0, S_OBJ3, NULL));
    /* Stores through a mapping, then sync: durable when it returns. */
    struct disk_stats before;
    CHECK_OK(disk_stats(S_EP, &before));
    CHECK_OK(disk_create(S_EP, W_ID, W_LENGTH, W_ID, DT_OBJ_PATTERN, S_OBJ4, NULL));
    CHECK_OK(map_object(S_OBJ4, W_LENGTH));
    if (mapped)
        for (uint64_t p = 0; p < dt_pages(W_LENGTH); p++) {
            volatile uint64_t *w = (volatile uint64_t *)(OBJ_VA + p * DT_PAGE_SIZE);
            for (unsigned k = 0; k < DT_PAGE_SIZE / 8; k++)
                w[k] = want_word(W_ID, W_LENGTH, p, k);
        }
    CHECK_OK(ns_memobj_sync(S_OBJ4));
    struct ns_memobj_stats ms;
    CHECK_OK(ns_memobj_stats(S_OBJ4, &ms));
    CHECK(ms.dirty == 0 && ms.map_pages_written == dt_pages(W_LENGTH) && ms.io_errors == 0);
    CHECK(ms.requests_made == 0);
    printf("    object %u: %lu pages written back in %lu writes\n", W_ID,
           (unsigned long)ms.map_pages_written, (unsigned long)ms.map_writes);
    unmap_object(W_LENGTH);
    CHECK_OK(disk_stats(S_EP, &st));
    CHECK(st.objects == 3 && st.requests == before.requests);
    printf("    generation %lu, %lu sectors free\n", (unsigned long)st.generation,
           (unsigned long)st.free_sectors);
}

static void test_after_reboot(void)
{
    struct disk_stats st;
    CHECK_OK(disk_stats(S_EP, &st));
    CHECK(st.mount == DT_OK && st.formatted == 0 && st.objects == 3);
    uint64_t ids[4], lengths[4], total;
    unsigned n;
    CHECK_OK(disk_list(S_EP, 0, ids, lengths, 4, &n, &total));
    CHECK(n == 3 && ids[0] == P_ID && lengths[0] == P_LENGTH && ids[1] == 79 && lengths[1] == 0);
    CHECK(ids[2] == W_ID && lengths[2] == W_LENGTH);
    uint32_t dt = 0;
    CHECK_ERR(disk_open(S_EP, 78, S_OBJ, NULL, &dt), NS_ERR_INVALID_ARG);
    read_pattern_object(P_ID, P_SEED, P_LENGTH);
    read_pattern_object(W_ID, W_ID, W_LENGTH);
    uint64_t length = 1;
    CHECK_OK(disk_open(S_EP, 79, S_OBJ, &length, NULL));
    CHECK(length == 0);
    ns_cap_delete(S_OBJ);
}

static const struct ktest read_tests[] = {
    {"disk_mount_image", test_mount_image},
    {"disk_read_pattern", test_read_pattern},
    {"disk_fragmented_and_rebuild", test_fragmented_and_rebuild},
    {"disk_tall_map_and_bad_keys", test_tall_map_and_bad_keys},
    {"disk_create_delete", test_create_delete},
    {"disk_errors", test_errors},
};
static const struct ktest persist1_tests[] = {{"disk_format_and_create", test_format_and_create}};
static const struct ktest persist2_tests[] = {{"disk_after_reboot", test_after_reboot}};

int main(void)
{
    if (!ns_bootinfo || ns_bootinfo->disk_count == 0) {
        printf("disktest: must run as init with a disk\n");
        return 1;
    }
    const char *mode = strstr(ns_bootinfo->cmdline, "disktest=");
    mode = mode ? mode + 9 : "read";
    const struct ktest *t;
    unsigned n;
    unsigned long key = NS_SLOT_DISK0;
    unsigned flags = 0;
    if (!strncmp(mode, "persist1", 8) || !strncmp(mode, "persist2", 8)) {
        t = mode[7] == '1' ? persist1_tests : persist2_tests;
        n = 1;
        /* A sub-range: the manager sees sectors from SUB_FIRST on only. */
        if (ns_diskrange_derive(NS_SLOT_DISK0, S_KEY, SUB_FIRST,
                                ns_bootinfo->disks[0].sectors - SUB_FIRST,
                                NS_RIGHT_READ | NS_RIGHT_WRITE) != NS_OK) {
            printf("disktest: cannot derive the sub-range key\n");
            return 1;
        }
        key = S_KEY;
        flags = mode[7] == '1' ? DISK_ARG_FORMAT : 0;
    } else {
        t = read_tests;
        n = sizeof(read_tests) / sizeof(read_tests[0]);
    }
    unsigned passed = 0, failed = 0;
    printf("disktest: %u tests\n", n);
    ktest_failures = 0;
    start_manager(key, flags);
    if (!mgr_up || ktest_failures) {
        printf("FAIL disk_manager_start\n");
        failed++;
    } else {
        for (unsigned i = 0; i < n; i++) {
            ktest_failures = 0;
            t[i].fn();
            if (ktest_failures)
                failed++;
            else
                passed++;
            printf("%s %s\n", ktest_failures ? "FAIL" : "PASS", t[i].name);
        }
    }
    printf("%u passed, %u failed\n", passed, failed);
    ns_shutdown(NS_SLOT_MACHINE, failed ? 1 : 0);
    return 1;
}
