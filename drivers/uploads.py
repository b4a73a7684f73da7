"""Document upload screening (OWASP File Upload Cheat Sheet, A8).

The type comes from the file's first bytes, never its name or Content-Type. PDFs with active
content or HTML (polyglots) are refused, images are decoded and re-encoded by Pillow (dropping
EXIF/GPS and anything appended to the image) under a pixel cap, and the EICAR test signature
stands in for an antivirus scan. What comes out is bytes to store under a random name.
"""

import hashlib
import io
import re
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from spark.lib.errors import Unprocessable

MAX_PIXELS = 50_000_000  # a 48 MP phone photo fits; Pillow's own bomb guard stays on as well
MAX_PDF_INFLATED_BYTES = 64 * 1024 * 1024  # decompressed PDF streams scanned, in total

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
_SIGNATURES = ((b"%PDF-", PDF), (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
_HTML = re.compile(rb"<\s*(html|script|!doctype\s+html|body|iframe|svg)\b", re.IGNORECASE)
# PDF keys that run code, launch programs or carry other files.
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia)(?![A-Za-z0-9])")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"stream\r?\n")


class UploadRejected(Unprocessable):
    code = "upload_rejected"


@dataclass(frozen=True)
class CleanFile:
    content: bytes
    content_type: str
    sha256: str

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def sniff(head: bytes) -> str | None:
    return next((ctype for magic, ctype in _SIGNATURES if head.startswith(magic)), None)


def read_limited(stream: io.IOBase | object, max_bytes: int) -> bytes:
    """Read at most max_bytes + 1, so that an oversized file is never read whole."""
    data = stream.read(max_bytes + 1)  # type: ignore[attr-defined]
    if len(data) > max_bytes:
        raise UploadRejected(
            f"The file is larger than {max_bytes // (1024 * 1024)} MB.", code="file_too_large"
        )
    return data


def screen(data: bytes) -> CleanFile:
    """Accept a PDF, JPEG or PNG as safe bytes to store, or raise UploadRejected."""
    if not data:
        raise UploadRejected("The file is empty.", code="file_empty")
    if EICAR in data:
        raise UploadRejected("The file was flagged by the malware scan.", code="file_malware")
    content_type = sniff(data[:16])
    if content_type is None:
        raise UploadRejected("Upload a PDF, JPEG or PNG file.", code="file_type_not_allowed")
    if content_type == PDF:
        _check_pdf(data)
        content = data
    else:
        content = _reencode_image(data, "JPEG" if content_type == JPEG else "PNG")
    return CleanFile(content, content_type, hashlib.sha256(content).hexdigest())


def _check_pdf(data: bytes) -> None:
    for chunk in _pdf_texts(data):
        if _HTML.search(chunk):
            raise UploadRejected("The PDF contains HTML.", code="file_unsafe")
        if _PDF_ACTIVE.search(_PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), chunk)):
            raise UploadRejected(
                "The PDF contains scripts, launch actions or attachments; print it to a plain "
                "PDF or upload a photo instead.",
                code="file_unsafe",
            )


def _pdf_texts(data: bytes) -> list[bytes]:
    """The raw file plus every Flate stream inflated (where /JS hides in object streams)."""
    texts, budget = [data], MAX_PDF_INFLATED_BYTES
    for match in _PDF_STREAM.finditer(data):
        end = data.find(b"endstream", match.end())
        if end < 0:
            break
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(data[match.end() : end], budget)
        except zlib.error:
            continue  # not Flate (an image, DCT, ...): nothing we can read
        if inflater.unconsumed_tail:
            raise UploadRejected("The PDF is too large once decompressed.", code="file_unsafe")
        budget -= len(inflated)
        texts.append(inflated)
    return texts


def _reencode_image(data: bytes, fmt: str) -> bytes:
    if Image.MAX_IMAGE_PIXELS is None:  # someone switched Pillow's bomb guard off
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Image.DecompressionBombError("over MAX_PIXELS")
                image.load()
                # Bake the EXIF orientation into the pixels, then drop all metadata.
                upright = ImageOps.exif_transpose(image).convert("RGB")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UploadRejected("The image is too large.", code="image_too_large") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise UploadRejected("The image could not be read.", code="image_invalid") from exc
    upright.info = {}  # no EXIF, ICC, text chunks or comments travel on
    out = io.BytesIO()
    if fmt == "JPEG":
        upright.save(out, "JPEG", quality=90)
    else:
        upright.save(out, "PNG", optimize=True)
    return out.getvalue()
