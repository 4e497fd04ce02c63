"""Shared fixtures: the checkout, the launcher and the interpreter it uses."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def launcher():
    path = ROOT / "cunicorn"
    assert os.access(path, os.X_OK), "the ./cunicorn launcher is missing"
    return str(path)


@pytest.fixture
def build_python():
    """The interpreter `make` built the extension for."""
    return (ROOT / "build" / ".python").read_text().strip()
