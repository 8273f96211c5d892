"""The audit log: every change and every view of a student's data, hash-chained; and the log's viewer."""
