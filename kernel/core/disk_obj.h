/* Disks as kernel objects: one struct disk (frames/diskrange.h) per block
 * device found at boot, the whole-disk keys init receives, and transfers
 * through a key by a program (a manager reading its own object table, or
 * serving faults without a storage map). */
#ifndef NEWSYS_CORE_DISK_OBJ_H
#define NEWSYS_CORE_DISK_OBJ_H

#include <stdint.h>

#include "include/newsys/errors.h"

struct cap_slot;
struct hart;
struct thread;
struct ns_bootinfo;
enum blk_status;

/* Make a disk object for each registered block device (after blk_init). */
void disk_objects_init(void);

/* Give init a whole-disk key per disk at NS_SLOT_DISK0 + i of `slots`, and
 * describe them in `bi`. */
void disk_objects_give(struct cap_slot *slots, struct ns_bootinfo *bi);

/* The typed error a program sees for a driver status. */
enum ns_error disk_error(enum blk_status s);

/* NS_SYS_DISKRANGE_READ / WRITE / FLUSH: the caller blocks until the
 * device answers; the result is written when it is woken. */
void sys_diskrange_read(struct hart *h, struct thread *t);
void sys_diskrange_write(struct hart *h, struct thread *t);
void sys_diskrange_flush(struct hart *h, struct thread *t);

/* `t` is blocked in one of those and is being suspended or destroyed: the
 * transfer finishes without it. */
void disk_io_cancel(struct thread *t);

#endif
