/* In-guest tests of what survives disk errors and crashes, each run alone
 * (only=NAME) on a disk QEMU sets up for it (tests/qemu/boot_tests.py,
 * crash_cases):
 *
 *   crash_writeback_eio  behind blkdebug, which fails chosen writes: a
 *                        failed writeback (sync or evict) keeps its pages
 *                        dirty and is retried; nothing is lost.
 *   crash_pageout_eio    the same for a write of pageout's, on a machine
 *                        smaller than the object.
 *   crash_sync_scattered sync of scattered dirty pages of an object whose
 *                        cache fills its bank (KNOWN TO FAIL: see there).
 *   crash_workload       behind blklogwrites, which logs every write and
 *                        flush: rounds of stores through a mapping, each
 *                        synced; the host replays the log up to flush
 *                        points (tests/qemu/logreplay.py) and boots
 *   crash_check          on each replayed image (crashflush=K: K flushes
 *                        replayed): every page synced before flush K holds
 *                        its last synced round or a later one; small, and
 *                        larger than memory (crashpages=, crashrounds=).
 *   crash_discard_stream a writer streams through a large mapped object
 *                        while the test discards its map again and again,
 *                        rebuilding it as the manager on NO_MAP requests.
 *   crash_discard_inflight   the map dropped while evict's writes are in
 *                        flight: they complete, and nothing is lost.
 *   crash_store_during_sync  a thread stores to pages while they are being
 *                        written back: the last sync leaves the last values.
 *
 * Without their disk (only=NAME absent) they say so and pass. */
#include <stdbool.h>
#include <string.h>

#include "tests/guest/ktest.h"

enum {
    C_KEY = 220, /* the test region */
    C_SCRATCH,
    C_MO,
    C_NTFN,
    C_ROOT,
    C_THREAD,
    C_LAST,
};

#define C_SECTOR 2048u /* 1 MiB into the disk */
#define C_VA     0x50000000ull

static uint8_t cbuf[NS_DISK_IO_MAX_SECTORS * 512] __attribute__((aligned(4096)));

static bool run_alone(const char *name)
{
    const char *p = strstr(ns_bootinfo->cmdline, "only=");
    size_t n = strlen(name);
    if (ns_bootinfo->disk_count == 0 || !p || strncmp(p + 5, name, n) ||
        (p[5 + n] && p[5 + n] != ' ')) {
        printf("    needs its own disk: run alone (only=%s, tests/qemu/boot_tests.py)\n", name);
        return false;
    }
    return true;
}

static void cleanup(uint64_t pages)
{
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, C_VA, pages);
    for (unsigned s = C_KEY; s < C_LAST; s++)
        ns_cap_delete(s);
}

/* A root frame of height `height` (2 to 4) for `pages` (a multiple of the
 * slot span, 16^(height-1) pages) from C_SECTOR: one key per root slot. */
static void build_map_h(uint64_t pages, unsigned height)
{
    uint64_t span = 1;
    for (unsigned h = 1; h < height; h++)
        span *= 16;
    ns_cap_delete(C_ROOT);
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, C_ROOT));
    for (unsigned i = 0; i < pages / span; i++) {
        CHECK_OK(ns_diskrange_derive(C_KEY, C_SCRATCH, i * span * 8, span * 8, NS_RIGHTS_ALL));
        CHECK_OK(ns_objframe_store(C_ROOT, i, C_SCRATCH, NS_RIGHTS_ALL));
        CHECK_OK(ns_cap_delete(C_SCRATCH));
    }
}

/* An object of `pages` pages at C_SECTOR, its map (height 2 up to 256
 * pages, 3 up to 4096, else 4) installed, mapped read-write at C_VA. */
static void make_object(uint64_t pages)
{
    unsigned height = pages <= 256 ? 2 : pages <= 4096 ? 3 : 4;
    CHECK_OK(ns_diskrange_derive(NS_SLOT_DISK0, C_KEY, C_SECTOR, pages * 8, NS_RIGHTS_ALL));
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, C_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, C_MO, pages * 4096, C_NTFN));
    build_map_h(pages, height);
    CHECK_OK(ns_memobj_set_map(C_MO, C_ROOT, height));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, C_MO, C_VA, 0, pages,
                           NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
}

static struct ns_memobj_stats stats(void)
{
    struct ns_memobj_stats st;
    memset(&st, 0, sizeof(st));
    CHECK_OK(ns_memobj_stats(C_MO, &st));
    return st;
}

/* Wait (bounded) until the object has no transfer in flight. */
static void wait_idle(void)
{
    for (int i = 0; i < 2000 && stats().io_inflight; i++)
        ns_sleep_us(1000);
    CHECK(stats().io_inflight == 0);
}

/* Drop every page: sync, then evict (twice: the first may write). */
static void evict_all(void)
{
    uint64_t dropped;
    CHECK_OK(ns_memobj_sync(C_MO));
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    wait_idle();
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK(stats().resident == 0);
}

