#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The documentation agrees with the programs: every long option of
# `gpuhoursd --help` is in gpuhoursd(8) and no other; every command of
# `gpuhours --help` (and every option of each command's --help) is in
# gpuhours(1); the packaged gpuhoursd.conf has exactly the daemon's settings,
# each at the default --help states, the daemon accepts it uncommented, and
# gpuhoursd.conf(5) describes every key; the man pages render without groff
# warnings.
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
src = ghtest.source_root()
build = ghtest.build_root()
NOT_SETTINGS = {"config", "print-key", "help", "version"}
CLIENT_COMMANDS = ["verify", "fetch", "report", "trust", "attest"]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, **kw)


def man_text(name):
    """The roff source of a built man page, with font escapes removed and \\- as -."""
    path = os.path.join(build, "packaging", name)
    with open(path) as f:
        t = f.read()
    t = re.sub(r"\\f[BIRP]", "", t)
    return t.replace("\\-", "-").replace("\\&", "")


def long_options(text):
    return set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])", text))


def help_of(args):
    r = run(args)
    return r.returncode, r.stdout + r.stderr


def conf_settings():
    """[(key, value)] of the commented-out settings in packaging/gpuhoursd.conf."""
    out = []
    with open(os.path.join(src, "packaging", "gpuhoursd.conf")) as f:
        for line in f:
            m = re.match(r"^#([a-z_]+) = (.*)$", line.rstrip("\n"))
            if m:
                out.append((m.group(1), m.group(2)))
    return out


def option_help_text(help_text, opt):
    """The part of --help that describes --opt: from its first mention to the next option line."""
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(opt), line):
            chunk = [line]
            for nxt in lines[i + 1:]:
                if re.match(r"^\s*-", nxt):
                    break
                chunk.append(nxt)
            return "\n".join(chunk)
    return ""


def check_daemon():
    daemon = ghtest.daemon_bin()
    if not tap.ok(os.path.exists(daemon), "gpuhoursd is built", diag="missing " + daemon):
        return
    rc, help_text = help_of([daemon, "--help"])
    tap.ok(rc == 0, "gpuhoursd --help exits 0", diag=help_text)
    opts = long_options(help_text)
    tap.ok({"config", "state-dir", "listen", "backend", "period", "sample-interval", "origin",
            "print-key", "help", "version"} <= opts, "gpuhoursd --help lists its documented options",
           diag=sorted(opts))
    page = man_text("gpuhoursd.8")
    in_page = long_options(page)
    missing = sorted(opts - in_page)
    tap.ok(not missing, "every option of gpuhoursd --help is in gpuhoursd(8)", diag="missing: %s" % missing)
    extra = sorted(in_page - opts)
    tap.ok(not extra, "gpuhoursd(8) documents no option that gpuhoursd lacks", diag="extra: %s" % extra)

    settings = conf_settings()
    keys = [k for k, _ in settings]
    want = sorted(o.replace("-", "_") for o in opts - NOT_SETTINGS)
    tap.ok(sorted(keys) == want, "gpuhoursd.conf lists every setting once (the options of --help)",
           diag="conf %s vs --help %s" % (sorted(keys), want))
    for key, value in settings:
        if value.startswith("<") or key == "sim_dir":
            continue  # a placeholder (<hostname>) or a path derived from another setting
        chunk = option_help_text(help_text, key.replace("_", "-"))
        tap.ok(re.search(r"(?<![\w.])%s(?![\w.])" % re.escape(value), chunk) is not None,
               "gpuhoursd.conf: %s = %s is the default --help states" % (key, value), diag=chunk)
    conf5 = man_text("gpuhoursd.conf.5")
    missing = [k for k in keys if not re.search(r"(?m)^%s = " % re.escape(k), conf5)]
    tap.ok(not missing, "gpuhoursd.conf(5) describes every key", diag="missing: %s" % missing)

    # The daemon accepts the packaged file with every setting uncommented.
    with tempfile.TemporaryDirectory(prefix="gh-docs-") as tmp:
        conf = os.path.join(tmp, "gpuhoursd.conf")
        with open(os.path.join(src, "packaging", "gpuhoursd.conf")) as f:
            text = f.read()
        text = re.sub(r"(?m)^#([a-z_]+ = )", r"\1", text)
        text = text.replace("<hostname>/gpuhours", "docs-test.example/gpuhours")
        with open(conf, "w") as f:
            f.write(text)
        r = run([daemon, "--config", conf, "--state-dir", os.path.join(tmp, "state"), "--print-key"])
        tap.ok(r.returncode == 0 and r.stdout.startswith("docs-test.example/gpuhours+"),
               "gpuhoursd accepts gpuhoursd.conf with every setting uncommented", diag=r.stdout + r.stderr)
        # ...and rejects a key it does not know, naming file, line and key (so the check above can fail).
        with open(conf, "a") as f:
            f.write("no_such_key = 1\n")
        nlines = text.count("\n") + 1
        r = run([daemon, "--config", conf, "--state-dir", os.path.join(tmp, "state"), "--print-key"])
        err = r.stdout + r.stderr
        tap.ok(r.returncode != 0 and "no_such_key" in err and str(nlines) in err and "gpuhoursd.conf" in err,
               "an unknown key is an error naming the file, line and key", diag=err)


def check_client():
    client = ghtest.client_bin()
    if not tap.ok(os.path.exists(client), "gpuhours is built", diag="missing " + client):
        return
    rc, help_text = help_of([client, "--help"])
    tap.ok(rc == 0, "gpuhours --help exits 0", diag=help_text)
    page = man_text("gpuhours.1")
    commands = [c for c in CLIENT_COMMANDS if re.search(r"(?<![\w-])%s(?![\w-])" % c, help_text)]
    tap.ok(commands == CLIENT_COMMANDS, "gpuhours --help lists every client command", diag=help_text)
    # Any other command-looking word at the start of an indented --help line must be documented too.
    listed = set(re.findall(r"(?m)^\s{2,}([a-z][a-z-]+)\b", help_text)) | set(commands)
    listed -= {"gpuhours"}
    missing = sorted(c for c in listed if not re.search(r"(?<![\w-])%s(?![\w-])" % c, page))
    tap.ok(not missing, "every command of gpuhours --help is in gpuhours(1)", diag="missing: %s" % missing)
    for cmd in commands:
        rc, text = help_of([client, cmd, "--help"])
        opts = long_options(text)
        missing = sorted(opts - long_options(page))
        tap.ok(rc == 0 and not missing, "gpuhours %s --help: every option is in gpuhours(1)" % cmd,
               diag="rc %d, missing %s\n%s" % (rc, missing, text))


def check_render():
    for name in ("gpuhoursd.8", "gpuhoursd.conf.5", "gpuhours.1"):
        path = os.path.join(build, "packaging", name)
        if not os.path.exists(path):
            tap.ok(False, "%s is built (scdoc)" % name)
            continue
        env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path],
                           capture_output=True, text=True, timeout=60, env=env)
        tap.ok(r.returncode == 0 and not r.stderr.strip(), "%s renders without groff warnings" % name,
               diag=r.stderr)


tap.run(check_render, check_daemon, check_client)
