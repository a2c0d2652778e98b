"""Downloads of files kept in the shared file store (`core.file_store`): streamed chunk by chunk from
whichever store the runtime uses, with their size, so the API host needs no copy on its own disk."""

from __future__ import annotations

from typing import Any

from litestar.response import Stream

from core.file_store import FileStore


class _OwnMediaTypeStream(Stream):
    """A Stream that keeps its own media type: Litestar otherwise applies the route's (JSON for a route
    annotated with its JSON answer) over the response's."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


def stored_file_response(store: FileStore, key: str, *, filename: str, media_type: str) -> Stream:
    """The stored file `key` as an attachment named `filename` (a name the server made, never the user)."""
    size = store.stat(key).size
    return _OwnMediaTypeStream(
        store.open(key),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Content-Length": str(size)},
    )
