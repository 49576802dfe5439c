"""A shared on-disk cache of generated datasets, so tests and benchmarks generate each size once."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from c360.demo.config import DEFAULT_END_DATE, GeneratorConfig
from c360.demo.output import Progress, generate_to_dir

#: Bump when the generator's output changes, so stale caches are not reused.
CACHE_VERSION: Final = "v2"
CACHE_ENV: Final = "C360_CACHE_DIR"


def cache_root() -> Path:
    """`$C360_CACHE_DIR` if set, else `~/.cache/c360/demo`."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "c360" / "demo"


def cached_dataset(
    customers: int,
    days: int,
    seed: int,
    progress: Progress | None = None,
    end_date: dt.date = DEFAULT_END_DATE,
) -> Path:
    """The folder of the dataset for these parameters, generated on first use.

    The folder is `<seed>-<customers>-<days>-v2`, with `-<YYYYMMDD>` of the end date before `-v2` when it is not
    the default one.
    The dataset is written into a temporary folder next to its final place and renamed when complete, so a
    crashed or concurrent run never leaves a half-written folder that a later call would trust.
    """
    cfg = GeneratorConfig(customers=customers, days=days, seed=seed, end_date=end_date)
    root = cache_root()
    end = "" if end_date == DEFAULT_END_DATE else f"-{end_date:%Y%m%d}"
    path = root / f"{seed}-{customers}-{days}{end}-{CACHE_VERSION}"
    if (path / "manifest.json").is_file():
        return path
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=root))
    try:
        generate_to_dir(cfg, scratch, progress)
        if path.exists() and not (path / "manifest.json").is_file():
            shutil.rmtree(path)  # not ours: a folder without manifest is never complete
        try:
            scratch.rename(path)
        except OSError:
            if not (path / "manifest.json").is_file():
                raise
            shutil.rmtree(scratch)  # another process finished the same dataset first
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return path