/* ---- a failed writeback keeps the page dirty and retries ---- */

#define EIO_PAGES 64
#define EIO_VALUE 0xe10e000000000000ull

static uint64_t eio_word(uint64_t p, uint64_t k)
{
    return EIO_VALUE ^ (p << 20) ^ k;
}

static void eio_store(uint64_t p)
{
    volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
    for (uint64_t k = 0; k < 512; k++)
        w[k] = eio_word(p, k);
}

/* Page `p` as seen through `w`: the stored pattern, or zeros when never
 * written (the disk starts zero). */
static bool eio_page_ok(const volatile uint64_t *w, uint64_t p, bool written, const char *how)
{
    for (uint64_t k = 0; k < 512; k++) {
        uint64_t want = written ? eio_word(p, k) : 0;
        if (w[k] != want) {
            printf("    %s: page %lu word %lu: %#lx, want %#lx\n", how, (unsigned long)p,
                   (unsigned long)k, (unsigned long)w[k], (unsigned long)want);
            return false;
        }
    }
    return true;
}

/* The disk (blkdebug, tests/qemu/boot_tests.py) fails the first four
 * writes covering page 4 of the region and the first one covering page
 * 40, once each. */
static void test_crash_writeback_eio(void)
{
    if (!run_alone("crash_writeback_eio"))
        return;
    make_object(EIO_PAGES);
    static const uint64_t dirty_pages[] = {3, 4, 5, 20};
    bool written[EIO_PAGES] = {false};
    for (unsigned i = 0; i < 4; i++) {
        eio_store(dirty_pages[i]);
        written[dirty_pages[i]] = true;
    }
    struct ns_memobj_stats st = stats();
    CHECK(st.dirty == 4 && st.io_errors == 0);
    /* Sync until it succeeds: every NS_ERR_IO leaves the failed pages
     * (the run 3..5 that covers page 4) dirty; NS_OK leaves none. */
    long results[8];
    unsigned calls = 0;
    for (; calls < 8; calls++) {
        results[calls] = ns_memobj_sync(C_MO);
        st = stats();
        if (results[calls] == NS_OK) {
            CHECK(st.dirty == 0);
            calls++;
            break;
        }
        CHECK(results[calls] == NS_ERR_IO);
        CHECK(st.dirty >= 1 && st.dirty <= 3);
        printf("    sync %u: %s, %lu dirty, %lu io errors\n", calls + 1,
               ns_strerror(results[calls]), (unsigned long)st.dirty, (unsigned long)st.io_errors);
    }
    CHECK(results[calls - 1] == NS_OK);
    printf("    %u syncs; %lu io errors, %lu writes of %lu pages\n", calls,
           (unsigned long)st.io_errors, (unsigned long)st.map_writes,
           (unsigned long)st.map_pages_written);
    /* Each of the four injected failures was one failed transfer: all
     * four were used up, since the write went through in the end. */
    CHECK(st.io_errors == 4 && st.dirty == 0);
    /* The data is still in memory meanwhile. */
    bool all = true;
    for (unsigned i = 0; i < 4; i++)
        all &= eio_page_ok((const volatile uint64_t *)(C_VA + dirty_pages[i] * 4096),
                           dirty_pages[i], true, "in memory");
    CHECK(all);

    /* Pageout's writeback (evict) fails on page 40: it stays, dirty. */
    eio_store(40);
    written[40] = true;
    CHECK(stats().dirty == 1);
    uint64_t dropped = 0;
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    wait_idle();
    st = stats();
    printf("    evict: %lu dropped; %lu resident, %lu dirty, %lu io errors\n",
           (unsigned long)dropped, (unsigned long)st.resident, (unsigned long)st.dirty,
           (unsigned long)st.io_errors);
    CHECK(st.io_errors == 5 && st.dirty == 1 && st.resident == 1);
    CHECK(eio_page_ok((const volatile uint64_t *)(C_VA + 40 * 4096), 40, true, "kept"));
    /* The next evict writes it (the disk failed only once), the one after
     * drops it. */
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    wait_idle();
    CHECK(stats().dirty == 0 && stats().io_errors == 5);
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK(stats().resident == 0);
    CHECK_OK(ns_memobj_sync(C_MO));

    /* Nothing lost: read back through faults, from the disk... */
    uint64_t reads = stats().map_pages_read;
    all = true;
    for (uint64_t p = 0; p < EIO_PAGES; p++)
        all &= eio_page_ok((const volatile uint64_t *)(C_VA + p * 4096), p, written[p], "fault");
    CHECK(all);
    st = stats();
    CHECK(st.map_pages_read - reads == EIO_PAGES && st.requests_made == 0 && st.io_errors == 5);
    /* ...and raw through the disk key. */
    all = true;
    for (uint64_t p = 0; p < EIO_PAGES; p += 16) {
        CHECK_OK(ns_diskrange_read(C_KEY, p * 8, NS_DISK_IO_MAX_SECTORS, cbuf));
        for (uint64_t i = 0; i < 16; i++)
            all &= eio_page_ok((const volatile uint64_t *)(cbuf + i * 4096), p + i, written[p + i],
                               "raw");
    }
    CHECK(all);
    cleanup(EIO_PAGES);
}

