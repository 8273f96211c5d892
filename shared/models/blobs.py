"""The database backend of the blob store (shared.platform.blobs): each stored file as a run of encrypted
chunks, so that neither writing nor reading a large file holds it whole in memory."""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base


class BlobChunk(Base):
    """One sealed chunk of a stored file: `name` is the file's name in the store (`documents/<uid>`,
    `access/<uid>.pdf.enc`), `seq` its place (from 0; -1 marks a file kept whole in the older one-piece
    format, moved in from a filesystem store). The bytes are ciphertext, bound to the file and the place."""

    __tablename__ = "blob_chunks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
