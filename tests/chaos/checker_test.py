#!/usr/bin/env python3
"""The chaos checker on hand-made histories: it must catch a lost write and a stale read, and
pass a clean history (including the concurrent writes last-writer-wins allows)."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

_next_id = [0]


def op(f, key, value, invoke, complete, result="ok", client=0, workload="register"):
    _next_id[0] += 1
    return {"id": _next_id[0], "client": client, "workload": workload, "f": f, "key": key,
            "value": value, "invoke": invoke, "complete": complete, "result": result,
            "node": "127.0.0.1:9900", "error": None}


def final_read(key, value, t, result="ok", workload="set"):
    return op("read", key, value, t, t + 1, result=result, client="final", workload=workload)


class SetTest(unittest.TestCase):
    def test_clean(self):
        h = [op("write", "s-0-0", "a", 0, 5, workload="set"),
             op("write", "s-0-1", "b", 6, None, result="indeterminate", workload="set"),
             op("write", "s-0-2", "c", 7, 8, result="fail", workload="set"),
             final_read("s-0-0", "a", 100), final_read("s-0-1", None, 100, "not_found")]
        r = checker.check(h)
        self.assertTrue(r.valid, checker.describe(r))
        self.assertEqual((r.acked, r.lost, r.stale, r.unavailable, r.indeterminate),
                         (1, 0, 0, 1, 1))

    def test_lost_write_is_caught(self):
        h = [op("write", "s-0-0", "a", 0, 5, workload="set"),
             op("write", "s-1-0", "b", 1, 4, client=1, workload="set"),
             final_read("s-0-0", "a", 100), final_read("s-1-0", None, 100, "not_found")]
        r = checker.check(h)
        self.assertFalse(r.valid)
        self.assertEqual(r.lost, 1)
        self.assertIn("s-1-0", r.anomalies[0].message)
        self.assertEqual([o["key"] for o in r.anomalies[0].ops], ["s-1-0", "s-1-0"])

    def test_unreadable_after_recovery_counts_as_lost(self):
        h = [op("write", "s-0-0", "a", 0, 5, workload="set"),
             final_read("s-0-0", None, 100, "fail")]
        r = checker.check(h)
        self.assertEqual((r.lost, r.unavailable), (1, 1))

    def test_wrong_value_is_lost(self):
        h = [op("write", "s-0-0", "a", 0, 5, workload="set"), final_read("s-0-0", "zz", 100)]
        self.assertEqual(checker.check(h).lost, 1)


class RegisterTest(unittest.TestCase):
    def test_clean_with_concurrent_writes(self):
        h = [op("read", "r", None, 0, 1, result="not_found"),
             op("write", "r", "a", 2, 10, client=0),
             op("write", "r", "b", 3, 12, client=1),    # concurrent with a: either may win
             op("read", "r", "a", 13, 14, client=2),
             op("read", "r", "b", 13, 15, client=3),
             op("write", "r", "c", 16, None, result="indeterminate"),
             op("read", "r", "b", 17, 18, client=2),     # c may not have happened
             op("read", "r", "c", 19, 20, client=3),     # or it did
             op("write", "r", "d", 21, 22, result="fail"),
             op("read", "r", "c", 23, 24, client=4),
             op("write", "r", "e", 30, 40, client=1),
             op("read", "r", "b", 35, 36, client=2),     # concurrent with e: the old value
             final_read("r", "e", 100, workload="register")]
        r = checker.check(h)
        self.assertTrue(r.valid, checker.describe(r))
        self.assertEqual((r.acked, r.indeterminate, r.unavailable), (3, 1, 1))

    def test_stale_read_is_caught(self):
        h = [op("write", "r", "a", 0, 5, client=0),
             op("write", "r", "b", 6, 9, client=1),      # began after a was acknowledged
             op("read", "r", "a", 10, 11, client=2)]     # began after b was acknowledged
        r = checker.check(h)
        self.assertFalse(r.valid)
        self.assertEqual(r.stale, 1)
        self.assertIn("overwritten by 'b'", r.anomalies[0].message)
        self.assertEqual([o["value"] for o in r.anomalies[0].ops], ["a", "b", "a"])

    def test_writes_within_the_version_clocks_resolution_are_concurrent(self):
        # Chaos partition run (seed 3), right after the heal: a through node 0 and b through
        # node 2 (whose views gave the key different leaders), 0.42 ms apart; both stamped in
        # one millisecond, a won on the logical counter.
        h = [op("write", "r", "a", 10376.761, 10377.175, client=3),
             op("write", "r", "b", 10377.594, 10377.981, client=1),
             op("read", "r", "a", 10386.11, 10386.609, client=1)]
        self.assertTrue(checker.check(h).valid)
        # A millisecond or more later, b's stamp is above a's on any leader: a is stale.
        h[1] = op("write", "r", "b", 10378.175, 10378.5, client=1)
        r = checker.check(h)
        self.assertEqual(r.stale, 1, checker.describe(r))

    def test_not_found_after_an_acknowledged_write_is_stale(self):
        h = [op("write", "r", "a", 0, 5), op("read", "r", None, 6, 7, result="not_found")]
        self.assertEqual(checker.check(h).stale, 1)

    def test_read_of_a_refused_or_unknown_write_is_caught(self):
        h = [op("write", "r", "a", 0, 5, result="fail"), op("read", "r", "a", 6, 7),
             op("read", "r", "zz", 6, 7)]
        self.assertEqual(checker.check(h).stale, 2)

    def test_history_file_round_trip(self):
        h = [op("write", "r", "a", 0, 5), op("read", "r", "a", 6, 7)]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for o in h:
                f.write(json.dumps(o) + "\n")
        try:
            r = checker.check(checker.load(f.name))
        finally:
            os.unlink(f.name)
        self.assertTrue(r.valid)
        self.assertEqual(r.closing_line(), "chaos: 1 acknowledged writes, 0 lost, 0 stale reads, "
                                           "0 unavailable, 0 indeterminate")


if __name__ == "__main__":
    unittest.main()
