"""Saving and loading models as .npz files that cannot run code.

A file is a zip archive that numpy reads as an .npz: one member `fastnn.json`, plain JSON text
describing the model (the module types, named from an allow-list, and their constructor
arguments) and every array (dtype, shape, SHA-256), and one .npy member per array. Loading reads
the arrays with allow_pickle=False, calls only the allow-listed constructors with arguments of the
types they expect, and checks every array against the description, so a file can at worst fail
to load: a truncated, corrupted or edited file raises ValueError saying what is wrong.

    >>> import os, tempfile, numpy as np, fastnn
    >>> from fastnn import nn
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 2, rng=1))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> fastnn.save(path, model)
    >>> copy = fastnn.load(path)
    >>> x = np.ones((3, 4), np.float32)
    >>> bool((copy(x) == model(x)).all())
    True
"""
import hashlib
import json
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

FORMAT = "fastnn.model"
FORMAT_VERSION = 1
MANIFEST = "fastnn.json"
ARRAY_DTYPES = ("float32", "float64")
MANIFEST_MAX = 16 * 2**20
NPY_HEADER_MAX = 4096  # an .npy header is far shorter; a member larger than its data is not ours


class _Layout:
    """How one allow-listed module type is described in JSON and built again from it."""

    def __init__(self, name, describe, build):
        self.name, self.describe, self.build = name, describe, build


def _layouts():
    """The module types a file may name. Built on first use, so importing fastnn does not import
    fastnn.nn."""
    from . import nn

    def keywords(cls, *names):
        def build(args, children, arrays, prefix):
            if set(args) != set(names):
                raise ValueError(f"expected the arguments {list(names)}, got {list(args)}")
            return cls(**args)
        return _Layout(cls.__name__, lambda module: {name: getattr(module, name) for name in names},
                       build)

    def describe_linear(module):
        return {"in_features": module.in_features, "out_features": module.out_features,
                "bias": module.bias is not None, "activation": module.activation,
                "dtype": module.weight.data.dtype.name}

    def build_linear(args, children, arrays, prefix):
        # the saved arrays bound the sizes: a file cannot make us allocate more than it holds
        for name, shape in (("weight", (args.get("out_features"), args.get("in_features"))),
                            ("bias", (args.get("out_features"),) if args.get("bias") else None)):
            stored = arrays.get(prefix + name)
            if shape is not None and (stored is None or stored.shape != shape):
                found = "nothing" if stored is None else f"shape {stored.shape}"
                raise ValueError(f"its parameter {prefix + name!r} needs shape {shape}, the "
                                 f"file holds {found}")
        return nn.Linear(args["in_features"], args["out_features"], args["bias"],
                         activation=args["activation"], dtype=args["dtype"], rng=0)

    def describe_sequential(module):
        return {"names": [name for name, _ in module.named_children()]}

    def build_sequential(args, children, arrays, prefix):
        names = args["names"]
        if len(set(names)) != len(names):
            raise ValueError(f"Sequential: child names repeat: {names}")
        return nn.Sequential(OrderedDict(zip(names, children)))

    layouts = [
        _Layout("Linear", describe_linear, build_linear),
        _Layout("Sequential", describe_sequential, build_sequential),
        keywords(nn.GELU, "approximate"), keywords(nn.Softmax, "dim"),
        keywords(nn.ReLU), keywords(nn.Tanh), keywords(nn.Sigmoid), keywords(nn.Identity),
        keywords(nn.MSELoss, "reduction"), keywords(nn.CrossEntropyLoss, "reduction"),
        keywords(nn.BCEWithLogitsLoss, "reduction"), keywords(nn.HingeLoss, "margin", "reduction"),
    ]
    return {layout.name: (getattr(nn, layout.name), layout) for layout in layouts}


