"""Example service for loopsafe's end-to-end test: a FastAPI app that calls a slow external API."""
