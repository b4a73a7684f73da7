"""A8: the upload corpus through the portal, and what is stored for an accepted file."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from drivers import uploads
from drivers.models import Document
from tests.drivers import factories, files

pytestmark = pytest.mark.django_db

MB10 = 10 * 1024 * 1024


def _post(client, driver, content, *, name="doc.pdf", ctype="application/pdf", kind="insurance"):
    client.force_login(driver.user)
    upload = SimpleUploadedFile(name, content, content_type=ctype)
    return client.post(
        reverse("driver:document_upload", kwargs={"kind": kind}),
        {f"{kind}-file": upload, f"{kind}-expires_on": "2031-01-31"},
    )


@pytest.mark.parametrize(
    ("label", "make", "name", "ctype"),
    [
        ("polyglot pdf/html", files.polyglot_pdf_html, "card.pdf", "application/pdf"),
        ("pdf with javascript", files.pdf_with_javascript, "card.pdf", "application/pdf"),
        ("pdf hiding js in a stream", files.pdf_with_hidden_javascript, "c.pdf", "application/pdf"),
        ("exe renamed pdf", files.exe, "insurance.pdf", "application/pdf"),
        ("svg", files.svg, "card.svg", "image/svg+xml"),
        ("svg claiming png", files.svg, "card.png", "image/png"),
        ("eicar", lambda: files.EICAR, "eicar.pdf", "application/pdf"),
        ("eicar inside a pdf", lambda: files.MINIMAL_PDF + files.EICAR, "e.pdf", "application/pdf"),
        ("decompression bomb png", files.bomb_png, "bomb.png", "image/png"),
        ("truncated jpeg", lambda: files.jpeg_with_gps()[:200], "t.jpg", "image/jpeg"),
        ("empty", lambda: b"", "empty.pdf", "application/pdf"),
    ],
)
def test_hostile_upload_is_rejected_with_4xx_and_nothing_stored(
    client, driver, settings, label, make, name, ctype
):
    response = _post(client, driver, make(), name=name, ctype=ctype)
    assert 400 <= response.status_code < 500, label
    assert not Document.objects.exists()
    assert not list((settings.MEDIA_ROOT).rglob("*.*"))


def test_upload_of_10_mb_plus_one_byte_is_rejected(client, driver):
    content = files.sized_pdf(MB10 + 1)
    assert len(content) == MB10 + 1
    response = _post(client, driver, content)
    assert response.status_code == 422
    assert "larger than 10 MB" in response.content.decode()
    assert not Document.objects.exists()


def test_upload_of_exactly_10_mb_is_accepted(client, driver):
    content = files.sized_pdf(MB10)
    assert len(content) == MB10
    response = _post(client, driver, content)
    assert response.status_code == 302
    assert Document.objects.get().size_bytes == MB10


def test_service_rejects_10_mb_plus_one_byte_without_reading_it_all():
    stream = io.BytesIO(files.sized_pdf(MB10 + 1))
    with pytest.raises(uploads.UploadRejected):
        uploads.read_limited(stream, MB10)
    assert stream.tell() == MB10 + 1


def test_decompression_bomb_warning_is_treated_as_error(monkeypatch):
    # Between MAX_IMAGE_PIXELS and twice it Pillow only warns; we refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(uploads.UploadRejected, match="too large"):
        uploads.screen(files.png(size=(40, 30)))


def test_clean_jpeg_with_gps_is_stored_stripped_under_random_name(client, driver):
    original = files.jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(files.GPS_IFD)  # really has GPS

    response = _post(client, driver, original, name="my licence GPS.jpg", ctype="image/jpeg")

    assert response.status_code == 302
    document = Document.objects.get()
    assert re.fullmatch(r"driver-documents/[0-9a-f]{32}\.jpg", document.file.name)
    assert document.content_type == "image/jpeg"
    stored = document.file.read()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert image.size == (64, 48)
    assert len(image.getexif()) == 0
    assert b"SparkCam" not in stored
    assert b"Exif" not in stored


def test_accepted_file_is_served_as_attachment_with_nosniff(client, driver):
    _post(client, driver, files.jpeg_with_gps(), name="a.jpg", ctype="image/jpeg")
    document = Document.objects.get()

    response = client.get(reverse("driver:document_file", kwargs={"public_id": document.public_id}))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"


def test_media_root_is_not_served_by_any_url(client, driver):
    _post(client, driver, files.pdf())
    name = Document.objects.get().file.name
    for prefix in ("/", "/media/", "/static/", "/private/"):
        assert client.get(prefix + name).status_code == 404


def test_clean_pdf_and_png_are_accepted():
    assert uploads.screen(files.pdf()).content_type == "application/pdf"
    png = uploads.screen(files.png())
    assert png.content_type == "image/png"
    assert png.extension == ".png"


def test_replacing_a_document_keeps_the_old_one_out_of_current(client, driver):
    _post(client, driver, files.pdf())
    _post(client, driver, files.png(), name="new.png", ctype="image/png")
    assert Document.objects.count() == 2
    current = Document.objects.get(is_current=True)
    assert current.content_type == "image/png"
    assert current.status == "pending"


def test_licence_requires_a_number_and_stores_it_encrypted(client, driver):
    client.force_login(driver.user)
    url = reverse("driver:document_upload", kwargs={"kind": "licence"})
    upload = SimpleUploadedFile("l.png", files.png(), content_type="image/png")
    response = client.post(url, {"licence-file": upload, "licence-expires_on": "2030-05-01"})
    assert response.status_code == 422
    assert not Document.objects.exists()

    upload = SimpleUploadedFile("l.png", files.png(), content_type="image/png")
    data = {"licence-file": upload, "licence-expires_on": "2030-05-01"}
    client.post(url, {**data, "licence-licence_number": "tn 1234 5678"})
    assert Document.objects.get().licence_number == "TN 1234 5678"


def test_expired_document_upload_is_refused(client, driver):
    client.force_login(driver.user)
    upload = SimpleUploadedFile("a.pdf", files.pdf(), content_type="application/pdf")
    response = client.post(
        reverse("driver:document_upload", kwargs={"kind": "insurance"}),
        {"insurance-file": upload, "insurance-expires_on": "2001-01-01"},
    )
    assert response.status_code == 422
    assert "already expired" in response.content.decode()


def test_htmx_upload_error_returns_the_card_fragment(client, driver):
    client.force_login(driver.user)
    upload = SimpleUploadedFile("x.svg", files.svg(), content_type="image/svg+xml")
    response = client.post(
        reverse("driver:document_upload", kwargs={"kind": "insurance"}),
        {"insurance-file": upload, "insurance-expires_on": "2031-01-01"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert body.lstrip().startswith('<section class="card doc-card" id="doc-insurance">')
    assert "Upload a PDF, JPEG or PNG file." in body


def test_htmx_upload_success_redirects_the_client(client, driver):
    client.force_login(driver.user)
    upload = SimpleUploadedFile("x.pdf", files.pdf(), content_type="application/pdf")
    response = client.post(
        reverse("driver:document_upload", kwargs={"kind": "insurance"}),
        {"insurance-file": upload, "insurance-expires_on": "2031-01-01"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("driver:documents")


def test_upload_needs_csrf_token(driver):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = _post(client, driver, files.pdf())
    assert response.status_code == 403
    assert not Document.objects.exists()


def test_rejected_driver_cannot_upload(client):
    driver = factories.driver_in("rejected")
    before = Document.objects.count()
    response = _post(client, driver, files.pdf())
    assert response.status_code == 422
    assert Document.objects.count() == before