def _describe(module, layouts):
    """The JSON description of `module` and its children, or TypeError for a type not allowed."""
    entry = layouts.get(type(module).__name__)
    if entry is None or type(module) is not entry[0]:
        raise TypeError(
            f"save: cannot describe a {type(module).__module__}.{type(module).__qualname__}; files "
            f"name only fastnn's own modules ({', '.join(sorted(layouts))}). Save its parameters "
            f"with np.savez(path, **model.state_dict()) and load them with load_state_dict.")
    cls, layout = entry
    description = {"type": layout.name, "args": layout.describe(module)}
    children = [_describe(child, layouts) for _, child in module.named_children()]
    if children:
        description["children"] = children
    return description


def _build(description, layouts, arrays, prefix="", depth=0):
    """The module a checked JSON description stands for, its parameters named from `prefix`;
    ValueError for anything unexpected."""
    if depth > 100:
        raise ValueError("modules nested more than 100 deep")
    if not isinstance(description, dict) or set(description) - {"type", "args", "children"}:
        raise ValueError(f"a module description must be an object with type, args and children, "
                         f"got {_abbreviate(description)}")
    name, args = description.get("type"), description.get("args", {})
    children = description.get("children", [])
    if not isinstance(name, str) or name not in layouts:
        raise ValueError(f"module type {_abbreviate(name)} is not one fastnn loads "
                         f"({', '.join(sorted(layouts))})")
    if not isinstance(args, dict) or not isinstance(children, list):
        raise ValueError(f"{name}: args must be an object and children a list")
    if children and name != "Sequential":
        raise ValueError(f"{name} has no children, the file lists {len(children)}")
    names = args.get("names") if name == "Sequential" else []
    if not isinstance(names, list) or len(names) != len(children) or not all(isinstance(n, str) for n in names):
        raise ValueError("Sequential: names must list each child's name")
    built_children = [_build(child, layouts, arrays, f"{prefix}{child_name}.", depth + 1)
                      for child_name, child in zip(names, children)]
    try:
        return layouts[name][1].build(args, built_children, arrays, prefix)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"{name} cannot be built from {_abbreviate(args)}: {exc}") from None


def _abbreviate(value, limit=200):
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).view(np.uint8).data).hexdigest()


def _arrays_of(model):
    arrays = OrderedDict()
    for name, array in model.state_dict().items():
        array = np.asarray(array)
        if array.dtype.name not in ARRAY_DTYPES:
            raise TypeError(f"save: parameter {name} has dtype {array.dtype}, not float32/float64")
        arrays[name] = np.ascontiguousarray(array)
    return arrays


