"""Public datasets by URL: fetched with retries, checked against a sha256, unpacked safely and atomically.

``download_dataset("imdb", cache_dir)`` returns the folder a data module uses as ``data_dir``. Files are
fetched into ``cache_dir/datasets/archives`` and must match their sha256; archives are unpacked into a
temporary folder renamed to ``cache_dir/datasets/<name>-<digest prefix>`` only once complete, so a failure
or an interruption leaves no half-unpacked dataset, and a member that would land outside that folder
(absolute path, ``..``, a symbolic or hard link) is refused. Standard library only.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import http.client
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path, PurePosixPath

from datamodules.files import DataError, locked, write_folder_atomically
from datamodules.public_datasets import DATASETS, Dataset, RemoteFile

log = logging.getLogger(__name__)

ARCHIVE_KINDS = ("tar", "zip", "file")
TRANSIENT_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK_BYTES = 1 << 20
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
DAMAGED_ARCHIVE = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile)


class DownloadError(DataError):
    """A dataset that could not be fetched or unpacked; the message names the URL or member and what to do."""


class ChecksumError(DownloadError):
    """Downloaded bytes whose sha256 is not the expected one (the file is deleted)."""


class UnsafeArchiveError(DownloadError):
    """An archive member that would be written outside the target folder (nothing is unpacked)."""


def file_sha256(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def registry_entry(name: str, sha256: str | None = None) -> Dataset:
    """The registry entry of ``name`` with every digest known: ``sha256`` replaces a single file's digest."""
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}: downloadable datasets are {', '.join(DATASETS)}")
    dataset = DATASETS[name]
    if sha256 is not None:
        digest = sha256.strip().lower()
        if not SHA256_PATTERN.fullmatch(digest):
            raise DownloadError(f"sha256={sha256!r} is not a sha256 digest: expected 64 hexadecimal digits")
        if len(dataset.files) != 1:
            raise DownloadError(
                f"sha256= names the digest of a single file, but {name} has {len(dataset.files)} files "
                f"({', '.join(f.name for f in dataset.files)}) whose digests are already known; leave it unset"
            )
        dataset = replace(dataset, files=(replace(dataset.files[0], sha256=digest),))
    for file in dataset.files:
        if file.sha256 is None:
            raise DownloadError(
                f"no published sha256 is known for {file.name} ({', '.join(file.urls)}), so it is not downloaded "
                f"unchecked. Fetch it once yourself, check it, and pass its digest: data.sha256=<64 hex digits> "
                f"on the command line (sha256=... in Python); `sha256sum {file.name}` prints it"
            )
    return dataset


def _folder_name(name: str, dataset: Dataset) -> str:
    """``<name>-<8 hex digits>`` of the expected digests, so another version lands in another folder."""
    digests = [file.sha256 for file in dataset.files]
    tag = digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode()).hexdigest()
    return f"{name}-{tag[:8]}"


def dataset_dir(name: str, cache_dir: str | Path, sha256: str | None = None) -> Path:
    """Where ``download_dataset`` puts ``name``'s data: the folder a data module uses as ``data_dir``."""
    dataset = registry_entry(name, sha256)
    return Path(cache_dir) / "datasets" / _folder_name(name, dataset) / dataset.data_subdir


def download_dataset(
    name: str,
    cache_dir: str | Path,
    sha256: str | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
) -> Path:
    """Fetch, check and unpack ``name`` into ``cache_dir`` once; return the folder to use as ``data_dir``.

    ``sha256`` is the expected digest of a single-file dataset (required where none is published).
    A transient failure (connection error, timeout, HTTP 5xx/408/429) is retried ``retries`` times after
    ``backoff``, ``2 * backoff``, ... seconds, then the next mirror is tried.
    """
    dataset = registry_entry(name, sha256)
    root = Path(cache_dir) / "datasets"
    target = root / _folder_name(name, dataset)
    if not target.is_dir():
        with locked(root / f"{target.name}.lock"):
            if not target.is_dir():
                _remove_leftovers(root, target.name, dataset.files)
                archives = [fetch(file, root / "archives", retries, backoff, timeout) for file in dataset.files]
                unpack(archives, dataset.kind, target, dataset.data_subdir)
                for archive in archives:
                    archive.unlink()
    return target / dataset.data_subdir


