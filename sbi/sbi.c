/* SBI calls (SBI specification v2.0 calling convention: a7 = extension,
 * a6 = function, a0..a5 = arguments; a0 = error, a1 = value on return). */
#include "sbi/sbi.h"

struct sbi_features sbi_features;

struct sbiret {
    long error;
    long value;
};

static struct sbiret sbi_call(unsigned long ext, unsigned long fid, unsigned long a0,
                              unsigned long a1, unsigned long a2, unsigned long a3,
                              unsigned long a4)
{
    register unsigned long r0 asm("a0") = a0;
    register unsigned long r1 asm("a1") = a1;
    register unsigned long r2 asm("a2") = a2;
    register unsigned long r3 asm("a3") = a3;
    register unsigned long r4 asm("a4") = a4;
    register unsigned long r6 asm("a6") = fid;
    register unsigned long r7 asm("a7") = ext;
    asm volatile("ecall"
                 : "+r"(r0), "+r"(r1)
                 : "r"(r2), "r"(r3), "r"(r4), "r"(r6), "r"(r7)
                 : "memory");
    return (struct sbiret){.error = (long)r0, .value = (long)r1};
}

/* Legacy (v0.1) calls return their result in a0 only. */
static long sbi_legacy(unsigned long ext, unsigned long a0)
{
    return sbi_call(ext, 0, a0, 0, 0, 0, 0).error;
}

static bool sbi_probe(unsigned long ext)
{
    struct sbiret r = sbi_call(SBI_EXT_BASE, 3, ext, 0, 0, 0, 0);
    return r.error == SBI_OK && r.value != 0;
}

void sbi_init(void)
{
    struct sbi_features *f = &sbi_features;
    struct sbiret r = sbi_call(SBI_EXT_BASE, 0, 0, 0, 0, 0, 0);
    /* A v0.1 firmware does not know BASE and returns an error (or garbage
     * with the top bit set); treat anything but success as "legacy only". */
    if (r.error != SBI_OK) {
        f->base = false;
        f->legacy_console = f->legacy_timer = f->legacy_shutdown = true;
        return;
    }
    f->base = true;
    f->spec_version = (unsigned long)r.value;
    f->impl_id = (unsigned long)sbi_call(SBI_EXT_BASE, 1, 0, 0, 0, 0, 0).value;
    f->impl_version = (unsigned long)sbi_call(SBI_EXT_BASE, 2, 0, 0, 0, 0, 0).value;
    f->time = sbi_probe(SBI_EXT_TIME);
    f->ipi = sbi_probe(SBI_EXT_IPI);
    f->rfence = sbi_probe(SBI_EXT_RFENCE);
    f->hsm = sbi_probe(SBI_EXT_HSM);
    f->srst = sbi_probe(SBI_EXT_SRST);
    f->dbcn = sbi_probe(SBI_EXT_DBCN);
    f->legacy_console = sbi_probe(SBI_EXT_LEGACY_PUTCHAR);
    f->legacy_timer = sbi_probe(SBI_EXT_LEGACY_SET_TIMER);
    f->legacy_shutdown = sbi_probe(SBI_EXT_LEGACY_SHUTDOWN);
}

const char *sbi_impl_name(unsigned long id)
{
    static const char *const names[] = {"BBL",    "OpenSBI", "Xvisor", "KVM",          "RustSBI",
                                        "Diosix", "Coffer",  "Xen",    "PolarFire HSS"};
    return id < sizeof(names) / sizeof(names[0]) ? names[id] : "unknown";
}

const char *sbi_strerror(long err)
{
    switch (err) {
    case SBI_OK:
        return "success";
    case SBI_ERR_FAILED:
        return "failed";
    case SBI_ERR_NOT_SUPPORTED:
        return "not supported";
    case SBI_ERR_INVALID_PARAM:
        return "invalid parameter";
    case SBI_ERR_DENIED:
        return "denied";
    case SBI_ERR_INVALID_ADDRESS:
        return "invalid address";
    case SBI_ERR_ALREADY_AVAILABLE:
        return "already available";
    case SBI_ERR_ALREADY_STARTED:
        return "already started";
    case SBI_ERR_ALREADY_STOPPED:
        return "already stopped";
    default:
        return "unknown SBI error";
    }
}

