"""``hearth serve``: an OpenAI-compatible API over the :class:`~assistant.core.Assistant` facade.

A front end like the window and the CLI: it reaches the core only through the facade and the plain values it
hands out (events, errors, settings). Nothing here runs, and no socket opens, until
:meth:`Assistant.start_server` (or ``hearth serve``) starts it.

    app         the FastAPI application: middleware (host check, CORS, catch-all), routes, error handlers
    auth        the bearer token check and the Host names a request may use
    schemas     request bodies (pydantic), OpenAI's field names, Hearth's extensions
    openai_format  OpenAI's response and stream-chunk shapes
    bridge      a facade Response iterated on its own thread, its events delivered to the event loop
    respond     events -> one JSON answer or an SSE stream; a client that goes away cancels its answer
    chat, completions, catalog   the routes
    errors      OpenAI-style error bodies; HearthError -> HTTP status
    runner      ServerHandle: uvicorn on a background thread, on a socket bound first (busy port: a clear error)
"""
