/* The system-call fuzz test: `scripts/run --init fuzztest [--append
 * "seed=N calls=N"]`.
 *
 * It spawns two programs at the same priority, each in its own bank:
 *   - user/fuzz, a hostile process issuing a seeded stream of random system
 *     calls with random arguments and capabilities (at least 100,000 by
 *     default), reporting its progress through an endpoint;
 *   - user/worker, which does useful work (a sieve in its own memory, FP
 *     arithmetic, IPC between its threads) and reports results the test
 *     knows in advance.
 * A watchdog thread of the test notices when the fuzzer stops making
 * progress - blocked in a receive nobody will answer, asleep for years,
 * suspended by itself - and unsticks it (suspend + resume cancels the IPC
 * or sleep); if the fuzzer destroyed itself (its bank, say), the next one
 * is spawned with the next seed until the calls are all made. Passing
 * means: the kernel is still here, the worker's results are exact, the
 * calls were made, and every bank came back. Ends "N passed, N failed". */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define LABEL_PROGRESS 0x50
#define LABEL_DONE     0xd0
#define LABEL_RESULT   0x7e5
#define BADGE_FUZZ     0xf022
#define BADGE_WORKER   0x3044
#define WORKER_ROUNDS  6
#define PRIO_CHILDREN  90

static unsigned long ep;
#define IPCBUF_VA 0x60002000ull

static volatile uint64_t progress, fuzz_done_calls;
static volatile uint64_t hist_current[NS_ERR_COUNT + 1]; /* of the running fuzzer */
static uint64_t hist_total[NS_ERR_COUNT + 1];
static volatile uint64_t worker_result[3];
static volatile bool worker_done, fuzz_done;

static uint64_t arg_of(const char *key, uint64_t dflt)
{
    const char *s = strstr(ns_bootinfo->cmdline, key);
    return s ? strtoull(s + strlen(key), NULL, 0) : dflt;
}

/* Receives everything sent to the test's endpoint: progress from the
 * fuzzer, results from the worker. The fuzzer may also send garbage there;
 * only well-formed messages with the right badge count. */
static void collector(unsigned long unused)
{
    (void)unused;
    struct ns_msg m = {0};
    for (;;) {
        if (ns_recv(ep, &m) != NS_OK)
            continue;
        uint64_t label = NS_MSG_LABEL(m.info);
        if (m.badge == BADGE_FUZZ && (label == LABEL_PROGRESS || label == LABEL_DONE)) {
            progress = m.w[0];
            const struct ns_ipc_buffer *buf = (const struct ns_ipc_buffer *)IPCBUF_VA;
            if (NS_MSG_LEN(m.info) == 4 + NS_ERR_COUNT + 1)
                for (unsigned e = 0; e <= NS_ERR_COUNT; e++)
                    hist_current[e] = buf->mr[4 + e];
            if (label == LABEL_DONE) {
                fuzz_done_calls = m.w[0];
                fuzz_done = true;
            }
        } else if (m.badge == BADGE_WORKER && label == LABEL_RESULT) {
            worker_result[0] = m.w[0];
            worker_result[1] = m.w[1];
            worker_result[2] = m.w[2];
            worker_done = true;
        }
        m.info = 0;
        ns_reply(&m); /* a caller (the fuzzer calling at random) is not left hanging */
    }
}

static long spawn_with_report(const char *name, uint64_t arg, uint64_t badge, uint64_t pages,
                              struct ns_process *p)
{
    unsigned long minted;
    long e = ns_slot_alloc(&minted);
    if (e == NS_OK)
        e = ns_cap_mint(ep, minted, NS_RIGHT_WRITE, badge);
    if (e != NS_OK)
        return e;
    struct ns_spawn_cap cap = {.src = minted, .dst = NS_SLOT_FIRST_GIVEN, .rights = NS_RIGHT_WRITE};
    struct ns_spawn_opts o = {.arg = arg,
                              .bank_pages = pages,
                              .priority = PRIO_CHILDREN,
                              .free_slots = 128,
                              .ncaps = 1,
                              .caps = &cap};
    e = ns_spawn(name, &o, p);
    ns_slot_free(minted);
    return e;
}

