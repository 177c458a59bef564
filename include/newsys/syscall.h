/* NewSys ABI: system call numbers and calling convention.
 *
 *   ecall with a7 = system call number, arguments in a0..a5;
 *   on return a0 = enum ns_error, results in a1..a5 (per call below).
 * Capability arguments are slot indices in the caller's capability space.
 * Registers other than a0..a5 are preserved. */
#ifndef NEWSYS_ABI_SYSCALL_H
#define NEWSYS_ABI_SYSCALL_H

#include <stdint.h>

enum ns_syscall {
    /* Debugging and the machine. */
    NS_SYS_DEBUG_WRITE = 0, /* (const char *buf, size_t len) */
    NS_SYS_SHUTDOWN = 1,    /* (machine slot, reason: 0 ok, 1 failure) */

    /* Scheduling. */
    NS_SYS_YIELD = 2,
    NS_SYS_SLEEP = 3,       /* (microseconds) */
    NS_SYS_CLOCK = 4,       /* () -> a1 = microseconds since boot, a2 = instructions this
                               hart counted idle (waiting for an interrupt) */
    NS_SYS_THREAD_EXIT = 5, /* () the caller's thread stops for good */

    /* Capabilities (slots in the caller's space). */
    NS_SYS_CAP_COPY = 6,      /* (src, dst, rights mask) */
    NS_SYS_CAP_MINT = 7,      /* (src, dst, rights mask, badge) */
    NS_SYS_CAP_MOVE = 8,      /* (src, dst) */
    NS_SYS_CAP_DELETE = 9,    /* (slot) */
    NS_SYS_CAP_REVOKE = 10,   /* (slot): delete everything derived from it */
    NS_SYS_CAP_IDENTIFY = 11, /* (slot) -> a1 type, a2 rights, a3 badge */

    /* Space banks. */
    NS_SYS_BANK_CREATE = 12,  /* (bank, dst, limit pages) a sub-bank */
    NS_SYS_BANK_INFO = 13,    /* (bank) -> a1 limit pages, a2 used bytes */
    NS_SYS_BANK_DESTROY = 14, /* (bank): destroy it and everything charged to it */

    /* Object creation: each charged to the bank named first. */
    NS_SYS_ASPACE_CREATE = 15, /* (bank, dst) */
    NS_SYS_CSPACE_CREATE = 16, /* (bank, dst, slots) */
    NS_SYS_FRAME_ALLOC = 17,   /* (bank, dst) a zeroed 4 KiB page frame */
    NS_SYS_THREAD_CREATE = 18, /* (bank, dst, cspace, aspace) */

    /* Address spaces. */
    NS_SYS_MAP_FRAME = 19, /* (aspace, frame, vaddr, rights) -> a1 effective rights */
    NS_SYS_UNMAP = 20,     /* (frame): unmap it from wherever it is mapped */

    /* Threads (WRITE right on the thread capability). */
    NS_SYS_THREAD_START = 21,    /* (thread, pc, sp, a0) */
    NS_SYS_THREAD_SUSPEND = 22,  /* (thread) */
    NS_SYS_THREAD_RESUME = 23,   /* (thread) */
    NS_SYS_THREAD_SET_PRIO = 24, /* (thread, priority <= caller's) */
    NS_SYS_THREAD_SET_REGS = 25, /* (thread, pc, sp, a0) of a suspended thread */
    NS_SYS_THREAD_INFO = 26,     /* (thread) -> a1 state, a2 priority, a3 hart index (or -1
                                    before it starts) */

    NS_SYS_NOP = 27,          /* () does nothing: the null system call */
    NS_SYS_CAP_TRANSFER = 28, /* (src, cspace, dst, rights mask): copy into the space named
                                 by the cspace capability (WRITE right) */

    /* IPC. Messages: a1 = info (ipc.h), a2..a5 = words 0..3, the rest in
     * the IPC buffer. Receiving returns the same, with the badge in a6. */
    NS_SYS_ENDPOINT_CREATE = 29,          /* (bank, dst) */
    NS_SYS_NOTIFICATION_CREATE = 30,      /* (bank, dst) */
    NS_SYS_SEND = 31,                     /* (endpoint, info, w0..w3) blocks until received */
    NS_SYS_RECV = 32,                     /* (endpoint) -> message */
    NS_SYS_CALL = 33,                     /* (endpoint, info, w0..w3) -> the reply */
    NS_SYS_REPLY = 34,                    /* (unused, info, w0..w3) to the last caller, once */
    NS_SYS_REPLY_RECV = 35,               /* (endpoint, info, w0..w3): reply, then receive */
    NS_SYS_SIGNAL = 36,                   /* (notification): OR the badge (1 if none) in */
    NS_SYS_WAIT = 37,                     /* (notification) -> a1 bits; blocks while none */
    NS_SYS_POLL = 38,                     /* (notification) -> a1 bits, 0 if none */
    NS_SYS_THREAD_SET_IPC_BUFFER = 39,    /* (thread, page-aligned vaddr or 0) */
    NS_SYS_THREAD_SET_FAULT_HANDLER = 40, /* (thread, endpoint slot, or 0 for none) */

