/* Kernel link map. Preprocessed with layout.h. Sections are page aligned
 * where their permissions change so vm.c can map them W^X. */
#include "kernel/arch/riscv/layout.h"

OUTPUT_ARCH(riscv)
ENTRY(_start)

SECTIONS
{
    . = KERNEL_VBASE;

    .text : {
        KEEP(*(.head.text))
        *(.text.unlikely .text.unlikely.*)
        *(.text .text.*)
    }
    . = ALIGN(PAGE_SIZE);
    _text_end = .;

    .rodata : {
        *(.rodata .rodata.*)
        *(.srodata .srodata.*)
    }
    __ex_table : {
        __ex_table_start = .;
        KEEP(*(__ex_table))
        __ex_table_end = .;
    }
    . = ALIGN(PAGE_SIZE);
    _rodata_end = .;

    .data : {
        *(.data .data.*)
        *(.sdata .sdata.*)
    }
    _data_end = .;

    .bss (NOLOAD) : ALIGN(16) {
        _bss_start = .;
        *(.sbss .sbss.*)
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(8);
        _bss_end = .;
    }

    /* The boot stack, with an unmapped guard page below it. */
    .stack (NOLOAD) : ALIGN(PAGE_SIZE) {
        _stack_guard = .;
        . += PAGE_SIZE;
        _boot_stack_bottom = .;
        . += BOOT_STACK_SIZE;
        _boot_stack_top = .;
    }
    . = ALIGN(PAGE_SIZE);
    _kernel_end = .;
    _kernel_image_size = _kernel_end - _start;

    /DISCARD/ : {
        *(.eh_frame .eh_frame_hdr)
        *(.note .note.*)
        *(.comment)
        *(.riscv.attributes)
    }
}

ASSERT(_start == KERNEL_VBASE, "the image must start at KERNEL_VBASE")
ASSERT(_kernel_image_size <= KERNEL_MAX_IMAGE, "kernel image too large for early.c's tables")
