"""The reference deployment guide's single-instance Flask service (docs/11-deployment.md of the
reference project, "Local Server Deployment"), served by thetatree.

Written from the guide's description; the one difference from the guide is the import line:
the guide imports ``ModelPersistence`` from ``theta_sketch_tree.model_persistence``. The rest
is the guide's design: the model is loaded once at start-up from ``production_model.pkl`` (the
reference's own pickle, read by thetatree without unpickling it), ``POST /predict`` takes
``{"features": [[0, 1, ...], ...]}``, parses it with ``np.array(..., dtype=int)``, answers 400
for a wrong width, else the predictions and probabilities (``.tolist()``); any other error is a
500 with its message. ``GET /health`` reports the model.

    cp model.pkl production_model.pkl && python flask_app.py     # then POST to :5000/predict
"""
from flask import Flask, request, jsonify
from thetatree import ModelPersistence
import numpy as np

app = Flask(__name__)

# The model is loaded when the app starts.
model = ModelPersistence.load_model('production_model.pkl')


@app.route('/predict', methods=['POST'])
def predict():
    """Predictions for the posted rows."""
    try:
        data = request.get_json()
        features = np.array(data['features'], dtype=int)

        if features.shape[1] != model.n_features_:
            return jsonify({'error': f'Expected {model.n_features_} features, got {features.shape[1]}'}), 400

        predictions = model.predict(features)
        probabilities = model.predict_proba(features)

        return jsonify({
            'predictions': predictions.tolist(),
            'probabilities': probabilities.tolist()
        })

    except Exception as e:
        return jsonify({'error': str(e)}), 500


@app.route('/health', methods=['GET'])
def health_check():
    """Liveness: the model is loaded."""
    return jsonify({'status': 'healthy', 'model_loaded': model is not None})


if __name__ == '__main__':
    app.run(host='0.0.0.0', port=5000, threaded=True)
