/* The SMP stress test: many threads on every hart fault, write, map,
 * protect and unmap shared memory objects while the kernel pages out, a
 * chaos thread drops the storage map and ages the cache, and a resizer
 * shrinks and regrows an object under the readers' feet; afterwards every
 * page's content and every request count is checked. `stressseed=N` picks
 * the random choices (the harness runs several seeds), `stressms=T` how
 * long the threads run (default 3000 ms).
 *
 * The objects, all in one address space shared by every thread:
 *
 *   D  disk-backed (a storage map over the test disk), larger than memory
 *      (`--mem 64M`): pageout runs all the time. Page p belongs to worker
 *      p % X_WORKERS, which alone writes it, whole, with a new version
 *      each time; before writing, it checks that the page still holds its
 *      previous version whole - a write lost in pageout, a page read back
 *      from the wrong place, or a stale translation to a freed frame shows
 *      there. Others read the first word and check it names the page and
 *      a version between what the owner had published before and after.
 *   M  served by the manager thread, never written: every page is asked
 *      for exactly once, however many harts fault on it at once.
 *   R  served by the manager too; its second half is cut off and grown
 *      back again and again. Readers read that half only while it is open
 *      and must see the contents of the current generation: a hart still
 *      holding a translation to a page the shrink freed would see the old.
 *      Besides the workers, spinners read R's tail in a loop that neither
 *      faults nor blocks, on a hart of their own: nothing wakes a thread
 *      there, so no IPI (which QEMU's TCG follows with a TLB flush, as it
 *      does any trap into M mode) hides a shootdown that did not happen.
 *
 * The manager counts what it is asked per page (a second request for a
 * resident page is a duplicate) and rebuilds D's map when a fault says it
 * is gone (NO_MAP); the kernel's request counts must equal its own. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/guest/ktest.h"

enum {
    X_KEY = 230,
    X_SCRATCH,
    X_NTFN,
    X_D,
    X_D_ROOT,
    X_M,
    X_R,
    X_THREAD, /* .. X_THREAD + X_THREADS - 1 */
};

#define X_WORKERS  8
#define X_MANAGER  X_WORKERS
#define X_CHAOS    (X_WORKERS + 1)
#define X_RESIZER  (X_WORKERS + 2)
#define X_SPINNER  (X_WORKERS + 3) /* .. + X_SPINNERS - 1 */
#define X_SPINNERS 4
#define X_THREADS  (X_WORKERS + 3 + X_SPINNERS)
#define X_LAST     (X_THREAD + X_THREADS)
_Static_assert(X_LAST <= 256, "slots of the root cspace");

#define X_SECTOR   2048u /* 1 MiB into the disk */
#define D_SPAN     4096u /* pages per root slot of a height-4 map */
#define D_VA       0x60000000ull
#define M_VA       0x70000000ull
#define R_VA       0x71000000ull
#define WIN_VA     0x72000000ull /* worker w's window at WIN_VA + w * WIN_STRIDE */
#define WIN_STRIDE 0x100000ull
#define WIN_PAGES  16u
#define M_PAGES    256u
#define R_PAGES    64u
#define R_HEAD     32u /* never cut off */
#define D_MAX      65536u

static uint64_t d_pages; /* `stresspages=N` (a multiple of D_SPAN), default 24576: 96 MiB */

/* Page contents: a tag, the page, a version or generation, the word. */
static inline uint64_t dword(uint64_t p, uint64_t v, uint64_t k)
{
    return 0xd5ull << 56 | p << 32 | v << 12 | k;
}
static inline uint64_t mword(uint64_t p, uint64_t k)
{
    return 0x3aull << 56 | p << 32 | k;
}
static inline uint64_t rword(uint64_t p, uint64_t g, uint64_t k)
{
    return 0x7bull << 56 | p << 40 | g << 12 | k;
}

static volatile bool x_stop;
static uint64_t dver[D_MAX]; /* D's versions, each written by its owner only */
static volatile uint64_t x_errors, x_ops[X_WORKERS], x_writes, x_windows, x_tail_reads,
    x_map_retries;
static volatile unsigned x_workers_done, x_helpers_done;

