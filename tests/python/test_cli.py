"""The command line as a user meets it: ./cunicorn, python -m cunicorn, and
the console script a pip install puts on PATH."""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

TIMEOUT = 60


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=TIMEOUT, **kw)


def version_of(root):
    # the one place the version is written: meson.build's project()
    for line in (root / "meson.build").read_text().splitlines():
        if line.strip().startswith("version:"):
            return line.split("'")[1]
    raise AssertionError("no version in meson.build")


def test_launcher_version(launcher, root):
    r = run([launcher, "--version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "cunicorn %s\n" % version_of(root)


def test_help_lists_the_settings(launcher):
    r = run([launcher, "--help"])
    assert r.returncode == 0, r.stderr
    for flag in ("--bind", "--workers", "--timeout", "--limit-request-field_size",
                 "--access-logfile", "--proxy-protocol", "--preload"):
        assert flag in r.stdout, flag


def test_version_comes_from_the_extension(build_python, root):
    env = dict(os.environ, CUNICORN_BUILD_DIR=str(root / "build"),
               PYTHONPATH=str(root / "python"))
    code = ("import cunicorn, cunicorn._cunicorn as m; "
            "print(m.__file__); print(cunicorn.__version__)")
    r = run([build_python, "-c", code], env=env)
    assert r.returncode == 0, r.stderr
    so, version = r.stdout.split()
    assert so.endswith(".so") and "/build/" in so
    assert version == version_of(root)


def test_without_the_plugin_tls_and_h2_are_refused_by_name(tmp_path, launcher, root):
    """A build directory with the extension but not its TLS and HTTP/2
    plugin: a plain server checks out, one with h2 (or TLS) stops at once
    and says why (docs/architecture.md, TLS and HTTP/2, loaded on demand)."""
    build = Path(os.environ.get("CUNICORN_BUILD_DIR") or root / "build")
    ext = list(build.glob("_cunicorn.*.so"))
    assert len(ext) == 1 and list(build.glob("_cunicorn_h2tls.*.so"))
    shutil.copy(ext[0], tmp_path / ext[0].name)
    shutil.copy(build / ".python", tmp_path / ".python")
    env = dict(os.environ, CUNICORN_BUILD_DIR=str(tmp_path))
    app = ["--chdir", str(root / "tests" / "python" / "apps"), "echo:app"]
    r = run([launcher, "--check-config", "-k", "gthread"] + app, env=env)
    assert r.returncode == 0, r.stderr
    r = run([launcher, "--check-config", "-k", "gthread", "--http-protocols", "h2,h1",
             "--http2-cleartext", "prior-knowledge"] + app, env=env)
    assert r.returncode != 0
    assert "TLS and HTTP/2 did not load" in r.stderr + r.stdout


@pytest.mark.skipif(not shutil.which("git"), reason="needs git")
def test_pip_install(tmp_path, root):
    """pip install --no-build-isolation . gives a `cunicorn` script and
    `python -m cunicorn`, built from a clean copy of the tree."""
    src = tmp_path / "src"
    r = run(["git", "-C", str(root), "ls-files", "-z"])
    assert r.returncode == 0, r.stderr
    for name in filter(None, r.stdout.split("\0")):
        dst = src / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if (root / name).is_file():
            shutil.copy2(root / name, dst)
    venv = tmp_path / "venv"
    r = run([sys.executable, "-m", "venv", "--system-site-packages",
             str(venv)])
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q",
                        "--no-build-isolation", "--no-index", str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    v = "cunicorn %s\n" % version_of(root)
    r = run([str(venv / "bin" / "cunicorn"), "--version"], cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == v, r.stderr
    r = run([str(py), "-m", "cunicorn", "--version"], cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == v, r.stderr
    # TLS and HTTP/2's plugin is installed beside the extension and loads
    r = run([str(venv / "bin" / "cunicorn"), "--check-config", "-k", "gthread",
             "--http-protocols", "h2,h1", "--chdir", str(src / "tests" / "python" / "apps"),
             "modules:app"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # every module of the package is installed (meson.build's py_src)
    r = run([str(py), "-c", "import cunicorn, os; print(os.path.dirname(cunicorn.__file__))"],
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    installed = {p.name for p in Path(r.stdout.strip()).glob("*.py")}
    assert installed == {p.name for p in (src / "python" / "cunicorn").glob("*.py")}
