"""Sphinx configuration for the skfocal documentation."""

import os
import re
from pathlib import Path

# Figures of the examples are drawn without a screen; TensorFlow stays quiet.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DOCS = Path(__file__).resolve().parent

project = "skfocal"
author = "skfocal developers"
copyright = "2026, skfocal developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json",
                    # The benchmarks' tables, included by results.rst.
                    "results/**"]
html_theme = "alabaster"
# Links to Python, scikit-learn and matplotlib need their inventories from
# the network; an unreachable one is a warning, which -W makes an error. So
# they are opt-in (SKFOCAL_DOCS_ONLINE=1) and the default build runs offline.
intersphinx_mapping = {}
if os.environ.get("SKFOCAL_DOCS_ONLINE") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "abort_on_example_error": True,
    "min_reported_time": 5,
    "write_computation_times": False,
}

# The benchmark results page is written separately; list it once it exists.
HAS_RESULTS = (DOCS / "results.rst").exists()


def _write_cli_help(app):
    """Put each command's --help beside the generated API pages."""
    from skfocal.cli import _build_parser

    os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal's width
    parser = _build_parser()
    commands = next(a for a in parser._actions if a.choices and a.dest == "command")
    out = DOCS / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    texts = {"skfocal": parser.format_help()}
    texts.update({f"skfocal-{name}": sub.format_help()
                  for name, sub in commands.choices.items()})
    for name, text in texts.items():
        path = out / f"{name}.txt"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def _toctree_results(app, docname, source):
    if docname == "index" and not HAS_RESULTS:
        source[0] = source[0].replace("   results\n", "")


# scikit-learn's shape grammar names fitted attributes, as in
# "ndarray of shape (n_features_in_,)"; bare, reST reads "name_" as a link.
_SHAPE_ATTRIBUTE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)])")


def _quote_shape_attributes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "of shape (" in line:
            lines[i] = _SHAPE_ATTRIBUTE.sub(r"``\1``", line)


def setup(app):
    app.connect("autodoc-process-docstring", _quote_shape_attributes)
    app.connect("builder-inited", _write_cli_help)
    app.connect("source-read", _toctree_results)
