"""Renderers that turn plain data into model cards, data sheets and logs (Jinja2 templates).

Reports know only plain data: nothing here imports ``core`` or ``storage``.
"""