/* Pageout's own writes fail too: a 160 MiB object written through its
 * mapping on a 128 MiB machine, so the clock writes most of it back while
 * the writer runs; the disk fails the first write covering page 1000 (a
 * page pageout meets early). The page stays dirty, is written again, and
 * every page reads back. */
#define PO_PAGES (160ull * 256)

static inline uint64_t po_word(uint64_t p, uint64_t k)
{
    return 0x9a6e000000000000ull ^ (p << 16) ^ (k * 0x9e3779b1ull & 0xffff);
}

static void test_crash_pageout_eio(void)
{
    if (!run_alone("crash_pageout_eio"))
        return;
    if (ns_bootinfo->disks[0].sectors < C_SECTOR + PO_PAGES * 8) {
        printf("    the disk is too small\n");
        ktest_failures++;
        return;
    }
    uint64_t t0 = ns_clock_us();
    make_object(PO_PAGES);
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_READAHEAD, 64, NULL));
    for (uint64_t p = 0; p < PO_PAGES; p++) {
        volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
        for (uint64_t k = 0; k < 512; k++)
            w[k] = po_word(p, k);
    }
    struct ns_memobj_stats st = stats();
    printf("    pageout: written in %lu ms: %lu resident, %lu dirty, %lu pages written back, "
           "%lu io errors\n",
           (unsigned long)((ns_clock_us() - t0) / 1000), (unsigned long)st.resident,
           (unsigned long)st.dirty, (unsigned long)st.map_pages_written,
           (unsigned long)st.io_errors);
    /* The failure came during pageout, before any sync. */
    CHECK(st.resident < PO_PAGES && st.map_pages_written > 1000 && st.io_errors == 1);
    CHECK_OK(ns_memobj_sync(C_MO));
    st = stats();
    CHECK(st.dirty == 0 && st.io_errors == 1);
    uint64_t dropped;
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    uint64_t bad = 0;
    for (uint64_t p = 0; p < PO_PAGES; p++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(C_VA + p * 4096);
        uint64_t sum = 0, want = 0;
        for (uint64_t k = 0; k < 512; k++) {
            sum += w[k] * (2 * k + 1);
            want += po_word(p, k) * (2 * k + 1);
        }
        if (sum != want && bad++ < 4)
            printf("    page %lu: checksum %#lx, want %#lx\n", (unsigned long)p, (unsigned long)sum,
                   (unsigned long)want);
    }
    /* The failed page itself, raw from the disk. */
    CHECK_OK(ns_diskrange_read(C_KEY, 1000 * 8, 8, cbuf));
    bool raw_ok = true;
    for (uint64_t k = 0; k < 512; k++)
        raw_ok &= ((const uint64_t *)cbuf)[k] == po_word(1000, k);
    st = stats();
    printf("    pageout: %lu of %lu pages bad after %lu ms; %lu io errors\n", (unsigned long)bad,
           (unsigned long)PO_PAGES, (unsigned long)((ns_clock_us() - t0) / 1000),
           (unsigned long)st.io_errors);
    CHECK(bad == 0 && raw_ok && st.io_errors == 1 && st.requests_made == 0);
    cleanup(PO_PAGES);
}

/* KNOWN TO FAIL (a kernel bug, tests/qemu/boot_tests.py
 * crash-sync-scattered): sync of scattered dirty pages of an object whose
 * bank its own cache has filled. 160 MiB on a 128 MiB machine, written
 * and synced; then one page in three is stored to (so nearly every
 * writeback run is one page, each needing its own I/O record charged to
 * the object's bank) and synced: the kernel can charge only a few hundred
 * records, and after its passes sync returns NS_ERR_NO_QUOTA with most
 * pages still dirty, although the disk is healthy. Nothing is lost: the
 * test then syncs until it succeeds and reads every page back. */
