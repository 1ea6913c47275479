"""What :func:`engine.checkpoints.format.load_checkpoint` checks before it trusts a file.

A checkpoint may come from a stranger, so everything it declares is checked before the
engine acts on it, in the order the loader meets it:

1. the container (:func:`check_container`): a ``torch.save`` zip whose records are stored
   uncompressed (``torch.save`` never compresses, so a small file cannot declare a huge
   record), sizes within limits and within the file, every record's CRC intact. Anything
   else is "not a checkpoint", and a plain pickle carrying code is named as such, found by
   parsing its opcodes (never by running them). The metadata record's opcodes are parsed too:
   it may name only the few Python objects ``torch.save`` writes (tensor rebuilding, storages,
   dtypes, OrderedDict). PyTorch's weights-only loader also allows e.g. ``bytearray``, whose
   20-byte call ``bytearray(3000000000)`` would take 3 GB before any check could run.
2. the plain data (:func:`check_metadata`): nesting depth, architecture and arguments,
   input size and channels, normalisation, class names.
3. the weights (:func:`check_weights`): tensors only, finite, and shaped exactly as the
   declared architecture, which is built first on PyTorch's ``meta`` device (shapes only, no
   memory) under a time limit, so absurd sizes and slow builds are refused before any
   memory is spent.

Each refusal is one line naming the file and what is wrong.
"""

from __future__ import annotations

import json
import math
import pickletools
import sys
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, EngineError
from ..models.factory import create_model, on_meta_device
from .state_dict import clean_state_dict

__all__ = ["LIMITS", "check_container", "check_depth", "check_metadata", "check_weights", "short", "tensor_finite"]

# Generous for any image classifier this app can train (the largest torchvision models are
# well under these), small enough that a hostile file cannot exhaust memory or time.
LIMITS = {
    "file_bytes": 8 << 30,  # whole checkpoint file
    "records": 200_000,  # zip members (one per tensor storage, plus a few)
    "pickle_bytes": 64 << 20,  # the data.pkl record (metadata and tensor descriptions)
    "depth": 64,  # nesting of dicts and lists in the plain data
    "parameters": 2_000_000_000,  # elements in the model's weights and buffers
    "build_seconds": 20.0,  # building the declared architecture (shapes only)
    "classes": 100_000,
    "class_name_chars": 500,
    "side": 4096,  # input height / width in pixels
}
_CHUNK = 1 << 20


def short(value: Any, limit: int = 80) -> str:
    """A one-line, bounded ``repr`` of a value read from an untrusted file, for messages."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- 1. container
def check_container(path: Path) -> None:
    """Refuse anything but an intact ``torch.save`` zip whose declared sizes are sane."""
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{name}: empty file (not a checkpoint)")
    if size > LIMITS["file_bytes"]:
        raise CheckpointError(f"{name}: {size / 2**30:.1f} GB is larger than any checkpoint this app writes; refused")
    with open(path, "rb") as f:
        head = f.read(16)
    _refuse_exported(path, head)
    head = head[:4]
    if head != b"PK\x03\x04":
        _refuse_non_zip(path, head)
    try:
        with zipfile.ZipFile(path) as zf:
            _refuse_torchscript(zf, path)
            _check_records(zf, name, size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        # A zip whose directory is gone (cut short) or whose data no longer matches its CRCs.
        detail = "a record's data does not match its checksum" if "CRC" in str(exc) else "truncated or damaged"
        raise CheckpointError(f"{name}: {detail} (not a complete checkpoint)") from None
    except OSError as exc:
        raise CheckpointError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None


def _exported_from(path: Path) -> str:
    """ " (exported from /runs/x/best.pt)" from the export's JSON sidecar, when it says."""
    sidecar = path.with_name(path.name + ".json")
    try:
        if sidecar.is_file() and sidecar.stat().st_size < 1 << 20:
            source = json.loads(sidecar.read_text(encoding="utf-8")).get("source_checkpoint")
            if isinstance(source, str) and source:
                return f" (exported from {source})"
    except (OSError, ValueError, AttributeError):
        pass
    return ""


def _exported_error(path: Path, kind: str) -> CheckpointError:
    return CheckpointError(
        f"{path.name}: this is an exported {kind} model{_exported_from(path)}, not a checkpoint; "
        "open the .pt checkpoint it came from"
    )


