"""The platform core: config, records, parsing, fingerprints and the error lake."""

from erroracle.platform.config import Config, load_config
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.records import ErrorRecord, parse_record
from erroracle.platform.store import AppendResult, ErrorStore, InMemoryErrorStore

__all__ = [
    "AppendResult",
    "Config",
    "ErrorRecord",
    "ErrorStore",
    "InMemoryErrorStore",
    "ParquetErrorStore",
    "RecordPreparer",
    "load_config",
    "parse_record",
]
