"""The documented rules the retry cases rest on, quoted (``retry_cases.py`` cites them).

Sources: the AWS Batch API reference and user guide, as gathered (documented vs inferred) in
``shared/reference/service-jobs-api.md`` ("the reference" below).
"""

from __future__ import annotations

GLOB = (
    'API reference, ServiceJobEvaluateOnExit.onStatusReason: "Contains a glob pattern to match '
    "against the StatusReason returned for a job. [...] It can optionally end with an asterisk "
    '(*) so that only the start of the string needs to be an exact match."'
)
STARS = (
    "reference, Retry semantics: AWS's documented patterns also use a leading * (*CapacityError*), "
    'so "treat every * as any run of characters and every other character literally; '
    'case-sensitive; the whole reason must match" (every * a wildcard: inferred)'
)
ORDER = (
    "reference, Retry semantics: \"Batch evaluates evaluateOnExit against the attempt's "
    'statusReason: rules in order, first match wins"'
)
ACTIONS = (
    'reference, Retry semantics: "RETRY: the job goes back to RUNNABLE if attempts remain. '
    'EXIT: the job is FAILED now."'
)
ATTEMPTS = (
    'user guide, Service job retry strategies: "The attempts value represents the total number '
    'of times the job can be placed in RUNNABLE, including the first attempt": 3 is one try and '
    "up to two retries"
)
EXAMPLE = "user guide, Service job retry strategies: AWS's example strategy (5 attempts, 3 rules)"
NO_MATCH = (
    'container-job user guide, Automated job retries: "If evaluateOnExit is specified, but none '
    'of the retry strategies match, then the job is retried." (inferred for service jobs, whose '
    "docs are silent)"
)
NO_STRATEGY = (
    'container-job user guide, Automated job retries: "By default, each job is given one '
    'attempt" (inferred for service jobs)'
)
SDK_PREFIX = (
    "reference, Retry semantics: SageMaker's reasons are prefixed \"Received status from "
    "SageMaker: \" (with a space), but the SageMaker SDK's constant has none; every other "
    "character is literal"
)
CAPACITY = (
    "user guide, Service job retry strategies: \"These capacity-based retries don't consume "
    'your configured retry attempts."'
)
PREEMPTION = (
    "API reference, ServiceJobPreemptionConfiguration.preemptionRetriesBeforeTermination: "
    '"The number of times a service job can be retried after it is preempted. A job will be '
    "terminated when preemption retries have been exhausted. If this field is unset, preempted "
    'jobs will be requeued an unlimited number of times."'
)
PREEMPTED = (
    "inferred: preemption has its own budget (preemptionConfiguration) and its own record "
    "(preemptionSummary.preemptedAttemptCount), so a preempted run is not one of the attempts"
)
TIMEOUT = (
    'reference, Retry semantics: "A timed-out attempt (attemptDurationSeconds) fails that '
    'attempt (inferred: like container jobs, it is not retried)"'
)
