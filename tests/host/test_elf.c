/* Tests of kernel/lib/elf.c against real executables built at build time by
 * riscv64-unknown-elf-gcc and the host compiler (see cpio_elf.cmake), against
 * mutations of them, and against synthetic images. The host's <elf.h> is the
 * independent reader: it decodes the expected answers and applies the
 * mutations on an aligned copy. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/lib/elf.h"

#define DATA_DIR NEWSYS_TEST_DATA "/cpio_elf/"

static unsigned char *read_file(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Runs elf_check on an exact-size heap copy, so ASan sees the end. */
static enum elf_err check_exact(const void *img, size_t len, struct elf_info *info)
{
    unsigned char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, img, len);
    struct elf_info tmp;
    enum elf_err err = elf_check(copy, len, info ? info : &tmp);
    free(copy);
    return err;
}

/* A mutable copy of rv-static.elf with its two PT_LOAD headers located. */
struct img {
    unsigned char *buf;
    size_t len;
    Elf64_Ehdr *eh;
    Elf64_Phdr *text, *data;
};

static struct img fresh(const char *name)
{
    struct img m;
    m.buf = read_file(name, &m.len);
    m.eh = (Elf64_Ehdr *)m.buf;
    m.text = m.data = NULL;
    for (unsigned i = 0; i < m.eh->e_phnum; i++) {
        Elf64_Phdr *ph = (Elf64_Phdr *)(m.buf + m.eh->e_phoff) + i;
        if (ph->p_type != PT_LOAD)
            continue;
        if (ph->p_flags & PF_X)
            m.text = ph;
        else
            m.data = ph;
    }
    assert_non_null(m.text);
    assert_non_null(m.data);
    return m;
}

#define MUTATE(expected, ...)                                                                      \
    do {                                                                                           \
        struct img m_ = fresh("rv-static.elf");                                                    \
        Elf64_Ehdr *eh = m_.eh;                                                                    \
        Elf64_Phdr *tx = m_.text, *dt = m_.data;                                                   \
        (void)eh;                                                                                  \
        (void)tx;                                                                                  \
        (void)dt;                                                                                  \
        __VA_ARGS__;                                                                               \
        enum elf_err got_ = check_exact(m_.buf, m_.len, NULL);                                     \
        if (got_ != (expected))                                                                    \
            fail_msg("%s: got %s, want %s", #__VA_ARGS__, elf_strerror(got_),                      \
                     elf_strerror(expected));                                                      \
        free(m_.buf);                                                                              \
    } while (0)

/* What the host's ELF reader says the answer should be. */
static void compare_with_oracle(const unsigned char *buf, const struct elf_info *info)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
    unsigned n = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    assert_int_equal(info->entry, eh->e_entry);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff) + i;
        if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
            continue;
        assert_true(n < info->nseg);
        const struct elf_segment *s = &info->seg[n++];
        assert_int_equal(s->vaddr, ph->p_vaddr);
        assert_int_equal(s->memsz, ph->p_memsz);
        assert_int_equal(s->offset, ph->p_offset);
        assert_int_equal(s->filesz, ph->p_filesz);
        assert_int_equal(s->flags, ph->p_flags & (PF_R | PF_W | PF_X));
        if (ph->p_vaddr < lo)
            lo = ph->p_vaddr;
        if (ph->p_vaddr + ph->p_memsz > hi)
            hi = ph->p_vaddr + ph->p_memsz;
    }
    assert_int_equal(n, info->nseg);
    assert_int_equal(info->lowest, lo);
    assert_int_equal(info->highest, hi);
}

/* ---- real executables ------------------------------------------------- */

