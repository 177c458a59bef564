/* fuzz: a hostile program for the kernel. It issues a seeded, reproducible
 * stream of random system calls with random arguments - slot numbers that
 * are valid, empty, out of range or huge; pointers into its own memory,
 * unmapped, into the kernel half, misaligned or wrapping; random rights,
 * badges, lengths and message infos - against a pool of objects of every
 * kind it creates from its own bank, and counts the error codes it gets.
 *
 * It runs as a child of the fuzz test (tests/guest/fuzztest.c), which
 * gives it a small bank (so its creations are bounded by quota, not by the
 * kernel's memory), no machine capability, and a watchdog that cancels the
 * IPC or sleep it may block in. The kernel must survive everything; what
 * the calls return is only counted.
 *
 * What is left out, and why: thread exit on its own thread (it would just
 * end the run; the watchdog restarts a fuzzer that stops anyway) and
 * SHUTDOWN with the machine capability (it has none; the call is still
 * issued and must fail). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "user/rt/newsys.h"
#include "user/rt/spawn.h"

/* Given by the fuzz test at slot NS_SLOT_FIRST_GIVEN: a send-only,
 * badged capability to its progress endpoint. */
#define SLOT_PROGRESS  NS_SLOT_FIRST_GIVEN
#define LABEL_PROGRESS 0x50
#define LABEL_DONE     0xd0

static uint64_t pool_first; /* slots [pool_first, nslots) are the playground */

static uint64_t rng;

static uint64_t next(void)
{
    /* xorshift64*: small, fast, and enough for argument soup */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t n)
{
    return n ? next() % n : 0;
}

static uint64_t nslots;
static uint8_t scratch[4096] __attribute__((aligned(4096)));

static uint64_t rand_slot(void)
{
    switch (below(8)) {
    case 0:
        return below(pool_first); /* its own, given and frame slots */
    case 1:
        return nslots + below(4); /* just past the end */
    case 2:
        return next(); /* anything */
    case 3:
        return 1ull << below(64);
    default:
        return pool_first + below(nslots - pool_first);
    }
}

static uint64_t rand_ptr(void)
{
    switch (below(7)) {
    case 0:
        return (uint64_t)(uintptr_t)scratch + below(4096);
    case 1:
        return 0;
    case 2:
        return 0xffffffc000000000ull + below(1ull << 30); /* kernel half */
    case 3:
        return 0x3ffffff000ull + below(0x2000); /* crossing the top */
    case 4:
        return 0x100000000ull + (below(1 << 20) << 12); /* likely unmapped */
    case 5:
        return (uint64_t)(uintptr_t)scratch + 4096 - below(8); /* page end */
    default:
        return next();
    }
}

static uint64_t rand_word(void)
{
    switch (below(6)) {
    case 0:
        return 0;
    case 1:
        return below(16);
    case 2:
        return NS_RIGHTS_ALL & next();
    case 3:
        return UINT64_MAX - below(4);
    case 4:
        return NS_MSG_INFO(below(8), below(70), below(6));
    default:
        return next();
    }
}

static uint64_t rand_arg(void)
{
    switch (below(4)) {
    case 0:
        return rand_slot();
    case 1:
        return rand_ptr();
    default:
        return rand_word();
    }
}

/* The calls worth issuing more often: the ones that create the objects the
 * others then act on. */
static const unsigned creators[] = {
    NS_SYS_FRAME_ALLOC,   NS_SYS_ENDPOINT_CREATE, NS_SYS_NOTIFICATION_CREATE,
    NS_SYS_BANK_CREATE,   NS_SYS_ASPACE_CREATE,   NS_SYS_CSPACE_CREATE,
    NS_SYS_THREAD_CREATE, NS_SYS_CAP_COPY,        NS_SYS_CAP_MINT,
};

