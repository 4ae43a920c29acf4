"""Attachments: uploads by the GraphQL multipart request spec against a real uvicorn, limits, fetching."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from gql import Client, FileVar, GraphQLRequest
from gql.transport.httpx import HTTPXTransport
from starlette.datastructures import UploadFile

from attachments import AttachmentFiles, CheckedUpload
from settings import Settings
from tests.chat_api import SEND_WITH_FILES, ChatAPI, Person, WSSubscriber, sha256

MODES = ["open", "required"]
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(300_000)
PDF = b"%PDF-1.7\n" + os.urandom(50_000) + b"\n%%EOF\n"
TEXT = "Hello, attachments: é ü €\n".encode()
# One honest file of each other default type: its format's real opening bytes, then data.
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + os.urandom(20_000) + b"\xff\xd9"
)
GIF = b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + os.urandom(5_000) + b";"
WEBP_BODY = b"WEBPVP8 " + (20_000).to_bytes(4, "little") + os.urandom(20_000)
WEBP = b"RIFF" + len(WEBP_BODY).to_bytes(4, "little") + WEBP_BODY
# Text longer than a read chunk, whose multi-byte characters straddle the chunk boundaries.
LONG_TEXT = "naïve café 東京 😀 €\n".encode() * 40_000  # 1.16 MB: 8,192 and 270,336 cut a character
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(2_000)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(2_000)
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(2_000)


class Chat:
    """A real server with its own attachments directory, and a client for it."""

    def __init__(self, live_with, tmp_path: Path, **settings) -> None:
        self.dir = tmp_path / "attachments"
        self.server = live_with(attachments_dir=str(self.dir), **settings)
        self.api = ChatAPI(self.server.url)
        self.store = self.server.app.state.store

    def files_on_disk(self) -> list[str]:
        return sorted(path.name for path in self.dir.iterdir()) if self.dir.exists() else []


@pytest.fixture
def chat_with(live_with, tmp_path):
    chats: list[Chat] = []

    def start(**settings) -> Chat:
        chat = Chat(live_with, tmp_path / str(len(chats)), **settings)
        chats.append(chat)
        return chat

    yield start
    for chat in chats:
        chat.api.close()


@pytest.mark.parametrize("mode", MODES)
def test_uploaded_files_are_fetched_back_byte_for_byte(chat_with, mode):
    chat = chat_with(auth_mode=mode)
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    files = [
        ("photo.png", PNG, "image/png"),
        ("doc.pdf", PDF, "application/pdf"),
        ("résumé €.txt", TEXT, "text/plain"),
    ]

    sent = chat.api.send_files(ann, bob, files, content="three files")
    assert sent["success"] is True, sent
    attachments = sent["message"]["attachments"]
    assert [(a["filename"], a["contentType"], a["size"], a["sha256"]) for a in attachments] == [
        (name, kind, len(data), sha256(data)) for name, data, kind in files
    ]
    assert all(re.fullmatch(r"[0-9a-f]{32}", a["id"]) for a in attachments)
    assert [a["url"] for a in attachments] == [f"{chat.server.url}attachments/{a['id']}" for a in attachments]
    assert chat.files_on_disk() == sorted(a["id"] for a in attachments), "stored under random names only"

    for person in (ann, bob):
        for attachment, (name, data, kind) in zip(attachments, files, strict=True):
            response = chat.api.http.get(attachment["url"], headers=person.headers)
            assert response.status_code == 200
            assert sha256(response.content) == sha256(data)
            assert response.headers["content-type"] == kind
            assert response.headers["content-length"] == str(len(data))
            assert response.headers["x-content-type-options"] == "nosniff"
            disposition = response.headers["content-disposition"]
            assert disposition.startswith("attachment; filename=")
            assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name

    history = chat.api.history(bob)
    assert [m["attachments"] for m in history] == [attachments]


def test_each_attachment_file_is_private_to_the_server_user(chat_with):
    chat = chat_with()
    ann = chat.api.sign_up("ann")
    assert chat.api.send_files(ann, ann, [("a.txt", TEXT, "text/plain")])["success"] is True
    (path,) = chat.dir.iterdir()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_message_may_be_files_alone(chat_with):
    chat = chat_with()
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    sent = chat.api.send_files(ann, bob, [("a.png", PNG, "image/png")], content=None)
    assert sent["success"] is True and sent["message"]["content"] == ""
    no_files = {"from": ann.user_id, "to": bob.user_id, "content": None, "files": []}
    refused = chat.api.call(SEND_WITH_FILES, no_files)["data"]["createMessage"]
    assert refused == {"success": False, "errors": ["Content is empty"], "message": None}


def test_gql_uploads_through_its_multipart_transport(chat_with, tmp_path):
    """A client that implements the multipart request spec itself (gql's FileVar) works unchanged."""
    chat = chat_with()
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    client = Client(transport=HTTPXTransport(url=chat.server.url))
    with client as session:
        request = GraphQLRequest(
            SEND_WITH_FILES,
            variable_values={
                "from": ann.user_id,
                "to": bob.user_id,
                "content": "via gql",
                "files": [FileVar(str(photo), content_type="image/png")],
            },
        )
        result = session.execute(request, upload_files=True)
    (attachment,) = result["createMessage"]["message"]["attachments"]
    assert (attachment["filename"], attachment["sha256"]) == ("photo.png", sha256(PNG))
    assert sha256(chat.api.http.get(attachment["url"]).content) == sha256(PNG)


LIMIT_CASES = {
    "a file over the size limit": (
        {"max_attachment_size": 1000},
        [("ok.txt", b"x" * 1000, "text/plain"), ("big.txt", b"x" * 1001, "text/plain")],
        ['Attachment "big.txt" is 1001 bytes: the limit is 1000 bytes'],
    ),
    "too many files": (
        {},
        [(f"{n}.txt", TEXT, "text/plain") for n in range(6)],
        ["Too many attachments: 6; at most 5 per message"],
    ),
    "a content type not allowed": (
        {},
        [("page.html", b"<script>alert(1)</script>", "text/html"), ("a.png", PNG, "image/png")],
        [
            'Attachment "page.html": content type \'text/html\' is not allowed (allowed: application/pdf, '
            "image/gif, image/jpeg, image/png, image/webp, text/plain)"
        ],
    ),
    "a setting's content types": (
        {"allowed_attachment_types": "text/plain"},
        [("a.png", PNG, "image/png")],
        ["Attachment \"a.png\": content type 'image/png' is not allowed (allowed: text/plain)"],
    ),
    "a name with control characters": (
        {},
        [("evil\x1b[31m.txt", TEXT, "text/plain")],
        ["Attachment name 'evil\\x1b[31m.txt' contains control or invisible characters"],
    ),
    "a setting's file count": (
        {"max_attachments_per_message": 1},
        [("a.txt", TEXT, "text/plain"), ("b.txt", TEXT, "text/plain")],
        ["Too many attachments: 2; at most 1 per message"],
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_an_upload_over_a_limit_is_refused_and_nothing_is_written(chat_with, case, mode):
    settings, files, errors = LIMIT_CASES[case]
    chat = chat_with(auth_mode=mode, **settings)
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    result = chat.api.send_files(ann, bob, files)
    assert result == {"success": False, "errors": errors, "message": None}
    assert chat.files_on_disk() == []
    assert chat.api.history(bob) == []


def test_the_default_size_limit_is_10_mib(chat_with):
    chat = chat_with()
    ann = chat.api.sign_up("ann")
    largest = PNG[:8] + (os.urandom(1024) * (10 * 1024))[8:]
    accepted = chat.api.send_files(ann, ann, [("largest.png", largest, "image/png")])
    assert accepted["success"] is True and accepted["message"]["attachments"][0]["size"] == 10 * 1024 * 1024
    refused = chat.api.send_files(ann, ann, [("over.png", largest + b"!", "image/png")])
    assert refused["errors"] == ['Attachment "over.png" is 10485761 bytes: the limit is 10485760 bytes']
    assert len(chat.files_on_disk()) == 1


def test_json_bodies_keep_their_limit_and_uploads_get_the_files_allowance(chat_with):
    """MAX_BODY_SIZE bounds a JSON body; a multipart body may add every file at its largest, no more."""
    chat = chat_with(max_body_size=4000, max_attachment_size=3000, max_attachments_per_message=2)
    ann = chat.api.sign_up("ann")
    padded = {"query": "{ __typename }", "variables": {"pad": "x" * 5000}}
    assert chat.api.http.post(chat.server.url, json=padded).status_code == 413

    two_files = [("a.txt", b"a" * 3000, "text/plain"), ("b.txt", b"b" * 3000, "text/plain")]
    assert chat.api.send_files(ann, ann, two_files)["success"] is True, "6,000 bytes of files: within 10,000"

    too_big = [("c.txt", b"c" * 11_000, "text/plain")]
    response = chat.api.upload(SEND_WITH_FILES, {"from": "1", "to": "1"}, too_big)
    assert response.status_code == 413
    assert response.text == "Request body exceeds 10000 bytes"
    assert len(chat.files_on_disk()) == 2


def test_an_unknown_recipient_or_a_forged_sender_writes_no_file(chat_with):
    chat = chat_with(auth_mode="required")
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    files = [("a.png", PNG, "image/png")]
    ghost = Person("99", bob.token)
    assert chat.api.send_files(ann, ghost, files, as_=ann)["errors"] == ["Recipient not found"]
    assert chat.api.send_files(bob, ann, files, as_=ann)["errors"] == ["Forbidden"]
    assert chat.files_on_disk() == []


def test_an_upload_in_json_variables_is_a_graphql_error(chat_with):
    chat = chat_with()
    chat.api.sign_up("ann")
    answer = chat.api.call(SEND_WITH_FILES, {"from": "1", "to": "1", "content": "x", "files": ["not a file"]})
    assert "multipart request" in answer["errors"][0]["message"]
    assert chat.files_on_disk() == []


def _open_temporary_files() -> int:
    """Open file descriptors of this process (the server runs in a thread of it) in the temp directory."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(tempfile.gettempdir()):
            count += 1
    return count


def _part(boundary: str, disposition: str, body: bytes) -> bytes:
    return f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n".encode() + body + b"\r\n"


def test_a_client_vanishing_mid_upload_leaves_no_file_behind(chat_with, server_errors, caplog):
    chat = chat_with()
    ann = chat.api.sign_up("ann")
    temporary_before = _open_temporary_files()
    boundary = "chat-boundary"
    operations = json.dumps(
        {"query": SEND_WITH_FILES, "variables": {"from": ann.user_id, "to": ann.user_id, "files": [None]}}
    )
    head = b"".join(
        [
            _part(boundary, 'name="operations"', operations.encode()),
            _part(boundary, 'name="map"', b'{"0": ["variables.files.0"]}'),
            f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.png"\r\n'.encode(),
            b"Content-Type: image/png\r\n\r\n",
        ]
    )
    declared = len(head) + 5_000_000
    with socket.create_connection(("127.0.0.1", chat.server.port)) as sock:
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode()
        )
        sock.sendall(head + os.urandom(2_000_000))  # more than spills to a temporary file on disk
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _open_temporary_files() == temporary_before:
            time.sleep(0.02)
        assert _open_temporary_files() > temporary_before, "the server was writing the upload to disk"
    deadline = time.monotonic() + 10
    while "went away before its request body was complete" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "went away before its request body was complete" in caplog.text
    assert chat.files_on_disk() == []
    assert _open_temporary_files() == temporary_before, "the temporary upload file is closed, so deleted"
    assert chat.api.history(ann) == []
    assert server_errors() == []


@pytest.mark.parametrize("mode", MODES)
def test_who_may_fetch_an_attachment(chat_with, mode):
    chat = chat_with(auth_mode=mode)
    ann, bob, cy = (chat.api.sign_up(name) for name in ("ann", "bob", "cy"))
    (attachment,) = chat.api.send_files(ann, bob, [("a.png", PNG, "image/png")])["message"]["attachments"]
    url = attachment["url"]
    get = chat.api.http.get
    assert get(url, headers=ann.headers).status_code == 200
    assert get(url, headers=bob.headers).status_code == 200
    if mode == "required":
        assert get(url, headers=cy.headers).status_code == 403
        anonymous = get(url)
        assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, "Bearer")
        assert get(url, headers={"Authorization": f"Bearer {ann.user_id}.wrong"}).status_code == 401
    else:
        assert get(url).status_code == 200, "open mode: anyone with the URL, as anyone may read any history"
        assert get(url, headers=cy.headers).status_code == 200
    base = f"{chat.server.url}attachments/"
    stray = "f" * 32
    (chat.dir / stray).write_bytes(b"a file the store knows nothing of")
    for missing in ("0" * 32, stray, "abc", "settings.py"):
        assert get(base + missing, headers=ann.headers).status_code == 404


def test_subscribers_get_attachment_urls_they_can_fetch(chat_with):
    """Over a WebSocket too, `url` is an http URL on the host the client used."""
    chat = chat_with()
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    subscription = "subscription ($u: String) { messages(userId: $u) { attachments { url sha256 } } }"

    async def scenario():
        async with WSSubscriber(chat.server.ws_url, "graphql-transport-ws") as subscriber:
            await subscriber.subscribe("s", subscription, {"u": bob.user_id})
            await subscriber.round_trip()
            await asyncio.to_thread(chat.api.send_files, ann, bob, [("a.png", PNG, "image/png")])
            return (await subscriber.next_payload("s"))["payload"]["data"]["messages"]["attachments"]

    (attachment,) = asyncio.run(scenario())
    assert attachment["url"].startswith(chat.server.url)
    assert sha256(chat.api.http.get(attachment["url"]).content) == attachment["sha256"] == sha256(PNG)


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({"ALLOWED_ATTACHMENT_TYPES": " , "}, "ALLOWED_ATTACHMENT_TYPES"),
        ({"MAX_ATTACHMENT_SIZE": str(2**31)}, "MAX_ATTACHMENT_SIZE"),
        ({"MAX_ATTACHMENT_SIZE": "0"}, "MAX_ATTACHMENT_SIZE"),
    ],
)
def test_attachment_settings_that_cannot_work_are_refused_at_start(environment, problem):
    with pytest.raises(ValueError, match=problem):
        Settings.from_env(environment)


def test_attachment_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "ATTACHMENTS_DIR": "/srv/chat/files",
            "MAX_ATTACHMENT_SIZE": "2048",
            "MAX_ATTACHMENTS_PER_MESSAGE": "2",
            "ALLOWED_ATTACHMENT_TYPES": "Image/PNG, text/plain",
            "MAX_BODY_SIZE": "1000",
        }
    )
    assert settings.attachments_dir == "/srv/chat/files"
    assert settings.attachment_types == frozenset({"image/png", "text/plain"})
    assert settings.max_multipart_body_size == 2 * 2048 + 1000


def test_a_failure_while_storing_files_removes_every_file_of_the_message(tmp_path):
    """The second file cannot be read (opened write-only): the first one, already copied, goes too."""
    files = AttachmentFiles(tmp_path / "attachments")
    readable = UploadFile(io.BytesIO(TEXT), filename="a.txt")
    with open(tmp_path / "unreadable", "wb") as write_only:
        unreadable = UploadFile(write_only, filename="b.txt")
        uploads = [
            CheckedUpload(readable, "a.txt", "text/plain"),
            CheckedUpload(unreadable, "b.txt", "text/plain"),
        ]
        with pytest.raises(io.UnsupportedOperation):
            asyncio.run(files.save(uploads))
    assert list((tmp_path / "attachments").iterdir()) == []
    (saved,) = asyncio.run(files.save(uploads[:1]))
    assert (tmp_path / "attachments" / saved.id).read_bytes() == TEXT


HONEST_FILES = [
    ("photo.png", PNG, "image/png"),
    ("photo.jpg", JPEG, "image/jpeg"),
    ("anim.gif", GIF, "image/gif"),
    ("photo.webp", WEBP, "image/webp"),
    ("doc.pdf", PDF, "application/pdf"),
    ("long notes.txt", LONG_TEXT, "text/plain"),
]


def test_an_honest_file_of_each_default_type_is_stored_and_fetched_back(chat_with):
    chat = chat_with()
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    sent = chat.api.send_files(ann, bob, HONEST_FILES[:5])
    more = chat.api.send_files(ann, bob, HONEST_FILES[5:])
    assert sent["success"] is True and more["success"] is True, (sent, more)
    attachments = sent["message"]["attachments"] + more["message"]["attachments"]
    assert [(a["filename"], a["contentType"]) for a in attachments] == [(n, k) for n, _, k in HONEST_FILES]
    for attachment, (_, data, kind) in zip(attachments, HONEST_FILES, strict=True):
        response = chat.api.http.get(attachment["url"], headers=bob.headers)
        assert response.content == data, f"{kind} fetched back byte for byte"
        assert response.headers["content-type"] == kind
    assert len(chat.files_on_disk()) == len(HONEST_FILES)


_BAD_TEXT = "it is not valid UTF-8 text"
MISMATCH_CASES = {
    "HTML declared image/png": (
        ("cat.png", HTML, "image/png"), "its content is not image/png (it looks like text)"
    ),
    "an ELF executable declared image/png": (
        ("cat.png", ELF, "image/png"), "its content is not image/png (it looks like application/x-executable)"
    ),
    "a Windows executable declared image/jpeg": (
        ("cat.jpg", EXE, "image/jpeg"),
        "its content is not image/jpeg (it looks like application/x-msdownload)",
    ),
    "a PNG declared image/gif": (
        ("cat.gif", PNG, "image/gif"), "its content is not image/gif (it looks like image/png)"
    ),
    "a WAV declared image/webp": (
        ("cat.webp", WAV, "image/webp"), "its content is not image/webp (it looks like audio/x-wav)"
    ),
    "a PNG declared application/pdf": (
        ("doc.pdf", PNG, "application/pdf"), "its content is not application/pdf (it looks like image/png)"
    ),
    "random bytes declared application/pdf": (
        ("doc.pdf", b"\x00\x9c" + os.urandom(4_000), "application/pdf"),
        "its content is not application/pdf (its format is not recognised)",
    ),
    "a PNG declared text/plain": (
        ("notes.txt", PNG, "text/plain"), "its content is not text/plain (it looks like image/png)"
    ),
    "NUL bytes declared text/plain": (
        ("notes.txt", b"plain so far\x00\x00\x01\x02 binary", "text/plain"),
        "its content is not text/plain (it contains NUL bytes, so it is binary data)",
    ),
    "a NUL byte far into a text file": (
        ("notes.txt", LONG_TEXT + b"\x00" + TEXT, "text/plain"),
        "its content is not text/plain (it contains NUL bytes, so it is binary data)",
    ),
    "Latin-1 declared text/plain": (
        ("notes.txt", "café crème".encode("latin-1"), "text/plain"),
        f"its content is not text/plain ({_BAD_TEXT})",
    ),
    "invalid UTF-8 after the first megabyte": (
        ("notes.txt", LONG_TEXT + b"\xff\xfe" + TEXT, "text/plain"),
        f"its content is not text/plain ({_BAD_TEXT})",
    ),
    "text cut mid-character": (
        ("notes.txt", LONG_TEXT + "€".encode()[:2], "text/plain"),
        f"its content is not text/plain ({_BAD_TEXT} (it ends mid-character))",
    ),
    **{
        f"an empty file declared {kind}": (
            (f"empty.{ext}", b"", kind),
            f"its content is not {kind} (it is empty)",
        )
        for ext, kind in [
            ("png", "image/png"),
            ("jpg", "image/jpeg"),
            ("gif", "image/gif"),
            ("webp", "image/webp"),
            ("pdf", "application/pdf"),
        ]
    },
}


@pytest.mark.parametrize("case", sorted(MISMATCH_CASES))
def test_a_file_whose_bytes_are_not_its_declared_type_is_refused_and_nothing_is_stored(chat_with, case):
    (name, data, kind), error = MISMATCH_CASES[case]
    chat = chat_with()
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    result = chat.api.send_files(ann, bob, [(name, data, kind)])
    assert result == {"success": False, "errors": [f'Attachment "{name}": {error}'], "message": None}
    assert chat.files_on_disk() == []
    assert chat.api.history(bob) == []


@pytest.mark.parametrize("mode", MODES)
def test_one_bad_file_among_good_ones_stores_nothing(chat_with, mode):
    chat = chat_with(auth_mode=mode)
    ann, bob = chat.api.sign_up("ann"), chat.api.sign_up("bob")
    files = [("good.png", PNG, "image/png"), ("cat.png", HTML, "image/png"), ("good.txt", TEXT, "text/plain")]
    result = chat.api.send_files(ann, bob, files)
    assert result == {
        "success": False,
        "errors": ['Attachment "cat.png": its content is not image/png (it looks like text)'],
        "message": None,
    }
    assert chat.files_on_disk() == []
    assert chat.api.history(bob) == [] and chat.api.history(ann) == []


def test_content_errors_come_in_file_order_with_the_other_limits(chat_with):
    """A file over the size limit is not read; each error is listed where its file is."""
    chat = chat_with(max_attachment_size=10_000)
    ann = chat.api.sign_up("ann")
    files = [
        ("fake.gif", HTML, "image/gif"),
        ("big.png", PNG, "image/png"),
        ("page.html", HTML, "text/html"),
        ("fake.txt", PNG[:5_000], "text/plain"),
    ]
    result = chat.api.send_files(ann, ann, files)
    assert result["errors"] == [
        'Attachment "fake.gif": its content is not image/gif (it looks like text)',
        f'Attachment "big.png" is {len(PNG)} bytes: the limit is 10000 bytes',
        "Attachment \"page.html\": content type 'text/html' is not allowed (allowed: application/pdf, "
        "image/gif, image/jpeg, image/png, image/webp, text/plain)",
        'Attachment "fake.txt": its content is not text/plain (it looks like image/png)',
    ]
    assert chat.files_on_disk() == []


def test_types_an_operator_adds_are_checked_when_known_and_taken_as_declared_otherwise(chat_with):
    """application/zip has a signature; any text/* type is checked as text; image/svg+xml is taken as sent."""
    chat = chat_with(allowed_attachment_types="application/zip,text/csv,image/svg+xml")
    ann = chat.api.sign_up("ann")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.txt", "hello")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'
    good = [("a.zip", zipped.getvalue(), "application/zip"), ("t.csv", b"a,b\n1,2\n", "text/csv")]
    accepted = chat.api.send_files(ann, ann, [*good, ("c.svg", svg, "image/svg+xml")])
    assert accepted["success"] is True, accepted
    refused = chat.api.send_files(
        ann, ann, [("a.zip", PNG, "application/zip"), ("t.csv", b"a,b\n\xff", "text/csv")]
    )
    assert refused["errors"] == [
        'Attachment "a.zip": its content is not application/zip (it looks like image/png)',
        'Attachment "t.csv": its content is not text/csv (it is not valid UTF-8 text)',
    ]
    assert len(chat.files_on_disk()) == 3
