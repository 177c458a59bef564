#!/usr/bin/env python3
"""Host test of the mkdisk tool (managers/disk/mkdisk.c), run by ctest:
create, add (pattern, file, zeros), ls, check with and without --data,
extract, rm, a damaged data page and a damaged newest table copy, and
usage errors.    test_mkdisk.py MKDISK WORKDIR"""
import os
import re
import subprocess
import sys

MKDISK, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
IMG = os.path.join(WORK, "t.img")
failures = 0


def run(*args, status=0):
    global failures
    p = subprocess.run([MKDISK] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    if p.returncode != status:
        print(f"FAIL mkdisk {' '.join(map(str, args))}: status {p.returncode}, want {status}\n{out}")
        failures += 1
    return out


def expect(cond, what):
    global failures
    if not cond:
        print(f"FAIL {what}")
        failures += 1


run("create", IMG, "8M")
expect(os.path.getsize(IMG) == 8 << 20, "image size")
run("add", IMG, 7, 300000, "--pattern", 42)
data = bytes((i * 7 + 3) & 0xff for i in range(10000))
src = os.path.join(WORK, "src.bin")
with open(src, "wb") as f:
    f.write(data)
run("add", IMG, 8, 10000, "--from", src)
run("add", IMG, 9, "64K")
out = run("ls", IMG)
expect(re.search(r"^id 7 length 300000 pages 74 runs 1: 264\+592 pattern 42$", out, re.M), "ls 7")
expect(re.search(r"^id 8 length 10000 pages 3 runs 1: 856\+24$", out, re.M), "ls 8")
expect(re.search(r"^id 9 length 65536 pages 16 runs 1: 880\+128$", out, re.M), "ls 9")
expect(re.search(r"^generation 4, 16384 sectors, \d+ free, 3 objects$", out, re.M), "ls header")
out = run("check", IMG, "--data")
expect("object 7: 0 of 74 pages differ from pattern 42" in out and "check ok" in out, "check")
ext = os.path.join(WORK, "out.bin")
run("extract", IMG, 8, ext)
expect(open(ext, "rb").read() == data, "extract 8")
run("extract", IMG, 9, ext)
expect(open(ext, "rb").read() == bytes(65536), "extract 9 (zeros)")
# Fragment: delete 8, add an object larger than the hole: two runs.
run("rm", IMG, 8)
run("add", IMG, 10, 20 * 4096, "--pattern", 5)
out = run("ls", IMG)
expect(re.search(r"^id 10 length 81920 pages 20 runs 1: 1008\+160 pattern 5$", out, re.M),
       "first fit skips a small hole")
run("add", IMG, 11, 2 * 4096, "--pattern", 6)
expect(re.search(r"^id 11 length 8192 pages 2 runs 1: 856\+16 pattern 6$", run("ls", IMG), re.M),
       "first fit takes the hole")
out = run("check", IMG, "--data")
expect("check ok" in out, "check after fragmentation")
# A damaged data page fails the data check but not the table check.
with open(IMG, "r+b") as f:
    f.seek(264 * 512 + 5000)
    b = f.read(1)
    f.seek(264 * 512 + 5000)
    f.write(bytes([b[0] ^ 0xff]))
out = run("check", IMG, "--data", status=1)
expect("object 7: 1 of 74 pages differ" in out and "check FAILED" in out, "damaged data found")
run("check", IMG)
# A damaged newest copy: mount falls back to the older one (one step back).
out = run("check", IMG)
gen = int(re.search(r"copy (\d): ok, generation (\d+) \(mounted\)", out).group(2))
newest = gen % 2
with open(IMG, "r+b") as f:
    f.seek((8 + 128 * newest) * 512 + 70)
    f.write(b"\xde\xad")
out = run("check", IMG)
expect(f"copy {newest}: checksum mismatch" in out and
       f"copy {1 - newest}: ok, generation {gen - 1} (mounted)" in out, "falls back to older copy")
expect("id 11 " not in run("ls", IMG), "older table has no object 11")
# --offset: a table in a sub-range of a bigger image leaves the rest alone.
SUB = os.path.join(WORK, "sub.img")
with open(SUB, "wb") as f:
    f.write(b"\xaa" * (1 << 20))
run("--offset", 1024, "create", SUB, "2M")
expect(os.path.getsize(SUB) == 1024 * 512 + (2 << 20), "offset image grown")
expect(open(SUB, "rb").read(1024 * 512) == b"\xaa" * (1024 * 512), "before the offset untouched")
run("--offset", 1024, "add", SUB, 1, 9000, "--pattern", 1)
expect("check ok" in run("--offset", 1024, "check", SUB, "--data"), "offset check")
run("ls", SUB, status=1)  # no table at sector 0
run("--offset", "1G", "ls", SUB, status=1)
# Errors: usage 2, failures 1.
run("add", IMG, 7, 10, status=1)  # exists
run("rm", IMG, 12345, status=1)
run("extract", IMG, 12345, ext, status=1)
run("add", IMG, 20, "1G", status=1)  # no space
run("create", os.path.join(WORK, "tiny.img"), 4096, status=1)
run("ls", os.path.join(WORK, "missing.img"), status=1)
with open(os.path.join(WORK, "zero.img"), "wb") as f:
    f.truncate(1 << 20)
run("ls", os.path.join(WORK, "zero.img"), status=1)
run("bogus", IMG, 1, status=2)
run("add", IMG, "x", 1, status=2)
run("add", IMG, 1, 1, "--pattern", status=2)
run("create", IMG, "12Q", status=2)
print("mkdisk tests:", "FAILED" if failures else "ok")
sys.exit(1 if failures else 0)
