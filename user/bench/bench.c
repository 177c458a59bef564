/* bench: kernel microbenchmarks, run as the first program
 * (`scripts/bench`, or `scripts/run --init bench`).
 *
 * Every metric is one function in the table at the bottom. It runs a
 * warm-up, then times each of its n iterations with rdinstret around the
 * operation; setup and teardown (deleting the copy, unmapping the frame)
 * stay outside the window. The cost of an empty rdinstret pair is measured
 * first and subtracted from every sample. Each metric prints one line
 *
 *   BENCH {"name": ..., "median": N, "min": N, "max": N, "n": N, "unit": "instructions"}
 *
 * which scripts/bench collects; a metric whose sample covers several
 * operations (a run of page faults) reports per operation. Under QEMU
 * with `-icount shift=0,sleep=off -smp 1`, rdinstret counts executed
 * instructions exactly, so the numbers repeat from run to run; without
 * icount they follow host time and are only good for checking that the
 * harness works. Only the disk benchmarks' windows contain a wfi (the
 * wait for the device), and they subtract what the hart counted idle; in
 * every other window some thread is runnable, so the kernel never idles.
 *
 * `bench_group=throughput` on the command line runs the other group
 * instead: wall-clock MB/s of sequential disk reads (near the end of this
 * file), for a boot without icount.
 *
 * Threads the benchmarks start share our address space and capability
 * space and run at our priority (they inherit it). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user/rt/newsys.h"

#define WARMUP 100

/* Slots and addresses the benchmarks use; all are free again between
 * metrics. */
enum {
    S_COPY = NS_SLOT_FIRST_FREE,
    S_FRAME,
    S_THREAD,
    S_EP,
    S_PEER,       /* the other thread of a two-thread benchmark */
    S_MO,         /* the memory object of the memobj benchmarks */
    S_NTFN,       /* its manager's notification */
    S_STACK = 32, /* S_STACK + i: stack frames of S_PEER */
    STACK_PAGES = 4,
    S_KEY = S_STACK + STACK_PAGES, /* the disk benchmarks' key */
    S_ROOT,                        /* their storage map's root frame */
    S_SCRATCH,
    S_MGR_BUF, /* the disk manager's buffer frame */
    S_DONE,    /* seqread_raw_qd32_mbps: its readers signal here when done */
    S_PARK,    /* and then wait on this one, never signalled */
    S_BANK,    /* pageout_write_mbps: the sub-bank its object is charged to */
    S_WKEY,    /* and its key (read-write) for the range it writes */
    S_LAST,
    S_WORKER = 64, /* S_WORKER + i: reader i of seqread_raw_qd32_mbps */
};

#define MAP_VA    0x20000000ull /* frame_map maps here */
#define STACK_VA  0x20100000ull /* the peer's stack */
#define FAULT_VA  0x20900000ull /* never mapped: fault_round_trip loads from it */
#define MO_VA     0x30000000ull /* memory objects map here */
#define MO_PAGES  512
#define READAHEAD 16 /* pages per supply in fault_major_zero_c16_per_page */
#define MAX_ITERS 1000
#define MGR_BUF_VA 0x20200000ull /* the disk manager's buffer */

static uint64_t samples[MAX_ITERS];
static uint64_t pair_cost;

static inline uint64_t rdinstret(void)
{
    uint64_t v;
    asm volatile("rdinstret %0" : "=r"(v)::"memory");
    return v;
}

/* The instructions `op` takes: rdinstret on both sides; the memory clobber
 * keeps the compiler from moving the operation's loads and stores out. */
#define TIMED(delta, op)                                                                           \
    do {                                                                                           \
        uint64_t t0_ = rdinstret();                                                                \
        op;                                                                                        \
        uint64_t t1_ = rdinstret();                                                                \
        (delta) = t1_ - t0_;                                                                       \
    } while (0)

/* ---- helpers ---- */

/* Start `fn(arg)` in a new thread in slot S_PEER, on a stack of its own. */
static long start_peer(void (*fn)(unsigned long), unsigned long arg)
{
    long e;
    for (unsigned i = 0; i < STACK_PAGES; i++) {
        if ((e = ns_frame_alloc(NS_SLOT_ROOT_BANK, S_STACK + i)) != NS_OK)
            return e;
        e = ns_map_frame(NS_SLOT_SELF_ASPACE, S_STACK + i, STACK_VA + i * 4096ull,
                         NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
        if (e != NS_OK)
            return e;
    }
    e = ns_thread_create(NS_SLOT_ROOT_BANK, S_PEER, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE);
    if (e == NS_OK)
        e = ns_thread_start_fn(S_PEER, fn, STACK_VA + STACK_PAGES * 4096ull, arg);
    return e;
}

/* Give back everything a benchmark may have used: deleting the last
 * capability destroys the peer thread and unmaps and frees the frames. A
 * memory object's mapping goes by hand: its node would outlive the object
 * (naming a dead one) and keep MO_VA taken. */
static void clear_slots(void)
{
    (void)ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, MO_PAGES); /* nothing mapped: an error */
    for (unsigned s = NS_SLOT_FIRST_FREE; s < S_LAST; s++)
        ns_cap_delete(s);
}

/* For the peer threads: printf's buffer belongs to the main thread. */
static void fail_from_thread(const char *msg)
{
    ns_debug_write(msg, strlen(msg));
    ns_shutdown(NS_SLOT_MACHINE, 1);
}

/* ---- metrics: each fills s[0..n) with raw deltas; returns NS_OK or the
 * error that stopped it ---- */

static long bench_null_syscall(uint64_t *s, unsigned n)
{
    long e = NS_OK;
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t d;
        TIMED(d, e = ns_nop());
        if (i >= WARMUP)
            s[i - WARMUP] = d;
    }
    return e;
}

static long bench_cap_copy(uint64_t *s, unsigned n)
{
    long e = NS_OK;
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t d;
        TIMED(d, e = ns_cap_copy(NS_SLOT_ROOT_BANK, S_COPY, NS_RIGHTS_ALL));
        if (i >= WARMUP)
            s[i - WARMUP] = d;
        if (e == NS_OK)
            e = ns_cap_delete(S_COPY);
    }
    return e;
}

/* One frame, mapped and unmapped at the same address: after the first
 * round the page-table pages for it exist, so this is the map itself. */
static long bench_frame_map(uint64_t *s, unsigned n)
{
    long e = ns_frame_alloc(NS_SLOT_ROOT_BANK, S_FRAME);
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t d;
        TIMED(d, e = ns_map_frame(NS_SLOT_SELF_ASPACE, S_FRAME, MAP_VA,
                                  NS_RIGHT_READ | NS_RIGHT_WRITE, NULL));
        if (i >= WARMUP)
            s[i - WARMUP] = d;
        if (e == NS_OK)
            e = ns_unmap(S_FRAME);
    }
    return e;
}

/* Create a thread (inactive: not started) in our spaces, charged to the
 * root bank; delete it outside the window. */
static long bench_thread_create(uint64_t *s, unsigned n)
{
    long e = NS_OK;
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t d;
        TIMED(d, e = ns_thread_create(NS_SLOT_ROOT_BANK, S_THREAD, NS_SLOT_SELF_CSPACE,
                                      NS_SLOT_SELF_ASPACE));
        if (i >= WARMUP)
            s[i - WARMUP] = d;
        if (e == NS_OK)
            e = ns_cap_delete(S_THREAD);
    }
    return e;
}

/* thread_switch: we and a peer of the same priority yield to each other.
 * The peer stores rdinstret (and marks itself as the last to run) just
 * before its yield; we read rdinstret as soon as our own yield returns.
 * When the mark says the peer ran in between, the difference is one switch
 * from the peer to us: its yield system call, the scheduler's pick, the
 * context switch, and the return to user mode in the other thread. A yield
 * that came back to its own thread (the peer was not runnable) is not a
 * sample. Both directions run the same kernel path; we time one. */
static volatile unsigned long sw_last, sw_stop, sw_done;
static volatile uint64_t sw_stamp;

