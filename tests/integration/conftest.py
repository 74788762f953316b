"""Fixtures that run the real `build/petrel` (or $PETREL_BIN) for the integration tests.

  petrel          a running instance. Without a marker it is one instance shared by the whole
                  session (default config); with `@pytest.mark.petrel_config({...})` the test
                  gets its own instance with those keys deep-merged into the base config
                  (keys set to None are removed), and optionally
                  `@pytest.mark.petrel_listeners([("mx", "::1")])` for extra listeners.
  petrel_factory  make(overrides=..., extra_listeners=..., user=...) -> started instance;
                  every instance is stopped at teardown.

Teardown fails the test when petrel died, died from a signal, hung on SIGTERM, or printed a
sanitizer report.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from petrel_harness import PetrelInstance, petrel_bin  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "petrel_config(overrides): per-test petrel config keys")
    config.addinivalue_line("markers", "petrel_listeners(list): extra (kind, host) listeners")


def _require_binary():
    b = petrel_bin()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail(f"petrel binary not found at {b} (build it, or set PETREL_BIN)", pytrace=False)


def make_workdir(name: str) -> Path:
    """A fresh directory that petrel can still use after dropping root to `nobody` (the
    docs/configuration.md "Privileges" rule): mode 0755 in /tmp, unlike pytest's 0700 tmp_path.
    Removed at teardown unless PETREL_KEEP_TMP is set."""
    d = Path(tempfile.mkdtemp(prefix=f"petrel-it-{name}-"))
    d.chmod(0o755)
    return d


def remove_workdir(d: Path):
    if not os.environ.get("PETREL_KEEP_TMP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def workdir(request):
    d = make_workdir(request.node.name[:40].replace("/", "_").replace("[", "_").replace("]", ""))
    yield d
    remove_workdir(d)


class _Shared:
    """The session-wide default instance; restarted (in a fresh directory) if a test killed it,
    so that one crash fails the test that caused it rather than every test after it."""

    def __init__(self):
        self.inst = None
        self.dirs = []

    def get(self) -> PetrelInstance:
        if self.inst is None or not self.inst.alive():
            if self.inst is not None:
                self.inst.stop(check=False)
            d = make_workdir("shared")
            self.dirs.append(d)
            self.inst = PetrelInstance(d)
            self.inst.start()
        return self.inst


@pytest.fixture(scope="session")
def petrel_shared():
    _require_binary()
    shared = _Shared()
    yield shared
    if shared.inst is not None and shared.inst.alive():
        shared.inst.stop(check=True)
    for d in shared.dirs:
        remove_workdir(d)


@pytest.fixture
def petrel_factory(workdir):
    _require_binary()
    made = []

    def make(overrides=None, extra_listeners=(), **kw):
        inst = PetrelInstance(workdir / f"petrel-{len(made)}", overrides=overrides or {},
                              extra_listeners=list(extra_listeners), **kw)
        made.append(inst)
        return inst.start()

    yield make
    errors = []
    for inst in made:
        try:
            inst.stop(check=True)
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def petrel(request):
    cfg = request.node.get_closest_marker("petrel_config")
    lis = request.node.get_closest_marker("petrel_listeners")
    if cfg is None and lis is None:
        inst = request.getfixturevalue("petrel_shared").get()
        yield inst
        inst.check_health()
        return
    make = request.getfixturevalue("petrel_factory")
    yield make(overrides=cfg.args[0] if cfg else {}, extra_listeners=lis.args[0] if lis else ())
