"""Build the optional compiled core of the linearizability checker (metadata lives in pyproject.toml).

``pip install -e .`` compiles ``splitbrain.checker._fastcore`` when a C compiler and the Python headers
are present; when they are not, the build of the extension is skipped (``optional=True``) and splitbrain
installs anyway and runs its pure-Python search. ``SPLITBRAIN_PURE_PYTHON=1`` forces the pure path at
run time even when the extension is built.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "splitbrain.checker._fastcore",
            sources=["src/splitbrain/checker/_fastcore.c"],
            depends=["src/splitbrain/checker/_kvstep.h"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