static void test_real_static(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_file("rv-static.elf", &len);
    struct elf_info info;
    assert_int_equal(check_exact(buf, len, &info), ELF_OK);
    compare_with_oracle(buf, &info);
    assert_int_equal(info.nseg, 2);
    assert_int_equal(info.seg[0].flags, ELF_R | ELF_X);
    assert_int_equal(info.seg[1].flags, ELF_R | ELF_W);
    assert_int_equal(info.entry, 0x10000);
    assert_true(info.seg[1].memsz > info.seg[1].filesz); /* .bss */
    free(buf);
}

static void test_real_soft_float(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_file("rv-soft.elf", &len);
    assert_int_equal(((Elf64_Ehdr *)buf)->e_flags & EF_RISCV_FLOAT_ABI, EF_RISCV_FLOAT_ABI_SOFT);
    struct elf_info info;
    assert_int_equal(check_exact(buf, len, &info), ELF_OK);
    compare_with_oracle(buf, &info);
    free(buf);
}

static void test_real_kernel_linked(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_file("rv-kernel.elf", &len);
    assert_int_equal(check_exact(buf, len, NULL), ELF_ERR_KERNEL_ADDR);
    free(buf);
}

static void test_real_page0_linked(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_file("rv-page0.elf", &len);
    assert_int_equal(((Elf64_Ehdr *)buf)->e_entry, 0);
    assert_int_equal(check_exact(buf, len, NULL), ELF_ERR_KERNEL_ADDR);
    free(buf);
}

static void test_real_host_executable(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_file("host.elf", &len);
    assert_int_not_equal(((Elf64_Ehdr *)buf)->e_machine, EM_RISCV);
    /* Reported as the wrong machine even though it is also (usually) a PIE. */
    assert_int_equal(check_exact(buf, len, NULL), ELF_ERR_WRONG_MACHINE);
    free(buf);
}

static void test_unaligned_image(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_file("rv-static.elf", &len);
    struct elf_info want, got;
    assert_int_equal(elf_check(buf, len, &want), ELF_OK);
    for (size_t shift = 1; shift < 8; shift++) {
        unsigned char *b = malloc(len + shift);
        assert_non_null(b);
        memcpy(b + shift, buf, len);
        memset(&got, 0xa5, sizeof got);
        assert_int_equal(elf_check(b + shift, len, &got), ELF_OK);
        assert_memory_equal(&got.seg, &want.seg, sizeof want.seg[0] * want.nseg);
        assert_int_equal(got.entry, want.entry);
        free(b);
    }
    free(buf);
}

/* Every prefix of a real executable: header, then table, then segment data. */
static void test_truncated_every_length(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = read_file("rv-static.elf", &len);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
    size_t table_end = eh->e_phoff + (size_t)eh->e_phnum * eh->e_phentsize;
    size_t data_end = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff) + i;
        if (ph->p_type == PT_LOAD && ph->p_offset + ph->p_filesz > data_end)
            data_end = ph->p_offset + ph->p_filesz;
    }
    assert_true(data_end < len); /* section headers follow */
    for (size_t cut = 0; cut <= len; cut++) {
        enum elf_err want = cut < sizeof(Elf64_Ehdr) ? ELF_ERR_TRUNCATED
                            : cut < table_end        ? ELF_ERR_BAD_PHDR
                            : cut < data_end         ? ELF_ERR_BAD_SEGMENT
                                                     : ELF_OK;
        enum elf_err got = check_exact(buf, cut, NULL);
        if (got != want)
            fail_msg("cut at %zu: got %s, want %s", cut, elf_strerror(got), elf_strerror(want));
    }
    free(buf);
}

