#!/usr/bin/env python3
"""A Jepsen-style chaos run against real storeserver processes on 127.0.0.1.

Starts a cluster (RocksDB data dirs in a temporary directory), runs client workloads while a
nemesis kills, pauses, partitions, skews clocks and adds/removes nodes on a schedule derived
from --seed, heals everything, waits for the cluster to converge, reads back, runs the checker
(checker.py) and prints one closing line:

  chaos: <acked> acknowledged writes, <lost> lost, <stale> stale reads, <unavailable> unavailable, <indeterminate> indeterminate

Exit status: 0 when nothing acknowledged was lost and no read was stale, 1 when something was,
2 on a usage error or when the harness itself could not run (a node would not start, ...).

Partitions and clock offsets are made inside the nodes by failpoints (locator/rpc/failpoints.h):
each node is started with THRIFTY_FAILPOINTS=<its rules file>, which this harness rewrites.
Every process started here is killed by its pid on every way out (and dies with this process:
PR_SET_PDEATHSIG; all of them are started from the main thread, which lives to the end).
"""

import argparse
import ctypes
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import checker  # noqa: E402

FAMILIES = ("kill", "pause", "partition", "clock", "join-leave")
WORKLOADS = ("set", "register")
REGISTER_KEYS = 5
CLIENT_TIMEOUT_MS = 6000   # above the nodes' 5 s call deadline: their own answer comes first
START_TIMEOUT_S = 60       # a node answering ping (sanitized builds start slowly)
CONVERGE_TIMEOUT_S = 90    # every node seeing the same ring after healing
FINAL_READ_TIMEOUT_S = 60  # retrying final reads that get no answer
LEAVE_TIMEOUT_S = 60       # a clean leave hands off its keys first


def log(msg):
    print(msg, flush=True)


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted("signal %d" % signum)


# ---------------------------------------------------------------------------------------------
# Processes

def die_with_parent():
    """In the child before exec: SIGKILL it when the thread that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def port_is_free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port_range(count, rng):
    for _ in range(200):
        base = rng.randint(20000, 60000 - count)
        if all(port_is_free(p) for p in range(base, base + count)):
            return base
    raise RuntimeError("no %d free consecutive ports on 127.0.0.1" % count)


class Node:
    """One storeserver with its data dir, log and failpoints file; restartable in place."""

    def __init__(self, harness, index, port, extra=False):
        self.h = harness
        self.index = index
        self.port = port
        self.extra = extra
        self.name = "127.0.0.1:%d" % port
        self.data_dir = os.path.join(harness.tmp, "node-%d" % port)
        self.rules_path = os.path.join(harness.tmp, "failpoints-%d" % port)
        self.log_path = os.path.join(harness.tmp, "node-%d.log" % port)
        self.proc = None
        self.paused = False
        self.blocked = set()
        self.clock_offset_ms = 0
        self.write_rules()

    def write_rules(self):
        lines = ["block %s" % peer for peer in sorted(self.blocked)]
        lines.append("clock_offset_ms %d" % self.clock_offset_ms)
        tmp = self.rules_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(tmp, self.rules_path)  # atomic: a node never reads half a file

    def start(self, peers):
        args = [self.h.storeserver, "--port=%d" % self.port, "--data-dir=" + self.data_dir,
                "--discover-from=%d" % self.h.base_port, "--discover-to=%d" % self.h.last_port]
        if peers:
            args.append("--peer=" + ",".join(p.name for p in peers))
        if self.h.args.replicas:
            args.append("--replicas=%d" % self.h.args.replicas)
        env = dict(os.environ, THRIFTY_FAILPOINTS=self.rules_path)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env,
                                         preexec_fn=die_with_parent)
        self.h.pids.add(self.proc.pid)
        self.paused = False
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("node %s exited with %s at start; log: %s"
                                   % (self.name, self.proc.returncode, self.log_path))
            try:
                with self.h.connect(self, 1000) as client:
                    client.ping()
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("node %s did not answer within %d s; log: %s"
                           % (self.name, START_TIMEOUT_S, self.log_path))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def kill(self):
        """SIGKILL by pid and reap (a stopped process dies too)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.h.pids.discard(self.proc.pid)
        self.paused = False

    def leave(self):
        """SIGTERM (a clean leave: hand off every key, tell every peer); SIGKILL past the bound."""
        if not self.running():
            return True
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=LEAVE_TIMEOUT_S)
            clean = self.proc.returncode == 0
        except subprocess.TimeoutExpired:
            clean = False
        self.kill()
        return clean


