/* In-guest tests of disk keys, transfers through them, and storage maps:
 * faults the kernel serves from the disk with no manager message, holes and
 * bad keys reaching the manager flagged, a map installed late serving the
 * requests already waiting, discard. They run on whatever disk init got
 * first (a virtio disk on virt, the RAM disk on sifive_u), writing their
 * own pattern into a region of it first. */
#include <stdbool.h>
#include <string.h>

#include "tests/guest/ktest.h"

enum {
    T_KEY = 200, /* a key for the test region */
    T_KEY2,
    T_KEY_RO,
    T_SCRATCH,
    T_MO,
    T_NTFN,
    T_ROOT,
    T_SUB,
    T_EP,
    T_THREAD,
    T_HOT_MO,
    T_HOT_ROOT,
    T_WRITER, /* .. T_WRITER + BIG_WRITERS_MAX - 2: the big stream's other writers */
    T_LAST = T_WRITER + 8,
};

#define REGION     512u  /* first sector of the region, on the disk */
#define REGION_LEN 1024u /* sectors: 64 pages */
#define OBJ_VA     0x40000000ull

static uint8_t iobuf[NS_DISK_IO_MAX_SECTORS * 512] __attribute__((aligned(4096)));

static void cleanup(void)
{
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, OBJ_VA, 64);
    for (unsigned s = T_KEY; s < T_LAST; s++)
        ns_cap_delete(s);
}

/* The pattern word at byte `off` of region sector `s`. */
static uint64_t pattern(uint64_t s, uint64_t off)
{
    return 0x5a5a000000000000ull ^ (s << 20) ^ (off / 8);
}

static bool have_disk(void)
{
    if (ns_bootinfo->disk_count == 0) {
        printf("    no disk: nothing to test\n");
        return false;
    }
    return ns_bootinfo->disks[0].sectors >= REGION + REGION_LEN;
}

/* Write the pattern over the region through T_KEY (which covers it). */
static void write_region(void)
{
    for (uint64_t s = 0; s < REGION_LEN; s += NS_DISK_IO_MAX_SECTORS) {
        uint64_t *w = (uint64_t *)iobuf;
        for (uint64_t k = 0; k < sizeof(iobuf) / 8; k++)
            w[k] = pattern(s + k / 64, (k % 64) * 8);
        CHECK_OK(ns_diskrange_write(T_KEY, s, NS_DISK_IO_MAX_SECTORS, iobuf));
    }
    CHECK_OK(ns_diskrange_flush(T_KEY));
}

static void test_disk_keys(void)
{
    if (!have_disk())
        return;
    uint64_t disk, first, sectors;
    CHECK_OK(ns_diskrange_info(NS_SLOT_DISK0, &disk, &first, &sectors));
    CHECK(disk == 0 && first == 0 && sectors == ns_bootinfo->disks[0].sectors);
    struct ns_cap_info ci;
    CHECK_OK(ns_cap_identify(NS_SLOT_DISK0, &ci));
    CHECK(ci.type == NS_CAP_DISKRANGE && (ci.rights & NS_RIGHT_READ));
    /* Narrower only. */
    CHECK_OK(ns_diskrange_derive(NS_SLOT_DISK0, T_KEY, REGION, REGION_LEN, NS_RIGHTS_ALL));
    CHECK_ERR(ns_diskrange_derive(T_KEY, T_KEY2, 1, REGION_LEN, NS_RIGHTS_ALL), NS_ERR_RANGE);
    CHECK_OK(ns_diskrange_derive(T_KEY, T_KEY_RO, 8, 8, NS_RIGHT_READ));
    CHECK_OK(ns_diskrange_info(T_KEY_RO, &disk, &first, &sectors));
    CHECK(first == REGION + 8 && sectors == 8);
    /* Transfers: round trip, the key's bounds and rights, bad arguments. */
    write_region();
    memset(iobuf, 0, sizeof(iobuf));
    CHECK_OK(ns_diskrange_read(T_KEY, 3, 5, iobuf));
    uint64_t *w = (uint64_t *)iobuf;
    bool same = true;
    for (unsigned k = 0; k < 5 * 64; k++)
        same &= w[k] == pattern(3 + k / 64, (k % 64) * 8);
    CHECK(same);
    CHECK_OK(ns_diskrange_read(T_KEY_RO, 0, 8, iobuf)); /* region sectors 8..15 */
    CHECK(w[0] == pattern(8, 0) && w[511] == pattern(15, 504));
    CHECK_ERR(ns_diskrange_read(T_KEY_RO, 1, 8, iobuf), NS_ERR_RANGE);
    CHECK_ERR(ns_diskrange_write(T_KEY_RO, 0, 1, iobuf), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_diskrange_flush(T_KEY_RO), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_diskrange_read(T_KEY, 0, 0, iobuf), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_diskrange_read(T_KEY, 0, NS_DISK_IO_MAX_SECTORS + 1, iobuf), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_diskrange_read(T_KEY, 0, 1, (void *)0xffffffc000000000ull), NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_diskrange_read(T_KEY, 0, 1, (void *)0x7000000000ull), NS_ERR_BAD_ADDRESS);
    CHECK_ERR(ns_diskrange_read(NS_SLOT_ROOT_BANK, 0, 1, iobuf), NS_ERR_WRONG_TYPE);
    /* A revoked key moves nothing. */
    CHECK_OK(ns_cap_revoke(T_KEY));
    CHECK_ERR(ns_diskrange_read(T_KEY_RO, 0, 1, iobuf), NS_ERR_REVOKED);
    cleanup();
}

