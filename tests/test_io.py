"""fastnn.save / fastnn.load: exact round trips, files that never run code, clear errors for
truncated, corrupted or edited files and for models that do not fit."""
import io
import json
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim

MANIFEST = "fastnn.json"


def trained(model, in_features, steps=3, dtype=np.float32):
    """`model` after a few SGD steps, so its parameters are no longer their initial values."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, in_features)).astype(dtype)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        y = model(x)
        model.backward(np.ones_like(y))
        opt.step()
    return model


def models():
    return {
        "linear": nn.Linear(5, 3, rng=0),
        "linear_f64_no_bias_tanh": nn.Linear(7, 4, bias=False, activation="tanh", rng=1,
                                             dtype=np.float64),
        "mlp": nn.Sequential(nn.Linear(6, 16, rng=2), nn.ReLU(), nn.Linear(16, 16, rng=3),
                             nn.GELU(approximate="tanh"), nn.Linear(16, 3, rng=4), nn.Softmax(dim=-1)),
        "every_activation": nn.Sequential(nn.Linear(4, 4, rng=5), nn.Tanh(), nn.Linear(4, 4, rng=6),
                                          nn.Sigmoid(), nn.Linear(4, 4, rng=7), nn.GELU(),
                                          nn.Identity(), nn.Linear(4, 2, activation="relu", rng=8)),
        "nested_named": nn.Sequential(OrderedDict([
            ("encoder", nn.Sequential(nn.Linear(6, 8, rng=9), nn.ReLU())),
            ("head", nn.Linear(8, 2, rng=10, dtype=np.float32))])),
    }


def in_features_of(model):
    first = next(iter(model.named_parameters()))[1]
    return first.shape[1], first.dtype


def assert_same_model(a, b):
    assert type(a) is type(b) and repr(a) == repr(b)
    state_a, state_b = a.state_dict(), b.state_dict()
    assert list(state_a) == list(state_b)
    for name in state_a:
        assert state_a[name].dtype == state_b[name].dtype, name
        np.testing.assert_array_equal(state_a[name], state_b[name], err_msg=name)


@pytest.mark.parametrize("name", sorted(models()))
def test_round_trip_is_exact(tmp_path, name):
    model = models()[name]
    features, dtype = in_features_of(model)
    trained(model, features, dtype=dtype)
    path = tmp_path / "model.npz"
    fastnn.save(path, model)
    copy = fastnn.load(path)
    assert_same_model(model, copy)
    x = np.random.default_rng(1).standard_normal((9, features)).astype(dtype)
    np.testing.assert_array_equal(copy(x), model(x))
    # and the copy trains on, like the original
    trained(copy, features, dtype=dtype)


@pytest.mark.parametrize("loss", [nn.MSELoss(reduction="sum"), nn.CrossEntropyLoss(),
                                  nn.BCEWithLogitsLoss(reduction="sum"),
                                  nn.HingeLoss(margin=0.5, reduction="sum")])
def test_losses_round_trip(tmp_path, loss):
    fastnn.save(tmp_path / "loss.npz", loss)
    copy = fastnn.load(str(tmp_path / "loss.npz"))
    assert type(copy) is type(loss) and repr(copy) == repr(loss)
    assert vars(copy).get("margin") == vars(loss).get("margin")


def test_file_is_an_npz_with_plain_json_and_no_pickles(tmp_path):
    model = models()["mlp"]
    path = tmp_path / "m.npz"
    fastnn.save(path, model)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted([MANIFEST] + list(model.state_dict()))
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(npz[name], value)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    assert manifest["architecture"]["type"] == "Sequential"
    assert [c["type"] for c in manifest["architecture"]["children"]] == [
        "Linear", "ReLU", "Linear", "GELU", "Linear", "Softmax"]


def test_save_replaces_a_file_whole(tmp_path):
    path = tmp_path / "m.npz"
    fastnn.save(path, nn.Linear(3, 2, rng=0))
    fastnn.save(path, nn.Linear(4, 5, rng=1))
    assert fastnn.load(path).weight.shape == (5, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left behind


def test_load_into_an_existing_model(tmp_path):
    model = trained(models()["mlp"], 6)
    fastnn.save(tmp_path / "m.npz", model)
    target = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16),
                           nn.GELU(approximate="tanh"), nn.Linear(16, 3), nn.Softmax(dim=-1))
    assert fastnn.load(tmp_path / "m.npz", into=target) is target
    assert_same_model(model, target)


@pytest.mark.parametrize("target, parameter", [
    (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 17), nn.GELU(approximate="tanh"),
                   nn.Linear(17, 3)), "'2.weight'"),
    (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(approximate="tanh"),
                   nn.Linear(16, 3, dtype=np.float64)), "'4.weight'"),
    (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16, bias=False),
                   nn.GELU(approximate="tanh"), nn.Linear(16, 3)), "2.bias"),
    (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3),
                   nn.Linear(3, 3)), "'5.weight'"),
])
def test_loading_into_a_model_that_does_not_fit_names_the_parameter(tmp_path, target, parameter):
    fastnn.save(tmp_path / "m.npz", models()["mlp"])
    before = {k: v.copy() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=parameter.replace(".", r"\.")):
        fastnn.load(tmp_path / "m.npz", into=target)
    for name, value in target.state_dict().items():  # nothing half-loaded
        np.testing.assert_array_equal(value, before[name])


def test_saving_a_module_fastnn_cannot_describe_is_a_type_error(tmp_path):
    class Custom(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(TypeError, match="Custom"):
        fastnn.save(tmp_path / "c.npz", Custom())
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- damaged and hostile files

def saved_bytes(tmp_path):
    path = tmp_path / "good.npz"
    fastnn.save(path, trained(models()["mlp"], 6))
    return path.read_bytes()


def rewritten(data, change=None, add=None, drop=()):
    """The archive `data` with members replaced (name -> function of the old bytes), added or
    dropped, every CRC consistent: edits a careful forger would make."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            if info.filename in drop:
                continue
            content = source.read(info)
            if change and info.filename in change:
                content = change[info.filename](content)
            archive.writestr(info.filename, content)
        for name, content in (add or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


def edit_manifest(edit):
    def change(content):
        manifest = json.loads(content)
        edit(manifest)
        return json.dumps(manifest).encode()
    return {MANIFEST: change}


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def assert_load_fails(tmp_path, data, match):
    path = tmp_path / "bad.npz"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match):
        fastnn.load(path)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, fraction):
    data = saved_bytes(tmp_path)
    assert_load_fails(tmp_path, data[:int(len(data) * fraction)], "truncated or corrupted")


