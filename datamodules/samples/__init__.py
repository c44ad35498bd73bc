"""Built-in samples: small synthetic datasets with a known structure, in the real files' formats, one module a family.

Each writer is deterministic, writes into a temporary folder and renames it into place, and
returns the folder, so a task runs offline and its tests know what a model should find.
"""

from datamodules.samples.images import (
    CIFAR10_CLASSES,
    DIGIT_SEGMENTS,
    IDX_TYPE_CODES,
    IMAGE_FOLDER_CLASSES,
    SEGMENTS,
    synthetic_digits,
    synthetic_shapes,
    write_cifar10_sample,
    write_idx,
    write_image_folder_sample,
    write_mnist_sample,
)
from datamodules.samples.movielens import movielens_ratings, write_movielens_sample
from datamodules.samples.rossmann import (
    ROSSMANN_STATES,
    ROSSMANN_WEATHER_COLUMNS,
    rossmann_holidays,
    rossmann_sample,
    rossmann_school_holidays,
    write_rossmann_sample,
    write_rossmann_tables,
)
from datamodules.samples.style_images import write_style_images_sample
from datamodules.samples.tabular import (
    TABULAR_CLASSIFICATION_SAMPLE_COLUMNS,
    TABULAR_SAMPLE_COLUMNS,
    tabular_houses,
    write_tabular_sample,
)
from datamodules.samples.text import (
    write_arxiv_sample,
    write_imdb_sample,
    write_sentences_sample,
    write_story_sample,
    write_wikitext_sample,
)

__all__ = [
    "CIFAR10_CLASSES",
    "DIGIT_SEGMENTS",
    "IDX_TYPE_CODES",
    "IMAGE_FOLDER_CLASSES",
    "ROSSMANN_STATES",
    "ROSSMANN_WEATHER_COLUMNS",
    "SEGMENTS",
    "TABULAR_CLASSIFICATION_SAMPLE_COLUMNS",
    "TABULAR_SAMPLE_COLUMNS",
    "movielens_ratings",
    "rossmann_holidays",
    "rossmann_sample",
    "rossmann_school_holidays",
    "synthetic_digits",
    "synthetic_shapes",
    "tabular_houses",
    "write_arxiv_sample",
    "write_cifar10_sample",
    "write_idx",
    "write_image_folder_sample",
    "write_imdb_sample",
    "write_mnist_sample",
    "write_movielens_sample",
    "write_rossmann_sample",
    "write_rossmann_tables",
    "write_sentences_sample",
    "write_story_sample",
    "write_style_images_sample",
    "write_tabular_sample",
    "write_wikitext_sample",
]