/* An object of `pages` pages less 100 bytes whose map (height 2, slots of
 * 16 pages) has a key per slot for `slots` of them, the rest empty. */
static void make_mapped_object(uint64_t pages, unsigned slots, bool install)
{
    CHECK_OK(ns_diskrange_derive(NS_SLOT_DISK0, T_KEY, REGION, REGION_LEN, NS_RIGHTS_ALL));
    write_region();
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, T_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, T_MO, pages * 4096 - 104, T_NTFN));
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, T_ROOT));
    for (unsigned i = 0; i < slots; i++) {
        CHECK_OK(ns_diskrange_derive(T_KEY, T_SCRATCH, i * 128, 128, NS_RIGHTS_ALL));
        CHECK_OK(ns_objframe_store(T_ROOT, i, T_SCRATCH, NS_RIGHTS_ALL));
        CHECK_OK(ns_cap_delete(T_SCRATCH));
    }
    if (install)
        CHECK_OK(ns_memobj_set_map(T_MO, T_ROOT, 2));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, T_MO, OBJ_VA, 0, pages,
                           NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
}

/* Page p of the object is region sectors 8p..8p+7. */
static bool page_matches(uint64_t p, uint64_t valid_bytes)
{
    const volatile uint64_t *w = (const volatile uint64_t *)(OBJ_VA + p * 4096);
    for (unsigned k = 0; k < 512; k++) {
        uint64_t want = k * 8 < valid_bytes ? pattern(p * 8 + k / 64, (k % 64) * 8) : 0;
        if (w[k] != want) {
            printf("    page %lu word %u: %#lx, want %#lx\n", (unsigned long)p, k,
                   (unsigned long)w[k], (unsigned long)want);
            return false;
        }
    }
    return true;
}

static void test_storage_map_fault(void)
{
    if (!have_disk())
        return;
    make_mapped_object(40, 3, true);
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_READAHEAD, 8, NULL));
    CHECK_ERR(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_READAHEAD, 65, NULL), NS_ERR_INVALID_ARG);
    bool all = true;
    for (uint64_t p = 0; p < 40; p++)
        all &= page_matches(p, p == 39 ? 4096 - 104 : 4096);
    CHECK(all);
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.requests_made == 0); /* the manager heard nothing */
    CHECK(st.map_pages_read == 40 && st.resident == 40);
    /* Readahead of 8, and no read crosses a 16-page slot: 5 reads. */
    CHECK(st.map_reads == 5);
    CHECK(st.has_map == 1 && st.io_inflight == 0 && st.io_errors == 0);
    if (st.map_reads != 5)
        printf("    %lu reads\n", (unsigned long)st.map_reads);
    /* Writes land in the cache (and go back through the map: see
     * storage_writeback). */
    *(volatile uint64_t *)OBJ_VA = 42;
    CHECK(*(volatile uint64_t *)OBJ_VA == 42);
    /* Readahead goes on across slots whose keys are contiguous on disk:
     * one read of 32 pages from page 8 (slots 0, 1 and 2). */
    uint64_t dropped;
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_READAHEAD, 32, NULL));
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    uint64_t reads = st.map_reads, pages_read = st.map_pages_read;
    CHECK(page_matches(8, 4096));
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.map_reads == reads + 1 && st.map_pages_read == pages_read + 32);
    if (st.map_reads != reads + 1)
        printf("    %lu reads of %lu pages\n", (unsigned long)(st.map_reads - reads),
               (unsigned long)(st.map_pages_read - pages_read));
    CHECK(page_matches(31, 4096) && page_matches(39, 4096 - 104));
    cleanup();
}

static volatile uint64_t seen;

static void touch_page(unsigned long va)
{
    seen = *(volatile uint64_t *)va;
    ns_thread_exit();
}

/* Start a thread touching `va`, whose faults go to T_EP. */
static void start_toucher(uint64_t va)
{
    static uint64_t stack[512] __attribute__((aligned(16)));
    CHECK_OK(ns_endpoint_create(NS_SLOT_ROOT_BANK, T_EP));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, T_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_set_fault_handler(T_THREAD, T_EP));
    CHECK_OK(ns_thread_start_fn(T_THREAD, touch_page, (uint64_t)&stack[512], va));
}

