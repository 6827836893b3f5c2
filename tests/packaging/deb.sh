#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the gpuhoursd, gpuhours and gpuhours-witness .deb packages with packaging/build-deb,
# runs lintian, installs them with dpkg on this machine, checks what they put
# in place, runs the installed daemon as the service user and verifies it
# with the installed client, then purges them and checks they are gone.
# Needs root; CI runs as root on a throwaway machine. Never runs twice at once
# (a lock), never touches a gpuhours installation it did not make.
set -u
export LC_ALL=C.UTF-8
src=${GH_SOURCE_ROOT:?run through meson test}
n=0
failed=0
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
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
finish() { echo "1..$n"; [ "$failed" -eq 0 ] && [ "$n" -gt 0 ]; exit $?; }

[ "$(id -u)" -eq 0 ] || skip_all "needs root to install packages with dpkg"
for tool in dpkg-buildpackage lintian flock runuser setpriv curl systemd-analyze; do
        command -v "$tool" >/dev/null 2>&1 || skip_all "$tool is not installed (run tools/deps)"
done

# One run at a time on this machine: the packages are system-wide.
exec 9>/run/lock/gpuhours-packaging-deb.lock
if ! flock -w 900 9; then
        ok 1 "another packaging-deb run holds /run/lock/gpuhours-packaging-deb.lock for > 15 min"
        finish
fi

marker=/var/lib/gpuhours-packaging-test.installed
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed\|config-files'; }
if [ -e "$marker" ]; then
        # A run of this test was killed before it cleaned up: finish its cleanup.
        dpkg --purge gpuhoursd gpuhours gpuhours-witness >/dev/null 2>&1
        [ "$(cat "$marker")" = created-user ] && userdel gpuhours 2>/dev/null
        getent passwd gpuhours-witness >/dev/null && userdel gpuhours-witness 2>/dev/null
        getent passwd gpuhours-check >/dev/null && userdel gpuhours-check 2>/dev/null
        rm -f "$marker"
fi
for p in gpuhoursd gpuhours gpuhours-witness; do
        installed "$p" && skip_all "package $p is already installed here; not touching an installation this test did not make"
done
user_existed=no
getent passwd gpuhours >/dev/null && user_existed=yes
for u in gpuhours-witness gpuhours-check; do
        getent passwd "$u" >/dev/null &&
                skip_all "user $u exists here; not touching an installation this test did not make"
done