def test_flipped_byte_in_the_values(tmp_path):
    data = bytearray(saved_bytes(tmp_path))
    header = data.find(b"\x93NUMPY", data.find(b"2.weight.npy"))  # 2.weight: 16 x 16 floats
    data[header + 128 + 500] ^= 0x40  # past the 128-byte .npy header, among the values
    assert_load_fails(tmp_path, bytes(data), r"'2\.weight' cannot be read: Bad CRC")


def test_values_changed_with_consistent_zip(tmp_path):
    def perturb(content):
        array = np.lib.format.read_array(io.BytesIO(content))
        array.flat[0] += 1
        return npy_bytes(array)
    data = rewritten(saved_bytes(tmp_path), change={"2.weight.npy": perturb})
    assert_load_fails(tmp_path, data, r"'2\.weight'.*altered")


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["architecture"]["children"].__setitem__(1, {"type": "posix.system", "args": {}}),
     "not one fastnn loads"),
    (lambda m: m["architecture"].__setitem__("type", "Module"), "not one fastnn loads"),
    (lambda m: m["architecture"]["children"][0]["args"].__setitem__("in_features", 10**9),
     r"'0\.weight'"),
    (lambda m: m["architecture"]["children"][0]["args"].__setitem__("dtype", "object"),
     r"Linear cannot be built"),
    (lambda m: m["architecture"]["children"][1]["args"].__setitem__("inplace", True),
     "ReLU cannot be built"),
    (lambda m: m["architecture"]["children"].pop(), "does not have|names"),
    (lambda m: m["arrays"]["0.bias"].__setitem__("shape", [17]), r"'0\.bias'"),
    (lambda m: m["arrays"]["0.bias"].__setitem__("dtype", "object"), r"'0\.bias'.*dtype"),
    (lambda m: m.__setitem__("version", 99), "version 99"),
    (lambda m: m.__setitem__("format", "something else"), "not a fastnn model"),
    (lambda m: m["arrays"].pop("4.bias"), "members the description does not list"),
])
def test_edited_description(tmp_path, edit, match):
    assert_load_fails(tmp_path, rewritten(saved_bytes(tmp_path), change=edit_manifest(edit)), match)


def test_manifest_that_is_not_json(tmp_path):
    data = rewritten(saved_bytes(tmp_path), change={MANIFEST: lambda c: b"\xff{not json"})
    assert_load_fails(tmp_path, data, "not valid JSON")


def test_deeply_nested_description(tmp_path):
    nested = "[" * 100000 + "]" * 100000
    data = rewritten(saved_bytes(tmp_path), change={MANIFEST: lambda c: nested.encode()})
    assert_load_fails(tmp_path, data, "JSON|not a fastnn")


def test_missing_and_extra_members(tmp_path):
    data = saved_bytes(tmp_path)
    assert_load_fails(tmp_path, rewritten(data, drop={"2.bias.npy"}), r"'2\.bias' is missing")
    assert_load_fails(tmp_path, rewritten(data, add={"extra.npy": npy_bytes(np.zeros(3))}),
                      "does not list")
    assert_load_fails(tmp_path, rewritten(data, drop={MANIFEST}), "not a fastnn model")


class _Trap:
    """Unpickling this would run code: it must never happen."""

    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(%r).write_text('ran')" % self.marker,))


def test_a_pickle_in_the_file_is_never_run(tmp_path):
    marker = tmp_path / "code-ran"
    trap = _Trap()
    trap.marker = str(marker)
    payload = np.empty(1, dtype=object)
    payload[0] = trap
    data = rewritten(saved_bytes(tmp_path), change={"0.bias.npy": lambda c: npy_bytes(payload, True)})
    assert_load_fails(tmp_path, data, r"'0\.bias'")
    # the whole file as a pickle, too
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps(trap))
    with pytest.raises(ValueError):
        fastnn.load(tmp_path / "pickled.npz")
    assert not marker.exists()


def test_a_plain_npz_is_not_a_model(tmp_path):
    np.savez(tmp_path / "plain.npz", weight=np.ones((2, 2)))
    with pytest.raises(ValueError, match="not a fastnn model"):
        fastnn.load(tmp_path / "plain.npz")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastnn.load(tmp_path / "absent.npz")