/* The manager's side: wait for one request and return its flags. */
static uint64_t next_request(struct ns_page_request *r)
{
    uint64_t bits;
    unsigned long n = 0;
    for (int tries = 0; tries < 100 && n == 0; tries++) {
        CHECK_OK(ns_poll(T_NTFN, &bits));
        CHECK_OK(ns_memobj_requests(T_MO, r, 1, &n));
        if (!n)
            ns_sleep_us(1000);
    }
    CHECK(n == 1);
    return n ? r->flags : ~0ull;
}

static void test_storage_map_hole(void)
{
    if (!have_disk())
        return;
    /* Slot 1 (pages 16..31) empty. */
    make_mapped_object(40, 1, false);
    CHECK_OK(ns_diskrange_derive(T_KEY, T_SCRATCH, 2 * 128, 128, NS_RIGHTS_ALL));
    CHECK_OK(ns_objframe_store(T_ROOT, 2, T_SCRATCH, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_delete(T_SCRATCH));
    CHECK_OK(ns_memobj_set_map(T_MO, T_ROOT, 2));
    seen = 0;
    start_toucher(OBJ_VA + 17 * 4096);
    struct ns_page_request r;
    uint64_t flags = next_request(&r);
    CHECK(flags == NS_PAGE_REQ_NO_MAP && r.first_page == 17);
    /* The manager rebuilds the map: the kernel reads the waiting page. */
    CHECK_OK(ns_diskrange_derive(T_KEY, T_SCRATCH, 1 * 128, 128, NS_RIGHTS_ALL));
    CHECK_OK(ns_objframe_store(T_ROOT, 1, T_SCRATCH, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_delete(T_SCRATCH));
    CHECK_OK(ns_memobj_set_map(T_MO, T_ROOT, 2));
    for (int i = 0; i < 100 && !seen; i++)
        ns_sleep_us(1000);
    CHECK(seen == pattern(17 * 8, 0));
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.requests_made == 1 && st.map_pages_read >= 1);
    cleanup();
}

/* Keys a manager should not have put there: each reaches the manager as a
 * request flagged BAD_MAP with the reason, and no data moves. */
static void test_storage_map_bad_keys(void)
{
    if (!have_disk())
        return;
    make_mapped_object(64, 0, false);
    /* slot 0: not a key; slot 1: a key too short for its span; slot 2: a
     * read-less key; slot 3: a key revoked after it was stored. */
    CHECK_OK(ns_objframe_store(T_ROOT, 0, T_NTFN, NS_RIGHTS_ALL));
    CHECK_OK(ns_diskrange_derive(T_KEY, T_SCRATCH, 128, 127, NS_RIGHTS_ALL));
    CHECK_OK(ns_objframe_store(T_ROOT, 1, T_SCRATCH, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_delete(T_SCRATCH));
    CHECK_OK(ns_diskrange_derive(T_KEY, T_SCRATCH, 256, 128, NS_RIGHT_WRITE));
    CHECK_OK(ns_objframe_store(T_ROOT, 2, T_SCRATCH, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_delete(T_SCRATCH));
    CHECK_OK(ns_diskrange_derive(T_KEY, T_KEY2, 384, 128, NS_RIGHTS_ALL));
    CHECK_OK(ns_objframe_store(T_ROOT, 3, T_KEY2, NS_RIGHTS_ALL));
    CHECK_OK(ns_cap_revoke(T_KEY2));
    CHECK_OK(ns_memobj_set_map(T_MO, T_ROOT, 2));
    static const uint64_t why[4] = {NS_ERR_WRONG_TYPE, NS_ERR_RANGE, NS_ERR_NO_RIGHTS,
                                    NS_ERR_REVOKED};
    for (unsigned slot = 0; slot < 4; slot++) {
        seen = 0;
        start_toucher(OBJ_VA + (slot * 16 + 3) * 4096);
        struct ns_page_request r;
        uint64_t flags = next_request(&r);
        CHECK(flags == (NS_PAGE_REQ_BAD_MAP | why[slot] << NS_PAGE_REQ_WHY_SHIFT));
        if (flags != (NS_PAGE_REQ_BAD_MAP | why[slot] << NS_PAGE_REQ_WHY_SHIFT))
            printf("    slot %u: flags %#lx\n", slot, (unsigned long)flags);
        /* The manager refuses: the toucher gets the manager's fault. */
        CHECK_OK(ns_memobj_fail(T_MO, r.first_page, 1, NS_ERR_NO_RIGHTS));
        struct ns_msg m = {0};
        CHECK_OK(ns_recv(T_EP, &m));
        CHECK(m.w[0] == NS_FAULT_MANAGER && m.w[3] == NS_ERR_NO_RIGHTS);
        m.info = NS_MSG_INFO(NS_FAULT_STOP, 0, 0);
        ns_reply(&m);
        CHECK(seen == 0);
        ns_cap_delete(T_THREAD);
        ns_cap_delete(T_EP);
    }
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.map_reads == 0 && st.resident == 0);
    cleanup();
}

static void test_storage_map_discard(void)
{
    if (!have_disk())
        return;
    make_mapped_object(48, 3, true);
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, T_SUB)); /* a frame outside the map */
    CHECK(page_matches(0, 4096));
    uint64_t was;
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_DISCARD_MAP, 0, &was));
    CHECK(was == 1);
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.has_map == 0 && st.map_discards == 1);
    /* The map's frames are gone (back to the bank); others are not. */
    struct ns_cap_info ci;
    CHECK_ERR(ns_cap_identify(T_ROOT, &ci), NS_ERR_REVOKED);
    CHECK_OK(ns_cap_identify(T_SUB, &ci));
    /* Resident pages stay; a new fault asks the manager, flagged. */
    CHECK(page_matches(0, 4096));
    seen = 0;
    start_toucher(OBJ_VA + 20 * 4096);
    struct ns_page_request r;
    CHECK(next_request(&r) == NS_PAGE_REQ_NO_MAP && r.first_page == 20);
    /* Rebuilt: served by the kernel. */
    CHECK_OK(ns_cap_delete(T_ROOT));
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, T_ROOT));
    for (unsigned i = 0; i < 3; i++) {
        CHECK_OK(ns_diskrange_derive(T_KEY, T_SCRATCH, i * 128, 128, NS_RIGHTS_ALL));
        CHECK_OK(ns_objframe_store(T_ROOT, i, T_SCRATCH, NS_RIGHTS_ALL));
        CHECK_OK(ns_cap_delete(T_SCRATCH));
    }
    CHECK_OK(ns_memobj_set_map(T_MO, T_ROOT, 2));
    for (int i = 0; i < 100 && !seen; i++)
        ns_sleep_us(1000);
    CHECK(seen == pattern(20 * 8, 0));
    CHECK(page_matches(47, 4096 - 104));
    cleanup();
}

