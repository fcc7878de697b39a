import json
import os
import shutil
import tempfile
import unittest

import _support  # noqa: F401  (puts src/ on sys.path)
from sweepjob import ContractError, Run, current

FULL = {
    "SWEEP_RUN": json.dumps({"sweep": "digits", "runId": "w8-10-ab12cd34", "attempt": 2, "axes": {"width": 8, "spc": 10}}),
    "SWEEP_RUN_ID": "w8-10-ab12cd34",
    "SWEEP_ATTEMPT": "2",
    "SWEEP_STAGE": "evaluate",
    "SWEEP_RESUME": "1",
    "SWEEP_CHECKPOINT_DIR": "/ck/digits/w8-10-ab12cd34",
    "SWEEP_CHECKPOINT_URI": "s3://bucket/ck/digits/w8-10-ab12cd34",
    "SWEEP_TRAIN_RESULT": '{"metrics":{},"n_params":1234,"checkpoints":[{"epoch":3,"metrics":{}}]}',
    "SWEEP_RESULT_FILE": "/tmp/r.json",
    "SWEEP_GPUS": "0",
}


class CurrentRun(unittest.TestCase):
    def test_reads_every_variable_of_the_contract(self):
        self.assertEqual(
            current(FULL),
            Run(
                sweep="digits",
                run_id="w8-10-ab12cd34",
                attempt=2,
                axes={"width": 8, "spc": 10},
                stage="evaluate",
                resume=True,
                checkpoint_dir="/ck/digits/w8-10-ab12cd34",
                checkpoint_uri="s3://bucket/ck/digits/w8-10-ab12cd34",
                train_result={"metrics": {}, "n_params": 1234, "checkpoints": [{"epoch": 3, "metrics": {}}]},
                result_file="/tmp/r.json",
                gpus=0,
            ),
        )
        self.assertTrue(current(FULL).in_sweep)

    def test_outside_a_sweep_has_defaults(self):
        run = current({})
        self.assertEqual(run, Run())
        self.assertEqual((run.attempt, run.stage, run.resume, run.axes, run.checkpoint_dir), (1, "train", False, {}, None))
        self.assertFalse(run.in_sweep)

    def test_ids_and_attempt_fall_back_to_sweep_run(self):
        run = current({"SWEEP_RUN": json.dumps({"sweep": "s", "runId": "r1", "attempt": 3, "axes": {"a": "x"}})})
        self.assertEqual((run.sweep, run.run_id, run.attempt, run.axes), ("s", "r1", 3, {"a": "x"}))

    def test_resume_only_for_exactly_1(self):
        for value, want in (("1", True), ("0", False), ("", False), ("true", False)):
            self.assertIs(current({"SWEEP_RESUME": value}).resume, want, value)

    def test_train_result_from_its_file_when_too_large_for_the_environment(self):
        d = tempfile.mkdtemp(prefix="sweepjob-run-")
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, "train-result.json")
        with open(path, "w") as f:
            f.write('{"metrics":{},"n_params":99}')
        self.assertEqual(current({"SWEEP_TRAIN_RESULT_FILE": path}).train_result, {"metrics": {}, "n_params": 99})
        # The variable wins when both are there (the executor sets both for a small result).
        self.assertEqual(current({"SWEEP_TRAIN_RESULT": '{"n_params":1}', "SWEEP_TRAIN_RESULT_FILE": path}).train_result, {"n_params": 1})
        with open(path, "wb") as f:
            f.write(b" " * (1024 * 1024 + 1))
        with self.assertRaises(ContractError) as cm:
            current({"SWEEP_TRAIN_RESULT_FILE": path})
        self.assertIn("is over 1048576 bytes", str(cm.exception))
        with self.assertRaises(ContractError) as cm:
            current({"SWEEP_TRAIN_RESULT_FILE": os.path.join(d, "missing.json")})
        self.assertIn("SWEEP_TRAIN_RESULT_FILE", str(cm.exception))

    def test_malformed_variables_are_named(self):
        cases = [
            ({"SWEEP_RUN": "{not json"}, "SWEEP_RUN is not valid JSON"),
            ({"SWEEP_RUN": "[1]"}, "SWEEP_RUN must be a JSON object"),
            ({"SWEEP_RUN": '{"axes": [1]}'}, "SWEEP_RUN.axes must be an object"),
            ({"SWEEP_RUN": '{"attempt": 0}'}, "SWEEP_RUN.attempt must be a whole number >= 1"),
            ({"SWEEP_ATTEMPT": "two"}, "SWEEP_ATTEMPT must be a whole number >= 1"),
            ({"SWEEP_ATTEMPT": "0"}, "SWEEP_ATTEMPT must be a whole number >= 1"),
            ({"SWEEP_STAGE": "test"}, "SWEEP_STAGE must be train or evaluate"),
            ({"SWEEP_TRAIN_RESULT": "nope"}, "SWEEP_TRAIN_RESULT is not valid JSON"),
            ({"SWEEP_TRAIN_RESULT": '"x"'}, "SWEEP_TRAIN_RESULT must be a JSON object"),
            ({"SWEEP_GPUS": "-1"}, "SWEEP_GPUS must be a whole number >= 0"),
        ]
        for env, message in cases:
            with self.assertRaises(ContractError, msg=str(env)) as cm:
                current(env)
            self.assertIn(message, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
