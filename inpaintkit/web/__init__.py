"""The local web app of ``inpaintkit serve``: paint the hole in a browser, fill, compare.

Needs the ``web`` extra (``pip install 'inpaintkit[web]'``): FastAPI, uvicorn and
python-multipart. :func:`create_app` builds the application; the command line runs it
with uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from .app import Settings, create_app, host_allowed

__all__ = ["create_app", "Settings", "host_allowed"]
