"""Predict with a finished run: ``python predict.py RUN INPUT [--out FILE]`` (see ``fastlightning/predict.py``)."""

from fastlightning.predict import main

if __name__ == "__main__":
    main()