/* Run alone on a disk behind QEMU's blkdebug, which fails the first read
 * of region sector 40 (page 5) with EIO (tests/qemu/boot_tests.py). */
static void test_storage_map_io_error(void)
{
    if (!have_disk() || !strstr(ns_bootinfo->cmdline, "only=storage_map_io_error")) {
        printf("    needs the blkdebug disk: run alone (only=storage_map_io_error)\n");
        return;
    }
    make_mapped_object(16, 1, true);
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_READAHEAD, 1, NULL));
    CHECK(page_matches(4, 4096));
    /* The failed read reaches the faulting thread as a typed fault. */
    seen = 0;
    start_toucher(OBJ_VA + 5 * 4096);
    struct ns_msg m = {0};
    CHECK_OK(ns_recv(T_EP, &m));
    CHECK(m.w[0] == NS_FAULT_IO && m.w[2] == OBJ_VA + 5 * 4096 && m.w[3] == NS_ERR_IO);
    if (m.w[0] != NS_FAULT_IO)
        printf("    fault kind %lu error %lu\n", (unsigned long)m.w[0], (unsigned long)m.w[3]);
    m.info = NS_MSG_INFO(NS_FAULT_STOP, 0, 0);
    ns_reply(&m);
    CHECK(seen == 0);
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.io_errors == 1 && st.requests_made == 0 && st.resident == 1);
    /* Nothing was entered for it: the next touch reads again, and the
     * disk (which failed only once) answers. */
    CHECK(page_matches(5, 4096));
    CHECK(page_matches(6, 4096));
    cleanup();
}

/* Stores mark pages dirty; sync writes exactly those, in runs under one
 * key, and flushes; evict drops clean pages; what comes back from the disk
 * is what was written. */
/* A system call writes its result into a clean page of a disk-backed
 * object (mapped read-only until the first store, to see it): the kernel's
 * own store faults, the page is made dirty and writable, and the call
 * succeeds - it failed with NS_ERR_BAD_ADDRESS before. The result is
 * written back like any store. */
static void test_storage_kernel_copy_into_clean_page(void)
{
    if (!have_disk())
        return;
    make_mapped_object(48, 3, true);
    CHECK(page_matches(6, 4096)); /* resident, clean */
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 0);
    struct ns_memobj_stats *in_page = (struct ns_memobj_stats *)(OBJ_VA + 6 * 4096);
    CHECK_OK(ns_memobj_stats(T_MO, in_page));
    CHECK(in_page->length == st.length && in_page->dirty == 0);
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 1);
    CHECK_OK(ns_memobj_sync(T_MO));
    CHECK_OK(ns_diskrange_read(T_KEY, 6 * 8, 8, iobuf));
    CHECK(((const struct ns_memobj_stats *)iobuf)->length == st.length);
    cleanup();
}

