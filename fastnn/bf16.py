"""Operands stored in bfloat16, for numpy-only users: `to_bf16` and `BF16Array`.

A bf16 product (`fastnn.matmul(..., precision="bf16")`) on float32 arrays rounds them to bf16
while it packs them, every call. Operands kept in bf16 between calls -- a weight used many times,
or data converted once -- are read at half the bytes and not rounded again, as torch's bf16
tensors are. fastnn takes two kinds of them:

- numpy arrays of `ml_dtypes.bfloat16` (what jax and many users already have), recognised by
  their dtype, without fastnn importing or depending on ml_dtypes;
- `BF16Array`, made here from float32 by `to_bf16` (round to nearest even), with numpy alone.

Why a small type of its own rather than uint16 arrays and a flag: a uint16 array is also an
integer array, and a flag forgotten or passed to the wrong operand would compute garbage without
a word. A `BF16Array` says what its bits are wherever it goes, converts back with `np.asarray`
(to the float32 values it holds, exactly), and `matmul` refuses it in a float32 product
(precision="fp32") rather than silently widening it. Its `bits` are the uint16 patterns, the
upper halves of the float32 values, in the layout ml_dtypes and torch use:
``bits.view(ml_dtypes.bfloat16)`` is the ml_dtypes array of the same values, and a torch bf16
tensor ``t`` gives ``BF16Array(t.view(torch.int16).numpy().view(np.uint16))``.

>>> import numpy as np, fastnn
>>> x = np.array([[1.0, 1 + 2 ** -8], [3.0, 1 / 3]], np.float32)
>>> w = fastnn.to_bf16(x)                 # rounded once, kept in bf16
>>> w
BF16Array([[1.        , 1.        ],
           [3.        , 0.33398438]], dtype=float32 values)
>>> fastnn.matmul(x, w, precision="bf16")  # one operand float32 (rounded), one bf16
array([[4.       , 1.3339844],
       [4.001953 , 3.1115456]], dtype=float32)
"""
import numpy as np

__all__ = ["BF16Array", "to_bf16"]


def _of_bits(name):
    """A read-only attribute of BF16Array that is its bits' own (shapes and sizes)."""
    return property(lambda self: getattr(self.bits, name), doc=f"The bit patterns' {name}.")


class BF16Array:
    """An array of bfloat16 values held as their uint16 bit patterns (`bits`), for
    `fastnn.matmul(..., precision="bf16")`. Make one with `to_bf16(x)` from float values, or
    `BF16Array(bits)` from bit patterns you have (any strides: views are kept, not copied).

    It is array-like: `shape`, `ndim`, `size`, `nbytes`, `.T` and basic indexing give views of
    the same bits; `np.asarray(b)` and `b.to_float32()` give the float32 values, exactly. It does
    no arithmetic of its own.
    """

    __slots__ = ("bits",)

    def __init__(self, bits):
        bits = bits if isinstance(bits, np.ndarray) else np.asarray(bits)
        if bits.dtype != np.uint16:
            raise TypeError(f"BF16Array: bits must be a uint16 array of bf16 bit patterns, got "
                            f"{bits.dtype} (to round float values, use fastnn.to_bf16)")
        self.bits = bits

    shape = _of_bits("shape")
    ndim = _of_bits("ndim")
    size = _of_bits("size")
    nbytes = _of_bits("nbytes")

    @property
    def T(self):
        return BF16Array(self.bits.T)

    def __len__(self):
        return len(self.bits)

    def __getitem__(self, index):
        view = self.bits[index]
        if isinstance(view, np.ndarray):
            return BF16Array(view)
        return np.float32(self._widen(np.asarray(view))[()])

    def to_float32(self):
        """The values as a new float32 array (exact: every bf16 value is a float32)."""
        return self._widen(self.bits)

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("BF16Array: its float32 values are always a new array")
        values = self.to_float32()
        return values if dtype is None else values.astype(dtype, copy=False)

    @staticmethod
    def _widen(bits):
        return (bits.astype(np.uint32) << 16).view(np.float32)

    def __repr__(self):
        text = np.array2string(self.to_float32(), prefix="BF16Array(", separator=", ")
        return f"BF16Array({text}, dtype=float32 values)"


def to_bf16(x):
    """x rounded to bfloat16 (nearest, ties to even; infinities kept, NaN stays NaN, values past
    the largest bf16 become infinite), as a `BF16Array` of x's shape.

    x is any array-like of real numbers; it is first converted to float32 (so a float64 x is
    rounded twice, which differs from rounding once only on the rare exact ties this creates).
    Denormal values are kept, as ml_dtypes and torch keep them; bf16 products read a denormal
    as zero (VDPBF16PS does; the float32 kernels that stand in for it on other CPUs do the same).

    >>> import numpy as np, fastnn
    >>> fastnn.to_bf16(np.float32([1 + 2 ** -8, 1 + 3 * 2 ** -8, 3e38])).to_float32()
    array([1.0000000e+00, 1.0156250e+00, 3.0040553e+38], dtype=float32)
    """
    if isinstance(x, BF16Array):
        return x
    values = np.asarray(x)
    if values.dtype.kind not in "fiub":
        raise TypeError(f"to_bf16: x must hold real numbers, got {values.dtype}")
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = bits + (np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1)))
    rounded >>= 16
    nan = (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    if nan.any():  # quiet, sign and payload top kept (rounding could carry a NaN into infinity)
        rounded[nan] = (bits[nan] >> 16) | np.uint32(0x0040)
    return BF16Array(rounded.astype(np.uint16))
