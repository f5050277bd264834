"""Small data sets: the handwritten digits, embedded, and two synthetic generators.

`load_digits` needs no download: the 8x8 digits ship inside the package as a compressed .npz
(45 kB). They are the test set of the UCI "Optical Recognition of Handwritten Digits" data
(E. Alpaydin and C. Kaynak, 1998, https://doi.org/10.24432/C50P49), licensed CC BY 4.0, in the
form scikit-learn distributes them; scripts/make_digits_npz.py made the file from that copy.

`make_xor` and `make_spirals` draw two-class problems that no linear model on the raw inputs
separates: the seeds' XOR and the classic interleaved spirals.
"""
from ._bunch import Bunch
from ._digits import load_digits
from ._generators import make_spirals, make_xor

__all__ = ["Bunch", "load_digits", "make_xor", "make_spirals"]