static void test_short_inputs(void **state)
{
    (void)state;
    struct elf_info info;
    assert_int_equal(elf_check(NULL, 0, &info), ELF_ERR_TRUNCATED);
    assert_int_equal(elf_check(NULL, 100, &info), ELF_ERR_TRUNCATED);
    assert_int_equal(check_exact("", 0, NULL), ELF_ERR_TRUNCATED);
    assert_int_equal(check_exact("\x7f", 1, NULL), ELF_ERR_TRUNCATED);
    assert_int_equal(check_exact("\x7f"
                                 "EL",
                                 3, NULL),
                     ELF_ERR_TRUNCATED);
    assert_int_equal(check_exact("\x7f"
                                 "ELF",
                                 4, NULL),
                     ELF_ERR_TRUNCATED);
    assert_int_equal(check_exact("M", 1, NULL), ELF_ERR_BAD_MAGIC);
    assert_int_equal(check_exact("\x7f"
                                 "EL!",
                                 4, NULL),
                     ELF_ERR_BAD_MAGIC);
    assert_int_equal(check_exact("#!/bin/sh\necho not an ELF\n", 26, NULL), ELF_ERR_BAD_MAGIC);
}

/* ---- header mutations ------------------------------------------------- */

static void test_header_mutations(void **state)
{
    (void)state;
    MUTATE(ELF_OK, (void)0);
    MUTATE(ELF_ERR_BAD_MAGIC, eh->e_ident[EI_MAG0] = 0x7e);
    MUTATE(ELF_ERR_BAD_MAGIC, eh->e_ident[EI_MAG3] = 'f');
    MUTATE(ELF_ERR_NOT_ELF64, eh->e_ident[EI_CLASS] = ELFCLASS32);
    MUTATE(ELF_ERR_NOT_ELF64, eh->e_ident[EI_CLASS] = ELFCLASSNONE);
    MUTATE(ELF_ERR_NOT_LE, eh->e_ident[EI_DATA] = ELFDATA2MSB);
    MUTATE(ELF_ERR_NOT_LE, eh->e_ident[EI_DATA] = ELFDATANONE);
    MUTATE(ELF_ERR_BAD_VERSION, eh->e_ident[EI_VERSION] = EV_NONE);
    MUTATE(ELF_ERR_BAD_VERSION, eh->e_ident[EI_VERSION] = 2);
    MUTATE(ELF_ERR_BAD_VERSION, eh->e_version = 0);
    MUTATE(ELF_ERR_BAD_VERSION, eh->e_version = 0x100);
    MUTATE(ELF_ERR_PIE, eh->e_type = ET_DYN);
    MUTATE(ELF_ERR_NOT_EXEC, eh->e_type = ET_REL);
    MUTATE(ELF_ERR_NOT_EXEC, eh->e_type = ET_CORE);
    MUTATE(ELF_ERR_NOT_EXEC, eh->e_type = ET_NONE);
    MUTATE(ELF_ERR_NOT_EXEC, eh->e_type = 0x0202);
    MUTATE(ELF_ERR_WRONG_MACHINE, eh->e_machine = EM_X86_64);
    MUTATE(ELF_ERR_WRONG_MACHINE, eh->e_machine = EM_AARCH64);
    MUTATE(ELF_ERR_WRONG_MACHINE, eh->e_machine = EM_RISCV | 0x100);
    MUTATE(ELF_ERR_WRONG_MACHINE, eh->e_machine = EM_X86_64; eh->e_type = ET_DYN);
    /* OS ABI and padding bytes are not ours to judge. */
    MUTATE(ELF_OK, eh->e_ident[EI_OSABI] = ELFOSABI_GNU; eh->e_ident[EI_PAD] = 1);
    /* Section headers are never read. */
    MUTATE(ELF_OK, eh->e_shoff = UINT64_MAX; eh->e_shnum = 0xffff; eh->e_shentsize = 1);
}

