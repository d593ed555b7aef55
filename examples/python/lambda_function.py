"""The reference deployment guide's AWS Lambda handler (docs/11-deployment.md of the reference
project, "Serverless Deployment"), served by thetatree.

Written from the guide's description, with its import changed to thetatree and the model
bundled in the deployment package: ``production_model.pkl`` next to this file (or
``$MODEL_PATH``). The guide's S3 download stays available: set ``MODEL_BUCKET`` (and
optionally ``MODEL_KEY``, default ``production_model.pkl``) and the model is fetched to
``/tmp/model.pkl`` on the first call (boto3 is only imported then). As in the guide: the model
is loaded once per container (cold start), the body is ``{"features": [...]}`` (one row or a
list of rows), a wrong width is a 400, any other error a 500 with its message.
"""
import json
import os

import numpy as np
from thetatree import ModelPersistence

HERE = os.path.dirname(os.path.abspath(__file__))
model = None


def load_model():
    """The model, loaded on the first call of this container."""
    global model
    if model is None:
        bucket = os.environ.get('MODEL_BUCKET')
        if bucket:
            import boto3  # only needed for the S3 variant

            path = '/tmp/model.pkl'
            boto3.client('s3').download_file(
                bucket, os.environ.get('MODEL_KEY', 'production_model.pkl'), path)
        else:
            path = os.environ.get('MODEL_PATH', os.path.join(HERE, 'production_model.pkl'))
        model = ModelPersistence.load_model(path)
    return model


def lambda_handler(event, context):
    """API Gateway proxy event in, proxy response out."""
    try:
        clf = load_model()

        body = json.loads(event['body'])
        features = np.array(body['features'], dtype=int)

        if features.ndim == 1:
            features = features.reshape(1, -1)

        if features.shape[1] != clf.n_features_:
            return {
                'statusCode': 400,
                'body': json.dumps({'error': f'Expected {clf.n_features_} features'})
            }

        predictions = clf.predict(features)
        probabilities = clf.predict_proba(features)

        return {
            'statusCode': 200,
            'headers': {'Content-Type': 'application/json'},
            'body': json.dumps({
                'predictions': predictions.tolist(),
                'probabilities': probabilities.tolist()
            })
        }

    except Exception as e:
        return {
            'statusCode': 500,
            'body': json.dumps({'error': str(e)})
        }
