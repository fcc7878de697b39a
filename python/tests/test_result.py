import fractions
import json
import os
import shutil
import tempfile
import unittest
from decimal import Decimal
from unittest import mock

import _support  # noqa: F401  (puts src/ on sys.path)
import sweepjob
from sweepjob import ResultError, report, validate_result
from sweepjob import result as result_mod


class Validate(unittest.TestCase):
    def reject(self, result, field, reason_part):
        with self.assertRaises(ResultError) as cm:
            validate_result(result)
        self.assertEqual(cm.exception.field, field)
        self.assertIn(reason_part, cm.exception.reason)
        return cm.exception

    def test_a_full_result_passes_with_plain_numbers(self):
        got = validate_result(
            {
                "metrics": {"V1": 0.22, "acc": fractions.Fraction(1, 4), "loss": -3},
                "n_params": 11689512.0,
                "n_samples_seen": 128000000,
                "total_flops": 4.6e17,
                "artifacts": {"checkpoint": "s3://bucket/run/ep100.pt"},
                "checkpoints": [{"epoch": 2.0, "n_samples_seen": 10, "total_flops": 1e9, "metrics": {"acc": 0.5}}],
            }
        )
        self.assertEqual(
            got,
            {
                "metrics": {"V1": 0.22, "acc": 0.25, "loss": -3},
                "n_params": 11689512,
                "n_samples_seen": 128000000,
                "total_flops": 4.6e17,
                "artifacts": {"checkpoint": "s3://bucket/run/ep100.pt"},
                "checkpoints": [{"epoch": 2, "n_samples_seen": 10, "total_flops": 1e9, "metrics": {"acc": 0.5}}],
            },
        )
        self.assertIs(type(got["n_params"]), int)
        self.assertIs(type(got["checkpoints"][0]["epoch"]), int)

    def test_metrics_are_required_but_may_be_empty(self):
        self.assertEqual(validate_result({"metrics": {}}), {"metrics": {}})
        self.reject({}, "metrics", "is required")
        self.reject({"metrics": [1]}, "metrics", "must be an object")

    def test_numbers_must_be_finite_numbers(self):
        for bad in (float("nan"), float("inf"), -float("inf"), 10**400):
            self.reject({"metrics": {"acc": bad}}, "metrics.acc", "must be a finite number (no NaN / Infinity)")
        for bad in (True, "0.5", None, Decimal("0.5"), [0.5]):
            self.reject({"metrics": {"acc": bad}}, "metrics.acc", "must be a number")

    def test_a_tensor_like_value_gets_a_hint(self):
        class Tensor:
            def item(self):
                return 0.5

        self.reject({"metrics": {"acc": Tensor()}}, "metrics.acc", "use .item()")

    def test_counts(self):
        self.reject({"metrics": {}, "n_params": 0}, "n_params", "whole number >= 1 (a count of parameters), got 0")
        self.reject({"metrics": {}, "n_params": 1.5}, "n_params", "whole number >= 1")
        self.reject({"metrics": {}, "n_params": True}, "n_params", "must be a number")
        self.reject({"metrics": {}, "n_samples_seen": 0}, "n_samples_seen", "must be > 0")
        self.reject({"metrics": {}, "total_flops": -1e9}, "total_flops", "must be > 0")
        self.reject({"metrics": {}, "total_flops": float("nan")}, "total_flops", "finite")
        self.assertEqual(validate_result({"metrics": {}, "n_params": 1, "n_samples_seen": 0.5}), {"metrics": {}, "n_params": 1, "n_samples_seen": 0.5})

    def test_unknown_fields_are_refused(self):
        self.reject({"metrics": {}, "n_param": 3}, "", "unknown field 'n_param'")
        self.reject({"metrics": {}, "checkpoints": [{"epoch": 1, "metrics": {}, "step": 3}]}, "checkpoints.0", "unknown field 'step'")
        self.reject([1, 2], "", "must be an object")

    def test_keys_must_be_strings(self):
        self.reject({"metrics": {1: 0.5}}, "metrics", "keys must be strings")
        self.reject({"metrics": {}, "artifacts": {"ck": 3}}, "artifacts.ck", "must be a string")

    def test_checkpoints(self):
        self.reject({"metrics": {}, "checkpoints": {"epoch": 1}}, "checkpoints", "must be a list")
        self.reject({"metrics": {}, "checkpoints": [{"metrics": {}}]}, "checkpoints.0.epoch", "is required")
        self.reject({"metrics": {}, "checkpoints": [{"epoch": 1}]}, "checkpoints.0.metrics", "is required")
        for bad in (-1, 1.5, True, 2**53, float("nan"), 10**400):
            self.reject({"metrics": {}, "checkpoints": [{"epoch": bad, "metrics": {}}]}, "checkpoints.0.epoch", "whole number from 0 to 2^53-1")
        self.reject({"metrics": {}, "checkpoints": [{"epoch": 0, "metrics": {}}, {"epoch": 1, "total_flops": 0, "metrics": {}}]}, "checkpoints.1.total_flops", "> 0")
        self.reject({"metrics": {}, "checkpoints": [{"epoch": 0, "metrics": {"acc": "x"}}]}, "checkpoints.0.metrics.acc", "must be a number")
        self.assertEqual(validate_result({"metrics": {}, "checkpoints": [{"epoch": 2**53 - 1, "metrics": {}}]})["checkpoints"][0]["epoch"], 2**53 - 1)

    def test_limits_are_those_of_spec_result_ts(self):
        self.assertEqual(
            (sweepjob.MAX_RESULT_BYTES, sweepjob.MAX_METRICS, sweepjob.MAX_METRIC_NAME, sweepjob.MAX_CHECKPOINTS, sweepjob.MAX_ARTIFACTS),
            (1048576, 1000, 200, 10000, 1000),
        )
        at = {"m%d" % i: 0.0 for i in range(1000)}
        self.assertEqual(len(validate_result({"metrics": at})["metrics"]), 1000)
        self.reject({"metrics": dict(at, extra=1.0)}, "metrics", "has 1001 metrics (limit 1000)")
        self.assertIn("n" * 200, validate_result({"metrics": {"n" * 200: 1}})["metrics"])
        self.reject({"metrics": {"n" * 201: 1}}, "metrics", "is 201 characters (limit 200)")
        # Counted as JavaScript does (UTF-16 units): 100 emoji are 200 units, 101 are 202.
        self.assertEqual(len(validate_result({"metrics": {"\U0001f600" * 100: 1}})["metrics"]), 1)
        self.reject({"metrics": {"\U0001f600" * 101: 1}}, "metrics", "is 202 characters")
        cks = [{"epoch": i, "metrics": {}} for i in range(10000)]
        self.assertEqual(len(validate_result({"metrics": {}, "checkpoints": cks})["checkpoints"]), 10000)
        self.reject({"metrics": {}, "checkpoints": cks + [{"epoch": 1, "metrics": {}}]}, "checkpoints", "has 10001 checkpoints (limit 10000)")
        arts = {"a%d" % i: "u" for i in range(1001)}
        self.reject({"metrics": {}, "artifacts": arts}, "artifacts", "has 1001 artifacts (limit 1000)")

    def test_required_metrics(self):
        with self.assertRaises(ResultError) as cm:
            validate_result({"metrics": {"V1": 1}}, required_metrics=["V1", "IT", "V4"])
        self.assertEqual(str(cm.exception), 'result field "metrics": is missing required metric(s): IT, V4')