static void test_flags(void **state)
{
    (void)state;
    static const struct {
        uint32_t flags;
        enum elf_err want;
    } cases[] = {
        {EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE, ELF_OK},
        {EF_RISCV_FLOAT_ABI_DOUBLE, ELF_OK},
        {EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_SOFT, ELF_OK},
        {EF_RISCV_FLOAT_ABI_SOFT, ELF_OK},
        {EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_SINGLE, ELF_ERR_BAD_FLAGS},
        {EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_QUAD, ELF_ERR_BAD_FLAGS},
        {EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE | EF_RISCV_RVE, ELF_ERR_BAD_FLAGS},
        {EF_RISCV_FLOAT_ABI_SOFT | EF_RISCV_RVE, ELF_ERR_BAD_FLAGS},
        {EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE | EF_RISCV_TSO, ELF_ERR_BAD_FLAGS},
        {EF_RISCV_FLOAT_ABI_DOUBLE | 0x100, ELF_ERR_BAD_FLAGS},
        {EF_RISCV_FLOAT_ABI_DOUBLE | 0x80000000u, ELF_ERR_BAD_FLAGS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        MUTATE(cases[i].want, eh->e_flags = cases[i].flags);
}

static void test_phdr_table(void **state)
{
    (void)state;
    MUTATE(ELF_ERR_NO_SEGMENTS, eh->e_phnum = 0);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phentsize = 32);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phentsize = 64);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phentsize = 0);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phnum = PN_XNUM);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phnum = 0xfffe);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phoff = m_.len);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phoff = m_.len - sizeof(Elf64_Phdr) + 1; eh->e_phnum = 1);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phoff = UINT64_MAX - 8);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phoff = UINT64_MAX);
    MUTATE(ELF_ERR_BAD_PHDR, eh->e_phoff = (uint64_t)1 << 63);
    /* The table may sit anywhere in the file, even unaligned. */
    MUTATE(ELF_OK, {
        size_t n = (size_t)eh->e_phnum * sizeof(Elf64_Phdr);
        memmove(m_.buf + m_.len - n - 1, m_.buf + eh->e_phoff, n);
        eh->e_phoff = m_.len - n - 1;
    });
}

/* ---- segment mutations ------------------------------------------------ */

static void test_segment_sizes(void **state)
{
    (void)state;
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_filesz = dt->p_memsz + 1);
    MUTATE(ELF_ERR_BAD_SEGMENT, tx->p_filesz = m_.len + 1; tx->p_memsz = m_.len + 1);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_offset = m_.len - dt->p_filesz + 1);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_offset = m_.len + 0x1000);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_offset = UINT64_MAX - 3; dt->p_filesz = 8);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_filesz = UINT64_MAX; dt->p_memsz = UINT64_MAX);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_vaddr = UINT64_MAX - 0xfff; dt->p_offset = 0;
           dt->p_memsz = 0x2000; dt->p_filesz = 0);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_memsz = UINT64_MAX);
    /* Data ending exactly at the end of the file is fine. */
    MUTATE(ELF_OK, dt->p_offset = m_.len - dt->p_filesz;
           dt->p_vaddr = 0x20000 + dt->p_offset % 0x1000);
    /* A bss-only segment's offset is never used. */
    MUTATE(ELF_OK, dt->p_filesz = 0; dt->p_offset = UINT64_MAX & ~0xfffull;
           dt->p_vaddr &= ~0xfffull);
}

static void test_segment_alignment(void **state)
{
    (void)state;
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_align = 0x1800);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_align = 3);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_align = UINT64_MAX);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_vaddr += 8);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_offset += 4; dt->p_filesz -= 4);
    MUTATE(ELF_ERR_BAD_SEGMENT, tx->p_vaddr += 0x800; eh->e_entry += 0x800);
    /* 0 and 1 mean "no constraint"; larger powers of two are fine when congruent. */
    MUTATE(ELF_OK, dt->p_align = 0; dt->p_vaddr += 8);
    MUTATE(ELF_OK, dt->p_align = 1; dt->p_vaddr += 8);
    MUTATE(ELF_OK, dt->p_align = 8);
    MUTATE(ELF_OK, dt->p_align = 0x10000; dt->p_vaddr = 0x40000 + dt->p_offset);
    MUTATE(ELF_ERR_BAD_SEGMENT, dt->p_align = (uint64_t)1 << 63);
}

