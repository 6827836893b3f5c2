#!/bin/bash
# SPDX-License-Identifier: MIT
# The packaged service under a real systemd: builds the Debian packages,
# installs them into a Debian 12 root file system, boots that root with
# `systemd-nspawn -b` (systemd as PID 1, private network: loopback only) and
# runs tests/systemd/inside.sh there as a oneshot unit: gpuhoursd, then
# gpuhours-witness with gpuhoursd pushing to it, then gpuhours-check.service
# and .timer against the node, then the purges. inside.sh writes TAP lines
# (and the check's metrics files) to a directory bound from here; this
# script numbers the lines and runs promtool on the metrics files.
#
# The Debian root is made once with debootstrap (the only network access) and
# cached as a tar file keyed by the package list:
#   ${GH_SYSTEMD_CACHE:-/var/cache/gpuhours-test}/bookworm-<key>.tar
# Needs root, systemd-nspawn (systemd-container), debootstrap and the package
# build tools (tools/deps). Where they are missing the test is skipped with
# "SKIP: reason".
set -u
export LC_ALL=C.UTF-8
src=${GH_SOURCE_ROOT:?run through meson test}
here="$src/tests/systemd"
n=0
failed=0
t_start=$(date +%s)
ok() { # ok COND-RC MESSAGE [DIAG]
        n=$((n + 1))
        if [ "$1" -eq 0 ]; then
                echo "ok $n - $2"
        else
                failed=$((failed + 1))
                echo "not ok $n - $2"
                [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
        fi
}
skip_all() { echo "SKIP: $1" >&2; echo "1..0 # SKIP $1"; exit 0; }
finish() {
        echo "# total $(($(date +%s) - t_start)) s"
        echo "1..$n"
        [ "$failed" -eq 0 ] && [ "$n" -gt 0 ]
        exit $?
}
since() { echo $(($(date +%s) - $1)); }

[ "$(id -u)" -eq 0 ] || skip_all "needs root (debootstrap, systemd-nspawn)"
for tool in systemd-nspawn debootstrap dpkg-buildpackage flock tar; do
        command -v "$tool" >/dev/null 2>&1 || skip_all "$tool is not installed (run tools/deps)"
done
# The unit's IPAddressDeny= and DeviceAllow= need cgroup v2 in the container
# (with nspawn's default hybrid layout they are silently not enforced).
[ -d /sys/fs/cgroup/unified ] || [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] ||
        skip_all "no cgroup v2 hierarchy on this machine (systemd-nspawn needs one)"

# Packages of the root: systemd as PID 1, what gpuhoursd and gpuhours link
# against (dpkg -i below refuses if one is missing), curl for the checks.
suite=bookworm
mirror=${GH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
pkgs="systemd,systemd-sysv,dbus,libsodium23,libmicrohttpd12,libinih1,libjansson4,libcurl4,curl,libsqlite3-0,libssl3"
key=$(printf '%s\n' "$suite" "$mirror" "$pkgs" minbase | sha256sum | cut -c 1-12)
cache_dir=${GH_SYSTEMD_CACHE:-/var/cache/gpuhours-test}
cache="$cache_dir/$suite-$key.tar"

tmp=$(mktemp -d /var/tmp/gh-systemd.XXXXXX)
chmod 0755 "$tmp"
nspawn_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
        [ -n "$nspawn_pid" ] && kill -KILL "$nspawn_pid" 2>/dev/null && wait "$nspawn_pid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- the cached root (one builder at a time)
mkdir -p "$cache_dir"
exec 9>"$cache_dir/.lock"
flock -w 600 9 || { ok 1 "another run holds $cache_dir/.lock for > 10 min"; finish; }
if [ ! -s "$cache" ]; then
        t0=$(date +%s)
        work="$cache_dir/.build-$key"
        rm -rf "$work"
        out=$(debootstrap --variant=minbase --include="$pkgs" "$suite" "$work" "$mirror" 2>&1)
        rc=$?
        if [ $rc -eq 0 ]; then
                # No apt lists or package files in the cache: smaller, and the
                # tests need no network.
                rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/*_*
                tar -C "$work" --numeric-owner -cf "$cache.tmp" . && mv -f "$cache.tmp" "$cache"
                rc=$?
        fi
        rm -rf "$work" "$cache.tmp"
        ok $rc "debootstrap $suite minbase into $cache ($(since "$t0") s)" "$(tail -n 30 <<<"$out")"
        [ $rc -eq 0 ] || finish
else
        echo "# cached root: $cache"
fi
flock -u 9

# --- the packages (built in parallel with unpacking the root)
t0=$(date +%s)
"$src/packaging/build-deb" "$tmp/debs" >"$tmp/build-deb.log" 2>&1 &
build_pid=$!
root="$tmp/root"
mkdir "$root"
tar -C "$root" --numeric-owner -xf "$cache"
ok $? "root file system unpacked from the cache ($(since "$t0") s)"
wait "$build_pid"
rc=$?
ok $rc "packaging/build-deb builds the packages ($(since "$t0") s)" "$(tail -n 40 "$tmp/build-deb.log")"
[ $rc -eq 0 ] || finish

# --- install: dpkg in a chroot (no systemd runs there, so the maintainer
# scripts only enable the units), then the test's own units and drop-ins.
t0=$(date +%s)
mkdir -p "$root/root/debs"
cp "$tmp"/debs/*.deb "$root/root/debs/"
out=$(chroot "$root" sh -c 'dpkg -i /root/debs/*.deb' 2>&1)
ok $? "dpkg -i of the packages (gpuhoursd, gpuhours, gpuhours-witness) in the root ($(since "$t0") s)" "$out"
chroot "$root" systemctl is-enabled gpuhoursd.service >/dev/null 2>&1
ok $? "gpuhoursd.service is enabled by the package"

install -D -m 0755 "$here/inside.sh" "$root/usr/local/lib/gh-test/inside.sh"
install -D -m 0644 "$here/gh-test.service" "$root/etc/systemd/system/gh-test.service"
ln -sf /etc/systemd/system/gh-test.service "$root/etc/systemd/system/multi-user.target.wants/gh-test.service"
install -D -m 0644 "$here/sim.conf" "$root/etc/systemd/system/gpuhoursd.service.d/sim.conf"
# A quiet, quick boot: no getty on the console, no unit that waits for a network.
rm -f "$root"/etc/systemd/system/getty.target.wants/* 2>/dev/null
echo gh-node >"$root/etc/hostname"
: >"$root/etc/machine-id"
mkdir -p "$tmp/out"

# --- boot. PID 1 here is not systemd: no machined registration, the scope
# stays ours (--keep-unit); cgroup v2 in the container so that BPF firewalls
# and device policies are enforced.
t0=$(date +%s)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout -k 10 460 systemd-nspawn -q -b -D "$root" \
        --register=no --keep-unit --system-call-filter=bpf --private-network \
        --machine=gh-node --bind="$tmp/out:/gh-out" --console=pipe \
        </dev/null >"$tmp/console.log" 2>&1 &
nspawn_pid=$!
wait "$nspawn_pid"
rc=$?
nspawn_pid=""
boot_s=$(since "$t0")
if [ ! -s "$tmp/out/tap" ]; then
        ok 1 "the container booted and ran tests/systemd/inside.sh (nspawn exit $rc, $boot_s s)" \
                "$(tail -n 60 "$tmp/console.log")"
        finish
fi
ok 0 "the container booted, ran the checks and powered off (nspawn exit $rc, $boot_s s)"

# --- the checks made inside, renumbered
while IFS= read -r line; do
        case $line in
        "ok - "*) ok 0 "${line#ok - }" ;;
        "not ok - "*) ok 1 "${line#not ok - }" ;;
        *) echo "$line" ;;
        esac
done <"$tmp/out/tap"
grep -q '^done$' "$tmp/out/status" 2>/dev/null
ok $? "inside.sh ran to its end" "$(tail -n 40 "$tmp/console.log")"
# The metrics files gpuhours-check.service wrote in there (PASS, UNKNOWN and
# FAIL runs), checked by Prometheus's own linter.
for f in check-pass check-unknown check-fail; do
        if ! command -v promtool >/dev/null 2>&1; then
                ok 1 "promtool check metrics $f.prom: promtool is not installed (tools/deps installs prometheus)"
        elif [ ! -s "$tmp/out/$f.prom" ]; then
                ok 1 "promtool check metrics $f.prom: the container wrote no such file"
        else
                out=$(promtool check metrics <"$tmp/out/$f.prom" 2>&1)
                ok $? "promtool check metrics on the --metrics file of the $f run ($(grep -c '^gpuhours_' "$tmp/out/$f.prom") samples)" \
                        "$out
$(cat "$tmp/out/$f.prom")"
        fi
done
if [ "$failed" -gt 0 ] && [ -s "$tmp/out/journal" ]; then
        echo "# --- journal of the container (last 150 lines)"
        tail -n 150 "$tmp/out/journal" | sed 's/^/# /'
fi
finish
