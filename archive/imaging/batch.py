"""Scrubbing many files: collecting inputs, naming outputs, worker processes, the report.

Each file runs in a worker process, so a file that crashes its decoder (a segfault in a
native library, say) costs that file only: the batch notices the broken pool, retries
the files that were in flight one at a time, and carries on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from .reading import N_, ImageRejected
from .settings import ImagingSettings

#: Files a folder walk skips: operating-system litter, never photos.
_LITTER = {"thumbs.db", "desktop.ini", "icon\r"}


@dataclass(frozen=True)
class Job:
    key: str  #: the input's name in the report: the path as given or as walked
    src: Path
    dest: Path


def collect_inputs(args: Iterable[str], out_dir: Path) -> list[tuple[str, Path, Path]]:
    """Expand files and folders (recursively) into (key, path, relative-to) triples.

    Hidden files and OS litter inside folders are skipped; files named explicitly are
    always taken. The output folder is never walked into.
    """
    out_dir = out_dir.resolve()
    found: list[tuple[str, Path, Path]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                root_path = Path(root)
                dirs[:] = sorted(
                    d for d in dirs
                    if not d.startswith(".") and (root_path / d).resolve() != out_dir
                )
                for name in sorted(files):
                    if name.startswith(".") or name.lower() in _LITTER:
                        continue
                    file = root_path / name
                    found.append((display_path(file), file, file.relative_to(path).parent))
        else:
            found.append((display_path(arg), path, Path()))
    # The same file named twice (or by two paths) is scrubbed once.
    seen: set[Path] = set()
    unique = []
    for key, file, rel in found:
        real = file.resolve()
        if real not in seen:
            seen.add(real)
            unique.append((key, file, rel))
    return unique


def display_path(path: str | os.PathLike) -> str:
    """A path as text that can always be printed and written to JSON.

    Names from old cards and zips may not be valid UTF-8; Python keeps such bytes as
    lone surrogates, which no encoder accepts, so they are shown as \\xNN escapes.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def plan_outputs(inputs: list[tuple[str, Path, Path]], out_dir: Path) -> list[Job]:
    """Give each input its own output path under ``out_dir``; names never collide.

    ``photo.png`` becomes ``photo.jpg``; if two inputs would share a name (``a.png`` and
    ``a.webp``), each keeps its old extension in the name (``a.png.jpg``, ``a.webp.jpg``),
    and a number is added if even that is taken. An output never replaces an input, nor
    any file already in ``out_dir``: a run adds files, it never destroys one.
    """
    inputs_resolved = {p.resolve() for _, p, _ in inputs}
    simple_names = Counter(str(rel / (file.stem + ".jpg")).lower() for _, file, rel in inputs)
    taken: set[str] = set()
    jobs = []
    for key, file, rel in inputs:
        candidate = rel / (file.stem + ".jpg")
        if simple_names[str(candidate).lower()] > 1:
            candidate = rel / (file.name + ".jpg")
        n = 1
        while (
            str(candidate).lower() in taken
            or (out_dir / candidate).resolve() in inputs_resolved
            or os.path.lexists(out_dir / candidate)
        ):
            n += 1
            candidate = rel / f"{file.stem}-{n}.jpg"
        taken.add(str(candidate).lower())
        jobs.append(Job(key=key, src=file, dest=out_dir / candidate))
    return jobs


# -- worker side ---------------------------------------------------------------------------

def _init_worker(single_threaded: bool) -> None:
    import cv2

    if single_threaded:
        cv2.setNumThreads(1)  # several processes already share the cores


def scrub_one(
    job: Job, settings: ImagingSettings, show_values: bool = False
) -> tuple[str, dict, list]:
    """Scrub one file in a worker; returns (key, report entry, metadata values).

    The values are read only when asked for (``--show-values``), for the terminal.
    """
    from .metadata import describe
    from .pipeline import scrub_file

    try:
        if not job.src.is_file():
            raise ImageRejected(N_("No such file."))
        job.dest.parent.mkdir(parents=True, exist_ok=True)
        outcome = scrub_file(job.src, job.dest, settings)
        values = describe(str(job.src)) if show_values else []
        return job.key, outcome.report_entry(display_path(job.dest)), values
    except ImageRejected as err:
        return job.key, error_entry(str(err)), []
    except MemoryError:
        return job.key, error_entry("Not enough memory to process this image."), []
    except Exception as err:  # noqa: BLE001 - one bad file must not stop the batch
        return job.key, error_entry(f"Processing failed: {type(err).__name__}: {err}"), []