# ---------------------------------------------------------------------------------------------
# Thrift client

class Connection:
    def __init__(self, gen, node, timeout_ms):
        from thrift.protocol import TBinaryProtocol
        from thrift.transport import TSocket, TTransport
        sock = TSocket.TSocket("127.0.0.1", node.port)
        sock.setTimeout(timeout_ms)
        self.transport = TTransport.TFramedTransport(sock)
        protocol = TBinaryProtocol.TBinaryProtocol(self.transport, strictRead=True,
                                                   strictWrite=True)
        self.client = gen.Store.Client(protocol)
        self.transport.open()

    def __enter__(self):
        return self.client

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.transport.close()
        except Exception:
            pass


# A StoreError saying an owner could not be reached after the request may have been sent to it
# (a timeout, a reset, a dropped connection) leaves the write's outcome unknown. One whose cause
# is a refused or blocked connection was never sent.
NEVER_SENT = ("Connection refused", "is blocked", "connect() failed", "Could not connect")


def classify_store_error(message):
    if "unreachable" in message and not any(s in message for s in NEVER_SENT):
        return "indeterminate"
    return "fail"


class Client(threading.Thread):
    def __init__(self, harness, index, workload, rng):
        super().__init__(name="client-%d" % index, daemon=True)
        self.h = harness
        self.index = index
        self.workload = workload
        self.rng = rng
        self.conns = {}
        self.count = 0

    def run(self):
        try:
            # Rate-limited so that a long run's history stays small enough to check in memory.
            pause = self.h.args.clients / float(self.h.args.rate)
            while not self.h.stop_clients.wait(pause):
                self.step()
        except Exception as e:  # a harness bug: stop the run rather than hide it
            self.h.client_errors.append("%s: %r" % (self.name, e))
        finally:
            for c in self.conns.values():
                c.close()

    def step(self):
        node = self.rng.choice(self.h.core)
        self.count += 1
        if self.workload == "set":
            key = "s-%d-%d" % (self.index, self.count)
            self.write(node, key, "v-%d-%d" % (self.index, self.count))
        else:
            key = "r-%d" % self.rng.randrange(REGISTER_KEYS)
            if self.rng.random() < 0.5:
                self.write(node, key, "c%d-%d" % (self.index, self.count))
            else:
                self.read(node, key)

    def connection(self, node):
        conn = self.conns.get(node.port)
        if conn is None:
            conn = Connection(self.h.gen, node, CLIENT_TIMEOUT_MS)
            self.conns[node.port] = conn
        return conn

    def drop(self, node):
        conn = self.conns.pop(node.port, None)
        if conn:
            conn.close()

    def write(self, node, key, value):
        op = self.h.invoke(self.index, self.workload, "write", key, value, node)
        try:
            conn = self.connection(node)
        except Exception as e:  # could not connect: nothing was sent
            self.h.complete(op, "fail", error=repr(e))
            time.sleep(0.05)
            return
        try:
            conn.client.put(key, value.encode(), self.h.level)
            self.h.complete(op, "ok")
        except self.h.gen.StoreError as e:
            self.h.complete(op, classify_store_error(e.message), error=e.message)
            time.sleep(0.01)  # a refusal comes fast: do not spin on it
        except self.h.gen.Unavailable as e:  # refused from the view: nothing was sent
            self.h.complete(op, "fail", error=e.message)
            time.sleep(0.01)
        except self.h.gen.TimedOut as e:  # some replicas stored it, fewer than required
            self.h.complete(op, "indeterminate", error=e.message)
        except Exception as e:  # sent, then a timeout or a dropped connection
            self.drop(node)
            self.h.complete(op, "indeterminate", error=repr(e))

    def read(self, node, key):
        op = self.h.invoke(self.index, self.workload, "read", key, None, node)
        try:
            conn = self.connection(node)
            value = conn.client.get(key, self.h.level)
            self.h.complete(op, "ok", value=value.decode())
        except self.h.gen.NotFound:
            self.h.complete(op, "not_found")
        except (self.h.gen.StoreError, self.h.gen.Unavailable) as e:
            self.h.complete(op, "fail", error=e.message)
            time.sleep(0.01)
        except Exception as e:
            self.drop(node)
            self.h.complete(op, "fail", error=repr(e))
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Nemesis schedule: a list of events, each healed before the next begins.

