import os
import shutil
import tempfile
import unittest
from unittest import mock

import _support  # noqa: F401  (puts src/ on sys.path)
from sweepjob import checkpoint_dir, latest_checkpoint, list_checkpoints, load_pickle, save_checkpoint
from sweepjob import checkpoints as ck_mod


class Checkpoints(unittest.TestCase):
    def setUp(self):
        root = tempfile.mkdtemp(prefix="sweepjob-ck-")
        self.addCleanup(shutil.rmtree, root)
        self.dir = os.path.join(root, "sweep", "run-1")  # not there yet: created on first save
        patcher = mock.patch.dict(os.environ, {"SWEEP_CHECKPOINT_DIR": self.dir})
        patcher.start()
        self.addCleanup(patcher.stop)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def test_saves_bytes_text_writer_and_pickle_into_the_run_folder(self):
        p1 = save_checkpoint("a.bin", b"\x00\x01raw")
        p2 = save_checkpoint("b.txt", "épocha 3")
        p3 = save_checkpoint("c.pt", lambda f: f.write(b"written by torch.save"))
        p4 = save_checkpoint("d.pkl", {"epoch": 3, "weights": [1.5, 2.5]})
        self.assertEqual([os.path.dirname(p) for p in (p1, p2, p3, p4)], [self.dir] * 4)
        self.assertEqual(self.read(p1), b"\x00\x01raw")
        self.assertEqual(self.read(p2), "épocha 3".encode("utf-8"))
        self.assertEqual(self.read(p3), b"written by torch.save")
        self.assertEqual(load_pickle(p4), {"epoch": 3, "weights": [1.5, 2.5]})
        self.assertEqual(sorted(os.listdir(self.dir)), ["a.bin", "b.txt", "c.pt", "d.pkl"])

    def test_a_failed_write_leaves_the_old_checkpoint_and_no_temp_file(self):
        path = save_checkpoint("last.pt", b"epoch 5")

        def crash(f):
            f.write(b"half of epoch 6")
            raise RuntimeError("killed mid-write")

        with self.assertRaises(RuntimeError):
            save_checkpoint("last.pt", crash)
        self.assertEqual(self.read(path), b"epoch 5")
        self.assertEqual(os.listdir(self.dir), ["last.pt"])

    def test_latest_is_the_newest_by_mtime_ties_in_natural_order(self):
        self.assertIsNone(latest_checkpoint())  # no folder yet: a fresh run
        for name, t in (("ep10.pt", 100), ("ep9.pt", 200), ("ep2.pt", 50)):
            os.utime(save_checkpoint(name, b"x"), ns=(t * 10**9, t * 10**9))
        self.assertEqual(latest_checkpoint(), os.path.join(self.dir, "ep9.pt"))
        self.assertEqual([os.path.basename(p) for p in list_checkpoints()], ["ep2.pt", "ep10.pt", "ep9.pt"])
        for name in ("ep9.pt", "ep10.pt", "ep2.pt"):
            os.utime(os.path.join(self.dir, name), ns=(10**9, 10**9))
        self.assertEqual([os.path.basename(p) for p in list_checkpoints()], ["ep2.pt", "ep9.pt", "ep10.pt"])

    def test_temp_files_and_folders_are_not_checkpoints(self):
        save_checkpoint("ep1.pt", b"x")
        os.utime(os.path.join(self.dir, "ep1.pt"), ns=(10**9, 10**9))
        with open(os.path.join(self.dir, ".ep2.pt.tmp-1-abcd"), "wb") as f:
            f.write(b"unfinished")
        os.mkdir(os.path.join(self.dir, "ep3"))
        self.assertEqual(list_checkpoints(), [os.path.join(self.dir, "ep1.pt")])

    def test_bad_names_are_refused(self):
        for bad in ("", "../escape", "a/b", "a\\b", ".hidden", "nul\0", "x" * 201, 3):
            with self.assertRaises(ValueError, msg=repr(bad)):
                save_checkpoint(bad, b"x")
        self.assertFalse(os.path.exists(self.dir))  # nothing written anywhere
        save_checkpoint("x" * 200, b"x")

    def test_without_sweep_checkpoint_dir_a_private_temp_folder(self):
        env = {k: v for k, v in os.environ.items() if k != "SWEEP_CHECKPOINT_DIR"}
        with mock.patch.dict(os.environ, env, clear=True), mock.patch.object(ck_mod, "_fallback_dir", None):
            self.assertIsNone(latest_checkpoint())
            d = checkpoint_dir()
            self.addCleanup(shutil.rmtree, d)
            self.assertTrue(os.path.basename(d).startswith("sweepjob-checkpoints-"))
            self.assertEqual(os.listdir(d), [])
            p = save_checkpoint("ep1.pt", b"x")
            self.assertEqual(latest_checkpoint(), p)
            self.assertEqual(checkpoint_dir(), d)


if __name__ == "__main__":
    unittest.main()