    /* Whole register sets (struct ns_regs below) of a thread that is not
     * running: inactive, suspended, stopped, or waiting on its fault handler. */
    NS_SYS_THREAD_READ_REGS = 41,  /* (thread, struct ns_regs *out) READ right */
    NS_SYS_THREAD_WRITE_REGS = 42, /* (thread, const struct ns_regs *in) WRITE right */

    /* Memory objects (memobj/; docs/memory-objects.md). Pages are 4 KiB. */
    NS_SYS_MEMOBJ_CREATE = 43,     /* (bank, dst, length bytes, notification): the caller
                                      becomes the manager; the notification is signalled
                                      when requests are pending */
    NS_SYS_MEMOBJ_MAP = 44,        /* (aspace, memobj, vaddr, first page, pages, rights |
                                      NS_MAP_STRICT) -> a1 effective rights; replaces what
                                      the range held */
    NS_SYS_MEMOBJ_UNMAP = 45,      /* (aspace, vaddr, pages) */
    NS_SYS_MEMOBJ_PROTECT = 46,    /* (aspace, vaddr, pages, rights): narrow only */
    NS_SYS_MEMOBJ_REQUESTS = 47,   /* (memobj, struct ns_page_request *buf, max) -> a1 count */
    NS_SYS_MEMOBJ_SUPPLY = 48,     /* (memobj, first page, pages, buffer vaddr; 0: zero
                                      pages, notification; 0: none), at most 64 pages;
                                      then, given a notification, waits on it as
                                      NS_SYS_WAIT does (a1 = bits) */
    NS_SYS_MEMOBJ_FAIL = 49,       /* (memobj, first page, pages, error) */
    NS_SYS_MEMOBJ_SET_LENGTH = 50, /* (memobj, length bytes) */
    NS_SYS_MEMOBJ_INFO = 51,       /* (memobj) -> a1 length, a2 resident pages, a3 requests made */

    NS_SYS_MEMOBJ_SET_DEADLINE = 52, /* (memobj, microseconds; 0: none) for its requests */
    NS_SYS_MEMOBJ_PRELOAD = 53,      /* (memobj, first page, pages <= 64, buffer vaddr or 0 for
                                        zero pages) MANAGE: enter pages nobody asked for
                                        (resident memory); resident ones stay as they are */
    NS_SYS_MEMOBJ_SET_CLUSTER = 54,  /* (memobj, pages 1..64): a fault asks for up to this
                                        many adjacent missing pages in one request */

    /* Object frames (frames/objframe.h): 16 capability slots, never mapped. */
    NS_SYS_OBJFRAME_CREATE = 55, /* (bank, dst) */
    NS_SYS_OBJFRAME_STORE = 56,  /* (frame, index, src slot, rights mask) WRITE right */
    NS_SYS_OBJFRAME_LOAD = 57,   /* (frame, index, dst slot, rights mask) READ right */
    NS_SYS_OBJFRAME_CLEAR = 58,  /* (frame, index) WRITE right */

    /* Disk-range keys (frames/diskrange.h): runs of 512-byte sectors. */
    NS_SYS_DISKRANGE_DERIVE = 59, /* (key, dst, offset sectors, sectors, rights mask): a key
                                     for a part of the key's range */
    NS_SYS_DISKRANGE_INFO = 60,   /* (key) -> a1 disk index, a2 first sector, a3 sectors */

    /* Storage maps (frames/storage_map.h) and the kernel's own disk I/O. */
    NS_SYS_MEMOBJ_SET_MAP = 61,   /* (memobj, object-frame slot or 0 to drop the map, height
                                     1..13) MANAGE: the kernel keeps a copy of the frame
                                     capability; requests the map now covers are read in */
    NS_SYS_MEMOBJ_SYNC = 62,      /* (memobj) WRITE right: write every dirty page the map
                                     covers and flush the disks; returns when the data is
                                     durable (NS_ERR_IO: the device failed; NS_ERR_BAD_STATE:
                                     dirty pages no map covers) */
    NS_SYS_MEMOBJ_CONTROL = 63,   /* (memobj, NS_MEMOBJ_CTL_*, argument) MANAGE -> a1 */
    NS_SYS_MEMOBJ_STATS = 64,     /* (memobj, struct ns_memobj_stats *out) */
    NS_SYS_DISKRANGE_READ = 65,   /* (key, offset sectors, sectors <= NS_DISK_IO_MAX_SECTORS,
                                     buffer vaddr) READ right: blocks until the data is in */
    NS_SYS_DISKRANGE_WRITE = 66,  /* (key, offset sectors, sectors, buffer vaddr) WRITE right:
                                     blocks until the device has it (not yet durable) */
    NS_SYS_DISKRANGE_FLUSH = 67,  /* (key) WRITE right: blocks until every write completed
                                     before it is durable */
    NS_SYS_THREAD_SET_HART = 68, /* (thread, hart index < bootinfo hart_count) WRITE right: pin
                                    it there (before it starts, or where it runs); NS_HART_ANY:
                                    unpin, the balancer may move it */
    /* I/O-pinned frames (frames/iopin.h, docs/object-server.md). */
    NS_SYS_PIN_ACCOUNT_CREATE = 69, /* (pin authority, bank, dst, pins 1..1024, lease us
                                       1..60 s) */
    NS_SYS_FRAME_PIN = 70,          /* (pin account, bank, dst) WRITE right: a zeroed frame,
                                       pinned for DMA (NS_ERR_NO_QUOTA: the account is full) */
    NS_SYS_FRAME_INFO = 71,         /* (frame) -> a1 physical address: only of a pinned frame
                                       within its lease (NO_RIGHTS: not pinned; TIMEOUT: the
                                       lease is over, the frame was taken away) */
    NS_SYS_FRAME_UNPIN = 72,        /* (frame) WRITE right: the DMA is over, an ordinary frame
                                       again (BAD_STATE: not pinned; TIMEOUT: expired) */

