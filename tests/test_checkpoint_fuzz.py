"""Property-based fuzzing of the checkpoint loader: whatever the bytes, ``load_checkpoint``
(and ``build_model`` on what it accepts) either works or raises a one-line
:class:`CheckpointError` naming the file; nothing else ever escapes and nothing is run.

About 3,300 cases, deterministic (``derandomize``), in well under a minute on a 2-core CPU.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.checkpoints.format import Checkpoint, load_checkpoint, save_checkpoint
from engine.errors import CheckpointError
from engine.models import create_model

_FUZZ = settings(
    derandomize=True,  # the same cases on every run: a CI failure reproduces
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _base_payload() -> dict:
    torch.manual_seed(0)
    model = create_model("tutorial_net", num_classes=3)
    ck = Checkpoint(None, "tutorial_net", {}, model.state_dict(), ["a", "b", "c"], [0.5] * 3, [0.25] * 3, (32, 32), 3)
    ck.config = {"model": "tutorial_net", "epochs": 2}
    ck.history = [{"epoch": 1, "val_acc": 0.5}]
    return ck.to_payload()


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="ckpt-fuzz-") as d:
        root = Path(d)
        original = root / "original.pt"
        ck = load_checkpoint(save_checkpoint(_checkpoint_from(_base_payload()), original))
        ck.build_model()  # sanity: the unmutated file loads
        yield root


def _checkpoint_from(payload: dict) -> Checkpoint:
    from engine.checkpoints.format import checkpoint_from_payload

    return checkpoint_from_payload(payload)


def _load_or_refuse(path: Path) -> None:
    try:
        ckpt = load_checkpoint(path)
        model = ckpt.build_model()
        with torch.no_grad():  # what an accepted checkpoint is for: a forward pass gives finite output
            out = model(torch.zeros(1, ckpt.channels, *ckpt.input_size))
        assert torch.isfinite(out).all()
    except CheckpointError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.startswith(f"{path.name}:"), msg


@settings(_FUZZ, max_examples=1200)
@given(
    head=st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04\x95", b"PK\x05\x06"]),
    body=st.binary(max_size=3000),
)
def test_random_bytes(workdir, head, body):
    root = workdir
    path = root / "random.pt"
    path.write_bytes(head + body)
    _load_or_refuse(path)


@st.composite
def _mutations(draw):
    """Bit flips, overwritten runs, truncation, insertion and deletion at random places."""
    kind = draw(st.sampled_from(["flip", "overwrite", "truncate", "insert", "delete"]))
    positions = st.integers(min_value=0, max_value=10**9)
    return kind, draw(st.lists(positions, min_size=1, max_size=6)), draw(st.binary(min_size=1, max_size=64))


@settings(_FUZZ, max_examples=1500)
@given(mutation=_mutations())
def test_mutated_real_checkpoint(workdir, mutation):
    root = workdir
    kind, positions, blob = mutation
    data = bytearray((root / "original.pt").read_bytes())
    for p in positions:
        i = p % len(data)
        if kind == "flip":
            data[i] ^= 1 << (p % 8)
        elif kind == "overwrite":
            data[i : i + len(blob)] = blob[: len(data) - i]
        elif kind == "truncate":
            data = data[:i]
            break
        elif kind == "insert":
            data[i:i] = blob
        else:
            del data[i : i + len(blob)]
    path = root / "mutated.pt"
    path.write_bytes(bytes(data))
    _load_or_refuse(path)


_plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
_tensors = st.builds(
    lambda shape, dtype, nan: torch.full(shape, float("nan") if nan and dtype.is_floating_point else 1, dtype=dtype),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.sampled_from([torch.float32, torch.float16, torch.int64, torch.bool, torch.complex64]),
    st.booleans(),
)
_KEYS = ["format", "format_version", "arch", "state_dict", "classes", "normalization", "input", "config", "history"]
_KEYS += ["epoch", "best_val_acc", "val_acc", "versions", "train_state"]


@settings(_FUZZ, max_examples=600)
@given(
    edits=st.dictionaries(st.sampled_from(_KEYS), _plain | _tensors, max_size=3),
    deletions=st.sets(st.sampled_from(_KEYS), max_size=2),
    tensor_edit=st.tuples(st.integers(0, 100), _tensors) | st.none(),
    arch_args=st.dictionaries(st.sampled_from(["width", "block", "pretrained", "x"]), _plain, max_size=2),
)
def test_edited_metadata(workdir, edits, deletions, tensor_edit, arch_args):
    root = workdir
    payload = _base_payload()
    payload.update(edits)
    for key in deletions:
        payload.pop(key, None)
    if tensor_edit is not None and isinstance(payload.get("state_dict"), dict) and payload["state_dict"]:
        keys = sorted(payload["state_dict"])
        payload["state_dict"][keys[tensor_edit[0] % len(keys)]] = tensor_edit[1]
    if arch_args and isinstance(payload.get("arch"), dict):
        payload["arch"] = {**payload["arch"], "args": arch_args}
    path = root / "edited.pt"
    torch.save(payload, path)
    _load_or_refuse(path)


def test_fuzz_files_stay_in_their_folder(workdir):
    root = workdir
    assert {p.name for p in root.iterdir()} <= {"original.pt", "random.pt", "mutated.pt", "edited.pt"}
    assert not any(name.endswith(".tmp") for name in os.listdir(root))
    assert zipfile.is_zipfile(root / "original.pt")
