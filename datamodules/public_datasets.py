"""The public datasets the data modules can download: their URLs (with mirrors), published sha256 digests
and how each unpacks. Data only; fetching and unpacking are in ``download.py``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its URLs (mirrors, tried in order), its sha256 and its size in bytes if known."""

    urls: tuple[str, ...]
    sha256: str | None
    size: int | None = None

    @property
    def name(self) -> str:
        return self.urls[0].rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Dataset:
    """A public dataset: its files, how they unpack, and the folder inside them a data module reads.

    ``kind`` is ``tar`` (any compression tarfile reads), ``zip``, or ``file`` (kept as downloaded);
    ``data_subdir`` is the path, inside the unpacked tree, that a data module takes as ``data_dir``.
    """

    files: tuple[RemoteFile, ...]
    kind: str
    data_subdir: str = ""


def _mirrored(bases: tuple[str, ...], name: str) -> tuple[str, ...]:
    return tuple(base + name for base in bases)


_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_MNIST = ("https://storage.googleapis.com/cvdf-datasets/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/")
_WIKITEXT = ("https://wikitext.smerity.com/", "https://s3.amazonaws.com/research.metamind.io/wikitext/")

# Every digest is a published one, never computed here (there is no network to download from):
# TFDS = TensorFlow Datasets, tensorflow_datasets/url_checksums/<name>.txt (URL, size, sha256);
# HF = Hugging Face datasets, datasets/wikitext/dataset_infos.json ("download_checksums": size, sha256).
DATASETS: dict[str, Dataset] = {
    # TFDS imdb_reviews.txt; the same sha256 in Julia's CorpusLoaders.jl.
    "imdb": Dataset(
        (
            RemoteFile(
                ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
                "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                84_125_825,
            ),
        ),
        "tar",
        "aclImdb",
    ),
    # TFDS movielens.txt (ml-latest-small is GroupLens' 2018-09 release; a newer one needs sha256=...).
    "ml-latest-small": Dataset(
        (
            RemoteFile(
                (_GROUPLENS + "ml-latest-small.zip",),
                "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                978_202,
            ),
        ),
        "zip",
        "ml-latest-small",
    ),
    # TFDS movielens.txt.
    "ml-100k": Dataset(
        (
            RemoteFile(
                (_GROUPLENS + "ml-100k.zip",),
                "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                4_924_029,
            ),
        ),
        "zip",
        "ml-100k",
    ),
    # TFDS mnist.txt (the cvdf mirror of yann.lecun.com; sizes are LeCun's published ones). Kept gzipped.
    "mnist": Dataset(
        tuple(
            RemoteFile(_mirrored(_MNIST, name), digest, size)
            for name, digest, size in (
                (
                    "train-images-idx3-ubyte.gz",
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    9_912_422,
                ),
                (
                    "train-labels-idx1-ubyte.gz",
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    28_881,
                ),
                (
                    "t10k-images-idx3-ubyte.gz",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    1_648_877,
                ),
                (
                    "t10k-labels-idx1-ubyte.gz",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    4_542,
                ),
            )
        ),
        "file",
    ),
    # TFDS cifar10.csv; the same sha256 in Keras' cifar10.load_data (file_hash) and torchvision.prototype.
    "cifar10": Dataset(
        (
            RemoteFile(
                ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                170_498_071,
            ),
        ),
        "tar",
        "cifar-10-batches-py",
    ),
    # HF wikitext dataset_infos.json (for the research.metamind.io URL, now served at wikitext.smerity.com).
    "wikitext-2": Dataset(
        (
            RemoteFile(
                _mirrored(_WIKITEXT, "wikitext-2-v1.zip"),
                "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
                4_475_746,
            ),
        ),
        "zip",
        "wikitext-2",
    ),
    "wikitext-103": Dataset(
        (
            RemoteFile(
                _mirrored(_WIKITEXT, "wikitext-103-v1.zip"),
                "242ba0f20b329cfdf1ccc61e9e9e5b59becf189db7f7a81cd2a0e2fc31539590",
                190_229_076,
            ),
        ),
        "zip",
        "wikitext-103",
    ),
    "wikitext-2-raw": Dataset(
        (
            RemoteFile(
                _mirrored(_WIKITEXT, "wikitext-2-raw-v1.zip"),
                "ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11",
                4_721_645,
            ),
        ),
        "zip",
        "wikitext-2-raw",
    ),
    "wikitext-103-raw": Dataset(
        (
            RemoteFile(
                _mirrored(_WIKITEXT, "wikitext-103-raw-v1.zip"),
                "91c00ae287f0d699e18605c84afc9e45c192bc6b7797ff8837e5474655a33794",
                191_984_949,
            ),
        ),
        "zip",
        "wikitext-103-raw",
    ),
    # No published sha256 found (fastai's download_checks.py does not list it): the user passes one.
    # The archive unpacks flat: train.csv, test.csv, store.csv, store_states.csv, state_names.csv,
    # googletrend.csv, weather.csv.
    "rossmann": Dataset((RemoteFile(("https://files.fast.ai/part2/lesson14/rossmann.tgz",), None),), "tar"),
}
