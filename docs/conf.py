"""Sphinx configuration for sk_guessfirst."""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]

project = "sk_guessfirst"
author = "sk_guessfirst developers"
copyright = "2026, sk_guessfirst developers"
from sk_guessfirst import __version__ as release  # noqa: E402

version = release

# The attack table is written from the registry, its one source.
from sk_guessfirst.adversarial._attacks import attack_table_rst  # noqa: E402

(Path(__file__).parent / "attacks_table.rst").write_text(attack_table_rst())

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
autodoc_default_options = {
    "members": True,
    # scikit-learn attaches metadata-routing setters to every estimator class;
    # their docstrings point into scikit-learn's own glossary.
    "exclude-members": "set_fit_request, set_partial_fit_request, "
    "set_score_request, score",
}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "attacks_table.rst",
    "benchmark_figures.rst",
    "_static/results/*.rst",  # included by results.rst, not pages of their own
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
]
nitpicky = False
intersphinx_mapping = {}  # no network at build time

html_theme = "pydata_sphinx_theme"
html_title = "sk_guessfirst"
html_theme_options = {"navigation_with_keys": False}
html_static_path = ["_static/css"]
html_css_files = ["wrap.css"]

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "plot_gallery": os.environ.get("SK_GUESSFIRST_DOCS_RUN_EXAMPLES", "True"),
    "reset_modules": ("matplotlib",),
}
suppress_warnings = ["config.cache"]