def make_schedule(rng, families, seconds, nodes):
    events = []
    t = 2.0
    while True:
        family = rng.choice(families)
        duration = rng.uniform(2.0, 4.0) if family == "pause" else rng.uniform(3.0, 8.0)
        if t + duration > seconds - 1.0:
            break
        ev = {"at": round(t, 2), "family": family, "seconds": round(duration, 2)}
        if family in ("kill", "pause"):
            ev["nodes"] = [rng.randrange(nodes)]
        elif family == "partition":
            kinds = ["isolate", "halves"] + (["bridge"] if nodes >= 3 else [])
            kind = rng.choice(kinds)
            order = list(range(nodes))
            rng.shuffle(order)
            if kind == "isolate":
                groups = [order[:1], order[1:]]
            elif kind == "halves":
                cut = nodes // 2
                groups = [order[:cut], order[cut:]]  # minority, majority
            else:  # two sides that only the bridge node sees both of
                bridge, rest = order[0], order[1:]
                cut = len(rest) // 2
                groups = [rest[:cut] + [bridge], rest[cut:] + [bridge]]
            ev["partition"] = kind
            ev["groups"] = [sorted(g) for g in groups]
        elif family == "clock":
            ev["offsets_ms"] = [rng.choice([-1, 1]) * rng.randrange(0, 10000)
                                for _ in range(nodes)]
        events.append(ev)
        t += duration + rng.uniform(2.0, 4.0)  # healed and quiet before the next one
    return events


def blocked_pairs(groups, nodes):
    """Pairs of node indices that may not talk: those that share no group."""
    pairs = set()
    for a in range(nodes):
        for b in range(nodes):
            if a != b and not any(a in g and b in g for g in groups):
                pairs.add((a, b))
    return pairs


# ---------------------------------------------------------------------------------------------

