"""The WSGI application gunicorn serves (``kedai serve`` uses ``core.wsgi:app``).

Each gunicorn worker imports this module, builds its own app and starts its own inline job
worker thread, unless ``KEDAI_EXECUTOR=celery``.
"""

from core.app import create_app
from core.jobs.worker import start_inline_worker

app = create_app()
start_inline_worker(app)
