/* Pin accounts and I/O-pinned frames: the kernel side of frames/iopin.h
 * (docs/object-server.md). One pin authority exists, made at boot and
 * given to init alone (NS_SLOT_PIN_AUTHORITY); it makes pin accounts, each
 * charged to a bank, with a quota of pins and a lease. A pinned frame is an
 * ordinary frame object whose physical address NS_SYS_FRAME_INFO discloses
 * while its lease lasts. The boot hart's tick expires leases: the frame is
 * unmapped and can no longer be mapped or asked for its address; a lease
 * later (quarantine) its page is the kernel's again. A pinned frame that
 * dies (its driver died mid-transfer) or whose account dies waits out the
 * same quarantine before its page is freed. */
#ifndef NEWSYS_CORE_PIN_OBJ_H
#define NEWSYS_CORE_PIN_OBJ_H

#include <stdbool.h>
#include <stdint.h>

#include "frames/iopin.h"
#include "include/newsys/errors.h"
#include "kernel/core/kobj.h"

struct thread;
struct frame_obj;

struct pin_account_obj {
    struct kobj obj;
    struct pin_account ledger;
    struct pin_account_obj *next; /* every account, for the tick */
    bool closed;                  /* its last capability went: freed when its pins are */
};

void pin_types_init(void);
void pin_set_timebase(uint64_t hz);
/* The pin authority, for init's capability space. */
struct kobj *pin_authority_object(void);
/* The boot hart's tick: leases and quarantines that ended. */
void pin_tick(uint64_t now);
/* Frame `f` was destroyed: true if the pin ledger keeps its page (a
 * quarantine) and frees it later; false if the caller frees it now. */
bool pin_frame_gone(struct frame_obj *f);

enum ns_error sys_pin_account_create(struct thread *self, uint64_t authority, uint64_t bank,
                                     uint64_t dst, uint64_t pins, uint64_t lease_us);
enum ns_error sys_frame_pin(struct thread *self, uint64_t account, uint64_t bank, uint64_t dst);
enum ns_error sys_frame_info(struct thread *self, uint64_t frame, uint64_t *pa);
enum ns_error sys_frame_unpin(struct thread *self, uint64_t frame);

#endif