class Harness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        bin_dir = args.bin
        self.storeserver = os.path.join(bin_dir, "storeserver")
        if not os.access(self.storeserver, os.X_OK):
            raise SystemExit("chaos: no storeserver in %s (run scripts/build)" % bin_dir)
        sys.path.insert(0, args.gen)
        logging.getLogger("thrift").setLevel(logging.CRITICAL)
        from diststore import Store
        from diststore.ttypes import Consistency, NotFound, StoreError, TimedOut, Unavailable
        self.gen = argparse.Namespace(Store=Store, NotFound=NotFound, StoreError=StoreError,
                                      Unavailable=Unavailable, TimedOut=TimedOut)
        # The level every request names (None: the node's default).
        self.level = (getattr(Consistency, args.consistency.upper())
                      if args.consistency else None)
        self.tmp = tempfile.mkdtemp(prefix="thrifty-chaos-")
        self.pids = set()
        self.core = []
        self.extras = []
        self.history = []
        self.history_lock = threading.Lock()
        self.next_id = 0
        self.t0 = time.monotonic()
        self.stop_clients = threading.Event()
        self.client_errors = []
        self.notes = []

    # -- history --
    def now_ms(self):
        return round((time.monotonic() - self.t0) * 1000.0, 3)

    def invoke(self, client, workload, f, key, value, node):
        with self.history_lock:
            self.next_id += 1
            op = {"id": self.next_id, "client": client, "workload": workload, "f": f,
                  "key": key, "value": value, "invoke": self.now_ms(), "complete": None,
                  "result": None, "node": node.name, "error": None}
        return op

    def complete(self, op, result, value=None, error=None):
        # An indeterminate write may still apply later (a paused owner wakes up): it never
        # completes as far as the checker is concerned; "returned" says when the client gave up.
        op["returned"] = self.now_ms()
        op["complete"] = None if result == "indeterminate" else op["returned"]
        op["result"] = result
        if op["f"] == "read":
            op["value"] = value
        op["error"] = error
        with self.history_lock:
            self.history.append(op)

    def connect(self, node, timeout_ms):
        return Connection(self.gen, node, timeout_ms)

    # -- cluster --
    def start_cluster(self):
        span = self.args.nodes + 8
        self.base_port = free_port_range(span, random.Random())
        self.last_port = self.base_port + span - 1
        self.spare_ports = list(range(self.base_port + self.args.nodes, self.last_port + 1))
        for i in range(self.args.nodes):
            node = Node(self, i, self.base_port + i)
            node.start(self.core[:1])
            self.core.append(node)
        self.wait_converged([n.name for n in self.core])
        log("chaos: %d nodes on 127.0.0.1:%d-%d, data in %s"
            % (self.args.nodes, self.base_port, self.base_port + self.args.nodes - 1, self.tmp))

    def ring_of(self, node):
        with self.connect(node, 2000) as client:
            return sorted("%s:%d" % (l.address, l.port) for l in client.get_all())

    def wait_converged(self, expected, timeout_s=CONVERGE_TIMEOUT_S):
        """Until every core node's ring is exactly `expected`; False past the bound."""
        expected = sorted(expected)
        deadline = time.monotonic() + timeout_s
        seen = {}
        while time.monotonic() < deadline:
            seen = {}
            for n in self.core:
                try:
                    seen[n.name] = self.ring_of(n)
                except Exception as e:
                    seen[n.name] = repr(e)
            if all(r == expected for r in seen.values()):
                return True
            time.sleep(0.2)
        self.notes.append("cluster did not converge within %d s: %s" % (timeout_s, seen))
        return False

    def shutdown(self):
        for n in self.core + self.extras:
            try:
                n.kill()
            except Exception:
                pass
        for pid in list(self.pids):  # anything the loop above missed, by pid
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pids.discard(pid)

    # -- nemesis --
    def set_blocks(self, pairs):
        for n in self.core:
            n.blocked = {self.core[b].name for (a, b) in pairs if a == n.index}
            n.write_rules()

    def set_offsets(self, offsets):
        for n, off in zip(self.core, offsets):
            n.clock_offset_ms = off
            n.write_rules()

    def run_event(self, ev, deadline):
        family = ev["family"]
        until = time.monotonic() + ev["seconds"]
        if family == "kill":
            node = self.core[ev["nodes"][0]]
            node.kill()
            self.sleep_until(until)
            node.start([p for p in self.core if p is not node])
        elif family == "pause":
            node = self.core[ev["nodes"][0]]
            node.signal(signal.SIGSTOP)
            node.paused = True
            try:
                self.sleep_until(until)
            finally:
                node.signal(signal.SIGCONT)
                node.paused = False
        elif family == "partition":
            self.set_blocks(blocked_pairs(ev["groups"], len(self.core)))
            try:
                self.sleep_until(until)
            finally:
                self.set_blocks(set())
        elif family == "clock":
            self.set_offsets(ev["offsets_ms"])
            try:
                self.sleep_until(until)
            finally:
                self.set_offsets([0] * len(self.core))
        elif family == "join-leave":
            port = self.spare_ports.pop(0)
            self.spare_ports.append(port)
            node = Node(self, len(self.core) + len(self.extras), port, extra=True)
            shutil.rmtree(node.data_dir, ignore_errors=True)  # a new node each time
            self.extras.append(node)
            node.start(self.core)
            self.sleep_until(until)
            if not node.leave():
                self.notes.append("extra node %s did not leave cleanly within %d s"
                                  % (node.name, LEAVE_TIMEOUT_S))
            self.extras.remove(node)

    def sleep_until(self, t):
        while True:
            left = t - time.monotonic()
            if left <= 0:
                return
            if self.client_errors:
                raise RuntimeError("client failed: %s" % self.client_errors[0])
            time.sleep(min(left, 0.1))

    # -- final reads --
    def final_reads(self):
        keys = {}
        for op in self.history:
            if op["f"] == "write":
                keys[op["key"]] = op["workload"]
        pending = sorted(keys)
        deadline = time.monotonic() + FINAL_READ_TIMEOUT_S
        attempt = 0
        while pending and time.monotonic() < deadline:
            node = self.core[attempt % len(self.core)]
            attempt += 1
            batch, pending = pending[:200], pending[200:]
            op0 = self.now_ms()
            try:
                with self.connect(node, CLIENT_TIMEOUT_MS) as client:
                    found = client.multi_get(batch, self.level)
            except Exception as e:
                pending = batch + pending
                err = getattr(e, "message", None) or repr(e)
                if attempt % 20 == 0:
                    log("chaos: final reads still failing: %s" % err)
                time.sleep(0.2)
                continue
            op1 = self.now_ms()
            for key in batch:
                value = found.get(key)
                self.history.append({
                    "id": self.next_id + 1, "client": "final", "workload": keys[key],
                    "f": "read", "key": key,
                    "value": value.decode() if value is not None else None, "invoke": op0,
                    "complete": op1, "result": "ok" if value is not None else "not_found",
                    "node": node.name, "error": None})
                self.next_id += 1
        for key in pending:
            self.next_id += 1
            self.history.append({
                "id": self.next_id, "client": "final", "workload": keys[key], "f": "read",
                "key": key, "value": None, "invoke": self.now_ms(), "complete": self.now_ms(),
                "result": "fail", "node": None, "error": "no answer within %d s"
                % FINAL_READ_TIMEOUT_S})

    # -- the run --
    def run(self):
        args = self.args
        families = args.nemesis
        schedule = make_schedule(random.Random(args.seed), families, args.seconds, args.nodes)
        log("chaos: seed %d, %d nodes, %d s, %d clients, nemesis %s, workload %s"
            % (args.seed, args.nodes, args.seconds, args.clients, ",".join(families),
               ",".join(args.workload)))
        for ev in schedule:
            log("chaos: schedule %s" % json.dumps(ev, sort_keys=True))
        self.start_cluster()
        self.t0 = time.monotonic()
        clients = []
        for i in range(args.clients):
            workload = args.workload[i % len(args.workload)]
            clients.append(Client(self, i, workload, random.Random(args.seed * 1000 + i)))
        for c in clients:
            c.start()
        start = time.monotonic()
        end = start + args.seconds
        try:
            for ev in schedule:
                self.sleep_until(start + ev["at"])
                log("chaos: %6.1f s %s" % (time.monotonic() - start, json.dumps(ev, sort_keys=True)))
                self.run_event(ev, end)
            self.sleep_until(end)
        finally:
            self.stop_clients.set()
            for c in clients:
                c.join(timeout=CLIENT_TIMEOUT_MS / 1000.0 + 5)
        # Heal everything (each event healed itself; this is belt and braces).
        self.set_blocks(set())
        self.set_offsets([0] * len(self.core))
        for n in self.core:
            if not n.running():
                n.start([p for p in self.core if p is not n and p.running()])
        log("chaos: healed; waiting for every node to see the same ring")
        self.wait_converged([n.name for n in self.core])
        self.final_reads()
        self.history.sort(key=lambda op: op["id"])
        if args.history:
            with open(args.history, "w") as f:
                for op in self.history:
                    f.write(json.dumps(op, sort_keys=True) + "\n")
        result = checker.check(self.history)
        by_family = {}
        for ev in schedule:
            by_family[ev["family"]] = by_family.get(ev["family"], 0) + 1
        log("chaos: %d operations, nemesis events %s" % (len(self.history), by_family))
        for note in self.notes:
            log("chaos: note: " + note)
        for line in checker.describe(result):
            log(line)
        return result


