"""Step 1 of what the loader checks (see engine/checkpoints/checks.py): the container, a
``torch.save`` zip whose records are stored uncompressed, within limits and intact, whose metadata
pickle names only what ``torch.save`` writes; exported models and plain pickles named as such.
"""

from __future__ import annotations

import json
import pickletools
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError
from .checks import LIMITS, short

__all__ = ["check_container"]

_CHUNK = 1 << 20


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
