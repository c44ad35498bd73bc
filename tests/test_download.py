"""Downloads against a local HTTP server: checksums, retries, atomic and safe unpacking, MovieLens end to end."""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import threading
import zipfile
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from datamodules import MNISTDataModule, MovieLensDataModule, RossmannDataModule, download
from datamodules.download import (
    DATASETS,
    ChecksumError,
    Dataset,
    DownloadError,
    RemoteFile,
    UnsafeArchiveError,
    dataset_dir,
    download_dataset,
)
from datamodules.samples import rossmann_sample, synthetic_digits, write_idx, write_rossmann_tables
from datamodules.text import LanguageModelDataModule


@dataclass
class Route:
    """What the server answers for one path: ``body``, after ``failures`` failed answers of kind ``failure``."""

    body: bytes
    failures: int = 0
    failure: str = "503"  # an HTTP status, or "truncate": announce the full length, send half and hang up


class Server:
    """http.server on 127.0.0.1 and an ephemeral port, in a thread, serving ``routes`` and counting hits."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                body = route.body
                if server.hits[self.path] <= route.failures:
                    if route.failure != "truncate":
                        self.send_error(int(route.failure))
                        return
                    self.close_connection = True
                    body = body[: len(body) // 2]
                self.send_response(200)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes, **route) -> str:
        self.routes[path] = Route(body, **route)
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.close()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The backoff delays the downloader waits, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr(download.time, "sleep", delays.append)
    return delays


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FILES = {"corpus/train.txt": b"the cat sat\n", "corpus/sub/valid.txt": b"on the mat\n"}


def tar_gz(files: dict[str, bytes], links: dict[str, tuple[bytes, str]] = ()) -> bytes:
    """A tar.gz of ``files`` plus ``links``: name -> (tarfile.SYMTYPE or LNKTYPE, target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, (link_type, target) in dict(links).items():
            info = tarfile.TarInfo(name)
            info.type = link_type
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes], symlinks: dict[str, str] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name), data)
        for name, target in dict(symlinks).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def register(monkeypatch, name: str, urls: list[str], digest: str | None, kind: str, subdir: str = "") -> None:
    monkeypatch.setitem(DATASETS, name, Dataset((RemoteFile(tuple(urls), digest),), kind, subdir))


def everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("kind, make, name", [("tar", tar_gz, "corpus.tar.gz"), ("zip", zip_bytes, "corpus.zip")])
def test_archive_is_checked_unpacked_and_then_reused_without_the_network(
    kind, make, name, server, monkeypatch, tmp_path
):
    body = make(FILES)
    register(monkeypatch, "toy", [server.serve(f"/{name}", body)], sha256(body), kind, "corpus")
    data_dir = download_dataset("toy", tmp_path)
    assert data_dir == tmp_path / "datasets" / f"toy-{sha256(body)[:8]}" / "corpus"
    assert data_dir == dataset_dir("toy", tmp_path)
    assert (data_dir / "train.txt").read_bytes() == b"the cat sat\n"
    assert (data_dir / "sub" / "valid.txt").read_bytes() == b"on the mat\n"
    assert list((tmp_path / "datasets" / "archives").iterdir()) == []  # the archive goes once unpacked
    assert download_dataset("toy", tmp_path) == data_dir
    assert server.hits[f"/{name}"] == 1


def test_plain_files_are_kept_as_downloaded(server, monkeypatch, tmp_path):
    files = {"/a-idx1-ubyte.gz": b"\x1f\x8bfirst", "/b-idx3-ubyte.gz": b"\x1f\x8bsecond"}
    entry = Dataset(tuple(RemoteFile((server.serve(p, b),), sha256(b)) for p, b in files.items()), "file")
    monkeypatch.setitem(DATASETS, "digits", entry)
    data_dir = download_dataset("digits", tmp_path)
    assert everything_under(data_dir) == ["a-idx1-ubyte.gz", "b-idx3-ubyte.gz"]
    assert (data_dir / "b-idx3-ubyte.gz").read_bytes() == b"\x1f\x8bsecond"


