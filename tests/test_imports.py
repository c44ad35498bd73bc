"""Importing one model family leaves the others' dependencies unimported; every export resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lightning_models
import lightning_models.callbacks
import lightning_models.text
import lightning_models.vision


def imported_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has imported after ``statement``."""
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_the_collab_model_imports_neither_the_image_nor_the_text_models():
    modules = imported_after("from lightning_models import CollabModule")
    assert not {m for m in modules if m.startswith(("lightning_models.vision", "lightning_models.text", "spacy"))}
    # torchmetrics imports torchvision itself when it is installed; nothing of ours adds it
    assert ("torchvision" in modules) == ("torchvision" in imported_after("import pytorch_lightning"))


@pytest.mark.parametrize(
    "package", [lightning_models, lightning_models.callbacks, lightning_models.text, lightning_models.vision]
)
def test_every_exported_name_resolves_and_is_listed(package):
    for name in package.__all__:
        assert getattr(package, name).__name__ == name
        assert name in dir(package)
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        package.Nothing  # noqa: B018