tmp=$(mktemp -d /tmp/gh-deb.XXXXXX)
chmod 0755 "$tmp"
daemon_pid=""
cleanup() {
        [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
        if [ -e "$marker" ]; then
                dpkg --purge gpuhoursd gpuhours gpuhours-witness >/dev/null 2>&1
                [ "$user_existed" = no ] && userdel gpuhours 2>/dev/null
                userdel gpuhours-witness 2>/dev/null
                userdel gpuhours-check 2>/dev/null
                rm -f "$marker"
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- build
t0=$(date +%s)
out=$("$src/packaging/build-deb" "$tmp/out" 2>&1)
rc=$?
ok $rc "packaging/build-deb builds the packages ($(($(date +%s) - t0)) s)" "$out"
[ $rc -eq 0 ] || finish
deb_d=$(ls "$tmp"/out/gpuhoursd_*.deb 2>/dev/null | head -n 1)
deb_c=$(ls "$tmp"/out/gpuhours_*.deb 2>/dev/null | head -n 1)
deb_w=$(ls "$tmp"/out/gpuhours-witness_*.deb 2>/dev/null | head -n 1)
[ -n "$deb_d" ] && [ -n "$deb_c" ] && [ -n "$deb_w" ]
ok $? "the three binary packages exist: $(basename "${deb_d:-none}") $(basename "${deb_c:-none}") $(basename "${deb_w:-none}")" "$(ls -l "$tmp/out")"
[ -n "$deb_d" ] && [ -n "$deb_c" ] && [ -n "$deb_w" ] || finish
git -C "$src" status --porcelain --ignored=no 2>/dev/null | grep -q '^?? debian/\|^?? obj-'
ok $((1 - $?)) "the source tree stays clean (no debian/ or obj-* left at the root)"

contents_d=$(dpkg-deb -c "$deb_d")
contents_c=$(dpkg-deb -c "$deb_c")
contents_w=$(dpkg-deb -c "$deb_w")
for f in ./usr/sbin/gpuhoursd ./lib/systemd/system/gpuhoursd.service ./lib/systemd/system/gpuhoursd.socket \
        ./usr/lib/sysusers.d/gpuhours.conf ./etc/gpuhours/gpuhoursd.conf \
        ./usr/share/man/man8/gpuhoursd.8.gz ./usr/share/man/man5/gpuhoursd.conf.5.gz \
        ./usr/share/doc/gpuhoursd/examples/gpuhours-alerts.yml; do
        grep -q " $f\$" <<<"$contents_d"
        ok $? "gpuhoursd.deb contains $f"
done
for f in ./usr/bin/gpuhours ./usr/share/man/man1/gpuhours.1.gz ./usr/share/man/man1/gpuhours-check.1.gz \
        ./lib/systemd/system/gpuhours-check.service ./lib/systemd/system/gpuhours-check.timer \
        ./usr/share/gpuhours/gpuhours-check.rules.yml ./usr/lib/sysusers.d/gpuhours-check.conf; do
        grep -q " $f\$" <<<"$contents_c"
        ok $? "gpuhours.deb contains $f"
done
for f in ./usr/sbin/gpuhours-witness ./lib/systemd/system/gpuhours-witness.service \
        ./usr/lib/sysusers.d/gpuhours-witness.conf ./etc/gpuhours/witness.conf \
        ./usr/share/man/man8/gpuhours-witness.8.gz; do
        grep -q " $f\$" <<<"$contents_w"
        ok $? "gpuhours-witness.deb contains $f"
done
! grep -q witness <<<"$contents_d"
ok $? "the daemon package holds no witness file (a node does not need one)"
! grep -q 'gpuhoursd\|sysusers\|systemd' <<<"$(grep -v '/doc/\|/gpuhours-check\.\|/lib/systemd/\(system/\)\?$\|/lib/sysusers\.d/$' <<<"$contents_c")"
ok $? "the client package holds no daemon files"

lint=$(lintian --fail-on error --tag-display-limit 0 -I "$deb_d" "$deb_c" "$deb_w" 2>&1)
rc=$?
ok $rc "lintian: no errors ($(grep -c '^W: ' <<<"$lint") warnings)" "$lint"
grep '^[WIE]: ' <<<"$lint" | sed 's/^/# lintian: /'

# --- install
echo created-user >"$marker"
[ "$user_existed" = yes ] && echo kept-user >"$marker"
out=$(dpkg -i "$deb_d" "$deb_c" "$deb_w" 2>&1)
ok $? "dpkg -i installs the three packages" "$out"
installed gpuhoursd && installed gpuhours && installed gpuhours-witness
ok $? "dpkg reports the three installed"

IFS=: read -r _ _ uid gid _ home shell < <(getent passwd gpuhours)
[ -n "${uid:-}" ] && [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/gpuhours ] && getent group gpuhours >/dev/null
ok $? "system user and group gpuhours exist (uid ${uid:-none}, home ${home:-none}, shell ${shell:-none})"
case ${shell:-} in */nologin | */false) r=0 ;; *) r=1 ;; esac
ok $r "the gpuhours user cannot log in (shell ${shell:-none})"
IFS=: read -r _ _ wuid _ _ whome wshell < <(getent passwd gpuhours-witness)
[ -n "${wuid:-}" ] && [ "$wuid" -lt 1000 ] && [ "$wuid" != "$uid" ] && [ "$whome" = /var/lib/gpuhours-witness ]
ok $? "system user gpuhours-witness exists, not the node's (uid ${wuid:-none}, home ${whome:-none}, shell ${wshell:-none})"
IFS=: read -r _ _ cuid _ _ chome _ < <(getent passwd gpuhours-check)
[ -n "${cuid:-}" ] && [ "$cuid" -lt 1000 ] && [ "$cuid" != "$uid" ] && [ "$chome" = /var/lib/gpuhours-check ]
ok $? "system user gpuhours-check exists for gpuhours-check.service (uid ${cuid:-none}, home ${chome:-none})"
[ ! -e /etc/systemd/system/multi-user.target.wants/gpuhours-witness.service ] &&
        [ ! -e /etc/systemd/system/timers.target.wants/gpuhours-check.timer ]
