"""The package surface: honest __all__ lists, and no TensorFlow on import."""

import importlib
import subprocess
import sys

import pytest

MODULES = ["skfocal", "skfocal.capture", "skfocal.datasets"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_resolves(name):
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__)
    for attribute in module.__all__:
        assert getattr(module, attribute) is not None, attribute


def test_import_and_reading_stay_free_of_tensorflow():
    code = (
        "import sys, skfocal, skfocal.datasets; "
        "from skfocal import PcapImageTransformer, read_sessions; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["False", "False"]
