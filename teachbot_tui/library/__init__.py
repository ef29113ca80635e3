"""The document library (import, sync, search). Heavy parts load lazily."""

from .library import Library
from .types import (
    CollectionInfo,
    DocumentHit,
    DocumentInfo,
    Failure,
    Hit,
    ImportProgress,
    ImportReport,
    LibraryBusy,
    LibraryError,
    Passage,
)

__all__ = [
    "CollectionInfo", "DocumentHit", "DocumentInfo", "Failure", "Hit", "ImportProgress", "ImportReport",
    "Library", "LibraryBusy", "LibraryError", "Passage",
]
