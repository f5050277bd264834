"""Saving and loading models as .npz files that cannot run code.

A file is a zip archive that numpy reads as an .npz: one member `fastnn.json`, plain JSON text
describing the model and every array (dtype, shape, SHA-256), and one .npy member per array.
A model is either a fastnn.nn module (the module types, named from an allow-list, and their
constructor arguments) or one of fastnn's estimators (its class, from an allow-list, its
get_params() and, once fitted, its fitted state: the arrays coefs_, classes_, ... and the
scalars n_iter_, loss_, ...). Loading reads the arrays with allow_pickle=False, calls only the
allow-listed constructors with arguments of the types they expect, and checks every array
against the description and against the model, so a file can at worst fail to load: a
truncated, corrupted or edited file raises ValueError saying what is wrong.

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
import numbers
import os
import re
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

FORMAT = "fastnn.model"
FORMAT_VERSION = 1
MANIFEST = "fastnn.json"
ARRAY_DTYPES = ("float32", "float64")
# an estimator's arrays also hold class labels: any numeric kind, or unicode strings
ESTIMATOR_ARRAY_DTYPES = ARRAY_DTYPES + ("bool", "int8", "int16", "int32", "int64",
                                         "uint8", "uint16", "uint32", "uint64")
UNICODE_DTYPE = re.compile(r"<U[1-9][0-9]{0,5}")
ESTIMATORS = ("MLPClassifier", "MLPRegressor", "Perceptron", "LogisticRegression", "LinearSVM")
PARAMETER_DTYPES = ("float32", "float64")  # the values a `dtype` parameter may take in a file
# parameters added after files were first written, with the value an older file meant
LATER_PARAMETERS = {"precision": "fp32"}
MANIFEST_MAX = 16 * 2**20
NPY_HEADER_MAX = 4096  # an .npy header is far shorter; a member larger than its data is not ours
MAX_NDIM = 32
# Parsing JSON costs up to ~72 bytes of Python objects per value (an empty dict or list); a
# manifest may hold this many values for free, and beyond that one value per JSON_BYTES_PER_VALUE
# bytes of the file, so that parsing it stays within a small multiple of the file's size.
JSON_FREE_VALUES = 1024
JSON_BYTES_PER_VALUE = 40


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
        description = {"in_features": module.in_features, "out_features": module.out_features,
                       "bias": module.bias is not None, "activation": module.activation,
                       "dtype": module.weight.data.dtype.name, "precision": module.precision}
        spec = module._activation
        if spec is not None and spec.params:  # the activation's parameters, when it has some
            description["activation_params"] = spec.params
        return description

    def build_linear(args, children, arrays, prefix):
        if not isinstance(args.get("bias"), bool):
            raise ValueError(f"bias must be true or false, got {_abbreviate(args.get('bias'))}")
        stored = arrays.get(prefix + "weight")
        if args.get("dtype") not in ARRAY_DTYPES or stored is None or stored.dtype != args["dtype"]:
            raise ValueError(f"dtype must be the dtype of its parameter {prefix + 'weight'!r} "
                             f"({'absent' if stored is None else stored.dtype}), got "
                             f"{_abbreviate(args.get('dtype'))}")
        # the saved arrays bound the sizes: a file cannot make us allocate more than it holds
        for name, shape in (("weight", (args.get("out_features"), args.get("in_features"))),
                            ("bias", (args.get("out_features"),) if args.get("bias") else None)):
            stored = arrays.get(prefix + name)
            if shape is not None and (stored is None or stored.shape != shape):
                found = "nothing" if stored is None else f"shape {stored.shape}"
                raise ValueError(f"its parameter {prefix + name!r} needs shape {shape}, the "
                                 f"file holds {found}")
        activation = args["activation"]
        if args.get("activation_params") is not None:
            from . import functional as F
            if not isinstance(args["activation_params"], dict):
                raise ValueError(f"activation_params must be an object, got "
                                 f"{_abbreviate(args['activation_params'])}")
            activation = F.activation_spec(activation, "load", **args["activation_params"])
        return nn.Linear(args["in_features"], args["out_features"], args["bias"],
                         activation=activation, dtype=args["dtype"], rng=0,
                         precision=args.get("precision", LATER_PARAMETERS["precision"]))

    def describe_sequential(module):
        return {"names": [name for name, _ in module.named_children()]}

    def build_sequential(args, children, arrays, prefix):
        names = args["names"]
        if len(set(names)) != len(names):
            raise ValueError(f"Sequential: child names repeat: {names}")
        return nn.Sequential(OrderedDict(zip(names, children)))

    def constructor(cls):
        """A layer that names its own arguments (constructor_args) and, from them, the shapes of
        the arrays it holds (parameter_shapes), checked against the file before it is built."""
        def build(args, children, arrays, prefix):
            for name, shape in cls.parameter_shapes(args).items():
                stored = arrays.get(prefix + name)
                if stored is None or stored.shape != shape:
                    found = "nothing" if stored is None else f"shape {stored.shape}"
                    raise ValueError(f"its array {prefix + name!r} needs shape {shape}, the file "
                                     f"holds {found}")
            return cls(**args)
        return _Layout(cls.__name__, lambda module: module.constructor_args(), build)

    layouts = [
        *(constructor(getattr(nn, name)) for name in (
            "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
            "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "Dropout",
            "Flatten", "LayerNorm")),
        _Layout("Linear", describe_linear, build_linear),
        _Layout("Sequential", describe_sequential, build_sequential),
        keywords(nn.GELU, "approximate"), keywords(nn.Softmax, "dim"), keywords(nn.LogSoftmax, "dim"),
        keywords(nn.ReLU), keywords(nn.Tanh), keywords(nn.Sigmoid), keywords(nn.Identity),
        keywords(nn.LeakyReLU, "negative_slope"), keywords(nn.ELU, "alpha"), keywords(nn.SiLU),
        keywords(nn.Softplus, "beta", "threshold"),
        keywords(nn.MSELoss, "reduction"), keywords(nn.CrossEntropyLoss, "reduction"),
        keywords(nn.BCEWithLogitsLoss, "reduction"), keywords(nn.HingeLoss, "margin", "reduction"),
        keywords(nn.L1Loss, "reduction"), keywords(nn.HuberLoss, "reduction", "delta"),
        keywords(nn.NLLLoss, "reduction"), keywords(nn.BCELoss, "reduction"),
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
    return hashlib.sha256(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data).hexdigest()


def _dtype_text(dtype):
    """How the manifest names `dtype`: its name ("float32") or, for unicode, "<U{length}"."""
    return f"<U{dtype.itemsize // 4}" if dtype.kind == "U" else dtype.name


def _allowed_dtype(text, kind):
    """The dtype a manifest's text names, if arrays of `kind` ("module", "estimator") may have it;
    else None."""
    if not isinstance(text, str):
        return None
    if kind == "module":
        return np.dtype(text) if text in ARRAY_DTYPES else None
    if text in ESTIMATOR_ARRAY_DTYPES or UNICODE_DTYPE.fullmatch(text):
        return np.dtype(text)
    return None


def _arrays_of(model):
    arrays = OrderedDict()
    for name, array in model.state_dict().items():
        array = np.asarray(array)
        if array.dtype.name not in ARRAY_DTYPES:
            raise TypeError(f"save: parameter {name} has dtype {array.dtype}, not float32/float64")
        arrays[name] = np.asarray(array, order="C")
    return arrays


def _estimator_classes():
    from . import estimators
    return {name: getattr(estimators, name) for name in ESTIMATORS}


def _is_estimator(model):
    return hasattr(model, "get_params") and hasattr(model, "fit") and not hasattr(model, "state_dict")


def _to_json(value, where):
    """`value` as JSON (tuples and dtypes as one-key objects, numpy scalars as Python numbers), or
    TypeError naming `where` for what a file cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_to_json(item, where) for item in value]
        return {"tuple": items} if isinstance(value, tuple) else items
    if value is float:
        return {"python_type": "float"}
    if isinstance(value, type) and issubclass(value, np.generic) and np.dtype(value).name in PARAMETER_DTYPES:
        return {"numpy_type": np.dtype(value).name}
    if isinstance(value, np.dtype) and value.name in PARAMETER_DTYPES:
        return {"numpy_dtype": value.name}
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        raise TypeError(f"save: {where} is a numpy {type(value).__name__}, whose state a file does not "
                        f"hold; give it an int seed or None first, e.g. "
                        f"estimator.set_params(random_state=0)")
    raise TypeError(f"save: {where} is a {type(value).__module__}.{type(value).__qualname__}; a file "
                    f"holds only None, bools, numbers, strings, lists and tuples of them, and the "
                    f"dtypes {', '.join(PARAMETER_DTYPES)}")


