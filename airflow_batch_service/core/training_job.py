"""The SageMaker training job behind each attempt: how Batch names it and where it logs.

Batch creates one training job per attempt, named ``AWSBatch<TrainingJobName><32 hex>``, and
SageMaker allows 63 characters, so only :data:`PAYLOAD_NAME_MAX` (23) characters of the
payload's ``TrainingJobName`` fit. Its logs go to :data:`LOG_GROUP`, one stream per host
(``<training job name>/algo-1-<epoch>``). The payload check, the naming helpers, the console
links, the log tail and the emulator all take these from here.
"""

from __future__ import annotations

#: SageMaker's limit on a training job name.
SAGEMAKER_NAME_MAX = 63
#: What Batch puts around the payload's TrainingJobName.
BATCH_NAME_PREFIX = "AWSBatch"
BATCH_NAME_SUFFIX_HEX = 32
BATCH_NAME_OVERHEAD = len(BATCH_NAME_PREFIX) + BATCH_NAME_SUFFIX_HEX
#: So the payload's TrainingJobName may use at most this many characters (23).
PAYLOAD_NAME_MAX = SAGEMAKER_NAME_MAX - BATCH_NAME_OVERHEAD

#: CloudWatch Logs group of every SageMaker training job.
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
