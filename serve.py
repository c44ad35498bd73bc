"""Serve a finished run over HTTP: ``python serve.py RUN --port 8000`` (see ``fastlightning/serve.py``)."""

from fastlightning.serve import main

if __name__ == "__main__":
    main()
