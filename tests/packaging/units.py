#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The systemd units and the sysusers.d entry as meson builds them:
# systemd-analyze verify (with ExecStart pointing at the built daemon), the
# exposure score of systemd-analyze security --offline (<= 1.5), the
# hardening directives every unit must carry, and systemd-sysusers --dry-run.
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
src = ghtest.source_root()
build = ghtest.build_root()
daemon = ghtest.daemon_bin()
built_service = os.path.join(build, "packaging", "gpuhoursd.service")
built_socket = os.path.join(build, "packaging", "gpuhoursd.socket")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def directives(path):
    """{(section, key): [values]} of a unit file, in order."""
    out = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, _, value = line.partition("=")
            out.setdefault((section, key.strip()), []).append(value.strip())
    return out


def exposure(path):
    """(rc, score or None, output) of systemd-analyze security --offline=yes --threshold=15."""
    r = run(["systemd-analyze", "security", "--offline=yes", "--threshold=15", "--no-pager", path])
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
    return r.returncode, (float(m.group(1)) if m else None), r.stdout + r.stderr


def main():
    for tool in ("systemd-analyze", "systemd-sysusers"):
        if shutil.which(tool) is None:
            tap.skip("%s is not installed (package systemd)" % tool)
            tap.done()

    if not tap.ok(os.path.isfile(built_service) and os.path.isfile(built_socket),
                  "meson built packaging/gpuhoursd.service and gpuhoursd.socket"):
        tap.done()

    d = directives(built_service)
    execstart = d.get(("Service", "ExecStart"), [""])[0]
    m = re.fullmatch(r"(/\S+)/gpuhoursd --config (/\S+)/gpuhours/gpuhoursd\.conf", execstart)
    tap.ok(m is not None and "@" not in execstart,
           "ExecStart is <sbindir>/gpuhoursd --config <sysconfdir>/gpuhours/gpuhoursd.conf, substituted",
           diag=execstart)

    want = {
        ("Service", "Type"): "notify",
        ("Service", "WatchdogSec"): "30s",
        ("Service", "Restart"): "on-failure",
        ("Service", "StateDirectory"): "gpuhours",
        ("Service", "ConfigurationDirectory"): "gpuhours",
        ("Service", "User"): "gpuhours",
        ("Service", "Group"): "gpuhours",
        ("Service", "DevicePolicy"): "closed",
        ("Service", "CapabilityBoundingSet"): "",
        ("Service", "AmbientCapabilities"): "",
        ("Service", "NoNewPrivileges"): "yes",
        ("Install", "WantedBy"): "multi-user.target",
    }
    for (sec, key), val in want.items():
        got = d.get((sec, key))
        tap.ok(got == [val], "service [%s] %s=%s" % (sec, key, val), diag="got %r" % (got,))
    allow = d.get(("Service", "DeviceAllow"), [])
    tap.ok(any(a.startswith("char-nvidia") and a.endswith(" rw") for a in allow),
           "service allows the NVIDIA device groups (DeviceAllow=char-nvidia* rw)", diag=repr(allow))
    tap.ok(("Service", "PrivateDevices") not in d and ("Service", "DynamicUser") not in d,
           "no PrivateDevices= (hides /dev/nvidia*) and no DynamicUser= (static user)")
    with open(built_service) as f:
        text = f.read()
    tap.ok(re.search(r"^#\s*LoadCredential=node\.key:", text, re.M) is not None,
           "LoadCredential for node.key is documented (commented out)")
    s = directives(built_socket)
    tap.ok(s.get(("Socket", "ListenStream")) == ["9477"], "socket ListenStream=9477",
           diag=repr(s.get(("Socket", "ListenStream"))))
    tap.ok(s.get(("Socket", "IPAddressAllow")) == d.get(("Service", "IPAddressAllow")),
           "socket repeats the service's IPAddressAllow= (it is not inherited by passed sockets)")

    with tempfile.TemporaryDirectory(prefix="gh-units-") as tmp:
        # A copy of the units whose ExecStart is the built binary.
        svc = os.path.join(tmp, "gpuhoursd.service")
        sock = os.path.join(tmp, "gpuhoursd.socket")
        with open(svc, "w") as f:
            f.write(text.replace(execstart, "%s --config %s" % (daemon, os.path.join(tmp, "gpuhoursd.conf"))))
        shutil.copy(built_socket, sock)
        if os.path.exists(daemon):
            r = run(["systemd-analyze", "verify", "--man=no", svc, sock])
            noise = [ln for ln in (r.stdout + r.stderr).splitlines() if "gpuhoursd." in ln]
            tap.ok(r.returncode == 0 and not noise, "systemd-analyze verify --man=no: no errors or warnings",
                   diag=r.stdout + r.stderr)
        else:
            tap.ok(False, "systemd-analyze verify needs the built daemon", diag="missing " + daemon)

        # Negative control: the same check must catch a unit systemd cannot use.
        bad = os.path.join(tmp, "bad.service")
        with open(bad, "w") as f:
            f.write(text.replace(execstart, daemon).replace("Type=notify", "Type=notifyy"))
        r = run(["systemd-analyze", "verify", "--man=no", bad])
        tap.ok(any("bad.service" in ln for ln in (r.stdout + r.stderr).splitlines()),
               "verify reports a broken copy of the unit (the check can fail)", diag=r.stdout + r.stderr)

        rc, score, out = exposure(svc)
        tap.ok(rc == 0 and score is not None and score <= 1.5,
               "systemd-analyze security --offline=yes --threshold=15: exposure %s <= 1.5" % score,
               diag=out[-3000:])
        # Negative control: without the sandbox the gate fails.
        loose = os.path.join(tmp, "loose.service")
        keep = ("Type=", "ExecStart=", "User=", "Group=", "[", "WantedBy=")
        with open(loose, "w") as f:
            f.write("".join(ln + "\n" for ln in text.splitlines() if ln.startswith(keep)))
        rc2, score2, out2 = exposure(loose)
        tap.ok(rc2 != 0 and score2 is not None and score2 > 1.5,
               "the same gate fails a unit without hardening (exposure %s)" % score2, diag=out2[-1500:])

        witness_unit(tmp)
        check_unit(tmp)

        # The sysusers entry creates the user and group the unit runs as.
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "etc"))
        r = run(["systemd-sysusers", "--dry-run", "--root=" + root,
                 os.path.join(src, "packaging", "gpuhours.sysusers")])
        out = r.stdout + r.stderr
        tap.ok(r.returncode == 0 and "Creating user 'gpuhours'" in out and "Creating group 'gpuhours'" in out,
               "systemd-sysusers --dry-run creates user and group gpuhours", diag=out)


