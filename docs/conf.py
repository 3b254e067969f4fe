"""Sphinx configuration for gensim_qwem.

Build: ``pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.

Three parts of the docs are generated at build time, so that they cannot fall out of date:
the API reference lists every public module of the package (``.. qwem-api-modules::``), the command
line page holds the ``--help`` of every command (``.. qwem-cli-help::``), and the benchmarks page
includes whatever markdown results ``benchmarks/`` holds (``.. qwem-benchmark-results::``).
"""
import glob
import importlib.util
import os
import pkgutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    import gensim_qwem
except ImportError as error:  # the Cython kernels must be built: the package has to be installed
    raise RuntimeError('Install gensim_qwem before building its docs: pip install -e ".[docs]" '
                       f"({error})") from error

project = "gensim_qwem"
author = "gensim_qwem contributors"
copyright = "gensim_qwem contributors"
release = version = gensim_qwem.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
HAVE_MYST = importlib.util.find_spec("myst_parser") is not None
if HAVE_MYST:  # renders the markdown benchmark tables; without it they are shown as text
    extensions.append("myst_parser")
    # links inside benchmark markdown point at repository files, not at pages of these docs
    suppress_warnings = ["myst.xref_missing", "myst.header"]

source_suffix = {".rst": "restructuredtext"}
master_doc = root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1200px", "sidebar_width": "250px"}  # room for side-by-side code
html_static_path = []
pygments_style = "sphinx"

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # "Attributes" sections as fields: no duplicate entries for dataclass fields
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autoclass_content = "class"
# plots need matplotlib (the `plot` extra); document them even where it is not installed
autodoc_mock_imports = [name for name in ("matplotlib",) if importlib.util.find_spec(name) is None]

# ------------------------------------------------------------------------------- generated parts
PREFERRED_ORDER = ("model", "cooccurrence", "target", "closed_form", "evaluation", "baselines", "plots",
                   "persistence", "progress")


def public_modules():
    """Every public module of the package, in reading order (new modules are picked up by themselves)."""
    found = {info.name for info in pkgutil.iter_modules(gensim_qwem.__path__) if not info.name.startswith("_")}
    return [name for name in PREFERRED_ORDER if name in found] + sorted(found - set(PREFERRED_ORDER))


def api_modules_rst():
    lines = []
    exported = getattr(gensim_qwem, "__all__", [])
    lines += ["The package ``gensim_qwem`` re-exports:", ""]
    for name in exported:
        obj = getattr(gensim_qwem, name)
        module = getattr(obj, "__module__", None)
        if module and module.startswith("gensim_qwem.") and hasattr(obj, "__qualname__"):
            lines.append(f"- :py:obj:`gensim_qwem.{name} <{module}.{obj.__qualname__}>`")
        else:
            lines.append(f"- ``gensim_qwem.{name}``")
    lines.append("")
    for name in public_modules():
        title = f"``gensim_qwem.{name}``"
        lines += [title, "-" * len(title), "", f".. automodule:: gensim_qwem.{name}", ""]
    return "\n".join(lines)


def cli_help_rst():
    from gensim_qwem.__main__ import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal width; fix it for reproducible docs
    try:
        parser = build_parser("gensim-qwem")
        subparsers = next(action for action in parser._actions if action.dest == "command")
        sections = [("gensim-qwem", parser.format_help())]
        sections += [(f"gensim-qwem {name}", sub.format_help()) for name, sub in subparsers.choices.items()]
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    lines = []
    for title, text in sections:
        heading = f"``{title}``"
        lines += [heading, "-" * len(heading), "", ".. code-block:: text", ""]
        lines += [("   " + line).rstrip() for line in text.rstrip().splitlines()] + [""]
    return "\n".join(lines)


def benchmark_results_rst():
    files = sorted(glob.glob(os.path.join(ROOT, "benchmarks", "results", "*.md")))
    readme = os.path.join(ROOT, "benchmarks", "README.md")
    if os.path.isfile(readme):
        files.insert(0, readme)
    if not files:
        return ("*No benchmark results are committed yet.* Run the scripts in ``benchmarks/`` (see "
                "``benchmarks/README.md`` once it exists); their markdown tables in ``benchmarks/results/`` "
                "appear on this page at the next build.\n")
    lines = []
    for path in files:
        relative = os.path.relpath(path, HERE).replace(os.sep, "/")
        if HAVE_MYST:
            lines += [f".. include:: {relative}", "   :parser: myst_parser.sphinx_", ""]
        else:
            title = f"``{os.path.relpath(path, ROOT)}``"
            lines += [title, "~" * len(title), "", f".. literalinclude:: {relative}", "   :language: text", ""]
    return "\n".join(lines)


GENERATED = {
    ".. qwem-api-modules::": api_modules_rst,
    ".. qwem-cli-help::": cli_help_rst,
    ".. qwem-benchmark-results::": benchmark_results_rst,
}


def expand_generated(app, docname, source):
    for marker, make in GENERATED.items():
        if marker in source[0]:
            source[0] = source[0].replace(marker, make())


def resolve_own_reference(app, env, node, contnode):
    """Resolve ``gensim_qwem.QWEM``-style references to re-exported names; warn about other broken links.

    Links to gensim, numpy and scipy objects stay plain text (no network for intersphinx), but a link to
    a gensim_qwem object that is not documented is an error under ``-W``.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("gensim_qwem"):
        return None
    parts = target.split(".")
    if len(parts) >= 2 and parts[1] in getattr(gensim_qwem, "__all__", ()):
        obj = getattr(gensim_qwem, parts[1])
        if hasattr(obj, "__qualname__"):
            canonical = ".".join([obj.__module__, obj.__qualname__] + parts[2:])
            resolved = env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                                          canonical, node, contnode)
            if resolved is not None:
                return resolved
    from sphinx.util import logging as sphinx_logging
    sphinx_logging.getLogger(__name__).warning(
        "reference to a gensim_qwem object that is not documented: %s", target, location=node)
    return None


def plain_property_summary(app, what, name, obj, options, lines):
    """napoleon reads "text: more text" on a property's first line as "type: description"; keep it text."""
    if what == "property" and lines and ": " in lines[0]:
        lines[0] = lines[0].replace(": ", " - ", 1)


def setup(app):
    app.connect("autodoc-process-docstring", plain_property_summary, priority=400)  # before napoleon
    app.connect("source-read", expand_generated)
    app.connect("missing-reference", resolve_own_reference)