def parse_args(argv):
    p = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--nemesis", default=",".join(FAMILIES),
                   help="comma-separated: " + ",".join(FAMILIES))
    p.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    p.add_argument("--workload", default="set,register", help="comma-separated: set,register")
    p.add_argument("--rate", type=int, default=500,
                   help="operations per second, all clients together (at most)")
    p.add_argument("--history", default=None, help="write every operation here (JSON lines)")
    p.add_argument("--replicas", type=int, default=None,
                   help="copies of each key (storeserver --replicas; default: the node's)")
    p.add_argument("--consistency", default=None, choices=["one", "quorum", "all"],
                   help="level every request names (default: the node's)")
    p.add_argument("--keep", action="store_true", help="keep data dirs and logs")
    p.add_argument("--bin", required=True, help=argparse.SUPPRESS)
    p.add_argument("--gen", required=True, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.nemesis = [f for f in args.nemesis.split(",") if f]
    args.workload = [w for w in args.workload.split(",") if w]
    for f in args.nemesis:
        if f not in FAMILIES:
            p.error("unknown nemesis %r (one of %s)" % (f, ",".join(FAMILIES)))
    for w in args.workload:
        if w not in WORKLOADS:
            p.error("unknown workload %r (one of %s)" % (w, ",".join(WORKLOADS)))
    if not args.nemesis or not args.workload:
        p.error("--nemesis and --workload need at least one entry")
    if args.nodes < 1 or args.clients < 1 or args.seconds < 1 or args.rate < 1:
        p.error("--nodes, --clients, --seconds and --rate must be positive")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    return args


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    h = None
    result = None
    try:
        h = Harness(args)
        result = h.run()
    except Interrupted as e:
        log("chaos: interrupted (%s)" % e)
        return 130
    except RuntimeError as e:
        log("chaos: harness failure: %s" % e)
        return 2
    finally:
        if h is not None:
            h.stop_clients.set()
            h.shutdown()
            if args.keep or (result is not None and not result.valid):
                log("chaos: data dirs and node logs kept in %s" % h.tmp)
            else:
                shutil.rmtree(h.tmp, ignore_errors=True)
    log(result.closing_line())
    return 0 if result.valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
