"""An ops folder sent as a tar.gz (``POST /api/v1/ops/revisions``), unpacked without trusting it.

CI applies the folder it checked out without database access, so the archive comes from whoever
holds an admin token — or whoever took one. The archive is read into memory with hard limits and
never extracted by ``tarfile`` itself: the gzip stream is inflated to at most
:data:`MAX_UNPACKED_BYTES` (a zip bomb stops there), at most :data:`MAX_MEMBERS` entries are read,
and only regular files and folders with plain relative names are accepted — an absolute path, a
``..``, a link, a device, a control character or a NUL in a name refuses the whole archive. Files an
ops folder cannot hold (anything but ``.yaml``, ``.yml`` and ``.md``) are left out and reported.
"""

from __future__ import annotations

import io
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from commandpost.errors import BadRequest, PayloadTooLarge

MAX_UNPACKED_BYTES = 8 * 1024 * 1024
"""An ops folder is text: the example is 52 KiB. Eight MiB unpacked leaves room for a large
organisation and stops an archive that inflates a thousandfold."""
MAX_MEMBERS = 2_000
MAX_FILE_BYTES = 1024 * 1024
KEPT_SUFFIXES = (".yaml", ".yml", ".md")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Unpacked:
    files: dict[str, bytes] = field(default_factory=dict)  # relative POSIX path -> content
    ignored: list[str] = field(default_factory=list)

    def write_to(self, root: Path) -> None:
        for rel, content in self.files.items():
            target = root.joinpath(*PurePosixPath(rel).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)


def unpack(archive: bytes) -> Unpacked:
    """The ops files of a tar.gz (or plain tar). BadRequest for anything hostile or malformed,
    PayloadTooLarge past the limits; nothing is written anywhere."""
    tar = _open(_inflate(archive))
    unpacked = Unpacked()
    members = 0
    while (member := _next(tar)) is not None:
        members += 1
        if members > MAX_MEMBERS:
            raise PayloadTooLarge(
                f"the archive holds more than {MAX_MEMBERS} entries; an ops folder needs far fewer"
            )
        rel = _relative(member.name)
        if member.isdir() or rel is None:
            continue
        if not member.isfile():
            raise BadRequest(
                f"the archive's {_shown(member.name)} is a link or a special file; send regular files only"
            )
        if not rel.endswith(KEPT_SUFFIXES):
            unpacked.ignored.append(rel)
            continue
        if member.size > MAX_FILE_BYTES:
            raise PayloadTooLarge(
                f"{rel} is {member.size} bytes; an ops file is at most {MAX_FILE_BYTES} bytes"
            )
        data = tar.extractfile(member)
        assert data is not None  # a regular file
        unpacked.files[rel] = data.read()
    unpacked.files = _without_wrapper(unpacked.files)
    if not unpacked.files:
        raise BadRequest("the archive holds no .yaml or .md file; send the ops folder (tar czf - -C ops .)")
    return unpacked


def _inflate(archive: bytes) -> bytes:
    """The archive's tar stream: gunzipped within the limit (a plain tar passes as it is)."""
    if not archive.startswith(b"\x1f\x8b"):
        if len(archive) > MAX_UNPACKED_BYTES:
            raise PayloadTooLarge(f"the archive is larger than {MAX_UNPACKED_BYTES} bytes")
        return archive
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(archive, MAX_UNPACKED_BYTES + 1)
    except zlib.error as exc:
        raise BadRequest(
            f"the body is not a valid gzip stream ({exc}); send a tar.gz of the ops folder"
        ) from None
    if len(out) > MAX_UNPACKED_BYTES or inflater.unconsumed_tail:
        raise PayloadTooLarge(
            f"the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes; nothing was applied"
        )
    if not inflater.eof:
        raise BadRequest("the gzip stream is cut short; send the whole tar.gz")
    return out


def _open(stream: bytes) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=io.BytesIO(stream), mode="r:")
    except tarfile.TarError:
        raise BadRequest("the body is not a tar archive; send a tar.gz of the ops folder") from None


def _next(tar: tarfile.TarFile) -> tarfile.TarInfo | None:
    try:
        return tar.next()
    except tarfile.TarError as exc:
        raise BadRequest(f"the tar archive is damaged ({exc})") from None


def _relative(name: str) -> str | None:
    """A member's path inside the folder (``./a/b`` → ``a/b``; the root itself → None); refused if it
    could land outside it or carries a character no ops file name has."""
    if _CONTROL.search(name) or "\\" in name:
        raise BadRequest(f"the archive's {_shown(name)} has a control character or backslash in its name")
    path = PurePosixPath(name)
    if path.is_absolute():
        raise BadRequest(f"the archive's {_shown(name)} is an absolute path; archive the folder's contents")
    parts = [part for part in path.parts if part != "."]
    if ".." in parts:
        raise BadRequest(f"the archive's {_shown(name)} climbs out of the folder ('..')")
    return "/".join(parts) or None


def _without_wrapper(files: dict[str, bytes]) -> dict[str, bytes]:
    """``tar czf ops.tgz ops`` wraps everything in ``ops/``: taken off when the folder is only inside it."""
    tops = {rel.split("/", 1)[0] for rel in files}
    if len(tops) == 1 and all("/" in rel for rel in files):
        return {rel.split("/", 1)[1]: content for rel, content in files.items()}
    return files


def _shown(name: str) -> str:
    return repr(_CONTROL.sub("?", name)[:200])
