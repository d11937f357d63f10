"""The status reasons the emulator writes (``emulator.status_reasons``, its own texts) are
the ones AWS documents (``retry_cases``' quotes), and the provider (``core.reasons``)
recognises each for what it is. The two sides keep separate lists on purpose; this is where
they must meet."""

from __future__ import annotations

from airflow_batch_service.core import reasons as provider
from airflow_batch_service.emulator import status_reasons as emulator

from .retry_cases import PREEMPTED_REASON, SAGEMAKER, TIMEOUT


def test_documented_texts_are_written_as_documented() -> None:
    assert emulator.FROM_SAGEMAKER == SAGEMAKER
    assert emulator.TRAINING_COMPLETED == SAGEMAKER + "Training job completed"
    assert emulator.CROSS_SHARE_PREEMPTION == PREEMPTED_REASON
    assert emulator.from_sagemaker("X") == SAGEMAKER + "X"
    assert emulator.SCRIPTED_FAILURE.startswith(SAGEMAKER)


def test_inferred_timeout_text_is_the_tables() -> None:
    assert emulator.ATTEMPT_TIMEOUT == TIMEOUT


def test_provider_recognises_every_emulator_reason() -> None:
    assert emulator.TRAINING_COMPLETED == provider.TRAINING_COMPLETED
    assert provider.is_capacity(emulator.CAPACITY_ERROR)
    assert provider.is_timeout(emulator.ATTEMPT_TIMEOUT)
    for preemption in (emulator.CROSS_SHARE_PREEMPTION, emulator.IN_SHARE_PREEMPTION):
        assert provider.is_preemption(preemption)
        assert not provider.is_capacity(preemption) and not provider.is_timeout(preemption)
    assert emulator.PREEMPTION_LIMIT.startswith(provider.PREEMPTION_LIMIT)


def test_ordinary_failures_are_not_mistaken_for_special_ones() -> None:
    for reason in (emulator.SCRIPTED_FAILURE, emulator.QUEUE_DELETED, emulator.RUNNABLE_TIME_LIMIT):
        assert not provider.is_capacity(reason)
        assert not provider.is_timeout(reason)
        assert not provider.is_preemption(reason)
