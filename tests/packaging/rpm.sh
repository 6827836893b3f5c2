#!/bin/bash
# SPDX-License-Identifier: MIT
# packaging/gpuhours.spec: rpmspec parses it; rpmbuild builds both binary
# RPMs from a tarball of this tree, with every file meson installs packaged
# (rpmbuild fails on installed-but-unpackaged files) and the systemd
# scriptlets in place. Debian's rpm lacks Fedora's meson and systemd macros:
# tests/packaging/rpm-macros stands in for them. %check is skipped here
# (--nocheck: tools/check runs the tests).
set -u
export LC_ALL=C.UTF-8
src=${GH_SOURCE_ROOT:?run through meson test}
spec="$src/packaging/gpuhours.spec"
n=0
failed=0
ok() {
        n=$((n + 1))
        if [ "$1" -eq 0 ]; then
                echo "ok $n - $2"
        else
                failed=$((failed + 1))
                echo "not ok $n - $2"
                [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
        fi
}
finish() { echo "1..$n"; [ "$failed" -eq 0 ] && [ "$n" -gt 0 ]; exit $?; }
for tool in rpmspec rpmbuild rpm rpm2archive; do
        command -v "$tool" >/dev/null 2>&1 || { echo "1..0 # SKIP $tool is not installed (package rpm)"; exit 0; }
done

out=$(rpmspec -P "$spec" 2>&1)
ok $? "rpmspec -P parses packaging/gpuhours.spec" "$out"
version=$(rpmspec -q --qf '%{version}\n' --srpm "$spec" 2>/dev/null)
want=$(sed -n "s/^  version : '\([^']*\)',\$/\1/p" "$src/meson.build" | head -n 1)
[ "$version" = "$want" ]
ok $? "spec Version ($version) is the meson project version ($want)"

tmp=$(mktemp -d /tmp/gh-rpm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' TERM INT
top="$tmp/rpmbuild"
mkdir -p "$top/SOURCES" "$tmp/gpuhours-$want"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$src" && git ls-files -z --cached --others --exclude-standard |
                xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
                tar --null -T - -cf -) | tar -xf - -C "$tmp/gpuhours-$want"
else
        (cd "$src" && tar --exclude='./build*' --exclude=./.git -cf - .) | tar -xf - -C "$tmp/gpuhours-$want"
fi
tar -C "$tmp" -cJf "$top/SOURCES/gpuhours-$want.tar.xz" "gpuhours-$want"
cp "$src/packaging/gpuhours.sysusers" "$src/packaging/gpuhours-check.sysusers" \
        "$src/packaging/witness/gpuhours-witness.sysusers" "$top/SOURCES/"

# The spec is under test, not the caller's compiler (CI also runs this from its clang step).
unset CC CXX CFLAGS CXXFLAGS CPPFLAGS LDFLAGS
t0=$(date +%s)
out=$(rpmbuild --load "$src/tests/packaging/rpm-macros" --define "_topdir $top" \
        --define "_smp_build_ncpus 2" --nodeps --nocheck -bb "$spec" 2>&1)
rc=$?
ok $rc "rpmbuild -bb builds the spec ($(($(date +%s) - t0)) s)" "$(tail -n 40 <<<"$out")"
[ $rc -eq 0 ] || finish
rpm_c=$(ls "$top"/RPMS/*/gpuhours-"$want"-*.rpm 2>/dev/null | head -n 1)
rpm_d=$(ls "$top"/RPMS/*/gpuhoursd-"$want"-*.rpm 2>/dev/null | head -n 1)
rpm_w=$(ls "$top"/RPMS/*/gpuhours-witness-"$want"-*.rpm 2>/dev/null | head -n 1)
[ -n "$rpm_c" ] && [ -n "$rpm_d" ] && [ -n "$rpm_w" ]
ok $? "the three binary RPMs exist (gpuhours, gpuhoursd, gpuhours-witness)" "$(ls -R "$top/RPMS")"
[ -n "$rpm_c" ] && [ -n "$rpm_d" ] && [ -n "$rpm_w" ] || finish
files_d=$(rpm -qlp "$rpm_d" 2>/dev/null)
for f in /usr/sbin/gpuhoursd /usr/lib/systemd/system/gpuhoursd.service /usr/lib/systemd/system/gpuhoursd.socket \
        /usr/lib/sysusers.d/gpuhours.conf /etc/gpuhours/gpuhoursd.conf; do
        grep -qx "$f" <<<"$files_d"
        ok $? "gpuhoursd RPM holds $f"
done
grep -q '/usr/share/man/man8/gpuhoursd.8' <<<"$files_d" && grep -q '/usr/share/man/man5/gpuhoursd.conf.5' <<<"$files_d"
ok $? "gpuhoursd RPM holds gpuhoursd(8) and gpuhoursd.conf(5)"
files_c=$(rpm -qlp "$rpm_c" 2>/dev/null)
grep -qx /usr/bin/gpuhours <<<"$files_c" && grep -q '/usr/share/man/man1/gpuhours.1' <<<"$files_c"
ok $? "gpuhours RPM holds the client and gpuhours(1)" "$files_c"
unit=$(rpm2archive - <"$rpm_d" | tar -xzOf - ./usr/lib/systemd/system/gpuhoursd.service 2>&1)
grep -qx 'ExecStart=/usr/sbin/gpuhoursd --config /etc/gpuhours/gpuhoursd.conf' <<<"$unit"
ok $? "the RPM's unit runs /usr/sbin/gpuhoursd --config /etc/gpuhours/gpuhoursd.conf" "$unit"
scripts=$(rpm -qp --scripts "$rpm_d" 2>/dev/null)
for s in preinstall postinstall preuninstall postuninstall; do
        grep -q "^$s scriptlet" <<<"$scripts"
        ok $? "gpuhoursd RPM has a $s scriptlet (sysusers / systemd_post / preun / postun_with_restart)" "$scripts"
done
rpm -qp --configfiles "$rpm_d" 2>/dev/null | grep -qx /etc/gpuhours/gpuhoursd.conf
ok $? "/etc/gpuhours/gpuhoursd.conf is %config"

# The witness: its own package, as the .deb (packaging/debian/gpuhours-witness.install).
! grep -q witness <<<"$files_d"
ok $? "gpuhoursd RPM holds nothing of the witness" "$(grep witness <<<"$files_d")"
files_w=$(rpm -qlp "$rpm_w" 2>/dev/null)
for f in /usr/sbin/gpuhours-witness /usr/lib/systemd/system/gpuhours-witness.service \
        /usr/lib/sysusers.d/gpuhours-witness.conf /etc/gpuhours/witness.conf; do
        grep -qx "$f" <<<"$files_w"
        ok $? "gpuhours-witness RPM holds $f" "$files_w"
done
grep -q '/usr/share/man/man8/gpuhours-witness.8' <<<"$files_w"
ok $? "gpuhours-witness RPM holds gpuhours-witness(8)"
rpm -qp --configfiles "$rpm_w" 2>/dev/null | grep -qx /etc/gpuhours/witness.conf
ok $? "/etc/gpuhours/witness.conf is %config"
scripts_w=$(rpm -qp --scripts "$rpm_w" 2>/dev/null)
for s in preinstall postinstall preuninstall postuninstall; do
        grep -q "^$s scriptlet" <<<"$scripts_w"
        ok $? "gpuhours-witness RPM has a $s scriptlet" "$scripts_w"
done
grep -q 'gpuhours-witness.service' <<<"$scripts_w"
ok $? "its scriptlets name gpuhours-witness.service" "$scripts_w"
scripts_c=$(rpm -qp --scripts "$rpm_c" 2>/dev/null)
grep -q '^postinstall scriptlet' <<<"$scripts_c" && grep -q 'gpuhours-check.timer' <<<"$scripts_c"
ok $? "gpuhours RPM's scriptlets name gpuhours-check.timer (systemd_post / preun / postun)" "$scripts_c"
finish
