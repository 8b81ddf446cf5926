"""The Streamlit view: components and the one composition root (resources.py). Renders, never decides."""