class Report(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sweepjob-test-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, "result.json")

    def read(self):
        with open(self.path, "rb") as f:
            return f.read()

    def test_writes_compact_json_to_sweep_result_file(self):
        with mock.patch.dict(os.environ, {"SWEEP_RESULT_FILE": self.path}):
            out = report({"acc": 0.5, "é": 1}, n_params=7, total_flops=1e12, checkpoints=[{"epoch": 1, "metrics": {"acc": 0.25}}])
        self.assertEqual(self.read(), '{"metrics":{"acc":0.5,"é":1},"n_params":7,"total_flops":1000000000000.0,"checkpoints":[{"epoch":1,"metrics":{"acc":0.25}}]}'.encode("utf-8"))
        self.assertEqual(out["n_params"], 7)
        self.assertEqual(sorted(os.listdir(self.dir)), ["result.json"])  # no temp file left

    def test_replaces_atomically_via_rename(self):
        report({"acc": 0.1}, path=self.path)
        before = os.stat(self.path).st_ino
        report({"acc": 0.2}, path=self.path)
        self.assertEqual(json.loads(self.read()), {"metrics": {"acc": 0.2}})
        self.assertNotEqual(os.stat(self.path).st_ino, before)  # a new file renamed over, not rewritten

    def test_a_bad_result_writes_nothing(self):
        report({"acc": 0.1}, path=self.path)
        with self.assertRaises(ResultError):
            report({"acc": float("nan")}, path=self.path)
        self.assertEqual(json.loads(self.read()), {"metrics": {"acc": 0.1}})
        self.assertEqual(sorted(os.listdir(self.dir)), ["result.json"])

    def test_over_1_mib_is_refused(self):
        arts = {"a%d" % i: "x" * 1100 for i in range(960)}  # ~1.06 MB
        with self.assertRaises(ResultError) as cm:
            report({}, artifacts=arts, path=self.path)
        self.assertIn("over the limit of 1048576 bytes (1 MiB)", str(cm.exception))
        self.assertFalse(os.path.exists(self.path))
        ok = {"a%d" % i: "x" * 1000 for i in range(1000)}  # ~1.01 MB: under
        report({}, artifacts=ok, path=self.path)
        self.assertLessEqual(len(self.read()), 1048576)

    def test_termination_log_is_written_in_place_and_kept_under_4_kib(self):
        with open(self.path, "wb"):
            pass
        ino = os.stat(self.path).st_ino
        with mock.patch.object(result_mod, "TERMINATION_LOG", self.path):
            report({"acc": 0.5}, path=self.path)
            self.assertEqual(self.read(), b'{"metrics":{"acc":0.5}}')
            self.assertEqual(os.stat(self.path).st_ino, ino)  # same file: no rename onto the mount
            big = {"m%03d" % i: 0.123456789 for i in range(300)}  # ~5 KB
            with self.assertRaises(ResultError) as cm:
                report(big, path=self.path)
            self.assertIn("over the 4096 bytes Kubernetes keeps", str(cm.exception))
            self.assertEqual(self.read(), b'{"metrics":{"acc":0.5}}')

    def test_without_a_result_file_prints_the_json(self):
        env = {k: v for k, v in os.environ.items() if k != "SWEEP_RESULT_FILE"}
        with mock.patch.dict(os.environ, env, clear=True), mock.patch("sys.stdout") as out:
            report({"acc": 1.5}, n_params=3)
        out.write.assert_called_once_with('{"metrics":{"acc":1.5},"n_params":3}\n')


if __name__ == "__main__":
    unittest.main()