static void switch_peer(unsigned long arg)
{
    (void)arg;
    while (!sw_stop) {
        sw_last = 1;
        sw_stamp = rdinstret();
        ns_yield();
    }
    sw_done = 1;
}

static long bench_thread_switch(uint64_t *s, unsigned n)
{
    sw_last = sw_stop = sw_done = 0;
    long e = start_peer(switch_peer, 0);
    unsigned got = 0, warm = 0;
    for (unsigned tries = 0; e == NS_OK && got < n && tries < 4 * (WARMUP + n); tries++) {
        sw_last = 0;
        e = ns_yield();
        uint64_t now = rdinstret();
        if (sw_last != 1)
            continue;
        if (warm < WARMUP)
            warm++;
        else
            s[got++] = now - sw_stamp;
    }
    sw_stop = 1;
    for (unsigned i = 0; i < 1000 && !sw_done; i++)
        ns_yield();
    if (e == NS_OK && (got < n || !sw_done))
        e = NS_ERR_BAD_STATE; /* the peer did not run: no switches to time */
    return e;
}

/* IPC round trip, as a client sees it: Call to a server thread in our
 * address space (the reply goes back through its ReplyRecv, which also
 * waits for the next call), `words` message words each way in registers. */
static void echo_server(unsigned long ep)
{
    struct ns_msg m = {0};
    long e = ns_recv(ep, &m);
    while (e == NS_OK) {
        m.info = NS_MSG_INFO(0, NS_MSG_LEN(m.info), 0);
        e = ns_reply_recv(ep, &m);
    }
    fail_from_thread("bench: echo server: receive failed\n");
}

static long ipc_round_trip(uint64_t *s, unsigned n, unsigned words)
{
    long e = ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP);
    if (e == NS_OK)
        e = start_peer(echo_server, S_EP);
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        struct ns_msg m = {.info = NS_MSG_INFO(1, words, 0), .w = {i, i + 1, i + 2, i + 3}};
        uint64_t d;
        TIMED(d, e = ns_call(S_EP, &m));
        if (i >= WARMUP)
            s[i - WARMUP] = d;
        if (e == NS_OK && (NS_MSG_LEN(m.info) != words || (words && m.w[0] != i)))
            e = NS_ERR_BAD_STATE; /* not our message back */
    }
    return e;
}

static long bench_ipc_call_reply_0w(uint64_t *s, unsigned n)
{
    return ipc_round_trip(s, n, 0);
}

static long bench_ipc_call_reply_4w(uint64_t *s, unsigned n)
{
    return ipc_round_trip(s, n, NS_MSG_REG_WORDS);
}

/* fault_round_trip: we load from an unmapped page; the kernel sends the
 * fault to our handler thread (blocked in ReplyRecv), which answers
 * "resume after the load" and waits for the next one. The window runs from
 * just before the faulting load to just after the resumed thread's next
 * instruction, so it holds the fault entry, the delivery, the handler's
 * user code, its ReplyRecv and the return. The load is assembled without
 * compressed instructions so the handler knows it is 4 bytes long. */
static void fault_handler(unsigned long ep)
{
    struct ns_msg m = {0};
    long e = ns_recv(ep, &m);
    while (e == NS_OK) {
        if (NS_MSG_LABEL(m.info) != NS_LABEL_FAULT || m.w[0] != NS_FAULT_READ || m.w[2] != FAULT_VA)
            fail_from_thread("bench: fault handler: not the fault we cause\n");
        m.info = NS_MSG_INFO(NS_FAULT_RESUME, 1, 0);
        m.w[0] = m.w[1] + 4;
        e = ns_reply_recv(ep, &m);
    }
    fail_from_thread("bench: fault handler: receive failed\n");
}

static inline uint64_t timed_fault(void)
{
    uint64_t t0, t1, tmp;
    asm volatile(".option push\n"
                 ".option norvc\n"
                 "rdinstret %0\n"
                 "ld %2, 0(%3)\n"
                 "rdinstret %1\n"
                 ".option pop\n"
                 : "=&r"(t0), "=&r"(t1), "=&r"(tmp)
                 : "r"(FAULT_VA)
                 : "memory");
    (void)tmp;
    return t1 - t0;
}

static long bench_fault_round_trip(uint64_t *s, unsigned n)
{
    long e = ns_endpoint_create(NS_SLOT_ROOT_BANK, S_EP);
    if (e == NS_OK)
        e = start_peer(fault_handler, S_EP);
    if (e == NS_OK)
        e = ns_thread_set_fault_handler(NS_SLOT_SELF_THREAD, S_EP);
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t d = timed_fault();
        if (i >= WARMUP)
            s[i - WARMUP] = d;
    }
    ns_thread_set_fault_handler(NS_SLOT_SELF_THREAD, 0);
    return e;
}

/* The zero-fill manager's work, in our own process so that every
 * instruction of a fault's trip is counted: it answers each request with
 * zero pages (supply with no buffer, as managers/zero does), which the
 * kernel clears in fresh frames. MO_VA is 2 MiB aligned, so the object's
 * 512 pages share one leaf page table.
 *
 * One requests call per wakeup hands out every pending request (16 is more
 * than a single faulting thread can have); one that arrives after it
 * signals the notification again. The last supply of a batch waits for
 * that signal in the same call (ns_memobj_supply_wait). */
static void zero_manager(unsigned long unused)
{
    (void)unused;
    struct ns_page_request req[16];
    uint64_t bits;
    if (ns_wait(S_NTFN, &bits) != NS_OK)
        fail_from_thread("bench: zero manager: wait failed\n");
    for (;;) {
        unsigned long n;
        if (ns_memobj_requests(S_MO, req, 16, &n) != NS_OK)
            fail_from_thread("bench: zero manager: reading requests failed\n");
        /* A failed supply would leave the faulting thread waiting for
         * good: stop the benchmark instead. The last answer of a batch
         * also waits for the next signal, unless more may be pending. */
        long e = NS_OK;
        for (unsigned long i = 0; i < n && e == NS_OK; i++) {
            bool wait = i == n - 1 && n < 16;
            e = wait ? ns_memobj_supply_wait(S_MO, req[i].first_page, req[i].pages, NULL, S_NTFN,
                                             &bits)
                     : ns_memobj_supply(S_MO, req[i].first_page, req[i].pages, NULL);
        }
        if (e != NS_OK)
            fail_from_thread("bench: zero manager: supply failed\n");
        if (n == 0 && ns_wait(S_NTFN, &bits) != NS_OK)
            fail_from_thread("bench: zero manager: wait failed\n");
    }
}

/* The object and its manager; nothing mapped yet. */
static long memobj_setup(unsigned long cluster)
{
    long e = ns_notification_create(NS_SLOT_ROOT_BANK, S_NTFN);
    if (e == NS_OK)
        e = ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, MO_PAGES * 4096ull, S_NTFN);
    if (e == NS_OK)
        e = ns_memobj_set_cluster(S_MO, cluster);
    if (e == NS_OK)
        e = start_peer(zero_manager, 0);
    return e;
}

/* Map `pages` pages of the object from page 0 at MO_VA, read-write. */
static long mo_map(uint64_t pages)
{
    return ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, MO_VA, 0, pages, NS_RIGHT_READ | NS_RIGHT_WRITE,
                         NULL);
}

/* Read one word of each of `pages` pages from MO_VA: each read of a page
 * that is not mapped here yet faults. */
static void touch(uint64_t pages)
{
    for (uint64_t p = 0; p < pages; p++)
        (void)*(volatile uint64_t *)(uintptr_t)(MO_VA + p * 4096);
}

/* Make every page from 0 to MO_PAGES resident: resolving the
 * faults supplies them, the manager's readahead making it quick. */
static long make_resident(void)
{
    long e = mo_map(MO_PAGES);
    if (e == NS_OK)
        touch(MO_PAGES);
    if (e == NS_OK)
        e = ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, MO_PAGES);
    return e;
}

/* Forget every resident page (they leave our mapping too), so the next
 * touch of any page is a major fault again. */