static struct ns_ret issue(unsigned long nr, uint64_t a[6])
{
    if (nr == NS_SYS_THREAD_EXIT)
        nr = NS_SYS_NOP;
    /* Leave the progress capability alone (its slot is still used as an
     * argument anywhere else): losing it would only blind the watchdog. */
    if ((nr == NS_SYS_CAP_DELETE || nr == NS_SYS_CAP_REVOKE || nr == NS_SYS_CAP_MOVE) &&
        a[0] == SLOT_PROGRESS)
        a[0] = pool_first;
    if (nr == NS_SYS_SLEEP && below(4))
        a[0] = below(2000); /* mostly short sleeps */
    if (nr == NS_SYS_DEBUG_WRITE && below(8))
        a[1] = below(32); /* mostly short writes: the console is shared */
    return ns_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#define IPCBUF_VA 0x70000000ull

static uint64_t errors[NS_ERR_COUNT + 1];

/* Progress and the error counts so far: word 0 the calls made, words
 * 4 .. 4 + NS_ERR_COUNT the counts (through the IPC buffer, if the fuzzing
 * has not taken it away; otherwise only the count gets through). */
static void report(uint64_t label, uint64_t done)
{
    struct ns_ipc_buffer *buf = (struct ns_ipc_buffer *)(uintptr_t)IPCBUF_VA;
    struct ns_msg m = {.info = NS_MSG_INFO(label, 4 + NS_ERR_COUNT + 1, 0), .w = {done}};
    for (unsigned e = 0; e <= NS_ERR_COUNT; e++)
        buf->mr[4 + e] = errors[e];
    if (ns_send(SLOT_PROGRESS, &m) != NS_OK) {
        m.info = NS_MSG_INFO(label, 1, 0);
        m.w[0] = done;
        ns_send(SLOT_PROGRESS, &m);
    }
}

static void setup_ipc_buffer(void)
{
    unsigned long f = pool_first; /* the first pool slot, before the chaos */
    if (ns_frame_alloc(NS_SLOT_ROOT_BANK, f) == NS_OK &&
        ns_map_frame(NS_SLOT_SELF_ASPACE, f, IPCBUF_VA, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL) ==
            NS_OK)
        ns_thread_set_ipc_buffer(NS_SLOT_SELF_THREAD, IPCBUF_VA);
}

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (!pi) {
        printf("fuzz: must be spawned by the fuzz test\n");
        return 1;
    }
    /* The argument packs the seed (low 40 bits) and the number of calls to
     * make (high 24 bits, in thousands). */
    rng = (pi->arg & ((1ull << 40) - 1)) | 1;
    uint64_t count = (pi->arg >> 40) * 1000;
    nslots = pi->cspace_slots;
    pool_first = pi->free_slot_first;
    memset(scratch, '.', sizeof(scratch)); /* what a valid debug write prints */
    setup_ipc_buffer();

    for (uint64_t i = 0; i < count; i++) {
        uint64_t a[6];
        unsigned long nr;
        for (int k = 0; k < 6; k++)
            a[k] = rand_arg();
        if (below(3) == 0) {
            nr = creators[below(sizeof(creators) / sizeof(creators[0]))];
            a[0] = below(2) ? NS_SLOT_ROOT_BANK : rand_slot(); /* its bank */
            a[1] = pool_first + below(nslots - pool_first);
        } else {
            nr = below(NS_SYS_COUNT + 3);
        }
        struct ns_ret r = issue(nr, a);
        uint64_t e = (uint64_t)r.err < NS_ERR_COUNT ? (uint64_t)r.err : NS_ERR_COUNT;
        errors[e]++;
        if ((i & 1023) == 1023)
            report(LABEL_PROGRESS, i + 1);
    }
    printf("fuzz: %lu calls, seed %lu; results:", (unsigned long)count,
           (unsigned long)(pi->arg & ((1ull << 40) - 1)));
    for (unsigned e = 0; e <= NS_ERR_COUNT; e++)
        if (errors[e])
            printf(" %s=%lu", e < NS_ERR_COUNT ? ns_strerror((long)e) : "other",
                   (unsigned long)errors[e]);
    printf("\n");
    report(LABEL_DONE, count);
    return 0;
}
