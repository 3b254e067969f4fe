"""Extension list only; metadata lives in pyproject.toml.

Set GENSIM_QWEM_DEBUG=1 to build the kernels with bounds and wraparound checks turned back on.
"""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("GENSIM_QWEM_DEBUG") == "1"
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "cdivision": True,
    "initializedcheck": DEBUG,
}
KERNELS = ["_encoding", "_sgd", "_cooccurrence", "_symmetric", "_corpus_reader"]

extensions = [
    Extension(f"gensim_qwem.{name}", [f"gensim_qwem/{name}.pyx"],
              include_dirs=[np.get_include(), "gensim_qwem"], extra_compile_args=["-O3"])
    for name in KERNELS
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES))
