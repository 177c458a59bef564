/* A fake of the rest of the kernel, so host tests can run the real
 * kernel/core/ipc.c and memobj/memobj.c (with the real cap.c, kobj.c,
 * bank.c and object.c) the way Hafnium and coreboot test kernel code on
 * the host.
 *
 * What is faked, and how faithfully:
 *   - kcache_alloc/kcache_free: calloc-backed but type-stable, like
 *     kmem.c: a freed object goes on its cache's free list (never back to
 *     libc until fk_fini), its first KCACHE_KEEP bytes (type, live flag,
 *     generation) survive reuse, so stale capabilities and reply links
 *     keep meaning what they mean in the kernel. The rest of a freed
 *     object is ASan-poisoned: a read of a dead thread beyond its
 *     generation is reported as use-after-free.
 *   - the scheduler: one hart; a run queue recorded as an array in the
 *     order threads were made ready, so tests can see who is runnable
 *     (a thread making a system call is runnable too: the fake has no
 *     "running"). Waking a dead thread or readying a queued one is counted
 *     as an error (fk_errors), as is stopping a dead thread. The IPC fast
 *     paths' sched_switch_to checks its contract and longjmps back to the
 *     test (see fk_switch_env).
 *   - thread_can_run is thread.h's own inline rule, not a fake; thread_stop
 *     only records; memobj_cancel_wait, memobj_aspace_init and
 *     memobj_aspace_teardown are weak stubs, replaced by the real ones
 *     when a test links memobj.c.
 *   - threads, address spaces and capability spaces: kernel objects
 *     charged to one root bank. An address space is a table of PTEs
 *     (struct fk_pte: va -> frame with rights) instead of Sv39 tables:
 *     fk_map puts a malloc'ed page there, the kernel's aspace_enter puts
 *     its own frames; aspace_user_page, aspace_lookup and the user copies
 *     read it, so tests can assert exactly which PTEs each space holds.
 *     Thread destroy, suspend and resume copy what thread.c does.
 *   - kernel pages (kmem_page_alloc*): page-aligned malloc, counted, with
 *     "physical" addresses chosen so that vm.h's direct-map arithmetic
 *     (pa + DIRECT_MAP_BASE, wrapping) gives back the host pointer. Dirty
 *     pages and kcache_alloc_uninit objects come filled with junk, so a
 *     field or byte the caller forgets to set shows.
 *   - kcache_alloc_uninit (inline in kmem.h) pops the free list and calls
 *     kcache_grow when it is empty. A cache it has grown keeps its freed
 *     objects on a fake-private list, poisoned, and hands them back only
 *     through kcache_grow, which unpoisons them: use-after-free stays
 *     visible for those caches too.
 *   - user copies (arch_copy_from_user/arch_copy_to_user) go through the
 *     PTEs of the space of the thread set by fk_set_current - the one in
 *     the kernel, whose table satp holds - and fail on a page without a
 *     PTE with the rights the copy needs.
 *   - timer_now reads a clock the test sets (fk_set_time).
 * The harness holds, in a cspace of its own, a capability to the root bank
 * (every thread's slot FK_SLOT_BANK is derived from it) and one to each
 * thread; fk_fini tears the root bank down, which destroys everything. */
#ifndef NEWSYS_TESTS_HOST_FAKE_KERNEL_H
#define NEWSYS_TESTS_HOST_FAKE_KERNEL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/newsys/ipc.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/ipc.h"
#include "kernel/core/notification.h"
#include "kernel/core/thread.h"

#define FK_MAX_THREADS 64
#define FK_SLOT_BANK   0             /* every fake thread's slot 0 holds the root bank */
#define FK_IPC_VA      0x10000000ull /* where a fake thread's IPC buffer is */

/* One PTE of a fake address space. */
struct fk_pte {
    uint64_t va, pa; /* page aligned */
    uint32_t rights; /* NS_RIGHT_READ/WRITE/EXEC */
    void *owned;     /* the page fk_map made (freed with the space); NULL for a kernel frame */
    uint64_t bits;   /* the PTE's flag bits, as aspace.c would hold them (pte.h) */
};

struct fake_aspace {
    struct aspace as; /* first: the aspace_* functions cast back */
    uint32_t magic;
    size_t npte, cap;
    struct fk_pte *pte;
};

/* Does the clock see the page as used (pte_logical's A bit)? */
bool fk_pte_accessed(const struct fk_pte *e);
/* Would the hardware page-table walker find the entry valid? */
bool fk_pte_walkable(const struct fk_pte *e);

/* A fresh world: types registered, root bank, empty run queue. */
void fk_init(void);
/* Destroy everything (root bank teardown) and free all memory; returns how
 * many cache objects and kernel pages were still allocated after the
 * teardown (leaks). */
