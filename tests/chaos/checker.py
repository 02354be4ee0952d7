"""The chaos checker: reads a history of operations and says what was lost or stale.

A history is a list of operations (dicts, one JSON object per line in a history file):

  id        unique integer
  client    the client that ran it (int), or "final" for the closing reads
  workload  "set" or "register"
  f         "write" or "read"
  key, value
            value: the value written, or the value read (None for a read that found nothing)
  invoke, complete
            milliseconds on one monotonic clock (the harness's); complete is None for a write
            whose outcome is unknown
  result    write: "ok" (acknowledged), "fail" (refused, nothing written), "indeterminate"
            (timed out or the connection dropped after sending: it may or may not apply)
            read: "ok" (value), "not_found", "fail" (no answer: unavailable)
  node      the coordinator the request was sent to ("127.0.0.1:PORT")
  error     what the client saw when it was not "ok"

What is checked:
  set       every acknowledged write must be read back, with its value, by the final reads
            (a key that cannot be read after recovery counts as lost: nothing proves it is
            there). Values are unique per key.
  register  a few keys, read and written by every client; values are unique per write. The
            store is last-writer-wins on versions its owners stamp, so of two writes the one
            that began after the other was acknowledged must win. For a read R, let M be the
            latest invoke time of a write acknowledged before R began: every write that
            completed before M was overwritten before R began, so R must return a write that
            did not complete before M (one concurrent with or after it; an indeterminate write
            never completes), that began before R completed and that did not fail. A read
            finding nothing after some write was acknowledged is stale too.

            "Completed before M" allows for the versions' clock: a version is a hybrid logical
            clock stamp whose physical part counts milliseconds (storage/hlc.h). Two writes
            stamped by different leaders (two coordinators whose views of who is alive differ,
            as in the seconds after a partition heals) within the same millisecond are ordered
            by the clocks' logical counters, not by real time; one stamped at least a
            millisecond later on the same wall clock always wins. So a write counts as
            overwritten only if it completed CLOCK_RESOLUTION_MS or more before M.
"""

import bisect
import json
from collections import defaultdict


# The physical resolution of a version stamp (see the module's docstring).
CLOCK_RESOLUTION_MS = 1.0


class Anomaly:
    def __init__(self, kind, message, ops):
        self.kind = kind  # "lost" or "stale"
        self.message = message
        self.ops = ops  # the few operations that prove it

    def __repr__(self):
        return "Anomaly(%s, %s)" % (self.kind, self.message)


class Result:
    def __init__(self):
        self.acked = 0
        self.lost = 0
        self.stale = 0
        self.unavailable = 0
        self.indeterminate = 0
        self.anomalies = []

    @property
    def valid(self):
        return self.lost == 0 and self.stale == 0

    def closing_line(self):
        return ("chaos: %d acknowledged writes, %d lost, %d stale reads, %d unavailable, "
                "%d indeterminate" % (self.acked, self.lost, self.stale, self.unavailable,
                                      self.indeterminate))


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def check(history):
    result = Result()
    for op in history:
        if op["f"] == "write":
            if op["result"] == "ok":
                result.acked += 1
            elif op["result"] == "indeterminate":
                result.indeterminate += 1
            else:
                result.unavailable += 1
        elif op["result"] == "fail":
            result.unavailable += 1
    _check_sets(history, result)
    _check_registers(history, result)
    return result


def _check_sets(history, result):
    final = {}  # key -> the last final read that answered
    writes = []
    for op in history:
        if op["workload"] != "set":
            continue
        if op["f"] == "write" and op["result"] == "ok":
            writes.append(op)
        elif op["f"] == "read" and op["client"] == "final" and op["result"] != "fail":
            if op["key"] not in final or final[op["key"]]["invoke"] <= op["invoke"]:
                final[op["key"]] = op
    for w in writes:
        r = final.get(w["key"])
        if r is None:
            why = "acknowledged write of %r could not be read after recovery" % w["key"]
        elif r["result"] == "not_found":
            why = "acknowledged write of %r is gone: the final read found nothing" % w["key"]
        elif r["value"] != w["value"]:
            why = "acknowledged write of %r=%r reads back as %r" % (w["key"], w["value"],
                                                                    r["value"])
        else:
            continue
        result.lost += 1
        result.anomalies.append(Anomaly("lost", why, [w] + ([r] if r else [])))


def _check_registers(history, result):
    by_key = defaultdict(list)
    for op in history:
        if op["workload"] == "register":
            by_key[op["key"]].append(op)
    for key, ops in by_key.items():
        writes = {op["value"]: op for op in ops if op["f"] == "write"}
        acked = sorted((op for op in ops if op["f"] == "write" and op["result"] == "ok"),
                       key=lambda op: op["complete"])
        completes = [op["complete"] for op in acked]
        # latest[i]: the acknowledged write with the latest invoke among acked[:i+1].
        latest = []
        for op in acked:
            latest.append(op if not latest or op["invoke"] > latest[-1]["invoke"] else latest[-1])
        for r in ops:
            if r["f"] != "read" or r["result"] == "fail":
                continue
            n = bisect.bisect_left(completes, r["invoke"])  # acked before the read began
            frontier = latest[n - 1] if n else None
            why = _judge_read(r, frontier, writes)
            if why:
                proof = [r] + ([frontier] if frontier else [])
                w = writes.get(r["value"]) if r["result"] == "ok" else None
                if w is not None and w is not frontier:
                    proof.insert(0, w)
                result.stale += 1
                result.anomalies.append(Anomaly("stale", "key %r: %s" % (key, why),
                                                sorted(proof, key=lambda op: op["invoke"])))


def _judge_read(r, frontier, writes):
    """Why the read `r` is not allowed, or None when it is."""
    if r["result"] == "not_found":
        if frontier is not None:
            return ("read found nothing although write %r was acknowledged before it began"
                    % frontier["value"])
        return None
    w = writes.get(r["value"])
    if w is None:
        return "read %r, a value never written" % r["value"]
    if w["result"] == "fail":
        return "read %r, a write that was refused" % r["value"]
    if w["invoke"] > r["complete"]:
        return "read %r, a write that began after the read completed" % r["value"]
    if (frontier is not None and w["complete"] is not None
            and w["complete"] + CLOCK_RESOLUTION_MS <= frontier["invoke"]):
        return ("read %r, overwritten by %r (acknowledged before the read began)"
                % (r["value"], frontier["value"]))
    return None


def describe(result, limit=5):
    """Lines for a person: the first anomalies of each kind with the operations proving them."""
    lines = []
    shown = defaultdict(int)
    for a in result.anomalies:
        shown[a.kind] += 1
        if shown[a.kind] > limit:
            continue
        lines.append("%s: %s" % (a.kind.upper(), a.message))
        for op in a.ops:
            lines.append("    " + json.dumps(op, sort_keys=True))
    for kind, n in sorted(shown.items()):
        if n > limit:
            lines.append("... and %d more %s" % (n - limit, kind))
    return lines
