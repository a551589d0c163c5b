"""The baseline server: a bare Starlette app on uvicorn that answers fixed bytes, so benchmarks can tell the
emulator's own cost from the cost of Python, Starlette and uvicorn on this machine."""

from __future__ import annotations

import os
import sys

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = open(os.environ["BARE_BODY_FILE"], "rb").read() if os.environ.get("BARE_BODY_FILE") else b'{"status":"ok"}'


async def fixed(request):
    await request.body()
    return Response(BODY, media_type="application/json")


async def no_content(request):
    await request.body()
    return Response(status_code=204)


app = Starlette(routes=[Route("/ack", no_content, methods=["POST"]),
                        Route("/{path:path}", fixed, methods=["GET", "POST"])])

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
