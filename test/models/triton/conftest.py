"""One real Triton server for the whole test session, started and stopped by `canopy triton`.

Its repository holds the reference model twice: `canopy_lm` as shipped, and
`canopy_lm_tight` with small bounds (sessions, KV bytes, idle timeout) for the
limit tests; and `canopy_eagle` with the tiny model's test head (the fixture of
test/adapters/drafters/eagle). Both serve the converted model named by CANOPY_TRITON_TEST_MODEL
(a cache name or a directory; default `tiny-random`, made by
`npx canopy prepare-model --tiny`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from wire_client import CanopyLm

ROOT = Path(__file__).resolve().parents[3]
SOURCE_MODEL = ROOT / "models" / "triton" / "canopy_lm"
SOURCE_HEAD_MODEL = ROOT / "models" / "triton" / "canopy_eagle"
TINY_HEAD = ROOT / "test" / "adapters" / "drafters" / "eagle" / "fixtures" / "tiny-random" / "eagle.onnx"

TIGHT = {
    "max_sessions": "3",
    "max_kv_bytes": None,  # filled from the model: room for about 2 x 40 tokens
    "session_idle_timeout_s": "1.5",
}


def model_dir() -> Path:
    name = os.environ.get("CANOPY_TRITON_TEST_MODEL", "tiny-random")
    if "/" in name or name.startswith("."):
        return Path(name).resolve()
    home = os.environ.get("CANOPY_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "canopy")
    return Path(home) / "models" / name


def canopy(*args: str) -> str:
    done = subprocess.run(["node", str(ROOT / "bin" / "canopy.js"), "triton", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"canopy triton {args[0]} failed:\n{done.stderr}")
    return done.stdout


def copy_model(repo: Path, name: str, params: dict) -> None:
    target = repo / name
    shutil.copytree(SOURCE_MODEL, target, ignore=shutil.ignore_patterns("__pycache__"))
    config = (target / "config.pbtxt").read_text()
    config = config.replace('name: "canopy_lm"', f'name: "{name}"')
    for key, value in params.items():
        config, n = re.subn(rf'(key: "{key}", value: {{ string_value: )"[^"]*"', rf'\1"{value}"', config)
        assert n == 1, f"config.pbtxt has no parameter {key}"
    (target / "config.pbtxt").write_text(config)


@pytest.fixture(scope="session")
def manifest() -> dict:
    path = model_dir() / "manifest.json"
    if not path.exists():
        raise RuntimeError(f"no converted model at {path.parent}: run `npx canopy prepare-model --tiny` "
                           "or set CANOPY_TRITON_TEST_MODEL")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def server(tmp_path_factory, manifest) -> dict:
    base = tmp_path_factory.mktemp("triton")
    repo = base / "repo"
    repo.mkdir()
    # The suite leaves most of its few hundred sessions to the idle timeout.
    copy_model(repo, "canopy_lm", {"max_sessions": "4096"})
    per_token = 2 * manifest["numLayers"] * manifest["numKvHeads"] * manifest["headDim"] * 4
    copy_model(repo, "canopy_lm_tight", {**TIGHT, "max_kv_bytes": str(80 * per_token)})
    shutil.copytree(SOURCE_HEAD_MODEL, repo / "canopy_eagle", ignore=shutil.ignore_patterns("__pycache__"))
    run_dir = base / "run"
    endpoints = json.loads(canopy("start", "--model-repository", str(repo), "--model", str(model_dir()),
                                  "--eagle-head", str(TINY_HEAD), "--run-dir", str(run_dir)))
    endpoints["log"] = str(run_dir / "server.log")
    yield endpoints
    canopy("stop", "--run-dir", str(run_dir))


@pytest.fixture(params=["http", "grpc"])
def lm(request, server) -> CanopyLm:
    return CanopyLm(server, request.param)


@pytest.fixture
def tight(server) -> CanopyLm:
    return CanopyLm(server, "http", "canopy_lm_tight")


@pytest.fixture
def sid(request) -> str:
    """A session id unique to the test (and its protocol parameter)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[-100:]