void sbi_console_putc(char c)
{
    if (sbi_features.dbcn)
        sbi_call(SBI_EXT_DBCN, 2, (unsigned char)c, 0, 0, 0, 0);
    else if (sbi_features.legacy_console || !sbi_features.base)
        sbi_legacy(SBI_EXT_LEGACY_PUTCHAR, (unsigned char)c);
}

void sbi_console_write(const char *s, unsigned long len)
{
    /* DBCN write takes a physical address; byte-at-a-time keeps this usable
     * before and after paging without a virt-to-phys translation. */
    for (unsigned long i = 0; i < len; i++)
        sbi_console_putc(s[i]);
}

long sbi_set_timer(uint64_t stime)
{
    if (sbi_features.time)
        return sbi_call(SBI_EXT_TIME, 0, stime, 0, 0, 0, 0).error;
    if (sbi_features.legacy_timer || !sbi_features.base)
        return sbi_legacy(SBI_EXT_LEGACY_SET_TIMER, stime);
    return SBI_ERR_NOT_SUPPORTED;
}

long sbi_send_ipi(unsigned long mask, unsigned long base)
{
    if (!sbi_features.ipi)
        return SBI_ERR_NOT_SUPPORTED;
    return sbi_call(SBI_EXT_IPI, 0, mask, base, 0, 0, 0).error;
}

long sbi_remote_fence_i(unsigned long mask, unsigned long base)
{
    if (!sbi_features.rfence)
        return SBI_ERR_NOT_SUPPORTED;
    return sbi_call(SBI_EXT_RFENCE, 0, mask, base, 0, 0, 0).error;
}

long sbi_remote_sfence_vma(unsigned long mask, unsigned long base, unsigned long start,
                           unsigned long size)
{
    if (!sbi_features.rfence)
        return SBI_ERR_NOT_SUPPORTED;
    return sbi_call(SBI_EXT_RFENCE, 1, mask, base, start, size, 0).error;
}

long sbi_remote_sfence_vma_asid(unsigned long mask, unsigned long base, unsigned long start,
                                unsigned long size, unsigned long asid)
{
    if (!sbi_features.rfence)
        return SBI_ERR_NOT_SUPPORTED;
    return sbi_call(SBI_EXT_RFENCE, 2, mask, base, start, size, asid).error;
}

long sbi_hart_start(unsigned long hartid, unsigned long start_pa, unsigned long opaque)
{
    if (!sbi_features.hsm)
        return SBI_ERR_NOT_SUPPORTED;
    return sbi_call(SBI_EXT_HSM, 0, hartid, start_pa, opaque, 0, 0).error;
}

long sbi_hart_stop(void)
{
    if (!sbi_features.hsm)
        return SBI_ERR_NOT_SUPPORTED;
    return sbi_call(SBI_EXT_HSM, 1, 0, 0, 0, 0, 0).error;
}

long sbi_hart_status(unsigned long hartid, enum sbi_hart_state *state)
{
    if (!sbi_features.hsm)
        return SBI_ERR_NOT_SUPPORTED;
    struct sbiret r = sbi_call(SBI_EXT_HSM, 2, hartid, 0, 0, 0, 0);
    if (r.error == SBI_OK)
        *state = (enum sbi_hart_state)r.value;
    return r.error;
}

long sbi_system_reset(enum sbi_reset_type type, enum sbi_reset_reason reason)
{
    if (sbi_features.srst)
        return sbi_call(SBI_EXT_SRST, 0, type, reason, 0, 0, 0).error;
    if (type == SBI_RESET_SHUTDOWN && (sbi_features.legacy_shutdown || !sbi_features.base))
        return sbi_legacy(SBI_EXT_LEGACY_SHUTDOWN, 0);
    return SBI_ERR_NOT_SUPPORTED;
}
