# Shared by the scripts: paths, package installation, the build.
# Sourced, not run.

NEWSYS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${NEWSYS_BUILD:-$NEWSYS_ROOT/build}
RISCV_BUILD=$BUILD/riscv
OPENSBI_DIR=/usr/lib/riscv64-linux-gnu/opensbi/generic
# Debian's U-Boot for QEMU virt in S-mode (u-boot-qemu), entered by OpenSBI.
UBOOT_SMODE=/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin

# Debian packages the build, the tests and the tools need.
NEWSYS_PACKAGES=(
    cmake ninja-build make gcc clang libclang-rt-14-dev python3 cpio
    gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf picolibc-riscv64-unknown-elf
    opensbi qemu-system-misc u-boot-qemu device-tree-compiler
    libcmocka-dev libfdt-dev gdb-multiarch
    fdisk dosfstools mtools
)

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# Install whatever is missing, quietly when nothing is.
ensure_packages() {
    local missing=()
    for p in "${NEWSYS_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    log "installing: ${missing[*]}"
    $sudo apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2 || die "apt-get install failed"
}

# Configure (first time) and build both trees. The host tree drives the
# RISC-V one as an external project; both export compile_commands.json and
# we merge them for editors.
build_all() {
    if [ ! -f "$BUILD/build.ninja" ]; then
        cmake -S "$NEWSYS_ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug >&2 ||
            die "cmake configure failed"
    fi
    cmake --build "$BUILD" >&2 || die "build failed"
    if [ -f "$BUILD/compile_commands.json" ] && [ -f "$RISCV_BUILD/compile_commands.json" ]; then
        python3 - "$BUILD/compile_commands.json" "$RISCV_BUILD/compile_commands.json" \
            "$NEWSYS_ROOT/compile_commands.json" <<'PY'
import json, sys
out = []
for f in sys.argv[1:3]:
    out += json.load(open(f))
json.dump(out, open(sys.argv[3], "w"), indent=1)
PY
    fi
}

build_riscv_only() {
    # Enough to boot: used by scripts/run when the host tests are not wanted.
    build_all
}
