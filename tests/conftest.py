"""Test configuration.

TRITON_INTERPRET=1 must be set before any module with ``@triton.jit`` is imported, so the Triton
kernels run on the CPU here (about 8 ms per program instance: keep grids small).
"""

import os
import sys
import zlib

os.environ.setdefault("TRITON_INTERPRET", "1")
# tests/ on the path: the shared oracles (_closed_forms.py) for the tests in every subfolder
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402
import torch  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU; none is visible on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip_cuda)


@pytest.fixture(autouse=True)
def _fresh_seed(request):
    """Fresh random inputs per test, reproducible from the printed test id."""
    torch.manual_seed(zlib.crc32(request.node.nodeid.encode()))
    yield


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for tests of tiny models: on a busy 2-core box two threads were up to
    10x slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _require_backend(name: str, device: str) -> None:
    """Skip (or, with FKC_REQUIRE_EXT=1 as in CI, fail) when a C++ backend cannot run."""
    from fkc_kernels.ops._backends import unavailable_reason

    reason = unavailable_reason(name, torch.device(device))
    if reason is None:
        return
    message = f"the {name!r} backend is unavailable: {reason}"
    if os.environ.get("FKC_REQUIRE_EXT") == "1":  # CI: a missing extension is a failure
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def cpu_backend():
    """Tests of the C++ CPU backend: skip with the reason when it is not built."""
    _require_backend("cpu", "cpu")


@pytest.fixture
def cuda_backend():
    """Tests of the CUDA backend (run on a GPU machine)."""
    _require_backend("cuda", "cuda")
