"""Export a finished run's model: ``python export.py RUN --format torchscript|onnx``
(see ``fastlightning/export.py``)."""

from fastlightning.export import main

if __name__ == "__main__":
    main()