def test_wrong_checksum_names_url_and_both_digests_and_deletes_the_download(server, monkeypatch, tmp_path):
    body = tar_gz(FILES)
    corrupted = body[:-10] + bytes(10)
    url = server.serve("/corpus.tar.gz", corrupted)
    register(monkeypatch, "toy", [url], sha256(body), "tar", "corpus")
    with pytest.raises(ChecksumError) as error:
        download_dataset("toy", tmp_path)
    message = str(error.value)
    assert url in message and sha256(body) in message and sha256(corrupted) in message
    assert everything_under(tmp_path) == ["datasets", "datasets/archives", f"datasets/toy-{sha256(body)[:8]}.lock"]


def test_a_mismatching_mirror_is_skipped_for_the_next_one(server, monkeypatch, tmp_path):
    body = zip_bytes(FILES)
    urls = [server.serve("/bad/corpus.zip", b"<html>moved</html>"), server.serve("/good/corpus.zip", body)]
    register(monkeypatch, "toy", urls, sha256(body), "zip", "corpus")
    assert (download_dataset("toy", tmp_path) / "train.txt").is_file()
    assert server.hits == {"/bad/corpus.zip": 1, "/good/corpus.zip": 1}


def test_transient_failures_are_retried_with_exponential_backoff(server, sleeps, monkeypatch, tmp_path):
    body = tar_gz(FILES)
    register(monkeypatch, "toy", [server.serve("/corpus.tar.gz", body, failures=3)], sha256(body), "tar", "corpus")
    data_dir = download_dataset("toy", tmp_path, retries=3, backoff=0.5)
    assert (data_dir / "train.txt").read_bytes() == b"the cat sat\n"
    assert server.hits["/corpus.tar.gz"] == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_connection_cut_mid_body_is_retried(server, sleeps, monkeypatch, tmp_path):
    body = tar_gz(FILES)
    url = server.serve("/corpus.tar.gz", body, failures=1, failure="truncate")
    register(monkeypatch, "toy", [url], sha256(body), "tar", "corpus")
    assert (download_dataset("toy", tmp_path, backoff=0.1) / "train.txt").is_file()
    assert server.hits["/corpus.tar.gz"] == 2 and sleeps == [0.1]


def test_giving_up_after_the_retries_names_the_url_and_leaves_no_partial_file(server, sleeps, monkeypatch, tmp_path):
    body = tar_gz(FILES)
    url = server.serve("/corpus.tar.gz", body, failures=10, failure="truncate")
    register(monkeypatch, "toy", [url], sha256(body), "tar", "corpus")
    with pytest.raises(DownloadError, match="gave up after 3 attempts") as error:
        download_dataset("toy", tmp_path, retries=2)
    assert url in str(error.value)
    assert server.hits["/corpus.tar.gz"] == 3 and sleeps == [1.0, 2.0]
    assert list((tmp_path / "datasets" / "archives").iterdir()) == []


def test_a_missing_file_is_not_retried(server, sleeps, monkeypatch, tmp_path):
    url = server.serve("/elsewhere", b"")
    missing = url.replace("/elsewhere", "/corpus.zip")
    register(monkeypatch, "toy", [missing], "0" * 64, "zip")
    with pytest.raises(DownloadError, match="HTTP error 404") as error:
        download_dataset("toy", tmp_path)
    assert missing in str(error.value) and server.hits["/corpus.zip"] == 1 and sleeps == []


MALICIOUS = [
    ("tar", tar_gz({"/tmp/evil.txt": b"x"}), "'/tmp/evil.txt' is an absolute path"),
    ("tar", tar_gz({"corpus/../../evil.txt": b"x"}), "'corpus/../../evil.txt' contains '..'"),
    ("tar", tar_gz(FILES, {"corpus/passwd": (tarfile.SYMTYPE, "/etc/passwd")}), "'corpus/passwd' is a symbolic link"),
    ("tar", tar_gz(FILES, {"corpus/hard": (tarfile.LNKTYPE, "../../outside")}), "'corpus/hard' is a hard link"),
    ("zip", zip_bytes({"/tmp/evil.txt": b"x"}), "'/tmp/evil.txt' is an absolute path"),
    ("zip", zip_bytes({"..\\evil.txt": b"x"}), "'..\\\\evil.txt' contains '..'"),
    ("zip", zip_bytes(FILES, {"corpus/passwd": "/etc/passwd"}), "'corpus/passwd' is a symbolic link"),
]