static long drop_resident(void)
{
    long e = ns_memobj_set_length(S_MO, 0);
    if (e == NS_OK)
        e = ns_memobj_set_length(S_MO, MO_PAGES * 4096ull);
    return e;
}

/* One read of `va`; the window holds only the load, with every trap it
 * takes before it completes. */
static inline uint64_t timed_load(uint64_t va)
{
    uint64_t t0, t1, tmp;
    asm volatile("rdinstret %0\n"
                 "ld %2, 0(%3)\n"
                 "rdinstret %1\n"
                 : "=&r"(t0), "=&r"(t1), "=&r"(tmp)
                 : "r"(va)
                 : "memory");
    (void)tmp;
    return t1 - t0;
}

/* One read in each of READAHEAD consecutive pages from `va`. The window
 * also holds the READAHEAD - 1 adds stepping to the next page: under one
 * instruction per page. */
static inline uint64_t timed_load_run(uint64_t va)
{
    uint64_t t0, t1, tmp, a = va, step = 4096;
    _Static_assert(READAHEAD == 16, "the asm below reads 16 pages");
    asm volatile("rdinstret %0\n"
                 ".rept 15\n"
                 "ld %2, 0(%3)\n"
                 "add %3, %3, %4\n"
                 ".endr\n"
                 "ld %2, 0(%3)\n"
                 "rdinstret %1\n"
                 : "=&r"(t0), "=&r"(t1), "=&r"(tmp), "+&r"(a)
                 : "r"(step)
                 : "memory");
    (void)tmp;
    return t1 - t0;
}

/* fault_minor: page 0 is resident in the object, and a fresh mapping of
 * it (unmapped and mapped again outside the window) has no PTE for it, so
 * the read traps and the kernel maps the cached frame: map-tree lookup,
 * page-cache lookup, PTE, reverse-map entry, return. */
static long bench_fault_minor(uint64_t *s, unsigned n)
{
    long e = memobj_setup(1);
    if (e == NS_OK)
        e = mo_map(1);
    if (e == NS_OK)
        touch(1); /* the one major fault: page 0 becomes resident */
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        e = ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, 1);
        if (e == NS_OK)
            e = mo_map(1);
        if (e != NS_OK)
            break;
        uint64_t d = timed_load(MO_VA);
        if (i >= WARMUP)
            s[i - WARMUP] = d;
    }
    return e;
}

/* fault_major_zero: the first touch of a page the object does not hold,
 * as when a heap or stack grows: iteration i reads page i % MO_PAGES, and
 * after each pass over the object its pages are dropped (outside the
 * window). The window runs from the read to its completion: the fault
 * making the request and signalling the manager, the switch to the
 * manager, its wait returning, its requests and supply calls (the kernel
 * clearing a fresh frame, entering it in the object's cache and mapping it
 * for us as it wakes us), its next wait blocking, the switch back, and our
 * read completing. */
static long bench_fault_major_zero(uint64_t *s, unsigned n)
{
    long e = memobj_setup(1);
    if (e == NS_OK)
        e = mo_map(MO_PAGES);
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t page = i % MO_PAGES;
        if (page == 0 && i && (e = drop_resident()) != NS_OK)
            break;
        uint64_t d = timed_load(MO_VA + page * 4096);
        if (i >= WARMUP)
            s[i - WARMUP] = d;
    }
    return e;
}

/* fault_major_zero_c16_per_page: as fault_major_zero, but the object's
 * cluster is 16 pages and each window reads 16 consecutive fresh pages:
 * the fault on the first asks for all 16 in one request, the manager
 * supplies them in one call, and the other 15 reads are minor faults.
 * Reported per page: the window's total / 16, rounded down. */
static long bench_fault_major_zero_c16(uint64_t *s, unsigned n)
{
    long e = memobj_setup(READAHEAD);
    if (e == NS_OK)
        e = mo_map(MO_PAGES);
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t page = i * READAHEAD % MO_PAGES;
        if (page == 0 && i && (e = drop_resident()) != NS_OK)
            break;
        uint64_t d = timed_load_run(MO_VA + page * 4096);
        if (i >= WARMUP)
            s[i - WARMUP] = d;
    }
    return e;
}

/* map_N: NS_SYS_MEMOBJ_MAP of N pages at MO_VA into our own space; the
 * unmap is outside the window. Map writes no PTE (faults do), so this is
 * the map-tree insert; the pages need not be resident. */
static long memobj_map_n(uint64_t *s, unsigned n, uint64_t pages)
{
    long e = memobj_setup(1);
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t d;
        TIMED(d, e = mo_map(pages));
        if (i >= WARMUP)
            s[i - WARMUP] = d;
        if (e == NS_OK)
            e = ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, pages);
    }
    return e;
}

static long bench_map_1(uint64_t *s, unsigned n)
{
    return memobj_map_n(s, n, 1);
}

static long bench_map_512(uint64_t *s, unsigned n)
{
    return memobj_map_n(s, n, MO_PAGES);
}

/* unmap_N: NS_SYS_MEMOBJ_UNMAP of N pages at MO_VA, each of them resident
 * and mapped here (mapped and read outside the window), so the window
 * holds the map-tree removal and, per page, the reverse-map entry and PTE
 * removal with its sfence.vma. */
static long memobj_unmap_n(uint64_t *s, unsigned n, uint64_t pages)
{
    long e = memobj_setup(READAHEAD);
    if (e == NS_OK)
        e = make_resident();
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        if ((e = mo_map(pages)) != NS_OK)
            break;
        touch(pages); /* minor faults only: every page is resident */
        uint64_t d;
        TIMED(d, e = ns_memobj_unmap(NS_SLOT_SELF_ASPACE, MO_VA, pages));
        if (i >= WARMUP)
            s[i - WARMUP] = d;
    }
    return e;
}

static long bench_unmap_1(uint64_t *s, unsigned n)
{
    return memobj_unmap_n(s, n, 1);
}

static long bench_unmap_512(uint64_t *s, unsigned n)
{
    return memobj_unmap_n(s, n, MO_PAGES);
}

/* ---- the table and the runner ---- */

struct bench {
    const char *name;
    long (*run)(uint64_t *s, unsigned n);
    unsigned n;
    unsigned per; /* a sample covers this many operations */
};

/* ---- faults served from the disk ----
 *
 * The object's pages are disk pages 0..MO_PAGES - 1 of the first disk
 * (scripts/bench attaches one). Iteration i reads page i % MO_PAGES, and
 * each pass over the object drops its pages, so every read is a major
 * fault that goes to the disk. The windows include the device's answer;
 * under icount the instruction counter runs on while the hart waits for
 * it, so the kernel's count of instructions spent idle in the window is
 * subtracted: what remains is the kernel's (and, for the manager, the
 * manager's) own work, the idle loop's few instructions around its wfi
 * included. */

static uint64_t manager_messages; /* reported with fault_storage_map */
static bool report_messages;

static long disk_object(void)
{
    if (ns_bootinfo->disk_count == 0) {
        printf("bench: the disk benchmarks need a disk (scripts/bench attaches one)\n");
        return NS_ERR_BAD_STATE;
    }
    long e = ns_diskrange_derive(NS_SLOT_DISK0, S_KEY, 0, MO_PAGES * 8ull, NS_RIGHTS_ALL);
    if (e == NS_OK)
        e = ns_notification_create(NS_SLOT_ROOT_BANK, S_NTFN);
    if (e == NS_OK)
        e = ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, MO_PAGES * 4096ull, S_NTFN);
    /* No request deadline: under icount with sleep=off an idle hart's
     * clock jumps to its next timer, so while the host takes its time
     * over a read, guest time can pass the default second and fail the
     * request the manager is reading for (its supply then finds none). */
    if (e == NS_OK)
        e = ns_memobj_set_deadline(S_MO, 0);
    return e;
}

/* A storage map of height 3 for the object: two level-2 slots of 256
 * pages, each a key. */
