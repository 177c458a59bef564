# Fuzzers for the initrd parsers. Seeds: tests/fuzz/corpus/fuzz_cpio (small
# real and broken newc archives, one with ./-prefixed names) and
# tests/fuzz/corpus/fuzz_elf (small RISC-V executables, good and bad).
newsys_fuzzer(fuzz_cpio fuzz_cpio.c
    SOURCES ../../kernel/lib/cpio.c ../../kernel/lib/elf.c)
newsys_fuzzer(fuzz_elf fuzz_elf.c
    SOURCES ../../kernel/lib/elf.c)