ok $? "gpuhours-witness.service and gpuhours-check.timer are not enabled (they need configuration first)"

for f in /usr/sbin/gpuhoursd /usr/bin/gpuhours /lib/systemd/system/gpuhoursd.service \
        /lib/systemd/system/gpuhoursd.socket /usr/lib/sysusers.d/gpuhours.conf /etc/gpuhours/gpuhoursd.conf; do
        [ -e "$f" ]
        ok $? "installed: $f"
done
dpkg-query -W -f='${Conffiles}\n' gpuhoursd | grep -q '/etc/gpuhours/gpuhoursd.conf'
ok $? "/etc/gpuhours/gpuhoursd.conf is a conffile (kept across upgrades)"
for page in gpuhoursd.8 gpuhoursd.conf.5 gpuhours.1; do
        loc=$(man -w "${page##*.}" "${page%.*}" 2>&1)
        ok $? "man ${page##*.} ${page%.*} finds $loc"
done
[ -L /etc/systemd/system/multi-user.target.wants/gpuhoursd.service ]
ok $? "gpuhoursd.service is enabled (multi-user.target.wants)"
[ ! -e /etc/systemd/system/sockets.target.wants/gpuhoursd.socket ]
ok $? "gpuhoursd.socket is not enabled (optional)"
unit=/lib/systemd/system/gpuhoursd.service
grep -qx 'ExecStart=/usr/sbin/gpuhoursd --config /etc/gpuhours/gpuhoursd.conf' "$unit"
ok $? "installed unit: ExecStart=/usr/sbin/gpuhoursd --config /etc/gpuhours/gpuhoursd.conf"
out=$(systemd-analyze verify "$unit" /lib/systemd/system/gpuhoursd.socket 2>&1)
r=$?
[ $r -eq 0 ] && ! grep -q gpuhoursd <<<"$out"
ok $? "systemd-analyze verify on the installed units, man pages included" "$out"
out=$(systemd-analyze security --offline=yes --threshold=15 --no-pager "$unit" 2>&1)
ok $? "installed unit: $(grep -o 'Overall exposure level.*' <<<"$out")" "$(tail -n 20 <<<"$out")"

v=$(/usr/sbin/gpuhoursd --version 2>&1)
want=$(sed -n "s/^  version : '\([^']*\)',\$/\1/p" "$src/meson.build" | head -n 1)
[ "$v" = "gpuhoursd $want" ]
ok $? "gpuhoursd --version says 'gpuhoursd $want' ($v)"
v=$(/usr/bin/gpuhours --version 2>&1)
grep -q "$want" <<<"$v"
ok $? "gpuhours --version mentions $want ($v)"

# --- run the installed daemon as the service user, in a state directory made
# the way StateDirectory=gpuhours + StateDirectoryMode= + User= would make it.
mode=$(sed -n 's/^StateDirectoryMode=//p' "$unit")
umask_unit=$(sed -n 's/^UMask=//p' "$unit")
state="$tmp/var/lib/gpuhours"
install -d -m 0755 "$tmp/var" "$tmp/var/lib"
install -d -o gpuhours -g gpuhours -m "${mode:-0755}" "$state"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# setpriv execs the daemon as gpuhours (as systemd does), so $! is the daemon
# itself; runuser would stay in between as a root parent.
(umask "${umask_unit:-0022}" && exec setpriv --reuid=gpuhours --regid=gpuhours --init-groups -- \
        /usr/sbin/gpuhoursd --backend sim --state-dir "$state" --listen "127.0.0.1:$port" \
        --period 1 --sample-interval 0.1 --sim-gpus 2) >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
