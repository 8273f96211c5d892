"""What the benchmark's gunicorn serves: the project app, with the floor page mounted beside it at /__floor.

    gunicorn bench.serve:app   (configured by the same environment variables as wsgi:app)
"""

from __future__ import annotations

import os

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bench.floor import create_floor_app
from wsgi import create_app, settle_after_startup

project = create_app()
app = DispatcherMiddleware(project, {"/__floor": create_floor_app(os.environ["DATABASE_URL"])})
settle_after_startup()  # as wsgi:app does
