"""Resumable evaluation runs: the run identity and the per-rank state files in ``RUN_DIR``.

Layout of a run directory (the finished files are described in :mod:`evaluation.runs.schema`)::

    RUN_DIR/results.json            the finished run (written last, atomically)
    RUN_DIR/gallery.npz             the gallery (written just before results.json)
    RUN_DIR/records.npz             the per-image records (for intervals and paired tests)
    RUN_DIR/state/rank<r>-of-<w>.pt  one state file per process, saved atomically every N
                                    batches and at the end of the rank's shard

A state file is a ``torch.save`` dict (read back with ``weights_only=True``)::

    {"identity": {...},            # the configuration that determines the numbers
     "next_batch": int,            # batches of this rank's shard already counted
     "done": bool,                 # the whole shard is counted
     "accumulators": {method: LocalizationAccumulator.state_dict()},
     "ious": {method: int16 tensor (N, T + 1)},  # per-image V1 IoU x IOU_SCALE at each threshold
                                                 # and the fixed one (0 where not seen)
     "seconds": {key: float}}       # time spent so far (forward, each method, data, loop)

The identity is every option that changes the numbers or the batch boundaries (dataset, root,
split, model, checkpoint and its SHA-256, weights, methods, their options and the input
reduction, protocol, image size, window, padding, class map, limit, batch size, AMP, seed, device
type and world size). Restarting the
same command continues each rank from ``next_batch``; a different identity in an existing
``RUN_DIR`` is refused unless ``overwrite`` is set, which deletes the run's files (only those).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from evaluation.errors import ConfigurationError
from evaluation.io import atomic_save, remove_stale_temporaries
from evaluation.runs.schema import GALLERY_FILE, RECORDS_FILE, REPORT_FILES, RESULTS_FILE

STATE_DIR = "state"
IOU_SCALE = 10_000
"""Per-image IoU is kept as ``round(IoU * IOU_SCALE)`` in int16 (for the gallery's ranking)."""


@dataclass
class RankState:
    """One process's progress (see the module docstring for the stored layout)."""

    identity: dict[str, Any]
    next_batch: int
    done: bool
    accumulators: dict[str, dict[str, Any]]
    ious: dict[str, torch.Tensor]
    seconds: dict[str, float]

    @classmethod
    def fresh(cls, identity: dict[str, Any]) -> RankState:
        """The state of a rank that has counted nothing yet."""
        return cls(identity=identity, next_batch=0, done=False, accumulators={}, ious={},
                   seconds={})


def state_path(run_dir: Path, rank: int, world_size: int) -> Path:
    """``RUN_DIR/state/rank<r>-of-<w>.pt``."""
    return run_dir / STATE_DIR / f"rank{rank}-of-{world_size}.pt"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content (1 MiB chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_state(path: Path, state: RankState) -> None:
    """Write ``state`` atomically (a kill during the write leaves the previous file intact)."""
    payload = {
        "identity_json": json.dumps(state.identity, sort_keys=True),
        "next_batch": state.next_batch,
        "done": state.done,
        "accumulators": state.accumulators,
        "ious": state.ious,
        "seconds": state.seconds,
    }
    atomic_save(path, lambda handle: torch.save(payload, handle))


def load_state(path: Path) -> RankState | None:
    """Read a state file; ``None`` when there is none.

    Raises:
        ConfigurationError: the file exists but cannot be read (pass --overwrite to start over).
    """
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return RankState(
            identity=json.loads(payload["identity_json"]),
            next_batch=int(payload["next_batch"]),
            done=bool(payload["done"]),
            accumulators=payload["accumulators"],
            ious=payload["ious"],
            seconds={k: float(v) for k, v in payload["seconds"].items()},
        )
    except (
        pickle.UnpicklingError, EOFError, OSError, RuntimeError, KeyError, ValueError, TypeError
    ) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigurationError(
            f"{path} is not a readable evaluation state file ({reason}); pass --overwrite to "
            "start the run again"
        ) from error


def stored_identities(run_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The identities recorded in ``RUN_DIR`` (results.json and every state file)."""
    found: list[tuple[Path, dict[str, Any]]] = []
    results = run_dir / RESULTS_FILE
    if results.is_file():
        try:
            identity = json.loads(results.read_text("utf-8"))["run"]["identity"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigurationError(
                f"{results} is not a results file of `wsol-bench evaluate` ({error}); choose "
                "another --output or pass --overwrite"
            ) from error
        found.append((results, identity))
    for path in sorted((run_dir / STATE_DIR).glob("rank*-of-*.pt")):
        state = load_state(path)
        if state is not None:
            found.append((path, state.identity))
    return found


def check_run_dir(run_dir: Path, identity: dict[str, Any]) -> None:
    """Refuse a run directory that holds a run with another identity.

    Raises:
        ConfigurationError: names the file and the differing options, and suggests
            ``--overwrite`` or another ``--output``.
    """
    for path, stored in stored_identities(run_dir):
        if stored != identity:
            keys = sorted(
                k for k in set(stored) | set(identity) if stored.get(k) != identity.get(k)
            )
            changes = "; ".join(
                f"{k}: {stored.get(k)!r} -> {identity.get(k)!r}" for k in keys[:4]
            )
            raise ConfigurationError(
                f"{run_dir} holds a run with another configuration ({path.name}: {changes}); "
                "pass --overwrite to replace it or choose another --output"
            )


def remove_temporaries(run_dir: Path) -> None:
    """Delete the hidden temporary files of the run's atomic writes (left by a killed process).

    Call it only while holding the run folder's lock: no live process is writing them then.
    """
    remove_stale_temporaries(run_dir, (RESULTS_FILE, GALLERY_FILE, RECORDS_FILE, *REPORT_FILES))
    remove_stale_temporaries(run_dir / STATE_DIR, ("rank*-of-*.pt",))


def clear_run_dir(run_dir: Path) -> None:
    """Delete the files a run writes (results, gallery, records, reports, state, temporaries)."""
    remove_temporaries(run_dir)
    for name in (RESULTS_FILE, GALLERY_FILE, RECORDS_FILE, *REPORT_FILES):
        (run_dir / name).unlink(missing_ok=True)
    state_dir = run_dir / STATE_DIR
    if state_dir.is_dir():
        for path in state_dir.glob("rank*-of-*.pt"):
            path.unlink(missing_ok=True)
        if not any(state_dir.iterdir()):
            state_dir.rmdir()