size=0
for _ in $(seq 1 200); do
        cp=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/checkpoint" 2>/dev/null) && size=$(sed -n 2p <<<"$cp")
        [ "${size:-0}" -ge 3 ] 2>/dev/null && break
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
done
[ "${size:-0}" -ge 3 ] 2>/dev/null
ok $? "the installed daemon runs as gpuhours and signs records (tree size ${size:-0})" "$(tail -n 20 "$tmp/daemon.log")"
owner=$(stat -c '%U:%G %a' "$state/node.key" 2>&1)
[ "$owner" = "gpuhours:gpuhours 600" ]
ok $? "node.key belongs to gpuhours, mode 0600 ($owner)"
others=$(find "$state" -perm /o+rwx -printf '%p %m\n' 2>&1)
[ -z "$others" ]
ok $? "nothing in the state dir is accessible to others (UMask=$umask_unit)" "$others"
ps_user=$(ps -o user= -p "$daemon_pid" 2>/dev/null | tr -d ' ')
[ "$ps_user" = gpuhours ]
ok $? "the daemon process runs as user gpuhours ($ps_user)"

vkey=$(runuser -u gpuhours -- /usr/sbin/gpuhoursd --state-dir "$state" --print-key 2>&1)
ok $? "gpuhoursd --print-key as gpuhours: $vkey"
export XDG_CONFIG_HOME="$tmp/xdg-config" XDG_STATE_HOME="$tmp/xdg-state"
out=$(/usr/bin/gpuhours verify --key "$vkey" --no-state "http://127.0.0.1:$port" 2>&1)
rc=$?
[ $rc -le 1 ] && grep -q VERIFIED <<<"$out"
ok $? "the installed client verifies the installed daemon (exit $rc)" "$out"
# Another key under the same name (a fresh state dir): the signature must not verify.
other=$(/usr/sbin/gpuhoursd --state-dir "$tmp/other-key" --print-key 2>&1)
out=$(/usr/bin/gpuhours verify --key "$other" --no-state "http://127.0.0.1:$port" 2>&1)
rc=$?
[ "${other%%+*}" = "${vkey%%+*}" ] && [ "$other" != "$vkey" ] && [ $rc -eq 2 ]
ok $? "...and fails it with another key of the same name (exit $rc)" "$other
$out"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=""
ok $rc "the installed daemon exits 0 on SIGTERM" "$(tail -n 20 "$tmp/daemon.log")"

# --- purge
out=$(dpkg --purge gpuhoursd gpuhours gpuhours-witness 2>&1)
ok $? "dpkg --purge removes the three packages" "$out"
! installed gpuhoursd && ! installed gpuhours && ! installed gpuhours-witness &&
        ! dpkg-query -W gpuhoursd gpuhours gpuhours-witness >/dev/null 2>&1
ok $? "dpkg no longer knows any of them"
left=""
for f in /usr/sbin/gpuhoursd /usr/bin/gpuhours /lib/systemd/system/gpuhoursd.service \
        /lib/systemd/system/gpuhoursd.socket /usr/lib/sysusers.d/gpuhours.conf /etc/gpuhours \
        /usr/share/man/man8/gpuhoursd.8.gz /usr/share/man/man5/gpuhoursd.conf.5.gz \
        /usr/share/man/man1/gpuhours.1.gz /etc/systemd/system/multi-user.target.wants/gpuhoursd.service \
        /usr/sbin/gpuhours-witness /lib/systemd/system/gpuhours-witness.service \
        /usr/lib/sysusers.d/gpuhours-witness.conf /usr/share/man/man8/gpuhours-witness.8.gz \
        /lib/systemd/system/gpuhours-check.timer; do
        [ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
[ -z "$left" ]
ok $? "purge leaves no file behind (config and enable links included)" "left:$left"
if [ "$user_existed" = no ]; then
        userdel gpuhours 2>/dev/null
        ! getent passwd gpuhours >/dev/null
        ok $? "the gpuhours user this test created is removed (Debian keeps system users on purge)"
fi
userdel gpuhours-witness 2>/dev/null
userdel gpuhours-check 2>/dev/null
rm -f "$marker"
finish