def _refuse_exported(path: Path, head: bytes) -> None:
    """ONNX and safetensors files (what File ▸ Export writes) are named as such, not "not a checkpoint"."""
    if len(head) >= 10 and head[8:10] == b'{"' and int.from_bytes(head[:8], "little") < 100 << 20:
        raise _exported_error(path, "safetensors")  # 8-byte header length, then its JSON header
    if head[:1] == b"\x08" and (path.suffix.lower() == ".onnx" or '"onnx"' in _exported_from_format(path)):
        raise _exported_error(path, "ONNX")  # protobuf: field 1 (ir_version) first


def _exported_from_format(path: Path) -> str:
    sidecar = path.with_name(path.name + ".json")
    try:
        if sidecar.is_file() and sidecar.stat().st_size < 1 << 20:
            return json.dumps(json.loads(sidecar.read_text(encoding="utf-8")).get("format"))
    except (OSError, ValueError, AttributeError):
        pass
    return ""


def _refuse_torchscript(zf: zipfile.ZipFile, path: Path) -> None:
    """A TorchScript archive (``torch.jit.save``) is a zip with a ``code/`` folder of Python source."""
    names = zf.namelist()[: LIMITS["records"]]
    if any("/code/" in n or n.endswith("/constants.pkl") for n in names):
        raise _exported_error(path, "TorchScript")


def _check_records(zf: zipfile.ZipFile, name: str, size: int) -> None:
    infos = zf.infolist()
    if len(infos) > LIMITS["records"]:
        raise CheckpointError(f"{name}: {len(infos):,} records in the archive (limit {LIMITS['records']:,}); refused")
    pickles = [i for i in infos if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{name}: not a checkpoint (a zip archive, but not a PyTorch file)")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{name}: record {short(info.filename)} is encrypted; refused")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            # torch.save stores records uncompressed; a compressed one can inflate to gigabytes.
            raise CheckpointError(
                f"{name}: record {short(info.filename)} is compressed ({info.file_size:,} bytes declared); "
                "PyTorch never writes that, refused"
            )
        total += info.file_size
    if total > size:
        raise CheckpointError(f"{name}: records declare {total:,} bytes, more than the file's {size:,}; refused")
    if pickles[0].file_size > LIMITS["pickle_bytes"]:
        raise CheckpointError(
            f"{name}: metadata record of {pickles[0].file_size / 2**20:.0f} MB "
            f"(limit {LIMITS['pickle_bytes'] >> 20} MB); refused"
        )
    for info in infos:  # reading to the end makes zipfile compare the CRC (torch.load does not)
        with zf.open(info) as member:
            if info is pickles[0]:
                _check_metadata_globals(member, name)
            while member.read(_CHUNK):
                pass


# What torch.save writes into a checkpoint's data.pkl (protocol 2 GLOBAL opcodes): nothing else
# may be named. Building any of these allocates no more than the record's own bytes (a tensor's
# storage is a record of the file, checked above; a declared size beyond it is refused by torch).
_WRITTEN_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch.serialization", "_get_layout"),
}


def _written_global(module: str, attr: str) -> bool:
    if (module, attr) in _WRITTEN_GLOBALS:
        return True
    if module != "torch":
        return False
    # A storage class (FloatStorage...) or a dtype (torch.float32...): names, never called with data.
    return attr.endswith("Storage") or isinstance(getattr(torch, attr, None), torch.dtype)


def _check_metadata_globals(member, name: str) -> None:
    """Parse the metadata pickle's opcodes (nothing is run): refuse any Python object that
    ``torch.save`` does not write, before the loader could build it."""
    try:
        for op, arg, _pos in pickletools.genops(member):
            if op.name == "GLOBAL":
                module, _, attr = str(arg).partition(" ")
                if not _written_global(module, attr):
                    raise CheckpointError(
                        f"{name}: contains Python objects other than weights and plain data "
                        f"({short(module + '.' + attr, 60)}); refused before loading (it could run code "
                        "or ask for unbounded memory)"
                    )
            elif op.name in _CODE_OPCODES - {"REDUCE", "BUILD", "NEWOBJ"}:  # never in what torch.save writes
                raise CheckpointError(f"{name}: its metadata uses the pickle opcode {op.name}; refused before loading")
            elif op.name == "STOP":
                return
    except CheckpointError:
        raise
    except Exception:  # the opcodes do not parse: torch's loader would not read them either
        raise CheckpointError(f"{name}: not a checkpoint (unreadable pickle data)") from None
    raise CheckpointError(f"{name}: not a checkpoint (unreadable pickle data)")


