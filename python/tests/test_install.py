import base64
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

import _support

sys.path.insert(0, os.path.join(_support.PYTHON_DIR, "_build"))
backend = importlib.import_module("sweepjob_build")

MODULES = ["__init__.py", "_atomic.py", "checkpoints.py", "preempt.py", "py.typed", "result.py", "run.py"]


class Build(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sweepjob-build-")
        self.addCleanup(shutil.rmtree, self.dir)

    def test_needs_nothing_to_build(self):
        self.assertEqual(backend.get_requires_for_build_wheel(), [])
        self.assertEqual(backend.get_requires_for_build_sdist(), [])
        self.assertEqual(backend.get_requires_for_build_editable(), [])

    def test_wheel_holds_the_package_and_a_valid_record(self):
        name = backend.build_wheel(self.dir)
        self.assertEqual(name, "sweepjob-0.1.0-py3-none-any.whl")
        with zipfile.ZipFile(os.path.join(self.dir, name)) as zf:
            names = zf.namelist()
            self.assertEqual(
                sorted(names),
                sorted(["sweepjob/" + m for m in MODULES] + ["sweepjob-0.1.0.dist-info/" + f for f in ("METADATA", "WHEEL", "RECORD")]),
            )
            record = zf.read("sweepjob-0.1.0.dist-info/RECORD").decode().splitlines()
            self.assertEqual(len(record), len(names))
            for line in record:
                path, digest, size = line.rsplit(",", 2)
                if path.endswith("RECORD"):
                    self.assertEqual((digest, size), ("", ""))
                    continue
                data = zf.read(path)
                want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                self.assertEqual((digest, int(size)), (want, len(data)), path)
            meta = zf.read("sweepjob-0.1.0.dist-info/METADATA").decode()
            self.assertIn("Name: sweepjob\nVersion: 0.1.0\n", meta)
            self.assertIn("Tag: py3-none-any", zf.read("sweepjob-0.1.0.dist-info/WHEEL").decode())

    def test_version_agrees_with_the_package(self):
        import sweepjob

        self.assertEqual(backend._names(), ("sweepjob", sweepjob.__version__))

    def test_editable_wheel_points_at_src(self):
        name = backend.build_editable(self.dir)
        with zipfile.ZipFile(os.path.join(self.dir, name)) as zf:
            self.assertEqual(zf.read("sweepjob.pth").decode(), _support.SRC + "\n")

    def test_sdist_can_rebuild_the_wheel(self):
        name = backend.build_sdist(self.dir)
        with tarfile.open(os.path.join(self.dir, name)) as tf:
            members = tf.getnames()
        self.assertIn("sweepjob-0.1.0/pyproject.toml", members)
        self.assertIn("sweepjob-0.1.0/_build/sweepjob_build.py", members)
        self.assertIn("sweepjob-0.1.0/src/sweepjob/result.py", members)
        self.assertIn("sweepjob-0.1.0/PKG-INFO", members)


class PipInstall(unittest.TestCase):
    def test_pip_installs_it_offline(self):
        target = tempfile.mkdtemp(prefix="sweepjob-pip-")
        self.addCleanup(shutil.rmtree, target)
        env = _support.child_env(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PYTHONPATH")
        # --no-index: nothing may come from a registry, build isolation included.
        p = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-index", "--no-cache-dir", "--quiet", "--target", target, _support.PYTHON_DIR],
            env=env,
            capture_output=True,
            timeout=120,
        )
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        check = subprocess.run(
            [sys.executable, "-c", "import sweepjob, os; print(sweepjob.__version__, os.path.dirname(sweepjob.__file__))"],
            env=dict(env, PYTHONPATH=target),
            capture_output=True,
            cwd=target,
            timeout=30,
        )
        self.assertEqual(check.stdout.decode().strip(), "0.1.0 " + os.path.join(target, "sweepjob"), check.stderr.decode())


if __name__ == "__main__":
    unittest.main()
