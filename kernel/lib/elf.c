/* ELF64 RISC-V executable check (see elf.h for the contract).
 *
 * Design: the image is untrusted and, when it comes out of a cpio archive,
 * only 4-byte aligned, so no ELF structure is ever overlaid on it: every
 * field is decoded byte by byte as little-endian from a checked offset. All
 * range checks are written as `size > len - off` after establishing
 * `off <= len`, so no sum can wrap. The checker only decides and describes;
 * mapping and copying the segments is the loader's job, which may then rely
 * on every segment lying in user space, inside the file and apart from the
 * others. */
#include "kernel/lib/elf.h"

#include <stdbool.h>

/* ELF64 header and program-header layout (System V gABI). */
#define EH_SIZE     64u
#define EI_CLASS    4
#define EI_DATA     5
#define EI_VERSION  6
#define E_TYPE      16
#define E_MACHINE   18
#define E_VERSION   20
#define E_ENTRY     24
#define E_PHOFF     32
#define E_FLAGS     48
#define E_PHENTSIZE 54
#define E_PHNUM     56
#define PH_SIZE     56u
#define P_TYPE      0
#define P_FLAGS     4
#define P_OFFSET    8
#define P_VADDR     16
#define P_FILESZ    32
#define P_MEMSZ     40
#define P_ALIGN     48
#define ELFCLASS64  2
#define ELFDATA2LSB 1
#define EV_CURRENT  1
#define ET_EXEC     2
#define ET_DYN      3
#define EM_RISCV    243
#define PT_LOAD     1
#define PN_XNUM     0xffffu

/* RISC-V psABI e_flags. */
#define EF_RISCV_RVC              0x0001u
#define EF_RISCV_FLOAT_ABI        0x0006u
#define EF_RISCV_FLOAT_ABI_SOFT   0x0000u
#define EF_RISCV_FLOAT_ABI_DOUBLE 0x0004u

static const char *const elf_err_names[ELF_ERR_COUNT] = {
    [ELF_OK] = "ok",
    [ELF_ERR_TRUNCATED] = "ELF image truncated",
    [ELF_ERR_BAD_MAGIC] = "not an ELF image",
    [ELF_ERR_NOT_ELF64] = "not ELF64",
    [ELF_ERR_NOT_LE] = "not little-endian",
    [ELF_ERR_BAD_VERSION] = "bad ELF version",
    [ELF_ERR_NOT_EXEC] = "not an executable (ET_EXEC)",
    [ELF_ERR_PIE] = "position-independent executable not supported",
    [ELF_ERR_WRONG_MACHINE] = "not a RISC-V executable",
    [ELF_ERR_BAD_FLAGS] = "unsupported RISC-V ABI flags",
    [ELF_ERR_BAD_PHDR] = "bad program header table",
    [ELF_ERR_BAD_SEGMENT] = "bad loadable segment",
    [ELF_ERR_OVERLAP] = "loadable segments overlap",
    [ELF_ERR_KERNEL_ADDR] = "address outside user space",
    [ELF_ERR_WX] = "segment both writable and executable",
    [ELF_ERR_BAD_ENTRY] = "entry point not in an executable segment",
    [ELF_ERR_NO_SEGMENTS] = "no loadable segment",
    [ELF_ERR_TOO_MANY_SEGMENTS] = "too many loadable segments",
};