static void test_crash_sync_scattered(void)
{
    if (!run_alone("crash_sync_scattered"))
        return;
    if (ns_bootinfo->disks[0].sectors < C_SECTOR + PO_PAGES * 8) {
        printf("    the disk is too small\n");
        ktest_failures++;
        return;
    }
    make_object(PO_PAGES);
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_READAHEAD, 64, NULL));
    for (uint64_t p = 0; p < PO_PAGES; p++) {
        volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
        for (uint64_t k = 0; k < 512; k++)
            w[k] = po_word(p, k);
    }
    CHECK_OK(ns_memobj_sync(C_MO));
    for (uint64_t p = 0; p < PO_PAGES; p += 3)
        *(volatile uint64_t *)(C_VA + p * 4096 + 8) = po_word(p, 1) ^ 0xff;
    struct ns_memobj_stats a = stats();
    long e = ns_memobj_sync(C_MO);
    struct ns_memobj_stats b = stats();
    uint64_t limit = 0, used = 0;
    ns_bank_info(NS_SLOT_ROOT_BANK, &limit, &used);
    printf("    scattered: sync: %s: %lu dirty before, %lu after, %lu resident; bank %lu of %lu "
           "KiB used\n",
           ns_strerror(e), (unsigned long)a.dirty, (unsigned long)b.dirty,
           (unsigned long)b.resident, (unsigned long)(used / 1024), (unsigned long)(limit * 4));
    CHECK(e == NS_OK); /* fails: NS_ERR_NO_QUOTA */
    unsigned more = 0;
    while (e != NS_OK && more < 200) {
        e = ns_memobj_sync(C_MO);
        more++;
    }
    printf("    scattered: %u more syncs to NS_OK (%s); %lu io errors\n", more, ns_strerror(e),
           (unsigned long)stats().io_errors);
    CHECK(e == NS_OK && stats().dirty == 0 && stats().io_errors == 0);
    uint64_t dropped, bad = 0;
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    for (uint64_t p = 0; p < PO_PAGES; p++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(C_VA + p * 4096);
        for (uint64_t k = 0; k < 512; k++) {
            uint64_t want = po_word(p, k) ^ (k == 1 && p % 3 == 0 ? 0xff : 0);
            if (w[k] != want) {
                if (bad++ < 4)
                    printf("    page %lu word %lu: %#lx, want %#lx\n", (unsigned long)p,
                           (unsigned long)k, (unsigned long)w[k], (unsigned long)want);
                break;
            }
        }
    }
    printf("    scattered: %lu of %lu pages bad\n", (unsigned long)bad, (unsigned long)PO_PAGES);
    CHECK(bad == 0);
    cleanup(PO_PAGES);
}

/* ---- crash consistency: rounds of synced stores, checked after replay ----
 *
 * Pages 0..254 are data, page 255 the round marker. Round 0 writes every
 * data page, round r > 0 a set depending on r; each round syncs the data,
 * then writes the marker (round r) and syncs it. So the disk sees two
 * flushes a round: flush 2r+1 ends round r's data, flush 2r+2 its marker
 * (tests/qemu/boot_tests.py counts them in the log). A last round,
 * CW_ROUNDS, is stored and not synced: the clean shutdown after the test
 * writes it and flushes (flush 2 CW_ROUNDS + 1). */

/* crashpages=N (a multiple of 256 past 256; default 256),
 * crashrounds=R (default 8, at most 15) and crashrun=P (rounds choose
 * their pages in runs of P; default 1) on the command line: the host
 * runs it small and fast, and large, on a machine smaller than the object
 * so that pageout writes between the syncs. */
static uint64_t cw_pages = 256, cw_rounds = 8, cw_run = 1;
#define CW_PAGES  cw_pages
#define CW_DATA   (cw_pages - 1)
#define CW_MARKER (cw_pages - 1)
#define CW_ROUNDS cw_rounds

static void cw_setup(void)
{
    cw_pages = ktest_cmdline_u64("crashpages=", 256);
    cw_rounds = ktest_cmdline_u64("crashrounds=", 8);
    cw_run = ktest_cmdline_u64("crashrun=", 1);
    if (cw_pages < 256 || cw_pages > 65536 || (cw_pages > 256 && cw_pages % 256) || cw_rounds < 1 ||
        cw_rounds > 15 || cw_run < 1 || cw_run > 4096) {
        printf("    bad crashpages=%lu or crashrounds=%lu\n", (unsigned long)cw_pages,
               (unsigned long)cw_rounds);
        ktest_failures++;
        cw_pages = 256;
        cw_rounds = 8;
        cw_run = 1;
    }
}
#define CW_SEED 0x6372617368000000ull /* "crash" */
#define CW_MARK 0x4d41524b00000000ull /* "MARK" */

static uint64_t cw_word(uint64_t r, uint64_t p, uint64_t k)
{
    return CW_SEED ^ (r << 48) ^ (p << 24) ^ (k * 0x9e3779b1ull & 0xffffff) ^ (r * 0x51 << 12);
}

static bool cw_in_round(uint64_t r, uint64_t p)
{
    if (r == 0)
        return true;
    p /= cw_run;
    uint64_t h = (p + 1) * 0x9e3779b97f4a7c15ull ^ r * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h % (2 + r % 3) == 0;
}

/* The last round <= r that wrote page p (round 0 wrote them all). */
static uint64_t cw_last(uint64_t r, uint64_t p)
{
    while (r > 0 && !cw_in_round(r, p))
        r--;
    return r;
}

