"""Freshdash: a Streamlit dashboard that keeps its own data fresh."""

__version__ = "0.1.0"
