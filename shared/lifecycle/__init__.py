"""The data lifecycle: retention, erasure, key rotation and backups."""
