"""The optional native forwarding fast path (media/_fastpath.c).

Everything else is declared in pyproject.toml. The extension needs only a C
compiler and Python's headers (Debian: gcc, python3-dev); when it cannot be
built the install goes on and media/fastpath.py's pure-Python twin runs.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "media._fastpath",
            sources=["media/_fastpath.c"],
            extra_compile_args=[
                "-O2",
                "-Wall",
                "-Wextra",
                "-Wno-missing-field-initializers",
                "-Wno-unused-parameter",
            ],
            optional=True,
        )
    ]
)
