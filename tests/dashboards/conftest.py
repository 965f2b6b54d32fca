import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """Chart payloads are cached; each test starts without them."""
    cache.clear()
    yield
    cache.clear()
