import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest
from unittest import mock

import _support
from sweepjob import PREEMPTED_EXIT, on_preempt
from sweepjob import preempt as preempt_mod

# A job that installs the hook, says it is ready, then trains "forever".
JOB = r"""
import os, signal, sys, time
import sweepjob as sj
out, mode = sys.argv[1], sys.argv[2]

def save():
    if mode == "raise":
        raise RuntimeError("disk full")
    if mode == "twice":
        os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM while saving must not stop the save
        time.sleep(0.2)
    sj.save_checkpoint("last.pt", b"preempted=%d" % sj.preempted(), dir=out)

sj.on_preempt(None if mode == "none" else save)
print("ready", flush=True)
time.sleep(60)
print("never preempted", flush=True)
"""


class OnPreempt(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sweepjob-preempt-")
        self.addCleanup(shutil.rmtree, self.dir)

    def preempt(self, mode):
        """Start the job, SIGTERM it once it is ready; (exit status, stdout, stderr)."""
        p = subprocess.Popen(
            [sys.executable, "-c", JOB, self.dir, mode],
            env=_support.child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            self.assertEqual(p.stdout.readline(), b"ready\n")
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return p.returncode, out, err

    def saved(self):
        path = os.path.join(self.dir, "last.pt")
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def test_saves_then_dies_by_sigterm(self):
        code, out, err = self.preempt("save")
        self.assertEqual(code, -signal.SIGTERM, err)  # killed by SIGTERM: shell status 143
        self.assertEqual(self.saved(), b"preempted=1")
        self.assertEqual(out, b"")  # the loop never went on

    def test_a_second_sigterm_does_not_interrupt_the_save(self):
        code, _, err = self.preempt("twice")
        self.assertEqual(code, -signal.SIGTERM, err)
        self.assertEqual(self.saved(), b"preempted=1")

    def test_a_failing_save_still_exits_as_preempted(self):
        code, _, err = self.preempt("raise")
        self.assertEqual(code, -signal.SIGTERM)
        self.assertIn(b"RuntimeError: disk full", err)
        self.assertIsNone(self.saved())

    def test_no_save_function(self):
        code, _, _ = self.preempt("none")
        self.assertEqual(code, -signal.SIGTERM)
        self.assertEqual(os.listdir(self.dir), [])

    def test_exit_143_where_the_signal_cannot_kill(self):
        # PID 1 in a container ignores a default-action SIGTERM: the hook must still end with 143.
        self.assertEqual(PREEMPTED_EXIT, 143)

        class Exited(Exception):
            pass

        with mock.patch.object(preempt_mod.os, "kill") as kill, mock.patch.object(
            preempt_mod.os, "_exit", side_effect=Exited
        ) as exit_, mock.patch.object(preempt_mod.signal, "signal"):
            with self.assertRaises(Exited):
                preempt_mod._die()
        kill.assert_called_once_with(os.getpid(), signal.SIGTERM)
        exit_.assert_called_once_with(143)

    def test_must_be_called_from_the_main_thread(self):
        errors = []

        def run():
            try:
                on_preempt(lambda: None)
            except ValueError as e:
                errors.append(str(e))

        t = threading.Thread(target=run)
        t.start()
        t.join()
        self.assertEqual(len(errors), 1)
        self.assertIn("main thread", errors[0])
        self.assertIsNot(signal.getsignal(signal.SIGTERM), preempt_mod._handler)

    def test_refuses_a_non_function(self):
        with self.assertRaises(TypeError):
            on_preempt("save")
        self.assertIsNot(signal.getsignal(signal.SIGTERM), preempt_mod._handler)


if __name__ == "__main__":
    unittest.main()
