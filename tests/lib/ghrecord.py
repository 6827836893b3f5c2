# SPDX-License-Identifier: MIT
"""The one Python reader of gpuhours records, written from proto/FORMAT.md
alone (no code shared with proto/). Strict: anything proto's record_decode
rejects raises Bad.

  decode(data) -> (record, lines)
    record: dict with the FORMAT.md field names; "kind" is the kind's name,
            "boot_id" hex, strings str, GPU lists lists of dicts
    lines:  [(bytes, comment)] covering data in order (format_md.py prints
            them as the annotated dumps FORMAT.md shows)

tests/lib/ghtest.py (decode_record) and tests/record/format_md.py use it.
"""
import struct

RECORD_MAX_SIZE = 65536
MAX_GPUS = 64
KINDS = {1: "start", 2: "summary", 3: "stop", 4: "clock_step", 5: "inventory"}


class Bad(ValueError):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.off = 0
        self.lines = []  # (bytes, comment)

    def take(self, n, comment):
        if n > len(self.data) - self.off:
            raise Bad("truncated at %s" % comment)
        b = self.data[self.off:self.off + n]
        self.off += n
        self.lines.append((b, comment))
        return b

    def u8(self, name):
        b = self.data[self.off:self.off + 1]
        if len(b) < 1:
            raise Bad("truncated at " + name)
        v = b[0]
        self.take(1, "%s = %d" % (name, v))
        return v

    def u32(self, name):
        if len(self.data) - self.off < 4:
            raise Bad("truncated at " + name)
        v = struct.unpack(">I", self.data[self.off:self.off + 4])[0]
        self.take(4, "%s = %d" % (name, v))
        return v

    def u64(self, name):
        if len(self.data) - self.off < 8:
            raise Bad("truncated at " + name)
        v = struct.unpack(">Q", self.data[self.off:self.off + 8])[0]
        self.take(8, "%s = %d" % (name, v))
        return v

    def string(self, name, cap, minlen=0):
        if len(self.data) - self.off < 4:
            raise Bad("truncated at " + name)
        n = struct.unpack(">I", self.data[self.off:self.off + 4])[0]
        if n > cap:
            raise Bad("%s: length %d over cap %d" % (name, n, cap))
        if n < minlen:
            raise Bad("%s: empty" % name)
        self.take(4, "%s length = %d" % (name, n))
        b = self.take(n, "%s = \"%s\"" % (name, self.data[self.off:self.off + n].decode("latin-1")))
        if any(c < 0x20 or c > 0x7e for c in b):
            raise Bad("%s: byte outside 0x20..0x7e" % name)
        return b.decode("ascii")


def check_sorted(gpus):
    # bytes comparison in Python is memcmp order with a proper prefix first
    uuids = [g["uuid"].encode() for g in gpus]
    for a, b in zip(uuids, uuids[1:]):
        if not a < b:
            raise Bad("GPU list not strictly sorted by UUID")


def gpu_count(r):
    count = r.u32("gpu_count")
    if count > MAX_GPUS:
        raise Bad("gpu_count over 64")
    return count


def gpu_infos(r, version):
    """version 2 entries end with counter_epoch; a version 1 entry reads as epoch None."""
    gpus = []
    for i in range(gpu_count(r)):
        g = "gpu[%d]." % i
        d = dict(uuid=r.string(g + "uuid", 96, 1), serial=r.string(g + "serial", 64),
                 name=r.string(g + "name", 96), pci_bus_id=r.string(g + "pci_bus_id", 32),
                 mig_mode=r.u8(g + "mig_mode"), flags=r.u8(g + "flags"),
                 energy_mj=r.u64(g + "energy_mj"))
        d["counter_epoch"] = r.u64(g + "counter_epoch") if version == 2 else None
        if d["mig_mode"] > 2:
            raise Bad("mig_mode")
        gpus.append(d)
    check_sorted(gpus)
    return gpus


