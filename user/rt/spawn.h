/* Starting programs from user mode.
 *
 * ns_spawn() builds a new process out of the initrd with nothing but system
 * calls: it finds the program in the cpio archive, checks the ELF with the
 * same parsers the kernel uses (kernel/lib/cpio.c, elf.c), and creates, all
 * charged to a fresh sub-bank of the caller's bank, a capability space, an
 * address space and a thread, and maps every page of the child from a
 * memory object:
 *   - read-only segments straight from the initrd's memory object (the
 *     caller's initrd capability: NS_SLOT_INITRD in init, procinfo's
 *     initrd_slot in a child given one), when their file data is
 *     page-congruent with their address (scripts/mkinitrd page-aligns file
 *     data) and holds all of them;
 *   - the image object: the process-info page (below), the writable data
 *     and BSS, and any read-only segment that cannot be mapped in place,
 *     copied in through a scratch mapping in the caller's space (W^X holds:
 *     the ELF check refuses W+X);
 *   - the stack object, and the heap object (see sbrk in heap.c).
 * Where those three objects come from is the choice of opts->pager:
 *   - a pager: an endpoint of a zero-fill manager (managers/zero, protocol
 *     in zero.h). It creates them charged to the child's bank (the bank
 *     goes along in the request) and enters the image pages the spawner
 *     writes at once; every other page it supplies when first touched, so
 *     an untouched heap or stack page costs nothing. The heap defaults to
 *     NS_SPAWN_DEFAULT_HEAP_PAGES;
 *   - none (resident, for managers themselves, which must never wait on a
 *     manager): the spawner creates the objects from the child's bank as
 *     their manager (with a notification that is never signalled) and
 *     preloads every page. No heap unless opts->heap_pages asks for one
 *     (all of it resident). The child gets no MANAGE right.
 * Destroying the child's sub-bank reclaims every object of the child, those
 * a pager made included, so the caller's accounting comes back exactly;
 * ns_process_destroy() does it. (While the child runs, the reverse-map
 * entries of its initrd pages are charged to the initrd object's bank.)
 *
 * Convention for spawned programs (the counterpart of bootinfo.h for init):
 *   a0 at entry = NS_PROCINFO_VA, a read-only page holding struct
 *   ns_procinfo (magic NS_PROCINFO_MAGIC): the argument word, the program's
 *   name, the layout of its address and capability spaces:
 *     0                       null
 *     1..4                    its thread, address space, capability space and
 *                             bank (NS_SLOT_SELF_THREAD .. NS_SLOT_ROOT_BANK:
 *                             the "root bank" of a child is its own bank)
 *     5..15                   capabilities the parent passed (opts->caps)
 *     mem_slot_first ...      its memory objects (mem_slot_count of them):
 *                             image, stack, then the heap if it has one
 *                             (read, write, execute); then the initrd object
 *                             (read, execute) with NS_SPAWN_GIVE_INITRD
 *     free_slot_first .. end  free for the program (slots.h manages them)
 *   ns_procinfo() returns the page in a spawned program, NULL otherwise
 *   (init has ns_bootinfo instead). The stack ends at NS_STACK_TOP, the
 *   heap starts at NS_HEAP_VA. With NS_SPAWN_GIVE_INITRD the initrd is
 *   mapped read-only at NS_INITRD_VA, as in init, and the child may spawn.
 *   exit(status) leaves status where ns_process_wait() finds it.
 *
 * The scratch page and the info page sit in the same 2 MiB page-table leaf as
 * the boot-info page (init) or the info page (children), so the temporary
 * mappings never allocate page-table pages charged to the caller for good.
 * Only one thread of a process may spawn at a time (one scratch page), and
 * with a pager it must be the main thread: the requests go through the
 * runtime's IPC buffer (ns_ipc_buffer()), which must be the thread's.
 *
 * Errors (every failure undoes everything: the sub-bank is destroyed, the
 * scratch page unmapped and the caller's slots are given back):
 *   NS_ERR_INVALID_ARG    name NULL, empty or too long, or not in the initrd;
 *                         opts out of range (stack, heap or slot counts,
 *                         unknown flags); the pager refused a request
 *   NS_ERR_WRONG_TYPE     the initrd entry is not a loadable RISC-V program
 *                         (or the archive is malformed)
 *   NS_ERR_BAD_STATE      no initrd known (a child that was not given one)
 *   NS_ERR_TOO_MANY_CAPS, NS_ERR_INVALID_SLOT, NS_ERR_SLOT_OCCUPIED
 *                         opts->caps: more than NS_SPAWN_MAX_CAPS, a
 *                         destination outside 5..15, or one named twice
 *   NS_ERR_NO_QUOTA       the child's bank limit (or the caller's bank, or
 *                         the caller's free slots, or the pager's table) is
 *                         too small
 *   anything a system call returns (NS_ERR_NO_RIGHTS, NS_ERR_NO_MEMORY, ...),
 *   the pager's IPC included (NS_ERR_DEAD_OBJECT: the pager is gone) */
#ifndef NEWSYS_USER_SPAWN_H
#define NEWSYS_USER_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "user/rt/newsys.h"