static long disk_map(void)
{
    _Static_assert(MO_PAGES == 512, "two 256-page slots");
    long e = ns_objframe_create(NS_SLOT_ROOT_BANK, S_ROOT);
    for (unsigned i = 0; i < 2 && e == NS_OK; i++) {
        e = ns_diskrange_derive(S_KEY, S_SCRATCH, i * 2048ull, 2048, NS_RIGHTS_ALL);
        if (e == NS_OK)
            e = ns_objframe_store(S_ROOT, i, S_SCRATCH, NS_RIGHTS_ALL);
        ns_cap_delete(S_SCRATCH);
    }
    if (e == NS_OK)
        e = ns_memobj_set_map(S_MO, S_ROOT, 3);
    return e;
}

/* The window's count less what the hart counted idle inside it: the idle
 * count is read outside, so the window holds just the load. */
static long disk_fault_run(uint64_t *s, unsigned n)
{
    long e = mo_map(MO_PAGES);
    for (unsigned i = 0; i < WARMUP + n && e == NS_OK; i++) {
        uint64_t page = i % MO_PAGES;
        if (page == 0 && i && (e = drop_resident()) != NS_OK)
            break;
        uint64_t idle0 = ns_idle_instret();
        uint64_t d = timed_load(MO_VA + page * 4096);
        uint64_t idle = ns_idle_instret() - idle0;
        d = d > idle ? d - idle : 0;
        if (i >= WARMUP)
            s[i - WARMUP] = d;
    }
    return e;
}

/* fault_storage_map: the kernel alone - walk the map, check the key, take
 * a frame, submit the read, block; the completion interrupt enters the
 * page and wakes us with it mapped. Readahead 1, so each fault is one
 * read of one page. manager_messages counts the requests the manager got
 * over the whole run: none. */
static long bench_fault_storage_map(uint64_t *s, unsigned n)
{
    long e = disk_object();
    if (e == NS_OK)
        e = disk_map();
    if (e == NS_OK)
        e = ns_memobj_control(S_MO, NS_MEMOBJ_CTL_READAHEAD, 1, NULL);
    if (e == NS_OK)
        e = disk_fault_run(s, n);
    struct ns_memobj_stats st;
    if (e == NS_OK)
        e = ns_memobj_stats(S_MO, &st);
    manager_messages = st.requests_made;
    report_messages = e == NS_OK;
    return e;
}

/* The manager of fault_manager_disk: reads each requested page from the
 * disk itself (NS_SYS_DISKRANGE_READ, into its buffer) and supplies it,
 * the last supply of a batch waiting for the next request. */
static void disk_manager(unsigned long unused)
{
    (void)unused;
    struct ns_page_request req[16];
    void *buf = (void *)MGR_BUF_VA;
    uint64_t bits;
    if (ns_wait(S_NTFN, &bits) != NS_OK)
        fail_from_thread("bench: disk manager: wait failed\n");
    for (;;) {
        unsigned long n;
        if (ns_memobj_requests(S_MO, req, 16, &n) != NS_OK)
            fail_from_thread("bench: disk manager: reading requests failed\n");
        long e = NS_OK;
        const char *what = "read";
        for (unsigned long i = 0; i < n && e == NS_OK; i++) {
            e = ns_diskrange_read(S_KEY, req[i].first_page * 8, 8, buf);
            bool wait = i == n - 1 && n < 16;
            what = wait ? "supply and wait" : "supply";
            if (e == NS_OK)
                e = wait ? ns_memobj_supply_wait(S_MO, req[i].first_page, 1, buf, S_NTFN, &bits)
                         : ns_memobj_supply(S_MO, req[i].first_page, 1, buf);
            else
                what = "read";
            if (e != NS_OK) {
                char msg[128];
                snprintf(msg, sizeof(msg),
                         "bench: disk manager: %s of page %lu (request %lu of %lu) failed: %s\n",
                         what, (unsigned long)req[i].first_page, i + 1, n, ns_strerror(e));
                fail_from_thread(msg);
            }
        }
        if (n == 0 && ns_wait(S_NTFN, &bits) != NS_OK)
            fail_from_thread("bench: disk manager: wait failed\n");
    }
}

/* fault_manager_disk: the same fault served by a manager that reads the
 * disk itself: the request, the switch to the manager, its disk read (a
 * system call that blocks for the device and copies the page out), its
 * supply (copying the page in), the switch back. */
