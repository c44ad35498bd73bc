"""Text from a trained language model: ``python generate.py RUN --prompt "The movie was" --top-k 20``
(see ``fastlightning/generate.py``)."""

from fastlightning.generate import main

if __name__ == "__main__":
    main()