static void test_storage_writeback(void)
{
    if (!have_disk())
        return;
    make_mapped_object(48, 3, true);
    bool all = true;
    for (uint64_t p = 0; p < 48; p++)
        all &= page_matches(p, p == 47 ? 4096 - 104 : 4096);
    CHECK(all);
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 0);
    CHECK_OK(ns_memobj_sync(T_MO)); /* nothing to write */
    static const uint64_t dirty_pages[] = {3, 4, 5, 20};
    for (unsigned i = 0; i < 4; i++)
        *(volatile uint64_t *)(OBJ_VA + dirty_pages[i] * 4096 + 8) = 0xd1d1000000000000ull | i;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 4);
    if (st.dirty != 4)
        printf("    %lu dirty\n", (unsigned long)st.dirty);
    CHECK_OK(ns_memobj_sync(T_MO));
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 0 && st.map_pages_written == 4 && st.map_writes == 2);
    if (st.map_writes != 2)
        printf("    %lu writes of %lu pages\n", (unsigned long)st.map_writes,
               (unsigned long)st.map_pages_written);
    /* On the disk: the stores and the pattern around them. */
    CHECK_OK(ns_diskrange_read(T_KEY, 3 * 8, 8, iobuf));
    const uint64_t *w = (const uint64_t *)iobuf;
    CHECK(w[0] == pattern(24, 0) && w[1] == 0xd1d1000000000000ull && w[2] == pattern(24, 16));
    /* A clean page is written to again: dirty again (the PTE lost its
     * write right at the writeback). */
    *(volatile uint64_t *)(OBJ_VA + 3 * 4096 + 16) = 77;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 1);
    /* Evict writes page 3 back and drops every clean page. */
    uint64_t dropped;
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK_OK(ns_memobj_sync(T_MO));
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.resident == 0 && st.dirty == 0);
    /* Read back through faults from the disk. */
    uint64_t reads = st.map_pages_read;
    CHECK(*(volatile uint64_t *)(OBJ_VA + 3 * 4096 + 16) == 77);
    CHECK(*(volatile uint64_t *)(OBJ_VA + 20 * 4096 + 8) == (0xd1d1000000000000ull | 3));
    CHECK(*(volatile uint64_t *)(OBJ_VA + 21 * 4096) == pattern(21 * 8, 0));
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.map_pages_read > reads && st.requests_made == 0 && st.io_errors == 0);
    /* Sync needs write permission on the object. */
    CHECK_OK(ns_cap_copy(T_MO, T_SUB, NS_RIGHT_READ));
    CHECK_ERR(ns_memobj_sync(T_SUB), NS_ERR_NO_RIGHTS);
    CHECK_ERR(ns_memobj_sync(T_NTFN), NS_ERR_WRONG_TYPE);
    cleanup();
}

/* An object without a map whose manager takes pages back: evicting a
 * dirty page asks the manager (NS_PAGE_REQ_WRITEBACK) and keeps the page
 * until it confirms; a store after the request makes the confirmation
 * leave it dirty; once clean it goes, and the next fault asks the manager
 * for the data it stored. The test is the manager. */
static uint8_t stored[4][4096] __attribute__((aligned(4096)));

static void test_manager_writeback(void)
{
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, T_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, T_MO, 4 * 4096, T_NTFN));
    CHECK_ERR(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_CLEAN, 0, NULL), NS_ERR_INVALID_ARG);
    CHECK_ERR(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_WRITEBACK, 0, NULL), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_WRITEBACK, 1, NULL));
    memset(stored, 0x11, sizeof(stored));
    CHECK_OK(ns_memobj_preload(T_MO, 0, 4, stored));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, T_MO, OBJ_VA, 0, 4, NS_RIGHT_READ | NS_RIGHT_WRITE,
                           NULL));
    volatile uint64_t *w = (volatile uint64_t *)OBJ_VA;
    CHECK(w[0] == 0x1111111111111111ull);
    w[512 * 1] = 101; /* pages 1 and 2 dirty */
    w[512 * 2] = 102;
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 2);
    uint64_t dropped;
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK(dropped == 2); /* pages 0 and 3, clean */
    struct ns_page_request r[4];
    unsigned long n = 0;
    CHECK_OK(ns_memobj_requests(T_MO, r, 4, &n));
    CHECK(n == 2 && r[0].flags == NS_PAGE_REQ_WRITEBACK && r[1].flags == NS_PAGE_REQ_WRITEBACK);
    CHECK(n == 2 && r[0].first_page + r[1].first_page == 3 && r[0].pages == 1);
    /* Store both; page 2 is written again before it is confirmed. */
    memcpy(stored[1], (const void *)(OBJ_VA + 4096), 4096);
    memcpy(stored[2], (const void *)(OBJ_VA + 2 * 4096), 4096);
    w[512 * 2] = 202;
    uint64_t clean;
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_CLEAN, 1, &clean));
    CHECK(clean == 1);
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_CLEAN, 2, &clean));
    CHECK(clean == 0);
    CHECK_ERR(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_CLEAN, 1, &clean), NS_ERR_INVALID_ARG);
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK(dropped == 1); /* page 1; page 2 is asked for again */
    CHECK_OK(ns_memobj_requests(T_MO, r, 4, &n));
    CHECK(n == 1 && r[0].first_page == 2 && r[0].flags == NS_PAGE_REQ_WRITEBACK);
    memcpy(stored[2], (const void *)(OBJ_VA + 2 * 4096), 4096);
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_CLEAN, 2, &clean));
    CHECK(clean == 1);
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(dropped == 1 && st.resident == 0 && st.dirty == 0);
    /* Back from the manager's copies, through ordinary requests. */
    seen = 0;
    start_toucher(OBJ_VA + 2 * 4096);
    uint64_t flags = next_request(r);
    CHECK(flags == NS_PAGE_REQ_NO_MAP && r[0].first_page == 2);
    CHECK_OK(ns_memobj_supply(T_MO, 2, 1, stored[2]));
    for (int i = 0; i < 100 && !seen; i++)
        ns_sleep_us(1000);
    CHECK(seen == 202);
    cleanup();
}

