"""The reference deployment guide's Flask app and Lambda handler (examples/python), run on the
reference pickle: answers identical to the reference, bit for bit."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import numpy as np
import pytest

from conftest import EXAMPLES, MODELS, assert_bits_equal, golden, inputs

MUSHROOM = next(m for m in MODELS if m.name == "mushroom_gini_d5_lgk12")
DU = next(m for m in MODELS if m.name == "du_entropy_d14_lgk12")


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=[MUSHROOM, DU], ids=lambda m: m.name)
def deployed(request, tmp_path, monkeypatch):
    """The guide's layout: production_model.pkl in the working directory (Flask) and in the
    deployment package next to the handler (Lambda)."""
    m = request.param
    shutil.copy(m.pkl, tmp_path / "production_model.pkl")
    shutil.copy(EXAMPLES / "lambda_function.py", tmp_path / "lambda_function.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODEL_BUCKET", raising=False)
    monkeypatch.delenv("MODEL_PATH", raising=False)
    return m, tmp_path


def _expected(m, rows):
    g = golden(m.name, False)
    return g.pred[rows], g.proba[rows]


def test_flask_app_serves_the_reference_answers(deployed):
    m, _ = deployed
    app = _import(EXAMPLES / "flask_app.py", f"flask_app_{m.name}").app
    client = app.test_client()
    assert client.get("/health").get_json() == {"status": "healthy", "model_loaded": True}
    x = inputs(m.dataset, False).x.astype(int)
    for rows in (slice(0, 1), slice(0, 700), slice(len(x) - 300, len(x))):
        r = client.post("/predict", json={"features": x[rows].tolist()})
        assert r.status_code == 200, r.get_data(as_text=True)
        body = json.loads(r.get_data(as_text=True))
        labels, proba = _expected(m, rows)
        assert body["predictions"] == labels.tolist()
        assert_bits_equal(np.array(body["probabilities"]), proba, f"flask {m.name}")
    r = client.post("/predict", json={"features": [[0, 1, 0]]})
    assert r.status_code == 400
    assert r.get_json() == {"error": f"Expected {x.shape[1]} features, got 3"}
    bad = x[:2].copy()
    bad[1, 5] = 2
    r = client.post("/predict", json={"features": bad.tolist()})
    assert r.status_code == 500 and "binary values" in r.get_json()["error"]


def _event(body):
    return {
        "resource": "/predict",
        "path": "/predict",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "requestContext": {"stage": "Prod", "httpMethod": "POST"},
        "isBase64Encoded": False,
        "body": json.dumps(body),
    }


def test_lambda_handler_serves_the_reference_answers(deployed):
    m, pkg = deployed
    handler = _import(pkg / "lambda_function.py", f"lambda_function_{m.name}")
    x = inputs(m.dataset, False).x.astype(int)
    for rows in (slice(0, 1), slice(0, 500)):
        resp = handler.lambda_handler(_event({"features": x[rows].tolist()}), None)
        assert resp["statusCode"] == 200, resp
        assert resp["headers"] == {"Content-Type": "application/json"}
        body = json.loads(resp["body"])
        labels, proba = _expected(m, rows)
        assert body["predictions"] == labels.tolist()
        assert_bits_equal(np.array(body["probabilities"]), proba, f"lambda {m.name}")
    # A single row (1-D) is reshaped by the handler, as in the guide.
    resp = handler.lambda_handler(_event({"features": x[3].tolist()}), None)
    labels, _ = _expected(m, slice(3, 4))
    assert json.loads(resp["body"])["predictions"] == labels.tolist()
    resp = handler.lambda_handler(_event({"features": [0, 1]}), None)
    assert resp["statusCode"] == 400
    assert json.loads(resp["body"]) == {"error": f"Expected {x.shape[1]} features"}
    resp = handler.lambda_handler({"body": "not json"}, None)
    assert resp["statusCode"] == 500


def test_lambda_model_path_override(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_PATH", str(MUSHROOM.pkl))
    monkeypatch.delenv("MODEL_BUCKET", raising=False)
    handler = _import(EXAMPLES / "lambda_function.py", "lambda_function_env")
    x = inputs(MUSHROOM.dataset, False).x.astype(int)
    resp = handler.lambda_handler(_event({"features": x[:10].tolist()}), None)
    assert json.loads(resp["body"])["predictions"] == golden(MUSHROOM.name, False).pred[:10].tolist()
    sys.modules.pop("lambda_function_env", None)


def test_lambda_s3_variant_downloads_once(tmp_path, monkeypatch):
    """With MODEL_BUCKET set the handler fetches the model from S3 on the first call only (a
    stand-in boto3 copies the reference pickle)."""
    import types

    calls = []

    class FakeS3:
        def download_file(self, bucket, key, dest):
            calls.append((bucket, key, dest))
            shutil.copy(MUSHROOM.pkl, dest)

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda name: FakeS3()))
    monkeypatch.setenv("MODEL_BUCKET", "your-model-bucket")
    monkeypatch.delenv("MODEL_PATH", raising=False)
    handler = _import(EXAMPLES / "lambda_function.py", "lambda_function_s3")
    x = inputs(MUSHROOM.dataset, False).x.astype(int)
    for _ in range(2):
        resp = handler.lambda_handler(_event({"features": x[:5].tolist()}), None)
        assert json.loads(resp["body"])["predictions"] == golden(MUSHROOM.name, False).pred[:5].tolist()
    assert calls == [("your-model-bucket", "production_model.pkl", "/tmp/model.pkl")]
