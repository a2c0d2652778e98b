"""The one way an upload route receives a file: the request body is streamed to disk through
`core.uploads.UploadWriter` (size-limited, hashed), never held in memory, and the same 413 answers every
route when the limit is passed. A `multipart/form-data` body gives its `file` part and small form fields;
where a route allows it, any other body is the file itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Request
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

from core.errors import ValidationError
from core.uploads import StoredUpload, UploadTooLargeError, UploadWriter

MAX_FORM_FIELD = 64 * 1024
MAX_FORM_PARTS = 32
# What a multipart body may carry besides the file: the other parts and every part's headers.
MULTIPART_OVERHEAD = MAX_FORM_PARTS * (MAX_FORM_FIELD + 1024)


@dataclass(frozen=True)
class ReceivedUpload:
    file: StoredUpload
    fields: dict[str, str] = field(default_factory=dict)


async def receive_upload(
    request: Request[Any, Any, Any],
    directory: Path,
    limit: int,
    *,
    raw_body_allowed: bool = True,
    default_name: str = "upload",
) -> ReceivedUpload:
    """Store the request's file in `directory`; the caller owns (and eventually deletes) the file.

    A declared `Content-Length` over the limit is refused before a byte of the body is read; a body
    without one (chunked) is refused at the chunk that passes the limit."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    multipart = content_type == "multipart/form-data"
    _refuse_declared_length(request, limit + (MULTIPART_OVERHEAD if multipart else 0), limit)
    if content_type == "multipart/form-data" and options.get("boundary"):
        return await _receive_multipart(request, options["boundary"], directory, limit, default_name)
    if not raw_body_allowed:
        raise ValidationError("send the file as multipart/form-data with a `file` part", field="file")
    with UploadWriter(directory, limit) as writer:
        async for chunk in request.stream():
            writer.write(chunk)
        if writer.size == 0:
            raise ValidationError("the upload is empty: send the file as the request body", field="body")
        return ReceivedUpload(writer.finish(default_name))


def _refuse_declared_length(request: Request[Any, Any, Any], allowed: int, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > allowed:
        raise UploadTooLargeError(f"the file is larger than the {limit}-byte upload limit")


async def _receive_multipart(
    request: Request[Any, Any, Any], boundary: str, directory: Path, limit: int, default_name: str
) -> ReceivedUpload:
    fields: dict[str, str] = {}
    file_name, got_file = "", False
    part: MultipartSegment | None = None
    buffer = bytearray()
    with UploadWriter(directory, limit) as writer:
        try:
            with PushMultipartParser(boundary, max_segment_count=MAX_FORM_PARTS) as parser:
                async for chunk in request.stream():
                    for event in parser.parse(chunk):
                        if isinstance(event, MultipartSegment):
                            part, buffer = event, bytearray()
                            if part.name == "file":
                                if got_file:
                                    raise ValidationError("send exactly one `file` part", field="file")
                                got_file, file_name = True, Path(part.filename or default_name).name
                        elif event is None:
                            if part is not None and part.name != "file":
                                fields[part.name] = buffer.decode("utf-8", "replace")
                            part = None
                        elif part is not None and part.name == "file":
                            writer.write(event)
                        else:
                            buffer += event
                            if len(buffer) > MAX_FORM_FIELD:
                                raise ValidationError(
                                    "form field too long", field=part.name if part else None
                                )
        except ParserError as exc:
            raise ValidationError(f"malformed multipart body ({exc})", field="file") from exc
        if not got_file or writer.size == 0:
            raise ValidationError("the upload has no `file` part, or it is empty", field="file")
        return ReceivedUpload(writer.finish(file_name or default_name), fields)
