"""The docs cannot rot: every code block of every page runs, and Sphinx builds them with warnings as errors.

Python blocks of a page run in order in one namespace, in a temporary folder. Shell blocks run line by
line: ``gensim-qwem ...`` and ``python -m gensim_qwem ...`` through the CLI's ``main`` in this process,
``pip install ...`` lines are skipped (installing is what the test environment did already), any other
line through bash.
"""
import logging
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gensim_qwem.__main__ import main

DOCS = Path(__file__).resolve().parent.parent / "docs"
# a directive, possibly inside a list-table cell ("* - .. code-block:: python")
DIRECTIVE = re.compile(r"^(?P<lead>[ *-]*)\.\. code-block:: *(?P<language>\S+) *$")
EXECUTED = {"python": "python", "bash": "shell", "console": "shell", "shell": "shell"}


def code_blocks(path):
    """[(language, line number, code)] of the ``.. code-block::`` directives of an rst file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        column, start = len(match.group("lead")), i + 1
        body = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > column):
            body.append(lines[i])
            i += 1
        code = textwrap.dedent("\n".join(body)).strip("\n")
        code = "\n".join(line for line in code.splitlines() if not re.match(r"^:\w[\w-]*:", line))
        blocks.append((match.group("language"), start, code))
    return blocks


PAGES = sorted(path.name for path in DOCS.glob("*.rst")
               if any(language in EXECUTED for language, _, _ in code_blocks(path)))


def test_pages_with_code_are_found():
    assert {"quickstart.rst", "coming_from_gensim.rst"} <= set(PAGES)
    python_blocks = [b for b in code_blocks(DOCS / "coming_from_gensim.rst") if b[0] == "python"]
    assert any("from gensim.models import Word2Vec" in code for _, _, code in python_blocks)  # in a table cell
    assert any("from gensim_qwem import QWEM" in code for _, _, code in python_blocks)


def test_every_code_block_has_a_known_language():
    for page in DOCS.glob("*.rst"):
        for language, line, _ in code_blocks(page):
            assert language in EXECUTED or language == "text", f"{page.name}:{line}: unknown language {language}"


def run_shell_line(line, where):
    words = shlex.split(line, comments=True)
    if not words or words[:2] == ["pip", "install"]:
        return
    if words[0] == "gensim-qwem":
        argv = words[1:]
    elif words[:3] == ["python", "-m", "gensim_qwem"]:
        argv = words[3:]
    else:
        path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")  # this test's python
        subprocess.run(line, shell=True, executable="/bin/bash", check=True, timeout=120, env={**os.environ, "PATH": path})
        return
    assert main(argv, prog="gensim-qwem") == 0, f"{where}: {line}"


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    namespace = {"__name__": f"docs_{page}"}
    try:
        for language, line, code in code_blocks(DOCS / page):
            where = f"docs/{page}:{line}"
            if EXECUTED.get(language) == "python":
                exec(compile(code, where, "exec"), namespace)
            elif EXECUTED.get(language) == "shell":
                for command in code.replace("\\\n", " ").splitlines():
                    run_shell_line(command, where)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


@pytest.mark.slow
def test_sphinx_builds_the_docs_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="building the docs needs Sphinx: pip install -e '.[docs]'")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr[-5000:]
    html = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    for module in ("model", "cooccurrence", "target", "closed_form", "progress"):
        assert f"gensim_qwem.{module}" in html
    assert "gensim-qwem train" in (tmp_path / "html" / "cli.html").read_text(encoding="utf-8")
