"""The primary-backup register as an ordinary asyncio TCP service (workload ``aio-primary-backup``)."""

from splitbrain.impls.aio_primary_backup.server import Replica, early_ack_main, main
from splitbrain.impls.aio_primary_backup.workload import AioPrimaryBackupWorkload, request

__all__ = ["AioPrimaryBackupWorkload", "Replica", "early_ack_main", "main", "request"]
