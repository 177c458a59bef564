/* The heap: sbrk() for picolibc's malloc, over the process's heap object.
 *
 * ns_spawn maps a heap object at NS_HEAP_VA (procinfo heap_va, heap_pages:
 * a zero-fill object from the pager, 64 MiB by default, or a resident one
 * when asked for). The break only moves inside it: the pages are there
 * already, and an untouched one costs nothing until the first access asks
 * the pager for it (charged to the process's bank). Memory given back by a
 * negative increment stays in the object. Without a heap object (init, or
 * a resident process that asked for none) sbrk fails with ENOMEM, so
 * malloc returns NULL. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "user/rt/spawn.h"

static uintptr_t heap_start, heap_brk, heap_end;

void ns_heap_init(void);
void ns_heap_init(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (pi && pi->heap_pages && pi->heap_va) {
        heap_start = heap_brk = (uintptr_t)pi->heap_va;
        heap_end = heap_start + (uintptr_t)pi->heap_pages * 4096;
    }
}

void *sbrk(ptrdiff_t incr)
{
    uintptr_t old = heap_brk;
    if (incr >= 0 ? (uintptr_t)incr > heap_end - heap_brk
                  : (uintptr_t)-incr > heap_brk - heap_start) {
        errno = ENOMEM;
        return (void *)-1;
    }
    heap_brk += incr;
    return (void *)old;
}