#define NS_PROCINFO_MAGIC   0x4e5350726f63496eull /* "NSProcIn" */
#define NS_PROCINFO_VA      (NS_BOOTINFO_VA + 0x1000)
#define NS_SPAWN_SCRATCH_VA (NS_BOOTINFO_VA + 0x2000)
#define NS_HEAP_VA          0x1000000000ull
#define NS_SPAWN_NAME_MAX   64 /* with the NUL */

#define NS_SLOT_FIRST_GIVEN NS_SLOT_MACHINE /* 5: first slot for opts->caps */
#define NS_SPAWN_MAX_CAPS   (NS_SLOT_FIRST_FREE - NS_SLOT_FIRST_GIVEN)

/* Defaults for zeroed options. */
#define NS_SPAWN_DEFAULT_BANK_PAGES  256
#define NS_SPAWN_DEFAULT_STACK_PAGES 4
#define NS_SPAWN_DEFAULT_FREE_SLOTS  64
#define NS_SPAWN_DEFAULT_HEAP_PAGES  16384 /* 64 MiB, with a pager: untouched pages cost nothing */
#define NS_SPAWN_MAX_STACK_PAGES     1024
#define NS_SPAWN_MAX_HEAP_PAGES      (1ull << 22) /* 16 GiB, below NS_INITRD_VA */

/* opts->flags */
#define NS_SPAWN_GIVE_INITRD (1u << 0) /* the child gets the initrd (and may spawn) */
#define NS_SPAWN_NO_HEAP     (1u << 1) /* no heap even with a pager */

struct ns_procinfo {
    uint64_t magic;
    uint64_t arg;
    uint64_t cspace_slots;
    uint64_t free_slot_first, free_slot_end;
    uint64_t mem_slot_first, mem_slot_count;
    uint64_t stack_top, stack_pages;
    uint64_t heap_va, heap_pages;                   /* heap_pages 0: no heap */
    uint64_t initrd_slot;                           /* 0: no initrd given */
    uint64_t initrd_va, initrd_size, initrd_offset; /* as in ns_bootinfo */
    uint64_t ncaps; /* slots 5 .. 5 + ncaps - 1 may hold given capabilities */
    char name[NS_SPAWN_NAME_MAX];
};
_Static_assert(sizeof(struct ns_procinfo) <= 4096, "process info fits one page");

/* One capability for the child: a copy of the caller's `src`, with rights
 * masked by `rights`, at the child's slot `dst` (5..15). */
struct ns_spawn_cap {
    unsigned long src, dst, rights;
};

/* All fields may be zero (or opts NULL) for the defaults. */
struct ns_spawn_opts {
    uint64_t arg;              /* the child's argument word (procinfo->arg) */
    uint64_t bank_pages;       /* the child's bank limit; 0: default */
    unsigned long parent_bank; /* the caller's bank to carve it from; 0: NS_SLOT_ROOT_BANK */
    unsigned stack_pages;      /* 0: default; at most NS_SPAWN_MAX_STACK_PAGES */
    unsigned free_slots;       /* free slots in the child's space; 0: default */
    unsigned priority;         /* 0: the caller's (so 0 itself cannot be asked for) */
    unsigned ncaps;
    const struct ns_spawn_cap *caps;
    unsigned long pager; /* endpoint of a zero-fill manager (zero.h); 0: resident */
    uint64_t heap_pages; /* 0: the default (none when resident); at most NS_SPAWN_MAX_HEAP_PAGES */
    unsigned flags;      /* NS_SPAWN_* */
};

/* What the caller holds for a child: two slots in its own space. */
struct ns_process {
    unsigned long thread;      /* the child's thread (all rights) */
    unsigned long bank;        /* the child's bank: destroying it ends the child */
    unsigned long parent_bank; /* the bank the child's bank was carved from */
    unsigned long state;       /* last state ns_process_wait() saw */
    bool exited;               /* ns_process_wait(): it called exit() (else it faulted) */
    int exit_status;           /* ... with this status */
    uint64_t reclaimed_bytes;  /* set by ns_process_destroy(): parent bank's used bytes freed */
};

/* Start `name` from the initrd. On success *out holds the child's slots and
 * the child is running. On failure nothing the call made is left. */
long ns_spawn(const char *name, const struct ns_spawn_opts *opts, struct ns_process *out);

#define NS_WAIT_FOREVER UINT64_MAX

/* Wait (sleeping between polls) until the child's thread has stopped: it
 * exited (p->exited, p->exit_status) or died of a fault. NS_ERR_WOULD_BLOCK
 * if `timeout_us` passes first (0: look once). */
long ns_process_wait(struct ns_process *p, uint64_t timeout_us);

/* Bytes the child's bank uses now (its objects, sub-banks included). */
long ns_process_bank_used(const struct ns_process *p, uint64_t *used);

/* Destroy the child's bank (and so every object of the child, running or
 * not) and give back the caller's two slots. p->reclaimed_bytes says how
 * much the caller's bank got back. */
long ns_process_destroy(struct ns_process *p);

/* The process-info page of a spawned program; NULL in init or a program
 * started some other way. */
const struct ns_procinfo *ns_procinfo(void);

/* a0 the program started with (set by the runtime's start-up code). */
extern uint64_t ns_start_arg;

/* exit() ends the thread with a7 = NS_SYS_THREAD_EXIT, a1 = status and
 * a2 = this marker, which ns_process_wait() reads back. */
#define NS_EXIT_MARKER 0x4e53457869744e6full /* "NSExitNo" */

#endif
