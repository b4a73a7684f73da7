# Spark's one image: the web process (gunicorn), the Celery worker and beat all run from it,
# with a different command each (docker-compose.yml, docs/deploy.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=spark.settings \
    SPARK_VAR_DIR=/var/lib/spark \
    PORT=8000

WORKDIR /app

# Dependencies first, so a code change rebuilds only the layers below. Every runtime package
# ships a manylinux wheel (psycopg2-binary bundles libpq): no compiler, no apt packages.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image and served by whitenoise (gzip'd, hashed names).
# The throwaway key and var dir exist only for this build step.
RUN DJANGO_SECRET_KEY=collectstatic-only SPARK_VAR_DIR=/tmp/build-var \
        python manage.py collectstatic --no-input -v 0 \
    && rm -rf /tmp/build-var \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin spark \
    && mkdir -p /var/lib/spark/private \
    && chown -R spark /var/lib/spark

USER spark
EXPOSE 8000

CMD ["sh", "-c", "exec gunicorn spark.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-2} --forwarded-allow-ips=${FORWARDED_ALLOW_IPS:-127.0.0.1} --access-logfile -"]
