#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# gpuhoursd command line and config file: defaults, validation, precedence, --print-key.
import os
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
BIN = ghtest.daemon_bin()


def run(args, timeout=10, env=None):
    p = subprocess.run([BIN] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def main():
    tmp = ghtest.tmpdir("gh-cli-")
    rc, out, err = run(["--help"])
    opts = ["--config", "--state-dir", "--listen", "--backend", "--sim-gpus", "--sim-dir", "--period",
            "--sample-interval", "--origin", "--print-key", "--help", "--version"]
    defaults = ["/etc/gpuhours/gpuhoursd.conf", "/var/lib/gpuhours", "[::]:9477", "default nvml",
                "default 4", "default 300", "default 1", "HOSTNAME/gpuhours", "STATE-DIR/sim"]
    tap.ok(rc == 0 and all(o in out for o in opts) and all(x in out for x in defaults),
           "--help lists every option with its default", out)
    rc, out, err = run(["--version"])
    tap.ok(rc == 0 and out.startswith("gpuhoursd ") and len(out.split()) == 2, "--version", out)

    state = os.path.join(tmp, "state")
    bad = [
        (["--period", "0"], "--period"), (["--period", "86401"], "--period"), (["--period", "1.5"], "--period"),
        (["--period", "-5"], "--period"), (["--period", "007"], "--period"),
        (["--sample-interval", "0.01"], "--sample-interval"), (["--sample-interval", "61"], "--sample-interval"),
        (["--sample-interval", "1e3"], "--sample-interval"), (["--sample-interval", ""], "--sample-interval"),
        (["--backend", "cuda"], "--backend"), (["--sim-gpus", "65"], "--sim-gpus"), (["--sim-gpus", "0"], "--sim-gpus"),
        (["--listen", "9477"], "--listen"), (["--listen", "::1:80"], "--listen"), (["--listen", "host:0"], "--listen"),
        (["--origin", "a b"], "--origin"), (["--origin", "a+b"], "--origin"), (["--bogus"], "--bogus"),
        (["--period"], "--period"), (["extra"], "extra"),
        (["--period", "1", "--sample-interval", "2"], "must not exceed"),
    ]
    failures = []
    for args, word in bad:
        rc, out, err = run(["--state-dir", state] + args)
        lines = err.strip().splitlines()
        if rc != 2 or len(lines) != 1 or word not in lines[0] or not lines[0].startswith("gpuhoursd: "):
            failures.append((args, rc, err))
    tap.ok(not failures, "bad options: exit 2 with one line naming the option (%d cases)" % len(bad), failures)
    tap.ok(not os.path.exists(state), "bad options create nothing")

    conf = os.path.join(tmp, "bad.conf")
    cases = [
        ("[gpuhoursd]\nperiod = 60\nfrobnicate = 1\n", "line 3", "unknown key 'frobnicate'"),
        ("[gpuhoursd]\n# comment\nperiod = 0\n", "line 3", "key 'period'"),
        ("[gpuhoursd]\nsample_interval = fast\n", "line 2", "key 'sample_interval'"),
        ("[other]\nperiod = 60\n", "line 2", "unknown section"),
        ("[gpuhoursd]\nthis is not ini\n", "line 2", "syntax error"),
        ("[gpuhoursd]\nbackend = gpu\n", "line 2", "key 'backend'"),
    ]
    failures = []
    for text, line, what in cases:
        with open(conf, "w") as f:
            f.write(text)
        rc, out, err = run(["--config", conf, "--state-dir", state])
        lines = err.strip().splitlines()
        if rc != 2 or len(lines) != 1 or conf not in lines[0] or line not in lines[0] or what not in lines[0]:
            failures.append((text, rc, err))
    tap.ok(not failures, "config errors name the file, line and key (exit 2)", failures)
    rc, out, err = run(["--config", os.path.join(tmp, "missing.conf"), "--state-dir", state])
    tap.ok(rc == 2 and "missing.conf" in err, "missing --config file: exit 2", err)

    # --print-key: creates the key (0600, 32 bytes), stable, key name = origin
    rc, out, err = run(["--state-dir", state, "--print-key"])
    host = socket.gethostname()
    key = os.path.join(state, "node.key")
    st = os.stat(key) if os.path.exists(key) else None
    tap.ok(rc == 0 and out.startswith(host + "/gpuhours+") and st and stat.S_IMODE(st.st_mode) == 0o600
           and st.st_size == 32, "--print-key creates a 0600 32-byte key; default origin HOSTNAME/gpuhours", (out, err))
    rc2, out2, _ = run(["--state-dir", state, "--print-key"])
    tap.ok(rc2 == 0 and out2 == out, "--print-key is stable (the key is never overwritten)")

    # precedence: file, then command line
    good = os.path.join(tmp, "good.conf")
    with open(good, "w") as f:
        f.write("; gpuhoursd settings\n[gpuhoursd]\norigin = file.example/x\nperiod = 2\n"
                "sample_interval = 0.25\nbackend = sim\nsim_gpus = 3\nstate_dir = %s\n" % state)
    rc, out, err = run(["--config", good, "--print-key"])
    tap.ok(rc == 0 and out.startswith("file.example/x+"), "config file origin and state_dir are used", (out, err))
    rc, out, err = run(["--config", good, "--origin", "cli.example/y", "--print-key"])
    tap.ok(rc == 0 and out.startswith("cli.example/y+"), "command line overrides the config file", (out, err))

    d = ghtest.Daemon(os.path.join(tmp, "run"), gpus=1, extra_args=["--config", good, "--state-dir",
                                                                    os.path.join(tmp, "run", "state")])
    d.args_orig = d.args
    # drop --period/--sample-interval/--sim-gpus from the helper's arguments so the file's values apply
    base = [ghtest.daemon_bin(), "--listen", "127.0.0.1:%d" % d.port, "--sim-dir", d.sim_dir]
    d.args = lambda: base + d.extra_args
    d.start()
    cp = d.wait_size(1)
    r = ghtest.decode_record(d.records(0, 1)[0])
    tap.ok(r["kind"] == "start" and r["period_s"] == 2 and r["sample_interval_us"] == 250000 and len(r["gpus"]) == 3
           and cp["origin"] == "file.example/x", "the daemon runs with the file's settings", r)
    d.stop()
    d.extra_args += ["--period", "1", "--sim-gpus", "2"]
    d.start()
    cp = d.wait_size(3)
    recs = [ghtest.decode_record(x) for x in d.records(0, cp["size"])]
    starts = [x for x in recs if x["kind"] == "start"]
    tap.ok(len(starts) == 2 and starts[1]["period_s"] == 1 and len(starts[1]["gpus"]) == 2
           and starts[1]["sample_interval_us"] == 250000, "command-line --period/--sim-gpus override the file",
           starts[-1])
    tap.ok(d.stop() == 0, "stops cleanly")


tap.run(main)