def error_entry(message: str) -> dict:
    return {"output": None, "faces": [], "metadata_removed": {}, "notes": [], "error": message}


# -- the batch -------------------------------------------------------------------------------

WorkerFn = Callable[[Job, ImagingSettings, bool], tuple[str, dict, list]]


#: A file still being worked on after this many seconds is given up on (a 100 MP photo
#: takes about 4 s here): a hostile file must not stall the batch.
FILE_TIMEOUT = 120.0

_FAILURES = {
    "crash": "The image made the decoder crash; it may be damaged or hostile.",
    "timeout": "Processing took longer than {:.0f} s and was stopped; the file may be "
               "damaged or hostile.",
}


def run_batch(
    jobs: list[Job],
    settings: ImagingSettings,
    workers: int,
    on_done: Callable[[str, dict, list], None],
    show_values: bool = False,
    worker: WorkerFn = scrub_one,
    file_timeout: float = FILE_TIMEOUT,
) -> None:
    """Scrub ``jobs`` in ``workers`` processes, calling ``on_done`` as each finishes.

    ``worker`` must be a module-level function (it is sent to spawned processes by
    name); the tests pass ones that crash or hang on purpose.
    """
    pending: list[tuple[Job, int]] = [(job, 0) for job in jobs]
    pending.reverse()  # pop() from the end keeps the input order
    suspects: list[Job] = []
    while pending or suspects:
        # After a crash, files that were in flight run alone, so the culprit is found.
        if suspects:
            window, queue = 1, [(j, 1) for j in reversed(suspects)]
            suspects = []
            queue.extend(pending)
            pending = queue
        else:
            window = workers
        failed = _drain(pending, window, on_done, worker, (settings, show_values),
                        file_timeout)
        for job, attempts, reason in failed:
            if attempts >= 1 or reason == "timeout":
                on_done(job.key, error_entry(_FAILURES[reason].format(file_timeout)), [])
            else:
                suspects.append(job)


def _drain(
    pending: list[tuple[Job, int]],
    window: int,
    on_done: Callable[[str, dict, list], None],
    worker: WorkerFn,
    args: tuple,
    file_timeout: float,
) -> list[tuple[Job, int, str]]:
    """Run ``pending`` with at most ``window`` in flight. If a worker dies, or a file
    runs past ``file_timeout`` (its workers are then killed), return the jobs that were
    in flight with the reason, "crash" or "timeout"; the rest stay in ``pending``."""
    ctx = multiprocessing.get_context("spawn")  # no fork after native libraries started threads
    with ProcessPoolExecutor(
        max_workers=window, mp_context=ctx, initializer=_init_worker,
        initargs=(window > 1,),
    ) as pool:
        running: dict[Future, tuple[Job, int]] = {}
        started: dict[Future, float] = {}
        overdue: set[Future] = set()
        while pending or running:
            while pending and len(running) < window:
                job, attempts = pending.pop()
                fut = pool.submit(worker, job, *args)
                running[fut], started[fut] = (job, attempts), time.monotonic()
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            if not done:
                now = time.monotonic()
                late = {f for f in running if now - started[f] > file_timeout}
                if late and not overdue:
                    overdue = late
                    # The executor cannot stop one task; killing its processes breaks
                    # the pool, which the crash handling below then deals with.
                    for process in list(getattr(pool, "_processes", {}).values()):
                        process.kill()
                continue
            for fut in done:
                job, attempts = running.pop(fut)
                try:
                    key, entry, values = fut.result()
                except BrokenProcessPool:
                    broken = [(job, attempts, "timeout" if fut in overdue else "crash")]
                    broken += [(j, a, "timeout" if f in overdue else "crash")
                               for f, (j, a) in running.items()]
                    for f in running:
                        f.cancel()
                    return broken
                on_done(key, entry, values)
    return []


def write_report(report: dict, path: Path) -> None:
    """Write the JSON report atomically, keys in input order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def iter_values(values: list[tuple[str, str, str]]) -> Iterator[str]:
    for kind, where, value in values:
        yield f"    {kind:<15} {where}: {value}"
