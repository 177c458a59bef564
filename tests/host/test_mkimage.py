#!/usr/bin/env python3
"""Host checks of scripts/mkimage: the SD-card image of every board, read
back with other tools than the ones that wrote it where we can (our own
GPT parse of the raw bytes next to sfdisk's, fsck.fat on the FAT, dtc on
the tree), and the options and the errors.

    test_mkimage.py ROOT BUILD WORKDIR

Ends with `N passed, N failed`; exit status 1 if anything failed.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

MiB = 1 << 20
SECTOR = 512
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
NEWSYS_DATA = "EDD302AE-A9F6-459F-B820-36D4E1FE0326"  # scripts/mkimage, user/init/gpt.c
BOOT_FIRST, BOOT_SECTORS = 32768, 65536
DATA_FIRST = BOOT_FIRST + BOOT_SECTORS
TIMEOUT = 60

# Board -> (tree file name, a compatible string its tree must carry).
BOARDS = {
    "virt": ("qemu-virt.dtb", "riscv-virtio"),
    "unleashed": ("hifive-unleashed.dtb", "sifive,fu540"),
    "unmatched": ("hifive-unmatched.dtb", "sifive,fu740"),
    "visionfive2": ("visionfive2.dtb", "starfive,jh7110"),
}

ROOT, BUILD, WORK = sys.argv[1:4]
MKIMAGE = os.path.join(ROOT, "scripts", "mkimage")
RISCV = os.path.join(BUILD, "riscv")
ENV = dict(os.environ, NEWSYS_BUILD=BUILD, MTOOLS_SKIP_CHECK="1")
results = {"passed": 0, "failed": 0}


def run(cmd, ok=True, binary=False):
    p = subprocess.run(cmd, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT)
    if ok and p.returncode:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.decode()}")
    return p if binary else subprocess.CompletedProcess(
        p.args, p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def check(name, fn):
    try:
        fn()
        print(f"PASS {name}")
        results["passed"] += 1
    except (AssertionError, subprocess.TimeoutExpired, OSError) as e:
        print(f"FAIL {name}: {e}")
        results["failed"] += 1


def mkimage(out, *args):
    if os.path.exists(out):
        os.unlink(out)
    return run([MKIMAGE, "--no-build", "-o", out] + list(args), ok=False)


def guid(b):
    """A GPT GUID from its 16 on-disk bytes (first three fields little-endian)."""
    a, b2, c = struct.unpack_from("<IHH", b)
    rest = b[8:].hex().upper()
    return f"{a:08X}-{b2:04X}-{c:04X}-{rest[:4]}-{rest[4:]}"


def raw_gpt(img):
    """The partition entries in use, parsed from the bytes: both headers and
    arrays must pass their CRCs and agree."""
    with open(img, "rb") as f:
        data = f.read()
    sectors = len(data) // SECTOR
    assert data[510:512] == b"\x55\xaa" and data[446 + 4] == 0xEE, "no protective MBR"
    copies = []
    for lba in (1, sectors - 1):
        h = bytearray(data[lba * SECTOR:lba * SECTOR + 92])
        assert h[:8] == b"EFI PART", f"no GPT header at LBA {lba}"
        crc = struct.unpack_from("<I", h, 16)[0]
        struct.pack_into("<I", h, 16, 0)
        assert zlib.crc32(h) == crc, f"header CRC at LBA {lba}"
        my_lba, alt, first, last = struct.unpack_from("<QQQQ", h, 24)
        arr, n, size, arr_crc = struct.unpack_from("<QIII", h, 72)
        assert my_lba == lba, f"header at {lba} says {my_lba}"
        array = data[arr * SECTOR:arr * SECTOR + n * size]
        assert zlib.crc32(array) == arr_crc, f"entry array CRC (header at LBA {lba})"
        parts = []
        for i in range(n):
            e = array[i * size:(i + 1) * size]
            if e[:16] == bytes(16):
                continue
            s, l, attrs = struct.unpack_from("<QQQ", e, 32)
            name = e[56:128].decode("utf-16-le").rstrip("\0")
            parts.append((i + 1, guid(e[:16]), s, l - s + 1, attrs, name))
        copies.append((first, last, parts))
    assert copies[0] == copies[1], "the primary and backup tables differ"
    return copies[0]


def fat_file(img, path):
    return run(["mtype", "-i", f"{img}@@{BOOT_FIRST * SECTOR}", path], binary=True).stdout


def fat_listing(img):
    out = run(["mdir", "-i", f"{img}@@{BOOT_FIRST * SECTOR}", "-b", "-/", "::"]).stdout
    return sorted(x.strip() for x in out.splitlines() if x.strip())


def extlinux(img):
    return fat_file(img, "::extlinux/extlinux.conf").decode()


def board_image(board):
    dtb_name, compat = BOARDS[board]
    img = os.path.join(WORK, f"{board}.img")
    total = (16 + 32 + 32 + 1) * MiB

    def made():
        p = mkimage(img, "--board", board)
        assert p.returncode == 0, p.stderr
        assert os.path.getsize(img) == total, f"size {os.path.getsize(img)}"

    def gpt():
        j = json.loads(run(["sfdisk", "-J", img]).stdout)["partitiontable"]
        assert j["label"] == "gpt" and j["sectorsize"] == 512, j
        p1, p2 = j["partitions"]  # exactly two
        assert (p1["start"], p1["size"], p1["type"], p1["name"]) == (
            BOOT_FIRST, BOOT_SECTORS, ESP, "newsys-boot"), p1
        assert "LegacyBIOSBootable" in p1.get("attrs", ""), p1
        assert (p2["start"], p2["size"], p2["type"], p2["name"]) == (
            DATA_FIRST, 32 * MiB // SECTOR, NEWSYS_DATA, "newsys-data"), p2
        assert "No errors detected" in run(["sfdisk", "-V", img]).stdout
        # The same from the bytes; attribute bit 2 is "legacy BIOS bootable".
        first, last, parts = raw_gpt(img)
        assert [(p[0], p[1], p[2], p[3], p[5]) for p in parts] == [
            (1, ESP, BOOT_FIRST, BOOT_SECTORS, "newsys-boot"),
            (2, NEWSYS_DATA, DATA_FIRST, 32 * MiB // SECTOR, "newsys-data")], parts
        assert parts[0][4] == 1 << 2 and parts[1][4] == 0, parts
        assert first <= BOOT_FIRST and last >= DATA_FIRST + 32 * MiB // SECTOR - 1

    def fat():
        part = os.path.join(WORK, f"{board}.fat")
        with open(img, "rb") as f, open(part, "wb") as o:
            f.seek(BOOT_FIRST * SECTOR)
            o.write(f.read(BOOT_SECTORS * SECTOR))
        p = run(["fsck.fat", "-n", part], ok=False)
        os.unlink(part)
        assert p.returncode == 0, p.stdout + p.stderr
        want = ["::/Image", "::/extlinux/", "::/extlinux/extlinux.conf", "::/initrd.cpio"]
        if board != "virt":
            want.append(f"::/{dtb_name}")
        assert fat_listing(img) == sorted(want), fat_listing(img)
        for path, src in (("::Image", "kernel/Image"), ("::initrd.cpio", "initrd.cpio")):
            with open(os.path.join(RISCV, src), "rb") as f:
                assert fat_file(img, path) == f.read(), f"{path} differs from the build's"

    def conf():
        c = extlinux(img)
        lines = [x.strip() for x in c.splitlines() if x.strip() and not x.startswith("#")]
        want = ["default newsys", "label newsys", f"menu label NewSys ({board})",
                "kernel /Image", "initrd /initrd.cpio"]
        if board != "virt":
            want.append(f"fdt /{dtb_name}")
        want.append("append init=init")
        assert lines == want, c

    def dtb():
        if board == "virt":
            return  # no tree: U-Boot passes QEMU's
        blob = fat_file(img, f"::{dtb_name}")
        with open(os.path.join(RISCV, "dts", dtb_name), "rb") as f:
            assert blob == f.read(), "the tree differs from the build's"
        path = os.path.join(WORK, dtb_name)
        with open(path, "wb") as f:
            f.write(blob)
        p = run(["dtc", "-I", "dtb", "-O", "dts", "-o", "/dev/null", path], ok=False)
        assert p.returncode == 0 and not p.stderr, p.stderr
        dump = run(["fdtdump", path]).stdout
        assert re.search(rf'compatible = .*"{re.escape(compat)}"', dump), "compatible missing"
        assert re.search(r"stdout-path = ", dump), "no stdout-path"

    def data():
        # Written zeros, not a hole (bmaptool copies only what is mapped).
        with open(img, "rb") as f:
            f.seek(DATA_FIRST * SECTOR)
            assert f.read(MiB) == bytes(MiB), "the data partition does not start blank"
            try:
                pos = os.lseek(f.fileno(), DATA_FIRST * SECTOR, os.SEEK_DATA)
            except OSError:
                pos = DATA_FIRST * SECTOR  # no SEEK_DATA here: nothing to check
            assert pos == DATA_FIRST * SECTOR, "the data partition's first MiB is a hole"

    for n, fn in (("image", made), ("gpt", gpt), ("fat", fat), ("extlinux.conf", conf),
                  ("dtb", dtb), ("data partition", data)):
        check(f"{board}: {n}", fn)


def options():
    img = os.path.join(WORK, "opts.img")

    def append_and_size():
        p = mkimage(img, "--board", "unmatched", "--append", "init=tests selftest=wx",
                    "--data-size", "8M")
        assert p.returncode == 0, p.stderr
        assert os.path.getsize(img) == (16 + 32 + 8 + 1) * MiB
        assert "\tappend init=tests selftest=wx\n" in extlinux(img)
        _, _, parts = raw_gpt(img)
        assert parts[1][3] == 8 * MiB // SECTOR, parts

    def virt_with_dtb():
        dtb = os.path.join(RISCV, "dts", "qemu-virt.dtb")
        p = mkimage(img, "--board", "virt", "--dtb", dtb)
        assert p.returncode == 0, p.stderr
        assert "\tfdt /qemu-virt.dtb\n" in extlinux(img)
        with open(dtb, "rb") as f:
            assert fat_file(img, "::qemu-virt.dtb") == f.read()

    def swapped_dtb():
        # Another board's tree under the board's own name; extlinux.conf as
        # the board's.
        own = os.path.join(WORK, "vf2-own.img")
        assert mkimage(own, "--board", "visionfive2").returncode == 0
        p = mkimage(img, "--board", "visionfive2", "--dtb",
                    os.path.join(RISCV, "dts", "qemu-virt.dtb"))
        assert p.returncode == 0, p.stderr
        assert extlinux(img) == extlinux(own)
        with open(os.path.join(RISCV, "dts", "qemu-virt.dtb"), "rb") as f:
            assert fat_file(img, "::visionfive2.dtb") == f.read()
        os.unlink(own)

    def errors():
        text = os.path.join(WORK, "not-a-tree.dtb")
        with open(text, "w") as f:
            f.write("not a device tree\n")
        for args in (["--board", "beaglev"], [], ["--board", "virt", "--data-size", "1500K"],
                     ["--board", "virt", "--data-size", "0"],
                     ["--board", "virt", "--data-size", "lots"],
                     ["--board", "virt", "--append", ""],
                     ["--board", "unleashed", "--dtb", os.path.join(WORK, "missing.dtb")],
                     ["--board", "unleashed", "--dtb", text], ["--board", "virt", "--bogus"]):
            p = mkimage(img, *args)
            assert p.returncode == 2, f"{args}: exit {p.returncode}"
            assert not os.path.exists(img), f"{args}: an image was left"
        assert not [x for x in os.listdir(WORK) if x.startswith(".mkimage")], "temporaries left"

    for n, fn in (("--append and --data-size", append_and_size), ("virt --dtb", virt_with_dtb),
                  ("visionfive2 with QEMU's tree", swapped_dtb), ("bad arguments", errors)):
        check(f"options: {n}", fn)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    for board in BOARDS:
        board_image(board)
    options()
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
