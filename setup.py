"""Build script: metadata lives in pyproject.toml; this file adds the optional C++/CUDA extension."""

from setuptools import setup

setup()