@pytest.mark.parametrize(
    "kind, body, problem",
    MALICIOUS,
    ids=["tar-absolute", "tar-dotdot", "tar-symlink", "tar-hardlink", "zip-absolute", "zip-dotdot", "zip-symlink"],
)
def test_members_escaping_the_target_are_refused_and_nothing_is_unpacked(
    kind, body, problem, server, monkeypatch, tmp_path
):
    cache = tmp_path / "cache"
    register(monkeypatch, "toy", [server.serve("/evil", body)], sha256(body), kind)
    with pytest.raises(UnsafeArchiveError) as error:
        download_dataset("toy", cache)
    assert problem in str(error.value) and "nothing was extracted" in str(error.value)
    assert everything_under(tmp_path) == [
        "cache",
        "cache/datasets",
        "cache/datasets/archives",
        "cache/datasets/archives/evil",
        f"cache/datasets/toy-{sha256(body)[:8]}.lock",
    ]


def test_an_interrupted_unpack_leaves_nothing_and_the_next_run_reuses_the_archive(server, monkeypatch, tmp_path):
    body = tar_gz(FILES)
    register(monkeypatch, "toy", [server.serve("/corpus.tar.gz", body)], sha256(body), "tar", "corpus")
    written = []
    real_makefile = tarfile.TarFile.makefile

    def interrupted(self, member, path):
        if written:
            raise KeyboardInterrupt
        real_makefile(self, member, path)
        written.append(Path(path))

    monkeypatch.setattr(tarfile.TarFile, "makefile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download_dataset("toy", tmp_path)
    assert written and not written[0].exists()  # the first file had been written, then removed
    datasets = tmp_path / "datasets"
    assert everything_under(datasets) == ["archives", "archives/corpus.tar.gz", f"toy-{sha256(body)[:8]}.lock"]

    monkeypatch.setattr(tarfile.TarFile, "makefile", real_makefile)
    assert (download_dataset("toy", tmp_path) / "sub" / "valid.txt").read_bytes() == b"on the mat\n"
    assert server.hits["/corpus.tar.gz"] == 1


def test_leftovers_of_a_killed_run_are_removed(server, monkeypatch, tmp_path):
    body = tar_gz(FILES)
    register(monkeypatch, "toy", [server.serve("/corpus.tar.gz", body)], sha256(body), "tar", "corpus")
    datasets = tmp_path / "datasets"
    half_unpacked = datasets / f".toy-{sha256(body)[:8]}-x1y2z3" / "corpus"
    half_unpacked.mkdir(parents=True)
    (datasets / "archives").mkdir()
    (datasets / "archives" / ".corpus.tar.gz.abc123.part").write_bytes(body[:10])
    download_dataset("toy", tmp_path)
    assert everything_under(datasets) == sorted(
        ["archives", f"toy-{sha256(body)[:8]}", f"toy-{sha256(body)[:8]}.lock"]
        + [f"toy-{sha256(body)[:8]}/{p}" for p in ("corpus", "corpus/sub", "corpus/sub/valid.txt", "corpus/train.txt")]
    )


def test_an_unreadable_archive_with_the_expected_digest_is_reported_and_removed(server, monkeypatch, tmp_path):
    body = tar_gz(FILES)[:-40]  # truncated gzip stream
    register(monkeypatch, "toy", [server.serve("/corpus.tar.gz", body)], sha256(body), "tar", "corpus")
    with pytest.raises(DownloadError, match="corpus.tar.gz is not a readable tar archive"):
        download_dataset("toy", tmp_path)
    assert everything_under(tmp_path / "datasets") == ["archives", f"toy-{sha256(body)[:8]}.lock"]


def test_an_archive_without_the_expected_folder_is_an_error(server, monkeypatch, tmp_path):
    body = zip_bytes(FILES)
    register(monkeypatch, "toy", [server.serve("/corpus.zip", body)], sha256(body), "zip", "wikitext-2")
    with pytest.raises(DownloadError, match=r"without the folder 'wikitext-2' .*\(found: corpus\)"):
        download_dataset("toy", tmp_path)
    assert not dataset_dir("toy", tmp_path).parent.exists()


def test_unknown_digest_refuses_to_download_until_one_is_passed(server, monkeypatch, tmp_path):
    body = tar_gz(FILES)
    url = server.serve("/rossmann.tgz", body)
    register(monkeypatch, "toy", [url], None, "tar", "corpus")
    with pytest.raises(DownloadError, match=r"no published sha256 .* data\.sha256=<64 hex digits>") as error:
        download_dataset("toy", tmp_path)
    assert url in str(error.value) and server.hits["/rossmann.tgz"] == 0
    assert (download_dataset("toy", tmp_path, sha256=sha256(body).upper()) / "train.txt").is_file()


@pytest.mark.parametrize(
    "name, digest, message",
    [
        ("imbd", None, "unknown dataset 'imbd'"),
        ("imdb", "c40f74a1", "is not a sha256 digest"),
        ("mnist", "0" * 64, "mnist has 4 files"),
    ],
    ids=["misspelled dataset", "short digest", "one digest for several files"],
)
def test_bad_requests_fail_before_any_network_access(name, digest, message, tmp_path):
    with pytest.raises(DownloadError, match=message):
        download_dataset(name, tmp_path, sha256=digest)
    assert not (tmp_path / "datasets").exists()


def test_registry_names_the_lessons_datasets_with_published_digests():
    assert set(DATASETS) >= {"imdb", "ml-latest-small", "ml-100k", "mnist", "cifar10", "wikitext-2", "wikitext-103"}
    for name, entry in DATASETS.items():
        assert entry.kind in download.ARCHIVE_KINDS, name
        for file in entry.files:
            assert all(url.startswith("https://") and url.endswith(file.name) for url in file.urls), name
            assert file.sha256 is None or download.SHA256_PATTERN.fullmatch(file.sha256), name
    assert [name for name, entry in DATASETS.items() if any(f.sha256 is None for f in entry.files)] == ["rossmann"]
    assert len(DATASETS["mnist"].files) == 4


# MovieLens end to end: the registry entry points at the local server.

LATEST_SMALL = {
    "ml-latest-small/ratings.csv": b"userId,movieId,rating,timestamp\n1,10,4.0,5\n1,20,3.5,6\n2,10,5.0,7\n3,30,1.0,8\n",
    "ml-latest-small/movies.csv": b"movieId,title,genres\n10,Heat (1995),Action\n20,Up (2009),Comedy\n",
}


def serve_movielens(server, monkeypatch, name: str, files: dict[str, bytes]) -> None:
    body = zip_bytes(files)
    register(monkeypatch, name, [server.serve(f"/{name}.zip", body)], sha256(body), "zip", name)


def test_movielens_download_fetches_and_reads_the_real_layout(server, monkeypatch, tmp_path):
    serve_movielens(server, monkeypatch, "ml-latest-small", LATEST_SMALL)
    dm = MovieLensDataModule(download=True, cache_dir=str(tmp_path), valid_pct=0.25)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.describe() == {"n_users": 3, "n_items": 3}
    assert dm.item_names == ["Heat (1995)", "Up (2009)", "movie 30"]
    assert dm.arrays["ratings"].tolist() == [4.0, 3.5, 5.0, 1.0]
    assert server.hits["/ml-latest-small.zip"] == 1


def test_movielens_data_dir_wins_over_download(server, monkeypatch, tmp_path):
    serve_movielens(server, monkeypatch, "ml-latest-small", LATEST_SMALL)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating\n1,1,1\n2,2,2\n3,3,3\n")
    dm = MovieLensDataModule(data_dir=str(folder), download=True, cache_dir=str(tmp_path / "cache"))
    dm.prepare_data()
    assert dm.describe() == {"n_users": 3, "n_items": 3} and server.hits["/ml-latest-small.zip"] == 0


def test_movielens_rejects_an_unknown_dataset():
    with pytest.raises(ValueError, match="unknown MovieLens dataset 'ml-1m'"):
        MovieLensDataModule(download=True, dataset="ml-1m")


def test_movielens_task_trains_on_downloaded_ml_100k(server, monkeypatch, run_task):
    ratings = "".join(f"{u}\t{m}\t{(u * m) % 5 + 1}\t{880_000_000 + 7 * u + m}\n" for u in range(20) for m in (1, 2, 3))
    items = "1|Toy Story (1995)|x\n2|GoldenEye (1995)|x\n3|Four Rooms (1995)|x\n"
    serve_movielens(
        server, monkeypatch, "ml-100k", {"ml-100k/u.data": ratings.encode(), "ml-100k/u.item": items.encode("latin-1")}
    )
    metrics = run_task("movielens", "data.download=true", "data.dataset=ml-100k", "trainer=debug")
    assert "val/rmse" in metrics and metrics["val/rmse"] == metrics["val/rmse"]
    assert server.hits["/ml-100k.zip"] == 1


# MNIST and Rossmann through their data modules: data.download=true.


def test_mnist_download_fetches_the_four_idx_files(server, monkeypatch, tmp_path):
    images, labels = synthetic_digits(200, seed=0)  # every digit among the training rows
    folder = tmp_path / "made"
    folder.mkdir()
    paths = [
        write_idx(folder / f"{prefix}-{kind}.gz", array[rows])
        for prefix, rows in (("train", slice(0, 150)), ("t10k", slice(150, 200)))
        for kind, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels))
    ]
    files = tuple(RemoteFile((server.serve(f"/{p.name}", p.read_bytes()),), sha256(p.read_bytes())) for p in paths)
    monkeypatch.setitem(DATASETS, "mnist", Dataset(files, "file"))
    dm = MNISTDataModule(download=True, valid_pct=0.2, cache_dir=str(tmp_path / "cache"))
    dm.prepare_data()
    dm.setup("fit")
    assert [len(dm.splits[s][1]) for s in ("train", "valid", "test")] == [120, 30, 50]
    assert sorted(dm.splits["test"][1].tolist()) == sorted(labels[150:].tolist())
    assert all(server.hits[f"/{p.name}"] == 1 for p in paths)


