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

# DevicePolicy=closed + DeviceAllow=char-nvidia* is enforced (cgroup v2 BPF
# device program): a process moved into the service's cgroup cannot open
# /dev/net/tun (a char device nspawn provides), which the test unit can.
phase "DeviceAllow"
open_tun='exec 3<>/dev/net/tun'
out=$(sh -c "$open_tun" 2>&1)
ok $? "control: the test unit opens /dev/net/tun" "$out"
cg=/sys/fs/cgroup$(prop gpuhoursd ControlGroup)
out=$(sh -c "echo \$\$ >'$cg/cgroup.procs' || { echo 'cannot join the cgroup'; exit 99; }
        $open_tun" 2>&1)
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 99 ] && grep -q 'Operation not permitted' <<<"$out"
ok $? "in gpuhoursd.service's cgroup ($cg) opening /dev/net/tun is refused: $out"

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

# --- 6b. gpuhours-witness (package gpuhours-witness) under systemd, and
# gpuhoursd pushing its checkpoints to it
phase "witness"
wurl=http://127.0.0.1:8420
wname=witness.example.org/gpuhours-1 # the packaged witness.conf
wlogs=/etc/gpuhours/witness-logs
wstate=/var/lib/gpuhours-witness
policy=/etc/gpuhours/witnesses
is_enabled_w=$(systemctl is-enabled gpuhours-witness.service 2>&1)
[ "$is_enabled_w" = disabled ]
ok $? "gpuhours-witness.service is installed and not enabled by the package ($is_enabled_w)"
# A log list with one other log at first; the node's log is added on SIGHUP.
other=$(/usr/sbin/gpuhoursd --state-dir /run/gh-other --origin other.example/gpuhours --print-key 2>&1)
printf 'logs/v0\nvkey %s\nqpd 288\ncontact ops@other.example\n' "$other" >"$wlogs"
mark /run/gh-cursor
out=$(systemctl enable --now gpuhours-witness.service 2>&1)
ok $? "systemctl enable --now gpuhours-witness.service" "$out"
timeout=30 poll is_active gpuhours-witness.service
ok $? "gpuhours-witness.service is active" "$(systemctl status gpuhours-witness 2>&1)"
wjournal() { journalctl -q -u gpuhours-witness --since="@$(cat /run/gh-cursor)" -o cat "$@"; }
# (Type=simple is active at the fork; the witness is up once it says it listens)
timeout=10 poll sh -c "journalctl -q -u gpuhours-witness -o cat | grep -q 'listening on 127.0.0.1:8420'"
ok $? "journal: the witness listens on 127.0.0.1:8420" "$(wjournal)"
wpid=$(prop gpuhours-witness MainPID)
wuser=$(stat -c %U "/proc/$wpid" 2>&1)
[ "$wuser" = gpuhours-witness ]
ok $? "the witness ($wpid) runs as its own user gpuhours-witness ($wuser)"
lines=$(wjournal -p info)
grep -q "^witnessing 1 logs (1 new from '$wlogs')" <<<"$lines"
ok $? "journal: the witness reads its log list (1 log)" "$lines"
wvkey=$(runuser -u gpuhours-witness -- /usr/sbin/gpuhours-witness --config /etc/gpuhours/witness.conf \
        --state-dir "$wstate" --print-key 2>&1)
