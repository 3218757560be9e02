"""Example service for loopsafe: a small FastAPI app with blocking calls on the event loop."""
