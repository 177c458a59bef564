#!/usr/bin/env python3
"""Replay a write log made by QEMU's blklogwrites driver (the format of
Linux's dm-log-writes) onto a copy of the disk image it started from.

The log: sector 0 holds the super block (le64 magic 0x6a736677736872, le64
version 1, le64 entry count, le32 sector size); from sector 1 on, each
entry is one sector (le64 sector, le64 sectors, le64 flags, le64 data
length, zero padding), then, unless it is a discard, its data: `sectors`
sectors of the sector size. Flags: FLUSH 1, FUA 2, DISCARD 4, MARK 8.
blklogwrites logs a write after the write to the image completed and a
flush after the flush completed, so the writes before the K-th flush entry
are a state the disk could have been left in by a crash right after that
flush returned.

    logreplay.py LOG                         list the entries, count flushes
    logreplay.py LOG BASE OUT --flushes K    OUT = BASE + writes up to flush K
    logreplay.py LOG BASE OUT --entries N    OUT = BASE + the first N entries
    logreplay.py LOG BASE OUT                OUT = BASE + every write
"""
import argparse
import shutil
import struct
import sys

MAGIC = 0x6a736677736872
FLUSH, FUA, DISCARD, MARK = 1, 2, 4, 8
FLAG_MASK = FLUSH | FUA | DISCARD | MARK


class LogError(Exception):
    pass


def read_log(path):
    """The super block's sector size and the entries, each a dict with
    sector, sectors, flags and (writes) the data's offset in the log. The
    data stays in the file: logs of large workloads are large."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        head = f.read(28)
        if len(head) < 28:
            raise LogError(f"{path}: {len(head)} bytes, no super block")
        magic, version, count, ss = struct.unpack_from("<QQQI", head, 0)
        if magic != MAGIC:
            raise LogError(f"{path}: bad magic {magic:#x}")
        if version != 1:
            raise LogError(f"{path}: version {version}")
        if ss < 512 or ss & (ss - 1):
            raise LogError(f"{path}: sector size {ss}")
        entries, cur = [], 1
        for i in range(count):
            off = cur * ss
            f.seek(off)
            raw = f.read(32)
            if len(raw) < 32:
                raise LogError(f"entry {i} of {count} at log sector {cur}: past the end of "
                               f"the log")
            sector, sectors, flags, data_len = struct.unpack("<QQQQ", raw)
            if flags & ~FLAG_MASK:
                raise LogError(f"entry {i} at log sector {cur}: bad flags {flags:#x}")
            e = {"index": i, "sector": sector, "sectors": sectors, "flags": flags, "data": None}
            cur += 1
            if not flags & DISCARD:
                e["data"] = cur * ss
                if (cur + sectors) * ss > size:
                    raise LogError(f"entry {i}: data past the end of the log")
                cur += sectors
            entries.append(e)
    return ss, entries


def flush_indices(entries):
    return [e["index"] for e in entries if e["flags"] & FLUSH]


def replay(log_path, base, out, flushes=None, first=None):
    """Copy `base` to `out` and apply every write up to the `flushes`-th
    flush entry, or the first `first` entries (all of them when neither is
    given). Returns the writes applied."""
    ss, entries = read_log(log_path)
    if first is not None:
        entries = entries[:first]
    elif flushes is not None:
        fl = flush_indices(entries)
        if not 1 <= flushes <= len(fl):
            raise LogError(f"flush {flushes} asked for; the log has {len(fl)}")
        entries = entries[:fl[flushes - 1] + 1]
    shutil.copyfile(base, out)
    applied = 0
    with open(out, "r+b") as f, open(log_path, "rb") as log:
        size = f.seek(0, 2)
        for e in entries:
            if e["flags"] & FLUSH and not e["sectors"]:
                continue
            start, n = e["sector"] * ss, e["sectors"] * ss
            if start + n > size:
                raise LogError(f"entry {e['index']}: sectors {e['sector']}+{e['sectors']} past "
                               f"the image's {size} bytes")
            f.seek(start)
            if e["flags"] & DISCARD:
                f.write(bytes(n))  # what a discard may leave: zeros here
            else:
                log.seek(e["data"])
                f.write(log.read(n))
            applied += 1
    return applied


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("base", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--flushes", type=int)
    ap.add_argument("--entries", type=int)
    a = ap.parse_args()
    try:
        if a.base is None:
            ss, entries = read_log(a.log)
            for e in entries:
                names = [n for n, b in (("FLUSH", FLUSH), ("FUA", FUA), ("DISCARD", DISCARD),
                                        ("MARK", MARK)) if e["flags"] & b]
                print(f"{e['index']:6} sector {e['sector']:10} +{e['sectors']:<6} "
                      f"{'|'.join(names) or 'WRITE'}")
            print(f"{len(entries)} entries, {len(flush_indices(entries))} flushes, "
                  f"sector size {ss}")
        else:
            n = replay(a.log, a.base, a.out, a.flushes, a.entries)
            print(f"{n} writes replayed into {a.out}")
    except LogError as e:
        print(f"logreplay: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