[[ $wvkey == "$wname+"* ]]
ok $? "gpuhours-witness --print-key as its user: $wvkey"
sec=$(systemd-analyze security --no-pager gpuhours-witness.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for gpuhours-witness.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$score" ] && [ "$(awk -v s="$score" 'BEGIN { print (s <= 1.5) }')" = 1 ]
ok $? "systemd-analyze security gpuhours-witness.service (online): $score <= 1.5" "$(tail -n 30 <<<"$sec")"

# SIGHUP (systemctl reload: ExecReload=) re-reads the log list: add the node.
printf '\nvkey %s\nqpd 43200\ncontact ops@gh-node\n' "$vkey" >>"$wlogs"
systemctl reload gpuhours-witness.service
reloaded() { wjournal -p info | grep -q "^witnessing 2 logs (1 new from '$wlogs')"; }
timeout=10 poll reloaded
ok $? "systemctl reload: the witness re-read its log list (2 logs, 1 new), same pid $(prop gpuhours-witness MainPID)" "$(wjournal)"
[ "$(prop gpuhours-witness MainPID)" = "$wpid" ]
ok $? "reload did not restart the witness"

# The node pushes to it: the config key witnesses names a tlog-policy file.
printf 'witness gh-w1 %s %s\nquorum gh-w1\n' "$wvkey" "$wurl" >"$policy"
cp "$conf" /run/gh-gpuhoursd.conf
printf '\nwitnesses = %s\n' "$policy" >>"$conf"
mark /run/gh-cursor
systemctl restart gpuhoursd.service
timeout=30 poll is_active
cosigned() { curl -fsS --max-time 2 "$url/checkpoint" 2>/dev/null | grep -q "^— $wname "; }
t0=$(date +%s)
timeout=30 poll cosigned
ok $? "GET /checkpoint carries a cosignature line of $wname ($(($(date +%s) - t0)) s after the restart)" \
        "$(curl -sS --max-time 2 "$url/checkpoint" 2>&1)
$(journal_since /run/gh-cursor)
--- witness:
$(wjournal)"
status_says_ok() { st=$(prop gpuhoursd StatusText); [[ $st == *"witnesses 1/1 ok"* ]]; }
timeout=15 poll status_says_ok
ok $? "STATUS= names the witness push: '$st'"
wverify() { gpuhours verify --key "$vkey" --no-state --witnesses "$1" "$url" 2>&1; }
quorum_ok() { out=$(wverify "$policy"); rc=$?; [ $rc -le 1 ] && grep -q WITNESSED <<<"$out" && ! grep -q WITNESS_QUORUM <<<"$out"; }
timeout=20 poll quorum_ok
ok $? "gpuhours verify --witnesses (quorum gh-w1) passes and reports WITNESSED (exit $rc)" "$out"
# Control: a quorum that needs a witness which never cosigned must fail.
printf 'witness gh-w1 %s %s\nwitness gh-w2 %s\ngroup both all gh-w1 gh-w2\nquorum both\n' \
        "$wvkey" "$wurl" "$(/usr/sbin/gpuhours-witness --state-dir /run/gh-w2 --name absent.example/w2 --print-key 2>/dev/null)" \
        >/run/gh-policy-2
out=$(wverify /run/gh-policy-2)
rc=$?
[ $rc -eq 2 ] && grep -q WITNESS_QUORUM <<<"$out"
ok $? "gpuhours verify with a quorum that also needs an absent witness: WITNESS_QUORUM, exit $rc" "$out"
denials=$( (journalctl -q -b -u gpuhours-witness -o cat; journalctl -q -b -u gpuhoursd -o cat --since="@$(cat /run/gh-cursor)";
        journalctl -q -b -k -o cat | grep 'gpuhours-witnes') |
        grep -i 'SIGSYS\|status=31\|Operation not permitted\|Permission denied\|EPERM\|seccomp')
[ -z "$denials" ]
ok $? "no sandbox denial (SIGSYS, EPERM) of the witness or the pushing daemon in the journal" "$denials"
errs=$(journalctl -q -b -u gpuhours-witness -o cat -p err)
[ -z "$errs" ]
ok $? "journal of the witness: nothing at priority err or above" "$errs"
# kill -9: Restart=on-failure brings it back, with its state.
hex=$(printf '%s' gh-node/gpuhours | sha256sum | cut -c 1-64)
latest() { curl -fsS --max-time 2 "$wurl/$hex/checkpoint" 2>/dev/null | sed -n 2p; }
s0=$(latest)
nr0=$(prop gpuhours-witness NRestarts)
kill -KILL "$wpid"
wpid_changed() { local p; p=$(prop gpuhours-witness MainPID); [ "$p" != 0 ] && [ "$p" != "$wpid" ] && is_active gpuhours-witness.service; }
timeout=30 poll wpid_changed
ok $? "kill -9 of the witness ($wpid): restarted (NRestarts $nr0 -> $(prop gpuhours-witness NRestarts))" \
        "$(systemctl status gpuhours-witness 2>&1)"
timeout=10 poll sh -c "curl -fsS --max-time 2 -o /dev/null '$wurl/$hex/checkpoint'"
s1=$(latest)
[ -n "$s0" ] && [ -n "$s1" ] && [ "$s1" -ge "$s0" ]
ok $? "the restarted witness still serves its latest cosigned checkpoint (size ${s0:-none} before, ${s1:-none} after)"
s0=$s1
grows() { local s; s=$(latest); [ -n "$s" ] && [ -n "$s0" ] && [ "$s" -gt "$s0" ]; }
timeout=30 poll grows
ok $? "after the restart the witness cosigns newer checkpoints (size ${s0:-none} -> $(latest))"
# the node without witnesses again for the rest
cp /run/gh-gpuhoursd.conf "$conf"
systemctl restart gpuhoursd.service
timeout=30 poll is_active

# --- 6c. gpuhours-check.service + .timer (package gpuhours): the auditor's
# unattended check against this node, and its OnFailure= alarm
phase "gpuhours-check"
cdir=/etc/gpuhours-check
prom=/var/lib/gpuhours-check/gpuhours-check.prom
mkdir -p "$cdir"
printf '%s %s\n' "$url" "$vkey" >"$cdir/fleet"
# The alarm hook of gpuhours-check(1): a drop-in with OnFailure= and the
# site's own unit (here one that records its instance name).
mkdir -p /etc/systemd/system/gpuhours-check.service.d
# Also (for this test) what systemd saw at the end of each run: an inactive
# unit is unloaded after a success, so ExecMainStatus= reads 0 by then.
printf '[Unit]\nOnFailure=gh-notify@%%n.service\n[Service]\nExecStopPost=+/bin/sh -c %s\n' \
        "'echo \"\$\$SERVICE_RESULT \$\$EXIT_CODE \$\$EXIT_STATUS\" >/run/gh-check-exit'" \
        >/etc/systemd/system/gpuhours-check.service.d/alarm.conf
printf '[Service]\nType=oneshot\nExecStart=/bin/sh -c "echo %%i >>/run/gh-notified"\n' \
        >/etc/systemd/system/gh-notify@.service
systemctl daemon-reload
rm -f /run/gh-notified
# run_check NAME RULE...: one run of the unit with these rules; copies the
# metrics file to /gh-out/NAME.prom (promtool checks it on the host).
run_check() {
        local name=$1
        shift
        printf '%s\n' "$@" >"$cdir/rules"
        rm -f "$prom" /run/gh-check-exit
        systemctl reset-failed gpuhours-check.service 2>/dev/null
        systemctl start gpuhours-check.service 2>/dev/null
        local r code
        read -r r code c_status </run/gh-check-exit
        c_result=$r
        note "$name: ExecStopPost= saw SERVICE_RESULT=$r EXIT_CODE=$code EXIT_STATUS=$c_status"
        c_owner=$(stat -L -c %u "$prom" 2>/dev/null)
        cp "$prom" "/gh-out/$name.prom" 2>/dev/null
        c_log=$(journalctl -q -u gpuhours-check -n 30 -o cat 2>&1)
        note "$name: metrics $(grep '^gpuhours_check_exit_code' "$prom" 2>&1)"
}
timeout=30 poll size_at_least 3
run_check check-pass "cap gpu-hours 1000"
[ "$c_status" = 0 ] && [ "$c_result" = success ]
ok $? "PASS rules: gpuhours-check.service exits ${c_status:-none}, Result=$c_result" "$c_log"
# User=gpuhours-check: the file it wrote is that user's, and others may read
# it (node_exporter's textfile collector runs as another user).
c_uid=$(id -u gpuhours-check 2>/dev/null)
perm=$(stat -c %a "$prom" 2>/dev/null)
[ -n "$c_owner" ] && [ "$c_owner" = "$c_uid" ] && [ "$c_owner" != 0 ] && [ "$perm" = 644 ] &&
        runuser -u nobody -- cat "$prom" >/dev/null
ok $? "the check ran as user gpuhours-check (uid ${c_uid:-none}): it owns the metrics file (uid ${c_owner:-none}, mode ${perm:-none}), which user nobody can read" \
        "$(ls -l "$prom" 2>&1)"
grep -q '^gpuhours_check_verdict{.*} 0$' "$prom" && grep -q '^gpuhours_check_exit_code 0$' "$prom" &&
        grep -q '^gpuhours_check_source_up{.*} 1$' "$prom"
ok $? "the metrics file at $prom: verdict PASS (0), exit_code 0, source up" "$(cat "$prom" 2>&1)"
until=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
run_check check-unknown "pause -1m $until"
[ "$c_status" = 1 ] && [ "$c_result" = success ] && grep -q '^gpuhours_check_verdict{.*} 1$' "$prom"
ok $? "UNKNOWN rules (a pause reaching into the future): exit ${c_status:-none}, Result=$c_result: success for systemd" \
        "$c_log
$(cat "$prom" 2>&1)"
[ ! -e /run/gh-notified ]
ok $? "no OnFailure= alarm for UNKNOWN"
# FAIL: the GPUs work (sim load 100 %) for a few seconds: more than the cap.
sim=/var/lib/gpuhours/sim
echo 100 >"$sim/load.tmp" && mv "$sim/load.tmp" "$sim/load"
sleep 7
echo 0 >"$sim/load.tmp" && mv "$sim/load.tmp" "$sim/load"
sleep 3
run_check check-fail "cap gpu-hours 0.001"
[ "$c_status" = 2 ] && [ "$c_result" = exit-code ] && grep -q '^gpuhours_check_verdict{.*} 2$' "$prom"
ok $? "FAIL rules (2 GPUs busy 7 s > 0.001 GPU-hours): exit ${c_status:-none}, Result=$c_result, unit failed" \
        "$c_log
$(cat "$prom" 2>&1)"
timeout=20 poll test -s /run/gh-notified
notified=$(cat /run/gh-notified 2>/dev/null)
[ "$notified" = gpuhours-check.service ]
ok $? "the OnFailure= hook ran for the FAIL (gh-notify@${notified:-none})" \
        "$(systemctl status 'gh-notify@*' 2>&1)"
sec=$(systemd-analyze security --no-pager gpuhours-check.service 2>&1)
score=$(sed -n 's/.*Overall exposure level for gpuhours-check.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$score" ] && [ "$(awk -v s="$score" 'BEGIN { print (s <= 1.5) }')" = 1 ]
ok $? "systemd-analyze security gpuhours-check.service: $score <= 1.5" "$(grep '✗' <<<"$sec" | head -n 30)"
denials=$(journalctl -q -b -u gpuhours-check -o cat |
        grep -i 'SIGSYS\|status=31\|Operation not permitted\|Permission denied\|EPERM\|seccomp')
[ -z "$denials" ]
ok $? "no sandbox denial (SIGSYS, EPERM) of gpuhours-check in the journal" "$denials"
rm /etc/systemd/system/gpuhours-check.service.d/alarm.conf
systemctl daemon-reload
# The timer, enabled as gpuhours-check(1) says: every 15 minutes.
out=$(systemctl enable --now gpuhours-check.timer 2>&1)
ok $? "systemctl enable --now gpuhours-check.timer" "$out"
cal=$(prop gpuhours-check.timer TimersCalendar)
next=$(prop gpuhours-check.timer NextElapseUSecRealtime)
next_s=$(date -d "$next" +%s 2>/dev/null)
now_s=$(date +%s)
[ "$(systemctl is-enabled gpuhours-check.timer)" = enabled ] && is_active gpuhours-check.timer &&
        [[ $cal == *"OnCalendar=*-*-* *:00/15:00"* ]] &&
        [ -n "$next_s" ] && [ "$next_s" -gt "$now_s" ] && [ "$next_s" -le $((now_s + 15 * 60 + 31)) ]
ok $? "the timer is enabled and active, every 15 min ($cal), next run within 15.5 min ($next)"
lt=$(systemctl list-timers --no-pager gpuhours-check.timer 2>&1)
grep -q 'gpuhours-check.timer *gpuhours-check.service' <<<"$lt"
ok $? "systemctl list-timers shows gpuhours-check.timer -> gpuhours-check.service" "$lt"
grep 'gpuhours-check' <<<"$lt" | sed 's/^/# /' >>"$tap"

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
# the witness package, its service running and enabled
wlistening() { awk '$2 ~ /:20E4$/ && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6; }
wlistening && is_active gpuhours-witness.service
ok $? "the witness listens on 8420 before its purge"
out=$(DEBIAN_FRONTEND=noninteractive apt-get purge -y -q gpuhours-witness 2>&1)
ok $? "apt-get purge gpuhours-witness" "$out"
sleep 1
! wlistening && [ "$(systemctl is-active gpuhours-witness.service)" != active ]
ok $? "after the purge the witness is stopped and nothing listens on 8420" "$(cat /proc/net/tcp)"
[ ! -e /lib/systemd/system/gpuhours-witness.service ] && [ ! -e /etc/gpuhours/witness.conf ] &&
        [ ! -e /etc/systemd/system/multi-user.target.wants/gpuhours-witness.service ]
ok $? "the witness's unit, configuration and enablement link are removed"
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

# the client package, its timer enabled
out=$(DEBIAN_FRONTEND=noninteractive apt-get purge -y -q gpuhours 2>&1)
ok $? "apt-get purge gpuhours" "$out"
[ ! -e /lib/systemd/system/gpuhours-check.timer ] && [ ! -e /etc/systemd/system/timers.target.wants/gpuhours-check.timer ] &&
        ! is_active gpuhours-check.timer
ok $? "the check timer is stopped, its unit and enablement link removed ($(systemctl is-active gpuhours-check.timer))" \
        "$(ls -l /etc/systemd/system/timers.target.wants/ 2>&1)"

note "inside.sh took $(($(date +%s) - t_start)) s"
journalctl -q -b --no-pager -o short-monotonic >/gh-out/journal 2>&1
echo "done" >/gh-out/status
