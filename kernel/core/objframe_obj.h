/* Object frames and disk-range keys as kernel objects: creation from a
 * bank, destruction, and their system calls. The slot logic and the key
 * checks are portable (frames/objframe.h, frames/diskrange.h). */
#ifndef NEWSYS_CORE_OBJFRAME_OBJ_H
#define NEWSYS_CORE_OBJFRAME_OBJ_H

#include <stdint.h>

#include "include/newsys/errors.h"

struct thread;

void objframe_types_init(void);
enum ns_error sys_objframe_create(struct thread *self, uint64_t bank, uint64_t dst);
enum ns_error sys_objframe_store(struct thread *self, uint64_t frame, uint64_t index, uint64_t src,
                                 uint64_t rights_mask);
enum ns_error sys_objframe_load(struct thread *self, uint64_t frame, uint64_t index, uint64_t dst,
                                uint64_t rights_mask);
enum ns_error sys_objframe_clear(struct thread *self, uint64_t frame, uint64_t index);
enum ns_error sys_diskrange_derive(struct thread *self, uint64_t src, uint64_t dst, uint64_t offset,
                                   uint64_t sectors, uint64_t rights_mask);
enum ns_error sys_diskrange_info(struct thread *self, uint64_t key, uint64_t *disk,
                                 uint64_t *first, uint64_t *sectors);

#endif
