"""Hostile pickles are refused without running code and without hurting the interpreter, and
the drop-in loader never unpickles."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import thetatree
from conftest import MODELS, golden, inputs


class _Payload:
    """Unpickling this runs os.system (never here: thetatree does not unpickle)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _refused(data: bytes):
    with pytest.raises(thetatree.ModelError) as e:
        thetatree.compile(data)
    return e.value


def test_code_execution_payloads_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    for protocol in (2, 3, 4, 5):
        payload = pickle.dumps({"tree_structure": _Payload(f"touch {marker}")}, protocol=protocol)
        path = tmp_path / f"evil{protocol}.pkl"
        path.write_bytes(payload)
        err = _refused(payload)
        assert "system" in str(err) or "posix" in str(err) or "os" in str(err), err
        with pytest.raises(thetatree.ModelError):
            thetatree.ModelPersistence.load_model(path)
    assert not marker.exists()


N = 1_000_000
# 10^6 nested lists: push 10^6 empty lists, then APPEND each into the one below it.
DEEP_LISTS = b"\x80\x05" + b"]" * N + b"a" * (N - 1) + b"."
DEEP_MARKS = b"\x80\x05" + b"(" * N + b"."
DEEP_TUPLES = b"\x80\x05" + b"N\x85" * N + b"."  # ((((None,),),),) ...


def test_deep_nesting_and_huge_lengths_are_refused():
    for data in (DEEP_LISTS, DEEP_MARKS, DEEP_TUPLES):
        _refused(data)
    _refused(b"\x80\x05" + b"]\x94" * 10 + b".")  # a list is not a model
    # BINUNICODE8 / BYTEARRAY8 / BINBYTES8 declaring 2**62 bytes, in a 20-byte file.
    for op in (b"\x8d", b"\x96", b"\x8e"):
        _refused(b"\x80\x05" + op + (2**62).to_bytes(8, "little") + b"abc.")


def test_every_truncation_of_a_real_pickle_is_refused():
    data = next(m for m in MODELS if m.name == "bcd_gini_d5_lgk12").pkl.read_bytes()
    for n in range(len(data)):
        _refused(data[:n])


def test_random_bytes_are_refused():
    rng = np.random.default_rng(11)
    real = next(m for m in MODELS if m.name == "mushroom_gini_d5_lgk12").pkl.read_bytes()
    for k in range(300):
        n = int(rng.integers(1, 400))
        junk = b"\x80\x05" + rng.bytes(n)
        with pytest.raises(ValueError):
            thetatree.compile(junk)
        flipped = bytearray(real)
        for _ in range(4):
            i = int(rng.integers(2, len(real)))
            flipped[i] = int(rng.integers(0, 256))
        try:
            thetatree.compile(bytes(flipped))
        except ValueError:
            pass  # refused (or the flip was harmless and it compiled): never a crash


def test_a_hostile_pickle_does_not_kill_the_interpreter(tmp_path):
    """The deepest inputs again in a child process: it must exit normally."""
    for data in (DEEP_LISTS, DEEP_MARKS, DEEP_TUPLES):
        path = tmp_path / "deep.pkl"
        path.write_bytes(data)
        code = (
            "import sys, thetatree\n"
            "try:\n"
            "    thetatree.ModelPersistence.load_model(sys.argv[1])\n"
            "except thetatree.ModelError as e:\n"
            "    print('refused', e.code)\n"
        )
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0 and "refused" in out.stdout, out.stderr[-2000:]


def test_load_model_never_unpickles(monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("pickle was used to load a model")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    m = next(m for m in MODELS if m.name == "mushroom_gini_d5_lgk12")
    clf = thetatree.ModelPersistence.load_model(m.pkl)
    assert np.array_equal(clf.predict(inputs(m.dataset, False).x), golden(m.name, False).pred)


def test_pickle_errors_carry_status_and_byte_offset():
    err = _refused(pickle.dumps({"x": _Payload("true")}, protocol=5))
    assert err.offset is not None and err.offset > 0
    assert err.status == "TT_ERR_CORRUPT" or err.status.startswith("TT_ERR_")
    err = _refused(b"\x80\x05\x8d" + (2**62).to_bytes(8, "little") + b"abc.")
    assert err.offset == 2, err
