#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The real gpuhoursd with --backend nvml against the NVML test double
(libnvidia-ml.so.1 from the build dir, found through LD_LIBRARY_PATH),
scripted through FAKE_NVML_CONFIG (format: tests/nvml/fake_nvml.c).
Records are decoded by nvml-dumprecords (proto's strict decoder); the
client's findings come from `gpuhours verify --json`."""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

GPU_ENERGY_UNSUPPORTED = 1 << 0
GPU_ENERGY_FROM_POWER = 1 << 1
GPU_UTIL_UNSUPPORTED = 1 << 2
GPU_COUNTER_RESET = 1 << 3
GPU_LOST = 1 << 4
GPU_PROCS_UNSUPPORTED = 1 << 5
GPU_MEM_UNSUPPORTED = 1 << 7
INV_GPU_VANISHED = 1 << 1
INV_DRIVER_CHANGED = 1 << 3
MIG_ON, MIG_UNKNOWN = 1, 2

FAKE_DIR = os.environ["NVML_FAKE_DIR"]
DUMP = os.environ["NVML_DUMPRECORDS"]
tap = ghtest.Tap()


def write_cfg(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def decode(raw):
    data = b"".join(len(r).to_bytes(4, "big") + r for r in raw)
    p = subprocess.run([DUMP], input=data, capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("nvml-dumprecords failed: %s" % p.stderr.decode())
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def all_records(d):
    size = d.checkpoint()["size"]
    return decode(d.records(0, size))


def wait_for(pred, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def summaries_of(recs, uuid):
    out = []
    for r in recs:
        if r["kind"] == "summary":
            for g in r["gpus"]:
                if g["uuid"] == uuid:
                    out.append(g)
    return out


def nvml_daemon(tmp, cfg_path, libdir=FAKE_DIR):
    env = {"LD_LIBRARY_PATH": libdir, "FAKE_NVML_CONFIG": cfg_path}
    return ghtest.Daemon(tmp, backend="nvml", period=1, interval=0.1, env=env)


def client_findings(tmp, d):
    """Names of the client's findings for this node (None if the client is not built)."""
    if not os.path.exists(ghtest.client_bin()):
        return None
    e = dict(os.environ)
    e.update(XDG_CONFIG_HOME=os.path.join(tmp, "cfg"), XDG_STATE_HOME=os.path.join(tmp, "st"),
             HOME=os.path.join(tmp, "home"))
    p = subprocess.run([ghtest.client_bin(), "verify", "--json", "--no-state", "--key", d.vkey(),
                        d.url], capture_output=True, timeout=60, env=e, stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace")
    try:
        doc = json.loads(out)
    except ValueError:
        return ("rc=%d, no JSON: %s" % (p.returncode, (out + p.stderr.decode())[-500:]),)
    names = set()
    for src in doc.get("sources", []) if isinstance(doc, dict) else []:
        for f in src.get("findings", []):
            names.add(f.get("kind"))
    return names, p.returncode, doc


def check_close(got, want, rel, msg, slack=0.0):
    """|got - want| <= rel * want + slack (slack in the same unit as want)."""
    ok = want > 0 and abs(got - want) <= rel * want + slack
    tap.ok(ok, msg, diag="got %s, want %s ± %.0f%% + %s" % (got, want, rel * 100, slack))


# ------------------------------------------------------------------ the main run: faults
def run_faults(tmp):
    cfg = os.path.join(tmp, "fake.conf")
    write_cfg(cfg, """driver 550.54.15
nvml 12.550.54.15
gpu GPU-a0000000-0000-0000-0000-000000000001
name NVIDIA H100 80GB HBM3
pci 00000000:17:00.0
util 100,0
sample_us 100000
power_mw 400000
procs 2
stride 24
xid_after 60 79
gpu GPU-b0000000-0000-0000-0000-000000000002
util 30
procs 3
stride 32
power_mw 200000
energy_reset_after 25
gpu GPU-c0000000-0000-0000-0000-000000000003
lost_after 150
gpu GPU-d0000000-0000-0000-0000-000000000004
mig 1
util 100
power_mw 300000
gpu GPU-e0000000-0000-0000-0000-000000000005
util 50
power_mw 250000
serial -
notsup nvmlDeviceGetTotalEnergyConsumption
""")
    A, B, C, D, E = ("GPU-%s0000000-0000-0000-0000-00000000000%d" % (c, i + 1)
                     for i, c in enumerate("abcde"))
    d = nvml_daemon(tmp, cfg)
    d.start()
    try:
        def enough():
            recs = all_records(d)
            full = [r for r in recs if r["kind"] == "summary" and r["flags"] == 0]
            inv = [r for r in recs if r["kind"] == "inventory"]
            return recs if len(full) >= 5 and inv else None
        recs = wait_for(enough, 30)
        tap.ok(recs, "daemon wrote >= 5 full summaries and an inventory record",
               diag=d.log_tail())
        recs = recs or all_records(d)
        tap.ok(d.running(), "daemon keeps running after a GPU was lost")
        start = recs[0]
        tap.ok(start["kind"] == "start" and start["backend"] == "nvml"
               and start["driver"] == "550.54.15" and start["nvml"] == "12.550.54.15",
               "start record: backend nvml, driver and NVML versions", diag=start)
        uuids = [g["uuid"] for g in start["gpus"]]
        tap.ok(uuids == [A, B, C, D, E], "start record lists the 5 GPUs sorted by UUID",
               diag=uuids)
        ga = start["gpus"][0]
        tap.ok(ga["name"] == "NVIDIA H100 80GB HBM3" and ga["pci"] == "00000000:17:00.0"
               and ga["serial"] != "", "identity: name, PCI bus id, serial", diag=ga)
        tap.ok(start["gpus"][4]["serial"] == "", "serial NOT_SUPPORTED recorded as empty")
        tap.ok(start["gpus"][3]["mig"] == MIG_ON, "MIG mode recorded on")

        inv = [r for r in recs if r["kind"] == "inventory"]
        tap.ok(inv and [g["uuid"] for g in inv[0]["gpus"]] == [A, B, D, E]
               and inv[0]["reason"] & INV_GPU_VANISHED,
               "lost GPU: inventory record without it, reason GPU vanished", diag=inv)
        sc = summaries_of(recs, C)
        tap.ok(any(g["flags"] & GPU_LOST for g in sc), "lost GPU's last summary flags GPU_LOST",
               diag=[g["flags"] for g in sc])
        last = [r for r in recs if r["kind"] == "summary"][-1]
        tap.ok(C not in [g["uuid"] for g in last["gpus"]], "lost GPU absent from later summaries")

        full = [r for r in recs if r["kind"] == "summary" and r["flags"] == 0]

        def tot(uuid, key):
            return sum(g[key] for r in full for g in r["gpus"] if g["uuid"] == uuid)
        obs_a = tot(A, "observed_ms")
        # Busy time follows NVML's sample timestamps, observed time the daemon's
        # reads: over any run of consecutive windows the two spans differ by at
        # most one sample spacing, i.e. one sample's worth of busy time (A: 100 ms
        # spacing, B and E: the double's default 166.667 ms), whatever the length.
        check_close(tot(A, "busy_ms"), 0.5 * obs_a, 0.02,
                    "GPU-hours match scripted utilization 100,0 (50%) within 2% + one sample",
                    slack=100.0)
        check_close(tot(B, "busy_ms"), 0.3 * tot(B, "observed_ms"), 0.02,
                    "GPU-hours match scripted utilization 30% within 2% + one sample",
                    slack=0.3 * 166.667)
        check_close(tot(E, "busy_ms"), 0.5 * tot(E, "observed_ms"), 0.02,
                    "GPU-hours match scripted utilization 50% within 2% + one sample",
                    slack=0.5 * 166.667)
        tap.ok(tot(A, "occupied_ms") == obs_a and obs_a > 0,
               "24-byte process stride: occupied time = observed time")
        tap.ok(tot(B, "occupied_ms") == tot(B, "observed_ms"),
               "32-byte process stride: occupied time = observed time")
        tap.ok(max(g["procs_max"] for g in summaries_of(full, A)) == 2
               and max(g["procs_max"] for g in summaries_of(full, B)) == 3,
               "process counts 2 (stride 24) and 3 (stride 32)")
        check_close(tot(A, "energy_used_mj"), 400000 * obs_a / 1000, 0.02,
                    "energy counter deltas = power x time")

        sb = summaries_of(recs, B)
        resets = [g for g in sb if g["flags"] & GPU_COUNTER_RESET]
        tap.ok(len(resets) == 1 and resets[0]["energy_end_mj"] < resets[0]["energy_start_mj"],
               "counter reset: exactly one summary flags GPU_COUNTER_RESET",
               diag=[(g["flags"], g["energy_start_mj"], g["energy_end_mj"]) for g in sb])

        sd = summaries_of(recs, D)
        tap.ok(sd and all(g["flags"] & GPU_UTIL_UNSUPPORTED for g in sd),
               "MIG: every summary flags GPU_UTIL_UNSUPPORTED (no silent zero busy time)",
               diag=[g["flags"] for g in sd])
        tap.ok(all(g["energy_used_mj"] > 0 and not g["flags"] & GPU_ENERGY_UNSUPPORTED
                   for g in summaries_of(full, D)), "MIG: energy still measured on the parent")

        se = summaries_of(full, E)
        tap.ok(se and all(g["flags"] & GPU_ENERGY_FROM_POWER and g["flags"] & GPU_ENERGY_UNSUPPORTED
                          for g in se), "energy NOT_SUPPORTED: flagged energy from power")
        check_close(tot(E, "energy_used_mj"), 250000 * tot(E, "observed_ms") / 1000, 0.02,
                    "energy from power = power x time")
        tap.ok(sum(g["xid_count"] for g in summaries_of(recs, A)) == 1
               and sum(g["xid_count"] for g in summaries_of(recs, B)) == 0,
               "Xid event counted once on the GPU that raised it")

        log = d.log_text()
        tap.ok("process entries are 32 bytes apart" in log
               and "process entries are 24 bytes apart" in log,
               "daemon logs the process stride it detected")

        f = client_findings(tmp, d)
        if f is None:
            tap.skip("client not built: COUNTER_RESET / GPU_SET_CHANGED findings")
        else:
            names = f[0]
            tap.ok("COUNTER_RESET" in names, "client reports COUNTER_RESET", diag=f)
            tap.ok("GPU_SET_CHANGED" in names, "client reports GPU_SET_CHANGED", diag=names)
    finally:
        rc = d.stop()
    tap.ok(rc == 0, "daemon stops cleanly", diag=d.log_tail())


# ------------------------------------------------------------------ driver version change
def run_driver_change(tmp):
    cfg = os.path.join(tmp, "fake.conf")
    body = "gpu GPU-a0000000-0000-0000-0000-000000000001\nutil 60\npower_mw 300000\n"
    write_cfg(cfg, "driver 535.104.05\n" + body)
    d = nvml_daemon(tmp, cfg)
    d.start()
    try:
        wait_for(lambda: len([r for r in all_records(d) if r["kind"] == "summary"]) >= 2, 15)
        write_cfg(cfg, "driver 550.54.15\n" + body)

        def after():
            recs = all_records(d)
            inv = [r for r in recs if r["kind"] == "inventory"]
            if inv and len([r for r in recs if r["kind"] == "summary"
                            and r["wall_ns"] > inv[0]["wall_ns"]]) >= 2:
                return recs
            return None
        recs = wait_for(after, 20) or all_records(d)
        inv = [r for r in recs if r["kind"] == "inventory"]
        tap.ok(inv and inv[0]["driver"] == "550.54.15" and inv[0]["reason"] & INV_DRIVER_CHANGED
               and len(inv[0]["gpus"]) == 1,
               "driver change: inventory record with the new driver, reason DRIVER_CHANGED",
               diag=inv or d.log_tail())
        tap.ok(d.running(), "driver change: daemon keeps running")
        sa = summaries_of(recs, "GPU-a0000000-0000-0000-0000-000000000001")
        tap.ok(any(g["flags"] & GPU_COUNTER_RESET for g in sa),
               "driver change: new energy epoch flagged", diag=[g["flags"] for g in sa])
        tap.ok("re-initialised" in d.log_text(), "driver change: re-initialisation logged")
        f = client_findings(tmp, d)
        if f is None:
            tap.skip("client not built: GPU_SET_CHANGED after a driver change")
        else:
            tap.ok("GPU_SET_CHANGED" in f[0], "client reports GPU_SET_CHANGED (driver change)",
                   diag=f[0])
    finally:
        d.stop()


# ------------------------------------------------------------------ optional symbols missing
def run_minimal(tmp):
    cfg = os.path.join(tmp, "fake.conf")
    write_cfg(cfg, "gpu GPU-m\nutil 40\nsample_us 100000\npower_mw 200000\nprocs 1\n")
    d = nvml_daemon(tmp, cfg, libdir=os.path.join(FAKE_DIR, "minimal"))
    d.start()
    try:
        recs = wait_for(lambda: (lambda r: r if len([x for x in r if x["kind"] == "summary"
                                                      and x["flags"] == 0]) >= 3 else None)(
            all_records(d)), 20) or all_records(d)
        full = [r for r in recs if r["kind"] == "summary" and r["flags"] == 0]
        sm = summaries_of(full, "GPU-m")
        want = GPU_ENERGY_UNSUPPORTED | GPU_ENERGY_FROM_POWER | GPU_MEM_UNSUPPORTED
        tap.ok(sm and all(g["flags"] & want == want for g in sm),
               "optional symbols missing: energy-from-power and memory flags set",
               diag=[g["flags"] for g in sm])
        tap.ok(recs[0]["gpus"][0]["mig"] == MIG_UNKNOWN, "no nvmlDeviceGetMigMode: MIG unknown")
        obs = sum(g["observed_ms"] for g in sm)
        check_close(sum(g["busy_ms"] for g in sm), 0.4 * obs, 0.03,
                    "no nvmlDeviceGetSamples: busy time from polled utilization rates")
        tap.ok("optional functions missing" in d.log_text(), "missing optional functions logged")
    finally:
        d.stop()


# ------------------------------------------------------------------ startup failures
def run_startup_failures(tmp):
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty, exist_ok=True)
    cfg = os.path.join(tmp, "fake.conf")
    write_cfg(cfg, "gpu GPU-a\n")
    state = os.path.join(tmp, "state")
    args = [ghtest.daemon_bin(), "--backend", "nvml", "--state-dir", state, "--listen",
            "127.0.0.1:%d" % ghtest.free_port(), "--period", "1", "--sample-interval", "0.1"]

    def run(libdir):
        e = dict(os.environ, LD_LIBRARY_PATH=libdir, FAKE_NVML_CONFIG=cfg)
        e.pop("NOTIFY_SOCKET", None)
        try:
            p = subprocess.run(args, capture_output=True, timeout=20, env=e,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None, ""
        return p.returncode, p.stderr.decode("utf-8", "replace")

    real = any(os.path.exists(os.path.join(p, "libnvidia-ml.so.1"))
               for p in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"))
    if real:
        tap.skip("a real libnvidia-ml.so.1 is installed: cannot test its absence")
    else:
        rc, err = run(empty)
        lines = [ln for ln in err.splitlines() if "not found" in ln]
        tap.ok(rc not in (0, None) and len(lines) == 1 and "libnvidia-ml.so.1" in lines[0]
               and "--backend sim" in lines[0],
               "library absent: one-line error naming NVML and --backend sim, non-zero exit",
               diag="rc=%s\n%s" % (rc, err))

    rc, err = run(os.path.join(FAKE_DIR, "broken"))
    tap.ok(rc not in (0, None) and "nvmlDeviceGetUUID" in err,
           "required symbol missing: error names it, non-zero exit", diag="rc=%s\n%s" % (rc, err))

    write_cfg(cfg, "driver_not_loaded 1\ngpu GPU-a\n")
    rc, err = run(FAKE_DIR)
    tap.ok(rc not in (0, None) and "Driver Not Loaded" in err,
           "driver not loaded at start: error, non-zero exit", diag="rc=%s\n%s" % (rc, err))


def run_no_gpus(tmp):
    cfg = os.path.join(tmp, "fake.conf")
    write_cfg(cfg, "driver 550.54.15\n")
    d = nvml_daemon(tmp, cfg)
    d.start()
    try:
        recs = wait_for(lambda: (lambda r: r if any(x["kind"] == "summary" for x in r) else None)(
            all_records(d)), 15) or all_records(d)
        tap.ok(recs[0]["kind"] == "start" and recs[0]["gpus"] == [] and d.running(),
               "no GPUs: daemon runs, start record with an empty inventory", diag=recs[:2])
    finally:
        d.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="gh-nvml-") as tmp:
        for name, fn in (("faults", run_faults), ("driver", run_driver_change),
                         ("minimal", run_minimal), ("startup", run_startup_failures),
                         ("nogpus", run_no_gpus)):
            sub = os.path.join(tmp, name)
            os.makedirs(sub)
            try:
                fn(sub)
            except Exception:
                import traceback
                tap.ok(False, "%s: raised" % name, diag=traceback.format_exc())
    tap.done()


main()