/* The resizer's protocol with the readers of R's tail. */
static volatile uint64_t rz_gen, rz_inside, rz_resizes;
static volatile bool rz_open;

/* The manager's books. */
static uint32_t m_supplies[M_PAGES], r_head_supplies[R_HEAD];
static uint64_t r_tail_gen[R_PAGES]; /* generation + 1 it was last supplied in */
static volatile uint64_t mgr_m, mgr_r, mgr_d, mgr_bad, mgr_rebuilds;
static volatile uint64_t chaos_discards, chaos_ages, chaos_syncs;

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A failure seen by any thread: counted, and the first few printed. */
static void x_fail(const char *what, uint64_t page, uint64_t got, uint64_t want)
{
    if (__atomic_fetch_add(&x_errors, 1, __ATOMIC_RELAXED) < 6)
        printf("    stress: %s: page %lu: %#lx, want %#lx\n", what, (unsigned long)page,
               (unsigned long)got, (unsigned long)want);
}

/* Thread i's hart: round the harts but the last, which (with three or
 * more) is the spinners' alone - see spinner(). */
static long hart_of(unsigned i)
{
    uint64_t n = ns_bootinfo->hart_count;
    return (long)(i % (n >= 3 ? n - 1 : n));
}

static long spinner_hart(void)
{
    return (long)ns_bootinfo->hart_count - 1;
}

/* ---- D ---- */

static bool d_page_is(const volatile uint64_t *w, uint64_t p, uint64_t v, const char *how)
{
    for (uint64_t k = 0; k < 512; k++) {
        uint64_t want = v ? dword(p, v, k) : 0;
        if (w[k] != want) {
            x_fail(how, p, w[k], want);
            return false;
        }
    }
    return true;
}

/* Owner `w` writes page p (through the address `at` it is mapped at). */
static void d_write(uint64_t p, uint64_t at)
{
    volatile uint64_t *w = (volatile uint64_t *)at;
    uint64_t v = dver[p];
    d_page_is(w, p, v, "owner found its page changed");
    v++;
    for (uint64_t k = 0; k < 512; k++)
        w[k] = dword(p, v, k);
    __atomic_store_n(&dver[p], v, __ATOMIC_RELEASE);
    __atomic_fetch_add(&x_writes, 1, __ATOMIC_RELAXED);
}

/* Anyone reads page p's first word (at `at`). */
static void d_read(uint64_t p, uint64_t at)
{
    uint64_t before = __atomic_load_n(&dver[p], __ATOMIC_ACQUIRE);
    uint64_t w0 = *(volatile uint64_t *)at;
    uint64_t after = __atomic_load_n(&dver[p], __ATOMIC_ACQUIRE);
    if (w0 == 0 && before == 0)
        return;
    uint64_t v = (w0 >> 12) & 0xfffff;
    /* The owner writes the page before it publishes the version. */
    if (w0 != dword(p, v, 0) || v < before || v > after + 1)
        x_fail("reader saw a wrong first word", p, w0, dword(p, before, 0));
}

/* ---- the workers ---- */

static void read_m(uint64_t *rng)
{
    uint64_t p = next_random(rng) % M_PAGES;
    const volatile uint64_t *w = (const volatile uint64_t *)(M_VA + p * 4096);
    for (uint64_t k = 0; k < 512; k += 37)
        if (w[k] != mword(p, k)) {
            x_fail("M page wrong", p, w[k], mword(p, k));
            return;
        }
}

static void read_r(uint64_t *rng)
{
    uint64_t p = next_random(rng) % R_HEAD;
    uint64_t w0 = *(volatile uint64_t *)(R_VA + p * 4096);
    if (w0 != rword(p, 0, 0))
        x_fail("R head page wrong", p, w0, rword(p, 0, 0));
    /* The tail, only while open (the resizer waits for rz_inside 0). */
    __atomic_fetch_add(&rz_inside, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rz_open, __ATOMIC_SEQ_CST)) {
        uint64_t g = __atomic_load_n(&rz_gen, __ATOMIC_SEQ_CST);
        uint64_t q = R_HEAD + next_random(rng) % (R_PAGES - R_HEAD);
        const volatile uint64_t *w = (const volatile uint64_t *)(R_VA + q * 4096);
        for (uint64_t k = 0; k < 512; k += 31)
            if (w[k] != rword(q, g, k)) {
                x_fail("R tail page of an old generation", q, w[k], rword(q, g, k));
                break;
            }
        __atomic_fetch_add(&x_tail_reads, 1, __ATOMIC_RELAXED);
    }
    __atomic_fetch_sub(&rz_inside, 1, __ATOMIC_SEQ_CST);
}