def witness_unit(tmp):
    """gpuhours-witness.service: Type=simple (the witness speaks no sd_notify), restarted on
    failure but not after the status the built witness exits with for a missing log list (a
    configuration error) or a usage error; systemd-analyze verify accepts it."""
    unit = os.path.join(build, "packaging", "witness", "gpuhours-witness.service")
    wbin = os.path.join(build, "witness", "gpuhours-witness")
    if not os.path.isfile(unit) or not os.path.isfile(wbin):
        tap.skip("the witness is not built")
        return
    d = directives(unit)
    with open(os.path.join(src, "witness", "witness.c")) as f:
        notify = "sd_notify" in f.read()
    tap.ok(d.get(("Service", "Type")) == ["simple"] and not notify,
           "witness unit Type=simple, and the witness does not call sd_notify",
           diag=repr(d.get(("Service", "Type"))))
    tap.ok(d.get(("Service", "Restart")) == ["on-failure"], "witness unit Restart=on-failure")
    prevent = " ".join(d.get(("Service", "RestartPreventExitStatus"), [])).split()
    st = os.path.join(tmp, "wstate")
    r = run([wbin, "--state-dir", st, "--name", "units.test/w", "--listen", "127.0.0.1:1",
             "--logs", os.path.join(tmp, "no-such-list")], stdin=subprocess.DEVNULL)
    tap.ok(r.returncode not in (0, 1) and str(r.returncode) in prevent,
           "an enabled witness without its log list exits %d, which RestartPreventExitStatus= "
           "names (no restart every RestartSec=)" % r.returncode, diag="%r %s" % (prevent, r.stderr))
    r = run([wbin, "--bogus"], stdin=subprocess.DEVNULL)
    tap.ok(r.returncode == 2 and "2" in prevent, "a usage error (exit 2) is not restarted either",
           diag=repr(prevent))
    with open(unit) as f:
        text = f.read()
    execstart = d.get(("Service", "ExecStart"), [""])[0]
    copy = os.path.join(tmp, "gpuhours-witness.service")
    with open(copy, "w") as f:
        f.write(text.replace(execstart, "%s --config %s --state-dir %s" %
                             (wbin, os.path.join(tmp, "witness.conf"), st)))
    r = run(["systemd-analyze", "verify", "--man=no", copy])
    noise = [ln for ln in (r.stdout + r.stderr).splitlines() if "gpuhours-witness." in ln]
    tap.ok(r.returncode == 0 and not noise, "systemd-analyze verify --man=no gpuhours-witness.service",
           diag=r.stdout + r.stderr)


