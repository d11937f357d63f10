"""clientToken: the documented rejection by default, the first job back when switched."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .helpers import all_jobs, error_of, submit_args


def test_identical_resubmit_is_rejected_by_default(emu, batch):
    args = submit_args(emu.queue_name, "tok", clientToken="abc")
    first = batch.submit_service_job(**args)
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**args)
    code, status, message = error_of(err)
    assert (code, status) == ("ClientException", 400)
    assert "clientToken" in message and "rejected" in message and first["jobId"] in message
    assert [j["jobId"] for j in all_jobs(batch, emu.queue_name)] == [first["jobId"]]


def test_return_existing_mode_hands_back_the_first_job(emu, batch):
    emu.configure(client_token_mode="return_existing")
    args = submit_args(emu.queue_name, "tok", clientToken="abc")
    first = batch.submit_service_job(**args)
    again = batch.submit_service_job(**args)
    assert again["jobId"] == first["jobId"] and again["jobArn"] == first["jobArn"]
    assert len(all_jobs(batch, emu.queue_name)) == 1


@pytest.mark.parametrize("mode", ["reject", "return_existing"])
def test_same_token_different_request_is_rejected_in_both_modes(emu, batch, mode):
    emu.configure(client_token_mode=mode)
    batch.submit_service_job(**submit_args(emu.queue_name, "tok", clientToken="abc"))
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args(emu.queue_name, "tok-other", clientToken="abc"))
    assert "different request" in error_of(err)[2]
    assert len(all_jobs(batch, emu.queue_name)) == 1


def test_different_tokens_make_different_jobs(emu, batch):
    a = batch.submit_service_job(**submit_args(emu.queue_name, "tok", clientToken="a"))
    b = batch.submit_service_job(**submit_args(emu.queue_name, "tok", clientToken="b"))
    assert a["jobId"] != b["jobId"]


def test_bad_mode_is_refused(emu):
    with pytest.raises(ValueError, match="client_token_mode"):
        emu.configure(client_token_mode="maybe")