static void test_segment_addresses(void **state)
{
    (void)state;
    const uint64_t top = ELF_USER_TOP;
    /* Page 0 is never mapped. */
    MUTATE(ELF_ERR_KERNEL_ADDR, dt->p_vaddr = dt->p_offset & 0xfff);
    MUTATE(ELF_OK, dt->p_vaddr = 0x1000 + (dt->p_offset & 0xfff));
    /* The top of the user half. */
    MUTATE(ELF_OK, dt->p_vaddr = top - 0x1000 + (dt->p_offset & 0xfff);
           dt->p_memsz = 0x1000 - (dt->p_offset & 0xfff));
    MUTATE(ELF_ERR_KERNEL_ADDR, dt->p_vaddr = top - 0x1000 + (dt->p_offset & 0xfff);
           dt->p_memsz = 0x1000 - (dt->p_offset & 0xfff) + 1);
    MUTATE(ELF_ERR_KERNEL_ADDR, dt->p_vaddr = top + (dt->p_offset & 0xfff));
    MUTATE(ELF_ERR_KERNEL_ADDR, dt->p_vaddr = 0xffffffc000000000ull + (dt->p_offset & 0xfff));
    MUTATE(ELF_ERR_KERNEL_ADDR, dt->p_vaddr = 0xffffffff80000000ull + (dt->p_offset & 0xfff));
    MUTATE(ELF_ERR_KERNEL_ADDR, dt->p_memsz = top);
    /* Empty segments are dropped, wherever they claim to be. */
    MUTATE(ELF_OK, dt->p_memsz = 0; dt->p_filesz = 0; dt->p_vaddr = 0xffffffff80000000ull);
}

static void test_wx(void **state)
{
    (void)state;
    MUTATE(ELF_ERR_WX, tx->p_flags = PF_R | PF_W | PF_X);
    MUTATE(ELF_ERR_WX, dt->p_flags = PF_W | PF_X);
    MUTATE(ELF_OK, dt->p_flags = PF_R);
    MUTATE(ELF_OK, dt->p_flags = PF_W);
    MUTATE(ELF_OK, dt->p_flags = 0);
    /* OS/processor-specific flag bits are dropped, not reported. */
    MUTATE(ELF_OK, dt->p_flags |= PF_MASKOS | PF_MASKPROC);
    struct img m = fresh("rv-static.elf");
    m.data->p_flags |= PF_MASKPROC;
    struct elf_info info;
    assert_int_equal(elf_check(m.buf, m.len, &info), ELF_OK);
    assert_int_equal(info.seg[1].flags, ELF_R | ELF_W);
    free(m.buf);
}

static void test_overlap(void **state)
{
    (void)state;
    /* Same bytes. */
    MUTATE(ELF_ERR_OVERLAP, dt->p_vaddr = tx->p_vaddr + (dt->p_offset & 0xfff));
    /* Data starting right where text ends, inside its last page. */
    MUTATE(ELF_ERR_OVERLAP, dt->p_vaddr -= 0x1000);
    /* Disjoint bytes, but sharing the last page of text: still refused. */
    MUTATE(ELF_ERR_OVERLAP, {
        uint64_t text_end = tx->p_vaddr + tx->p_memsz;
        assert_true((text_end & 0xfff) <= (dt->p_offset & 0xfff));
        dt->p_vaddr = (text_end & ~0xfffull) + (dt->p_offset & 0xfff);
    });
    /* Text wholly inside a large bss. */
    MUTATE(ELF_ERR_OVERLAP, dt->p_vaddr = 0x1000 + (dt->p_offset & 0xfff); dt->p_memsz = 0x100000);
    /* Adjacent pages are fine, in either order. */
    MUTATE(ELF_OK, dt->p_vaddr = 0x8000 + (dt->p_offset & 0xfff);
           dt->p_memsz = 0x1000 - (dt->p_offset & 0xfff));
    MUTATE(ELF_ERR_OVERLAP, dt->p_vaddr = 0x8000 + (dt->p_offset & 0xfff);
           dt->p_memsz = 0x1000 - (dt->p_offset & 0xfff) + 0x7001);
}