/* ---- an object larger than memory ----
 *
 * 512 MiB mapped from the disk at BIG_SECTOR, written through its mapping
 * on a machine of 128 MiB (so pageout must write most of it while the
 * writer runs), then checked page by page - on the next boot, after the
 * VM was killed (tests/qemu/boot_tests.py). The pattern depends on
 * `bigseed=N` from the command line, so a stale image cannot pass. */

#define BIG_SECTOR   4096ull         /* 2 MiB into the disk */
#define BIG_PAGES    big_pages()     /* 512 MiB, or bigmib=N */
#define BIG_HOT      64u             /* pages of a second object, kept in use throughout */
#define BIG_HOT_FROM (BIG_PAGES / 4) /* from here on */
#define BIG_SPAN     big_span()      /* pages per root slot */
#define BIG_VA       0x1000000000ull
#define HOT_VA       0x0f00000000ull
#define HOT_SECTOR   (BIG_SECTOR + BIG_PAGES * 8) /* right after the big object */

static uint64_t big_seed(void)
{
    return ktest_cmdline_u64("bigseed=", 0);
}

/* The object's size: `bigmib=N`, a multiple of 16 MiB (the RAM disk on
 * sifive_u holds at most 256 MiB). */
static uint64_t big_pages(void)
{
    uint64_t mib = ktest_cmdline_u64("bigmib=", 512);
    return (mib && mib % 16 == 0 ? mib : 512) * 256;
}

/* Its map: height 5 (root slots of 256 MiB) when whole slots of that span
 * cover it, else height 4 (16 MiB). */
static uint64_t big_span(void)
{
    return BIG_PAGES % 65536 == 0 ? 65536 : 4096;
}

static inline uint64_t big_word(uint64_t seed, uint64_t p, uint64_t k)
{
    return (seed * 0x9e3779b97f4a7c15ull) ^ (p << 16) ^ k;
}

static bool big_disk(void)
{
    if (ns_bootinfo->disk_count == 0 || ns_bootinfo->disks[0].sectors < HOT_SECTOR + BIG_HOT * 8) {
        printf("    needs a disk of %llu MiB or more: run alone with one\n",
               (unsigned long long)((HOT_SECTOR + BIG_HOT * 8) / 2048 + 1));
        return false;
    }
    return big_seed() != 0;
}

static void big_object(void)
{
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, T_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, T_MO, BIG_PAGES * 4096, T_NTFN));
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, T_ROOT));
    for (unsigned i = 0; i < BIG_PAGES / BIG_SPAN; i++) {
        CHECK_OK(ns_diskrange_derive(NS_SLOT_DISK0, T_SCRATCH, BIG_SECTOR + i * BIG_SPAN * 8,
                                     BIG_SPAN * 8, NS_RIGHTS_ALL));
        CHECK_OK(ns_objframe_store(T_ROOT, i, T_SCRATCH, NS_RIGHTS_ALL));
        CHECK_OK(ns_cap_delete(T_SCRATCH));
    }
    CHECK_OK(ns_memobj_set_map(T_MO, T_ROOT, BIG_SPAN == 65536 ? 5 : 4));
    CHECK_OK(ns_memobj_control(T_MO, NS_MEMOBJ_CTL_READAHEAD, 64, NULL));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, T_MO, BIG_VA, 0, BIG_PAGES,
                           NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
}

/* The hot set: a small disk-backed object of its own (a height-2 map: root
 * slots of 16 pages), so that the reads it costs are its own to count. */
static void hot_object(void)
{
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, T_HOT_MO, BIG_HOT * 4096, T_NTFN));
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, T_HOT_ROOT));
    for (unsigned i = 0; i < BIG_HOT / 16; i++) {
        CHECK_OK(ns_diskrange_derive(NS_SLOT_DISK0, T_SCRATCH, HOT_SECTOR + i * 16 * 8, 16 * 8,
                                     NS_RIGHTS_ALL));
        CHECK_OK(ns_objframe_store(T_HOT_ROOT, i, T_SCRATCH, NS_RIGHTS_ALL));
        CHECK_OK(ns_cap_delete(T_SCRATCH));
    }
    CHECK_OK(ns_memobj_set_map(T_HOT_MO, T_HOT_ROOT, 2));
    CHECK_OK(ns_memobj_control(T_HOT_MO, NS_MEMOBJ_CTL_READAHEAD, 64, NULL));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, T_HOT_MO, HOT_VA, 0, BIG_HOT,
                           NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
}

