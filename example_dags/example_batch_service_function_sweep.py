"""A sweep of a Python function with ``@task.batch_service``: each call a training job.

``train`` is plain Python. ``@task.batch_service`` sends its source and arguments to S3, and
each mapped call becomes one SageMaker training job queued through the Batch job queue (where
the GPU capacity, priorities and quota shares are). A small standard-library runner calls the
function in the training image; the function's ``print`` lines stream into the task log; its
return value comes back from S3 as the task's XCom. ``pick_best`` then chooses the run from
the return values alone.

On the local emulator (the demo) the function really runs, in a subprocess of the emulator's
Python, so the numbers below are computed, not scripted.

Settings: ``BATCH_SERVICE_QUEUE``, ``BATCH_SERVICE_ROLE_ARN``, ``BATCH_SERVICE_OUTPUT`` (an
``s3://`` prefix: results, models and the function's files), ``BATCH_SERVICE_IMAGE`` (a
training image with Python 3.8+ as ``python3``), ``BATCH_SERVICE_CONN_ID``,
``BATCH_SERVICE_POKE_INTERVAL``.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, task

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
IMAGE = os.environ.get(
    "BATCH_SERVICE_IMAGE",
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311",
)
POLL_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))

with DAG(
    dag_id="example_batch_service_function_sweep",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker", "taskflow"],
) as dag:
    # --8<-- [start:howto_decorator_sweep]
    @task.batch_service(
        aws_conn_id=CONN_ID,
        job_queue=QUEUE,
        image_uri=IMAGE,
        role_arn=ROLE_ARN,
        output_s3_uri=OUTPUT,
        instance_type="ml.g5.xlarge",
        max_runtime_in_seconds=3600,
        # A spot-like interruption of the container is worth another attempt; a bug is not.
        retry_strategy={
            "attempts": 2,
            "evaluateOnExit": [
                {"action": "RETRY", "onStatusReason": "*ConnectionError*"},
                {"action": "EXIT", "onStatusReason": "*"},
            ],
        },
        poll_interval=POLL_INTERVAL,
    )
    def train(learning_rate: float, epochs: int = 10) -> dict:
        """Gradient descent on a noisy quadratic: a stand-in for a real training loop."""
        import math
        import os

        weight, target = 0.0, 3.0
        for epoch in range(1, epochs + 1):
            gradient = 2 * (weight - target) + 0.05 * math.sin(epoch)
            weight -= learning_rate * gradient
            if epoch % 5 == 0:
                print(f"epoch {epoch}: weight {weight:.4f}")
        loss = (weight - target) ** 2
        # Anything written to SM_MODEL_DIR is uploaded as the job's model.tar.gz.
        model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
        os.makedirs(model_dir, exist_ok=True)
        with open(os.path.join(model_dir, "weight.txt"), "w") as handle:
            handle.write(str(weight))
        return {"learning_rate": learning_rate, "loss": loss, "weight": weight}

    @task
    def pick_best(results: list[dict]) -> dict:
        """The run with the lowest loss, from the functions' return values alone."""
        results = list(results)
        for result in results:
            print(f"learning rate {result['learning_rate']}: loss {result['loss']:.3g}")
        best = min(results, key=lambda result: result["loss"])
        print(f"best learning rate {best['learning_rate']}: loss {best['loss']:.3g}")
        return best

    pick_best(train.expand(learning_rate=[0.3, 0.1, 0.03, 0.01]))
    # --8<-- [end:howto_decorator_sweep]