static void test_entry(void **state)
{
    (void)state;
    MUTATE(ELF_ERR_KERNEL_ADDR, eh->e_entry = 0);
    MUTATE(ELF_ERR_KERNEL_ADDR, eh->e_entry = 0xffe);
    MUTATE(ELF_ERR_KERNEL_ADDR, eh->e_entry = ELF_USER_TOP);
    MUTATE(ELF_ERR_KERNEL_ADDR, eh->e_entry = 0xffffffff80000000ull);
    MUTATE(ELF_ERR_BAD_ENTRY, eh->e_entry = dt->p_vaddr);
    MUTATE(ELF_ERR_BAD_ENTRY, eh->e_entry = 0x100000);
    MUTATE(ELF_ERR_BAD_ENTRY, eh->e_entry = tx->p_vaddr + tx->p_memsz);
    MUTATE(ELF_ERR_BAD_ENTRY, eh->e_entry += 1);
    MUTATE(ELF_OK, eh->e_entry += 2);
    MUTATE(ELF_OK, eh->e_entry = tx->p_vaddr + tx->p_memsz - 2);
    MUTATE(ELF_OK, eh->e_entry = tx->p_vaddr);
    /* Executable but also writable is reported as W^X, before the entry. */
    MUTATE(ELF_ERR_WX, dt->p_flags = PF_R | PF_W | PF_X; eh->e_entry = dt->p_vaddr);
    /* An entry in an executable, non-writable data segment is accepted. */
    MUTATE(ELF_OK, dt->p_flags = PF_R | PF_X; eh->e_entry = dt->p_vaddr + 2);
}

static void test_ignored_segment_types(void **state)
{
    (void)state;
    /* Turning every PT_LOAD into something else leaves nothing to load. */
    MUTATE(ELF_ERR_NO_SEGMENTS, tx->p_type = PT_NOTE; dt->p_type = PT_GNU_STACK);
    /* Only PT_LOAD is checked: nonsense in other types is ignored. */
    MUTATE(ELF_ERR_BAD_ENTRY, tx->p_type = PT_PHDR);
    MUTATE(ELF_OK, {
        Elf64_Phdr *ph = (Elf64_Phdr *)(m_.buf + eh->e_phoff);
        for (unsigned i = 0; i < eh->e_phnum; i++) {
            if (ph[i].p_type != PT_LOAD) {
                ph[i].p_vaddr = UINT64_MAX;
                ph[i].p_memsz = UINT64_MAX;
                ph[i].p_offset = UINT64_MAX;
                ph[i].p_filesz = 1;
                ph[i].p_flags = PF_R | PF_W | PF_X;
            }
        }
    });
}

/* ---- synthetic images ------------------------------------------------- */

/* An ELF with nload one-page PT_LOAD segments at 0x10000, 0x11000, ...
 * (the first executable, holding the entry) and nother PT_NOTE headers. */
static unsigned char *synth(unsigned nload, unsigned nother, size_t *len)
{
    unsigned nph = nload + nother;
    size_t size = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
    unsigned char *buf = calloc(1, size);
    assert_non_null(buf);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_RISCV;
    eh->e_version = EV_CURRENT;
    eh->e_entry = 0x10000 + 0x100;
    eh->e_phoff = sizeof(Elf64_Ehdr);
    eh->e_flags = EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE;
    eh->e_ehsize = sizeof(Elf64_Ehdr);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = (Elf64_Half)nph;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(Elf64_Ehdr));
    unsigned left_load = nload, left_other = nother;
    for (unsigned i = 0; i < nph; i++) {
        /* Interleave the other headers among the loads. */
        if (left_other > 0 && (i % 2 == 1 || left_load == 0)) {
            ph[i].p_type = PT_NOTE;
            left_other--;
        } else {
            ph[i].p_type = PT_LOAD;
            left_load--;
        }
    }
    unsigned li = 0;
    for (unsigned i = 0; i < nph; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        ph[i].p_flags = li == 0 ? PF_R | PF_X : PF_R;
        ph[i].p_offset = 0;
        ph[i].p_filesz = li == 0 ? sizeof(Elf64_Ehdr) : 0;
        ph[i].p_vaddr = 0x10000 + 0x1000ull * li;
        ph[i].p_memsz = 0x1000;
        ph[i].p_align = 0x1000;
        li++;
    }
    assert_int_equal(li, nload);
    *len = size;
    return buf;
}

