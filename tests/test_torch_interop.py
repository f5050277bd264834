"""torch interop without torch at run time: a torch state_dict converted to numpy
({k: v.numpy()}) loads into the equivalent fastnn model under torch's key names, and a fastnn
state_dict loads into the equivalent torch model (torch.from_numpy); outputs then agree."""
import numpy as np
import pytest

from fastnn import nn


def models(torch):
    """The same network in fastnn and torch: a Sequential of Linear layers and activations (the
    parametrised ones included), and a custom module holding a Sequential and a ModuleList."""
    ours = nn.Sequential(nn.Linear(6, 16, rng=0), nn.LeakyReLU(0.1), nn.Linear(16, 8, rng=1), nn.ELU(),
                         nn.Linear(8, 8, rng=2), nn.SiLU(), nn.Linear(8, 3, bias=False, rng=3))
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.LeakyReLU(0.1), torch.nn.Linear(16, 8),
                                 torch.nn.ELU(), torch.nn.Linear(8, 8), torch.nn.SiLU(),
                                 torch.nn.Linear(8, 3, bias=False))
    return ours, theirs


class Heads(nn.Module):
    def __init__(self):
        self.trunk = nn.Sequential(nn.Linear(5, 7, rng=0), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(7, 2, rng=1), nn.Linear(7, 4, rng=2)])

    def forward(self, x):
        h = self.trunk(x)
        return np.concatenate([head(h) for head in self.heads], axis=-1)


def torch_heads(torch):
    class TorchHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh())
            self.heads = torch.nn.ModuleList([torch.nn.Linear(7, 2), torch.nn.Linear(7, 4)])

        def forward(self, x):
            h = self.trunk(x)
            return torch.cat([head(h) for head in self.heads], dim=-1)
    return TorchHeads()


@pytest.mark.parametrize("kind", ["sequential", "heads"])
def test_state_dicts_load_both_ways_and_outputs_agree(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    if kind == "sequential":
        ours, theirs = models(torch)
        x = np.random.default_rng(1).standard_normal((9, 6)).astype(np.float32)
    else:
        ours, theirs = Heads(), torch_heads(torch)
        x = np.random.default_rng(1).standard_normal((2, 3, 5)).astype(np.float32)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # torch's key names, in order

    # torch -> fastnn: the numpy arrays of torch's state_dict, as they are
    missing, unexpected = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert missing == [] and unexpected == []
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=2e-5, atol=2e-6)

    # fastnn -> torch: a fresh fastnn model's state_dict into torch, through torch.from_numpy
    fresh = type(ours)() if kind == "heads" else models(torch)[0]
    for p in fresh.parameters():
        p.data = np.random.default_rng(p.size).standard_normal(p.shape).astype(np.float32) * 0.3
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in fresh.state_dict().items()})
    np.testing.assert_allclose(fresh(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=2e-5, atol=2e-6)


def test_a_torch_state_dict_in_float64_loads_into_a_float32_model_and_bad_ones_are_refused():
    torch = pytest.importorskip("torch")
    ours, theirs = models(torch)
    state = {k: v.double().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)
    assert ours[0].weight.data.dtype == np.float32
    np.testing.assert_allclose(ours[0].weight.data, state["0.weight"], rtol=1e-7)
    bad = dict(state)
    bad["2.weight"] = bad["2.weight"].T
    with pytest.raises(ValueError, match=r"size mismatch for 2.weight"):
        ours.load_state_dict(bad)
    del bad["2.weight"]
    with pytest.raises(ValueError, match=r"missing keys \['2.weight'\]"):
        ours.load_state_dict(bad)
    assert ours.load_state_dict(bad, strict=False) == (["2.weight"], [])
