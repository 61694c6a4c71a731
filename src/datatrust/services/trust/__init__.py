"""What makes the platform checkable: the hash-chained audit log and its checkpoints,
incidents, misuse tracing and each item's data passport."""
