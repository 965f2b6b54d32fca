# Health Analysis Mentor: one image for web (gunicorn), worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=healthmentor.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media \
    WEB_CONCURRENCY=3

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app
COPY requirements.lock .
RUN pip install -r requirements.lock

# The code stays owned by root: the app user can write only media/ and var/ (beat's schedule).
COPY . .
# collectstatic imports the settings, which refuse to load without secrets: throw-away random ones,
# set for this one command only, never part of the image's environment.
RUN DJANGO_DEBUG=false CELERY_BROKER_URL=memory:// \
    DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    PHI_ENCRYPTION_KEYS="$(python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
    PHI_BLIND_INDEX_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
    python manage.py collectstatic --no-input \
    && mkdir -p /app/media /app/var \
    && chown app:app /app/media /app/var

USER app
EXPOSE 8000
# Workers: WEB_CONCURRENCY. The worker and beat services override this command.
CMD ["gunicorn", "healthmentor.wsgi:application", "--bind", "0.0.0.0:8000", "--timeout", "60", "--access-logfile", "-"]
