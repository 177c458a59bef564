/* Program start-up and the C library's hooks: stdout/stderr through the
 * debug console (line-buffered), exit() ending the thread with its status
 * where ns_process_wait() reads it, the main thread's IPC buffer. */
#include <stdio.h>
#include <stdlib.h>

#include "user/rt/newsys.h"
#include "user/rt/spawn.h"

const struct ns_bootinfo *ns_bootinfo;

static char outbuf[256];
static size_t outlen;

static int flush_out(FILE *f)
{
    (void)f;
    if (outlen)
        ns_debug_write(outbuf, outlen);
    outlen = 0;
    return 0;
}

static int put(char c, FILE *f)
{
    outbuf[outlen++] = c;
    if (c == '\n' || outlen == sizeof(outbuf))
        flush_out(f);
    return (unsigned char)c;
}

static FILE console = FDEV_SETUP_STREAM(put, NULL, flush_out, _FDEV_SETUP_WRITE);
FILE *const stdin = &console;
FILE *const stdout = &console;
FILE *const stderr = &console;

void _exit(int status);
void _exit(int status)
{
    flush_out(stdout);
    for (;;)
        ns_syscall(NS_SYS_THREAD_EXIT, 0, (unsigned long)(long)status, NS_EXIT_MARKER, 0, 0, 0);
}

static struct ns_ipc_buffer ipc_buffer __attribute__((aligned(4096)));

struct ns_ipc_buffer *ns_ipc_buffer(void)
{
    return &ipc_buffer;
}

void __ns_thread_return(void);
void __ns_thread_return(void)
{
    for (;;)
        ns_thread_exit();
}

int main(void);
void ns_heap_init(void); /* heap.c */
void __ns_start(const struct ns_bootinfo *bi);

void __ns_start(const struct ns_bootinfo *bi)
{
    ns_start_arg = (uint64_t)bi; /* a spawned program's process info: spawn.h */
    if (bi && (uint64_t)bi == NS_BOOTINFO_VA && bi->magic == NS_BOOTINFO_MAGIC)
        ns_bootinfo = bi;
    ns_heap_init();
    /* The kernel reads and writes it through its PTE: touch it first. */
    ns_touch(&ipc_buffer, sizeof(ipc_buffer), 1);
    ns_thread_set_ipc_buffer(NS_SLOT_SELF_THREAD, (uint64_t)(uintptr_t)&ipc_buffer);
    exit(main());
}

const char *ns_strerror(long err)
{
    static const char *const names[NS_ERR_COUNT] = {
        [NS_OK] = "ok",
        [NS_ERR_INVALID_SYSCALL] = "invalid system call",
        [NS_ERR_INVALID_SLOT] = "invalid slot",
        [NS_ERR_EMPTY_SLOT] = "empty slot",
        [NS_ERR_SLOT_OCCUPIED] = "slot occupied",
        [NS_ERR_WRONG_TYPE] = "wrong capability type",
        [NS_ERR_NO_RIGHTS] = "missing right",
        [NS_ERR_REVOKED] = "revoked capability",
        [NS_ERR_BAD_ADDRESS] = "bad address",
        [NS_ERR_NO_QUOTA] = "out of quota",
        [NS_ERR_NO_MEMORY] = "out of memory",
        [NS_ERR_INVALID_ARG] = "invalid argument",
        [NS_ERR_DEAD_OBJECT] = "dead object",
        [NS_ERR_REPLY_USED] = "reply already used",
        [NS_ERR_TOO_MANY_CAPS] = "too many capabilities",
        [NS_ERR_WOULD_BLOCK] = "would block",
        [NS_ERR_BAD_STATE] = "bad state",
        [NS_ERR_RANGE] = "bad range",
        [NS_ERR_TIMEOUT] = "timed out",
        [NS_ERR_IO] = "I/O error",
    };
    return err >= 0 && err < NS_ERR_COUNT && names[err] ? names[err] : "unknown error";
}
