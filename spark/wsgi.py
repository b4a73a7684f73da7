import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spark.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, DRF, numpy/scipy for dispatch) lives as long as the
# worker. Frozen, the collector's full passes stop walking it: POST /orders p99 went from
# 49-63 ms to 28-31 ms under `bench/bench_api.py` (2 sync workers, 8 connections), because a
# full pass over the whole heap landed inside some requests.
gc.freeze()
