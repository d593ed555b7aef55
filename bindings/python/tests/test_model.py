"""The Model object: attributes, files, signatures, pickling, threads, errors."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import pickle
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import thetatree
from conftest import MODELS, assert_bits_equal, inputs, mapping_dict, ref_path


@pytest.fixture(scope="module")
def model(mushroom):
    return thetatree.compile(
        ref_path(mushroom.json),
        features=mapping_dict(mushroom),
        model_version="2026-11-28.1",
        class_labels=("poisonous", "edible"),
    )


def test_attributes(model, mushroom):
    names = inputs("mushroom", False).names
    assert model.n_features_in_ == 117
    assert model.feature_names_in_.dtype == object and list(model.feature_names_in_) == names
    assert np.array_equal(model.classes_, [0, 1]) and model.classes_.dtype == np.int64
    assert model.n_classes_ == 2
    assert model.class_labels == ("poisonous", "edible")
    assert (model.n_nodes, model.n_leaves, model.max_depth) == (23, 12, 5)
    assert model.version == "2026-11-28.1"
    assert len(model.digest) == 64 and int(model.digest, 16) >= 0
    assert model.kernel in ("branch-free", "branchy")
    assert model.metadata["hyperparameters"]["criterion"] == "gini"
    assert model.feature_index("odor=n") == names.index("odor=n")
    with pytest.raises(KeyError):
        model.feature_index("no such feature")
    r = repr(model)
    assert "2026-11-28.1" in r and "features=117" in r and "nodes=23" in r and model.digest[:16] in r


def test_feature_importances_when_the_source_has_them(mushroom):
    clf_model = thetatree.compile(mushroom.pkl)
    want = json.loads(mushroom.persistence_json.read_text())["fitted_attributes"]["feature_importances"]
    assert_bits_equal(clf_model.feature_importances_, np.array(want), "feature_importances_")
    bare = thetatree.compile(ref_path(mushroom.json), features=mapping_dict(mushroom))
    assert not hasattr(bare, "feature_importances_")


def test_save_is_atomic_and_loads_back(model, tmp_path):
    path = tmp_path / "m.ttm"
    model.save(path)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    assert path.read_bytes() == model.to_bytes()
    mapped = thetatree.load(path)
    # Replacing the file by a save (rename) does not disturb the mapped model.
    other = thetatree.compile(
        ref_path(next(m for m in MODELS if m.name == "bcd_gini_d5_lgk12").json),
        features=mapping_dict(next(m for m in MODELS if m.name == "bcd_gini_d5_lgk12")),
    )
    other.save(path)
    assert mapped == model and thetatree.load(path) == other
    x = inputs("mushroom", False).x[:100]
    assert np.array_equal(mapped.predict(x), model.predict(x))
    with pytest.raises(OSError):
        model.save(tmp_path / "missing-dir" / "m.ttm")


def test_files_that_are_not_models(model, tmp_path):
    with pytest.raises(FileNotFoundError):
        thetatree.load(tmp_path / "nope.ttm")
    with pytest.raises(OSError):
        thetatree.load(tmp_path)
    data = bytearray(model.to_bytes())
    cases = {
        "magic": (b"NOTAMODEL" + bytes(data[9:]), 6, 0),
        "truncated": (bytes(data[:100]), 9, None),
        "checksum": (bytes(data[:-9]) + bytes([data[-9] ^ 1]) + bytes(data[-8:]), None, None),
    }
    for what, (bad, code, offset) in cases.items():
        with pytest.raises(thetatree.ModelError) as e:
            thetatree.loads(bad)
        err = e.value
        assert isinstance(err, ValueError), what
        assert err.status.startswith("TT_ERR_"), what
        if code is not None:
            assert err.code == code, (what, err)
        if offset is not None:
            assert err.offset == offset, (what, err)
        assert err.message and err.status in str(err)
    p = tmp_path / "bad.ttm"
    p.write_bytes(bytes(data[:-1]))
    with pytest.raises(thetatree.ModelError, match="bad.ttm"):
        thetatree.load(p)


def test_compile_errors_name_the_json_path(tmp_path, mushroom):
    with pytest.raises(thetatree.ModelError) as e:
        thetatree.compile(ref_path("models/du_entropy_d14_lgk12/model.json"))
    assert "truncated" in str(e.value) and e.value.path.startswith("$")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(thetatree.ModelError, match="invalid JSON"):
        thetatree.compile(bad)
    with pytest.raises(ValueError, match="already a compiled"):
        thetatree.compile(thetatree.compile(mushroom.pkl).to_bytes())


def _sign(data: bytes, key: bytes) -> bytes:
    """The documented trailer: magic, key id, signed length, zero, HMAC-SHA256."""
    key_id = hmac.new(key, b"thetatree key id", hashlib.sha256).digest()[:8]
    head = b"TTSIG001" + key_id + struct.pack("<Q", len(data)) + bytes(8)
    return data + head + hmac.new(key, data + head, hashlib.sha256).digest()


def test_signed_models(model, tmp_path):
    signed = _sign(model.to_bytes(), b"k1")
    p = tmp_path / "signed.ttm"
    p.write_bytes(signed)
    m = thetatree.load(p, key=b"k1")
    assert m.is_signed and m == model
    assert thetatree.loads(signed, key="k1").is_signed
    assert pickle.loads(pickle.dumps(m)).is_signed
    for kwargs, status in (
        ({"key": b"k2"}, "TT_ERR_KEY_MISMATCH"),
    ):
        with pytest.raises(thetatree.ModelError) as e:
            thetatree.load(p, **kwargs)
        assert e.value.status == status
    with pytest.raises(thetatree.ModelError) as e:
        thetatree.loads(model.to_bytes(), key=b"k1")
    assert e.value.status == "TT_ERR_UNSIGNED"
    tampered = bytearray(signed)
    tampered[200] ^= 1
    with pytest.raises(thetatree.ModelError) as e:
        thetatree.loads(bytes(tampered), key=b"k1")
    assert e.value.status == "TT_ERR_BAD_SIGNATURE"


def test_pickle_copy_and_equality(model):
    clone = pickle.loads(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    assert clone == model and hash(clone) == hash(model) and clone is not model
    assert copy.copy(model) is model
    deep = copy.deepcopy(model)
    assert deep == model and deep is not model
    x = inputs("mushroom", True).x
    assert_bits_equal(clone.predict_proba(x), model.predict_proba(x), "pickled model")
    # The pickle is the .ttm bytes, validated again when loaded.
    payload = pickle.dumps(model)
    assert model.to_bytes() in payload
    broken = payload.replace(model.to_bytes()[:16], b"XTMODEL\0" + model.to_bytes()[8:16])
    with pytest.raises(thetatree.ModelError):
        pickle.loads(broken)
    clf = thetatree.ModelPersistence.load_model(ref_path("models/mushroom_gini_d5_lgk12/model.pkl"))
    clf2 = pickle.loads(pickle.dumps(clf))
    clean = inputs("mushroom", False).x[:100]
    assert clf2.n_features_ == 117 and np.array_equal(clf2.predict(clean), clf.predict(clean))


def test_models_cross_processes(model):
    import multiprocessing as mp

    x = inputs("mushroom", False).x[:500]
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        got = pool.starmap(_predict_in_child, [(model, x[:250]), (model, x[250:])])
    assert np.array_equal(np.concatenate(got), model.predict(x))


def _predict_in_child(model, x):
    return model.predict(x)


def test_eight_threads_give_identical_results(mushroom):
    models = [
        thetatree.compile(mushroom.pkl),
        thetatree.compile(ref_path(next(m for m in MODELS if m.name == "du_entropy_d14_lgk12").json),
                          features=mapping_dict(next(m for m in MODELS if m.name == "du_entropy_d14_lgk12"))),
    ]
    datasets = [inputs("mushroom", True).x, inputs("du", True).x]
    for model, x in zip(models, datasets):
        want_l, want_p = model.predict(x), model.predict_proba(x)
        big = np.tile(x, (4, 1))

        def work(k):
            rows = big if k % 2 else x
            for _ in range(5):
                p = model.predict_proba(rows)
                l = model.predict(np.where(np.isnan(rows), -1, rows).astype(np.int8) if k % 3 == 0 else rows)
                ok = np.array_equal(l[: len(x)], want_l)
                ok &= bool((p[: len(x)].view(np.uint64) == want_p.view(np.uint64)).all())
                if not ok:
                    return False
            return True

        with ThreadPoolExecutor(8) as ex:
            assert all(ex.map(work, range(8)))


def test_the_gil_is_released_while_predicting(mushroom):
    """Another Python thread runs during a predict call. With a huge switch interval the GIL
    only changes hands when its holder releases it, so the other thread can only count while
    predict has released it."""
    import sys
    import time

    model = thetatree.compile(mushroom.pkl)
    x = np.tile(np.ascontiguousarray(inputs("mushroom", False).x, dtype=np.int8), (20, 1))
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)  # hand the GIL back at once, so predict can take it back

    old = sys.getswitchinterval()
    t = threading.Thread(target=spin)
    t.start()
    sys.setswitchinterval(1000.0)
    time.sleep(0.05)  # let the other thread's pending GIL wait (old interval) run out
    try:
        counts = []
        for call in (model.predict, model.predict_proba):
            # A loaded machine may not schedule the other thread within one call: try a few
            # (with the GIL held, every one of them would count 0).
            for _ in range(20):
                before = ticks[0]
                call(x)
                if ticks[0] > before:
                    break
            counts.append(ticks[0] - before)
    finally:
        sys.setswitchinterval(old)
        stop.set()
        t.join()
    assert all(c > 0 for c in counts), counts


def test_version_strings():
    assert thetatree.__version__ and thetatree.LIBRARY_VERSION.count(".") == 2
