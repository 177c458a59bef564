/* Space-bank system calls (see bank.h for the accounting). */
#ifndef NEWSYS_CORE_BANK_OBJ_H
#define NEWSYS_CORE_BANK_OBJ_H

#include <stdint.h>

#include "include/newsys/errors.h"

struct thread;
struct bank;

void bank_types_init(void);
struct bank *root_bank_get(void);
enum ns_error sys_bank_create(struct thread *self, uint64_t parent, uint64_t dst,
                              uint64_t limit_pages);
enum ns_error sys_bank_info(struct thread *self, uint64_t slot, uint64_t *limit_pages,
                            uint64_t *used_bytes);
enum ns_error sys_bank_destroy(struct thread *self, uint64_t slot);

#endif