/* Sync, saying what was left when it fails. */
static void cw_sync(uint64_t r, const char *what)
{
    struct ns_memobj_stats a = stats();
    long e = ns_memobj_sync(C_MO);
    if (e != NS_OK) {
        struct ns_memobj_stats b = stats();
        uint64_t limit = 0, used = 0;
        ns_bank_info(NS_SLOT_ROOT_BANK, &limit, &used);
        printf("    round %lu %s: sync: %s: %lu dirty before, %lu after, %lu pages written by "
               "it, %lu resident; bank %lu of %lu KiB used\n",
               (unsigned long)r, what, ns_strerror(e), (unsigned long)a.dirty,
               (unsigned long)b.dirty, (unsigned long)(b.map_pages_written - a.map_pages_written),
               (unsigned long)b.resident, (unsigned long)(used / 1024), (unsigned long)(limit * 4));
    }
    CHECK(e == NS_OK);
}

static void test_crash_workload(void)
{
    if (!run_alone("crash_workload"))
        return;
    cw_setup();
    make_object(CW_PAGES);
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_READAHEAD, 64, NULL));
    for (uint64_t r = 0; r < CW_ROUNDS; r++) {
        uint64_t n = 0;
        for (uint64_t p = 0; p < CW_DATA; p++) {
            if (!cw_in_round(r, p))
                continue;
            volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
            for (uint64_t k = 0; k < 512; k++)
                w[k] = cw_word(r, p, k);
            n++;
        }
        struct ns_memobj_stats st = stats();
        CHECK(st.dirty <= n);
        if (CW_PAGES == 256)
            CHECK(st.dirty == n); /* no pageout in a 1 MiB object */
        cw_sync(r, "data");
        volatile uint64_t *m = (volatile uint64_t *)(C_VA + CW_MARKER * 4096);
        for (uint64_t k = 0; k < 512; k++)
            m[k] = CW_MARK ^ r ^ (k << 8);
        cw_sync(r, "marker");
        st = stats();
        CHECK(st.dirty == 0 && st.io_errors == 0);
        printf("crash: synced round %lu (%lu pages)\n", (unsigned long)r, (unsigned long)n);
    }
    uint64_t n = 0;
    for (uint64_t p = 0; p < CW_DATA; p++) {
        if (!cw_in_round(CW_ROUNDS, p))
            continue;
        volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
        for (uint64_t k = 0; k < 512; k++)
            w[k] = cw_word(CW_ROUNDS, p, k);
        n++;
    }
    struct ns_memobj_stats st = stats();
    CHECK(st.dirty <= n);
    if (CW_PAGES == 256)
        CHECK(st.dirty == n);
    printf("    %lu writes of %lu pages; round %lu stored in %lu pages, left to the shutdown\n",
           (unsigned long)st.map_writes, (unsigned long)st.map_pages_written,
           (unsigned long)CW_ROUNDS, (unsigned long)n);
    /* The object stays (its capability is what keeps it): no cleanup. */
}

/* On an image replayed up to its K-th flush (crashflush=K). */
static void test_crash_check(void)
{
    if (!run_alone("crash_check"))
        return;
    cw_setup();
    uint64_t k_flush = ktest_cmdline_u64("crashflush=", 0);
    CHECK(k_flush >= 1 && k_flush <= 2 * CW_ROUNDS + 1);
    if (k_flush < 1)
        return;
    /* Rounds whose data, and whose marker, were durable by then. */
    int64_t data_round = (int64_t)(k_flush - 1) / 2, mark_round = (int64_t)k_flush / 2 - 1;
    make_object(CW_PAGES);
    CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_READAHEAD, 64, NULL));
    uint64_t bad = 0, newer = 0, exact = 0;
    for (uint64_t p = 0; p < CW_DATA; p++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(C_VA + p * 4096);
        uint64_t want = cw_last((uint64_t)data_round, p);
        /* Which round is it? Read from its first word, then every word. */
        uint64_t r = (w[0] ^ CW_SEED ^ (p << 24)) >> 48;
        bool whole = r <= CW_ROUNDS;
        for (uint64_t k = 0; whole && k < 512; k++)
            whole = w[k] == cw_word(r, p, k);
        bool ok = whole && (r == want || (r > (uint64_t)data_round && cw_in_round(r, p)));
        if (!ok) {
            if (bad++ < 4)
                printf("    page %lu: %s round %lu, want round %lu (word 0 %#lx)\n",
                       (unsigned long)p, whole ? "holds" : "torn or garbage, like",
                       (unsigned long)r, (unsigned long)want, (unsigned long)w[0]);
        } else if (r == want) {
            exact++;
        } else {
            newer++;
        }
    }
    const volatile uint64_t *m = (const volatile uint64_t *)(C_VA + CW_MARKER * 4096);
    uint64_t mr = m[0] ^ CW_MARK;
    bool mark_whole = true;
    for (uint64_t k = 0; k < 512; k++)
        mark_whole &= m[k] == (CW_MARK ^ mr ^ (k << 8));
    bool mark_zero = true;
    for (uint64_t k = 0; k < 512; k++)
        mark_zero &= m[k] == 0;
    bool mark_ok = mark_round < 0 ? (mark_zero || (mark_whole && mr < CW_ROUNDS))
                                  : (mark_whole && mr >= (uint64_t)mark_round && mr < CW_ROUNDS);
    printf("crash: flush %lu: data of round %ld: %lu pages exact, %lu newer, %lu bad; marker %s"
           " (want round %ld or later)\n",
           (unsigned long)k_flush, (long)data_round, (unsigned long)exact, (unsigned long)newer,
           (unsigned long)bad,
           mark_zero    ? "unwritten"
           : mark_whole ? "whole"
                        : "torn",
           (long)mark_round);
    if (mark_whole && !mark_zero)
        printf("crash: marker round %lu\n", (unsigned long)mr);
    CHECK(bad == 0);
    CHECK(mark_ok);
    struct ns_memobj_stats st = stats();
    CHECK(st.requests_made == 0 && st.io_errors == 0);
    cleanup(CW_PAGES);
}

