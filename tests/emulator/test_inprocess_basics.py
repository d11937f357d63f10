"""The in-process emulator end to end through boto3: submit, watch every state, list, terminate."""

from __future__ import annotations

import subprocess
import sys

from airflow_batch_service.core import reasons

from .helpers import describe, statuses_until_end, submit_args


def test_fixture_gives_a_ready_sagemaker_queue(batch_emulator):
    batch = batch_emulator.client()
    queues = batch.describe_job_queues(jobQueues=[batch_emulator.queue_name])["jobQueues"]
    assert [q["jobQueueArn"] for q in queues] == [batch_emulator.queue_arn]
    assert queues[0]["jobQueueType"] == "SAGEMAKER_TRAINING"
    assert batch_emulator.region == "us-east-1"


def test_job_walks_every_state_to_succeeded(batch_emulator):
    batch_emulator.configure(seconds_per_state=1, freeze_clock=True)
    batch = batch_emulator.client()
    job = batch.submit_service_job(**submit_args(batch_emulator.queue_name, "walk"))
    seen = statuses_until_end(batch_emulator, batch, job["jobId"])
    assert seen == ["SUBMITTED", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING", "SUCCEEDED"]
    final = describe(batch, job["jobArn"])  # by ARN too
    assert final["statusReason"] == reasons.TRAINING_COMPLETED
    assert final["isTerminated"] is False
    assert len(final["attempts"]) == 1
    assert final["createdAt"] < final["scheduledAt"] < final["startedAt"] < final["stoppedAt"]
    assert final["capacityUsage"] == [{"capacityUnit": "ml.m5.xlarge", "quantity": 2.0}]


def test_terminate_fails_the_job_with_the_reason(batch_emulator):
    batch_emulator.configure(seconds_per_state=1, freeze_clock=True)
    batch = batch_emulator.client()
    job = batch.submit_service_job(**submit_args(batch_emulator.queue_name, "stop-me"))
    batch.terminate_service_job(jobId=job["jobId"], reason="user asked")
    final = describe(batch, job["jobId"])
    assert (final["status"], final["statusReason"], final["isTerminated"]) == (
        "FAILED",
        "user asked",
        True,
    )
    batch_emulator.advance(100)
    assert describe(batch, job["jobId"])["status"] == "FAILED"


def test_emulator_never_imports_airflow():
    code = (
        "import json, os, sys, moto\n"
        "os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x')\n"
        "import airflow_batch_service.emulator as e\n"
        "from airflow_batch_service.emulator import Emulator, EmulatorServer, aws_connection_uri\n"
        "import airflow_batch_service.cli, airflow_batch_service.emulator.pytest_plugin\n"
        "with moto.mock_aws():\n"
        "    emu = Emulator(); emu.create_queue('q'); emu.configure(freeze_clock=True)\n"
        "    b = emu.client()\n"
        "    j = b.submit_service_job(jobName='a', jobQueue='q', serviceJobType='SAGEMAKER_TRAINING',"
        " serviceRequestPayload='{}')\n"
        "    emu.advance(60); b.describe_service_job(jobId=j['jobId'])\n"
        "print('airflow' in sys.modules, any(m.startswith('airflow.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_injected_clock_drives_the_lifecycle(batch_emulator):
    now = [1_800_000_000.0]
    batch_emulator.configure(seconds_per_state=10, clock=lambda: now[0])
    batch = batch_emulator.client()
    job = batch.submit_service_job(**submit_args(batch_emulator.queue_name, "clocked"))
    assert describe(batch, job["jobId"])["createdAt"] == 1_800_000_000_000
    now[0] += 25
    assert describe(batch, job["jobId"])["status"] == "SCHEDULED"
    now[0] += 100
    final = describe(batch, job["jobId"])
    assert (final["status"], final["stoppedAt"]) == ("SUCCEEDED", 1_800_000_050_000)
