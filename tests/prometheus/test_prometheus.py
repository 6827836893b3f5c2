#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gpuhoursd's /metrics checked by Prometheus itself: `promtool check metrics`
on the real daemon's output, the shipped alert rules through `promtool check
rules` and `promtool test rules`, and a real Prometheus server on 127.0.0.1
scraping the real daemon every second, asked for rate() of the per-GPU busy
counters through its HTTP API (the sim's load is known, so is the rate)."""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
SRC = os.environ["GH_SOURCE_ROOT"]
RULES = os.path.join(SRC, "packaging", "prometheus", "gpuhours-alerts.yml")
RULES_TEST = os.path.join(SRC, "tests", "prometheus", "alerts-test.yml")
PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
LOADS = [100, 25]


def promtool(args, stdin=None):
    p = subprocess.run([PROMTOOL] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def api(base, path, params):
    url = "%s/api/v1/%s?%s" % (base, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode("utf-8"))


def main():
    if not (os.access(PROMTOOL, os.X_OK) and os.access(PROMETHEUS, os.X_OK)):
        tap.skip("Debian's prometheus package is not installed (run tools/deps)")
        return
    tmp = ghtest.tmpdir("gh-prometheus-")

    # -- the rules as shipped
    rc, out = promtool(["check", "rules", RULES])
    tap.ok(rc == 0 and "SUCCESS: 5 rules found" in out, "promtool check rules " + RULES,
           diag=out)
    # promtool resolves rule_files relative to the test file.
    rc, out = promtool(["test", "rules", RULES_TEST])
    tap.ok(rc == 0 and "SUCCESS" in out,
           "promtool test rules: each alert fires for its failure, not for a healthy node",
           diag=out)

    # -- the daemon's /metrics through promtool
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=2, period=1, interval=0.1)
    d.set_load(LOADS)
    d.start()
    d.wait_size(3)
    st, _, body = d.get("/metrics")
    rc, out = promtool(["check", "metrics"], stdin=body)
    tap.ok(st == 200 and rc == 0 and out.strip() == "",
           "promtool check metrics on the daemon's /metrics: no problem reported", diag=out)

    # -- a real Prometheus scraping it every second
    port = ghtest.free_port()
    base = "http://127.0.0.1:%d" % port
    conf = os.path.join(tmp, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "rule_files:\n  - %s\n"
                "scrape_configs:\n  - job_name: gpuhours\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % (RULES, d.port))
    log = open(os.path.join(tmp, "prometheus.log"), "wb")
    prom = subprocess.Popen(
        [PROMETHEUS, "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        up = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and prom.poll() is None:
            try:
                r = api(base, "query", {"query": 'up{job="gpuhours"}'})
                res = r["data"]["result"]
                if res and res[0]["value"][1] == "1":
                    up = res
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        tap.ok(up is not None, "Prometheus scrapes the daemon: up{job=\"gpuhours\"} == 1",
               diag=open(os.path.join(tmp, "prometheus.log"), errors="replace").read()[-2000:])
        if up is None:
            return

        # rate() over 5 s needs a few scrapes: let 8 s of them accumulate.
        time.sleep(8)
        q = 'rate(gpuhours_gpu_busy_seconds_total{job="gpuhours"}[5s])'
        res = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            res = api(base, "query", {"query": q}).get("data", {}).get("result", [])
            if len(res) == 2:
                break
            time.sleep(1)
        rates = sorted(float(m["value"][1]) for m in res)
        node = json.loads(d.get("/v1/node")[2])
        want = {g["uuid"]: g["name"] for g in node["gpus"]}
        # busy seconds per second = the sim's utilization (which GPU has
        # which load does not matter here).
        loads = sorted(x / 100 for x in LOADS)
        ok_rates = len(rates) == 2 and all(abs(r - w) <= 0.15 for r, w in zip(rates, loads))
        tap.ok(ok_rates, "PromQL %s: %s, the sim's loads are %s %%" % (q, rates, LOADS),
               diag=res)
        labels_ok = all(m["metric"].get("UUID") in want and
                        m["metric"].get("model_name") == want[m["metric"]["UUID"]]
                        for m in res)
        tap.ok(len(res) == 2 and labels_ok,
               "the series carry the labels gpu and UUID (as dcgm-exporter) and model_name",
               diag=res)
        r = api(base, "query", {"query": "time() - gpuhours_last_sample_timestamp_seconds"})
        age = float(r["data"]["result"][0]["value"][1]) if r["data"]["result"] else None
        tap.ok(age is not None and -2 < age < 5,
               "time() - gpuhours_last_sample_timestamp_seconds = %s s" % age, diag=r)
        r = api(base, "query", {"query": "gpuhours_gpus"})
        tap.ok([x["value"][1] for x in r["data"]["result"]] == ["2"], "gpuhours_gpus == 2",
               diag=r)
        r = api(base, "rules", {"type": "alert"})
        rules = [x for g in r["data"]["groups"] for x in g["rules"]]
        tap.ok(len(rules) == 5 and all(x["health"] == "ok" for x in rules) and
               all(x["state"] == "inactive" for x in rules),
               "the shipped alert rules load and evaluate; none fires for a healthy daemon",
               diag=[(x["name"], x["health"], x["state"], x.get("lastError")) for x in rules])
    finally:
        prom.terminate()
        try:
            prom.wait(20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
        d.stop()


tap.run(main)