    NS_SYS_COUNT
};

/* NS_SYS_THREAD_SET_HART: no hart in particular (unpinned). */
#define NS_HART_ANY (~0ul)

#define NS_MAP_STRICT (1u << 8) /* narrowing the asked rights is an error */

/* A page request as the manager reads it (NS_SYS_MEMOBJ_REQUESTS). */
struct ns_page_request {
    uint64_t first_page;
    uint64_t pages;
    uint64_t flags; /* NS_PAGE_REQ_* */
};

/* ns_page_request.flags. NO_MAP: the object's storage map (if it ever had
 * one) does not serve these pages - none is installed (never given, or
 * discarded under memory pressure) or the slot is empty: rebuild the map
 * or supply the data. BAD_MAP: a key on the way failed its check; the
 * reason (an ns_error) is in bits 8-15. */
#define NS_PAGE_REQ_NO_MAP    (1u << 0)
#define NS_PAGE_REQ_BAD_MAP   (1u << 1)
/* WRITEBACK (objects without a map whose manager asked for them with
 * NS_MEMOBJ_CTL_WRITEBACK): the kernel wants to free this resident, dirty
 * page. Store what it holds now (read it through a mapping of the object)
 * and confirm with NS_MEMOBJ_CTL_CLEAN; it stays until then. */
#define NS_PAGE_REQ_WRITEBACK (1u << 2)
#define NS_PAGE_REQ_WHY_SHIFT 8

/* NS_SYS_MEMOBJ_CONTROL operations. */
enum ns_memobj_ctl {
    NS_MEMOBJ_CTL_DISCARD_MAP = 1, /* drop the storage map now, as memory pressure would */
    NS_MEMOBJ_CTL_READAHEAD = 2,   /* (pages 1..64) a map fault reads up to this many pages */
    NS_MEMOBJ_CTL_EVICT = 3,       /* drop every clean page no I/O holds (unmapping it); start
                                      writing dirty ones back (through the map, or by asking
                                      the manager) -> a1 pages dropped now */
    NS_MEMOBJ_CTL_WRITEBACK = 4,   /* (1) the manager takes writeback requests: without a map
                                      the object's pages are dirty-tracked and pageable */
    NS_MEMOBJ_CTL_CLEAN = 5,       /* (page) the page as of its writeback request is stored
                                      -> a1 1 if it is clean now, 0 if written since */
    NS_MEMOBJ_CTL_AGE = 6,         /* one pass of the page clock over the object now: read
                                      and clear the accessed bits of its mapped pages, as a
                                      sweep would -> a1 pages used since the last pass */
};

/* NS_SYS_MEMOBJ_STATS: counts since the object was made. */
struct ns_memobj_stats {
    uint64_t length, resident, dirty;
    uint64_t requests_made;   /* requests queued for the manager */
    uint64_t map_reads;       /* reads the kernel issued through the storage map */
    uint64_t map_pages_read;  /* pages those reads brought in */
    uint64_t map_writes;      /* writebacks through the map */
    uint64_t map_pages_written;
    uint64_t io_errors;       /* transfers the device failed */
    uint64_t map_discards;    /* maps dropped (control or memory pressure) */
    uint64_t has_map;         /* 1 while a map is installed */
    uint64_t io_inflight;     /* transfers in flight now */
    uint64_t accessed_faults; /* faults that only gave an aged page its accessed bit back
                                 (hardware that faults for it, or the kernel's ad=fault) */
};

/* NS_SYS_DISKRANGE_READ / WRITE move at most this much in one call. */
#define NS_DISK_IO_MAX_SECTORS 128

/* A thread's user registers: pc and x1..x31 (x[0] is ignored). */
struct ns_regs {
    uint64_t pc;
    uint64_t x[32];
};

/* Thread states reported by NS_SYS_THREAD_INFO. */
enum ns_thread_state {
    NS_THREAD_INACTIVE = 0,
    NS_THREAD_RUNNABLE = 1,
    NS_THREAD_RUNNING = 2,
    NS_THREAD_SLEEPING = 3,
    NS_THREAD_BLOCKED = 4,
    NS_THREAD_SUSPENDED = 5,
    NS_THREAD_STOPPED = 6,
};

#endif
