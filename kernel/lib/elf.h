/* Check of an ELF64 RISC-V user executable before the kernel loads it.
 *
 * elf_check() decides whether an image (typically a file inside the initrd,
 * so untrusted and possibly unaligned) is a program the kernel will load, and
 * returns its PT_LOAD segments and entry point. It reads only inside
 * [image, image + len) and never writes to it.
 *
 * Accepted: ELFCLASS64, little-endian, EV_CURRENT, ET_EXEC (position-
 * dependent; ET_DYN gets its own error ELF_ERR_PIE), EM_RISCV, e_flags with
 * the soft or double float ABI and optionally RVC, nothing else (RVE, TSO and
 * unknown bits are rejected). Every PT_LOAD segment with a non-zero memsz must
 * lie in [ELF_USER_MIN, ELF_USER_TOP), must not be both writable and
 * executable, must not overlap nor even share a 4 KiB page with another one
 * (ELF_ERR_OVERLAP: the loader maps whole pages, one permission set each),
 * and must be congruent modulo its p_align. Segments with memsz 0 are checked for file bounds and
 * then dropped. Other segment types (PT_GNU_STACK, PT_RISCV_ATTRIBUTES, PT_NOTE,
 * ...) are ignored. */
#ifndef NEWSYS_KERNEL_LIB_ELF_H
#define NEWSYS_KERNEL_LIB_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 16u

/* User half of Sv39: [0, 2^38). Page 0 is never mapped, so null pointer
 * dereferences fault. */
#define ELF_USER_MIN 0x1000ull
#define ELF_USER_TOP 0x4000000000ull

/* Granule of the overlap check: the Sv39 base page. */
#define ELF_PAGE_SIZE 0x1000ull

/* Segment permissions: the ELF PF_* values. */
#define ELF_X 1u
#define ELF_W 2u
#define ELF_R 4u

enum elf_err {
    ELF_OK = 0,
    ELF_ERR_TRUNCATED,         /* shorter than the ELF header */
    ELF_ERR_BAD_MAGIC,         /* not \x7fELF */
    ELF_ERR_NOT_ELF64,         /* EI_CLASS is not ELFCLASS64 */
    ELF_ERR_NOT_LE,            /* EI_DATA is not ELFDATA2LSB */
    ELF_ERR_BAD_VERSION,       /* EI_VERSION or e_version is not EV_CURRENT */
    ELF_ERR_NOT_EXEC,          /* e_type is not ET_EXEC (nor ET_DYN) */
    ELF_ERR_PIE,               /* e_type is ET_DYN: position-independent, not supported yet */
    ELF_ERR_WRONG_MACHINE,     /* e_machine is not EM_RISCV */
    ELF_ERR_BAD_FLAGS,         /* float ABI single/quad, RVE, TSO or unknown e_flags bits */
    ELF_ERR_BAD_PHDR,          /* phentsize/phnum/phoff out of range */
    ELF_ERR_BAD_SEGMENT,       /* filesz > memsz, past the file, wraps, bad or incongruent align */
    ELF_ERR_OVERLAP,           /* two PT_LOAD segments overlap or share a page */
    ELF_ERR_KERNEL_ADDR,       /* segment or entry outside [ELF_USER_MIN, ELF_USER_TOP) */
    ELF_ERR_WX,                /* a segment both writable and executable */
    ELF_ERR_BAD_ENTRY,         /* entry not inside an executable segment, or misaligned */
    ELF_ERR_NO_SEGMENTS,       /* no non-empty PT_LOAD segment */
    ELF_ERR_TOO_MANY_SEGMENTS, /* more than ELF_MAX_SEGMENTS non-empty PT_LOAD segments */
    ELF_ERR_COUNT
};

struct elf_info {
    uint64_t entry;
    unsigned nseg;
    struct elf_segment {
        uint64_t vaddr, memsz, offset, filesz;
        uint32_t flags;      /* ELF_R | ELF_W | ELF_X */
    } seg[ELF_MAX_SEGMENTS]; /* in program-header order */
    uint64_t lowest;         /* lowest segment vaddr */
    uint64_t highest;        /* end (exclusive) of the highest segment: max(vaddr + memsz) */
};

const char *elf_strerror(enum elf_err err);

/* Returns ELF_OK and fills *out, or the first problem found; *out is
 * unspecified on error. Order of the checks: identification (magic, class,
 * data, version), machine (so a foreign executable reports the machine even
 * if it is also a PIE), e_version, type, flags, program-header table, each
 * PT_LOAD in turn (sizes, file bounds, wrap, align, address range, W^X,
 * count), then overlap, then the entry point. */
enum elf_err elf_check(const void *image, size_t len, struct elf_info *out);

#endif
