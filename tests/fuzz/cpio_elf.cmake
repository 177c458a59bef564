# Fuzzers for the initrd parsers. Seeds: tests/fuzz/corpus/fuzz_cpio (small
# real and broken newc archives, one with ./-prefixed names) and
# tests/fuzz/corpus/fuzz_elf (small RISC-V executables, good and bad).
#
# newsys_fuzzer() writes its binary to <binary dir>/<name>, the path Ninja
# also uses for the target's phony alias ("multiple rules generate
# tests/fuzz/fuzz_cpio"); as fdt.cmake does, build into bin/ until
# tests/fuzz/CMakeLists.txt is fixed.
set(newsys_cpio_elf_saved_bindir ${CMAKE_CURRENT_BINARY_DIR})
set(CMAKE_CURRENT_BINARY_DIR ${newsys_cpio_elf_saved_bindir}/bin)
newsys_fuzzer(fuzz_cpio fuzz_cpio.c
    SOURCES ../../kernel/lib/cpio.c ../../kernel/lib/elf.c)
newsys_fuzzer(fuzz_elf fuzz_elf.c
    SOURCES ../../kernel/lib/elf.c)
set(CMAKE_CURRENT_BINARY_DIR ${newsys_cpio_elf_saved_bindir})