static long bench_fault_manager_disk(uint64_t *s, unsigned n)
{
    long e = disk_object();
    if (e == NS_OK)
        e = ns_frame_alloc(NS_SLOT_ROOT_BANK, S_MGR_BUF);
    if (e == NS_OK)
        e = ns_map_frame(NS_SLOT_SELF_ASPACE, S_MGR_BUF, MGR_BUF_VA,
                         NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
    if (e == NS_OK)
        e = start_peer(disk_manager, 0);
    if (e == NS_OK)
        e = disk_fault_run(s, n);
    return e;
}

static const struct bench benches[] = {
    {"null_syscall", bench_null_syscall, 1000, 1},
    {"cap_copy", bench_cap_copy, 1000, 1},
    {"frame_map", bench_frame_map, 1000, 1},
    {"thread_create", bench_thread_create, 1000, 1},
    {"thread_switch", bench_thread_switch, 1000, 1},
    {"ipc_call_reply_0w", bench_ipc_call_reply_0w, 1000, 1},
    {"ipc_call_reply_4w", bench_ipc_call_reply_4w, 1000, 1},
    {"fault_round_trip", bench_fault_round_trip, 1000, 1},
    {"fault_minor", bench_fault_minor, 1000, 1},
    {"fault_major_zero", bench_fault_major_zero, 1000, 1},
    {"fault_major_zero_c16_per_page", bench_fault_major_zero_c16, 1000, READAHEAD},
    {"map_1", bench_map_1, 1000, 1},
    {"map_512", bench_map_512, 1000, 1},
    {"unmap_1", bench_unmap_1, 1000, 1},
    {"unmap_512", bench_unmap_512, 1000, 1},
    {"fault_storage_map", bench_fault_storage_map, 1000, 1},
    {"fault_manager_disk", bench_fault_manager_disk, 1000, 1},
};

/* ---- throughput: sequential reads of the disk, in wall-clock time ----
 *
 * `bench_group=throughput` on the command line runs these instead of the
 * instruction counts: scripts/bench boots a second time for them, without
 * -icount (which would make the device's time meaningless), with a disk of
 * at least SEQ_BYTES of random data and memory for a SEQ_BYTES object. Each
 * run of a figure reads the disk's first SEQ_BYTES once and is timed with
 * ns_clock_us, which follows host time without icount; the figure is MB/s
 * (10^6 bytes a second, as selftest=blkbench reports). Runs go in rounds,
 * one of each figure per round after an uncounted round of warm-up, so a
 * slow spell of the host falls on every figure alike.
 *
 * Every run starts with nothing of the range in memory: the fault figures
 * read a fresh object each time (rather than evicting the last one's
 * pages: nothing of the run before - pages, requests, the page clock's
 * view of them - can remain), and the raw reads go through the kernel's
 * bounce pages, which cache nothing. Each run also folds the first word of every
 * page it read into a digest; runs that disagree read the wrong data, which
 * is an error rather than a number. */

#define SEQ_BYTES       (64ull << 20)
#define SEQ_PAGES       (SEQ_BYTES / 4096)
#define SEQ_SECTORS     (SEQ_BYTES / 512)
#define SEQ_VA          0x40000000ull /* the fault figures' object maps here */
#define SEQ_HEIGHT      4             /* map slots of 16^3 pages, each one key */
#define SEQ_SLOT_PAGES  4096ull
#define SEQ_SLOTS       (SEQ_PAGES / SEQ_SLOT_PAGES)
#define CHUNK_SECTORS   NS_DISK_IO_MAX_SECTORS /* one raw read */
#define CHUNK_BYTES     (CHUNK_SECTORS * 512)
#define CHUNK_PAGES     (CHUNK_BYTES / 4096)
#define SEQ_CHUNKS      (SEQ_SECTORS / CHUNK_SECTORS)
#define QD              32 /* readers of seqread_raw_qd32_mbps */
/* The fault path's readahead for seqread_fault_mbps: a fault reads as
 * much as one raw read does, so it compares with seqread_raw_qd1_mbps
 * request for request (one thread faulting has one read in flight). */
#define SEQ_READAHEAD   CHUNK_PAGES
#define SEQ_READAHEAD_MAX 64 /* NS_MEMOBJ_CTL_READAHEAD's limit */

_Static_assert(SEQ_SLOTS >= 1 && SEQ_SLOTS <= 16 && SEQ_PAGES % SEQ_SLOT_PAGES == 0,
               "the map is one frame of whole slots");
_Static_assert(SEQ_SLOT_PAGES == 1ull << (4 * (SEQ_HEIGHT - 1)), "a root slot's span");
_Static_assert(SEQ_SECTORS % CHUNK_SECTORS == 0, "whole raw reads");
_Static_assert(SEQ_READAHEAD >= 1 && SEQ_READAHEAD <= SEQ_READAHEAD_MAX, "a valid readahead");

/* The raw readers' buffers and stacks: in our image, resident from boot.
 * The kernel copies a read out through page-table entries that exist, so
 * they are touched before the first run. */
static uint8_t chunk_buf[QD][CHUNK_BYTES] __attribute__((aligned(4096)));
static uint64_t reader_stack[QD][512] __attribute__((aligned(16)));

/* A read-only key for the range; the disk must hold it. */
static long seq_key(void)
{
    if (ns_bootinfo->disk_count == 0 || ns_bootinfo->disks[0].sectors < SEQ_SECTORS) {
        printf("bench: the throughput figures need a disk of %lu MiB or more\n",
               (unsigned long)(SEQ_BYTES >> 20));
        return NS_ERR_BAD_STATE;
    }
    return ns_diskrange_derive(NS_SLOT_DISK0, S_KEY, 0, SEQ_SECTORS, NS_RIGHT_READ);
}

/* pageout_write_mbps's range, read-write: the disk's second SEQ_BYTES. */
static long pw_key(void)
{
    if (ns_bootinfo->disks[0].sectors < 2 * SEQ_SECTORS) {
        printf("bench: pageout_write_mbps needs a disk of %lu MiB or more\n",
               (unsigned long)((SEQ_BYTES * 2) >> 20));
        return NS_ERR_BAD_STATE;
    }
    return ns_diskrange_derive(NS_SLOT_DISK0, S_WKEY, SEQ_SECTORS, SEQ_SECTORS,
                               NS_RIGHT_READ | NS_RIGHT_WRITE);
}

/* The first word of each page of a raw read's buffer. */
static uint64_t fold_chunk(const uint8_t *buf)
{
    uint64_t x = 0;
    for (unsigned p = 0; p < CHUNK_PAGES; p++)
        x ^= *(const volatile uint64_t *)(buf + p * 4096);
    return x;
}

/* A fresh object whose storage map puts page p at sector 8p of the
 * range; no manager thread: a request to it would be a kernel bug the
 * stats check below reports (or, had it blocked, scripts/bench's timeout).
 * The window holds one load per page, in order: a major fault on the first
 * page of each readahead run (walk, frames, the device's read, the
 * completion mapping the page) and minor faults on the rest. */
static long seqread_fault(unsigned readahead, uint64_t *us, uint64_t *digest)
{
    long e = ns_memobj_create(NS_SLOT_ROOT_BANK, S_MO, SEQ_BYTES, S_NTFN);
    if (e == NS_OK)
        e = ns_objframe_create(NS_SLOT_ROOT_BANK, S_ROOT);
    for (unsigned i = 0; i < SEQ_SLOTS && e == NS_OK; i++) {
        e = ns_diskrange_derive(S_KEY, S_SCRATCH, i * SEQ_SLOT_PAGES * 8, SEQ_SLOT_PAGES * 8,
                                NS_RIGHT_READ);
        if (e == NS_OK)
            e = ns_objframe_store(S_ROOT, i, S_SCRATCH, NS_RIGHTS_ALL);
        ns_cap_delete(S_SCRATCH);
    }
    if (e == NS_OK)
        e = ns_memobj_set_map(S_MO, S_ROOT, SEQ_HEIGHT);
    if (e == NS_OK)
        e = ns_memobj_control(S_MO, NS_MEMOBJ_CTL_READAHEAD, readahead, NULL);
    if (e == NS_OK)
        e = ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, SEQ_VA, 0, SEQ_PAGES, NS_RIGHT_READ, NULL);
    if (e == NS_OK) {
        uint64_t x = 0, t0 = ns_clock_us();
        for (uint64_t p = 0; p < SEQ_PAGES; p++)
            x ^= *(volatile uint64_t *)(uintptr_t)(SEQ_VA + p * 4096);
        *us = ns_clock_us() - t0;
        *digest = x;
        struct ns_memobj_stats st;
        e = ns_memobj_stats(S_MO, &st);
        if (e == NS_OK && (st.requests_made != 0 || st.map_pages_read != SEQ_PAGES)) {
            printf("bench: the fault run made %lu manager requests and read %lu pages\n",
                   (unsigned long)st.requests_made, (unsigned long)st.map_pages_read);
            e = NS_ERR_BAD_STATE;
        }
        ns_memobj_unmap(NS_SLOT_SELF_ASPACE, SEQ_VA, SEQ_PAGES);
    }
    /* Deleting the last capabilities destroys the object with its pages
     * and (through the kernel's copy going too) the map's frame. */
    ns_cap_delete(S_ROOT);
    ns_cap_delete(S_MO);
    return e;
}

static long tp_seqread_fault(uint64_t *us, uint64_t *digest)
{
    return seqread_fault(SEQ_READAHEAD, us, digest);
}

static long tp_seqread_fault_ra64(uint64_t *us, uint64_t *digest)
{
    return seqread_fault(SEQ_READAHEAD_MAX, us, digest);
}

/* Queue depth 1: one thread, one read of CHUNK_SECTORS at a time, each a
 * system call that blocks until the data is copied out to the buffer. */
static long tp_seqread_raw_qd1(uint64_t *us, uint64_t *digest)
{
    long e = NS_OK;
    uint64_t x = 0, t0 = ns_clock_us();
    for (uint64_t c = 0; c < SEQ_CHUNKS && e == NS_OK; c++) {
        e = ns_diskrange_read(S_KEY, c * CHUNK_SECTORS, CHUNK_SECTORS, chunk_buf[0]);
        x ^= fold_chunk(chunk_buf[0]);
    }
    *us = ns_clock_us() - t0;
    *digest = x;
    return e;
}

/* Queue depth 32: QD threads, each taking the next unread chunk and
 * reading it as seqread_raw_qd1_mbps does, so QD reads are outstanding
 * at once (the kernel takes any number of blocking reads; the driver
 * holds those its queue has no descriptors for and starts them as others
 * complete). */
static uint64_t qd_next, qd_done, qd_digest;
static long qd_error;

static void raw_reader(unsigned long i)
{
    uint64_t x = 0;
    for (;;) {
        uint64_t c = __atomic_fetch_add(&qd_next, 1, __ATOMIC_RELAXED);
        if (c >= SEQ_CHUNKS)
            break;
        long e = ns_diskrange_read(S_KEY, c * CHUNK_SECTORS, CHUNK_SECTORS, chunk_buf[i]);
        if (e != NS_OK) {
            __atomic_store_n(&qd_error, e, __ATOMIC_RELAXED);
            __atomic_store_n(&qd_next, SEQ_CHUNKS, __ATOMIC_RELAXED); /* the others stop too */
            break;
        }
        x ^= fold_chunk(chunk_buf[i]);
    }
    __atomic_fetch_xor(&qd_digest, x, __ATOMIC_RELAXED);
    __atomic_fetch_add(&qd_done, 1, __ATOMIC_RELEASE);
    ns_signal(S_DONE);
    /* Wait here to be deleted rather than exit: the kernel logs every
     * exit on the console, which would be in the other readers' time. */
    uint64_t bits;
    ns_wait(S_PARK, &bits);
    fail_from_thread("bench: a raw reader was woken\n");
}

