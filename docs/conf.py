"""Sphinx configuration of the causalsm documentation site.

Build (from the repository root; warnings are errors, as in CI)::

    python -m sphinx -W -b html docs docs/_build/html
"""

import causalsm

project = "causalsm"
author = "the causalsm developers"
release = version = causalsm.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.intersphinx",
              "sphinx.ext.viewcode", "numpydoc", "myst_parser"]
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_validation_checks: set = set()
intersphinx_mapping = {}
templates_path: list = []
exclude_patterns = ["_build", "figures"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# The guide pages include README sections, which start at level-2 headings.
suppress_warnings = ["myst.header"]
html_theme = "pydata_sphinx_theme"
html_title = f"causalsm {release}"
html_theme_options = {"navigation_with_keys": False}
