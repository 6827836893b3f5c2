#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the booted test container (tests/systemd/nspawn.sh) as the
# oneshot unit gh-test.service, as root, without $HOME (systemd sets none for
# a system service without User=). Writes "ok - ..." / "not ok - ..." lines
# and "# ..." comments to /gh-out/tap, the journal to /gh-out/journal and
# "done" to /gh-out/status at its end. The container powers off when this
# unit finishes (SuccessAction=/FailureAction=).
set -u
export LC_ALL=C.UTF-8 SYSTEMD_PAGER='' SYSTEMD_COLORS=0
tap=/gh-out/tap
: >"$tap"
url=http://127.0.0.1:9477
conf=/etc/gpuhours/gpuhoursd.conf
t_start=$(date +%s)

ok() { # ok COND-RC MESSAGE [DIAG]
        if [ "$1" -eq 0 ]; then
                echo "ok - $2" >>"$tap"
        else
                echo "not ok - $2" >>"$tap"
                [ -n "${3:-}" ] && printf '%s\n' "$3" | head -n 40 | sed 's/^/# /' >>"$tap"
        fi
}
note() { echo "# $*" >>"$tap"; }
prop() { systemctl show -p "$2" --value "$1"; }
# poll CMD... for up to $timeout seconds (default 60), every 0.2 s
poll() {
        local end=$(($(date +%s) + ${timeout:-60}))
        while [ "$(date +%s)" -lt "$end" ]; do
                "$@" && return 0
                sleep 0.2
        done
        return 1
}
is_active() { [ "$(systemctl is-active "${1:-gpuhoursd.service}")" = active ]; }
tree_size() { curl -fsS --max-time 2 "$url/checkpoint" 2>/dev/null | sed -n 2p; }
size_at_least() { local s; s=$(tree_size); [ -n "$s" ] && [ "$s" -ge "$1" ]; }
pid_changed() { local p; p=$(prop gpuhoursd MainPID); [ "$p" != 0 ] && [ "$p" != "$1" ] && is_active; }
# journal lines of gpuhoursd since the time in file $1 (all of this boot
# without one). Not --after-cursor: with -u or -p, systemd 252's journalctl
# skips the first matching entry when the cursor's own entry does not match.
journal_since() {
        if [ -n "${1:-}" ]; then
                journalctl -q -u gpuhoursd --since="@$(cat "$1")" -o cat "${@:2}"
        else
                journalctl -q -b -u gpuhoursd -o cat "${@:2}"
        fi
}
mark() { date +%s.%6N >"$1"; }
phase() { note "--- $1 (at $(($(date +%s) - t_start)) s)"; }

# --- 1. start at boot, READY=1, STATUS=
phase "boot"
timeout=60 poll is_active
ok $? "gpuhoursd.service is active after boot (Type=notify: READY=1 was sent)" "$(systemctl status gpuhoursd 2>&1)"
st=$(prop gpuhoursd StatusText)
[[ $st == records*sampler* ]]
ok $? "STATUS= is shown by systemd: '$st'"
pid=$(prop gpuhoursd MainPID)
user=$(stat -c %U "/proc/$pid" 2>&1)
[ "$user" = gpuhours ]
ok $? "the main process ($pid) runs as user gpuhours ($user)"
timeout=30 poll size_at_least 3
ok $? "GET /checkpoint: a signed checkpoint of $(tree_size) records"
h=$(curl -sS --max-time 5 "$url/healthz" 2>&1)
[ "$h" = ok ]
ok $? "GET /healthz says ok ($h)"

lines=$(journal_since "" -p info..info)
warns=$(journal_since "" -p warning..warning)
grep -q "^created a NEW node key (created now in /var/lib/gpuhours/node.key): this is a new identity for 'gh-node/gpuhours'" <<<"$warns" &&
        grep -q "^http: listening on \[::\]:9477" <<<"$lines" && grep -q "^started: sampling 2 sim" <<<"$lines"
ok $? "journal: start-up lines at priority info (6), the new key at first start a warning (4)" "$lines
$warns"
starts=$(grep -c "^started:" <<<"$lines")
listens=$(grep -c "listening on" <<<"$lines")
[ "$starts" -eq 1 ] && [ "$listens" -eq 1 ]
ok $? "journal: one 'started' and one 'listening on' line for one start ($starts, $listens)"
errs=$(journal_since "" -p err)
[ -z "$errs" ]
ok $? "journal: nothing at priority err or above while running normally" "$errs"
# (the unit's own lines and systemd's about it; the kernel's audit lines for it)
denials=$( (journalctl -q -b -u gpuhoursd -o cat; journalctl -q -b -k -o cat | grep gpuhoursd) |
        grep -i 'SIGSYS\|status=31\|Operation not permitted\|Permission denied\|EPERM\|seccomp')
[ -z "$denials" ]
ok $? "no sandbox denial (SIGSYS, EPERM) in the journal" "$denials"

