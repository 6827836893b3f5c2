#!/bin/bash
# SPDX-License-Identifier: MIT
#
# h100-check.sh — check gpuhoursd's NVML backend on a real NVIDIA GPU (H100).
#
# The GPU machine has an NVIDIA driver, Python with PyTorch and nvcc, but none
# of our Debian packages. So the binaries are built here (x86-64, Debian 12,
# glibc 2.36: the GPU machine needs glibc >= 2.36) and carried over together
# with every non-glibc shared library they need.
#
#   1. Here, after `meson compile -C BUILD`:
#        tests/nvml/h100-check.sh package OUTDIR BUILD
#      copies gpuhoursd, gpuhours, nvml-dumprecords and this script into
#      OUTDIR, plus the libraries `ldd` lists for them except glibc's own
#      (libsodium, libmicrohttpd, libsystemd, libinih, libjansson, libcurl and
#      their dependencies: libgnutls/libssl, libnghttp2, libzstd, liblz4,
#      libgcrypt, libcap, …). libnvidia-ml.so.1 is never copied: the driver's
#      own is used.
#   2. On the GPU machine:
#        OUTDIR/h100-check.sh run OUTDIR [SECONDS]     (default 120)
#      runs gpuhoursd --backend nvml on 127.0.0.1 with a 10 s period for
#      SECONDS: idle, then two PyTorch matmul processes on GPU 0 (two, so the
#      process-entry stride can be detected), then idle; samples nvidia-smi's
#      power.draw and utilization every second meanwhile; then verifies the
#      ledger with the client on loopback and prints:
#        - the records (JSON lines) and the client's JSON verdict,
#        - per GPU: energy from the records vs the integral of nvidia-smi's
#          power over the same window, busy time vs nvidia-smi utilization,
#        - which optional NVML functions worked (the daemon logs a probe line
#          per GPU at start) and the process-entry stride it detected,
#        - nvidia-smi -q's view (power, utilization, MIG, accounting).
#   --self-test: for CI here. Packages the build dir ($GH_BUILD_ROOT), checks
#      that the packaged binaries resolve every library from the package,
#      and runs `run` for a few seconds against the NVML test double (no GPU,
#      no nvidia-smi, no PyTorch: those parts report that they were skipped).
#      Prints TAP.
set -euo pipefail

die() {
        echo "h100-check: $*" >&2
        exit 1
}

# Libraries that belong to glibc (present on every Linux machine, and tied to
# its ld.so): never copied.
is_glibc() {
        case "$1" in
        ld-linux*.so* | libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | \
                libresolv.so* | libutil.so* | libanl.so* | libnsl.so* | libmvec.so* | linux-vdso.so*)
                return 0
                ;;
        esac
        return 1
}

package() {
        local out=$1 build=$2
        [ -x "$build/daemon/gpuhoursd" ] || die "no $build/daemon/gpuhoursd: build first"
        [ -x "$build/client/gpuhours" ] || die "no $build/client/gpuhours: build first"
        mkdir -p "$out"
        local bins=("$build/daemon/gpuhoursd" "$build/client/gpuhours")
        [ -x "$build/tests/nvml/nvml-dumprecords" ] && bins+=("$build/tests/nvml/nvml-dumprecords")
        cp "${bins[@]}" "$out/"
        cp "$0" "$out/h100-check.sh"
        chmod +x "$out/h100-check.sh"
        local bin lib name
        for bin in "${bins[@]}"; do
                # "libfoo.so.1 => /usr/lib/x86_64-linux-gnu/libfoo.so.1 (0x…)"
                ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
                        name=$(basename "$lib")
                        is_glibc "$name" && continue
                        [ "$name" = libnvidia-ml.so.1 ] && continue
                        cp -L "$lib" "$out/$name"
                done
        done
        echo "packaged into $out:"
        ls -l "$out"
}

