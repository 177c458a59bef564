"""Boot tests of the SD-card images (scripts/mkimage) and of booting them
through U-Boot (scripts/run --uboot), imported by boot_tests.py.

U-Boot's distro boot is what the boards run: Debian's S-mode U-Boot for
QEMU virt finds extlinux/extlinux.conf on the bootable partition of the
first virtio disk and `booti`s the kernel, initrd and tree named there. The
cases check U-Boot's own lines as much as NewSys's, and on the host that
nothing but the data partition changed on the image.
"""
import hashlib
import os
import re
import subprocess
import time

MiB = 1 << 20
SECTOR = 512
# scripts/mkimage's layout: the boot partition at 16 MiB (32 MiB long), the
# data partition after it.
BOOT_FIRST, BOOT_SECTORS = 32768, 65536
DATA_FIRST = BOOT_FIRST + BOOT_SECTORS
MKIMAGE_TIMEOUT = 60
# HiFive Unmatched's loaders, as docs/boards.md adds them (sfdisk --append).
FIRMWARE_PARTS = ('start=34, size=2048, type=5B193300-FC78-40CD-8002-E86C45580B47, name="loader1"\n'
                  'start=2082, size=8192, type=2E54B353-1271-4842-806F-E436D6AF6985, '
                  'name="loader2"\n')

# What U-Boot prints on its way to the kernel, in order (its distro boot
# scripts and the extlinux code of U-Boot 2023.01).
def uboot_lines(board):
    """The menu line is the label's `menu label`: the board's image."""
    return [r"U-Boot 2023\.01",
            r"(?s)Hit any key to stop autoboot:.*Scanning virtio 0:1\.\.\.\n"
            r"Found /extlinux/extlinux\.conf\nRetrieving file: /extlinux/extlinux\.conf\n"
            rf"1:\tNewSys \({board}\)\n"]



UBOOT_LOADS = [r"Retrieving file: /initrd\.cpio", r"Retrieving file: /Image",
               r"append: init=init",
               # booti moves the image to the start of RAM plus the header's
               # text_offset (0x200000).
               r"Moving Image from 0x84000000 to 0x80200000, end=8",
               r"Starting kernel \.\.\.\n",
               r"NewSys 0\.1\.0: hart 0, loaded at 0x80200000", r'bootargs: "init=init"',
               # U-Boot puts the initrd at its ramdisk_addr_r and reserves it.
               r"initrd: 0x8c300000-0x8c3[0-9a-f]{5}\n",
               r"reserved: 0x000000008c300000-0x000000008c3[0-9a-f]{5} memreserve"]
NEWSYS_OK = [r"NewSys: boot complete", r"init: memory-object demo done",
             r"init: all programs ran and were reclaimed", r"NewSys: shutdown \(ok, exit status 0\)"]
GPT_DISK = (r'init: disk 0 is a GPT disk: partition 2 "newsys-data", sectors 98304\+(\d+), '
            r"is the data partition")