static long tp_seqread_raw_qd32(uint64_t *us, uint64_t *digest)
{
    qd_next = qd_done = qd_digest = 0;
    qd_error = NS_OK;
    long e = NS_OK;
    unsigned made = 0, started = 0;
    for (; made < QD && e == NS_OK; made++)
        e = ns_thread_create(NS_SLOT_ROOT_BANK, S_WORKER + made, NS_SLOT_SELF_CSPACE,
                             NS_SLOT_SELF_ASPACE);
    /* The window starts before the first reader does: thread start-up is
     * part of reading at depth 32 this way, and a few microseconds. */
    uint64_t t0 = ns_clock_us();
    while (started < QD && e == NS_OK) {
        e = ns_thread_start_fn(S_WORKER + started, raw_reader,
                               (uint64_t)(uintptr_t)&reader_stack[started][512], started);
        started += e == NS_OK; /* only those running will say they are done */
    }
    uint64_t bits;
    while (__atomic_load_n(&qd_done, __ATOMIC_ACQUIRE) < started)
        if (ns_wait(S_DONE, &bits) != NS_OK)
            break;
    *us = ns_clock_us() - t0;
    *digest = qd_digest;
    for (unsigned i = 0; i < made; i++)
        ns_cap_delete(S_WORKER + i);
    return e != NS_OK ? e : qd_error;
}

/* ---- pageout: writing an object larger than the memory it may keep ----
 *
 * A fresh PW_BYTES object whose storage map puts page p at sector 8p of the
 * disk's second PW_BYTES (the first holds the read figures' data, which
 * must not change), charged to a sub-bank of PW_BANK_PAGES: a quarter of
 * the object. The kernel pages out under bank pressure as under machine
 * pressure, so most of the object is written back by the clock while the
 * writer runs, and sync writes the rest. The window runs from the first
 * store to sync's return (the data is durable then) and holds, for every
 * page, a write fault that reads the page through the map first (the
 * kernel cannot know a store will cover the whole page: readahead
 * SEQ_READAHEAD, as seqread_fault_mbps), 512 stores, and its share of the
 * pageout and sync writes. MB/s is of object data written.
 *
 * Each run writes a pattern of its own (a seed per run), so data a run
 * before left on the disk cannot pass the check after the window: the
 * object's pages are evicted (none may stay resident), and a sample of
 * pages is read back raw through the key and compared word by word. */

#define PW_BYTES      (64ull << 20)
#define PW_PAGES      (PW_BYTES / 4096)
#define PW_BANK_PAGES 4096 /* 16 MiB: a quarter of the object */
#define PW_CHECK_STEP 61   /* every 61st page, and the last, are checked */
#define PW_VA         0x50000000ull

_Static_assert(PW_BYTES == SEQ_BYTES, "the same map shape as the read figures");
_Static_assert(PW_BANK_PAGES * 4ull == PW_PAGES, "the bank holds a quarter of the object");

static uint64_t pw_run;                 /* a seed per run */
static struct ns_memobj_stats pw_stats; /* the last run's, reported with the figure */
static bool pw_have_stats;

static inline uint64_t pw_word(uint64_t seed, uint64_t p, uint64_t k)
{
    return (seed * 0x9e3779b97f4a7c15ull) ^ (p << 16) ^ k;
}

/* Page `p` as the key reads it from the disk against the pattern. */
static bool pw_page_ok(uint64_t seed, uint64_t p)
{
    if (ns_diskrange_read(S_WKEY, p * 8, 8, chunk_buf[0]) != NS_OK)
        return false;
    const uint64_t *w = (const uint64_t *)chunk_buf[0];
    for (uint64_t k = 0; k < 512; k++)
        if (w[k] != pw_word(seed, p, k)) {
            printf("bench: pageout page %lu word %lu: %#lx, want %#lx\n", (unsigned long)p,
                   (unsigned long)k, (unsigned long)w[k], (unsigned long)pw_word(seed, p, k));
            return false;
        }
    return true;
}

static long tp_pageout_write(uint64_t *us, uint64_t *digest)
{
    uint64_t seed = ++pw_run;
    *digest = 0; /* not compared: it checks its own data */
    long e = ns_bank_create(NS_SLOT_ROOT_BANK, S_BANK, PW_BANK_PAGES);
    if (e == NS_OK)
        e = ns_memobj_create(S_BANK, S_MO, PW_BYTES, S_NTFN);
    if (e == NS_OK)
        e = ns_objframe_create(S_BANK, S_ROOT);
    for (unsigned i = 0; i < SEQ_SLOTS && e == NS_OK; i++) {
        e = ns_diskrange_derive(S_WKEY, S_SCRATCH, i * SEQ_SLOT_PAGES * 8, SEQ_SLOT_PAGES * 8,
                                NS_RIGHT_READ | NS_RIGHT_WRITE);
        if (e == NS_OK)
            e = ns_objframe_store(S_ROOT, i, S_SCRATCH, NS_RIGHTS_ALL);
        ns_cap_delete(S_SCRATCH);
    }
    if (e == NS_OK)
        e = ns_memobj_set_map(S_MO, S_ROOT, SEQ_HEIGHT);
    if (e == NS_OK)
        e = ns_memobj_control(S_MO, NS_MEMOBJ_CTL_READAHEAD, SEQ_READAHEAD, NULL);
    if (e == NS_OK)
        e = ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, PW_VA, 0, PW_PAGES,
                          NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
    if (e == NS_OK) {
        uint64_t t0 = ns_clock_us();
        for (uint64_t p = 0; p < PW_PAGES; p++) {
            volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)(PW_VA + p * 4096);
            for (uint64_t k = 0; k < 512; k++)
                w[k] = pw_word(seed, p, k);
        }
        e = ns_memobj_sync(S_MO);
        *us = ns_clock_us() - t0;
        if (e == NS_OK)
            e = ns_memobj_stats(S_MO, &pw_stats);
        pw_have_stats = e == NS_OK;
        /* The figure means something only if the object did not fit:
         * the clock must have written pages before sync. */
        if (e == NS_OK &&
            (pw_stats.dirty != 0 || pw_stats.requests_made != 0 || pw_stats.io_errors != 0 ||
             pw_stats.map_pages_written < PW_PAGES || pw_stats.resident > PW_BANK_PAGES)) {
            printf("bench: pageout run: %lu dirty, %lu requests, %lu errors, %lu pages "
                   "written, %lu resident\n",
                   (unsigned long)pw_stats.dirty, (unsigned long)pw_stats.requests_made,
                   (unsigned long)pw_stats.io_errors, (unsigned long)pw_stats.map_pages_written,
                   (unsigned long)pw_stats.resident);
            e = NS_ERR_BAD_STATE;
        }
        ns_memobj_unmap(NS_SLOT_SELF_ASPACE, PW_VA, PW_PAGES);
    }
    /* Evicted, nothing may stay resident; then the disk must hold the
     * run's pattern. */
    uint64_t dropped = 0;
    struct ns_memobj_stats st;
    if (e == NS_OK)
        e = ns_memobj_control(S_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped);
    if (e == NS_OK)
        e = ns_memobj_stats(S_MO, &st);
    if (e == NS_OK && st.resident != 0) {
        printf("bench: pageout run: %lu pages resident after the evict\n",
               (unsigned long)st.resident);
        e = NS_ERR_BAD_STATE;
    }
    for (uint64_t p = 0; e == NS_OK && p < PW_PAGES; p += PW_CHECK_STEP)
        if (!pw_page_ok(seed, p))
            e = NS_ERR_BAD_STATE;
    if (e == NS_OK && !pw_page_ok(seed, PW_PAGES - 1))
        e = NS_ERR_BAD_STATE;
    ns_cap_delete(S_ROOT);
    ns_cap_delete(S_MO);
    ns_bank_destroy(S_BANK);
    ns_cap_delete(S_BANK);
    return e;
}

struct tp_figure {
    const char *name;
    long (*run)(uint64_t *us, uint64_t *digest);
    unsigned readahead; /* the fault path's, reported with it; 0: not a fault figure */
    bool own_check;     /* checks its own data: its digest is not compared */
};