/* ---- maps discarded mid-stream are rebuilt and nothing is lost ---- */

#define DS_PAGES 4096 /* 16 MiB: a height-3 map of 16 keys */
#define DS_VALUE 0xd15c000000000000ull

static volatile uint64_t ds_progress, ds_turn;
static volatile bool ds_done, ds_stop;

static uint64_t ds_word(uint64_t p, uint64_t k)
{
    return DS_VALUE ^ (p << 16) ^ (k * 0x2545f491ull & 0xffff);
}

static void ds_writer(unsigned long arg)
{
    (void)arg;
    for (uint64_t p = 0; p < DS_PAGES; p++) {
        volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
        for (uint64_t k = 0; k < 512; k++)
            w[k] = ds_word(p, k);
        ds_progress = p + 1;
        if (p % 16 == 15) {
            /* Wait for a turn of the manager (which may drop the map),
             * whatever the host's timing. */
            uint64_t turn = ds_turn;
            while (ds_turn == turn && !ds_stop)
                ns_yield();
        }
    }
    ds_done = true;
}

static bool ds_page_ok(const volatile uint64_t *w, uint64_t p, const char *how)
{
    for (uint64_t k = 0; k < 512; k++)
        if (w[k] != ds_word(p, k)) {
            printf("    %s: page %lu word %lu: %#lx, want %#lx\n", how, (unsigned long)p,
                   (unsigned long)k, (unsigned long)w[k], (unsigned long)ds_word(p, k));
            return false;
        }
    return true;
}

/* One thread writes every page of a 16 MiB disk-backed object through its
 * mapping while this one, its manager, drops the map every millisecond or
 * so, rebuilds it when a fault asks (NO_MAP), and syncs now and then
 * (which writes what the map covers, or says some pages are not covered
 * while it is gone). Then sync, evict, and every page read back through
 * faults and raw through the disk key. */
