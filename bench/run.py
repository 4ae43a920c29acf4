"""The benchmark: the chat server against bare references on the same uvicorn, in one run.

    make bench            # the whole run (about 5 minutes)
    make bench QUICK=1    # shorter windows, same workloads (about 2 minutes)

Every server runs pinned to core 0; the load (wrk, the Node receiver and this
script) runs on core 1. Each figure is a ratio against a reference measured in
the same run, or an absolute figure with its target. Writes
bench/results/results.json and bench/results/plot.png and prints a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
SERVER_CORE = "0"
LOAD_CORE = "1"
LOAD_ADDRESSES = [f"127.0.0.{n}" for n in range(1, 5)]

USER_ID = {"query": 'query { userId(username: "user1") }'}
CREATE_MESSAGE = {
    "query": "mutation ($from: String, $to: String, $content: String) "
    "{ createMessage(senderId: $from, recipientId: $to, content: $content) "
    "{ success errors message { content senderId recipientId } } }",
    "variables": {"from": "1", "to": "2", "content": "Hello there"},
}
MESSAGES = {
    "query": "query ($userId: String!) { messages(userId: $userId) "
    "{ success errors messages { content senderId recipientId } } }",
}


@dataclass(frozen=True)
class Plan:
    """How long each window lasts; the workloads are the same in both modes."""

    warmup: float
    window: float
    latency_window: float

    @classmethod
    def of(cls, quick: bool) -> Plan:
        return cls(1.0, 3.0, 3.0) if quick else cls(2.0, 10.0, 8.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server process (bench/server.py) pinned to the server core."""

    def __init__(self, kind: str, users: int = 0, messages: int = 0) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.ws_url = f"ws://127.0.0.1:{self.port}/"
        command = ["taskset", "-c", SERVER_CORE, sys.executable, str(BENCH / "server.py"), kind]
        command += ["--port", str(self.port), "--users", str(users), "--messages", str(messages)]
        self.process = subprocess.Popen(command, cwd=ROOT)
        self.ps = psutil.Process(self.process.pid)
        deadline = time.monotonic() + 180
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} server did not start")
            time.sleep(0.1)

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    @property
    def rss(self) -> int:
        return self.ps.memory_info().rss

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class Receiver:
    """The Node WebSocket receiver and paced sender (bench/client.mjs), on the load core."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, "node", str(BENCH / "client.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ps = psutil.Process(self.process.pid)

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if not answer.pop("ok"):
            raise RuntimeError(f"receiver {cmd}: {answer['error']}")
        return answer

    def stop(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


@contextmanager
def cpu_use(server: Server, load: list[psutil.Process]) -> Iterator[dict[str, float]]:
    """Measure server and load-generator CPU (% of one core) over the block."""
    usage: dict[str, float] = {}
    start, server_start, load_start = time.monotonic(), cpu_seconds([server.ps]), cpu_seconds(load)
    yield usage
    elapsed = time.monotonic() - start
    usage["server_cpu"] = 100 * (cpu_seconds([server.ps]) - server_start) / elapsed
    usage["load_cpu"] = 100 * (cpu_seconds(load) - load_start) / elapsed


def wrk(url: str, script: str, arg: str, connections: int, seconds: float, on_start=None) -> dict[str, Any]:
    """Run wrk on the load core; `on_start(process)` is called once it runs (to measure its CPU)."""
    command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency"]
    command += ["-s", str(BENCH / script), url, "--", arg]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if on_start:
        on_start(psutil.Process(process.pid))
    output, _ = process.communicate()
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line.removeprefix("WRK_JSON "))
            result["per_second"] = result["requests"] / result["seconds"]
            return result
    raise RuntimeError(f"wrk printed no summary:\n{output}")


def wrk_measured(server: Server, script: str, arg: str, connections: int, seconds: float) -> dict[str, Any]:
    """wrk with the server's and wrk's CPU use measured over the same window."""
    started: list[psutil.Process] = []
    server_start = cpu_seconds([server.ps])
    clock = time.monotonic()
    result = wrk(server.url, script, arg, connections, seconds, on_start=started.append)
    elapsed = time.monotonic() - clock
    result["server_cpu"] = 100 * (cpu_seconds([server.ps]) - server_start) / elapsed
    # wrk has exited: its own accounting of its CPU is gone with it, so read it from the rusage of children.
    result["load_cpu"] = _children_cpu_delta()
    return result


_last_children_cpu = [0.0, time.monotonic()]


def _children_cpu_delta() -> float:
    """CPU % of one core used by finished children (wrk) since the previous call."""
    times = os.times()
    now = times.children_user + times.children_system
    clock = time.monotonic()
    percent = 100 * (now - _last_children_cpu[0]) / max(clock - _last_children_cpu[1], 1e-6)
    _last_children_cpu[:] = [now, clock]
    return percent


def body_file(tmp: Path, name: str, body: dict[str, Any]) -> str:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(body))
    return str(path)


def http_throughput(plan: Plan, tmp: Path) -> dict[str, Any]:
    """Small query and createMessage, 32 connections, against the bare JSON endpoint."""
    results: dict[str, Any] = {}
    bodies = {"user_id": body_file(tmp, "user_id", USER_ID), "create_message": body_file(tmp, "send", CREATE_MESSAGE)}
    for kind in ("bare", "chat"):
        with Server(kind, users=2) as server:
            for name, path in bodies.items():
                wrk(server.url, "post.lua", path, 32, plan.warmup)
                _children_cpu_delta()
                results[f"{name}_{kind}"] = wrk_measured(server, "post.lua", path, 32, plan.window)
                check_http(results[f"{name}_{kind}"], f"{name} on {kind}")
    return results


def check_http(result: dict[str, Any], what: str) -> None:
    if result["non_2xx"] or result["socket_errors"]:
        raise RuntimeError(f"{what}: {result['non_2xx']} non-2xx answers, {result['socket_errors']} socket errors")


def delivery(plan: Plan) -> dict[str, Any]:
    """200 subscribed users: flood with wrk, then a steady 1,000 msg/s; then 500 subscriptions of one user."""
    results: dict[str, Any] = {}
    users = list(range(1, 201))
    for kind in ("bare", "chat"):
        with Server(kind, users=200) as server, Receiver() as receiver:
            receiver.call("open", url=server.ws_url, connections=200, perConnection=1, users=users)
            wrk(server.url, "send.lua", "200", 32, plan.warmup)
            receiver.call("drain", expected=10**9)
            receiver.call("reset")
            _children_cpu_delta()
            with cpu_use(server, [receiver.ps]) as receiver_cpu:
                sent = wrk_measured(server, "send.lua", "200", 32, plan.window)
                received = receiver.call("drain", expected=sent["requests"])
            check_http(sent, f"createMessage flood on {kind}")
            received["sent"] = sent["requests"]
            received["server_cpu"] = receiver_cpu["server_cpu"]
            received["load_cpu"] = sent["load_cpu"] + receiver_cpu["load_cpu"]
            results[f"flood_{kind}"] = received
            with cpu_use(server, [receiver.ps]) as usage:
                paced = receiver.call("pace", url=server.url, rate=1000, seconds=plan.latency_window, users=users)
            results[f"paced_{kind}"] = {**paced, **usage}
            receiver.call("close")

        with Server(kind, users=1) as server, Receiver() as receiver:
            receiver.call("open", url=server.ws_url, connections=50, perConnection=10, users=[1])
            receiver.call("closedLoop", url=server.url, window=4, seconds=plan.warmup, users=[1], fanout=500)
            with cpu_use(server, [receiver.ps]) as usage:
                fanout = receiver.call("closedLoop", url=server.url, window=4, seconds=plan.window, users=[1], fanout=500)
            results[f"one_user_{kind}"] = {**fanout, **usage}
            receiver.call("close")
    return results


def fanout_independence(plan: Plan, tmp: Path) -> dict[str, Any]:
    """createMessage p50 (one connection) with 2,000 idle subscriptions of other users, and with none."""
    path = body_file(tmp, "send", CREATE_MESSAGE)
    with Server("chat", users=2002) as server, Receiver() as receiver:
        wrk(server.url, "post.lua", path, 1, plan.warmup)
        _children_cpu_delta()
        none = wrk_measured(server, "post.lua", path, 1, plan.window)
        receiver.call("open", url=server.ws_url, connections=200, perConnection=10, users=list(range(3, 2003)))
        wrk(server.url, "post.lua", path, 1, plan.warmup)
        _children_cpu_delta()
        idle = wrk_measured(server, "post.lua", path, 1, plan.window)
        receiver.call("close")
    return {"none": none, "idle_2000": idle}


def history(plan: Plan, tmp: Path) -> dict[str, Any]:
    """messages(userId) p50 for a user with 10 messages, the store holding 1,000 or 1,000,000."""
    results: dict[str, Any] = {}
    for stored in (1_000, 1_000_000):
        with Server("chat", users=100, messages=stored) as server:
            path = body_file(tmp, "history", {**MESSAGES, "variables": {"userId": "101"}})
            wrk(server.url, "post.lua", path, 1, plan.warmup)
            _children_cpu_delta()
            results[f"stored_{stored}"] = wrk_measured(server, "post.lua", path, 1, plan.window)
            check_http(results[f"stored_{stored}"], f"history with {stored}")
            results[f"stored_{stored}"]["rss_mb"] = server.rss / 2**20
    return results


def settle(server: Server, seconds: float = 1.5) -> int:
    time.sleep(seconds)
    return server.rss


def memory() -> dict[str, Any]:
    """RSS per idle subscription (10 per connection, 5,000 in all); growth over 3 cycles of 2,000."""
    users = list(range(1, 501))
    with Server("chat", users=500) as server, Receiver() as receiver:
        receiver.call("open", url=server.ws_url, connections=10, perConnection=10, users=users)
        receiver.call("close")
        before = settle(server)
        receiver.call("open", url=server.ws_url, connections=500, perConnection=10, users=users)
        held = settle(server)
        receiver.call("close")
        after_close = settle(server)
        cycles = []
        for _ in range(3):
            receiver.call("open", url=server.ws_url, connections=200, perConnection=10, users=users)
            receiver.call("close")
            cycles.append(settle(server))
    return {
        "rss_before_mb": before / 2**20,
        "rss_5000_mb": held / 2**20,
        "per_subscription_kb": (held - before) / 5000 / 1024,
        "rss_after_close_mb": after_close / 2**20,
        "rss_after_cycles_mb": [rss / 2**20 for rss in cycles],
        "growth_mb": (cycles[-1] - after_close) / 2**20,
    }


def scale(plan: Plan) -> dict[str, Any]:
    """10,000 subscriber connections on one worker, then delivery at 1,000 msg/s while they are held."""
    users = list(range(1, 10_001))
    with Server("chat", users=10_000) as server, Receiver() as receiver:
        rss_before = server.rss
        opened = receiver.call(
            "open", url=server.ws_url, connections=10_000, perConnection=1, users=users, addresses=LOAD_ADDRESSES
        )
        with cpu_use(server, [receiver.ps]) as usage:
            paced = receiver.call("pace", url=server.url, rate=1000, seconds=plan.latency_window, users=users)
        result = {
            **paced,
            **usage,
            "connections": opened["connections"],
            "connect_seconds": opened["seconds"],
            "rss_mb": server.rss / 2**20,
            "rss_per_connection_kb": (server.rss - rss_before) / opened["connections"] / 1024,
        }
        receiver.call("close")
    return result


# ---- the report ---------------------------------------------------------------------------------


def figures(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows: each figure, what it is compared with, its target and whether it holds."""
    http, dl, fo, hist, mem, sc = r["http"], r["delivery"], r["fanout"], r["history"], r["memory"], r["scale"]

    def row(name, ours, reference, value, unit, target, holds, cpu=None):
        return {"figure": name, "chat": ours, "reference": reference, "value": value, "unit": unit,
                "target": target, "holds": holds, "cpu": cpu}

    def cpu(ours, ref=None):
        text = f"{ours['server_cpu']:.0f}/{ours['load_cpu']:.0f}"
        return text + (f" vs {ref['server_cpu']:.0f}/{ref['load_cpu']:.0f}" if ref else "")

    rows = []
    q, qb = http["user_id_chat"], http["user_id_bare"]
    ratio = q["per_second"] / qb["per_second"]
    rows.append(row("small query (userId), req/s", f"{q['per_second']:,.0f}", f"{qb['per_second']:,.0f} bare",
                    ratio, "×", "≥ 0.50", ratio >= 0.50, cpu(q, qb)))
    m, mb = http["create_message_chat"], http["create_message_bare"]
    ratio = m["per_second"] / mb["per_second"]
    rows.append(row("createMessage, req/s", f"{m['per_second']:,.0f}", f"{mb['per_second']:,.0f} bare",
                    ratio, "×", "—", None, cpu(m, mb)))
    f, fb = dl["flood_chat"], dl["flood_bare"]
    ratio = f["per_second"] / fb["per_second"]
    rows.append(row("delivered msg/s, 200 subscribers", f"{f['per_second']:,.0f}", f"{fb['per_second']:,.0f} bare WS",
                    ratio, "×", "≥ 0.50", ratio >= 0.50, cpu(f, fb)))
    rows.append(row("  latency p50 / p99 at that load, ms",
                    f"{f['latency_ms']['p50']:.1f} / {f['latency_ms']['p99']:.1f}",
                    f"{fb['latency_ms']['p50']:.1f} / {fb['latency_ms']['p99']:.1f}", None, "", "—", None))
    o, ob = dl["one_user_chat"], dl["one_user_bare"]
    ratio = o["per_second"] / ob["per_second"]
    rows.append(row("500 subscriptions of one user, frames/s", f"{o['per_second']:,.0f}",
                    f"{ob['per_second']:,.0f} bare WS", ratio, "×", "≥ 0.30", ratio >= 0.30, cpu(o, ob)))
    p, pb = dl["paced_chat"], dl["paced_bare"]
    rows.append(row("delivery p50 / p99 at 1,000 msg/s, ms", f"{p['latency_ms']['p50']:.1f} / {p['latency_ms']['p99']:.1f}",
                    f"{pb['latency_ms']['p50']:.1f} / {pb['latency_ms']['p99']:.1f} bare WS",
                    p["latency_ms"]["p99"], "ms", "p99 ≤ 20", p["latency_ms"]["p99"] <= 20, cpu(p, pb)))
    ratio = fo["idle_2000"]["p50_us"] / fo["none"]["p50_us"]
    rows.append(row("createMessage p50, 2,000 idle subs ÷ none", f"{fo['idle_2000']['p50_us']} µs",
                    f"{fo['none']['p50_us']} µs", ratio, "×", "≤ 1.1", ratio <= 1.1))
    big, small = hist["stored_1000000"], hist["stored_1000"]
    ratio = big["p50_us"] / small["p50_us"]
    rows.append(row("messages(userId) p50, 1M stored ÷ 1k", f"{big['p50_us']} µs", f"{small['p50_us']} µs",
                    ratio, "×", "≤ 1.2", ratio <= 1.2))
    rows.append(row("RSS per idle subscription", f"{mem['per_subscription_kb']:.1f} KB", "5,000 subs, 10/conn",
                    mem["per_subscription_kb"], "KB", "≤ 10 KB", mem["per_subscription_kb"] <= 10))
    rows.append(row("RSS growth, 3 cycles of 2,000", f"{mem['growth_mb']:.2f} MB", "after 5,000 closed",
                    mem["growth_mb"], "MB", "≤ 1 MB", mem["growth_mb"] <= 1))
    held = sc["connections"] >= 10_000 and sc["errors"] == 0 and sc["latency_ms"]["p99"] <= 100
    rows.append(row("connections held, one worker; p99 at 1,000 msg/s", f"{sc['connections']:,}",
                    f"p99 {sc['latency_ms']['p99']:.1f} ms", sc["latency_ms"]["p99"], "ms",
                    "10,000, p99 ≤ 100 ms", held, cpu(sc)))
    return rows


