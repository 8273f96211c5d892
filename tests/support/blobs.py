"""What the blob store holds, seen the same way whichever backend the run uses (filesystem on SQLite,
database on PostgreSQL): for tests that check a file was written, removed or restored."""

from __future__ import annotations

from shared.platform import blobs


def stored_files() -> dict[str, bytes]:
    """Every stored file's name and serialised ciphertext, in this instance's store."""
    store = blobs.store()
    return {name: b"".join(store.export(name)) for name in store.names()}


def is_stored(name: str) -> bool:
    return blobs.store().exists(name)


def remove_all() -> None:
    store = blobs.store()
    for name in store.names():
        store.delete(name)
