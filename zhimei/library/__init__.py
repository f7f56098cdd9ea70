"""library: assets, ingest, the understanding pipeline and (later) search."""

from zhimei.library.assets import IngestError, IngestResult, ingest_bytes, ingest_file, safe_filename, sniff

__all__ = ["IngestError", "IngestResult", "ingest_bytes", "ingest_file", "safe_filename", "sniff"]
