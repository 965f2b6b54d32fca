"""Settings of bench/api_load.py's gunicorn: the test settings (throwaway database and folders
from the environment the script sets, API throttle rates raised so that the load is measured,
not refused) with a bench-only URLconf that adds the bare and static views. Never used by the
product."""

from healthmentor.test_settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_load_urls"