def check_unit(tmp):
    """gpuhours-check.service counts only UNKNOWN (exit 1) as success besides PASS, so FAIL and
    could-not-complete fail the unit; an UNKNOWN run is a success for systemd, and the verdict
    is in the metrics file (gpuhours_check_exit_code), which gpuhours-check(1) and the unit say
    is where to read it (ExecMainStatus= reads 0 once systemd unloads the unit)."""
    unit = os.path.join(build, "packaging", "gpuhours-check.service")
    client = ghtest.client_bin()
    if not os.path.isfile(unit) or not os.path.isfile(client):
        tap.skip("the client and its check unit are not built")
        return
    d = directives(unit)
    ok_codes = " ".join(d.get(("Service", "SuccessExitStatus"), [])).split()
    tap.ok(ok_codes == ["1"], "check unit: SuccessExitStatus=1 only (FAIL 2 and 3 fail the unit)",
           diag=repr(ok_codes))
    home = os.path.join(tmp, "check-home")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "XDG_CONFIG_HOME": home, "XDG_STATE_HOME": home, "XDG_DATA_HOME": home}
    rules = os.path.join(tmp, "check-rules")
    prom = os.path.join(tmp, "check.prom")
    with open(rules, "w") as f:
        f.write("cap gpu-hours 1000\n")
    # A node that cannot be reached: no evidence, UNKNOWN.
    args = [client, "check", "--rules", rules, "--no-store", "--metrics", prom, "--timeout", "5",
            "http://127.0.0.1:1"]
    r = run(args, env=env, stdin=subprocess.DEVNULL)
    metrics = open(prom).read() if os.path.exists(prom) else ""
    tap.ok(r.returncode == 1 and str(r.returncode) in ok_codes and
           re.search(r"^gpuhours_check_exit_code 1$", metrics, re.M) is not None,
           "an UNKNOWN run exits 1 (success for the unit); gpuhours_check_exit_code 1 in the "
           "metrics file says UNKNOWN", diag="%d %s %s" % (r.returncode, r.stderr[-400:], metrics))
    with open(rules, "w") as f:
        f.write("cap gpu-hours\n")
    r = run(args, env=env, stdin=subprocess.DEVNULL)
    after = open(prom).read() if os.path.exists(prom) else ""
    tap.ok(r.returncode == 3 and str(r.returncode) not in ok_codes and after == metrics,
           "a rules file error: exit 3 fails the unit and the metrics file is left as it was "
           "(its timestamp stops advancing)", diag="%d %s" % (r.returncode, r.stderr[-400:]))
    man = os.path.join(build, "packaging", "gpuhours-check.1")
    page = open(man).read().replace("\\-", "-").replace("\\&", "") if os.path.exists(man) else ""
    page = re.sub(r"\\f[BIRP]", "", page)
    with open(unit) as f:
        text = f.read()
    tap.ok(all(w in page for w in ("ExecMainStatus", "gpuhours_check_exit_code",
                                   "SuccessExitStatus", "EXIT_STATUS")) and
           "gpuhours_check_exit_code" in text and "ExecMainStatus" in text,
           "gpuhours-check(1) and the unit say where the verdict is read (the metrics file, "
           "not ExecMainStatus=)")


tap.run(main)
