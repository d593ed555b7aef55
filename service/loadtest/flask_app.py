"""The deployment guide's single-instance design (docs/11-deployment.md of the reference
project): Flask app, model loaded at start-up, POST /predict parses {"features": [[...]]} into
np.array(dtype=int), checks the width (400), calls predict() and predict_proba(), answers with
jsonify(...tolist()); any exception is a 500. GET /health. Served by gunicorn, as the guide's
Dockerfile does. Written from the guide's description; the classifier is reference_emulation.
"""
import os

import numpy as np
from flask import Flask, jsonify, request

from reference_emulation import ReferenceClassifier

app = Flask(__name__)
model = ReferenceClassifier(os.environ["REFERENCE_MODEL_JSON"])


@app.route("/predict", methods=["POST"])
def predict():
    try:
        data = request.get_json()
        features = np.array(data["features"], dtype=int)
        if features.shape[1] != model.n_features_in_:
            return jsonify({"error": f"Expected {model.n_features_in_} features, got {features.shape[1]}"}), 400
        predictions = model.predict(features)
        probabilities = model.predict_proba(features)
        return jsonify({"predictions": predictions.tolist(), "probabilities": probabilities.tolist()})
    except Exception as e:  # the guide's catch-all
        return jsonify({"error": str(e)}), 500


@app.route("/health", methods=["GET"])
def health():
    return jsonify({"status": "healthy", "model_loaded": model is not None})