def save(path, model):
    """Write `model` (a fastnn.nn module: Linear, Sequential, activations, losses) to `path` as an
    .npz that `fastnn.load` reads back exactly: the architecture as JSON text and every
    parameter bit for bit. The file is written whole or not at all (a temporary file, renamed).

    >>> import os, tempfile, fastnn
    >>> from fastnn import nn
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
    >>> fastnn.save(path, nn.Linear(3, 2, activation="tanh", rng=0))
    >>> fastnn.load(path)
    Linear(in_features=3, out_features=2, bias=True, activation='tanh')
    """
    layouts = _layouts()
    path = os.fspath(path)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "kind": "module",
                "architecture": _describe(model, layouts), "arrays": OrderedDict()}
    arrays = _arrays_of(model)
    for name, array in arrays.items():
        manifest["arrays"][name] = {"dtype": array.dtype.name, "shape": list(array.shape),
                                    "sha256": _digest(array)}
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".fastnn-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
            for name, array in arrays.items():
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _read_manifest(archive, path):
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError:
        raise ValueError(f"load: {path} is not a fastnn model file (no {MANIFEST} inside)") from None
    if info.file_size > MANIFEST_MAX:
        raise ValueError(f"load: {path}: {MANIFEST} is implausibly large ({info.file_size} bytes)")
    try:
        manifest = json.loads(archive.read(info).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"load: {path}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"load: {path} is not a fastnn model file")
    if manifest.get("version") != FORMAT_VERSION:
        raise ValueError(f"load: {path} has format version {manifest.get('version')!r}; this "
                         f"fastnn reads version {FORMAT_VERSION}")
    if manifest.get("kind") != "module" or not isinstance(manifest.get("arrays"), dict):
        raise ValueError(f"load: {path}: the description is incomplete")
    return manifest


def _read_arrays(archive, manifest, path):
    """Every array the manifest lists, each checked against its dtype, shape and digest; the
    archive may hold nothing else."""
    listed = manifest["arrays"]
    members = {info.filename: info for info in archive.infolist()}
    extra = sorted(set(members) - {MANIFEST} - {name + ".npy" for name in listed})
    if extra:
        raise ValueError(f"load: {path} holds members the description does not list: {extra}")
    arrays = OrderedDict()
    for name, entry in listed.items():
        where = f"load: {path}: parameter {name!r}"
        if not isinstance(entry, dict) or entry.get("dtype") not in ARRAY_DTYPES:
            raise ValueError(f"{where}: dtype must be one of {ARRAY_DTYPES}")
        shape = entry.get("shape")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ValueError(f"{where}: bad shape {_abbreviate(shape)}")
        info = members.get(name + ".npy")
        if info is None:
            raise ValueError(f"{where} is missing from the file")
        expected_bytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(entry["dtype"]).itemsize
        if info.file_size > expected_bytes + NPY_HEADER_MAX:
            raise ValueError(f"{where}: the stored member is larger than its shape {tuple(shape)}")
        try:
            with archive.open(info) as member:
                array = np.lib.format.read_array(member, allow_pickle=False)
        except (ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{where} cannot be read: {exc}") from None
        if array.dtype.name != entry["dtype"] or list(array.shape) != shape:
            raise ValueError(f"{where}: the file holds {array.dtype} {array.shape}, its description "
                             f"says {entry['dtype']} {tuple(shape)}")
        if _digest(array) != entry.get("sha256"):
            raise ValueError(f"{where}: the values do not match their SHA-256: the file was altered")
        arrays[name] = array
    return arrays


def _check_fits(model, arrays, path):
    """Each of `model`'s parameters has an array of its shape and dtype, and no array is left."""
    own = model.state_dict()
    for name, value in own.items():
        if name not in arrays:
            raise ValueError(f"load: {path} has no parameter {name!r} (it holds {list(arrays)})")
        array = arrays[name]
        if array.shape != value.shape or array.dtype != value.dtype:
            raise ValueError(f"load: parameter {name!r}: the file holds {array.dtype} {array.shape}, "
                             f"the model has {value.dtype} {value.shape}")
    unexpected = [name for name in arrays if name not in own]
    if unexpected:
        raise ValueError(f"load: {path} holds parameters the model does not have: {unexpected}")


def load(path, into=None):
    """The model saved at `path` by `fastnn.save`, built anew; or, with `into=model`, the saved
    parameters copied into that existing model (which must have the same parameter names, shapes
    and dtypes) and `into` returned. Never runs code from the file.

    Raises ValueError if the file is truncated, corrupted, altered, not a fastnn model, or (with
    `into`) does not fit the model; the message names the parameter concerned.

    >>> import os, tempfile, fastnn
    >>> from fastnn import nn
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> fastnn.save(path, nn.Linear(3, 2, rng=0))
    >>> fastnn.load(path, into=nn.Linear(3, 5))
    Traceback (most recent call last):
    ...
    ValueError: load: parameter 'weight': the file holds float32 (2, 3), the model has float32 (5, 3)
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _read_manifest(archive, path)
            arrays = _read_arrays(archive, manifest, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ValueError(f"load: {path} is truncated or corrupted ({exc})") from None
    if into is None:
        try:
            model = _build(manifest.get("architecture"), _layouts(), arrays)
        except ValueError as exc:
            raise ValueError(f"load: {path}: {exc}") from None
    else:
        model = into
    _check_fits(model, arrays, path)
    model.load_state_dict(arrays)
    return model
