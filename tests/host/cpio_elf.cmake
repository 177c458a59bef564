# Host tests of the initrd parsers: kernel/lib/cpio.c and kernel/lib/elf.c.
#
# The inputs are real files made at build time, so the parsers are checked
# against what the tools actually write rather than against our own reading
# of the formats:
#   * RISC-V executables from riscv64-unknown-elf-gcc (a normal one at
#     0x10000, a soft-float one, one linked at the kernel's address and one
#     at page 0), and a host executable (wrong machine);
#   * cpio archives from GNU cpio -H newc / -H crc of a small tree holding
#     an executable, an empty file, files of 1, 2, 3 and 5 bytes (every
#     padding case), a directory, a 200-character name and a symlink;
#   * the same tree written by scripts/mkinitrd (page-aligned file data).
# Hand-mutated variants of these are made inside the tests themselves.
find_program(NEWSYS_CPIO cpio)
find_program(NEWSYS_RISCV_GCC riscv64-unknown-elf-gcc)

if(NOT NEWSYS_CPIO OR NOT NEWSYS_RISCV_GCC)
    message(WARNING "cpio or riscv64-unknown-elf-gcc missing: test_cpio/test_elf not built "
        "(apt-get install cpio gcc-riscv64-unknown-elf)")
    return()
endif()

set(CPIO_ELF_DATA ${CMAKE_CURRENT_BINARY_DIR}/data/cpio_elf)
set(CPIO_ELF_GEN ${CMAKE_CURRENT_BINARY_DIR}/gen_cpio_elf_data.sh)

# One script makes everything; it is regenerated whenever this file changes.
file(CONFIGURE OUTPUT ${CPIO_ELF_GEN} @ONLY CONTENT [=[
#!/bin/sh
# Generated from tests/host/cpio_elf.cmake: test inputs for test_cpio/test_elf.
set -eu
out="$1"
rm -rf "$out"
mkdir -p "$out"
cd "$out"

cat > prog.c <<'EOF'
/* A program with code, initialised data and bss: two PT_LOAD segments. */
static const char msg[] = "hello";
int counter = 3;
char buf[64];
void _start(void)
{
    for (;;) {
        buf[counter & 63] = msg[counter % 5];
        counter++;
    }
}
EOF
cat > host.c <<'EOF'
int main(void) { return 0; }
EOF

rv() { "@NEWSYS_RISCV_GCC@" -nostdlib -static -O2 -Wl,--build-id=none "$@"; }
rv -march=rv64gc -mabi=lp64d -Wl,-Ttext=0x10000 prog.c -o rv-static.elf
rv -march=rv64imac -mabi=lp64 -Wl,-Ttext=0x10000 prog.c -o rv-soft.elf
rv -march=rv64gc -mabi=lp64d -mcmodel=medany -Wl,-Ttext=0xffffffff80000000 prog.c -o rv-kernel.elf
rv -march=rv64gc -mabi=lp64d -Wl,-Ttext=0 prog.c -o rv-page0.elf
"@CMAKE_C_COMPILER@" host.c -o host.elf

# The archived tree. Modes, owners and times are pinned so that the test can
# check every header field.
mkdir -p tree/dir
cp rv-static.elf tree/init
: > tree/empty
printf 'x' > tree/one
printf 'xy' > tree/two
printf 'xyz' > tree/three
printf 'hello' > tree/five
printf 'nested\n' > tree/dir/nested.txt
long=dir/$(printf '%0200d' 0 | tr 0 L)
printf 'long name\n' > "tree/$long"
ln -s init tree/link
chmod 0755 tree tree/dir tree/init
chmod 0644 tree/empty tree/one tree/two tree/three tree/five tree/dir/nested.txt "tree/$long"
find tree -exec touch -h -d @1234567890 {} +

# GNU cpio stores "./x" as "x"; `find .` adds the root entry ".".
(cd tree && find . | LC_ALL=C sort |
    "@NEWSYS_CPIO@" -o -H newc -R 0:0 --reproducible --quiet) > tree.cpio
(cd tree && find . | LC_ALL=C sort |
    "@NEWSYS_CPIO@" -o -H crc -R 0:0 --reproducible --quiet) > tree-crc.cpio
(cd tree && find . -mindepth 1 | LC_ALL=C sort |
    "@NEWSYS_CPIO@" -o -H newc -R 0:0 --reproducible --quiet) > tree-noroot.cpio
# Our own writer (the initrd's): every file's data on a page boundary.
python3 "@CMAKE_SOURCE_DIR@/scripts/mkinitrd" tree-aligned.cpio tree
touch stamp
]=])

add_custom_command(
    OUTPUT ${CPIO_ELF_DATA}/stamp
    COMMAND sh ${CPIO_ELF_GEN} ${CPIO_ELF_DATA}
    DEPENDS ${CPIO_ELF_GEN} ${CMAKE_CURRENT_LIST_FILE} ${CMAKE_SOURCE_DIR}/scripts/mkinitrd
    COMMENT "cpio/ELF test inputs"
    VERBATIM)
add_custom_target(cpio_elf_data DEPENDS ${CPIO_ELF_DATA}/stamp)

newsys_host_test(test_cpio test_cpio.c
    SOURCES ../../kernel/lib/cpio.c ../../kernel/lib/elf.c)
newsys_host_test(test_elf test_elf.c
    SOURCES ../../kernel/lib/elf.c)
add_dependencies(test_cpio cpio_elf_data)
add_dependencies(test_elf cpio_elf_data)
