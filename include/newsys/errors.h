/* NewSys ABI: error codes returned by every system call (in a0).
 * Shared by the kernel and user programs; values are stable. */
#ifndef NEWSYS_ABI_ERRORS_H
#define NEWSYS_ABI_ERRORS_H

enum ns_error {
    NS_OK = 0,
    NS_ERR_INVALID_SYSCALL = 1, /* no such system call */
    NS_ERR_INVALID_SLOT = 2,    /* slot index outside the capability space */
    NS_ERR_EMPTY_SLOT = 3,      /* nothing in the slot */
    NS_ERR_SLOT_OCCUPIED = 4,   /* destination slot is not empty */
    NS_ERR_WRONG_TYPE = 5,      /* capability of another type than the call needs */
    NS_ERR_NO_RIGHTS = 6,       /* capability lacks a right the call needs */
    NS_ERR_REVOKED = 7,         /* capability was revoked or its object destroyed */
    NS_ERR_BAD_ADDRESS = 8,     /* user pointer: kernel half, unmapped, misaligned, wraps */
    NS_ERR_NO_QUOTA = 9,        /* the space bank's limit would be exceeded */
    NS_ERR_NO_MEMORY = 10,      /* the kernel itself is out of page frames */
    NS_ERR_INVALID_ARG = 11,    /* an argument is out of its range */
    NS_ERR_DEAD_OBJECT = 12,    /* IPC to a destroyed endpoint or thread */
    NS_ERR_REPLY_USED = 13,     /* reply capability already used */
    NS_ERR_TOO_MANY_CAPS = 14,  /* more capabilities than a message can carry */
    NS_ERR_WOULD_BLOCK = 15,    /* non-blocking operation found nothing */
    NS_ERR_BAD_STATE = 16,      /* object not in a state that allows the call */
    NS_ERR_RANGE = 17,          /* address range overlaps, overflows or leaves user space */
    NS_ERR_TIMEOUT = 18,        /* a deadline passed (a manager did not answer) */
    NS_ERR_IO = 19,             /* the device failed the transfer (or answered it wrongly) */
    NS_ERR_COUNT
};

#endif
