"""The upload corpus (A8), generated in the tests: clean files and hostile ones."""

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825
MINIMAL_PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SparkCam"  # Make
    exif[0x0112] = 1  # Orientation
    exif[GPS_IFD] = {1: "N", 2: (36.0, 9.0, 45.0), 3: "W", 4: (86.0, 46.0, 53.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 220)).save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    return MINIMAL_PDF


def polyglot_pdf_html() -> bytes:
    return MINIMAL_PDF + b"<html><body><script>alert(document.cookie)</script></body></html>\n"


def pdf_with_javascript() -> bytes:
    return MINIMAL_PDF.replace(
        b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"
    )


def pdf_with_hidden_javascript() -> bytes:
    """/JS inside a Flate object stream, with its name hex-escaped."""
    hidden = zlib.compress(b"<< /S /JavaScript /J#53 (app.launchURL('x')) >>")
    return MINIMAL_PDF.replace(
        b"trailer",
        b"4 0 obj << /Type /ObjStm /Filter /FlateDecode /Length %d >>\nstream\n" % len(hidden)
        + hidden
        + b"\nendstream\nendobj\ntrailer",
    )


def exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64 + b"PE\x00\x00"


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b"<script>alert(1)</script></svg>"
    )


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG claiming 400 megapixels, all black: tiny on disk, 400 MB once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def sized_pdf(size: int) -> bytes:
    """A valid-looking PDF of exactly `size` bytes."""
    return MINIMAL_PDF + b"%" + b"0" * (size - len(MINIMAL_PDF) - 1)
