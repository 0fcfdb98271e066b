"""``.pt2`` files: a ``torch.export`` program, written so that the same spec and seed
give the same bytes and the archive's top folder is named after the file.

``torch.export.save`` names the folder inside the zip after the path it is given (the
atomic write's temporary file) or ``archive`` for a file object, stamps a random
``serialization_id`` and keeps provenance metadata that holds object addresses (the
``graph_id`` of ``from_node`` records, ``<built-in method ... at 0x...>``). netron finds
the program by the folder's name, and a build someone repeats should be byte-identical,
so the archive torch writes is repacked: the folder renamed, the id made a digest of the
contents, the addresses replaced by numbers in order of appearance, every record stored
uncompressed at a 64-byte boundary as torch aligns them.

Example::

    save_pt2(export_program(model, (3, 32, 32)), "resnet20.pt2")
    torch.export.load("resnet20.pt2").module()
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import torch
from torch import nn

from archspec.errors import ArchSpecError, FileError
from archspec.files import atomic_file, writable_target

ALIGN = 64  # torch's own storage alignment, so weights can be memory-mapped
# Numbers a process hands out: fx's generated-code counter, ids of graph objects.
_COUNTERS = (re.compile(rb'(graph_id\\": )(\d+)'), re.compile(rb"(<eval_with_key>\.)(\d+)"))
_ADDRESS = re.compile(rb" at 0x[0-9a-f]+>")
_DATE = (1980, 1, 1, 0, 0, 0)


def export_program(model: nn.Module, input_shape: Sequence[int]) -> torch.export.ExportedProgram:
    """``model`` (in eval mode) as a ``torch.export`` program that takes any batch size.

    Example::

        program = export_program(archspec.build("resnet20"), (3, 32, 32))
    """
    # Traced at batch 2 with the batch dimension left free: a batch of 1 would be
    # specialized to 1.
    example = torch.zeros(2, *input_shape)
    was_training = model.training
    try:
        program = torch.export.export(
            model.eval(), (example,), dynamic_shapes=({0: torch.export.Dim.DYNAMIC},)
        )
    finally:
        model.train(was_training)
    # Not saved with the program: a batch of the spec's input size would add its bytes
    # to the file (1.5 GB for input.size=8192); the signature is enough.
    program.example_inputs = None
    return program


def save_pt2(program: torch.export.ExportedProgram, path: str | Path) -> Path:
    """Write ``program`` to ``path`` atomically, reproducibly, its folder named after it.

    Example::

        save_pt2(program, "model.pt2")      # the zip's records are model/...
    """
    path = Path(path)
    writable_target(path)
    # In memory, then written once: torch's zip writer aborts the whole process when a
    # write fails (a full disk), even writing to a file object, so it never sees a file.
    raw = io.BytesIO()
    try:
        torch.export.save(program, raw)
    except RuntimeError as exc:
        raise FileError(path, f"cannot write: {' '.join(str(exc).split())[:200]}") from None
    raw.seek(0)
    with atomic_file(path) as out:
        repack(raw, out, path.stem)
    return path


def repack(source: IO[bytes], out: IO[bytes], folder: str) -> None:
    """Copy the zip ``source`` to ``out`` with its top folder renamed ``folder``, fixed
    dates, a serialization id digested from the contents and no object addresses."""
    with zipfile.ZipFile(source) as zin:
        names = zin.namelist()
        top = names[0].split("/", 1)[0] if names else ""
        if not top or any(not n.startswith(f"{top}/") for n in names):
            raise ArchSpecError("torch.export.save wrote an archive without one top folder")
        records: list[tuple[str, bytes]] = []
        for name in names:
            data = zin.read(name)
            if name.endswith(".json"):
                data = _deterministic(data)
            records.append((name[len(top) + 1 :], data))
    digest = hashlib.sha256()
    for name, data in records:
        if name != ".data/serialization_id":
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    # torch's ids are 40 decimal digits; this one is the contents' digest written so.
    serial = str(int.from_bytes(digest.digest(), "big"))[:40].zfill(40).encode()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zout:
        for name, data in records:
            if name == ".data/serialization_id":
                data = serial
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # the same on every OS
            info.external_attr = 0o644 << 16
            info.extra = _padding(out.tell(), info.filename)
            zout.writestr(info, data)


def _padding(offset: int, filename: str) -> bytes:
    """An extra field that puts a record's data at an ALIGN boundary, as torch does."""
    start = offset + 30 + len(filename.encode()) + 4  # local header, name, field header
    pad = -start % ALIGN
    return struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB", torch's own field id


def _deterministic(data: bytes) -> bytes:
    """Provenance metadata with process-specific numbers renumbered in order."""
    for pattern in _COUNTERS:
        ids: dict[bytes, bytes] = {}

        def renumber(match: re.Match[bytes], ids: dict[bytes, bytes] = ids) -> bytes:
            return match.group(1) + ids.setdefault(match.group(2), str(len(ids)).encode())

        data = pattern.sub(renumber, data)
    return _ADDRESS.sub(b">", data)