/* Responsiveness while pageout streams: a thread asleep for 10 ms at a
 * time notes how late it wakes (the writer and the clock must not starve
 * it: the writer is preempted, pageout waits in the device). */
static volatile uint64_t ticker_stop, ticker_worst_us, ticker_ticks;

static void ticker(unsigned long unused)
{
    (void)unused;
    while (!ticker_stop) {
        uint64_t t = ns_clock_us();
        ns_sleep_us(10000);
        uint64_t late = ns_clock_us() - t - 10000;
        if (late > ticker_worst_us)
            ticker_worst_us = late;
        ticker_ticks++;
    }
    ns_thread_exit();
}

/* `bigwriters=N` (at most 8): the stream is written by N threads, one per
 * hart round the harts, each taking every Nth run of 64 pages - so pages
 * fault in, age and go out on several harts at once while the first
 * writer also keeps the hot set in use. */
#define BIG_WRITERS_MAX 8
#define BIG_CHUNK       64

static unsigned big_writers(void)
{
    uint64_t n = ktest_cmdline_u64("bigwriters=", 1);
    return n >= 1 && n <= BIG_WRITERS_MAX ? (unsigned)n : 1;
}

static volatile unsigned big_writers_done;

static bool big_mine(uint64_t p, unsigned writer)
{
    return (p / BIG_CHUNK) % big_writers() == writer;
}

static void big_writer(unsigned long writer)
{
    uint64_t seed = big_seed();
    for (uint64_t p = 0; p < BIG_PAGES; p++) {
        if (!big_mine(p, (unsigned)writer))
            continue;
        volatile uint64_t *w = (volatile uint64_t *)(BIG_VA + p * 4096);
        for (uint64_t k = 0; k < 512; k++)
            w[k] = big_word(seed, p, k);
    }
    __atomic_add_fetch(&big_writers_done, 1, __ATOMIC_RELEASE);
    ns_thread_exit();
}

/* Writers 1..N-1 on harts 1.. round the harts (the first is ours). */
static void big_start_writers(void)
{
    static uint64_t stacks[BIG_WRITERS_MAX][512] __attribute__((aligned(16)));
    big_writers_done = 0;
    for (unsigned i = 1; i < big_writers(); i++) {
        unsigned long slot = T_WRITER + i - 1;
        CHECK_OK(
            ns_thread_create(NS_SLOT_ROOT_BANK, slot, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
        CHECK_OK(ns_thread_set_hart(slot, i % ns_bootinfo->hart_count));
        CHECK_OK(ns_thread_start_fn(slot, big_writer, (uint64_t)&stacks[i][512], i));
    }
}

static void big_wait_writers(void)
{
    while (__atomic_load_n(&big_writers_done, __ATOMIC_ACQUIRE) + 1 < big_writers())
        ns_sleep_us(1000);
}

static void big_write(void)
{
    uint64_t seed = big_seed(), t0 = ns_clock_us();
    static uint64_t stack[512] __attribute__((aligned(16)));
    ticker_stop = ticker_worst_us = ticker_ticks = 0;
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, T_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_start_fn(T_THREAD, ticker, (uint64_t)&stack[512], 0));
    big_object();
    hot_object();
    big_start_writers();
    volatile uint64_t *hot = (volatile uint64_t *)HOT_VA;
    uint64_t hot_bad = 0;
    for (uint64_t p = 0; p < BIG_PAGES; p++) {
        volatile uint64_t *w = (volatile uint64_t *)(BIG_VA + p * 4096);
        if (big_mine(p, 0))
            for (uint64_t k = 0; k < 512; k++)
                w[k] = big_word(seed, p, k);
        /* The hot set, read again and again while the stream goes by:
         * ageing must keep it (the clock's second chance), whichever way
         * the accessed bits are kept. It starts once pageout has (at the
         * first pressure every page looks used, and the oldest go). */
        if (p == BIG_HOT_FROM)
            for (uint64_t h = 0; h < BIG_HOT; h++)
                hot[h * 512] = big_word(~seed, h, 0);
        if (p > BIG_HOT_FROM && p % 16 == 0)
            for (uint64_t h = 0; h < BIG_HOT; h++)
                hot_bad += hot[h * 512] != big_word(~seed, h, 0);
    }
    big_wait_writers();
    ticker_stop = 1;
    uint64_t ticks = ticker_ticks, worst = ticker_worst_us;
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    printf("    big: a 10 ms sleeper woke %lu times, at worst %lu ms late\n", (unsigned long)ticks,
           (unsigned long)(worst / 1000));
    CHECK(ticks > 0 && worst < 1000000); /* measured 0.18-0.31 s under TCG */
    printf("    big: written by %u threads in %lu ms: %lu resident, %lu dirty, %lu pages written "
           "back, %lu read, %lu accessed faults\n",
           big_writers(), (unsigned long)((ns_clock_us() - t0) / 1000), (unsigned long)st.resident,
           (unsigned long)st.dirty, (unsigned long)st.map_pages_written,
           (unsigned long)st.map_pages_read, (unsigned long)st.accessed_faults);
    CHECK(st.resident < BIG_PAGES && st.map_pages_written > 0 && st.io_errors == 0);
    /* The hot set is read in once (one request, readahead 64), and at most
     * once more: measured 64 pages read in 15 of 18 loaded runs, 128 in 3 -
     * the hand can still go round while the writer waits for the disk.
     * Before the sweep counted the writes on their way it was read 2-3
     * times; with no second chance at all, once per lap (4-5). */
    struct ns_memobj_stats hs;
    CHECK_OK(ns_memobj_stats(T_HOT_MO, &hs));
    printf("    big: hot set of %u pages: %lu pages read, %lu accessed faults\n", BIG_HOT,
           (unsigned long)hs.map_pages_read, (unsigned long)hs.accessed_faults);
    CHECK(hot_bad == 0 && hs.map_pages_read >= BIG_HOT);
    CHECK(hs.map_pages_read <= 2 * BIG_HOT);
    if (strstr(ns_bootinfo->cmdline, "ad=fault"))
        CHECK(hs.accessed_faults >= BIG_HOT); /* it aged, and faulted the bit back */
    else
        CHECK(hs.accessed_faults == 0);
}

static void test_storage_big_sync(void)
{
    if (!big_disk())
        return;
    big_write();
    CHECK_OK(ns_memobj_sync(T_MO));
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    CHECK(st.dirty == 0);
    printf("big: synced\n"); /* the harness kills the VM here */
    for (;;)
        ns_sleep_us(1000000);
}

/* No sync: the clean shutdown after the test must write everything. */
static void test_storage_big_nosync(void)
{
    if (!big_disk())
        return;
    big_write();
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, BIG_VA, BIG_PAGES);
}

