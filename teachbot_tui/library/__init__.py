"""The document library (import, sync, search). Heavy parts load lazily."""

from .library import Library
from .types import (
    CollectionInfo,
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
    "CollectionInfo", "DocumentInfo", "Failure", "Hit", "ImportProgress", "ImportReport",
    "Library", "LibraryBusy", "LibraryError", "Passage",
]
