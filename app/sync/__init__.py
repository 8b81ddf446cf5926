"""Incremental sync: sources, the engine that upserts their rows with the cursor, and the sync job."""