def test_rossmann_download_needs_a_digest_then_reads_the_archive(server, monkeypatch, tmp_path):
    tables = write_rossmann_tables(tmp_path / "made", rossmann_sample(n_stores=3), layout="combined")
    body = tar_gz({p.name: p.read_bytes() for p in tables.iterdir() if p.is_file()})
    register(monkeypatch, "rossmann", [server.serve("/rossmann.tgz", body)], None, "tar")
    with pytest.raises(DownloadError, match="sha256"):
        RossmannDataModule(download=True, cache_dir=str(tmp_path / "cache")).prepare_data()
    dm = RossmannDataModule(download=True, sha256=sha256(body), cache_dir=str(tmp_path / "cache"))
    dm.prepare_data()
    assert dm.describe()["emb_szs"][0][0] == 4  # three stores and the unknown code
    assert server.hits["/rossmann.tgz"] == 1


def test_imdb_download_feeds_the_language_model(server, monkeypatch, tmp_path):
    reviews = {
        "aclImdb/train/pos/0_9.txt": b"A wonderful film.",
        "aclImdb/train/neg/1_2.txt": b"A dull film.",
        "aclImdb/train/unsup/2_0.txt": b"Some film.",
        "aclImdb/test/pos/3_8.txt": b"Great acting.",
        "aclImdb/test/neg/4_1.txt": b"Bad acting.",
    }
    body = tar_gz(reviews)
    register(monkeypatch, "imdb", [server.serve("/aclImdb_v1.tar.gz", body)], sha256(body), "tar", "aclImdb")
    dm = LanguageModelDataModule(download=True, n_workers=1, min_freq=1, cache_dir=str(tmp_path / "cache"))
    dm.prepare_data()
    assert len(dm.tokenized.splits) == 5 and server.hits["/aclImdb_v1.tar.gz"] == 1
    with pytest.raises(ValueError, match="no public arxiv dataset to download"):
        LanguageModelDataModule(corpus="arxiv", download=True, cache_dir=str(tmp_path / "cache")).prepare_data()