/* Map 16 pages of D at the worker's own window, write its pages there
 * and read the others, take the write right away and read again, unmap. */
static void window(unsigned w, uint64_t *rng)
{
    uint64_t first = next_random(rng) % (d_pages / WIN_PAGES) * WIN_PAGES;
    uint64_t va = WIN_VA + w * WIN_STRIDE;
    long e;
    for (int i = 0; i < 100; i++) { /* NO_QUOTA: the bank is full; pageout makes room */
        e = ns_memobj_map(NS_SLOT_SELF_ASPACE, X_D, va, first, WIN_PAGES,
                          NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
        if (e != NS_ERR_NO_QUOTA)
            break;
        __atomic_fetch_add(&x_map_retries, 1, __ATOMIC_RELAXED);
        ns_sleep_us(1000);
    }
    if (e != NS_OK) {
        x_fail("window map failed", first, (uint64_t)e, 0);
        return;
    }
    for (uint64_t i = 0; i < WIN_PAGES; i++) {
        uint64_t p = first + i;
        if (p % X_WORKERS == w)
            d_write(p, va + i * 4096);
        else
            d_read(p, va + i * 4096);
    }
    e = ns_memobj_protect(NS_SLOT_SELF_ASPACE, va, WIN_PAGES, NS_RIGHT_READ);
    if (e != NS_OK)
        x_fail("window protect failed", first, (uint64_t)e, 0);
    for (uint64_t i = 0; i < WIN_PAGES; i++)
        d_read(first + i, va + i * 4096);
    e = ns_memobj_unmap(NS_SLOT_SELF_ASPACE, va, WIN_PAGES);
    if (e != NS_OK)
        x_fail("window unmap failed", first, (uint64_t)e, 0);
    __atomic_fetch_add(&x_windows, 1, __ATOMIC_RELAXED);
}

static void worker(unsigned long w)
{
    uint64_t rng =
        ktest_cmdline_u64("stressseed=", 1) * 0x9e3779b97f4a7c15ull ^ (w + 1) * 0x1234567;
    uint64_t mine = d_pages / X_WORKERS;
    while (!x_stop) {
        unsigned op = (unsigned)(next_random(&rng) % 100);
        if (op < 40) {
            uint64_t p = next_random(&rng) % mine * X_WORKERS + w;
            d_write(p, D_VA + p * 4096);
        } else if (op < 65) {
            uint64_t p = next_random(&rng) % d_pages;
            d_read(p, D_VA + p * 4096);
        } else if (op < 77) {
            read_m(&rng);
        } else if (op < 85) {
            window((unsigned)w, &rng);
        } else {
            read_r(&rng);
        }
        x_ops[w]++;
    }
    __atomic_fetch_add(&x_workers_done, 1, __ATOMIC_RELEASE);
    ns_thread_exit();
}

static volatile uint64_t x_spins;

static void spinner(unsigned long unused)
{
    (void)unused;
    while (!x_stop) {
        if (!__atomic_load_n(&rz_open, __ATOMIC_SEQ_CST))
            continue; /* outside, or the resizer would wait for ever */
        __atomic_fetch_add(&rz_inside, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&rz_open, __ATOMIC_SEQ_CST)) {
            uint64_t g = __atomic_load_n(&rz_gen, __ATOMIC_SEQ_CST);
            for (uint64_t q = R_HEAD; q < R_PAGES; q++) {
                uint64_t w0 = *(volatile uint64_t *)(R_VA + q * 4096);
                if (w0 != rword(q, g, 0))
                    x_fail("spinner saw an R tail page of an old generation", q, w0,
                           rword(q, g, 0));
            }
            __atomic_fetch_add(&x_spins, 1, __ATOMIC_RELAXED);
        }
        __atomic_fetch_sub(&rz_inside, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_fetch_add(&x_helpers_done, 1, __ATOMIC_RELEASE);
    ns_thread_exit();
}

/* ---- the manager, the chaos thread and the resizer ---- */

static uint64_t supply_buf[512] __attribute__((aligned(4096)));

static void build_d_map(void)
{
    ns_cap_delete(X_D_ROOT);
    CHECK_OK(ns_objframe_create(NS_SLOT_ROOT_BANK, X_D_ROOT));
    for (unsigned i = 0; i < d_pages / D_SPAN; i++) {
        CHECK_OK(ns_diskrange_derive(X_KEY, X_SCRATCH, (uint64_t)i * D_SPAN * 8, D_SPAN * 8,
                                     NS_RIGHTS_ALL));
        CHECK_OK(ns_objframe_store(X_D_ROOT, i, X_SCRATCH, NS_RIGHTS_ALL));
        CHECK_OK(ns_cap_delete(X_SCRATCH));
    }
    CHECK_OK(ns_memobj_set_map(X_D, X_D_ROOT, 4));
}

/* A supply, again a few times while the bank is full (NO_QUOTA: the
 * kernel pages out meanwhile), as a manager would. */
static long supply(unsigned long mo, uint64_t p)
{
    long e = NS_OK;
    for (int i = 0; i < 100; i++) {
        e = ns_memobj_supply(mo, p, 1, supply_buf);
        if (e != NS_ERR_NO_QUOTA)
            break;
        ns_sleep_us(1000);
    }
    return e;
}

/* A second request for a page that is resident (M never leaves memory;
 * R's tail only by a shrink) is a duplicate: the request path failed. */
static void serve_m(const struct ns_page_request *r)
{
    for (uint64_t p = r->first_page; p < r->first_page + r->pages; p++) {
        if (p >= M_PAGES)
            continue;
        if (m_supplies[p]++) /* answered all the same, so the test ends */
            x_fail("M page asked for again", p, m_supplies[p], 1);
        for (uint64_t k = 0; k < 512; k++)
            supply_buf[k] = mword(p, k);
        long e = supply(X_M, p);
        if (e != NS_OK) {
            x_fail("M supply failed", p, (uint64_t)e, 0);
            mgr_bad++;
        }
        mgr_m++;
    }
}

static void serve_r(const struct ns_page_request *r)
{
    uint64_t g = __atomic_load_n(&rz_gen, __ATOMIC_SEQ_CST);
    for (uint64_t p = r->first_page; p < r->first_page + r->pages; p++) {
        if (p >= R_PAGES)
            continue;
        if (p < R_HEAD ? r_head_supplies[p]++ != 0 : r_tail_gen[p] == g + 1)
            x_fail("R page asked for again", p, g, 0);
        if (p >= R_HEAD)
            r_tail_gen[p] = g + 1;
        for (uint64_t k = 0; k < 512; k++)
            supply_buf[k] = rword(p, p < R_HEAD ? 0 : g, k);
        long e = supply(X_R, p);
        if (e != NS_OK) {
            x_fail("R supply failed", p, (uint64_t)e, g);
            mgr_bad++;
        }
        mgr_r++;
    }
}

static void manager(unsigned long unused)
{
    (void)unused;
    struct ns_page_request req[16];
    for (;;) {
        uint64_t bits;
        if (ns_wait(X_NTFN, &bits) != NS_OK)
            break; /* the notification is gone: the test is over */
        unsigned long n;
        while (ns_memobj_requests(X_M, req, 16, &n) == NS_OK && n)
            for (unsigned long i = 0; i < n; i++)
                serve_m(&req[i]);
        while (ns_memobj_requests(X_R, req, 16, &n) == NS_OK && n)
            for (unsigned long i = 0; i < n; i++)
                serve_r(&req[i]);
        bool rebuild = false;
        while (ns_memobj_requests(X_D, req, 16, &n) == NS_OK && n)
            for (unsigned long i = 0; i < n; i++) {
                mgr_d++;
                if (req[i].flags == NS_PAGE_REQ_NO_MAP)
                    rebuild = true;
                else {
                    x_fail("D request not for want of a map", req[i].first_page, req[i].flags,
                           NS_PAGE_REQ_NO_MAP);
                    mgr_bad++;
                }
            }
        if (rebuild) {
            build_d_map();
            mgr_rebuilds++;
        }
    }
    ns_thread_exit();
}

static void chaos(unsigned long unused)
{
    (void)unused;
    uint64_t rng = ktest_cmdline_u64("stressseed=", 1) ^ 0xc4a05;
    for (unsigned i = 0; !x_stop; i++) {
        ns_sleep_us(1000 + next_random(&rng) % 4000);
        uint64_t out = 0;
        if (ns_memobj_control(X_D, NS_MEMOBJ_CTL_DISCARD_MAP, 0, &out) == NS_OK)
            chaos_discards += out;
        if (i % 3 == 0 && ns_memobj_control(X_D, NS_MEMOBJ_CTL_AGE, 0, &out) == NS_OK)
            chaos_ages++;
        if (i % 8 == 7) {
            long e = ns_memobj_sync(X_D); /* BAD_STATE: the map is gone just now */
            if (e != NS_OK && e != NS_ERR_BAD_STATE)
                x_fail("sync failed", 0, (uint64_t)e, 0);
            chaos_syncs++;
        }
    }
    __atomic_fetch_add(&x_helpers_done, 1, __ATOMIC_RELEASE);
    ns_thread_exit();
}

static void resizer(unsigned long unused)
{
    (void)unused;
    while (!x_stop) {
        uint64_t g = rz_gen;
        for (uint64_t q = R_HEAD; q < R_PAGES; q++) {
            uint64_t w0 = *(volatile uint64_t *)(R_VA + q * 4096);
            if (w0 != rword(q, g, 0))
                x_fail("resizer saw an old generation", q, w0, rword(q, g, 0));
        }
        ns_sleep_us(2000);
        __atomic_store_n(&rz_open, false, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&rz_inside, __ATOMIC_SEQ_CST))
            ns_sleep_us(100);
        long e = ns_memobj_set_length(X_R, R_HEAD * 4096);
        if (e == NS_OK)
            e = ns_memobj_set_length(X_R, R_PAGES * 4096);
        if (e != NS_OK)
            x_fail("resize failed", 0, (uint64_t)e, 0);
        __atomic_store_n(&rz_gen, g + 1, __ATOMIC_SEQ_CST);
        rz_resizes++;
        __atomic_store_n(&rz_open, true, __ATOMIC_SEQ_CST);
    }
    __atomic_fetch_add(&x_helpers_done, 1, __ATOMIC_RELEASE);
    ns_thread_exit();
}

/* ---- the test ---- */

static uint64_t stacks[X_THREADS][1024] __attribute__((aligned(16)));

/* Thread i on `hart`, `below` priority levels under ours: the manager at
 * ours (a manager outranks its clients, or a busy hart of workers keeps
 * it from answering in time - seen at --smp 1 on a loaded host: faults
 * failed with TIMEOUT), workers one below, spinners two. */
static void start(unsigned i, void (*fn)(unsigned long), unsigned long arg, long hart,
                  unsigned below)
{
    unsigned long slot = X_THREAD + i, state, prio;
    CHECK_OK(ns_thread_create(NS_SLOT_ROOT_BANK, slot, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE));
    CHECK_OK(ns_thread_set_hart(slot, (unsigned long)hart));
    if (below && ns_thread_info(NS_SLOT_SELF_THREAD, &state, &prio) == NS_OK && prio >= below)
        CHECK_OK(ns_thread_set_prio(slot, prio - below));
    CHECK_OK(ns_thread_start_fn(slot, fn, (uint64_t)&stacks[i][1024], arg));
}

static struct ns_memobj_stats stats_of(unsigned long mo)
{
    struct ns_memobj_stats st;
    memset(&st, 0, sizeof(st));
    CHECK_OK(ns_memobj_stats(mo, &st));
    return st;
}

static void wait_count(volatile unsigned *n, unsigned want, uint64_t limit_us)
{
    uint64_t t0 = ns_clock_us();
    while (__atomic_load_n(n, __ATOMIC_ACQUIRE) < want && ns_clock_us() - t0 < limit_us)
        ns_sleep_us(1000);
}

static void setup(void)
{
    memset(dver, 0, sizeof(dver));
    memset(m_supplies, 0, sizeof(m_supplies));
    memset(r_head_supplies, 0, sizeof(r_head_supplies));
    memset(r_tail_gen, 0, sizeof(r_tail_gen));
    x_stop = false;
    x_errors = x_writes = x_windows = x_tail_reads = x_spins = x_map_retries = 0;
    x_workers_done = x_helpers_done = 0;
    for (unsigned w = 0; w < X_WORKERS; w++)
        x_ops[w] = 0;
    rz_gen = rz_inside = rz_resizes = 0;
    rz_open = true;
    mgr_m = mgr_r = mgr_d = mgr_bad = mgr_rebuilds = 0;
    chaos_discards = chaos_ages = chaos_syncs = 0;
    CHECK_OK(ns_diskrange_derive(NS_SLOT_DISK0, X_KEY, X_SECTOR, d_pages * 8, NS_RIGHTS_ALL));
    CHECK_OK(ns_notification_create(NS_SLOT_ROOT_BANK, X_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, X_D, d_pages * 4096, X_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, X_M, M_PAGES * 4096, X_NTFN));
    CHECK_OK(ns_memobj_create(NS_SLOT_ROOT_BANK, X_R, R_PAGES * 4096, X_NTFN));
    build_d_map();
    CHECK_OK(ns_memobj_control(X_D, NS_MEMOBJ_CTL_READAHEAD, 16, NULL));
    const unsigned long rw = NS_RIGHT_READ | NS_RIGHT_WRITE;
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, X_D, D_VA, 0, d_pages, rw, NULL));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, X_M, M_VA, 0, M_PAGES, NS_RIGHT_READ, NULL));
    CHECK_OK(ns_memobj_map(NS_SLOT_SELF_ASPACE, X_R, R_VA, 0, R_PAGES, NS_RIGHT_READ, NULL));
}

