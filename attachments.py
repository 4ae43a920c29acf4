"""Attachment files: checked against the limits, written under random names, served, removed.

The bytes live in `ATTACHMENTS_DIR`, one file per attachment named by its
random id; the store keeps only their metadata. Uploads arrive as parts of a
multipart request (the GraphQL multipart request spec, parsed by Starlette
into temporary files) and are copied into the directory only once every
check has passed, so a refused or half-received upload leaves nothing there.
The checks include the bytes themselves: a file declared `image/png` must
begin like a PNG, one declared `text/plain` must be UTF-8 text.

A process killed between writing a file and storing its message, or between
deleting a message and removing its files, leaves a file no message names;
`sweep_orphaned_files` removes those at start-up, once they are old enough
that no other process can still be about to store their message.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import filetype
from anyio import to_thread
from ariadne import ScalarType
from ariadne.file_uploads import parse_upload_literal, serialize_upload
from graphql import GraphQLError
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from auth import REQUIRED, bearer_token, user_for_token
from settings import Settings
from store import Attachment, Store
from validation import clean_filename

logger = logging.getLogger("chat.attachments")

# An attachment id: 128 random bits in hex. It is also the file's name, so
# nothing else ever reaches the file system from a URL.
_ATTACHMENT_ID = re.compile(r"[0-9a-f]{32}")
_CHUNK_SIZE = 256 * 1024
# As much of a file as `filetype` looks at (some signatures sit past the first bytes).
_HEAD_SIZE = 8192
# Most file names the sweep asks the store about at once.
_SWEEP_BATCH = 1000

upload = ScalarType("Upload", serializer=serialize_upload, literal_parser=parse_upload_literal)


@upload.value_parser
def parse_upload(value: Any) -> UploadFile:
    """Only a file part of a multipart request is an Upload (not a string in JSON variables)."""
    if not isinstance(value, UploadFile):
        # A GraphQLError, not a ValueError: the client's mistake, not a server fault.
        raise GraphQLError(
            "Upload values are files sent as parts of a multipart request "
            "(GraphQL multipart request spec), mapped to the variable in `map`."
        )
    return value


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """An upload that passed every check, with the name and type it will be stored under."""

    file: UploadFile
    filename: str
    content_type: str


def media_type(upload_file: UploadFile) -> str:
    """The part's declared content type, without parameters, lower-cased."""
    return (upload_file.content_type or "").split(";", 1)[0].strip().lower()


