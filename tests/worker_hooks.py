"""Loaded into the test worker only (`celery worker --include tests.worker_hooks`, tests/worker.py).

The session's worker outlives the flushes of transactional tests, which empty the tables and
let post_migrate create the content types and permissions again under new ids. A worker child
that had cached the old ids (guardian's assign_perm asks ContentType's cache) then looked up a
permission that no longer existed: an import run after any browser test failed with
Permission.DoesNotExist. Before each task, forget the cache, as a fresh process would; a
deployed worker's database is never flushed under it.
"""

from typing import Any

from celery.signals import task_prerun


@task_prerun.connect
def _content_types_forget(**_: Any) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