def _from_json(value, where):
    """The inverse of _to_json; ValueError for an object it does not write."""
    if isinstance(value, list):
        return [_from_json(item, where) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise ValueError(f"{where}: {_abbreviate(value)} is out of range")  # numpy's checks would choke on it
    if not isinstance(value, dict):
        return value
    tag, content = next(iter(value.items())) if len(value) == 1 else (None, None)
    if tag == "tuple" and isinstance(content, list):
        return tuple(_from_json(item, where) for item in content)
    if tag == "python_type" and content == "float":
        return float
    if tag in ("numpy_type", "numpy_dtype") and content in PARAMETER_DTYPES:
        return getattr(np, content) if tag == "numpy_type" else np.dtype(content)
    raise ValueError(f"{where}: {_abbreviate(value)} is not a value fastnn writes")


def _describe_estimator(model):
    """The JSON description of a fastnn estimator and its fitted arrays, or TypeError."""
    classes = _estimator_classes()
    name = type(model).__name__
    if classes.get(name) is not type(model):
        raise TypeError(
            f"save: cannot describe a {type(model).__module__}.{type(model).__qualname__}; files "
            f"name only fastnn's own estimators ({', '.join(ESTIMATORS)}) and modules.")
    params = {key: _to_json(value, f"{name} parameter {key!r}")
              for key, value in model.get_params(deep=False).items()}
    state = model._get_fitted_state()
    fitted, arrays = None, OrderedDict()
    if state is not None:
        fitted = {}
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                arrays[key] = _portable_array(value, f"{name}.{key}")
            else:
                fitted[key] = _to_json(value, f"{name} fitted attribute {key!r}")
    return {"type": name, "params": params, "fitted": fitted}, arrays


def _portable_array(array, where):
    """`array` contiguous, in native byte order, with a dtype an estimator's file may hold."""
    native = array.dtype.newbyteorder("=") if array.dtype.kind != "U" else np.dtype(f"<U{array.dtype.itemsize // 4}")
    array = np.asarray(array, dtype=native, order="C")
    if _allowed_dtype(_dtype_text(array.dtype), "estimator") is None:
        raise TypeError(f"save: {where} has dtype {array.dtype}, which a file does not hold")
    return array


def _build_estimator(description, arrays):
    """The estimator a checked JSON description and its arrays stand for; ValueError for
    anything unexpected."""
    classes = _estimator_classes()
    if not isinstance(description, dict) or set(description) != {"type", "params", "fitted"}:
        raise ValueError(f"an estimator description must be an object with type, params and fitted, "
                         f"got {_abbreviate(description)}")
    name, params, fitted = description["type"], description["params"], description["fitted"]
    if not isinstance(name, str) or name not in classes:
        raise ValueError(f"estimator type {_abbreviate(name)} is not one fastnn loads ({', '.join(ESTIMATORS)})")
    cls = classes[name]
    if isinstance(params, dict):
        params = {**{key: value for key, value in LATER_PARAMETERS.items()
                     if key in cls._get_param_names()}, **params}
    if not isinstance(params, dict) or set(params) != set(cls._get_param_names()):
        found = sorted(params) if isinstance(params, dict) else _abbreviate(params)
        raise ValueError(f"{name}: the parameters must be {sorted(cls._get_param_names())}, the file has {found}")
    estimator = cls(**{key: _from_json(value, f"{name} parameter {key!r}") for key, value in params.items()})
    from .estimators._validation import validate_params
    try:
        validate_params(estimator, cls._parameter_constraints)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(str(exc)) from None
    if fitted is None:
        if arrays:
            raise ValueError(f"{name} is not fitted, yet the file holds arrays {list(arrays)}")
        return estimator
    if not isinstance(fitted, dict):
        raise ValueError(f"{name}: fitted must be an object or null, got {_abbreviate(fitted)}")
    both = sorted(set(fitted) & set(arrays))
    if both:
        raise ValueError(f"{name}: {both} appear both as arrays and in the description")
    return estimator._set_fitted_state({**fitted, **arrays})


def save(path, model):
    """Write `model` to `path` as an .npz that `fastnn.load` reads back exactly. The file is
    written whole or not at all (a temporary file, renamed).

    `model` is a fastnn.nn module (Linear, Sequential, activations, losses: the architecture is
    stored as JSON text, every parameter bit for bit) or one of fastnn's estimators
    (MLPClassifier, MLPRegressor, Perceptron, LogisticRegression, LinearSVM, fitted or not: its
    get_params() as JSON, and its fitted state: coefs_/coef_, intercepts_/intercept_, classes_
    (numbers or strings; an object array of strings is stored, and comes back, as a unicode
    array), n_features_in_, n_iter_, the loss curves, and the MLP's optimiser state (Adam's
    moments and step count, SGD's momentum buffer and current learning rate), so that the loaded
    estimator predicts identically and partial_fit or warm_start continue as this one would).
    Raises TypeError for any other model, and for a parameter a file cannot hold: notably a
    random_state that is a numpy Generator or RandomState (its state is not saved; set an int
    seed or None before saving).

    >>> import os, tempfile, fastnn
    >>> from fastnn import nn
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
    >>> fastnn.save(path, nn.Linear(3, 2, activation="tanh", rng=0))
    >>> fastnn.load(path)
    Linear(in_features=3, out_features=2, bias=True, activation='tanh')
    >>> from fastnn.datasets import make_xor
    >>> X, y = make_xor(100, noise=0.1, random_state=0)
    >>> clf = fastnn.MLPClassifier((8,), tol=0.5, max_iter=30, random_state=0).fit(X, y)
    >>> fastnn.save(path, clf)
    >>> bool((fastnn.load(path).predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    path = os.fspath(path)
    if _is_estimator(model):
        description, arrays = _describe_estimator(model)
        manifest = {"format": FORMAT, "version": FORMAT_VERSION, "kind": "estimator",
                    "estimator": description, "arrays": OrderedDict()}
    else:
        manifest = {"format": FORMAT, "version": FORMAT_VERSION, "kind": "module",
                    "architecture": _describe(model, _layouts()), "arrays": OrderedDict()}
        arrays = _arrays_of(model)
    for name, array in arrays.items():
        manifest["arrays"][name] = {"dtype": _dtype_text(array.dtype), "shape": list(array.shape),
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


def _check_members(archive, path, file_size):
    """The archive's members by name, after checking each is stored as fastnn writes it: not
    compressed, not encrypted, named once, its stored size its size, inside the file. A
    compressed member could inflate to any size; refusing it bounds what loading allocates."""
    members = {}
    for info in archive.infolist():
        where = f"load: {path}: member {info.filename!r}"
        if info.filename in members:
            raise ValueError(f"{where} appears more than once")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{where} is compressed (zip method {info.compress_type}); fastnn "
                             f"writes and reads stored (uncompressed) members only")
        if info.flag_bits & 0x1:
            raise ValueError(f"{where} is encrypted")
        if (info.compress_size != info.file_size or info.header_offset < 0
                or info.header_offset + info.file_size > file_size):
            raise ValueError(f"{where} claims {info.file_size} bytes, which the file "
                             f"({file_size} bytes) does not hold")
        members[info.filename] = info
    return members


def _read_manifest(archive, members, path, file_size):
    info = members.get(MANIFEST)
    if info is None:
        raise ValueError(f"load: {path} is not a fastnn model file (no {MANIFEST} inside)")
    if info.file_size > MANIFEST_MAX:
        raise ValueError(f"load: {path}: {MANIFEST} is implausibly large ({info.file_size} bytes)")
    text = archive.read(info)
    # a cheap upper bound on the values the JSON holds, before parsing builds them
    values = sum(text.count(c) for c in b",:[{")
    if values > JSON_FREE_VALUES + file_size // JSON_BYTES_PER_VALUE:
        raise ValueError(f"load: {path}: {MANIFEST} holds too many JSON values ({values}) for a "
                         f"file of {file_size} bytes")
    try:
        manifest = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"load: {path}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"load: {path} is not a fastnn model file")
    if manifest.get("version") != FORMAT_VERSION:
        raise ValueError(f"load: {path} has format version {_abbreviate(manifest.get('version'))}; "
                         f"this fastnn reads version {FORMAT_VERSION}")
    if manifest.get("kind") not in ("module", "estimator") or not isinstance(manifest.get("arrays"), dict):
        raise ValueError(f"load: {path}: the description is incomplete")
    return manifest


def _checked_shape(shape, dtype, file_size, where):
    """`shape` as a tuple and the bytes its data takes, if it is a list of at most MAX_NDIM
    non-negative ints whose data fits in the file; else ValueError. Checked with Python ints,
    before numpy or an allocation sees them."""
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(type(s) is int and 0 <= s <= file_size for s in shape)):
        raise ValueError(f"{where}: bad shape {_abbreviate(shape)}: expected at most {MAX_NDIM} "
                         f"ints in [0, {file_size}] (the file's size)")
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    if nbytes > file_size:
        raise ValueError(f"{where}: shape {_abbreviate(shape)} of {dtype} needs {nbytes} bytes, "
                         f"more than the file's {file_size}")
    return tuple(shape), nbytes


def _read_arrays(archive, members, manifest, path, file_size):
    """Every array the manifest lists, each checked against its dtype, shape and digest; the
    archive may hold nothing else."""
    listed = manifest["arrays"]
    extra = sorted(set(members) - {MANIFEST} - {name + ".npy" for name in listed})
    if extra:
        raise ValueError(f"load: {path} holds members the description does not list: {extra}")
    kind = manifest["kind"]
    allowed = ARRAY_DTYPES if kind == "module" else ESTIMATOR_ARRAY_DTYPES + ("<U{length}",)
    arrays = OrderedDict()
    for name, entry in listed.items():
        where = f"load: {path}: {'parameter' if kind == 'module' else 'array'} {name!r}"
        dtype = _allowed_dtype(entry.get("dtype"), kind) if isinstance(entry, dict) else None
        if dtype is None:
            raise ValueError(f"{where}: dtype must be one of {allowed}")
        shape, nbytes = _checked_shape(entry.get("shape"), dtype, file_size, where)
        info = members.get(name + ".npy")
        if info is None:
            raise ValueError(f"{where} is missing from the file")
        if not nbytes <= info.file_size <= nbytes + NPY_HEADER_MAX:
            raise ValueError(f"{where}: the stored member ({info.file_size} bytes) does not hold "
                             f"{nbytes} bytes of data and an .npy header")
        # the .npy header first: the data is read (and its memory allocated) only if the header
        # says what the description does and the member holds exactly header and data
        stored_shape, stored_dtype, header_size = _read_member(archive, info, where, _npy_header)
        if stored_dtype != dtype or stored_shape != shape:
            raise ValueError(f"{where}: the file holds {stored_dtype} {stored_shape}, its "
                             f"description says {entry['dtype']} {shape}")
        if info.file_size != header_size + nbytes:
            raise ValueError(f"{where}: the stored member has {info.file_size} bytes, not its "
                             f"{header_size}-byte header and {nbytes} bytes of data")
        array = _read_member(archive, info, where,
                             lambda member: np.lib.format.read_array(member, allow_pickle=False))
        if _digest(array) != entry.get("sha256"):
            raise ValueError(f"{where}: the values do not match their SHA-256: the file was altered")
        arrays[name] = array
    return arrays


def _read_member(archive, info, where, read):
    """read(the member's stream); ValueError naming `where` if the member is damaged."""
    try:
        with archive.open(info) as member:
            return read(member)
    except (ValueError, OverflowError, EOFError, NotImplementedError, OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where} cannot be read: {exc}") from None


def _npy_header(member):
    """(shape, dtype, header size in bytes) from the header of an .npy stream, reading nothing
    more."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f".npy format version {version} is not one fastnn writes")
    return shape, dtype, member.tell()


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

    An estimator comes back unfitted if it was saved so; fitted, it predicts exactly as the saved
    one did, and partial_fit / warm_start fit continue from its weights and optimiser state.
    `into` applies to modules only.

    Raises ValueError if the file is truncated, corrupted, altered, not a fastnn model, or (with
    `into`) does not fit the model; the message names the parameter or attribute concerned.
    A hostile file costs at most about twice its size in memory: members must be stored (never
    inflated), named once and exactly header plus data long, every shape and the JSON's size are
    checked against the file's size before anything is allocated, and constructor arguments are
    checked as the constructors check them.

    >>> import os, tempfile, fastnn
    >>> from fastnn import nn
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> fastnn.save(path, nn.Linear(3, 2, rng=0))
    >>> fastnn.load(path, into=nn.Linear(3, 5))
    Traceback (most recent call last):
    ...
    ValueError: load: parameter 'weight': the file holds float32 (2, 3), the model has float32 (5, 3)
    >>> fastnn.save(path, fastnn.Perceptron(eta0=0.5))
    >>> fastnn.load(path).get_params()["eta0"]
    0.5
    """
    path = os.fspath(path)
    with open(path, "rb") as file:  # an OSError about the path itself is the caller's to see
        file_size = os.fstat(file.fileno()).st_size
        try:
            with zipfile.ZipFile(file) as archive:
                members = _check_members(archive, path, file_size)
                manifest = _read_manifest(archive, members, path, file_size)
                arrays = _read_arrays(archive, members, manifest, path, file_size)
        # zipfile's errors for damaged archives; an OSError here is a seek the archive's offsets
        # sent astray, NotImplementedError a "version needed to extract" we do not write
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, OSError) as exc:
            raise ValueError(f"load: {path} is truncated or corrupted ({type(exc).__name__}: {exc})") from None
    if manifest["kind"] == "estimator":
        if into is not None:
            raise ValueError(f"load: {path} holds an estimator; into= is for modules only")
        try:
            return _build_estimator(manifest.get("estimator"), arrays)
        except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
            raise ValueError(f"load: {path}: {exc}") from None
    if into is None:
        try:
            model = _build(manifest.get("architecture"), _layouts(), arrays)
        except ValueError as exc:
            raise ValueError(f"load: {path}: {exc}") from None
    else:
        if not hasattr(into, "state_dict"):
            raise TypeError(f"load: into= must be a fastnn.nn module, got {type(into).__name__}")
        model = into
    _check_fits(model, arrays, path)
    model.load_state_dict(arrays)
    return model