static void big_check(void)
{
    uint64_t seed = big_seed(), bad = 0, t0 = ns_clock_us();
    big_object();
    for (uint64_t p = 0; p < BIG_PAGES; p++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(BIG_VA + p * 4096);
        uint64_t sum = 0, want = 0;
        for (uint64_t k = 0; k < 512; k++) {
            sum += w[k] * (2 * k + 1);
            want += big_word(seed, p, k) * (2 * k + 1);
        }
        if (sum != want && bad++ < 4)
            printf("    page %lu: checksum %#lx, want %#lx\n", (unsigned long)p, (unsigned long)sum,
                   (unsigned long)want);
    }
    struct ns_memobj_stats st;
    CHECK_OK(ns_memobj_stats(T_MO, &st));
    printf("    big: %lu of %lu pages bad; read in %lu ms, %lu resident\n", (unsigned long)bad,
           (unsigned long)BIG_PAGES, (unsigned long)((ns_clock_us() - t0) / 1000),
           (unsigned long)st.resident);
    CHECK(bad == 0 && st.requests_made == 0 && st.io_errors == 0);
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, BIG_VA, BIG_PAGES);
    cleanup();
}

static void test_storage_big_check(void)
{
    if (big_disk())
        big_check();
}

/* All in one boot, for a disk that does not outlive it (the RAM disk on
 * sifive_u): write through pageout, sync, drop the object, and read every
 * page back through a fresh one. */
static void test_storage_big_roundtrip(void)
{
    if (!big_disk())
        return;
    big_write();
    CHECK_OK(ns_memobj_sync(T_MO));
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, BIG_VA, BIG_PAGES);
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, HOT_VA, BIG_HOT);
    cleanup();
    big_check();
}

const struct ktest storage_tests[] = {
    {"storage_map_io_error", test_storage_map_io_error},
    {"disk_keys", test_disk_keys},
    {"storage_map_fault", test_storage_map_fault},
    {"storage_map_hole", test_storage_map_hole},
    {"storage_map_bad_keys", test_storage_map_bad_keys},
    {"storage_map_discard", test_storage_map_discard},
    {"storage_writeback", test_storage_writeback},
    {"storage_kernel_copy_into_clean_page", test_storage_kernel_copy_into_clean_page},
    {"manager_writeback", test_manager_writeback},
    {"storage_big_sync", test_storage_big_sync},
    {"storage_big_nosync", test_storage_big_nosync},
    {"storage_big_check", test_storage_big_check},
    {"storage_big_roundtrip", test_storage_big_roundtrip},
};
const unsigned storage_test_count = sizeof(storage_tests) / sizeof(storage_tests[0]);