static void test_crash_discard_stream(void)
{
    if (!run_alone("crash_discard_stream"))
        return;
    make_object(DS_PAGES);
    ds_progress = ds_turn = 0;
    ds_done = ds_stop = false;
    static uint64_t stack[1024] __attribute__((aligned(16)));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, C_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_start_fn(C_THREAD, ds_writer, (uint64_t)&stack[1024], 0));
    uint64_t t0 = ns_clock_us(), discards = 0, rebuilds = 0, syncs_ok = 0, syncs_uncovered = 0,
             asked = 0, bad_requests = 0;
    for (unsigned iter = 0; !ds_done && ns_clock_us() - t0 < 30000000; iter++) {
        ds_turn = iter + 1;
        uint64_t was = 0;
        if (iter % 2 == 0) {
            CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_DISCARD_MAP, 0, &was));
            discards += was;
        }
        if (iter % 32 == 0 || iter % 32 == 17) {
            /* Right after a discard, or (usually) with the map back. */
            long e = ns_memobj_sync(C_MO);
            CHECK(e == NS_OK || e == NS_ERR_BAD_STATE);
            syncs_ok += e == NS_OK;
            syncs_uncovered += e == NS_ERR_BAD_STATE;
        }
        ns_yield(); /* the writer runs until it waits for a page */
        struct ns_page_request r[16];
        unsigned long n = 0;
        uint64_t bits;
        ns_poll(C_NTFN, &bits);
        CHECK_OK(ns_memobj_requests(C_MO, r, 16, &n));
        bool rebuild = false;
        for (unsigned long i = 0; i < n; i++) {
            asked++;
            if (r[i].flags != NS_PAGE_REQ_NO_MAP && bad_requests++ < 4)
                printf("    request for page %lu flags %#lx\n", (unsigned long)r[i].first_page,
                       (unsigned long)r[i].flags);
            rebuild = true;
        }
        if (rebuild) {
            build_map_h(DS_PAGES, 3);
            CHECK_OK(ns_memobj_set_map(C_MO, C_ROOT, 3));
            rebuilds++;
        }
    }
    ds_stop = true;
    for (int i = 0; i < 1000 && !ds_done; i++)
        ns_sleep_us(1000);
    CHECK(ds_done);
    struct ns_memobj_stats st = stats();
    printf("    stream: %lu pages in %lu ms; %lu discards, %lu requests, %lu rebuilds, syncs %lu "
           "ok and %lu uncovered; %lu pages written back, %lu read\n",
           (unsigned long)ds_progress, (unsigned long)((ns_clock_us() - t0) / 1000),
           (unsigned long)discards, (unsigned long)asked, (unsigned long)rebuilds,
           (unsigned long)syncs_ok, (unsigned long)syncs_uncovered,
           (unsigned long)st.map_pages_written, (unsigned long)st.map_pages_read);
    CHECK(bad_requests == 0);
    /* The stream met the discards: faults asked the manager. */
    CHECK(discards >= 32 && asked >= 32 && rebuilds >= 1 && st.map_discards == discards);
    if (!st.has_map) {
        build_map_h(DS_PAGES, 3);
        CHECK_OK(ns_memobj_set_map(C_MO, C_ROOT, 3));
    }
    CHECK_OK(ns_memobj_sync(C_MO));
    st = stats();
    CHECK(st.dirty == 0 && st.io_errors == 0);
    evict_all();
    /* Every page back from the disk through faults, the manager silent. */
    uint64_t requests = stats().requests_made, bad = 0;
    for (uint64_t p = 0; p < DS_PAGES; p++)
        if (!ds_page_ok((const volatile uint64_t *)(C_VA + p * 4096), p, "fault") && bad++ > 4)
            break;
    CHECK(bad == 0);
    CHECK(stats().requests_made == requests);
    /* And raw through the key. */
    bad = 0;
    for (uint64_t p = 0; p < DS_PAGES && bad < 4; p += 16) {
        CHECK_OK(ns_diskrange_read(C_KEY, p * 8, NS_DISK_IO_MAX_SECTORS, cbuf));
        for (uint64_t i = 0; i < 16; i++)
            bad += !ds_page_ok((const volatile uint64_t *)(cbuf + i * 4096), p + i, "raw");
    }
    CHECK(bad == 0);
    cleanup(DS_PAGES);
}

/* Evict starts writing 16 MiB of dirty pages and returns; the map is
 * dropped while those writes are in flight. They complete (they need no map), the pages
 * are clean, and with the map rebuilt everything reads back. Repeated, as
 * whether a write is still in flight at the discard is the host's timing. */
static void test_crash_discard_inflight(void)
{
    if (!run_alone("crash_discard_inflight"))
        return;
    make_object(DS_PAGES);
    unsigned inflight_at_discard = 0;
    for (uint64_t round = 1; round <= 10; round++) {
        for (uint64_t p = 0; p < DS_PAGES; p++) {
            volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
            for (uint64_t k = 0; k < 512; k++)
                w[k] = ds_word(p, k) ^ (round << 40);
        }
        uint64_t dropped = 0, was = 0;
        CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
        inflight_at_discard += stats().io_inflight > 0;
        CHECK_OK(ns_memobj_control(C_MO, NS_MEMOBJ_CTL_DISCARD_MAP, 0, &was));
        CHECK(was == 1);
        wait_idle();
        struct ns_memobj_stats st = stats();
        CHECK(st.dirty == 0 && st.io_errors == 0 && st.has_map == 0);
        build_map_h(DS_PAGES, 3);
        CHECK_OK(ns_memobj_set_map(C_MO, C_ROOT, 3));
        evict_all();
        bool all = true;
        for (uint64_t p = 0; p < DS_PAGES && all; p++) {
            const volatile uint64_t *w = (const volatile uint64_t *)(C_VA + p * 4096);
            for (uint64_t k = 0; k < 512 && all; k++)
                if (w[k] != (ds_word(p, k) ^ (round << 40))) {
                    printf("    round %lu page %lu word %lu: %#lx\n", (unsigned long)round,
                           (unsigned long)p, (unsigned long)k, (unsigned long)w[k]);
                    all = false;
                }
        }
        CHECK(all);
    }
    printf("    discard: writes in flight at %u of 10 discards; %lu requests\n",
           inflight_at_discard, (unsigned long)stats().requests_made);
    CHECK(inflight_at_discard >= 1 && stats().requests_made == 0);
    cleanup(DS_PAGES);
}

