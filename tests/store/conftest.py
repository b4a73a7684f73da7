import pytest

from tests.store.helpers import build_city


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def city(db):
    return build_city()