def _refuse_non_zip(path: Path, head: bytes) -> None:
    name = path.name
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # a pickle's PROTO opcode
        verdict = _scan_pickle(path)
        if verdict == "code":
            raise CheckpointError(
                f"{name}: contains Python objects other than weights and plain data; "
                "refused (loading it could run code)"
            )
        if verdict == "data":
            raise CheckpointError(
                f"{name}: not a CIFAR Studio checkpoint (a plain pickle or an old-format PyTorch file)"
            )
    raise CheckpointError(f"{name}: not a checkpoint (neither a PyTorch zip nor a pickle)")


# Opcodes that import or call Python objects: what makes unpickling run code.
_CODE_OPCODES = {
    "GLOBAL",
    "STACK_GLOBAL",
    "REDUCE",
    "INST",
    "OBJ",
    "NEWOBJ",
    "NEWOBJ_EX",
    "BUILD",
    "EXT1",
    "EXT2",
    "EXT4",
}


def _scan_pickle(path: Path) -> str:
    """``"code"``, ``"data"`` or ``"garbage"``: parses opcodes only (nothing is executed)."""
    code = False
    try:
        with open(path, "rb") as f:
            for op, _arg, _pos in pickletools.genops(f):
                code = code or op.name in _CODE_OPCODES
                if op.name == "STOP":
                    return "code" if code else "data"
    except Exception:  # any parse failure: the bytes are not a pickle
        return "garbage"
    return "garbage"  # ran out of bytes before STOP