/* ---- stores while their page is being written back ----
 *
 * A writeback takes a page's write permission away before the device
 * reads it; a store meanwhile faults, marks the page dirty again, and the
 * disk may get a mix of before and after, which the next writeback
 * replaces. A thread keeps rewriting 64 pages (each store a whole page of
 * one counter value) while this one syncs again and again; at the end,
 * after one last sync, every page on the disk is whole and holds the last
 * value stored to it. */

#define SD_PAGES 64

static volatile uint64_t sd_last[SD_PAGES], sd_stores;
static volatile bool sd_stop, sd_done;

static void sd_writer(unsigned long arg)
{
    (void)arg;
    for (uint64_t c = 1; !sd_stop; c++) {
        uint64_t p = (c * 7) % SD_PAGES;
        volatile uint64_t *w = (volatile uint64_t *)(C_VA + p * 4096);
        for (uint64_t k = 0; k < 512; k++)
            w[k] = (c << 16) ^ (p << 9) ^ k;
        sd_last[p] = c;
        sd_stores = c;
    }
    sd_done = true;
}

static bool sd_page_ok(const volatile uint64_t *w, uint64_t p, const char *how)
{
    uint64_t c = sd_last[p];
    for (uint64_t k = 0; k < 512; k++)
        if (w[k] != ((c << 16) ^ (p << 9) ^ k)) {
            printf("    %s: page %lu word %lu: %#lx, want %#lx (value %lu)\n", how,
                   (unsigned long)p, (unsigned long)k, (unsigned long)w[k],
                   (unsigned long)((c << 16) ^ (p << 9) ^ k), (unsigned long)c);
            return false;
        }
    return true;
}

static void test_crash_store_during_sync(void)
{
    if (!run_alone("crash_store_during_sync"))
        return;
    make_object(SD_PAGES);
    for (uint64_t p = 0; p < SD_PAGES; p++)
        sd_last[p] = 0;
    for (uint64_t p = 0; p < SD_PAGES; p++) /* value 0 everywhere first */
        for (uint64_t k = 0; k < 512; k++)
            ((volatile uint64_t *)(C_VA + p * 4096))[k] = (p << 9) ^ k;
    sd_stop = sd_done = false;
    sd_stores = 0;
    static uint64_t stack[1024] __attribute__((aligned(16)));
    CHECK_OK(
        ns_thread_create(NS_SLOT_ROOT_BANK, C_THREAD, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_start_fn(C_THREAD, sd_writer, (uint64_t)&stack[1024], 0));
    unsigned syncs = 0, failed = 0;
    uint64_t t0 = ns_clock_us();
    while (syncs < 60 && ns_clock_us() - t0 < 20000000) {
        failed += ns_memobj_sync(C_MO) != NS_OK;
        syncs++;
    }
    sd_stop = true;
    for (int i = 0; i < 1000 && !sd_done; i++)
        ns_sleep_us(1000);
    CHECK(sd_done && failed == 0);
    struct ns_memobj_stats st = stats();
    printf("    stores: %lu page stores during %u syncs in %lu ms (%u failed); %lu writes of %lu "
           "pages\n",
           (unsigned long)sd_stores, syncs, (unsigned long)((ns_clock_us() - t0) / 1000), failed,
           (unsigned long)st.map_writes, (unsigned long)st.map_pages_written);
    /* The writer ran during the syncs: pages were stored to while written. */
    CHECK(sd_stores > 10 * SD_PAGES && st.map_pages_written > 2 * SD_PAGES);
    CHECK_OK(ns_memobj_sync(C_MO));
    CHECK(stats().dirty == 0);
    bool all = true;
    for (uint64_t p = 0; p < SD_PAGES; p += 16) {
        CHECK_OK(ns_diskrange_read(C_KEY, p * 8, NS_DISK_IO_MAX_SECTORS, cbuf));
        for (uint64_t i = 0; i < 16; i++)
            all &= sd_page_ok((const volatile uint64_t *)(cbuf + i * 4096), p + i, "raw");
    }
    CHECK(all);
    evict_all();
    all = true;
    for (uint64_t p = 0; p < SD_PAGES; p++)
        all &= sd_page_ok((const volatile uint64_t *)(C_VA + p * 4096), p, "fault");
    CHECK(all);
    cleanup(SD_PAGES);
}

const struct ktest crash_tests[] = {
    {"crash_writeback_eio", test_crash_writeback_eio},
    {"crash_pageout_eio", test_crash_pageout_eio},
    {"crash_sync_scattered", test_crash_sync_scattered},
    {"crash_workload", test_crash_workload},
    {"crash_check", test_crash_check},
    {"crash_discard_stream", test_crash_discard_stream},
    {"crash_discard_inflight", test_crash_discard_inflight},
    {"crash_store_during_sync", test_crash_store_during_sync},
};
const unsigned crash_test_count = sizeof(crash_tests) / sizeof(crash_tests[0]);
