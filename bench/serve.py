"""What the benchmark's gunicorn serves: the project app, with the floors mounted beside it (bench.floor).

    gunicorn bench.serve:app   (configured by the same environment variables as wsgi:app)
"""

from __future__ import annotations

import os

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bench.floor import STACK_FLOOR_PATH, create_floor_app, create_stack_floor_app
from wsgi import create_app, settle_after_startup

project = create_app()
database_url = os.environ["DATABASE_URL"]
app = DispatcherMiddleware(project, {"/__floor": create_floor_app(database_url),
                                     STACK_FLOOR_PATH.rstrip("/"): create_stack_floor_app(database_url)})
settle_after_startup()  # as wsgi:app does