sec=$(systemd-analyze security --no-pager gpuhoursd.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for gpuhoursd.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$score" ] && [ "$(awk -v s="$score" 'BEGIN { print (s <= 1.5) }')" = 1 ]
ok $? "systemd-analyze security (online, the running unit): $score <= 1.5" "$(tail -n 30 <<<"$sec")"

vkey=$(runuser -u gpuhours -- /usr/sbin/gpuhoursd --config "$conf" --print-key 2>&1)
ok $? "gpuhoursd --print-key as gpuhours: $vkey"
[ -z "${HOME+x}" ]
ok $? "HOME is unset in this unit (as in any system service)"
verify() { gpuhours verify --key "$vkey" --no-state --json "$url" 2>&1; }
out=$(verify)
rc=$?
[ $rc -le 1 ] && grep -q '"status": "ok"' <<<"$out"
ok $? "gpuhours verify --key K --no-state without HOME: exit $rc" "$out"

# --- 2. IPAddressDeny= is enforced (cgroup v2 BPF): a drop-in allowing only
# 10.0.0.0/8 must make a loopback request fail; removing it restores access.
phase "IPAddressAllow"
mkdir -p /run/systemd/system/gpuhoursd.service.d
printf '[Service]\nIPAddressAllow=\nIPAddressAllow=10.0.0.0/8\n' \
        >/run/systemd/system/gpuhoursd.service.d/narrow.conf
systemctl daemon-reload
systemctl restart gpuhoursd.service
timeout=30 poll is_active
allow=$(prop gpuhoursd IPAddressAllow)
r=$(curl -sS --max-time 3 "$url/healthz" 2>&1)
rc=$?
[ $rc -ne 0 ]
ok $? "IPAddressAllow=10.0.0.0/8 only: a loopback request fails (curl exit $rc: $r; allow=$allow)"
rm -f /run/systemd/system/gpuhoursd.service.d/narrow.conf
systemctl daemon-reload
systemctl restart gpuhoursd.service
timeout=30 poll is_active
timeout=20 poll curl -fsS --max-time 2 -o /dev/null "$url/healthz"
ok $? "without the drop-in the same request succeeds again"

# --- 3. kill -9: restarted by Restart=on-failure, RESTART_UNCLEAN in the ledger
phase "kill -9"
timeout=30 poll size_at_least 1
before=$(tree_size)
pid=$(prop gpuhoursd MainPID)
nr0=$(prop gpuhoursd NRestarts)
kill -KILL "$pid"
timeout=60 poll pid_changed "$pid"
ok $? "kill -9 $pid: restarted (NRestarts $nr0 -> $(prop gpuhoursd NRestarts), new pid $(prop gpuhoursd MainPID))"
timeout=30 poll size_at_least $((before + 2))
out=$(verify)
rc=$?
[ $rc -eq 1 ] && grep -q RESTART_UNCLEAN <<<"$out"
ok $? "gpuhours verify reports RESTART_UNCLEAN after kill -9 (exit $rc)" "$out"

# --- 4. SIGSTOP: the watchdog (WatchdogSec=, shortened by the test drop-in)
# kills the stopped process and systemd restarts it.
phase "SIGSTOP"
pid=$(prop gpuhoursd MainPID)
wd=$(prop gpuhoursd WatchdogUSec)
mark /run/gh-cursor
t0=$(date +%s)
kill -STOP "$pid"
timeout=90 poll pid_changed "$pid"
r=$?
ok $r "SIGSTOP $pid: restarted by the watchdog ($wd) after $(($(date +%s) - t0)) s"
wlog=$(journal_since /run/gh-cursor | grep -i watchdog)
[ -n "$wlog" ]
ok $? "journal: systemd names the watchdog timeout ($(head -n 1 <<<"$wlog"))"

# --- 5. clean stop/start: RESTART_CLEAN, no new RESTART_UNCLEAN
phase "clean restart"
timeout=30 poll size_at_least 1
before=$(tree_size)
unclean0=$(verify | grep -o RESTART_UNCLEAN | wc -l)
systemctl stop gpuhoursd.service
res=$(prop gpuhoursd Result)
[ "$res" = success ] && [ "$(systemctl is-active gpuhoursd)" = inactive ]
ok $? "systemctl stop: inactive, Result=$res (exit 0 after SIGTERM)"
systemctl start gpuhoursd.service
timeout=30 poll is_active
timeout=30 poll size_at_least $((before + 3))
out=$(verify)
unclean1=$(grep -o RESTART_UNCLEAN <<<"$out" | wc -l)
grep -q RESTART_CLEAN <<<"$out" && [ "$unclean1" -eq "$unclean0" ]
ok $? "gpuhours verify: RESTART_CLEAN after stop/start, RESTART_UNCLEAN still $unclean1" "$out"

# --- 6. socket activation, with the commands of README and gpuhoursd(8)
phase "socket activation"
out=$( (systemctl stop gpuhoursd.service && systemctl enable --now gpuhoursd.socket &&
        systemctl start gpuhoursd.service) 2>&1)
ok $? "stop service; enable --now gpuhoursd.socket; start service" "$out"
timeout=30 poll is_active
is_active gpuhoursd.socket
ok $? "gpuhoursd.socket is active and gpuhoursd.service $(systemctl is-active gpuhoursd)"
mark /run/gh-cursor
systemctl restart gpuhoursd.service
timeout=30 poll is_active
lines=$(journal_since /run/gh-cursor)
grep -q "HTTP on the socket passed by systemd" <<<"$lines"
ok $? "the service uses the socket passed by systemd" "$lines"
timeout=20 poll curl -fsS --max-time 2 -o /dev/null "$url/healthz"
ok $? "GET /healthz through the socket unit"
# While the service is down the socket stays open: a request waits in the
# backlog and is answered once the service is back.
systemctl kill -s KILL gpuhoursd.service
r=$(curl -sS --max-time 30 "$url/healthz" 2>&1)
[ "$r" = ok ]
ok $? "a request made while the service is being restarted is answered ($r)"

# --- 7. the NVML default without a GPU: fails clearly, does not loop
phase "NVML without a GPU"
systemctl stop gpuhoursd.socket gpuhoursd.service
systemctl disable gpuhoursd.socket >/dev/null 2>&1
size0=$(stat -c %s /var/lib/gpuhours/records)
mv /etc/systemd/system/gpuhoursd.service.d/sim.conf /run/gh-sim.conf
systemctl daemon-reload
mark /run/gh-cursor
systemctl reset-failed gpuhoursd.service 2>/dev/null
systemctl start gpuhoursd.service
not_activating() { local s; s=$(systemctl is-active gpuhoursd); [ "$s" = failed ] || [ "$s" = inactive ]; }
timeout=30 poll not_activating
sleep 12 # RestartSec=5s: a restart loop would have started again by now
state=$(systemctl is-active gpuhoursd)
nr=$(prop gpuhoursd NRestarts)
code=$(prop gpuhoursd ExecMainStatus)
[ "$state" = failed ] && [ "$nr" -eq 0 ]
ok $? "backend nvml without libnvidia-ml: $state, exit status $code, no restart (NRestarts=$nr)" "$(systemctl status gpuhoursd 2>&1)"
lines=$(journal_since /run/gh-cursor -p err)
grep -q "NVML (libnvidia-ml.so.1) not found" <<<"$lines" && grep -q "systemd will not restart" <<<"$lines"
ok $? "journal (priority err) says why and that it is not restarted" "$lines
--- all:
$(journal_since /run/gh-cursor)"
grep 'NVML\|not restart' <<<"$lines" | sed 's/^/# /' >>"$tap"
st=$(prop gpuhoursd StatusText)
note "StatusText after the failure: '$st'"
nstart=$(journal_since /run/gh-cursor | grep -c "^signing as")
[ "$nstart" -eq 1 ]
ok $? "one start attempt in the journal ($nstart)"
size1=$(stat -c %s /var/lib/gpuhours/records)
[ -n "$size0" ] && [ "$size0" = "$size1" ]
ok $? "no record (START or other) was added to the ledger (records file $size0 -> $size1 bytes)"
mv /run/gh-sim.conf /etc/systemd/system/gpuhoursd.service.d/sim.conf
systemctl daemon-reload

# --- 8. purge: nothing keeps listening
phase "purge"
# gpuhoursd(8)'s sequence (the service is stopped here)
out=$( (systemctl enable gpuhoursd.socket && systemctl start gpuhoursd.socket gpuhoursd.service) 2>&1)
ok $? "enable gpuhoursd.socket; start gpuhoursd.socket gpuhoursd.service (with the sim drop-in)" "$out"
timeout=30 poll is_active
# a socket in state LISTEN (0A) on local port 9477 (0x2505), IPv4 or IPv6
listening() { awk '$2 ~ /:2505$/ && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6; }
listening
ok $? "port 9477 listens before the purge" "$(systemctl status gpuhoursd.socket gpuhoursd.service 2>&1)
$(cat /proc/net/tcp6 /proc/net/tcp)"
out=$(DEBIAN_FRONTEND=noninteractive apt-get purge -y -q gpuhoursd 2>&1)
ok $? "apt-get purge gpuhoursd" "$out"
sleep 1
! listening
ok $? "after the purge nothing listens on 9477 ($(systemctl is-active gpuhoursd.socket gpuhoursd.service | tr '\n' ' '))" \
        "$(cat /proc/net/tcp6 /proc/net/tcp)"
[ ! -e /lib/systemd/system/gpuhoursd.service ] && [ ! -e /etc/gpuhours/gpuhoursd.conf ]
ok $? "units and configuration removed"
left=$(systemctl list-units --all --no-legend 'gpuhoursd*' 2>&1 | grep -v 'not-found.*inactive')
[ -z "$left" ]
ok $? "systemd has no gpuhoursd unit loaded" "$left"

note "inside.sh took $(($(date +%s) - t_start)) s"
journalctl -q -b --no-pager -o short-monotonic >/gh-out/journal 2>&1
echo "done" >/gh-out/status