def gpu_summaries(r):
    gpus = []
    for i in range(gpu_count(r)):
        g = "gpu[%d]." % i
        d = dict(uuid=r.string(g + "uuid", 96, 1), flags=r.u8(g + "flags"))
        for f in ("observed_ms", "busy_ms", "occupied_ms", "energy_start_mj", "energy_end_mj",
                  "energy_used_mj"):
            d[f] = r.u64(g + f)
        d["power_avg_mw"] = r.u32(g + "power_avg_mw")
        d["power_max_mw"] = r.u32(g + "power_max_mw")
        d["mem_used_max_bytes"] = r.u64(g + "mem_used_max_bytes")
        d["procs_max"] = r.u32(g + "procs_max")
        d["xid_count"] = r.u32(g + "xid_count")
        gpus.append(d)
    check_sorted(gpus)
    return gpus


def decode(data):
    """Strictly decode one record (without its frame); returns (record, lines)."""
    if len(data) > RECORD_MAX_SIZE:
        raise Bad("record over 65536 bytes")
    r = Reader(data)
    d = dict(version=r.u8("version"))
    if d["version"] not in (1, 2):
        raise Bad("version")
    kind = r.data[r.off] if r.off < len(data) else None
    if kind not in KINDS:
        raise Bad("kind")
    if d["version"] == 2 and kind not in (1, 5):
        raise Bad("version 2 exists for start and inventory only")
    r.take(1, "kind = %d (%s)" % (kind, KINDS[kind]))
    d.update(kind=KINDS[kind], wall_ns=r.u64("wall_ns"), boot_ns=r.u64("boot_ns"),
             boot_id=r.take(16, "boot_id").hex())
    if kind == 1:
        d["daemon_version"] = r.string("daemon_version", 80, 1)
        d["backend"] = r.string("backend", 16, 1)
        if d["backend"] not in ("sim", "nvml"):
            raise Bad("backend")
        d["period_s"] = r.u32("period_s")
        if not 1 <= d["period_s"] <= 86400:
            raise Bad("period_s")
        d["sample_interval_us"] = r.u32("sample_interval_us")
        if not 50000 <= d["sample_interval_us"] <= 60000000:
            raise Bad("sample_interval_us")
        d["driver_version"] = r.string("driver_version", 80)
        d["nvml_version"] = r.string("nvml_version", 80)
        d["gpus"] = gpu_infos(r, d["version"])
    elif kind == 2:
        d["period_start_ns"] = r.u64("period_start_ns")
        d["period_s"] = r.u32("period_s")
        if not 1 <= d["period_s"] <= 86400 or d["period_start_ns"] % (d["period_s"] * 10**9):
            raise Bad("period")
        d["flags"] = r.u8("flags")
        if d["flags"] & ~1:
            raise Bad("summary flags")
        for f in ("obs_start_wall_ns", "obs_end_wall_ns", "obs_start_boot_ns", "obs_end_boot_ns"):
            d[f] = r.u64(f)
        if d["obs_start_wall_ns"] > d["obs_end_wall_ns"] or \
                d["obs_start_boot_ns"] > d["obs_end_boot_ns"]:
            raise Bad("observed window")
        d["samples_taken"] = r.u32("samples_taken")
        d["samples_expected"] = r.u32("samples_expected")
        d["gpus"] = gpu_summaries(r)
    elif kind == 3:
        d["reason"] = r.string("reason", 128)
    elif kind == 4:
        d["prev_wall_ns"] = r.u64("prev_wall_ns")
        d["prev_boot_ns"] = r.u64("prev_boot_ns")
        if d["prev_boot_ns"] > d["boot_ns"]:
            raise Bad("prev_boot_ns after boot_ns")
    elif kind == 5:
        d["reason"] = r.u8("reason")
        if d["reason"] == 0 or d["reason"] & ~0x1f:
            raise Bad("inventory reason")
        d["driver_version"] = r.string("driver_version", 80)
        d["nvml_version"] = r.string("nvml_version", 80)
        d["gpus"] = gpu_infos(r, d["version"])
    if r.off != len(data):
        raise Bad("trailing bytes")
    return d, r.lines