static const struct tp_figure tp_figures[] = {
    {"seqread_fault_mbps", tp_seqread_fault, SEQ_READAHEAD, false},
    {"seqread_raw_qd1_mbps", tp_seqread_raw_qd1, 0, false},
    {"seqread_raw_qd32_mbps", tp_seqread_raw_qd32, 0, false},
    {"seqread_fault_ra64_mbps", tp_seqread_fault_ra64, SEQ_READAHEAD_MAX, false},
    {"pageout_write_mbps", tp_pageout_write, SEQ_READAHEAD, true},
};
#define TP_COUNT (sizeof(tp_figures) / sizeof(tp_figures[0]))

/* The value of `key` (e.g. "bench=") in the kernel command line, or NULL:
 * it runs to the next space. */
static const char *cmdline_word(const char *key)
{
    const char *c = ns_bootinfo->cmdline;
    size_t k = strlen(key);
    for (const char *p = c; *p; p++)
        if ((p == c || p[-1] == ' ') && strncmp(p, key, k) == 0)
            return p + k;
    return NULL;
}

static bool word_is(const char *word, const char *name)
{
    size_t n = strlen(name);
    return strncmp(word, name, n) == 0 && (word[n] == 0 || word[n] == ' ');
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Subtract the empty pair, divide by the operations a sample covers
 * (rounding down), sort, print. The median of an even count is the lower
 * middle sample, so it is always a measured value. */
static void report(const char *name, uint64_t *s, unsigned n, unsigned per)
{
    for (unsigned i = 0; i < n; i++)
        s[i] = (s[i] > pair_cost ? s[i] - pair_cost : 0) / per;
    qsort(s, n, sizeof(*s), cmp_u64);
    char extra[64] = "";
    if (report_messages) /* fault_storage_map: what the manager heard meanwhile */
        snprintf(extra, sizeof(extra), ", \"manager_messages\": %lu",
                 (unsigned long)manager_messages);
    report_messages = false;
    printf("BENCH {\"name\": \"%s\", \"median\": %lu, \"min\": %lu, \"max\": %lu, \"n\": %u, "
           "\"unit\": \"instructions\"%s}\n",
           name, (unsigned long)s[(n - 1) / 2], (unsigned long)s[0], (unsigned long)s[n - 1], n,
           extra);
}

/* ---- the throughput runner ---- */

#define TP_WARMUP   1 /* rounds run first and not counted */
#define TP_RUNS     11 /* counted rounds (bench_n=N for another number) */
#define TP_MAX_RUNS 32

static uint64_t tp_samples[TP_COUNT][TP_MAX_RUNS]; /* tenths of MB/s */

/* Tenths of MB/s as a JSON number: "123.4". */
static const char *tenths(char *buf, size_t len, uint64_t t)
{
    snprintf(buf, len, "%lu.%lu", (unsigned long)(t / 10), (unsigned long)(t % 10));
    return buf;
}

/* As report(), in MB/s; a fault figure says which readahead it used. */
static void report_mbps(const struct tp_figure *f, uint64_t *s, unsigned n)
{
    qsort(s, n, sizeof(*s), cmp_u64);
    char med[24], lo[24], hi[24], extra[160] = "";
    if (f->readahead)
        snprintf(extra, sizeof(extra), ", \"readahead\": %u", f->readahead);
    if (f->run == tp_pageout_write && pw_have_stats) /* the last run's, for information */
        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
                 ", \"map_pages_written\": %lu, \"map_writes\": %lu, \"map_pages_read\": %lu, "
                 "\"bank_pages\": %u",
                 (unsigned long)pw_stats.map_pages_written, (unsigned long)pw_stats.map_writes,
                 (unsigned long)pw_stats.map_pages_read, PW_BANK_PAGES);
    printf("BENCH {\"name\": \"%s\", \"median\": %s, \"min\": %s, \"max\": %s, \"n\": %u, "
           "\"unit\": \"MB/s\"%s}\n",
           f->name, tenths(med, sizeof(med), s[(n - 1) / 2]), tenths(lo, sizeof(lo), s[0]),
           tenths(hi, sizeof(hi), s[n - 1]), n, extra);
}

/* Run the throughput figures (`only`: just that one) `runs` times each;
 * returns how many failed. */
static unsigned run_throughput(const char *only, unsigned runs)
{
    bool on[TP_COUNT];
    unsigned count = 0, failed = 0, got[TP_COUNT] = {0};
    for (unsigned i = 0; i < TP_COUNT; i++) {
        on[i] = !only || word_is(only, tp_figures[i].name);
        count += on[i];
    }
    printf("bench: %u metrics, wall clock: %u runs each (after %u of warm-up) of %lu MiB\n",
           count, runs, TP_WARMUP, (unsigned long)(SEQ_BYTES >> 20));
    long e = seq_key();
    if (e == NS_OK && on[TP_COUNT - 1]) /* pageout_write_mbps, last in the table */
        e = pw_key();
    if (e == NS_OK)
        e = ns_notification_create(NS_SLOT_ROOT_BANK, S_NTFN);
    if (e == NS_OK)
        e = ns_notification_create(NS_SLOT_ROOT_BANK, S_DONE);
    if (e == NS_OK)
        e = ns_notification_create(NS_SLOT_ROOT_BANK, S_PARK);
    if (e != NS_OK) {
        printf("bench: throughput set-up failed: %s\n", ns_strerror(e));
        clear_slots();
        return count;
    }
    ns_touch(chunk_buf, sizeof(chunk_buf), 1);
    ns_touch(reader_stack, sizeof(reader_stack), 1);
    uint64_t want = 0;
    bool have_want = false;
    for (unsigned round = 0; round < TP_WARMUP + runs; round++) {
        for (unsigned i = 0; i < TP_COUNT; i++) {
            if (!on[i])
                continue;
            uint64_t us = 0, digest = 0;
            e = tp_figures[i].run(&us, &digest);
            if (e == NS_OK && !tp_figures[i].own_check && have_want && digest != want) {
                printf("bench: %s read other data than the runs before it (digest %#lx, not "
                       "%#lx)\n",
                       tp_figures[i].name, (unsigned long)digest, (unsigned long)want);
                e = NS_ERR_BAD_STATE;
            }
            if (e != NS_OK) {
                printf("bench: %s failed: %s\n", tp_figures[i].name, ns_strerror(e));
                on[i] = false;
                failed++;
                continue;
            }
            if (!tp_figures[i].own_check) {
                want = digest;
                have_want = true;
            }
            if (round >= TP_WARMUP)
                tp_samples[i][got[i]++] = SEQ_BYTES * 10 / (us ? us : 1);
        }
    }
    for (unsigned i = 0; i < TP_COUNT; i++)
        if (on[i])
            report_mbps(&tp_figures[i], tp_samples[i], got[i]);
    clear_slots();
    return failed;
}

/* ---- scaling: wall clock with 1, 2 and 4 harts busy --------------------
 *
 * `bench_group=scaling` on a machine of several harts (scripts/bench boots
 * it with --smp 4, no icount): the same work on k harts at once, one
 * worker (or client-server pair) placed on each, for k = 1, 2, 4, as
 * operations a second summed over the workers (medians of SC_RUNS runs).
 * Under TCG each hart is a host thread on however many cores the host
 * has (2 here), so beyond that count the figures say as much about the
 * host as about the kernel lock: noisy, and read against each other. */

#define SC_MAX_HARTS 4
#define SC_RUNS      5
#define SC_PAGES     64   /* a minor-fault worker maps, touches and unmaps these */
#define SC_ROUNDS    4    /* ... this many times a run */
#define SC_CALLS     1000 /* round trips of an IPC client a run */
#define SC_VA(i)     (0x50000000ull + (uint64_t)(i)*0x1000000ull)
enum { S_SC_THREAD = 80, S_SC_SERVER = 88, S_SC_EP = 96, S_SC_END = 104 };

static uint64_t sc_stack[2 * SC_MAX_HARTS][1024] __attribute__((aligned(16)));
static volatile unsigned sc_go, sc_done;
static volatile long sc_error;