def _remove_leftovers(root: Path, folder_name: str, files: tuple[RemoteFile, ...]) -> None:
    """The temporary files of a run killed before it could clean up (SIGKILL, power loss); called under the lock."""
    for tmp in root.glob(f".{glob.escape(folder_name)}-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for file in files:
        for part in (root / "archives").glob(f".{glob.escape(file.name)}.*.part"):
            part.unlink(missing_ok=True)


def fetch(file: RemoteFile, folder: Path, retries: int = 3, backoff: float = 1.0, timeout: float = 60.0) -> Path:
    """``folder/<file name>`` with the expected sha256: a matching earlier download, or fetched from a mirror."""
    path = folder / file.name
    if path.is_file():
        if file_sha256(path) == file.sha256:
            return path
        log.warning(f"{path} does not match its sha256 {file.sha256}; downloading it again")
        path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in file.urls:
        try:
            _download(url, path, file, retries, backoff, timeout)
            return path
        except DownloadError as error:
            if len(file.urls) == 1:
                raise
            errors.append(str(error))
    raise DownloadError(f"{file.name} could not be downloaded from any of its mirrors:\n  " + "\n  ".join(errors))


def _download(url: str, path: Path, file: RemoteFile, retries: int, backoff: float, timeout: float) -> None:
    """Stream ``url`` into a temporary file next to ``path``, check its sha256, rename it to ``path``."""
    handle, tmp_name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        digest, n_bytes = _get_with_retries(url, tmp, retries, backoff, timeout)
        if digest != file.sha256:
            sizes = f"{n_bytes} bytes" + (f", expected {file.size}" if file.size is not None else "")
            raise ChecksumError(
                f"{url}: sha256 mismatch, expected {file.sha256} but got {digest} ({sizes}); the download was "
                f"deleted. If the file was updated upstream and you trust it, pass the new digest with "
                f"data.sha256=... (sha256=... in Python)"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _get_with_retries(url: str, tmp: Path, retries: int, backoff: float, timeout: float) -> tuple[str, int]:
    reason = ""
    for attempt in range(retries + 1):
        if attempt:
            delay = backoff * 2 ** (attempt - 1)
            log.warning(f"{url}: {reason}; retry {attempt}/{retries} in {delay:g} s")
            time.sleep(delay)
        try:
            return _get(url, tmp, timeout)
        except urllib.error.HTTPError as error:
            if error.code not in TRANSIENT_HTTP_CODES:
                raise DownloadError(f"{url}: HTTP error {error.code} {error.reason}; check the URL") from None
            reason = f"HTTP error {error.code} {error.reason}"
        except (OSError, http.client.HTTPException) as error:
            reason = str(getattr(error, "reason", None) or error) or type(error).__name__
    raise DownloadError(
        f"{url}: {reason}; gave up after {retries + 1} attempts. Check the network connection and run again"
    )


def _get(url: str, tmp: Path, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into ``tmp``; the sha256 and the number of bytes received."""
    log.info(f"downloading {url}")
    digest = hashlib.sha256()
    n_bytes = 0
    request = urllib.request.Request(url, headers={"User-Agent": "fastlightning"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
        while chunk := response.read(CHUNK_BYTES):
            digest.update(chunk)
            out.write(chunk)
            n_bytes += len(chunk)
        announced = response.headers.get("Content-Length")
    if announced is not None and int(announced) != n_bytes:
        raise http.client.IncompleteRead(b"", int(announced) - n_bytes)
    return digest.hexdigest(), n_bytes


def unpack(archives: list[Path], kind: str, target: Path, data_subdir: str = "") -> Path:
    """Unpack ``archives`` into ``target`` all at once (a temporary folder renamed into place)."""
    if kind not in ARCHIVE_KINDS:
        raise ValueError(f"unknown archive kind {kind!r}: choose one of {', '.join(ARCHIVE_KINDS)}")

    def write(tmp: Path) -> None:
        for archive in archives:
            try:
                if kind == "tar":
                    extract_tar(archive, tmp)
                elif kind == "zip":
                    extract_zip(archive, tmp)
                else:
                    shutil.copyfile(archive, tmp / archive.name)
            except DAMAGED_ARCHIVE as error:
                archive.unlink()
                raise DownloadError(
                    f"{archive} is not a readable {kind} archive ({error}) although it has the expected sha256; "
                    f"it was deleted. Check the digest passed with sha256=, or the registry entry"
                ) from None
        if not (tmp / data_subdir).is_dir():
            found = ", ".join(sorted(p.name for p in tmp.iterdir())[:10]) or "nothing"
            raise DownloadError(
                f"{', '.join(a.name for a in archives)} unpacked without the folder {data_subdir!r} "
                f"the data module reads (found: {found}); the registry entry's data_subdir is out of date"
            )

    return write_folder_atomically(target, write)


def _check_name(archive: Path, name: str) -> None:
    """Refuse a member name that is absolute or climbs out with ``..`` (``\\`` counts as a separator)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or re.match(r"[A-Za-z]:", name):
        problem = "is an absolute path"
    elif ".." in path.parts:
        problem = "contains '..'"
    else:
        return
    raise UnsafeArchiveError(
        f"{archive}: member {name!r} {problem} and would be written outside the target folder; "
        f"refusing to unpack {archive.name} (nothing was extracted)"
    )


def extract_tar(archive: Path, folder: Path) -> None:
    """Unpack a tar archive after checking every member: regular files and folders inside ``folder`` only."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            _check_name(archive, member.name)
            if member.issym() or member.islnk():
                kind = "symbolic" if member.issym() else "hard"
                raise UnsafeArchiveError(
                    f"{archive}: member {member.name!r} is a {kind} link to {member.linkname!r}; links could "
                    f"reach outside the target folder, so {archive.name} is not unpacked (nothing was extracted)"
                )
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(
                    f"{archive}: member {member.name!r} is a device or fifo, not a file or folder; "
                    f"{archive.name} is not unpacked (nothing was extracted)"
                )
        safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(folder, members=members, **safety)


def extract_zip(archive: Path, folder: Path) -> None:
    """Unpack a zip archive after checking every member: no absolute paths, no ``..``, no symbolic links."""
    with zipfile.ZipFile(archive) as zip_file:
        members = zip_file.infolist()
        for member in members:
            _check_name(archive, member.filename)
            if stat.S_ISLNK(member.external_attr >> 16):
                raise UnsafeArchiveError(
                    f"{archive}: member {member.filename!r} is a symbolic link; links could reach outside the "
                    f"target folder, so {archive.name} is not unpacked (nothing was extracted)"
                )
        zip_file.extractall(folder, members=members)
