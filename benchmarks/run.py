"""Throughput of the case pages under gunicorn, as a ratio to a bare endpoint measured in the same run.

    .venv/bin/python benchmarks/run.py            (or: make bench)

1. The database is PORTAL_DATABASE_URL, by default the SQLite file instance/bench.db. When it holds fewer
   cases than --cases (100,000), benchmarks/generate_cases.py fills it first.
2. gunicorn starts with 2 sync workers on 127.0.0.1 (a free port) against that database.
3. A session signs in as the demo bureau staff account (staff@yx.example) and keeps its cookie.
4. wrk (the Debian package; installed with apt-get when missing) loads each page for --duration seconds
   after a short warm-up: GET /ping (no database: the yardstick), the case list, an active search
   (the htmx rows fragment) and one case page. Only 127.0.0.1 is ever loaded.
5. Each page is printed as requests per second and as a ratio to /ping, and the run is appended to
   benchmarks/results/<date>.txt.

This is a measurement to read, never a test that fails on a number; it is not part of make test.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
RESULTS = ROOT / "benchmarks" / "results"
LOGIN, PASSWORD = "staff@yx.example", "Demo2026pass"  # the demo accounts of portal/demo.py
SEARCH = "工资"


def database_url() -> str:
    return os.environ.get("PORTAL_DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'bench.db'}"


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    print("wrk is missing: installing the Debian package", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(url: str) -> dict:
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.setdefault("PORTAL_ENV", "development")
    env.pop("PORTAL_DEBUG", None)
    return env


def prepare_database(url: str, cases: int) -> None:
    subprocess.run([str(VENV / "python"), str(ROOT / "benchmarks" / "generate_cases.py"), "-n", str(cases)],
                   check=True, env=app_env(url), cwd=ROOT)


def pick_case(url: str) -> tuple[int, int, int]:
    """A case in handling with a long timeline: (id, events, petitioners)."""
    code = (
        "from sqlalchemy import func, select\n"
        "from portal import create_app\n"
        "from portal.extensions import db\n"
        "from portal.cases.models import Case, CaseEvent, CaseStatus, Petitioner\n"
        "with create_app().app_context():\n"
        "    ids = select(Case.id).where(Case.status == CaseStatus.IN_PROGRESS).order_by(Case.id).limit(2000)\n"
        "    case_id, events = db.session.execute(select(CaseEvent.case_id, func.count()).where("
        "CaseEvent.case_id.in_(ids)).group_by(CaseEvent.case_id).order_by(func.count().desc(), CaseEvent.case_id)"
        ".limit(1)).one()\n"
        "    people = db.session.scalar(select(func.count()).where(Petitioner.case_id == case_id))\n"
        "    print(case_id, events, people)\n"
    )
    out = subprocess.run([str(VENV / "python"), "-c", code], check=True, env=app_env(url), cwd=ROOT,
                         capture_output=True, text=True).stdout.split()
    return int(out[-3]), int(out[-2]), int(out[-1])


def count_cases(url: str) -> int:
    code = ("from sqlalchemy import func, select\nfrom portal import create_app\nfrom portal.extensions import db\n"
            "from portal.cases.models import Case\nwith create_app().app_context():\n"
            "    print(db.session.scalar(select(func.count(Case.id))))\n")
    return int(subprocess.run([str(VENV / "python"), "-c", code], check=True, env=app_env(url), cwd=ROOT,
                              capture_output=True, text=True).stdout.split()[-1])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(base: str) -> str:
    """Log in through the form (CSRF token included) and return the Cookie header of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"login": LOGIN, "password": PASSWORD, "csrf_token": token}).encode()
    try:
        opener.open(urllib.request.Request(f"{base}/login", data=data))
    except urllib.error.HTTPError as answer:  # the 303 after a successful log-in
        if answer.code != 303:
            raise SystemExit(f"log-in failed: HTTP {answer.code}")
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session=" not in cookie:
        raise SystemExit("log-in failed: no session cookie (is the demo account there?)")
    return cookie


def check(base: str, path: str, headers: dict, expect: str) -> None:
    """One request before the load: it must be a 200 with the expected content, not a log-in redirect."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        response = opener.open(urllib.request.Request(base + path, headers=headers))
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{path}: HTTP {error.code} before the load run")
    body = response.read().decode()
    if expect not in body:
        raise SystemExit(f"{path}: the answer does not contain {expect!r}")


def wrk(binary: str, url: str, headers: dict, duration: int, threads: int, connections: int) -> dict:
    args = [binary, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    latency = re.search(r"Latency\s+([\d.]+\w+)", out).group(1)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    return {"rate": rate, "latency": latency, "p99": p99.group(1) if p99 else "?",
            "bad": int(bad.group(1)) if bad else 0, "errors": errors.group(0) if errors else ""}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Throughput of the case pages as a ratio to a bare endpoint.")
    parser.add_argument("--cases", type=int, default=100_000, help="cases the database should hold")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per page (wrk -d)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per page")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--no-save", action="store_true", help="print only, write no results file")
    args = parser.parse_args(argv)

    binary = ensure_wrk()
    url = database_url()
    engine = url.split(":", 1)[0].split("+", 1)[0]
    prepare_database(url, args.cases)
    cases = count_cases(url)
    case_id, events, people = pick_case(url)

    load_before = os.getloadavg()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
    server = subprocess.Popen(
        [str(VENV / "gunicorn"), "--workers", str(args.workers), "--worker-class", "sync",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=app_env(url), stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                if urllib.request.urlopen(f"{base}/ping", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"gunicorn did not answer; see {log.name}")
        cookie = sign_in(base)
        session = {"Cookie": cookie}
        search = urllib.parse.quote(SEARCH)
        targets = [
            ("bare endpoint", "/ping", {}, "ok"),
            ("case list", "/cases", session, 'id="case-rows"'),
            (f"search (htmx rows, q={SEARCH})", f"/cases?q={search}", {**session, "HX-Request": "true"},
             "case-list"),
            (f"case page ({events} events)", f"/cases/{case_id}", session, "timeline"),
        ]
        results = []
        for name, path, headers, expect in targets:
            check(base, path, headers, expect)
            if args.warmup:
                wrk(binary, base + path, headers, args.warmup, args.threads, args.connections)
            result = wrk(binary, base + path, headers, args.duration, args.threads, args.connections)
            if result["bad"] or result["errors"]:
                print(f"  warning: {path}: {result['bad']} non-2xx/3xx answers {result['errors']}", flush=True)
            results.append((name, path, result))
            print(f"  {name:<34} {result['rate']:9.1f} req/s", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    load_after = os.getloadavg()
    bare = results[0][2]["rate"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    lines = [
        f"== {datetime.now():%Y-%m-%d %H:%M} · {engine} · {cases:,} cases · commit {commit}",
        f"gunicorn {args.workers} sync workers, wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
        f"(after {args.warmup}s warm-up), 127.0.0.1, same machine",
        f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (other work on the machine skews every number)",
        f"case page: case {case_id}, {events} events, {people} petitioners; signed in as {LOGIN} (bureau staff)",
        "",
        f"{'page':<36}{'req/s':>9}{'ratio':>8}{'avg':>10}{'p99':>10}  path",
    ]
    for name, path, result in results:
        lines.append(f"{name:<36}{result['rate']:9.1f}{result['rate'] / bare:8.3f}{result['latency']:>10}"
                     f"{result['p99']:>10}  {path}")
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        target = RESULTS / f"{datetime.now():%Y-%m-%d}.txt"
        with target.open("a", encoding="utf-8") as out:
            out.write(report + "\n")
        print(f"appended to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
