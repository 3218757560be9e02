"""A regular package inside a namespace package."""
from .pdf import to_pdf

__all__ = ["to_pdf"]