static void sc_fault_worker(unsigned long i)
{
    while (!sc_go)
        ;
    for (unsigned r = 0; r < SC_ROUNDS && !sc_error; r++) {
        long e =
            ns_memobj_map(NS_SLOT_SELF_ASPACE, S_MO, SC_VA(i), 0, SC_PAGES, NS_RIGHT_READ, NULL);
        for (unsigned p = 0; e == NS_OK && p < SC_PAGES; p++)
            (void)*(volatile uint64_t *)(uintptr_t)(SC_VA(i) + p * 4096ull);
        if (e == NS_OK)
            e = ns_memobj_unmap(NS_SLOT_SELF_ASPACE, SC_VA(i), SC_PAGES);
        if (e != NS_OK)
            sc_error = e;
    }
    __atomic_fetch_add(&sc_done, 1, __ATOMIC_RELEASE);
    ns_thread_exit();
}

static void sc_client(unsigned long i)
{
    while (!sc_go)
        ;
    for (unsigned c = 0; c < SC_CALLS && !sc_error; c++) {
        struct ns_msg m = {.info = NS_MSG_INFO(1, 0, 0)};
        long e = ns_call(S_SC_EP + i, &m);
        if (e != NS_OK)
            sc_error = e;
    }
    __atomic_fetch_add(&sc_done, 1, __ATOMIC_RELEASE);
    ns_thread_exit();
}

/* Thread `slot` running fn(arg) on hart `hart`, a priority below ours (so
 * that our sleeps are what lets a worker on our hart run). */
static long sc_start(unsigned long slot, void (*fn)(unsigned long), unsigned long arg,
                     unsigned hart, unsigned stack)
{
    unsigned long prio;
    long e = ns_thread_info(NS_SLOT_SELF_THREAD, NULL, &prio);
    if (e == NS_OK)
        e = ns_thread_create(NS_SLOT_ROOT_BANK, slot, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE);
    if (e == NS_OK)
        e = ns_thread_set_hart(slot, hart);
    if (e == NS_OK)
        e = ns_thread_set_prio(slot, prio - 1);
    if (e == NS_OK)
        e = ns_thread_start_fn(slot, fn, (uint64_t)(uintptr_t)&sc_stack[stack][1024], arg);
    return e;
}

/* One run with k harts busy: ops a second, or 0 on an error. */
static uint64_t sc_run(bool ipc, unsigned k)
{
    sc_go = sc_done = 0;
    sc_error = 0;
    long e = NS_OK;
    for (unsigned i = 0; i < k && e == NS_OK; i++) {
        if (ipc) {
            e = ns_endpoint_create(NS_SLOT_ROOT_BANK, S_SC_EP + i);
            if (e == NS_OK)
                e = sc_start(S_SC_SERVER + i, echo_server, S_SC_EP + i, i, SC_MAX_HARTS + i);
            if (e == NS_OK)
                e = sc_start(S_SC_THREAD + i, sc_client, i, i, i);
        } else {
            e = sc_start(S_SC_THREAD + i, sc_fault_worker, i, i, i);
        }
    }
    uint64_t t0 = ns_clock_us(), t1 = t0;
    if (e == NS_OK) {
        sc_go = 1;
        while (__atomic_load_n(&sc_done, __ATOMIC_ACQUIRE) < k)
            ns_sleep_us(1000);
        t1 = ns_clock_us();
    }
    for (unsigned s = S_SC_THREAD; s < S_SC_END; s++)
        ns_cap_delete(s);
    if (e != NS_OK || sc_error) {
        printf("bench: scaling %s on %u harts failed: %s\n", ipc ? "ipc" : "faults", k,
               ns_strerror(e != NS_OK ? e : sc_error));
        return 0;
    }
    uint64_t ops = (uint64_t)k * (ipc ? SC_CALLS : SC_ROUNDS * SC_PAGES);
    return ops * 1000000 / (t1 > t0 ? t1 - t0 : 1);
}

static unsigned run_scaling(void)
{
    unsigned harts = (unsigned)ns_bootinfo->hart_count, failed = 0;
    printf("bench: scaling over %u harts, wall clock, %u runs each\n", harts, SC_RUNS);
    ns_touch(sc_stack, sizeof(sc_stack), 1);
    long e = memobj_setup(16);
    if (e == NS_OK)
        e = make_resident();
    if (e != NS_OK) {
        printf("bench: scaling set-up failed: %s\n", ns_strerror(e));
        clear_slots();
        return 1;
    }
    static const unsigned ks[] = {1, 2, 4};
    for (int ipc = 0; ipc < 2; ipc++)
        for (unsigned j = 0; j < 3; j++) {
            unsigned k = ks[j];
            if (k > harts || k > SC_MAX_HARTS)
                continue;
            uint64_t s[SC_RUNS];
            unsigned n = 0;
            for (unsigned r = 0; r < SC_RUNS; r++) {
                uint64_t v = sc_run(ipc, k);
                if (!v)
                    break;
                s[n++] = v;
            }
            if (n < SC_RUNS) {
                failed++;
                continue;
            }
            qsort(s, n, sizeof(*s), cmp_u64);
            printf("BENCH {\"name\": \"scaling_%s_%uharts\", \"median\": %lu, \"min\": %lu, "
                   "\"max\": %lu, \"n\": %u, \"unit\": \"%s\"}\n",
                   ipc ? "ipc_round_trips" : "minor_faults", k, (unsigned long)s[(n - 1) / 2],
                   (unsigned long)s[0], (unsigned long)s[n - 1], n,
                   ipc ? "round trips/s" : "faults/s");
        }
    clear_slots();
    return failed;
}

/* What an empty rdinstret pair counts (1 on QEMU: the first read itself):
 * the least of many, so a timer interrupt in one of them does not count. */
static uint64_t measure_pair_cost(void)
{
    uint64_t least = UINT64_MAX;
    for (unsigned i = 0; i < 1000; i++) {
        uint64_t d;
        TIMED(d, (void)0);
        if (d < least)
            least = d;
    }
    return least;
}

int main(void)
{
    if (!ns_bootinfo) {
        printf("bench: must run as the first program (--init bench)\n");
        return 1;
    }
    /* `bench=NAME` on the kernel command line runs only that metric, and
     * `bench_n=N` takes N samples (scripts/profile uses both), or with
     * `bench_group=throughput` makes N runs of each throughput figure. */
    const char *only = cmdline_word("bench=");
    const char *n_word = cmdline_word("bench_n=");
    const char *group = cmdline_word("bench_group=");
    unsigned n_override = n_word ? (unsigned)strtoul(n_word, NULL, 10) : 0;
    unsigned failed = 0;
    if (group && word_is(group, "scaling")) {
        failed = run_scaling();
        printf("bench: done, %u failed\n", failed);
        ns_shutdown(NS_SLOT_MACHINE, failed ? 1 : 0);
        return 1;
    }
    if (group && word_is(group, "throughput")) {
        unsigned runs = n_override ? n_override : TP_RUNS;
        failed = run_throughput(only, runs < TP_MAX_RUNS ? runs : TP_MAX_RUNS);
        printf("bench: done, %u failed\n", failed);
        ns_shutdown(NS_SLOT_MACHINE, failed ? 1 : 0);
        return 1;
    }
    pair_cost = measure_pair_cost();
    printf("bench: %u metrics, rdinstret pair costs %lu (subtracted)\n",
           (unsigned)(sizeof(benches) / sizeof(benches[0])), (unsigned long)pair_cost);
    for (unsigned i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
        const struct bench *b = &benches[i];
        if (only && !word_is(only, b->name))
            continue;
        unsigned n = n_override ? n_override : b->n;
        n = n < MAX_ITERS ? n : MAX_ITERS;
        long e = b->run(samples, n);
        clear_slots();
        if (e != NS_OK) {
            printf("bench: %s failed: %s\n", b->name, ns_strerror(e));
            failed++;
            continue;
        }
        report(b->name, samples, n, b->per);
    }
    printf("bench: done, %u failed\n", failed);
    ns_shutdown(NS_SLOT_MACHINE, failed ? 1 : 0);
    return 1;
}
