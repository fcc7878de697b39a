"""A minimal PEP 517 / PEP 660 build backend for the pure-Python `sweepjob` package.

Standard library only, so `pip install ./python` works offline: with `requires = []` pip's build
isolation has nothing to download (setuptools would need itself and `wheel` fetched, or present).
It builds a py3-none-any wheel of src/sweepjob, an sdist, and an editable wheel (a .pth file).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SRC = os.path.join(ROOT, "src")
PACKAGE = "sweepjob"
TAG = "py3-none-any"
# A fixed timestamp (1980-01-01, the zip format's earliest) makes wheels reproducible.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _project() -> dict:
    """The [project] table of pyproject.toml (only string values are used)."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads(raw.decode("utf-8"))["project"]
    except ImportError:
        pass
    # Older Pythons: our own pyproject's [project] table holds only `key = "string"` lines.
    table, out = None, {}
    for line in raw.decode("utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            table = line
            continue
        m = re.match(r'^([A-Za-z0-9_-]+)\s*=\s*"([^"\\]*)"\s*(#.*)?$', line)
        if table == "[project]" and m:
            out[m.group(1)] = m.group(2)
    return out


def _names() -> tuple:
    p = _project()
    return p["name"], p["version"]


def _metadata() -> str:
    p = _project()
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % p["name"],
        "Version: %s" % p["version"],
        "Summary: %s" % p.get("description", ""),
        "Requires-Python: %s" % p.get("requires-python", ">=3.8"),
        "License: %s" % p.get("license", ""),
    ]
    return "\n".join(lines) + "\n"


def _wheel_file() -> str:
    return "Wheel-Version: 1.0\nGenerator: sweepjob_build\nRoot-Is-Purelib: true\nTag: %s\n" % TAG


def _package_files() -> list:
    """(archive name, absolute path) of every file of the package, sorted; no caches."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(SRC, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, name)
            out.append((os.path.relpath(full, SRC).replace(os.sep, "/"), full))
    return out


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def _write_wheel(wheel_directory: str, files: list) -> str:
    """files: (archive name, bytes). Adds the dist-info and RECORD; returns the wheel's file name."""
    name, version = _names()
    dist = "%s-%s" % (name.replace("-", "_"), version)
    info = dist + ".dist-info"
    files = files + [(info + "/METADATA", _metadata().encode()), (info + "/WHEEL", _wheel_file().encode())]
    record = "".join(_record_line(n, d) + "\n" for n, d in files) + info + "/RECORD,,\n"
    files.append((info + "/RECORD", record.encode()))
    filename = "%s-%s.whl" % (dist, TAG)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in files:
            zi = zipfile.ZipInfo(n, ZIP_DATE)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, d)
    return filename


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# --- PEP 517 hooks ----------------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version = _names()
    info = "%s-%s.dist-info" % (name.replace("-", "_"), version)
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for fname, text in (("METADATA", _metadata()), ("WHEEL", _wheel_file())):
        with open(os.path.join(metadata_directory, info, fname), "w", encoding="utf-8") as f:
            f.write(text)
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(n, _read(p)) for n, p in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth naming src/: the installed package is the working tree (src/ holds nothing else).
    return _write_wheel(wheel_directory, [(PACKAGE + ".pth", (SRC + "\n").encode())])


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_sdist(sdist_directory, config_settings=None):
    name, version = _names()
    base = "%s-%s" % (name.replace("-", "_"), version)
    filename = base + ".tar.gz"
    members = [("pyproject.toml", os.path.join(ROOT, "pyproject.toml")), ("_build/sweepjob_build.py", __file__)]
    members += [("src/" + n, p) for n, p in _package_files()]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        pkg_info = _metadata().encode()
        for arcname, data in [("PKG-INFO", pkg_info)] + [(n, _read(p)) for n, p in members]:
            ti = tarfile.TarInfo("%s/%s" % (base, arcname))
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tf.addfile(ti, io.BytesIO(data))
    return filename