# ---------------------------------------------------------------------------- 2. plain data
def check_depth(obj: Any, name: str) -> None:
    """Refuse deeply nested containers (iteratively: a deep one would overflow recursion)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > LIMITS["depth"]:
            raise CheckpointError(f"{name}: data nested deeper than {LIMITS['depth']} levels; refused")
        if isinstance(item, torch.Tensor):
            continue
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_metadata(payload: dict, name: str) -> None:
    """Types and ranges of everything the checkpoint declares besides the weights."""

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{name}: malformed checkpoint metadata ({what})")

    arch = payload["arch"]
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str) or not 0 < len(arch["name"]) <= 200:
        raise bad("arch: needs a name")
    args = arch.get("args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) and k.isidentifier() for k in args):
        raise bad("arch.args: must map argument names to values")
    for key, value in args.items():
        if not (value is None or isinstance(value, (bool, str)) or _number(value)):
            raise bad(f"arch.args.{key}: must be a number, text, true/false or null")
    inp = payload["input"]
    if not isinstance(inp, dict) or not all(_whole(inp.get(k)) for k in ("height", "width", "channels")):
        raise bad("input: needs whole-number height, width and channels")
    if inp["channels"] not in (1, 3):
        raise bad(f"input.channels: must be 1 or 3, got {inp['channels']}")
    for key in ("height", "width"):
        if not 1 <= inp[key] <= LIMITS["side"]:
            raise bad(f"input.{key}: must be between 1 and {LIMITS['side']} pixels, got {inp[key]}")
    norm = payload["normalization"]
    if not isinstance(norm, dict):
        raise bad("normalization: must have mean and std")
    for key in ("mean", "std"):
        values = norm.get(key)
        if not isinstance(values, list) or not all(_number(v) for v in values):
            raise bad(f"normalization.{key}: must be a list of finite numbers")
        if len(values) != inp["channels"]:
            raise bad(f"normalization.{key}: {len(values)} values for {inp['channels']} channel(s)")
    if not all(v > 0 for v in norm["std"]):
        raise bad("normalization.std: every value must be greater than 0")
    classes = payload["classes"]
    if not isinstance(classes, list) or not classes:
        raise bad("classes: must be a non-empty list of names")
    if len(classes) > LIMITS["classes"]:
        raise bad(f"classes: {len(classes):,} names (limit {LIMITS['classes']:,})")
    if not all(isinstance(c, str) and 0 < len(c) <= LIMITS["class_name_chars"] for c in classes):
        raise bad("classes: every class name must be a non-empty string")
    if len(set(classes)) != len(classes):
        dup = next(c for i, c in enumerate(classes) if c in classes[:i])
        raise bad(f"classes: {short(dup)} appears twice")
    for key in ("epoch",):
        if payload.get(key) is not None and not _whole(payload[key]):
            raise bad(f"{key}: must be a whole number")
    for key in ("best_val_acc", "val_acc"):
        value = payload.get(key)
        if value is not None and not _number(value):
            raise bad(f"{key}: must be a number or null")
    for key, kind in (("config", dict), ("history", list), ("versions", dict), ("train_state", dict)):
        if payload.get(key) is not None and not isinstance(payload[key], kind):
            raise bad(f"{key}: must be {'an object' if kind is dict else 'a list'}")


# ---------------------------------------------------------------------------- 3. weights
def check_weights(ckpt, name: str) -> None:
    """Tensors only, finite, and shaped as the declared architecture (checked on ``meta``)."""
    state = ckpt.state_dict
    if not all(isinstance(k, str) for k in state) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name}: malformed checkpoint metadata (state_dict must map names to tensors)")
    for key, value in state.items():
        if not tensor_finite(value):
            raise CheckpointError(f"{name}: weights contain NaN or infinite values ({key}); the model is broken")
    expected = _meta_shapes(ckpt, name)
    if expected is None:
        return
    got = {k: tuple(v.shape) for k, v in clean_state_dict(state).items()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
    if missing or extra or wrong:
        if wrong:
            k = wrong[0]
            detail = f"{k} is {list(got[k])}, the architecture needs {list(expected[k])}"
            if ckpt.classes and expected[k] and expected[k][0] == len(ckpt.classes):
                detail += f" (the checkpoint names {len(ckpt.classes)} classes)"
        elif missing:
            detail = f"{len(missing)} missing, e.g. {missing[0]}"
        else:
            detail = f"{len(extra)} unexpected, e.g. {extra[0]}"
        raise CheckpointError(f"{name}: weights do not fit architecture {short(ckpt.arch)} ({detail})")


def tensor_finite(t) -> bool:
    """No NaN or infinity in ``t``. A sum is finite exactly when no element is NaN or
    infinite (or the sum overflowed, checked element-wise then): far faster than
    ``isfinite().all()`` on channels-last CPU tensors."""
    if not (t.is_floating_point() or t.is_complex()):
        return True
    # Reduce over memory order (a channels-last weight is a permuted contiguous block).
    order = sorted(range(t.dim()), key=lambda d: -t.stride(d))
    flat = t.permute(order)
    flat = flat.reshape(-1) if flat.is_contiguous() else t.reshape(-1)
    if bool(torch.isfinite(flat.sum())):
        return True
    return bool(torch.isfinite(flat).all())


class _BuildTooSlow(Exception):
    pass


def _meta_shapes(ckpt, name: str) -> dict[str, tuple] | None:
    """The declared architecture's state_dict shapes, built on ``meta`` within a time limit."""

    deadline = time.monotonic() + LIMITS["build_seconds"]

    def watchdog(frame, event, arg):  # called on every Python call while building
        if event == "call" and time.monotonic() > deadline:
            raise _BuildTooSlow

    # A profiler or debugger may already be installed: leave it alone (no time limit then).
    previous = sys.getprofile()
    if previous is None:
        sys.setprofile(watchdog)
    try:
        with on_meta_device():
            model = create_model(ckpt.arch, len(ckpt.classes), ckpt.channels, **ckpt.arch_args)
    except _BuildTooSlow:
        raise CheckpointError(
            f"{name}: building {short(ckpt.arch)} with {short(ckpt.arch_args)} takes longer than "
            f"{LIMITS['build_seconds']:.0f} s; refused"
        ) from None
    except EngineError as exc:
        raise CheckpointError(f"{name}: cannot build its architecture ({exc})") from None
    except MemoryError:
        raise CheckpointError(
            f"{name}: its architecture {short(ckpt.arch)} {short(ckpt.arch_args)} is too large; refused"
        ) from None
    except Exception:  # a model that cannot be built on meta: the strict load in build_model checks it
        return None
    finally:
        if previous is None:
            sys.setprofile(None)
    state = model.state_dict()
    elements = sum(v.numel() for v in state.values())
    if elements > LIMITS["parameters"]:
        raise CheckpointError(
            f"{name}: its architecture {short(ckpt.arch)} {short(ckpt.arch_args)} would have {elements:,} weights "
            f"(limit {LIMITS['parameters']:,}); refused"
        )
    return {k: tuple(v.shape) for k, v in state.items()}
