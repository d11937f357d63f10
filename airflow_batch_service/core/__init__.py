"""The pure core: what AWS Batch service jobs mean, with no Airflow and no boto3.

Everything that answers "what does this status, this reason, this describe response mean?"
lives here, once. The operator, the sensor, the trigger and the local emulator all ask this
package, so the provider's explanation of a job and the emulator's behaviour cannot drift.
Keep it free of I/O and of imports outside the standard library.
"""