# Everything the run needs in Python: load generator, nvidia-smi sampler,
# record fetcher and the final comparison.
write_helper() {
        cat >"$1" <<'PY'
import json, os, subprocess, sys, time, urllib.request

def load(seconds):
    import torch
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()
        n += 20
    print("load: %d matmuls of 8192^2 in %.0f s" % (n, seconds), flush=True)

def smi(out_path, seconds):
    q = "index,uuid,power.draw,utilization.gpu,memory.used"
    p = subprocess.Popen(["nvidia-smi", "--query-gpu=" + q, "--format=csv,noheader,nounits",
                          "-lms", "1000"], stdout=subprocess.PIPE, text=True)
    end = time.time() + seconds
    with open(out_path, "w") as f:
        for line in p.stdout:
            f.write("%.3f, %s" % (time.time(), line))
            f.flush()
            if time.time() > end:
                break
    p.terminate()
    p.wait()

def records(url, out_path):
    with urllib.request.urlopen(url + "/checkpoint", timeout=10) as r:
        size = int(r.read().decode().split("\n")[1])
    data = b""
    pos = 0
    while pos < size:
        with urllib.request.urlopen("%s/v1/records?start=%d&end=%d" % (url, pos, size), timeout=30) as r:
            body = r.read()
            rng = r.headers["X-Gpuhours-Range"]
        data += body
        pos = int(rng.split("-")[1])
    with open(out_path, "wb") as f:
        f.write(data)
    print("fetched %d records (%d bytes)" % (size, len(data)))

def compare(records_jsonl, smi_csv):
    recs = [json.loads(l) for l in open(records_jsonl) if l.strip()]
    smi_rows = []
    if os.path.exists(smi_csv):
        for line in open(smi_csv):
            parts = [x.strip() for x in line.split(",")]
            try:
                smi_rows.append((float(parts[0]), parts[2], float(parts[3]), float(parts[4])))
            except (ValueError, IndexError):
                pass
    sums = [r for r in recs if r["kind"] == "summary"]
    if not sums:
        print("no summary records")
        return
    t0 = min(r["obs_start_wall_ns"] for r in sums) / 1e9
    t1 = max(r["obs_end_wall_ns"] for r in sums) / 1e9
    print("window: %.1f s (%d summaries)" % (t1 - t0, len(sums)))
    uuids = sorted({g["uuid"] for r in sums for g in r["gpus"]})
    for u in uuids:
        gs = [g for r in sums for g in r["gpus"] if g["uuid"] == u]
        e = sum(g["energy_used_mj"] for g in gs) / 1000.0
        obs = sum(g["observed_ms"] for g in gs) / 1000.0
        busy = sum(g["busy_ms"] for g in gs) / 1000.0
        occ = sum(g["occupied_ms"] for g in gs) / 1000.0
        flags = sorted({g["flags"] for g in gs})
        print("%s: observed %.1f s, busy %.1f s (%.1f%%), occupied %.1f s, energy %.1f J, "
              "avg power %.1f W, flags %s, xids %d" % (u, obs, busy, 100 * busy / max(obs, 1e-9),
              occ, e, e / max(obs, 1e-9), flags, sum(g["xid_count"] for g in gs)))
        rows = sorted(r for r in smi_rows if r[1] == u and t0 <= r[0] <= t1)
        if len(rows) < 2:
            print("  nvidia-smi: no samples in the window")
            continue
        integral = sum((b[0] - a[0]) * (a[2] + b[2]) / 2 for a, b in zip(rows, rows[1:]))
        span = rows[-1][0] - rows[0][0]
        util = sum((b[0] - a[0]) * a[3] for a, b in zip(rows, rows[1:])) / span
        scale = (t1 - t0) / span
        print("  nvidia-smi: integral of power.draw %.1f J over %.1f s (x%.3f for the window: "
              "%.1f J); energy records/smi = %.4f" % (integral, span, scale, integral * scale,
              e / max(integral * scale, 1e-9)))
        print("  nvidia-smi: mean utilization.gpu %.1f%% vs records' busy %.1f%%"
              % (util, 100 * busy / max(obs, 1e-9)))

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "load":
        load(float(sys.argv[2]))
    elif cmd == "smi":
        smi(sys.argv[2], float(sys.argv[3]))
    elif cmd == "records":
        records(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
PY
}

PIDS=()
# Stop what run started (the daemon, the load, the sampler), also on failure.
cleanup_pids() {
        local p
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
}

run_check() {
        local pkg seconds
        pkg=$(cd "$1" && pwd)
        seconds=${2:-120}
        local py=${PYTHON:-python3}
        local work=${H100_CHECK_WORKDIR:-}
        [ -n "$work" ] || work=$(mktemp -d /tmp/h100-check.XXXXXX)
        mkdir -p "$work"
        local port
        port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        local url="http://127.0.0.1:$port"
        local libpath="$pkg${H100_CHECK_EXTRA_LIBPATH:+:$H100_CHECK_EXTRA_LIBPATH}"
        PIDS=()
        trap cleanup_pids EXIT
        trap 'exit 143' TERM INT
        write_helper "$work/helper.py"
        echo "== machine"
        uname -a
        (nvidia-smi -L 2>&1 || echo "nvidia-smi not found") | head -20
        echo "== gpuhoursd --backend nvml for $seconds s (work dir $work)"
        LD_LIBRARY_PATH=$libpath "$pkg/gpuhoursd" --backend nvml --state-dir "$work/state" \
                --listen "127.0.0.1:$port" --period 10 --sample-interval 0.5 \
                >"$work/daemon.log" 2>&1 &
        local daemon=$!
        PIDS+=("$daemon")
        local _
        for _ in $(seq 1 100); do
                (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
                kill -0 "$daemon" 2>/dev/null || {
                        cat "$work/daemon.log"
                        die "gpuhoursd exited early"
                }
                sleep 0.1
        done
        if command -v nvidia-smi >/dev/null; then
                "$py" "$work/helper.py" smi "$work/smi.csv" "$seconds" &
                PIDS+=($!)
        else
                echo "nvidia-smi not found: no power comparison"
        fi
        local idle=$((seconds / 8)) busy=$((seconds * 3 / 4))
        sleep "$idle"
        if "$py" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
                echo "load: 2 PyTorch matmul processes on GPU 0 for $busy s"
                CUDA_VISIBLE_DEVICES=0 "$py" "$work/helper.py" load "$busy" &
                PIDS+=($!)
                CUDA_VISIBLE_DEVICES=0 "$py" "$work/helper.py" load "$busy" &
                PIDS+=($!)
        else
                echo "PyTorch with CUDA not available: no load (idle run)"
        fi
        sleep $((seconds - idle))
        # Let the period that is open now close, so that its summary is in the ledger.
        local now
        now=$(date +%s)
        sleep $((10 - now % 10 + 1))
        echo "== client: gpuhours verify on loopback"
        local vkey
        vkey=$(LD_LIBRARY_PATH=$pkg "$pkg/gpuhoursd" --state-dir "$work/state" --print-key)
        set +e
        XDG_CONFIG_HOME=$work/xdg XDG_STATE_HOME=$work/xdg LD_LIBRARY_PATH=$pkg \
                "$pkg/gpuhours" verify --json --no-state --key "$vkey" "$url" >"$work/verify.json"
        echo "client exit code $?"
        set -e
        cat "$work/verify.json"
        echo "== records"
        "$py" "$work/helper.py" records "$url" "$work/records.bin"
        if [ -x "$pkg/nvml-dumprecords" ]; then
                LD_LIBRARY_PATH=$pkg "$pkg/nvml-dumprecords" <"$work/records.bin" >"$work/records.jsonl"
                cat "$work/records.jsonl"
                echo "== energy and utilization: records vs nvidia-smi"
                "$py" "$work/helper.py" compare "$work/records.jsonl" "$work/smi.csv"
        fi
        kill "$daemon"
        wait "$daemon" || true
        echo "== optional NVML functions (daemon probe at start) and process stride"
        grep -E "optional functions|GPU '.*' '.*' at|process entries|stride not|Xid|event" \
                "$work/daemon.log" || true
        echo "== daemon log (warnings and errors)"
        grep -E '^<[0-4]>' "$work/daemon.log" || echo "(none)"
        if command -v nvidia-smi >/dev/null; then
                echo "== nvidia-smi -q (power, utilization, MIG, accounting)"
                nvidia-smi -q -d POWER,UTILIZATION,ACCOUNTING,MEMORY 2>&1 | head -120
                nvidia-smi --query-gpu=index,uuid,serial,pci.bus_id,mig.mode.current,driver_version \
                        --format=csv 2>&1
        fi
        echo "== done: $work"
}

self_test() {
        local build=${GH_BUILD_ROOT:?GH_BUILD_ROOT unset} fake=${NVML_FAKE_DIR:?NVML_FAKE_DIR unset}
        local n=0 fail=0
        SELFTEST_TMP=$(mktemp -d /tmp/h100-selftest.XXXXXX)
        local tmp=$SELFTEST_TMP
        trap 'rm -rf "$SELFTEST_TMP"' EXIT
        trap 'exit 143' TERM INT
        ok() {
                n=$((n + 1))
                if [ "$1" = 0 ]; then echo "ok $n - $2"; else
                        echo "not ok $n - $2"
                        fail=1
                fi
        }
        bash -n "$0"
        ok $? "bash -n: the script parses"
        local rc=0
        package "$tmp/pkg" "$build" >"$tmp/package.log" 2>&1 || rc=$?
        ok $rc "package: copies binaries and libraries"
        rc=0
        local f
        for f in libsodium libmicrohttpd libsystemd libinih libjansson libcurl; do
                ls "$tmp/pkg/$f".so* >/dev/null 2>&1 || rc=1
        done
        ls "$tmp"/pkg/libc.so* >/dev/null 2>&1 && rc=1
        ok $rc "package: has libsodium, libmicrohttpd, libsystemd, libinih, libjansson, libcurl; no glibc"
        # Every library of the packaged binaries resolves, and the non-glibc ones from the package.
        rc=0
        for f in "$tmp/pkg/gpuhoursd" "$tmp/pkg/gpuhours"; do
                LD_LIBRARY_PATH=$tmp/pkg ldd "$f" | grep -q "not found" && rc=1
                LD_LIBRARY_PATH=$tmp/pkg ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
                        while read -r lib; do
                                is_glibc "$(basename "$lib")" || [ "$(dirname "$lib")" = "$tmp/pkg" ] ||
                                        echo "# outside the package: $lib"
                        done | tee "$tmp/outside" | sed 's/^/# /'
                [ -s "$tmp/outside" ] && rc=1
        done
        ok $rc "package: libraries resolve from the package"
        cat >"$tmp/fake.conf" <<'EOF'
gpu GPU-selftest-0
util 50
sample_us 100000
power_mw 300000
procs 2
stride 32
EOF
        rc=0
        FAKE_NVML_CONFIG=$tmp/fake.conf H100_CHECK_EXTRA_LIBPATH=$fake PYTHON=/usr/bin/python3 \
                H100_CHECK_WORKDIR=$tmp/work \
                "$tmp/pkg/h100-check.sh" run "$tmp/pkg" 12 >"$tmp/run.log" 2>&1 || rc=$?
        sed 's/^/# /' "$tmp/run.log" | tail -40
        ok $rc "run: completes against the NVML test double"
        rc=0
        for f in "== records" '"kind":"summary"' 'busy [0-9.]+ s \((4[89]|5[01])\.[0-9]%\)' \
                "avg power 300\.[0-9] W" "processes ok" "process entries are 32 bytes apart" \
                '"verdict"'; do
                grep -Eq "$f" "$tmp/run.log" || {
                        echo "# missing in the output: $f"
                        rc=1
                }
        done
        ok $rc "run: prints records, the client verdict, probe results and the stride"
        echo "1..$n"
        return $fail
}

case "${1:-}" in
package)
        [ $# -eq 3 ] || die "usage: $0 package OUTDIR BUILDDIR"
        package "$2" "$3"
        ;;
run)
        [ $# -ge 2 ] || die "usage: $0 run PACKAGEDIR [SECONDS]"
        run_check "$2" "${3:-120}"
        ;;
--self-test)
        self_test
        ;;
*)
        sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