def render_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| figure | chat | reference | ratio / value | target | holds | CPU % server/load (chat vs ref) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = "" if r["value"] is None else (f"{r['value']:.2f}" if r["unit"] == "×" else f"{r['value']:.2f} {r['unit']}")
        holds = {True: "yes", False: "**no**", None: ""}[r["holds"]]
        lines.append(f"| {r['figure']} | {r['chat']} | {r['reference']} | {value} | {r['target']} | {holds} | {r['cpu'] or ''} |")
    return "\n".join(lines)


def plot(r: dict[str, Any], rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    ratios = [(row["figure"], row["value"], row["target"]) for row in rows if row["unit"] == "×" and "÷" not in row["figure"]]
    names = [name.replace(", req/s", "").replace(", frames/s", "").replace(", msg/s", "") for name, _, _ in ratios]
    values = [value for _, value, _ in ratios]
    colors = ["tab:green" if row["holds"] else ("tab:red" if row["holds"] is False else "tab:gray")
              for row in rows if row["unit"] == "×" and "÷" not in row["figure"]]
    left.barh(names, values, color=colors)
    for y, (_, value, target) in enumerate(ratios):
        left.text(value + 0.01, y, f"{value:.2f}  (target {target})", va="center", fontsize=8)
        if target.startswith("≥"):
            left.plot([float(target[1:]), float(target[1:])], [y - 0.4, y + 0.4], color="black", linewidth=2)
    left.set_xlim(0, 1.1)
    left.axvline(1.0, color="gray", linestyle=":")
    left.invert_yaxis()
    left.set_title("chat ÷ bare reference on the same uvicorn (1.0 = the stack's limit)", fontsize=9)

    dl, sc = r["delivery"], r["scale"]
    cases = [("bare WS, 200 subs", dl["paced_bare"]), ("chat, 200 subs", dl["paced_chat"]),
             ("chat, 10,000 conns", sc)]
    labels = [name for name, _ in cases]
    p50 = [case["latency_ms"]["p50"] for _, case in cases]
    p99 = [case["latency_ms"]["p99"] for _, case in cases]
    xs = range(len(cases))
    right.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
    right.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99")
    right.axhline(20, color="black", linestyle="--", linewidth=1, label="20 ms target (200 subs)")
    right.set_xticks(list(xs), labels, fontsize=8)
    right.set_ylabel("send-to-receive latency, ms")
    right.set_title("delivery latency at 1,000 msg/s", fontsize=9)
    right.legend(fontsize=8)
    fig.suptitle(r["machine"]["summary"], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    summary = (f"{model}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
               f"Python {platform.python_version()}; server on core {SERVER_CORE}, load on core {LOAD_CORE}")
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter measuring windows")
    args = parser.parse_args()
    for tool in ("wrk", "node", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: `{tool}` is missing (make bench installs it)")
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    gc.disable()  # this script only waits; keep its pauses out of the timings
    plan = Plan.of(args.quick)
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        steps = [
            ("http", lambda: http_throughput(plan, Path(tmp))),
            ("delivery", lambda: delivery(plan)),
            ("fanout", lambda: fanout_independence(plan, Path(tmp))),
            ("history", lambda: history(plan, Path(tmp))),
            ("memory", memory),
            ("scale", lambda: scale(plan)),
        ]
        for name, step in steps:
            clock = time.monotonic()
            results[name] = step()
            print(f"bench: {name} done in {time.monotonic() - clock:.0f} s", file=sys.stderr, flush=True)
    results["seconds"] = time.monotonic() - started
    rows = figures(results)
    results["table"] = rows
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    plot(results, rows, RESULTS / "plot.png")
    print(render_table(rows))
    print(f"\n{results['machine']['summary']}; run took {results['seconds']:.0f} s"
          f"{' (--quick)' if args.quick else ''}. Results: bench/results/results.json, bench/results/plot.png")


if __name__ == "__main__":
    main()
