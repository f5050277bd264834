"""Write fastnn/datasets/data/digits.npz from scikit-learn's bundled copy of the digits.

Run once, by a maintainer, with scikit-learn installed:

    python scripts/make_digits_npz.py

The data are the UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin and Kaynak,
1998; CC BY 4.0) as scikit-learn ships them: 1,797 images of 8x8 pixels, each pixel a count
0..16. They are stored as uint8 (every value fits), which with compression keeps the file small;
fastnn.datasets.load_digits widens them back to float64 exactly as scikit-learn returns them.
"""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits

OUT = os.path.join(os.path.dirname(__file__), os.pardir, "fastnn", "datasets", "data", "digits.npz")


def main():
    digits = load_digits()
    pixels = digits.data
    if not (np.all(pixels == np.round(pixels)) and pixels.min() >= 0 and pixels.max() <= 16):
        sys.exit("make_digits_npz: scikit-learn's digits are not integer counts 0..16; not converting")
    np.savez_compressed(
        OUT,
        pixels=pixels.astype(np.uint8),
        target=digits.target.astype(np.uint8),
    )
    print(f"wrote {os.path.normpath(OUT)}: {pixels.shape[0]} images, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
