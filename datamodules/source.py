"""Where a data module's files come from: the user's folder, else a checked download, else the built-in sample."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from datamodules.download import download_dataset


@dataclass
class DataSource:
    """The five settings every data module shares, resolved once into the folder it reads.

    ``data_dir`` wins; without it, ``download`` fetches ``dataset`` into ``cache_dir`` (checked against
    its published sha256, or ``sha256``); otherwise ``sample`` writes the built-in sample (once) into
    ``cache_dir/samples/<sample_name>``. The settings are never rewritten: ``folder`` is the answer.
    """

    data_dir: str | None = None
    download: bool = False
    dataset: str | None = None
    sha256: str | None = None
    cache_dir: str | Path = ".cache/fastlightning"
    _folder: Path | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir)

    @property
    def is_sample(self) -> bool:
        """True when neither a folder nor a download is asked for: the built-in sample is read."""
        return self.data_dir is None and not self.download

    def resolve(self, sample_name: str, write_sample: Callable[[Path], Path | None]) -> Path:
        """The folder to read, found (or downloaded, or written) on the first call and kept."""
        if self._folder is None:
            if self.data_dir is not None:
                self._folder = Path(self.data_dir)
            elif self.download:
                if self.dataset is None:
                    raise ValueError("download=True needs the name of a dataset to download")
                self._folder = download_dataset(self.dataset, self.cache_dir, sha256=self.sha256)
            else:
                folder = Path(self.cache_dir) / "samples" / sample_name
                self._folder = Path(write_sample(folder) or folder)
        return self._folder