static void test_segment_count(void **state)
{
    (void)state;
    struct elf_info info;
    size_t len;
    unsigned char *b;

    b = synth(1, 0, &len);
    assert_int_equal(check_exact(b, len, &info), ELF_OK);
    assert_int_equal(info.nseg, 1);
    assert_int_equal(info.lowest, 0x10000);
    assert_int_equal(info.highest, 0x11000);
    free(b);

    b = synth(ELF_MAX_SEGMENTS, 0, &len);
    assert_int_equal(check_exact(b, len, &info), ELF_OK);
    assert_int_equal(info.nseg, ELF_MAX_SEGMENTS);
    assert_int_equal(info.highest, 0x10000 + 0x1000 * ELF_MAX_SEGMENTS);
    compare_with_oracle(b, &info);
    free(b);

    b = synth(ELF_MAX_SEGMENTS, 9, &len); /* other types do not count */
    assert_int_equal(check_exact(b, len, &info), ELF_OK);
    assert_int_equal(info.nseg, ELF_MAX_SEGMENTS);
    free(b);

    b = synth(ELF_MAX_SEGMENTS + 1, 0, &len);
    assert_int_equal(check_exact(b, len, &info), ELF_ERR_TOO_MANY_SEGMENTS);
    free(b);

    b = synth(100, 3, &len);
    assert_int_equal(check_exact(b, len, &info), ELF_ERR_TOO_MANY_SEGMENTS);
    free(b);

    /* Empty PT_LOADs do not count either. */
    b = synth(ELF_MAX_SEGMENTS + 4, 0, &len);
    Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(Elf64_Ehdr));
    for (unsigned i = 1; i <= 4; i++)
        ph[i].p_memsz = 0;
    assert_int_equal(check_exact(b, len, &info), ELF_OK);
    assert_int_equal(info.nseg, ELF_MAX_SEGMENTS);
    compare_with_oracle(b, &info);
    free(b);

    b = synth(0, 2, &len);
    assert_int_equal(check_exact(b, len, &info), ELF_ERR_NO_SEGMENTS);
    free(b);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int i = 0; i < ELF_ERR_COUNT; i++) {
        const char *s = elf_strerror((enum elf_err)i);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, elf_strerror((enum elf_err)j));
    }
    assert_string_equal(elf_strerror(ELF_ERR_COUNT), "unknown ELF error");
    assert_string_equal(elf_strerror((enum elf_err) - 1), "unknown ELF error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_static),
        cmocka_unit_test(test_real_soft_float),
        cmocka_unit_test(test_real_kernel_linked),
        cmocka_unit_test(test_real_page0_linked),
        cmocka_unit_test(test_real_host_executable),
        cmocka_unit_test(test_unaligned_image),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_short_inputs),
        cmocka_unit_test(test_header_mutations),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_phdr_table),
        cmocka_unit_test(test_segment_sizes),
        cmocka_unit_test(test_segment_alignment),
        cmocka_unit_test(test_segment_addresses),
        cmocka_unit_test(test_wx),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_entry),
        cmocka_unit_test(test_ignored_segment_types),
        cmocka_unit_test(test_segment_count),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