int main(void)
{
    if (!ns_bootinfo)
        return 1;
    uint64_t seed = arg_of("seed=", 1), calls = arg_of("calls=", 100000);
    unsigned passed = 0, failed = 0;
#define RESULT(cond, ...)                                                                          \
    do {                                                                                           \
        bool ok_ = (cond);                                                                         \
        printf("%s ", ok_ ? "PASS" : "FAIL");                                                      \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        ok_ ? passed++ : failed++;                                                                 \
    } while (0)

    /* The collector thread, with a stack and an IPC buffer of its own. */
    unsigned long thread, stack, ipcbuf;
    ns_slot_alloc(&ep);
    ns_slot_alloc(&thread);
    ns_slot_alloc(&stack);
    ns_slot_alloc(&ipcbuf);
    if (ns_endpoint_create(NS_SLOT_ROOT_BANK, ep) || ns_frame_alloc(NS_SLOT_ROOT_BANK, stack) ||
        ns_map_frame(NS_SLOT_SELF_ASPACE, stack, 0x60000000, NS_RIGHT_READ | NS_RIGHT_WRITE,
                     NULL) ||
        ns_frame_alloc(NS_SLOT_ROOT_BANK, ipcbuf) ||
        ns_map_frame(NS_SLOT_SELF_ASPACE, ipcbuf, IPCBUF_VA, NS_RIGHT_READ | NS_RIGHT_WRITE,
                     NULL) ||
        ns_thread_create(NS_SLOT_ROOT_BANK, thread, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE) ||
        ns_thread_set_ipc_buffer(thread, IPCBUF_VA) ||
        ns_thread_start_fn(thread, collector, 0x60001000, 0)) {
        printf("fuzztest: cannot set up\n");
        ns_shutdown(NS_SLOT_MACHINE, 1);
    }

    /* Measured with the collector in place: its page tables stay with our
     * address space, as page tables do. */
    uint64_t used_before;
    ns_bank_info(NS_SLOT_ROOT_BANK, NULL, &used_before);

    struct ns_process worker, fuzz;
    long e = spawn_with_report("worker", WORKER_ROUNDS, BADGE_WORKER, 256, &worker);
    RESULT(e == NS_OK, "spawn worker (%s)", ns_strerror(e));

    printf("fuzztest: %lu calls, seed %lu\n", (unsigned long)calls, (unsigned long)seed);
    uint64_t total = 0, restarts = 0, unsticks = 0;
    uint64_t t0 = ns_clock_us();
    while (total < calls) {
        uint64_t batch = (calls - total + 999) / 1000; /* in thousands */
        progress = 0;
        fuzz_done = false;
        for (unsigned k = 0; k <= NS_ERR_COUNT; k++)
            hist_current[k] = 0;
        e = spawn_with_report("fuzz", (batch << 40) | (seed + restarts), BADGE_FUZZ, 64, &fuzz);
        if (e != NS_OK) {
            printf("fuzztest: cannot spawn the fuzzer: %s\n", ns_strerror(e));
            break;
        }
        uint64_t last = 0, stuck = 0;
        for (;;) {
            ns_sleep_us(5000);
            if (fuzz_done)
                break;
            unsigned long state;
            if (ns_thread_info(fuzz.thread, &state, NULL) != NS_OK || state == NS_THREAD_STOPPED)
                break; /* it destroyed or stopped itself */
            if (progress == last) {
                /* No progress for 5 ms: blocked, asleep or suspended.
                 * Suspending cancels an IPC or a sleep; resuming lets it on.
                 * A fault that waits for a page of an object nobody serves
                 * (one it made itself, deadline switched off) waits again
                 * after every resume: after a second of that, start over. */
                if (++stuck == 200)
                    break;
                ns_thread_suspend(fuzz.thread);
                ns_thread_resume(fuzz.thread);
                unsticks++;
            } else {
                stuck = 0;
            }
            last = progress;
        }
        total += fuzz_done ? fuzz_done_calls : progress;
        for (unsigned k = 0; k <= NS_ERR_COUNT; k++)
            hist_total[k] += hist_current[k];
        if (!fuzz_done)
            restarts++;
        ns_process_destroy(&fuzz);
        if (fuzz_done)
            break;
        if (restarts > 200)
            break;
    }
    uint64_t secs_ms = (ns_clock_us() - t0) / 1000;
    printf("fuzztest: %lu calls in %lu ms, %lu restarts, %lu unsticks\n", (unsigned long)total,
           (unsigned long)secs_ms, (unsigned long)restarts, (unsigned long)unsticks);
    printf("fuzztest: results of the calls counted:");
    for (unsigned k = 0; k <= NS_ERR_COUNT; k++)
        if (hist_total[k])
            printf(" %s=%lu", k < NS_ERR_COUNT ? ns_strerror((long)k) : "other",
                   (unsigned long)hist_total[k]);
    printf("\n");
    RESULT(total >= calls, "the fuzzer made %lu of %lu calls", (unsigned long)total,
           (unsigned long)calls);

    e = ns_process_wait(&worker, 60000000);
    for (int i = 0; i < 100 && !worker_done; i++)
        ns_sleep_us(10000);
    RESULT(worker_done && worker_result[0] == 6542ull * WORKER_ROUNDS &&
               worker_result[1] == 50ull * WORKER_ROUNDS && worker_result[2] == 1643934,
           "worker results: %lu primes, %lu messages, series %lu", (unsigned long)worker_result[0],
           (unsigned long)worker_result[1], (unsigned long)worker_result[2]);
    ns_process_destroy(&worker);

    uint64_t used_after;
    ns_bank_info(NS_SLOT_ROOT_BANK, NULL, &used_after);
    RESULT(used_after == used_before, "every bank came back (%lu bytes before, %lu after)",
           (unsigned long)used_before, (unsigned long)used_after);
    RESULT(ns_nop() == NS_OK, "the kernel still answers");

    printf("%u passed, %u failed\n", passed, failed);
    ns_shutdown(NS_SLOT_MACHINE, failed ? 1 : 0);
    return 1;
}
