/* NewSys ABI: capability types and rights. */
#ifndef NEWSYS_ABI_CAPS_H
#define NEWSYS_ABI_CAPS_H

/* What a capability names. NS_CAP_NULL is an empty slot. */
enum ns_cap_type {
    NS_CAP_NULL = 0,
    NS_CAP_THREAD = 1,
    NS_CAP_ASPACE = 2,
    NS_CAP_CSPACE = 3,
    NS_CAP_BANK = 4,
    NS_CAP_ENDPOINT = 5,
    NS_CAP_NOTIFICATION = 6,
    NS_CAP_REPLY = 7,
    NS_CAP_FRAME = 8,   /* a physical page frame */
    NS_CAP_MACHINE = 9, /* shutdown and other whole-machine controls (init only) */
    NS_CAP_MEMOBJ = 10, /* a memory object; with NS_RIGHT_MANAGE, its manager's capability */
    NS_CAP_OBJFRAME = 11,  /* an object frame: 16 capability slots, never mapped */
    NS_CAP_DISKRANGE = 12, /* a disk-range key: a run of sectors of one block device */
    NS_CAP_PIN_AUTHORITY = 13, /* makes pin accounts: init's, for the object server alone */
    NS_CAP_PIN_ACCOUNT = 14,   /* pins page frames for DMA, within a quota and a lease */
    NS_CAP_TYPE_COUNT
};

/* Rights only shrink along a derivation. Their meaning per type:
 *   READ   receive (endpoint), wait (notification), read (frame, disk
 *          range), load a slot (object frame), inspect
 *   WRITE  send (endpoint), signal (notification), write (frame, disk
 *          range), store or clear a slot (object frame), modify
 *   EXEC   execute (frame)
 *   GRANT  capabilities may be transferred through it (endpoint) */
#define NS_RIGHT_READ  (1u << 0)
#define NS_RIGHT_WRITE (1u << 1)
#define NS_RIGHT_EXEC  (1u << 2)
#define NS_RIGHT_GRANT (1u << 3)
/* MANAGE (memory objects): supply, fail, set length - the manager's right.
 * Clients get copies without it. */
#define NS_RIGHT_MANAGE (1u << 4)
#define NS_RIGHTS_ALL   0x1fu

#endif