uint64_t fk_fini(void);

struct hart *fk_hart(void);
struct bank *fk_root_bank(void);

/* A runnable thread with its own capability space of `nslots` slots (slot
 * FK_SLOT_BANK holds the root bank, the rest are empty) and address space,
 * and, if `ipc_buffer`, an IPC buffer page mapped writable at FK_IPC_VA. */
struct thread *fk_thread(const char *name, uint32_t nslots, bool ipc_buffer);
/* The thread's IPC buffer page (NULL if none is mapped). */
struct ns_ipc_buffer *fk_ipc_buffer(struct thread *t);
/* A runnable thread like fk_thread's, without an IPC buffer, running in
 * the address space of `other` (threads of one process). */
struct thread *fk_thread_in(const char *name, uint32_t nslots, struct thread *other);
/* Map a fresh zeroed page at `va` in t's address space (a PTE with READ,
 * and WRITE if `writable`). */
void *fk_map(struct thread *t, uint64_t va, bool writable);
/* Destroy a thread now, whatever capabilities to it exist (as when its
 * bank goes): the kernel's thread destroy hook runs. */
void fk_thread_destroy(struct thread *t);
/* What sys_thread_suspend / sys_thread_resume do to the thread. */
void fk_suspend(struct thread *t);
void fk_resume(struct thread *t);

/* Objects created through the real system calls, with t's bank slot. */
enum ns_error fk_endpoint(struct thread *t, uint32_t slot);
enum ns_error fk_notification(struct thread *t, uint32_t slot);
/* Mint a copy of from's slot into to's slot (badge 0: plain copy). */
enum ns_error fk_give(struct thread *from, uint32_t fslot, struct thread *to, uint32_t tslot,
                      uint32_t rights, uint64_t badge);
/* Put a capability to `target` (all rights) in holder's slot. */
void fk_give_thread_cap(struct thread *holder, uint32_t slot, struct thread *target);
/* Put a capability (all rights) to the address space `of` runs in, in
 * holder's slot. */
void fk_give_aspace(struct thread *holder, uint32_t slot, struct thread *of);
/* A sub-bank of the root bank limited to `limit_bytes` (rounded down to
 * pages), with its capability (all rights) in holder's slot. */
struct bank *fk_bank(struct thread *holder, uint32_t slot, uint64_t limit_bytes);
/* The endpoint or notification a thread's slot names. */
struct endpoint *fk_ep(struct thread *t, uint32_t slot);
struct notification *fk_ntfn(struct thread *t, uint32_t slot);

/* The IPC fast paths end in sched_switch_to, which never returns: the fake
 * one longjmps to fk_switch_env() (which also forgets the last switch),
 * after recording the target. The test sets the thread that is "in the
 * kernel" first: sched_ready_above does not count it, as the real one does
 * not count the current thread. */
void fk_set_current(struct thread *t);
jmp_buf *fk_switch_env(void);
struct thread *fk_switched_to(void);

/* The recorded run queue. */
size_t fk_runq_len(void);
struct thread *fk_runq_at(size_t i);
/* How many times `t` is on the run queue (0 or 1 unless broken). */
unsigned fk_on_runq(const struct thread *t);

/* thread_stop calls: how many, the last thread and reason. */
unsigned fk_stop_count(void);
struct thread *fk_last_stopped(void);
const char *fk_last_stop_reason(void);

/* The PTEs of a space: how many, the i-th (in no particular order), the
 * one for the page holding `va` (NULL if none). */
size_t fk_pte_count(const struct aspace *as);
const struct fk_pte *fk_pte_at(const struct aspace *as, size_t i);
const struct fk_pte *fk_pte_find(const struct aspace *as, uint64_t va);
/* aspace_flush_page calls so far. */
uint64_t fk_flushes(void);
/* Shootdown batches open now (aspace.h): 0 between system calls. */
unsigned fk_batch_depth(void);
/* What kmem_free_pages says (UINT64_MAX: no pressure, the default). */
void fk_set_free_pages(uint64_t n);
/* The next `n` aspace_enter calls fail with NS_ERR_NO_QUOTA (a page table
 * that cannot be charged). */
void fk_fail_enter(unsigned n);

/* Kernel pages allocated now (kmem_page_alloc*, not yet freed). */
uint64_t fk_pages_live(void);
/* Page allocation fails once `n` more pages have been handed out (UINT64_MAX:
 * never, the default). */
void fk_page_limit(uint64_t n);

/* The time timer_now() returns. */
void fk_set_time(uint64_t now);

/* Objects currently allocated from the cache named `name`. */
uint64_t fk_cache_allocated(const char *name);

/* Misuse the fake noticed (see above); the first message is kept. */
unsigned fk_errors(void);
const char *fk_first_error(void);

#endif
