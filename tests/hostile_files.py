"""Hostile model files, made on the spot: each is small, and each would make a careless loader
allocate far more than its size, run into an unclear error, or build a model from arguments its
constructor refuses. Used by tests/test_io_hostile.py and benchmarks/hostile_files.py.

hostile_files() -> {name: (bytes of the file, text the ValueError must contain)}
"""
import hashlib
import io
import json
import struct
import warnings
import zipfile

import numpy as np

MANIFEST = "fastnn.json"
BOMB_FEATURES = 4096  # a Linear(4096, 4096) float32: 64 MiB of weights in a file of a few KiB


def linear_manifest(in_features, out_features, weight_sha, bias_sha, dtype="float32", **args):
    linear = {"in_features": in_features, "out_features": out_features, "bias": True,
              "activation": None, "dtype": dtype}
    linear.update(args)
    return {"format": "fastnn.model", "version": 1, "kind": "module",
            "architecture": {"type": "Linear", "args": linear},
            "arrays": {"weight": {"dtype": dtype, "shape": [out_features, in_features], "sha256": weight_sha},
                       "bias": {"dtype": dtype, "shape": [out_features], "sha256": bias_sha}}}


def npy_header(shape, dtype="<f4"):
    """An .npy version 1.0 header for `shape` (any ints, however large), as numpy writes one."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, repr(tuple(shape)))
    header = header.ljust(128 - 10 - 1) + "\n"
    while (10 + len(header)) % 64:
        header = header[:-1] + " \n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def archive(members, compression=zipfile.ZIP_STORED):
    """A zip of (name, bytes or a function writing to a stream) members, duplicates allowed;
    `compression` for the members written by a function, the others stored."""
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zf:
        warnings.simplefilter("ignore")  # "Duplicate name": that is the point
        for name, content in members:
            if callable(content):
                info = zipfile.ZipInfo(name)
                info.compress_type = compression
                with zf.open(info, "w", force_zip64=True) as stream:
                    content(stream)
            else:
                zf.writestr(name, content)
    return out.getvalue()


def with_method(data, method):
    """`data` with every member's compression method field set to `method` (local headers and
    central directory alike), as a file from an unknown tool would have it."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset:at + offset + 2] = struct.pack("<H", method)
            at = data.find(signature, at + 4)
    return bytes(data)


def small_linear_members(**manifest_edits):
    weight, bias = np.ones((3, 2), np.float32), np.zeros(3, np.float32)
    manifest = linear_manifest(2, 3, hashlib.sha256(weight.tobytes()).hexdigest(),
                               hashlib.sha256(bias.tobytes()).hexdigest())
    for key, value in manifest_edits.items():
        manifest["architecture"]["args"][key] = value
    return [(MANIFEST, json.dumps(manifest)), ("weight.npy", npy(weight)), ("bias.npy", npy(bias))]


def bomb(compression):
    """A valid Linear(BOMB_FEATURES, BOMB_FEATURES) whose zero weights alone are compressed: a
    loader that inflates them allocates 64 MiB from a few KiB."""
    n = BOMB_FEATURES
    chunk = bytes(n * 4)
    digest = hashlib.sha256()
    for _ in range(n):
        digest.update(chunk)
    bias = np.zeros(n, np.float32)

    def weights(stream):
        stream.write(npy_header((n, n)))
        for _ in range(n):
            stream.write(chunk)
    manifest = linear_manifest(n, n, digest.hexdigest(), hashlib.sha256(bias.tobytes()).hexdigest())
    return archive([(MANIFEST, json.dumps(manifest)), ("weight.npy", weights), ("bias.npy", npy(bias))],
                   compression)


def huge_shape(rows):
    """A Linear whose manifest and .npy header agree on `rows` rows of 2 floats, stored with
    six floats of data: a loader that trusts the shape allocates rows * 8 bytes."""
    weight, bias = np.ones((3, 2), np.float32), np.zeros(3, np.float32)
    manifest = linear_manifest(2, rows, "0" * 64, hashlib.sha256(bias.tobytes()).hexdigest())
    manifest["arrays"]["bias"]["shape"] = [3]
    return archive([(MANIFEST, json.dumps(manifest)),
                    ("weight.npy", npy_header((rows, 2)) + weight.tobytes()),
                    ("bias.npy", npy(bias))])


def json_bomb():
    """A manifest of 100,000 empty lists: 300 KB of text that json.loads turns into ~6 MB."""
    return archive([(MANIFEST, "[" + ",".join(["[]"] * 100_000) + "]")])


def hostile_files():
    small = small_linear_members()
    return {
        "bzip2_bomb": (bomb(zipfile.ZIP_BZIP2), "'weight.npy' is compressed"),
        "deflate_bomb": (bomb(zipfile.ZIP_DEFLATED), "'weight.npy' is compressed"),
        "unknown_method": (with_method(archive(small), 99), "compressed"),
        "shape_2**33": (huge_shape(2**33), "weight"),
        "shape_2**40": (huge_shape(2**40), "weight"),
        "shape_2**64": (huge_shape(2**64), "weight"),
        "shape_10**400": (huge_shape(10**400), "weight"),
        "duplicate_member": (archive(small + [("weight.npy", npy(np.zeros((3, 2), np.float32)))]),
                             "'weight.npy' appears more than once"),
        "duplicate_manifest": (archive([small[0]] + small), "'fastnn.json' appears more than once"),
        "json_bomb": (json_bomb(), "too many JSON values"),
        "linear_bias_not_bool": (archive(small_linear_members(bias="yes")), "bias"),
        "linear_dtype_mismatch": (archive(small_linear_members(dtype="float64")), "dtype"),
        "linear_activation_unknown": (archive(small_linear_members(activation="rm -rf")), "activation"),
        "linear_in_features_negative": (archive(small_linear_members(in_features=-2)), "weight|in_features"),
    }


def module_file(description):
    """A file holding a parameterless module described by `description` (type and args)."""
    manifest = {"format": "fastnn.model", "version": 1, "kind": "module",
                "architecture": description, "arrays": {}}
    return archive([(MANIFEST, json.dumps(manifest))])


BAD_CONSTRUCTOR_ARGS = {
    "softmax_dim_text": ({"type": "Softmax", "args": {"dim": "x"}}, "dim"),
    "softmax_dim_float": ({"type": "Softmax", "args": {"dim": 1.5}}, "dim"),
    "gelu_approximate": ({"type": "GELU", "args": {"approximate": "exact"}}, "approximate"),
    "hinge_margin_infinite": ({"type": "HingeLoss", "args": {"margin": float("inf"), "reduction": "mean"}},
                              "margin"),
    "hinge_margin_text": ({"type": "HingeLoss", "args": {"margin": "1", "reduction": "mean"}}, "margin"),
    "mse_reduction": ({"type": "MSELoss", "args": {"reduction": "none"}}, "reduction"),
    "relu_extra_argument": ({"type": "ReLU", "args": {"inplace": True}}, "ReLU"),
}