def cases(flt, run_case, images, root, build, mkdisk):
    mkimage_tool = os.path.join(root, "scripts", "mkimage")
    dtbs = os.path.join(build, "riscv", "dts")

    def mkimage(case, name, *args):
        d = os.path.join(images, case)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        p = subprocess.run([mkimage_tool, "--no-build", "-o", path] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=MKIMAGE_TIMEOUT)
        if p.returncode:
            raise RuntimeError(f"mkimage {' '.join(args)}: {p.stdout.decode()}")
        return path

    def region_hash(path, first, sectors):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            f.seek(first * SECTOR)
            left = sectors * SECTOR
            while left:
                b = f.read(min(left, MiB))
                if not b:
                    break
                h.update(b)
                left -= len(b)
        return h.hexdigest()

    def boots(name, img, boots_spec, run_args):
        """Boot `img` once per (label, expectations); afterwards the boot
        partition and the GPT must be byte for byte what mkimage wrote."""
        t0 = time.time()
        before = region_hash(img, 0, DATA_FIRST)
        out_all, problems = "", []
        for label, expects in boots_spec:
            _, p, out, _ = run_case((f"{name}-{label}", run_args + [img], 0, expects), False)
            out_all += f"--- {label}\n{out}"
            problems += [f"{label}: {x}" for x in p]
            if p:
                break
        if not problems and region_hash(img, 0, DATA_FIRST) != before:
            problems.append("the GPT or the boot partition changed")
        return problems, out_all, time.time() - t0

    def run_distro_boot(case):
        """The virt image through U-Boot's default bootcmd, twice: the first
        boot's disk manager formats the data partition and the guest book
        counts boot 1; the second counts boot 2. QEMU's own tree (no fdt
        line on virt)."""
        name = case[0]
        try:
            img = mkimage(name, "virt.img", "--board", "virt")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return name, [str(e)], "", 0.0
        first = uboot_lines("virt") + UBOOT_LOADS + NEWSYS_OK + [
            r"## Flattened Device Tree blob at 8f[0-9a-f]{6}",  # U-Boot's own (QEMU's)
            count_none(r"Retrieving file: /.*\.dtb"),
            r"virtio-blk: vda: virtio-mmio@0x10008000 irq 8: 165888 sectors \(81 MiB\)",
            GPT_DISK, r"disk: disk 0 sectors 98304\+65536: formatted",
            r"guestbook: boot counter 1, synced", r"init: persistent demo done"]
        second = uboot_lines("virt") + NEWSYS_OK + [
            GPT_DISK, r"disk: disk 0 sectors 98304\+65536: mounted, generation 2, 1 objects",
            r"guestbook: boot counter 2, synced", r"guestbook: the log \(2 lines\)"]
        problems, out, secs = boots(name, img, [("boot1", first), ("boot2", second)],
                                    ["--uboot", "--image"])
        if not problems:
            try:
                o = mkdisk("--offset", DATA_FIRST, "check", img)
                out += "--- mkdisk check\n" + o
                if "check ok" not in o:
                    problems.append("mkdisk check of the data partition: not ok")
            except RuntimeError as e:
                problems.append(str(e))
        return name, problems, out, secs

    def run_visionfive2(case):
        """The VisionFive 2 image, its tree swapped for QEMU virt's
        (build/riscv/dts/qemu-virt.dtb, under the board's file name), boots
        through U-Boot: the layout and extlinux.conf are the board's own."""
        name = case[0]
        try:
            own = mkimage(name, "visionfive2-own.img", "--board", "visionfive2")
            img = mkimage(name, "visionfive2.img", "--board", "visionfive2", "--dtb",
                          os.path.join(dtbs, "qemu-virt.dtb"))
            conf = [mtype(p, "::extlinux/extlinux.conf") for p in (own, img)]
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return name, [str(e)], "", 0.0
        problems = []
        if conf[0] != conf[1] or "\tfdt /visionfive2.dtb\n" not in conf[0]:
            problems.append("extlinux.conf is not the board's own:\n" + conf[0] + conf[1])
        expects = uboot_lines("visionfive2") + UBOOT_LOADS + NEWSYS_OK + [
            r"Retrieving file: /visionfive2\.dtb",
            r"## Flattened Device Tree blob at 8c000000",  # fdt_addr_r: the file
            r"NewSys 0\.1\.0: hart 0, loaded at 0x80200000, device tree at 0x8c000000",
            r"model: riscv-virtio,qemu",
            # U-Boot copies OpenSBI's reserved region into the tree it loaded.
            r"reserved: 0x0000000080000000-0x00000000800[0-9a-f]{5} mmode_resv",
            GPT_DISK, r"disk: disk 0 sectors 98304\+65536: formatted",
            r"guestbook: boot counter 1, synced"]
        p, out, secs = boots(name, img, [("boot", expects)], ["--uboot", "--image"])
        return name, problems + p, "--- extlinux.conf\n" + conf[0] + out, secs

    def run_firmware_partitions(case):
        """The HiFive Unmatched firmware partitions docs/boards.md adds to an
        image (sfdisk --append: U-Boot SPL at sector 34, U-Boot at 2082, here
        filled with a pattern): U-Boot still boots partition 1 and init still
        finds the data partition, now one of four."""
        name = case[0]
        try:
            img = mkimage(name, "virt.img", "--board", "virt")
            with open(img, "r+b") as f:
                f.seek(34 * SECTOR)
                f.write(b"\xa5" * (2048 + 8192) * SECTOR)
            p = subprocess.run(["sfdisk", "-q", "--append", img], input=FIRMWARE_PARTS.encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=MKIMAGE_TIMEOUT)
            if p.returncode:
                raise RuntimeError(f"sfdisk --append: {p.stdout.decode()}")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return name, [str(e)], "", 0.0
        expects = uboot_lines("virt") + UBOOT_LOADS + NEWSYS_OK + [
            GPT_DISK, r"disk: disk 0 sectors 98304\+65536: formatted",
            r"guestbook: boot counter 1, synced"]
        p, out, secs = boots(name, img, [("boot", expects)], ["--uboot", "--image"])
        return name, p, out, secs

    def run_hand_boot(case):
        """docs/boards.md's commands for booting by hand, typed at U-Boot's
        prompt once autoboot is stopped, on the VisionFive 2 image with
        QEMU's tree: the kernel and the tree first, the initrd last so that
        $filesize is the initrd's size when booti reads it."""
        name, t0 = case[0], time.time()
        try:
            img = mkimage(name, "visionfive2.img", "--board", "visionfive2", "--dtb",
                          os.path.join(dtbs, "qemu-virt.dtb"))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return name, [str(e)], "", 0.0
        out, problems = type_at_uboot(os.path.join(root, "scripts", "run"),
                                      ["--no-build", "--uboot", "--image", img],
                                      HAND_BOOT, 60)
        for exp in [r"=> load virtio 0:1 \$\{kernel_addr_r\} Image\n\d+ bytes read",
                    r"=> load virtio 0:1 \$\{fdt_addr_r\} visionfive2\.dtb\n\d+ bytes read",
                    r"=> load virtio 0:1 \$\{ramdisk_addr_r\} initrd\.cpio\n(\d+) bytes read",
                    r"Moving Image from 0x84000000 to 0x80200000",
                    r"## Flattened Device Tree blob at 8c000000",
                    r"NewSys 0\.1\.0: hart 0, loaded at 0x80200000, device tree at 0x8c000000",
                    r'bootargs: "init=init"'] + NEWSYS_OK + [GPT_DISK]:
            if not re.search(exp, out):
                problems.append(f"missing /{exp}/")
        # The initrd the kernel found is the whole file U-Boot read.
        m = re.search(r"initrd\.cpio\n(\d+) bytes read", out)
        r = re.search(r"initrd: 0x([0-9a-f]+)-0x([0-9a-f]+)\n", out)
        if not m or not r or int(r.group(2), 16) - int(r.group(1), 16) != int(m.group(1)):
            problems.append("the kernel's initrd is not the file U-Boot loaded")
        return name, problems, out, time.time() - t0

    def run_legacy(case):
        """U-Boot reads a legacy (virtio-mmio version 1) disk as well; NewSys
        refuses it and boots without disks."""
        name = case[0]
        try:
            img = mkimage(name, "virt.img", "--board", "virt")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return name, [str(e)], "", 0.0
        expects = uboot_lines("virt") + NEWSYS_OK + [
            r"virtio-blk: virtio-mmio@0x10008000: legacy virtio-mmio \(version 1\) device: refused",
            r"blk: 0 disks"]
        t0 = time.time()
        # scripts/run asks for the modern transport; a later -global wins.
        _, p, out, _ = run_case((name, ["--uboot", "--image", img, "--", "-global",
                                        "virtio-mmio.force-legacy=true"], 0, expects), False)
        return name, p, out, time.time() - t0

    def run_direct_gpt(case):
        """The same image as a plain disk (no U-Boot: QEMU loads the kernel):
        init finds the data partition on its own, never the boot partition;
        then a copy with both GPT headers damaged is left alone."""
        name, t0 = case[0], time.time()
        try:
            img = mkimage(name, "virt.img", "--board", "virt", "--data-size", "8M")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return name, [str(e)], "", 0.0
        problems, out, _ = boots(name, img, [("gpt", NEWSYS_OK + [
            r'init: disk 0 is a GPT disk: partition 2 "newsys-data", sectors 98304\+16384, '
            r"is the data partition",
            r"disk: disk 0 sectors 98304\+16384: formatted",
            r"guestbook: boot counter 1, synced"])], ["--disk"])
        if problems:
            return name, problems, out, time.time() - t0
        size = os.path.getsize(img)
        with open(img, "r+b") as f:
            for lba in (1, size // SECTOR - 1):
                f.seek(lba * SECTOR + 40)  # first usable LBA: the CRC no longer matches
                b = f.read(1)
                f.seek(lba * SECTOR + 40)
                f.write(bytes([b[0] ^ 1]))
        _, p, o, _ = run_case((f"{name}-damaged", ["--disk", img], 0, NEWSYS_OK + [
            r"init: disk 0 holds a damaged GUID partition table: left alone, no persistent demo",
            count_none(r"^disk: ")]), False)
        return name, [f"damaged: {x}" for x in p], out + "--- damaged\n" + o, time.time() - t0

    out = []
    for c in [("uboot-distro-boot", run_distro_boot, 0, []),
              ("uboot-visionfive2-image", run_visionfive2, 0, []),
              ("uboot-firmware-partitions", run_firmware_partitions, 0, []),
              ("uboot-hand-boot", run_hand_boot, 0, []),
              ("uboot-legacy-virtio", run_legacy, 0, []),
              ("image-gpt-direct", run_direct_gpt, 0, [])]:
        if flt in c[0]:
            out.append(c)
    return out


# docs/boards.md's commands with QEMU's device name (virtio 0 for mmc N).
HAND_BOOT = ["load virtio 0:1 ${kernel_addr_r} Image",
             "load virtio 0:1 ${fdt_addr_r} visionfive2.dtb",
             "load virtio 0:1 ${ramdisk_addr_r} initrd.cpio",
             "setenv bootargs init=init",
             "booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr_r}"]


def type_at_uboot(run, args, commands, limit):
    """Boot with `run args`, stop U-Boot's autoboot with a key, type each
    command at its prompt, then read until QEMU ends (or `limit` seconds
    pass): the console output, and problems."""
    import select
    import signal
    p = subprocess.Popen([run, "--timeout", str(limit)] + args, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    out, problems = b"", []
    deadline = time.time() + limit + 5
    seen = 0  # output already matched against

    def wait_for(text):
        nonlocal out, seen
        while True:
            i = out.find(text, seen)
            if i >= 0:
                seen = i + len(text)
                return True
            left = deadline - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([p.stdout], [], [], min(left, 0.5))
            if r:
                b = os.read(p.stdout.fileno(), 4096)
                if not b:
                    return False
                out += b.replace(b"\r", b"")

    try:
        steps = [(b"Hit any key to stop autoboot", b" ")] + [(b"=> ", c.encode() + b"\r")
                                                             for c in commands]
        for prompt, keys in steps:
            if not wait_for(prompt):
                problems.append(f"no {prompt.decode()!r} before {keys.decode().strip()!r}")
                break
            p.stdin.write(keys)
            p.stdin.flush()
        wait_for(b"\0never")  # the rest, until QEMU exits
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    return out.decode(errors="replace"), problems


def count_none(pattern):
    """An expectation: no line matches (boot_tests.py's count form)."""
    return ("count", pattern, 0)


def mtype(img, path):
    """A file's text from the image's boot partition (mtools, no mount)."""
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    p = subprocess.run(["mtype", "-i", f"{img}@@{BOOT_FIRST * SECTOR}", path], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    if p.returncode:
        raise RuntimeError(f"mtype {path}: {p.stdout.decode()}")
    return p.stdout.decode()
