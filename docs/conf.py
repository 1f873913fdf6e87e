"""Sphinx configuration of the causalsm documentation site.

Build (from the repository root; warnings are errors, as in CI)::

    python -m sphinx -W -b html docs docs/_build/html
"""

import os

import causalsm

# The gallery's examples draw with matplotlib: no display needed.
os.environ.setdefault("MPLBACKEND", "Agg")

project = "causalsm"
author = "the causalsm developers"
release = version = causalsm.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.intersphinx",
              "sphinx.ext.viewcode", "numpydoc", "myst_parser",
              "sphinx_gallery.gen_gallery"]
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_validation_checks: set = set()
intersphinx_mapping = {}
templates_path: list = []
exclude_patterns = ["_build", "figures"]
# The gallery: examples/gallery/plot_*.py, run at every build (a failing one fails it)
sphinx_gallery_conf = {
    "examples_dirs": "../examples/gallery",
    "gallery_dirs": "gallery",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "abort_on_example_error": True,
}
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# The guide pages include README sections, which start at level-2 headings.
suppress_warnings = ["myst.header"]
html_theme = "pydata_sphinx_theme"
html_title = f"causalsm {release}"
html_theme_options = {"navigation_with_keys": False}
