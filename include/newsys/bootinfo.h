/* NewSys ABI: what the kernel tells the first user program. A read-only page
 * at NS_BOOTINFO_VA; its address is also in a0 when init starts. */
#ifndef NEWSYS_ABI_BOOTINFO_H
#define NEWSYS_ABI_BOOTINFO_H

#include <stdint.h>

#define NS_BOOTINFO_MAGIC 0x4e53426f6f74496eull /* "NSBootIn" */
#define NS_BOOTINFO_VA    0x3fff000000ull
#define NS_INITRD_VA      0x3000000000ull
#define NS_STACK_TOP      0x3ffe000000ull
#define NS_STACK_PAGES    16
#define NS_MAX_BOOT_DISKS 8

/* Well-known slots of init's capability space. */
enum ns_root_slot {
    NS_SLOT_NULL = 0,
    NS_SLOT_SELF_THREAD = 1,
    NS_SLOT_SELF_ASPACE = 2,
    NS_SLOT_SELF_CSPACE = 3,
    NS_SLOT_ROOT_BANK = 4,
    NS_SLOT_MACHINE = 5,
    NS_SLOT_INITRD = 6, /* the initrd's memory object, READ|EXEC */
    NS_SLOT_PIN_AUTHORITY = 7, /* the one capability that makes pin accounts (docs/object-server.md) */
    /* One disk-range key per disk, covering the whole device, READ|WRITE
     * (READ only for a read-only device): bootinfo.disk_count of them. */
    NS_SLOT_DISK0 = 8,
    NS_SLOT_FIRST_FREE = 16,
};

struct ns_bootinfo {
    uint64_t magic;
    uint64_t initrd_va, initrd_size; /* the initrd, mapped read-only */
    /* Where the archive starts inside the initrd's memory object
     * (NS_SLOT_INITRD), mapped from its page 0 at NS_INITRD_VA: initrd_va
     * is NS_INITRD_VA + initrd_offset. */
    uint64_t initrd_offset;
    uint64_t cspace_slots;
    uint64_t timebase_hz;
    uint64_t hart_count; /* harts that run threads: indices 0 .. hart_count - 1, 0 the boot hart */
    char cmdline[256];
    uint64_t disk_count; /* keys at NS_SLOT_DISK0 .. + disk_count - 1 */
    struct {
        uint64_t sectors;
        char name[16];
    } disks[NS_MAX_BOOT_DISKS];
};

_Static_assert(sizeof(struct ns_bootinfo) <= 4096, "bootinfo fits one page");

#endif