/* After the run: D synced, dropped from memory and read back page by page
 * against the versions its owners published; the request counts. */
static void verify(void)
{
    /* Sync needs the map: if the chaos thread dropped it last, a fault on
     * a page not in memory has the manager rebuild it (the manager alone
     * touches the map's slots). */
    long e;
    for (uint64_t p = 0; (e = ns_memobj_sync(X_D)) == NS_ERR_BAD_STATE && p < d_pages; p += 64)
        d_read(p, D_VA + p * 4096);
    CHECK_OK(e);
    uint64_t dropped;
    CHECK_OK(ns_memobj_control(X_D, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    CHECK_OK(ns_memobj_control(X_D, NS_MEMOBJ_CTL_EVICT, 0, &dropped));
    uint64_t bad = 0, written = 0;
    for (uint64_t p = 0; p < d_pages; p++) {
        written += dver[p] != 0;
        bad += !d_page_is((const volatile uint64_t *)(D_VA + p * 4096), p, dver[p],
                          "page read back after the run");
    }
    struct ns_memobj_stats d = stats_of(X_D), m = stats_of(X_M), r = stats_of(X_R);
    /* Every page of M once more, from here: all resident, no new request. */
    for (uint64_t p = 0; p < M_PAGES; p++)
        if (*(volatile uint64_t *)(M_VA + p * 4096) != mword(p, 0))
            bad++;
    uint64_t m_after = stats_of(X_M).requests_made;
    printf("    stress: %lu pages of %lu written (%lu writes), %lu bad after sync and evict; "
           "D: %lu pages written back, %lu read, %lu discards, %lu manager requests, %lu "
           "rebuilds\n",
           (unsigned long)written, (unsigned long)d_pages, (unsigned long)x_writes,
           (unsigned long)bad, (unsigned long)d.map_pages_written, (unsigned long)d.map_pages_read,
           (unsigned long)chaos_discards, (unsigned long)mgr_d, (unsigned long)mgr_rebuilds);
    printf("    stress: M: %lu requests for %u pages (%lu after touching all); R: %lu resizes, %lu "
           "requests, %lu tail reads, %lu spins; %lu windows (%lu maps retried); %lu bad "
           "requests, %lu errors\n",
           (unsigned long)m.requests_made, M_PAGES, (unsigned long)m_after,
           (unsigned long)rz_resizes, (unsigned long)r.requests_made, (unsigned long)x_tail_reads,
           (unsigned long)x_spins, (unsigned long)x_windows, (unsigned long)x_map_retries,
           (unsigned long)mgr_bad, (unsigned long)x_errors);
    CHECK(bad == 0 && x_errors == 0);
    CHECK(mgr_bad == 0);
    CHECK(d.io_errors == 0 && d.dirty == 0);
    /* D's requests reached the manager, or were served through the map
     * the manager rebuilt before it fetched them. */
    CHECK(d.requests_made >= mgr_d && mgr_d > 0);
    /* Every page of M asked for once, by whichever hart faulted first. */
    CHECK(m_after == M_PAGES && mgr_m == M_PAGES);
    CHECK(r.requests_made == mgr_r);
    /* It did run: pageout, discards and rebuilds, resizes, windows. */
    CHECK(d.map_pages_written > 0 && chaos_discards > 0 && rz_resizes > 0 && x_windows > 0);
}

static void test_smp_stress(void)
{
    const char *only = strstr(ns_bootinfo->cmdline, "only=smp_stress");
    if (!only || ns_bootinfo->disk_count == 0) {
        printf("    needs its own disk: run alone (only=smp_stress, tests/qemu/boot_tests.py)\n");
        return;
    }
    d_pages = ktest_cmdline_u64("stresspages=", 24576);
    if (d_pages == 0 || d_pages % D_SPAN || d_pages > D_MAX)
        d_pages = 24576;
    if (ns_bootinfo->disks[0].sectors < X_SECTOR + d_pages * 8) {
        printf("    needs a disk of %lu MiB\n", (unsigned long)((X_SECTOR + d_pages * 8) / 2048));
        CHECK(false);
        return;
    }
    uint64_t ms = ktest_cmdline_u64("stressms=", 3000), t0 = ns_clock_us();
    setup();
    start(X_MANAGER, manager, 0, hart_of(X_MANAGER), 0);
    start(X_CHAOS, chaos, 0, hart_of(X_CHAOS), 1);
    start(X_RESIZER, resizer, 0, hart_of(X_RESIZER), 1);
    for (unsigned w = 0; w < X_WORKERS; w++) {
        start(w, worker, w, hart_of(w), 1);
        if (w % 2) /* half of them free to move between the workers' harts */
            CHECK_OK(ns_thread_set_hart(X_THREAD + w, NS_HART_ANY));
    }
    for (unsigned i = 0; i < X_SPINNERS; i++)
        start(X_SPINNER + i, spinner, 0, spinner_hart(), 2);
    while (ns_clock_us() - t0 < ms * 1000)
        ns_sleep_us(10000);
    x_stop = true;
    wait_count(&x_workers_done, X_WORKERS, 60000000);
    wait_count(&x_helpers_done, 2 + X_SPINNERS, 60000000);
    CHECK(x_workers_done == X_WORKERS && x_helpers_done == 2 + X_SPINNERS);
    uint64_t ops = 0, least = UINT64_MAX;
    for (unsigned w = 0; w < X_WORKERS; w++) {
        ops += x_ops[w];
        least = x_ops[w] < least ? x_ops[w] : least;
    }
    printf("    stress: seed %lu: %u workers on %lu harts, %lu ops in %lu ms (fewest %lu); %lu "
           "ages, %lu syncs\n",
           (unsigned long)ktest_cmdline_u64("stressseed=", 1), X_WORKERS,
           (unsigned long)ns_bootinfo->hart_count, (unsigned long)ops,
           (unsigned long)((ns_clock_us() - t0) / 1000), (unsigned long)least,
           (unsigned long)chaos_ages, (unsigned long)chaos_syncs);
    CHECK(least > 0);
    verify();
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, D_VA, d_pages);
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, M_VA, M_PAGES);
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, R_VA, R_PAGES);
    for (unsigned s = X_KEY; s < X_LAST; s++)
        ns_cap_delete(s);
}

const struct ktest stress_tests[] = {
    {"smp_stress", test_smp_stress},
};
const unsigned stress_test_count = sizeof(stress_tests) / sizeof(stress_tests[0]);