const char *elf_strerror(enum elf_err err)
{
    if ((unsigned)err >= ELF_ERR_COUNT)
        return "unknown ELF error";
    return elf_err_names[err];
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static enum elf_err check_header(const unsigned char *img, size_t len)
{
    static const unsigned char magic[4] = {0x7f, 'E', 'L', 'F'};

    /* A short file that is not even a prefix of an ELF magic is "not ELF". */
    for (size_t i = 0; i < 4 && i < len; i++) {
        if (img[i] != magic[i])
            return ELF_ERR_BAD_MAGIC;
    }
    if (len < EH_SIZE)
        return ELF_ERR_TRUNCATED;
    if (img[EI_CLASS] != ELFCLASS64)
        return ELF_ERR_NOT_ELF64;
    if (img[EI_DATA] != ELFDATA2LSB)
        return ELF_ERR_NOT_LE;
    if (img[EI_VERSION] != EV_CURRENT)
        return ELF_ERR_BAD_VERSION;
    if (le16(img + E_MACHINE) != EM_RISCV)
        return ELF_ERR_WRONG_MACHINE;
    if (le32(img + E_VERSION) != EV_CURRENT)
        return ELF_ERR_BAD_VERSION;

    uint16_t type = le16(img + E_TYPE);
    if (type == ET_DYN)
        return ELF_ERR_PIE;
    if (type != ET_EXEC)
        return ELF_ERR_NOT_EXEC;

    /* The kernel saves and restores FP state for lp64d and lp64 code alike;
     * single/quad float ABIs, RVE and the Ztso memory model describe code
     * this machine does not run. Unknown bits are refused rather than
     * guessed at. */
    uint32_t flags = le32(img + E_FLAGS);
    uint32_t fabi = flags & EF_RISCV_FLOAT_ABI;
    if ((flags & ~(EF_RISCV_RVC | EF_RISCV_FLOAT_ABI)) != 0)
        return ELF_ERR_BAD_FLAGS;
    if (fabi != EF_RISCV_FLOAT_ABI_SOFT && fabi != EF_RISCV_FLOAT_ABI_DOUBLE)
        return ELF_ERR_BAD_FLAGS;
    return ELF_OK;
}

/* Segments end at or below ELF_USER_TOP, a page multiple, so rounding up
 * cannot wrap. */
static uint64_t page_down(uint64_t a)
{
    return a & ~(ELF_PAGE_SIZE - 1);
}

static uint64_t page_up(uint64_t a)
{
    return page_down(a + ELF_PAGE_SIZE - 1);
}

static bool is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* Validates one PT_LOAD program header; *keep says whether it occupies
 * memory (memsz > 0) and so belongs in the segment list. */
static enum elf_err check_segment(const unsigned char *ph, size_t len, struct elf_segment *seg,
                                  bool *keep)
{
    uint64_t offset = le64(ph + P_OFFSET);
    uint64_t vaddr = le64(ph + P_VADDR);
    uint64_t filesz = le64(ph + P_FILESZ);
    uint64_t memsz = le64(ph + P_MEMSZ);
    uint64_t align = le64(ph + P_ALIGN);

    if (filesz > memsz)
        return ELF_ERR_BAD_SEGMENT;
    /* p_offset means nothing when no byte comes from the file. */
    if (filesz != 0 && (offset > len || filesz > len - offset))
        return ELF_ERR_BAD_SEGMENT;
    *keep = memsz != 0;
    if (!*keep)
        return ELF_OK;
    if (memsz > UINT64_MAX - vaddr)
        return ELF_ERR_BAD_SEGMENT;
    /* gABI: 0 and 1 mean no alignment; otherwise a power of two with
     * p_vaddr congruent to p_offset modulo it. */
    if (align > 1 && (!is_pow2(align) || (vaddr & (align - 1)) != (offset & (align - 1))))
        return ELF_ERR_BAD_SEGMENT;
    if (vaddr < ELF_USER_MIN || vaddr + memsz > ELF_USER_TOP)
        return ELF_ERR_KERNEL_ADDR;

    uint32_t flags = le32(ph + P_FLAGS) & (ELF_R | ELF_W | ELF_X);
    if ((flags & ELF_W) && (flags & ELF_X))
        return ELF_ERR_WX;

    seg->vaddr = vaddr;
    seg->memsz = memsz;
    seg->offset = offset;
    seg->filesz = filesz;
    seg->flags = flags;
    return ELF_OK;
}

enum elf_err elf_check(const void *image, size_t len, struct elf_info *out)
{
    const unsigned char *img = image;
    if (img == NULL)
        len = 0;

    enum elf_err err = check_header(img, len);
    if (err != ELF_OK)
        return err;

    uint64_t phoff = le64(img + E_PHOFF);
    uint16_t phentsize = le16(img + E_PHENTSIZE);
    uint16_t phnum = le16(img + E_PHNUM);
    if (phnum == 0)
        return ELF_ERR_NO_SEGMENTS;
    /* PN_XNUM moves the real count into section header 0: not for a
     * program small enough to live in an initrd. */
    if (phnum == PN_XNUM || phentsize != PH_SIZE)
        return ELF_ERR_BAD_PHDR;
    if (phoff > len || (uint64_t)phnum * PH_SIZE > len - phoff)
        return ELF_ERR_BAD_PHDR;

    unsigned n = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const unsigned char *ph = img + phoff + (size_t)i * PH_SIZE;
        if (le32(ph + P_TYPE) != PT_LOAD)
            continue;
        struct elf_segment seg;
        bool keep;
        err = check_segment(ph, len, &seg, &keep);
        if (err != ELF_OK)
            return err;
        if (!keep)
            continue;
        if (n == ELF_MAX_SEGMENTS)
            return ELF_ERR_TOO_MANY_SEGMENTS;
        out->seg[n++] = seg;
    }
    if (n == 0)
        return ELF_ERR_NO_SEGMENTS;

    /* The loader maps whole pages, each with one set of permissions, so two
     * segments that merely share a page conflict as surely as overlapping
     * ones (it would have to make the page RWX or break one of them). The
     * default RISC-V linker scripts start each segment on a fresh page. */
    for (unsigned i = 0; i < n; i++) {
        const struct elf_segment *a = &out->seg[i];
        uint64_t a_lo = page_down(a->vaddr), a_hi = page_up(a->vaddr + a->memsz);
        for (unsigned j = i + 1; j < n; j++) {
            const struct elf_segment *b = &out->seg[j];
            uint64_t b_lo = page_down(b->vaddr), b_hi = page_up(b->vaddr + b->memsz);
            if (a_lo < b_hi && b_lo < a_hi)
                return ELF_ERR_OVERLAP;
        }
    }

    uint64_t entry = le64(img + E_ENTRY);
    if (entry < ELF_USER_MIN || entry >= ELF_USER_TOP)
        return ELF_ERR_KERNEL_ADDR;
    /* Instructions are at least 2-byte aligned (RVC); an odd entry would
     * take an instruction-address-misaligned fault on the first fetch. */
    bool in_exec = false;
    for (unsigned i = 0; i < n; i++) {
        const struct elf_segment *s = &out->seg[i];
        if ((s->flags & ELF_X) && entry >= s->vaddr && entry - s->vaddr < s->memsz)
            in_exec = true;
    }
    if (!in_exec || (entry & 1) != 0)
        return ELF_ERR_BAD_ENTRY;

    out->entry = entry;
    out->nseg = n;
    out->lowest = UINT64_MAX;
    out->highest = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct elf_segment *s = &out->seg[i];
        if (s->vaddr < out->lowest)
            out->lowest = s->vaddr;
        if (s->vaddr + s->memsz > out->highest)
            out->highest = s->vaddr + s->memsz;
    }
    return ELF_OK;
}
