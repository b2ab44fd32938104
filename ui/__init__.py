"""Streamlit glue shared by the pages: the router (``ui.router``) and small widget helpers (``ui.widgets``).

Nothing here computes what a page shows; that is ``fashionnet``'s job.
"""
