"""A primary-backup replicated register with view changes (workload ``primary-backup``)."""

from splitbrain.impls.primary_backup.register import EarlyAck, LocalRead, PrimaryBackup, PrimaryBackupWorkload

__all__ = ["EarlyAck", "LocalRead", "PrimaryBackup", "PrimaryBackupWorkload"]