async def check_uploads(
    uploads: Sequence[UploadFile], settings: Settings
) -> tuple[list[CheckedUpload], list[str]]:
    """The uploads ready to store, and every limit they break (empty when all may be stored).

    Callers skip it when there are no uploads (most messages), so a plain message pays nothing.
    """
    errors: list[str] = []
    if len(uploads) > settings.max_attachments_per_message:
        most = settings.max_attachments_per_message
        errors.append(f"Too many attachments: {len(uploads)}; at most {most} per message")
    allowed = settings.attachment_types
    checked = []
    to_read: list[tuple[int, str, CheckedUpload]] = []  # (where its error goes, label, upload)
    for upload_file in uploads:
        filename, problems = clean_filename(upload_file.filename)
        errors += problems
        label = f'Attachment "{filename}"' if filename and not problems else "An attachment"
        kind = media_type(upload_file)
        size = upload_file.size or 0
        if kind not in allowed:
            errors.append(
                f"{label}: content type {kind or '(none)'!r} is not allowed "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        elif size <= settings.max_attachment_size:
            # Only a file within every other limit is read: its error goes here, in file order.
            to_read.append((len(errors), label, CheckedUpload(upload_file, filename, kind)))
        if size > settings.max_attachment_size:
            errors.append(f"{label} is {size} bytes: the limit is {settings.max_attachment_size} bytes")
        checked.append(CheckedUpload(upload_file, filename, kind))
    if to_read:
        # Reading spooled files may touch the disk: off the event loop, all files in one trip.
        found = await to_thread.run_sync(_content_problems, to_read)
        for index, problem in reversed(found):
            errors.insert(index, problem)
    return checked, errors


def _content_problems(to_read: Sequence[tuple[int, str, CheckedUpload]]) -> list[tuple[int, str]]:
    """Each (position, error) for the uploads whose bytes are not what their type says."""
    problems = []
    for index, label, upload in to_read:
        looks_like = content_mismatch(upload.file.file, upload.content_type)
        if looks_like is not None:
            problems.append((index, f"{label}: its content is not {upload.content_type} ({looks_like})"))
    return problems


def content_mismatch(source: BinaryIO, kind: str) -> str | None:
    """Why the file's bytes are not of type `kind` (None when they are); leaves it at position 0.

    A type `filetype` knows must match its signature; any `text/*` type must be UTF-8 text with no
    NUL byte, in no binary format `filetype` knows; a type neither covers is taken as declared.
    """
    source.seek(0)
    try:
        head = source.read(_HEAD_SIZE)
        matcher = filetype.get_type(mime=kind)
        if matcher is not None:
            return None if matcher.match(head) else _looks_like(head)
        if kind.startswith("text/"):
            if binary := filetype.guess_mime(head):
                return f"it looks like {binary}"
            return _text_problem(head, source)
        return None
    finally:
        source.seek(0)


def _text_problem(head: bytes, source: BinaryIO) -> str | None:
    """Why the whole file (`head` then the rest of `source`) is not UTF-8 text, streamed in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = head
    while chunk:
        if b"\0" in chunk:
            return "it contains NUL bytes, so it is binary data"
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return "it is not valid UTF-8 text"
        chunk = source.read(_CHUNK_SIZE)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "it is not valid UTF-8 text (it ends mid-character)"
    return None


def _looks_like(head: bytes) -> str:
    """What a file that failed its signature check seems to be, for the error message."""
    if not head:
        return "it is empty"
    if known := filetype.guess_mime(head):
        return f"it looks like {known}"
    if b"\0" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 3:  # not merely a character cut by the head's end
                return "its format is not recognised"
        return "it looks like text"
    return "its format is not recognised"


class AttachmentFiles:
    """The attachments directory: each file named by its attachment's random id."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, attachment_id: str) -> Path:
        if not _ATTACHMENT_ID.fullmatch(attachment_id):
            raise ValueError(f"Not an attachment id: {attachment_id!r}")
        return self.directory / attachment_id

    async def save(self, uploads: Sequence[CheckedUpload]) -> list[Attachment]:
        """Copy each upload to a new file, hashing it on the way; on any failure remove what was written."""
        saved: list[Attachment] = []
        started: list[str] = []
        try:
            for checked in uploads:
                attachment_id = secrets.token_hex(16)
                # Listed before the copy starts: a cancellation that arrives as
                # the copy ends still removes its file.
                started.append(attachment_id)
                size, sha256 = await to_thread.run_sync(
                    self._copy, checked.file.file, self.path(attachment_id)
                )
                saved.append(Attachment(attachment_id, checked.filename, checked.content_type, size, sha256))
        except BaseException:
            self._unlink(started)
            raise
        return saved

    def _copy(self, source: BinaryIO, target: Path) -> tuple[int, str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        source.seek(0)
        try:
            with open(target, "xb", opener=_private) as out:
                while chunk := source.read(_CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return size, digest.hexdigest()

    def remove(self, attachments: Sequence[Attachment]) -> None:
        """Delete the attachments' files (an unlink each: cheap enough to do in place)."""
        self._unlink([attachment.id for attachment in attachments])

    def _unlink(self, attachment_ids: Sequence[str]) -> None:
        for attachment_id in attachment_ids:
            try:
                self.path(attachment_id).unlink(missing_ok=True)
            except OSError:
                logger.exception("Could not remove the file of attachment %s", attachment_id)

    def old_files(self, older_than: float) -> list[str]:
        """Ids of the regular files named like an attachment and last written before `older_than`.

        Blocking (a directory listing): call it off the event loop. A missing directory has none.
        """
        try:
            with os.scandir(self.directory) as listing:
                entries = list(listing)
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            if not _ATTACHMENT_ID.fullmatch(entry.name):
                continue
            try:
                written = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(written.st_mode) and written.st_mtime < older_than:
                    found.append(entry.name)
            except FileNotFoundError:
                pass  # removed meanwhile (its message deleted by another process)
        return found

    def remove_orphans(self, attachment_ids: Sequence[str]) -> int:
        """Delete these files (blocking: call it off the event loop); how many this call removed.

        One already gone (another process swept it first) is not counted; one that
        cannot be removed is logged and left.
        """
        removed = 0
        for attachment_id in attachment_ids:
            try:
                self.path(attachment_id).unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError:
                logger.exception("Could not remove the orphaned file of attachment %s", attachment_id)
        return removed


async def sweep_orphaned_files(files: AttachmentFiles, store: Store, grace: float) -> int:
    """Remove the files no stored attachment names that were last written over `grace` seconds ago.

    The grace period spares uploads another process (sharing the directory and
    the database) has written but not yet recorded. `grace <= 0`: no sweep.
    Returns how many files were removed.
    """
    if grace <= 0:
        return 0
    candidates = await to_thread.run_sync(files.old_files, time.time() - grace)
    removed = 0
    for start in range(0, len(candidates), _SWEEP_BATCH):
        batch = candidates[start : start + _SWEEP_BATCH]
        known = await store.known_attachment_ids(batch)
        orphans = [attachment_id for attachment_id in batch if attachment_id not in known]
        removed += await to_thread.run_sync(files.remove_orphans, orphans)
    if removed:
        logger.info(
            "Removed %d orphaned attachment file(s) from %s (no message names them, older than %gs)",
            removed,
            files.directory,
            grace,
        )
    return removed


def _private(path: str, flags: int) -> int:
    """Open a new attachment file readable by the server's user only."""
    return os.open(path, flags, 0o600)


def attachment_url(connection: HTTPConnection, attachment: Attachment) -> str:
    """Where a client fetches the file: absolute, on the host and scheme the client used (http for ws)."""
    return str(connection.url_for("attachment", attachment_id=attachment.id))


def content_disposition(filename: str) -> str:
    """`attachment` with the original name (RFC 6266: an ASCII fallback, and UTF-8 in `filename*`)."""
    fallback = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def attachment_routes(store: Store, files: AttachmentFiles, settings: Settings) -> list[Route]:
    """`GET /attachments/{id}`: the file; in required mode only to its message's sender and recipient."""

    async def serve_attachment(request: Request) -> Response:
        attachment_id = request.path_params["attachment_id"]
        attachment = None
        if _ATTACHMENT_ID.fullmatch(attachment_id):
            attachment = await store.get_attachment(attachment_id)
        message = await store.get_message(int(attachment.message_id or 0)) if attachment else None
        if attachment is None or message is None:
            return PlainTextResponse("Attachment not found", status_code=404)
        if settings.auth_mode == REQUIRED:
            client = request.client.host if request.client else "?"
            user = await user_for_token(store, bearer_token(request.headers.get("authorization")), client)
            if user is None:
                return PlainTextResponse(
                    "Unauthenticated", status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
            if user.user_id not in (message.sender_id, message.recipient_id):
                return PlainTextResponse("Forbidden", status_code=403)
        return await file_response(files.path(attachment.id), attachment)

    return [Route("/attachments/{attachment_id}", serve_attachment, methods=["GET"], name="attachment")]


async def file_response(path: Path, attachment: Attachment) -> Response:
    """Stream the file, opened before the answer starts so a deletion meanwhile is a clean 404."""
    try:
        file = await to_thread.run_sync(open, path, "rb")
    except FileNotFoundError:
        return PlainTextResponse("Attachment not found", status_code=404)
    size = os.fstat(file.fileno()).st_size

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await to_thread.run_sync(file.read, _CHUNK_SIZE):
                yield chunk
        finally:
            file.close()

    headers = {
        # The type stored, as it is (Starlette would add a charset to text/*).
        "Content-Type": attachment.content_type,
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(attachment.filename),
        # Never rendered as anything but its own type, nor cached by shared caches.
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
    }
    return StreamingResponse(chunks(), headers=headers)
